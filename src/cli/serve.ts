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
    case 'zmq':
      return serveZmqCli(o);
    case 'aigp':
    case 'ros2':
      throw new Error(`sim serve --${o.wire} is not available in this version of brainpilot`);
  }
}

/** The built-in sim on a ZeroMQ ROUTER; SIGINT/SIGTERM end the run (the client gets `end`). */
async function serveZmqCli(o: ServeCliOptions): Promise<RaceResult> {
  const { buildSim, RACE_DEFAULTS } = await import('./race.js');
  const { serveZmq } = await import('../../sim/serve/zmq.js');
  const sim = buildSim({
    ...RACE_DEFAULTS,
    track: o.track,
    vehicle: o.vehicle,
    seed: o.seed,
    laps: o.laps,
    ...(o.latencyMs !== undefined ? { latencyMs: o.latencyMs } : {}),
    ...(o.dropRate !== undefined ? { dropRate: o.dropRate } : {}),
  });
  const stop = new AbortController();
  const onSignal = (sig: NodeJS.Signals): void => {
    o.log.warn({ signal: sig }, `${sig}: ending the run`);
    stop.abort();
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    return await serveZmq(sim, {
      endpoint: o.endpoint ?? 'tcp://127.0.0.1:5555',
      laps: o.laps,
      seed: o.seed,
      realtimeFactor: o.realtimeFactor,
      log: o.log,
      abort: stop.signal,
    });
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
