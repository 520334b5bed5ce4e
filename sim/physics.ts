/**
 * 6-DOF quad-X rigid body for the built-in simulator. World ENU, body FLU, SI units.
 *
 * Model, per step h (semi-implicit Euler, RK2 midpoint on the gyroscopic term):
 *  - motors: first-order lag on speed fraction ω_i toward the command u_i ∈ [0, 1], discretised
 *    exactly (ω += (u − ω)(1 − e^(−h/τ))) so the spin-up curve does not depend on the step size;
 *  - thrust_i = motorMaxThrustN · ω_i² along body +z;
 *  - torques from the arm geometry (positions in the header of sim/types.ts) and the props'
 *    reaction torque ±yawTorquePerThrustM · thrust_i (a CW prop pushes the body CCW, +z);
 *  - linear + per-axis quadratic drag on the body-frame velocity;
 *  - Euler's equations I ω̇ = τ − ω × Iω;
 *  - a flat ground at z = 0 with inelastic contact and Coulomb friction.
 * Deterministic: no randomness, no wall clock, same inputs → bitwise identical states.
 */
import type { Vec3 } from '../src/math/vec3.js';
import type { RigidBodyState, VehicleParams } from './types.js';

/** Gravity used everywhere in the simulator (and by the IMU's specific force), m/s²: the core's constant. */
export { GRAVITY_MS2 } from '../src/math/constants.js';
import { GRAVITY_MS2 } from '../src/math/constants.js';
/** Default physics step: 1 kHz. */
export const DEFAULT_PHYSICS_DT_S = 0.001;
/** Longest internal step (500 Hz); longer `step` calls are split into equal sub-steps. */
export const MAX_PHYSICS_DT_S = 0.002;
/** Coulomb friction coefficient of the ground (landing gear on a mat). */
export const GROUND_FRICTION = 0.6;
/**
 * Guard on each body-rate component, rad/s. No racer exceeds ~40 rad/s; the cap keeps the explicit
 * rotational integrator in its accurate region if someone spins the airframe with raw motor
 * commands for a long time (there is no aerodynamic rotational damping in the model).
 */
export const MAX_BODY_RATE_RAD_S = 200;

export type MotorTuple = [number, number, number, number];

export class Quadrotor {
  readonly params: VehicleParams;
  /** Updated in place every step; hold the reference if you like, copy it to keep a snapshot. */
  readonly state: RigidBodyState;
  /** Per-motor thrust of the last step, N (RR, FR, RL, FL). */
  readonly motorThrustN = new Float64Array(4);
  /** Whether the body rested on (or touched) the ground in the last step. */
  onGround = false;
  /** Vertical speed at the most recent touchdown, m/s (positive = downward), for crash checks. */
  touchdownSpeedMS = 0;
  /** Simulated time since the last reset, s. */
  timeS = 0;
  /** Steps whose result went non-finite and were rolled back (should stay 0). */
  numericFaultCount = 0;
  /** Motor commands that were non-finite and replaced by 0. */
  invalidCommandCount = 0;

  // Derived constants, computed once (params are copied, so they cannot go stale).
  private readonly invMassKg: number;
  private readonly ix: number;
  private readonly iy: number;
  private readonly iz: number;
  private readonly cmd = new Float64Array(4);
  /** Snapshot for the non-finite rollback: pos(3) vel(3) quat(4) rate(3) motors(4). */
  private readonly snap = new Float64Array(17);
  private cachedTauDtS = NaN;
  private cachedMotorAlpha = 0;

  constructor(params: VehicleParams) {
    this.params = structuredClone(params);
    this.invMassKg = 1 / this.params.massKg;
    [this.ix, this.iy, this.iz] = this.params.inertiaKgM2;
    this.state = {
      posEnuM: [0, 0, 0],
      velEnuMS: [0, 0, 0],
      quat: [1, 0, 0, 0],
      rateFluRadS: [0, 0, 0],
      motorSpeed: [0, 0, 0, 0],
      accEnuMS2: [0, 0, 0],
    };
    this.reset([0, 0, 0], 0);
  }

