/**
 * The built-in simulator's FC as a Betaflight MSP flight controller on TCP loopback: what the daemon's
 * Betaflight transport sees on the AI Grand Prix drone's UART, with the sim's physics behind it.
 *
 * Identity like the emulator (BTFL 26.12.0, API 1.49); MSP_RAW_IMU from the sim's IMU model (gyro deg/s,
 * accelerometer 512 LSB/g, int16, FLU axes as the bridge reads them); MSP_SET_RAW_RC → the sim FC's sticks
 * (AETR through the vehicle's ACTUAL rates, throttle linear in collective thrust); ARM on AUX1 1700..2100 and
 * MSP OVERRIDE on AUX2 in MODE_RANGES; RC_TUNING from the vehicle's rates; STATUS_EX with the armed bit and
 * live arming-disable flags (RXLOSS, THROTTLE, ANGLE, FAILSAFE, ARM_SWITCH latch).
 *
 * MSP is this FC's receiver (feature RX_MSP): sticks silent for `rxLossS` → RX loss, sticks centred and throttle
 * low (Betaflight's stage 1); still silent `failsafeDelayS` later → disarm (failsafe_procedure DROP).
 *
 * The sim steps paced by the wall clock (SimServer, realtimeFactor > 0); frames go to in-process subscribers
 * (`frames`), stamped on `clockS()`, the same clock a client should stamp its IMU samples with.
 */
import type net from 'node:net';
import type { CameraFrame, ImuSample } from '../../src/tracts/io.js';
import type { Sim } from '../world.js';
import type { RaceResult } from '../runner.js';
import { SimServer, type ServeOptions, type SimWire } from './loop.js';
import type { MspFrame } from '../../firmware-bridge/msp/codec.js';
import { ARMING_DISABLE_BIT } from '../../firmware-bridge/msp/codes.js';
import { FEATURE } from '../../firmware-bridge/msp/messages.js';
import { answerMspRequest, CONFIGURED_MODE_RANGES, DEFAULT_BOX_IDS, encodeRawImuReply, MspFcServer, type MspFcModel, type RcRecord } from '../../firmware-bridge/msp/fc.js';

export type { RcRecord } from '../../firmware-bridge/msp/fc.js';

const G = 9.80665;
const RAD2DEG = 180 / Math.PI;
/** Betaflight min_check: throttle above this blocks arming (THROTTLE flag). */
const MIN_CHECK_US = 1050;
/** Betaflight small_angle default, rad: tilted more than this blocks arming (ANGLE flag). */
const SMALL_ANGLE_RAD = (25 * Math.PI) / 180;
const ARM_LOW_US = 1700;
const ARM_HIGH_US = 2100;

export interface MspSimOptions extends Omit<ServeOptions, 'realtimeFactor' | 'armAtStart' | 'maxLagS'> {
  /** Sim seconds per wall second (> 0). Default 1. */
  realtimeFactor?: number;
  /** Behind the wall clock by more than this, the sim slows down instead of bursting (see ServeOptions). Default 0.02 s. */
  maxLagS?: number;
  /** Listen host. Default 127.0.0.1. */
  host?: string;
  /** Listen port; 0 = ephemeral. Default 0. */
  port?: number;
  /** RAW_IMU accelerometer LSB per g. Default 512 (a real FC). */
  acc1G?: number;
  /** Stick silence that counts as RX loss, s. Default 0.2. */
  rxLossS?: number;
  /** RX loss this much longer → disarm (failsafe_delay), s. Default 1.5. */
  failsafeDelayS?: number;
  /**
   * Betaflight's serial task: one MSP command per run at serial_update_rate_hz (100 by default on a real FC).
   * Commands wait in the RX buffer (32 frames; when it is full, new ones are lost, as bytes are on a UART).
   * Default: no cap (every command answered at once).
   */
  serialTaskHz?: number;
}

/** In-process frame subscription (the transport's FrameSource shape). */
export interface SimFrameSource {
  onFrame(cb: (f: CameraFrame) => void): () => void;
}

export class MspSimServer implements SimWire {
  readonly name = 'msp';
  readonly server: SimServer;
  /** Every SET_RAW_RC received (bounded to the newest 200 000). */
  readonly rc: RcRecord[] = [];
  /** Why the FC disarmed, each time it did: 'switch' | 'rx-loss'. */
  readonly disarms: { tMs: number; cause: string }[] = [];
  readonly frames: SimFrameSource;
  result: Promise<RaceResult> | undefined;
  /** The sim IMU sample the last RAW_IMU reply was made from (for inspection). */
  lastImuReplied: ImuSample | undefined;

