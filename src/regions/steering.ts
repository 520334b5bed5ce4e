/**
 * Steering subsystem (brainstem), innate: the Guard and the innate reward signals.
 *
 * Claim. The Guard buys safety that no learner can bypass: whatever the learners propose (NaN, ±∞,
 * 1e308, nonsense), the command that leaves brainpilot is finite and inside the vehicle's limits,
 * motor output exists only while armed, and a sensor dropout ends in a levelled descent / disarm
 * instead of a flyaway. Measured by: the seeded fast-check property in test/steering.test.ts (every
 * output finite and in range over ≥ 2000 adversarial inputs), and in closed loop by the ablation
 * "guard removed vs present" under injected frame drops and NaN commands (crash and flyaway count).
 * The Rewards buy a learning signal defined only on innate senses (gate passed, crash, progress);
 * measured by the synthetic gate-pass / impact sequences in the same test file (exactly one event each).
 *
 * Guard state machine (decisions documented here, tested in test/steering.test.ts):
 *  - armed === false → 'disarmed', cmd = null. Disarming clears every latch; re-arming starts fresh
 *    (timeouts count from the arming time if no sample has arrived yet).
 *  - IMU stale (> imuTimeoutS) → 'failsafe-disarm', LATCHED until re-armed. Without the IMU the
 *    brain cannot see attitude, so it does not try to level: it commands zero body rates (the FC's own
 *    gyro loop holds the current attitude) and the failsafe descent thrust for imuLossDisarmAfterS,
 *    then cmd = null and requestDisarm = true. A flaky IMU is a hardware fault; flying on is not safe.
 *  - Frames stale (> frameTimeoutS), IMU fine → 'failsafe-level-descend': level on the attitude
 *    estimate (zero rates if there is none), thrust = failsafeThrustFrac · hover, yaw rate 0. After
 *    failsafeDisarmAfterS of continuous loss, or as soon as input.landed is true, → latched disarm.
 *    RECOVERS automatically once frames have been fresh for recoverHoldS without a gap (racing: a short
 *    frame dropout should not end the run; PX4 would latch until the pilot intervenes).
 *  - Otherwise the proposal is sanitised: non-finite fields replaced (thrust → hover, rate → 0) and
 *    counted, thrust clamped to [minThrustN, maxThrustN], each rate to ±maxRateRadS. Tilt protection:
 *    when the tilt (angle between body z and world up; ≥ max(|roll|, |pitch|) below 90°) exceeds
 *    maxTiltRad the rates are replaced by a levelling command (P on the tilt angle, yaw rate 0), thrust
 *    kept; released when the tilt is back below maxTiltRad − tiltHysteresisRad. Mode 'limited' when
 *    the guard changed anything, else 'nominal'.
 *  - When the guard itself disarms it emits cmd = null AND requestDisarm = true: the adapter must
 *    disarm the FC / stop the motors (a bare null means "no new command" to a Controller, and an FC
 *    would keep flying the last one).
 */
import { z } from 'zod';
import type { Vec3 } from '../math/vec3.js';
import type { CtbrCommand, ImuSample } from '../tracts/io.js';
import { clampDt, refuseLearnedState, type LearnedState, type Region } from './region.js';

const DEG = Math.PI / 180;

const clampAbs = (x: number, lim: number): number => (x < -lim ? -lim : x > lim ? lim : x);

// ---------------------------------------------------------------------------------------------------
// Config schemas (style 5): one schema per region, defaults in one place, a clear error on load.
// ---------------------------------------------------------------------------------------------------

const pos = () => z.number().positive();
const nonNeg = () => z.number().nonnegative();

