/**
 * Motor stage, innate: from "where should the vehicle accelerate" to what the FC or the motors take.
 *
 * Claim. It buys a shared, physically meaningful action space: the colliculus and the learners speak in
 * world accelerations + heading, and this stage turns that into collective thrust + body rates (CTBR)
 * with gravity compensation, a tilt limit and thrust limits, so nothing upstream has to learn rigid-body
 * kinematics. RateLoop + mixToMotors make direct motor output possible without an FC. Measured by:
 * test/motor.test.ts (zero in → zero out; signs of every axis; a closed-loop kinematic check that the
 * thrust axis converges onto the commanded acceleration; saturation keeps the torque's sign) and, in the
 * sim, the innate-first run (hover and first gate with every learned module empty).
 *
 * Conventions: world ENU, body FLU, quaternion body → world (src/math/quat.ts). Positive roll rate (+x)
 * drops the right side, positive pitch rate (+y) drops the nose, positive yaw rate (+z) turns left (CCW
 * from above). Motor order Betaflight quad-X: 0 RR (CW), 1 FR (CCW), 2 RL (CCW), 3 FL (CW); a CW prop's
 * reaction torque on the body is +z; positions RR (−ax, −ay), FR (+ax, −ay), RL (−ax, +ay), FL (+ax, +ay);
 * per-motor thrust = motorMaxThrustN · u².
 */
import { z } from 'zod';
import type { Quat } from '../math/quat.js';
import type { Vec3 } from '../math/vec3.js';
import type { CtbrCommand, MotorsCommand } from '../tracts/io.js';
import { clampDt, refuseLearnedState, type LearnedState, type Region } from './region.js';

const DEG = Math.PI / 180;

const pos = () => z.number().positive();
const nonNeg = () => z.number().nonnegative();
const vec3Of = (item: () => z.ZodNumber) => z.tuple([item(), item(), item()]);

function parseOrThrow<S extends z.ZodType>(schema: S, raw: unknown, source: string): z.output<S> {
  const res = schema.safeParse(raw);
  if (res.success) return res.data;
  const lines = res.error.issues.map((iss) => {
    const where = iss.path.length > 0 ? iss.path.map(String).join('.') : '(root)';
    if (iss.code === 'unrecognized_keys') return `${iss.keys.join(', ')}: unknown key`;
    return `${where}: ${iss.message}`;
  });
  throw new Error(`${source}: invalid config:\n  ${lines.join('\n  ')}`);
}

const clampAbs = (x: number, lim: number): number => (x < -lim ? -lim : x > lim ? lim : x);

// ---------------------------------------------------------------------------------------------------
// MotorStage: desired world acceleration + yaw + attitude → CTBR
// ---------------------------------------------------------------------------------------------------

export const motorStageConfigSchema = z
  .strictObject({
    /** Vehicle mass, kg. Required. */
    massKg: pos(),
    /** Upper collective-thrust limit, N (e.g. 4·motorMaxThrustN). Required. */
    maxThrustN: pos(),
    /** Lower collective-thrust limit, N. */
    minThrustN: nonNeg().default(0),
    gravityMS2: pos().default(9.81),
    /** Attitude P gains [roll, pitch, yaw]: body rate (rad/s) per radian of attitude error, 1/s. */
    attitudeGainsPerS: vec3Of(pos).default([10, 10, 4]),
    /** Maximum angle between the commanded thrust axis and world up, rad (< 89°). Keep ≤ the guard's. */
    maxTiltRad: z.number().gt(0).lt(89 * DEG).default(60 * DEG),
    /** Per-axis body-rate limit, rad/s. Keep ≤ the guard's. */
    maxRateRadS: vec3Of(pos).default([10, 10, 4]),
  })
  .superRefine((c, ctx) => {
    if (c.minThrustN >= c.maxThrustN) ctx.addIssue({ code: 'custom', path: ['minThrustN'], message: 'must be < maxThrustN' });
  });

