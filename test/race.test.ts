/**
 * The closed loop on the built-in sim with the privileged oracle: every shipped track is flyable,
 * the results record follows the shared schema, and a seed reproduces a run exactly.
 */
import { describe, expect, it } from 'vitest';
import { listTracks, loadTrack } from '../sim/track.js';
import { loadVehicle } from '../sim/vehicle.js';
import { Sim } from '../sim/world.js';
import { OracleController } from '../sim/oracle.js';
import { runRace } from '../sim/runner.js';

function flyOracle(track: string, laps: number, seed: number, cameraEnabled = false) {
  const sim = new Sim({ track: loadTrack(track), vehicle: loadVehicle('racer-280'), seed, laps, cameraEnabled });
  const oracle = new OracleController(() => sim.state, sim.trueTrack, sim.opts.vehicle, laps);
  return runRace(sim, oracle, { laps, seed, recordHz: 20 });
}

describe('oracle race', () => {
  for (const track of listTracks()) {
    it(`completes 2 laps of ${track} (perturbed gates)`, () => {
      const { result } = flyOracle(track, 2, 7);
      expect(result.crashes).toBe(0);
      expect(result.laps.map((l) => l.gatesPassed)).toEqual([loadTrack(track).gates.length, loadTrack(track).gates.length]);
      expect(result.completed).toBe(true);
      expect(result.privileged).toBe(true);
    });
  }

  it('writes the shared results schema', () => {
    const { result, record } = flyOracle('warmup', 1, 3, true);
    expect(result).toMatchObject({ track: 'warmup', controller: 'oracle', seed: 3, completed: true, crashes: 0 });
    expect(result.laps).toHaveLength(1);
    expect(result.laps[0]).toMatchObject({ lap: 1, gatesTotal: 4, gatesPassed: 4, crashed: false });
    expect(result.laps[0]!.timeS).toBeGreaterThan(1);
    expect(result.totalTimeS).toBeCloseTo(result.laps[0]!.timeS, 3);
    expect(result.events.filter((e) => e.kind === 'gate')).toHaveLength(4);
    expect(result.stats.framesRendered).toBeGreaterThan(30);
    expect(record.samples.length).toBeGreaterThan(10);
    expect(record.lapTimesS).toHaveLength(1);
  });

  it('same seed → identical trajectory; another seed differs', () => {
    const a = flyOracle('warmup', 1, 11, true).record.samples;
    const b = flyOracle('warmup', 1, 11, true).record.samples;
    const c = flyOracle('warmup', 1, 12, true).record.samples;
    expect(b).toEqual(a);
    expect(c).not.toEqual(a);
  });
});
