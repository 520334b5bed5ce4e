/**
 * Betaflight in the daemon's loop, measured: MSP request → reply round trip over TCP loopback (the emulator,
 * no physics), then the daemon + region pipeline flying the built-in sim through its MSP face in real time
 * (achieved IMU and stick rates, frame → command latency), and the watchdog: the pipeline stops commanding →
 * time until disarm sticks arrive at the FC. Real sockets, wall clock: numbers depend on the machine's load.
 *
 * Run standalone: `npx tsx bench/betaflight-loop.ts [--write]` (prints JSON; --write also saves
 * bench/results/betaflight-loop.json), or call `benchBetaflightLoop()`.
 */
import { pathToFileURL } from 'node:url';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { pino } from 'pino';
import { openLink } from '../firmware-bridge/link/index.js';
import { BetaflightBridge, BetaflightEmulator, BetaflightTransport } from '../firmware-bridge/betaflight/index.js';
import { MSP } from '../firmware-bridge/msp/codes.js';
import { MspSimServer } from '../sim/serve/msp.js';
import { UartProxy } from './uart-proxy.js';

const parseTcp = (uri: string): { host: string; port: number } => {
  const m = /^tcp:([^:]+):(\d+)$/.exec(uri);
  if (!m) throw new Error(`expected tcp:host:port, got ${uri}`);
  return { host: m[1]!, port: Number(m[2]) };
};
import { buildSim, RACE_DEFAULTS } from '../src/cli/race.js';
import { pipelineConfigFromConfig } from '../src/cli/run.js';
import { parseConfig } from '../src/config/schema.js';
import { Daemon } from '../src/daemon/daemon.js';
import { Pipeline } from '../src/pipeline.js';
import type { Controller } from '../src/tracts/controller.js';

const round3 = (x: number): number => Math.round(x * 1000) / 1000;
const quantiles = (xs: number[]): { n: number; p50: number; p99: number; max: number } => {
  const s = xs.slice().sort((a, b) => a - b);
  const q = (p: number): number => (s.length ? round3(s[Math.min(s.length - 1, Math.floor(p * s.length))]!) : NaN);
  return { n: s.length, p50: q(0.5), p99: q(0.99), max: q(1) };
};
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** RAW_IMU request → reply over TCP loopback to the emulator, sequential. */
async function mspRoundTrip(n: number): Promise<Record<string, unknown>> {
  const emu = new BetaflightEmulator();
  await emu.start();
  const link = openLink(emu.uri);
  await new Promise<void>((r) => link.once('open', () => r()));
  const bridge = new BetaflightBridge(link, { requestTimeoutMs: 200 });
  const rttMs: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await bridge.request(MSP.RAW_IMU);
    rttMs.push(performance.now() - t0);
  }
  await bridge.close(50);
  await emu.close();
  return { rawImuRoundTripMs: quantiles(rttMs) };
}

