import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { quatFromEuler, quatIntegrate, quatToEuler } from '../src/math/quat.js';
import type { Vec3 } from '../src/math/vec3.js';
import {
  Guard,
  type GuardConfigInput,
  type GuardInput,
  type GuardOutput,
  levellingRates,
  parseGuardConfig,
  type RewardInput,
  Rewards,
  tiltAngle,
} from '../src/regions/steering.js';
import type { ImuSample } from '../src/tracts/io.js';

const DEG = Math.PI / 180;
const HOVER = 0.95 * 9.81;
const CFG: GuardConfigInput = { hoverThrustN: HOVER, maxThrustN: 42, minThrustN: 0.5, maxRateRadS: [10, 10, 4] };
const DT = 0.01;

/** A nominal, armed, level input at time t with fresh sensors. */
const nominal = (t: number, over: Partial<GuardInput> = {}): GuardInput => ({
  proposed: { thrustN: HOVER, rateRadS: [0, 0, 0] },
  nowS: t,
  lastFrameS: t,
  lastImuS: t,
  attitude: { rollRad: 0, pitchRad: 0 },
  armed: true,
  ...over,
});

function expectSafe(out: GuardOutput, g: Guard): void {
  const c = g.config;
  if (out.cmd === null) {
    expect(['disarmed', 'failsafe-disarm']).toContain(out.mode);
    return;
  }
  expect(out.cmd.kind).toBe('ctbr');
  expect(Number.isFinite(out.cmd.stampS)).toBe(true);
  expect(Number.isFinite(out.cmd.thrustN)).toBe(true);
  expect(out.cmd.thrustN).toBeGreaterThanOrEqual(c.minThrustN);
  expect(out.cmd.thrustN).toBeLessThanOrEqual(c.maxThrustN);
  expect(out.cmd.rateRadS).toHaveLength(3);
  for (let a = 0; a < 3; a++) {
    const r = out.cmd.rateRadS[a]!;
    expect(Number.isFinite(r)).toBe(true);
    expect(Math.abs(r)).toBeLessThanOrEqual(c.maxRateRadS[a]!);
  }
}

describe('Guard: config', () => {
  it('fills defaults and validates', () => {
    const c = parseGuardConfig({ hoverThrustN: 9, maxThrustN: 40 });
    expect(c.minThrustN).toBe(0);
    expect(c.maxTiltRad).toBeCloseTo(60 * DEG);
    expect(c.frameTimeoutS).toBe(0.5);
    expect(c.imuTimeoutS).toBe(0.1);
  });

  it('rejects bad and unknown fields with their names', () => {
    expect(() => new Guard({ hoverThrustN: 9, maxThrustN: 5 })).toThrow(/hoverThrustN/);
    expect(() => new Guard({ hoverThrustN: 9, maxThrustN: 40, minThrustN: -1 })).toThrow(/minThrustN/);
    expect(() => new Guard({ hoverThrustN: 9, maxThrustN: 40, frameTimeoutS: Number.NaN })).toThrow(/frameTimeoutS/);
    expect(() => new Guard({ hoverThrustN: 9, maxThrustN: 40, maxTilt: 1 } as unknown as GuardConfigInput)).toThrow(/maxTilt: unknown key/);
  });
});

describe('Guard: zero in, zero out', () => {
  it('passes a valid hover command through unchanged (nominal)', () => {
    const g = new Guard(CFG);
    const out = g.step(nominal(1), DT);
    expect(out.mode).toBe('nominal');
    expect(out.cmd).toEqual({ kind: 'ctbr', stampS: 1, thrustN: HOVER, rateRadS: [0, 0, 0] });
    expect(out.replacedNonFinite).toBe(0);
    expect(out.clamped).toBe(false);
    expect(out.requestDisarm).toBe(false);
  });

  it('disarmed → no output, whatever is proposed', () => {
    const g = new Guard(CFG);
    const out = g.step(nominal(1, { armed: false, proposed: { thrustN: 30, rateRadS: [5, 5, 1] } }), DT);
    expect(out.cmd).toBeNull();
    expect(out.mode).toBe('disarmed');
  });
});