export const guardConfigSchema = z
  .strictObject({
    /** Collective thrust that holds the vehicle level in hover, N (m·g). Required. */
    hoverThrustN: pos(),
    /** Upper thrust limit of the emitted command, N (≤ the FC's accepted range, e.g. 4·motorMaxThrustN). Required. */
    maxThrustN: pos(),
    /** Lower thrust limit, N (≥ 0). */
    minThrustN: nonNeg().default(0),
    /** Per-axis body-rate limit [roll, pitch, yaw], rad/s; set ≤ the vehicle's maxRateRadS. */
    maxRateRadS: z.tuple([pos(), pos(), pos()]).default([10, 10, 4]),
    /** Tilt beyond which the guard overrides the rates with a levelling command, rad. */
    maxTiltRad: z.number().gt(0).lte(Math.PI).default(60 * DEG),
    /** Tilt protection releases below maxTiltRad − tiltHysteresisRad, rad. */
    tiltHysteresisRad: nonNeg().default(5 * DEG),
    /** Levelling P gain: body rate (rad/s) per radian of tilt, 1/s. */
    levelGainPerS: pos().default(5),
    /** Frames older than this → failsafe-level-descend, s. */
    frameTimeoutS: pos().default(0.5),
    /** IMU older than this → failsafe-disarm (latched), s. */
    imuTimeoutS: pos().default(0.1),
    /** Failsafe descent thrust as a fraction of hover thrust (< 1 so the vehicle sinks). */
    failsafeThrustFrac: z.number().gt(0).lt(1).default(0.9),
    /** Continuous frame loss longer than this → disarm (latched), s. */
    failsafeDisarmAfterS: pos().default(5),
    /** After IMU loss, how long the descent thrust is held before disarming, s. */
    imuLossDisarmAfterS: nonNeg().default(0.5),
    /** Frames must be fresh this long, without a gap, before frame-loss failsafe is left, s. */
    recoverHoldS: nonNeg().default(0.2),
  })
  .superRefine((c, ctx) => {
    const issue = (path: string, message: string): void => {
      ctx.addIssue({ code: 'custom', path: [path], message });
    };
    if (c.minThrustN >= c.maxThrustN) issue('minThrustN', `must be < maxThrustN (${c.maxThrustN})`);
    if (c.hoverThrustN > c.maxThrustN) issue('hoverThrustN', `must be ≤ maxThrustN (${c.maxThrustN})`);
    if (c.hoverThrustN <= c.minThrustN) issue('hoverThrustN', `must be > minThrustN (${c.minThrustN})`);
    if (c.failsafeThrustFrac * c.hoverThrustN < c.minThrustN)
      issue('failsafeThrustFrac', `failsafe thrust ${c.failsafeThrustFrac * c.hoverThrustN} N is below minThrustN`);
    if (c.tiltHysteresisRad >= c.maxTiltRad) issue('tiltHysteresisRad', 'must be < maxTiltRad');
  });

export type GuardConfigInput = z.input<typeof guardConfigSchema>;
export type GuardConfig = z.output<typeof guardConfigSchema>;

export const rewardConfigSchema = z.strictObject({
  /** Gravity, m/s² (expected specific force at rest when none is given). */
  gravityMS2: pos().default(9.81),
  /** |specific force − expected| above this is an impact, m/s² (≈ 4 g). */
  crashAccelThresholdMS2: pos().default(40),
  /** After a crash event, further spikes within this window are the same crash, s. */
  crashRefractoryS: nonNeg().default(1),
  /** A tracked gate is "near" when its angular size reaches this, rad. */
  passAngularSizeRad: pos().default(0.9),
  /** ...and, if a distance estimate exists, it is within this distance, m. */
  passMaxDistanceM: pos().default(2.5),
  /** A near gate lost within this time after its last near sighting counts as passed, s. */
  passWindowS: pos().default(0.3),
  /** The tracked gate counts as lost when its size drops below this fraction of the last near size. */
  collapseFraction: z.number().gt(0).lt(1).default(0.4),
  /** "Approaching" tolerates a size shrink of this fraction between samples (tracker noise). */
  approachTolerance: z.number().min(0).lt(1).default(0.1),
  /** Closing speeds beyond this are discontinuities (gate switch, estimator reset), m/s. */
  maxProgressSpeedMS: pos().default(40),
  /** Reward weights: per gate passed, per crash, per metre of distance closed to the next gate. */
  gateReward: z.number().default(10),
  crashReward: z.number().default(-50),
  progressRewardPerM: z.number().default(1),
});

