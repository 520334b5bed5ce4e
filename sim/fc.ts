/**
 * Flight-controller emulator in the spirit of Betaflight acro mode: validates FlightCommands, runs a
 * per-axis rate PID on the gyro at the physics rate and mixes collective thrust + torque demand into
 * the four motor commands with airmode-style saturation handling.
 *
 * Axis and stick conventions (body FLU: x forward, y left, z up; right-hand rotations):
 *  - roll rate +x: rotation about the forward axis that carries +y (left) toward +z (up), i.e. the
 *    LEFT side rises and the RIGHT side drops → roll right. Roll stick right (> 1500 µs) → +x rate.
 *  - pitch rate +y: rotation about the left axis that carries +z toward +x and +x toward −z, i.e.
 *    the NOSE drops. Pitch stick forward (> 1500 µs) → nose down → +y rate.
 *  - yaw rate +z: counter-clockwise seen from above. Yaw stick right (> 1500 µs) → nose turns right
 *    (clockwise from above) → −z rate.
 *
 * PID units: the gains act on rate error (rad/s) and produce an angular-acceleration demand (rad/s²),
 * which is multiplied by the vehicle inertia into a torque demand (N·m). So P is in 1/s, I in 1/s²
 * and D is dimensionless, and one set of gains transfers between airframes of different inertia.
 */
import { mixToMotors, newMixResult, parseMixerGeometry, type MixerGeometry, type MixResult } from '../src/regions/motor.js';
import type { Vec3 } from '../src/math/vec3.js';
import type { FlightCommand } from '../src/tracts/io.js';
import type { RigidBodyState, VehicleParams } from './types.js';
import { GRAVITY_MS2, type MotorTuple } from './physics.js';

const DEG = Math.PI / 180;

/** Stick commands accepted on the wire, µs (Betaflight's rx range is 885..2115; allow a margin). */
export const RC_MIN_US = 800;
export const RC_MAX_US = 2200;
/** Rate commands beyond this multiple of the vehicle's maxRateRadS are rejected as nonsense. */
export const RATE_REJECT_FACTOR = 1.5;

export interface FcOptions {
  /** D-term PT1 low-pass cutoff, Hz (Betaflight dterm_lpf1); 0 disables the filter. */
  dtermLpfHz?: number;
  /**
   * Collective thrust, as a fraction of the vehicle's weight, that activates the I-term after arming
   * (Betaflight's airmode_start_throttle): the I-term stays at zero while the quad sits on the ground.
   */
  itermStartThrustFrac?: number;
  /** I-term clamp per axis, rad/s². Default: 30 % of the torque authority at hover. */
  itermLimitRadS2?: Vec3;
  /**
   * Betaflight iterm_relax (setpoint mode): I accumulation fades out while the setpoint moves
   * faster than this, measured as |setpoint − PT1(setpoint)|, rad/s. Stops the I-term from winding
   * up during a commanded flip and overshooting afterwards. 0 disables. Default 30 °/s.
   */
  itermRelaxThresholdRadS?: number;
  /** Cutoff of the setpoint low-pass used by iterm_relax, Hz (Betaflight iterm_relax_cutoff 15). */
  itermRelaxCutoffHz?: number;
}

/**
 * Betaflight "actual rates": stick deflection x ∈ [−1, 1] → rate in deg/s.
 * expof = |x|·(x⁵·expo + x·(1 − expo)); rate = x·center + max(0, max − center)·expof.
 */
export function applyActualRates(x: number, centerDegS: number, maxDegS: number, expo: number): number {
  const ax = Math.abs(x);
  const x5 = x * x * x * x * x;
  const expof = ax * (x5 * expo + x * (1 - expo));
  const stickMovement = Math.max(0, maxDegS - centerDegS);
  return x * centerDegS + stickMovement * expof;
}

/**
 * Inverse of applyActualRates: the stick deflection in [−1, 1] that produces `rateDegS` (saturates
 * at ±1 beyond the curve's end). The curve is odd and monotonic for expo ∈ [0, 1], center ≥ 0, so
 * bisection on |x| is exact to ~1e-12 after 45 halvings.
 */
export function invertActualRates(rateDegS: number, centerDegS: number, maxDegS: number, expo: number): number {
  if (!Number.isFinite(rateDegS) || rateDegS === 0) return 0;
  const target = Math.abs(rateDegS);
  if (applyActualRates(1, centerDegS, maxDegS, expo) <= target) return Math.sign(rateDegS);
  let lo = 0, hi = 1;
  for (let i = 0; i < 60 && hi - lo > 1e-13; i++) {
    const mid = 0.5 * (lo + hi);
    if (applyActualRates(mid, centerDegS, maxDegS, expo) < target) lo = mid;
    else hi = mid;
  }
  return Math.sign(rateDegS) * 0.5 * (lo + hi);
}

