/**
 * Loopback Betaflight FC emulator for tests: a TCP server on 127.0.0.1 (ephemeral port) speaking MSP v1.
 * Answers API_VERSION (1.49), FC_VARIANT "BTFL", FC_VERSION 26.12.0, BOARD_INFO "SITL", STATUS_EX, RAW_IMU,
 * RC_TUNING, MODE_RANGES, BOXIDS; acknowledges SET_RAW_RC (empty '>' reply, as Betaflight does) and records
 * every channel set with a timestamp. Unknown commands get an error ('!') reply.
 *
 * Arming model: arms when AUX1 (channel 5) > 1700 µs and `armingDisableFlags` is 0; disarms when AUX1 ≤ 1700.
 * Like Betaflight, raising AUX1 while a flag is set latches ARM_SWITCH (bit 29) until AUX1 goes low again.
 */
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { encodeMspV1, MspDecoder, type MspFrame } from '../msp/codec.js';
import { ARMING_DISABLE_BIT, ARMING_DISABLE_FLAGS_COUNT_2026, BOX, MSP } from '../msp/codes.js';
import { FEATURE } from '../msp/messages.js';

export interface RcRecord {
  /** performance.now() at receipt, ms. */
  tMs: number;
  channels: number[];
}

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

export interface BetaflightEmulatorOptions {
  armingDisableFlags?: number;
  /** RAW_IMU int16 values: acc (LSB, 512/g), gyro (deg/s), mag. */
  rawImu?: { acc: [number, number, number]; gyro: [number, number, number]; mag?: [number, number, number] };
  rates?: EmulatorRates;
  modeRanges?: EmulatorModeRange[];
  boxIds?: number[];
  /** MSP_FEATURE_CONFIG mask. Default RX_SERIAL: a real receiver, MSP override on top (the AI Grand Prix setup). */
  features?: number;
  /** MSP_FAILSAFE_CONFIG failsafe_procedure: 0 AUTO-LAND, 1 DROP (default), 2 GPS-RESCUE. */
  failsafeProcedure?: number;
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
const ARM_SWITCH_BIT = ARMING_DISABLE_BIT.ARM_SWITCH;

export class BetaflightEmulator {
  armingDisableFlags: number;
  rawImu: { acc: [number, number, number]; gyro: [number, number, number]; mag: [number, number, number] };
  rates: EmulatorRates;
  modeRanges: EmulatorModeRange[];
  boxIds: number[];
  features: number;
  failsafeProcedure: number;
  armed = false;
  /** Every SET_RAW_RC received, in order. */
  readonly rc: RcRecord[] = [];
  /** Requests received, by command id. */
  readonly requests = new Map<number, number>();
  /** When set, the RAW_IMU reply payload as is (to exercise malformed replies). */
  rawImuOverride: Buffer | undefined;
  /** Drop (do not answer) the next n requests other than SET_RAW_RC, to exercise retries. */
  dropNextReplies = 0;
  /** performance.now() (ms) when each client connection closed. */
  readonly closedAtMs: number[] = [];

  private armSwitchLatched = false;
  private readonly server = net.createServer((s) => this.onConnection(s));
  private readonly sockets = new Set<net.Socket>();

  constructor(opts: BetaflightEmulatorOptions = {}) {
    this.armingDisableFlags = opts.armingDisableFlags ?? 0;
    this.rawImu = { acc: opts.rawImu?.acc ?? [0, 0, 512], gyro: opts.rawImu?.gyro ?? [0, 0, 0], mag: opts.rawImu?.mag ?? [0, 0, 0] };
    this.rates = opts.rates ?? DEFAULT_EMULATOR_RATES;
    this.modeRanges = opts.modeRanges ?? CONFIGURED_MODE_RANGES;
    this.boxIds = opts.boxIds ?? DEFAULT_BOX_IDS;
    this.features = opts.features ?? FEATURE.RX_SERIAL;
    this.failsafeProcedure = opts.failsafeProcedure ?? 1;
  }

