/**
 * MSP command ids, Betaflight box (mode) permanent ids and arming-disable flag names.
 *
 * Sources (checked against Betaflight's own tree, see the notes per table):
 * - command ids: src/main/msp/msp_protocol.h
 * - box permanent ids: src/main/msp/msp_box.c (`boxes[]`, "permanent IDs ... DO NOT REUSE THEM")
 * - arming-disable flags: src/main/fc/runtime_config.h (`armingDisableFlags_e`) and the CLI/OSD names
 *   in src/main/fc/runtime_config.c (`armingDisableFlagNames[]`)
 */

/** MSP v1 command ids (0..254). 255 is not a command: it marks an MSP v2 frame tunnelled in v1. */
export const MSP = {
  API_VERSION: 1,
  FC_VARIANT: 2,
  FC_VERSION: 3,
  BOARD_INFO: 4,
  BUILD_INFO: 5,
  NAME: 10,
  SET_NAME: 11,
  MODE_RANGES: 34,
  SET_MODE_RANGE: 35,
  FEATURE_CONFIG: 36,
  SET_FEATURE_CONFIG: 37,
  BOARD_ALIGNMENT_CONFIG: 38,
  ARMING_CONFIG: 61,
  SET_ARMING_CONFIG: 62,
  RX_MAP: 64,
  SET_RX_MAP: 65,
  REBOOT: 68,
  FAILSAFE_CONFIG: 75,
  SET_FAILSAFE_CONFIG: 76,
  RXFAIL_CONFIG: 77,
  /** In: [u8 disableArming, u8 disableRunawayTakeoff]; sets/clears the MSP arming-disable flag. */
  ARMING_DISABLE: 99,
  STATUS: 101,
  RAW_IMU: 102,
  SERVO: 103,
  MOTOR: 104,
  RC: 105,
  RAW_GPS: 106,
  ATTITUDE: 108,
  ALTITUDE: 109,
  ANALOG: 110,
  RC_TUNING: 111,
  PID: 112,
  BOXNAMES: 116,
  PIDNAMES: 117,
  BOXIDS: 119,
  BATTERY_STATE: 130,
  MOTOR_CONFIG: 131,
  MOTOR_TELEMETRY: 139,
  STATUS_EX: 150,
  UID: 160,
  SET_RAW_RC: 200,
  SET_RC_TUNING: 204,
  ACC_CALIBRATION: 205,
  MAG_CALIBRATION: 206,
  RESET_CONF: 208,
  SELECT_SETTING: 210,
  SET_MOTOR: 214,
  /** Out: several out-commands in one request (payload = list of u8 ids); reply = per command [u8 len][data]. */
  MULTIPLE_MSP: 230,
  MODE_RANGES_EXTRA: 238,
  EEPROM_WRITE: 250,
  DEBUG: 254,
  /** Marker, not a command: the v1 payload carries an MSP v2 header + payload + CRC8. */
  V2_FRAME: 255,
} as const;

export type MspCommandName = keyof typeof MSP;

const MSP_NAME_BY_ID = new Map<number, MspCommandName>(
  (Object.entries(MSP) as [MspCommandName, number][]).map(([name, id]) => [id, name]),
);

/** Symbolic name of a command id, or `MSP_<id>` when unknown (MSP v2 ids are printed in hex). */
export const mspCommandName = (cmd: number): string =>
  MSP_NAME_BY_ID.get(cmd) ?? (cmd > 255 ? `MSP2_0x${cmd.toString(16).padStart(4, '0')}` : `MSP_${cmd}`);

/**
 * Box permanent ids (the `permanentId` column of Betaflight's `boxes[]`). MODE_RANGES, SET_MODE_RANGE and
 * BOXIDS speak permanent ids; the mode-flag bits of STATUS/STATUS_EX are indexed by the *position* in the
 * BOXIDS reply instead (only the boxes active on this build are listed), so map through BOXIDS.
 * ALTHOLD (3, reusing the old BARO id), POSHOLD (11) and AUTOPILOT (56) exist only on 2025.12+.
 */
export const BOX = {
  ARM: 0,
  ANGLE: 1,
  HORIZON: 2,
  ALTHOLD: 3,
  ANTIGRAVITY: 4,
  MAG: 5,
  HEADFREE: 6,
  HEADADJ: 7,
  CAMSTAB: 8,
  POSHOLD: 11,
  PASSTHRU: 12,
  BEEPER: 13,
  LEDLOW: 15,
  CALIB: 17,
  OSD_DISABLE: 19,
  TELEMETRY: 20,
  BLACKBOX: 26,
  FAILSAFE: 27,
  AIRMODE: 28,
  BOX3D: 29,
  FPV_ANGLE_MIX: 30,
  BLACKBOX_ERASE: 31,
  FLIP_OVER_AFTER_CRASH: 35,
  PREARM: 36,
  BEEP_GPS_COUNT: 37,
  VTX_PIT_MODE: 39,
  USER1: 40,
  USER2: 41,
  USER3: 42,
  USER4: 43,
  PID_AUDIO: 44,
  PARALYZE: 45,
  GPS_RESCUE: 46,
  ACRO_TRAINER: 47,
  VTX_CONTROL_DISABLE: 48,
  LAUNCH_CONTROL: 49,
  /** Needed for the onboard link: MSP_SET_RAW_RC overrides the channels in `msp_override_channels_mask`. */
  MSP_OVERRIDE: 50,
  STICK_COMMANDS_DISABLE: 51,
  BEEPER_MUTE: 52,
  READY: 53,
  AUTOPILOT: 56,
} as const;

