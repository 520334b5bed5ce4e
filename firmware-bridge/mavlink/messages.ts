/**
 * The MAVLink messages the bridges send and read, and the frame conversions at this edge.
 *
 * MAVLink is NED world / FRD body; brainpilot's core is ENU world / FLU body. The conversions live here
 * and nowhere else:
 *   body vectors   FRD (x, y, z) → FLU (x, −y, −z)        (rates, specific force)
 *   world vectors  NED (n, e, d) → ENU (e, n, −d)
 *   Euler angles   roll same, pitch negated (nose-up is −pitch in FLU), yaw_enu = π/2 − yaw_ned
 */
import { common, minimal, type MavLinkData } from 'node-mavlink';
import type { ImuSample } from '../../src/tracts/io.js';
import type { Vec3 } from '../../src/math/vec3.js';
import { quatFromEuler, type Quat } from '../../src/math/quat.js';

export const MavCmd = common.MavCmd;
export const MavResult = common.MavResult;
export const MAV_MODE_FLAG_CUSTOM_MODE_ENABLED = minimal.MavModeFlag.CUSTOM_MODE_ENABLED;
export const MAV_MODE_FLAG_SAFETY_ARMED = minimal.MavModeFlag.SAFETY_ARMED;
export const MAV_AUTOPILOT_ARDUPILOTMEGA = minimal.MavAutopilot.ARDUPILOTMEGA; // 3
export const MAV_AUTOPILOT_PX4 = minimal.MavAutopilot.PX4; // 12

/** Message ids the bridges request and read. */
export const MSG = {
  HEARTBEAT: 0,
  SYS_STATUS: 1,
  SCALED_IMU: 26,
  ATTITUDE: 30,
  LOCAL_POSITION_NED: 32,
  COMMAND_LONG: 76,
  COMMAND_ACK: 77,
  SET_ATTITUDE_TARGET: 82,
  HIGHRES_IMU: 105,
  AUTOPILOT_VERSION: 148,
  EXTENDED_SYS_STATE: 245,
  STATUSTEXT: 253,
  SET_MODE: 11,
  PARAM_REQUEST_READ: 20,
  PARAM_VALUE: 22,
} as const;

/** "MAV_CMD_COMPONENT_ARM_DISARM (400)". */
export function commandName(cmd: number): string {
  const n = (MavCmd as unknown as Record<number, string | undefined>)[cmd];
  return n ? `MAV_CMD_${n} (${cmd})` : `MAV_CMD ${cmd}`;
}

/** "TEMPORARILY_REJECTED". */
export function resultName(result: number): string {
  return (MavResult as unknown as Record<number, string | undefined>)[result] ?? `result ${result}`;
}

export function messageName(msgid: number, msg?: MavLinkData | null): string {
  const n = msg ? (msg.constructor as { MSG_NAME?: string }).MSG_NAME : undefined;
  return n ?? `msgid ${msgid}`;
}

// ---------------------------------------------------------------------------------------------------------
// Builders
// ---------------------------------------------------------------------------------------------------------

/** Our HEARTBEAT: an onboard controller (not an autopilot), active. */
export function heartbeat(type: number = minimal.MavType.ONBOARD_CONTROLLER): minimal.Heartbeat {
  const m = new minimal.Heartbeat();
  m.type = type;
  m.autopilot = minimal.MavAutopilot.INVALID;
  m.baseMode = 0 as minimal.MavModeFlag;
  m.customMode = 0;
  m.systemStatus = minimal.MavState.ACTIVE;
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

/** SET_MODE (deprecated by PX4 in favour of DO_SET_MODE, still honoured by both stacks). */
export function setMode(targetSystem: number, customMode: number): common.SetMode {
  const m = new common.SetMode();
  m.targetSystem = targetSystem;
  m.baseMode = MAV_MODE_FLAG_CUSTOM_MODE_ENABLED as unknown as common.MavMode;
  m.customMode = customMode >>> 0;
  return m;
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
  m.bodyRollRate = rateFluRadS[0];
  m.bodyPitchRate = -rateFluRadS[1];
  m.bodyYawRate = -rateFluRadS[2];
  m.thrust = thrust01;
  m.thrustBody = [0, 0, 0];
  return m;
}

// ---------------------------------------------------------------------------------------------------------
// Readers (MAVLink → tracts)
// ---------------------------------------------------------------------------------------------------------

/** HIGHRES_IMU (SI units, FRD, specific force: level at rest ≈ (0, 0, −9.81)) → ImuSample (FLU). */
export function imuFromHighres(m: common.HighresImu): ImuSample {
  return {
    stampS: Number(m.timeUsec) / 1e6,
    gyroRadS: [m.xgyro, -m.ygyro, -m.zgyro],
    accelMS2: [m.xacc, -m.yacc, -m.zacc],
  };
}

const G0 = 9.80665;
/** SCALED_IMU (mG, mrad/s, FRD; what ArduPilot streams) → ImuSample (FLU). */
export function imuFromScaledImu(m: common.ScaledImu): ImuSample {
  const a = G0 / 1000;
  return {
    stampS: m.timeBootMs / 1000,
    gyroRadS: [m.xgyro / 1000, -m.ygyro / 1000, -m.zgyro / 1000],
    accelMS2: [m.xacc * a, -m.yacc * a, -m.zacc * a],
  };
}

export const nedToEnu = (n: number, e: number, d: number): Vec3 => [e, n, -d];

/** ATTITUDE (NED/FRD Euler) → pose quaternion ENU/FLU. */
export function attitudeToQuatEnuFlu(rollRad: number, pitchRad: number, yawNedRad: number): Quat {
  return quatFromEuler(rollRad, -pitchRad, Math.PI / 2 - yawNedRad);
}

export interface VehiclePose {
  stampS: number;
  posEnuM: Vec3;
  velEnuMS: Vec3;
  /** Body FLU → world ENU. */
  quatEnuFlu: Quat;
}

export function isFiniteAll(...xs: number[]): boolean {
  for (const x of xs) if (!Number.isFinite(x)) return false;
  return true;
}