export type RewardConfigInput = z.input<typeof rewardConfigSchema>;
export type RewardConfig = z.output<typeof rewardConfigSchema>;

/** Parse with a schema; throw one Error naming every bad field. */
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

export const parseGuardConfig = (raw: unknown, source = 'guard'): GuardConfig => parseOrThrow(guardConfigSchema, raw, source);
export const parseRewardConfig = (raw: unknown, source = 'rewards'): RewardConfig =>
  parseOrThrow(rewardConfigSchema, raw ?? {}, source);

// ---------------------------------------------------------------------------------------------------
// Guard
// ---------------------------------------------------------------------------------------------------

/** What the learners propose (a CtbrCommand is accepted as is). Fields may be anything. */
export interface ProposedCommand {
  thrustN: number;
  rateRadS: Vec3;
}

/** ZYX Euler roll/pitch of the body (FLU) in the world (ENU); pitch positive = nose down. */
export interface AttitudeEstimate {
  rollRad: number;
  pitchRad: number;
}

export interface GuardInput {
  /** The learners' command; null = nothing proposed (the guard substitutes hover, zero rates). */
  proposed: ProposedCommand | null;
  nowS: number;
  /** Arrival time of the last valid camera frame, s; null if none since start. */
  lastFrameS: number | null;
  /** Time of the last valid IMU sample, s; null if none since start. */
  lastImuS: number | null;
  attitude: AttitudeEstimate | null;
  armed: boolean;
  /** Optional touchdown detector: true ends a level-descend failsafe with a disarm. */
  landed?: boolean;
}

export type GuardMode = 'nominal' | 'limited' | 'failsafe-level-descend' | 'failsafe-disarm' | 'disarmed';

export interface GuardOutput {
  /**
   * The command to send; null = emit nothing (disarmed, or the guard has disarmed). One object,
   * refilled by every step: valid until the next step, so a holder that keeps it longer (a queue, a
   * rate-limited link) copies it.
   */
  cmd: CtbrCommand | null;
  mode: GuardMode;
  /** Non-finite (or non-causal) input fields replaced this tick. */
  replacedNonFinite: number;
  /** The proposal's thrust or a rate was outside its limit and was clamped this tick. */
  clamped: boolean;
  /** Tilt protection replaced the proposal's rates this tick. */
  tiltOverride: boolean;
  /** The guard has latched a disarm: the adapter must disarm the FC (null alone is not enough). */
  requestDisarm: boolean;
}

export interface GuardCounters {
  ticks: number;
  replacedNonFinite: number;
  clampedTicks: number;
  tiltOverrideTicks: number;
  frameLossEvents: number;
  imuLossEvents: number;
  failsafeDisarms: number;
}

const ZERO_RATES: Readonly<Vec3> = [0, 0, 0];
const EMPTY: readonly number[] = [];

const newCounters = (): GuardCounters => ({
  ticks: 0,
  replacedNonFinite: 0,
  clampedTicks: 0,
  tiltOverrideTicks: 0,
  frameLossEvents: 0,
  imuLossEvents: 0,
  failsafeDisarms: 0,
});

/**
 * Levelling body-rate command for a roll/pitch estimate: rotate body z toward world up about the
 * horizontal axis e_z × up_body, at levelGain · tilt, scaled (axis preserved) into ±maxRate. Exactly
 * inverted attitudes level by rolling. Writes into `out` and returns it. Yaw rate is 0.
 */
