/**
 * The MAVLink messages brainpilot's links send and read, and the frame conversions at this edge.
 *
 * MAVLink is NED world / FRD body; brainpilot's core is ENU world / FLU body. The conversions live here
 * and nowhere else:
 *   body vectors   FRD (x, y, z) ↔ FLU (x, −y, −z)        (rates, specific force)
 *   world vectors  NED (n, e, d) → ENU (e, n, −d)
 *   Euler angles   roll same, pitch negated (nose-up is −pitch in FLU), yaw_enu = π/2 − yaw_ned
 */
import { common, minimal } from 'node-mavlink';
import type { CtbrCommand, ImuSample } from '../../tracts/io.js';
import type { Vec3 } from '../../math/vec3.js';
import { quatFromEuler, quatToEuler, type Quat } from '../../math/quat.js';

export { common, minimal };
export const MavCmd = common.MavCmd;
export const MavResult = common.MavResult;

// ---------------------------------------------------------------------------------------------------------
// Frames
// ---------------------------------------------------------------------------------------------------------

/** FRD → FLU (and back: the flip is its own inverse). */
export const fluFromFrd = (x: number, y: number, z: number): Vec3 => [x, -y, -z];
export const frdFromFlu = fluFromFrd;

export const nedToEnu = (n: number, e: number, d: number): Vec3 => [e, n, -d];

/** ATTITUDE (NED/FRD Euler) → pose quaternion ENU/FLU. */
export function attitudeToQuatEnuFlu(rollRad: number, pitchRad: number, yawNedRad: number): Quat {
  return quatFromEuler(rollRad, -pitchRad, Math.PI / 2 - yawNedRad);
}

/** ENU/FLU Euler (roll, pitch nose-down positive, yaw from east CCW) → NED/FRD Euler, yaw wrapped to ±π. */
export function nedEulerFromEnu(rollRad: number, pitchRad: number, yawRad: number): Vec3 {
  let yaw = Math.PI / 2 - yawRad;
  yaw = Math.atan2(Math.sin(yaw), Math.cos(yaw));
  return [rollRad, -pitchRad, yaw];
}

/** Pose quaternion ENU/FLU + body rates FLU → ATTITUDE (NED/FRD Euler and rates; the simulator side). */
export function attitudeFromEnu(timeBootMs: number, quatEnuFlu: Quat, rateFluRadS: Vec3): common.Attitude {
  const [roll, pitch, yaw] = quatToEuler(quatEnuFlu);
  const m = new common.Attitude();
  m.timeBootMs = Math.max(0, Math.round(timeBootMs)) >>> 0;
  [m.roll, m.pitch, m.yaw] = nedEulerFromEnu(roll, pitch, yaw);
  [m.rollspeed, m.pitchspeed, m.yawspeed] = frdFromFlu(...rateFluRadS);
  return m;
}

/** HIGHRES_IMU (SI units, FRD, specific force: level at rest ≈ (0, 0, −9.81)) → ImuSample (FLU). */
export function imuFromHighres(m: common.HighresImu): ImuSample {
  return {
    stampS: Number(m.timeUsec) / 1e6,
    gyroRadS: fluFromFrd(m.xgyro, m.ygyro, m.zgyro),
    accelMS2: fluFromFrd(m.xacc, m.yacc, m.zacc),
  };
}

/** ImuSample → HIGHRES_IMU (the simulator side). */
export function highresFromImu(s: ImuSample, out = new common.HighresImu()): common.HighresImu {
  out.timeUsec = BigInt(Math.round(s.stampS * 1e6));
  [out.xacc, out.yacc, out.zacc] = frdFromFlu(...s.accelMS2);
  [out.xgyro, out.ygyro, out.zgyro] = frdFromFlu(...s.gyroRadS);
  out.fieldsUpdated = 0x3f as common.HighresImuUpdatedFlags; // acc + gyro
  return out;
}

const G0 = 9.80665;
/** SCALED_IMU (mG, mrad/s, FRD; what ArduPilot streams) → ImuSample (FLU). */
export function imuFromScaledImu(m: common.ScaledImu): ImuSample {
  const a = G0 / 1000;
  return {
    stampS: m.timeBootMs / 1000,
    gyroRadS: fluFromFrd(m.xgyro / 1000, m.ygyro / 1000, m.zgyro / 1000),
    accelMS2: fluFromFrd(m.xacc * a, m.yacc * a, m.zacc * a),
  };
}

// ---------------------------------------------------------------------------------------------------------
// Builders
// ---------------------------------------------------------------------------------------------------------

export interface HeartbeatFields {
  autopilot?: number;
  /** MAV_MODE_FLAG bits (SAFETY_ARMED 128, CUSTOM_MODE_ENABLED 1). */
  baseMode?: number;
  customMode?: number;
  systemStatus?: number;
}

/**
 * HEARTBEAT. Default: ours, an onboard controller (not an autopilot), active. The simulators and emulators
 * that play the vehicle pass their type, autopilot, armed bit and state.
 */
export function heartbeat(type: number = minimal.MavType.ONBOARD_CONTROLLER, o: HeartbeatFields = {}): minimal.Heartbeat {
  const m = new minimal.Heartbeat();
  m.type = type;
  m.autopilot = o.autopilot ?? minimal.MavAutopilot.INVALID;
  m.baseMode = (o.baseMode ?? 0) as minimal.MavModeFlag;
  m.customMode = (o.customMode ?? 0) >>> 0;
  m.systemStatus = o.systemStatus ?? minimal.MavState.ACTIVE;
  m.mavlinkVersion = 3;
  return m;
}

