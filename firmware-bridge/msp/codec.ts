/**
 * MSP framing: encoders for MSP v1 / v2 and a resynchronising decoder, as a pure core (`MspDecoder`) and a
 * Node stream stage (`MspSplitter`: bytes in, `MspFrame` objects out). Payload meaning lives in messages.ts.
 *
 * Wire formats (Betaflight src/main/msp/msp_serial.c, mspSerialEncode / mspSerialProcessReceivedData):
 *   v1:        '$' 'M' dir  size:u8  cmd:u8  payload[size]  xor
 *   v1 jumbo:  '$' 'M' dir  0xFF     cmd:u8  size:u16le  payload[size]  xor      (used when size >= 255)
 *              xor = XOR of every byte from `size` up to the end of the payload (jumbo size bytes included)
 *   v2:        '$' 'X' dir  flag:u8  cmd:u16le  size:u16le  payload[size]  crc8
 *              crc8 = CRC-8/DVB-S2 (poly 0xD5, init 0) of flag..payload
 *   v2-in-v1:  a v1 frame with cmd 255 whose payload is [flag cmd:u16 size:u16 payload crc8]; both checks apply
 *   dir:       '<' request (host → FC), '>' reply, '!' error reply (the FC did not accept the command)
 */
import { Transform, type TransformCallback } from 'node:stream';

export type MspDirection = '<' | '>' | '!';

/** One decoded frame. `payload` is always a private copy, safe to keep. */
export interface MspFrame {
  version: 1 | 2;
  direction: MspDirection;
  cmd: number;
  /** MSP v2 flag byte (v2 frames only). */
  flag?: number;
  payload: Buffer;
  /** True for an MSP v2 frame that arrived tunnelled in a v1 frame (v1 cmd 255). */
  overV1?: boolean;
}

const DOLLAR = 0x24; // '$'
const CH_M = 0x4d; // 'M'
const CH_X = 0x58; // 'X'
const CH_LT = 0x3c; // '<'
const CH_GT = 0x3e; // '>'
const CH_BANG = 0x21; // '!'
/** v1 size byte meaning "a u16 size follows the command byte". */
const JUMBO_SIZE = 255;
/** v1 command id that marks an MSP v2 frame carried inside the v1 payload. */
export const MSP_V2_FRAME_ID = 255;

const EMPTY = Buffer.alloc(0);

const dirByte = (d: MspDirection): number => (d === '<' ? CH_LT : d === '>' ? CH_GT : CH_BANG);
const dirChar = (b: number): MspDirection | undefined =>
  b === CH_LT ? '<' : b === CH_GT ? '>' : b === CH_BANG ? '!' : undefined;

// ---------------------------------------------------------------------------------------------------------
// CRC-8/DVB-S2
// ---------------------------------------------------------------------------------------------------------

/** CRC-8/DVB-S2: poly 0xD5, init 0x00, no reflection, no final xor. Check value ("123456789") = 0xBC. */
const CRC8_TABLE = (() => {
  const t = new Uint8Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 0x80 ? ((c << 1) ^ 0xd5) & 0xff : (c << 1) & 0xff;
    t[i] = c;
  }
  return t;
})();

/** Feed one byte into a running CRC-8/DVB-S2 (the form Betaflight's crc8_dvb_s2(crc, byte) has). */
export const crc8DvbS2 = (crc: number, byte: number): number => CRC8_TABLE[(crc ^ byte) & 0xff]!;

/** CRC-8/DVB-S2 of data[start, end), continuing from `crc`. */
export function crc8DvbS2Buf(data: Uint8Array, start = 0, end = data.length, crc = 0): number {
  let c = crc & 0xff;
  for (let i = start; i < end; i++) c = CRC8_TABLE[c ^ data[i]!]!;
  return c;
}

const xorBuf = (data: Uint8Array, start: number, end: number, x = 0): number => {
  for (let i = start; i < end; i++) x ^= data[i]!;
  return x;
};

