/** Betaflight over MSP: the bridge (requests, sticks, arming, watchdog), CTBR → sticks, the daemon transport and a loopback emulator. */
export * from './bridge.js';
export * from './sticks.js';
export * from './transport.js';
export {
  BetaflightEmulator,
  CONFIGURED_MODE_RANGES,
  DEFAULT_BOX_IDS,
  DEFAULT_EMULATOR_RATES,
  encodeFailsafeConfigReply,
  encodeModeRangesReply,
  encodeRawImuReply,
  encodeRcTuningReply,
  encodeStatusExReply,
  identityReply,
} from './emulator.js';
export type { BetaflightEmulatorOptions, EmulatorModeRange, EmulatorRates, RcRecord } from './emulator.js';
