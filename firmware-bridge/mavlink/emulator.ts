/**
 * Loopback MAVLink flight-controller emulator for tests and local runs: PX4 (MAVLink v2 over UDP, answers
 * the peer that talks to it) or ArduCopter (MAVLink v2 over TCP), on 127.0.0.1 with an ephemeral port.
 * It follows the sequences observed on real SITL (shared reference firmware-protocols.md):
 *
 * PX4
 *   - HEARTBEAT type 2 / autopilot 12, custom mode AUTO.LOITER at boot; armed = base_mode bit 7.
 *   - DO_SET_MODE (176) p1=1 p2=6 → OFFBOARD only while setpoints (SET_ATTITUDE_TARGET or
 *     SET_POSITION_TARGET_LOCAL_NED) arrived within the offboard timeout; else TEMPORARILY_REJECTED and a
 *     STATUSTEXT. p2=4 p3=6 → AUTO.LAND. SET_MODE (11) does the same and is acknowledged as command 176.
 *   - COMPONENT_ARM_DISARM (400) p1=1 → TEMPORARILY_REJECTED while a pre-arm check fails (`armCheck`, or
 *     before `readyAfterS`), with "Arming denied: …" in STATUSTEXT; p1=0 is DENIED in the air unless
 *     forced (p2 = 21196).
 *   - Offboard loss: in OFFBOARD with no setpoint for `offboardLossTimeoutS` (COM_OF_LOSS_T) it switches to
 *     AUTO.LAND (armed) and says so; AUTO.LAND descends and disarms on touchdown ("Disarmed by landing").
 *   - NAV_LAND (21) → AUTO.LAND.
 * ArduCopter
 *   - HEARTBEAT autopilot 3, mode STABILIZE (0) at boot; DO_SET_MODE p2 = mode number; GUIDED (4) FAILED
 *     before `readyAfterS` (no EKF origin yet); arming FAILED with "PreArm: …" while a check fails;
 *     NAV_TAKEOFF (22) p7 = altitude in GUIDED while armed; disarms itself when armed without takeoff for
 *     `takeoffTimeoutS`; LAND (9) descends and disarms.
 * Both
 *   - SET_MESSAGE_INTERVAL (511) streams HIGHRES_IMU, SCALED_IMU, ATTITUDE, LOCAL_POSITION_NED, SYS_STATUS;
 *     REQUEST_MESSAGE (512) answers AUTOPILOT_VERSION; unknown commands are UNSUPPORTED.
 *   - `dropAcks` swallows the next n COMMAND_ACKs (the command still takes effect), to exercise retries.
 *   - A rigid-body model flies SET_ATTITUDE_TARGET (body rates FRD + normalised thrust): rates are tracked
 *     with a 30 ms lag, thrust = thrust01 · maxThrustN along body −z, gravity, the ground at z = 0.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { common, minimal, standard, type MavLinkData } from 'node-mavlink';
import { decodeMessage, MavlinkDecoder, MavlinkEncoder, type MavlinkFrame } from './codec.js';
import { heartbeat, MavCmd, MavResult, MSG } from './messages.js';
import { COPTER_MODE, PX4_AUTO_LAND, PX4_AUTO_LOITER, PX4_MAIN, PX4_OFFBOARD, px4CustomMode, modeName } from './modes.js';
import { quatIntegrate, quatRotate, quatRotateInv, quatToEuler, type Quat } from '../../src/math/quat.js';
import type { Vec3 } from '../../src/math/vec3.js';

export type EmulatedAutopilot = 'px4' | 'ardupilot';

export interface MavlinkFcEmulatorOptions {
  autopilot: EmulatedAutopilot;
  /** Default: PX4 udp, ArduPilot tcp. */
  transport?: 'udp' | 'tcp';
  sysid?: number;
  /** HEARTBEAT rate, Hz. Default 1 (both stacks). */
  heartbeatHz?: number;
  /** PX4 COM_OF_LOSS_T, s. Default 1. */
  offboardLossTimeoutS?: number;
  /** Arming (and ArduPilot GUIDED) refused until this long after start, s. Default 0. */
  readyAfterS?: number;
  /** A failing pre-arm check, reported by name; null = none. */
  armCheck?: string | null;
  /** ArduCopter: disarm when armed this long without a takeoff, s. Default 10. */
  takeoffTimeoutS?: number;
  /** ArduCopter parameters answered to PARAM_REQUEST_READ. Default { GUID_OPTIONS: 8 } (thrust as thrust). */
  params?: Record<string, number>;
  /** Descent rate in LAND, m/s. Default 1.5. */
  landSpeedMS?: number;
  massKg?: number;
  maxThrustN?: number;
  /** Emulator step, ms. Default 4 (250 Hz like SIH). */
  stepMs?: number;
}

