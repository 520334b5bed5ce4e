import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type Quat, quatFromEuler, quatIdentity, quatIntegrate, quatRotate, quatToEuler } from '../src/math/quat.js';
import { norm, normalize, type Vec3 } from '../src/math/vec3.js';
import {
  DirectMotorOutput,
  type MixerGeometry,
  mixToMotors,
  MotorStage,
  type MotorStageConfigInput,
  type MotorStageInput,
  parseMixerGeometry,
  RateLoop,
} from '../src/regions/motor.js';
import { Guard } from '../src/regions/steering.js';
import { Quadrotor } from '../sim/physics.js';
import { loadVehicle } from '../sim/vehicle.js';

const DEG = Math.PI / 180;
const G = 9.81;
const MASS = 0.95;
const STAGE: MotorStageConfigInput = { massKg: MASS, maxThrustN: 42, minThrustN: 0.5 };
const GEOM: MixerGeometry = parseMixerGeometry({ armXM: 0.099, armYM: 0.099, motorMaxThrustN: 10.5, yawTorquePerThrustM: 0.016, motorIdle: 0.05 });

const input = (accel: Vec3, q: Quat = quatIdentity(), yawRad = 0): MotorStageInput => ({
  stampS: 1,
  accelEnuMS2: accel,
  yaw: { mode: 'angle', yawRad },
  attitude: q,
});

/** Forward allocation (same formulas as sim/physics.ts): motor commands → [T, τx, τy, τz]. */
function forward(u: readonly number[], g: MixerGeometry): [number, number, number, number] {
  const t = u.map((x) => g.motorMaxThrustN * x * x);
  const [t0, t1, t2, t3] = t as [number, number, number, number];
  return [
    t0 + t1 + t2 + t3,
    g.armYM * (-t0 - t1 + t2 + t3),
    g.armXM * (t0 - t1 + t2 - t3),
    g.yawTorquePerThrustM * (t0 - t1 - t2 + t3),
  ];
}

describe('MotorStage: zero in, zero out', () => {
  it('hover: zero desired acceleration, level, heading held → thrust m·g, rates exactly 0', () => {
    const s = new MotorStage(STAGE);
    for (const yaw of [{ mode: 'angle', yawRad: 0 }, { mode: 'rate', yawRateRadS: 0 }] as const) {
      const out = s.step({ ...input([0, 0, 0]), yaw }, 0.01);
      expect(out.cmd.kind).toBe('ctbr');
      expect(out.cmd.thrustN).toBeCloseTo(MASS * G, 12);
      expect(out.cmd.rateRadS).toEqual([0, 0, 0]);
      expect(out.tiltLimited).toBe(false);
      expect(out.thrustSaturated).toBe(false);
      expect(out.replacedNonFinite).toBe(0);
    }
  });

  it('hover at any heading with the matching yaw setpoint → rates 0', () => {
    const s = new MotorStage(STAGE);
    const out = s.step(input([0, 0, 0], quatFromEuler(0, 0, 2.5), 2.5), 0.01);
    for (const r of out.cmd.rateRadS) expect(r).toBeCloseTo(0, 12);
    expect(out.cmd.thrustN).toBeCloseTo(MASS * G, 12);
  });

  it('is innate (no learned state) and validates its config', () => {
    const s = new MotorStage(STAGE);
    expect(s.saveState()).toBeNull();
    expect(() => s.loadState({ schema: 1, data: {} })).toThrow(/innate/);
    expect(() => new MotorStage({ massKg: -1, maxThrustN: 10 })).toThrow(/massKg/);
    expect(() => new MotorStage({ ...STAGE, maxTiltRad: 95 * DEG })).toThrow(/maxTiltRad/);
  });
});