export function levellingRates(rollRad: number, pitchRad: number, gainPerS: number, maxRateRadS: Readonly<Vec3>, out: Vec3): Vec3 {
  const cr = Math.cos(rollRad), sr = Math.sin(rollRad), cp = Math.cos(pitchRad), sp = Math.sin(pitchRad);
  // World up expressed in the body frame (ZYX Euler): [−sinθ, sinφ·cosθ, cosφ·cosθ].
  const ux = -sp, uy = sr * cp, uz = cr * cp;
  const h = Math.sqrt(ux * ux + uy * uy);
  const tilt = Math.atan2(h, uz);
  let ax: number, ay: number;
  if (h > 1e-9) {
    ax = -uy / h;
    ay = ux / h;
  } else if (uz > 0) {
    ax = 0;
    ay = 0;
  } else {
    ax = 1;
    ay = 0;
  }
  let wx = gainPerS * tilt * ax, wy = gainPerS * tilt * ay;
  let s = 1;
  if (Math.abs(wx) > maxRateRadS[0]) s = Math.min(s, maxRateRadS[0] / Math.abs(wx));
  if (Math.abs(wy) > maxRateRadS[1]) s = Math.min(s, maxRateRadS[1] / Math.abs(wy));
  // Clamp after scaling too: s·wx can overshoot the limit by one ulp.
  wx = clampAbs(wx * s, maxRateRadS[0]);
  wy = clampAbs(wy * s, maxRateRadS[1]);
  out[0] = Number.isFinite(wx) ? wx : 0;
  out[1] = Number.isFinite(wy) ? wy : 0;
  out[2] = 0;
  return out;
}

/** Angle between body z and world up for a ZYX roll/pitch, rad in [0, π]. */
export function tiltAngle(rollRad: number, pitchRad: number): number {
  const cp = Math.cos(pitchRad);
  const sp = Math.sin(pitchRad), srcp = Math.sin(rollRad) * cp;
  return Math.atan2(Math.sqrt(sp * sp + srcp * srcp), Math.cos(rollRad) * cp);
}

/**
 * The guard between the learners and the output. Innate: no learned state. Timing uses input.nowS
 * (dtS only stands in when nowS is not finite). The GuardOutput is reused by every step (valid until
 * the next one), and so is its `cmd`: the command tick allocates nothing. Links and the simulator's
 * latency queue copy what they keep past the tick.
 */
export class Guard implements Region<GuardInput, GuardOutput> {
  readonly name = 'steering.guard';
  readonly config: Readonly<GuardConfig>;
  /** Cumulative counters since construction / reset(). */
  readonly counters: GuardCounters = newCounters();

  // Derived once (style 5). Number fields start at 0, not undefined: a field declared bare is stored
  // as a tagged heap number, and a double merged with one (thrust = hoverThrustN on one branch) is
  // boxed on the heap every tick.
  private readonly failsafeThrustN: number = 0;
  private readonly tiltReleaseRad: number = 0;
  private readonly hoverThrustN: number = 0;

  private lastNowS = 0;
  private wasArmed = false;
  private armedAtS = 0;
  private imuLossSinceS: number | null = null;
  private frameLossSinceS: number | null = null;
  private frameRecoverSinceS: number | null = null;
  private disarmLatched = false;
  private tiltEngaged = false;
  private readonly levelScratch: Vec3 = [0, 0, 0];
  /** The command handed out, refilled by makeCmd (see GuardOutput.cmd). */
  private readonly cmdOut: CtbrCommand = { kind: 'ctbr', stampS: 0, thrustN: 0, rateRadS: [0, 0, 0] };
  private readonly ratesScratch: Vec3 = [0, 0, 0];
  private readonly out: GuardOutput = { cmd: null, mode: 'disarmed', replacedNonFinite: 0, clamped: false, tiltOverride: false, requestDisarm: false };

