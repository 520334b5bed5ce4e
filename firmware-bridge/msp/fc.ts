/**
 * The flight-controller side of MSP v1 over TCP, shared by the loopback emulator
 * (firmware-bridge/betaflight/emulator.ts) and the built-in sim's Betaflight face (sim/serve/msp.ts):
 * the listener, the request → reply dispatch (SET_RAW_RC acknowledged with an empty '>' reply as
 * Betaflight does, unknown commands answered '!'), and the reply payload encoders. Each FC supplies its
 * state through `MspFcModel`; how it arms, fails safe or paces its serial task stays its own.
 */
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { encodeMspV1, MspDecoder, type MspFrame } from './codec.js';
import { ARMING_DISABLE_FLAGS_COUNT_2026, BOX, MSP } from './codes.js';

export interface EmulatorModeRange {
  permanentId: number;
  auxChannelIndex: number;
  startUs: number;
  endUs: number;
}

export interface EmulatorRates {
  /** ACTUAL rates: center / max deg/s, expo 0..1, per axis [roll, pitch, yaw]. */
  centerDegS: [number, number, number];
  maxDegS: [number, number, number];
  expo: [number, number, number];
  /** RC_TUNING rates_type (3 = ACTUAL). */
  ratesType: number;
}

/** ARM on AUX1 1700..2100 and MSP OVERRIDE on AUX2 1700..2100: a configured quad. */
export const CONFIGURED_MODE_RANGES: EmulatorModeRange[] = [
  { permanentId: BOX.ARM, auxChannelIndex: 0, startUs: 1700, endUs: 2100 },
  { permanentId: BOX.MSP_OVERRIDE, auxChannelIndex: 1, startUs: 1700, endUs: 2100 },
];

/** BOXIDS of a typical 2026 build: ARM first, MSP OVERRIDE included. */
export const DEFAULT_BOX_IDS = [BOX.ARM, BOX.ANGLE, BOX.HORIZON, BOX.ALTHOLD, BOX.HEADFREE, BOX.FAILSAFE, BOX.BEEPER, BOX.BLACKBOX, BOX.AIRMODE, BOX.MSP_OVERRIDE];

export const DEFAULT_EMULATOR_RATES: EmulatorRates = {
  centerDegS: [200, 200, 150],
  maxDegS: [670, 670, 500],
  expo: [0.54, 0.54, 0.3],
  ratesType: 3,
};

const MAX_MODE_RANGES = 20;

/** One SET_RAW_RC as an FC received it. */
export interface RcRecord {
  /** performance.now() at receipt, ms. */
  tMs: number;
  channels: number[];
}

/** What an MSP FC's replies read, and where its stick input goes. */
export interface MspFcModel {
  armed(): boolean;
  boxIds(): readonly number[];
  /** STATUS_EX arming-disable flags, as the FC would report them now. */
  armingDisableFlags(): number;
  /** RAW_IMU payload (see encodeRawImuReply). */
  rawImu(): Buffer;
  rates(): EmulatorRates;
  modeRanges(): readonly EmulatorModeRange[];
  /** MSP_FEATURE_CONFIG mask. */
  features(): number;
  failsafe(): { procedure: number; delayS: number };
  /** SET_RAW_RC channels, µs, in channel order. */
  onRc(channels: number[]): void;
}

/** SET_RAW_RC payload → channel values, µs (uint16 LE each; a trailing odd byte is ignored). */
export function decodeRawRcChannels(p: Buffer): number[] {
  const channels: number[] = [];
  for (let i = 0; i + 1 < p.length; i += 2) channels.push(p.readUInt16LE(i));
  return channels;
}