// ---------------------------------------------------------------------------------------------------------
// Encoders
// ---------------------------------------------------------------------------------------------------------

const checkU16Payload = (len: number): void => {
  if (len > 0xffff) throw new RangeError(`MSP payload of ${len} bytes exceeds 65535`);
};

/** Bytes an MSP v1 frame with this payload length occupies (jumbo above 254). */
export const mspV1FrameLength = (payloadLength: number): number =>
  (payloadLength >= JUMBO_SIZE ? 7 : 5) + payloadLength + 1;

/** Bytes an MSP v2 frame with this payload length occupies. */
export const mspV2FrameLength = (payloadLength: number): number => 8 + payloadLength + 1;

/** v1 framing without the command-id policy (cmd 255 is legal here: it carries tunnelled v2). */
function writeV1Frame(target: Uint8Array, offset: number, cmd: number, payload: Uint8Array, direction: MspDirection): number {
  const n = payload.length;
  checkU16Payload(n);
  const total = mspV1FrameLength(n);
  if (offset < 0 || offset + total > target.length) throw new RangeError('target too small for MSP v1 frame');
  let p = offset;
  target[p++] = DOLLAR;
  target[p++] = CH_M;
  target[p++] = dirByte(direction);
  const csStart = p;
  if (n >= JUMBO_SIZE) {
    // Betaflight switches to a jumbo header at 255 bytes: size byte 255, then cmd, then the real u16 size.
    target[p++] = JUMBO_SIZE;
    target[p++] = cmd;
    target[p++] = n & 0xff;
    target[p++] = n >>> 8;
  } else {
    target[p++] = n;
    target[p++] = cmd;
  }
  target.set(payload, p);
  p += n;
  target[p] = xorBuf(target, csStart, p);
  return total;
}

/**
 * Write an MSP v1 frame into `target` at `offset` (no allocation: for the per-tick command path).
 * @returns the number of bytes written.
 */
export function writeMspV1(
  target: Uint8Array,
  offset: number,
  cmd: number,
  payload: Uint8Array = EMPTY,
  direction: MspDirection = '<',
): number {
  if (!Number.isInteger(cmd) || cmd < 0 || cmd > 254) {
    throw new RangeError(
      cmd === MSP_V2_FRAME_ID || cmd > 255
        ? `MSP command ${cmd} does not fit MSP v1 (255 is the v2 marker); use encodeMspV2`
        : `invalid MSP command ${cmd}`,
    );
  }
  return writeV1Frame(target, offset, cmd, payload, direction);
}

/** Write an MSP v2 frame into `target` at `offset`. @returns the number of bytes written. */
export function writeMspV2(
  target: Uint8Array,
  offset: number,
  cmd: number,
  payload: Uint8Array = EMPTY,
  direction: MspDirection = '<',
  flag = 0,
): number {
  if (!Number.isInteger(cmd) || cmd < 0 || cmd > 0xffff) throw new RangeError(`invalid MSP v2 command ${cmd}`);
  if (!Number.isInteger(flag) || flag < 0 || flag > 0xff) throw new RangeError(`invalid MSP v2 flag ${flag}`);
  const n = payload.length;
  checkU16Payload(n);
  const total = mspV2FrameLength(n);
  if (offset < 0 || offset + total > target.length) throw new RangeError('target too small for MSP v2 frame');
  let p = offset;
  target[p++] = DOLLAR;
  target[p++] = CH_X;
  target[p++] = dirByte(direction);
  const crcStart = p;
  target[p++] = flag;
  target[p++] = cmd & 0xff;
  target[p++] = cmd >>> 8;
  target[p++] = n & 0xff;
  target[p++] = n >>> 8;
  target.set(payload, p);
  p += n;
  target[p] = crc8DvbS2Buf(target, crcStart, p);
  return total;
}

