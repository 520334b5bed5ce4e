/**
 * Flight modes as the two stacks put them in HEARTBEAT.custom_mode.
 *
 * PX4: main mode in byte 2, sub mode in byte 3 (px4_custom_mode.h). AUTO.LOITER = 4/3 at boot,
 * OFFBOARD = 6, AUTO.LAND = 4/6. DO_SET_MODE takes p1 = 1 (custom mode enabled), p2 = main, p3 = sub.
 * ArduCopter: custom_mode is the mode number itself (GUIDED 4, LAND 9); DO_SET_MODE p2 = that number.
 */

export const PX4_MAIN = {
  MANUAL: 1,
  ALTCTL: 2,
  POSCTL: 3,
  AUTO: 4,
  ACRO: 5,
  OFFBOARD: 6,
  STABILIZED: 7,
  RATTITUDE: 8,
} as const;

export const PX4_AUTO_SUB = {
  READY: 1,
  TAKEOFF: 2,
  LOITER: 3,
  MISSION: 4,
  RTL: 5,
  LAND: 6,
  FOLLOW_TARGET: 8,
  PRECLAND: 9,
} as const;

const PX4_MAIN_NAMES: Record<number, string> = Object.fromEntries(Object.entries(PX4_MAIN).map(([k, v]) => [v, k]));
const PX4_AUTO_SUB_NAMES: Record<number, string> = Object.fromEntries(Object.entries(PX4_AUTO_SUB).map(([k, v]) => [v, k]));

export function px4CustomMode(main: number, sub = 0): number {
  return (((main & 0xff) << 16) | ((sub & 0xff) << 24)) >>> 0;
}

export function px4MainMode(customMode: number): number {
  return (customMode >>> 16) & 0xff;
}

export function px4SubMode(customMode: number): number {
  return (customMode >>> 24) & 0xff;
}

/** "OFFBOARD", "AUTO.LOITER", "AUTO.LAND", or "main 9 sub 2". */
export function px4ModeName(customMode: number): string {
  const main = px4MainMode(customMode);
  const sub = px4SubMode(customMode);
  const m = PX4_MAIN_NAMES[main];
  if (!m) return `main ${main} sub ${sub}`;
  if (main === PX4_MAIN.AUTO) return `AUTO.${PX4_AUTO_SUB_NAMES[sub] ?? `sub ${sub}`}`;
  return m;
}

export const PX4_OFFBOARD = px4CustomMode(PX4_MAIN.OFFBOARD);
export const PX4_AUTO_LOITER = px4CustomMode(PX4_MAIN.AUTO, PX4_AUTO_SUB.LOITER);
export const PX4_AUTO_LAND = px4CustomMode(PX4_MAIN.AUTO, PX4_AUTO_SUB.LAND);

export const COPTER_MODE = {
  STABILIZE: 0,
  ACRO: 1,
  ALT_HOLD: 2,
  AUTO: 3,
  GUIDED: 4,
  LOITER: 5,
  RTL: 6,
  CIRCLE: 7,
  LAND: 9,
  DRIFT: 11,
  SPORT: 13,
  POSHOLD: 16,
  BRAKE: 17,
  SMART_RTL: 21,
  GUIDED_NOGPS: 20,
} as const;

const COPTER_NAMES: Record<number, string> = Object.fromEntries(Object.entries(COPTER_MODE).map(([k, v]) => [v, k]));

export function copterModeName(customMode: number): string {
  return COPTER_NAMES[customMode] ?? `mode ${customMode}`;
}

/** The mode name for either stack, by HEARTBEAT.autopilot (3 ArduPilot, 12 PX4). */
export function modeName(autopilot: number, customMode: number): string {
  if (autopilot === 12) return px4ModeName(customMode);
  if (autopilot === 3) return copterModeName(customMode);
  return `custom mode ${customMode}`;
}
