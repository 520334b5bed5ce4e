/**
 * Byte links to a flight controller: TCP (SITL UARTs), UDP (MAVLink à la PX4) and serial (the real FC).
 *
 * A `Link` is a typed EventEmitter ('data', 'open', 'close', 'error') with a non-throwing `write()`.
 * TCP and serial reconnect on their own with exponential backoff (100 ms doubling to 2 s by default, reset
 * after a successful open); UDP binds 127.0.0.1 unless told otherwise and, without a remote, answers the
 * first peer that talks to it. Protocol stages (MSP, MAVLink) sit on top of 'data' / write().
 *
 * Events:
 *   'open'  each time the link becomes usable (TCP/serial: every (re)connect; UDP: bound and a peer known)
 *   'close' each time a usable link stops being usable (peer closed, device unplugged, or close())
 *   'data'  a chunk of bytes as received (stream boundaries are NOT message boundaries on TCP/serial)
 *   'error' a failure (connect refused, open failed, send failed). Counted in stats.errors and logged; only
 *           emitted when someone listens, so an unobserved link never crashes the process.
 */
import { EventEmitter } from 'node:events';
import net from 'node:net';
import dgram from 'node:dgram';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import {
  formatLinkSpec,
  parseLinkUri,
  type LinkSpec,
  type SerialLinkSpec,
  type TcpLinkSpec,
  type UdpLinkSpec,
} from './uri.js';

export interface LinkEvents {
  data: [chunk: Buffer];
  open: [];
  close: [];
  error: [err: Error];
}

export interface LinkStats {
  bytesIn: number;
  bytesOut: number;
  /** Successful (re)opens after the first one. */
  reconnects: number;
  /** Writes refused: not connected, or more than `maxBufferedBytes` already queued. */
  dropped: number;
  /** Failures of any kind (each also logged / emitted as 'error'). */
  errors: number;
}

export interface LinkOptions {
  /** First reconnect delay (ms). Default 100. */
  backoffMinMs?: number;
  /** Reconnect delay cap (ms). Default 2000. */
  backoffMaxMs?: number;
  /** TCP connect timeout (ms). Default 2000. */
  connectTimeoutMs?: number;
  /** A write is dropped when this many bytes are already queued (a stalled peer must not grow memory). Default 64 KiB. */
  maxBufferedBytes?: number;
  /** Optional pino logger (e.g. `makeLogger('info', false).child({ module: 'link' })` from src/log.ts). Silent when absent. */
  log?: Pick<Logger, 'debug' | 'info' | 'warn'>;
}

interface ResolvedOptions {
  backoffMinMs: number;
  backoffMaxMs: number;
  connectTimeoutMs: number;
  maxBufferedBytes: number;
  log: Pick<Logger, 'debug' | 'info' | 'warn'> | undefined;
}

function resolveOptions(opts: LinkOptions): ResolvedOptions {
  const pos = (v: number | undefined, d: number, name: string): number => {
    if (v === undefined) return d;
    if (!Number.isFinite(v) || v <= 0) throw new Error(`link option ${name} must be a positive number, got ${v}`);
    return v;
  };
  const backoffMinMs = pos(opts.backoffMinMs, 100, 'backoffMinMs');
  return {
    backoffMinMs,
    backoffMaxMs: Math.max(backoffMinMs, pos(opts.backoffMaxMs, 2000, 'backoffMaxMs')),
    connectTimeoutMs: pos(opts.connectTimeoutMs, 2000, 'connectTimeoutMs'),
    maxBufferedBytes: pos(opts.maxBufferedBytes, 64 * 1024, 'maxBufferedBytes'),
    log: opts.log,
  };
}

function errorOf(e: unknown): Error {
  return e instanceof Error ? e : new Error(String(e));
}

/** Shared state machine: stats, open/close bookkeeping, error reporting, backoff timer. */
export abstract class Link extends EventEmitter<LinkEvents> {
  readonly stats: LinkStats = { bytesIn: 0, bytesOut: 0, reconnects: 0, dropped: 0, errors: 0 };
  /** Canonical URI, for logs. */
  readonly uri: string;
  protected readonly opts: ResolvedOptions;
  protected closing = false;
  private isOpen = false;
  private everOpened = false;
  private attempt = 0;
  private timer: NodeJS.Timeout | undefined;
  private closePromise: Promise<void> | undefined;

  protected constructor(
    readonly spec: LinkSpec,
    opts: LinkOptions,
  ) {
    super();
    this.uri = formatLinkSpec(spec);
    this.opts = resolveOptions(opts);
  }

  /** True while write() can deliver. */
  get connected(): boolean {
    return this.isOpen && !this.closing;
  }

  /** Queue bytes for the peer. Copies `buf`. Returns false (and counts stats.dropped) instead of throwing. */
  abstract write(buf: Uint8Array): boolean;

  /** Stop for good: no more reconnects, the socket/port is released. Idempotent. */
  close(): Promise<void> {
    if (!this.closePromise) {
      this.closing = true;
      if (this.timer) clearTimeout(this.timer);
      this.timer = undefined;
      this.closePromise = this.shutdown()
        .catch((e: unknown) => this.reportError(errorOf(e)))
        .finally(() => this.markClosed());
    }
    return this.closePromise;
  }

