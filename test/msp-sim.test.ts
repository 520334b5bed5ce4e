/**
 * The built-in sim's Betaflight face (sim/serve/msp.ts) behaves like the FC the transport is written for: it
 * identifies as Betaflight, passes the bridge's preflight once sticks flow, reports the vehicle's ACTUAL rates,
 * serves the sim's IMU (FLU) quantised as a real FC does, refuses to arm with the throttle up, and — MSP being its receiver — fails safe on
 * its own when the sticks stop (RX loss, then disarm after failsafe_delay).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { openLink } from '../firmware-bridge/link/index.js';
import { BetaflightBridge } from '../firmware-bridge/betaflight/index.js';
import { MSP } from '../firmware-bridge/msp/codes.js';
import { MspSimServer } from '../sim/serve/msp.js';
import { buildSim, RACE_DEFAULTS } from '../src/cli/race.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function setup(o: { rxLossS?: number; failsafeDelayS?: number; serialTaskHz?: number } = {}) {
  const sim = buildSim({ ...RACE_DEFAULTS, track: 'warmup', laps: 1, seed: 2, cameraEnabled: false });
  const fc = new MspSimServer(sim, { laps: 1, seed: 2, lapTimeoutS: 20, ...o });
  await fc.start();
  cleanups.push(() => fc.close());
  const link = openLink(fc.uri);
  await new Promise<void>((r) => link.once('open', () => r()));
  const v = sim.opts.vehicle;
  const bridge = new BetaflightBridge(link, {
    watchdogS: 30, // out of the way: these tests are about the FC's own behaviour
    throttle: { hoverThrustN: v.massKg * 9.80665, hoverUs: 1222 },
  });
  cleanups.push(() => bridge.close(50));
  return { sim, fc, bridge };
}

describe('the sim FC over MSP', () => {
  it('identifies as Betaflight and passes the preflight once sticks flow; MSP is its receiver', async () => {
    const { bridge } = await setup();
    expect(await bridge.identify()).toEqual({ apiVersion: '1.49', variant: 'BTFL', version: '26.12.0', board: 'SITL' });
    expect((await bridge.preflightReport()).armingDisabled).toContain('RXLOSS'); // nothing received yet
    bridge.sendSticks(bridge.disarmSticks());
    await sleep(20);
    expect(await bridge.preflight()).toEqual([]);
    expect(await bridge.fcFailsafeProblems({ mspOverrideFailsafe: false })).toEqual([]);
  });

  it('reports the vehicle ACTUAL rates, and the sim IMU in FLU SI within one LSB (1 °/s, 1/512 g)', async () => {
    const { sim, fc, bridge } = await setup();
    await bridge.readRcTuning();
    const r = sim.opts.vehicle.rcRates;
    expect(bridge.rates).toEqual({ centerDegS: [...r.centerDegS], maxDegS: [...r.maxDegS], expo: [...r.expo] });
    await sleep(50);
    for (let i = 0; i < 5; i++) {
      const s = await bridge.readImu();
      const truth = fc.lastImuReplied!;
      for (let a = 0; a < 3; a++) {
        expect(Math.abs(s.gyroRadS[a]! - truth.gyroRadS[a]!)).toBeLessThanOrEqual((0.5 * Math.PI) / 180 + 1e-9);
        expect(Math.abs(s.accelMS2[a]! - truth.accelMS2[a]!)).toBeLessThanOrEqual((0.5 * 9.80665) / 512 + 1e-9);
      }
    }
  });

  it('blocks arming with the throttle up (THROTTLE flag), arms with it low', async () => {
    const { fc, bridge } = await setup();
    bridge.sendSticks([1500, 1500, 1300, 1500]);
    await sleep(30);
    expect((await bridge.status()).armingDisableFlags).toEqual(['THROTTLE']);
    await bridge.arm(); // lowers the throttle before it raises the arm channel
    expect(fc.armed).toBe(true);
  });

  it('fails safe on its own when the sticks stop: RX loss, then disarm after failsafe_delay', async () => {
    const { fc, bridge } = await setup({ rxLossS: 0.1, failsafeDelayS: 0.3 });
    bridge.sendSticks(bridge.disarmSticks());
    await sleep(30);
    await bridge.arm();
    const sticks = setInterval(() => bridge.sendSticks([1500, 1500, 1300, 1500]), 10);
    await sleep(200);
    clearInterval(sticks);
    const silentAt = performance.now();
    expect(fc.armed).toBe(true);
    await sleep(250);
    expect(fc.armed).toBe(true); // stage 1: still armed, sticks centred, throttle low
    expect((await bridge.status()).armingDisableFlags).toEqual(expect.arrayContaining(['RXLOSS', 'FAILSAFE']));
    await sleep(300);
    expect(fc.armed).toBe(false);
    const d = fc.disarms.at(-1)!;
    expect(d.cause).toBe('rx-loss');
    expect(d.tMs - silentAt).toBeGreaterThan(400 - 20);
    expect(d.tMs - silentAt).toBeLessThan(400 + 80);
  });

  it('serialTaskHz: one MSP command per serial task run, like Betaflight at serial_update_rate_hz', async () => {
    const { fc, bridge } = await setup({ serialTaskHz: 100 });
    const t0 = performance.now();
    for (let i = 0; i < 10; i++) await bridge.request(MSP.RAW_IMU, Buffer.alloc(0), { timeoutMs: 200, retries: 0 });
    const perCommandMs = (performance.now() - t0) / 10;
    expect(perCommandMs).toBeGreaterThan(7); // ≈ 10 ms: one task period each
    // a burst beyond the 32-frame RX buffer loses the overflow
    for (let i = 0; i < 40; i++) bridge.sendSticks(bridge.disarmSticks());
    await sleep(20);
    expect(fc.rxOverflows).toBeGreaterThan(0);
  });

  it('the transport refuses an FC whose MSP task cannot serve sticks + IMU, naming serial_update_rate_hz', async () => {
    const { BetaflightTransport, PreflightError } = await import('../firmware-bridge/betaflight/index.js');
    for (const [hz, ok] of [
      [100, false],
      [1000, true],
    ] as const) {
      const sim = buildSim({ ...RACE_DEFAULTS, track: 'warmup', laps: 1, seed: 2, cameraEnabled: false });
      const fc = new MspSimServer(sim, { laps: 1, seed: 2, lapTimeoutS: 20, serialTaskHz: hz });
      await fc.start();
      cleanups.push(() => fc.close());
      const t = new BetaflightTransport({
        link: fc.uri,
        bridge: { watchdogS: 30, throttle: { hoverThrustN: 9.3, hoverUs: 1222 } },
        imuRateHz: 100,
        commandRateHz: 100,
      });
      cleanups.push(() => t.close());
      const sink = { imu: () => {}, frame: () => {}, tick: () => {}, reject: () => {}, linkState: () => {} };
      const err = await t.open(sink).then(
        () => null,
        (e: unknown) => e,
      );
      if (ok) {
        expect(err).toBeNull();
        expect(fc.armed).toBe(true);
      } else {
        expect(err).toBeInstanceOf(PreflightError);
        expect((err as Error).message).toMatch(/serves ≈ \d+ MSP commands\/s .* need 202\/s .*serial_update_rate_hz = 1000/);
        expect(fc.armed).toBe(false);
      }
    }
  });
});
