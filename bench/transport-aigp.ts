/**
 * AI Grand Prix link benchmark (JSON):
 *  - jpegDecode: jpeg-js decode time of a rendered 640×360 VQ frame (JPEG q85), in this thread and as a
 *    round trip through the link's decode worker;
 *  - sustained: a sender thread streams 1 kHz HIGHRES_IMU and a 120 Hz chunked-JPEG camera at the link
 *    (2 decode workers) for a few seconds; every sample must arrive and nothing may be dropped;
 *  - flight: a lap of the warm-up track against `sim serve --aigp` in a child process (real time),
 *    with frame→command latency measured wire to wire (last chunk in → next SET_ATTITUDE_TARGET out)
 *    and inside the daemon (frame delivered → next command).
 *
 * Run standalone: `npx tsx bench/transport-aigp.ts [decode|sustained|sustained30|flight [realtimeFactor [imuTimeoutS]]]`,
 * or call `benchAigp()`.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import jpeg from 'jpeg-js';
import { pino } from 'pino';
import { parse as parseYaml } from 'yaml';
import { buildSim, RACE_DEFAULTS } from '../src/cli/race.js';
import { startDaemon } from '../src/cli/run.js';
import { parseConfig } from '../src/config/schema.js';
import type { RejectKind, SensorSink } from '../src/daemon/transport.js';
import { packageRoot } from '../src/paths.js';
import { jpegCodec, SharpJpeg, JpegWorkers } from '../src/transports/aigp/jpeg-worker.js';
import { highresFromImu, MavlinkEncoder } from '../src/transports/aigp/mavlink.js';
import { AigpTransport } from '../src/transports/aigp/transport.js';
import { chunkJpeg } from '../src/transports/aigp/video.js';

const silent = pino({ level: 'silent' });
const INTR = { width: 640, height: 360, fx: 320, fy: 320, cx: 320, cy: 180 };
const MOUNT = { tiltUpRad: (20 * Math.PI) / 180, posFluM: [0, 0, 0] as [number, number, number] };

const pct = (xs: number[], p: number): number => {
  const a = xs.slice().sort((x, y) => x - y);
  return a.length ? Math.round(a[Math.min(a.length - 1, Math.floor(p * a.length))]! * 1000) / 1000 : NaN;
};

/** A real VQ-camera view: the warm-up track from its start box, rendered by the sim, as JPEG q85. */
function vqJpeg(): Uint8Array {
  const sim = buildSim({ ...RACE_DEFAULTS, track: 'warmup', laps: 1 });
  const f = sim.renderFrame();
  const rgba = new Uint8Array(f.width * f.height * 4);
  for (let i = 0, j = 0; i < f.width * f.height * 3; i += 3, j += 4) {
    rgba[j] = f.data[i]!;
    rgba[j + 1] = f.data[i + 1]!;
    rgba[j + 2] = f.data[i + 2]!;
    rgba[j + 3] = 255;
  }
  return new Uint8Array(jpeg.encode({ data: rgba, width: f.width, height: f.height }, 85).data);
}

export async function benchDecode(n = 60): Promise<Record<string, unknown>> {
  const j = vqJpeg();
  for (let i = 0; i < 5; i++) jpeg.decode(j, { useTArray: true, formatAsRGBA: false });
  const inThread: number[] = [];
  const cpu0 = process.cpuUsage();
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    jpeg.decode(j, { useTArray: true, formatAsRGBA: false });
    inThread.push(performance.now() - t0);
  }
  const cpu = process.cpuUsage(cpu0);
  // the simulator side's cost: jpeg-js encode of the same view (RGBA in), q85
  const rgba = new Uint8Array(640 * 360 * 4).fill(200);
  const img = jpeg.decode(j, { useTArray: true, formatAsRGBA: true });
  rgba.set(img.data.subarray(0, rgba.length));
  for (let i = 0; i < 3; i++) jpeg.encode({ data: rgba, width: 640, height: 360 }, 85);
  const ecpu0 = process.cpuUsage();
  const ne = Math.max(5, Math.floor(n / 3));
  for (let i = 0; i < ne; i++) jpeg.encode({ data: rgba, width: 640, height: 360 }, 85);
  const ecpu = process.cpuUsage(ecpu0);
  const w = new JpegWorkers(1);
  await w.warmUp(640, 360);
  const round: number[] = [];
  const inWorker: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    const r = await w.decode(j.slice(), 1);
    round.push(performance.now() - t0);
    inWorker.push(r.ms);
  }
  await w.close();
  // what the link uses when sharp's native binary loads (libjpeg-turbo on libuv's pool)
  const sc = jpegCodec(1);
  await sc.warmUp(640, 360);
  const sharpMs: number[] = [];
  const scpu0 = process.cpuUsage();
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    const r = await sc.decode(j, 1);
    if (!r.ok) throw new Error(`decode failed: ${r.error}`);
    sharpMs.push(performance.now() - t0);
  }
  const scpu = process.cpuUsage(scpu0);
  await sc.close();
  return {
    codec: sc instanceof SharpJpeg ? 'sharp (libjpeg-turbo)' : 'jpeg-js (sharp did not load)',
    decodeMs: { p50: pct(sharpMs, 0.5), p99: pct(sharpMs, 0.99), cpuMsMean: Math.round((scpu.user + scpu.system) / n) / 1000 },
    jpegJs: 'the fallback when sharp does not load: figures below',
    jpegBytes: j.length,
    frames: n,
    inThreadMs: { p50: pct(inThread, 0.5), p99: pct(inThread, 0.99) },
    // CPU time does not grow when other processes compete for the cores; wall time does
    inThreadCpuMsMean: Math.round((cpu.user + cpu.system) / n) / 1000,
    encodeCpuMsMean: Math.round((ecpu.user + ecpu.system) / ne) / 1000,
    loadAvg1m: loadavg()[0],
    workerMs: { p50: pct(inWorker, 0.5), p99: pct(inWorker, 0.99) },
    workerRoundTripMs: { p50: pct(round, 0.5), p99: pct(round, 0.99) },
  };
}