describe('MotorStage: signs', () => {
  it('facing east, accelerate east → positive pitch rate (FLU: nose down), thrust rises', () => {
    const s = new MotorStage(STAGE);
    const out = s.step(input([5, 0, 0]), 0.01);
    expect(out.cmd.rateRadS[1]).toBeGreaterThan(0);
    expect(out.cmd.rateRadS[0]).toBeCloseTo(0, 12);
    expect(out.cmd.rateRadS[2]).toBeCloseTo(0, 12);
    // Level body: the projection of m·(a + g) on body z is m·g.
    expect(out.cmd.thrustN).toBeCloseTo(MASS * G, 9);
  });

  it('facing north, accelerate east (to the right) → positive roll rate (right side down)', () => {
    const s = new MotorStage(STAGE);
    const out = s.step(input([5, 0, 0], quatFromEuler(0, 0, Math.PI / 2), Math.PI / 2), 0.01);
    expect(out.cmd.rateRadS[0]).toBeGreaterThan(0);
    expect(out.cmd.rateRadS[1]).toBeCloseTo(0, 9);
  });

  it('heading error to the left → positive yaw rate; yaw-rate mode passes the rate through', () => {
    const s = new MotorStage(STAGE);
    expect(s.step(input([0, 0, 0], quatIdentity(), 0.3), 0.01).cmd.rateRadS[2]).toBeGreaterThan(0);
    const r = s.step({ ...input([0, 0, 0]), yaw: { mode: 'rate', yawRateRadS: -1.5 } }, 0.01);
    expect(r.cmd.rateRadS).toEqual([0, 0, -1.5]);
  });

  it('climb → more thrust; dive → less', () => {
    const s = new MotorStage(STAGE);
    expect(s.step(input([0, 0, 3]), 0.01).cmd.thrustN).toBeCloseTo(MASS * (G + 3), 9);
    expect(s.step(input([0, 0, -3]), 0.01).cmd.thrustN).toBeCloseTo(MASS * (G - 3), 9);
  });
});

describe('MotorStage: closed loop on a kinematic body (perfect rate tracking)', () => {
  it('the thrust axis converges onto m·(a + g) and the heading onto the yaw setpoint', () => {
    const s = new MotorStage(STAGE);
    const accel: Vec3 = [4, -3, 2];
    let q = quatFromEuler(0.2, -0.1, -1);
    let out = s.step(input(accel, q, 0.7), 0.002);
    for (let i = 0; i < 1500; i++) {
      out = s.step(input(accel, q, 0.7), 0.002);
      q = quatIntegrate(q, out.cmd.rateRadS, 0.002);
    }
    const zb = quatRotate(q, [0, 0, 1]);
    const want = normalize([MASS * accel[0], MASS * accel[1], MASS * (accel[2] + G)]);
    for (let a = 0; a < 3; a++) expect(zb[a]).toBeCloseTo(want[a]!, 4);
    const fWorld = quatRotate(q, [0, 0, out.cmd.thrustN]);
    expect(fWorld[0]).toBeCloseTo(MASS * accel[0], 3);
    expect(fWorld[1]).toBeCloseTo(MASS * accel[1], 3);
    expect(fWorld[2]).toBeCloseTo(MASS * (accel[2] + G), 3);
    // Heading: the body x axis projected on the ground points at yaw 0.7.
    const xb = quatRotate(q, [1, 0, 0]);
    expect(Math.atan2(xb[1], xb[0])).toBeCloseTo(0.7, 4);
    for (const r of out.cmd.rateRadS) expect(Math.abs(r)).toBeLessThan(1e-4);
  });

  it('tilt limit: a huge horizontal demand settles at maxTilt with the vertical force kept at m·g', () => {
    const s = new MotorStage(STAGE);
    let q = quatIdentity();
    let out = s.step(input([100, 0, 0], q), 0.002);
    expect(out.tiltLimited).toBe(true);
    for (let i = 0; i < 1500; i++) {
      out = s.step(input([100, 0, 0], q), 0.002);
      q = quatIntegrate(q, out.cmd.rateRadS, 0.002);
    }
    const zb = quatRotate(q, [0, 0, 1]);
    expect(Math.acos(zb[2])).toBeCloseTo(60 * DEG, 4);
    expect(quatRotate(q, [0, 0, out.cmd.thrustN])[2]).toBeCloseTo(MASS * G, 3);
  });

  it('from upside down it rights itself (rates saturate, then converge)', () => {
    const s = new MotorStage(STAGE);
    let q = quatFromEuler(Math.PI - 0.01, 0, 0);
    let out = s.step(input([0, 0, 0], q), 0.002);
    expect(out.cmd.thrustN).toBe(0.5);
    expect(out.rateSaturated).toBe(true);
    for (let i = 0; i < 2000; i++) {
      out = s.step(input([0, 0, 0], q), 0.002);
      q = quatIntegrate(q, out.cmd.rateRadS, 0.002);
    }
    const [roll, pitch] = quatToEuler(q);
    expect(Math.abs(roll) + Math.abs(pitch)).toBeLessThan(1e-3);
  });
});

