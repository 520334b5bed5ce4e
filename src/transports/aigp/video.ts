/**
 * The AI Grand Prix video wire: every JPEG is split into UDP datagrams, each starting with a 24-byte
 * little-endian header (frame_id u32, chunk_id u16, total_chunks u16, jpeg_size u32, payload_size u32,
 * sim_time_ns u64) followed by payload_size bytes of the JPEG. This module is the pure codec: the
 * chunker the simulator side uses and the reassembler the client uses. No sockets here.
 *
 * The reassembler keys frames by frame_id only (no ordering is assumed on ids: a restarted sender
 * or one stray datagram must not make every later frame look old), keeps at most `maxPendingFrames`
 * partial frames and `maxJpegBytes` per frame (bounded memory), and reports every datagram or frame
 * it drops with a reason.
 */

export const VIDEO_HEADER_BYTES = 24;
/** The largest UDP payload over IPv4. */
export const MAX_UDP_PAYLOAD = 65_507;
export const MAX_CHUNK_PAYLOAD = MAX_UDP_PAYLOAD - VIDEO_HEADER_BYTES;

export interface ChunkHeader {
  frameId: number;
  chunkId: number;
  totalChunks: number;
  jpegSize: number;
  payloadSize: number;
  simTimeNs: bigint;
}

/** Write a header into the first 24 bytes of `out`. */
export function writeChunkHeader(h: ChunkHeader, out: Uint8Array, offset = 0): void {
  const v = new DataView(out.buffer, out.byteOffset + offset, VIDEO_HEADER_BYTES);
  v.setUint32(0, h.frameId >>> 0, true);
  v.setUint16(4, h.chunkId, true);
  v.setUint16(6, h.totalChunks, true);
  v.setUint32(8, h.jpegSize, true);
  v.setUint32(12, h.payloadSize, true);
  v.setBigUint64(16, BigInt.asUintN(64, h.simTimeNs), true);
}

export function readChunkHeader(buf: Uint8Array): ChunkHeader {
  if (buf.length < VIDEO_HEADER_BYTES) throw new RangeError(`video chunk of ${buf.length} bytes is shorter than the ${VIDEO_HEADER_BYTES}-byte header`);
  const v = new DataView(buf.buffer, buf.byteOffset, VIDEO_HEADER_BYTES);
  return {
    frameId: v.getUint32(0, true),
    chunkId: v.getUint16(4, true),
    totalChunks: v.getUint16(6, true),
    jpegSize: v.getUint32(8, true),
    payloadSize: v.getUint32(12, true),
    simTimeNs: v.getBigUint64(16, true),
  };
}

/**
 * Split one JPEG into datagrams of at most `maxPayload` JPEG bytes each (header included in each
 * returned buffer). All chunks but the last carry exactly maxPayload bytes.
 */
export function chunkJpeg(frameId: number, jpeg: Uint8Array, simTimeNs: bigint, maxPayload = 1400): Buffer[] {
  if (!(Number.isInteger(maxPayload) && maxPayload >= 1 && maxPayload <= MAX_CHUNK_PAYLOAD))
    throw new RangeError(`chunk payload must be an integer in [1, ${MAX_CHUNK_PAYLOAD}] bytes, got ${maxPayload}`);
  if (jpeg.length === 0) throw new RangeError('cannot chunk an empty JPEG');
  const total = Math.ceil(jpeg.length / maxPayload);
  if (total > 0xffff) throw new RangeError(`a ${jpeg.length}-byte JPEG needs ${total} chunks of ${maxPayload} bytes (the header allows 65535)`);
  const out: Buffer[] = [];
  for (let c = 0; c < total; c++) {
    const start = c * maxPayload;
    const payload = jpeg.subarray(start, Math.min(jpeg.length, start + maxPayload));
    const dg = Buffer.allocUnsafe(VIDEO_HEADER_BYTES + payload.length);
    writeChunkHeader({ frameId, chunkId: c, totalChunks: total, jpegSize: jpeg.length, payloadSize: payload.length, simTimeNs }, dg);
    dg.set(payload, VIDEO_HEADER_BYTES);
    out.push(dg);
  }
  return out;
}

export interface ReassembledFrame {
  frameId: number;
  /** Wall time (the reassembler's clock, ms) the last chunk arrived. */
  completedMs: number;
  simTimeNs: bigint;
  jpeg: Uint8Array;
}

