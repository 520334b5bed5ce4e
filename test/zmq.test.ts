/**
 * The ZeroMQ transport, as its users rely on it: the wire format round-trips byte for byte; the
 * daemon flies a lap against `brainpilot sim serve --zmq` running as its own process; malformed
 * messages of every kind are dropped and counted while the flight goes on; SIGTERM to `brainpilot
 * run` puts a disarm at the server before the process exits; a lost server shows as link down.
 * Real sockets, loopback only, ports picked by the OS (`tcp://127.0.0.1:*`).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { Dealer, Router } from 'zeromq';
import { stringify as yamlStringify } from 'yaml';
import { ConfigError, loadConfig, parseConfig } from '../src/config/schema.js';
import { startDaemon } from '../src/cli/run.js';
import type { RejectKind, SensorSink } from '../src/daemon/transport.js';
import type { CameraFrame, FlightCommand, ImuSample } from '../src/tracts/io.js';
import { ZmqTransport } from '../src/transports/zmq/transport.js';
import { ZmqSimWire } from '../sim/serve/zmq.js';
import type { RaceResult } from '../sim/runner.js';
import {
  decode,
  encodeCommand,
  encodeDisarm,
  encodeEnd,
  encodeFrame,
  encodeHello,
  encodeImu,
  encodeTick,
  type Decoded,
  type WireMessage,
} from '../src/transports/zmq/wire.js';

const root = join(import.meta.dirname, '..');
const dir = mkdtempSync(join(tmpdir(), 'brainpilot-zmq-'));
const silent = pino({ level: 'silent' });
const children: ChildProcess[] = [];
const sockets: { close(): void; closed: boolean }[] = [];

afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  for (const s of sockets.splice(0)) if (!s.closed) s.close();
});

const B = (s: string): Buffer => Buffer.from(s, 'utf8');
const text = (b: Uint8Array): string => Buffer.from(b).toString('utf8');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function ok(d: Decoded): WireMessage {
  if (!d.ok) throw new Error(`expected a message, got ${d.kind}: ${d.detail}`);
  return d.msg;
}

function rejected(d: Decoded): { kind: RejectKind; detail: string } {
  if (d.ok) throw new Error(`expected a rejection, got ${d.msg.topic}`);
  return { kind: d.kind, detail: d.detail };
}

const frame = (over: Partial<CameraFrame> = {}): CameraFrame => {
  const width = 4, height = 2, step = 16; // rgb8 with 4 bytes of row padding
  const data = new Uint8Array(step * height).map((_, i) => (i * 37) & 255);
  return {
    stampS: 2.25,
    arrivalS: 2.29,
    seq: 7,
    encoding: 'rgb8',
    width,
    height,
    step,
    data,
    intrinsics: { width, height, fx: 3.5, fy: 3.25, cx: 2, cy: 1 },
    mount: { tiltUpRad: 0.349, posFluM: [0.08, 0, 0.02] },
    ...over,
  };
};

describe('zmq wire format', () => {
  it('imu: exact bytes, and back', () => {
    const s: ImuSample = { stampS: 1.5, gyroRadS: [0.1, -0.2, 0.3], accelMS2: [0, 0, 9.81] };
    const parts = encodeImu(s);
    expect(parts.map(text)).toEqual(['imu', '{"stampS":1.5,"gyroRadS":[0.1,-0.2,0.3],"accelMS2":[0,0,9.81]}', '']);
    expect(ok(decode(parts))).toEqual({ topic: 'imu', imu: s });
  });

  it('imu: a header written by Python json.dumps (spaces, floats) decodes', () => {
    const py = B('{"stampS": 0.001, "gyroRadS": [0.0, 0.0, 1e-05], "accelMS2": [0.0, 0.0, 9.80665]}');
    expect(ok(decode([B('imu'), py, Buffer.alloc(0)]))).toEqual({ topic: 'imu', imu: { stampS: 0.001, gyroRadS: [0, 0, 1e-5], accelMS2: [0, 0, 9.80665] } });
  });

  it('frame: pixels (with row padding) and every header field round-trip', () => {
    const f = frame();
    const parts = encodeFrame(f);
    expect(text(parts[0])).toBe('frame');
    expect(JSON.parse(text(parts[1]))).toEqual({
      stampS: 2.25,
      arrivalS: 2.29,
      seq: 7,
      encoding: 'rgb8',
      width: 4,
      height: 2,
      step: 16,
      intrinsics: { fx: 3.5, fy: 3.25, cx: 2, cy: 1 },
      mount: { tiltUpRad: 0.349, posFluM: [0.08, 0, 0.02] },
    });
    expect(parts[2]).toHaveLength(32);
    const m = ok(decode(parts));
    if (m.topic !== 'frame') throw new Error(m.topic);
    expect({ ...m.frame, data: Array.from(m.frame.data) }).toEqual({ ...f, data: Array.from(f.data) });
  });

  it('frame: copy = true detaches the pixels from a buffer the caller reuses', () => {
    const f = frame();
    const parts = encodeFrame(f, true);
    const before = Array.from(parts[2]);
    f.data.fill(0);
    expect(Array.from(parts[2])).toEqual(before);
    expect(before.some((x) => x !== 0)).toBe(true);
  });

  it('frame: intrinsics, mount, step, arrivalS and seq may be left out (config camera, packed rows)', () => {
    const hdr = B(JSON.stringify({ stampS: 1, encoding: 'mono8', width: 3, height: 2 }));
    const px = Buffer.from([1, 2, 3, 4, 5, 6]);
    const defaults = { intrinsics: { fx: 320, fy: 320, cx: 320, cy: 180 }, mount: { tiltUpRad: 0.35, posFluM: [0, 0, 0] as [number, number, number] } };
    const m = ok(decode([B('frame'), hdr, px], defaults));
    if (m.topic !== 'frame') throw new Error(m.topic);
    expect(m.frame).toMatchObject({ stampS: 1, arrivalS: 1, seq: 0, step: 3, intrinsics: { width: 3, height: 2, fx: 320, cx: 320 }, mount: defaults.mount });
    // with no configured camera the missing intrinsics are an error, not a guess
    expect(rejected(decode([B('frame'), hdr, px]))).toMatchObject({ kind: 'malformed', detail: expect.stringContaining('frame.intrinsics is missing') });
  });

  it('tick, command (ctbr, motors, rc, none), disarm, end and hello round-trip', () => {
    expect(ok(decode(encodeTick(3.004)))).toEqual({ topic: 'tick', nowS: 3.004 });
    const ctbr: FlightCommand = { kind: 'ctbr', stampS: 3, thrustN: 9.5, rateRadS: [0.1, 0, -0.5] };
    expect(text(encodeCommand(ctbr, 3.004)[1])).toBe('{"kind":"ctbr","stampS":3,"thrustN":9.5,"rateRadS":[0.1,0,-0.5],"tickS":3.004}');
    expect(ok(decode(encodeCommand(ctbr, 3.004)))).toEqual({ topic: 'command', command: ctbr, tickS: 3.004 });
    expect(ok(decode(encodeCommand(ctbr)))).toEqual({ topic: 'command', command: ctbr, tickS: null });
    const motors: FlightCommand = { kind: 'motors', stampS: 1, motors: [0.1, 0.2, 0.3, 0.4] };
    expect(ok(decode(encodeCommand(motors)))).toEqual({ topic: 'command', command: motors, tickS: null });
    const rc: FlightCommand = { kind: 'rc', stampS: 1, channelsUs: [1500, 1500, 1000, 1500, 1800] };
    expect(ok(decode(encodeCommand(rc)))).toEqual({ topic: 'command', command: rc, tickS: null });
    expect(text(encodeCommand(null, 0.5)[1])).toBe('{"kind":"none","tickS":0.5}');
    expect(ok(decode(encodeCommand(null, 0.5)))).toEqual({ topic: 'command', command: null, tickS: 0.5 });
    expect(ok(decode(encodeDisarm('SIGTERM')))).toEqual({ topic: 'disarm', reason: 'SIGTERM', ack: false });
    expect(ok(decode(encodeDisarm('SIGTERM', true)))).toEqual({ topic: 'disarm', reason: 'SIGTERM', ack: true });
    expect(ok(decode(encodeEnd({ reason: 'finished 1 lap', completed: true }, { completed: true, laps: [] })))).toEqual({
      topic: 'end',
      end: { reason: 'finished 1 lap', completed: true },
      results: { completed: true, laps: [] },
    });
    expect(ok(decode(encodeEnd({ reason: 'stopped', completed: null })))).toEqual({ topic: 'end', end: { reason: 'stopped', completed: null }, results: null });
    expect(text(encodeHello({ role: 'server', clock: 'lockstep' })[1])).toBe('{"protocol":"brainpilot-zmq","version":1,"role":"server","clock":"lockstep"}');
    expect(ok(decode(encodeHello({ role: 'server', clock: 'realtime', name: 's' })))).toEqual({
      topic: 'hello',
      hello: { protocol: 'brainpilot-zmq', version: 1, role: 'server', clock: 'realtime', name: 's' },
    });
  });

  it.each<[string, Uint8Array[], RejectKind, string]>([
    ['two parts', [B('imu'), B('{}')], 'malformed', 'expected 3 parts'],
    ['four parts', [B('imu'), B('{}'), B(''), B('')], 'malformed', 'expected 3 parts'],
    ['an unknown topic', [B('gps'), B('{}'), B('')], 'malformed', 'unknown topic "gps"'],
    ['a header that is not JSON', [B('imu'), B('{"stampS":'), B('')], 'malformed', 'imu header is not JSON'],
    ['a header that is not UTF-8', [B('tick'), Buffer.from([0x7b, 0xff, 0x7d]), B('')], 'malformed', 'not UTF-8'],
    ['a header that is an array', [B('tick'), B('[1]'), B('')], 'malformed', 'must be a JSON object'],
    ['a missing field', [B('imu'), B('{"stampS":1,"gyroRadS":[0,0,0]}'), B('')], 'malformed', 'imu.accelMS2 must be an array of 3'],
    ['a string where a number goes', [B('tick'), B('{"nowS":"1"}'), B('')], 'malformed', 'tick.nowS is string'],
    ['NaN as Python writes it', [B('imu'), B('{"stampS": 1.0, "gyroRadS": [NaN, 0.0, 0.0], "accelMS2": [0, 0, 9.8]}'), B('')], 'non-finite', 'NaN'],
    ['NaN as JavaScript writes it (null)', [B('imu'), B('{"stampS":1,"gyroRadS":[null,0,0],"accelMS2":[0,0,9.8]}'), B('')], 'non-finite', 'imu.gyroRadS.0 is null'],
    ['-Infinity as Python writes it', [B('tick'), B('{"nowS": -Infinity}'), B('')], 'non-finite', 'NaN/Infinity'],
    ['an overflowing number (Infinity)', [B('tick'), B('{"nowS":1e999}'), B('')], 'non-finite', 'tick.nowS = Infinity'],
    ['a frame payload one byte short', [B('frame'), B('{"stampS":1,"encoding":"mono8","width":3,"height":2,"intrinsics":{"fx":1,"fy":1,"cx":1,"cy":1},"mount":{"tiltUpRad":0,"posFluM":[0,0,0]}}'), Buffer.alloc(5)], 'decode', 'payload has 5 bytes; step 3 × height 2 = 6'],
    ['a frame step below width × bytes per pixel', [B('frame'), B('{"stampS":1,"encoding":"rgb8","width":3,"height":1,"step":8}'), Buffer.alloc(8)], 'decode', 'step 8 < width 3 × 3'],
    ['an imu with a payload', [B('imu'), B('{"stampS":1,"gyroRadS":[0,0,0],"accelMS2":[0,0,9.8]}'), B('x')], 'decode', 'imu payload must be empty'],
    ['a frame in bgr8', [B('frame'), B('{"stampS":1,"encoding":"bgr8","width":1,"height":1}'), Buffer.alloc(3)], 'encoding', 'frame.encoding "bgr8"'],
    ['a frame 0 pixels wide', [B('frame'), B('{"stampS":1,"encoding":"mono8","width":0,"height":1}'), Buffer.alloc(0)], 'encoding', 'frame.width = 0'],
    ['a command of unknown kind', [B('command'), B('{"kind":"attitude"}'), B('')], 'malformed', 'command.kind "attitude"'],
    ['motors out of [0, 1]', [B('command'), B('{"kind":"motors","stampS":1,"motors":[0,0,0,1.5]}'), B('')], 'malformed', 'must lie in [0, 1]'],
    ['negative thrust', [B('command'), B('{"kind":"ctbr","stampS":1,"thrustN":-1,"rateRadS":[0,0,0]}'), B('')], 'malformed', 'thrustN = -1'],
  ])('rejects %s with a reason, never a throw', (_name, parts, kind, detail) => {
    const r = rejected(decode(parts));
    expect(r.kind).toBe(kind);
    expect(r.detail).toContain(detail);
  });
});

describe('zmq config', () => {
  it('config/zmq-sim.yaml is valid and names the loopback endpoint and the link timeouts', () => {
    const cfg = loadConfig(join(root, 'config', 'zmq-sim.yaml'));
    expect(cfg.transport).toEqual({ kind: 'zmq', endpoint: 'tcp://127.0.0.1:5555', connectTimeoutS: 10, linkTimeoutS: 0.5, disarmAckTimeoutS: 1 });
  });

  it('a bad endpoint or timeout is an error naming the key', () => {
    const bad = (transport: Record<string, unknown>): string => {
      try {
        parseConfig({ transport: { kind: 'zmq', ...transport } });
      } catch (e) {
        if (e instanceof ConfigError) return e.message;
        throw e;
      }
      throw new Error('accepted');
    };
    expect(bad({ endpoint: '127.0.0.1:5555' })).toContain('transport.endpoint: got "127.0.0.1:5555"; expected a ZeroMQ endpoint');
    expect(bad({ linkTimeoutS: 0 })).toContain('transport.linkTimeoutS: got 0');
    expect(bad({ timeoutS: 1 })).toContain('unknown key "timeoutS"');
  });
});

/** `brainpilot sim serve --zmq tcp://127.0.0.1:*` as a child; resolves the port it bound. */
function spawnServe(args: string[]): { child: ChildProcess; endpoint: Promise<string>; stdout: () => string; stderr: () => string; exit: Promise<number | null> } {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'sim', 'serve', '--zmq', 'tcp://127.0.0.1:*', ...args], {
    cwd: root,
    env: { ...process.env, BRAINPILOT_LOG: 'info' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let out = '', err = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  const endpoint = new Promise<string>((resolve, reject) => {
    child.stderr!.on('data', (d: Buffer) => {
      err += d.toString();
      const m = /"event":"listening","endpoint":"([^"]+)"/.exec(err);
      if (m) resolve(m[1]!);
    });
    child.on('exit', (code) => reject(new Error(`sim serve exited (${code}) before listening:\n${err}`)));
  });
  const exit = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  return { child, endpoint, stdout: () => out, stderr: () => err, exit };
}

