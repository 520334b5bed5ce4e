/**
 * `brainpilot sim serve`: the built-in simulator as its own process, speaking a wire protocol
 * (ZeroMQ, the AI Grand Prix MAVLink + JPEG link, ROS 2) so the daemon can fly it over a real link.
 */
import type { RaceResult } from '../../sim/runner.js';
import type { Logger } from 'pino';

export interface ServeCliOptions {
  wire: 'zmq' | 'aigp' | 'ros2' | 'msp' | 'betaflightSitl';
  /** zmq: endpoint to bind; aigp: host the client listens on; ros2: unused; msp: TCP port; betaflightSitl: SITL host. */
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
      return serveZmqCli(o);
    case 'aigp':
      return serveAigp(o);
    case 'msp':
      return serveMsp(o);
    case 'betaflightSitl':
      return serveBetaflightSitl(o);
  }
}

/**
 * Run `body` with SIGINT and SIGTERM ending the run cleanly (`stop`) instead of killing the process,
 * so every wire sends its end-of-run message and the summary is printed.
 */
async function stoppableBySignal<T>(o: ServeCliOptions, stop: () => void, body: () => Promise<T>): Promise<T> {
  const onSignal = (sig: NodeJS.Signals): void => {
    o.log.warn({ signal: sig }, `${sig}: ending the run`);
    stop();
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    return await body();
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

async function simFor(o: ServeCliOptions) {
  const { buildServedSim } = await import('./race.js');
  return buildServedSim(o);
}

/** The sim's FC as a Betaflight MSP FC on TCP 127.0.0.1 (the Betaflight transport connects to it). */
async function serveMsp(o: ServeCliOptions): Promise<RaceResult> {
  const { MspSimServer } = await import('../../sim/serve/msp.js');
  const port = o.endpoint !== undefined ? Number(o.endpoint) : 5761;
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`sim serve --msp: port must be 0..65535, got "${o.endpoint}"`);
  if (!(o.realtimeFactor > 0)) throw new Error('sim serve --msp: the FC runs on the wall clock: give --realtime > 0');
  const fc = new MspSimServer(await simFor(o), { laps: o.laps, seed: o.seed, realtimeFactor: o.realtimeFactor, port });
  const bound = await fc.start();
  o.log.info({ port: bound }, `Betaflight MSP FC (the built-in sim) on tcp:127.0.0.1:${bound}: arm on AUX1, MSP is the receiver`);
  try {
    return await stoppableBySignal(o, () => fc.server.stop(), () => fc.result!);
  } finally {
    await fc.close();
  }
}

/** The sim as the physics of a Betaflight SITL binary on this machine (docs/betaflight-sitl.md). */
async function serveBetaflightSitl(o: ServeCliOptions): Promise<RaceResult> {
  const { BetaflightSitlPhysics } = await import('../../sim/serve/betaflight-sitl.js');
  const physics = new BetaflightSitlPhysics(await simFor(o), { laps: o.laps, seed: o.seed, sitlHost: o.endpoint ?? '127.0.0.1' });
  await physics.start();
  o.log.info('physics for Betaflight SITL: fdm → UDP 9003, rc → UDP 9004, motors ← UDP 9002/9001');
  const timer = setInterval(() => o.log.info({ ...physics.stats, motors: physics.motors }, 'sitl link'), 5000);
  try {
    return await stoppableBySignal(o, () => physics.server.stop(), () => physics.result!);
  } finally {
    clearInterval(timer);
    await physics.close();
  }
}

async function serveRos2Sim(o: ServeCliOptions): Promise<RaceResult> {
  const { serveRos2 } = await import('../../sim/serve/ros2.js');
  const sim = await simFor(o);
  const stop = new AbortController();
  const { result, commandsRejected, ticksLate } = await stoppableBySignal(
    o,
    () => stop.abort(),
    () => serveRos2(sim, { laps: o.laps, seed: o.seed, realtimeFactor: o.realtimeFactor, log: o.log, abort: stop.signal }),
  );
  if (commandsRejected) o.log.warn({ commandsRejected }, `${commandsRejected} malformed commands dropped`);
  if (ticksLate) o.log.warn({ ticksLate }, `${ticksLate} lockstep ticks stepped on without a command (timeout)`);
  return result;
}

/** The built-in sim on a ZeroMQ ROUTER; SIGINT/SIGTERM end the run (the client gets `end`). */
async function serveZmqCli(o: ServeCliOptions): Promise<RaceResult> {
  const { serveZmq } = await import('../../sim/serve/zmq.js');
  const sim = await simFor(o);
  const stop = new AbortController();
  return stoppableBySignal(
    o,
    () => stop.abort(),
    () => serveZmq(sim, { endpoint: o.endpoint ?? 'tcp://127.0.0.1:5555', laps: o.laps, seed: o.seed, realtimeFactor: o.realtimeFactor, log: o.log, abort: stop.signal }),
  );
}

async function serveAigp(o: ServeCliOptions): Promise<RaceResult> {
  if (!(o.realtimeFactor > 0)) throw new Error('sim serve --aigp runs paced by the wall clock: give --realtime > 0 (1 = real time)');
  const { SimServer } = await import('../../sim/serve/loop.js');
  const { AigpSimWire, parseAigpTarget } = await import('../../sim/serve/aigp.js');
  const target = parseAigpTarget(o.endpoint);
  const sim = await simFor(o);
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
  try {
    return await stoppableBySignal(o, stop, async () => {
      // the clock starts when the client is there (the drone would otherwise sit unflown)
      await Promise.race([wire.clientHeard, signalled]);
      if (!wire.counters.clientHeartbeats) o.log.warn('sim serve --aigp: stopped before a client was heard');
      else o.log.info('sim serve --aigp: client heard; flying');
      const result = await server.run();
      o.log.info({ event: 'served', ...wire.counters }, `sim serve --aigp: ${wire.counters.framesSent} frames, ${wire.counters.imuSent} IMU samples, ${wire.counters.commands} commands (${wire.counters.commandsRejected} refused)`);
      return result;
    });
  } finally {
    await wire.stop();
  }
}