  /**
   * Put the body at rest at `posEnuM` (z clamped to ≥ 0), level, heading `yawRad` (ENU, CCW from
   * east), motors spinning at `motorSpeed` (fraction of max; pass hoverCommand()[0] to start in a
   * steady hover instead of falling while the motors spin up).
   */
  reset(posEnuM: Vec3, yawRad = 0, motorSpeed = 0): void {
    const s = this.state;
    s.posEnuM[0] = finiteOr(posEnuM[0], 0);
    s.posEnuM[1] = finiteOr(posEnuM[1], 0);
    s.posEnuM[2] = Math.max(0, finiteOr(posEnuM[2], 0));
    s.velEnuMS.fill(0);
    const yaw = finiteOr(yawRad, 0);
    s.quat[0] = Math.cos(yaw / 2);
    s.quat[1] = 0;
    s.quat[2] = 0;
    s.quat[3] = Math.sin(yaw / 2);
    s.rateFluRadS.fill(0);
    s.motorSpeed.fill(clamp01(finiteOr(motorSpeed, 0)));
    // At rest the world acceleration is zero whether hovering or sitting on the ground.
    s.accEnuMS2.fill(0);
    for (let i = 0; i < 4; i++) this.motorThrustN[i] = this.params.motorMaxThrustN * s.motorSpeed[i]! ** 2;
    this.onGround = s.posEnuM[2] <= 0;
    this.touchdownSpeedMS = 0;
    this.timeS = 0;
  }

  /** Per-motor command that exactly balances gravity when level and at rest. */
  hoverCommand(): MotorTuple {
    const p = this.params;
    const u = clamp01(Math.sqrt((p.massKg * GRAVITY_MS2) / (4 * p.motorMaxThrustN)));
    return [u, u, u, u];
  }

  /**
   * Advance by `dtS` seconds with motor commands `motorCmd` (RR, FR, RL, FL; fraction of max speed,
   * clamped to [0, 1], non-finite → 0). Steps longer than MAX_PHYSICS_DT_S are sub-stepped.
   * Throws on a non-finite or non-positive dtS: that is a caller bug, not data.
   */
  step(motorCmd: ArrayLike<number>, dtS: number): void {
    if (!(dtS > 0) || !Number.isFinite(dtS)) throw new RangeError(`Quadrotor.step: invalid dtS ${dtS}`);
    for (let i = 0; i < 4; i++) {
      const u = i < motorCmd.length ? motorCmd[i]! : 0;
      if (Number.isFinite(u)) this.cmd[i] = clamp01(u);
      else {
        this.cmd[i] = 0;
        this.invalidCommandCount++;
      }
    }
    const n = Math.ceil(dtS / MAX_PHYSICS_DT_S - 1e-9);
    const h = dtS / n;
    for (let k = 0; k < n; k++) this.substep(h);
  }

