/**
 * The vestibular attitude estimate against the simulator's truth: calibration at rest removes the
 * gyro bias and finds the initial tilt; integration then tracks a flight's attitude.
 */
import { describe, expect, it } from 'vitest';
import { Vestibular } from '../src/regions/vestibular.js';
import { quatConj, quatFromEuler, quatMul, type Quat } from '../src/math/quat.js';
import { Quadrotor } from '../sim/physics.js';
import { FlightControllerEmulator } from '../sim/fc.js';
import { ImuModel } from '../sim/imu.js';
import { loadVehicle } from '../sim/vehicle.js';
import { Rng } from '../src/rng.js';

const angleBetween = (a: Quat, b: Quat): number => {
  const d = quatMul(quatConj(a), b);
  return 2 * Math.acos(Math.min(1, Math.abs(d[0])));
};

describe('vestibular', () => {
  it('calibrates at rest, then tracks 10 s of manoeuvring flight within 4° on the gyro alone', () => {
    const veh = loadVehicle('racer-280');
    const quad = new Quadrotor(veh);
    quad.reset([0, 0, 0.15], 0.7);
    const fc = new FlightControllerEmulator(veh);
    fc.arm();
    const imu = new ImuModel();
    const rng = new Rng(5);
    const v = new Vestibular({ initialYawRad: 0.7, calibrationS: 1.0 });
    let worst = 0;
    for (let i = 0; i < 11_200; i++) {
      const t = i * 0.001;
      // rest for 0.5 s, then climb and fly a sequence of rate manoeuvres
      const rate: [number, number, number] = t < 1.2 ? [0, 0, 0] : [3 * Math.sin(2 * t), 2 * Math.cos(3 * t), 1.5 * Math.sin(t)];
      fc.setCommand({ kind: 'ctbr', stampS: t, thrustN: t < 1.2 ? 0 : 14, rateRadS: rate });
      quad.step(fc.update(quad.state, 0.001), 0.001);
      if (i % 2 === 0) {
        const out = v.step(imu.sample(quad.state, t + 0.001, rng));
        if (out.calibrated && t > 1.2) worst = Math.max(worst, angleBetween(out.quat, quad.state.quat));
      }
    }
    expect(v.isCalibrated).toBe(true);
    // budget: accelerometer bias tilts the initial level by ~0.5°; the gyro bias left after 1 s of
    // averaging (≈ 0.003 rad/s per axis) drifts ~1.7° per axis over 10 s. Vision bounds it in flight.
    expect(worst).toBeLessThan((4 * Math.PI) / 180);
    expect(worst).toBeGreaterThan(0); // it really integrated
  });

  it('finds the initial tilt from the accelerometer', () => {
    const v = new Vestibular({ initialYawRad: 0, calibrationS: 0.1 });
    const q = quatFromEuler(0.1, -0.05, 0);
    // specific force at rest = R^T [0, 0, g]
    const g = 9.81;
    const f: [number, number, number] = [g * (2 * (q[1] * q[3] - q[0] * q[2])), g * (2 * (q[2] * q[3] + q[0] * q[1])), g * (1 - 2 * (q[1] * q[1] + q[2] * q[2]))];
    for (let i = 0; i <= 60; i++) v.step({ stampS: i * 0.002, gyroRadS: [0.01, -0.02, 0.005], accelMS2: f });
    const [roll, pitch] = v.euler;
    expect(roll).toBeCloseTo(0.1, 3);
    expect(pitch).toBeCloseTo(-0.05, 3);
  });

  it('refuses non-finite and out-of-order samples and counts them', () => {
    const v = new Vestibular();
    v.step({ stampS: 0.1, gyroRadS: [0, 0, 0], accelMS2: [0, 0, 9.81] });
    v.step({ stampS: 0.2, gyroRadS: [NaN, 0, 0], accelMS2: [0, 0, 9.81] });
    const out = v.step({ stampS: 0.05, gyroRadS: [0, 0, 0], accelMS2: [0, 0, 9.81] });
    expect(out.rejected).toBe(2);
    expect(out.quat.every(Number.isFinite)).toBe(true);
  });
});

