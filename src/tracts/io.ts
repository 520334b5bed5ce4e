/**
 * The tracts at brainpilot's edge: what sensors deliver and what the motor stage emits. Every
 * transport, simulator and firmware bridge converts to and from these types; the core never sees
 * anything else. World frame ENU, body frame FLU (REP-103); SI units; times in seconds.
 */
import type { Vec3 } from '../math/vec3.js';

export interface CameraIntrinsics {
  width: number;
  height: number;
  fx: number;
  fy: number;
  cx: number;
  cy: number;
}

/** Camera mounted on the body: optical axis = body +x pitched up by tiltUpRad. */
export interface CameraMount {
  tiltUpRad: number;
  posFluM: Vec3;
}

export type PixelEncoding = 'mono8' | 'rgb8';

export interface CameraFrame {
  /** Time the image was exposed (sensor clock, s). */
  stampS: number;
  /** Time the frame became available to the consumer (s); stampS + exposure/transport latency. */
  arrivalS: number;
  seq: number;
  encoding: PixelEncoding;
  width: number;
  height: number;
  /** Bytes per row. */
  step: number;
  data: Uint8Array;
  intrinsics: CameraIntrinsics;
  mount: CameraMount;
}

export interface ImuSample {
  stampS: number;
  /** Body angular rate, FLU, rad/s. */
  gyroRadS: Vec3;
  /** Specific force, FLU, m/s² (≈ [0, 0, +9.81] at rest, level). */
  accelMS2: Vec3;
}

/** Collective thrust + body rates, the command a Betaflight-acro-like FC takes. */
export interface CtbrCommand {
  kind: 'ctbr';
  stampS: number;
  /** Collective thrust, newtons, ≥ 0. */
  thrustN: number;
  /** Desired body rates, FLU, rad/s. */
  rateRadS: Vec3;
}

/** Direct normalised motor commands 0..1, Betaflight quad-X order: RR, FR, RL, FL. */
export interface MotorsCommand {
  kind: 'motors';
  stampS: number;
  motors: [number, number, number, number];
}

/** RC sticks in microseconds (1000–2000), AETR order then AUX channels. */
export interface RcCommand {
  kind: 'rc';
  stampS: number;
  channelsUs: number[];
}

export type FlightCommand = CtbrCommand | MotorsCommand | RcCommand;
