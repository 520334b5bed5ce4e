/**
 * Types shared by the built-in simulator's parts. World ENU, body FLU, SI units.
 * Motor order is Betaflight quad-X: 0 = rear-right (CW), 1 = front-right (CCW),
 * 2 = rear-left (CCW), 3 = front-left (CW) (props-in, viewed from above).
 */
import type { Vec3 } from '../src/math/vec3.js';
import type { Quat } from '../src/math/quat.js';

export interface RateGains {
  /** Per axis [roll, pitch, yaw]. */
  p: Vec3;
  i: Vec3;
  d: Vec3;
}

/** Betaflight "actual" rates: centre sensitivity, max rate, expo — per axis [roll, pitch, yaw]. */
export interface RcRates {
  centerDegS: Vec3;
  maxDegS: Vec3;
  expo: Vec3;
}

export interface VehicleParams {
  name: string;
  description: string;
  massKg: number;
  /** Diagonal inertia [Ixx, Iyy, Izz], kg·m². */
  inertiaKgM2: Vec3;
  /** Motor position offsets from the centre along body x and y (quad-X), metres. */
  armXM: number;
  armYM: number;
  /** Max thrust of one motor at full command, N. */
  motorMaxThrustN: number;
  /** Yaw reaction torque per newton of thrust, N·m/N. */
  yawTorquePerThrustM: number;
  /** First-order motor spin-up time constant, s. */
  motorTauS: number;
  /** Idle command (fraction of max speed) while armed. */
  motorIdle: number;
  /** Linear body drag coefficients per body axis, N/(m/s). */
  dragLinear: Vec3;
  /** Quadratic body drag coefficients per body axis, N/(m/s)². */
  dragQuadratic: Vec3;
  /** Max commanded body rate per axis (roll, pitch, yaw), rad/s. */
  maxRateRadS: Vec3;
  /** Collision radius of the airframe, m. */
  radiusM: number;
  rateGains: RateGains;
  rcRates: RcRates;
}

export interface RigidBodyState {
  posEnuM: Vec3;
  velEnuMS: Vec3;
  /** Body → world attitude. */
  quat: Quat;
  /** Body angular rate, FLU. */
  rateFluRadS: Vec3;
  /** Motor speeds as a fraction of max speed (thrust = max · ω²). */
  motorSpeed: [number, number, number, number];
  /** World acceleration of the last step (for the IMU's specific force), m/s². */
  accEnuMS2: Vec3;
}

export interface GateSpec {
  /** 0-based index in pass order. */
  index: number;
  centerEnuM: Vec3;
  /** Heading of the pass direction (gate's +x), rad, ENU (0 = east, CCW positive). */
  yawRad: number;
  /** Pitch of the gate's pass direction, rad (positive = pass direction tilted down, right-hand about the gate's +y). */
  pitchRad: number;
  innerM: number;
  outerM: number;
  depthM: number;
}

export interface TrackSpec {
  name: string;
  description: string;
  gates: GateSpec[];
  start: { posEnuM: Vec3; yawRad: number };
  arena: { minEnuM: Vec3; maxEnuM: Vec3 };
}

export type SimEvent =
  | { kind: 'gate'; tS: number; gate: number; lap: number }
  | { kind: 'lap'; tS: number; lap: number; lapTimeS: number }
  | { kind: 'crash'; tS: number; cause: 'gate-frame' | 'ground' | 'arena'; gate?: number }
  | { kind: 'wrong-gate'; tS: number; gate: number; expected: number }
  | { kind: 'wrong-way'; tS: number; gate: number }
  | { kind: 'command-rejected'; tS: number; reason: string };