/** Encode an MSP v1 frame (`cmd` 0..254; payloads of 255+ bytes get the jumbo header). */
export function encodeMspV1(cmd: number, payload: Uint8Array = EMPTY, direction: MspDirection = '<'): Buffer {
  const out = Buffer.allocUnsafe(mspV1FrameLength(payload.length));
  writeMspV1(out, 0, cmd, payload, direction);
  return out;
}

/** Encode an MSP v2 frame (`cmd` 0..65535). */
export function encodeMspV2(
  cmd: number,
  payload: Uint8Array = EMPTY,
  direction: MspDirection = '<',
  flag = 0,
): Buffer {
  const out = Buffer.allocUnsafe(mspV2FrameLength(payload.length));
  writeMspV2(out, 0, cmd, payload, direction, flag);
  return out;
}

/**
 * Encode an MSP v2 frame tunnelled in v1 (v1 cmd 255): what Betaflight answers with when asked that way.
 * Mostly useful for tests and for links whose far end only speaks '$M'.
 */
export function encodeMspV2OverV1(
  cmd: number,
  payload: Uint8Array = EMPTY,
  direction: MspDirection = '<',
  flag = 0,
): Buffer {
  const inner = encodeMspV2(cmd, payload, direction, flag).subarray(3); // flag..crc
  const out = Buffer.allocUnsafe(mspV1FrameLength(inner.length));
  writeV1Frame(out, 0, MSP_V2_FRAME_ID, inner, direction);
  return out;
}

/** Encode with the smallest framing that can carry `cmd`: v1 for 0..254, v2 above. */
export const encodeMsp = (cmd: number, payload: Uint8Array = EMPTY, direction: MspDirection = '<'): Buffer =>
  cmd <= 254 ? encodeMspV1(cmd, payload, direction) : encodeMspV2(cmd, payload, direction);

// ---------------------------------------------------------------------------------------------------------
// Decoder
// ---------------------------------------------------------------------------------------------------------

export interface MspDecoderStats {
  /** Frames emitted. */
  frames: number;
  /** Candidate frames whose XOR / CRC8 (or tunnelled v2 header) did not check out. */
  badChecksum: number;
  /** Bytes discarded outside emitted frames (noise, rejected headers, the '$' of each rejected candidate). */
  garbageBytes: number;
  /** Candidate frames whose declared payload size exceeded `maxPayload` (rejected without buffering). */
  oversize: number;
}

export interface MspDecoderOptions {
  /**
   * Largest payload accepted, bytes. It bounds the decoder's memory (one frame) and how long a corrupted
   * size field can hold back the frames behind it. Betaflight's biggest replies on a quad (BOXNAMES,
   * BOARD_INFO) are a few hundred bytes; its own inbound limit is 192 (MSP_PORT_INBUF_SIZE).
   */
  maxPayload?: number;
}

export const MSP_DEFAULT_MAX_PAYLOAD = 1024;

const NEED_MORE = 0;
const REJECT = -1;

/**
 * Byte-stream → frames. Sync-free: `push()` any chunking of any bytes; it never throws on input.
 *
 * Resync rule: a candidate frame starts at every '$'. If the candidate fails (bad header byte, oversize,
 * bad checksum) only that '$' is dropped and scanning restarts at the next byte, so a valid frame hidden
 * behind a truncated or corrupted one is still found. The price is that a corrupted size field makes the
 * decoder wait for that many bytes (at most `maxPayload`) before it can give up on the candidate.
 * An 8-bit check cannot reject everything: a random candidate passes with p ≈ 1/256.
 *
 * Memory: one frame (`maxPayload` + 9 bytes), allocated once.
 */
export class MspDecoder {
  readonly maxPayload: number;
  readonly stats: MspDecoderStats = { frames: 0, badChecksum: 0, garbageBytes: 0, oversize: 0 };
  /**
   * Absolute stream offset (bytes since construction/reset) of the '$' of the frame being emitted; valid
   * inside the `onFrame` callback. Lets callers map frames back to the byte stream (fuzzing, latency logs).
   */
  frameOffset = -1;

