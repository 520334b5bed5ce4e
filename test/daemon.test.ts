/**
 * The daemon's promises to its users: a config with a mistake is refused with the key path, the
 * value and what was expected; malformed sensor input is counted and dropped while flight goes on;
 * a dead link ages the sensors into the guard's failsafe and a disarm; stopping disarms before it
 * closes; `run --config` flies the in-process simulator to the end.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, parseConfig } from '../src/config/schema.js';
import { Daemon } from '../src/daemon/daemon.js';
import { SensorGate } from '../src/daemon/sensor-gate.js';
import type { SensorSink, Transport } from '../src/daemon/transport.js';
import type { Controller } from '../src/tracts/controller.js';
import type { CameraFrame, FlightCommand, ImuSample } from '../src/tracts/io.js';
import { startDaemon } from '../src/cli/run.js';
import { CompositeTransport } from '../src/daemon/composite.js';
import { packageRoot } from '../src/paths.js';
import { readdirSync } from 'node:fs';

const quiet = pino({ level: 'silent' });
const dir = mkdtempSync(join(tmpdir(), 'brainpilot-daemon-'));

const imu = (t: number, g: [number, number, number] = [0, 0, 0]): ImuSample => ({ stampS: t, gyroRadS: g, accelMS2: [0, 0, 9.81] });
const frame = (t: number, over: Partial<CameraFrame> = {}): CameraFrame => ({
  stampS: t,
  arrivalS: t + 0.03,
  seq: Math.round(t * 30),
  encoding: 'rgb8',
  width: 4,
  height: 2,
  step: 12,
  data: new Uint8Array(24),
  intrinsics: { width: 4, height: 2, fx: 2, fy: 2, cx: 2, cy: 1 },
  mount: { tiltUpRad: 0, posFluM: [0, 0, 0] },
  ...over,
});

describe('config', () => {
  const problems = (raw: unknown): string[] => {
    try {
      parseConfig(raw, 'test.yaml');
    } catch (e) {
      expect(e).toBeInstanceOf(ConfigError);
      return (e as ConfigError).problems;
    }
    throw new Error('expected a ConfigError');
  };

  it('fills defaults for a minimal config', () => {
    const c = parseConfig({ transport: { kind: 'zmq' } });
    expect(c.transport).toMatchObject({ kind: 'zmq', endpoint: 'tcp://127.0.0.1:5555' });
    expect(c.control.rateHz).toBe(100);
    expect(c.track.map).toBe('aigp-qualifier');
  });

  it('refuses unknown keys, naming them and where they are', () => {
    expect(problems({ transport: { kind: 'sim', seeed: 2 }, contrl: {} })).toEqual([
      'transport: unknown key "seeed" (not in the schema; check the spelling)',
      'unknown key "contrl" (not in the schema; check the spelling)',
    ]);
  });

  it('names the key path, the value and what was expected', () => {
    const p = problems({ control: { rateHz: -5 }, transport: { kind: 'aigp', mavlinkBind: 14550 } });
    expect(p[0]).toMatch(/^control\.rateHz: got -5; .*>0/);
    expect(p[1]).toMatch(/^transport\.mavlinkBind: got 14550; .*expected string/);
  });

  it('lists the transport kinds when the kind is wrong', () => {
    expect(problems({ transport: { kind: 'zeromq' } })[0]).toBe(
      'transport.kind: got "zeromq"; expected one of "sim", "zmq", "ros2", "aigp", "betaflight", "px4", "ardupilot"',
    );
  });

  it('reports YAML syntax errors and missing files with the file name', () => {
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, 'transport: [kind: sim\n');
    expect(() => loadConfig(bad)).toThrow(/bad\.yaml: invalid configuration:\n {2}- not valid YAML/);
    expect(() => loadConfig(join(dir, 'none.yaml'))).toThrow(/none\.yaml: [\s\S]*cannot read the file \(ENOENT\)/);
  });

  it('every shipped config/*.yaml validates', () => {
    const cfgDir = join(packageRoot(), 'config');
    const files = readdirSync(cfgDir).filter((f) => f.endsWith('.yaml'));
    expect(files).toContain('default.yaml');
    for (const f of files) expect(() => loadConfig(join(cfgDir, f)), f).not.toThrow();
  });
});

describe('sensor gate', () => {
  it('drops NaN, non-monotonic, wrong-size and stale input with the reason', () => {
    const g = new SensorGate({ maxFrameAgeS: 0.5, expectWidth: 4, expectHeight: 2 });
    expect(g.imu(imu(1)).ok).toBe(true);
    expect(g.imu(imu(2, [NaN, 0, 0]))).toMatchObject({ ok: false, kind: 'non-finite' });
    expect(g.imu(imu(0.5))).toMatchObject({ ok: false, kind: 'time' });
    expect(g.imu(imu(2)).ok).toBe(true);
    expect(g.frame(frame(1.9)).ok).toBe(true);
    expect(g.frame(frame(1.95, { width: 8, step: 24, data: new Uint8Array(48) }))).toMatchObject({ ok: false, kind: 'encoding' });
    expect(g.frame(frame(1.95, { data: new Uint8Array(10) }))).toMatchObject({ ok: false, kind: 'decode' });
    expect(g.frame(frame(1.95, { encoding: 'bgr8' as never }))).toMatchObject({ ok: false, kind: 'encoding' });
    expect(g.frame(frame(1.2))).toMatchObject({ ok: false, kind: 'time' }); // older than the last frame
    expect(g.imu(imu(3)).ok).toBe(true);
    expect(g.frame(frame(2.4))).toMatchObject({ ok: false, kind: 'time' }); // 0.6 s behind the IMU: stale
    expect(g.frame(frame(2.6)).ok).toBe(true);
  });
});

/** A transport whose far side the test drives by hand. */
class FakeTransport implements Transport {
  readonly name = 'fake';
  sink!: SensorSink;
  sent: (FlightCommand | null)[] = [];
  log: string[] = [];
  constructor(readonly clock: 'realtime' | 'lockstep') {}
  async open(sink: SensorSink): Promise<void> {
    this.sink = sink;
  }
  send(cmd: FlightCommand | null): void {
    this.sent.push(cmd);
    this.log.push('send');
  }
  async disarm(reason: string): Promise<void> {
    this.log.push(`disarm:${reason}`);
  }
  async close(): Promise<void> {
    this.log.push('close');
  }
}

