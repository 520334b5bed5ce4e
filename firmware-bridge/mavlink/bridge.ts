/**
 * What the PX4 and ArduPilot bridges share: sensors in (IMU, pose; NED/FRD → ENU/FLU), body-rate + thrust
 * setpoints out (SET_ATTITUDE_TARGET, FLU → FRD, thrust normalised by the vehicle's max thrust), a
 * keep-alive setpoint stream until the pipeline takes over, loss detection, land/disarm and close.
 *
 * Loss: once engaged (PX4 OFFBOARD, ArduPilot GUIDED and armed), a HEARTBEAT with another mode, or one
 * that says disarmed, is a loss: the bridge emits 'lost' once, with the FC's words, and refuses every later
 * setpoint. The FC flies its own failsafe from there (PX4 after COM_OF_LOSS_T, ArduPilot its
 * GUID_TIMEOUT); sending more setpoints could fight it. No HEARTBEAT for `heartbeatTimeoutS` reports the link
 * down (and up again when one arrives); that alone is not a loss.
 *
 * Setpoint stream ownership: from start() until the first setpoint() the bridge streams a neutral setpoint
 * (zero rates, zero thrust) at `setpointRateHz` (PX4 needs a stream before it accepts OFFBOARD). After the
 * first setpoint() the caller owns the stream: if it stalls, the FC's own offboard-loss failsafe acts.
 */
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import type { common } from 'node-mavlink';
import type { CtbrCommand, ImuSample } from '../../src/tracts/io.js';
import type { Vec3 } from '../../src/math/vec3.js';
import { MavlinkCommandError, type MavlinkSession, type VehicleState } from './session.js';
import {
  attitudeRatesTarget,
  attitudeToQuatEnuFlu,
  imuFromHighres,
  imuFromScaledImu,
  isFiniteAll,
  MavCmd,
  MSG,
  nedToEnu,
  type VehiclePose,
} from './messages.js';

export interface MavlinkBridgeOptions {
  /** Collective thrust at normalised thrust 1, N. */
  maxThrustN: number;
  /** Body rates are clamped to ± these (FLU roll, pitch, yaw), rad/s. Default 10 each. */
  maxRateRadS?: Vec3;
  /** Keep-alive setpoint rate before the pipeline takes over, Hz. Default 50. */
  setpointRateHz?: number;
  /** IMU stream (HIGHRES_IMU on PX4, SCALED_IMU on ArduPilot), Hz. */
  imuRateHz?: number;
  /** ATTITUDE and LOCAL_POSITION_NED stream, Hz. Default 50. */
  poseRateHz?: number;
  /** First HEARTBEAT must arrive within this, s. Default 5. */
  connectTimeoutS?: number;
  /** Arming is retried (TEMPORARILY_REJECTED / FAILED: pre-arm checks still running) for this long, s. */
  armTimeoutS?: number;
  /** Spacing of those retries (and of ArduPilot's GUIDED requests), s. Default 1. */
  armRetryIntervalS?: number;
  /** Land (or disarm) must complete within this, s. Default 30. */
  landTimeoutS?: number;
  /** No HEARTBEAT this long → link reported down, s. Default 3. */
  heartbeatTimeoutS?: number;
  /**
   * Ask the FC for its HEARTBEAT at this rate, Hz (best effort: PX4 takes it, ArduPilot keeps 1 Hz). A mode
   * change is seen at the next HEARTBEAT, so this bounds how late a loss of OFFBOARD is noticed. Default 5.
   */
  fcHeartbeatHz?: number;
  log?: Pick<Logger, 'debug' | 'info' | 'warn' | 'error'>;
}

export interface MavlinkBridgeEvents {
  imu: [sample: ImuSample];
  pose: [pose: VehiclePose];
  /** Engaged control ended without us asking (mode change, FC disarm); emitted once. */
  lost: [reason: string];
  /** HEARTBEATs stopped (false) or resumed (true). */
  link: [up: boolean, detail: string];
  /** A sensor message dropped (non-finite values); also counted in stats.malformedSensor. */
  reject: [detail: string];
}

export interface MavlinkBridgeStats {
  setpointsSent: number;
  keepaliveSent: number;
  rejectedNonFinite: number;
  rejectedNotEngaged: number;
  clamped: number;
  imuSamples: number;
  poses: number;
  malformedSensor: number;
}

