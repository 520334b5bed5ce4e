/** PX4 and ArduPilot over MAVLink: codec, session, bridges, daemon transport and a loopback FC emulator. */
export * from './codec.js';
export * from './messages.js';
export * from './modes.js';
export * from './session.js';
export * from './bridge.js';
export * from './px4.js';
export * from './ardupilot.js';
export * from './transport.js';
export { MavlinkFcEmulator } from './emulator.js';
export type { EmulatedAutopilot, MavlinkFcEmulatorOptions, RecordedAttitudeTarget, RecordedCommand } from './emulator.js';
export { runMavlinkFuzz, buildMavlinkFuzzStream } from './fuzz.js';
export type { MavlinkFuzzOptions, MavlinkFuzzReport } from './fuzz.js';