/** The daemon flies the MSP sim for `flyS`, then the pipeline stalls: rates, latency, watchdog. */
async function flight(flyS: number, watchdogS: number, o: { serialTaskHz?: number; imuRateHz?: number; uartBaud?: number } = {}): Promise<Record<string, unknown>> {
  const sim = buildSim({ ...RACE_DEFAULTS, track: 'warmup', laps: 1, seed: 1 });
  const fc = new MspSimServer(sim, { laps: 1, seed: 1, lapTimeoutS: 30, ...(o.serialTaskHz ? { serialTaskHz: o.serialTaskHz } : {}) });
  await fc.start();
  // optionally through a paced serial line (8N1 at uartBaud), as on the drone
  const uart = o.uartBaud ? new UartProxy(parseTcp(fc.uri), o.uartBaud) : null;
  const linkUri = uart ? await uart.start() : fc.uri;
  const cfg = parseConfig({ vehicle: 'racer-280', track: { map: 'warmup' }, failsafe: { imuTimeoutS: 0.3 }, transport: { kind: 'sim' } });
  const pipeline = new Pipeline(pipelineConfigFromConfig(cfg));
  const v = sim.opts.vehicle;
  const hoverN = v.massKg * 9.80665;
  const imuRateHz = o.imuRateHz ?? 250;
  const transport = new BetaflightTransport({
    link: linkUri,
    bridge: { watchdogS, throttle: { hoverThrustN: hoverN, hoverUs: 1000 + (1000 * hoverN) / (4 * v.motorMaxThrustN) }, acc1G: 512 },
    imuRateHz,
    frames: fc.frames,
    clockS: () => fc.clockS(),
  });
  let stall = false;
  let stallAtMs = NaN;
  const controller: Controller = {
    name: 'pipeline (stallable)',
    privileged: false,
    onImu: (s) => pipeline.onImu(s),
    onFrame: (f) => pipeline.onFrame(f),
    command: (nowS) => {
      if (!stall) return pipeline.command(nowS);
      if (Number.isNaN(stallAtMs)) stallAtMs = performance.now();
      return null;
    },
    disarmRequested: () => pipeline.disarmRequested(),
  };
  const rateHz = 100;
  const daemon = new Daemon({ controller, transport, log: pino({ level: 'silent' }), rateHz, healthIntervalS: 0 });
  const lag = monitorEventLoopDelay({ resolution: 5 });
  lag.enable();
  const t0 = performance.now();
  try {
    await daemon.start();
  } catch (e) {
    lag.disable();
    await uart?.close();
    await fc.close();
    return { fcSerialTaskHz: o.serialTaskHz ?? 'unlimited', imuPollHz: imuRateHz, commandRateHz: rateHz, refusedAtOpen: e instanceof Error ? e.message : String(e) };
  }
  const armMs = performance.now() - t0;
  daemon.health(); // reset the window
  const rc0 = fc.rc.length;
  const w0 = performance.now();
  await sleep(flyS * 1000);
  const h = daemon.health();
  const windowS = (performance.now() - w0) / 1000;
  const sticksAtFc = fc.rc.length - rc0;
  const flyingZ = sim.state.posEnuM[2];
  stall = true;
  const why = await Promise.race([transport.ended, sleep(3000).then(() => 'no trip')]);
  await sleep(50);
  const disarm = fc.rc.find((r) => r.tMs >= stallAtMs && (r.channels[4] ?? 0) < 1700);
  lag.disable();
  const counters = transport.counters();
  await daemon.stop('bench over');
  await uart?.close();
  await fc.close();
  return {
    track: 'warmup',
    fcSerialTaskHz: o.serialTaskHz ?? 'unlimited',
    link: uart ? { uartBaud: uart.baud, bytesPerS: uart.bytesPerS, jetsonToFcBytesPerS: round3(uart.bytesUp / ((performance.now() - t0) / 1000)), fcToJetsonBytesPerS: round3(uart.bytesDown / ((performance.now() - t0) / 1000)) } : 'tcp loopback (unpaced)',
    fcRxOverflows: fc.rxOverflows,
    imuPollHz: imuRateHz,
    commandRateHz: rateHz,
    connectPreflightArmMs: round3(armMs),
    windowS: round3(windowS),
    altitudeAtStallM: round3(flyingZ),
    achievedImuPerS: round3(h.imuPerS),
    achievedCommandsPerS: round3(h.commandsPerS),
    sticksAtFcPerS: round3(sticksAtFc / windowS),
    framesPerS: round3(h.framesPerS),
    frameToCommandMs: h.frameToCommandMs,
    imuPollsLost: counters['imuPollsLost'],
    eventLoopDelayMs: { p50: round3(lag.percentile(50) / 1e6), p99: round3(lag.percentile(99) / 1e6), max: round3(lag.max / 1e6) },
    watchdog: {
      watchdogS,
      ended: why,
      stallToDisarmAtFcMs: disarm ? round3(disarm.tMs - stallAtMs) : null,
    },
  };
}

export async function benchBetaflightLoop(): Promise<Record<string, unknown>> {
  return {
    tcpLoopback: await mspRoundTrip(2000),
    daemonLoop: await flight(6, 0.25),
    // a real FC answers one MSP command per serial task run: sticks 100 Hz + IMU 100 Hz against the default
    // serial_update_rate_hz = 100 (the transport refuses to arm: before that check, flying it gave 17 IMU/s),
    // then against 1000
    serialTask100: await flight(3, 0.25, { serialTaskHz: 100, imuRateHz: 100 }),
    serialTask1000: await flight(3, 0.25, { serialTaskHz: 1000, imuRateHz: 100 }),
    // the AI Grand Prix drone's link: 115200 baud, with Betaflight's serial task at 1 kHz
    uart115200SerialTask1000: await flight(4, 0.25, { serialTaskHz: 1000, imuRateHz: 100, uartBaud: 115200 }),
    notes: [
      'Real time on a shared machine: rates and latencies move with the load (see eventLoopDelayMs).',
      'On the drone the UART, not TCP, sets the budget: see bench/msp.ts mspLinkBudget (raise serial_update_rate_hz).',
    ],
  };
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { cpus, loadavg } = await import('node:os');
  const machine = { node: process.version, cpu: cpus()[0]?.model ?? 'unknown', cores: cpus().length, loadAvg1m: round3(loadavg()[0] ?? NaN), date: new Date().toISOString() };
  const text = JSON.stringify({ machine, ...(await benchBetaflightLoop()) }, null, 2) + '\n';
  if (process.argv.includes('--write')) {
    const { writeFileSync } = await import('node:fs');
    const { join } = await import('node:path');
    const { packageRoot } = await import('../src/paths.js');
    writeFileSync(join(packageRoot(), 'bench', 'results', 'betaflight-loop.json'), text);
  }
  process.stdout.write(text);
}
