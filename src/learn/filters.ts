/**
 * Temporal basis pieces: AlphaFilterBank (each input channel through alpha or exponential low-pass
 * filters with time constants 5–200 ms: the "p_i = G_i ∗ x" of the Dean–Porrill adaptive filter) and
 * DelayLine (a time-stamped ring buffer of vectors, e.g. the cerebellum's eligibility buffer holding
 * p from d seconds ago). Both preallocate everything; step/push/read never allocate.
 */
import { z } from 'zod';
import { parseParams } from './params.js';
import { f64ToList, readF64Into, readNumber } from './state.js';

/** Log-spaced time constants from lo to hi (inclusive), e.g. logSpacedTaus(5e-3, 0.2, 6). */
export function logSpacedTaus(loS: number, hiS: number, n: number): number[] {
  if (n === 1) return [loS];
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push(loS * Math.pow(hiS / loS, i / (n - 1)));
  return out;
}

export const AlphaFilterBankParams = z.object({
  channels: z.number().int().min(1).max(10_000).describe('input channels'),
  tausS: z.array(z.number().min(1e-4).max(10)).min(1).max(64).default(logSpacedTaus(0.005, 0.2, 6)).describe('time constants, s'),
  kind: z.enum(['alpha', 'exp']).default('alpha').describe('alpha = two cascaded first-order stages (impulse t/τ²·e^(−t/τ)); exp = one stage'),
  includeRaw: z.boolean().default(true).describe('also pass the raw input through (τ = 0 tap)'),
});
export type AlphaFilterBankOptions = z.input<typeof AlphaFilterBankParams>;
export type AlphaFilterBankConfig = z.output<typeof AlphaFilterBankParams>;

/**
 * Output layout: out[c·stride + j] for channel c, tap j; tap 0 is the raw input when includeRaw,
 * then one tap per τ in the order given. All filters have unit DC gain. The discretisation is exact
 * for a zero-order-held input, a = exp(−dt/τ), so variable dt is handled (the coefficients are only
 * recomputed when dt changes).
 */
export class AlphaFilterBank {
  readonly cfg: AlphaFilterBankConfig;
  readonly channels: number;
  readonly taps: number;
  readonly size: number;
  readonly out: Float64Array;
  /** First stage state (channels × nτ). */
  private readonly s1: Float64Array;
  private readonly s2: Float64Array;
  private readonly a: Float64Array;
  private readonly taus: Float64Array;
  private lastDt = NaN;
  private readonly raw: number;
  private readonly alpha: boolean;
  nanCount = 0;

  constructor(opts: AlphaFilterBankOptions) {
    this.cfg = parseParams(AlphaFilterBankParams, opts, 'AlphaFilterBank');
    this.channels = this.cfg.channels;
    this.raw = this.cfg.includeRaw ? 1 : 0;
    this.taus = Float64Array.from(this.cfg.tausS);
    this.taps = this.taus.length + this.raw;
    this.size = this.channels * this.taps;
    this.out = new Float64Array(this.size);
    this.s1 = new Float64Array(this.channels * this.taus.length);
    this.s2 = new Float64Array(this.channels * this.taus.length);
    this.a = new Float64Array(this.taus.length);
    this.alpha = this.cfg.kind === 'alpha';
  }

  reset(): void {
    this.s1.fill(0);
    this.s2.fill(0);
    this.out.fill(0);
    this.lastDt = NaN;
    this.nanCount = 0;
  }

  /** Advance by dtS with input x (length ≥ channels); returns this.out. A non-finite x_c holds channel c (counted). */
  step(x: ArrayLike<number>, dtS: number): Float64Array {
    const nt = this.taus.length, a = this.a, s1 = this.s1, s2 = this.s2, out = this.out;
    if (dtS !== this.lastDt) {
      for (let j = 0; j < nt; j++) a[j] = Math.exp(-dtS / this.taus[j]!);
      this.lastDt = dtS;
    }
    for (let c = 0; c < this.channels; c++) {
      const xc = x[c]!;
      const o = c * this.taps;
      if (!Number.isFinite(xc)) {
        this.nanCount++;
        continue;
      }
      if (this.raw) out[o] = xc;
      const sb = c * nt;
      for (let j = 0; j < nt; j++) {
        const aj = a[j]!;
        const v1 = aj * s1[sb + j]! + (1 - aj) * xc;
        s1[sb + j] = v1;
        if (this.alpha) {
          const v2 = aj * s2[sb + j]! + (1 - aj) * v1;
          s2[sb + j] = v2;
          out[o + this.raw + j] = v2;
        } else {
          out[o + this.raw + j] = v1;
        }
      }
    }
    return out;
  }