/** Microseconds → stick deflection in [−1, 1] around 1500 µs. */
export const rcStick = (us: number): number => Math.max(-1, Math.min(1, (us - 1500) / 500));
/** Throttle microseconds → fraction in [0, 1] (1000 µs = 0, 2000 µs = 1). */
export const rcThrottle = (us: number): number => Math.max(0, Math.min(1, (us - 1000) / 1000));

/** 'rate': ctbr or rc through the rate loop; 'motors': direct pass-through. */
export type FcMode = 'rate' | 'motors';

export class FlightControllerEmulator {
  readonly params: VehicleParams;
  rejectedCount = 0;
  lastRejectReason = '';
  /** Number of update() calls whose gyro or dt was non-finite (the output was held). */
  numericFaultCount = 0;
  /** Whether the mixer had to scale torque demand down in the last update. */
  saturated = false;

  // Active setpoint (derived from the last valid command).
  private mode: FcMode = 'rate';
  private readonly spRateRadS: Vec3 = [0, 0, 0];
  private spThrustN = 0;
  private readonly spMotors: MotorTuple = [0, 0, 0, 0];

  private isArmed = false;
  private itermActive = false;

  // PID state.
  private readonly iTerm: Vec3 = [0, 0, 0];
  private readonly prevGyro: Vec3 = [0, 0, 0];
  private readonly dFilt: Vec3 = [0, 0, 0];
  private readonly spLpf: Vec3 = [0, 0, 0];
  private havePrevGyro = false;

  // Derived constants.
  private readonly dtermLpfHz: number;
  private readonly itermStartThrustN: number;
  private readonly itermLimit: Vec3;
  private readonly relaxThresholdRadS: number;
  private readonly relaxCutoffHz: number;
  private readonly maxRates: Vec3;

  // Scratch for the mixer (no allocation per update).
  private readonly torque: Float64Array = new Float64Array(3);
  private readonly demand: { thrustN: number; torqueNm: Vec3 } = { thrustN: 0, torqueNm: [0, 0, 0] };
  private readonly mixOut: MixResult = newMixResult();
  private readonly geometry: MixerGeometry;
  private readonly out: MotorTuple = [0, 0, 0, 0];

  constructor(params: VehicleParams, opts: FcOptions = {}) {
    this.params = structuredClone(params);
    const p = this.params;
    this.dtermLpfHz = opts.dtermLpfHz ?? 150;
    const weightN = p.massKg * GRAVITY_MS2;
    this.itermStartThrustN = (opts.itermStartThrustFrac ?? 0.3) * weightN;
    this.geometry = parseMixerGeometry({ armXM: p.armXM, armYM: p.armYM, motorMaxThrustN: p.motorMaxThrustN, yawTorquePerThrustM: p.yawTorquePerThrustM, motorIdle: p.motorIdle });
    this.maxRates = [...p.maxRateRadS];
    this.relaxThresholdRadS = opts.itermRelaxThresholdRadS ?? 30 * DEG;
    this.relaxCutoffHz = opts.itermRelaxCutoffHz ?? 15;
    if (opts.itermLimitRadS2) this.itermLimit = [...opts.itermLimitRadS2];
    else {
      // Torque available from the hover thrust moved fully to one side (roll/pitch) or one spin
      // direction (yaw), divided by the inertia.
      const t = weightN / 4;
      const [ix, iy, iz] = p.inertiaKgM2;
      this.itermLimit = [
        (0.3 * 4 * p.armYM * t) / ix,
        (0.3 * 4 * p.armXM * t) / iy,
        (0.3 * 4 * p.yawTorquePerThrustM * t) / iz,
      ];
    }
  }

  get armed(): boolean {
    return this.isArmed;
  }

  /** Arm: motors spin at idle (or follow the command). The PID starts from a clean state. */
  arm(): void {
    if (!this.isArmed) this.resetPid();
    this.isArmed = true;
    this.itermActive = false;
  }

  /** Disarm: motors stop immediately. */
  disarm(): void {
    this.isArmed = false;
    this.resetPid();
  }

  /** The rate setpoint in use, FLU rad/s (after rc curves and the rate limit). */
  get rateSetpointRadS(): Readonly<Vec3> {
    return this.spRateRadS;
  }

  /** The collective thrust setpoint in use, N. */
  get thrustSetpointN(): number {
    return this.spThrustN;
  }

