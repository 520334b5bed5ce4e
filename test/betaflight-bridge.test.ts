import { afterEach, describe, expect, it } from 'vitest';
import { openLink, type Link } from '../firmware-bridge/link/index.js';
import {
  ArmingRefusedError,
  BetaflightBridge,
  BetaflightEmulator,
  DEFAULT_BOX_IDS,
  DEFAULT_EMULATOR_RATES,
  type BetaflightBridgeOptions,
  type BetaflightEmulatorOptions,
} from '../firmware-bridge/betaflight/index.js';
import { ARMING_DISABLE_BIT, BOX } from '../firmware-bridge/msp/codes.js';
import { applyActualRates, rcStick } from '../sim/fc.js';

const emulators: BetaflightEmulator[] = [];
const bridges: BetaflightBridge[] = [];

afterEach(async () => {
  await Promise.all(bridges.splice(0).map((b) => b.close(50)));
  await Promise.all(emulators.splice(0).map((e) => e.close()));
});

const THROTTLE = { hoverThrustN: 8, hoverUs: 1400 };

async function setup(
  emuOpts: BetaflightEmulatorOptions = {},
  bridgeOpts: BetaflightBridgeOptions = {},
): Promise<{ emu: BetaflightEmulator; bridge: BetaflightBridge; link: Link }> {
  const emu = new BetaflightEmulator(emuOpts);
  emulators.push(emu);
  await emu.start();
  const link = openLink(emu.uri, { backoffMinMs: 10, backoffMaxMs: 40 });
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('link did not open')), 2000);
    link.once('open', () => {
      clearTimeout(t);
      resolve();
    });
  });
  const bridge = new BetaflightBridge(link, { requestTimeoutMs: 100, retries: 2, throttle: THROTTLE, ...bridgeOpts });
  bridges.push(bridge);
  return { emu, bridge, link };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const DEG = Math.PI / 180;

describe('BetaflightBridge requests', () => {
  it('identifies the FC', async () => {
    const { bridge } = await setup();
    expect(await bridge.identify()).toEqual({ apiVersion: '1.49', variant: 'BTFL', version: '26.12.0', board: 'SITL' });
  });

  it('retries a request whose reply was lost', async () => {
    const { emu, bridge } = await setup();
    emu.dropNextReplies = 1;
    expect((await bridge.identify()).apiVersion).toBe('1.49');
    expect(bridge.stats.retries).toBe(1);
    expect(bridge.stats.timeouts).toBe(1);
  });

  it('times out after the retries and keeps serving later requests', async () => {
    const { emu, bridge } = await setup({}, { requestTimeoutMs: 30, retries: 1 });
    emu.dropNextReplies = 2;
    await expect(bridge.status()).rejects.toThrow(/no reply after 2 attempt/);
    expect((await bridge.status()).armed).toBe(false);
  });

  it('serialises concurrent requests (one outstanding at a time) and bounds the queue', async () => {
    const { bridge } = await setup({}, { maxQueue: 2 });
    const a = bridge.status();
    const b = bridge.readImu();
    const c = bridge.readRcTuning();
    const d = bridge.status(); // third waiter: over maxQueue
    await expect(d).rejects.toThrow(/queue full/);
    const [sa, ib, tc] = await Promise.all([a, b, c]);
    expect(sa.armed).toBe(false);
    expect(ib.gyroRadS).toEqual([0, 0, 0]);
    expect(tc.ratesTypeName).toBe('ACTUAL');
  });

  it('decodes status flags by name', async () => {
    const flags = (1 << ARMING_DISABLE_BIT.RXLOSS) | (1 << ARMING_DISABLE_BIT.BOOTGRACE);
    const { bridge } = await setup({ armingDisableFlags: flags });
    const s = await bridge.status();
    expect(s.armed).toBe(false);
    expect(s.armingDisableFlags).toEqual(['RXLOSS', 'BOOTGRACE']);
    expect(s.modeFlags.length).toBe(4);
  });

  it('reads the IMU in FLU SI units', async () => {
    const { bridge } = await setup({ rawImu: { acc: [0, 256, 512], gyro: [90, -45, 180] } });
    const imu = await bridge.readImu();
    expect(imu.gyroRadS[0]).toBeCloseTo(Math.PI / 2, 12);
    expect(imu.gyroRadS[1]).toBeCloseTo(-Math.PI / 4, 12);
    expect(imu.gyroRadS[2]).toBeCloseTo(Math.PI, 12);
    expect(imu.accelMS2[0]).toBe(0);
    expect(imu.accelMS2[1]).toBeCloseTo(9.80665 / 2, 9);
    expect(imu.accelMS2[2]).toBeCloseTo(9.80665, 9);
    expect(Number.isFinite(imu.stampS)).toBe(true);
  });

  it('loads ACTUAL rates from RC_TUNING', async () => {
    const { bridge } = await setup();
    const t = await bridge.readRcTuning();
    expect(t.ratesTypeName).toBe('ACTUAL');
    expect(bridge.rates).toEqual({ centerDegS: [200, 200, 150], maxDegS: [670, 670, 500], expo: [0.54, 0.54, 0.3] });
  });
});

