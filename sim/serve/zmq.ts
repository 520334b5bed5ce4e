/**
 * `brainpilot sim serve --zmq <endpoint>`: the built-in simulator behind a ZeroMQ ROUTER socket,
 * speaking the wire format of src/transports/zmq/wire.ts (docs/zmq.md). One client at a time: the
 * newest hello wins. Lockstep (the default) sends each step's samples, then a `tick`, and waits for
 * that client's one `command` reply; real time streams samples paced by the wall clock and applies
 * commands as they come. A client `disarm` is acknowledged at once, stops the motors and ends the run
 * once the drone is down; the run always ends with an `end` message carrying the race result.
 */
import type { Logger } from 'pino';
import { Router } from 'zeromq';
import type { CameraFrame, FlightCommand, ImuSample } from '../../src/tracts/io.js';
import { SendQueue } from '../../src/transports/zmq/queue.js';
import { decode, encodeDisarm, encodeEnd, encodeFrame, encodeHello, encodeImu, encodeTick, PROTOCOL, PROTOCOL_VERSION, type Clock } from '../../src/transports/zmq/wire.js';
import type { RaceResult } from '../runner.js';
import type { Sim } from '../world.js';
import { SimServer, type SimWire } from './loop.js';

export interface ZmqWireOptions {
  endpoint: string;
  clock: Clock;
  log: Logger;
  /** Lockstep: a client that leaves a tick unanswered this long ends the run, s. */
  clientTimeoutS?: number;
}

type Out = Uint8Array[];

export class ZmqSimWire implements SimWire {
  readonly name = 'zmq';
  /** Set once the client has sent `disarm`. */
  clientDisarmed = false;
  readonly counters = { clients: 0, rejected: 0, strayMessages: 0, staleReplies: 0, commands: 0, ticks: 0 };
  private readonly sock: Router;
  private readonly out: SendQueue<Out>;
  private client: Buffer | null = null;
  private server: SimServer | null = null;
  private tickWaiter: { tS: number; resolve: (c: FlightCommand | null) => void; timer: NodeJS.Timeout } | null = null;
  private clientWaiters: (() => void)[] = [];
  private closed = false;

  constructor(private readonly o: ZmqWireOptions) {
    // ROUTER never blocks on send: a slow real-time client loses messages past the high-water mark
    this.sock = new Router({ linger: 1000, sendHighWaterMark: 4000, heartbeatInterval: 250, heartbeatTimeout: 1000 });
    const sock = this.sock;
    this.out = new SendQueue((m) => sock.send(m));
  }

  /** Bind; returns the endpoint actually bound (a `tcp://127.0.0.1:*` wildcard resolves to its port). */
  async bind(): Promise<string> {
    try {
      await this.sock.bind(this.o.endpoint);
    } catch (e) {
      throw new Error(`sim serve --zmq: cannot bind ${this.o.endpoint}: ${e instanceof Error ? e.message : String(e)}`);
    }
    void this.receiveLoop();
    return this.sock.lastEndpoint ?? this.o.endpoint;
  }

  attach(server: SimServer): void {
    this.server = server;
  }

  get hasClient(): boolean {
    return this.client !== null;
  }

  /** Resolves at the first client hello (or when `abort` fires). */
  waitForClient(abort?: AbortSignal): Promise<void> {
    if (this.client || abort?.aborted) return Promise.resolve();
    return new Promise((r) => {
      this.clientWaiters.push(r);
      abort?.addEventListener('abort', () => r(), { once: true });
    });
  }

  imu(s: ImuSample): void {
    if (this.client) this.out.push([this.client, ...encodeImu(s)]);
  }

  frame(f: CameraFrame): void {
    // the simulator reuses its frame buffers: copy before handing pixels to the socket
    if (this.client) this.out.push([this.client, ...encodeFrame(f, true)]);
  }