export interface RecordedCommand {
  tMs: number;
  command: number;
  params: number[];
  confirmation: number;
}

export interface RecordedAttitudeTarget {
  tMs: number;
  typeMask: number;
  /** FRD, rad/s as received. */
  ratesFrd: Vec3;
  thrust: number;
  mode: string;
  armed: boolean;
}

const G = 9.80665;
const FORCE_DISARM = 21196;

export class MavlinkFcEmulator {
  readonly autopilot: EmulatedAutopilot;
  readonly transport: 'udp' | 'tcp';
  readonly sysid: number;
  // configuration (tests may change these while running)
  offboardLossTimeoutS: number;
  readyAfterS: number;
  armCheck: string | null;
  takeoffTimeoutS: number;
  landSpeedMS: number;
  heartbeatHz: number;
  readonly params: Record<string, number>;
  /** Swallow this many COMMAND_ACKs. */
  dropAcks = 0;
  // vehicle state
  armed = false;
  customMode: number;
  /** NED, m and m/s; attitude FRD → NED. */
  posNedM: Vec3 = [0, 0, 0];
  velNedMS: Vec3 = [0, 0, 0];
  q: Quat = [1, 0, 0, 0];
  rateFrdRadS: Vec3 = [0, 0, 0];
  // records
  readonly commands: RecordedCommand[] = [];
  readonly attitudeTargets: RecordedAttitudeTarget[] = [];
  readonly modeChanges: { tMs: number; mode: string }[] = [];
  readonly statusTexts: string[] = [];
  acksSent = 0;
  acksDropped = 0;
  heartbeatsIn = 0;
  setpointsIn = 0;
  readonly decoder = new MavlinkDecoder();

  private readonly enc: MavlinkEncoder;
  private readonly massKg: number;
  private readonly maxThrustN: number;
  private readonly stepMs: number;
  private readonly t0 = performance.now();
  private lastStepMs = performance.now();
  private timer: NodeJS.Timeout | undefined;
  private udp: dgram.Socket | undefined;
  private udpPeer: { address: string; port: number } | undefined;
  private tcp: net.Server | undefined;
  private readonly sockets = new Set<net.Socket>();
  private readonly decoders = new Map<net.Socket, MavlinkDecoder>();
  private boundPort = 0;
  private lastSetpointMs = -Infinity;
  private target: { ratesFrd: Vec3; thrust: number } | null = null;
  private armedAtMs = 0;
  private takeoffAltM: number | null = null;
  private readonly intervalsUs = new Map<number, number>();
  private readonly nextDueMs = new Map<number, number>();

  constructor(opts: MavlinkFcEmulatorOptions) {
    this.autopilot = opts.autopilot;
    this.transport = opts.transport ?? (opts.autopilot === 'px4' ? 'udp' : 'tcp');
    this.sysid = opts.sysid ?? 1;
    this.heartbeatHz = opts.heartbeatHz ?? 1;
    this.offboardLossTimeoutS = opts.offboardLossTimeoutS ?? 1;
    this.readyAfterS = opts.readyAfterS ?? 0;
    this.armCheck = opts.armCheck ?? null;
    this.takeoffTimeoutS = opts.takeoffTimeoutS ?? 10;
    this.landSpeedMS = opts.landSpeedMS ?? 1.5;
    this.massKg = opts.massKg ?? 0.8;
    this.maxThrustN = opts.maxThrustN ?? 4 * 0.8 * G * 0.5; // thrust-to-weight 2
    this.stepMs = opts.stepMs ?? 4;
    this.params = { GUID_OPTIONS: 8, ...opts.params };
    this.customMode = this.autopilot === 'px4' ? PX4_AUTO_LOITER : COPTER_MODE.STABILIZE;
    this.enc = new MavlinkEncoder(this.sysid, 1);
    this.intervalsUs.set(MSG.HEARTBEAT, 1e6 / this.heartbeatHz);
    this.intervalsUs.set(MSG.SYS_STATUS, 1e6);
  }

