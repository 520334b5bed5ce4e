/**
 * ZeroMQ transport benchmark. The daemon runs as users run it: `brainpilot run --config` in its own
 * process, connected over loopback TCP; this process is the publisher (the server side) and times
 * everything on its own clock.
 *
 *  lockstep   the built-in sim flies aigp-qualifier through ZmqSimWire: for each rendered frame, the
 *             wall time from handing the frame to the socket to the daemon's reply to the next tick
 *             (publisher → client transport → Daemon + Pipeline → reply).
 *  sustained  real time: a 640×360 rgb8 camera at 120 Hz and a 1 kHz IMU for ≥ 5 s; counts what
 *             was sent against what the daemon took in (its final health line), its drops, and the
 *             frame → next command latency at the daemon's 100 Hz command clock.
 *
 * `npx tsx bench/transport-zmq.ts [codec|lockstep|sustained]` prints the JSON; bench/run.ts files it under
 * transports.json. Diagnostics: BENCH_ZMQ_DAEMON_LOG=<file> keeps the daemon's log,
 * BENCH_ZMQ_NODE_ARGS="--trace-gc" passes node flags to it (and shows its stdout).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { Router } from 'zeromq';
import { stringify as yamlStringify } from 'yaml';
import { RACE_DEFAULTS, buildSim } from '../src/cli/race.js';
import { packageRoot } from '../src/paths.js';
import type { CameraFrame, FlightCommand, ImuSample } from '../src/tracts/io.js';
import { SendQueue } from '../src/transports/zmq/queue.js';
import { decode, encodeDisarm, encodeFrame, encodeHello, encodeImu } from '../src/transports/zmq/wire.js';
import { SimServer, type SimWire } from '../sim/serve/loop.js';
import { ZmqSimWire } from '../sim/serve/zmq.js';

const silent = pino({ level: 'silent' });

const pct = (xs: number[], p: number): number => {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return Math.round(s[Math.min(s.length - 1, Math.floor(p * s.length))]! * 1000) / 1000;
};
const stats = (xs: number[]) => ({ n: xs.length, p50Ms: pct(xs, 0.5), p99Ms: pct(xs, 0.99), maxMs: pct(xs, 1) });

interface DaemonTotals {
  totals: { frames: number; imu: number; commands: number; dropped: number };
  drops: Record<string, number>;
  frameToCommandMs: { p50: number; p99: number; n: number };
}

/** `brainpilot run --config` as a child (from source under tsx, or the built dist/). */
function spawnDaemon(endpoint: string, map: string): { stopped: Promise<DaemonTotals | null>; exit: Promise<number | null>; kill: (s: NodeJS.Signals) => void } {
  const root = packageRoot();
  const dir = mkdtempSync(join(tmpdir(), 'brainpilot-bench-zmq-'));
  const cfg = join(dir, 'zmq.yaml');
  writeFileSync(cfg, yamlStringify({ track: { map }, log: { level: 'info', healthIntervalS: 0 }, transport: { kind: 'zmq', endpoint, connectTimeoutS: 30 } }));
  const fromSource = import.meta.url.endsWith('.ts');
  const args = fromSource ? ['--import', 'tsx', join(root, 'src', 'cli', 'main.ts')] : [join(root, 'dist', 'src', 'cli', 'main.js')];
  const extra = process.env['BENCH_ZMQ_NODE_ARGS']?.split(' ').filter(Boolean) ?? [];
  const child = spawn(process.execPath, [...extra, ...args, 'run', '--config', cfg], { cwd: root, stdio: ['ignore', extra.length ? 'inherit' : 'ignore', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  if (process.env['BENCH_ZMQ_DAEMON_LOG']) child.on('exit', () => writeFileSync(process.env['BENCH_ZMQ_DAEMON_LOG']!, err));
  const exit = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  const stopped = exit.then(() => {
    const line = err.split('\n').find((l) => l.includes('"event":"stopped"'));
    return line ? (JSON.parse(line) as DaemonTotals) : null;
  });
  return { stopped, exit, kill: (s) => child.kill(s) };
}

async function benchLockstep(): Promise<Record<string, unknown>> {
  const laps = 2;
  const warmupS = 3;
  const sim = buildSim({ ...RACE_DEFAULTS, track: 'aigp-qualifier', laps, seed: 1 });
  const inner = new ZmqSimWire({ endpoint: 'tcp://127.0.0.1:*', clock: 'lockstep', log: silent });
  const endpoint = await inner.bind();
  const latMs: number[] = [];
  const tickMs: number[] = [];
  let frameAtMs = NaN;
  const wire: SimWire = {
    name: 'zmq',
    imu: (s: ImuSample) => inner.imu(s),
    frame: (f: CameraFrame) => {
      inner.frame(f);
      if (Number.isNaN(frameAtMs)) frameAtMs = performance.now();
    },
    tick: async (tS: number) => {
      const t0 = performance.now();
      const cmd = await inner.tick(tS);
      const t1 = performance.now();
      const measured = tS >= warmupS; // JIT and first-frame work in both processes settle first
      if (!Number.isNaN(frameAtMs)) {
        if (measured) latMs.push(t1 - frameAtMs);
        frameAtMs = NaN;
      } else if (measured) tickMs.push(t1 - t0);
      return cmd;
    },
  };
  const server = new SimServer(sim, wire, { laps, seed: 1, realtimeFactor: 0 });
  inner.attach(server);
  const daemon = spawnDaemon(endpoint, 'aigp-qualifier');
  await inner.waitForClient();
  const result = await server.run();
  await inner.end(result.completed ? 'finished' : 'run ended', result);
  const totals = await daemon.stopped;
  await inner.close();
  return {
    what: 'wall time from a rendered 640×360 rgb8 frame handed to the ROUTER to the daemon\'s reply to the next tick (daemon in its own process, loopback TCP)',
    track: 'aigp-qualifier',
    laps,
    warmupSimS: warmupS,
    completed: result.completed,
    simTimeS: result.stats.simTimeS,
    wallTimeS: result.stats.wallTimeS,
    realTimeFactor: result.stats.realTimeFactor,
    frameToCommand: stats(latMs),
    tickRoundTripNoFrame: stats(tickMs),
    daemon: totals ? { totals: totals.totals, drops: totals.drops } : null,
  };
}

async function benchSustained(durationS: number, warmupS: number): Promise<Record<string, unknown>> {
  const imuHz = 1000, camHz = 120;
  // one real rendered frame (a gate in view from the start box), replayed with fresh stamps
  const sim = buildSim({ ...RACE_DEFAULTS, track: 'aigp-qualifier', laps: 1, seed: 1 });
  const fb: CameraFrame[] = [];
  for (let i = 0; i < 1000 && fb.length === 0; i++) {
    sim.step();
    sim.pollFrames(fb);
  }
  const still = fb[0];
  if (!still) throw new Error('bench zmq: the simulator produced no frame');
  const pixels = still.data.slice(0, still.step * still.height);
  const router = new Router({ linger: 0, sendHighWaterMark: 0 });
  await router.bind('tcp://127.0.0.1:*');
  const out = new SendQueue<Uint8Array[]>((m) => router.send(m));
  const daemon = spawnDaemon(router.lastEndpoint!, 'aigp-qualifier');
  let client: Buffer | null = null;
  let helloResolve!: () => void;
  const hello = new Promise<void>((r) => (helloResolve = r));
  const commandAtMs: number[] = [];
  let nonFinite = 0;
  let disarms = 0;
  const receiving = (async () => {
    for await (const [id, ...parts] of router) {
      const d = decode(parts);
      if (!d.ok) continue;
      const m = d.msg;
      if (m.topic === 'hello') {
        client = id!;
        out.push([id!, ...encodeHello({ role: 'server', clock: 'realtime', name: 'bench' })]);
        helloResolve();
      } else if (m.topic === 'command' && m.command) {
        commandAtMs.push(performance.now());
        if (!finiteCommand(m.command)) nonFinite++;
      } else if (m.topic === 'disarm') {
        disarms++;
        out.push([id!, ...encodeDisarm(m.reason, true)]);
      }
    }
  })();
  await hello;
  const id = client!;
  const frameAtMs: number[] = [];
  let imuSent = 0, framesSent = 0, maxQueued = 0;
  const loopGapMs: number[] = [];
  let lastLoopMs = performance.now();
  const t0 = performance.now();
  const imu: ImuSample = { stampS: 0, gyroRadS: [0, 0, 0], accelMS2: [0, 0, 9.81] };
  const frame: CameraFrame = { ...still, data: pixels };
  for (;;) {
    const nowMs = performance.now();
    const elapsedS = (nowMs - t0) / 1000;
    if (elapsedS >= warmupS + durationS) break;
    if (elapsedS >= warmupS) loopGapMs.push(nowMs - lastLoopMs);
    lastLoopMs = nowMs;
    // everything due by now, in stamp order: IMU at 1 kHz, frames at 120 Hz
    const imuDue = Math.floor(elapsedS * imuHz), framesDue = Math.floor(elapsedS * camHz);
    while (imuSent < imuDue || framesSent < framesDue) {
      const nextImuS = (imuSent + 1) / imuHz, nextFrameS = (framesSent + 1) / camHz;
      if (imuSent < imuDue && (framesSent >= framesDue || nextImuS <= nextFrameS)) {
        imuSent++;
        imu.stampS = nextImuS;
        out.push([id, ...encodeImu(imu)]);
      } else {
        framesSent++;
        frame.stampS = frame.arrivalS = nextFrameS;
        frame.seq = framesSent;
        out.push([id, ...encodeFrame(frame)]);
        if (elapsedS >= warmupS) frameAtMs.push(performance.now());
      }
    }
    maxQueued = Math.max(maxQueued, out.length);
    await new Promise((r) => setTimeout(r, 1));
  }
  const sentS = (performance.now() - t0) / 1000;
  await out.flushed();
  await new Promise((r) => setTimeout(r, 100));
  daemon.kill('SIGTERM');
  const totals = await daemon.stopped;
  router.close();
  await receiving.catch(() => {});
  // frame → the first command the daemon sent after it (what a frame changes reaches the FC then)
  const lat: number[] = [];
  let j = 0;
  for (const f of frameAtMs) {
    while (j < commandAtMs.length && commandAtMs[j]! <= f) j++;
    if (j < commandAtMs.length) lat.push(commandAtMs[j]! - f);
  }
  const gaps: number[] = [];
  for (let i = 1; i < commandAtMs.length; i++) gaps.push(commandAtMs[i]! - commandAtMs[i - 1]!);
  const received = totals ? { frames: totals.totals.frames, imu: totals.totals.imu } : null;
  return {
    what: `real time: ${still.width}×${still.height} ${still.encoding} at ${camHz} Hz + IMU at ${imuHz} Hz for ${warmupS} + ${durationS} s to the daemon in its own process; received = the daemon's totals after SIGTERM`,
    durationS: Math.round(sentS * 1000) / 1000,
    latencyWindowS: `after the first ${warmupS} s`,
    sent: { frames: framesSent, imu: imuSent, bytes: framesSent * pixels.length },
    received,
    lost: received ? { frames: framesSent - received.frames, imu: imuSent - received.imu } : null,
    drops: totals?.drops ?? null,
    zeroDrops: received !== null && received.frames === framesSent && received.imu === imuSent && Object.keys(totals?.drops ?? {}).length === 0,
    commandsReceived: commandAtMs.length,
    commandsNonFinite: nonFinite,
    commandGap: stats(gaps),
    disarmsAcked: disarms,
    publisherMaxQueued: maxQueued,
    publisherLoopGap: stats(loopGapMs),
    frameToNextCommand: { ...stats(lat), note: 'includes waiting for the daemon\'s 100 Hz command clock (control.rateHz)' },
    daemonFrameToCommandMs: totals?.frameToCommandMs ?? null,
  };
}

const finiteCommand = (c: FlightCommand): boolean =>
  c.kind === 'ctbr' ? Number.isFinite(c.thrustN) && c.thrustN >= 0 && c.rateRadS.every(Number.isFinite) : c.kind === 'motors' ? c.motors.every((m) => m >= 0 && m <= 1) : c.channelsUs.every(Number.isFinite);

/** Wire codec cost alone (no sockets): what each message costs the client's event loop. */
function benchCodec(): Record<string, unknown> {
  const imu: ImuSample = { stampS: 0, gyroRadS: [0.01, -0.02, 0.3], accelMS2: [0.1, 0.2, 9.81] };
  const sim = buildSim({ ...RACE_DEFAULTS, track: 'aigp-qualifier', laps: 1, seed: 1 });
  const fb: CameraFrame[] = [];
  while (fb.length === 0) {
    sim.step();
    sim.pollFrames(fb);
  }
  const f = fb[0]!;
  const time = (n: number, fn: (i: number) => void): number => {
    for (let i = 0; i < Math.min(n, 2000); i++) fn(i); // warm up
    const t0 = performance.now();
    for (let i = 0; i < n; i++) fn(i);
    return Math.round(((performance.now() - t0) / n) * 1e6) / 1000; // µs
  };
  let sink = 0;
  return {
    imuEncodeUs: time(100_000, (i) => {
      imu.stampS = i * 0.001;
      sink += encodeImu(imu)[1].length;
    }),
    imuDecodeUs: time(100_000, (i) => {
      imu.stampS = i * 0.001;
      const d = decode(encodeImu(imu));
      if (d.ok) sink++;
    }),
    frameEncodeUs: time(5_000, () => (sink += encodeFrame(f)[1].length)),
    frameDecodeUs: time(5_000, () => {
      const d = decode(encodeFrame(f));
      if (d.ok) sink++;
    }),
    note: `decode includes its encode; frame ${f.width}×${f.height} ${f.encoding}, pixels not copied (checksum ${sink % 7})`,
  };
}

/** The 1-minute load average: on a shared 2-core machine the real-time numbers depend on it. */
const load = (): number => Math.round(loadavg()[0]! * 100) / 100;

export async function benchZmq(): Promise<Record<string, unknown>> {
  const loadBefore = load();
  const codec = benchCodec();
  const lockstep = await benchLockstep();
  const sustained = await benchSustained(6, 1);
  return { zmq: { loadAvg1m: { before: loadBefore, after: load() }, codec, lockstep, sustained } };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const machine = { node: process.version, cpu: cpus()[0]?.model ?? 'unknown', cores: cpus().length, date: new Date().toISOString() };
  const only = process.argv[2];
  const l0 = load();
  const data =
    only === 'codec' ? { zmq: { codec: benchCodec() } } : only === 'sustained' ? { zmq: { sustained: await benchSustained(6, 1), loadAvg1m: { before: l0, after: load() } } } : only === 'lockstep' ? { zmq: { lockstep: await benchLockstep(), loadAvg1m: { before: l0, after: load() } } } : await benchZmq();
  console.log(JSON.stringify({ machine, ...data }, null, 2));
}
