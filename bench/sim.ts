/**
 * Simulator benchmark: physics steps per second, render time per 640×360 frame, and the real-time
 * factor of an oracle lap with the camera on. Writes bench/results/sim.json.
 */
import { loadTrack } from '../sim/track.js';
import { loadVehicle } from '../sim/vehicle.js';
import { Quadrotor } from '../sim/physics.js';
import { Sim } from '../sim/world.js';
import { OracleController } from '../sim/oracle.js';
import { runRace } from '../sim/runner.js';
import { benchRender } from './render.js';

export function benchPhysics(): { stepsPerSecond: number } {
  const q = new Quadrotor(loadVehicle('racer-280'));
  q.reset([0, 0, 5], 0);
  const u = q.hoverCommand();
  const cmd = [u[0]! * 1.01, u[1]!, u[2]!, u[3]! * 1.01];
  const n = 400_000;
  for (let i = 0; i < 20_000; i++) q.step(cmd, 0.001);
  q.reset([0, 0, 5], 0);
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    q.step(cmd, 0.001);
    if ((i & 4095) === 0) q.reset([0, 0, 5], 0);
  }
  const dt = (performance.now() - t0) / 1000;
  return { stepsPerSecond: Math.round(n / dt) };
}

export function benchOracleLap(track = 'aigp-qualifier'): { track: string; simTimeS: number; wallTimeS: number; realTimeFactor: number; completed: boolean; frames: number } {
  const sim = new Sim({ track: loadTrack(track), vehicle: loadVehicle('racer-280'), seed: 1, laps: 1 });
  const oracle = new OracleController(() => sim.state, sim.trueTrack, sim.opts.vehicle, 1);
  const { result } = runRace(sim, oracle, { laps: 1, seed: 1, recordHz: 0 });
  return {
    track,
    simTimeS: result.stats.simTimeS,
    wallTimeS: result.stats.wallTimeS,
    realTimeFactor: result.stats.realTimeFactor,
    completed: result.completed,
    frames: result.stats.framesRendered,
  };
}

export function benchSim(): Record<string, unknown> {
  return {
    physics: benchPhysics(),
    render: benchRender(),
    oracleLap: benchOracleLap(),
    targets: { renderP99Ms: 3, lapRealTimeFactor: 10 },
  };
}