  /** Bind 127.0.0.1 on an ephemeral port; resolves with the port. */
  async start(): Promise<number> {
    if (this.transport === 'udp') {
      const s = dgram.createSocket('udp4');
      this.udp = s;
      s.on('message', (msg, rinfo) => {
        this.udpPeer = { address: rinfo.address, port: rinfo.port };
        this.decoder.push(msg, (f) => this.onFrame(f), true);
      });
      await new Promise<void>((resolve, reject) => {
        s.once('error', reject);
        s.bind(0, '127.0.0.1', () => resolve());
      });
      this.boundPort = s.address().port;
    } else {
      const srv = net.createServer((sock) => {
        sock.setNoDelay(true);
        this.sockets.add(sock);
        const dec = new MavlinkDecoder();
        this.decoders.set(sock, dec);
        sock.on('data', (chunk) => dec.push(chunk, (f) => this.onFrame(f)));
        sock.on('error', () => {});
        sock.on('close', () => {
          this.sockets.delete(sock);
          this.decoders.delete(sock);
        });
        this.sendHeartbeat();
      });
      this.tcp = srv;
      await new Promise<void>((resolve, reject) => {
        srv.once('error', reject);
        srv.listen(0, '127.0.0.1', () => resolve());
      });
      this.boundPort = (srv.address() as AddressInfo).port;
    }
    this.lastStepMs = performance.now();
    this.timer = setInterval(() => this.tick(), this.stepMs);
    return this.boundPort;
  }

  get port(): number {
    return this.boundPort;
  }

  /** The link URI a bridge uses to reach this emulator. */
  get uri(): string {
    return `${this.transport}:127.0.0.1:${this.boundPort}`;
  }

  get mode(): string {
    return modeName(this.autopilot === 'px4' ? 12 : 3, this.customMode);
  }

  /** Height above ground, m. */
  get altitudeM(): number {
    return -this.posNedM[2];
  }

  get landed(): boolean {
    return this.posNedM[2] >= -0.02;
  }

  timeBootMs(): number {
    return performance.now() - this.t0;
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    if (this.udp) {
      const s = this.udp;
      this.udp = undefined;
      await new Promise<void>((r) => s.close(() => r()));
    }
    if (this.tcp) {
      for (const s of this.sockets) s.destroy();
      const srv = this.tcp;
      this.tcp = undefined;
      await new Promise<void>((r) => srv.close(() => r()));
    }
  }

  /** A pilot's mode switch (or a failsafe): the FC changes mode on its own. */
  switchMode(customMode: number, why: string): void {
    this.say(why);
    this.setMode(customMode);
  }

  /** Resolve when `pred` holds (polled each emulator step). */
  waitFor(pred: () => boolean, timeoutMs: number, what: string): Promise<void> {
    return new Promise((resolve, reject) => {
      const t0 = performance.now();
      const poll = setInterval(() => {
        if (pred()) {
          clearInterval(poll);
          resolve();
        } else if (performance.now() - t0 > timeoutMs) {
          clearInterval(poll);
          reject(new Error(`emulator: ${what} not within ${timeoutMs} ms (mode ${this.mode}, ${this.armed ? 'armed' : 'disarmed'})`));
        }
      }, 2);
    });
  }

  // -------------------------------------------------------------------------------------------------------
  // Output
  // -------------------------------------------------------------------------------------------------------

  private send(msg: MavLinkData): void {
    const bytes = this.enc.encode(msg);
    if (this.udp && this.udpPeer) this.udp.send(bytes, this.udpPeer.port, this.udpPeer.address);
    for (const s of this.sockets) s.write(bytes);
  }

  private sendHeartbeat(): void {
    this.send(
      heartbeat(minimal.MavType.QUADROTOR, {
        autopilot: this.autopilot === 'px4' ? minimal.MavAutopilot.PX4 : minimal.MavAutopilot.ARDUPILOTMEGA,
        baseMode: minimal.MavModeFlag.CUSTOM_MODE_ENABLED | (this.armed ? minimal.MavModeFlag.SAFETY_ARMED : 0),
        customMode: this.customMode,
        systemStatus: this.armed ? minimal.MavState.ACTIVE : minimal.MavState.STANDBY,
      }),
    );
  }

  private say(text: string, severity = 4): void {
    this.statusTexts.push(text);
    const m = new common.StatusText();
    m.severity = severity;
    m.text = text.slice(0, 50);
    m.id = 0;
    m.chunkSeq = 0;
    this.send(m);
  }