describe('Guard: sanitising the proposal', () => {
  it('replaces non-finite fields (thrust → hover, rates → 0) and counts them, also cumulatively', () => {
    const g = new Guard(CFG);
    const bad = nominal(1, { proposed: { thrustN: Number.NaN, rateRadS: [Infinity, -Infinity, Number.NaN] } });
    const out = g.step(bad, DT);
    expect(out.mode).toBe('limited');
    expect(out.replacedNonFinite).toBe(4);
    expect(out.cmd!.thrustN).toBe(HOVER);
    expect(out.cmd!.rateRadS).toEqual([0, 0, 0]);
    g.step({ ...bad, nowS: 1.01, lastFrameS: 1.01, lastImuS: 1.01 }, DT);
    expect(g.counters.replacedNonFinite).toBe(8);
  });

  it('clamps thrust and each rate to its limit and reports it', () => {
    const g = new Guard(CFG);
    const hi = g.step(nominal(1, { proposed: { thrustN: 1e308, rateRadS: [1e3, -50, 4.5] } }), DT);
    expect(hi.clamped).toBe(true);
    expect(hi.mode).toBe('limited');
    expect(hi.cmd!.thrustN).toBe(42);
    expect(hi.cmd!.rateRadS).toEqual([10, -10, 4]);
    const lo = g.step(nominal(1.01, { proposed: { thrustN: -3, rateRadS: [1, 2, 3] } }), DT);
    expect(lo.cmd!.thrustN).toBe(0.5);
    expect(lo.cmd!.rateRadS).toEqual([1, 2, 3]);
    expect(g.counters.clampedTicks).toBe(2);
  });

  it('a missing proposal becomes hover with zero rates', () => {
    const g = new Guard(CFG);
    const out = g.step(nominal(1, { proposed: null }), DT);
    expect(out.mode).toBe('limited');
    expect(out.cmd!.thrustN).toBe(HOVER);
    expect(out.cmd!.rateRadS).toEqual([0, 0, 0]);
  });
});

describe('Guard: property — output always finite and in range', () => {
  const nasty = fc.oneof(
    fc.double(),
    fc.constantFrom(Number.NaN, Infinity, -Infinity, 1e308, -1e308, 0, -0, -1, 5e-324),
    fc.double({ min: -50, max: 50, noNaN: true }),
  );
  const time = fc.oneof(fc.double({ min: 0, max: 100, noNaN: true }), nasty);
  const tick = fc.record({
    proposed: fc.option(fc.record({ thrustN: nasty, rateRadS: fc.tuple(nasty, nasty, nasty) }), { freq: 8 }),
    dNow: fc.oneof(fc.double({ min: 0, max: 1, noNaN: true }), nasty),
    frameAge: fc.option(time, { freq: 5 }),
    imuAge: fc.option(time, { freq: 5 }),
    attitude: fc.option(fc.record({ rollRad: nasty, pitchRad: nasty }), { freq: 5 }),
    armed: fc.boolean(),
    landed: fc.option(fc.boolean()),
    dtS: nasty,
  });

  it('holds for random sequences of adversarial ticks (seeded, 2500 runs)', () => {
    fc.assert(
      fc.property(fc.array(tick, { minLength: 1, maxLength: 25 }), (ticks) => {
        const g = new Guard(CFG);
        let t = 0;
        for (const k of ticks) {
          t = Number.isFinite(k.dNow) ? t + Math.abs(k.dNow) : k.dNow;
          const input: GuardInput = {
            proposed: k.proposed,
            nowS: t,
            lastFrameS: k.frameAge === null ? null : t - k.frameAge,
            lastImuS: k.imuAge === null ? null : t - k.imuAge,
            attitude: k.attitude,
            armed: k.armed,
            ...(k.landed === null ? {} : { landed: k.landed }),
          };
          const out = g.step(input, k.dtS);
          expectSafe(out, g);
          if (!k.armed) expect(out.cmd).toBeNull();
          expect(Number.isInteger(out.replacedNonFinite) && out.replacedNonFinite >= 0).toBe(true);
        }
      }),
      { numRuns: 2500, seed: 20240611 },
    );
  });

  it('survives a malformed rate vector', () => {
    const g = new Guard(CFG);
    const out = g.step(nominal(1, { proposed: { thrustN: 5, rateRadS: [] as unknown as Vec3 } }), DT);
    expectSafe(out, g);
    expect(out.replacedNonFinite).toBe(3);
  });
});

