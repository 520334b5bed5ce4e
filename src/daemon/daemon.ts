/**
 * The long-lived daemon: one transport, one controller, a command clock, a health line.
 *
 * Data flows one way: transport → sensor gate → controller (the region pipeline) → transport. The
 * daemon owns the command clock in real time (the controller is asked at `rateHz` on the sensor
 * clock, extrapolated by wall time since the newest sample, so a dead link ages the sensors and the
 * guard fails safe), or answers the far side's ticks in lockstep. Stopping always commands a disarm
 * before any link is closed.
 */
import type { Logger } from 'pino';
import type { Controller } from '../tracts/controller.js';
import type { CameraFrame, FlightCommand, ImuSample } from '../tracts/io.js';
import { SensorGate, type SensorGateConfig } from './sensor-gate.js';
import type { PerceptionReport, RejectKind, SensorSink, Transport } from './transport.js';
import type { ColliculusOutput } from '../regions/colliculus.js';

export interface DaemonOptions {
  controller: Controller;
  transport: Transport;
  log: Logger;
  /** Real-time command rate, Hz (ignored in lockstep). */
  rateHz: number;
  /** Seconds between health lines (0 = none). */
  healthIntervalS: number;
  sensorGate?: Partial<SensorGateConfig>;
  /** Wall clock in ms (injectable for tests). */
  nowMs?: () => number;
}

export interface HealthSnapshot {
  framesPerS: number;
  imuPerS: number;
  commandsPerS: number;
  /** Wall time from a frame's arrival at the daemon to the first command after it, ms. */
  frameToCommandMs: { p50: number; p99: number; n: number };
  drops: Partial<Record<RejectKind, number>>;
  failsafe: string;
  link: 'up' | 'down';
  totals: { frames: number; imu: number; commands: number; dropped: number };
  transport?: Record<string, number>;
}

/** A reject is logged at most once per second per kind; the rest are counted. */
const REJECT_LOG_INTERVAL_MS = 1000;

export class Daemon {
  private readonly gate: SensorGate;
  private readonly nowMs: () => number;
  private timer: NodeJS.Timeout | null = null;
  private healthTimer: NodeJS.Timeout | null = null;
  private stopping: Promise<void> | null = null;
  private resolveDone!: () => void;
  /** Resolves once the daemon has disarmed and closed its transport. */
  readonly done: Promise<void>;
  // sensor clock extrapolation
  private newestStampS = NaN;
  private newestWallMs = NaN;
  // counters (totals and per health window)
  private frames = 0;
  private imus = 0;
  private commands = 0;
  private dropped = 0;
  private readonly drops: Partial<Record<RejectKind, number>> = {};
  private readonly lastRejectLogMs: Partial<Record<RejectKind, number>> = {};
  private readonly suppressed: Partial<Record<RejectKind, number>> = {};
  private win = { t0Ms: 0, frames: 0, imus: 0, commands: 0 };
  private latMs: number[] = [];
  private pendingFrameWallMs = NaN;
  private linkUp = true;
  private tickPending = false;
  private disarmSent = false;

  constructor(private readonly o: DaemonOptions) {
    if (!(o.rateHz > 0 && o.rateHz <= 2000)) throw new Error(`daemon: rateHz must be in (0, 2000], got ${o.rateHz}`);
    this.gate = new SensorGate({ maxFrameAgeS: 0.5, expectWidth: 0, expectHeight: 0, ...o.sensorGate });
    this.nowMs = o.nowMs ?? (() => performance.now());
    this.done = new Promise((r) => (this.resolveDone = r));
  }

