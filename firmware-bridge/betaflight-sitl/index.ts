/** Betaflight SITL UDP packets and the ENU/FLU → SITL conventions. */
export * from './packets.js';