export type MotorStageConfigInput = z.input<typeof motorStageConfigSchema>;
export type MotorStageConfig = z.output<typeof motorStageConfigSchema>;
export const parseMotorStageConfig = (raw: unknown, source = 'motor stage'): MotorStageConfig =>
  parseOrThrow(motorStageConfigSchema, raw, source);

/** Heading setpoint: an ENU yaw angle (CCW from east), or a body yaw rate (+z = turn left). */
export type YawSetpoint = { mode: 'angle'; yawRad: number } | { mode: 'rate'; yawRateRadS: number };

export interface MotorStageInput {
  stampS: number;
  /** Desired acceleration of the vehicle, ENU m/s², gravity NOT included ([0, 0, 0] = hover). */
  accelEnuMS2: Vec3;
  yaw: YawSetpoint;
  /** Current attitude estimate, body → world. */
  attitude: Quat;
}

/**
 * One step's result. The object (and its `cmd`) is owned by the MotorStage and overwritten by the
 * next step: valid until then; copy it to keep it (e.g. to queue a command).
 */
export interface MotorStageOutput {
  cmd: CtbrCommand;
  /** The commanded thrust axis was pulled back to maxTiltRad. */
  tiltLimited: boolean;
  /** Collective thrust hit minThrustN or maxThrustN. */
  thrustSaturated: boolean;
  /** Rates were scaled into maxRateRadS. */
  rateSaturated: boolean;
  /** Non-finite input fields replaced this tick (accel → 0, yaw → rate 0, attitude → no rate command). */
  replacedNonFinite: number;
}


/**
 * Differential-flatness-style attitude controller (Mellinger & Kumar 2011; Faessler et al. 2018):
 *  1. thrust vector f = m·(a_des + g·e_z); if its tilt exceeds maxTiltRad the horizontal part is cut to
 *     tan(maxTilt)·f_z (vertical has priority); f_z < 0 (dive faster than free fall) is floored at 0;
 *  2. collective thrust = f · z_body (projection on the current thrust axis), clamped to the limits;
 *  3. desired attitude: z_des = f/|f|. With a yaw angle: ZYX heading (body x's ground projection
 *     points at the yaw, as in quatToEuler). With a yaw rate: the minimal (tilt-only) rotation taking
 *     z_body onto z_des, plus the yaw rate as feedforward about body z;
 *  4. q_e = q⁻¹ ⊗ q_des (shortest way), rates = 2·K ⊙ q_e.xyz; roll/pitch scaled together into the
 *     rate limit (the rotation axis is preserved), yaw clamped on its own.
 */
export class MotorStage implements Region<MotorStageInput, MotorStageOutput> {
  readonly name = 'motor.stage';
  readonly config: Readonly<MotorStageConfig>;
  /** Cumulative count of replaced non-finite input fields. */
  replacedNonFiniteTotal = 0;
  // Number fields are declared `= 0` (set in the constructor): a field declared bare starts as
  // undefined, so V8 stores it as a tagged heap number, and a double merged with it is boxed too.
  private readonly sinTilt: number = 0;
  private readonly cosTilt: number = 0;
  private readonly tanTilt: number = 0;
  /**
   * The thrust limits as number fields: read from the frozen config they are values of unknown type
   * to V8, and `thrust = c.minThrustN` on one branch made it box every thrust on the heap (16 B a tick).
   */
  private readonly minThrustN: number = 0;
  private readonly maxThrustN: number = 0;
  /** The output, reused by every step (the command tick allocates nothing). */
  private readonly out: MotorStageOutput = {
    cmd: { kind: 'ctbr', stampS: 0, thrustN: 0, rateRadS: [0, 0, 0] },
    tiltLimited: false,
    thrustSaturated: false,
    rateSaturated: false,
    replacedNonFinite: 0,
  };