  protected abstract shutdown(): Promise<void>;

  /** Queue bytes on a byte stream (TCP socket, serial port): refused and counted when down or backed up. */
  protected writeToStream(stream: { writableLength: number; write(chunk: Buffer): unknown } | undefined, buf: Uint8Array): boolean {
    if (!this.connected || !stream || stream.writableLength > this.opts.maxBufferedBytes) return this.drop();
    try {
      stream.write(Buffer.from(buf));
    } catch (e) {
      this.reportError(errorOf(e));
      return this.drop();
    }
    this.stats.bytesOut += buf.length;
    return true;
  }

  protected drop(): false {
    this.stats.dropped++;
    return false;
  }

  protected received(chunk: Buffer): void {
    this.stats.bytesIn += chunk.length;
    this.emit('data', chunk);
  }

  protected markOpen(): void {
    if (this.isOpen) return;
    if (this.everOpened) this.stats.reconnects++;
    this.everOpened = true;
    this.attempt = 0;
    this.isOpen = true;
    this.opts.log?.info({ link: this.uri, reconnects: this.stats.reconnects }, 'link open');
    this.emit('open');
  }

  protected markClosed(): void {
    if (!this.isOpen) return;
    this.isOpen = false;
    this.opts.log?.info({ link: this.uri }, 'link closed');
    this.emit('close');
  }

  protected reportError(err: Error): void {
    this.stats.errors++;
    this.opts.log?.warn({ link: this.uri, err }, err.message);
    if (this.listenerCount('error') > 0) this.emit('error', err);
  }

  /** Run `connect` after the next backoff delay (no-op while one is pending or after close()). */
  protected scheduleReconnect(connect: () => void): void {
    if (this.closing || this.timer) return;
    const delay = Math.min(this.opts.backoffMaxMs, this.opts.backoffMinMs * 2 ** this.attempt);
    if (delay < this.opts.backoffMaxMs) this.attempt++;
    this.opts.log?.debug({ link: this.uri, delayMs: delay }, 'link retry scheduled');
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (!this.closing) connect();
    }, delay);
  }
}

/** TCP client with automatic reconnect. Nagle is off (small MSP/MAVLink frames must not wait). */
export class TcpLink extends Link {
  private socket: net.Socket | undefined;

  constructor(
    override readonly spec: TcpLinkSpec,
    opts: LinkOptions = {},
  ) {
    super(spec, opts);
    this.connect();
  }

  private connect(): void {
    const s = net.connect({ host: this.spec.host, port: this.spec.port });
    this.socket = s;
    s.setNoDelay(true);
    s.setTimeout(this.opts.connectTimeoutMs, () => {
      s.destroy(new Error(`connect timed out after ${this.opts.connectTimeoutMs} ms`));
    });
    s.once('connect', () => {
      s.setTimeout(0);
      if (this.closing) s.destroy();
      else this.markOpen();
    });
    s.on('data', (chunk: Buffer) => this.received(chunk));
    s.on('error', (e) => this.reportError(new Error(`${this.uri}: ${e.message}`, { cause: e })));
    s.on('close', () => {
      if (this.socket === s) this.socket = undefined;
      this.markClosed();
      this.scheduleReconnect(() => this.connect());
    });
  }

  write(buf: Uint8Array): boolean {
    return this.writeToStream(this.socket, buf);
  }

  protected async shutdown(): Promise<void> {
    const s = this.socket;
    this.socket = undefined;
    if (!s || s.closed) return;
    const closed = new Promise<void>((resolve) => s.once('close', () => resolve()));
    s.destroy();
    await closed;
  }
}

/**
 * UDP datagram link. Binds `bindHost:localPort` (127.0.0.1 and an ephemeral port by default). With a remote,
 * sends there; without one, answers the first peer that sends to us (as PX4 does) and stays with it.
 * Datagrams from any source are delivered as 'data'. A failed bind is retried with backoff.
 */
export class UdpLink extends Link {
  private sock: dgram.Socket | undefined;
  private peer: { host: string; port: number } | undefined;
  private bound: AddressInfo | undefined;
  private readonly waiters: Array<(a: AddressInfo) => void> = [];

  constructor(
    override readonly spec: UdpLinkSpec,
    opts: LinkOptions = {},
  ) {
    super(spec, opts);
    this.peer = spec.remote ? { ...spec.remote } : undefined;
    this.bind();
  }

  /** Where datagrams go now: the configured remote, or the peer learned from the first datagram. */
  get remote(): { host: string; port: number } | undefined {
    return this.peer ? { ...this.peer } : undefined;
  }