export abstract class MavlinkFcBridge extends EventEmitter<MavlinkBridgeEvents> {
  readonly stats: MavlinkBridgeStats = { setpointsSent: 0, keepaliveSent: 0, rejectedNonFinite: 0, rejectedNotEngaged: 0, clamped: 0, imuSamples: 0, poses: 0, malformedSensor: 0 };
  /** Why the last setpoint was refused. */
  lastRejectReason = '';
  /** The latest pose (ENU/FLU), once ATTITUDE and LOCAL_POSITION_NED have both arrived. */
  pose: VehiclePose | null = null;
  /** Set once control is lost; setpoints are refused from then on. */
  lostReason: string | null = null;
  protected readonly o: Required<Omit<MavlinkBridgeOptions, 'log'>>;
  protected readonly log: MavlinkBridgeOptions['log'];
  protected engagedMode: string | null = null;
  private keepalive: NodeJS.Timeout | undefined;
  private hbWatch: NodeJS.Timeout | undefined;
  private hbUp = true;
  private attitude: { roll: number; pitch: number; yaw: number; tS: number } | null = null;
  private readonly onMessage = (m: unknown, f: { msgid: number }): void => this.onSensor(f.msgid, m);
  private readonly onHeartbeat = (v: VehicleState): void => this.checkEngagement(v);
  private closed = false;

  protected constructor(
    readonly session: MavlinkSession,
    opts: MavlinkBridgeOptions,
    defaults: { imuRateHz: number; armTimeoutS: number },
  ) {
    super();
    if (!(opts.maxThrustN > 0 && Number.isFinite(opts.maxThrustN))) throw new RangeError(`maxThrustN must be a positive number, got ${opts.maxThrustN}`);
    this.o = {
      maxThrustN: opts.maxThrustN,
      maxRateRadS: opts.maxRateRadS ?? [10, 10, 10],
      setpointRateHz: opts.setpointRateHz ?? 50,
      imuRateHz: opts.imuRateHz ?? defaults.imuRateHz,
      poseRateHz: opts.poseRateHz ?? 50,
      connectTimeoutS: opts.connectTimeoutS ?? 5,
      armTimeoutS: opts.armTimeoutS ?? defaults.armTimeoutS,
      armRetryIntervalS: opts.armRetryIntervalS ?? 1,
      landTimeoutS: opts.landTimeoutS ?? 30,
      heartbeatTimeoutS: opts.heartbeatTimeoutS ?? 3,
      fcHeartbeatHz: opts.fcHeartbeatHz ?? 5,
    };
    for (const [k, v] of Object.entries(this.o)) {
      const ok = Array.isArray(v) ? v.every((x) => Number.isFinite(x) && x > 0) : Number.isFinite(v) && (v as number) > 0;
      if (!ok) throw new RangeError(`MAVLink bridge option ${k} must be positive and finite, got ${JSON.stringify(v)}`);
    }
    this.log = opts.log;
    session.on('message', this.onMessage);
    session.on('heartbeat', this.onHeartbeat);
  }

  /** The stack's name for logs: "PX4", "ArduPilot". */
  abstract readonly stack: string;

  /** Run the stack's sequence up to "armed and taking setpoints". Throws with the FC's reason. */
  abstract start(): Promise<void>;

  /** Command the stack's landing; resolves once the FC reports disarmed. */
  protected abstract commandLand(): Promise<void>;

  /** True while engaged and not lost: setpoints go out. */
  get engaged(): boolean {
    return this.engagedMode !== null && this.lostReason === null;
  }

  /** Body rates (FLU) + collective thrust (N) → SET_ATTITUDE_TARGET. False (with lastRejectReason) when refused. */
  setpoint(cmd: Pick<CtbrCommand, 'thrustN' | 'rateRadS'>): boolean {
    if (!isFiniteAll(cmd.thrustN, ...cmd.rateRadS)) {
      this.stats.rejectedNonFinite++;
      return this.refuse(`non-finite command (thrust ${cmd.thrustN} N, rates ${cmd.rateRadS.join(', ')})`);
    }
    if (!this.engaged) {
      this.stats.rejectedNotEngaged++;
      return this.refuse(this.lostReason ? `control lost: ${this.lostReason}` : `${this.stack} is not engaged yet`);
    }
    this.stopKeepalive();
    let clamped = false;
    const lim = this.o.maxRateRadS;
    const r: Vec3 = [0, 0, 0];
    for (let i = 0; i < 3; i++) {
      const v = cmd.rateRadS[i]!;
      const c = Math.max(-lim[i]!, Math.min(lim[i]!, v));
      if (c !== v) clamped = true;
      r[i] = c;
    }
    const t = cmd.thrustN / this.o.maxThrustN;
    const t01 = Math.max(0, Math.min(1, t));
    if (t01 !== t) clamped = true;
    if (clamped) this.stats.clamped++;
    if (!this.sendTarget(r, t01)) return this.refuse('the link refused the frame');
    this.stats.setpointsSent++;
    return true;
  }

  private refuse(why: string): false {
    this.lastRejectReason = why;
    return false;
  }