  constructor(config: GuardConfigInput) {
    this.config = Object.freeze(parseGuardConfig(config));
    const c = this.config;
    this.failsafeThrustN = Math.min(c.maxThrustN, Math.max(c.minThrustN, c.failsafeThrustFrac * c.hoverThrustN));
    this.tiltReleaseRad = c.maxTiltRad - c.tiltHysteresisRad;
    this.hoverThrustN = c.hoverThrustN;
  }

  /** Whether the guard has latched a disarm (cleared only by disarming and re-arming). */
  get latchedDisarm(): boolean {
    return this.disarmLatched;
  }

  step(input: GuardInput, dtS: number): GuardOutput {
    const c = this.config;
    this.counters.ticks++;
    let replaced = 0;

    // --- time: finite and monotonic ---
    let now = input.nowS;
    if (!Number.isFinite(now)) {
      replaced++;
      now = this.lastNowS + clampDt(dtS);
    }
    if (now < this.lastNowS) now = this.lastNowS;
    this.lastNowS = now;

    // --- arming: motor output exists only while armed (style 7) ---
    if (input.armed !== true) {
      this.wasArmed = false;
      this.clearLatches();
      return this.finish(null, 'disarmed', replaced, false, false, false);
    }
    if (!this.wasArmed) {
      this.wasArmed = true;
      this.armedAtS = now;
      this.clearLatches();
    }

    // --- sensor freshness; a non-finite or future stamp is no sample ---
    // (inline, not a helper: double arguments to a call TurboFan does not inline are boxed on the heap)
    const sinceArmedS = now - this.armedAtS;
    const ti = input.lastImuS, tf = input.lastFrameS;
    let imuAgeS = sinceArmedS, frameAgeS = sinceArmedS;
    if (ti !== null) {
      if (!Number.isFinite(ti) || ti > now + c.imuTimeoutS) replaced++;
      else imuAgeS = Math.max(0, now - ti);
    }
    if (tf !== null) {
      if (!Number.isFinite(tf) || tf > now + c.frameTimeoutS) replaced++;
      else frameAgeS = Math.max(0, now - tf);
    }
    const imuFresh = imuAgeS <= c.imuTimeoutS;
    const frameFresh = frameAgeS <= c.frameTimeoutS;

    // --- attitude estimate ---
    let roll = NaN, pitch = NaN;
    if (input.attitude !== null && input.attitude !== undefined) {
      roll = input.attitude.rollRad;
      pitch = input.attitude.pitchRad;
      if (!Number.isFinite(roll)) replaced++;
      if (!Number.isFinite(pitch)) replaced++;
    }
    const haveAttitude = Number.isFinite(roll) && Number.isFinite(pitch);

    // --- proposal: replace non-finite, clamp (always inspected, so counters see every bad field) ---
    const p = input.proposed;
    let thrust = this.hoverThrustN;
    const rates = this.ratesScratch;
    rates[0] = rates[1] = rates[2] = 0;
    let clamped = false;
    const substituted = p === null || p === undefined;
    if (!substituted) {
      const t = p.thrustN;
      if (Number.isFinite(t)) {
        thrust = t;
        if (t < c.minThrustN || t > c.maxThrustN) clamped = true;
        thrust = Math.min(c.maxThrustN, Math.max(c.minThrustN, t));
      } else replaced++;
      const r = Array.isArray(p.rateRadS) ? p.rateRadS : EMPTY;
      for (let a = 0; a < 3; a++) {
        // read as a number once: a value that may also be undefined lives boxed on the heap
        const v: number = a < r.length ? r[a]! : NaN;
        const lim = c.maxRateRadS[a]!;
        if (Number.isFinite(v)) {
          if (Math.abs(v) > lim) clamped = true;
          rates[a] = Math.min(lim, Math.max(-lim, v));
        } else replaced++;
      }
    }

    // --- latched disarm ---
    if (this.disarmLatched) return this.finish(null, 'failsafe-disarm', replaced, false, false, true);

    // --- IMU loss: latched until re-armed; short descent then disarm ---
    if (!imuFresh && this.imuLossSinceS === null) {
      this.imuLossSinceS = now;
      this.counters.imuLossEvents++;
    }
    if (this.imuLossSinceS !== null) {
      if (now - this.imuLossSinceS >= c.imuLossDisarmAfterS) return this.latchDisarm(replaced);
      return this.finish(this.makeCmd(now, this.failsafeThrustN, ZERO_RATES), 'failsafe-disarm', replaced, false, false, false);
    }

    // --- frame loss: level and descend; recovers after recoverHoldS of fresh frames ---
    if (!frameFresh) {
      if (this.frameLossSinceS === null) {
        this.frameLossSinceS = now;
        this.counters.frameLossEvents++;
      }
      this.frameRecoverSinceS = null;
    } else if (this.frameLossSinceS !== null) {
      if (this.frameRecoverSinceS === null) this.frameRecoverSinceS = now;
      if (now - this.frameRecoverSinceS >= c.recoverHoldS) {
        this.frameLossSinceS = null;
        this.frameRecoverSinceS = null;
      }
    }
    if (this.frameLossSinceS !== null) {
      if (now - this.frameLossSinceS >= c.failsafeDisarmAfterS || input.landed === true) return this.latchDisarm(replaced);
      const lv = this.levelScratch;
      lv[0] = lv[1] = lv[2] = 0;
      if (haveAttitude) levellingRates(roll, pitch, c.levelGainPerS, c.maxRateRadS, lv);
      this.tiltEngaged = false;
      return this.finish(this.makeCmd(now, this.failsafeThrustN, lv), 'failsafe-level-descend', replaced, false, false, false);
    }

    // --- nominal: tilt protection with hysteresis ---
    let tiltOverride = false;
    if (haveAttitude) {
      // tiltAngle(roll, pitch), inline (see above)
      const cp = Math.cos(pitch), sp = Math.sin(pitch), srcp = Math.sin(roll) * cp;
      const tilt = Math.atan2(Math.sqrt(sp * sp + srcp * srcp), Math.cos(roll) * cp);
      if (tilt > c.maxTiltRad) this.tiltEngaged = true;
      else if (tilt < this.tiltReleaseRad) this.tiltEngaged = false;
      if (this.tiltEngaged) {
        tiltOverride = true;
        levellingRates(roll, pitch, c.levelGainPerS, c.maxRateRadS, rates);
      }
    } else this.tiltEngaged = false;

    const modified = clamped || replaced > 0 || tiltOverride || substituted;
    return this.finish(this.makeCmd(now, thrust, rates), modified ? 'limited' : 'nominal', replaced, clamped, tiltOverride, false);
  }