/** The reply payload an FC with this state gives to `cmd`, or undefined when it does not know `cmd`. */
export function fcReply(cmd: number, fc: MspFcModel): Buffer | undefined {
  switch (cmd) {
    case MSP.STATUS_EX:
      return encodeStatusExReply(fc.armed(), fc.boxIds(), fc.armingDisableFlags());
    case MSP.RAW_IMU:
      return fc.rawImu();
    case MSP.RC_TUNING:
      return encodeRcTuningReply(fc.rates());
    case MSP.MODE_RANGES:
      return encodeModeRangesReply(fc.modeRanges());
    case MSP.BOXIDS:
      return Buffer.from(fc.boxIds());
    case MSP.FEATURE_CONFIG: {
      const b = Buffer.alloc(4);
      b.writeUInt32LE(fc.features() >>> 0, 0);
      return b;
    }
    case MSP.FAILSAFE_CONFIG: {
      const f = fc.failsafe();
      return encodeFailsafeConfigReply(f.procedure, f.delayS);
    }
    default:
      return identityReply(cmd);
  }
}

/** Answer one request: SET_RAW_RC goes to the model and is acknowledged; anything else gets its reply or '!'. */
export function answerMspRequest(s: net.Socket, f: MspFrame, fc: MspFcModel): void {
  if (f.cmd === MSP.SET_RAW_RC) {
    fc.onRc(decodeRawRcChannels(f.payload));
    s.write(encodeMspV1(MSP.SET_RAW_RC, Buffer.alloc(0), '>'));
    return;
  }
  const reply = fcReply(f.cmd, fc);
  s.write(reply === undefined ? encodeMspV1(f.cmd, Buffer.alloc(0), '!') : encodeMspV1(f.cmd, reply, '>'));
}

/**
 * TCP listener for an MSP FC: one MSP decoder per connection; each MSP v1 request ('<') goes to
 * `onRequest` (replies, '>' and '!', from a confused peer are ignored, as an FC does).
 */
export class MspFcServer {
  readonly sockets = new Set<net.Socket>();
  private readonly tcp = net.createServer((s) => this.onConnection(s));

  constructor(
    private readonly onRequest: (s: net.Socket, f: MspFrame) => void,
    private readonly onClose?: (s: net.Socket) => void,
  ) {}

  /** Listen (default 127.0.0.1, ephemeral port); resolves with the port. */
  async listen(port = 0, host = '127.0.0.1'): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      this.tcp.once('error', reject);
      this.tcp.listen(port, host, () => resolve());
    });
    return this.port;
  }

  get port(): number {
    return (this.tcp.address() as AddressInfo).port;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((r) => this.tcp.close(() => r()));
  }

  private onConnection(s: net.Socket): void {
    this.sockets.add(s);
    s.setNoDelay(true);
    const dec = new MspDecoder();
    s.on('data', (chunk: Buffer) =>
      dec.push(chunk, (f) => {
        if (f.direction === '<' && f.version === 1) this.onRequest(s, f);
      }),
    );
    s.on('error', () => {});
    s.on('close', () => {
      this.sockets.delete(s);
      this.onClose?.(s);
    });
  }
}

// -----------------------------------------------------------------------------------------------------------
// Reply encoders
// -----------------------------------------------------------------------------------------------------------

/** API_VERSION 1.49, FC_VARIANT "BTFL", FC_VERSION 26.12.0, BOARD_INFO "SITL"; undefined for other commands. */
export function identityReply(cmd: number, board = 'SITL'): Buffer | undefined {
  switch (cmd) {
    case MSP.API_VERSION:
      return Buffer.from([0, 1, 49]);
    case MSP.FC_VARIANT:
      return Buffer.from('BTFL', 'latin1');
    case MSP.FC_VERSION:
      return Buffer.from([26, 12, 0]);
    case MSP.BOARD_INFO: {
      const b = Buffer.alloc(9);
      b.write(board.slice(0, 4), 0, 'latin1');
      b.writeUInt16LE(0, 4); // hardware revision
      b[6] = 0; // fc type
      b[7] = 0; // capabilities
      b[8] = 0; // target name length
      return b;
    }
    default:
      return undefined;
  }
}

