/**
 * Betaflight over MSP as a daemon Transport: the AI Grand Prix drone's one UART (Jetson → FC sticks via MSP
 * override, FC → Jetson IMU over MSP, no pose). Camera frames do not come over MSP: they come from a
 * `FrameSource` the caller composes in (ZeroMQ, ROS 2, a V4L2 reader, or the simulator in tests).
 *
 * open():  connect → identify → stream idle sticks (throttle low, arm low: RXLOSS clears, nothing can arm) →
 *          preflight (configuration + "would the FC fail safe on its own?"; any problem refuses to arm, naming
 *          it) → ACTUAL rate curve read → IMU polling, FC status polling, frames → wait for the arming-disable
 *          flags to clear → arm.
 * send():  CTBR → sticks through the FC's own rate curve (bridge.command); RC passes through; anything before
 *          the FC armed, or after it disarmed, is counted and dropped.
 * Safety:  the bridge's watchdog sends disarm sticks when no command came for `watchdogS` (a stalled pipeline)
 *          and the session ends; disarm() waits for the FC's ack; close() disarms first. A pipeline that blocks
 *          the event loop also blocks the watchdog timer: the FC-side failsafe checked at open is the backstop.
 *
 * Clock: IMU samples are stamped with `clockS` at the midpoint of the RAW_IMU request and its reply (the FC
 * samples while answering). Frames must be stamped on the same clock (pass the frame source's clock).
 */
import type { Logger } from 'pino';
import type { SensorSink, Transport } from '../../src/daemon/transport.js';
import type { CameraFrame, FlightCommand, ImuSample } from '../../src/tracts/io.js';
import { openLink, type Link, type LinkOptions } from '../link/index.js';
import { MSP } from '../msp/codes.js';
import { decodeRawImu, decodeStatus, rawImuToSi, RAW_IMU_ACC_1G_FC } from '../msp/messages.js';
import { ArmingRefusedError, BetaflightBridge, type BetaflightBridgeOptions, type FcIdentity } from './bridge.js';

/**
 * Where camera frames come from. Frames must be stamped on the transport's clock (`clockS`): with ROS 2 header
 * stamps (system time) pass `clockS: () => Date.now() / 1000`; with a source that has its own clock (the
 * simulator), pass that clock.
 */
export interface FrameSource {
  /** Start delivering frames to `cb`; returns a function that stops the delivery. */
  onFrame(cb: (frame: CameraFrame) => void): () => void;
  /** Release the source (called by the transport's close()). */
  close?(): Promise<void>;
}

