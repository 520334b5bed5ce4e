/**
 * Seeded MSP fuzzing shared by the tests and the benchmark: builds a byte stream of valid frames mixed with
 * noise, corrupted, truncated and oversize frames, feeds it to an `MspDecoder` in random chunk sizes and
 * accounts for every valid frame.
 *
 * Two modes:
 * - clean (`adversarial: false`): noise never contains '$', corruptions are single-bit flips inside the
 *   payload or check byte (XOR and CRC-8 detect every single-bit error). Every valid frame must come out.
 * - adversarial: noise is any byte and is seeded with fake headers, bit flips hit any byte (size fields
 *   too), frames are truncated. An 8-bit check then lets through ≈ 1/256 of the bogus candidates, and a
 *   falsely accepted candidate can swallow the frames it overlaps. The report separates those losses from
 *   unexplained ones (which must be zero).
 */
import { Rng } from '../../src/rng.js';
import {
  MspDecoder,
  encodeMspV1,
  encodeMspV2,
  encodeMspV2OverV1,
  mspV1FrameLength,
  mspV2FrameLength,
  type MspDirection,
  type MspFrame,
} from './codec.js';

export interface MspFuzzOptions {
  seed: number;
  /** Number of stream items (frames, noise runs, corrupted frames...). */
  items: number;
  adversarial: boolean;
  /** Decoder maxPayload (also bounds the generated payloads). */
  maxPayload?: number;
}

export interface MspFuzzReport {
  items: number;
  streamBytes: number;
  validFrames: number;
  recovered: number;
  corrupted: number;
  truncated: number;
  oversizeHeaders: number;
  noiseBytes: number;
  /** Emitted frames that were not one of the valid frames (8-bit check collisions). */
  falseAccepts: number;
  /** Valid frames lost because a falsely accepted frame overlapped them. */
  lostToCollision: number;
  /** Valid frames lost for any other reason (must be 0). */
  unexplainedLoss: number;
  /** Exceptions escaping the decoder (must be 0). */
  exceptions: number;
  decoderStats: MspDecoder['stats'];
}

interface ValidRecord {
  start: number;
  frame: MspFrame;
}

const DOLLAR = 0x24;
const DIRS: readonly MspDirection[] = ['<', '>', '!'];

/** Build the fuzz stream. Exposed for the benchmark, which times the decoder over it. */
export function buildMspFuzzStream(opts: MspFuzzOptions): {
  stream: Buffer;
  valid: ValidRecord[];
  counts: { corrupted: number; truncated: number; oversize: number; noiseBytes: number };
} {
  const rng = new Rng(opts.seed);
  const maxPayload = opts.maxPayload ?? 300;
  const int = (lo: number, hi: number): number => lo + Math.floor(rng.next() * (hi - lo + 1));
  const pick = <T>(xs: readonly T[]): T => xs[int(0, xs.length - 1)]!;
  const cleanByte = (): number => {
    const b = int(0, 254);
    return b >= DOLLAR ? b + 1 : b; // any byte but '$'
  };
  const payload = (n: number, clean: boolean): Buffer => {
    const p = Buffer.allocUnsafe(n);
    for (let i = 0; i < n; i++) p[i] = clean ? cleanByte() : int(0, 255);
    return p;
  };
  /** A random valid frame; in clean mode its header bytes avoid '$' too (ids/sizes ≠ 0x24). */
  const validFrame = (clean: boolean): { bytes: Buffer; frame: MspFrame } => {
    const r = rng.next();
    const direction = pick(DIRS);
    let len = rng.next() < 0.03 ? int(255, Math.max(255, maxPayload)) : int(0, 64);
    len = Math.min(len, maxPayload);
    if (clean && ((len & 0xff) === DOLLAR || len >> 8 === DOLLAR)) len += 1;
    const p = payload(len, clean);
    let cmd: number;
    if (r < 0.6) {
      do cmd = int(0, 254);
      while (clean && cmd === DOLLAR);
      return { bytes: encodeMspV1(cmd, p, direction), frame: { version: 1, direction, cmd, payload: p } };
    }
    do cmd = int(0, 0xffff);
    while (clean && ((cmd & 0xff) === DOLLAR || cmd >> 8 === DOLLAR));
    const flag = clean ? 0 : int(0, 255);
    if (r < 0.9 || len + 6 > maxPayload) {
      return { bytes: encodeMspV2(cmd, p, direction, flag), frame: { version: 2, direction, cmd, flag, payload: p } };
    }
    return {
      bytes: encodeMspV2OverV1(cmd, p, direction, flag),
      frame: { version: 2, direction, cmd, flag, payload: p, overV1: true },
    };
  };
  /** Index range of the check-summed body (payload + check byte) of a frame built above. */
  const bodyRange = (bytes: Buffer): [number, number] => {
    const hdr = bytes[1] === 0x58 ? 8 : bytes[3] === 255 ? 7 : 5;
    return [hdr, bytes.length - 1];
  };

  const chunks: Buffer[] = [];
  const valid: ValidRecord[] = [];
  const counts = { corrupted: 0, truncated: 0, oversize: 0, noiseBytes: 0 };
  let pos = 0;
  const add = (b: Buffer): void => {
    chunks.push(b);
    pos += b.length;
  };

  for (let i = 0; i < opts.items; i++) {
    const k = rng.next();
    if (k < 0.5) {
      const v = validFrame(!opts.adversarial);
      valid.push({ start: pos, frame: v.frame });
      add(v.bytes);
    } else if (k < 0.7) {
      // noise
      const n = int(1, 40);
      const b = payload(n, !opts.adversarial);
      if (opts.adversarial && rng.next() < 0.3) {
        // plant a fake header somewhere in the noise
        const fake = pick([
          [0x24, 0x4d, 0x3c],
          [0x24, 0x4d, 0x3e],
          [0x24, 0x58, 0x3e],
          [0x24, 0x58, 0x3c],
        ]);
        const at = int(0, Math.max(0, n - fake.length));
        for (let j = 0; j < fake.length && at + j < n; j++) b[at + j] = fake[j]!;
      }
      counts.noiseBytes += n;
      add(b);
    } else if (k < 0.88) {
      // corrupted frame
      const v = validFrame(!opts.adversarial);
      const b = Buffer.from(v.bytes);
      if (opts.adversarial) {
        const at = int(1, b.length - 1);
        b[at] = b[at]! ^ (1 << int(0, 7));
      } else {
        // single-bit flip in payload/check byte that does not create a '$'
        const [lo, hi] = bodyRange(b);
        for (;;) {
          const at = int(lo, hi);
          const flipped = b[at]! ^ (1 << int(0, 7));
          if (flipped === DOLLAR) continue;
          b[at] = flipped;
          break;
        }
        // The check byte of the corrupted frame may itself be '$' (it was never a payload byte): re-roll.
        if (b.subarray(1).includes(DOLLAR)) {
          i--;
          continue;
        }
      }
      counts.corrupted++;
      add(b);
    } else if (k < 0.97) {
      if (!opts.adversarial) {
        i--;
        continue;
      }
      // truncated frame
      const v = validFrame(false);
      counts.truncated++;
      add(v.bytes.subarray(0, int(1, v.bytes.length - 1)));
    } else {
      if (!opts.adversarial) {
        i--;
        continue;
      }
      // header declaring an oversize payload
      const big = maxPayload + 1 + int(0, 1000);
      const b =
        rng.next() < 0.5
          ? Buffer.from([0x24, 0x4d, 0x3e, 0xff, int(0, 254), big & 0xff, big >> 8])
          : Buffer.from([0x24, 0x58, 0x3e, 0, int(0, 255), int(0, 255), big & 0xff, big >> 8]);
      counts.oversize++;
      add(b);
    }
  }
  // Close with a few clean frames so nothing valid is left waiting behind a truncated candidate.
  for (let i = 0; i < 4; i++) {
    const v = validFrame(true);
    valid.push({ start: pos, frame: v.frame });
    add(v.bytes);
  }
  return { stream: Buffer.concat(chunks), valid, counts };
}

