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
    case 'aigp': {
      const { createAigpTransport } = await import('../transports/aigp/transport.js');
      return createAigpTransport(cfg, ctx);
    }
    case 'betaflight':
      return notYet(cfg.kind);
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