  private substep(h: number): void {
    const p = this.params;
    const s = this.state;
    const pos = s.posEnuM, vel = s.velEnuMS, q = s.quat, w = s.rateFluRadS, ms = s.motorSpeed;
    this.saveSnapshot();

    // --- motors: exact discretisation of the first-order lag ---
    if (h !== this.cachedTauDtS) {
      this.cachedTauDtS = h;
      this.cachedMotorAlpha = 1 - Math.exp(-h / p.motorTauS);
    }
    const alpha = this.cachedMotorAlpha;
    const th = this.motorThrustN;
    for (let i = 0; i < 4; i++) {
      const m = ms[i]! + (this.cmd[i]! - ms[i]!) * alpha;
      ms[i] = m;
      th[i] = p.motorMaxThrustN * m * m;
    }
    const t0 = th[0]!, t1 = th[1]!, t2 = th[2]!, t3 = th[3]!;
    const thrustN = t0 + t1 + t2 + t3;
    // τ = Σ r_i × (0, 0, T_i) = (y_i T_i, −x_i T_i, 0); RR(−x,−y) FR(+x,−y) RL(−x,+y) FL(+x,+y).
    // Positive roll (about +x) = right side down; positive pitch (about +y, which points left) = nose down.
    const tauX = p.armYM * (-t0 - t1 + t2 + t3);
    const tauY = p.armXM * (t0 - t1 + t2 - t3);
    // CW props (0 RR, 3 FL) react CCW on the body: +z.
    const tauZ = p.yawTorquePerThrustM * (t0 - t1 - t2 + t3);

    // --- rotation matrix body → world (row-major) ---
    const qw = q[0], qx = q[1], qy = q[2], qz = q[3];
    const r00 = 1 - 2 * (qy * qy + qz * qz), r01 = 2 * (qx * qy - qw * qz), r02 = 2 * (qx * qz + qw * qy);
    const r10 = 2 * (qx * qy + qw * qz), r11 = 1 - 2 * (qx * qx + qz * qz), r12 = 2 * (qy * qz - qw * qx);
    const r20 = 2 * (qx * qz - qw * qy), r21 = 2 * (qy * qz + qw * qx), r22 = 1 - 2 * (qx * qx + qy * qy);

    // --- translational: body-frame drag + thrust, rotated to world, plus gravity ---
    const vx = vel[0], vy = vel[1], vz = vel[2];
    const bx = r00 * vx + r10 * vy + r20 * vz;
    const by = r01 * vx + r11 * vy + r21 * vz;
    const bz = r02 * vx + r12 * vy + r22 * vz;
    const dl = p.dragLinear, dq = p.dragQuadratic;
    const fbx = -dl[0] * bx - dq[0] * bx * Math.abs(bx);
    const fby = -dl[1] * by - dq[1] * by * Math.abs(by);
    const fbz = thrustN - dl[2] * bz - dq[2] * bz * Math.abs(bz);
    const im = this.invMassKg;
    const ax = (r00 * fbx + r01 * fby + r02 * fbz) * im;
    const ay = (r10 * fbx + r11 * fby + r12 * fbz) * im;
    const az = (r20 * fbx + r21 * fby + r22 * fbz) * im - GRAVITY_MS2;

    let nvx = vx + ax * h, nvy = vy + ay * h, nvz = vz + az * h;
    let npx = pos[0] + nvx * h, npy = pos[1] + nvy * h, npz = pos[2] + nvz * h;

    // --- ground: inelastic contact with Coulomb friction ---
    const wasOnGround = this.onGround;
    let contact = false;
    if (npz <= 0) {
      contact = true;
      if (!wasOnGround) this.touchdownSpeedMS = Math.max(0, -nvz);
      npz = 0;
      if (nvz < 0) nvz = 0;
      // The ground supplies whatever upward acceleration cancels the net downward one.
      const normalAccMS2 = Math.max(0, -az);
      const speed = Math.hypot(nvx, nvy);
      const dv = GROUND_FRICTION * normalAccMS2 * h;
      if (speed <= dv) {
        // Static friction: the horizontal push is below the friction limit, so it stops.
        nvx = 0;
        nvy = 0;
      } else {
        const k = (speed - dv) / speed;
        nvx *= k;
        nvy *= k;
      }
      // Re-integrate position with the constrained velocity (semi-implicit).
      npx = pos[0] + nvx * h;
      npy = pos[1] + nvy * h;
    }
    this.onGround = contact;

    // --- rotational: Euler's equations, RK2 midpoint on the gyroscopic coupling ---
    if (contact) {
      // Resting on the landing gear: the ground's reaction cancels the torques, so the body does
      // not rotate until it lifts off. (A simplification: no tipping over on the ground.)
      w[0] = 0;
      w[1] = 0;
      w[2] = 0;
    } else {
      const ix = this.ix, iy = this.iy, iz = this.iz;
      const wx = w[0], wy = w[1], wz = w[2];
      // ω̇ = I⁻¹(τ − ω × Iω); for diagonal I, (ω × Iω)_x = (Iz − Iy) ωy ωz, etc.
      const hx = wx + 0.5 * h * (tauX - (iz - iy) * wy * wz) / ix;
      const hy = wy + 0.5 * h * (tauY - (ix - iz) * wz * wx) / iy;
      const hz = wz + 0.5 * h * (tauZ - (iy - ix) * wx * wy) / iz;
      w[0] = clampAbs(wx + (h * (tauX - (iz - iy) * hy * hz)) / ix, MAX_BODY_RATE_RAD_S);
      w[1] = clampAbs(wy + (h * (tauY - (ix - iz) * hz * hx)) / iy, MAX_BODY_RATE_RAD_S);
      w[2] = clampAbs(wz + (h * (tauZ - (iy - ix) * hx * hy)) / iz, MAX_BODY_RATE_RAD_S);
      integrateQuatInPlace(q, w[0], w[1], w[2], h);
    }

    // World acceleration actually realised this step (contact included), so the IMU's specific
    // force R^T(acc − g) reads +g up when resting on the ground.
    s.accEnuMS2[0] = (nvx - vx) / h;
    s.accEnuMS2[1] = (nvy - vy) / h;
    s.accEnuMS2[2] = (nvz - vz) / h;
    vel[0] = nvx;
    vel[1] = nvy;
    vel[2] = nvz;
    pos[0] = npx;
    pos[1] = npy;
    pos[2] = npz;
    this.timeS += h;

    if (!this.stateIsFinite()) this.rollback();
  }

