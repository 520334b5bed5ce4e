/**
 * The MAVLink messages the PX4/ArduPilot bridges send and read. The frame conversions (NED/FRD ↔ ENU/FLU)
 * and the builders every link shares live in src/transports/mavlink/messages.ts and are re-exported here;
 * this file adds what only the autopilot bridges need (message ids, names, SET_MODE, the pose they report).
 */
import { common, minimal, type MavLinkData } from 'node-mavlink';
import type { Vec3 } from '../../src/math/vec3.js';
import { MavCmd, MavResult } from '../../src/transports/mavlink/messages.js';
import type { Quat } from '../../src/math/quat.js';

export {
  MavCmd,
  MavResult,
  fluFromFrd,
  frdFromFlu,
  nedToEnu,
  attitudeToQuatEnuFlu,
  attitudeFromEnu,
  nedEulerFromEnu,
  imuFromHighres,
  highresFromImu,
  imuFromScaledImu,
  heartbeat,
  type HeartbeatFields,
  commandLong,
  armDisarm,
  RATES_THRUST_TYPE_MASK,
  attitudeRatesTarget,
  attitudeTargetFromCtbr,
  ctbrFromAttitudeTarget,
} from '../../src/transports/mavlink/messages.js';
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

/** SET_MODE (deprecated by PX4 in favour of DO_SET_MODE, still honoured by both stacks). */
export function setMode(targetSystem: number, customMode: number): common.SetMode {
  const m = new common.SetMode();
  m.targetSystem = targetSystem;
  m.baseMode = MAV_MODE_FLAG_CUSTOM_MODE_ENABLED as unknown as common.MavMode;
  m.customMode = customMode >>> 0;
  return m;
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