describe('preflight', () => {
  it('is clean on a configured FC', async () => {
    const { bridge } = await setup();
    expect(await bridge.preflight()).toEqual([]);
  });

  it('reports a missing ARM range, a missing override range and arming-disable flags', async () => {
    const { bridge } = await setup({ modeRanges: [], armingDisableFlags: 1 << ARMING_DISABLE_BIT.CALIB });
    const p = await bridge.preflight();
    expect(p).toHaveLength(3);
    expect(p[0]).toMatch(/no ARM mode range is configured on AUX1/);
    expect(p[1]).toMatch(/MSP override mode .* not configured/);
    expect(p[2]).toBe('arming is disabled by: CALIB');
  });

  it('reports an ARM range on the wrong channel and an override-less build', async () => {
    const { bridge } = await setup({
      modeRanges: [{ permanentId: BOX.ARM, auxChannelIndex: 2, startUs: 1700, endUs: 2100 }],
      boxIds: DEFAULT_BOX_IDS.filter((b) => b !== BOX.MSP_OVERRIDE),
    });
    const p = await bridge.preflight();
    expect(p[0]).toMatch(/no ARM mode range is configured on AUX1 \(ARM is on AUX3\)/);
    expect(p[1]).toMatch(/not available on this firmware build/);
  });

  it('reports non-ACTUAL rates', async () => {
    const { bridge } = await setup({ rates: { ...DEFAULT_EMULATOR_RATES, ratesType: 0 } });
    expect(await bridge.preflight()).toEqual([expect.stringMatching(/rates type is BETAFLIGHT/)]);
  });
});

describe('sticks', () => {
  it('CTBR zero → centred sticks and hover throttle at hover thrust', async () => {
    const { emu, bridge } = await setup();
    await bridge.readRcTuning();
    expect(bridge.command({ thrustN: THROTTLE.hoverThrustN, rateRadS: [0, 0, 0] })).toBe(true);
    const r = await emu.waitForRc(() => true);
    expect(r.channels).toEqual([1500, 1500, 1400, 1500, 1000, 1000, 1000, 1000]);
    expect(bridge.command({ thrustN: 0, rateRadS: [0, 0, 0] })).toBe(true);
    const r0 = await emu.waitForRc(() => true, 2000, 1);
    expect(r0.channels[2]).toBe(1000);
    expect(bridge.command({ thrustN: 2 * THROTTLE.hoverThrustN, rateRadS: [0, 0, 0] })).toBe(true);
    expect((await emu.waitForRc(() => true, 2000, 2)).channels[2]).toBe(1800);
  });

  it('positive roll rate → roll stick > 1500, round trip through actual rates within 1 µs', async () => {
    const { emu, bridge } = await setup();
    await bridge.readRcTuning();
    const rates = [300 * DEG, 150 * DEG, 100 * DEG] as [number, number, number];
    expect(bridge.command({ thrustN: THROTTLE.hoverThrustN, rateRadS: rates })).toBe(true);
    const ch = (await emu.waitForRc(() => true)).channels;
    const R = DEFAULT_EMULATOR_RATES;
    expect(ch[0]).toBeGreaterThan(1500);
    expect(ch[1]).toBeGreaterThan(1500); // +y = nose down = pitch stick forward
    expect(ch[3]).toBeLessThan(1500); // +z = counter-clockwise = yaw stick left
    // Forward through the FC's curve: which µs would give exactly the requested rate?
    const wanted = [rates[0] / DEG, rates[1] / DEG, -rates[2] / DEG];
    const axisCh = [ch[0]!, ch[1]!, ch[3]!];
    for (let a = 0; a < 3; a++) {
      const rateAt = (us: number): number => applyActualRates(rcStick(us), R.centerDegS[a]!, R.maxDegS[a]!, R.expo[a]!);
      // The recorded integer µs brackets the requested rate within ±1 µs.
      const lo = rateAt(axisCh[a]! - 1);
      const hi = rateAt(axisCh[a]! + 1);
      expect(Math.min(lo, hi)).toBeLessThanOrEqual(wanted[a]!);
      expect(Math.max(lo, hi)).toBeGreaterThanOrEqual(wanted[a]!);
    }
    // Saturation: beyond the curve's end the stick is at full deflection.
    expect(bridge.command({ thrustN: 0, rateRadS: [-5000 * DEG, 0, 0] })).toBe(true);
    expect((await emu.waitForRc(() => true, 2000, 1)).channels[0]).toBe(1000);
  });

  it('clamps raw sticks into 1000..2000 and owns the arm channel', async () => {
    const { emu, bridge } = await setup();
    expect(bridge.sendSticks([900, 2100, 1000, 1500, 2000, 1800])).toBe(true);
    const r = await emu.waitForRc(() => true);
    expect(r.channels).toEqual([1000, 2000, 1000, 1500, 1000, 1800, 1000, 1000]);
    expect(bridge.stats.clamped).toBe(2);
    expect(emu.armed).toBe(false);
  });

  it('refuses and counts a NaN command, sending nothing', async () => {
    const { emu, bridge } = await setup();
    await bridge.readRcTuning();
    expect(bridge.command({ thrustN: NaN, rateRadS: [0, 0, 0] })).toBe(false);
    expect(bridge.command({ thrustN: 1, rateRadS: [0, Infinity, 0] })).toBe(false);
    expect(bridge.sendSticks([1500, NaN, 1000, 1500])).toBe(false);
    expect(bridge.stats.rejectedNonFinite).toBe(3);
    expect(bridge.stats.sticksSent).toBe(0);
    await bridge.status(); // a round trip: anything sent before it has arrived
    expect(emu.rc).toHaveLength(0);
  });

  it('refuses CTBR without ACTUAL rates loaded', async () => {
    const { bridge } = await setup();
    expect(bridge.command({ thrustN: 1, rateRadS: [0, 0, 0] })).toBe(false);
    expect(bridge.stats.rejectedNoRates).toBe(1);
  });
});

