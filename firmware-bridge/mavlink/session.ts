/**
 * A MAVLink session with one flight controller over a `Link` (firmware-bridge/link): frames in through the
 * synchronous splitter (codec.ts), typed messages out with our system/component id and a sequence number,
 * our HEARTBEAT at ≥ 1 Hz, the vehicle's state from its HEARTBEAT, and COMMAND_LONG with COMMAND_ACK.
 *
 * Commands (MAVLink command protocol): one outstanding COMMAND_LONG per command id (ACKs carry only the
 * command id). An attempt waits `commandTimeoutMs`; with no ACK it is re-sent with confirmation + 1, up to
 * `commandRetries` times. IN_PROGRESS stops the re-sends and waits up to `inProgressTimeoutMs` for the final
 * ACK. ACCEPTED resolves; any other result (TEMPORARILY_REJECTED, DENIED, FAILED, UNSUPPORTED...) rejects
 * with a `MavlinkCommandError` naming the command, the result and what the FC said in STATUSTEXT just before.
 * Callers that should retry on TEMPORARILY_REJECTED (ArduPilot's pre-arm checks) do so themselves.
 *
 * Only frames from `targetSystem` are taken as the vehicle's; others are counted and ignored.
 */
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import type { MavLinkData } from 'node-mavlink';
import { common, minimal } from 'node-mavlink';
import type { Link } from '../link/link.js';
import { decodeMessage, MavlinkDecoder, MavlinkEncoder, type MavlinkFrame } from './codec.js';
import { commandLong, commandName, heartbeat, MavCmd, MavResult, MAV_MODE_FLAG_SAFETY_ARMED, MSG, resultName } from './messages.js';
import { modeName } from './modes.js';

export class MavlinkCommandError extends Error {
  constructor(
    readonly command: number,
    readonly result: number,
    readonly attempts: number,
    readonly fcSays: string[],
  ) {
    super(`${commandName(command)}: ${resultName(result)}${fcSays.length ? ` (FC says: ${fcSays.join('; ')})` : ''}`);
    this.name = 'MavlinkCommandError';
  }
  get resultName(): string {
    return resultName(this.result);
  }
}

export class MavlinkTimeoutError extends Error {
  constructor(
    readonly command: number,
    readonly attempts: number,
    readonly waitedMs: number,
    inProgress: boolean,
  ) {
    super(
      inProgress
        ? `${commandName(command)}: IN_PROGRESS, but no final COMMAND_ACK within ${waitedMs} ms`
        : `${commandName(command)}: no COMMAND_ACK after ${attempts} attempt(s) of ${waitedMs} ms`,
    );
    this.name = 'MavlinkTimeoutError';
  }
}

export interface VehicleState {
  sysid: number;
  compid: number;
  /** MAV_TYPE (2 = quadrotor). */
  type: number;
  /** MAV_AUTOPILOT (3 = ArduPilot, 12 = PX4). */
  autopilot: number;
  baseMode: number;
  customMode: number;
  systemStatus: number;
  armed: boolean;
  /** Mode name for the stack ("OFFBOARD", "AUTO.LOITER", "GUIDED"). */
  mode: string;
  /** Session clock (s) at the last HEARTBEAT. */
  lastHeartbeatS: number;
  heartbeats: number;
}

export interface MavlinkSessionEvents {
  message: [msg: MavLinkData, frame: MavlinkFrame];
  heartbeat: [state: VehicleState];
  /** The FC's HEARTBEAT changed mode (names per stack). */
  mode: [from: string, to: string, state: VehicleState];
  armed: [armed: boolean, state: VehicleState];
  statustext: [severity: number, text: string];
}

export interface MavlinkSessionOptions {
  systemId?: number;
  componentId?: number;
  targetSystem?: number;
  targetComponent?: number;
  /** Our HEARTBEAT rate, Hz (≥ 1). Default 1. */
  heartbeatHz?: number;
  /** Per-attempt COMMAND_ACK timeout, ms. Default 500. */
  commandTimeoutMs?: number;
  /** Re-sends after a timeout. Default 5. */
  commandRetries?: number;
  /** Wait for the final ACK after IN_PROGRESS, ms. Default 5000. */
  inProgressTimeoutMs?: number;
  /** Clock, s. Default performance.now()/1000. */
  nowS?: () => number;
  log?: Pick<Logger, 'debug' | 'info' | 'warn'>;
}

export interface CommandOptions {
  timeoutMs?: number;
  retries?: number;
}

interface Pending {
  command: number;
  params: number[];
  attempts: number;
  attemptsLeft: number;
  timeoutMs: number;
  inProgress: boolean;
  timer: NodeJS.Timeout | undefined;
  resolve: (ack: common.CommandAck) => void;
  reject: (e: Error) => void;
}