  protected sendTarget(rateFlu: Vec3, thrust01: number): boolean {
    const s = this.session;
    return s.send(attitudeRatesTarget(s.targetSystem, s.targetComponent, s.nowS() * 1000, rateFlu, thrust01));
  }

  /** Neutral setpoints until the caller's first setpoint(). */
  protected startKeepalive(): void {
    if (this.keepalive) return;
    const send = (): void => {
      if (this.sendTarget([0, 0, 0], 0)) this.stats.keepaliveSent++;
    };
    send();
    this.keepalive = setInterval(send, 1000 / this.o.setpointRateHz);
  }

  protected stopKeepalive(): void {
    if (this.keepalive) clearInterval(this.keepalive);
    this.keepalive = undefined;
  }

  protected async waitHeartbeat(autopilot: number): Promise<VehicleState> {
    const v = await this.session.waitForState(() => true, this.o.connectTimeoutS * 1000, `HEARTBEAT from system ${this.session.targetSystem} on ${this.session.link.uri}`);
    if (v.autopilot !== autopilot) {
      throw new Error(`system ${v.sysid} on ${this.session.link.uri} is autopilot ${v.autopilot} (${autopilotName(v.autopilot)}), not ${this.stack}`);
    }
    this.startHeartbeatWatch();
    return v;
  }

  /** SET_MESSAGE_INTERVAL for the sensor streams; a refused stream is an error naming it. */
  protected async requestStreams(imuMsgid: number): Promise<void> {
    const want: [number, string, number][] = [
      [imuMsgid, imuMsgid === MSG.HIGHRES_IMU ? 'HIGHRES_IMU' : 'SCALED_IMU', this.o.imuRateHz],
      [MSG.ATTITUDE, 'ATTITUDE', this.o.poseRateHz],
      [MSG.LOCAL_POSITION_NED, 'LOCAL_POSITION_NED', this.o.poseRateHz],
    ];
    for (const [id, name, hz] of want) {
      try {
        await this.session.setMessageInterval(id, Math.round(1e6 / hz));
      } catch (e) {
        throw new Error(`${this.stack} refused to stream ${name} at ${hz} Hz: ${(e as Error).message}`, { cause: e });
      }
    }
    try {
      await this.session.setMessageInterval(MSG.HEARTBEAT, Math.round(1e6 / this.o.fcHeartbeatHz), { retries: 1 });
    } catch (e) {
      this.log?.info({ why: (e as Error).message }, `${this.stack} keeps its own HEARTBEAT rate: a lost mode is noticed up to 1 s late`);
    }
  }

  /**
   * Arm, retrying every armRetryIntervalS while the FC answers TEMPORARILY_REJECTED or FAILED (pre-arm
   * checks still running), until armTimeoutS; DENIED and timeouts fail at once.
   */
  protected async armWithRetries(): Promise<void> {
    const deadline = this.session.nowS() + this.o.armTimeoutS;
    let attempts = 0;
    for (;;) {
      attempts++;
      try {
        await this.session.command(MavCmd.COMPONENT_ARM_DISARM, [1]);
        break;
      } catch (e) {
        const retryable = e instanceof MavlinkCommandError && (e.result === 1 || e.result === 4);
        if (!retryable || this.session.nowS() + this.o.armRetryIntervalS > deadline) {
          throw new Error(`${this.stack} arming refused after ${attempts} attempt(s): ${(e as Error).message}`, { cause: e });
        }
        this.log?.info({ attempt: attempts, why: (e as Error).message }, `${this.stack} arming refused, retrying in ${this.o.armRetryIntervalS} s`);
        await sleep(this.o.armRetryIntervalS * 1000);
        if (this.closed) throw new Error(`${this.stack} bridge closed while arming`);
      }
    }
    await this.session.waitForState((v) => v.armed, 2000, `${this.stack} armed in HEARTBEAT`);
  }

  /** Mark engaged in `mode` (loss = any HEARTBEAT with another mode, or disarmed). */
  protected engage(mode: string): void {
    this.engagedMode = mode;
    this.log?.info({ mode }, `${this.stack} engaged: ${mode}, armed; taking setpoints`);
  }

  private checkEngagement(v: VehicleState): void {
    if (!this.hbUp) {
      this.hbUp = true;
      this.emit('link', true, `HEARTBEAT from system ${v.sysid} again`);
    }
    if (!this.engaged) return;
    let why: string | null = null;
    if (v.mode !== this.engagedMode) why = `${this.stack} left ${this.engagedMode} for ${v.mode}`;
    else if (!v.armed) why = `${this.stack} disarmed on its own in ${v.mode}`;
    if (!why) return;
    const said = this.session.recentStatusText();
    this.lostReason = said.length ? `${why} (FC says: ${said.join('; ')})` : why;
    this.stopKeepalive();
    this.log?.error({ event: 'control-lost', mode: v.mode, armed: v.armed }, `control lost: ${this.lostReason}`);
    this.emit('lost', this.lostReason);
  }

