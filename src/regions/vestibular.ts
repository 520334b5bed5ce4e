/**
 * Vestibular nuclei (brainstem, innate): attitude from the IMU.
 *
 * Claim: a gyro calibrated at rest and integrated, corrected by what upright gates show (their
 * vertical edges give world-up, their plane normals against the map give heading), keeps the
 * attitude within about half a degree over a race (the accelerometer cannot observe tilt in
 * flight: it feels thrust, not gravity). It buys every other region a body→world rotation; without
 * the heading correction the gyro's residual bias turned the world ~5° over a race and sightings
 * 6 m away landed 0.5 m off (measured in flight). Measurement: attitude error vs truth in
 * test/vestibular.test.ts and in the closed-loop runs.
 *
 * Method: at rest before take-off (the drone sits on its start pad, as real FCs calibrate at
 * arming) average the gyro → bias, average the accelerometer → roll and pitch; yaw comes from the
 * start pose. Then integrate the bias-corrected gyro each sample; remove gravity from the rotated
 * specific force for the path integrator. A short history of attitudes lets delayed camera frames be
 * placed at the attitude they were exposed with.
 */
import { GRAVITY_MS2 } from '../math/constants.js';
import { quatFromEuler, quatToEuler, quatToEulerInto, type Quat } from '../math/quat.js';
import { isFiniteVec, type Vec3 } from '../math/vec3.js';
import type { ImuSample } from '../tracts/io.js';
import { refuseLearnedState, type LearnedState, type Region } from './region.js';

export interface VestibularConfig {
  /** Seconds of rest averaged for calibration. */
  calibrationS: number;
  /** Initial heading (from the start pose), rad. */
  initialYawRad: number;
  /** Attitude history kept for delayed measurements, s. */
  historyS: number;
}

export const VESTIBULAR_DEFAULTS: VestibularConfig = { calibrationS: 1.0, initialYawRad: 0, historyS: 0.5 };

export interface VestibularOutput {
  /** Body → world attitude estimate. */
  quat: Quat;
  /** Bias-corrected body rates, FLU rad/s. */
  rateRadS: Vec3;
  /** World acceleration, ENU m/s², gravity removed (0 at rest). */
  accEnuMS2: Vec3;
  /** True once the at-rest calibration is done. */
  calibrated: boolean;
  stampS: number;
  /** IMU samples refused (non-finite, time going backwards). */
  rejected: number;
}

/**
 * Vision tilt observation: an upright gate's vertical axis seen in the body frame. A tract the caller
 * reuses, so the doubles travel as fields (a double argument to a call TurboFan does not inline, as
 * correctTilt is not into the per-frame code, is boxed on the heap: 16 B a call).
 */
export interface TiltObservation {
  /** The gate's up direction, body frame (FLU), unit. */
  upBody: Vec3;
  /** Fraction of the way to move the estimate toward the observation, > 0. */
  gain: number;
  /** Exposure stamp of the observation, s (the attitude of that moment is corrected); NaN: now. */
  stampS: number;
}

/** Vision heading observation (a reused tract, as TiltObservation): rotate the heading by deltaRad. */
export interface YawObservation {
  deltaRad: number;
}

export class Vestibular implements Region<ImuSample, VestibularOutput> {
  readonly name = 'vestibular';
  readonly cfg: VestibularConfig;
  private quat: Quat = [1, 0, 0, 0];
  private readonly gyroBias: Vec3 = [0, 0, 0];
  private readonly sumGyro: Vec3 = [0, 0, 0];
  private readonly sumAcc: Vec3 = [0, 0, 0];
  private nCal = 0;
  private firstS = NaN;
  private lastS = NaN;
  private calibrated = false;
  private rejected = 0;
  private readonly prevRate: Vec3 = [0, 0, 0];
  private readonly qScratch: Quat = [1, 0, 0, 0];
  private readonly vScratch: Vec3 = [0, 0, 0];
  /** integrateInPlace's argument: mean body rate over the interval (rad/s, FLU) and the interval (s). */
  private readonly rateDt = new Float64Array(4);
  private readonly out: VestibularOutput;
  // ring buffer of (t, w, x, y, z)
  private readonly hist: Float64Array;
  private histHead = 0;
  private histLen = 0;
  private readonly histCap: number;