describe('vestibular vision tilt correction', () => {
  it('pulls a tilted estimate toward the observed up without touching yaw', () => {
    const v = new Vestibular({ initialYawRad: 0.3, calibrationS: 0.01 });
    // calibrate on a level pad, but with the accelerometer reading tilted (a biased accelerometer)
    for (let i = 0; i < 10; i++) v.step({ stampS: i * 0.002, gyroRadS: [0, 0, 0], accelMS2: [0.5, -0.4, 9.79] });
    const [r0, p0, y0] = v.euler;
    expect(Math.hypot(r0, p0)).toBeGreaterThan(0.05);
    const up = { upBody: [0, 0, 1] as [number, number, number], gain: 0.2, stampS: NaN }; // the gate says: body z is up
    for (let i = 0; i < 40; i++) v.correctTilt(up);
    expect(v.lastTiltErrorRad).toBeLessThan(0.001);
    const [r1, p1, y1] = v.euler;
    expect(Math.hypot(r1, p1)).toBeLessThan(0.001);
    expect(y1).toBeCloseTo(y0, 2);
  });
  it('turns the heading by a yaw observation (refusing 0 and non-finite ones) and leaves the attitude history alone', () => {
    const v = new Vestibular({ initialYawRad: 0.3, calibrationS: 0.01 });
    for (let i = 0; i < 10; i++) v.step({ stampS: i * 0.002, gyroRadS: [0, 0, 0], accelMS2: [0, 0, 9.81] });
    const before = v.attitudeAt(0.016);
    const yaw = { deltaRad: 0.1 };
    v.correctYaw(yaw);
    expect(v.euler[2]).toBeCloseTo(0.4, 12);
    yaw.deltaRad = 0;
    v.correctYaw(yaw);
    yaw.deltaRad = NaN;
    v.correctYaw(yaw);
    expect(v.yawCorrections).toBe(1);
    expect(v.euler[2]).toBeCloseTo(0.4, 12);
    expect(v.attitudeAt(0.016)).toEqual(before); // the history holds the attitude as it was
  });
});

describe('learned state', () => {
  it('is innate: saves nothing and refuses a snapshot instead of silently ignoring it', async () => {
    const { Vestibular } = await import('../src/regions/vestibular.js');
    const v = new Vestibular({});
    expect(v.saveState()).toBeNull();
    expect(() => v.loadState({ schema: 'vestibular/1', version: 1, data: {} } as never)).toThrow(/vestibular is innate/);
  });
  it('attitude at a past stamp: attitudeOfInto(sample) is attitudeAtInto(sample.stampS), the attitude of that moment, not the latest', () => {
    const v = new Vestibular({ initialYawRad: 0, calibrationS: 0.1 });
    const imu = (t: number, yawRateRadS: number) => ({ stampS: t, gyroRadS: [0, 0, yawRateRadS] as [number, number, number], accelMS2: [0, 0, 9.81] as [number, number, number] });
    for (let i = 0; i <= 100; i++) v.step(imu(i * 0.002, 0)); // at rest: calibrates
    for (let i = 101; i <= 600; i++) v.step(imu(i * 0.002, 1)); // yaw at 1 rad/s for 1 s
    const yawOf = (q: Quat) => Math.atan2(2 * (q[0] * q[3] + q[1] * q[2]), 1 - 2 * (q[2] * q[2] + q[3] * q[3]));
    const atStamp = v.attitudeAtInto(0.7, [0, 0, 0, 0]);
    const ofSample = v.attitudeOfInto({ stampS: 0.7 }, [0, 0, 0, 0]);
    expect(ofSample).toEqual(atStamp);
    expect(yawOf(ofSample)).toBeCloseTo(0.7 - 0.2, 2);
    expect(yawOf(v.attitudeOfInto({ stampS: 5 }, [0, 0, 0, 0]))).toBeCloseTo(1.0, 2); // after the last sample: the latest
  });
});