  tick(tS: number): Promise<FlightCommand | null> {
    if (this.clientDisarmed || !this.client || this.closed) return Promise.resolve(null);
    this.counters.ticks++;
    this.out.push([this.client, ...encodeTick(tS)]);
    const timeoutS = this.o.clientTimeoutS ?? 30;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.tickWaiter = null;
        this.o.log.error({ event: 'client-timeout', tS }, `sim serve --zmq: no reply to the tick at ${tS.toFixed(3)} s within ${timeoutS} s: ending the run`);
        this.server?.stop();
        resolve(null);
      }, timeoutS * 1000);
      this.tickWaiter = { tS, resolve, timer };
    });
  }

  /** Tell the client the run is over (with the race result) and let the message leave. */
  async end(reason: string, result: RaceResult): Promise<void> {
    if (this.client && !this.closed) {
      this.out.push([this.client, ...encodeEnd({ reason, completed: result.completed }, result)]);
      await this.out.flushed();
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.resolveTick(null);
    await Promise.race([this.out.flushed(), new Promise((r) => setTimeout(r, 500))]);
    this.sock.close(); // linger delivers what is queued
  }

  private resolveTick(cmd: FlightCommand | null): void {
    const w = this.tickWaiter;
    if (!w) return;
    this.tickWaiter = null;
    clearTimeout(w.timer);
    w.resolve(cmd);
  }

  private async receiveLoop(): Promise<void> {
    try {
      for await (const msg of this.sock) {
        try {
          this.onMessage(msg);
        } catch (e) {
          this.counters.rejected++;
          this.o.log.error({ event: 'handler-failed', err: String(e) }, `sim serve --zmq: handling a message failed: ${String(e)}`);
        }
      }
    } catch (e) {
      if (!this.closed) this.o.log.error({ event: 'receive-failed', err: String(e) }, `sim serve --zmq: receive failed: ${String(e)}`);
    }
  }

  private onMessage(msg: Buffer[]): void {
    const id = msg[0];
    if (!id) return;
    const d = decode(msg.slice(1));
    if (!d.ok) {
      this.counters.rejected++;
      this.o.log.warn({ event: 'rejected', kind: d.kind, detail: d.detail }, `sim serve --zmq: dropped a message (${d.kind}): ${d.detail}`);
      return;
    }
    const m = d.msg;
    if (m.topic === 'hello') {
      if (m.hello.role !== 'client' || m.hello.protocol !== PROTOCOL || m.hello.version !== PROTOCOL_VERSION) {
        this.counters.rejected++;
        this.o.log.warn({ event: 'bad-hello', hello: m.hello }, `sim serve --zmq: hello from a ${m.hello.role} speaking ${m.hello.protocol} v${m.hello.version}; expected a client speaking ${PROTOCOL} v${PROTOCOL_VERSION}`);
        return;
      }
      const isNew = !this.client || !this.client.equals(id);
      this.client = id;
      if (isNew) this.counters.clients++;
      this.out.push([id, ...encodeHello({ role: 'server', clock: this.o.clock, name: 'brainpilot sim' })]);
      // a client that reconnected (a new identity) never saw the tick we wait on: ask again; a
      // duplicate answer carries the same tickS and is dropped as stale
      if (this.tickWaiter) this.out.push([id, ...encodeTick(this.tickWaiter.tS)]);
      this.o.log.info({ event: 'client', name: m.hello.name ?? '' }, `sim serve --zmq: client ${m.hello.name ?? ''} connected (${this.o.clock})`);
      for (const w of this.clientWaiters.splice(0)) w();
      return;
    }
    if (!this.client || !this.client.equals(id)) {
      this.counters.strayMessages++;
      return;
    }
    switch (m.topic) {
      case 'command': {
        if (this.clientDisarmed) return;
        this.counters.commands++;
        if (this.o.clock === 'realtime') {
          if (m.command) this.server?.command(m.command);
          return;
        }
        if (!this.tickWaiter || m.tickS !== this.tickWaiter.tS) {
          this.counters.staleReplies++;
          return;
        }
        this.resolveTick(m.command);
        return;
      }
      case 'disarm': {
        this.out.push([id, ...encodeDisarm(m.reason, true)]);
        if (!this.clientDisarmed) {
          this.clientDisarmed = true;
          this.o.log.warn({ event: 'client-disarm', reason: m.reason }, `sim serve --zmq: the client disarmed (${m.reason || 'no reason given'})`);
          this.server?.disarm();
        }
        this.resolveTick(null);
        return;
      }
      default:
        this.counters.rejected++;
        this.o.log.warn({ event: 'rejected', topic: m.topic }, `sim serve --zmq: a ${m.topic} message from the client (it only sends hello, command, disarm)`);
    }
  }
}

export interface ServeZmqOptions {
  endpoint: string;
  laps: number;
  seed: number;
  /** 0 = lockstep, > 0 = sim seconds per wall second. */
  realtimeFactor: number;
  log: Logger;
  clientTimeoutS?: number;
  /** Ends the run early (SIGINT); also stops waiting for a client. */
  abort?: AbortSignal;
  /** Called with the bound endpoint (the real port of a `*` wildcard). */
  onListening?: (endpoint: string) => void;
}

/** Serve one run of `sim` over ZeroMQ: wait for a client, fly, send `end`, close. */
export async function serveZmq(sim: Sim, o: ServeZmqOptions): Promise<RaceResult> {
  const clock: Clock = o.realtimeFactor === 0 ? 'lockstep' : 'realtime';
  const wire = new ZmqSimWire({ endpoint: o.endpoint, clock, log: o.log, ...(o.clientTimeoutS !== undefined ? { clientTimeoutS: o.clientTimeoutS } : {}) });
  const bound = await wire.bind();
  const server = new SimServer(sim, wire, { laps: o.laps, seed: o.seed, realtimeFactor: o.realtimeFactor });
  wire.attach(server);
  const onAbort = (): void => server.stop();
  o.abort?.addEventListener('abort', onAbort, { once: true });
  o.log.info({ event: 'listening', endpoint: bound, clock }, `sim serve --zmq: listening on ${bound} (${clock}); waiting for a client`);
  o.onListening?.(bound);
  try {
    await wire.waitForClient(o.abort);
    const result = await server.run();
    const reason = result.completed
      ? `finished ${result.laps.length} lap${result.laps.length === 1 ? '' : 's'}`
      : wire.clientDisarmed
        ? 'the client disarmed'
        : result.crashes
          ? 'crashed'
          : o.abort?.aborted
            ? 'stopped'
            : 'run ended';
    o.log.info({ event: 'end', reason, counters: wire.counters }, `sim serve --zmq: ${reason}`);
    await wire.end(reason, result);
    return result;
  } finally {
    o.abort?.removeEventListener('abort', onAbort);
    await wire.close();
  }
}