describe('arming, watchdog, close', () => {
  it('refuses to arm while a flag is set and arms once it clears', async () => {
    const { emu, bridge } = await setup({ armingDisableFlags: 1 << ARMING_DISABLE_BIT.BOOTGRACE });
    const err = await bridge.arm().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ArmingRefusedError);
    expect((err as ArmingRefusedError).reasons).toEqual(['arming disabled by BOOTGRACE']);
    expect(emu.armed).toBe(false);
    expect(emu.rc.every((r) => r.channels[4] === 1000)).toBe(true);
    emu.armingDisableFlags = 0;
    await bridge.arm();
    expect(emu.armed).toBe(true);
    expect((await bridge.status()).armed).toBe(true);
    bridge.disarm();
    await bridge.status();
    expect(emu.armed).toBe(false);
  });

  it('watchdog: silence while armed → disarm sticks within watchdogS + margin, repeated', async () => {
    const watchdogS = 0.2;
    const { emu, bridge } = await setup({}, { watchdogS, failsafeIntervalS: 0.03 });
    await bridge.readRcTuning();
    await bridge.arm();
    let lastCmdMs = 0;
    for (let i = 0; i < 5; i++) {
      await sleep(20);
      expect(bridge.command({ thrustN: THROTTLE.hoverThrustN, rateRadS: [0.1, 0, 0] })).toBe(true);
      lastCmdMs = performance.now();
    }
    const from = emu.rc.length;
    await emu.waitForRc(() => true, 2000, from - 1);
    expect(emu.armed).toBe(true);
    const fs = await emu.waitForRc((r) => r.channels[4]! < 1700 && r.channels[2] === 1000, 2000, from);
    const latencyS = (fs.tMs - lastCmdMs) / 1000;
    expect(latencyS).toBeGreaterThanOrEqual(watchdogS - 0.01);
    expect(latencyS).toBeLessThan(watchdogS + 0.1);
    expect(fs.channels).toEqual([1500, 1500, 1000, 1500, 1000, 1000, 1000, 1000]);
    expect(emu.armed).toBe(false);
    expect(bridge.failsafeLatched).toBe(true);
    const n = emu.rc.length;
    await sleep(150);
    expect(emu.rc.length).toBeGreaterThanOrEqual(n + 2); // still sending failsafe sticks
    expect(emu.rc.slice(n).every((r) => r.channels[4] === 1000 && r.channels[2] === 1000)).toBe(true);
    // Latched: commands are refused until arm() again.
    expect(bridge.command({ thrustN: THROTTLE.hoverThrustN, rateRadS: [0, 0, 0] })).toBe(false);
    expect(bridge.stats.rejectedFailsafe).toBe(1);
    expect(bridge.stats.watchdogTrips).toBe(1);
  });

  it('close() sends disarm sticks before the link closes', async () => {
    const { emu, bridge } = await setup();
    await bridge.readRcTuning();
    await bridge.arm();
    bridge.command({ thrustN: THROTTLE.hoverThrustN, rateRadS: [0, 0, 0] });
    await bridge.close();
    const deadline = Date.now() + 1000;
    while (emu.closedAtMs.length === 0 && Date.now() < deadline) await sleep(2);
    expect(emu.closedAtMs).toHaveLength(1);
    const last = emu.rc[emu.rc.length - 1]!;
    expect(last.channels).toEqual([1500, 1500, 1000, 1500, 1000, 1000, 1000, 1000]);
    expect(last.tMs).toBeLessThanOrEqual(emu.closedAtMs[0]!);
    expect(emu.armed).toBe(false);
    expect(bridge.stats.timeouts).toBe(0); // the disarm frame was acknowledged, not timed out
    expect(bridge.sendSticks([1500, 1500, 1000, 1500])).toBe(false);
  });
});