export interface SessionStats {
  framesOut: number;
  framesOutDropped: number;
  framesIn: number;
  decodeErrors: number;
  otherSystems: number;
  commands: number;
  commandRetries: number;
  commandTimeouts: number;
  acks: number;
  unmatchedAcks: number;
}

const defaultNow = (): number => performance.now() / 1000;
const STATUSTEXT_KEEP_S = 2;

export class MavlinkSession extends EventEmitter<MavlinkSessionEvents> {
  readonly decoder = new MavlinkDecoder();
  readonly encoder: MavlinkEncoder;
  readonly stats: SessionStats = { framesOut: 0, framesOutDropped: 0, framesIn: 0, decodeErrors: 0, otherSystems: 0, commands: 0, commandRetries: 0, commandTimeouts: 0, acks: 0, unmatchedAcks: 0 };
  /** The vehicle as its last HEARTBEAT described it; null until one arrives. */
  vehicle: VehicleState | null = null;
  readonly targetSystem: number;
  readonly targetComponent: number;
  readonly nowS: () => number;
  private readonly o: Required<Omit<MavlinkSessionOptions, 'log' | 'nowS'>>;
  private readonly log: MavlinkSessionOptions['log'];
  private readonly pending = new Map<number, Pending>();
  private readonly recentText: { tS: number; text: string }[] = [];
  private hbTimer: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly datagram: boolean;
  private readonly onData = (chunk: Buffer): void => this.decoder.push(chunk, (f) => this.onFrame(f), this.datagram);
  private readonly onOpen = (): void => {
    this.sendHeartbeat();
  };

  constructor(
    readonly link: Link,
    opts: MavlinkSessionOptions = {},
  ) {
    super();
    this.o = {
      systemId: opts.systemId ?? 255,
      componentId: opts.componentId ?? 190,
      targetSystem: opts.targetSystem ?? 1,
      targetComponent: opts.targetComponent ?? 1,
      heartbeatHz: opts.heartbeatHz ?? 1,
      commandTimeoutMs: opts.commandTimeoutMs ?? 500,
      commandRetries: opts.commandRetries ?? 5,
      inProgressTimeoutMs: opts.inProgressTimeoutMs ?? 5000,
    };
    if (!(this.o.heartbeatHz >= 1 && this.o.heartbeatHz <= 50)) throw new RangeError(`heartbeatHz must be 1..50 (MAVLink expects ≥ 1 Hz), got ${this.o.heartbeatHz}`);
    if (!(this.o.commandTimeoutMs > 0)) throw new RangeError(`commandTimeoutMs must be > 0, got ${this.o.commandTimeoutMs}`);
    if (!(Number.isInteger(this.o.commandRetries) && this.o.commandRetries >= 0)) throw new RangeError(`commandRetries must be an integer ≥ 0, got ${this.o.commandRetries}`);
    this.encoder = new MavlinkEncoder(this.o.systemId, this.o.componentId);
    this.targetSystem = this.o.targetSystem;
    this.targetComponent = this.o.targetComponent;
    this.nowS = opts.nowS ?? defaultNow;
    this.log = opts.log;
    this.datagram = link.spec.kind === 'udp';
    link.on('data', this.onData);
    link.on('open', this.onOpen);
    this.hbTimer = setInterval(() => this.sendHeartbeat(), 1000 / this.o.heartbeatHz);
    if (link.connected) this.sendHeartbeat();
  }

  /** Encode and write one message. False (counted) when the link refuses it. */
  send(msg: MavLinkData): boolean {
    if (this.closed) return false;
    const ok = this.link.write(this.encoder.encode(msg));
    if (ok) this.stats.framesOut++;
    else this.stats.framesOutDropped++;
    return ok;
  }

  sendHeartbeat(): boolean {
    return this.send(heartbeat());
  }

  /** COMMAND_LONG with ACK, retries and timeouts (see the header). */
  command(command: number, params: readonly number[] = [], opts: CommandOptions = {}): Promise<common.CommandAck> {
    if (this.closed) return Promise.reject(new Error(`${commandName(command)}: session closed`));
    if (this.pending.has(command)) return Promise.reject(new Error(`${commandName(command)}: already waiting for its COMMAND_ACK`));
    const retries = opts.retries ?? this.o.commandRetries;
    return new Promise((resolve, reject) => {
      const p: Pending = {
        command,
        params: [...params],
        attempts: 0,
        attemptsLeft: retries + 1,
        timeoutMs: opts.timeoutMs ?? this.o.commandTimeoutMs,
        inProgress: false,
        timer: undefined,
        resolve,
        reject,
      };
      this.pending.set(command, p);
      this.stats.commands++;
      this.attempt(p);
    });
  }