  /** The sink the transport delivers into (exposed for tests and in-process transports). */
  readonly sink: SensorSink = {
    imu: (s: ImuSample) => {
      const v = this.gate.imu(s);
      if (!v.ok) return this.reject(v.kind!, v.detail!);
      this.imus++;
      this.win.imus++;
      this.noteStamp(s.stampS);
      this.o.controller.onImu(s);
    },
    frame: (f: CameraFrame) => {
      const v = this.gate.frame(f);
      if (!v.ok) return this.reject(v.kind!, v.detail!);
      this.frames++;
      this.win.frames++;
      if (Number.isNaN(this.pendingFrameWallMs)) this.pendingFrameWallMs = this.nowMs();
      this.o.controller.onFrame(f);
      if (this.o.transport.publishPerception) {
        const col = (this.o.controller as { telemetry?: () => { lastColliculus?: ColliculusOutput | null } }).telemetry?.().lastColliculus;
        if (col) this.o.transport.publishPerception(perceptionOf(col, f.stampS));
      }
    },
    tick: (nowS: number) => {
      if (this.stopping) return;
      const cmd = this.commandAt(nowS);
      this.o.transport.send(cmd);
    },
    reject: (kind: RejectKind, detail: string) => this.reject(kind, detail),
    linkState: (up: boolean, detail: string) => {
      if (up === this.linkUp) return;
      this.linkUp = up;
      if (up) this.o.log.info({ event: 'link-up', detail }, `link up: ${detail}`);
      else this.o.log.warn({ event: 'link-down', detail }, `link down: ${detail} (the guard fails safe if sensors stay stale)`);
    },
  };

  async start(): Promise<void> {
    const { transport, log } = this.o;
    this.win.t0Ms = this.nowMs();
    await transport.open(this.sink);
    log.info({ event: 'start', transport: transport.name, clock: transport.clock, rateHz: this.o.rateHz, controller: this.o.controller.name }, `flying over ${transport.name} (${transport.clock})`);
    if (transport.clock === 'realtime') {
      // Timers run before the event loop polls sockets: after a stall, samples already waiting in
      // the socket would be read only after this tick and the sensors would look older than they
      // are. setImmediate runs after the poll phase, so the command sees everything that arrived.
      // The schedule is absolute (tick k at t0 + k·period): setInterval re-arms from when its
      // callback ran, so it drifts late and 100 Hz becomes ~97 Hz. A late tick is not repeated.
      const periodMs = 1000 / this.o.rateHz;
      let nextMs = performance.now() + periodMs;
      const arm = (): void => {
        this.timer = setTimeout(() => {
          const now = performance.now();
          nextMs = Math.max(nextMs + periodMs, now + periodMs * 0.25);
          if (!this.tickPending) {
            this.tickPending = true;
            setImmediate(() => {
              this.tickPending = false;
              this.realtimeTick();
            });
          }
          if (this.timer) arm();
        }, Math.max(0, nextMs - performance.now()));
      };
      arm();
    }
    if (this.o.healthIntervalS > 0) {
      this.healthTimer = setInterval(() => {
        const h = this.health();
        log.info({ event: 'health', ...h }, healthText(h));
        transport.publishHealth?.(h);
      }, this.o.healthIntervalS * 1000);
      this.healthTimer.unref();
    }
  }

  /** Disarm first, then close every link. Safe to call more than once (returns the same promise). */
  stop(reason: string): Promise<void> {
    if (!this.stopping) {
      this.stopping = (async () => {
        if (this.timer) clearTimeout(this.timer);
        if (this.healthTimer) clearInterval(this.healthTimer);
        this.timer = this.healthTimer = null;
        this.o.log.warn({ event: 'stop', reason }, `stopping (${reason}): disarm, then close`);
        try {
          await this.o.transport.disarm(reason);
          this.disarmSent = true;
        } catch (e) {
          this.o.log.error({ event: 'disarm-failed', err: String(e) }, `disarm failed: ${String(e)}`);
        }
        try {
          await this.o.transport.close();
        } catch (e) {
          this.o.log.error({ event: 'close-failed', err: String(e) }, `close failed: ${String(e)}`);
        }
        this.o.log.info({ event: 'stopped', ...this.health() }, 'stopped');
        this.resolveDone();
      })();
    }
    return this.stopping;
  }