  private readonly tcp = new MspFcServer((s, f) => this.handle(s, f));
  /** The sim FC's state as the shared MSP replies read it. */
  private readonly fc: MspFcModel = {
    armed: () => this.armed,
    boxIds: () => DEFAULT_BOX_IDS,
    armingDisableFlags: () => this.armingDisableFlags(),
    rawImu: () => this.rawImuReply(),
    rates: () => {
      const r = this.sim.opts.vehicle.rcRates;
      return { centerDegS: [...r.centerDegS], maxDegS: [...r.maxDegS], expo: [...r.expo], ratesType: 3 };
    },
    modeRanges: () => CONFIGURED_MODE_RANGES,
    features: () => FEATURE.RX_MSP,
    failsafe: () => ({ procedure: 1, delayS: this.failsafeDelayS }),
    onRc: (channels) => this.onRc(channels),
  };
  private readonly frameSubs = new Set<(f: CameraFrame) => void>();
  private readonly rtf: number;
  private readonly acc1G: number;
  private readonly rxLossS: number;
  private readonly failsafeDelayS: number;
  private latestImu: ImuSample | undefined;
  private lastImuWallMs = NaN;
  private lastImuSimS = 0;
  private imuPeriodS = 0.002;
  private lastRcMs = -Infinity;
  private throttleUs = 1000;
  private armSwitchLatched = false;
  private rxLossStage = 0;
  private everArmed = false;
  private readonly rxQueue: { s: net.Socket; f: MspFrame }[] = [];
  private serialTimer: NodeJS.Timeout | undefined;
  /** Commands lost to a full RX queue (serialTaskHz only). */
  rxOverflows = 0;

  constructor(
    readonly sim: Sim,
    readonly o: MspSimOptions,
  ) {
    this.rtf = o.realtimeFactor ?? 1;
    if (!(this.rtf > 0)) throw new RangeError(`msp sim: realtimeFactor must be > 0 (the FC runs on the wall clock), got ${this.rtf}`);
    this.acc1G = o.acc1G ?? 512;
    this.rxLossS = o.rxLossS ?? 0.2;
    this.failsafeDelayS = o.failsafeDelayS ?? 1.5;
    const { host: _h, port: _p, acc1G: _a, rxLossS: _r, failsafeDelayS: _f, maxLagS: _m, serialTaskHz: _s, ...serve } = o;
    if (o.serialTaskHz !== undefined && !(o.serialTaskHz > 0 && o.serialTaskHz <= 2000)) {
      throw new RangeError(`msp sim: serialTaskHz must be in (0, 2000] (Betaflight serial_update_rate_hz), got ${o.serialTaskHz}`);
    }
    this.server = new SimServer(sim, this, { ...serve, realtimeFactor: this.rtf, armAtStart: false, maxLagS: o.maxLagS ?? 0.02 });
    this.frames = {
      onFrame: (cb) => {
        this.frameSubs.add(cb);
        return () => this.frameSubs.delete(cb);
      },
    };
  }

  /** Listen, start the paced sim; resolves with the TCP port. `result` resolves when the run ends. */
  async start(): Promise<number> {
    await this.tcp.listen(this.o.port ?? 0, this.o.host ?? '127.0.0.1');
    if (this.o.serialTaskHz) {
      this.serialTimer = setInterval(() => {
        const next = this.rxQueue.shift();
        if (next && !next.s.destroyed) answerMspRequest(next.s, next.f, this.fc);
      }, 1000 / this.o.serialTaskHz);
    }
    this.result = this.server.run();
    return this.port;
  }

  get port(): number {
    return this.tcp.port;
  }

  get uri(): string {
    return `tcp:127.0.0.1:${this.port}`;
  }

  /**
   * The sensor clock, s: sim time, interpolated by the wall clock between IMU samples (at most one sample
   * period ahead, so it never runs ahead of a sim that slowed down). Frames are stamped in sim time.
   */
  clockS(): number {
    if (Number.isNaN(this.lastImuWallMs)) return this.sim.tS;
    return this.lastImuSimS + Math.min(this.imuPeriodS, ((performance.now() - this.lastImuWallMs) / 1000) * this.rtf);
  }

  get armed(): boolean {
    return this.sim.fc.armed;
  }

  async close(): Promise<void> {
    this.server.stop();
    if (this.serialTimer) clearInterval(this.serialTimer);
    await this.tcp.close();
    if (this.result) await this.result.catch(() => undefined);
  }