  private startHeartbeatWatch(): void {
    if (this.hbWatch) return;
    this.hbWatch = setInterval(() => {
      const v = this.session.vehicle;
      if (!v || !this.hbUp) return;
      const age = this.session.nowS() - v.lastHeartbeatS;
      if (age > this.o.heartbeatTimeoutS) {
        this.hbUp = false;
        this.emit('link', false, `no HEARTBEAT from system ${v.sysid} for ${age.toFixed(1)} s`);
      }
    }, 100);
  }

  private onSensor(msgid: number, m: unknown): void {
    switch (msgid) {
      case MSG.HIGHRES_IMU:
      case MSG.SCALED_IMU: {
        const s = msgid === MSG.HIGHRES_IMU ? imuFromHighres(m as common.HighresImu) : imuFromScaledImu(m as common.ScaledImu);
        if (!isFiniteAll(s.stampS, ...s.gyroRadS, ...s.accelMS2)) return this.dropSensor(msgid === MSG.HIGHRES_IMU ? 'HIGHRES_IMU' : 'SCALED_IMU');
        this.stats.imuSamples++;
        this.emit('imu', s);
        return;
      }
      case MSG.ATTITUDE: {
        const a = m as common.Attitude;
        if (!isFiniteAll(a.roll, a.pitch, a.yaw)) return this.dropSensor('ATTITUDE');
        this.attitude = { roll: a.roll, pitch: a.pitch, yaw: a.yaw, tS: a.timeBootMs / 1000 };
        return;
      }
      case MSG.LOCAL_POSITION_NED: {
        const p = m as common.LocalPositionNed;
        if (!isFiniteAll(p.x, p.y, p.z, p.vx, p.vy, p.vz)) return this.dropSensor('LOCAL_POSITION_NED');
        if (!this.attitude) return;
        const a = this.attitude;
        this.pose = {
          stampS: p.timeBootMs / 1000,
          posEnuM: nedToEnu(p.x, p.y, p.z),
          velEnuMS: nedToEnu(p.vx, p.vy, p.vz),
          quatEnuFlu: attitudeToQuatEnuFlu(a.roll, a.pitch, a.yaw),
        };
        this.stats.poses++;
        this.emit('pose', this.pose);
        return;
      }
      default:
        return;
    }
  }

  private dropSensor(name: string): void {
    this.stats.malformedSensor++;
    this.emit('reject', `${name} with a non-finite value`);
  }

  /**
   * Bring the vehicle down and disarmed: stop setpoints; if armed, ask for a plain disarm (accepted on the
   * ground), else land and wait for the FC's disarm. Never throws for a vehicle already disarmed.
   */
  async disarm(reason: string): Promise<void> {
    const wasEngaged = this.engagedMode !== null;
    this.engagedMode = null;
    this.stopKeepalive();
    const v = this.session.vehicle;
    if (!v || !v.armed || this.session.isClosed) return;
    this.log?.warn({ reason }, `${this.stack}: disarming (${reason})`);
    try {
      await this.session.command(MavCmd.COMPONENT_ARM_DISARM, [0]);
      await this.session.waitForState((s) => !s.armed, 2000, `${this.stack} disarmed`);
      return;
    } catch (e) {
      this.log?.warn({ why: (e as Error).message, wasEngaged }, `${this.stack} refused to disarm in place: landing`);
    }
    await this.commandLand();
  }

  /** Land and wait for the FC to disarm (landTimeoutS). */
  async land(): Promise<void> {
    this.engagedMode = null;
    this.stopKeepalive();
    await this.commandLand();
  }

  protected waitDisarmed(): Promise<VehicleState> {
    return this.session.waitForState((s) => !s.armed, this.o.landTimeoutS * 1000, `${this.stack} landed and disarmed`);
  }

  counters(): Record<string, number> {
    return { ...this.session.counters(), setpointsSent: this.stats.setpointsSent, setpointsRefused: this.stats.rejectedNonFinite + this.stats.rejectedNotEngaged, imuSamples: this.stats.imuSamples };
  }

  /** Stop every timer and close the session (and its link). Does not disarm: call disarm() first. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.engagedMode = null;
    this.stopKeepalive();
    if (this.hbWatch) clearInterval(this.hbWatch);
    this.hbWatch = undefined;
    this.session.off('message', this.onMessage);
    this.session.off('heartbeat', this.onHeartbeat);
    await this.session.close();
  }
}

export function autopilotName(a: number): string {
  return a === 12 ? 'PX4' : a === 3 ? 'ArduPilot' : a === 8 ? 'none (not a flight controller)' : `MAV_AUTOPILOT ${a}`;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