/** RAW_IMU: 9 × int16 (acc LSB, gyro deg/s, mag), rounded and saturated to int16. */
export function encodeRawImuReply(acc: readonly number[], gyro: readonly number[], mag: readonly number[] = [0, 0, 0]): Buffer {
  const b = Buffer.alloc(18);
  [...acc, ...gyro, ...mag].forEach((v, i) => b.writeInt16LE(Math.max(-32768, Math.min(32767, Math.round(v))), i * 2));
  return b;
}

/** MODE_RANGES: 20 slots of [permanentId, auxChannelIndex, startStep, endStep]. */
export function encodeModeRangesReply(ranges: readonly EmulatorModeRange[]): Buffer {
  const b = Buffer.alloc(MAX_MODE_RANGES * 4);
  ranges.slice(0, MAX_MODE_RANGES).forEach((m, i) => {
    b[i * 4] = m.permanentId;
    b[i * 4 + 1] = m.auxChannelIndex;
    b[i * 4 + 2] = Math.floor((m.startUs - 900) / 25);
    b[i * 4 + 3] = Math.floor((m.endUs - 900) / 25);
  });
  return b;
}

/** STATUS_EX, Betaflight 2026 layout (see messages.ts decodeStatus); ARM bit set at ARM's BOXIDS position. */
export function encodeStatusExReply(armed: boolean, boxIds: readonly number[], armingDisableFlags: number): Buffer {
  const n = Math.ceil(boxIds.length / 8) > 4 ? Math.ceil(boxIds.length / 8) - 4 : 0;
  const b = Buffer.alloc(24 + n);
  b.writeUInt16LE(125, 0); // cycle time µs
  b.writeUInt16LE(0, 2); // i2c errors
  b.writeUInt16LE(0b100001, 4); // acc + gyro
  const armIndex = boxIds.indexOf(BOX.ARM);
  const flags = new Uint8Array(4 + n);
  if (armed && armIndex >= 0) flags[armIndex >> 3] = 1 << (armIndex & 7);
  b.set(flags.subarray(0, 4), 6);
  b[10] = 0; // pid profile
  b.writeUInt16LE(12, 11); // load %
  b[13] = 4; // pid profile count
  b[14] = 0; // rate profile
  b[15] = n;
  b.set(flags.subarray(4), 16);
  b[16 + n] = ARMING_DISABLE_FLAGS_COUNT_2026;
  b.writeUInt32LE(armingDisableFlags >>> 0, 17 + n);
  b[21 + n] = 0; // config state
  b.writeUInt16LE(40, 22 + n); // cpu temp
  return b;
}

/** RC_TUNING, API 1.43+ layout (see messages.ts decodeRcTuning); ACTUAL: rcRate = center/10, rate = max/10. */
export function encodeRcTuningReply(r: EmulatorRates): Buffer {
  const b = Buffer.alloc(23);
  const c = r.centerDegS.map((v) => Math.round(v / 10));
  const m = r.maxDegS.map((v) => Math.round(v / 10));
  const e = r.expo.map((v) => Math.round(v * 100));
  b[0] = c[0]!;
  b[1] = e[0]!;
  b[2] = m[0]!;
  b[3] = m[1]!;
  b[4] = m[2]!;
  b[6] = 50; // thrMid
  b[7] = 0; // thrExpo
  b[10] = e[2]!;
  b[11] = c[2]!;
  b[12] = c[1]!;
  b[13] = e[1]!;
  b[14] = 0;
  b[15] = 100;
  b.writeUInt16LE(1998, 16);
  b.writeUInt16LE(1998, 18);
  b.writeUInt16LE(1998, 20);
  b[22] = r.ratesType;
  return b;
}

/** MSP_FAILSAFE_CONFIG reply with Betaflight's defaults (delay 1.5 s, off delay 1 s, throttle 1000 µs). */
export function encodeFailsafeConfigReply(procedure: number, delayS = 1.5): Buffer {
  const b = Buffer.alloc(8);
  b[0] = Math.round(delayS * 10);
  b[1] = 10;
  b.writeUInt16LE(1000, 2);
  b[4] = 0; // switch mode: stage 1
  b.writeUInt16LE(100, 5); // throttle low delay, 0.1 s units
  b[7] = procedure;
  return b;
}