  constructor(config: MotorStageConfigInput) {
    this.config = Object.freeze(parseMotorStageConfig(config));
    this.sinTilt = Math.sin(this.config.maxTiltRad);
    this.cosTilt = Math.cos(this.config.maxTiltRad);
    this.tanTilt = Math.tan(this.config.maxTiltRad);
    this.minThrustN = this.config.minThrustN;
    this.maxThrustN = this.config.maxThrustN;
  }

  step(input: MotorStageInput, _dtS: number): MotorStageOutput {
    const c = this.config;
    let replaced = 0;
    const acc = input.accelEnuMS2;
    // helpers inlined by hand in this function: it is too big for TurboFan to inline calls into it,
    // and a call that is not inlined boxes its double arguments and result on the heap
    // (read each component once as a number: a value that may also be undefined lives boxed)
    let ax = NaN, ay = NaN, az = NaN;
    if (acc) {
      ax = acc[0];
      ay = acc[1];
      az = acc[2];
    }
    if (!Number.isFinite(ax)) { ax = 0; replaced++; }
    if (!Number.isFinite(ay)) { ay = 0; replaced++; }
    if (!Number.isFinite(az)) { az = 0; replaced++; }

    // Attitude: finite and normalisable, else no rate command (the rate loop holds the attitude).
    let qw = 1, qx = 0, qy = 0, qz = 0;
    const q = input.attitude;
    let haveAtt = false;
    if (q && Number.isFinite(q[0]) && Number.isFinite(q[1]) && Number.isFinite(q[2]) && Number.isFinite(q[3])) {
      const n = Math.sqrt(q[0] * q[0] + q[1] * q[1] + q[2] * q[2] + q[3] * q[3]);
      if (n > 1e-6 && Number.isFinite(n)) {
        qw = q[0] / n; qx = q[1] / n; qy = q[2] / n; qz = q[3] / n;
        haveAtt = true;
      }
    }
    if (!haveAtt) replaced++;

    // 1. Thrust vector with tilt limit (vertical priority).
    const m = c.massKg;
    const fx = m * ax, fy = m * ay, fz = Math.max(0, m * (az + c.gravityMS2));
    const h = Math.sqrt(fx * fx + fy * fy);
    let flx = fx, fly = fy, flz = fz;
    let dx: number, dy: number, dz: number;
    let tiltLimited = false;
    if (h > this.tanTilt * fz) {
      tiltLimited = true;
      dx = (this.sinTilt * fx) / h; dy = (this.sinTilt * fy) / h; dz = this.cosTilt;
      const mag = fz / this.cosTilt;
      flx = dx * mag; fly = dy * mag; flz = dz * mag;
    } else {
      const n = Math.sqrt(fx * fx + fy * fy + fz * fz);
      if (n > 1e-9) {
        dx = fx / n; dy = fy / n; dz = fz / n;
      } else {
        dx = 0; dy = 0; dz = 1;
      }
    }

    // Current body z in the world (third column of R(q)).
    const zbx = 2 * (qx * qz + qw * qy), zby = 2 * (qy * qz - qw * qx), zbz = 1 - 2 * (qx * qx + qy * qy);

    // 2. Collective thrust: projection onto the current thrust axis.
    let thrust = haveAtt ? flx * zbx + fly * zby + flz * zbz : Math.sqrt(flx * flx + fly * fly + flz * flz);
    let thrustSaturated = false;
    if (!(thrust >= this.minThrustN)) {
      thrust = this.minThrustN;
      thrustSaturated = true;
    } else if (thrust > this.maxThrustN) {
      thrust = this.maxThrustN;
      thrustSaturated = true;
    }

    // 3–4. Attitude error → body rates.
    let ex = 0, ey = 0, ez = 0, yawFf = 0;
    if (haveAtt) {
      const yaw = input.yaw;
      let angleMode = false;
      let yawRad = 0;
      if (yaw?.mode === 'angle') {
        if (Number.isFinite(yaw.yawRad)) {
          angleMode = true;
          yawRad = yaw.yawRad;
        } else replaced++;
      } else if (yaw?.mode === 'rate') {
        if (Number.isFinite(yaw.yawRateRadS)) yawFf = yaw.yawRateRadS;
        else replaced++;
      } else replaced++;

      // q⁻¹ = conj(q) (unit), as scalars: no temporary arrays on the command tick.
      const cw = qw, cx = -qx, cy = -qy, cz = -qz;
      let ew: number;
      if (angleMode) {
        // ZYX heading (Faessler et al.): x_des = normalize(y_c × z_des), y_des = z_des × x_des with
        // y_c = [−sin ψ, cos ψ, 0], so the ground projection of body x points exactly at ψ (the yaw of
        // quatToEuler). z_des keeps a positive vertical part (tilt < 89°) and y_c is horizontal, so the
        // cross product never vanishes.
        const ycx = -Math.sin(yawRad), ycy = Math.cos(yawRad);
        let xx = ycy * dz, xy = -ycx * dz, xz = ycx * dy - ycy * dx;
        const xn = Math.sqrt(xx * xx + xy * xy + xz * xz);
        xx /= xn; xy /= xn; xz /= xn;
        const yx = dy * xz - dz * xy, yy = dz * xx - dx * xz, yz = dx * xy - dy * xx;
        // q_d from the rotation matrix with columns x_des, y_des, z_des (Shepperd), inlined: a call
        // with nine double arguments that TurboFan does not inline boxes every one of them
        const m00 = xx, m10 = xy, m20 = xz, m01 = yx, m11 = yy, m21 = yz, m02 = dx, m12 = dy, m22 = dz;
        const tr = m00 + m11 + m22;
        // Every Shepperd case is computed and one is picked: a case first taken mid-flight would
        // otherwise deoptimise step() (no type feedback there yet) and run it unoptimised for seconds.
        const s0 = Math.sqrt(Math.max(0, tr + 1)) * 2, s1 = Math.sqrt(Math.max(0, 1 + m00 - m11 - m22)) * 2;
        const s2 = Math.sqrt(Math.max(0, 1 + m11 - m00 - m22)) * 2, s3 = Math.sqrt(Math.max(0, 1 + m22 - m00 - m11)) * 2;
        // (every comparison runs on every call, so each has type feedback; the selects test booleans)
        const c0 = tr > 0, g01 = m00 > m11, g02 = m00 > m22, c2 = m11 > m22;
        const e0 = c0, e1 = !c0 && g01 && g02, e2 = !c0 && !e1 && c2;
        const sd = e0 ? s0 : e1 ? s1 : e2 ? s2 : s3;
        const a21 = (m21 - m12) / sd, a02 = (m02 - m20) / sd, a10 = (m10 - m01) / sd;
        const b01 = (m01 + m10) / sd, b02 = (m02 + m20) / sd, b12 = (m12 + m21) / sd, qs = 0.25 * sd;
        let dw = e0 ? qs : e1 ? a21 : e2 ? a02 : a10;
        let dqx = e0 ? a21 : e1 ? qs : e2 ? b01 : b02;
        let dqy = e0 ? a02 : e1 ? b01 : e2 ? qs : b12;
        let dqz = e0 ? a10 : e1 ? b02 : e2 ? b12 : qs;
        const qn = Math.sqrt(dw * dw + dqx * dqx + dqy * dqy + dqz * dqz);
        dw /= qn; dqx /= qn; dqy /= qn; dqz /= qn;
        // q_e = q⁻¹ ⊗ q_d
        ew = cw * dw - cx * dqx - cy * dqy - cz * dqz;
        ex = cw * dqx + cx * dw + cy * dqz - cz * dqy;
        ey = cw * dqy - cx * dqz + cy * dw + cz * dqx;
        ez = cw * dqz + cx * dqy - cy * dqx + cz * dw;
      } else {
        // Tilt-only: rotate body z onto d about e_z × d_body (no yaw component by construction).
        // d_body = q⁻¹ · d (the vector rotation of src/math/quat.ts, inlined on scalars).
        const tx = 2 * (cy * dz - cz * dy), ty = 2 * (cz * dx - cx * dz), tz = 2 * (cx * dy - cy * dx);
        const dbx = dx + cw * tx + (cy * tz - cz * ty), dby = dy + cw * ty + (cz * tx - cx * tz), dbz = dz + cw * tz + (cx * ty - cy * tx);
        const axx = -dby, axy = dbx;
        const s = Math.sqrt(axx * axx + axy * axy);
        const ang = Math.atan2(s, dbz);
        let ux = 1, uy = 0;
        if (s > 1e-12) {
          ux = axx / s; uy = axy / s;
        }
        ew = Math.cos(ang / 2);
        const sh = Math.sin(ang / 2);
        ex = ux * sh; ey = uy * sh; ez = 0;
      }
      // shortest way; a multiply, not a rarely taken branch whose first use would deoptimise step()
      const sg = ew < 0 ? -1 : 1;
      ex *= sg; ey *= sg; ez *= sg;
    }
    const k = c.attitudeGainsPerS;
    let wx = 2 * k[0] * ex, wy = 2 * k[1] * ey;
    const lx = c.maxRateRadS[0], ly = c.maxRateRadS[1], lz = c.maxRateRadS[2];
    const wz = Math.min(lz, Math.max(-lz, 2 * k[2] * ez + yawFf));
    let rateSaturated = Math.abs(2 * k[2] * ez + yawFf) > c.maxRateRadS[2];
    let s = 1;
    if (Math.abs(wx) > c.maxRateRadS[0]) s = Math.min(s, c.maxRateRadS[0] / Math.abs(wx));
    if (Math.abs(wy) > c.maxRateRadS[1]) s = Math.min(s, c.maxRateRadS[1] / Math.abs(wy));
    if (s < 1) rateSaturated = true;
    // Clamp after scaling too: s·wx can overshoot the limit by one ulp.
    wx = Math.min(lx, Math.max(-lx, wx * s));
    wy = Math.min(ly, Math.max(-ly, wy * s));

    this.replacedNonFiniteTotal += replaced;
    const out = this.out, cmd = out.cmd, r = cmd.rateRadS;
    cmd.stampS = Number.isFinite(input.stampS) ? input.stampS : 0;
    cmd.thrustN = thrust;
    // finite or 0; `+ 0` also turns −0 into +0, so a zero command is exactly zero
    r[0] = Number.isFinite(wx) ? wx + 0 : 0;
    r[1] = Number.isFinite(wy) ? wy + 0 : 0;
    r[2] = Number.isFinite(wz) ? wz + 0 : 0;
    out.tiltLimited = tiltLimited;
    out.thrustSaturated = thrustSaturated;
    out.rateSaturated = rateSaturated;
    out.replacedNonFinite = replaced;
    return out;
  }