  private ack(command: number, result: number): void {
    if (this.dropAcks > 0) {
      this.dropAcks--;
      this.acksDropped++;
      return;
    }
    const a = new common.CommandAck();
    a.command = command;
    a.result = result;
    a.progress = 0;
    a.resultParam2 = 0;
    a.targetSystem = 0;
    a.targetComponent = 0;
    this.acksSent++;
    this.send(a);
  }

  private sendStream(msgid: number): void {
    const tMs = this.timeBootMs();
    switch (msgid) {
      case MSG.HEARTBEAT:
        return this.sendHeartbeat();
      case MSG.SYS_STATUS: {
        const m = new common.SysStatus();
        const sensors = 0x1 | 0x2 | 0x4 | 0x8 | 0x20 | 0x200000 | 0x10000000; // gyro, accel, mag, baro, gps, AHRS, pre-arm
        m.onboardControlSensorsPresent = sensors;
        m.onboardControlSensorsEnabled = sensors;
        m.onboardControlSensorsHealth = (this.armCheck || !this.ready() ? sensors & ~0x10000000 : sensors) as common.MavSysStatusSensor;
        m.load = 250;
        m.voltageBattery = 16200;
        m.currentBattery = -1;
        m.batteryRemaining = 90;
        return this.send(m);
      }
      case MSG.HIGHRES_IMU: {
        const f = this.specificForceFrd();
        const m = new common.HighresImu();
        m.timeUsec = BigInt(Math.round(tMs * 1000));
        m.xacc = f[0];
        m.yacc = f[1];
        m.zacc = f[2];
        m.xgyro = this.rateFrdRadS[0];
        m.ygyro = this.rateFrdRadS[1];
        m.zgyro = this.rateFrdRadS[2];
        m.fieldsUpdated = 0x3f as common.HighresImuUpdatedFlags;
        return this.send(m);
      }
      case MSG.SCALED_IMU: {
        const f = this.specificForceFrd();
        const m = new common.ScaledImu();
        m.timeBootMs = Math.round(tMs);
        const mg = (a: number): number => Math.max(-32768, Math.min(32767, Math.round((a / G) * 1000)));
        const mrad = (w: number): number => Math.max(-32768, Math.min(32767, Math.round(w * 1000)));
        m.xacc = mg(f[0]);
        m.yacc = mg(f[1]);
        m.zacc = mg(f[2]);
        m.xgyro = mrad(this.rateFrdRadS[0]);
        m.ygyro = mrad(this.rateFrdRadS[1]);
        m.zgyro = mrad(this.rateFrdRadS[2]);
        return this.send(m);
      }
      case MSG.ATTITUDE: {
        const e = quatToEuler(this.q);
        const m = new common.Attitude();
        m.timeBootMs = Math.round(tMs);
        m.roll = e[0];
        m.pitch = e[1];
        m.yaw = e[2];
        m.rollspeed = this.rateFrdRadS[0];
        m.pitchspeed = this.rateFrdRadS[1];
        m.yawspeed = this.rateFrdRadS[2];
        return this.send(m);
      }
      case MSG.LOCAL_POSITION_NED: {
        const m = new common.LocalPositionNed();
        m.timeBootMs = Math.round(tMs);
        [m.x, m.y, m.z] = this.posNedM;
        [m.vx, m.vy, m.vz] = this.velNedMS;
        return this.send(m);
      }
      default:
        return;
    }
  }

  private sendAutopilotVersion(): void {
    const m = new standard.AutopilotVersion();
    // capabilities is a uint64 (BigInt in node-mavlink)
    m.capabilities = BigInt(standard.MavProtocolCapability.MAVLINK2 | standard.MavProtocolCapability.SET_ATTITUDE_TARGET | standard.MavProtocolCapability.COMMAND_INT) as unknown as standard.MavProtocolCapability;
    // major.minor.patch.type packed as in PX4/ArduPilot (type 255 = release)
    m.flightSwVersion = this.autopilot === 'px4' ? ((1 << 24) | (16 << 16) | (0 << 8) | 255) >>> 0 : ((4 << 24) | (7 << 16) | (0 << 8) | 0) >>> 0;
    m.middlewareSwVersion = 0;
    m.osSwVersion = 0;
    m.boardVersion = 0;
    m.flightCustomVersion = [0x65, 0x6d, 0x75, 0, 0, 0, 0, 0];
    m.middlewareCustomVersion = [0, 0, 0, 0, 0, 0, 0, 0];
    m.osCustomVersion = [0, 0, 0, 0, 0, 0, 0, 0];
    m.vendorId = 0;
    m.productId = 0;
    m.uid = 0n;
    m.uid2 = new Array<number>(18).fill(0);
    this.send(m);
  }