  get commandMode(): FcMode {
    return this.mode;
  }

  /**
   * Validate and adopt a command. Returns false (and counts the rejection, keeping the previous
   * valid command) when anything is non-finite or out of range: a bad command from the brain must
   * not become a motor output.
   */
  setCommand(cmd: FlightCommand): boolean {
    const reason = this.validate(cmd);
    if (reason !== null) {
      this.rejectedCount++;
      this.lastRejectReason = reason;
      return false;
    }
    const p = this.params;
    switch (cmd.kind) {
      case 'ctbr':
        this.mode = 'rate';
        this.spThrustN = cmd.thrustN;
        for (let a = 0; a < 3; a++) this.spRateRadS[a] = clampAbs(cmd.rateRadS[a]!, this.maxRates[a]!);
        break;
      case 'motors':
        this.mode = 'motors';
        for (let i = 0; i < 4; i++) this.spMotors[i] = cmd.motors[i]!;
        break;
      case 'rc': {
        // AETR. Throttle is linear in collective thrust: 1000 µs → 0 N, 2000 µs → 4·motorMaxThrustN.
        const ch = cmd.channelsUs;
        const r = p.rcRates;
        this.mode = 'rate';
        this.spThrustN = rcThrottle(ch[2]!) * 4 * p.motorMaxThrustN;
        const roll = applyActualRates(rcStick(ch[0]!), r.centerDegS[0], r.maxDegS[0], r.expo[0]) * DEG;
        const pitch = applyActualRates(rcStick(ch[1]!), r.centerDegS[1], r.maxDegS[1], r.expo[1]) * DEG;
        const yaw = applyActualRates(rcStick(ch[3]!), r.centerDegS[2], r.maxDegS[2], r.expo[2]) * DEG;
        // Stick right → roll right (+x); stick forward → nose down (+y); yaw right → clockwise (−z).
        this.spRateRadS[0] = clampAbs(roll, this.maxRates[0]);
        this.spRateRadS[1] = clampAbs(pitch, this.maxRates[1]);
        this.spRateRadS[2] = clampAbs(0 - yaw, this.maxRates[2]); // 0 − yaw: centred stick gives +0, not −0
        break;
      }
      default: {
        const never: never = cmd;
        void never;
      }
    }
    return true;
  }

  /** Reason the command is invalid, or null if it is acceptable. */
  private validate(cmd: FlightCommand): string | null {
    if (cmd === null || typeof cmd !== 'object') return 'command is not an object';
    if (!Number.isFinite(cmd.stampS)) return 'stampS is not finite';
    const p = this.params;
    switch (cmd.kind) {
      case 'ctbr': {
        const maxT = 4 * p.motorMaxThrustN;
        if (!Number.isFinite(cmd.thrustN)) return 'ctbr.thrustN is not finite';
        if (cmd.thrustN < 0 || cmd.thrustN > maxT) return `ctbr.thrustN ${cmd.thrustN} outside [0, ${maxT}] N`;
        if (!Array.isArray(cmd.rateRadS) || cmd.rateRadS.length !== 3) return 'ctbr.rateRadS must have 3 elements';
        for (let a = 0; a < 3; a++) {
          const r = cmd.rateRadS[a]!;
          const lim = RATE_REJECT_FACTOR * this.maxRates[a]!;
          if (!Number.isFinite(r)) return `ctbr.rateRadS[${a}] is not finite`;
          if (Math.abs(r) > lim) return `ctbr.rateRadS[${a}] ${r} outside ±${lim} rad/s`;
        }
        return null;
      }
      case 'motors': {
        if (!Array.isArray(cmd.motors) || cmd.motors.length !== 4) return 'motors.motors must have 4 elements';
        for (let i = 0; i < 4; i++) {
          const m = cmd.motors[i]!;
          if (!Number.isFinite(m)) return `motors.motors[${i}] is not finite`;
          if (m < 0 || m > 1) return `motors.motors[${i}] ${m} outside [0, 1]`;
        }
        return null;
      }
      case 'rc': {
        const ch = cmd.channelsUs;
        if (!Array.isArray(ch) || ch.length < 4) return 'rc.channelsUs needs at least 4 channels (AETR)';
        for (let i = 0; i < ch.length; i++) {
          const us = ch[i]!;
          if (!Number.isFinite(us)) return `rc.channelsUs[${i}] is not finite`;
          if (us < RC_MIN_US || us > RC_MAX_US) return `rc.channelsUs[${i}] ${us} outside [${RC_MIN_US}, ${RC_MAX_US}] µs`;
        }
        return null;
      }
      default:
        return `unknown command kind '${String((cmd as { kind?: unknown }).kind)}'`;
    }
  }