describe('MotorStage: limits and numerics', () => {
  it('clamps thrust to its limits', () => {
    const s = new MotorStage(STAGE);
    const up = s.step(input([0, 0, 1000]), 0.01);
    expect(up.cmd.thrustN).toBe(42);
    expect(up.thrustSaturated).toBe(true);
    const down = s.step(input([0, 0, -50]), 0.01);
    expect(down.cmd.thrustN).toBe(0.5);
    expect(down.thrustSaturated).toBe(true);
  });

  it('property: any input (NaN, ±∞, 1e308, unnormalised quaternions) gives a finite, in-range command', () => {
    const c = new MotorStage(STAGE).config;
    const nasty = fc.oneof(fc.double(), fc.constantFrom(Number.NaN, Infinity, -Infinity, 1e308, -1e308, 0, 1e-300));
    fc.assert(
      fc.property(
        fc.tuple(nasty, nasty, nasty),
        fc.tuple(nasty, nasty, nasty, nasty),
        fc.oneof(
          nasty.map((yawRad) => ({ mode: 'angle' as const, yawRad })),
          nasty.map((yawRateRadS) => ({ mode: 'rate' as const, yawRateRadS })),
        ),
        (accel, q, yaw) => {
          const s = new MotorStage(STAGE);
          const out = s.step({ stampS: 0, accelEnuMS2: accel, attitude: q, yaw }, 0.01);
          expect(Number.isFinite(out.cmd.thrustN)).toBe(true);
          expect(out.cmd.thrustN).toBeGreaterThanOrEqual(c.minThrustN);
          expect(out.cmd.thrustN).toBeLessThanOrEqual(c.maxThrustN);
          for (let a = 0; a < 3; a++) {
            expect(Number.isFinite(out.cmd.rateRadS[a])).toBe(true);
            expect(Math.abs(out.cmd.rateRadS[a]!)).toBeLessThanOrEqual(c.maxRateRadS[a]!);
          }
        },
      ),
      { numRuns: 2000, seed: 7 },
    );
  });

  it('replaces non-finite fields and counts them', () => {
    const s = new MotorStage(STAGE);
    const out = s.step({ stampS: Number.NaN, accelEnuMS2: [Number.NaN, 0, Infinity], attitude: [Number.NaN, 0, 0, 0], yaw: { mode: 'angle', yawRad: 0 } }, 0.01);
    expect(out.replacedNonFinite).toBe(3);
    expect(out.cmd.rateRadS).toEqual([0, 0, 0]);
    expect(out.cmd.thrustN).toBeCloseTo(MASS * G, 9);
    expect(out.cmd.stampS).toBe(0);
  });
});