const frameLength = (f: MspFrame): number =>
  f.overV1 ? mspV1FrameLength(f.payload.length + 6) : f.version === 1 ? mspV1FrameLength(f.payload.length) : mspV2FrameLength(f.payload.length);

const sameFrame = (a: MspFrame, b: MspFrame): boolean =>
  a.version === b.version &&
  a.direction === b.direction &&
  a.cmd === b.cmd &&
  (a.flag ?? 0) === (b.flag ?? 0) &&
  (a.overV1 ?? false) === (b.overV1 ?? false) &&
  a.payload.equals(b.payload);

/** Build the stream, decode it in random chunk sizes, account for every valid frame. */
export function runMspFuzz(opts: MspFuzzOptions): MspFuzzReport {
  const maxPayload = opts.maxPayload ?? 300;
  const { stream, valid, counts } = buildMspFuzzStream({ ...opts, maxPayload });
  const dec = new MspDecoder({ maxPayload });
  const emitted: { start: number; frame: MspFrame }[] = [];
  const onFrame = (f: MspFrame): void => {
    emitted.push({ start: dec.frameOffset, frame: f });
  };
  const rng = new Rng(opts.seed ^ 0x5a5a5a5a);
  let exceptions = 0;
  for (let off = 0; off < stream.length; ) {
    const n = 1 + Math.floor(rng.next() * 97);
    try {
      dec.push(stream.subarray(off, off + n), onFrame);
    } catch {
      exceptions++;
    }
    off += n;
  }
  dec.flush();

  const validByStart = new Map(valid.map((v) => [v.start, v.frame]));
  const recoveredStarts = new Set<number>();
  const falseSpans: [number, number][] = [];
  for (const e of emitted) {
    const v = validByStart.get(e.start);
    if (v && sameFrame(v, e.frame)) recoveredStarts.add(e.start);
    else falseSpans.push([e.start, e.start + frameLength(e.frame)]);
  }
  let lostToCollision = 0;
  let unexplainedLoss = 0;
  for (const v of valid) {
    if (recoveredStarts.has(v.start)) continue;
    const end = v.start + frameLength(v.frame);
    if (falseSpans.some(([a, b]) => a < end && v.start < b)) lostToCollision++;
    else unexplainedLoss++;
  }
  return {
    items: opts.items,
    streamBytes: stream.length,
    validFrames: valid.length,
    recovered: recoveredStarts.size,
    corrupted: counts.corrupted,
    truncated: counts.truncated,
    oversizeHeaders: counts.oversize,
    noiseBytes: counts.noiseBytes,
    falseAccepts: falseSpans.length,
    lostToCollision,
    unexplainedLoss,
    exceptions,
    decoderStats: { ...dec.stats },
  };
}