const zmqConfig = (endpoint: string) =>
  parseConfig({ track: { map: 'warmup' }, log: { healthIntervalS: 0 }, transport: { kind: 'zmq', endpoint, connectTimeoutS: 20 } });

describe('zmq: the daemon flies sim serve in another process', () => {
  it('flies a lap in lockstep; both sides agree it completed, and it is the in-process flight exactly', async () => {
    const json = join(dir, 'lap.json');
    const srv = spawnServe(['--track', 'warmup', '--laps', '1', '--json', json]);
    const endpoint = await srv.endpoint;
    expect(endpoint).toMatch(/^tcp:\/\/127\.0\.0\.1:\d+$/);
    const h = await startDaemon(zmqConfig(endpoint), silent);
    expect(h.transport.clock).toBe('lockstep');
    const why = await h.finished;
    expect(why).toBe('finished 1 lap');
    const health = h.daemon.health();
    expect(health.drops).toEqual({});
    expect(health.totals.frames).toBeGreaterThan(200); // 30 Hz camera over a ~10 s lap
    expect(health.totals.commands).toBeGreaterThan(2000); // one per 4 ms tick
    expect((h.transport as ZmqTransport).result).toMatchObject({ completed: true, laps: [{ lap: 1, gatesPassed: 4, gatesTotal: 4 }] });
    expect(await srv.exit).toBe(0);
    const overZmq = JSON.parse(readFileSync(json, 'utf8')) as RaceResult;
    expect(overZmq).toMatchObject({ track: 'warmup', controller: 'zmq', completed: true, crashes: 0 });
    expect(srv.stdout()).toContain('completed');
    // lockstep over the wire is the same flight as lockstep in-process: same laps, same events
    const inproc = await startDaemon(parseConfig({ track: { map: 'warmup' }, log: { healthIntervalS: 0 }, transport: { kind: 'sim', track: 'warmup', seed: 1, laps: 1 } }), silent);
    await inproc.finished;
    const local = (inproc.transport as unknown as { result: RaceResult }).result;
    expect(overZmq.laps).toEqual(local.laps);
    expect(overZmq.events).toEqual(JSON.parse(JSON.stringify(local.events)));
    expect(overZmq.stats.framesRendered).toBe(local.stats.framesRendered);
  });

  it('drops and counts malformed messages of every kind injected mid-flight, and still completes the lap', async () => {
    const srv = spawnServe(['--track', 'warmup', '--laps', '1']);
    const serverEndpoint = await srv.endpoint;
    // a man in the middle: the daemon connects to `front`, `back` talks to the real server, and
    // every 150th sensor message is preceded by one bad message from the list
    const front = new Router({ linger: 0 });
    const back = new Dealer({ linger: 0 });
    sockets.push(front, back);
    await front.bind('tcp://127.0.0.1:*');
    back.connect(serverEndpoint);
    const goodFrameHeader = '"intrinsics":{"fx":320,"fy":320,"cx":320,"cy":180},"mount":{"tiltUpRad":0.35,"posFluM":[0,0,0]}';
    const bad: [RejectKind, Uint8Array[]][] = [
      ['malformed', [B('imu'), B('{}')]], // wrong part count
      ['malformed', [B('gps'), B('{"lat":1}'), B('')]], // unknown topic
      ['malformed', [B('imu'), B('{"stampS":1,"gyro'), B('')]], // header does not parse
      ['decode', [B('frame'), B(`{"stampS":1,"encoding":"rgb8","width":640,"height":360,${goodFrameHeader}}`), Buffer.alloc(640 * 360 * 3 - 1)]], // payload size
      ['non-finite', [B('imu'), B('{"stampS": 1.0, "gyroRadS": [NaN, 0.0, 0.0], "accelMS2": [0.0, 0.0, 9.8]}'), B('')]], // NaN (Python)
      ['non-finite', [B('imu'), B('{"stampS":1,"gyroRadS":[0,0,0],"accelMS2":[0,null,9.8]}'), B('')]], // NaN (JS)
      ['encoding', [B('frame'), B(`{"stampS":1,"encoding":"yuv422","width":640,"height":360,${goodFrameHeader}}`), Buffer.alloc(640 * 360 * 2)]], // wrong encoding
    ];
    const injected: Partial<Record<RejectKind, number>> = {};
    let clientId: Buffer | null = null;
    const upstream = (async () => {
      for await (const [id, ...parts] of front) {
        clientId = id!;
        await back.send(parts);
      }
    })();
    const downstream = (async () => {
      let n = 0;
      for await (const parts of back) {
        const topic = parts[0]!.toString();
        if ((topic === 'imu' || topic === 'frame') && ++n % 150 === 0 && clientId) {
          const [kind, msg] = bad[(n / 150) % bad.length]!;
          injected[kind] = (injected[kind] ?? 0) + 1;
          await front.send([clientId, ...msg]);
        }
        if (clientId) await front.send([clientId, ...parts]);
      }
    })();
    const h = await startDaemon(zmqConfig(front.lastEndpoint!), silent);
    expect(await h.finished).toBe('finished 1 lap');
    const health = h.daemon.health();
    expect(Object.values(injected).reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(bad.length * 3);
    expect(health.drops).toEqual(injected);
    expect(health.totals.dropped).toBe(Object.values(injected).reduce((a, b) => a + b, 0));
    expect(health.transport?.['rejected']).toBe(health.totals.dropped);
    expect((h.transport as ZmqTransport).result?.completed).toBe(true);
    expect(await srv.exit).toBe(0);
    front.close();
    back.close();
    await Promise.allSettled([upstream, downstream]);
  });
});

describe('zmq: sim serve in real time', () => {
  it('paces the sim by the wall clock, and a client disarm ends the run with the summary and --json', async () => {
    const json = join(dir, 'rt.json');
    const srv = spawnServe(['--track', 'warmup', '--laps', '1', '--realtime', '2', '--json', json]);
    const client = new Dealer({ linger: 0 });
    sockets.push(client);
    client.connect(await srv.endpoint);
    await client.send(encodeHello({ role: 'client', name: 'test' }));
    const seen: string[] = [];
    let helloWallMs = NaN, firstWallMs = NaN, lastWallMs = NaN, lastImuS = NaN, frames = 0;
    let end: WireMessage | null = null;
    let sentDisarm = false;
    for await (const parts of client) {
      const m = ok(decode(parts));
      if (seen.at(-1) !== m.topic) seen.push(m.topic);
      if (m.topic === 'hello') {
        expect(m.hello).toMatchObject({ role: 'server', clock: 'realtime' });
        helloWallMs = performance.now(); // the server starts its clock as it says hello
      }
      if (m.topic === 'tick') throw new Error('a real-time server sent a tick');
      if (m.topic === 'frame') {
        frames++;
        expect(m.frame).toMatchObject({ encoding: 'rgb8', width: 640, height: 360, step: 1920 });
      }
      if (m.topic === 'imu') {
        if (Number.isNaN(firstWallMs)) firstWallMs = performance.now();
        lastImuS = m.imu.stampS;
        lastWallMs = performance.now();
        if (!sentDisarm && lastWallMs - firstWallMs > 600) {
          sentDisarm = true;
          // a malformed command first: the server counts it and flies on
          await client.send([B('command'), B('{"kind":"ctbr","stampS":1,"thrustN":NaN,"rateRadS":[0,0,0]}'), B('')]);
          await client.send(encodeDisarm('test done'));
        }
      }
      if (m.topic === 'disarm') expect(m).toMatchObject({ reason: 'test done', ack: true });
      if (m.topic === 'end') {
        end = m;
        break;
      }
    }
    // paced: sim time never runs ahead of 2 × the wall time since the hello (+ one catch-up batch)
    const wallS = (lastWallMs - helloWallMs) / 1000;
    expect(lastImuS).toBeGreaterThan(0.3);
    expect(lastImuS).toBeLessThan(2 * wallS + 0.25);
    expect(frames).toBeGreaterThan(5);
    expect(seen).toContain('disarm');
    expect(end).toMatchObject({ topic: 'end', end: { reason: 'the client disarmed', completed: false } });
    expect(await srv.exit).toBe(1);
    expect(srv.stdout()).toContain('NOT completed');
    expect(srv.stderr()).toMatch(/"event":"rejected","kind":"non-finite"/);
    expect(srv.stderr()).toMatch(/"event":"end".*"rejected":1,/);
    expect(JSON.parse(readFileSync(json, 'utf8'))).toMatchObject({ track: 'warmup', completed: false });
  });
});

describe('zmq: stopping and losing the link', () => {
  it('lockstep server: a client that reconnects mid-tick is asked again, and its answer steps the sim', async () => {
    const wire = new ZmqSimWire({ endpoint: 'tcp://127.0.0.1:*', clock: 'lockstep', log: silent, clientTimeoutS: 5 });
    const endpoint = await wire.bind();
    const a = new Dealer({ linger: 0, receiveTimeout: 3000 });
    const b = new Dealer({ linger: 0, receiveTimeout: 3000 });
    sockets.push(a, b);
    a.connect(endpoint);
    await a.send(encodeHello({ role: 'client', name: 'a' }));
    await wire.waitForClient();
    expect(ok(decode(await a.receive()))).toMatchObject({ topic: 'hello', hello: { clock: 'lockstep' } });
    const pending = wire.tick(0.004);
    expect(ok(decode(await a.receive()))).toEqual({ topic: 'tick', nowS: 0.004 });
    a.close(); // client a dies without answering; b (the restarted client) says hello
    b.connect(endpoint);
    await b.send(encodeHello({ role: 'client', name: 'b' }));
    expect(ok(decode(await b.receive()))).toMatchObject({ topic: 'hello' });
    expect(ok(decode(await b.receive()))).toEqual({ topic: 'tick', nowS: 0.004 });
    const cmd: FlightCommand = { kind: 'ctbr', stampS: 0.004, thrustN: 9, rateRadS: [0, 0, 0] };
    await b.send(encodeCommand({ ...cmd, stampS: 0.003 }, 0.002)); // an answer to another tick: ignored
    await b.send(encodeCommand(cmd, 0.004));
    expect(await pending).toEqual(cmd);
    expect(wire.counters).toMatchObject({ clients: 2, staleReplies: 1, commands: 2 });
    await wire.close();
  });

  it('open() fails with the endpoint named when no server answers', async () => {
    const probe = new Router({ linger: 0 });
    await probe.bind('tcp://127.0.0.1:*');
    const endpoint = probe.lastEndpoint!;
    probe.close(); // nothing listens there now
    const t = new ZmqTransport({ endpoint, connectTimeoutS: 0.3, linkTimeoutS: 0.5, disarmAckTimeoutS: 0.2 }, silent, {
      intrinsics: { width: 640, height: 360, fx: 320, fy: 320, cx: 320, cy: 180 },
      mount: { tiltUpRad: 0.35, posFluM: [0, 0, 0] },
    });
    const sink: SensorSink = { imu: () => {}, frame: () => {}, tick: () => {}, reject: () => {}, linkState: () => {} };
    await expect(t.open(sink)).rejects.toThrow(`zmq ${endpoint}: no server answered within 0.3 s`);
  });

  it('SIGTERM to `brainpilot run` puts a disarm at the server before the process exits', async () => {
    const server = new Router({ linger: 0 });
    sockets.push(server);
    await server.bind('tcp://127.0.0.1:*');
    const cfgPath = join(dir, 'sigterm.yaml');
    writeFileSync(cfgPath, yamlStringify({ track: { map: 'warmup' }, log: { level: 'warn', healthIntervalS: 0 }, transport: { kind: 'zmq', endpoint: server.lastEndpoint, connectTimeoutS: 20 } }));
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'run', '--config', cfgPath], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(child);
    let exitAtMs = NaN;
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => ((exitAtMs = performance.now()), r(code))));
    const commands: FlightCommand[] = [];
    let disarmAtMs = NaN;
    let disarmReason = '';
    let stream: NodeJS.Timeout | undefined;
    // a real-time server: hello, then level IMU at 500 Hz; commands are collected
    const serving = (async () => {
      for await (const [id, ...parts] of server) {
        const m = ok(decode(parts));
        if (m.topic === 'hello') {
          await server.send([id!, ...encodeHello({ role: 'server', clock: 'realtime' })]);
          let tS = 0;
          stream = setInterval(() => {
            tS += 0.002;
            void server.send([id!, ...encodeImu({ stampS: tS, gyroRadS: [0, 0, 0], accelMS2: [0, 0, 9.81] })]);
          }, 2);
        } else if (m.topic === 'command' && m.command) commands.push(m.command);
        else if (m.topic === 'disarm') {
          disarmAtMs = performance.now();
          disarmReason = m.reason;
          await server.send([id!, ...encodeDisarm(m.reason, true)]);
        }
      }
    })();
    for (let i = 0; i < 400 && commands.length < 20; i++) await sleep(50);
    expect(commands.length).toBeGreaterThanOrEqual(20);
    for (const c of commands) {
      if (c.kind !== 'ctbr') throw new Error(`expected ctbr, got ${c.kind}`);
      expect(Number.isFinite(c.thrustN) && c.thrustN >= 0 && c.rateRadS.every(Number.isFinite)).toBe(true);
    }
    child.kill('SIGTERM');
    const code = await exited;
    clearInterval(stream);
    expect(disarmReason).toBe('SIGTERM');
    expect(disarmAtMs).toBeLessThan(exitAtMs);
    expect(code).toBe(0);
    server.close();
    await serving.catch(() => {});
  });

  it('a throw inside the sink is logged and counted; the next message still arrives', async () => {
    const server = new Router({ linger: 0 });
    sockets.push(server);
    await server.bind('tcp://127.0.0.1:*');
    const stamps: number[] = [];
    const sink: SensorSink = {
      imu: (s) => {
        stamps.push(s.stampS);
        if (stamps.length === 1) throw new Error('pipeline bug');
      },
      frame: () => {},
      tick: () => {},
      reject: () => {},
      linkState: () => {},
    };
    const serving = (async () => {
      for await (const [id, ...parts] of server) {
        if (ok(decode(parts)).topic !== 'hello') continue;
        await server.send([id!, ...encodeHello({ role: 'server', clock: 'realtime' })]);
        for (const stampS of [1, 2]) await server.send([id!, ...encodeImu({ stampS, gyroRadS: [0, 0, 0], accelMS2: [0, 0, 9.81] })]);
      }
    })();
    const t = new ZmqTransport({ endpoint: server.lastEndpoint!, connectTimeoutS: 5, linkTimeoutS: 1, disarmAckTimeoutS: 0.1 }, silent, {
      intrinsics: { width: 640, height: 360, fx: 320, fy: 320, cx: 320, cy: 180 },
      mount: { tiltUpRad: 0.35, posFluM: [0, 0, 0] },
    });
    await t.open(sink);
    for (let i = 0; i < 80 && stamps.length < 2; i++) await sleep(25);
    expect(stamps).toEqual([1, 2]);
    expect(t.counters()['handlerErrors']).toBe(1);
    await t.close();
    server.close();
    await serving.catch(() => {});
  });

  it('reports link down when the server goes away and up when one comes back', async () => {
    const first = new Router({ linger: 0 });
    sockets.push(first);
    await first.bind('tcp://127.0.0.1:*');
    const endpoint = first.lastEndpoint!;
    const events: string[] = [];
    const rejects: string[] = [];
    const sink: SensorSink = {
      imu: () => events.push('imu'),
      frame: () => events.push('frame'),
      tick: () => {},
      reject: (k, d) => rejects.push(`${k}: ${d}`),
      linkState: (up, d) => events.push(`${up ? 'up' : 'down'}: ${d}`),
    };
    const answer = (sock: Router, onHello: (id: Buffer) => void) =>
      (async () => {
        for await (const [id, ...parts] of sock) {
          const m = ok(decode(parts));
          if (m.topic === 'hello') {
            await sock.send([id!, ...encodeHello({ role: 'server', clock: 'realtime' })]);
            onHello(id!);
          }
        }
      })();
    let hellos = 0;
    const serving1 = answer(first, (id) => {
      hellos++;
      void first.send([id, ...encodeImu({ stampS: 1, gyroRadS: [0, 0, 0], accelMS2: [0, 0, 9.81] })]);
    });
    const t = new ZmqTransport({ endpoint, connectTimeoutS: 5, linkTimeoutS: 0.3, disarmAckTimeoutS: 0.2 }, silent, {
      intrinsics: { width: 640, height: 360, fx: 320, fy: 320, cx: 320, cy: 180 },
      mount: { tiltUpRad: 0.35, posFluM: [0, 0, 0] },
    });
    await t.open(sink);
    expect(t.clock).toBe('realtime');
    for (let i = 0; i < 40 && !events.includes('imu'); i++) await sleep(25);
    expect(events).toContain('imu');
    expect(events.some((e) => e.startsWith('up'))).toBe(true);
    first.close();
    await serving1.catch(() => {});
    for (let i = 0; i < 60 && !events.some((e) => e.startsWith('down')); i++) await sleep(25);
    expect(events.some((e) => e.startsWith('down'))).toBe(true);
    // a new server on the same endpoint: the client says hello again and data flows
    const second = new Router({ linger: 0 });
    sockets.push(second);
    await second.bind(endpoint);
    const serving2 = answer(second, (id) => {
      hellos++;
      void second.send([id, ...encodeImu({ stampS: 2, gyroRadS: [0, 0, 0], accelMS2: [0, 0, 9.81] })]);
    });
    const nImu = events.filter((e) => e === 'imu').length;
    for (let i = 0; i < 120 && events.filter((e) => e === 'imu').length === nImu; i++) await sleep(25);
    expect(hellos).toBe(2);
    expect(events.filter((e) => e === 'imu').length).toBe(nImu + 1);
    expect(events.at(-2)?.startsWith('up')).toBe(true);
    expect(t.counters()['reconnects']).toBe(1);
    expect(rejects).toEqual([]);
    await t.disarm('test'); // no ack from this server: returns after disarmAckTimeoutS, no throw
    await t.close();
    second.close();
    await serving2.catch(() => {});
  });
});