// The sender runs on its own thread so the link under test does not share a thread with its load.
const SENDER = `
const { parentPort, workerData } = require('node:worker_threads');
const dgram = require('node:dgram');
const { imu, frames, mavPort, videoPort, imuHz, camHz } = workerData;
const s = dgram.createSocket('udp4');
s.bind(0, '127.0.0.1', () => {
  const t0 = performance.now();
  let i = 0, f = 0, chunks = 0;
  const tick = () => {
    const t = performance.now() - t0;
    while (i < imu.length && (i * 1000) / imuHz <= t) s.send(new Uint8Array(imu[i++]), mavPort, '127.0.0.1');
    while (f < frames.length && (f * 1000) / camHz <= t) { for (const c of frames[f]) { s.send(new Uint8Array(c), videoPort, '127.0.0.1'); chunks++; } f++; }
    if (i < imu.length || f < frames.length) setTimeout(tick, 1);
    else setTimeout(() => { parentPort.postMessage({ imu: i, frames: f, chunks, wallS: (performance.now() - t0) / 1000 }); s.close(); }, 20);
  };
  tick();
});
`;

export async function benchSustained(seconds = 3, imuHz = 1000, camHz = 120, decodeWorkers = 2): Promise<Record<string, unknown>> {
  const j = vqJpeg();
  const enc = new MavlinkEncoder(1, 1);
  const imu: ArrayBuffer[] = [];
  for (let i = 0; i < seconds * imuHz; i++) {
    const b = enc.encode(highresFromImu({ stampS: 1 + i / imuHz, accelMS2: [0, 0, 9.81], gyroRadS: [0, 0, 0] }));
    imu.push(b.buffer.slice(b.byteOffset, b.byteOffset + b.length) as ArrayBuffer);
  }
  const frames: ArrayBuffer[][] = [];
  for (let k = 0; k < seconds * camHz; k++) {
    frames.push(chunkJpeg(k, j, BigInt(Math.round((1 + k / camHz) * 1e9)), 1400).map((c) => c.buffer.slice(c.byteOffset, c.byteOffset + c.length) as ArrayBuffer));
  }
  const got = { imu: 0, frames: 0, drops: {} as Partial<Record<RejectKind, number>>, details: [] as string[] };
  const sink: SensorSink = {
    imu: () => void got.imu++,
    frame: () => void got.frames++,
    tick: () => {},
    reject: (k, d) => {
      got.drops[k] = (got.drops[k] ?? 0) + 1;
      if (got.details.length < 5) got.details.push(`${k}: ${d}`);
    },
    linkState: () => {},
  };
  const t = new AigpTransport({
    mavlinkBind: { host: '127.0.0.1', port: 0 },
    videoBind: { host: '127.0.0.1', port: 0 },
    commandRateHz: 90,
    heartbeatHz: 2,
    systemId: 255,
    componentId: 190,
    maxThrustN: 30,
    maxRateRadS: [10, 10, 5],
    intrinsics: INTR,
    mount: MOUNT,
    log: silent,
    decodeWorkers,
  });
  await t.open(sink);
  const { mavlink, video } = t.ports();
  const sender = new Worker(SENDER, { eval: true, workerData: { imu, frames, mavPort: mavlink, videoPort: video, imuHz, camHz } });
  const sent = await new Promise<{ imu: number; frames: number; chunks: number; wallS: number }>((r) => sender.once('message', r));
  await sender.terminate();
  const t0 = performance.now();
  while ((got.frames + Object.values(got.drops).reduce((a, b) => a + b, 0) < sent.frames || got.imu < sent.imu) && performance.now() - t0 < 2000) await new Promise((r) => setTimeout(r, 10));
  const c = t.counters();
  await t.close();
  const dropped = Object.values(got.drops).reduce((a, b) => a + b, 0);
  return {
    seconds,
    imuHz,
    camHz,
    decodeWorkers,
    jpegBytes: j.length,
    chunksPerFrame: Math.ceil(j.length / 1400),
    sent,
    received: { imu: got.imu, frames: got.frames },
    drops: got.drops,
    dropDetails: got.details,
    zeroDrops: dropped === 0 && got.imu === sent.imu && got.frames === sent.frames,
    decodeMsLast: c['decodeMsLast'],
    loadAvg1m: loadavg()[0],
  };
}

