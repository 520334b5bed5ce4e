/**
 * The ZeroMQ client transport: a DEALER socket that connects to a server's ROUTER (`brainpilot sim
 * serve --zmq`, or any program speaking docs/zmq.md). The server announces its clock in its hello:
 * in lockstep it sends `tick` after each step's samples and waits for exactly one `command` reply; in
 * real time it streams samples and takes commands whenever they come.
 *
 * Bad messages are rejected through the sink (counted in the health line), never thrown. The link
 * is reported down when ZeroMQ sees the peer disconnect or when the server goes silent for
 * linkTimeoutS; ZeroMQ reconnects on its own and the hello is repeated on every reconnect.
 */
import type { Logger } from 'pino';
import { Dealer } from 'zeromq';
import type { SensorSink, Transport } from '../../daemon/transport.js';
import type { CameraIntrinsics, CameraMount, FlightCommand } from '../../tracts/io.js';
import { SendQueue } from './queue.js';
import { PROTOCOL, PROTOCOL_VERSION, decode, encodeCommand, encodeDisarm, encodeHello, type Clock, type FrameDefaults, type Multipart } from './wire.js';

export interface ZmqClientConfig {
  endpoint: string;
  connectTimeoutS: number;
  linkTimeoutS: number;
  disarmAckTimeoutS: number;
}

/** What the transport needs from the daemon's context (src/cli/transports.ts passes more). */
export interface ZmqClientContext {
  log: Logger;
  intrinsics: CameraIntrinsics;
  mount: CameraMount;
}

/** The server's results when it ended the session (`sim serve` sends its race result). */
export interface ZmqRunResult {
  completed: boolean;
  laps: { lap: number; timeS: number; gatesPassed: number; gatesTotal: number }[];
}

export class ZmqTransport implements Transport {
  readonly name: string;
  /** Set from the server's hello during open(). */
  clock: Clock = 'lockstep';
  readonly ended: Promise<string>;
  /** The server's results from its `end` message (read by `brainpilot run` for the exit code). */
  result: ZmqRunResult | null = null;
  private sock: Dealer | null = null;
  private out: SendQueue<Multipart> | null = null;
  private sink: SensorSink | null = null;
  private readonly defaults: FrameDefaults;
  private resolveEnded!: (why: string) => void;
  private helloWaiter: ((clock: Clock) => void) | null = null;
  private disarmAckWaiter: (() => void) | null = null;
  private pendingTickS: number | null = null;
  private linkUp = false;
  private everConnected = false;
  private lastRxMs = 0;
  private silenceTimer: NodeJS.Timeout | null = null;
  private closed = false;
  private endedFlag = false;
  private readonly n = { rxMessages: 0, rxBytes: 0, rejected: 0, ticks: 0, commandsSent: 0, unsolicited: 0, reconnects: 0, handlerErrors: 0 };

  constructor(
    private readonly cfg: ZmqClientConfig,
    private readonly log: Logger,
    camera: { intrinsics: CameraIntrinsics; mount: CameraMount },
  ) {
    this.name = `zmq ${cfg.endpoint}`;
    const k = camera.intrinsics;
    this.defaults = { intrinsics: { fx: k.fx, fy: k.fy, cx: k.cx, cy: k.cy }, mount: camera.mount };
    this.ended = new Promise((r) => (this.resolveEnded = r));
  }