/** Aux range step ↔ µs, as Betaflight's MODE_STEP_TO_CHANNEL_VALUE / CHANNEL_VALUE_TO_STEP (900 µs + 25 µs/step). */
export const MODE_STEP_MIN_US = 900;
export const MODE_STEP_US = 25;
export const modeStepToUs = (step: number): number => MODE_STEP_MIN_US + MODE_STEP_US * step;
export const usToModeStep = (us: number): number =>
  Math.floor((Math.min(2100, Math.max(900, us)) - MODE_STEP_MIN_US) / MODE_STEP_US);

/**
 * Arming-disable flag names by bit, Betaflight 2026.x (API 1.48+, 30 flags). Names are the CLI/OSD names of
 * `armingDisableFlagNames[]` with two normalisations: the firmware spells bit 26 "ALT_HOLD SW" (a space) and
 * the last flag "ARMSWITCH"; we use ALT_HOLD_SW and ARM_SWITCH, as the project reference does.
 *
 * The table only ever grows *before* ARM_SWITCH, which Betaflight keeps last on purpose ("always activated if
 * one of the others is active when arming"), so its bit moves between releases:
 *   4.3–4.5 (API ≤ 1.46): 26 flags, ARM_SWITCH = bit 25 (bit 20 was RPMFILTER before API 1.46)
 *   2025.12 (API 1.47):   29 flags, + FLIP_SWITCH, ALT_HOLD_SW, POS_HOLD_SW, ARM_SWITCH = bit 28
 *   2026.x  (API 1.48+):  30 flags, + AUTOPILOT_SW, ARM_SWITCH = bit 29
 * STATUS/STATUS_EX report the flag count, so `decodeArmingFlags(flags, count)` names the last bit correctly
 * on every version (the Configurator uses the same rule).
 */
export const ARMING_DISABLE_FLAG_NAMES = [
  'NOGYRO', // 0
  'FAILSAFE', // 1
  'RXLOSS', // 2
  'NOT_DISARMED', // 3 (BADRX before 4.5)
  'BOXFAILSAFE', // 4
  'RUNAWAY', // 5
  'CRASH', // 6
  'THROTTLE', // 7
  'ANGLE', // 8
  'BOOTGRACE', // 9
  'NOPREARM', // 10
  'LOAD', // 11
  'CALIB', // 12
  'CLI', // 13
  'CMS', // 14
  'BST', // 15
  'MSP', // 16
  'PARALYZE', // 17
  'GPS', // 18
  'RESCUE_SW', // 19
  'DSHOT_TELEM', // 20 (RPMFILTER before API 1.46)
  'REBOOT_REQD', // 21
  'DSHOT_BBANG', // 22
  'NO_ACC_CAL', // 23
  'MOTOR_PROTO', // 24
  'FLIP_SWITCH', // 25 (2025.12+)
  'ALT_HOLD_SW', // 26 (2025.12+)
  'POS_HOLD_SW', // 27 (2025.12+)
  'AUTOPILOT_SW', // 28 (2026.x)
  'ARM_SWITCH', // 29 (2026.x; always the last flag)
] as const;

export type ArmingDisableFlagName = (typeof ARMING_DISABLE_FLAG_NAMES)[number];

/** Bit index of each arming-disable flag on the current (2026.x, 30-flag) firmware. */
export const ARMING_DISABLE_BIT: Readonly<Record<ArmingDisableFlagName, number>> = Object.fromEntries(
  ARMING_DISABLE_FLAG_NAMES.map((name, bit) => [name, bit]),
) as Record<ArmingDisableFlagName, number>;

/** Flag count reported by the firmware the table above describes. */
export const ARMING_DISABLE_FLAGS_COUNT_2026 = ARMING_DISABLE_FLAG_NAMES.length;

/**
 * Names of the set bits of an arming-disable bitmask, lowest bit first.
 * @param count the flag count the firmware reported (STATUS_EX byte 16+n); its last bit is ARM_SWITCH on
 *   every version. Defaults to the 2026.x count. Bits at or above `count`, or unknown, come out as `BIT<n>`.
 */
export function decodeArmingFlags(flags: number, count: number = ARMING_DISABLE_FLAGS_COUNT_2026): string[] {
  const out: string[] = [];
  const bits = flags >>> 0;
  for (let bit = 0; bit < 32; bit++) {
    if (((bits >>> bit) & 1) === 0) continue;
    if (bit === count - 1) out.push('ARM_SWITCH');
    else if (bit < count - 1 && bit < ARMING_DISABLE_FLAG_NAMES.length - 1) out.push(ARMING_DISABLE_FLAG_NAMES[bit]!);
    else out.push(`BIT${bit}`);
  }
  return out;
}