export type VideoDropKind = 'malformed' | 'incomplete' | 'decode';

export interface ReassemblerOptions {
  /** Partial frames kept at once; the oldest (by first chunk) is dropped beyond this. */
  maxPendingFrames: number;
  /** Largest JPEG accepted, bytes. */
  maxJpegBytes: number;
  /** A partial frame older than this (wall clock, since its first chunk) is dropped, ms. */
  maxFrameAgeMs: number;
}

export const REASSEMBLER_DEFAULTS: ReassemblerOptions = { maxPendingFrames: 4, maxJpegBytes: 4 << 20, maxFrameAgeMs: 250 };

interface Pending {
  frameId: number;
  totalChunks: number;
  jpegSize: number;
  simTimeNs: bigint;
  firstMs: number;
  received: Uint8Array;
  nReceived: number;
  bytes: number;
  /** Chunks land at chunk_id × (size of a full chunk); known from any chunk that is not the last. */
  chunkStride: number;
  /** Chunks that arrived before the stride was known (only the last chunk, or a one-chunk frame). */
  early: { chunkId: number; payload: Uint8Array }[];
  data: Uint8Array;
}

export interface ReassemblerCounters {
  chunks: number;
  duplicateChunks: number;
  framesCompleted: number;
  framesDropped: number;
}

/**
 * Chunks in, whole JPEGs out. `push` never throws on bad input: a bad datagram or a frame that
 * cannot complete goes to `onDrop(kind, detail)`, a whole frame to `onFrame`.
 */
export class VideoReassembler {
  private readonly pending = new Map<number, Pending>();
  /** Recently completed frame ids, so a late duplicate chunk does not open a new partial frame. */
  private readonly done: number[] = [];
  private readonly o: ReassemblerOptions;
  readonly counters: ReassemblerCounters = { chunks: 0, duplicateChunks: 0, framesCompleted: 0, framesDropped: 0 };

  constructor(
    private readonly onFrame: (f: ReassembledFrame) => void,
    private readonly onDrop: (kind: VideoDropKind, detail: string) => void,
    o: Partial<ReassemblerOptions> = {},
    private readonly nowMs: () => number = () => performance.now(),
  ) {
    this.o = { ...REASSEMBLER_DEFAULTS, ...o };
  }

  get pendingFrames(): number {
    return this.pending.size;
  }

