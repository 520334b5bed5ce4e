/**
 * Betaflight over MSP: identification, status, IMU, rates, RC override (MSP_SET_RAW_RC), arming and a
 * stick watchdog, on top of any `Link` (firmware-bridge/link).
 *
 * Requests: one outstanding MSP request at a time, later ones wait in a small FIFO (`maxQueue`); each attempt
 * times out after `requestTimeoutMs` and is retried `retries` times. A reply matches the outstanding request
 * when its command id is the same ('>' resolves, '!' rejects with `MspErrorReply`). Stick frames
 * (SET_RAW_RC) bypass the queue: they are written at once and never awaited (the FC's empty ack is ignored).
 *
 * Arm channel ownership: the bridge owns the configured arm AUX channel. Whatever a caller puts there in
 * `sendSticks` is overwritten with `armLowUs`, or `armHighUs` after a successful `arm()`. Only `arm()` can raise it.
 *
 * Watchdog (Betaflight's MSP override holds the last sticks forever if the sender dies): while armed, if no
 * `sendSticks`/`command` was accepted for `watchdogS`, the bridge sends failsafe sticks (roll/pitch/yaw
 * centred, throttle 1000, arm channel low = disarm) and keeps re-sending them every `failsafeIntervalS`.
 * The failsafe latches: stick commands are refused until `arm()` is called again. `close()` always sends
 * disarm sticks before closing the link.
 *
 * IMU: Betaflight's gyro/accelerometer axes equal our FLU body axes (see sticks.ts / messages.ts
 * `rawImuToSi`), so RAW_IMU → ImuSample is units only: deg/s → rad/s, LSB → m/s² (`acc1G` LSB per g).
 */
import type { Link } from '../link/link.js';
import type { CtbrCommand, ImuSample } from '../../src/tracts/io.js';
import { encodeMspV1, MspDecoder, type MspFrame } from '../msp/codec.js';
import { BOX, MSP, mspCommandName } from '../msp/codes.js';
import {
  actualRatesOf,
  decodeApiVersion,
  decodeBoardInfo,
  decodeBoxIds,
  decodeFailsafeConfig,
  decodeFeatureConfig,
  decodeFcVariant,
  decodeFcVersion,
  decodeModeRanges,
  decodeRawImu,
  decodeRcTuning,
  decodeStatus,
  encodeSetRawRc,
  FEATURE,
  MSP_MAX_RC_CHANNELS,
  RAW_IMU_ACC_1G_FC,
  rawImuToSi,
  usedModeRanges,
  type ModeRange,
  type RcTuning,
} from '../msp/messages.js';
import { checkThrottleMap, clampUs, ctbrToAetr, RC_CENTER_US, RC_MIN_US, type ActualRates, type ThrottleMap } from './sticks.js';

export class MspTimeoutError extends Error {
  constructor(readonly cmd: number, attempts: number, timeoutMs: number) {
    super(`${mspCommandName(cmd)}: no reply after ${attempts} attempt(s) of ${timeoutMs} ms`);
    this.name = 'MspTimeoutError';
  }
}

export class MspErrorReply extends Error {
  constructor(readonly cmd: number) {
    super(`${mspCommandName(cmd)}: the FC answered with an error ('!')`);
    this.name = 'MspErrorReply';
  }
}

export class ArmingRefusedError extends Error {
  constructor(readonly reasons: string[]) {
    super(`arming refused: ${reasons.join('; ')}`);
    this.name = 'ArmingRefusedError';
  }
}