describe('Guard: tilt protection', () => {
  it('overrides rates with a levelling command beyond maxTilt, keeps thrust, releases with hysteresis', () => {
    const g = new Guard(CFG);
    const prop = { thrustN: 20, rateRadS: [3, 0, 1] as Vec3 };
    const a = g.step(nominal(1, { proposed: prop, attitude: { rollRad: 70 * DEG, pitchRad: 0 } }), DT);
    expect(a.tiltOverride).toBe(true);
    expect(a.mode).toBe('limited');
    expect(a.cmd!.thrustN).toBe(20);
    expect(a.cmd!.rateRadS[0]).toBeLessThan(0); // right side down → roll left
    expect(a.cmd!.rateRadS[1]).toBeCloseTo(0, 12);
    expect(a.cmd!.rateRadS[2]).toBe(0);
    // 57° < maxTilt but above the release threshold (55°): still levelling.
    const b = g.step(nominal(1.01, { proposed: prop, attitude: { rollRad: 57 * DEG, pitchRad: 0 } }), DT);
    expect(b.tiltOverride).toBe(true);
    const c = g.step(nominal(1.02, { proposed: prop, attitude: { rollRad: 50 * DEG, pitchRad: 0 } }), DT);
    expect(c.tiltOverride).toBe(false);
    expect(c.mode).toBe('nominal');
    expect(c.cmd!.rateRadS).toEqual([3, 0, 1]);
  });

  it('measures tilt as the angle from vertical (combined roll and pitch)', () => {
    expect(tiltAngle(0, 0)).toBe(0);
    expect(tiltAngle(0.3, 0)).toBeCloseTo(0.3, 12);
    expect(tiltAngle(0, -0.4)).toBeCloseTo(0.4, 12);
    expect(tiltAngle(50 * DEG, 50 * DEG)).toBeGreaterThan(60 * DEG);
    const g = new Guard(CFG);
    const out = g.step(nominal(1, { attitude: { rollRad: 50 * DEG, pitchRad: 50 * DEG } }), DT);
    expect(out.tiltOverride).toBe(true);
  });

  it('levels an inverted attitude by rolling, within the rate limit', () => {
    const r = levellingRates(Math.PI, 0, 5, [10, 10, 4], [0, 0, 0]);
    expect(Math.abs(r[0])).toBeCloseTo(10, 9);
    expect(r[2]).toBe(0);
    const n = levellingRates(0.1, -0.2, 5, [10, 10, 4], [0, 0, 0]);
    expect(n[0]).toBeLessThan(0); // roll right → roll back left
    expect(n[1]).toBeGreaterThan(0); // nose up (pitch < 0) → pitch nose down
  });
});