  saveState(): LearnedState | null {
    return null;
  }

  loadState(s: LearnedState): void {
    refuseLearnedState(this.name, s);
  }

  reset(): void {
    this.replacedNonFiniteTotal = 0;
  }
}


// ---------------------------------------------------------------------------------------------------
// Mixer: collective thrust + body torques → four normalised motor commands (quad-X, Betaflight order)
// ---------------------------------------------------------------------------------------------------

export const mixerGeometrySchema = z.strictObject({
  /** Motor offset from the centre along body x, m. */
  armXM: pos(),
  /** Motor offset from the centre along body y, m. */
  armYM: pos(),
  /** Thrust of one motor at command 1, N (thrust = max·u²). */
  motorMaxThrustN: pos(),
  /** Prop reaction torque per newton of thrust, N·m/N. */
  yawTorquePerThrustM: pos(),
  /** Lowest command while armed (Betaflight dshot idle), fraction of max speed. */
  motorIdle: z.number().min(0).max(0.3).default(0),
});
export type MixerGeometryInput = z.input<typeof mixerGeometrySchema>;
export type MixerGeometry = z.output<typeof mixerGeometrySchema>;
export const parseMixerGeometry = (raw: unknown, source = 'mixer geometry'): MixerGeometry =>
  parseOrThrow(mixerGeometrySchema, raw, source);

