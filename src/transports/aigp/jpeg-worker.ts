/**
 * JPEG decode/encode (jpeg-js) on worker threads. A 640×360 frame takes jpeg-js ≈ 10–15 ms to decode
 * and ≈ 25 ms to encode: on the main thread that would stall the IMU stream and the command clock
 * for as long, so the link and the simulator do it here. Results come back in submission order.
 *
 * The worker is plain CommonJS evaluated from a string, loading jpeg-js by absolute path: it runs the
 * same under tsx, vitest and the compiled dist without a separate build step.
 */
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const jpeg = require(workerData.jpegPath);
const own = (u8) => (u8.byteOffset === 0 && u8.byteLength === u8.buffer.byteLength ? u8 : u8.slice());
parentPort.on('message', (m) => {
  const t0 = performance.now();
  try {
    if (m.op === 'decode') {
      const img = jpeg.decode(new Uint8Array(m.buf), { useTArray: true, formatAsRGBA: false, maxResolutionInMP: m.maxMP, maxMemoryUsageInMB: 64 });
      const data = own(img.data);
      parentPort.postMessage({ id: m.id, ok: true, width: img.width, height: img.height, buf: data.buffer, ms: performance.now() - t0 }, [data.buffer]);
    } else {
      const out = jpeg.encode({ data: new Uint8Array(m.buf), width: m.width, height: m.height }, m.quality);
      const data = new Uint8Array(out.data.length);
      data.set(out.data);
      parentPort.postMessage({ id: m.id, ok: true, width: m.width, height: m.height, buf: data.buffer, ms: performance.now() - t0, back: m.buf }, [data.buffer, m.buf]);
    }
  } catch (e) {
    parentPort.postMessage({ id: m.id, ok: false, error: String((e && e.message) || e), ms: performance.now() - t0 });
  }
});
`;

export interface JpegResult {
  ok: boolean;
  width: number;
  height: number;
  /** decode: rgb8 pixels; encode: the JPEG bytes. */
  data: Uint8Array;
  error?: string;
  /** Time spent in the worker, ms. */
  ms: number;
  /** encode: the RGBA input buffer, handed back for reuse. */
  back?: ArrayBuffer;
}

interface WireResult {
  id: number;
  ok: boolean;
  width?: number;
  height?: number;
  buf?: ArrayBuffer;
  error?: string;
  ms: number;
  back?: ArrayBuffer;
}

const jpegPath = createRequire(import.meta.url).resolve('jpeg-js');

export class JpegWorkers {
  private readonly workers: Worker[] = [];
  private readonly busy: number[] = [];
  private readonly waiting = new Map<number, (r: JpegResult) => void>();
  private nextId = 0;
  private rr = 0;
  private closed = false;
  /** Jobs submitted and not yet answered. */
  inFlight = 0;

  constructor(n = 1) {
    if (!(Number.isInteger(n) && n >= 1 && n <= 8)) throw new Error(`JPEG workers: count must be an integer in [1, 8], got ${n}`);
    for (let i = 0; i < n; i++) {
      const w = new Worker(WORKER_SOURCE, { eval: true, workerData: { jpegPath } });
      w.unref();
      w.on('message', (m: WireResult) => this.onResult(i, m));
      w.on('error', (e) => {
        // a crashed worker fails its jobs instead of hanging them
        for (const [id, cb] of this.waiting) cb({ ok: false, width: 0, height: 0, data: new Uint8Array(0), error: `JPEG worker failed: ${e.message}`, ms: 0 }), this.waiting.delete(id);
      });
      this.workers.push(w);
      this.busy.push(0);
    }
  }

  get size(): number {
    return this.workers.length;
  }

  /** Workers with nothing queued. */
  idle(): number {
    return this.busy.filter((b) => b === 0).length;
  }

  /** Decode a JPEG to rgb8. `jpeg`'s buffer is transferred (unusable afterwards). */
  decode(jpeg: Uint8Array, maxMP: number): Promise<JpegResult> {
    const buf = own(jpeg);
    return this.submit({ op: 'decode', buf, maxMP }, [buf]);
  }

  /** Encode RGBA pixels to JPEG. `rgba`'s buffer is transferred and handed back in the result. */
  encode(rgba: Uint8Array, width: number, height: number, quality: number): Promise<JpegResult> {
    const buf = own(rgba);
    return this.submit({ op: 'encode', buf, width, height, quality }, [buf]);
  }

  /**
   * Encode and decode one blank width×height image on every worker: the first call into jpeg-js
   * is several times slower (JIT, tables), and it should not land on the first frame in flight.
   */
  async warmUp(width: number, height: number, rounds = 3): Promise<void> {
    const n = this.workers.length;
    for (let k = 0; k < rounds; k++) {
      // textured, not flat: a flat image leaves the Huffman and IDCT paths of real frames cold
      const enc = await Promise.all(Array.from({ length: n }, () => this.encode(texture(width, height, k), width, height, 85)));
      await Promise.all(enc.map((r) => (r.ok ? this.decode(r.data, ((width * height) / 1e6) * 4) : undefined)));
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all(this.workers.map((w) => w.terminate()));
  }

  private submit(msg: Record<string, unknown>, transfer: ArrayBuffer[]): Promise<JpegResult> {
    if (this.closed) return Promise.resolve({ ok: false, width: 0, height: 0, data: new Uint8Array(0), error: 'JPEG workers closed', ms: 0 });
    // the least busy worker, round robin among equals
    let best = -1;
    for (let k = 0; k < this.workers.length; k++) {
      const i = (this.rr + k) % this.workers.length;
      if (best < 0 || this.busy[i]! < this.busy[best]!) best = i;
    }
    this.rr = (best + 1) % this.workers.length;
    const id = this.nextId++;
    this.busy[best]!++;
    this.inFlight++;
    return new Promise((resolve) => {
      this.waiting.set(id, resolve);
      this.workers[best]!.postMessage({ ...msg, id }, transfer);
    });
  }

  private onResult(worker: number, m: WireResult): void {
    this.busy[worker] = Math.max(0, this.busy[worker]! - 1);
    this.inFlight = Math.max(0, this.inFlight - 1);
    const cb = this.waiting.get(m.id);
    if (!cb) return;
    this.waiting.delete(m.id);
    cb({
      ok: m.ok,
      width: m.width ?? 0,
      height: m.height ?? 0,
      data: m.buf ? new Uint8Array(m.buf) : new Uint8Array(0),
      ms: m.ms,
      ...(m.error !== undefined ? { error: m.error } : {}),
      ...(m.back ? { back: m.back } : {}),
    });
  }
}

/** A view that owns its whole ArrayBuffer (transferable without taking a neighbour's bytes along). */
function own(u8: Uint8Array): ArrayBuffer {
  if (u8.byteOffset === 0 && u8.byteLength === u8.buffer.byteLength && u8.buffer instanceof ArrayBuffer) return u8.buffer;
  return u8.slice().buffer;
}

/** A deterministic RGBA test pattern: gradients, edges and a little noise, like a camera view. */
function texture(width: number, height: number, seed: number): Uint8Array {
  const out = new Uint8Array(width * height * 4);
  let r = (seed * 2654435761) >>> 0 || 1;
  for (let y = 0, i = 0; y < height; y++) {
    for (let x = 0; x < width; x++, i += 4) {
      r ^= r << 13;
      r ^= r >>> 17;
      r ^= r << 5;
      const n = (r >>> 0) & 15;
      const edge = ((x >> 5) + (y >> 5)) & 1 ? 60 : 0;
      out[i] = ((x * 255) / width + edge + n) & 255;
      out[i + 1] = ((y * 255) / height + n) & 255;
      out[i + 2] = (128 + edge - n) & 255;
      out[i + 3] = 255;
    }
  }
  return out;
}

/**
 * The same interface on libjpeg-turbo through sharp (libvips): ≈ 1 ms to decode a 640×360 frame
 * instead of jpeg-js's ≈ 13 ms, on libuv's thread pool so the event loop stays free. Used whenever
 * sharp's prebuilt native binary loads (linux x64/arm64 incl. the Jetson); jpeg-js workers otherwise.
 */
export class SharpJpeg {
  inFlight = 0;
  private closed = false;
  constructor(
    private readonly sharp: SharpFn,
    readonly size: number,
  ) {}

  idle(): number {
    return Math.max(0, this.size - this.inFlight);
  }

  async decode(jpeg: Uint8Array, maxMP: number): Promise<JpegResult> {
    if (this.closed) return failed('JPEG decoder closed');
    const t0 = performance.now();
    this.inFlight++;
    try {
      const img = this.sharp(jpeg, { limitInputPixels: Math.max(1, Math.floor(maxMP * 1e6)), failOn: 'error', sequentialRead: true });
      const { data, info } = await img.removeAlpha().toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
      if (info.channels !== 3) return failed(`decoded ${info.channels} channels, expected 3`, performance.now() - t0);
      return { ok: true, width: info.width, height: info.height, data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), ms: performance.now() - t0 };
    } catch (e) {
      return failed(e instanceof Error ? e.message : String(e), performance.now() - t0);
    } finally {
      this.inFlight--;
    }
  }

  async encode(rgba: Uint8Array, width: number, height: number, quality: number): Promise<JpegResult> {
    if (this.closed) return failed('JPEG encoder closed');
    const t0 = performance.now();
    this.inFlight++;
    try {
      const out = await this.sharp(rgba, { raw: { width, height, channels: 4 } }).removeAlpha().jpeg({ quality }).toBuffer();
      const back = rgba.buffer instanceof ArrayBuffer ? rgba.buffer : undefined;
      return { ok: true, width, height, data: new Uint8Array(out.buffer, out.byteOffset, out.byteLength), ms: performance.now() - t0, ...(back ? { back } : {}) };
    } catch (e) {
      return failed(e instanceof Error ? e.message : String(e), performance.now() - t0);
    } finally {
      this.inFlight--;
    }
  }

  async warmUp(width: number, height: number, rounds = 3): Promise<void> {
    for (let k = 0; k < rounds; k++) {
      const enc = await this.encode(texture(width, height, k), width, height, 85);
      if (enc.ok) await this.decode(enc.data, ((width * height) / 1e6) * 4);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}

const failed = (error: string, ms = 0): JpegResult => ({ ok: false, width: 0, height: 0, data: new Uint8Array(0), error, ms });

// the subset of sharp's API used here (sharp is loaded lazily: a platform without its binary still runs)
interface SharpImage {
  removeAlpha(): SharpImage;
  toColourspace(s: string): SharpImage;
  raw(): SharpImage;
  jpeg(o: { quality: number }): SharpImage;
  toBuffer(): Promise<Buffer>;
  toBuffer(o: { resolveWithObject: true }): Promise<{ data: Buffer; info: { width: number; height: number; channels: number } }>;
}
type SharpFn = (input: Uint8Array, o?: Record<string, unknown>) => SharpImage;

let sharpFn: SharpFn | null | undefined;
function loadSharp(): SharpFn | null {
  if (sharpFn === undefined) {
    try {
      sharpFn = createRequire(import.meta.url)('sharp') as SharpFn;
    } catch {
      sharpFn = null;
    }
  }
  return sharpFn;
}

export type JpegCodec = Pick<JpegWorkers, 'decode' | 'encode' | 'warmUp' | 'close' | 'idle' | 'size' | 'inFlight'>;

/** The fastest JPEG codec this machine has: sharp (libjpeg-turbo) when it loads, jpeg-js workers otherwise. */
export function jpegCodec(concurrency = 1): JpegCodec {
  const s = process.env['BRAINPILOT_JPEG'] === 'jpeg-js' ? null : loadSharp();
  return s ? new SharpJpeg(s, concurrency) : new JpegWorkers(concurrency);
}