export interface BetaflightBridgeOptions {
  /** Per-attempt reply timeout, ms. Default 250. */
  requestTimeoutMs?: number;
  /** Extra attempts after a timeout. Default 2. */
  retries?: number;
  /** Requests allowed to wait behind the outstanding one; more are rejected at once. Default 8. */
  maxQueue?: number;
  /** Channels per SET_RAW_RC frame (AETR + AUX), 5..18. Default 8. */
  channelCount?: number;
  /** Arm switch AUX index, 0 = AUX1 (RC channel 5). Default 0. */
  armAux?: number;
  /** Arm channel value when armed / disarmed, µs. Defaults 2000 / 1000. */
  armHighUs?: number;
  armLowUs?: number;
  /** Values of the other AUX channels (index 0 = AUX1), e.g. to hold a mode switch. Default 1000 each. */
  auxUs?: number[];
  /** Stick silence that trips the failsafe while armed, s. Default 0.2. */
  watchdogS?: number;
  /** Re-send period of the failsafe sticks once tripped, s. Default 0.05. */
  failsafeIntervalS?: number;
  /** Collective thrust → throttle map (see sticks.ts). Default hover 1 N at 1500 µs (set it!). */
  throttle?: ThrottleMap;
  /** RAW_IMU accelerometer LSB per g: 512 on real FCs, 256 on the SITL. Default 512. */
  acc1G?: number;
  /** arm(): how long to wait for the FC to report armed, ms. Default 1000. */
  armTimeoutMs?: number;
  /** Clock, seconds (ImuSample stamps and the watchdog). Default performance.now()/1000. */
  nowS?: () => number;
  /** Called once each time the watchdog trips. */
  onFailsafe?: () => void;
}

export interface FcIdentity {
  /** "1.49". */
  apiVersion: string;
  /** "BTFL". */
  variant: string;
  /** "26.12.0". */
  version: string;
  /** Board identifier, "SITL". */
  board: string;
}

export interface FcStatusSummary {
  armed: boolean;
  /** STATUS_EX box bits (bit i = i-th entry of BOXIDS). */
  modeFlags: Uint8Array;
  /** Names of the set arming-disable flags; empty = ready to arm. */
  armingDisableFlags: string[];
}

export interface BridgeStats {
  requests: number;
  retries: number;
  timeouts: number;
  errorReplies: number;
  /** Replies that matched no outstanding request (late retries, stick acks). */
  unmatched: number;
  sticksSent: number;
  /** Stick frames the link refused to take. */
  sticksDropped: number;
  /** Commands refused because a value was NaN/±Infinity. */
  rejectedNonFinite: number;
  /** Commands refused while the failsafe is latched. */
  rejectedFailsafe: number;
  /** CTBR commands refused because no ACTUAL rates are loaded. */
  rejectedNoRates: number;
  /** Channel values clamped into 1000..2000. */
  clamped: number;
  watchdogTrips: number;
  failsafeFramesSent: number;
}

interface Pending {
  cmd: number;
  frame: Buffer;
  attemptsLeft: number;
  attempts: number;
  timeoutMs: number;
  resolve: (f: MspFrame) => void;
  reject: (e: Error) => void;
}

const defaultNow = (): number => performance.now() / 1000;

export class BetaflightBridge {
  readonly stats: BridgeStats = {
    requests: 0,
    retries: 0,
    timeouts: 0,
    errorReplies: 0,
    unmatched: 0,
    sticksSent: 0,
    sticksDropped: 0,
    rejectedNonFinite: 0,
    rejectedFailsafe: 0,
    rejectedNoRates: 0,
    clamped: 0,
    watchdogTrips: 0,
    failsafeFramesSent: 0,
  };
  /** Why the last command was refused. */
  lastRejectReason = '';
  /** ACTUAL rates used by `command()`; set by `readRcTuning()` or `setRates()`. */
  rates: ActualRates | undefined;

  private readonly decoder = new MspDecoder();
  private readonly queue: Pending[] = [];
  private current: Pending | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly timeoutMs: number;
  private readonly retries: number;
  private readonly maxQueue: number;
  private readonly channelCount: number;
  private readonly armChannel: number;
  private readonly armHighUs: number;
  private readonly armLowUs: number;
  private readonly auxUs: number[];
  private readonly watchdogS: number;
  private readonly failsafeIntervalS: number;
  private readonly throttle: Required<ThrottleMap>;
  private readonly acc1G: number;
  private readonly armTimeoutMs: number;
  private readonly nowS: () => number;
  private readonly onFailsafe: (() => void) | undefined;
  private armCommanded = false;
  private failsafe = false;
  private lastStickS = -Infinity;
  private watchdogTimer: NodeJS.Timeout | undefined;
  private failsafeTimer: NodeJS.Timeout | undefined;
  private closed = false;
  /** Fire-and-forget stick frames whose ack has not come back yet (see onFrame). */
  private unackedSticks = 0;
  private readonly onData = (chunk: Buffer): void => this.decoder.push(chunk, (f) => this.onFrame(f));

