/**
 * Closed-loop race runner: sim → sensors → controller → command → sim, in lockstep, until the
 * requested laps are flown, the drone crashes, or the time limit runs out. Produces the results
 * record every flying command shares, plus a flight record for plots.
 */
import type { Controller } from '../src/tracts/controller.js';
import type { CameraFrame, FlightCommand, ImuSample } from '../src/tracts/io.js';
import type { Sim } from './world.js';
import type { SimEvent } from './types.js';
import { FlightRecorder } from './recorder.js';
import type { FlightRecord } from '../src/report/record.js';

export interface LapResult {
  lap: number;
  timeS: number;
  gatesPassed: number;
  gatesTotal: number;
  crashed: boolean;
}

export interface RaceResult {
  track: string;
  controller: string;
  privileged: boolean;
  seed: number;
  laps: LapResult[];
  completed: boolean;
  totalTimeS: number;
  crashes: number;
  events: SimEvent[];
  stats: {
    simTimeS: number;
    wallTimeS: number;
    realTimeFactor: number;
    framesRendered: number;
    framesDropped: number;
    commandsRejected: number;
  };
}

export interface RunOptions {
  laps: number;
  seed: number;
  /** Controller command period, s (default 4 ms = 250 Hz). */
  controlPeriodS?: number;
  /** Give up after this much sim time per lap, s. */
  lapTimeoutS?: number;
  /** Record the flight at this rate (Hz) for plots; 0 = off. */
  recordHz?: number;
  /** Called every ~0.25 s of sim time with progress in [0, 1]. */
  onProgress?: (fraction: number, info: { lap: number; gate: number; tS: number }) => void;
  /** Called with each command before it is sent (for logging/learning curves). */
  onCommand?: (cmd: FlightCommand) => void;
}

/** A crash, or the last requested lap completed, ends a race. */
export function raceOver(events: readonly SimEvent[], laps: number): boolean {
  for (const e of events) if (e.kind === 'crash' || (e.kind === 'lap' && e.lap >= laps)) return true;
  return false;
}

export function runRace(sim: Sim, controller: Controller, opts: RunOptions): { result: RaceResult; record: FlightRecord } {
  const laps = opts.laps;
  const period = opts.controlPeriodS ?? 0.004;
  const timeout = (opts.lapTimeoutS ?? 60) * laps;
  const rec = new FlightRecorder(opts.recordHz ?? 50);
  const onImu = (x: ImuSample): void => controller.onImu(x);
  const onFrame = (f: CameraFrame): void => controller.onFrame(f);
  const gatesPerLap = sim.trueTrack.gates.length;
  const wall0 = performance.now();
  let nextCmdS = 0;
  let nextProgS = 0;
  let done = false;
  sim.arm();
  while (!done && sim.tS < timeout) {
    const ev = sim.step();
    sim.deliver(onImu, onFrame);
    if (sim.tS + 1e-9 >= nextCmdS) {
      nextCmdS += period;
      const cmd = controller.command(sim.tS);
      if (controller.disarmRequested?.() && sim.fc.armed) sim.disarm();
      if (cmd) {
        opts.onCommand?.(cmd);
        sim.sendCommand(cmd);
        rec.command(sim.tS, cmd);
      }
    }
    rec.sample(sim.tS, sim.state);
    for (const e of ev) rec.event(e);
    if (raceOver(ev, laps)) done = true;
    if (opts.onProgress && sim.tS >= nextProgS) {
      nextProgS += 0.25;
      const passed = sim.judge.lap * gatesPerLap + sim.judge.nextGate;
      opts.onProgress(Math.min(1, passed / (laps * gatesPerLap)), { lap: sim.judge.lap + 1, gate: sim.judge.nextGate, tS: sim.tS });
    }
  }
  sim.disarm();
  const wallS = (performance.now() - wall0) / 1000;
  const result = summarize(sim, controller, opts.seed, laps, wallS);
  return { result, record: rec.finish(sim.trueTrack, sim.mapTrack, result) };
}

export function summarize(sim: Sim, controller: Pick<Controller, 'name' | 'privileged'>, seed: number, laps: number, wallS: number): RaceResult {
  const events = sim.events;
  const gatesTotal = sim.trueTrack.gates.length;
  const out: LapResult[] = [];
  let lapStartS = 0;
  let gates = 0;
  let crashes = 0;
  for (const e of events) {
    if (e.kind === 'gate') gates++;
    if (e.kind === 'lap') {
      out.push({ lap: e.lap, timeS: round(e.tS - lapStartS), gatesPassed: gates, gatesTotal, crashed: false });
      lapStartS = e.tS;
      gates = 0;
    }
    if (e.kind === 'crash') crashes++;
  }
  // the lap in progress when the run ended (crash or timeout)
  if (out.length < laps) {
    out.push({ lap: out.length + 1, timeS: round(sim.tS - lapStartS), gatesPassed: gates, gatesTotal, crashed: crashes > 0 });
  }
  const completed = crashes === 0 && out.length === laps && out.every((l) => l.gatesPassed === gatesTotal && !l.crashed);
  const totalTimeS = round(out.reduce((a, l) => a + l.timeS, 0));
  return {
    track: sim.mapTrack.name,
    controller: controller.name,
    privileged: controller.privileged,
    seed,
    laps: out,
    completed,
    totalTimeS,
    crashes,
    events: events.filter((e) => e.kind !== 'command-rejected').map((e) => ({ ...e, tS: round(e.tS) })),
    stats: {
      simTimeS: round(sim.tS),
      wallTimeS: round(wallS),
      realTimeFactor: round(sim.tS / Math.max(1e-9, wallS)),
      framesRendered: sim.framesRendered,
      framesDropped: sim.framesDropped,
      commandsRejected: sim.fc.rejectedCount,
    },
  };
}

const round = (x: number): number => Math.round(x * 1000) / 1000;