export interface MixDemand {
  /** Collective thrust, N. */
  thrustN: number;
  /** Body torque demand, FLU N·m. */
  torqueNm: Readonly<Vec3>;
}

export interface MixResult {
  /** Normalised commands in [motorIdle, 1], order RR, FR, RL, FL. */
  motors: [number, number, number, number];
  /** The torque demand had to be reduced to fit the motors' range. */
  saturated: boolean;
  /** Factor applied to the roll/pitch torque (1 = full). */
  rpScale: number;
  /** Factor applied to the yaw torque (1 = full). */
  yawScale: number;
  /** Non-finite demand fields replaced by 0 in this call. */
  replacedNonFinite: number;
}

export const newMixResult = (): MixResult => ({ motors: [0, 0, 0, 0], saturated: false, rpScale: 1, yawScale: 1, replacedNonFinite: 0 });

const rpScratch = new Float64Array(4);
const ywScratch = new Float64Array(4);

function range4(rp: Float64Array, yw: Float64Array, s: number): number {
  let hi = -Infinity, lo = Infinity;
  for (let i = 0; i < 4; i++) {
    const t = rp[i]! + s * yw[i]!;
    if (t > hi) hi = t;
    if (t < lo) lo = t;
  }
  return hi - lo;
}

/**
 * Mix collective thrust + torques into four motor commands. Allocation inverse of the quad-X
 * geometry: τx = ay·(−T0 − T1 + T2 + T3), τy = ax·(T0 − T1 + T2 − T3), τz = k·(T0 − T1 − T2 + T3).
 * Saturation (airmode-like): when the differential demand exceeds the per-motor range, yaw is reduced
 * first, then roll/pitch scaled together (axis preserved); then the collective is shifted into the
 * range (attitude authority wins over altitude). Commands u = √(T/Tmax), clamped to [idle, 1].
 * Non-finite thrust/torques are treated as 0 (counted). `geometry` must come from parseMixerGeometry.
 * Writes into `out` (no allocation when it is passed) and returns it.
 */