  /** Listen on 127.0.0.1:0; resolves with the port. */
  async start(): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(0, '127.0.0.1', () => resolve());
    });
    return (this.server.address() as AddressInfo).port;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  get uri(): string {
    return `tcp:127.0.0.1:${this.port}`;
  }

  get connections(): number {
    return this.sockets.size;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  /** Resolve with the first RC record at index ≥ `from` that satisfies `pred`. */
  waitForRc(pred: (r: RcRecord) => boolean, timeoutMs = 2000, from = 0): Promise<RcRecord> {
    return new Promise((resolve, reject) => {
      const t0 = Date.now();
      const poll = (): void => {
        for (let i = from; i < this.rc.length; i++) if (pred(this.rc[i]!)) return resolve(this.rc[i]!);
        if (Date.now() - t0 > timeoutMs) return reject(new Error(`no matching SET_RAW_RC within ${timeoutMs} ms`));
        setTimeout(poll, 2);
      };
      poll();
    });
  }

  private onConnection(s: net.Socket): void {
    this.sockets.add(s);
    s.setNoDelay(true);
    const dec = new MspDecoder();
    s.on('data', (chunk: Buffer) => dec.push(chunk, (f) => this.handle(s, f)));
    s.on('error', () => {});
    s.on('close', () => {
      this.sockets.delete(s);
      this.closedAtMs.push(performance.now());
    });
  }

  private handle(s: net.Socket, f: MspFrame): void {
    if (f.direction !== '<' || f.version !== 1) return;
    this.requests.set(f.cmd, (this.requests.get(f.cmd) ?? 0) + 1);
    if (f.cmd === MSP.SET_RAW_RC) {
      this.onRc(f.payload);
      s.write(encodeMspV1(MSP.SET_RAW_RC, Buffer.alloc(0), '>'));
      return;
    }
    if (this.dropNextReplies > 0) {
      this.dropNextReplies--;
      return;
    }
    const reply = this.reply(f.cmd);
    s.write(reply === undefined ? encodeMspV1(f.cmd, Buffer.alloc(0), '!') : encodeMspV1(f.cmd, reply, '>'));
  }

  private onRc(p: Buffer): void {
    const channels: number[] = [];
    for (let i = 0; i + 1 < p.length; i += 2) channels.push(p.readUInt16LE(i));
    this.rc.push({ tMs: performance.now(), channels });
    const aux1High = (channels[4] ?? 0) > 1700;
    if (!aux1High) {
      this.armed = false;
      this.armSwitchLatched = false;
    } else if (!this.armed) {
      if (this.armingDisableFlags === 0 && !this.armSwitchLatched) this.armed = true;
      else this.armSwitchLatched = true;
    }
  }

  private reply(cmd: number): Buffer | undefined {
    switch (cmd) {
      case MSP.STATUS_EX: {
        const flags = (this.armingDisableFlags | (this.armSwitchLatched ? 1 << ARM_SWITCH_BIT : 0)) >>> 0;
        return encodeStatusExReply(this.armed, this.boxIds, flags);
      }
      case MSP.RAW_IMU:
        if (this.rawImuOverride) return this.rawImuOverride;
        return encodeRawImuReply(this.rawImu.acc, this.rawImu.gyro, this.rawImu.mag);
      case MSP.RC_TUNING:
        return encodeRcTuningReply(this.rates);
      case MSP.MODE_RANGES:
        return encodeModeRangesReply(this.modeRanges);
      case MSP.BOXIDS:
        return Buffer.from(this.boxIds);
      case MSP.FEATURE_CONFIG: {
        const b = Buffer.alloc(4);
        b.writeUInt32LE(this.features >>> 0, 0);
        return b;
      }
      case MSP.FAILSAFE_CONFIG:
        return encodeFailsafeConfigReply(this.failsafeProcedure);
      default:
        return identityReply(cmd);
    }
  }
}

// -----------------------------------------------------------------------------------------------------------
// Reply encoders (shared with the simulator's MSP face, sim/serve/msp.ts)
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
