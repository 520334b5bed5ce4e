import { describe, expect, it } from 'vitest';
import { quatFromEuler, quatIdentity, type Quat } from '../src/math/quat.js';
import type { Vec3 } from '../src/math/vec3.js';
import { Rng } from '../src/rng.js';
import { DEFAULT_IMU_CONFIG, ImuModel, imuConfig } from '../sim/imu.js';
import { GRAVITY_MS2 } from '../sim/physics.js';
import type { RigidBodyState } from '../sim/types.js';

const state = (quat: Quat = quatIdentity(), rate: Vec3 = [0, 0, 0], acc: Vec3 = [0, 0, 0]): RigidBodyState => ({
  posEnuM: [0, 0, 1],
  velEnuMS: [0, 0, 0],
  quat,
  rateFluRadS: rate,
  motorSpeed: [0, 0, 0, 0],
  accEnuMS2: acc,
});

const N = 5000;

const stats = (xs: number[]): { mean: number; std: number } => {
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  const v = xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (xs.length - 1);
  return { mean, std: Math.sqrt(v) };
};

describe('ImuModel', () => {
  it('has realistic, valid defaults', () => {
    const imu = new ImuModel();
    expect(imu.rateHz).toBe(500);
    expect(imu.latencyS).toBe(DEFAULT_IMU_CONFIG.latencyS);
    const [g, a] = imu.noiseStd;
    expect(g).toBeCloseTo(0.003 * Math.sqrt(500), 12);
    expect(a).toBeCloseTo(0.02 * Math.sqrt(500), 12);
  });

  it('validates the config with readable errors', () => {
    expect(() => new ImuModel({ rateHz: 100 })).toThrow(/rateHz: rateHz must be ≥ 200 Hz/);
    expect(() => imuConfig({ gyroNoiseDensity: -1 })).toThrow(/gyroNoiseDensity/);
    expect(() => imuConfig({ latencyS: Number.NaN })).toThrow(/latencyS/);
    expect(() => imuConfig({ bogus: 1 } as never)).toThrow(/invalid IMU config/);
  });

  it('at rest, level: accel ≈ [0, 0, g], gyro mean ≈ bias, noise std ≈ density·√rate', () => {
    const imu = new ImuModel({ accelBiasStd: 0 });
    const rng = new Rng(11);
    const s = state();
    const gx: number[][] = [[], [], []], ax: number[][] = [[], [], []];
    const gRes: number[][] = [[], [], []], aRes: number[][] = [[], [], []];
    const biasSum: Vec3 = [0, 0, 0];
    for (let k = 0; k < N; k++) {
      const m = imu.sample(s, k / imu.rateHz, rng);
      expect(m.stampS).toBe(k / imu.rateHz);
      for (let i = 0; i < 3; i++) {
        gx[i]!.push(m.gyroRadS[i]!);
        ax[i]!.push(m.accelMS2[i]!);
        gRes[i]!.push(m.gyroRadS[i]! - imu.gyroBias[i]!);
        aRes[i]!.push(m.accelMS2[i]! - imu.accelBias[i]!);
        biasSum[i] = biasSum[i]! + imu.gyroBias[i]!;
      }
    }
    const [gStd, aStd] = imu.noiseStd;
    const expAcc = [0, 0, GRAVITY_MS2];
    for (let i = 0; i < 3; i++) {
      expect(Math.abs(stats(ax[i]!).mean - expAcc[i]!)).toBeLessThan(0.05);
      // Gyro mean = mean bias (within 4σ of the noise mean), and the bias is non-trivial.
      expect(Math.abs(stats(gx[i]!).mean - biasSum[i]! / N)).toBeLessThan((4 * gStd) / Math.sqrt(N));
      expect(Math.abs(stats(gRes[i]!).std / gStd - 1)).toBeLessThan(0.1);
      expect(Math.abs(stats(aRes[i]!).std / aStd - 1)).toBeLessThan(0.1);
    }
    expect(Math.hypot(...imu.gyroBias)).toBeGreaterThan(0);
  });

  it('rotates the specific force into the body frame and adds the body rate', () => {
    const quiet = { gyroNoiseDensity: 0, accelNoiseDensity: 0, gyroBiasWalk: 0, accelBiasWalk: 0, gyroBiasStd: 0, accelBiasStd: 0 };
    const imu = new ImuModel(quiet);
    const rng = new Rng(1);
    // Rolled 90° (right-hand about +x): body +y points up, so gravity's reaction reads on +y.
    const m = imu.sample(state(quatFromEuler(Math.PI / 2, 0, 0.7), [0.1, -0.2, 3]), 0, rng);
    expect(m.accelMS2[0]).toBeCloseTo(0, 9);
    expect(m.accelMS2[1]).toBeCloseTo(GRAVITY_MS2, 9);
    expect(m.accelMS2[2]).toBeCloseTo(0, 9);
    expect(m.gyroRadS).toEqual([0.1, -0.2, 3]);
    // Free fall reads zero; accelerating east while level and yawed 90° (facing north) reads on −y (right).
    const f = imu.sample(state(quatIdentity(), [0, 0, 0], [0, 0, -GRAVITY_MS2]), 0.002, rng);
    expect(Math.hypot(...f.accelMS2)).toBeCloseTo(0, 9);
    const e = imu.sample(state(quatFromEuler(0, 0, Math.PI / 2), [0, 0, 0], [5, 0, 0]), 0.004, rng);
    expect(e.accelMS2[0]).toBeCloseTo(0, 9);
    expect(e.accelMS2[1]).toBeCloseTo(-5, 9);
    expect(e.accelMS2[2]).toBeCloseTo(GRAVITY_MS2, 9);
    // Saturates at the full-scale range.
    const sat = imu.sample(state(quatIdentity(), [100, 0, 0]), 0.006, rng);
    expect(sat.gyroRadS[0]).toBeCloseTo(DEFAULT_IMU_CONFIG.gyroRangeRadS, 9);
  });

  it('is deterministic per seed and reuses an output sample when given', () => {
    const run = (seed: number): number[] => {
      const imu = new ImuModel();
      const rng = new Rng(seed);
      const out = { stampS: 0, gyroRadS: [0, 0, 0] as Vec3, accelMS2: [0, 0, 0] as Vec3 };
      const xs: number[] = [];
      for (let k = 0; k < 100; k++) {
        const m = imu.sample(state(), k * 0.002, rng, out);
        expect(m).toBe(out);
        xs.push(...m.gyroRadS, ...m.accelMS2);
      }
      return xs;
    };
    expect(run(5)).toEqual(run(5));
    expect(run(5)).not.toEqual(run(6));
  });

  it('biases random-walk at the configured rate', () => {
    // 400 independent IMUs for 4 s each: the spread of the bias change is walk·√T.
    const walk = 0.01;
    const deltas: number[] = [];
    const rng = new Rng(3);
    for (let r = 0; r < 400; r++) {
      const imu = new ImuModel({ gyroBiasWalk: walk, gyroNoiseDensity: 0 });
      imu.sample(state(), 0, rng);
      const b0 = imu.gyroBias[0];
      for (let k = 1; k <= 2000; k++) imu.sample(state(), k * 0.002, rng);
      deltas.push(imu.gyroBias[0] - b0);
    }
    expect(Math.abs(stats(deltas).std / (walk * Math.sqrt(4)) - 1)).toBeLessThan(0.15);
  });

  it('adds the in-flight z bias step from its time on, and only about z (the calibration at rest never sees it)', () => {
    const imuWith = (shift: number): ImuModel => new ImuModel({ gyroBiasShiftZRadS: shift, gyroBiasShiftAtS: 1, gyroBiasWalk: 0, gyroNoiseDensity: 0 });
    const a = imuWith(0.01), b = imuWith(0);
    const ra = new Rng(5), rb = new Rng(5);
    for (let k = 0; k < 1000; k++) {
      const t = k * 0.002;
      const ma = a.sample(state(), t, ra), mb = b.sample(state(), t, rb);
      expect(ma.gyroRadS[0]).toBe(mb.gyroRadS[0]);
      expect(ma.gyroRadS[1]).toBe(mb.gyroRadS[1]);
      expect(ma.gyroRadS[2]! - mb.gyroRadS[2]!).toBeCloseTo(t >= 1 ? 0.01 : 0, 12);
    }
    expect(() => imuConfig({ gyroBiasShiftZRadS: NaN })).toThrow(/gyroBiasShiftZRadS/);
  });
});