export function commandLong(targetSystem: number, targetComponent: number, command: number, params: readonly number[], confirmation = 0): common.CommandLong {
  if (params.length > 7) throw new RangeError(`COMMAND_LONG takes 7 params, got ${params.length}`);
  const m = new common.CommandLong();
  m.targetSystem = targetSystem;
  m.targetComponent = targetComponent;
  m.command = command;
  m.confirmation = confirmation & 0xff;
  const p = [0, 0, 0, 0, 0, 0, 0].map((d, i) => params[i] ?? d);
  m._param1 = p[0]!;
  m._param2 = p[1]!;
  m._param3 = p[2]!;
  m._param4 = p[3]!;
  m._param5 = p[4]!;
  m._param6 = p[5]!;
  m._param7 = p[6]!;
  return m;
}

/** COMMAND_LONG MAV_CMD_COMPONENT_ARM_DISARM: param1 1 = arm, 0 = disarm. */
export function armDisarm(arm: boolean, targetSystem: number, targetComponent: number, confirmation = 0): common.CommandLong {
  return commandLong(targetSystem, targetComponent, MavCmd.COMPONENT_ARM_DISARM, [arm ? 1 : 0], confirmation);
}

/** type_mask: attitude ignored, body rates and thrust used. */
export const RATES_THRUST_TYPE_MASK = common.AttitudeTargetTypemask.ATTITUDE_IGNORE; // 128

/**
 * SET_ATTITUDE_TARGET with body rates (given FLU, sent FRD) and normalised thrust 0..1. The attitude is
 * ignored (type_mask 128) but q must still be a valid quaternion.
 */
export function attitudeRatesTarget(targetSystem: number, targetComponent: number, timeBootMs: number, rateFluRadS: Vec3, thrust01: number): common.SetAttitudeTarget {
  const m = new common.SetAttitudeTarget();
  m.timeBootMs = Math.max(0, Math.floor(timeBootMs)) >>> 0;
  m.targetSystem = targetSystem;
  m.targetComponent = targetComponent;
  m.typeMask = RATES_THRUST_TYPE_MASK;
  m.q = [1, 0, 0, 0];
  [m.bodyRollRate, m.bodyPitchRate, m.bodyYawRate] = frdFromFlu(...rateFluRadS);
  m.thrust = thrust01;
  m.thrustBody = [0, 0, 0];
  return m;
}

/**
 * CtbrCommand → SET_ATTITUDE_TARGET: collective thrust normalised by maxThrustN to 0..1, body rates
 * clamped to ±maxRateRadS (FLU roll, pitch, yaw) and sent FRD. Returns null (send nothing) for a command
 * that is not finite.
 */
export function attitudeTargetFromCtbr(
  cmd: CtbrCommand,
  o: { maxThrustN: number; maxRateRadS: readonly number[]; timeBootMs: number; targetSystem: number; targetComponent: number },
): common.SetAttitudeTarget | null {
  const r = cmd.rateRadS;
  if (!Number.isFinite(cmd.thrustN) || !Number.isFinite(r[0]) || !Number.isFinite(r[1]) || !Number.isFinite(r[2])) return null;
  const lim = (v: number, a: number): number => Math.max(-a, Math.min(a, v));
  const rate: Vec3 = [lim(r[0], o.maxRateRadS[0] ?? Infinity), lim(r[1], o.maxRateRadS[1] ?? Infinity), lim(r[2], o.maxRateRadS[2] ?? Infinity)];
  return attitudeRatesTarget(o.targetSystem, o.targetComponent, o.timeBootMs, rate, Math.max(0, Math.min(1, cmd.thrustN / o.maxThrustN)));
}

/** SET_ATTITUDE_TARGET → CtbrCommand (the simulator side); null when it is not rates + thrust or not finite. */
export function ctbrFromAttitudeTarget(m: common.SetAttitudeTarget, maxThrustN: number, stampS: number): { cmd: CtbrCommand | null; why?: string } {
  if ((m.typeMask & RATES_THRUST_TYPE_MASK) === 0) return { cmd: null, why: `type_mask 0x${m.typeMask.toString(16)} asks for an attitude target; this simulator takes rates + thrust` };
  if ((m.typeMask & 0x07) !== 0 || (m.typeMask & common.AttitudeTargetTypemask.THROTTLE_IGNORE) !== 0)
    return { cmd: null, why: `type_mask 0x${m.typeMask.toString(16)} ignores a rate or the thrust` };
  const vals = [m.thrust, m.bodyRollRate, m.bodyPitchRate, m.bodyYawRate];
  if (!vals.every(Number.isFinite)) return { cmd: null, why: `non-finite field in [${vals.join(', ')}]` };
  if (m.thrust < 0 || m.thrust > 1) return { cmd: null, why: `thrust ${m.thrust} outside 0..1` };
  return { cmd: { kind: 'ctbr', stampS, thrustN: m.thrust * maxThrustN, rateRadS: fluFromFrd(m.bodyRollRate, m.bodyPitchRate, m.bodyYawRate) } };
}