  // -------------------------------------------------------------------------------------------------------
  // Input
  // -------------------------------------------------------------------------------------------------------

  private onFrame(f: MavlinkFrame): void {
    let msg: MavLinkData | null;
    try {
      msg = decodeMessage(f);
    } catch {
      return;
    }
    if (!msg) return;
    try {
      this.handle(f, msg);
    } catch (e) {
      this.handlerErrors.push(String(e)); // an emulator bug must show in the test, not kill the socket
    }
  }

  /** Exceptions raised while handling input (should stay empty). */
  readonly handlerErrors: string[] = [];

  private handle(f: MavlinkFrame, msg: MavLinkData): void {
    switch (f.msgid) {
      case MSG.HEARTBEAT:
        this.heartbeatsIn++;
        return;
      case MSG.COMMAND_LONG:
        return this.onCommand(msg as common.CommandLong);
      case MSG.SET_MODE: {
        const m = msg as common.SetMode;
        if (m.targetSystem !== this.sysid) return;
        const cm = m.customMode >>> 0;
        const r = this.autopilot === 'px4' ? this.px4SetMode((cm >>> 16) & 0xff, (cm >>> 24) & 0xff) : this.copterSetMode(cm);
        return this.ack(MavCmd.DO_SET_MODE, r);
      }
      case MSG.SET_ATTITUDE_TARGET: {
        const m = msg as common.SetAttitudeTarget;
        if (m.targetSystem !== this.sysid) return;
        this.noteSetpoint();
        const ratesFrd: Vec3 = [m.bodyRollRate, m.bodyPitchRate, m.bodyYawRate];
        this.attitudeTargets.push({ tMs: performance.now(), typeMask: m.typeMask, ratesFrd, thrust: m.thrust, mode: this.mode, armed: this.armed });
        if (Number.isFinite(m.thrust) && ratesFrd.every(Number.isFinite)) this.target = { ratesFrd, thrust: Math.max(0, Math.min(1, m.thrust)) };
        return;
      }
      case MSG.PARAM_REQUEST_READ: {
        const m = msg as common.ParamRequestRead;
        const id = String(m.paramId).replace(/\0+$/, '');
        if (m.targetSystem !== this.sysid || !(id in this.params)) return; // real FCs stay silent for unknown names
        const v = new common.ParamValue();
        v.paramId = id;
        v.paramValue = this.params[id]!;
        v.paramType = common.MavParamType.INT32 as common.MavParamType;
        v.paramCount = Object.keys(this.params).length;
        v.paramIndex = Object.keys(this.params).indexOf(id);
        return this.send(v);
      }
      case 84: // SET_POSITION_TARGET_LOCAL_NED: counts as an offboard signal; not flown by this model
        this.noteSetpoint();
        return;
      default:
        return;
    }
  }

  private noteSetpoint(): void {
    this.setpointsIn++;
    this.lastSetpointMs = performance.now();
  }

  private ready(): boolean {
    return this.timeBootMs() >= this.readyAfterS * 1000;
  }

