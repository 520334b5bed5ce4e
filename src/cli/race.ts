/**
 * CLI glue for flying the built-in simulator: builds the sim and the chosen controller, runs the
 * race with a progress bar, writes results JSON, the flight record and plots. This file (with the
 * rest of src/cli/) is the only part of src/ allowed to import the simulator.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import type { LearnedState } from '../regions/region.js';
import cliProgress from 'cli-progress';
import { Sim } from '../../sim/world.js';
import { loadTrack, DEFAULT_TRACK } from '../../sim/track.js';
import { loadVehicle } from '../../sim/vehicle.js';
import { cameraProfile } from '../../sim/camera.js';
import { OracleController } from '../../sim/oracle.js';
import { runRace, type RaceResult } from '../../sim/runner.js';
import type { Controller } from '../tracts/controller.js';
import { Pipeline, type PipelineConfig } from '../pipeline.js';
import { PidController } from '../controllers/pid.js';
import type { FlightRecord } from '../report/record.js';
import { plotSvg, svgToPng } from '../report/plot.js';

export const CONTROLLERS = ['pipeline', 'pid', 'oracle'] as const;
export type ControllerName = (typeof CONTROLLERS)[number];

export interface RaceOptions {
  controller: ControllerName;
  track: string;
  vehicle: string;
  laps: number;
  seed: number;
  /** Camera latency (exposure → arrival), ms; undefined = the camera profile's own. */
  latencyMs?: number;
  /** Camera frame drop probability 0..1; undefined = the camera profile's own. */
  dropRate?: number;
  /** Give the controller the organisers' prior map. */
  map: boolean;
  /** Perturb real gates from the map (default true). */
  perturb: boolean;
  camera: string;
  cameraEnabled: boolean;
  progress: boolean;
  /** Learned-state file: loaded before the run when it exists, written after it (pipeline only). */
  statePath?: string;
  /** Extra command latency (controller → FC), ms. */
  commandLatencyMs?: number;
  /** Gates hidden from the camera (0-based). */
  hiddenGates?: number[];
  distractors?: number;
  /**
   * The real vehicle weighs massScale × the mass the controller is configured with (payload, a
   * heavier battery, a wrong config); 1 = as configured.
   */
  massScale?: number;
  /**
   * A gyro bias step about body z from take-off on (rad/s), which the controller's calibration at
   * rest never sees (vibration and motor heat shift a MEMS gyro's bias in flight); 0 = none.
   */
  gyroBiasShiftRadS?: number;
  /** Pipeline ablations (regions switched off). */
  ablate?: PipelineConfig['ablate'];
}

export const RACE_DEFAULTS: RaceOptions = {
  controller: 'pipeline',
  track: DEFAULT_TRACK,
  vehicle: 'racer-280',
  laps: 3,
  seed: 1,
  map: true,
  perturb: true,
  camera: 'aigp-vq',
  cameraEnabled: true,
  progress: false,
};

export function buildSim(o: RaceOptions): Sim {
  const over: { latencyS?: number; dropRate?: number } = {};
  if (o.latencyMs !== undefined) over.latencyS = o.latencyMs / 1000;
  if (o.dropRate !== undefined) over.dropRate = o.dropRate;
  const cam = cameraProfile(o.camera, over);
  const massScale = o.massScale ?? 1;
  if (!(massScale >= 0.5 && massScale <= 2)) throw new Error(`massScale must be in [0.5, 2] (got ${massScale})`);
  const v = loadVehicle(o.vehicle);
  return new Sim({
    track: loadTrack(o.track),
    vehicle: massScale === 1 ? v : { ...v, massKg: v.massKg * massScale },
    seed: o.seed,
    camera: cam,
    cameraEnabled: o.cameraEnabled,
    perturbGates: o.perturb,
    laps: o.laps,
    commandLatencyS: (o.commandLatencyMs ?? 0) / 1000,
    ...(o.hiddenGates ? { hiddenGates: o.hiddenGates } : {}),
    ...(o.distractors ? { distractors: o.distractors } : {}),
    ...(o.gyroBiasShiftRadS ? { imu: { gyroBiasShiftZRadS: o.gyroBiasShiftRadS } } : {}),
  });
}

export function buildController(name: ControllerName, sim: Sim, o: RaceOptions): Controller {
  switch (name) {
    case 'oracle':
      return new OracleController(() => sim.state, sim.trueTrack, sim.opts.vehicle, o.laps);
    case 'pipeline': {
      const p = new Pipeline(pipelineConfigFor(sim, o));
      // JIT warm-up before flight (once per process; the flight is the same with or without it)
      p.warmUp();
      return p;
    }
    case 'pid': {
      const c = pipelineConfigFor(sim, o);
      return new PidController(c.vehicle, c.start, c.gate);
    }
    default: {
      const never: never = name;
      throw new Error(`unknown controller "${String(never)}"; choose one of: ${CONTROLLERS.join(', ')}`);
    }
  }
}

/**
 * What the pipeline is told about the world: the airframe (as any stack is configured for its
 * drone), the start box, the gate size, and — unless --no-map — the organisers' nominal map (the
 * real gates stand elsewhere). Never the true pose or the true gates.
 */
/** The simulator a `sim serve` wire or the in-process link serves: a race's world, no controller. */
export interface ServedSimOptions {
  track: string;
  vehicle: string;
  seed: number;
  laps: number;
  latencyMs?: number | undefined;
  dropRate?: number | undefined;
}