  constructor(cfg: Partial<VestibularConfig> = {}) {
    this.cfg = { ...VESTIBULAR_DEFAULTS, ...cfg };
    this.histCap = Math.ceil(this.cfg.historyS * 2000) + 8;
    this.hist = new Float64Array(this.histCap * 5);
    this.quat = quatFromEuler(0, 0, this.cfg.initialYawRad);
    this.out = { quat: this.quat, rateRadS: [0, 0, 0], accEnuMS2: [0, 0, 0], calibrated: false, stampS: 0, rejected: 0 };
  }

  step(s: ImuSample, _dtS = 0): VestibularOutput {
    if (!isFiniteVec(s.gyroRadS) || !isFiniteVec(s.accelMS2) || !Number.isFinite(s.stampS) || s.stampS <= this.lastS) {
      this.rejected++;
      this.out.rejected = this.rejected;
      return this.out;
    }
    const dt = Number.isNaN(this.lastS) ? 0 : Math.min(0.02, s.stampS - this.lastS);
    this.lastS = s.stampS;
    if (Number.isNaN(this.firstS)) this.firstS = s.stampS;
    if (!this.calibrated) {
      for (let i = 0; i < 3; i++) {
        this.sumGyro[i] = this.sumGyro[i]! + s.gyroRadS[i]!;
        this.sumAcc[i] = this.sumAcc[i]! + s.accelMS2[i]!;
      }
      this.nCal++;
      if (s.stampS - this.firstS >= this.cfg.calibrationS) this.finishCalibration();
    } else {
      const r = this.out.rateRadS, p = this.prevRate;
      r[0] = s.gyroRadS[0] - this.gyroBias[0];
      r[1] = s.gyroRadS[1] - this.gyroBias[1];
      r[2] = s.gyroRadS[2] - this.gyroBias[2];
      // trapezoidal: the rate over the interval is the mean of its two end samples (passed in an
      // array with dt: double arguments to a call that is not inlined are boxed on the heap)
      const w = this.rateDt;
      w[0] = (r[0] + p[0]) / 2;
      w[1] = (r[1] + p[1]) / 2;
      w[2] = (r[2] + p[2]) / 2;
      w[3] = dt;
      integrateInPlace(this.quat, w);
      p[0] = r[0];
      p[1] = r[1];
      p[2] = r[2];
    }
    // world acceleration, gravity removed (in place: this runs at the IMU rate)
    const acc = this.out.accEnuMS2;
    if (this.calibrated) {
      rotateInto(this.quat, s.accelMS2, acc);
      acc[2] -= GRAVITY_MS2;
    } else {
      acc[0] = acc[1] = acc[2] = 0;
    }
    this.out.quat = this.quat;
    this.out.calibrated = this.calibrated;
    this.out.stampS = s.stampS;
    this.pushHistory();
    return this.out;
  }

  private finishCalibration(): void {
    const n = Math.max(1, this.nCal);
    for (let i = 0; i < 3; i++) this.gyroBias[i] = this.sumGyro[i]! / n;
    const ax = this.sumAcc[0] / n, ay = this.sumAcc[1] / n, az = this.sumAcc[2] / n;
    // at rest the accelerometer reads +g along world up, expressed in the body frame
    const roll = Math.atan2(ay, az);
    const pitch = Math.atan2(-ax, Math.hypot(ay, az));
    this.quat = quatFromEuler(roll, pitch, this.cfg.initialYawRad);
    this.calibrated = true;
    this.prevRate.fill(0);
  }