  private onCommand(c: common.CommandLong): void {
    if (c.targetSystem !== this.sysid) return;
    const params = [c._param1, c._param2, c._param3, c._param4, c._param5, c._param6, c._param7];
    this.commands.push({ tMs: performance.now(), command: c.command, params, confirmation: c.confirmation });
    const px4 = this.autopilot === 'px4';
    switch (c.command) {
      case MavCmd.SET_MESSAGE_INTERVAL: {
        const id = Math.round(c._param1);
        const us = c._param2;
        if (![MSG.HEARTBEAT, MSG.SYS_STATUS, MSG.HIGHRES_IMU, MSG.SCALED_IMU, MSG.ATTITUDE, MSG.LOCAL_POSITION_NED].includes(id as never)) {
          return this.ack(c.command, MavResult.UNSUPPORTED);
        }
        if (us < 0) this.intervalsUs.delete(id);
        else this.intervalsUs.set(id, us === 0 ? 200_000 : Math.max(1000, us));
        this.nextDueMs.delete(id);
        return this.ack(c.command, MavResult.ACCEPTED);
      }
      case MavCmd.REQUEST_MESSAGE:
        if (Math.round(c._param1) === MSG.AUTOPILOT_VERSION) {
          this.ack(c.command, MavResult.ACCEPTED);
          return this.sendAutopilotVersion();
        }
        return this.ack(c.command, MavResult.UNSUPPORTED);
      case MavCmd.DO_SET_MODE: {
        const r = px4 ? this.px4SetMode(Math.round(c._param2), Math.round(c._param3)) : this.copterSetMode(Math.round(c._param2));
        return this.ack(c.command, r);
      }
      case MavCmd.COMPONENT_ARM_DISARM:
        return this.ack(c.command, c._param1 >= 0.5 ? this.armRequest() : this.disarmRequest(Math.round(c._param2) === FORCE_DISARM));
      case MavCmd.NAV_LAND:
        if (!px4) return this.ack(c.command, MavResult.UNSUPPORTED);
        this.setMode(PX4_AUTO_LAND);
        return this.ack(c.command, MavResult.ACCEPTED);
      case MavCmd.NAV_TAKEOFF: {
        if (px4) return this.ack(c.command, MavResult.UNSUPPORTED);
        if (!this.armed || this.customMode !== COPTER_MODE.GUIDED || !(c._param7 > 0)) return this.ack(c.command, MavResult.FAILED);
        this.takeoffAltM = c._param7;
        return this.ack(c.command, MavResult.ACCEPTED);
      }
      default:
        return this.ack(c.command, MavResult.UNSUPPORTED);
    }
  }

  private setMode(customMode: number): void {
    if (customMode === this.customMode) return;
    this.customMode = customMode >>> 0;
    this.modeChanges.push({ tMs: performance.now(), mode: this.mode });
    if (customMode !== PX4_OFFBOARD || this.autopilot !== 'px4') this.target = null;
  }

  private px4SetMode(main: number, sub: number): number {
    if (main === PX4_MAIN.OFFBOARD) {
      if (performance.now() - this.lastSetpointMs > this.offboardLossTimeoutS * 1000) {
        this.say('Switching to Offboard is currently not available');
        return MavResult.TEMPORARILY_REJECTED;
      }
      this.setMode(PX4_OFFBOARD);
      return MavResult.ACCEPTED;
    }
    if (main === PX4_MAIN.AUTO && (sub === 3 || sub === 6)) {
      this.setMode(px4CustomMode(main, sub));
      return MavResult.ACCEPTED;
    }
    return MavResult.UNSUPPORTED;
  }

  private copterSetMode(mode: number): number {
    if (mode === COPTER_MODE.GUIDED && !this.ready()) {
      this.say('Mode change to GUIDED failed: requires position');
      return MavResult.FAILED;
    }
    if (![COPTER_MODE.STABILIZE, COPTER_MODE.GUIDED, COPTER_MODE.LAND, COPTER_MODE.LOITER].includes(mode as never)) return MavResult.UNSUPPORTED;
    this.setMode(mode);
    return MavResult.ACCEPTED;
  }

  private armRequest(): number {
    const px4 = this.autopilot === 'px4';
    if (this.armed) return MavResult.ACCEPTED;
    const why = this.armCheck ?? (this.ready() ? null : px4 ? 'system not ready' : 'Gyros inconsistent');
    if (why) {
      this.say(px4 ? `Arming denied: ${why}` : `PreArm: ${why}`);
      return px4 ? MavResult.TEMPORARILY_REJECTED : MavResult.FAILED;
    }
    this.armed = true;
    this.armedAtMs = performance.now();
    this.takeoffAltM = null;
    this.say('Armed by external command', 6);
    return MavResult.ACCEPTED;
  }

  private disarmRequest(force: boolean): number {
    if (!this.armed) return MavResult.ACCEPTED;
    if (!this.landed && !force) {
      this.say('Disarming denied: not landed');
      return MavResult.DENIED;
    }
    this.disarm('Disarmed by external command');
    return MavResult.ACCEPTED;
  }

  private disarm(why: string): void {
    this.armed = false;
    this.target = null;
    this.rateFrdRadS = [0, 0, 0];
    this.say(why, 6);
  }

  // -------------------------------------------------------------------------------------------------------
  // Step: failsafes, physics, streams
  // -------------------------------------------------------------------------------------------------------