  saveState(): LearnedState | null {
    return null;
  }

  loadState(s: LearnedState): void {
    refuseLearnedState(this.name, s);
  }

  /** Back to tick 0: clears latches, timers and counters. */
  reset(): void {
    this.lastNowS = 0;
    this.wasArmed = false;
    this.armedAtS = 0;
    this.clearLatches();
    Object.assign(this.counters, newCounters());
  }

  private clearLatches(): void {
    this.imuLossSinceS = null;
    this.frameLossSinceS = null;
    this.frameRecoverSinceS = null;
    this.disarmLatched = false;
    this.tiltEngaged = false;
  }

  private latchDisarm(replaced: number): GuardOutput {
    this.disarmLatched = true;
    this.counters.failsafeDisarms++;
    return this.finish(null, 'failsafe-disarm', replaced, false, false, true);
  }

  /** Final defensive pass: whatever path produced it, the command is finite and inside the limits. */
  private makeCmd(now: number, thrustN: number, rates: Readonly<Vec3>): CtbrCommand {
    const c = this.config;
    const t = Number.isFinite(thrustN) ? Math.min(c.maxThrustN, Math.max(c.minThrustN, thrustN)) : this.hoverThrustN;
    const o = this.cmdOut, r = o.rateRadS;
    for (let a = 0; a < 3; a++) {
      const v = rates[a]!;
      // `+ 0` turns −0 into +0 so a zero command is exactly zero.
      r[a] = Number.isFinite(v) ? clampAbs(v, c.maxRateRadS[a]!) + 0 : 0;
    }
    o.stampS = now;
    o.thrustN = t;
    return o;
  }