  /** Record the attitude at the last accepted sample's stamp (lastS). */
  private pushHistory(): void {
    const i = this.histHead * 5;
    this.hist[i] = this.lastS;
    this.hist[i + 1] = this.quat[0];
    this.hist[i + 2] = this.quat[1];
    this.hist[i + 3] = this.quat[2];
    this.hist[i + 4] = this.quat[3];
    this.histHead = (this.histHead + 1) % this.histCap;
    if (this.histLen < this.histCap) this.histLen++;
  }

  /**
   * Vision correction of tilt: an upright gate's vertical axis seen in the body frame (`upBody`, unit)
   * tells where world-up is. Rotate the estimate a fraction `gain` of the way so its predicted up
   * agrees; only roll and pitch change (the correction axis is perpendicular to up). The angle
   * between predicted and observed up is left in lastTiltErrorRad (a field, not a return value: a
   * double returned from a call that is not inlined is boxed). The work is done in attitudeAtArg
   * (see there why); this wrapper touches no double.
   */
  correctTilt(obs: TiltObservation): void {
    this.attitudeAtArg(this.qScratch, obs, obs, null);
  }

  /** The last correctTilt's angle between predicted and observed up, rad (0 if it was refused). */
  lastTiltErrorRad = 0;

  /**
   * Vision correction of heading: rotate the attitude estimate about world up by `deltaRad` (the
   * heading error a gate's plane normal revealed, times a small gain). The gyro's residual z bias
   * otherwise turns the whole world by ~5° over a 30 s race. Done in attitudeAtArg, as correctTilt.
   */
  correctYaw(obs: YawObservation): void {
    this.attitudeAtArg(this.qScratch, null, null, obs);
  }

  /** Vision heading corrections applied so far. */
  yawCorrections = 0;

  /** Vision tilt corrections applied so far. */
  tiltCorrections = 0;

  /** The attitude estimate at (or just before) time tS, for placing a delayed frame (a fresh copy). */
  attitudeAt(tS: number): Quat {
    return this.attitudeAtInto(tS, [0, 0, 0, 0]);
  }

  /** attitudeAt written into `out` (no allocation: this runs on every frame). */
  attitudeAtInto(tS: number, out: Quat): Quat {
    this.tArg[0] = tS;
    return this.attitudeAtArg(out, null, null, null);
  }

  /**
   * attitudeAtInto at a sample's stamp (`sample.stampS`, e.g. a camera frame's exposure). Per-frame
   * callers use this form: a double loaded from a field and passed to a call V8 does not inline is
   * boxed (16 B). The stamp is read in attitudeAtArg, which is optimised early: this wrapper, when
   * not inlined, runs unoptimised and must not touch a double (it would be boxed there too).
   */
  attitudeOfInto(sample: { readonly stampS: number }, out: Quat): Quat {
    return this.attitudeAtArg(out, sample, null, null);
  }

  /** The stamp for attitudeAtArg (a typed-array slot, not a boxed argument). */
  private readonly tArg = new Float64Array(1);

  /** [axis x, y, z, angle] for rotateWorldInPlace: doubles passed in an array, not as call arguments (V8 boxes those). */
  private readonly axisAngle = new Float64Array(4);

