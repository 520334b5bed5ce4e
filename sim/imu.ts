/**
 * Simulated 6-axis IMU (ICM-42688-class gyro + accelerometer on a flying racer).
 *
 * Per sample at `rateHz`:
 *   gyro  = ω_body + b_g + n_g,              n_g ~ N(0, (gyroNoiseDensity · √rateHz)²)
 *   accel = Rᵀ (a_world − g_world) + b_a + n_a, g_world = [0, 0, −g]  → [0, 0, +g] at rest, level
 *   b ← b + biasWalk · √dt · N(0, 1)          (random walk per sample)
 * then clipped to the sensor range. Noise densities default to in-flight values: the datasheet's
 * still-air densities (gyro 2.8 mdps/√Hz ≈ 5e-5 rad/s/√Hz, accel 70 µg/√Hz ≈ 7e-4 m/s²/√Hz) are
 * inflated ~60× / ~30× to stand in for prop vibration that survives the FC's filtering.
 * Latency (sample → arrival) is exposed as `latencyS`; the caller queues samples by it.
 */
import { z } from 'zod';
import type { Vec3 } from '../src/math/vec3.js';
import type { ImuSample } from '../src/tracts/io.js';
import type { Rng } from '../src/rng.js';
import type { RigidBodyState } from './types.js';
import { GRAVITY_MS2 } from './physics.js';

export interface ImuConfig {
  /** Output rate, Hz (≥ 200). */
  rateHz: number;
  /** Gyro white-noise density, rad/s/√Hz. */
  gyroNoiseDensity: number;
  /** Accelerometer white-noise density, m/s²/√Hz. */
  accelNoiseDensity: number;
  /** Gyro bias random walk, rad/s/√s. */
  gyroBiasWalk: number;
  /** Accelerometer bias random walk, m/s²/√s. */
  accelBiasWalk: number;
  /** Std of the initial gyro bias per axis (turn-on bias after FC calibration), rad/s. */
  gyroBiasStd: number;
  /** Std of the initial accelerometer bias per axis, m/s². */
  accelBiasStd: number;
  /** Sample → arrival latency, s. */
  latencyS: number;
  /** Gyro full-scale range, rad/s (±2000 °/s). */
  gyroRangeRadS: number;
  /** Accelerometer full-scale range, m/s² (±16 g). */
  accelRangeMS2: number;
  /**
   * A gyro bias step about body z the pad calibration never sees: added from gyroBiasShiftAtS on
   * (vibration rectification and motor heat shift a MEMS gyro's bias once the motors spin), rad/s.
   */
  gyroBiasShiftZRadS: number;
  /** When the bias step comes, s of sensor time (after the controller's at-rest calibration). */
  gyroBiasShiftAtS: number;
}

export const DEFAULT_IMU_CONFIG: Readonly<ImuConfig> = Object.freeze({
  rateHz: 500,
  gyroNoiseDensity: 0.003,
  accelNoiseDensity: 0.02,
  gyroBiasWalk: 1e-4,
  accelBiasWalk: 2e-3,
  gyroBiasStd: 0.01,
  accelBiasStd: 0.08,
  latencyS: 0.002,
  gyroRangeRadS: (2000 * Math.PI) / 180,
  accelRangeMS2: 16 * GRAVITY_MS2,
  gyroBiasShiftZRadS: 0,
  gyroBiasShiftAtS: 2,
});

const nonNeg = (what: string) =>
  z.number().refine(Number.isFinite, { message: `${what} must be a finite number` }).min(0, `${what} must be ≥ 0`);

export const ImuConfigSchema = z
  .object({
    rateHz: z.number().refine(Number.isFinite, { message: 'rateHz must be finite' }).min(200, 'rateHz must be ≥ 200 Hz').max(10_000, 'rateHz must be ≤ 10 kHz'),
    gyroNoiseDensity: nonNeg('gyroNoiseDensity (rad/s/√Hz)').max(1, 'gyroNoiseDensity must be ≤ 1 rad/s/√Hz'),
    accelNoiseDensity: nonNeg('accelNoiseDensity (m/s²/√Hz)').max(10, 'accelNoiseDensity must be ≤ 10 m/s²/√Hz'),
    gyroBiasWalk: nonNeg('gyroBiasWalk (rad/s/√s)'),
    accelBiasWalk: nonNeg('accelBiasWalk (m/s²/√s)'),
    gyroBiasStd: nonNeg('gyroBiasStd (rad/s)'),
    accelBiasStd: nonNeg('accelBiasStd (m/s²)'),
    latencyS: nonNeg('latencyS').max(1, 'latencyS must be ≤ 1 s'),
    gyroRangeRadS: z.number().positive('gyroRangeRadS must be > 0'),
    accelRangeMS2: z.number().positive('accelRangeMS2 must be > 0'),
    gyroBiasShiftZRadS: z.number().refine(Number.isFinite, { message: 'gyroBiasShiftZRadS must be a finite number' }).min(-1).max(1),
    gyroBiasShiftAtS: nonNeg('gyroBiasShiftAtS (s)'),
  })
  .strict();