  // SimWire --------------------------------------------------------------------------------------------------

  imu(s: ImuSample): void {
    if (this.latestImu) this.imuPeriodS = Math.max(1e-4, s.stampS - this.latestImu.stampS);
    this.latestImu = s;
    this.lastImuWallMs = performance.now();
    this.lastImuSimS = this.sim.tS;
    this.checkRxLoss();
  }

  frame(f: CameraFrame): void {
    for (const cb of this.frameSubs) cb(f);
  }

  // MSP ------------------------------------------------------------------------------------------------------

  private handle(s: net.Socket, f: MspFrame): void {
    if (!this.o.serialTaskHz) return answerMspRequest(s, f, this.fc);
    if (this.rxQueue.length >= 32) this.rxOverflows++;
    else this.rxQueue.push({ s, f });
  }

  private rawImuReply(): Buffer {
    const s = this.latestImu;
    this.lastImuReplied = s;
    const k = this.acc1G / G;
    if (!s) return encodeRawImuReply([0, 0, this.acc1G], [0, 0, 0]);
    return encodeRawImuReply(
      [s.accelMS2[0] * k, s.accelMS2[1] * k, s.accelMS2[2] * k],
      [s.gyroRadS[0] * RAD2DEG, s.gyroRadS[1] * RAD2DEG, s.gyroRadS[2] * RAD2DEG],
    );
  }

  private armingDisableFlags(): number {
    let f = 0;
    const silentS = (performance.now() - this.lastRcMs) / 1000;
    if (silentS > this.rxLossS) f |= 1 << ARMING_DISABLE_BIT.RXLOSS;
    if (this.rxLossStage > 0) f |= 1 << ARMING_DISABLE_BIT.FAILSAFE;
    if (!this.armed && this.throttleUs > MIN_CHECK_US) f |= 1 << ARMING_DISABLE_BIT.THROTTLE;
    if (this.tiltRad() > SMALL_ANGLE_RAD) f |= 1 << ARMING_DISABLE_BIT.ANGLE;
    if (this.armSwitchLatched) f |= 1 << ARMING_DISABLE_BIT.ARM_SWITCH;
    return f >>> 0;
  }

  /** Angle between body up and world up. */
  private tiltRad(): number {
    const q = this.sim.state.quat;
    // z component of the body z axis in the world: 1 − 2(x² + y²)
    return Math.acos(Math.max(-1, Math.min(1, 1 - 2 * (q[1] * q[1] + q[2] * q[2]))));
  }

  private onRc(channels: number[]): void {
    const now = performance.now();
    this.rc.push({ tMs: now, channels });
    if (this.rc.length > 200_000) this.rc.splice(0, 100_000);
    this.lastRcMs = now;
    if (channels.length < 4) return;
    this.rxLossStage = 0;
    this.throttleUs = channels[2]!;
    const armUs = channels[4] ?? 1000;
    const armSwitch = armUs >= ARM_LOW_US && armUs < ARM_HIGH_US;
    if (!armSwitch) {
      this.armSwitchLatched = false;
      if (this.armed) this.disarm('switch');
    } else if (!this.armed) {
      // Like Betaflight: raising the switch while anything blocks arming latches ARM_SWITCH until it is lowered.
      if (this.armingDisableFlags() === 0 && !this.armSwitchLatched) {
        this.sim.arm();
        this.everArmed = true;
      } else this.armSwitchLatched = true;
    }
    if (this.armed) this.server.command({ kind: 'rc', stampS: this.sim.tS, channelsUs: [channels[0]!, channels[1]!, channels[2]!, channels[3]!] });
  }

  private checkRxLoss(): void {
    if (!this.armed) return;
    const silentS = (performance.now() - this.lastRcMs) / 1000;
    if (silentS > this.rxLossS + this.failsafeDelayS) this.disarm('rx-loss');
    else if (silentS > this.rxLossS && this.rxLossStage === 0) {
      // stage 1: Betaflight's channel fallback, sticks centred and throttle low
      this.rxLossStage = 1;
      this.server.command({ kind: 'rc', stampS: this.sim.tS, channelsUs: [1500, 1500, 1000, 1500] });
    }
  }

  private disarm(cause: string): void {
    this.disarms.push({ tMs: performance.now(), cause });
    // after a flight, a disarm ends the run once the drone is down (SimServer)
    if (this.everArmed) this.server.disarm();
    else this.sim.disarm();
  }
}