export function mixToMotors(demand: MixDemand, geometry: MixerGeometry, out: MixResult = newMixResult()): MixResult {
  let replaced = 0;
  // (each read once as a number: a value that may also be undefined lives boxed on the heap)
  let thrustN = demand.thrustN;
  const tq = demand.torqueNm;
  let tauX = NaN, tauY = NaN, tauZ = NaN;
  if (tq) {
    tauX = tq[0];
    tauY = tq[1];
    tauZ = tq[2];
  }
  if (!Number.isFinite(thrustN)) { thrustN = 0; replaced++; }
  if (!Number.isFinite(tauX)) { tauX = 0; replaced++; }
  if (!Number.isFinite(tauY)) { tauY = 0; replaced++; }
  if (!Number.isFinite(tauZ)) { tauZ = 0; replaced++; }
  thrustN = Math.max(0, thrustN);
  const g = geometry;
  const maxT = g.motorMaxThrustN;
  const minT = maxT * g.motorIdle * g.motorIdle;
  const kx = tauX / (4 * g.armYM), ky = tauY / (4 * g.armXM), kz = tauZ / (4 * g.yawTorquePerThrustM);
  const rp = rpScratch, yw = ywScratch;
  //          RR           FR           RL          FL
  rp[0] = -kx + ky; rp[1] = -kx - ky; rp[2] = kx + ky; rp[3] = kx - ky;
  yw[0] = kz; yw[1] = -kz; yw[2] = -kz; yw[3] = kz;

  const avail = maxT - minT;
  let saturated = false, yawScale = 1, rpScale = 1;
  const rangeRp = range4(rp, yw, 0);
  const rangeAll = range4(rp, yw, 1);
  if (rangeAll > avail) {
    saturated = true;
    if (rangeRp <= avail) {
      // range(rp + s·yw) is convex in s: linear interpolation gives a safe (slightly conservative) s.
      yawScale = rangeAll > rangeRp ? (avail - rangeRp) / (rangeAll - rangeRp) : 0;
    } else {
      yawScale = 0;
      rpScale = avail / rangeRp;
    }
  }
  const m = out.motors;
  const base = thrustN / 4;
  let hi = -Infinity, lo = Infinity;
  for (let i = 0; i < 4; i++) {
    const t = base + rpScale * rp[i]! + yawScale * yw[i]!;
    m[i] = t;
    if (t > hi) hi = t;
    if (t < lo) lo = t;
  }
  let shift = 0;
  if (hi > maxT) shift = maxT - hi;
  if (lo + shift < minT) shift = minT - lo;
  for (let i = 0; i < 4; i++) {
    const t = Math.max(0, m[i]! + shift);
    const u = Math.sqrt(t / maxT);
    m[i] = Number.isFinite(u) ? (u < g.motorIdle ? g.motorIdle : u > 1 ? 1 : u) : g.motorIdle;
  }
  out.saturated = saturated;
  out.rpScale = rpScale;
  out.yawScale = yawScale;
  out.replacedNonFinite = replaced;
  return out;
}