/** Validate a partial config over the defaults; throws with a readable message. */
export const imuConfig = (overrides: Partial<ImuConfig> = {}): ImuConfig => {
  const r = ImuConfigSchema.safeParse({ ...DEFAULT_IMU_CONFIG, ...overrides });
  if (!r.success) {
    throw new Error(`invalid IMU config: ${r.error.issues.map((i) => `${i.path.map(String).join('.') || '(config)'}: ${i.message}`).join('; ')}`);
  }
  return r.data;
};

const clampAbs = (x: number, lim: number): number => (x > lim ? lim : x < -lim ? -lim : x);

export class ImuModel {
  readonly cfg: ImuConfig;
  /** Current biases (FLU). Drawn from the first sample's rng on first use. */
  readonly gyroBias: Vec3 = [0, 0, 0];
  readonly accelBias: Vec3 = [0, 0, 0];
  private biasInit = false;
  private lastS = NaN;
  private readonly gyroStd: number;
  private readonly accelStd: number;

  constructor(config: Partial<ImuConfig> = {}) {
    this.cfg = imuConfig(config);
    this.gyroStd = this.cfg.gyroNoiseDensity * Math.sqrt(this.cfg.rateHz);
    this.accelStd = this.cfg.accelNoiseDensity * Math.sqrt(this.cfg.rateHz);
  }

  get rateHz(): number {
    return this.cfg.rateHz;
  }

  get latencyS(): number {
    return this.cfg.latencyS;
  }

  /** Per-sample white-noise std: [gyro rad/s, accel m/s²]. */
  get noiseStd(): [number, number] {
    return [this.gyroStd, this.accelStd];
  }

  /** Forget the biases and the time base (next sample redraws the turn-on bias). */
  reset(): void {
    this.biasInit = false;
    this.lastS = NaN;
    this.gyroBias.fill(0);
    this.accelBias.fill(0);
  }

  /**
   * One sample of the true state at time tS (stampS = tS; it arrives at tS + latencyS). Biases walk
   * by the elapsed time since the previous sample (1/rateHz for the first). Pass `out` to reuse a
   * sample object.
   */
  sample(state: RigidBodyState, tS: number, rng: Rng, out?: ImuSample): ImuSample {
    const c = this.cfg;
    if (!this.biasInit) {
      for (let i = 0; i < 3; i++) {
        this.gyroBias[i] = c.gyroBiasStd * rng.gauss();
        this.accelBias[i] = c.accelBiasStd * rng.gauss();
      }
      this.biasInit = true;
    } else {
      const dt = Number.isFinite(this.lastS) ? Math.max(0, tS - this.lastS) : 1 / c.rateHz;
      const sq = Math.sqrt(dt);
      for (let i = 0; i < 3; i++) {
        this.gyroBias[i] = this.gyroBias[i]! + c.gyroBiasWalk * sq * rng.gauss();
        this.accelBias[i] = this.accelBias[i]! + c.accelBiasWalk * sq * rng.gauss();
      }
    }
    this.lastS = tS;

    // Specific force in the body frame: Rᵀ (a − [0, 0, −g]).
    const q = state.quat;
    const w = q[0], x = q[1], y = q[2], zq = q[3];
    const fx = state.accEnuMS2[0], fy = state.accEnuMS2[1], fz = state.accEnuMS2[2] + GRAVITY_MS2;
    // Rᵀ rows = R columns (R = body → world, row-major as in quatToMatrix).
    const r00 = 1 - 2 * (y * y + zq * zq), r01 = 2 * (x * y - w * zq), r02 = 2 * (x * zq + w * y);
    const r10 = 2 * (x * y + w * zq), r11 = 1 - 2 * (x * x + zq * zq), r12 = 2 * (y * zq - w * x);
    const r20 = 2 * (x * zq - w * y), r21 = 2 * (y * zq + w * x), r22 = 1 - 2 * (x * x + y * y);
    const bx = r00 * fx + r10 * fy + r20 * fz;
    const by = r01 * fx + r11 * fy + r21 * fz;
    const bz = r02 * fx + r12 * fy + r22 * fz;

    const s: ImuSample = out ?? { stampS: tS, gyroRadS: [0, 0, 0], accelMS2: [0, 0, 0] };
    s.stampS = tS;
    const om = state.rateFluRadS;
    for (let i = 0; i < 3; i++) {
      s.gyroRadS[i] = clampAbs(om[i]! + this.gyroBias[i]! + this.gyroStd * rng.gauss(), c.gyroRangeRadS);
    }
    if (c.gyroBiasShiftZRadS !== 0 && tS >= c.gyroBiasShiftAtS) s.gyroRadS[2] = clampAbs(s.gyroRadS[2] + c.gyroBiasShiftZRadS, c.gyroRangeRadS);
    s.accelMS2[0] = clampAbs(bx + this.accelBias[0] + this.accelStd * rng.gauss(), c.accelRangeMS2);
    s.accelMS2[1] = clampAbs(by + this.accelBias[1] + this.accelStd * rng.gauss(), c.accelRangeMS2);
    s.accelMS2[2] = clampAbs(bz + this.accelBias[2] + this.accelStd * rng.gauss(), c.accelRangeMS2);
    return s;
  }
}