  private finish(
    cmd: CtbrCommand | null,
    mode: GuardMode,
    replaced: number,
    clamped: boolean,
    tiltOverride: boolean,
    requestDisarm: boolean,
  ): GuardOutput {
    this.counters.replacedNonFinite += replaced;
    if (clamped) this.counters.clampedTicks++;
    if (tiltOverride) this.counters.tiltOverrideTicks++;
    const o = this.out;
    o.cmd = cmd;
    o.mode = mode;
    o.replacedNonFinite = replaced;
    o.clamped = clamped;
    o.tiltOverride = tiltOverride;
    o.requestDisarm = requestDisarm;
    return o;
  }
}

// ---------------------------------------------------------------------------------------------------
// Rewards: innate signals from the senses
// ---------------------------------------------------------------------------------------------------

/** The gate the tracker follows this tick (null = no gate tracked / visible). */
export interface GateObservation {
  /** Tracker's gate id; a change of id means the previous gate is no longer tracked. */
  id: number | null;
  /** Apparent (angular) size of the gate, rad. */
  angularSizeRad: number;
}

export interface RewardInput {
  nowS: number;
  gate: GateObservation | null;
  /** Estimated distance to the next gate, m; null if unknown. */
  nextGateDistanceM: number | null;
  /** Latest IMU sample (each stampS is processed once); null if none. */
  imu: ImuSample | null;
  /** Specific force the commanded thrust should produce, body FLU m/s² (≈ [0, 0, T/m]); null → [0, 0, g]. */
  expectedSpecificForceMS2: Vec3 | null;
}

export interface RewardOutput {
  gatePassed: boolean;
  crash: boolean;
  /** Closing speed toward the next gate, m/s (positive = approaching); 0 across discontinuities. */
  progress: number;
  /** gateReward·gatePassed + crashReward·crash + progressRewardPerM·(metres closed this tick). */
  reward: number;
}

/**
 * Innate reward signals:
 *  - gatePassed: the tracked gate was "near" (angular size ≥ passAngularSizeRad, not shrinking by more
 *    than approachTolerance, and within passMaxDistanceM if a distance is known) and is lost (not
 *    visible, its id changed, or its size collapsed below collapseFraction of the last near size)
 *    within passWindowS of the last near sighting. Fires once per gate (the near latch is cleared).
 *  - crash: |specific force − expected| > crashAccelThresholdMS2 on a new IMU sample; one event per
 *    crashRefractoryS.
 *  - progress: −d(distance to next gate)/dt from the distance estimate; reset (0) on a gate pass, a
 *    gate id change, a non-finite distance or a jump faster than maxProgressSpeedMS.
 * Weights (defaults): +10 per gate, −50 per crash, +1 per metre closed.
 */
export class Rewards implements Region<RewardInput, RewardOutput> {
  readonly name = 'steering.rewards';
  readonly config: Readonly<RewardConfig>;
  /** Cumulative event counts. */
  readonly counters = { gatesPassed: 0, crashes: 0, replacedNonFinite: 0 };

  private near: { t: number; id: number | null; size: number } | null = null;
  private prevGate: GateObservation | null = null;
  private prevDist: number | null = null;
  private prevDistS = 0;
  private lastImuStampS = NaN;
  private lastCrashS = -Infinity;

  constructor(config: RewardConfigInput = {}) {
    this.config = Object.freeze(parseRewardConfig(config));
  }

