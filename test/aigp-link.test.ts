/**
 * The AI Grand Prix link over real UDP sockets on loopback (ephemeral ports): against a scripted
 * vehicle socket (what arrives in the sink, what goes out on the wire, every malformed input
 * counted), and flying a lap of the warm-up track against `brainpilot sim serve --aigp` in a child
 * process while garbage of every kind is thrown at it.
 */
import { spawn } from 'node:child_process';
import { createSocket, type Socket } from 'node:dgram';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import jpeg from 'jpeg-js';
import { pino } from 'pino';
import { parse as parseYaml } from 'yaml';
import { afterEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../src/config/schema.js';
import { startDaemon } from '../src/cli/run.js';
import type { RejectKind, SensorSink } from '../src/daemon/transport.js';
import type { CameraFrame, ImuSample } from '../src/tracts/io.js';
import { AigpTransport, createAigpTransport } from '../src/transports/aigp/transport.js';
import { armDisarm, common, highresFromImu, MavEncoder, minimal, parseDatagram, type MavPacket } from '../src/transports/aigp/mavlink.js';
import { chunkJpeg, VideoReassembler, type ReassembledFrame } from '../src/transports/aigp/video.js';
import { AigpSimWire, parseAigpTarget } from '../sim/serve/aigp.js';
import { SimServer } from '../sim/serve/loop.js';
import { buildSim, RACE_DEFAULTS } from '../src/cli/race.js';

const root = join(import.meta.dirname, '..');
const silent = pino({ level: 'silent' });
const INTR = { width: 640, height: 360, fx: 320, fy: 320, cx: 320, cy: 180 };
const MOUNT = { tiltUpRad: (20 * Math.PI) / 180, posFluM: [0, 0, 0] as [number, number, number] };
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

async function until(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

/** A 640×360 JPEG: a bright square on grey (seeded by `shade`). */
function testJpeg(shade = 90): Uint8Array {
  const rgba = new Uint8Array(640 * 360 * 4);
  for (let y = 0; y < 360; y++)
    for (let x = 0; x < 640; x++) {
      const i = (y * 640 + x) * 4;
      const inSq = x > 200 && x < 440 && y > 80 && y < 280;
      rgba[i] = inSq ? 250 : shade;
      rgba[i + 1] = inSq ? 120 : shade;
      rgba[i + 2] = inSq ? 20 : shade;
      rgba[i + 3] = 255;
    }
  return new Uint8Array(jpeg.encode({ data: rgba, width: 640, height: 360 }, 85).data);
}

class RecordingSink implements SensorSink {
  imus: ImuSample[] = [];
  frames: CameraFrame[] = [];
  rejects: { kind: RejectKind; detail: string }[] = [];
  links: boolean[] = [];
  imu(s: ImuSample) {
    this.imus.push(s);
  }
  frame(f: CameraFrame) {
    this.frames.push(f);
  }
  tick() {}
  reject(kind: RejectKind, detail: string) {
    this.rejects.push({ kind, detail });
  }
  linkState(up: boolean) {
    this.links.push(up);
  }
  kinds(): string[] {
    return this.rejects.map((r) => r.kind);
  }
}

/** The far side, scripted: a UDP socket speaking as vehicle 1/1. */
class FakeVehicle {
  sock!: Socket;
  enc = new MavEncoder(1, 1);
  got: MavPacket[] = [];
  bad: string[] = [];
  constructor(readonly ports: { mavlink: number; video: number }) {}
  async open(): Promise<void> {
    this.sock = createSocket('udp4');
    this.sock.on('message', (m) => parseDatagram(m, (p) => this.got.push(p), (e) => this.bad.push(e)));
    await new Promise<void>((r) => this.sock.bind(0, '127.0.0.1', r));
  }
  mav(buf: Buffer): void {
    this.sock.send(buf, this.ports.mavlink, '127.0.0.1');
  }
  msg(m: Parameters<MavEncoder['encode']>[0]): void {
    this.mav(this.enc.encode(m));
  }
  heartbeat(armed = true, status = minimal.MavState.ACTIVE): void {
    const h = new minimal.Heartbeat();
    h.type = minimal.MavType.QUADROTOR;
    h.autopilot = minimal.MavAutopilot.GENERIC;
    h.baseMode = (armed ? 128 : 0) as minimal.MavModeFlag;
    h.systemStatus = status;
    h.mavlinkVersion = 3;
    this.msg(h);
  }
  video(buf: Buffer): void {
    this.sock.send(buf, this.ports.video, '127.0.0.1');
  }
  of<T>(cls: new () => T): T[] {
    return this.got.map((p) => p.message).filter((m): m is T & NonNullable<typeof m> => m instanceof cls);
  }
  close(): Promise<void> {
    return new Promise((r) => this.sock.close(() => r()));
  }
}

const imuMsg = (tS: number, acc: [number, number, number] = [0, 0, 9.81], gyro: [number, number, number] = [0, 0, 0]) =>
  highresFromImu({ stampS: tS, accelMS2: acc, gyroRadS: gyro });

let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

async function openLink(over: Partial<ConstructorParameters<typeof AigpTransport>[0]> = {}) {
  const t = new AigpTransport({
    mavlinkBind: { host: '127.0.0.1', port: 0 },
    videoBind: { host: '127.0.0.1', port: 0 },
    commandRateHz: 50,
    heartbeatHz: 4,
    systemId: 255,
    componentId: 190,
    maxThrustN: 40,
    maxRateRadS: [10, 10, 5],
    intrinsics: INTR,
    mount: MOUNT,
    log: silent,
    ...over,
  });
  const sink = new RecordingSink();
  await t.open(sink);
  const v = new FakeVehicle(t.ports());
  await v.open();
  cleanup.push(async () => {
    await t.close();
    await v.close();
  });
  return { t, sink, v };
}

describe('aigp transport against a scripted vehicle', () => {
  it('brings IMU (FRD → FLU) and a chunked JPEG frame (rgb8, sim-time stamp, intrinsics) in', async () => {
    const { sink, v } = await openLink();
    v.heartbeat();
    v.msg(imuMsg(1.0, [0.5, 0.25, 9.8], [0.1, 0.2, 0.3]));
    await until(() => sink.imus.length === 1, 2000, 'the IMU sample');
    const s = sink.imus[0]!;
    expect(s.stampS).toBe(1);
    expect(s.accelMS2.map((x) => Math.round(x * 1e4) / 1e4)).toEqual([0.5, 0.25, 9.8]);
    expect(s.gyroRadS.map((x) => Math.round(x * 1e4) / 1e4)).toEqual([0.1, 0.2, 0.3]);
    expect(sink.links).toEqual([true]);

    for (const c of chunkJpeg(77, testJpeg(), 1_020_000_000n, 1400)) v.video(c);
    await until(() => sink.frames.length === 1, 3000, 'the frame');
    const f = sink.frames[0]!;
    expect(f).toMatchObject({ stampS: 1.02, seq: 77, encoding: 'rgb8', width: 640, height: 360, step: 1920, intrinsics: INTR, mount: MOUNT });
    expect(f.arrivalS).toBeGreaterThanOrEqual(1.02);
    // centre of the orange square, and the grey border, survive JPEG
    const px = (x: number, y: number) => Array.from(f.data.subarray((y * 640 + x) * 3, (y * 640 + x) * 3 + 3));
    expect(px(320, 180)[0]).toBeGreaterThan(230);
    expect(px(320, 180)[2]).toBeLessThan(50);
    expect(Math.abs(px(20, 20)[1]! - 90)).toBeLessThan(6);
    expect(sink.rejects).toEqual([]);
  });

  it('sends SET_ATTITUDE_TARGET to the vehicle it heard, no faster than commandRateHz, and HEARTBEAT ≥ 2 Hz', async () => {
    const { t, v } = await openLink({ commandRateHz: 50 });
    t.send({ kind: 'ctbr', stampS: 0, thrustN: 20, rateRadS: [1, 1, 1] });
    v.heartbeat();
    await until(() => v.of(minimal.Heartbeat).length >= 1, 2000, 'our first heartbeat');
    const t0 = performance.now();
    // 200 commands in a burst over ~1 s: at 50 Hz about 50 go out, the newest at each slot
    for (let i = 0; i < 200; i++) {
      t.send({ kind: 'ctbr', stampS: i * 0.005, thrustN: 20, rateRadS: [1, -0.5, 2] });
      await sleep(5);
    }
    const wallS = (performance.now() - t0) / 1000;
    await sleep(50);
    const sat = v.of(common.SetAttitudeTarget);
    expect(sat.length).toBeGreaterThan(10);
    expect(sat.length).toBeLessThanOrEqual(Math.ceil(50 * wallS) + 2);
    const m = sat.at(-1)!;
    expect(m.typeMask).toBe(128);
    expect(m.thrust).toBe(0.5);
    expect([m.bodyRollRate, m.bodyPitchRate, m.bodyYawRate]).toEqual([1, 0.5, -2]);
    expect([m.targetSystem, m.targetComponent]).toEqual([1, 1]);
    const hb = v.of(minimal.Heartbeat).length;
    expect(hb / wallS).toBeGreaterThanOrEqual(2);
    expect(v.bad).toEqual([]);
    // a non-CTBR or non-finite command is never put on the wire
    const before = v.of(common.SetAttitudeTarget).length;
    t.send({ kind: 'motors', stampS: 0, motors: [0.5, 0.5, 0.5, 0.5] });
    await sleep(30);
    t.send({ kind: 'ctbr', stampS: 0, thrustN: NaN, rateRadS: [0, 0, 0] });
    await sleep(50);
    expect(v.of(common.SetAttitudeTarget).length).toBe(before);
    expect(t.counters().commandsRefused).toBe(2);
  });

  it('disarm: thrust 0, then COMPONENT_ARM_DISARM param1 0 until acknowledged; no command after it', async () => {
    const { t, v } = await openLink();
    v.heartbeat();
    await until(() => t.counters().vehicleHeartbeats === 1, 2000, 'the vehicle heartbeat');
    v.sock.on('message', () => {
      const cmd = v.of(common.CommandLong).at(-1);
      if (cmd && v.of(common.CommandAck).length === 0) {
        const ack = new common.CommandAck();
        ack.command = cmd.command;
        ack.result = common.MavResult.ACCEPTED;
        v.msg(ack);
      }
    });
    const t0 = performance.now();
    await t.disarm('test');
    expect(performance.now() - t0).toBeLessThan(500);
    await sleep(150);
    // the acknowledgement ends the retries (without it they go on for the whole 0.5 s, every 100 ms)
    const cl = v.of(common.CommandLong);
    expect(cl.length).toBeGreaterThanOrEqual(1);
    expect(cl.length).toBeLessThanOrEqual(2);
    expect(cl[0]!.command).toBe(common.MavCmd.COMPONENT_ARM_DISARM);
    expect(cl[0]!._param1).toBe(0);
    const firstCmd = v.got.findIndex((p) => p.message instanceof common.CommandLong);
    const stop = v.got.slice(0, firstCmd).map((p) => p.message).filter((m) => m instanceof common.SetAttitudeTarget).at(-1) as common.SetAttitudeTarget;
    expect(stop.thrust).toBe(0);
    const n = v.of(common.SetAttitudeTarget).length;
    t.send({ kind: 'ctbr', stampS: 9, thrustN: 30, rateRadS: [0, 0, 0] });
    await sleep(60);
    expect(v.of(common.SetAttitudeTarget).length).toBe(n);
  });

  it('answers TIMESYNC requests, measures the round trip, and ends the session on a POWEROFF heartbeat', async () => {
    const { t, v } = await openLink();
    v.heartbeat();
    const req = new common.TimeSync();
    req.tc1 = 0n;
    req.ts1 = 123_456_789n;
    v.msg(req);
    await until(() => v.of(common.TimeSync).some((m) => m.ts1 === 123_456_789n), 2000, 'the TIMESYNC reply');
    expect(v.of(common.TimeSync).find((m) => m.ts1 === 123_456_789n)!.tc1).toBeGreaterThan(0n);
    // our own request goes out once a second; answer it as a simulator would
    await until(() => v.of(common.TimeSync).some((m) => m.tc1 === 0n), 2500, 'our TIMESYNC request');
    const ours = v.of(common.TimeSync).find((m) => m.tc1 === 0n)!;
    const rep = new common.TimeSync();
    rep.tc1 = 5_000_000_000n;
    rep.ts1 = ours.ts1;
    v.msg(rep);
    await until(() => Number.isFinite(t.counters().timesyncRttMs), 2000, 'the round trip');
    expect(t.counters().timesyncRttMs).toBeGreaterThan(0);
    v.heartbeat(false, minimal.MavState.POWEROFF);
    await expect(t.ended).resolves.toMatch(/POWEROFF/);
  });

  it('counts and drops every kind of malformed input, and keeps taking good input after it', async () => {
    const { sink, v } = await openLink();
    v.heartbeat();
    v.msg(imuMsg(2.0));
    await until(() => sink.imus.length === 1, 2000, 'the first IMU sample');

    const good = v.enc.encode(imuMsg(2.001));
    const crc = Buffer.from(good);
    crc[15]! ^= 0x40;
    v.mav(crc); // bad CRC
    v.mav(good.subarray(0, 30)); // truncated
    v.msg(imuMsg(2.002, [NaN, 0, 9.8])); // NaN
    v.msg(imuMsg(1.5)); // older than the newest
    const j = testJpeg();
    const c = chunkJpeg(10, j, 2_000_000_000n, 1400);
    v.video(c[0]!.subarray(0, 100)); // truncated chunk
    v.video(Buffer.concat([c[0]!, Buffer.alloc(8)])); // oversized chunk
    const lie = Buffer.from(c[1]!);
    lie.writeUInt32LE(j.length + 1, 8); // jpeg_size disagrees with chunk 0
    v.video(c[0]!);
    v.video(lie);
    // not a JPEG, stamped far ahead: once it fails it must not stand as the bar later frames have to clear
    for (const x of chunkJpeg(11, new Uint8Array(4000).fill(7), 10n ** 15n, 1400)) v.video(x);
    await sleep(100);
    const small = new Uint8Array(jpeg.encode({ data: new Uint8Array(320 * 180 * 4).fill(200), width: 320, height: 180 }, 80).data);
    for (const x of chunkJpeg(15, small, 2_015_000_000n, 1400)) v.video(x); // decodes, but not the configured 640×360
    const inc = chunkJpeg(12, j, 2_020_000_000n, 1400);
    v.video(inc[0]!); // the rest never comes
    await sleep(400); // > the 250 ms partial-frame limit
    // good input still flows, and a frame older than the last delivered one is refused
    v.msg(imuMsg(2.003));
    for (const x of chunkJpeg(13, j, 2_030_000_000n, 1400)) v.video(x);
    await until(() => sink.frames.length === 1 && sink.imus.length === 2, 3000, 'good input after the garbage');
    for (const x of chunkJpeg(14, j, 2_025_000_000n, 1400)) v.video(x);
    await until(() => sink.rejects.length >= 11, 2000, 'the stale frame reject');

    const byKind = (k: string) => sink.rejects.filter((r) => r.kind === k).map((r) => r.detail);
    expect(byKind('malformed')).toEqual([
      expect.stringMatching(/CRC mismatch on message 105/),
      expect.stringMatching(/truncated MAVLink packet/),
      expect.stringMatching(/payload_size 1400 but 76 bytes follow the header \(truncated\)/),
      expect.stringMatching(/payload_size 1400 but 1408 bytes follow the header \(oversized\)/),
      expect.stringMatching(/video frame 10: chunk 1 says total_chunks \d+, jpeg_size \d+/),
    ]);
    expect(byKind('non-finite')).toEqual([expect.stringMatching(/HIGHRES_IMU at 2\.002000 s: \[NaN/)]);
    expect(byKind('time')).toEqual([expect.stringMatching(/time_usec 1500000 not after the previous 2000000/), expect.stringMatching(/video frame 14: sim_time_ns 2025000000 not after the previous 2030000000/)]);
    expect(byKind('decode')).toEqual([expect.stringMatching(/video frame 11: JPEG does not decode/)]);
    expect(byKind('encoding')).toEqual(['video frame 15: JPEG is 320×180, the camera config says 640×360']);
    expect(byKind('incomplete')).toEqual([expect.stringMatching(/video frame 12: 1\/\d+ chunks/)]);
    expect(sink.imus.map((s) => s.stampS)).toEqual([2, 2.003]);
    expect(sink.frames.map((f) => f.seq)).toEqual([13]);
  });

  it('refuses a bad configuration with the key named', () => {
    const cfg = parseConfig({ transport: { kind: 'aigp', mavlinkBind: '127.0.0.1:0' } });
    expect(() => createAigpTransport({ ...cfg.transport, videoBind: 'localhost' } as never, { log: silent, vehicle: { maxThrustN: 30, maxRateRadS: [1, 1, 1] }, intrinsics: INTR, mount: MOUNT })).toThrow(
      /transport.videoBind: expected "host:port"/,
    );
    expect(() => parseConfig({ transport: { kind: 'aigp', heartbeatHz: 1 } })).toThrow(/transport.heartbeatHz: got 1/);
  });

  it('a port already taken is a clear error naming the socket and the address', async () => {
    const { t } = await openLink();
    const taken = t.ports().mavlink;
    const t2 = new AigpTransport({ ...t.o, mavlinkBind: { host: '127.0.0.1', port: taken } });
    await expect(t2.open(new RecordingSink())).rejects.toThrow(`aigp: cannot bind the MAVLink socket to 127.0.0.1:${taken}`);
    await t2.close();
  });

  it('sim serve --aigp reads host[:mavlinkPort[:videoPort]] and refuses anything else', () => {
    expect(parseAigpTarget(undefined)).toEqual({ host: '127.0.0.1', mavlinkPort: 14550, videoPort: 5600 });
    expect(parseAigpTarget('10.0.0.2')).toEqual({ host: '10.0.0.2', mavlinkPort: 14550, videoPort: 5600 });
    expect(parseAigpTarget('127.0.0.1:24550:25600')).toEqual({ host: '127.0.0.1', mavlinkPort: 24550, videoPort: 25600 });
    expect(() => parseAigpTarget('127.0.0.1:0')).toThrow(/expected host\[:mavlinkPort\[:videoPort\]\].*got "127.0.0.1:0"/);
    expect(() => parseAigpTarget('udp://x')).toThrow(/--aigp/);
  });
});

describe('aigp link flies sim serve --aigp', () => {
  it('completes a lap of the warm-up track over UDP while garbage of every kind is dropped and counted', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'brainpilot-aigp-'));
    // the shipped config/aigp-vq.yaml, on the warm-up map and ephemeral ports
    const shipped = parseYaml(readFileSync(join(root, 'config', 'aigp-vq.yaml'), 'utf8')) as Record<string, Record<string, unknown>>;
    const cfg = parseConfig({
      ...shipped,
      track: { ...shipped['track'], map: 'warmup' },
      // two cores shared with the other test files (hence also --realtime 0.4): a stall of this
      // process reads as IMU age to the daemon, so allow more than the shipped 0.25 s before the
      // failsafe disarms (the failsafe itself is tested in steering.test.ts)
      failsafe: { ...shipped['failsafe'], imuTimeoutS: 0.5 },
      log: { level: 'warn', healthIntervalS: 0 },
      transport: { ...shipped['transport'], mavlinkBind: '127.0.0.1:0', videoBind: '127.0.0.1:0' },
    });
    const h = await startDaemon(cfg, silent);
    const link = h.transport as AigpTransport;
    const { mavlink, video } = link.ports();
    const json = join(dir, 'serve.json');
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', 'src/cli/main.ts', 'sim', 'serve', '--aigp', `127.0.0.1:${mavlink}:${video}`, '--track', 'warmup', '--laps', '1', '--seed', '1', '--realtime', '0.4', '--json', json],
      { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, BRAINPILOT_LOG: 'warn' } },
    );
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    cleanup.push(async () => {
      if (child.exitCode === null) child.kill('SIGTERM');
      await h.daemon.stop('test end');
    });

    // the guard's mode over the flight, for the failure message
    const modes: string[] = [];
    const modeTimer = setInterval(() => {
      const m = h.pipeline.telemetry().guardMode;
      if (modes.at(-1) !== m) modes.push(m);
    }, 20);
    cleanup.push(async () => clearInterval(modeTimer));

    // once flying, throw one of each kind of garbage at both ports from a stranger's socket
    await until(() => h.daemon.health().totals.frames >= 10, 20_000, 'frames through the link').catch((e: Error) => {
      throw new Error(`${e.message}; sim serve said: ${stderr.slice(-1500)}`);
    });
    const v = new FakeVehicle({ mavlink, video });
    await v.open();
    cleanup.push(() => v.close());
    const good = v.enc.encode(imuMsg(0.5));
    const crc = Buffer.from(good);
    crc[12]! ^= 0x01;
    v.mav(crc);
    v.mav(good.subarray(0, 20));
    v.msg(imuMsg(1e6, [NaN, 0, 0]));
    v.msg(imuMsg(0.001)); // long before the newest sample
    const j = testJpeg();
    const c = chunkJpeg(0xfffff000, j, 1n, 1400);
    v.video(c[0]!.subarray(0, 50));
    v.video(Buffer.concat([c[1]!, Buffer.alloc(1)]));
    // not a JPEG (stamped far ahead: a failed frame must not raise the bar for the real ones); sent a
    // few times, as one arriving while both decode slots are busy is dropped before decoding
    for (let k = 0; k < 5; k++) {
      for (const x of chunkJpeg(0xfffff010 + k, new Uint8Array(3000).fill(1), 10n ** 15n + BigInt(k), 1400)) v.video(x);
      await sleep(60);
    }
    v.video(chunkJpeg(0xfffff002, j, 10n ** 15n, 1400)[0]!);
    for (const x of c) v.video(x); // a good JPEG, stamped 1 ns: older than the flight's frames

    const why = await h.finished;
    const code = await exited;
    expect(why).toMatch(/POWEROFF/);
    const result = JSON.parse(readFileSync(json, 'utf8')) as { completed: boolean; laps: { gatesPassed: number; gatesTotal: number }[]; crashes: number };
    const health = h.daemon.health();
    const why2 = JSON.stringify({ modes, drops: health.drops, totals: health.totals, transport: health.transport, sim: stderr.slice(-1500) });
    expect({ completed: result.completed, crashes: result.crashes, gates: result.laps[0]?.gatesPassed }, why2).toEqual({ completed: true, crashes: 0, gates: 4 });
    expect(code).toBe(0);
    expect(health.totals.imu).toBeGreaterThan(3000);
    expect(health.totals.frames).toBeGreaterThan(50);
    expect(health.totals.commands).toBeGreaterThan(500);
    expect(health.drops.malformed).toBeGreaterThanOrEqual(4);
    expect(health.drops['non-finite']).toBeGreaterThanOrEqual(1);
    expect(health.drops.time).toBeGreaterThanOrEqual(2);
    expect(health.drops.decode).toBeGreaterThanOrEqual(1);
    expect(health.drops.incomplete).toBeGreaterThanOrEqual(1);
    expect(health.failsafe).toBe('disarmed');
  }, 55_000);
});