  health(): HealthSnapshot {
    const now = this.nowMs();
    const dt = Math.max(1e-3, (now - this.win.t0Ms) / 1000);
    const lat = this.latMs.slice().sort((a, b) => a - b);
    const q = (p: number): number => (lat.length ? round3(lat[Math.min(lat.length - 1, Math.floor(p * lat.length))]!) : NaN);
    const tele = (this.o.controller as { telemetry?: () => { guardMode?: string } }).telemetry?.();
    const h: HealthSnapshot = {
      framesPerS: round3(this.win.frames / dt),
      imuPerS: round3(this.win.imus / dt),
      commandsPerS: round3(this.win.commands / dt),
      frameToCommandMs: { p50: q(0.5), p99: q(0.99), n: lat.length },
      drops: { ...this.drops },
      failsafe: this.disarmSent ? 'disarmed' : (tele?.guardMode ?? 'n/a'),
      link: this.linkUp ? 'up' : 'down',
      totals: { frames: this.frames, imu: this.imus, commands: this.commands, dropped: this.dropped },
    };
    const c = this.o.transport.counters?.();
    if (c) h.transport = c;
    this.win = { t0Ms: now, frames: 0, imus: 0, commands: 0 };
    this.latMs = [];
    return h;
  }

  private noteStamp(stampS: number): void {
    if (!(stampS <= this.newestStampS)) {
      this.newestStampS = stampS;
      this.newestWallMs = this.nowMs();
    }
  }

  /** Real time: the sensor clock now, extrapolated from the newest sample by wall time. */
  private realtimeTick(): void {
    if (Number.isNaN(this.newestStampS) || this.stopping) return; // nothing heard yet: nothing to fly
    const nowS = this.newestStampS + (this.nowMs() - this.newestWallMs) / 1000;
    const cmd = this.commandAt(nowS);
    if (cmd) this.o.transport.send(cmd);
  }

  private commandAt(nowS: number): FlightCommand | null {
    const cmd = this.o.controller.command(nowS);
    if (this.o.controller.disarmRequested?.() && !this.disarmSent) {
      this.disarmSent = true;
      this.o.log.error({ event: 'failsafe-disarm' }, 'the guard requested a disarm: commanding it');
      void this.o.transport.disarm('guard failsafe').catch((e: unknown) => this.o.log.error({ err: String(e) }, 'disarm failed'));
      return null;
    }
    if (cmd) {
      this.commands++;
      this.win.commands++;
      if (!Number.isNaN(this.pendingFrameWallMs)) {
        this.latMs.push(this.nowMs() - this.pendingFrameWallMs);
        this.pendingFrameWallMs = NaN;
      }
    }
    return cmd;
  }

  private reject(kind: RejectKind, detail: string): void {
    this.dropped++;
    this.drops[kind] = (this.drops[kind] ?? 0) + 1;
    const now = this.nowMs();
    const last = this.lastRejectLogMs[kind];
    if (last === undefined || now - last >= REJECT_LOG_INTERVAL_MS) {
      const more = this.suppressed[kind] ?? 0;
      this.o.log.warn({ event: 'input-dropped', kind, detail, suppressed: more }, `dropped input (${kind}): ${detail}${more ? ` (+${more} more since the last report)` : ''}`);
      this.lastRejectLogMs[kind] = now;
      this.suppressed[kind] = 0;
    } else {
      this.suppressed[kind] = (this.suppressed[kind] ?? 0) + 1;
    }
  }
}

const round3 = (x: number): number => Math.round(x * 1000) / 1000;

/** The colliculus output as the transports' PerceptionReport (only what they publish). */
export function perceptionOf(col: ColliculusOutput, stampS: number): PerceptionReport {
  const ttc = col.looming.ttcS;
  return {
    stampS,
    sightings: col.sightings.map((s) => ({ kind: s.kind, bboxPx: s.bboxPx, confidence: s.confidence, posCamM: s.posCamM })),
    targetIndex: col.target ? col.sightings.indexOf(col.target) : -1,
    timeToGateS: Number.isFinite(ttc) ? ttc : null, // the colliculus' NaN (unknown) is null on the wire
  };
}

export function healthText(h: HealthSnapshot): string {
  const drops = Object.entries(h.drops).map(([k, n]) => `${k} ${n}`).join(', ') || 'none';
  return (
    `health: frames ${h.framesPerS.toFixed(1)}/s, imu ${h.imuPerS.toFixed(0)}/s, commands ${h.commandsPerS.toFixed(0)}/s, ` +
    `frame→command p50 ${h.frameToCommandMs.p50.toFixed(2)} ms p99 ${h.frameToCommandMs.p99.toFixed(2)} ms, ` +
    `drops ${drops}, failsafe ${h.failsafe}, link ${h.link}`
  );
}
