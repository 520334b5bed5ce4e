/**
 * `brainpilot run --config <file>`: the daemon. Loads and validates the config, builds the region
 * pipeline from it (airframe, prior map, failsafe times), opens the configured transport and flies
 * until the far side ends the session or a signal arrives; on SIGINT/SIGTERM it commands a disarm
 * before it closes any link.
 */
import { existsSync } from 'node:fs';
import type { Logger } from 'pino';
import { makeLogger } from '../log.js';
import { loadConfig, type BrainpilotConfig } from '../config/schema.js';
import { Daemon } from '../daemon/daemon.js';
import { Pipeline, type PipelineConfig, type PipelineVehicle } from '../pipeline.js';
import type { CameraIntrinsics, CameraMount } from '../tracts/io.js';
import { loadTrack } from '../../sim/track.js';
import { loadVehicle } from '../../sim/vehicle.js';
import { readLearnedState, writeLearnedState } from './race.js';
import { createFrameTransport, createTransport, type TransportContext } from './transports.js';
import { CompositeTransport } from '../daemon/composite.js';
import type { Transport } from '../daemon/transport.js';

const DEG = Math.PI / 180;

export function vehicleFor(cfg: BrainpilotConfig): PipelineVehicle {
  if (typeof cfg.vehicle !== 'string') return { massKg: cfg.vehicle.massKg, maxThrustN: cfg.vehicle.maxThrustN, maxRateRadS: cfg.vehicle.maxRateRadS };
  const v = loadVehicle(cfg.vehicle);
  return { massKg: v.massKg, maxThrustN: 4 * v.motorMaxThrustN, maxRateRadS: v.maxRateRadS };
}

export function cameraFor(cfg: BrainpilotConfig): { intrinsics: CameraIntrinsics; mount: CameraMount } {
  const c = cfg.camera;
  return {
    intrinsics: { width: c.width, height: c.height, fx: c.fx, fy: c.fy, cx: c.cx, cy: c.cy },
    mount: { tiltUpRad: c.tiltUpDeg * DEG, posFluM: c.posFluM },
  };
}

/** The pipeline's view of the world from the config: airframe, start box, prior map (or none). */
export function pipelineConfigFromConfig(cfg: BrainpilotConfig): PipelineConfig {
  const vehicle = vehicleFor(cfg);
  const gate = { innerM: cfg.track.innerM, outerM: cfg.track.outerM };
  if (cfg.track.map === null) return { vehicle, start: { posEnuM: [0, 0, 0], yawRad: 0 }, prior: null, gate };
  const map = loadTrack(cfg.track.map);
  return {
    vehicle,
    start: { posEnuM: map.start.posEnuM, yawRad: map.start.yawRad },
    prior: map.gates.map((g) => ({ centerEnuM: g.centerEnuM, yawRad: g.yawRad })),
    gate,
    guard: { frameTimeoutS: cfg.failsafe.frameTimeoutS, imuTimeoutS: cfg.failsafe.imuTimeoutS, failsafeDisarmAfterS: cfg.failsafe.disarmAfterS },
  };
}

export interface RunHandle {
  daemon: Daemon;
  transport: Transport;
  pipeline: Pipeline;
  /** Resolves with the reason the run ended. */
  finished: Promise<string>;
}

/** Start the daemon for a validated config (also used by tests, without signals). */
export async function startDaemon(cfg: BrainpilotConfig, log: Logger): Promise<RunHandle> {
  const pipeline = new Pipeline(pipelineConfigFromConfig(cfg));
  if (cfg.state && existsSync(cfg.state)) {
    pipeline.loadState(readLearnedState(cfg.state));
    log.info({ state: cfg.state }, `learned state loaded from ${cfg.state}`);
  }
  // JIT warm-up before the link opens (changes nothing the pipeline computes; see Pipeline.warmUp)
  const warmT0 = performance.now();
  if (pipeline.warmUp()) log.debug({ ms: Math.round(performance.now() - warmT0) }, 'JIT warm-up done');
  const cam = cameraFor(cfg);
  const ctx: TransportContext = { log: log.child({ module: 'transport' }), config: cfg, vehicle: pipeline.cfg.vehicle, ...cam };
  let transport = await createTransport(cfg.transport, ctx);
  if (cfg.frames) {
    // the FC link carries no camera: frames come from their own source (config `frames:`)
    const camera = await createFrameTransport(cfg.frames, ctx);
    transport = new CompositeTransport(transport, camera);
  }
  const daemon = new Daemon({ controller: pipeline, transport, log, rateHz: cfg.control.rateHz, healthIntervalS: cfg.log.healthIntervalS });
  await daemon.start();
  const finished = (async () => {
    const why = await Promise.race([daemon.done.then(() => 'stopped'), transport.ended ?? new Promise<string>(() => {})]);
    await daemon.stop(why);
    if (cfg.state) {
      writeLearnedState(cfg.state, pipeline.saveState());
      log.info({ state: cfg.state }, `learned state saved to ${cfg.state}`);
    }
    return why;
  })();
  return { daemon, transport, pipeline, finished };
}

export async function runFromConfig(path: string, o: { logLevel?: string } = {}): Promise<number> {
  const cfg = loadConfig(path);
  const log = makeLogger(o.logLevel ?? cfg.log.level, Boolean(process.stderr.isTTY));
  const h = await startDaemon(cfg, log);
  const onSignal = (sig: NodeJS.Signals): void => {
    log.warn({ signal: sig }, `${sig}: disarming`);
    void h.daemon.stop(sig);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  await h.finished;
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);
  const result = (h.transport as { result?: { completed: boolean; laps: { lap: number; timeS: number; gatesPassed: number; gatesTotal: number }[] } | null }).result;
  if (result) {
    for (const l of result.laps) log.info({ lap: l }, `lap ${l.lap}: ${l.timeS.toFixed(2)} s, gates ${l.gatesPassed}/${l.gatesTotal}`);
    log.info({ completed: result.completed }, result.completed ? 'completed' : 'NOT completed');
    return result.completed ? 0 : 1;
  }
  return 0;
}