  saveState(): Record<string, unknown> {
    return { s1: f64ToList(this.s1), s2: f64ToList(this.s2), out: f64ToList(this.out), nanCount: this.nanCount };
  }

  loadState(d: Record<string, unknown>, where = 'AlphaFilterBank'): void {
    readF64Into(d, 's1', this.s1, where);
    readF64Into(d, 's2', this.s2, where);
    readF64Into(d, 'out', this.out, where);
    this.nanCount = readNumber(d, 'nanCount', where);
    this.lastDt = NaN;
  }
}

/**
 * DelayLine: ring buffer of `capacity` time-stamped vectors of length `dim`. push() overwrites the
 * oldest entry. readDelayed(nowS, delayS, out) copies the stored vector whose stamp is nearest to
 * nowS − delayS (searching back from the newest) and returns false when the history does not
 * reach back that far yet (or the buffer is too short for the delay at this tick rate).
 */
export class DelayLine {
  readonly dim: number;
  readonly capacity: number;
  private readonly data: Float64Array;
  private readonly stamp: Float64Array;
  private head = 0; // next write slot
  private count = 0;

  constructor(dim: number, capacity: number) {
    if (!Number.isInteger(dim) || dim < 1) throw new Error(`DelayLine: dim must be a positive integer, got ${dim}`);
    if (!Number.isInteger(capacity) || capacity < 1) throw new Error(`DelayLine: capacity must be a positive integer, got ${capacity}`);
    this.dim = dim;
    this.capacity = capacity;
    this.data = new Float64Array(dim * capacity);
    this.stamp = new Float64Array(capacity);
  }

  get length(): number {
    return this.count;
  }

  reset(): void {
    this.head = 0;
    this.count = 0;
    this.data.fill(0);
    this.stamp.fill(0);
  }

  push(tS: number, v: ArrayLike<number>): void {
    const o = this.head * this.dim;
    for (let i = 0; i < this.dim; i++) this.data[o + i] = v[i]!;
    this.stamp[this.head] = tS;
    this.head = (this.head + 1) % this.capacity;
    if (this.count < this.capacity) this.count++;
  }

  /** Copy the entry k pushes ago (0 = newest) into out; false if there are not that many. */
  readBack(k: number, out: Float64Array): boolean {
    if (k < 0 || k >= this.count) return false;
    const slot = (this.head - 1 - k + 2 * this.capacity) % this.capacity;
    const o = slot * this.dim;
    for (let i = 0; i < this.dim; i++) out[i] = this.data[o + i]!;
    return true;
  }

  /** Stamp of the entry k pushes ago (NaN if absent). */
  stampBack(k: number): number {
    if (k < 0 || k >= this.count) return NaN;
    return this.stamp[(this.head - 1 - k + 2 * this.capacity) % this.capacity]!;
  }

  readDelayed(nowS: number, delayS: number, out: Float64Array): boolean {
    // plain loop over the stamps (no helper returning doubles: those box a heap number per call)
    const target = nowS - delayS, cap = this.capacity, stamp = this.stamp;
    let slot = (this.head - 1 + cap) % cap;
    let newer = -1;
    for (let k = 0; k < this.count; k++) {
      const t = stamp[slot]!;
      if (t <= target) {
        // nearest of this entry (at or before target) and the next newer one (after target)
        if (newer >= 0 && stamp[newer]! - target < target - t) slot = newer;
        const o = slot * this.dim;
        for (let i = 0; i < this.dim; i++) out[i] = this.data[o + i]!;
        return true;
      }
      newer = slot;
      slot = slot === 0 ? cap - 1 : slot - 1;
    }
    return false;
  }

  saveState(): Record<string, unknown> {
    return { data: f64ToList(this.data), stamp: f64ToList(this.stamp), head: this.head, count: this.count };
  }

  loadState(d: Record<string, unknown>, where = 'DelayLine'): void {
    readF64Into(d, 'data', this.data, where);
    readF64Into(d, 'stamp', this.stamp, where);
    const head = readNumber(d, 'head', where), count = readNumber(d, 'count', where);
    if (!Number.isInteger(head) || head < 0 || head >= this.capacity || !Number.isInteger(count) || count < 0 || count > this.capacity) {
      throw new Error(`${where}: head/count out of range for capacity ${this.capacity}`);
    }
    this.head = head;
    this.count = count;
  }
}