  /** Resolves with the bound local address (useful with port 0). */
  localAddress(): Promise<AddressInfo> {
    if (this.bound) return Promise.resolve({ ...this.bound });
    if (this.closing) return Promise.reject(new Error(`${this.uri}: closed before it was bound`));
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  private bind(): void {
    const sock = dgram.createSocket(net.isIPv6(this.spec.bindHost) ? 'udp6' : 'udp4');
    this.sock = sock;
    let listening = false;
    sock.on('error', (e) => {
      const what = listening ? 'socket error' : `bind ${this.spec.bindHost}:${this.spec.localPort} failed`;
      this.reportError(new Error(`${this.uri}: ${what}: ${e.message}`, { cause: e }));
      if (!listening) {
        sock.close();
        if (this.sock === sock) this.sock = undefined;
        this.scheduleReconnect(() => this.bind());
      }
    });
    sock.on('listening', () => {
      listening = true;
      if (this.closing) return;
      this.bound = sock.address();
      for (const w of this.waiters.splice(0)) w({ ...this.bound });
      if (this.peer) this.markOpen();
    });
    sock.on('message', (msg, rinfo) => {
      if (!this.peer) {
        this.peer = { host: rinfo.address, port: rinfo.port };
        this.opts.log?.info({ link: this.uri, peer: this.peer }, 'udp peer learned');
        this.markOpen();
      }
      this.received(msg);
    });
    sock.bind(this.spec.localPort, this.spec.bindHost);
  }

  write(buf: Uint8Array): boolean {
    const sock = this.sock;
    const peer = this.peer;
    if (!this.connected || !sock || !peer) return this.drop();
    if (sock.getSendQueueSize() > this.opts.maxBufferedBytes) return this.drop();
    try {
      sock.send(Buffer.from(buf), peer.port, peer.host, (e) => {
        if (e) this.reportError(new Error(`${this.uri}: send to ${peer.host}:${peer.port} failed: ${e.message}`, { cause: e }));
      });
    } catch (e) {
      this.reportError(errorOf(e));
      return this.drop();
    }
    this.stats.bytesOut += buf.length;
    return true;
  }

  protected async shutdown(): Promise<void> {
    const sock = this.sock;
    this.sock = undefined;
    this.waiters.length = 0;
    if (!sock) return;
    await new Promise<void>((resolve) => {
      try {
        sock.close(() => resolve());
      } catch {
        resolve(); // already closed (e.g. a failed bind)
      }
    });
  }
}

type SerialPortModule = typeof import('serialport');
type SerialPortInstance = InstanceType<SerialPortModule['SerialPort']>;

/**
 * Serial port via the `serialport` package, imported lazily so machines without it still run TCP/UDP.
 * Open failures (missing device, permissions, busy) are reported with path, baud and cause, then retried.
 */
export class SerialLink extends Link {
  private port: SerialPortInstance | undefined;

  constructor(
    override readonly spec: SerialLinkSpec,
    opts: LinkOptions = {},
  ) {
    super(spec, opts);
    void this.connect();
  }

  private async connect(): Promise<void> {
    const { path, baudRate } = this.spec;
    let mod: SerialPortModule;
    try {
      mod = await import('serialport');
    } catch (e) {
      // Not retried: installing a package is not something waiting fixes.
      const cause = errorOf(e);
      this.reportError(new Error(`serial ${path} @ ${baudRate} baud: the serialport package cannot be loaded: ${cause.message}`, { cause }));
      return;
    }
    if (this.closing) return;
    let port: SerialPortInstance;
    try {
      port = new mod.SerialPort({ path, baudRate, autoOpen: false });
    } catch (e) {
      const cause = errorOf(e);
      this.reportError(new Error(`serial ${path} @ ${baudRate} baud: ${cause.message}`, { cause }));
      this.scheduleReconnect(() => void this.connect());
      return;
    }
    this.port = port;
    port.on('data', (chunk: Buffer) => this.received(chunk));
    port.on('error', (e: Error) => this.reportError(new Error(`serial ${path} @ ${baudRate} baud: ${e.message}`, { cause: e })));
    port.on('close', () => {
      if (this.port === port) this.port = undefined;
      this.markClosed();
      this.scheduleReconnect(() => void this.connect());
    });
    port.open((err) => {
      if (err) {
        if (this.port === port) this.port = undefined;
        this.reportError(new Error(`serial ${path} @ ${baudRate} baud: open failed: ${err.message.replace(/^Error: /, '')}`, { cause: err }));
        this.scheduleReconnect(() => void this.connect());
        return;
      }
      if (this.closing) port.close();
      else this.markOpen();
    });
  }

  write(buf: Uint8Array): boolean {
    return this.writeToStream(this.port, buf);
  }

  protected async shutdown(): Promise<void> {
    const port = this.port;
    this.port = undefined;
    if (!port || !port.isOpen) return;
    await new Promise<void>((resolve) => port.close(() => resolve()));
  }
}

/** Open a link from a URI or a parsed spec. Never throws for I/O problems: watch 'error' / stats.errors. */
export function openLink(spec: LinkSpec | string, opts: LinkOptions = {}): Link {
  const s = typeof spec === 'string' ? parseLinkUri(spec) : spec;
  switch (s.kind) {
    case 'tcp':
      return new TcpLink(s, opts);
    case 'udp':
      return new UdpLink(s, opts);
    case 'serial':
      return new SerialLink(s, opts);
    default: {
      const never: never = s;
      throw new Error(`unknown link kind ${JSON.stringify(never)}`);
    }
  }
}