/** Refused at open(): everything that is wrong, in plain words. */
export class PreflightError extends Error {
  constructor(
    readonly link: string,
    readonly problems: string[],
  ) {
    super(`betaflight on ${link}: refusing to arm:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'PreflightError';
  }
}

export interface BetaflightTransportOptions {
  /** Link URI (serial:/dev/ttyTHS1:921600, tcp:127.0.0.1:5761) or an already created Link. */
  link: string | Link;
  linkOptions?: LinkOptions;
  /** Arm channel, watchdog, throttle map, acc scale... (see BetaflightBridgeOptions). */
  bridge: Omit<BetaflightBridgeOptions, 'onFailsafe'>;
  /** RAW_IMU polling rate, Hz. */
  imuRateHz: number;
  /** Reply timeout of one RAW_IMU / STATUS_EX poll, ms (not retried: the next poll is the retry). Default 50. */
  pollTimeoutMs?: number;
  /** STATUS_EX polling rate while flying (notices an FC that disarmed on its own), Hz. Default 2. */
  statusRateHz?: number;
  /** Idle-stick stream before arming, Hz (Betaflight wants RC flowing before it arms). Default 50. */
  idleStickRateHz?: number;
  /** Give up connecting after this long, s. Default 5. */
  connectTimeoutS?: number;
  /** Wait this long for the FC's arming-disable flags to clear (RXLOSS, BOOTGRACE...), s. Default 6. */
  armWaitS?: number;
  /** Stick frames per second the daemon will send (control.rateHz): part of the MSP budget checked at open. Default 100. */
  commandRateHz?: number;
  /** The user vouches `msp_override_failsafe = ON` is set on the FC (unreadable over MSP v1). Default false. */
  mspOverrideFailsafe?: boolean;
  frames?: FrameSource;
  /** The sensor clock, s. Default performance.now()/1000. */
  clockS?: () => number;
  log?: Pick<Logger, 'info' | 'warn' | 'error'>;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const EMPTY = Buffer.alloc(0);
const finite3 = (v: readonly number[]): boolean => Number.isFinite(v[0]) && Number.isFinite(v[1]) && Number.isFinite(v[2]);

export class BetaflightTransport implements Transport {
  readonly name: string;
  readonly clock = 'realtime' as const;
  readonly ended: Promise<string>;
  identity: FcIdentity | undefined;
  bridge: BetaflightBridge | undefined;

  private readonly o: BetaflightTransportOptions;
  private readonly clockS: () => number;
  private link: Link | undefined;
  private sink: SensorSink | undefined;
  private armed = false;
  private stopped = false;
  private closing: Promise<void> | undefined;
  private resolveEnded!: (why: string) => void;
  private stopFrames: (() => void) | undefined;
  private idleTimer: NodeJS.Timeout | undefined;
  private loops: Promise<void>[] = [];
  private lastRefuseLogMs = -Infinity;
  private onLinkClose: (() => void) | undefined;
  private onLinkOpen: (() => void) | undefined;
  private readonly n = {
    imuSamples: 0,
    imuPollsLost: 0,
    imuRejected: 0,
    commandsSent: 0,
    commandsRefused: 0,
    commandsWhileDisarmed: 0,
    frames: 0,
  };

  constructor(opts: BetaflightTransportOptions) {
    if (!(opts.imuRateHz > 0 && opts.imuRateHz <= 1000)) throw new RangeError(`betaflight: imuRateHz must be in (0, 1000], got ${opts.imuRateHz}`);
    this.o = opts;
    this.clockS = opts.clockS ?? ((): number => performance.now() / 1000);
    this.name = `betaflight (${typeof opts.link === 'string' ? opts.link : opts.link.uri})`;
    this.ended = new Promise((r) => (this.resolveEnded = r));
  }

  async open(sink: SensorSink): Promise<void> {
    this.sink = sink;
    const o = this.o;
    const link = typeof o.link === 'string' ? openLink(o.link, o.linkOptions) : o.link;
    this.link = link;
    await this.waitOpen(link, (o.connectTimeoutS ?? 5) * 1000);
    this.onLinkClose = () => sink.linkState(false, `${link.uri} closed`);
    this.onLinkOpen = () => sink.linkState(true, `${link.uri} reopened`);
    link.on('close', this.onLinkClose);
    link.on('open', this.onLinkOpen);
    const bridge = new BetaflightBridge(link, {
      ...o.bridge,
      onFailsafe: () => {
        this.armed = false;
        o.log?.error({ event: 'watchdog' }, `no command for ${o.bridge.watchdogS ?? 0.2} s: disarm sticks sent (watchdog)`);
        this.resolveEnded('watchdog: the pipeline stopped commanding, disarm sticks sent');
      },
    });
    this.bridge = bridge;
    try {
      this.identity = await bridge.identify();
      o.log?.info({ event: 'fc', ...this.identity }, `flight controller ${this.identity.variant} ${this.identity.version} (API ${this.identity.apiVersion}, board ${this.identity.board})`);
      this.startIdleSticks();
      const report = await bridge.preflightReport();
      const problems = [...report.problems, ...(await bridge.fcFailsafeProblems({ mspOverrideFailsafe: o.mspOverrideFailsafe ?? false }))];
      if (problems.length > 0) throw new PreflightError(link.uri, problems);
      if (!bridge.rates) throw new PreflightError(link.uri, ['no ACTUAL rate curve was read from RC_TUNING']);
      const budget = await this.checkMspBudget(bridge);
      if (budget) throw new PreflightError(link.uri, [budget]);
      this.loops.push(this.imuLoop());
      if (o.frames) this.stopFrames = o.frames.onFrame((f) => this.onFrame(f));
      await this.waitArmable(bridge, (o.armWaitS ?? 6) * 1000);
      this.stopIdleSticks();
      await bridge.arm();
      this.armed = true;
      this.loops.push(this.statusLoop());
      o.log?.info({ event: 'armed' }, 'armed');
    } catch (e) {
      await this.close();
      if (e instanceof PreflightError) throw e;
      if (e instanceof ArmingRefusedError) throw new PreflightError(link.uri, e.reasons);
      throw new Error(`betaflight on ${link.uri}: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
    }
  }

  send(cmd: FlightCommand | null): void {
    const bridge = this.bridge;
    if (!cmd) return;
    if (!this.armed || !bridge) {
      this.n.commandsWhileDisarmed++;
      return;
    }
    let ok: boolean;
    bridge.lastRejectReason = '';
    switch (cmd.kind) {
      case 'ctbr':
        ok = bridge.command(cmd);
        break;
      case 'rc':
        ok = bridge.sendSticks(cmd.channelsUs);
        break;
      case 'motors':
        ok = false;
        bridge.lastRejectReason = 'motor commands cannot go over MSP override (sticks only)';
        break;
      default: {
        const never: never = cmd;
        throw new Error(`unknown command ${JSON.stringify(never)}`);
      }
    }
    if (ok) this.n.commandsSent++;
    else this.refused(bridge.lastRejectReason || `${this.link?.uri ?? 'the link'} refused the write (down or backed up)`);
  }

