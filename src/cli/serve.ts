/**
 * `brainpilot sim serve`: the built-in simulator as its own process, speaking a wire protocol
 * (ZeroMQ, the AI Grand Prix MAVLink + JPEG link, ROS 2) so the daemon can fly it over a real link.
 */
import type { RaceResult } from '../../sim/runner.js';
import type { Logger } from 'pino';

export interface ServeCliOptions {
  wire: 'zmq' | 'aigp' | 'ros2';
  /** zmq: endpoint to bind; aigp: host the client listens on; ros2: unused. */
  endpoint?: string;
  track: string;
  vehicle: string;
  seed: number;
  laps: number;
  latencyMs?: number;
  dropRate?: number;
  /** 0 = lockstep (zmq only), else sim seconds per wall second. */
  realtimeFactor: number;
  log: Logger;
}

export async function serveSim(o: ServeCliOptions): Promise<RaceResult> {
  switch (o.wire) {
    case 'ros2':
      return serveRos2Sim(o);
    case 'zmq':
    case 'aigp':
      throw new Error(`sim serve --${o.wire} is not available in this version of brainpilot`);
  }
}

async function serveRos2Sim(o: ServeCliOptions): Promise<RaceResult> {
  const { buildSim, RACE_DEFAULTS } = await import('./race.js');
  const { serveRos2 } = await import('../../sim/serve/ros2.js');
  const sim = buildSim({
    ...RACE_DEFAULTS,
    track: o.track,
    vehicle: o.vehicle,
    seed: o.seed,
    laps: o.laps,
    ...(o.latencyMs !== undefined ? { latencyMs: o.latencyMs } : {}),
    ...(o.dropRate !== undefined ? { dropRate: o.dropRate } : {}),
  });
  const { result, commandsRejected, ticksLate } = await serveRos2(sim, { laps: o.laps, seed: o.seed, realtimeFactor: o.realtimeFactor, log: o.log });
  if (commandsRejected) o.log.warn({ commandsRejected }, `${commandsRejected} malformed commands dropped`);
  if (ticksLate) o.log.warn({ ticksLate }, `${ticksLate} lockstep ticks stepped on without a command (timeout)`);
  return result;
}
