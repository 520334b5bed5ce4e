/**
 * CTBR (collective thrust + body rates, FLU, SI) → Betaflight RC sticks (µs, AETR + AUX). Pure functions.
 *
 * Sign mapping FLU ↔ Betaflight (the same one sim/fc.ts emulates and messages.ts `rawImuToSi` documents):
 *   Betaflight's gyro axes ARE our FLU body rates (roll right +x, pitch nose-down +y, yaw counter-clockwise
 *   seen from above +z): its rate loop uses pitch stick forward = nose down = + and negates yaw stick input
 *   (rc.c), so the gyro needs no sign change (RAW_IMU gyro → rad/s is a pure unit conversion).
 *   Sticks (deflection x = (µs − 1500)/500):
 *     roll  stick right   (x > 0) → +x rate (roll right)        : xRoll  = inv(+ωx)
 *     pitch stick forward (x > 0) → +y rate (nose down)         : xPitch = inv(+ωy)
 *     yaw   stick right   (x > 0) → −z rate (nose right, CW)    : xYaw   = inv(−ωz)
 *   where inv is the FC's own ACTUAL rate curve inverted (sim/fc.ts `invertActualRates`, deg/s).
 *
 * Throttle: a linear thrust map, `ThrottleMap`: thrust 0 → `minUs`, thrust = `hoverThrustN` → `hoverUs`,
 * extrapolated linearly above hover and clamped to [minUs, maxUs]:
 *     µs = minUs + (thrustN / hoverThrustN) · (hoverUs − minUs)
 * Real thrust grows roughly with throttle², so this is a first-order model, exact at 0 and at hover and
 * increasingly optimistic far above hover; calibrate `hoverUs` in flight (the throttle that holds altitude).
 */
import type { Vec3 } from '../../src/math/vec3.js';
import { invertActualRates } from '../../sim/fc.js';

/** Betaflight ACTUAL rates per axis [roll, pitch, yaw] (messages.ts `actualRatesOf` shape). */
export interface ActualRates {
  centerDegS: Vec3;
  maxDegS: Vec3;
  expo: Vec3;
}

export interface ThrottleMap {
  /** Collective thrust that holds hover, N (vehicle weight). */
  hoverThrustN: number;
  /** Throttle that holds hover, µs. */
  hoverUs: number;
  /** Throttle at zero thrust, µs. Default 1000. */
  minUs?: number;
  /** Highest throttle ever sent, µs. Default 2000. */
  maxUs?: number;
}

export const RC_CENTER_US = 1500;
export const RC_MIN_US = 1000;
export const RC_MAX_US = 2000;
const HALF_RANGE_US = 500;
const RAD2DEG = 180 / Math.PI;

export const clampUs = (us: number): number => Math.min(RC_MAX_US, Math.max(RC_MIN_US, us));

/** Stick deflection [−1, 1] → µs (not rounded). */
export const stickToUs = (x: number): number => RC_CENTER_US + HALF_RANGE_US * Math.max(-1, Math.min(1, x));

export function checkThrottleMap(m: ThrottleMap): Required<ThrottleMap> {
  const minUs = m.minUs ?? RC_MIN_US;
  const maxUs = m.maxUs ?? RC_MAX_US;
  if (!(Number.isFinite(m.hoverThrustN) && m.hoverThrustN > 0)) throw new RangeError(`hoverThrustN must be > 0, got ${m.hoverThrustN}`);
  if (!(minUs >= RC_MIN_US && maxUs <= RC_MAX_US && minUs < m.hoverUs && m.hoverUs < maxUs)) {
    throw new RangeError(`throttle map needs ${RC_MIN_US} ≤ minUs < hoverUs < maxUs ≤ ${RC_MAX_US} (got ${minUs}, ${m.hoverUs}, ${maxUs})`);
  }
  return { hoverThrustN: m.hoverThrustN, hoverUs: m.hoverUs, minUs, maxUs };
}

/** Collective thrust (N) → throttle µs with the linear hover map (see header). Negative thrust → minUs. */
export function thrustToThrottleUs(thrustN: number, map: Required<ThrottleMap>): number {
  const us = map.minUs + (Math.max(0, thrustN) / map.hoverThrustN) * (map.hoverUs - map.minUs);
  return Math.min(map.maxUs, Math.max(map.minUs, us));
}

/**
 * Body rates (rad/s, FLU) + thrust (N) → [roll, pitch, throttle, yaw] µs (unrounded; encodeSetRawRc rounds).
 * Rates beyond the curve's end saturate the stick at full deflection.
 */
export function ctbrToAetr(rateRadS: Vec3, thrustN: number, rates: ActualRates, map: Required<ThrottleMap>): [number, number, number, number] {
  const inv = (degS: number, axis: 0 | 1 | 2): number =>
    invertActualRates(degS, rates.centerDegS[axis], rates.maxDegS[axis], rates.expo[axis]);
  const roll = stickToUs(inv(rateRadS[0] * RAD2DEG, 0));
  const pitch = stickToUs(inv(rateRadS[1] * RAD2DEG, 1));
  const yaw = stickToUs(inv(-rateRadS[2] * RAD2DEG, 2));
  return [roll, pitch, thrustToThrottleUs(thrustN, map), yaw];
}
