/**
 * The Betaflight transport's promises, against the loopback MSP emulator: it refuses to arm (naming what is
 * missing) when the FC would not fail safe on its own or is misconfigured; IMU over MSP arrives as FLU SI
 * samples at the polling rate; nothing reaches the sticks before the FC armed; bad commands are refused and
 * counted; disarm() returns only once the FC took the disarm sticks; close() disarms first; an FC that
 * disarms on its own ends the session.
 */
import { afterEach, describe, expect, it } from 'vitest';
import {
  BetaflightEmulator,
  BetaflightTransport,
  PreflightError,
  type BetaflightEmulatorOptions,
  type BetaflightTransportOptions,
} from '../firmware-bridge/betaflight/index.js';
import { ARMING_DISABLE_BIT } from '../firmware-bridge/msp/codes.js';
import { FEATURE } from '../firmware-bridge/msp/messages.js';
import type { RejectKind, SensorSink } from '../src/daemon/transport.js';
import type { CameraFrame, ImuSample } from '../src/tracts/io.js';

const emulators: BetaflightEmulator[] = [];
const transports: BetaflightTransport[] = [];

afterEach(async () => {
  await Promise.all(transports.splice(0).map((t) => t.close()));
  await Promise.all(emulators.splice(0).map((e) => e.close()));
});

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function recordingSink() {
  const imu: ImuSample[] = [];
  const frames: CameraFrame[] = [];
  const rejects: { kind: RejectKind; detail: string }[] = [];
  const link: boolean[] = [];
  const sink: SensorSink = {
    imu: (s) => imu.push(s),
    frame: (f) => frames.push(f),
    tick: () => {},
    reject: (kind, detail) => rejects.push({ kind, detail }),
    linkState: (up) => link.push(up),
  };
  return { sink, imu, frames, rejects, link };
}

async function setup(emu: BetaflightEmulatorOptions = {}, opts: Partial<BetaflightTransportOptions> = {}) {
  const e = new BetaflightEmulator({ features: FEATURE.RX_MSP, ...emu });
  emulators.push(e);
  await e.start();
  const t = new BetaflightTransport({
    link: e.uri,
    linkOptions: { backoffMinMs: 10, backoffMaxMs: 40 },
    bridge: { requestTimeoutMs: 100, watchdogS: 0.2, throttle: { hoverThrustN: 9.3, hoverUs: 1222 } },
    imuRateHz: 100,
    armWaitS: 0.5,
    ...opts,
  });
  transports.push(t);
  return { e, t, ...recordingSink() };
}

const armLow = (ch: number[]): boolean => (ch[4] ?? 0) < 1700;

describe('BetaflightTransport: preflight', () => {
  it('refuses to arm an FC that would hold the last sticks forever, naming the fix; no arm value ever sent', async () => {
    const { e, t, sink } = await setup({ features: FEATURE.RX_SERIAL });
    const err = await t.open(sink).then(
      () => null,
      (x: unknown) => x,
    );
    expect(err).toBeInstanceOf(PreflightError);
    const msg = (err as Error).message;
    expect(msg).toMatch(/refusing to arm/);
    expect(msg).toMatch(/would not fail safe/);
    expect(msg).toMatch(/feature RX_MSP/);
    expect(msg).toMatch(/msp_override_failsafe = ON/);
    expect(e.armed).toBe(false);
    expect(e.rc.length).toBeGreaterThan(0);
    expect(e.rc.every((r) => armLow(r.channels))).toBe(true);
  });

  it('arms over MSP override when the user vouches for msp_override_failsafe', async () => {
    const { e, t, sink } = await setup({ features: FEATURE.RX_SERIAL }, { mspOverrideFailsafe: true });
    await t.open(sink);
    expect(e.armed).toBe(true);
  });

  it('lists every configuration problem at once: no ARM range, non-ACTUAL rates, GPS rescue without GPS', async () => {
    const { t, sink } = await setup({
      modeRanges: [],
      rates: { centerDegS: [200, 200, 150], maxDegS: [670, 670, 500], expo: [0.5, 0.5, 0.3], ratesType: 0 },
      failsafeProcedure: 2,
    });
    const err = (await t.open(sink).catch((x: unknown) => x)) as PreflightError;
    expect(err).toBeInstanceOf(PreflightError);
    expect(err.problems.some((p) => p.startsWith('no ARM mode range is configured on AUX1'))).toBe(true);
    expect(err.problems.some((p) => p.includes('rates type is BETAFLIGHT'))).toBe(true);
    expect(err.problems.some((p) => p.includes('GPS-RESCUE'))).toBe(true);
  });

  it('names an arming-disable flag that does not clear', async () => {
    const { e, t, sink } = await setup({ armingDisableFlags: 1 << ARMING_DISABLE_BIT.CALIB });
    const err = (await t.open(sink).catch((x: unknown) => x)) as PreflightError;
    expect(err).toBeInstanceOf(PreflightError);
    expect(err.message).toMatch(/arming stayed disabled for 0\.5 s by: CALIB/);
    expect(e.armed).toBe(false);
  });

  it('fails with the link named when nothing answers', async () => {
    const t = new BetaflightTransport({ link: 'tcp:127.0.0.1:1', linkOptions: { backoffMinMs: 20 }, bridge: {}, imuRateHz: 50, connectTimeoutS: 0.3 });
    await expect(t.open(recordingSink().sink)).rejects.toThrow(/no connection to tcp:127\.0\.0\.1:1 within 0\.3 s/);
  });
});

