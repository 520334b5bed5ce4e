/**
 * Config → Transport. Each transport is an adapter at the edge; this file (CLI glue) is where they
 * are chosen, so the daemon and the pipeline import none of them. Heavy or native modules (zeromq,
 * rclnodejs, serialport) are imported lazily, only for the transport the config asks for.
 */
import type { Logger } from 'pino';
import type { Transport } from '../daemon/transport.js';
import type { BrainpilotConfig, TransportConfig } from '../config/schema.js';
import type { PipelineVehicle } from '../pipeline.js';
import type { CameraIntrinsics, CameraMount } from '../tracts/io.js';

/** What every transport may need besides its own block of the config. */
export interface TransportContext {
  log: Logger;
  config: BrainpilotConfig;
  vehicle: PipelineVehicle;
  intrinsics: CameraIntrinsics;
  mount: CameraMount;
}

type Of<K extends TransportConfig['kind']> = Extract<TransportConfig, { kind: K }>;

export async function createTransport(cfg: TransportConfig, ctx: TransportContext): Promise<Transport> {
  switch (cfg.kind) {
    case 'sim':
      return createSim(cfg, ctx);
    case 'zmq':
      return notYet(cfg.kind);
    case 'ros2':
      return notYet(cfg.kind);
    case 'aigp':
      return notYet(cfg.kind);
    case 'betaflight':
      return createBetaflight(cfg, ctx);
    case 'px4':
      return notYet(cfg.kind);
    case 'ardupilot':
      return notYet(cfg.kind);
    default: {
      const never: never = cfg;
      throw new Error(`unknown transport ${JSON.stringify(never)}`);
    }
  }
}

function notYet(kind: string): never {
  throw new Error(`transport "${kind}" is not available in this version of brainpilot`);
}

async function createSim(cfg: Of<'sim'>, ctx: TransportContext): Promise<Transport> {
  const { buildSim, RACE_DEFAULTS } = await import('./race.js');
  const { InProcessSimTransport } = await import('../../sim/serve/inproc.js');
  const sim = buildSim({
    ...RACE_DEFAULTS,
    track: cfg.track,
    vehicle: cfg.vehicle,
    seed: cfg.seed,
    laps: cfg.laps,
    ...(cfg.latencyMs !== undefined ? { latencyMs: cfg.latencyMs } : {}),
    ...(cfg.dropRate !== undefined ? { dropRate: cfg.dropRate } : {}),
  });
  ctx.log.info({ track: cfg.track, seed: cfg.seed, laps: cfg.laps }, `built-in simulator in this process: ${cfg.track}, seed ${cfg.seed}, ${cfg.laps} laps`);
  return new InProcessSimTransport(sim, { laps: cfg.laps, seed: cfg.seed });
}

async function createBetaflight(cfg: Of<'betaflight'>, ctx: TransportContext): Promise<Transport> {
  const { BetaflightTransport } = await import('../../firmware-bridge/betaflight/transport.js');
  const auxUs = Array.from({ length: cfg.channelCount - 4 }, (_, i) => (i === cfg.armAux - 1 ? cfg.disarmUs : (cfg.auxUs[i] ?? 1000)));
  ctx.log.warn(
    { link: cfg.link },
    'betaflight: camera frames do not come over MSP and no frame source is composed in yet: ' +
      'without frames the guard levels, descends and disarms',
  );
  return new BetaflightTransport({
    link: cfg.link,
    bridge: {
      armAux: cfg.armAux - 1,
      armHighUs: cfg.armUs,
      armLowUs: cfg.disarmUs,
      auxUs,
      channelCount: cfg.channelCount,
      watchdogS: cfg.watchdogS,
      throttle: { hoverThrustN: ctx.vehicle.massKg * 9.80665, hoverUs: cfg.hoverThrottleUs, maxUs: cfg.maxThrottleUs },
      acc1G: cfg.acc1G,
    },
    imuRateHz: cfg.imuRateHz,
    commandRateHz: ctx.config.control.rateHz,
    armWaitS: cfg.armWaitS,
    mspOverrideFailsafe: cfg.mspOverrideFailsafe,
    log: ctx.log,
  });
}