  async open(sink: SensorSink): Promise<void> {
    if (this.sock) throw new Error(`${this.name}: already open`);
    this.sink = sink;
    const sock = new Dealer({
      linger: 200,
      reconnectInterval: 100,
      reconnectMaxInterval: 1000,
      // ZMTP heartbeats find a dead peer even when no data is due (lockstep waiting on us)
      heartbeatInterval: 250,
      heartbeatTimeout: 1000,
    });
    this.sock = sock;
    this.out = new SendQueue((m) => sock.send(m));
    sock.events.on('connect', () => this.onConnect());
    sock.events.on('disconnect', () => this.setLink(false, `disconnected from ${this.cfg.endpoint}`));
    try {
      sock.connect(this.cfg.endpoint);
    } catch (e) {
      this.sock = null;
      sock.close();
      throw new Error(`${this.name}: cannot connect: ${e instanceof Error ? e.message : String(e)}`);
    }
    void this.receiveLoop(sock);
    const hello = new Promise<Clock>((r) => (this.helloWaiter = r));
    this.out.push(encodeHello({ role: 'client', name: 'brainpilot' }));
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<null>((r) => (timer = setTimeout(() => r(null), this.cfg.connectTimeoutS * 1000)));
    const clock = await Promise.race([hello, timeout]);
    clearTimeout(timer);
    if (clock === null) {
      await this.close();
      throw new Error(`${this.name}: no server answered within ${this.cfg.connectTimeoutS} s (is \`brainpilot sim serve --zmq ${this.cfg.endpoint}\` or your simulator running?)`);
    }
    this.clock = clock;
    this.lastRxMs = performance.now();
    const everyMs = Math.max(10, (this.cfg.linkTimeoutS * 1000) / 4);
    this.silenceTimer = setInterval(() => {
      const quietS = (performance.now() - this.lastRxMs) / 1000;
      if (quietS > this.cfg.linkTimeoutS) this.setLink(false, `no message from the server for ${quietS.toFixed(2)} s`);
    }, everyMs);
    this.silenceTimer.unref();
    this.log.info({ event: 'zmq-connected', endpoint: this.cfg.endpoint, clock }, `zmq: server at ${this.cfg.endpoint} runs ${clock}`);
  }

  send(cmd: FlightCommand | null): void {
    if (!this.out || this.closed) return;
    if (this.clock === 'lockstep') {
      // exactly one reply per tick; anything else would desynchronise the server
      if (this.pendingTickS === null) {
        this.n.unsolicited++;
        return;
      }
      this.out.push(encodeCommand(cmd, this.pendingTickS));
      this.pendingTickS = null;
      this.n.commandsSent++;
      return;
    }
    if (cmd === null) return;
    this.out.push(encodeCommand(cmd));
    this.n.commandsSent++;
  }