describe('Guard: frame loss → level and descend', () => {
  /** Fly with IMU fresh every tick; frames stop after `framesUntil`. Attitude integrates the commanded rates. */
  function run(g: Guard, fromS: number, toS: number, framesUntil: number, q0 = quatFromEuler(0.3, -0.2, 0.4)) {
    let q = q0;
    const outs: { t: number; out: GuardOutput; roll: number; pitch: number }[] = [];
    let lastFrame = fromS;
    for (let t = fromS; t <= toS + 1e-9; t += DT) {
      if (t <= framesUntil + 1e-9) lastFrame = t;
      const [roll, pitch] = quatToEuler(q);
      const out = g.step(nominal(t, { lastFrameS: lastFrame, attitude: { rollRad: roll, pitchRad: pitch } }), DT);
      outs.push({ t, out: { ...out }, roll, pitch }); // the guard reuses its output object: keep a copy
      if (out.cmd) q = quatIntegrate(q, out.cmd.rateRadS, DT);
    }
    return { outs, q };
  }

  it('keeps nominal within the timeout, then levels a tilted estimate with thrust below hover', () => {
    const g = new Guard(CFG);
    const { outs } = run(g, 0, 1.49, 1.0, quatFromEuler(0, 0, 0));
    expect(outs.filter((o) => o.t < 1.5).every((o) => o.out.mode === 'nominal')).toBe(true);
    // Now tilt it and lose frames for longer than the timeout.
    const g2 = new Guard(CFG);
    const res = run(g2, 0, 3.5, 1.0);
    const first = res.outs.find((o) => o.out.mode === 'failsafe-level-descend')!;
    expect(first.t).toBeGreaterThan(1.5 - 1e-6);
    expect(first.t).toBeLessThan(1.52);
    expect(first.out.cmd!.thrustN).toBeLessThan(HOVER);
    expect(first.out.cmd!.thrustN).toBeCloseTo(0.9 * HOVER, 12);
    // The estimate (rolled right, nose up) at the first failsafe tick is levelled: roll left, nose down.
    expect(first.roll).toBeGreaterThan(0);
    expect(first.out.cmd!.rateRadS[0]).toBeLessThan(0);
    expect(first.pitch).toBeLessThan(0);
    expect(first.out.cmd!.rateRadS[1]).toBeGreaterThan(0);
    expect(first.out.cmd!.rateRadS[2]).toBe(0);
    const last = res.outs.at(-1)!;
    expect(last.out.mode).toBe('failsafe-level-descend');
    expect(tiltAngle(last.roll, last.pitch)).toBeLessThan(0.01);
    expect(g2.counters.frameLossEvents).toBe(1);
  });

  it('disarms after failsafeDisarmAfterS, stays latched when frames return, clears on re-arm', () => {
    const g = new Guard(CFG);
    let out: GuardOutput | undefined;
    let t = 0;
    for (; t <= 7; t += DT) {
      out = g.step(nominal(t, { lastFrameS: Math.min(t, 1) }), DT);
      if (out.mode === 'failsafe-disarm') break;
    }
    // frames lost at 1.5 s (timeout 0.5 s), disarm 5 s later.
    expect(t).toBeGreaterThan(6.49);
    expect(t).toBeLessThan(6.52);
    expect(out!.cmd).toBeNull();
    expect(out!.requestDisarm).toBe(true);
    expect(g.latchedDisarm).toBe(true);
    const back = g.step(nominal(t + 1), DT);
    expect(back.mode).toBe('failsafe-disarm');
    expect(back.cmd).toBeNull();
    expect(g.step(nominal(t + 1.1, { armed: false }), DT).mode).toBe('disarmed');
    const rearmed = g.step(nominal(t + 1.2), DT);
    expect(rearmed.mode).toBe('nominal');
    expect(g.counters.failsafeDisarms).toBe(1);
  });

  it('disarms at once when a touchdown is reported during the failsafe', () => {
    const g = new Guard(CFG);
    expect(g.step(nominal(2, { lastFrameS: 1 }), DT).mode).toBe('failsafe-level-descend');
    const out = g.step(nominal(2.01, { lastFrameS: 1, landed: true }), DT);
    expect(out.mode).toBe('failsafe-disarm');
    expect(out.requestDisarm).toBe(true);
  });

  it('recovers automatically once frames are fresh for recoverHoldS without a gap', () => {
    const g = new Guard(CFG);
    g.step(nominal(0), DT);
    expect(g.step(nominal(1, { lastFrameS: 0.4 }), DT).mode).toBe('failsafe-level-descend');
    // frames return at 1.0 s
    expect(g.step(nominal(1.1), DT).mode).toBe('failsafe-level-descend');
    // a gap restarts the hold
    expect(g.step(nominal(1.2, { lastFrameS: 0.6 }), DT).mode).toBe('failsafe-level-descend');
    expect(g.step(nominal(1.3), DT).mode).toBe('failsafe-level-descend');
    expect(g.step(nominal(1.45), DT).mode).toBe('failsafe-level-descend');
    const ok = g.step(nominal(1.51), DT);
    expect(ok.mode).toBe('nominal');
    expect(ok.cmd!.thrustN).toBe(HOVER);
    expect(g.counters.frameLossEvents).toBe(1);
  });

  it('without an attitude estimate, commands zero rates while descending', () => {
    const g = new Guard(CFG);
    const out = g.step(nominal(2, { lastFrameS: 1, attitude: null }), DT);
    expect(out.mode).toBe('failsafe-level-descend');
    expect(out.cmd!.rateRadS).toEqual([0, 0, 0]);
  });
});