  private attempt(p: Pending): void {
    p.attemptsLeft--;
    if (p.attempts > 0) this.stats.commandRetries++;
    // confirmation counts re-sends, so the FC can tell a retry from a new command
    this.send(commandLong(this.targetSystem, this.targetComponent, p.command, p.params, p.attempts));
    p.attempts++;
    p.timer = setTimeout(() => {
      this.stats.commandTimeouts++;
      if (p.attemptsLeft > 0) this.attempt(p);
      else this.settle(p, new MavlinkTimeoutError(p.command, p.attempts, p.timeoutMs, false));
    }, p.timeoutMs);
  }

  private settle(p: Pending, r: common.CommandAck | Error): void {
    if (p.timer) clearTimeout(p.timer);
    p.timer = undefined;
    if (this.pending.get(p.command) === p) this.pending.delete(p.command);
    if (r instanceof Error) p.reject(r);
    else p.resolve(r);
  }

  /** MAV_CMD_SET_MESSAGE_INTERVAL: stream `msgid` every `intervalUs` µs (−1 stops it, 0 = default rate). */
  setMessageInterval(msgid: number, intervalUs: number, opts?: CommandOptions): Promise<common.CommandAck> {
    return this.command(MavCmd.SET_MESSAGE_INTERVAL, [msgid, intervalUs], opts);
  }

  /** MAV_CMD_REQUEST_MESSAGE: ask for one message (e.g. AUTOPILOT_VERSION). */
  requestMessage(msgid: number, opts?: CommandOptions): Promise<common.CommandAck> {
    return this.command(MavCmd.REQUEST_MESSAGE, [msgid], opts);
  }

  /**
   * Read one parameter by name (PARAM_REQUEST_READ → PARAM_VALUE), re-asking like a command. The value is
   * as sent: ArduPilot sends integers as plain float values (PX4 would send them bytewise).
   */
  async readParam(name: string, opts: CommandOptions = {}): Promise<number> {
    if (name.length === 0 || name.length > 16) throw new RangeError(`parameter name must be 1..16 characters, got "${name}"`);
    const attempts = (opts.retries ?? this.o.commandRetries) + 1;
    const timeoutMs = opts.timeoutMs ?? this.o.commandTimeoutMs;
    for (let i = 0; i < attempts; i++) {
      const reply = this.waitForMessage<common.ParamValue>(MSG.PARAM_VALUE, timeoutMs, (m) => String(m.paramId).replace(/\0+$/, '') === name).catch(() => null);
      const req = new common.ParamRequestRead();
      req.targetSystem = this.targetSystem;
      req.targetComponent = this.targetComponent;
      req.paramId = name;
      req.paramIndex = -1;
      this.send(req);
      const v = await reply;
      if (v) return v.paramValue;
      if (this.closed) break;
    }
    throw new Error(`parameter ${name}: no PARAM_VALUE after ${attempts} attempt(s) of ${timeoutMs} ms`);
  }