  /**
   * The attitude at `at.stampS` (else at tArg[0]) into `out`; with an observation, the vision
   * correction it carries (correctTilt, correctYaw: two parameters, not one of either type, so that
   * each field read sees one object layout; read through a union, a double field is boxed). The corrections are written in this
   * method, not in their own, on purpose: V8 optimises a function only once it has run ~1 MB of
   * bytecode, which this lookup (a loop over the history, twice a frame) does within seconds, while
   * the corrections alone (a few calls a second) took ~40 s and ran unoptimised until then, every
   * intermediate a 16 B heap number.
   */
  private attitudeAtArg(out: Quat, at: { readonly stampS: number } | null, obs: TiltObservation | null, yaw: YawObservation | null): Quat {
    if (yaw !== null) {
      const deltaRad = yaw.deltaRad;
      if (!this.calibrated || !Number.isFinite(deltaRad) || deltaRad === 0) return out;
      const aa = this.axisAngle;
      aa[0] = 0;
      aa[1] = 0;
      aa[2] = 1;
      aa[3] = deltaRad;
      rotateWorldInPlace(this.quat, aa);
      this.yawCorrections++;
      return out;
    }
    // a tilt observation: refused unless calibrated, finite, with a positive gain and a direction
    let ox = 0, oy = 0, oz = 0, gain = 0;
    if (obs !== null) {
      const upBody = obs.upBody;
      gain = obs.gain;
      this.lastTiltErrorRad = 0;
      if (!this.calibrated || !isFiniteVec(upBody) || !(gain > 0)) return out;
      const n = Math.sqrt(upBody[0] * upBody[0] + upBody[1] * upBody[1] + upBody[2] * upBody[2]);
      if (n < 0.5) return out;
      ox = upBody[0] / n;
      oy = upBody[1] / n;
      oz = upBody[2] / n;
    }
    // the lookup: the newest history entry at or before tS, else the current attitude
    const tS = at !== null ? at.stampS : this.tArg[0]!;
    let found = false;
    for (let k = 1; k <= this.histLen; k++) {
      const i = ((this.histHead - k + this.histCap) % this.histCap) * 5;
      if (this.hist[i]! <= tS) {
        out[0] = this.hist[i + 1]!;
        out[1] = this.hist[i + 2]!;
        out[2] = this.hist[i + 3]!;
        out[3] = this.hist[i + 4]!;
        found = true;
        break;
      }
    }
    if (!found) {
      out[0] = this.quat[0];
      out[1] = this.quat[1];
      out[2] = this.quat[2];
      out[3] = this.quat[3];
    }
    if (obs === null) return out;
    // tilt: the observation belongs to the attitude of its exposure, qs (= out); predicted up in
    // the body frame: R(qs)ᵀ·e_z, the third row of R(qs)
    const qs = out;
    const qw = qs[0], qx = qs[1], qy = qs[2], qz = qs[3];
    const px = 2 * (qx * qz - qw * qy), py = 2 * (qy * qz + qw * qx), pz = 1 - 2 * (qx * qx + qy * qy);
    // δθ_body = gain · (observed × predicted) moves the predicted up onto the observed; applied in
    // the world frame (R_s·δθ) it corrects the current attitude the same way
    const dx = oy * pz - oz * py, dy = oz * px - ox * pz, dz = ox * py - oy * px;
    const err = Math.asin(Math.min(1, Math.sqrt(dx * dx + dy * dy + dz * dz)));
    const v = this.vScratch;
    v[0] = dx * gain;
    v[1] = dy * gain;
    v[2] = dz * gain;
    rotateInto(qs, v, v);
    const aa = this.axisAngle;
    aa[0] = v[0];
    aa[1] = v[1];
    aa[2] = v[2];
    aa[3] = Math.sqrt(v[0] * v[0] + v[1] * v[1] + v[2] * v[2]);
    rotateWorldInPlace(this.quat, aa);
    this.tiltCorrections++;
    this.lastTiltErrorRad = err;
    return out;
  }

  /** The latest bias-corrected body rates, FLU rad/s. */
  get rateEstimate(): Vec3 {
    return this.out.rateRadS;
  }

  /** The current attitude estimate, body → world. */
  get quatEstimate(): Quat {
    return this.quat;
  }

  /** [roll, pitch, yaw] of the current estimate, rad (a fresh array). */
  get euler(): Vec3 {
    return quatToEuler(this.quat);
  }

  /** `euler` written into `out` (no allocation: the command tick reads it). */
  eulerInto(out: Vec3): Vec3 {
    return quatToEulerInto(this.quat, out);
  }

  get isCalibrated(): boolean {
    return this.calibrated;
  }

  saveState(): LearnedState | null {
    return null;
  }