/** Counts what it is given; commands hover while it has heard an IMU sample within 0.1 s. */
class CountingController implements Controller {
  readonly name = 'counting';
  readonly privileged = false;
  imus = 0;
  frames = 0;
  lastImuS = -Infinity;
  disarm = false;
  onImu(s: ImuSample): void {
    this.imus++;
    this.lastImuS = s.stampS;
  }
  onFrame(): void {
    this.frames++;
  }
  command(nowS: number): FlightCommand | null {
    if (nowS - this.lastImuS > 0.1) this.disarm = true;
    return this.disarm ? null : { kind: 'ctbr', stampS: nowS, thrustN: 9, rateRadS: [0, 0, 0] };
  }
  disarmRequested(): boolean {
    return this.disarm;
  }
}

describe('daemon', () => {
  it('lockstep: answers each tick with one command; malformed input is dropped and counted, flight goes on', async () => {
    const t = new FakeTransport('lockstep');
    const c = new CountingController();
    const d = new Daemon({ controller: c, transport: t, log: quiet, rateHz: 100, healthIntervalS: 0 });
    await d.start();
    for (let i = 1; i <= 20; i++) {
      t.sink.imu(imu(i * 0.001));
      if (i === 5) t.sink.imu(imu(0.0051, [0, Infinity, 0]));
      if (i === 6) t.sink.imu(imu(0.001)); // replayed stamp
      if (i === 10) t.sink.frame(frame(0.009, { data: new Uint8Array(3) }));
      if (i === 12) t.sink.reject('malformed', 'transport could not parse a message');
      if (i % 4 === 0) t.sink.tick(i * 0.001);
    }
    expect(c.imus).toBe(20);
    expect(t.sent).toHaveLength(5);
    expect(t.sent.every((x) => x?.kind === 'ctbr')).toBe(true);
    const h = d.health();
    expect(h.drops).toEqual({ 'non-finite': 1, time: 1, decode: 1, malformed: 1 });
    expect(h.totals).toMatchObject({ imu: 20, commands: 5, dropped: 4 });
    await d.stop('test');
  });

  it('stop commands the disarm before any link is closed, once', async () => {
    const t = new FakeTransport('lockstep');
    const d = new Daemon({ controller: new CountingController(), transport: t, log: quiet, rateHz: 100, healthIntervalS: 0 });
    await d.start();
    await Promise.all([d.stop('SIGTERM'), d.stop('SIGINT')]);
    expect(t.log).toEqual(['disarm:SIGTERM', 'close']);
    await d.done;
  });

  it('realtime: a dead link ages the sensor clock until the controller fails safe and the daemon disarms', async () => {
    let wallMs = 0;
    const t = new FakeTransport('realtime');
    const c = new CountingController();
    const d = new Daemon({ controller: c, transport: t, log: quiet, rateHz: 200, healthIntervalS: 0, nowMs: () => wallMs });
    await d.start();
    for (let i = 0; i < 10; i++) t.sink.imu(imu(100 + i * 0.001));
    // the link dies: no more samples; the command clock keeps running on wall time
    const deadline = Date.now() + 2000;
    while (!t.log.some((l) => l.startsWith('disarm')) && Date.now() < deadline) {
      wallMs += 20;
      await new Promise((r) => setTimeout(r, 6));
    }
    expect(t.log.find((l) => l.startsWith('disarm'))).toBe('disarm:guard failsafe');
    expect(t.sent.length).toBeGreaterThan(0);
    expect(t.sent.every((x) => x !== null && x.kind === 'ctbr' && Number.isFinite(x.thrustN))).toBe(true);
    await d.stop('test');
    expect(t.log.filter((l) => l.startsWith('disarm'))).toHaveLength(2); // the guard's, then stop's own (idempotent on the FC)
  });
});