  async disarm(reason: string): Promise<void> {
    const bridge = this.bridge;
    this.armed = false;
    if (!bridge) return;
    const acked = await bridge.disarmAcked();
    this.resolveEnded(`disarmed (${reason})`);
    if (acked) this.o.log?.warn({ event: 'disarm', reason }, `disarm sticks taken by the FC (${reason})`);
    else this.o.log?.error({ event: 'disarm-unacked', reason }, `disarm sticks sent but not acknowledged by the FC (${reason})`);
  }

  close(): Promise<void> {
    if (!this.closing) {
      this.closing = (async () => {
        this.stopped = true;
        this.armed = false;
        this.stopIdleSticks();
        this.stopFrames?.();
        this.stopFrames = undefined;
        // our own close is not a link failure for the health line
        if (this.onLinkClose) this.link?.off('close', this.onLinkClose);
        if (this.onLinkOpen) this.link?.off('open', this.onLinkOpen);
        // the bridge sends disarm sticks (acknowledged) before it closes the link
        if (this.bridge) await this.bridge.close();
        else await this.link?.close();
        await Promise.allSettled(this.loops);
        await this.o.frames?.close?.();
        this.resolveEnded('closed');
      })();
    }
    return this.closing;
  }

  counters(): Record<string, number> {
    const b = this.bridge?.stats;
    const l = this.link?.stats;
    return {
      ...this.n,
      ...(b ? { sticksSent: b.sticksSent, sticksDropped: b.sticksDropped, mspTimeouts: b.timeouts, watchdogTrips: b.watchdogTrips, failsafeFramesSent: b.failsafeFramesSent } : {}),
      ...(l ? { bytesIn: l.bytesIn, bytesOut: l.bytesOut, reconnects: l.reconnects } : {}),
    };
  }

  private onFrame(f: CameraFrame): void {
    if (this.stopped) return;
    this.n.frames++;
    this.sink?.frame(f);
  }

  private refused(reason: string): void {
    this.n.commandsRefused++;
    const now = performance.now();
    if (now - this.lastRefuseLogMs >= 1000) {
      this.lastRefuseLogMs = now;
      this.o.log?.warn({ event: 'command-refused', reason, refused: this.n.commandsRefused }, `command not sent: ${reason}`);
    }
  }

  private waitOpen(link: Link, timeoutMs: number): Promise<void> {
    if (link.connected) return Promise.resolve();
    return new Promise((resolve, reject) => {
      let lastError = '';
      const onError = (e: Error): void => {
        lastError = e.message;
      };
      const done = (err?: Error): void => {
        clearTimeout(t);
        link.off('open', onOpen);
        link.off('error', onError);
        if (err) {
          void link.close();
          reject(err);
        } else resolve();
      };
      const onOpen = (): void => done();
      const t = setTimeout(() => done(new Error(`betaflight: no connection to ${link.uri} within ${timeoutMs / 1000} s${lastError ? ` (${lastError})` : ''}`)), timeoutMs);
      link.on('open', onOpen);
      link.on('error', onError);
    });
  }

  /**
   * Can the FC serve what we will ask? Betaflight answers one MSP command per serial task run
   * (serial_update_rate_hz, 100 by default) and a UART adds its bandwidth: sticks at 100 Hz + IMU at 100 Hz
   * against the default starve the IMU (measured: 17 samples/s). Measure the service time of back-to-back
   * RAW_IMU requests (the median, so one late reply on a busy host does not decide) and compare.
   * @returns the problem, or undefined when the budget fits with 25 % margin.
   */
  private async checkMspBudget(bridge: BetaflightBridge): Promise<string | undefined> {
    const times: number[] = [];
    for (let i = 0; i < 15; i++) {
      const t0 = performance.now();
      await bridge.request(MSP.RAW_IMU, EMPTY, { timeoutMs: 250, retries: 1 });
      times.push(performance.now() - t0);
    }
    times.sort((a, b) => a - b);
    const medianMs = times[Math.floor(times.length / 2)]!;
    const idleHz = this.o.idleStickRateHz ?? 50;
    const capacityHz = 1000 / Math.max(medianMs, 1e-3) + idleHz; // the idle sticks shared the FC's task meanwhile
    const cmdHz = this.o.commandRateHz ?? 100;
    const statusHz = this.o.statusRateHz ?? 2;
    const needHz = cmdHz + this.o.imuRateHz + statusHz;
    this.o.log?.info({ event: 'msp-budget', medianMs, capacityHz: Math.round(capacityHz), needHz }, `MSP: ≈ ${Math.round(capacityHz)} commands/s served, ${needHz}/s needed`);
    if (capacityHz >= 1.25 * needHz) return undefined;
    return (
      `the FC serves ≈ ${Math.round(capacityHz)} MSP commands/s (RAW_IMU answered in ${medianMs.toFixed(1)} ms), but sticks at ` +
      `${cmdHz} Hz + IMU at ${this.o.imuRateHz} Hz + status at ${statusHz} Hz need ${needHz}/s with 25 % margin: ` +
      '"set serial_update_rate_hz = 1000" on the FC (Betaflight answers one MSP command per serial task run), ' +
      'raise the baud rate, or lower control.rateHz / imuRateHz'
    );
  }