  async disarm(reason: string): Promise<void> {
    if (!this.out || this.closed) return;
    if (this.endedFlag) return; // the server has finished: nothing left to disarm
    const acked = new Promise<boolean>((r) => (this.disarmAckWaiter = () => r(true)));
    // answer an open tick first so a lockstep server is not left waiting
    if (this.pendingTickS !== null) this.send(null);
    this.out.push(encodeDisarm(reason));
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<boolean>((r) => (timer = setTimeout(() => r(false), this.cfg.disarmAckTimeoutS * 1000)));
    const ok = await Promise.race([acked, timeout]);
    clearTimeout(timer);
    this.disarmAckWaiter = null;
    if (ok) this.log.info({ event: 'zmq-disarm-acked', reason }, 'zmq: the server acknowledged the disarm');
    else this.log.error({ event: 'zmq-disarm-unacked', reason }, `zmq: no disarm acknowledgement within ${this.cfg.disarmAckTimeoutS} s (the server may not have it)`);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.silenceTimer) clearInterval(this.silenceTimer);
    this.silenceTimer = null;
    const sock = this.sock;
    if (sock && this.out) {
      // let what is queued (the disarm) reach the socket; linger then gives it 200 ms on the wire
      await Promise.race([this.out.flushed(), new Promise((r) => setTimeout(r, 200))]);
      this.out.clear();
    }
    this.sink = null;
    if (sock && !sock.closed) sock.close();
  }

  counters(): Record<string, number> {
    return { ...this.n, txMessages: this.out?.sent ?? 0, txFailed: this.out?.failed ?? 0, txQueued: this.out?.length ?? 0 };
  }

  private onConnect(): void {
    if (this.everConnected) {
      // a new connection: the server may be a new process that has never heard of us
      this.n.reconnects++;
      this.out?.push(encodeHello({ role: 'client', name: 'brainpilot' }));
    }
    this.everConnected = true;
    this.setLink(true, `connected to ${this.cfg.endpoint}`);
  }

  private setLink(up: boolean, detail: string): void {
    if (up === this.linkUp || this.closed) return;
    this.linkUp = up;
    this.sink?.linkState(up, `zmq: ${detail}`);
  }

  private async receiveLoop(sock: Dealer): Promise<void> {
    try {
      for await (const parts of sock) {
        try {
          this.onMessage(parts);
        } catch (e) {
          // a throw below us (the pipeline) must not end the receive loop and with it the link
          this.n.handlerErrors++;
          this.log.error({ event: 'zmq-handler-failed', err: String(e) }, `zmq: handling a message failed: ${String(e)}`);
        }
      }
    } catch (e) {
      if (!this.closed) {
        this.setLink(false, `receive failed: ${e instanceof Error ? e.message : String(e)}`);
        this.log.error({ event: 'zmq-receive-failed', err: String(e) }, `zmq: receive failed: ${String(e)}`);
      }
    }
  }

  private onMessage(parts: Buffer[]): void {
    const sink = this.sink;
    if (!sink) return;
    this.n.rxMessages++;
    for (const p of parts) this.n.rxBytes += p.length;
    this.lastRxMs = performance.now();
    this.setLink(true, 'receiving');
    const d = decode(parts, this.defaults);
    if (!d.ok) return this.reject(d.kind, d.detail);
    const m = d.msg;
    switch (m.topic) {
      case 'imu':
        return sink.imu(m.imu);
      case 'frame':
        return sink.frame(m.frame);
      case 'tick': {
        if (this.clock !== 'lockstep') return this.reject('malformed', 'tick from a server that announced real time');
        this.n.ticks++;
        // a tick while one is unanswered: the newer one replaces it (the server waits for the newest)
        this.pendingTickS = m.nowS;
        try {
          sink.tick(m.nowS);
        } finally {
          // the daemon answers inside tick(); when it is stopping (or threw) it did not: step the server on
          if (this.pendingTickS !== null && !this.closed) this.send(null);
        }
        return;
      }
      case 'hello': {
        const h = m.hello;
        if (h.role !== 'server' || h.protocol !== PROTOCOL || h.version !== PROTOCOL_VERSION || !h.clock)
          return this.reject('malformed', `hello from ${h.role} speaking ${h.protocol} v${h.version}, clock ${String(h.clock)}; expected a server speaking ${PROTOCOL} v${PROTOCOL_VERSION} with a clock`);
        if (this.helloWaiter) {
          const w = this.helloWaiter;
          this.helloWaiter = null;
          w(h.clock);
        } else if (h.clock !== this.clock) {
          this.log.error({ event: 'zmq-clock-changed', was: this.clock, now: h.clock }, `zmq: the server came back running ${h.clock}, this session runs ${this.clock}`);
        }
        return;
      }
      case 'disarm':
        if (m.ack) this.disarmAckWaiter?.();
        return;
      case 'end': {
        this.endedFlag = true;
        const r = m.results as Partial<ZmqRunResult> | null;
        if (r && typeof r.completed === 'boolean' && Array.isArray(r.laps)) this.result = { completed: r.completed, laps: r.laps };
        this.disarmAckWaiter?.();
        this.log.info({ event: 'zmq-end', ...m.end }, `zmq: the server ended the session: ${m.end.reason}`);
        this.resolveEnded(m.end.reason);
        return;
      }
      case 'command':
        return this.reject('malformed', 'a command message from the server (commands go client → server)');
      default: {
        const never: never = m;
        throw new Error(`unhandled topic ${JSON.stringify(never)}`);
      }
    }
  }

  private reject(kind: Parameters<SensorSink['reject']>[0], detail: string): void {
    this.n.rejected++;
    this.sink?.reject(kind, `zmq: ${detail}`);
  }
}

export async function createZmqTransport(cfg: ZmqClientConfig, ctx: ZmqClientContext): Promise<Transport> {
  return new ZmqTransport(cfg, ctx.log, ctx);
}