export function buildServedSim(o: ServedSimOptions): Sim {
  return buildSim({
    ...RACE_DEFAULTS,
    track: o.track,
    vehicle: o.vehicle,
    seed: o.seed,
    laps: o.laps,
    ...(o.latencyMs !== undefined ? { latencyMs: o.latencyMs } : {}),
    ...(o.dropRate !== undefined ? { dropRate: o.dropRate } : {}),
  });
}

export function pipelineConfigFor(sim: Sim, o: Pick<RaceOptions, 'map' | 'ablate' | 'massScale'>): PipelineConfig {
  const v = sim.opts.vehicle;
  const map = sim.mapTrack;
  const g0 = map.gates[0]!;
  return {
    // the configured mass, not the real one (they differ under --mass-scale)
    vehicle: { massKg: v.massKg / (o.massScale ?? 1), maxThrustN: 4 * v.motorMaxThrustN, maxRateRadS: v.maxRateRadS },
    start: { posEnuM: map.start.posEnuM, yawRad: map.start.yawRad },
    prior: o.map ? map.gates.map((g) => ({ centerEnuM: g.centerEnuM, yawRad: g.yawRad })) : null,
    gate: { innerM: g0.innerM, outerM: g0.outerM },
    ...(o.ablate ? { ablate: o.ablate } : {}),
  };
}

export function flyRace(o: RaceOptions): { result: RaceResult; record: FlightRecord } {
  const sim = buildSim(o);
  const controller = buildController(o.controller, sim, o);
  if (o.statePath && controller instanceof Pipeline && existsSync(o.statePath)) {
    controller.loadState(readLearnedState(o.statePath));
  }
  let bar: cliProgress.SingleBar | undefined;
  const wall0 = Date.now();
  const out = runRace(sim, controller, {
    laps: o.laps,
    seed: o.seed,
    onProgress: o.progress
      ? (frac, info) => {
          // only show a bar once the run has taken a moment: short runs stay quiet
          if (!bar && Date.now() - wall0 > 1500) {
            bar = new cliProgress.SingleBar(
              { format: 'racing [{bar}] {percentage}% | lap {lap} gate {gate} | t={t}s', hideCursor: true, stream: process.stderr },
              cliProgress.Presets.shades_classic,
            );
            bar.start(100, 0, { lap: 1, gate: 1, t: '0.0' });
          }
          bar?.update(Math.round(frac * 100), { lap: info.lap, gate: info.gate + 1, t: info.tS.toFixed(1) });
        }
      : undefined,
  });
  bar?.stop();
  if (o.statePath && controller instanceof Pipeline) writeLearnedState(o.statePath, controller.saveState());
  // the learning curve: lap time per lap
  out.record.series = {
    'learning curve': { x: out.result.laps.map((l) => l.lap), y: out.result.laps.map((l) => l.timeS), xLabel: 'lap', yLabel: 'lap time (s)' },
  };
  return out;
}

/** Write the learned-state file `readLearnedState` reads (race --state and the daemon's `state:`). */
export function writeLearnedState(path: string, regions: Record<string, LearnedState>): void {
  writeFileSync(path, JSON.stringify({ brainpilotState: 1, regions }, null, 2) + '\n');
}

/** Read a learned-state file written by a previous run, with a clear error when it is not one. */
export function readLearnedState(path: string): Record<string, LearnedState> {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new Error(`${path}: not a readable JSON learned-state file (${e instanceof Error ? e.message : String(e)})`);
  }
  const r = raw as { brainpilotState?: unknown; regions?: unknown };
  if (r.brainpilotState !== 1 || typeof r.regions !== 'object' || r.regions === null) {
    throw new Error(`${path}: not a brainpilot learned-state file (expected {"brainpilotState": 1, "regions": {...}})`);
  }
  return r.regions as Record<string, LearnedState>;
}

export async function writeOutputs(
  result: RaceResult,
  record: FlightRecord,
  paths: { json?: string; plot?: string; record?: string },
): Promise<void> {
  if (paths.json) writeFileSync(paths.json, JSON.stringify(result, null, 2) + '\n');
  if (paths.record) writeFileSync(paths.record, JSON.stringify(record) + '\n');
  if (paths.plot) {
    const svg = plotSvg(record);
    if (paths.plot.toLowerCase().endsWith('.png')) writeFileSync(paths.plot, await svgToPng(svg));
    else {
      writeFileSync(paths.plot, svg);
      // a PNG twin beside the SVG, for viewers without SVG support
      writeFileSync(paths.plot.replace(/\.svg$/i, '') + '.png', await svgToPng(svg));
    }
  }
}

export function summaryLines(r: RaceResult): string[] {
  const lines = [`${r.track} · ${r.controller}${r.privileged ? ' (PRIVILEGED: reads true state)' : ''} · seed ${r.seed}`];
  for (const l of r.laps) {
    lines.push(`  lap ${l.lap}: ${l.timeS.toFixed(2)} s, gates ${l.gatesPassed}/${l.gatesTotal}${l.crashed ? ', CRASHED' : ''}`);
  }
  lines.push(`  ${r.completed ? 'completed' : 'NOT completed'} · total ${r.totalTimeS.toFixed(2)} s · crashes ${r.crashes} · ${r.stats.realTimeFactor.toFixed(1)}× real time`);
  return lines;
}