  /** Throttle low, arm low, at a steady rate: clears RXLOSS (RX_MSP) and cannot arm anything. */
  private startIdleSticks(): void {
    const bridge = this.bridge!;
    const send = (): void => void bridge.sendSticks(bridge.disarmSticks());
    send();
    this.idleTimer = setInterval(send, 1000 / (this.o.idleStickRateHz ?? 50));
  }

  private stopIdleSticks(): void {
    if (this.idleTimer) clearInterval(this.idleTimer);
    this.idleTimer = undefined;
  }

  private async waitArmable(bridge: BetaflightBridge, timeoutMs: number): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const s = await bridge.status();
      if (s.armed) throw new PreflightError(this.link!.uri, ['the FC is already armed']);
      if (s.armingDisableFlags.length === 0) return;
      if (performance.now() > deadline) {
        throw new PreflightError(this.link!.uri, [`arming stayed disabled for ${timeoutMs / 1000} s by: ${s.armingDisableFlags.join(', ')}`]);
      }
      await sleep(100);
    }
  }

  /** RAW_IMU at imuRateHz → FLU SI ImuSample; a lost reply is skipped (the next poll is the retry). */
  private async imuLoop(): Promise<void> {
    const bridge = this.bridge!;
    const periodMs = 1000 / this.o.imuRateHz;
    const acc1G = this.o.bridge.acc1G ?? RAW_IMU_ACC_1G_FC;
    const timeoutMs = this.o.pollTimeoutMs ?? 50;
    let next = performance.now();
    while (!this.stopped) {
      const t0 = this.clockS();
      try {
        const f = await bridge.request(MSP.RAW_IMU, EMPTY, { timeoutMs, retries: 0 });
        const t1 = this.clockS();
        this.deliverImu(f.payload, 0.5 * (t0 + t1), acc1G);
      } catch {
        // timeout, error reply or a full queue: the next poll is the retry
        if (this.stopped) break;
        this.n.imuPollsLost++;
      }
      next += periodMs;
      const now = performance.now();
      if (next < now - periodMs) next = now; // fell behind: do not burst to catch up
      await sleep(Math.max(0, next - now));
    }
  }

  private deliverImu(payload: Uint8Array, stampS: number, acc1G: number): void {
    const sink = this.sink!;
    let si;
    try {
      si = rawImuToSi(decodeRawImu(payload), acc1G);
    } catch (e) {
      this.n.imuRejected++;
      sink.reject('decode', e instanceof Error ? e.message : String(e));
      return;
    }
    const s: ImuSample = { stampS, gyroRadS: si.gyroRadS, accelMS2: si.accMS2 };
    if (!Number.isFinite(stampS) || !finite3(s.gyroRadS) || !finite3(s.accelMS2)) {
      this.n.imuRejected++;
      sink.reject('non-finite', `RAW_IMU → stamp ${stampS}, gyro [${s.gyroRadS.join(', ')}], accel [${s.accelMS2.join(', ')}]`);
      return;
    }
    this.n.imuSamples++;
    sink.imu(s);
  }

  /** STATUS_EX while flying: an FC that disarmed on its own (pilot switch, its failsafe, crash) ends the session. */
  private async statusLoop(): Promise<void> {
    const bridge = this.bridge!;
    const periodMs = 1000 / (this.o.statusRateHz ?? 2);
    while (!this.stopped) {
      await sleep(periodMs);
      if (this.stopped || !this.armed) break;
      try {
        const f = await bridge.request(MSP.STATUS_EX, EMPTY, { timeoutMs: this.o.pollTimeoutMs ?? 50, retries: 0 });
        const s = decodeStatus(f.payload, MSP.STATUS_EX);
        if (!s.armed && this.armed) {
          this.armed = false;
          const why = s.armingDisableNames.length ? ` (arming disabled by ${s.armingDisableNames.join(', ')})` : '';
          this.o.log?.warn({ event: 'fc-disarmed' }, `the FC disarmed on its own${why}`);
          this.resolveEnded(`the FC disarmed${why}`);
          break;
        }
      } catch {
        // a lost status reply is retried at the next period
      }
    }
  }
}
