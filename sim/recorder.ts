/**
 * Records a simulated flight (true poses, commands, events) at a fixed rate into a FlightRecord.
 * Sampling is decimated so a long race stays small; frames are optional (JPEG, on request).
 */
import { quatToEuler } from '../src/math/quat.js';
import type { FlightCommand } from '../src/tracts/io.js';
import type { FlightRecord, RecordedCommand, RecordedEvent, RecordedGate, RecordedSample } from '../src/report/record.js';
import type { RigidBodyState, SimEvent, TrackSpec } from './types.js';

const r3 = (x: number): number => Math.round(x * 1000) / 1000;

export class FlightRecorder {
  private readonly samples: RecordedSample[] = [];
  private readonly commands: RecordedCommand[] = [];
  private readonly events: RecordedEvent[] = [];
  private nextSampleS = 0;
  private nextCmdS = 0;
  private readonly periodS: number;

  constructor(readonly hz: number) {
    this.periodS = hz > 0 ? 1 / hz : Infinity;
  }

  sample(tS: number, s: RigidBodyState): void {
    if (tS < this.nextSampleS) return;
    this.nextSampleS += this.periodS;
    const e = quatToEuler(s.quat);
    this.samples.push({
      tS: r3(tS),
      posEnuM: [r3(s.posEnuM[0]), r3(s.posEnuM[1]), r3(s.posEnuM[2])],
      velEnuMS: [r3(s.velEnuMS[0]), r3(s.velEnuMS[1]), r3(s.velEnuMS[2])],
      eulerRad: [r3(e[0]), r3(e[1]), r3(e[2])],
    });
  }

  command(tS: number, c: FlightCommand): void {
    if (tS < this.nextCmdS) return;
    this.nextCmdS += this.periodS;
    switch (c.kind) {
      case 'ctbr':
        this.commands.push({ tS: r3(tS), kind: c.kind, thrustN: r3(c.thrustN), rateRadS: [r3(c.rateRadS[0]), r3(c.rateRadS[1]), r3(c.rateRadS[2])] });
        break;
      case 'motors':
        this.commands.push({ tS: r3(tS), kind: c.kind, motors: c.motors.map(r3) });
        break;
      case 'rc':
        this.commands.push({ tS: r3(tS), kind: c.kind, motors: c.channelsUs.slice() });
        break;
      default: {
        const never: never = c;
        throw new Error(`recorder: unknown command ${JSON.stringify(never)}`);
      }
    }
  }

  event(e: SimEvent): void {
    this.events.push({ ...e, tS: r3(e.tS) });
  }

  finish(trueTrack: TrackSpec, mapTrack: TrackSpec, result: { controller: string; seed: number; laps: { timeS: number }[] }): FlightRecord {
    return {
      version: 1,
      track: mapTrack.name,
      controller: result.controller,
      seed: result.seed,
      gates: gatesOf(trueTrack),
      mapGates: gatesOf(mapTrack),
      samples: this.samples,
      commands: this.commands,
      events: this.events,
      lapTimesS: this.events.filter((e) => e.kind === 'lap').map((e) => Number(e['lapTimeS'])),
    };
  }
}

function gatesOf(t: TrackSpec): RecordedGate[] {
  return t.gates.map((g) => ({ index: g.index, centerEnuM: [g.centerEnuM[0], g.centerEnuM[1], g.centerEnuM[2]], yawRad: g.yawRad, innerM: g.innerM, outerM: g.outerM }));
}