describe('mixToMotors', () => {
  const hoverU = Math.sqrt((MASS * G) / 4 / GEOM.motorMaxThrustN);

  it('zero torque → four equal commands (hover: √(m·g / 4 / Tmax))', () => {
    const r = mixToMotors({ thrustN: MASS * G, torqueNm: [0, 0, 0] }, GEOM);
    for (const u of r.motors) expect(u).toBeCloseTo(hoverU, 12);
    expect(r.saturated).toBe(false);
  });

  it('zero thrust, zero torque → idle on all four', () => {
    expect(mixToMotors({ thrustN: 0, torqueNm: [0, 0, 0] }, GEOM).motors).toEqual([0.05, 0.05, 0.05, 0.05]);
  });

  it('+x (roll right) torque raises the LEFT motors (RL 2, FL 3)', () => {
    const [rr, fr, rl, fl] = mixToMotors({ thrustN: MASS * G, torqueNm: [0.1, 0, 0] }, GEOM).motors;
    expect(rl).toBeGreaterThan(rr);
    expect(fl).toBeGreaterThan(fr);
    expect(rl).toBeCloseTo(fl, 12);
    expect(rr).toBeCloseTo(fr, 12);
  });

  it('+y (nose down) torque raises the REAR motors (RR 0, RL 2)', () => {
    const [rr, fr, rl, fl] = mixToMotors({ thrustN: MASS * G, torqueNm: [0, 0.1, 0] }, GEOM).motors;
    expect(rr).toBeGreaterThan(fr);
    expect(rl).toBeGreaterThan(fl);
  });

  it('+z (yaw left) torque raises the CW motors (RR 0, FL 3)', () => {
    const [rr, fr, rl, fl] = mixToMotors({ thrustN: MASS * G, torqueNm: [0, 0, 0.02] }, GEOM).motors;
    expect(rr).toBeGreaterThan(fr);
    expect(fl).toBeGreaterThan(rl);
    expect(rr).toBeCloseTo(fl, 12);
  });

  it('round trip: unsaturated demands are produced exactly (checked with the physics allocation)', () => {
    fc.assert(
      fc.property(
        fc.double({ min: 8, max: 30, noNaN: true }),
        fc.tuple(
          fc.double({ min: -0.2, max: 0.2, noNaN: true }),
          fc.double({ min: -0.2, max: 0.2, noNaN: true }),
          fc.double({ min: -0.02, max: 0.02, noNaN: true }),
        ),
        (thrustN, torque) => {
          const r = mixToMotors({ thrustN, torqueNm: torque }, GEOM);
          expect(r.saturated).toBe(false);
          const [t, tx, ty, tz] = forward(r.motors, GEOM);
          expect(t).toBeCloseTo(thrustN, 9);
          expect(tx).toBeCloseTo(torque[0], 9);
          expect(ty).toBeCloseTo(torque[1], 9);
          expect(tz).toBeCloseTo(torque[2], 9);
        },
      ),
      { numRuns: 500, seed: 3 },
    );
  });

  it('saturation keeps the torque sign: huge roll at high thrust still rolls the right way', () => {
    const r = mixToMotors({ thrustN: 40, torqueNm: [5, 0, 0] }, GEOM);
    expect(r.saturated).toBe(true);
    const [, tx, ty, tz] = forward(r.motors, GEOM);
    expect(tx).toBeGreaterThan(0.5);
    expect(Math.abs(ty)).toBeLessThan(1e-9);
    expect(Math.abs(tz)).toBeLessThan(1e-9);
    for (const u of r.motors) {
      expect(u).toBeGreaterThanOrEqual(0.05);
      expect(u).toBeLessThanOrEqual(1);
    }
  });

  it('saturation gives up yaw first and preserves the roll/pitch axis', () => {
    const r = mixToMotors({ thrustN: 20, torqueNm: [3, -1.5, -1] }, GEOM);
    expect(r.saturated).toBe(true);
    expect(r.yawScale).toBe(0);
    const [, tx, ty] = forward(r.motors, GEOM);
    expect(tx).toBeGreaterThan(0);
    expect(ty).toBeLessThan(0);
    expect(tx / ty).toBeCloseTo(3 / -1.5, 6);
    const y = mixToMotors({ thrustN: 20, torqueNm: [0.2, 0, -0.4] }, GEOM);
    expect(y.saturated).toBe(true);
    expect(y.yawScale).toBeGreaterThan(0);
    expect(y.yawScale).toBeLessThan(1);
    const [, yx, , yz] = forward(y.motors, GEOM);
    expect(yx).toBeCloseTo(0.2, 6); // roll kept in full
    expect(yz).toBeLessThan(0);
  });

  it('airmode: full collective with a moderate torque shifts the collective down, torque intact', () => {
    const r = mixToMotors({ thrustN: 42, torqueNm: [0.3, 0, 0] }, GEOM);
    const [t, tx] = forward(r.motors, GEOM);
    expect(tx).toBeCloseTo(0.3, 6);
    expect(t).toBeLessThan(42);
    // and at zero collective the torque is produced above idle
    const z = mixToMotors({ thrustN: 0, torqueNm: [-0.3, 0, 0] }, GEOM);
    expect(forward(z.motors, GEOM)[1]).toBeLessThan(0);
  });

  it('non-finite demand → finite idle-range output, counted; no allocation with `out`', () => {
    const out = mixToMotors({ thrustN: Number.NaN, torqueNm: [Infinity, -Infinity, Number.NaN] }, GEOM);
    expect(out.replacedNonFinite).toBe(4);
    expect(out.motors).toEqual([0.05, 0.05, 0.05, 0.05]);
    const again = mixToMotors({ thrustN: 1e308, torqueNm: [1e308, -1e308, 5] }, GEOM, out);
    expect(again).toBe(out);
    for (const u of again.motors) expect(u >= 0.05 && u <= 1).toBe(true);
  });
});