// ---------------------------------------------------------------------------------------------------
// RateLoop: PID on the gyro → body torques (what an FC does), for direct motor output
// ---------------------------------------------------------------------------------------------------

export const rateLoopConfigSchema = z.strictObject({
  /** P gains [roll, pitch, yaw]: rad/s² of angular-acceleration demand per rad/s of rate error, 1/s. */
  p: vec3Of(nonNeg).default([70, 70, 30]),
  /** I gains, 1/s². */
  i: vec3Of(nonNeg).default([120, 120, 60]),
  /** D gains on the measured rate (no setpoint kick), dimensionless. */
  d: vec3Of(nonNeg).default([1.2, 1.2, 0.4]),
  /** Diagonal inertia [Ixx, Iyy, Izz], kg·m²: angular acceleration → torque. Required. */
  inertiaKgM2: vec3Of(pos),
  /** I-term clamp per axis, rad/s². */
  iLimitRadS2: vec3Of(nonNeg).default([30, 30, 10]),
  /** D-term PT1 cutoff, Hz; 0 disables the filter. */
  dtermLpfHz: nonNeg().default(150),
});
export type RateLoopConfigInput = z.input<typeof rateLoopConfigSchema>;
export type RateLoopConfig = z.output<typeof rateLoopConfigSchema>;
export const parseRateLoopConfig = (raw: unknown, source = 'rate loop'): RateLoopConfig =>
  parseOrThrow(rateLoopConfigSchema, raw, source);

/**
 * Per-axis rate PID (Betaflight/PX4 shape, gains in inertia-free units like sim/fc.ts): torque =
 * I ⊙ (P·e + ∫I·e + D·(−dω/dt filtered)). The I-term freezes while the mixer is saturated and the
 * error pushes it further (anti-windup) and is clamped. A non-finite gyro holds the last torque
 * (counted); a non-finite setpoint component is treated as 0 (counted).
 */
export class RateLoop {
  readonly config: Readonly<RateLoopConfig>;
  numericFaults = 0;
  private readonly iTerm: Vec3 = [0, 0, 0];
  private readonly prevGyro: Vec3 = [0, 0, 0];
  private readonly dFilt: Vec3 = [0, 0, 0];
  private readonly lastTorque: Vec3 = [0, 0, 0];
  private havePrev = false;

  constructor(config: RateLoopConfigInput) {
    this.config = Object.freeze(parseRateLoopConfig(config));
  }