  private readonly pending: Buffer;
  private pendingLen = 0;
  /** Absolute offset of pending[0]. */
  private pendingBase = 0;
  /** Bytes pushed so far. */
  private received = 0;
  private onFrame: (f: MspFrame) => void = () => {};

  constructor(opts: MspDecoderOptions = {}) {
    const max = opts.maxPayload ?? MSP_DEFAULT_MAX_PAYLOAD;
    if (!Number.isInteger(max) || max < 0 || max > 0xffff) throw new RangeError(`invalid maxPayload ${max}`);
    this.maxPayload = max;
    // Longest frame: v2 header 8 + payload + crc 1 (v1 jumbo is 7 + payload + 1).
    this.pending = Buffer.alloc(max + 9);
  }

  /** Bytes held back waiting for the rest of a candidate frame. */
  get bufferedBytes(): number {
    return this.pendingLen;
  }

  /** Feed bytes; `onFrame` is called synchronously for each complete, valid frame, in stream order. */
  push(chunk: Uint8Array, onFrame: (f: MspFrame) => void): void {
    this.onFrame = onFrame;
    const src = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    const n = src.length;
    let off = 0;
    // 1. A partial candidate is buffered: top it up from the chunk until it resolves.
    while (this.pendingLen > 0 && off < n) {
      const take = Math.min(n - off, this.pending.length - this.pendingLen);
      src.copy(this.pending, this.pendingLen, off, off + take);
      this.pendingLen += take;
      off += take;
      let k = this.scan(this.pending, 0, this.pendingLen, this.pendingBase);
      if (k === 0 && take === 0) {
        // Unreachable while the buffer holds a whole max-size frame; kept so no input can spin this loop.
        this.stats.garbageBytes += 1;
        k = 1;
      }
      if (k > 0) {
        this.pending.copyWithin(0, k, this.pendingLen);
        this.pendingLen -= k;
        this.pendingBase += k;
      }
    }
    // 2. Nothing buffered: parse the rest of the chunk in place and keep only an unfinished tail.
    if (off < n) {
      const k = this.scan(src, off, n, this.received);
      if (k < n) {
        src.copy(this.pending, 0, k, n);
        this.pendingLen = n - k;
        this.pendingBase = this.received + k;
      }
    }
    this.received += n;
  }

  /** Drop any buffered partial frame (counted as garbage), e.g. at end of stream or after a link reset. */
  flush(): void {
    this.stats.garbageBytes += this.pendingLen;
    this.pendingBase += this.pendingLen;
    this.pendingLen = 0;
  }

  /** Scan data[i, end); returns the index of the first byte not yet resolved (a partial candidate) or end. */
  private scan(data: Buffer, i: number, end: number, base: number): number {
    while (i < end) {
      if (data[i] !== DOLLAR) {
        let j = data.indexOf(DOLLAR, i);
        if (j < 0 || j > end) j = end;
        this.stats.garbageBytes += j - i;
        i = j;
        continue;
      }
      const r = this.tryFrame(data, i, end, base);
      if (r > 0) i += r;
      else if (r === NEED_MORE) return i;
      else {
        this.stats.garbageBytes += 1;
        i += 1;
      }
    }
    return end;
  }