describe('Guard: IMU loss → descent, then disarm (latched)', () => {
  it('cuts to descent thrust with zero rates, disarms after imuLossDisarmAfterS, latches until re-armed', () => {
    const g = new Guard(CFG);
    const modes: string[] = [];
    let firstFailsafe: GuardOutput | null = null;
    let disarmAt = NaN;
    for (let i = 0; i <= 200; i++) {
      const t = i * DT;
      const out = g.step(nominal(t, { lastImuS: Math.min(t, 1) }), DT);
      expectSafe(out, g);
      modes.push(out.mode);
      if (out.mode === 'failsafe-disarm' && firstFailsafe === null) {
        firstFailsafe = { ...out }; // the guard reuses its output object: keep a copy
        expect(t).toBeGreaterThan(1.1 - 1e-6);
        expect(t).toBeLessThan(1.12);
      }
      if (out.requestDisarm && Number.isNaN(disarmAt)) disarmAt = t;
    }
    expect(firstFailsafe!.cmd!.thrustN).toBeLessThan(HOVER);
    expect(firstFailsafe!.cmd!.rateRadS).toEqual([0, 0, 0]);
    expect(disarmAt).toBeGreaterThan(1.6 - 1e-6);
    expect(disarmAt).toBeLessThan(1.62);
    // IMU returns: still latched.
    const back = g.step(nominal(2.5), DT);
    expect(back.cmd).toBeNull();
    expect(back.mode).toBe('failsafe-disarm');
    expect(g.counters.imuLossEvents).toBe(1);
    g.step(nominal(2.6, { armed: false }), DT);
    expect(g.step(nominal(2.7), DT).mode).toBe('nominal');
  });

  it('a brief IMU hiccup also latches (hardware fault), even when it recovers before the disarm', () => {
    const g = new Guard(CFG);
    g.step(nominal(0), DT);
    expect(g.step(nominal(0.2, { lastImuS: 0.05 }), DT).mode).toBe('failsafe-disarm');
    const out = g.step(nominal(0.3), DT);
    expect(out.mode).toBe('failsafe-disarm');
    expect(out.cmd).not.toBeNull();
    expect(g.step(nominal(0.71), DT).requestDisarm).toBe(true);
  });

  it('gives imuTimeoutS of grace after arming before the first sample', () => {
    const g = new Guard(CFG);
    expect(g.step(nominal(0, { lastImuS: null, lastFrameS: null }), DT).mode).toBe('nominal');
    expect(g.step(nominal(0.05, { lastImuS: null }), DT).mode).toBe('nominal');
    expect(g.step(nominal(0.2, { lastImuS: null }), DT).mode).toBe('failsafe-disarm');
  });

  it('treats a non-finite or future IMU stamp as no sample', () => {
    const g = new Guard(CFG);
    g.step(nominal(0), DT);
    const out = g.step(nominal(0.5, { lastImuS: Number.NaN }), DT);
    expect(out.mode).toBe('failsafe-disarm');
    expect(out.replacedNonFinite).toBe(1);
    const g2 = new Guard(CFG);
    g2.step(nominal(0), DT);
    expect(g2.step(nominal(0.5, { lastImuS: 1e308 }), DT).mode).toBe('failsafe-disarm');
  });
});

describe('Guard: innate region contract', () => {
  it('has no learned state; reset returns to tick 0', () => {
    const g = new Guard(CFG);
    expect(g.saveState()).toBeNull();
    expect(() => g.loadState({ schema: 1, data: {} })).toThrow(/innate/);
    g.step(nominal(2, { lastFrameS: 1 }), DT);
    g.reset();
    expect(g.counters.frameLossEvents).toBe(0);
    expect(g.step(nominal(0), DT).mode).toBe('nominal');
  });
});

// -------------------------------------------------------------------------------------------------
// Rewards
// -------------------------------------------------------------------------------------------------

const imuAt = (t: number, acc: Vec3 = [0, 0, 9.81]): ImuSample => ({ stampS: t, gyroRadS: [0, 0, 0], accelMS2: acc });
const rin = (t: number, over: Partial<RewardInput> = {}): RewardInput => ({
  nowS: t,
  gate: null,
  nextGateDistanceM: null,
  imu: imuAt(t),
  expectedSpecificForceMS2: null,
  ...over,
});

/** Gate 1 approached at 5 m/s from 6 m; its angular size is 2·atan(0.75/d) (1.5 m gate). */
function approach(r: Rewards, steps = 110) {
  const outs = [];
  for (let i = 0; i < steps; i++) {
    const t = i * DT;
    const d = 6 - 5 * t;
    outs.push(r.step(rin(t, { gate: { id: 1, angularSizeRad: 2 * Math.atan(0.75 / d) }, nextGateDistanceM: d }), DT));
  }
  return outs;
}

