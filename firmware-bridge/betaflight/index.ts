/** Betaflight over MSP: the bridge (requests, sticks, arming, watchdog), CTBR → sticks, the daemon transport and a loopback emulator. */
export * from './bridge.js';
export * from './sticks.js';
export * from './transport.js';
export { BetaflightEmulator } from './emulator.js';
export type { BetaflightEmulatorOptions } from './emulator.js';
export {
  CONFIGURED_MODE_RANGES,
  DEFAULT_BOX_IDS,
  DEFAULT_EMULATOR_RATES,
  encodeFailsafeConfigReply,
  encodeModeRangesReply,
  encodeRawImuReply,
  encodeRcTuningReply,
  encodeStatusExReply,
  identityReply,
} from '../msp/fc.js';
export type { EmulatorModeRange, EmulatorRates, RcRecord } from '../msp/fc.js';