describe('RateLoop and DirectMotorOutput', () => {
  const inertia: Vec3 = [2.4e-3, 2.6e-3, 4.3e-3];

  it('zero error → zero torque; positive roll-rate error → positive roll torque', () => {
    const rl = new RateLoop({ inertiaKgM2: inertia });
    expect(rl.step([0, 0, 0], [0, 0, 0], 0.001)).toEqual([0, 0, 0]);
    const t = rl.step([2, 0, 0], [0, 0, 0], 0.001);
    expect(t[0]).toBeGreaterThan(0);
    expect(t[1]).toBe(0);
  });

  it('a non-finite gyro holds the last torque and is counted', () => {
    const rl = new RateLoop({ inertiaKgM2: inertia });
    const t1 = [...rl.step([1, 0, 0], [0, 0, 0], 0.001)];
    const t2 = rl.step([1, 0, 0], [Number.NaN, 0, 0], 0.001);
    expect(t2).toEqual(t1);
    expect(rl.numericFaults).toBe(1);
  });

  it('disarmed (null command) → all motors 0; hover command → four equal motors', () => {
    const d = new DirectMotorOutput({ inertiaKgM2: inertia }, GEOM);
    expect(d.step(null, [0, 0, 0], 0.001, 0).motors).toEqual([0, 0, 0, 0]);
    const m = d.step({ kind: 'ctbr', stampS: 0, thrustN: MASS * G, rateRadS: [0, 0, 0] }, [0, 0, 0], 0.001, 0.001);
    expect(m.kind).toBe('motors');
    for (const u of m.motors) expect(u).toBeCloseTo(Math.sqrt((MASS * G) / 4 / 10.5), 12);
  });
});

describe('innate stack in the simulator: MotorStage → Guard → DirectMotorOutput → Quadrotor', () => {
  const v = loadVehicle('racer-280');
  const hover = v.massKg * G;

  function fly(accel: Vec3, yawRad: number, seconds: number) {
    const quad = new Quadrotor(v);
    quad.reset([0, 0, 20], 0, quad.hoverCommand()[0]);
    const stage = new MotorStage({ massKg: v.massKg, maxThrustN: 4 * v.motorMaxThrustN });
    const guard = new Guard({ hoverThrustN: hover, maxThrustN: 4 * v.motorMaxThrustN, maxRateRadS: [10, 10, 4] });
    const dmo = new DirectMotorOutput(
      { inertiaKgM2: v.inertiaKgM2, p: v.rateGains.p, i: v.rateGains.i, d: v.rateGains.d },
      { armXM: v.armXM, armYM: v.armYM, motorMaxThrustN: v.motorMaxThrustN, yawTorquePerThrustM: v.yawTorquePerThrustM, motorIdle: v.motorIdle },
    );
    const dt = 0.002;
    let maxTilt = 0;
    for (let i = 0; i < seconds / dt; i++) {
      const t = i * dt;
      const s = quad.state;
      const prop = stage.step({ stampS: t, accelEnuMS2: accel, yaw: { mode: 'angle', yawRad }, attitude: s.quat }, dt);
      const [roll, pitch] = quatToEuler(s.quat);
      const g = guard.step({ proposed: prop.cmd, nowS: t, lastFrameS: t, lastImuS: t, attitude: { rollRad: roll, pitchRad: pitch }, armed: true }, dt);
      quad.step(dmo.step(g.cmd, s.rateFluRadS, dt, t).motors, dt);
      maxTilt = Math.max(maxTilt, Math.acos(quatRotate(s.quat, [0, 0, 1])[2]));
    }
    return { quad, maxTilt };
  }

  it('holds a hover with every learned module empty', () => {
    const { quad, maxTilt } = fly([0, 0, 0], 0, 3);
    expect(Math.abs(quad.state.posEnuM[2] - 20)).toBeLessThan(0.2);
    expect(norm(quad.state.velEnuMS)).toBeLessThan(0.2);
    expect(maxTilt).toBeLessThan(0.01);
  });

  it('accelerates in the commanded direction at the commanded rate, altitude held, heading turned', () => {
    const { quad } = fly([3, 2, 0], 0.5, 2);
    const vel = quad.state.velEnuMS;
    // 2 s at (3, 2) m/s², minus the tilt-up transient and drag.
    expect(vel[0]).toBeGreaterThan(4.5);
    expect(vel[0]).toBeLessThan(6.2);
    expect(vel[1]).toBeGreaterThan(3);
    expect(vel[1]).toBeLessThan(4.2);
    expect(Math.abs(vel[2])).toBeLessThan(0.5);
    expect(quatToEuler(quad.state.quat)[2]).toBeCloseTo(0.5, 1);
  });
});