describe('Rewards: gate passage', () => {
  it('a synthetic pass (gate grows, then vanishes) fires gatePassed exactly once', () => {
    const r = new Rewards();
    const outs = approach(r); // ends at d = 0.55 m, size ≈ 107°
    expect(outs.some((o) => o.gatePassed)).toBe(false);
    const after = [];
    for (let i = 110; i < 160; i++) after.push(r.step(rin(i * DT), DT));
    expect(after.filter((o) => o.gatePassed)).toHaveLength(1);
    expect(after[0]!.gatePassed).toBe(true);
    expect(after[0]!.reward).toBeCloseTo(10, 9);
    expect(r.counters.gatesPassed).toBe(1);
  });

  it('a switch to the next gate (new id, small) is a pass, and the distance jump is not progress', () => {
    const r = new Rewards();
    approach(r);
    const o = r.step(rin(1.1, { gate: { id: 2, angularSizeRad: 0.1 }, nextGateDistanceM: 15 }), DT);
    expect(o.gatePassed).toBe(true);
    expect(o.progress).toBe(0);
    expect(o.reward).toBe(10);
    const o2 = r.step(rin(1.11, { gate: { id: 2, angularSizeRad: 0.1 }, nextGateDistanceM: 14.95 }), DT);
    expect(o2.gatePassed).toBe(false);
    expect(o2.progress).toBeCloseTo(5, 6);
  });

  it('a gate that grows large and then recedes is not passed', () => {
    const r = new Rewards();
    approach(r, 100);
    let passed = 0;
    for (let i = 0; i < 100; i++) {
      const d = 1 + 0.05 * i;
      passed += r.step(rin(1 + i * DT, { gate: { id: 1, angularSizeRad: 2 * Math.atan(0.75 / d) }, nextGateDistanceM: d }), DT).gatePassed ? 1 : 0;
    }
    passed += r.step(rin(2.5), DT).gatePassed ? 1 : 0;
    expect(passed).toBe(0);
  });

  it('a gate lost while still small is not passed', () => {
    const r = new Rewards();
    approach(r, 50); // d = 3.55 m, size ≈ 24°
    expect(r.step(rin(0.5), DT).gatePassed).toBe(false);
  });
});

describe('Rewards: progress', () => {
  it('reports the closing speed and rewards metres closed', () => {
    const r = new Rewards();
    const outs = approach(r, 20);
    expect(outs[0]!.progress).toBe(0);
    expect(outs[5]!.progress).toBeCloseTo(5, 6);
    expect(outs[5]!.reward).toBeCloseTo(0.05, 6);
  });

  it('ignores discontinuities and non-finite distances', () => {
    const r = new Rewards();
    r.step(rin(0, { nextGateDistanceM: 10 }), DT);
    expect(r.step(rin(0.01, { nextGateDistanceM: 2 }), DT).progress).toBe(0); // 800 m/s: a reset, not progress
    expect(r.step(rin(0.02, { nextGateDistanceM: Number.NaN }), DT).progress).toBe(0);
    const o = r.step(rin(0.03, { nextGateDistanceM: 1.9 }), DT);
    expect(o.progress).toBe(0);
    expect(Number.isFinite(o.reward)).toBe(true);
  });
});

describe('Rewards: crash', () => {
  it('an impact spike is one crash; aggressive flight with the expected force is none', () => {
    const r = new Rewards();
    // 3.5 g of thrust, as commanded: not a crash.
    for (let i = 0; i < 20; i++) {
      const t = i * DT;
      const o = r.step(rin(t, { imu: imuAt(t, [0.5, -0.3, 34]), expectedSpecificForceMS2: [0, 0, 34.3] }), DT);
      expect(o.crash).toBe(false);
    }
    let crashes = 0;
    let firstReward = 0;
    for (let i = 20; i < 40; i++) {
      const t = i * DT;
      const acc: Vec3 = i < 24 ? [-120, 35, 60] : [0, 0, 0];
      const o = r.step(rin(t, { imu: imuAt(t, acc) }), DT);
      if (o.crash) {
        crashes++;
        firstReward = o.reward;
      }
    }
    expect(crashes).toBe(1);
    expect(firstReward).toBe(-50);
    // A second impact after the refractory window is a second crash.
    expect(r.step(rin(2, { imu: imuAt(2, [0, 90, -20]) }), DT).crash).toBe(true);
    expect(r.counters.crashes).toBe(2);
  });

  it('processes each IMU sample once and survives non-finite samples', () => {
    const r = new Rewards({ crashRefractoryS: 0 });
    const spike = imuAt(1, [200, 0, 0]);
    expect(r.step(rin(1, { imu: spike }), DT).crash).toBe(true);
    expect(r.step(rin(1.01, { imu: spike }), DT).crash).toBe(false);
    const o = r.step(rin(1.02, { imu: imuAt(1.02, [Number.NaN, 0, 0]) }), DT);
    expect(o.crash).toBe(false);
    expect(r.counters.replacedNonFinite).toBe(1);
  });
});