  /** Try a candidate at data[i] === '$'. Returns its length if emitted, NEED_MORE or REJECT. */
  private tryFrame(data: Buffer, i: number, end: number, base: number): number {
    const avail = end - i;
    if (avail < 2) return NEED_MORE;
    const proto = data[i + 1]!;
    if (proto !== CH_M && proto !== CH_X) return REJECT;
    if (avail < 3) return NEED_MORE;
    const direction = dirChar(data[i + 2]!);
    if (direction === undefined) return REJECT;

    if (proto === CH_M) {
      if (avail < 5) return NEED_MORE;
      let size = data[i + 3]!;
      const cmd = data[i + 4]!;
      let hdr = 5;
      if (size === JUMBO_SIZE) {
        if (avail < 7) return NEED_MORE;
        size = data[i + 5]! | (data[i + 6]! << 8);
        hdr = 7;
      }
      if (size > this.maxPayload) {
        this.stats.oversize++;
        return REJECT;
      }
      const total = hdr + size + 1;
      if (avail < total) return NEED_MORE;
      const pStart = i + hdr;
      const pEnd = pStart + size;
      if (xorBuf(data, i + 3, pEnd) !== data[pEnd]) {
        this.stats.badChecksum++;
        return REJECT;
      }
      if (cmd === MSP_V2_FRAME_ID) {
        // v2 tunnelled in v1: [flag cmd:u16 size:u16 payload crc8] must fill the v1 payload exactly.
        if (size < 6) {
          this.stats.badChecksum++;
          return REJECT;
        }
        const flag = data[pStart]!;
        const cmd2 = data[pStart + 1]! | (data[pStart + 2]! << 8);
        const size2 = data[pStart + 3]! | (data[pStart + 4]! << 8);
        if (5 + size2 + 1 !== size || crc8DvbS2Buf(data, pStart, pEnd - 1) !== data[pEnd - 1]) {
          this.stats.badChecksum++;
          return REJECT;
        }
        this.emit(base + i, { version: 2, direction, cmd: cmd2, flag, payload: copyOut(data, pStart + 5, pEnd - 1), overV1: true });
        return total;
      }
      this.emit(base + i, { version: 1, direction, cmd, payload: copyOut(data, pStart, pEnd) });
      return total;
    }

    // MSP v2 native
    if (avail < 8) return NEED_MORE;
    const flag = data[i + 3]!;
    const cmd = data[i + 4]! | (data[i + 5]! << 8);
    const size = data[i + 6]! | (data[i + 7]! << 8);
    if (size > this.maxPayload) {
      this.stats.oversize++;
      return REJECT;
    }
    const total = 9 + size;
    if (avail < total) return NEED_MORE;
    const pEnd = i + 8 + size;
    if (crc8DvbS2Buf(data, i + 3, pEnd) !== data[pEnd]) {
      this.stats.badChecksum++;
      return REJECT;
    }
    this.emit(base + i, { version: 2, direction, cmd, flag, payload: copyOut(data, i + 8, pEnd) });
    return total;
  }

  private emit(offset: number, f: MspFrame): void {
    this.stats.frames++;
    this.frameOffset = offset;
    this.onFrame(f);
  }
}

const copyOut = (data: Buffer, start: number, end: number): Buffer => {
  if (end <= start) return Buffer.alloc(0);
  const out = Buffer.allocUnsafe(end - start);
  data.copy(out, 0, start, end);
  return out;
};

/** Decode every complete frame in `bytes` (a convenience for tests and one-shot buffers). */
export function decodeMspFrames(bytes: Uint8Array, opts: MspDecoderOptions = {}): MspFrame[] {
  const out: MspFrame[] = [];
  new MspDecoder(opts).push(bytes, (f) => out.push(f));
  return out;
}

/**
 * Stream stage 1 (splitter): raw serial/TCP bytes in, `MspFrame` objects out. Never errors on input; the
 * decoder's counters are exposed as `stats`. Pipe it into `MspParser` (messages.ts) for typed messages.
 */
export class MspSplitter extends Transform {
  readonly decoder: MspDecoder;
  private readonly pushFrame = (f: MspFrame): void => {
    this.push(f);
  };

  constructor(opts: MspDecoderOptions = {}) {
    super({ readableObjectMode: true, writableObjectMode: false });
    this.decoder = new MspDecoder(opts);
  }

  get stats(): MspDecoderStats {
    return this.decoder.stats;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.decoder.push(chunk, this.pushFrame);
    callback();
  }

  override _flush(callback: TransformCallback): void {
    this.decoder.flush();
    callback();
  }
}