  step(input: RewardInput, _dtS: number): RewardOutput {
    const c = this.config;
    const now = input.nowS;
    if (!Number.isFinite(now)) {
      this.counters.replacedNonFinite++;
      return { gatePassed: false, crash: false, progress: 0, reward: 0 };
    }

    // --- gate passage ---
    let gatePassed = false;
    let gate = input.gate;
    if (gate !== null && !Number.isFinite(gate.angularSizeRad)) {
      this.counters.replacedNonFinite++;
      gate = null;
    }
    const prev = this.prevGate;
    const sameAsPrev = gate !== null && prev !== null && gate.id === prev.id;
    let idChanged = false;
    if (this.near !== null) {
      const n = this.near;
      idChanged = gate !== null && gate.id !== n.id;
      const lost = gate === null || idChanged || gate.angularSizeRad < c.collapseFraction * n.size;
      if (lost) {
        if (now - n.t <= c.passWindowS) gatePassed = true;
        this.near = null;
      }
    } else if (gate !== null && prev !== null && gate.id !== prev.id) idChanged = true;
    if (gate !== null && !gatePassed) {
      const d = input.nextGateDistanceM;
      const closeEnough = d === null || !Number.isFinite(d) || d <= c.passMaxDistanceM;
      const approaching = !sameAsPrev || prev === null || gate.angularSizeRad >= (1 - c.approachTolerance) * prev.angularSizeRad;
      if (gate.angularSizeRad >= c.passAngularSizeRad && closeEnough && approaching) {
        this.near = { t: now, id: gate.id, size: gate.angularSizeRad };
      } else if (this.near !== null && !approaching) this.near = null;
    }
    this.prevGate = gate === null ? null : { id: gate.id, angularSizeRad: gate.angularSizeRad };

    // --- crash: impact spike in the specific force ---
    let crash = false;
    const imu = input.imu;
    if (imu !== null && imu.stampS !== this.lastImuStampS) {
      this.lastImuStampS = imu.stampS;
      const f = imu.accelMS2;
      const e = input.expectedSpecificForceMS2;
      const ex = e?.[0] ?? 0, ey = e?.[1] ?? 0, ez = e?.[2] ?? c.gravityMS2;
      const dev = Math.hypot(f[0] - ex, f[1] - ey, f[2] - ez);
      if (!Number.isFinite(dev)) this.counters.replacedNonFinite++;
      else if (dev > c.crashAccelThresholdMS2 && now - this.lastCrashS >= c.crashRefractoryS) {
        crash = true;
        this.lastCrashS = now;
      }
    }

    // --- progress: closing speed to the next gate ---
    let progress = 0;
    let closedM = 0;
    const d = input.nextGateDistanceM;
    if (d === null || !Number.isFinite(d)) {
      if (d !== null) this.counters.replacedNonFinite++;
      this.prevDist = null;
    } else {
      if (this.prevDist !== null && !gatePassed && !idChanged && now > this.prevDistS) {
        const delta = this.prevDist - d;
        const speed = delta / (now - this.prevDistS);
        if (Math.abs(speed) <= c.maxProgressSpeedMS) {
          progress = speed;
          closedM = delta;
        }
      }
      this.prevDist = d;
      this.prevDistS = now;
    }

    if (gatePassed) this.counters.gatesPassed++;
    if (crash) this.counters.crashes++;
    const reward = (gatePassed ? c.gateReward : 0) + (crash ? c.crashReward : 0) + c.progressRewardPerM * closedM;
    return { gatePassed, crash, progress, reward };
  }

  saveState(): LearnedState | null {
    return null;
  }

  loadState(s: LearnedState): void {
    refuseLearnedState(this.name, s);
  }

  reset(): void {
    this.near = null;
    this.prevGate = null;
    this.prevDist = null;
    this.prevDistS = 0;
    this.lastImuStampS = NaN;
    this.lastCrashS = -Infinity;
    this.counters.gatesPassed = 0;
    this.counters.crashes = 0;
    this.counters.replacedNonFinite = 0;
  }
}
