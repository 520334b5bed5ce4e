/**
 * Loopback Betaflight FC emulator for tests: a TCP server on 127.0.0.1 (ephemeral port) speaking MSP v1.
 * Answers API_VERSION (1.49), FC_VARIANT "BTFL", FC_VERSION 26.12.0, BOARD_INFO "SITL", STATUS_EX, RAW_IMU,
 * RC_TUNING, MODE_RANGES, BOXIDS; acknowledges SET_RAW_RC (empty '>' reply, as Betaflight does) and records
 * every channel set with a timestamp. Unknown commands get an error ('!') reply.
 *
 * Arming model: arms when AUX1 (channel 5) > 1700 µs and `armingDisableFlags` is 0; disarms when AUX1 ≤ 1700.
 * Like Betaflight, raising AUX1 while a flag is set latches ARM_SWITCH (bit 29) until AUX1 goes low again.
 */
import type net from 'node:net';
import type { MspFrame } from '../msp/codec.js';
import { ARMING_DISABLE_BIT, MSP } from '../msp/codes.js';
import { FEATURE } from '../msp/messages.js';
// the FC side of MSP (listener, request dispatch, reply encoders) is shared with sim/serve/msp.ts
import {
  answerMspRequest,
  CONFIGURED_MODE_RANGES,
  DEFAULT_BOX_IDS,
  DEFAULT_EMULATOR_RATES,
  encodeRawImuReply,
  MspFcServer,
  type EmulatorModeRange,
  type EmulatorRates,
  type MspFcModel,
  type RcRecord,
} from '../msp/fc.js';


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
  private readonly server = new MspFcServer(
    (s, f) => this.handle(s, f),
    () => this.closedAtMs.push(performance.now()),
  );
  /** This FC's state as the shared MSP replies read it. */
  private readonly fc: MspFcModel = {
    armed: () => this.armed,
    boxIds: () => this.boxIds,
    armingDisableFlags: () => (this.armingDisableFlags | (this.armSwitchLatched ? 1 << ARM_SWITCH_BIT : 0)) >>> 0,
    rawImu: () => this.rawImuOverride ?? encodeRawImuReply(this.rawImu.acc, this.rawImu.gyro, this.rawImu.mag),
    rates: () => this.rates,
    modeRanges: () => this.modeRanges,
    features: () => this.features,
    failsafe: () => ({ procedure: this.failsafeProcedure, delayS: 1.5 }),
    onRc: (channels) => this.onRc(channels),
  };

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
  start(): Promise<number> {
    return this.server.listen(0, '127.0.0.1');
  }

  get port(): number {
    return this.server.port;
  }

  get uri(): string {
    return `tcp:127.0.0.1:${this.port}`;
  }

  get connections(): number {
    return this.server.sockets.size;
  }

  close(): Promise<void> {
    return this.server.close();
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

  private handle(s: net.Socket, f: MspFrame): void {
    this.requests.set(f.cmd, (this.requests.get(f.cmd) ?? 0) + 1);
    if (f.cmd !== MSP.SET_RAW_RC && this.dropNextReplies > 0) {
      this.dropNextReplies--;
      return;
    }
    answerMspRequest(s, f, this.fc);
  }

  private onRc(channels: number[]): void {
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
}