  /** Innate (the gyro bias is re-measured at rest before every flight): a snapshot is refused, not ignored. */
  loadState(s: LearnedState): void {
    refuseLearnedState(this.name, s);
  }

  reset(): void {
    this.quat = quatFromEuler(0, 0, this.cfg.initialYawRad);
    this.gyroBias.fill(0);
    this.sumGyro.fill(0);
    this.sumAcc.fill(0);
    this.nCal = 0;
    this.firstS = NaN;
    this.lastS = NaN;
    this.calibrated = false;
    this.histLen = 0;
  }
}

/** q ← normalize(q ⊗ exp(ω dt / 2)) in place, wDt = [ωx, ωy, ωz, dt] (no allocation: this runs at the IMU rate). */
function integrateInPlace(q: Quat, wDt: Float64Array): void {
  const wx = wDt[0]!, wy = wDt[1]!, wz = wDt[2]!, dt = wDt[3]!;
  const ang = Math.sqrt(wx * wx + wy * wy + wz * wz) * dt;
  if (!(ang > 1e-12)) return;
  const h = ang / 2, k = Math.sin(h) / (ang / dt);
  const bw = Math.cos(h), bx = wx * k, by = wy * k, bz = wz * k;
  const aw = q[0], ax = q[1], ay = q[2], az = q[3];
  const w = aw * bw - ax * bx - ay * by - az * bz;
  const x = aw * bx + ax * bw + ay * bz - az * by;
  const y = aw * by - ax * bz + ay * bw + az * bx;
  const z = aw * bz + ax * by - ay * bx + az * bw;
  const n = Math.sqrt(w * w + x * x + y * y + z * z) || 1;
  q[0] = w / n;
  q[1] = x / n;
  q[2] = y / n;
  q[3] = z / n;
}

/**
 * q ← normalize(exp(axis·angle / 2) ⊗ q) in place: a rotation by axisAngle[3] rad about the
 * world-frame axis axisAngle[0..2] (need not be unit; a zero axis is no rotation), as quatFromAxisAngle + quatMul +
 * quatNormalize did, without the temporaries.
 */
function rotateWorldInPlace(q: Quat, axisAngle: Float64Array): void {
  const ax = axisAngle[0]!, ay = axisAngle[1]!, az = axisAngle[2]!, angleRad = axisAngle[3]!;
  const an = Math.sqrt(ax * ax + ay * ay + az * az) || 1;
  const k = Math.sin(angleRad / 2) / an;
  const bw = Math.cos(angleRad / 2), bx = ax * k, by = ay * k, bz = az * k;
  const aw = q[0], qx = q[1], qy = q[2], qz = q[3];
  const w = bw * aw - bx * qx - by * qy - bz * qz;
  const x = bw * qx + bx * aw + by * qz - bz * qy;
  const y = bw * qy - bx * qz + by * aw + bz * qx;
  const z = bw * qz + bx * qy - by * qx + bz * aw;
  const n = Math.sqrt(w * w + x * x + y * y + z * z);
  if (n > 1e-12) {
    q[0] = w / n;
    q[1] = x / n;
    q[2] = y / n;
    q[3] = z / n;
  } else {
    q[0] = 1;
    q[1] = q[2] = q[3] = 0;
  }
}

/** out ← q ⊗ v ⊗ q* (body → world), in place (out may be v). */
function rotateInto(q: Quat, v: ArrayLike<number>, out: Vec3): void {
  const w = q[0], x = q[1], y = q[2], z = q[3];
  const vx = v[0]!, vy = v[1]!, vz = v[2]!;
  const tx = 2 * (y * vz - z * vy), ty = 2 * (z * vx - x * vz), tz = 2 * (x * vy - y * vx);
  out[0] = vx + w * tx + (y * tz - z * ty);
  out[1] = vy + w * ty + (z * tx - x * tz);
  out[2] = vz + w * tz + (x * ty - y * tx);
}