describe('BetaflightTransport: flying', () => {
  it('polls RAW_IMU at the configured rate into FLU SI samples with increasing stamps', async () => {
    const { t, sink, imu } = await setup({ rawImu: { acc: [0, 256, 512], gyro: [10, -20, 30] } }, { imuRateHz: 100 });
    await t.open(sink);
    const n0 = imu.length;
    const w0 = performance.now();
    await sleep(1000);
    const got = imu.length - n0;
    const expected = (100 * (performance.now() - w0)) / 1000;
    expect(got).toBeGreaterThan(0.5 * expected); // a loaded machine polls late, never early:
    expect(got).toBeLessThan(1.1 * expected + 2); // the rate is a ceiling
    const s = imu[imu.length - 1]!;
    const d = Math.PI / 180;
    expect(s.gyroRadS[0]).toBeCloseTo(10 * d, 9);
    expect(s.gyroRadS[1]).toBeCloseTo(-20 * d, 9);
    expect(s.gyroRadS[2]).toBeCloseTo(30 * d, 9);
    expect(s.accelMS2[1]).toBeCloseTo(9.80665 / 2, 6);
    expect(s.accelMS2[2]).toBeCloseTo(9.80665, 6);
    for (let i = 1; i < imu.length; i++) expect(imu[i]!.stampS).toBeGreaterThan(imu[i - 1]!.stampS);
  });

  it('counts and drops a RAW_IMU reply that does not decode, and a sample with a non-finite stamp', async () => {
    const { e, t, sink, imu, rejects } = await setup({}, { imuRateHz: 100 });
    await t.open(sink);
    e.rawImuOverride = Buffer.alloc(10); // 5 int16 instead of 9
    await sleep(100);
    expect(rejects.some((r) => r.kind === 'decode' && /RAW_IMU/.test(r.detail))).toBe(true);
    const n = imu.length;
    await sleep(50);
    expect(imu.length).toBe(n);
    expect(t.counters().imuRejected).toBeGreaterThan(3);

    let now = 1;
    const nan = await setup({}, { imuRateHz: 100, clockS: () => (now++ > 20 ? Number.NaN : now) });
    await nan.t.open(nan.sink);
    await sleep(300);
    expect(nan.rejects.some((r) => r.kind === 'non-finite')).toBe(true);
    expect(nan.imu.every((s) => Number.isFinite(s.stampS))).toBe(true);
  });

  it('drops commands until armed, then turns CTBR into sticks with the arm channel high', async () => {
    const { e, t, sink } = await setup();
    t.send({ kind: 'ctbr', stampS: 0, thrustN: 9.3, rateRadS: [0, 0, 0] });
    expect(t.counters().commandsWhileDisarmed).toBe(1);
    await t.open(sink);
    const from = e.rc.length;
    t.send({ kind: 'ctbr', stampS: 1, thrustN: 9.3, rateRadS: [1, 0, 0] });
    const r = await e.waitForRc((x) => x.channels[2] === 1222, 500, from);
    expect(r.channels[0]).toBeGreaterThan(1500); // roll right
    expect(r.channels[4]).toBe(2000);
    expect(t.counters().commandsSent).toBe(1);
  });

  it('refuses and counts NaN and motor commands, sending nothing', async () => {
    const { e, t, sink } = await setup();
    await t.open(sink);
    await sleep(20);
    const before = e.rc.length;
    t.send({ kind: 'ctbr', stampS: 1, thrustN: Number.NaN, rateRadS: [0, 0, 0] });
    t.send({ kind: 'motors', stampS: 1, motors: [0.5, 0.5, 0.5, 0.5] });
    await sleep(30);
    expect(e.rc.length).toBe(before);
    expect(t.counters().commandsRefused).toBe(2);
  });

  it('disarm() resolves only after the FC took the disarm sticks', async () => {
    const { e, t, sink } = await setup();
    await t.open(sink);
    t.send({ kind: 'ctbr', stampS: 1, thrustN: 12, rateRadS: [0, 0, 0] });
    await t.disarm('test');
    expect(armLow(e.rc[e.rc.length - 1]!.channels)).toBe(true);
    expect(e.armed).toBe(false);
    // after disarm no command reaches the sticks
    const n = e.rc.length;
    t.send({ kind: 'ctbr', stampS: 2, thrustN: 12, rateRadS: [0, 0, 0] });
    await sleep(30);
    expect(e.rc.slice(n).every((r) => armLow(r.channels))).toBe(true);
  });

  it('close() sends disarm sticks before the link closes', async () => {
    const { e, t, sink } = await setup();
    await t.open(sink);
    t.send({ kind: 'ctbr', stampS: 1, thrustN: 12, rateRadS: [0, 0, 0] });
    await t.close();
    await sleep(20);
    const last = e.rc[e.rc.length - 1]!;
    expect(armLow(last.channels)).toBe(true);
    expect(last.tMs).toBeLessThanOrEqual(e.closedAtMs[0]!);
  });

  it('ends the session when the FC disarms on its own', async () => {
    const { e, t, sink } = await setup({}, { statusRateHz: 20 });
    await t.open(sink);
    const keep = setInterval(() => t.send({ kind: 'ctbr', stampS: 1, thrustN: 9.3, rateRadS: [0, 0, 0] }), 10);
    try {
      e.armed = false; // the pilot's switch, or the FC's own failsafe
      e.armingDisableFlags = 1 << ARMING_DISABLE_BIT.FAILSAFE;
      const why = await Promise.race([t.ended, sleep(1000).then(() => 'timeout')]);
      expect(why).toMatch(/^the FC disarmed \(arming disabled by FAILSAFE/);
    } finally {
      clearInterval(keep);
    }
  });

  it('reports the link going down to the daemon, and keeps running (IMU polls time out, nothing throws)', async () => {
    const { e, t, sink, link, imu } = await setup({}, { bridge: { requestTimeoutMs: 100, watchdogS: 5, throttle: { hoverThrustN: 9.3, hoverUs: 1222 } } });
    await t.open(sink);
    await sleep(50);
    await e.close();
    await sleep(200);
    expect(link).toContain(false);
    const n = imu.length;
    await sleep(100);
    expect(imu.length).toBe(n);
    t.send({ kind: 'ctbr', stampS: 1, thrustN: 9.3, rateRadS: [0, 0, 0] }); // refused by the dead link, counted
    expect(t.counters().commandsRefused).toBeGreaterThanOrEqual(1);
    emulators.splice(emulators.indexOf(e), 1);
  });

  it('delivers frames from the composed frame source, and stops at close', async () => {
    const subs = new Set<(f: CameraFrame) => void>();
    const frames = { onFrame: (cb: (f: CameraFrame) => void) => (subs.add(cb), () => subs.delete(cb)) };
    const { t, sink, frames: got } = await setup({}, { frames });
    await t.open(sink);
    const f = { stampS: 1, arrivalS: 1.03, seq: 0 } as CameraFrame;
    for (const cb of subs) cb(f);
    expect(got).toEqual([f]);
    await t.close();
    expect(subs.size).toBe(0);
  });
});

describe('config/betaflight-msp.yaml → transport', () => {
  it('parses, and refuses a betaflight block without a hover throttle, naming the key', async () => {
    const { loadConfig, parseConfig, ConfigError } = await import('../src/config/schema.js');
    const cfg = loadConfig('config/betaflight-msp.yaml');
    expect(cfg.transport.kind).toBe('betaflight');
    let err: unknown;
    try {
      parseConfig({ transport: { kind: 'betaflight' } });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as InstanceType<typeof ConfigError>).problems[0]).toMatch(/^transport\.hoverThrottleUs: got nothing/);
  });

  it('the factory builds a transport that arms with the configured AUX channel and value', async () => {
    const { loadConfig } = await import('../src/config/schema.js');
    const { createTransport } = await import('../src/cli/transports.js');
    const { pino } = await import('pino');
    const e = new BetaflightEmulator({ features: FEATURE.RX_MSP });
    emulators.push(e);
    await e.start();
    const cfg = loadConfig('config/betaflight-msp.yaml');
    if (cfg.transport.kind !== 'betaflight') throw new Error('expected betaflight');
    cfg.transport.link = e.uri;
    const t = (await createTransport(cfg.transport, {
      log: pino({ level: 'silent' }),
      config: cfg,
      vehicle: { massKg: 1.745, maxThrustN: 68, maxRateRadS: [12, 12, 6] },
      intrinsics: { width: 1920, height: 1080, fx: 1274, fy: 1274, cx: 960, cy: 540 },
      mount: { tiltUpRad: 0.35, posFluM: [0.1, 0, 0.03] },
    })) as BetaflightTransport;
    transports.push(t);
    await t.open(recordingSink().sink);
    expect(e.armed).toBe(true);
    const from = e.rc.length;
    t.send({ kind: 'ctbr', stampS: 1, thrustN: 1.745 * 9.80665, rateRadS: [0, 0, 0] });
    const r = await e.waitForRc((x) => x.channels[4] === 1800, 500, from);
    expect(r.channels.length).toBe(8);
    expect(r.channels[2]).toBe(1380); // hover thrust → the configured hover throttle
  });
});