export async function benchFlight(realtimeFactor = 1, imuTimeoutS?: number): Promise<Record<string, unknown>> {
  const root = packageRoot();
  const dir = mkdtempSync(join(tmpdir(), 'brainpilot-bench-aigp-'));
  // the shipped config/aigp-vq.yaml on the warm-up map and ephemeral ports
  const shipped = parseYaml(readFileSync(join(root, 'config', 'aigp-vq.yaml'), 'utf8')) as Record<string, Record<string, unknown>>;
  const cfg = parseConfig({
    ...shipped,
    track: { ...shipped['track'], map: 'warmup' },
    failsafe: { ...shipped['failsafe'], ...(imuTimeoutS !== undefined ? { imuTimeoutS } : {}) },
    log: { level: 'warn', healthIntervalS: 0 },
    transport: { ...shipped['transport'], mavlinkBind: '127.0.0.1:0', videoBind: '127.0.0.1:0' },
  });
  const h = await startDaemon(cfg, silent);
  // the longest the daemon's thread was blocked: the daemon reads a stall as sensor age
  const loop = monitorEventLoopDelay({ resolution: 5 });
  loop.enable();
  const link = h.transport as AigpTransport;
  const { mavlink, video } = link.ports();
  const json = join(dir, 'serve.json');
  const dist = join(root, 'dist', 'src', 'cli', 'main.js');
  const fromSource = import.meta.url.endsWith('.ts') || !existsSync(dist);
  const args = [...(fromSource ? ['--import', 'tsx', join(root, 'src', 'cli', 'main.ts')] : [dist])];
  args.push('sim', 'serve', '--aigp', `127.0.0.1:${mavlink}:${video}`, '--track', 'warmup', '--laps', '1', '--realtime', String(realtimeFactor), '--json', json);
  const child = spawn(process.execPath, args, { cwd: root, stdio: 'ignore', env: { ...process.env, BRAINPILOT_LOG: 'warn' } });
  const exited = new Promise<void>((r) => child.on('exit', () => r()));
  // the daemon's own frame → command latency, sampled every second (health() resets its window)
  const daemonLat: { p50: number; p99: number; n: number }[] = [];
  const iv = setInterval(() => daemonLat.push(h.daemon.health().frameToCommandMs), 1000);
  await h.finished;
  clearInterval(iv);
  loop.disable();
  await exited;
  const health = h.daemon.health();
  const result = existsSync(json) ? (JSON.parse(readFileSync(json, 'utf8')) as { completed: boolean; totalTimeS: number; crashes: number }) : null;
  const c = health.transport ?? {};
  const wins = daemonLat.filter((l) => l.n > 0);
  return {
    track: 'warmup',
    realtimeFactor,
    imuTimeoutS: cfg.failsafe.imuTimeoutS,
    controlRateHz: cfg.control.rateHz,
    completed: result?.completed ?? false,
    lapTimeS: result?.totalTimeS ?? null,
    crashes: result?.crashes ?? null,
    frameToWireMs: link.frameToWireMs(),
    frameToPipelineMs: link.frameToPipelineMs(),
    daemonFrameToCommandMs: { p50OfWindows: pct(wins.map((l) => l.p50), 0.5), worstWindowP99: Math.max(...wins.map((l) => l.p99)) },
    framesDecoded: c['framesDecoded'],
    commandsSent: c['commandsSent'],
    drops: health.drops,
    loadAvg1m: loadavg()[0],
    eventLoopDelayMs: { p99: Math.round(loop.percentile(99) / 1e4) / 100, max: Math.round(loop.max / 1e4) / 100 },
    note:
      'frameToWire = last video chunk in → first SET_ATTITUDE_TARGET out after the frame reached the pipeline: JPEG decode (worker) + pipeline + the daemon command clock (100 Hz) + the 90 Hz send limit; ' +
      'frameToPipeline = last video chunk in → frame handed to the pipeline (the decode share); daemonFrameToCommand = frame handed over → next command (the daemon health line)',
  };
}

export async function benchAigp(): Promise<Record<string, unknown>> {
  return {
    decode: await benchDecode(),
    sustained: await benchSustained(),
    // the VQ camera's own rate, with the shipped single decode worker
    sustainedVq30Hz: await benchSustained(3, 1000, 30, 1),
    flight: await benchFlight(),
  };
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const only = process.argv[2];
  const num = (i: number, d: number): number => (process.argv[i] !== undefined ? Number(process.argv[i]) : d);
  const out = only === 'decode' ? await benchDecode() : only === 'sustained' ? await benchSustained() : only === 'sustained30' ? await benchSustained(3, 1000, 30, 1) : only === 'flight' ? await benchFlight(num(3, 1), process.argv[4] !== undefined ? num(4, 0.25) : undefined) : await benchAigp();
  console.log(JSON.stringify(out, null, 2));
}