  constructor(
    readonly link: Link,
    opts: BetaflightBridgeOptions = {},
  ) {
    this.timeoutMs = opts.requestTimeoutMs ?? 250;
    this.retries = opts.retries ?? 2;
    this.maxQueue = opts.maxQueue ?? 8;
    this.channelCount = opts.channelCount ?? 8;
    if (!Number.isInteger(this.channelCount) || this.channelCount < 5 || this.channelCount > MSP_MAX_RC_CHANNELS) {
      throw new RangeError(`channelCount must be 5..${MSP_MAX_RC_CHANNELS}`);
    }
    const armAux = opts.armAux ?? 0;
    this.armChannel = 4 + armAux;
    if (!Number.isInteger(armAux) || armAux < 0 || this.armChannel >= this.channelCount) throw new RangeError(`armAux ${armAux} outside the ${this.channelCount} channels`);
    this.armHighUs = opts.armHighUs ?? 2000;
    this.armLowUs = opts.armLowUs ?? 1000;
    this.auxUs = Array.from({ length: this.channelCount - 4 }, (_, i) => clampUs(opts.auxUs?.[i] ?? RC_MIN_US));
    this.watchdogS = opts.watchdogS ?? 0.2;
    this.failsafeIntervalS = opts.failsafeIntervalS ?? 0.05;
    if (!(this.watchdogS > 0) || !(this.failsafeIntervalS > 0)) throw new RangeError('watchdogS and failsafeIntervalS must be > 0');
    this.throttle = checkThrottleMap(opts.throttle ?? { hoverThrustN: 1, hoverUs: 1500 });
    this.acc1G = opts.acc1G ?? RAW_IMU_ACC_1G_FC;
    this.armTimeoutMs = opts.armTimeoutMs ?? 1000;
    this.nowS = opts.nowS ?? defaultNow;
    this.onFailsafe = opts.onFailsafe;
    link.on('data', this.onData);
  }

  /** True between a successful arm() and disarm()/failsafe/close(). */
  get armCommand(): boolean {
    return this.armCommanded;
  }

  /** True once the watchdog tripped, until the next arm(). */
  get failsafeLatched(): boolean {
    return this.failsafe;
  }

  get throttleMap(): Required<ThrottleMap> {
    return { ...this.throttle };
  }

  // -------------------------------------------------------------------------------------------------------
  // Request / response
  // -------------------------------------------------------------------------------------------------------

  /** Send one MSP v1 request and resolve with its reply frame (timeouts, retries, FIFO; see header). */
  request(cmd: number, payload: Uint8Array = Buffer.alloc(0), opts: { timeoutMs?: number; retries?: number } = {}): Promise<MspFrame> {
    if (this.closed) return Promise.reject(new Error('bridge closed'));
    const frame = encodeMspV1(cmd, payload);
    return this.enqueue(frame, cmd, opts.retries ?? this.retries, opts.timeoutMs ?? this.timeoutMs);
  }

  private enqueue(frame: Buffer, cmd: number, retries: number, timeoutMs: number, front = false): Promise<MspFrame> {
    if (!front && this.queue.length >= this.maxQueue) {
      return Promise.reject(new Error(`MSP queue full (${this.maxQueue} waiting): ${mspCommandName(cmd)} refused`));
    }
    return new Promise<MspFrame>((resolve, reject) => {
      const p: Pending = { cmd, frame, attemptsLeft: retries + 1, attempts: 0, timeoutMs, resolve, reject };
      if (front) this.queue.unshift(p);
      else this.queue.push(p);
      this.stats.requests++;
      this.pump();
    });
  }