describe('composite transport (FC link + separate camera)', () => {
  it('takes IMU and commands from the FC side and frames from the camera side only; closes the FC first', async () => {
    const fcT = new FakeTransport('realtime');
    const camT = new FakeTransport('realtime');
    const comp = new CompositeTransport(fcT, camT);
    const c = new CountingController();
    const d = new Daemon({ controller: c, transport: comp, log: quiet, rateHz: 100, healthIntervalS: 0 });
    await d.start();
    fcT.sink.imu(imu(1));
    fcT.sink.frame(frame(0.99)); // an FC link has no business sending frames
    camT.sink.imu(imu(1.001)); // nor a camera IMU
    camT.sink.frame(frame(0.995));
    camT.sink.reject('decode', 'bad jpeg');
    expect([c.imus, c.frames]).toEqual([1, 1]);
    expect(comp.counters()).toMatchObject({ framesFromFcIgnored: 1, imuFromCameraIgnored: 1 });
    expect(d.health().drops).toEqual({ decode: 1 });
    const order: string[] = [];
    fcT.close = async () => void order.push('fc');
    camT.close = async () => void order.push('camera');
    await d.stop('test');
    expect(fcT.log).toContain('disarm:test');
    expect(camT.log).not.toContain('disarm:test');
    expect(order).toEqual(['fc', 'camera']);
  });
});

describe('brainpilot run --config (in-process simulator)', () => {
  it('flies a lap of the warm-up track to the end and saves the learned state', async () => {
    const state = join(dir, 'brain.json');
    const cfg = parseConfig({
      track: { map: 'warmup' },
      state,
      log: { healthIntervalS: 0 },
      transport: { kind: 'sim', track: 'warmup', seed: 3, laps: 1 },
    });
    const h = await startDaemon(cfg, quiet);
    const why = await h.finished;
    expect(why).toBe('finished 1 laps');
    const r = (h.transport as unknown as { result: { completed: boolean; laps: { gatesPassed: number }[] } }).result;
    expect(r.completed).toBe(true);
    expect(h.daemon.health().totals.commands).toBeGreaterThan(1000);
    expect(JSON.parse((await import('node:fs')).readFileSync(state, 'utf8')).brainpilotState).toBe(1);
  }, 60_000);
});