  /**
   * One control tick at the physics rate (≥ 500 Hz). Reads the gyro (state.rateFluRadS) and
   * returns motor commands [RR, FR, RL, FL] in [0, 1]. The returned tuple is owned by the emulator
   * and overwritten by the next call: copy it if you keep it.
   */
  update(state: RigidBodyState, dtS: number): MotorTuple {
    const out = this.out;
    if (!this.isArmed) {
      out.fill(0);
      return out;
    }
    if (this.mode === 'motors') {
      // Pass-through for system identification / bridges; validated to [0, 1] in setCommand.
      for (let i = 0; i < 4; i++) out[i] = this.spMotors[i]!;
      this.resetPid();
      return out;
    }
    const gyro = state.rateFluRadS;
    if (!(dtS > 0) || !Number.isFinite(dtS) || !Number.isFinite(gyro[0]) || !Number.isFinite(gyro[1]) ||
      !Number.isFinite(gyro[2])) {
      // Hold the previous output rather than feed NaN into the integrators.
      this.numericFaultCount++;
      return out;
    }
    // PX4's dt guard: a stalled or bursty scheduler must not produce a huge I or D step.
    const dt = Math.min(0.02, Math.max(1.25e-4, dtS));

    if (!this.itermActive && this.spThrustN >= this.itermStartThrustN) this.itermActive = true;

    const p = this.params;
    const g = p.rateGains;
    const dAlpha = this.dtermLpfHz > 0 ? 1 - Math.exp(-2 * Math.PI * this.dtermLpfHz * dt) : 1;
    const relaxAlpha = 1 - Math.exp(-2 * Math.PI * this.relaxCutoffHz * dt);
    const inertia = p.inertiaKgM2;
    for (let a = 0; a < 3; a++) {
      const w = gyro[a]!;
      const sp = this.spRateRadS[a]!;
      const err = sp - w;
      // D on measurement (no derivative kick on setpoint steps), PT1-filtered.
      const dRaw = this.havePrevGyro ? -(w - this.prevGyro[a]!) / dt : 0;
      this.prevGyro[a] = w;
      this.dFilt[a] = this.dFilt[a]! + dAlpha * (dRaw - this.dFilt[a]!);
      // I-term: conditional integration — frozen while the mixer is saturated and the error would
      // push it further the same way (anti-windup), and clamped.
      this.spLpf[a] = this.spLpf[a]! + relaxAlpha * (sp - this.spLpf[a]!);
      if (this.itermActive) {
        const relax =
          this.relaxThresholdRadS > 0 ? Math.max(0, 1 - Math.abs(sp - this.spLpf[a]!) / this.relaxThresholdRadS) : 1;
        const inc = g.i[a]! * err * dt * relax;
        const winding = this.saturated && Math.sign(inc) === Math.sign(this.iTerm[a]!);
        if (!winding) this.iTerm[a] = clampAbs(this.iTerm[a]! + inc, this.itermLimit[a]!);
      } else this.iTerm[a] = 0;
      const accRadS2 = g.p[a]! * err + this.iTerm[a]! + g.d[a]! * this.dFilt[a]!;
      this.torque[a] = accRadS2 * inertia[a]!;
    }
    this.havePrevGyro = true;

    this.saturated = this.mix(this.spThrustN, this.torque[0]!, this.torque[1]!, this.torque[2]!, out);
    return out;
  }

  /**
   * Collective + torques → per-motor command through the core's quad-X mixer (the exact inverse of
   * the allocation in physics.ts, airmode-like: collective shifts first, then yaw, then roll/pitch
   * scale together). Returns true when the torque demand had to be reduced.
   */
  private mix(thrustN: number, tauX: number, tauY: number, tauZ: number, out: MotorTuple): boolean {
    const d = this.demand;
    d.thrustN = thrustN;
    d.torqueNm[0] = tauX;
    d.torqueNm[1] = tauY;
    d.torqueNm[2] = tauZ;
    const r = mixToMotors(d, this.geometry, this.mixOut);
    for (let i = 0; i < 4; i++) out[i] = r.motors[i]!;
    return r.saturated;
  }

  private resetPid(): void {
    this.iTerm.fill(0);
    this.dFilt.fill(0);
    for (let a = 0; a < 3; a++) this.spLpf[a] = this.spRateRadS[a]!;
    this.havePrevGyro = false;
    this.saturated = false;
  }
}


const clampAbs = (x: number, lim: number): number => (x < -lim ? -lim : x > lim ? lim : x);