  private pump(): void {
    if (this.current || this.queue.length === 0) return;
    this.current = this.queue.shift();
    this.attempt();
  }

  private attempt(): void {
    const p = this.current;
    if (!p) return;
    const timeoutMs = p.timeoutMs;
    p.attemptsLeft--;
    p.attempts++;
    if (p.attempts > 1) this.stats.retries++;
    this.link.write(p.frame); // a refused write simply times out and is retried
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.stats.timeouts++;
      if (p.attemptsLeft > 0) this.attempt();
      else this.finish(p, new MspTimeoutError(p.cmd, p.attempts, timeoutMs));
    }, timeoutMs);
  }

  private finish(p: Pending, result: MspFrame | Error): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.current === p) this.current = undefined;
    if (result instanceof Error) p.reject(result);
    else p.resolve(result);
    this.pump();
  }

  private onFrame(f: MspFrame): void {
    if (f.direction === '<') return;
    if (f.cmd === MSP.SET_RAW_RC && this.unackedSticks > 0) {
      // The FC's ack of a fire-and-forget stick frame: never let it answer a later SET_RAW_RC request.
      this.unackedSticks--;
      this.stats.unmatched++;
      return;
    }
    const p = this.current;
    if (!p || p.cmd !== f.cmd) {
      this.stats.unmatched++;
      return;
    }
    if (f.direction === '!') {
      this.stats.errorReplies++;
      this.finish(p, new MspErrorReply(f.cmd));
    } else this.finish(p, f);
  }

  private async get<T>(cmd: number, decode: (p: Uint8Array) => T): Promise<T> {
    return decode((await this.request(cmd)).payload);
  }

  // -------------------------------------------------------------------------------------------------------
  // Reads
  // -------------------------------------------------------------------------------------------------------

  async identify(): Promise<FcIdentity> {
    const api = await this.get(MSP.API_VERSION, decodeApiVersion);
    const variant = await this.get(MSP.FC_VARIANT, decodeFcVariant);
    const version = await this.get(MSP.FC_VERSION, decodeFcVersion);
    const board = await this.get(MSP.BOARD_INFO, decodeBoardInfo);
    return { apiVersion: api.api, variant, version: version.version, board: board.boardIdentifier };
  }

  async status(): Promise<FcStatusSummary> {
    const s = await this.get(MSP.STATUS_EX, (p) => decodeStatus(p, MSP.STATUS_EX));
    return { armed: s.armed, modeFlags: s.modeFlags, armingDisableFlags: s.armingDisableNames };
  }

  /** RAW_IMU → ImuSample (FLU, rad/s, specific force m/s²), stamped at reply arrival. */
  async readImu(): Promise<ImuSample> {
    const raw = await this.get(MSP.RAW_IMU, decodeRawImu);
    const stampS = this.nowS();
    const si = rawImuToSi(raw, this.acc1G);
    return { stampS, gyroRadS: si.gyroRadS, accelMS2: si.accMS2 };
  }

  /** RC_TUNING; when the profile uses ACTUAL rates they become the curve `command()` inverts. */
  async readRcTuning(): Promise<RcTuning> {
    const t = await this.get(MSP.RC_TUNING, decodeRcTuning);
    const r = actualRatesOf(t);
    if (r) this.rates = r;
    return t;
  }

  setRates(r: ActualRates): void {
    this.rates = { centerDegS: [...r.centerDegS], maxDegS: [...r.maxDegS], expo: [...r.expo] };
  }

  readModeRanges(): Promise<ModeRange[]> {
    return this.get(MSP.MODE_RANGES, decodeModeRanges);
  }

  readBoxIds(): Promise<number[]> {
    return this.get(MSP.BOXIDS, decodeBoxIds);
  }

  /** Problems that would stop the bridge from flying this FC, in plain words; [] = ready. */
  async preflight(): Promise<string[]> {
    const r = await this.preflightReport();
    return r.armingDisabled.length > 0 ? [...r.problems, `arming is disabled by: ${r.armingDisabled.join(', ')}`] : r.problems;
  }

  /**
   * `preflight()` split in two: configuration problems (only the user can fix them) and the arming-disable flags
   * set right now (some clear on their own: RXLOSS once sticks flow, BOOTGRACE a few seconds after boot).
   */
  async preflightReport(): Promise<{ problems: string[]; armingDisabled: string[] }> {
    const problems: string[] = [];
    const id = await this.identify();
    if (id.variant !== 'BTFL') problems.push(`flight controller firmware is "${id.variant}", not Betaflight (BTFL)`);
    const ranges = usedModeRanges(await this.readModeRanges());
    const boxIds = await this.readBoxIds();
    const auxName = `AUX${this.armChannel - 3}`;
    const arm = ranges.filter((m) => m.permanentId === BOX.ARM && m.auxChannelIndex === this.armChannel - 4);
    if (arm.length === 0) {
      const elsewhere = ranges.filter((m) => m.permanentId === BOX.ARM).map((m) => `AUX${m.auxChannelIndex + 1}`);
      problems.push(
        `no ARM mode range is configured on ${auxName}` + (elsewhere.length ? ` (ARM is on ${elsewhere.join(', ')})` : '') +
          `: set e.g. "aux 0 0 ${this.armChannel - 4} 1700 2100 0 0"`,
      );
    } else {
      const inRange = (us: number): boolean => arm.some((m) => us >= m.startUs && us < m.endUs);
      if (!inRange(this.armHighUs)) problems.push(`the ARM range on ${auxName} does not include the arm value ${this.armHighUs} µs`);
      if (inRange(this.armLowUs)) problems.push(`the ARM range on ${auxName} includes the disarm value ${this.armLowUs} µs`);
    }
    if (!boxIds.includes(BOX.MSP_OVERRIDE)) {
      problems.push('MSP override mode (MSP OVERRIDE, box 50) is not available on this firmware build (needs USE_MSP_OVERRIDE)');
    } else if (!ranges.some((m) => m.permanentId === BOX.MSP_OVERRIDE)) {
      problems.push('MSP override mode (MSP OVERRIDE, box 50) is not configured on any AUX channel');
    }
    const t = await this.readRcTuning();
    if (!actualRatesOf(t)) problems.push(`rates type is ${t.ratesTypeName}; CTBR → sticks needs ACTUAL rates (set rates_type = ACTUAL)`);
    const s = await this.status();
    if (s.armed) problems.push('the FC is already armed');
    return { problems, armingDisabled: s.armingDisableFlags };
  }

  /**
   * Would the FC fail safe on its own if this process died? Betaflight's MSP override holds the last sticks
   * forever unless MSP is the receiver (feature RX_MSP: MSP silence is RX loss) or `msp_override_failsafe` is ON
   * (Betaflight 4.5+, not readable over MSP v1, so the caller vouches for it). Also refuses a GPS-rescue
   * failsafe procedure on a drone without GPS. [] = the FC's own failsafe covers a dead companion.
   */
  async fcFailsafeProblems(o: { mspOverrideFailsafe: boolean }): Promise<string[]> {
    const features = await this.get(MSP.FEATURE_CONFIG, decodeFeatureConfig);
    const fs = await this.get(MSP.FAILSAFE_CONFIG, decodeFailsafeConfig);
    const problems: string[] = [];
    if ((features & FEATURE.RX_MSP) === 0 && !o.mspOverrideFailsafe) {
      problems.push(
        'the FC would not fail safe if brainpilot died: MSP override holds the last sticks forever. Either make MSP the ' +
          'receiver ("feature RX_MSP"), or "set msp_override_failsafe = ON" (Betaflight 4.5+) and confirm it with ' +
          'transport.mspOverrideFailsafe: true (it cannot be read over MSP)',
      );
    }
    if (fs.procedure === 2 && (features & FEATURE.GPS) === 0) {
      problems.push('failsafe_procedure is GPS-RESCUE but the GPS feature is off: set failsafe_procedure = DROP or AUTO-LAND');
    }
    return problems;
  }

  // -------------------------------------------------------------------------------------------------------
  // Sticks
  // -------------------------------------------------------------------------------------------------------

  /**
   * Send RC channels via MSP_SET_RAW_RC: AETR then AUX1.. (4..channelCount values; missing AUX channels take
   * `auxUs`). Values are clamped into 1000..2000 (counted); any non-finite value refuses the whole frame
   * (counted, nothing sent). The arm channel is always the bridge's own (see header).
   * @returns true when a frame went to the link.
   */
  sendSticks(channelsUs: readonly number[]): boolean {
    if (this.closed) return this.refuse('bridge closed');
    if (channelsUs.length < 4 || channelsUs.length > this.channelCount) {
      return this.refuse(`expected 4..${this.channelCount} channels, got ${channelsUs.length}`);
    }
    for (let i = 0; i < channelsUs.length; i++) {
      if (!Number.isFinite(channelsUs[i])) {
        this.stats.rejectedNonFinite++;
        return this.refuse(`channel ${i + 1} is ${channelsUs[i]}`);
      }
    }
    if (this.failsafe) {
      this.stats.rejectedFailsafe++;
      return this.refuse('failsafe latched: call arm() to resume');
    }
    const out = new Array<number>(this.channelCount);
    for (let i = 0; i < this.channelCount; i++) {
      const v = i < channelsUs.length ? channelsUs[i]! : this.auxUs[i - 4]!;
      const c = clampUs(v);
      if (c !== v) this.stats.clamped++;
      out[i] = c;
    }
    out[this.armChannel] = this.armCommanded ? this.armHighUs : this.armLowUs;
    this.lastStickS = this.nowS();
    return this.writeSticks(out);
  }

  /** CTBR → sticks through the FC's ACTUAL rate curve and the throttle map, then `sendSticks`. */
  command(cmd: Pick<CtbrCommand, 'thrustN' | 'rateRadS'>): boolean {
    const v = [cmd.thrustN, ...cmd.rateRadS];
    if (v.length !== 4 || !v.every(Number.isFinite)) {
      this.stats.rejectedNonFinite++;
      return this.refuse(`non-finite CTBR command (thrust ${cmd.thrustN}, rates ${cmd.rateRadS.join(', ')})`);
    }
    if (!this.rates) {
      this.stats.rejectedNoRates++;
      return this.refuse('no ACTUAL rates loaded: call readRcTuning() (rates_type = ACTUAL) or setRates()');
    }
    return this.sendSticks(ctbrToAetr(cmd.rateRadS, cmd.thrustN, this.rates, this.throttle));
  }

  /** Failsafe / disarm sticks: centred, throttle 1000, arm channel low, other AUX as configured. */
  disarmSticks(): number[] {
    const out = [RC_CENTER_US, RC_CENTER_US, RC_MIN_US, RC_CENTER_US, ...this.auxUs];
    out[this.armChannel] = this.armLowUs;
    return out;
  }

  private refuse(reason: string): false {
    this.lastRejectReason = reason;
    return false;
  }

  private writeSticks(ch: readonly number[]): boolean {
    const ok = this.link.write(encodeMspV1(MSP.SET_RAW_RC, encodeSetRawRc(ch)));
    if (ok) {
      this.stats.sticksSent++;
      this.unackedSticks++;
    }
    else this.stats.sticksDropped++;
    return ok;
  }

  // -------------------------------------------------------------------------------------------------------
  // Arming, watchdog, close
  // -------------------------------------------------------------------------------------------------------

  /**
   * Arm: clears a latched failsafe, sends disarm sticks (so a latched ARM_SWITCH flag can clear), refuses with
   * `ArmingRefusedError` (naming the flags) when the FC reports arming-disable flags, else raises the arm
   * channel (throttle low, sticks centred) and waits until STATUS_EX reports armed. Starts the watchdog.
   */
  async arm(): Promise<void> {
    if (this.closed) throw new Error('bridge closed');
    this.stopFailsafe();
    this.armCommanded = false;
    this.writeSticks(this.disarmSticks());
    const s = await this.status();
    if (s.armingDisableFlags.length > 0) throw new ArmingRefusedError(s.armingDisableFlags.map((f) => `arming disabled by ${f}`));
    this.armCommanded = true;
    const armSticks = this.disarmSticks();
    armSticks[this.armChannel] = this.armHighUs;
    this.lastStickS = this.nowS();
    this.startWatchdog();
    const deadline = Date.now() + this.armTimeoutMs;
    for (;;) {
      if (!this.armCommanded) throw new ArmingRefusedError(['disarmed while arming (watchdog or disarm())']);
      this.writeSticks(armSticks);
      this.lastStickS = this.nowS();
      const st = await this.status();
      if (st.armed) return;
      if (st.armingDisableFlags.length > 0 || Date.now() > deadline) {
        this.disarm();
        const why = st.armingDisableFlags.length > 0 ? st.armingDisableFlags.map((f) => `arming disabled by ${f}`) : [`FC did not arm within ${this.armTimeoutMs} ms`];
        throw new ArmingRefusedError(why);
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** Lower the arm channel (disarm sticks, once). Stops the watchdog. */
  disarm(): void {
    this.armCommanded = false;
    this.stopWatchdog();
    if (!this.closed) this.writeSticks(this.disarmSticks());
  }

  /**
   * Disarm and wait until the FC has taken it: disarm sticks go out at once (fire-and-forget), then once more as
   * a request ahead of any queued one, resolved by the FC's SET_RAW_RC ack. False when no ack came back.
   */
  async disarmAcked(ackTimeoutMs = 150, retries = 2): Promise<boolean> {
    this.disarm();
    if (this.closed) return false;
    const frame = encodeMspV1(MSP.SET_RAW_RC, encodeSetRawRc(this.disarmSticks()));
    this.stats.sticksSent++;
    return this.enqueue(frame, MSP.SET_RAW_RC, retries, ackTimeoutMs, true).then(
      () => true,
      () => false,
    );
  }

  private startWatchdog(): void {
    if (this.watchdogTimer) return;
    const periodMs = Math.max(5, (this.watchdogS * 1000) / 10);
    this.watchdogTimer = setInterval(() => {
      if (!this.armCommanded || this.failsafe) return;
      if (this.nowS() - this.lastStickS > this.watchdogS) this.tripFailsafe();
    }, periodMs);
  }

  private stopWatchdog(): void {
    if (this.watchdogTimer) clearInterval(this.watchdogTimer);
    this.watchdogTimer = undefined;
  }

  private tripFailsafe(): void {
    this.stats.watchdogTrips++;
    this.failsafe = true;
    this.armCommanded = false;
    this.stopWatchdog();
    const send = (): void => {
      if (this.closed) return;
      if (this.writeSticks(this.disarmSticks())) this.stats.failsafeFramesSent++;
    };
    send();
    this.failsafeTimer = setInterval(send, this.failsafeIntervalS * 1000);
    this.onFailsafe?.();
  }

  private stopFailsafe(): void {
    if (this.failsafeTimer) clearInterval(this.failsafeTimer);
    this.failsafeTimer = undefined;
    this.failsafe = false;
  }

  /**
   * Send disarm sticks (acknowledged by the FC when it answers within `ackTimeoutMs`), reject queued
   * requests, detach and close the link. Idempotent.
   */
  async close(ackTimeoutMs = 150): Promise<void> {
    if (this.closed) return;
    this.armCommanded = false;
    this.stopWatchdog();
    if (this.failsafeTimer) clearInterval(this.failsafeTimer);
    this.failsafeTimer = undefined;
    // Drop everything waiting; the disarm frame goes first.
    for (const p of this.queue.splice(0)) p.reject(new Error('bridge closed'));
    const cur = this.current;
    if (cur) this.finish(cur, new Error('bridge closed'));
    const disarm = encodeMspV1(MSP.SET_RAW_RC, encodeSetRawRc(this.disarmSticks()));
    this.stats.sticksSent++;
    await this.enqueue(disarm, MSP.SET_RAW_RC, 0, ackTimeoutMs, true).catch(() => undefined);
    this.closed = true;
    this.link.off('data', this.onData);
    await this.link.close();
  }
}
