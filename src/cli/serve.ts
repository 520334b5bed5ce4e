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
    case 'aigp':
      return serveAigp(o);
    case 'zmq':
    case 'ros2':
      throw new Error(`sim serve --${o.wire} is not available in this version of brainpilot`);
  }
}

/**
 * The AI Grand Prix VQ wire, paced by the wall clock. `endpoint` is host[:mavlinkPort[:videoPort]]
 * (where the client listens; default 127.0.0.1:14550:5600).
 */
async function serveAigp(o: ServeCliOptions): Promise<RaceResult> {
  if (!(o.realtimeFactor > 0)) throw new Error('sim serve --aigp runs paced by the wall clock: give --realtime > 0 (1 = real time)');
  const { buildSim, RACE_DEFAULTS } = await import('./race.js');
  const { SimServer } = await import('../../sim/serve/loop.js');
  const { AigpSimWire, parseAigpTarget } = await import('../../sim/serve/aigp.js');
  const target = parseAigpTarget(o.endpoint);
  const sim = buildSim({
    ...RACE_DEFAULTS,
    track: o.track,
    vehicle: o.vehicle,
    seed: o.seed,
    laps: o.laps,
    ...(o.latencyMs !== undefined ? { latencyMs: o.latencyMs } : {}),
    ...(o.dropRate !== undefined ? { dropRate: o.dropRate } : {}),
  });
  const wire = new AigpSimWire(sim, { ...target, maxThrustN: 4 * sim.opts.vehicle.motorMaxThrustN, log: o.log });
  const server = new SimServer(sim, wire, { laps: o.laps, seed: o.seed, realtimeFactor: o.realtimeFactor });
  await wire.start(server);
  o.log.info({ ...target, track: o.track, laps: o.laps, realtimeFactor: o.realtimeFactor }, `sim serve --aigp: MAVLink to ${target.host}:${target.mavlinkPort}, video to ${target.host}:${target.videoPort}; waiting for the client's HEARTBEAT`);
  let interrupted: () => void = () => {};
  const signalled = new Promise<void>((r) => (interrupted = r));
  const stop = (): void => {
    server.stop();
    interrupted();
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    // the clock starts when the client is there (the drone would otherwise sit unflown)
    await Promise.race([wire.clientHeard, signalled]);
    if (!wire.counters.clientHeartbeats) o.log.warn('sim serve --aigp: stopped before a client was heard');
    else o.log.info('sim serve --aigp: client heard; flying');
    const result = await server.run();
    o.log.info({ event: 'served', ...wire.counters }, `sim serve --aigp: ${wire.counters.framesSent} frames, ${wire.counters.imuSent} IMU samples, ${wire.counters.commands} commands (${wire.counters.commandsRejected} refused)`);
    return result;
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
    await wire.stop();
  }
}