describe('sim serve --aigp wire (the simulator side)', () => {
  it('streams HEARTBEAT, HIGHRES_IMU (FLU → FRD) and chunked JPEG frames; takes rates + thrust, disarm and TIMESYNC', async () => {
    const sim = buildSim({ ...RACE_DEFAULTS, track: 'warmup', laps: 1 });
    const client = new FakeVehicle({ mavlink: 0, video: 0 });
    await client.open();
    const video = createSocket('udp4');
    const chunks: Buffer[] = [];
    video.on('message', (m) => chunks.push(m));
    await new Promise<void>((r) => video.bind(0, '127.0.0.1', r));
    const maxThrustN = 4 * sim.opts.vehicle.motorMaxThrustN;
    const wire = new AigpSimWire(sim, { host: '127.0.0.1', mavlinkPort: client.sock.address().port, videoPort: video.address().port, maxThrustN });
    const server = new SimServer(sim, wire, { laps: 1, seed: 1, realtimeFactor: 1 });
    cleanup.push(async () => {
      await wire.stop();
      await client.close();
      await new Promise<void>((r) => video.close(() => r()));
    });
    sim.arm(); // SimServer.run() arms; this test drives the wire without running the loop
    await wire.start(server);
    await until(() => client.of(minimal.Heartbeat).length >= 1, 2000, 'the simulator heartbeat');
    expect(client.of(minimal.Heartbeat)[0]!.baseMode & 128).toBe(128); // armed

    wire.imu({ stampS: 0.25, gyroRadS: [0.1, 0.2, 0.3], accelMS2: [0, 0, 9.81] });
    const f = sim.renderFrame();
    wire.frame({ ...f, stampS: 0.25 });
    await until(() => client.of(common.HighresImu).length >= 1, 2000, 'HIGHRES_IMU');
    const m = client.of(common.HighresImu)[0]!;
    expect(m.timeUsec).toBe(250_000n);
    expect([m.xgyro, m.ygyro, m.zgyro].map((v) => Math.round(v * 1e4) / 1e4)).toEqual([0.1, -0.2, -0.3]);
    expect(Math.round(m.zacc * 100) / 100).toBe(-9.81);
    expect(client.of(common.Attitude)).toHaveLength(1);

    // the frame: reassembles to a 640×360 JPEG stamped with the frame's sim time
    const frames: ReassembledFrame[] = [];
    const r = new VideoReassembler((x) => frames.push(x), (k, d) => {
      throw new Error(`${k}: ${d}`);
    });
    await until(() => {
      for (const c of chunks.splice(0)) r.push(c);
      return frames.length === 1;
    }, 3000, 'the chunked frame');
    expect(frames[0]!.simTimeNs).toBe(250_000_000n);
    const img = jpeg.decode(frames[0]!.jpeg, { useTArray: true });
    expect([img.width, img.height]).toEqual([640, 360]);

    // commands in: rates FRD → FLU, thrust × maxThrustN; an attitude target is refused
    const cmd = new common.SetAttitudeTarget();
    cmd.typeMask = 128 as common.AttitudeTargetTypemask;
    cmd.q = [1, 0, 0, 0];
    cmd.thrust = 0.5;
    cmd.bodyRollRate = 1;
    cmd.bodyPitchRate = 0.5;
    cmd.bodyYawRate = -2;
    cmd.thrustBody = [0, 0, 0];
    client.sock.send(client.enc.encode(cmd), wireAddress(wire), '127.0.0.1');
    await until(() => server.commandsReceived === 1, 2000, 'the command');
    sim.step(); // the flight controller takes it on the next physics step
    expect(sim.fc.commandMode).toBe('rate');
    expect(sim.fc.thrustSetpointN).toBeCloseTo(0.5 * maxThrustN, 6);
    expect([...sim.fc.rateSetpointRadS]).toEqual([1, -0.5, 2]);
    cmd.typeMask = 0 as common.AttitudeTargetTypemask;
    client.sock.send(client.enc.encode(cmd), wireAddress(wire), '127.0.0.1');
    await until(() => wire.counters.commandsRejected === 1, 2000, 'the refusal');
    expect(server.commandsReceived).toBe(1);

    // TIMESYNC: answered with the sim clock; disarm: acknowledged and handed to the server
    const ts = new common.TimeSync();
    ts.tc1 = 0n;
    ts.ts1 = 42n;
    client.sock.send(client.enc.encode(ts), wireAddress(wire), '127.0.0.1');
    client.sock.send(client.enc.encode(armDisarm(false, 1, 1)), wireAddress(wire), '127.0.0.1');
    await until(() => client.of(common.CommandAck).length === 1 && client.of(common.TimeSync).length === 1, 2000, 'the replies');
    expect(client.of(common.TimeSync)[0]!.ts1).toBe(42n);
    expect(client.of(common.CommandAck)[0]!).toMatchObject({ command: common.MavCmd.COMPONENT_ARM_DISARM, result: common.MavResult.ACCEPTED });
    expect(server.clientDisarmed).toBe(true);
    expect(sim.fc.armed).toBe(false);

    // the end of the run: POWEROFF heartbeats
    await wire.stop();
    expect(client.of(minimal.Heartbeat).at(-1)!.systemStatus).toBe(minimal.MavState.POWEROFF);
  });
});

/** The simulator wire's own MAVLink port (it sends from an ephemeral one; clients answer it). */
function wireAddress(w: AigpSimWire): number {
  return (w as unknown as { mav: Socket }).mav.address().port;
}