  private tick(): void {
    const now = performance.now();
    const dtS = Math.min(0.05, (now - this.lastStepMs) / 1000);
    this.lastStepMs = now;
    this.failsafes(now);
    this.physics(dtS);
    const tMs = this.timeBootMs();
    for (const [id, us] of this.intervalsUs) {
      const due = this.nextDueMs.get(id) ?? tMs;
      if (tMs >= due) {
        this.sendStream(id);
        this.nextDueMs.set(id, Math.max(due + us / 1000, tMs - us / 1000));
      }
    }
  }

  private failsafes(now: number): void {
    if (this.autopilot === 'px4') {
      if (this.customMode === PX4_OFFBOARD && now - this.lastSetpointMs > this.offboardLossTimeoutS * 1000) {
        this.say('Failsafe activated: no offboard signal', 2);
        this.setMode(this.armed ? PX4_AUTO_LAND : PX4_AUTO_LOITER);
      }
    } else if (this.armed && this.takeoffAltM === null && this.landed && this.target === null && now - this.armedAtMs > this.takeoffTimeoutS * 1000) {
      this.disarm('Disarming: no takeoff');
    }
  }

  private specificForceFrd(): Vec3 {
    if (this.landed && !this.airborneThrust()) return quatRotateInv(this.q, [0, 0, -G]);
    const thrust = this.armed && this.target ? this.target.thrust * this.maxThrustN : this.hoverN();
    return [0, 0, -thrust / this.massKg];
  }

  private hoverN(): number {
    return this.massKg * G;
  }

  private airborneThrust(): boolean {
    return this.armed && this.target !== null && this.target.thrust * this.maxThrustN > this.hoverN();
  }

  private physics(dtS: number): void {
    if (dtS <= 0) return;
    const px4 = this.autopilot === 'px4';
    const landing = this.armed && (px4 ? this.customMode === PX4_AUTO_LAND : this.customMode === COPTER_MODE.LAND);
    const climbing = !px4 && this.armed && this.takeoffAltM !== null && this.target === null && this.customMode === COPTER_MODE.GUIDED;
    if (!this.armed || landing || climbing || !this.target) {
      // kinematic modes: level, hold or move vertically
      this.rateFrdRadS = [0, 0, 0];
      const e = quatToEuler(this.q);
      this.q = [Math.cos(e[2] / 2), 0, 0, Math.sin(e[2] / 2)];
      let vz = 0;
      if (landing) vz = this.landSpeedMS;
      else if (climbing && this.takeoffAltM !== null) vz = this.altitudeM < this.takeoffAltM - 0.05 ? -Math.min(1.5, this.takeoffAltM - this.altitudeM + 0.2) : 0;
      else if (!this.armed) vz = this.landed ? 0 : this.landSpeedMS; // a disarmed drone falls (gently, in this model)
      this.velNedMS = [0, 0, vz];
      this.posNedM = [this.posNedM[0], this.posNedM[1], Math.min(0, this.posNedM[2] + vz * dtS)];
      if (landing && this.landed) {
        this.disarm('Disarmed by landing');
        this.takeoffAltM = null;
      }
      return;
    }
    // rate tracking with a 30 ms lag, then thrust along body −z
    const k = Math.min(1, dtS / 0.03);
    const r = this.rateFrdRadS;
    const t = this.target.ratesFrd;
    this.rateFrdRadS = [r[0] + k * (t[0] - r[0]), r[1] + k * (t[1] - r[1]), r[2] + k * (t[2] - r[2])];
    const onGround = this.landed && !this.airborneThrust();
    if (!onGround) this.q = quatIntegrate(this.q, this.rateFrdRadS, dtS);
    const thrust = this.target.thrust * this.maxThrustN;
    const a = quatRotate(this.q, [0, 0, -thrust / this.massKg]);
    const acc: Vec3 = [a[0], a[1], a[2] + G];
    let v: Vec3 = [this.velNedMS[0] + acc[0] * dtS, this.velNedMS[1] + acc[1] * dtS, this.velNedMS[2] + acc[2] * dtS];
    let p: Vec3 = [this.posNedM[0] + v[0] * dtS, this.posNedM[1] + v[1] * dtS, this.posNedM[2] + v[2] * dtS];
    if (p[2] > 0) {
      p = [p[0], p[1], 0];
      v = [0, 0, 0];
    }
    this.velNedMS = v;
    this.posNedM = p;
  }
}