  /** Resolve with the next message of class `msgid` from the vehicle that satisfies `pred`. */
  waitForMessage<T extends MavLinkData>(msgid: number, timeoutMs: number, pred: (m: T) => boolean = () => true): Promise<T> {
    return new Promise((resolve, reject) => {
      const onMsg = (m: MavLinkData, f: MavlinkFrame): void => {
        if (f.msgid !== msgid || !pred(m as T)) return;
        clearTimeout(t);
        this.off('message', onMsg);
        resolve(m as T);
      };
      const t = setTimeout(() => {
        this.off('message', onMsg);
        reject(new Error(`no ${msgid === MSG.HEARTBEAT ? 'HEARTBEAT' : `message ${msgid}`} from system ${this.targetSystem} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.on('message', onMsg);
    });
  }

  /** Resolve once the vehicle's HEARTBEAT state satisfies `pred` (at once if it already does). */
  waitForState(pred: (v: VehicleState) => boolean, timeoutMs: number, what: string): Promise<VehicleState> {
    if (this.vehicle && pred(this.vehicle)) return Promise.resolve({ ...this.vehicle });
    return new Promise((resolve, reject) => {
      const onHb = (v: VehicleState): void => {
        if (!pred(v)) return;
        clearTimeout(t);
        this.off('heartbeat', onHb);
        resolve({ ...v });
      };
      const t = setTimeout(() => {
        this.off('heartbeat', onHb);
        const now = this.vehicle ? `mode ${this.vehicle.mode}, ${this.vehicle.armed ? 'armed' : 'disarmed'}` : 'no HEARTBEAT yet';
        reject(new Error(`${what}: not seen within ${timeoutMs} ms (vehicle: ${now})`));
      }, timeoutMs);
      this.on('heartbeat', onHb);
    });
  }

  /** STATUSTEXT lines from the last couple of seconds (why an FC refused something). */
  recentStatusText(): string[] {
    const now = this.nowS();
    return this.recentText.filter((r) => now - r.tS <= STATUSTEXT_KEEP_S).map((r) => r.text);
  }

  counters(): Record<string, number> {
    const d = this.decoder.stats;
    return {
      mavFramesIn: this.stats.framesIn,
      mavFramesOut: this.stats.framesOut,
      mavOutDropped: this.stats.framesOutDropped,
      mavCrcErrors: d.crcErrors,
      mavUnknown: d.unknownMsgid,
      mavDecodeErrors: this.stats.decodeErrors,
      mavCommandRetries: this.stats.commandRetries,
      mavCommandTimeouts: this.stats.commandTimeouts,
      linkReconnects: this.link.stats.reconnects,
    };
  }

  private onFrame(f: MavlinkFrame): void {
    if (f.sysid !== this.targetSystem) {
      this.stats.otherSystems++;
      return;
    }
    let msg: MavLinkData | null;
    try {
      msg = decodeMessage(f);
    } catch {
      this.stats.decodeErrors++;
      return;
    }
    if (!msg) return;
    this.stats.framesIn++;
    if (f.msgid === MSG.HEARTBEAT) this.onHeartbeat(msg as minimal.Heartbeat, f);
    else if (f.msgid === MSG.COMMAND_ACK) this.onAck(msg as common.CommandAck);
    else if (f.msgid === MSG.STATUSTEXT) {
      const s = msg as common.StatusText;
      const text = String(s.text).replace(/\0+$/, '');
      this.recentText.push({ tS: this.nowS(), text });
      if (this.recentText.length > 16) this.recentText.shift();
      this.log?.info({ fc: text, severity: s.severity }, `FC: ${text}`);
      this.emit('statustext', s.severity, text);
    }
    this.emit('message', msg, f);
  }

  private onHeartbeat(h: minimal.Heartbeat, f: MavlinkFrame): void {
    // GCSs and companions on the same system id also send HEARTBEATs: only an autopilot's counts
    if (h.autopilot === minimal.MavAutopilot.INVALID) return;
    const prev = this.vehicle;
    const armed = (h.baseMode & MAV_MODE_FLAG_SAFETY_ARMED) !== 0;
    const v: VehicleState = {
      sysid: f.sysid,
      compid: f.compid,
      type: h.type,
      autopilot: h.autopilot,
      baseMode: h.baseMode,
      customMode: h.customMode >>> 0,
      systemStatus: h.systemStatus,
      armed,
      mode: modeName(h.autopilot, h.customMode >>> 0),
      lastHeartbeatS: this.nowS(),
      heartbeats: (prev?.heartbeats ?? 0) + 1,
    };
    this.vehicle = v;
    if (prev && prev.mode !== v.mode) this.emit('mode', prev.mode, v.mode, v);
    if (prev && prev.armed !== v.armed) this.emit('armed', v.armed, v);
    this.emit('heartbeat', v);
  }

  private onAck(a: common.CommandAck): void {
    this.stats.acks++;
    // an ACK addressed to another GCS/companion on the same link is not ours (0 = unset, as older FCs send)
    if ((a.targetSystem && a.targetSystem !== this.encoder.systemId) || (a.targetComponent && a.targetComponent !== this.encoder.componentId)) {
      this.stats.unmatchedAcks++;
      return;
    }
    const p = this.pending.get(a.command);
    if (!p) {
      this.stats.unmatchedAcks++;
      return;
    }
    if (a.result === MavResult.ACCEPTED) return this.settle(p, a);
    if (a.result === MavResult.IN_PROGRESS) {
      if (p.timer) clearTimeout(p.timer);
      p.inProgress = true;
      const waitMs = this.o.inProgressTimeoutMs;
      p.timer = setTimeout(() => {
        this.stats.commandTimeouts++;
        this.settle(p, new MavlinkTimeoutError(p.command, p.attempts, waitMs, true));
      }, waitMs);
      return;
    }
    this.settle(p, new MavlinkCommandError(a.command, a.result, p.attempts, this.recentStatusText()));
  }

  /** Stop the heartbeat, reject waiting commands, detach and close the link. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.hbTimer) clearInterval(this.hbTimer);
    this.hbTimer = undefined;
    for (const p of [...this.pending.values()]) this.settle(p, new Error(`${commandName(p.command)}: session closed`));
    this.link.off('data', this.onData);
    this.link.off('open', this.onOpen);
    await this.link.close();
  }

  get isClosed(): boolean {
    return this.closed;
  }
}