  private saveSnapshot(): void {
    const s = this.state, b = this.snap;
    b[0] = s.posEnuM[0]; b[1] = s.posEnuM[1]; b[2] = s.posEnuM[2];
    b[3] = s.velEnuMS[0]; b[4] = s.velEnuMS[1]; b[5] = s.velEnuMS[2];
    b[6] = s.quat[0]; b[7] = s.quat[1]; b[8] = s.quat[2]; b[9] = s.quat[3];
    b[10] = s.rateFluRadS[0]; b[11] = s.rateFluRadS[1]; b[12] = s.rateFluRadS[2];
    for (let i = 0; i < 4; i++) b[13 + i] = s.motorSpeed[i]!;
  }

  /** Restore the last finite state, at rest: a numeric blow-up must never leak NaN downstream. */
  private rollback(): void {
    const s = this.state, b = this.snap;
    this.numericFaultCount++;
    for (let i = 0; i < 3; i++) s.posEnuM[i] = b[i]!;
    for (let i = 0; i < 4; i++) s.quat[i] = b[6 + i]!;
    for (let i = 0; i < 4; i++) s.motorSpeed[i] = b[13 + i]!;
    s.velEnuMS.fill(0);
    s.rateFluRadS.fill(0);
    s.accEnuMS2.fill(0);
  }

  private stateIsFinite(): boolean {
    const s = this.state;
    return (
      allFinite(s.posEnuM) && allFinite(s.velEnuMS) && allFinite(s.quat) && allFinite(s.rateFluRadS) &&
      allFinite(s.accEnuMS2) && allFinite(s.motorSpeed)
    );
  }
}

/** q ← normalize(q ⊗ exp(ω h / 2)), in place (exact for constant ω over the step). */
function integrateQuatInPlace(q: [number, number, number, number], wx: number, wy: number, wz: number, h: number): void {
  const rate = Math.hypot(wx, wy, wz);
  const ang = rate * h;
  if (ang < 1e-15) return;
  const c = Math.cos(ang / 2);
  const k = Math.sin(ang / 2) / rate;
  const dw = c, dx = wx * k, dy = wy * k, dz = wz * k;
  const a0 = q[0], a1 = q[1], a2 = q[2], a3 = q[3];
  let n0 = a0 * dw - a1 * dx - a2 * dy - a3 * dz;
  let n1 = a0 * dx + a1 * dw + a2 * dz - a3 * dy;
  let n2 = a0 * dy - a1 * dz + a2 * dw + a3 * dx;
  let n3 = a0 * dz + a1 * dy - a2 * dx + a3 * dw;
  const n = Math.hypot(n0, n1, n2, n3);
  n0 /= n; n1 /= n; n2 /= n; n3 /= n;
  q[0] = n0; q[1] = n1; q[2] = n2; q[3] = n3;
}

function allFinite(a: ArrayLike<number>): boolean {
  for (let i = 0; i < a.length; i++) if (!Number.isFinite(a[i]!)) return false;
  return true;
}

const clamp01 = (x: number): number => (x < 0 ? 0 : x > 1 ? 1 : x);
const clampAbs = (x: number, lim: number): number => (x < -lim ? -lim : x > lim ? lim : x);
const finiteOr = (x: number, fallback: number): number => (Number.isFinite(x) ? x : fallback);