  /** One tick. Writes the torque demand (FLU N·m) into `out` and returns it. */
  step(spRadS: Readonly<Vec3>, gyroRadS: Readonly<Vec3>, dtS: number, mixerSaturated = false, out: Vec3 = [0, 0, 0]): Vec3 {
    const c = this.config;
    if (!Number.isFinite(gyroRadS[0]) || !Number.isFinite(gyroRadS[1]) || !Number.isFinite(gyroRadS[2])) {
      this.numericFaults++;
      out[0] = this.lastTorque[0]; out[1] = this.lastTorque[1]; out[2] = this.lastTorque[2];
      return out;
    }
    const dt = clampDt(dtS);
    const dAlpha = c.dtermLpfHz > 0 ? 1 - Math.exp(-2 * Math.PI * c.dtermLpfHz * dt) : 1;
    for (let a = 0; a < 3; a++) {
      let sp = spRadS[a]!;
      if (!Number.isFinite(sp)) {
        this.numericFaults++;
        sp = 0;
      }
      const w = gyroRadS[a]!;
      const err = sp - w;
      const dRaw = this.havePrev ? -(w - this.prevGyro[a]!) / dt : 0;
      this.prevGyro[a] = w;
      this.dFilt[a] = this.dFilt[a]! + dAlpha * (dRaw - this.dFilt[a]!);
      const inc = c.i[a]! * err * dt;
      const winding = mixerSaturated && Math.sign(inc) === Math.sign(this.iTerm[a]!);
      if (!winding) this.iTerm[a] = clampAbs(this.iTerm[a]! + inc, c.iLimitRadS2[a]!);
      const acc = c.p[a]! * err + this.iTerm[a]! + c.d[a]! * this.dFilt[a]!;
      const t = acc * c.inertiaKgM2[a]!;
      out[a] = Number.isFinite(t) ? t : 0;
      this.lastTorque[a] = out[a]!;
    }
    this.havePrev = true;
    return out;
  }

  reset(): void {
    this.iTerm.fill(0);
    this.prevGyro.fill(0);
    this.dFilt.fill(0);
    this.lastTorque.fill(0);
    this.havePrev = false;
  }
}

/**
 * CTBR (from the Guard) → MotorsCommand without an FC: RateLoop + mixToMotors. A null command
 * (disarmed) gives all-zero motors and resets the loop: motor output exists only while armed. The
 * returned command is owned by this object and overwritten by the next step: copy it if you keep it.
 */
export class DirectMotorOutput {
  readonly rateLoop: RateLoop;
  readonly geometry: MixerGeometry;
  private readonly torque: Vec3 = [0, 0, 0];
  private readonly mix: MixResult = newMixResult();
  private readonly out: MotorsCommand = { kind: 'motors', stampS: 0, motors: [0, 0, 0, 0] };

  constructor(rateLoop: RateLoopConfigInput, geometry: MixerGeometryInput) {
    this.rateLoop = new RateLoop(rateLoop);
    this.geometry = parseMixerGeometry(geometry);
  }

  step(cmd: CtbrCommand | null, gyroRadS: Readonly<Vec3>, dtS: number, nowS: number): MotorsCommand {
    const out = this.out;
    out.stampS = Number.isFinite(nowS) ? nowS : out.stampS;
    if (cmd === null) {
      out.motors.fill(0);
      this.rateLoop.reset();
      this.mix.saturated = false;
      return out;
    }
    this.rateLoop.step(cmd.rateRadS, gyroRadS, dtS, this.mix.saturated, this.torque);
    mixToMotors({ thrustN: cmd.thrustN, torqueNm: this.torque }, this.geometry, this.mix);
    for (let i = 0; i < 4; i++) out.motors[i] = this.mix.motors[i]!;
    return out;
  }

  /** Whether the last mix had to reduce the torque demand. */
  get saturated(): boolean {
    return this.mix.saturated;
  }
}