  push(dg: Uint8Array): void {
    if (dg.length < VIDEO_HEADER_BYTES) return this.onDrop('malformed', `video datagram of ${dg.length} bytes is shorter than the ${VIDEO_HEADER_BYTES}-byte header`);
    const h = readChunkHeader(dg);
    const body = dg.length - VIDEO_HEADER_BYTES;
    if (h.payloadSize !== body) return this.onDrop('malformed', `video chunk ${h.frameId}/${h.chunkId}: payload_size ${h.payloadSize} but ${body} bytes follow the header (${h.payloadSize > body ? 'truncated' : 'oversized'})`);
    if (h.totalChunks === 0 || h.chunkId >= h.totalChunks) return this.onDrop('malformed', `video chunk ${h.frameId}: chunk_id ${h.chunkId} not below total_chunks ${h.totalChunks}`);
    if (h.payloadSize === 0) return this.onDrop('malformed', `video chunk ${h.frameId}/${h.chunkId} carries no payload`);
    if (h.jpegSize === 0 || h.jpegSize > this.o.maxJpegBytes) return this.onDrop('malformed', `video frame ${h.frameId}: jpeg_size ${h.jpegSize} outside [1, ${this.o.maxJpegBytes}]`);
    if (h.payloadSize > h.jpegSize) return this.onDrop('malformed', `video chunk ${h.frameId}/${h.chunkId}: payload_size ${h.payloadSize} > jpeg_size ${h.jpegSize}`);
    if (h.totalChunks > h.jpegSize) return this.onDrop('malformed', `video frame ${h.frameId}: ${h.totalChunks} chunks for ${h.jpegSize} bytes`);
    this.counters.chunks++;
    const now = this.nowMs();
    this.expire(now);
    if (this.done.includes(h.frameId) && !this.pending.has(h.frameId)) {
      this.counters.duplicateChunks++;
      return;
    }
    let p = this.pending.get(h.frameId);
    if (!p) {
      while (this.pending.size >= this.o.maxPendingFrames) {
        const oldest = this.pending.values().next().value!;
        this.dropPending(oldest, `${this.o.maxPendingFrames} newer frames pending`);
      }
      p = {
        frameId: h.frameId,
        totalChunks: h.totalChunks,
        jpegSize: h.jpegSize,
        simTimeNs: h.simTimeNs,
        firstMs: now,
        received: new Uint8Array(h.totalChunks),
        nReceived: 0,
        bytes: 0,
        chunkStride: 0,
        early: [],
        data: new Uint8Array(h.jpegSize),
      };
      this.pending.set(h.frameId, p);
    } else if (p.totalChunks !== h.totalChunks || p.jpegSize !== h.jpegSize || p.simTimeNs !== h.simTimeNs) {
      // chunks of one frame that disagree: the frame cannot be trusted
      const why = `video frame ${h.frameId}: chunk ${h.chunkId} says total_chunks ${h.totalChunks}, jpeg_size ${h.jpegSize}, sim_time_ns ${h.simTimeNs}; earlier chunks said ${p.totalChunks}, ${p.jpegSize}, ${p.simTimeNs}`;
      this.pending.delete(p.frameId);
      this.counters.framesDropped++;
      return this.onDrop('malformed', why);
    }
    if (p.received[h.chunkId]) {
      this.counters.duplicateChunks++;
      return;
    }
    const payload = dg.subarray(VIDEO_HEADER_BYTES);
    const last = h.chunkId === h.totalChunks - 1;
    if (!last) {
      if (p.chunkStride === 0) p.chunkStride = h.payloadSize;
      else if (p.chunkStride !== h.payloadSize) return this.badFrame(p, `chunk ${h.chunkId} carries ${h.payloadSize} bytes, other full chunks ${p.chunkStride}`);
    }
    p.received[h.chunkId] = 1;
    p.nReceived++;
    p.bytes += h.payloadSize;
    if (p.bytes > p.jpegSize) return this.badFrame(p, `chunks carry more than jpeg_size ${p.jpegSize} bytes`);
    if (p.chunkStride === 0) p.early.push({ chunkId: h.chunkId, payload: payload.slice() });
    else {
      if (!this.place(p, h.chunkId, payload)) return;
      for (const e of p.early.splice(0)) if (!this.place(p, e.chunkId, e.payload)) return;
    }
    if (p.nReceived === p.totalChunks) {
      if (p.totalChunks === 1) {
        const e = p.early.pop();
        if (e) p.data.set(e.payload, 0);
      }
      this.pending.delete(p.frameId);
      if (p.bytes !== p.jpegSize) {
        this.counters.framesDropped++;
        return this.onDrop('decode', `video frame ${p.frameId}: chunks carry ${p.bytes} bytes, jpeg_size says ${p.jpegSize}`);
      }
      this.done.push(p.frameId);
      if (this.done.length > 16) this.done.shift();
      this.counters.framesCompleted++;
      this.onFrame({ frameId: p.frameId, completedMs: now, simTimeNs: p.simTimeNs, jpeg: p.data });
    }
  }

  /** Drop partial frames older than maxFrameAgeMs (also call this from a timer when no chunks arrive). */
  expire(now = this.nowMs()): void {
    for (const p of this.pending.values()) {
      if (now - p.firstMs > this.o.maxFrameAgeMs) this.dropPending(p, `no chunk completed it within ${this.o.maxFrameAgeMs} ms`);
    }
  }

  private place(p: Pending, chunkId: number, payload: Uint8Array): boolean {
    const at = chunkId * p.chunkStride;
    if (at + payload.length > p.jpegSize) {
      this.badFrame(p, `chunk ${chunkId} would end at byte ${at + payload.length} of a ${p.jpegSize}-byte JPEG`);
      return false;
    }
    p.data.set(payload, at);
    return true;
  }

  private badFrame(p: Pending, why: string): void {
    this.pending.delete(p.frameId);
    this.counters.framesDropped++;
    this.onDrop('malformed', `video frame ${p.frameId}: ${why}`);
  }

  private dropPending(p: Pending, why: string): void {
    this.pending.delete(p.frameId);
    this.counters.framesDropped++;
    this.onDrop('incomplete', `video frame ${p.frameId}: ${p.nReceived}/${p.totalChunks} chunks, ${why}`);
  }
}
