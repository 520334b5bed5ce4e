/**
 * RlsReadout: multi-output recursive least squares with exponential forgetting. One inverse
 * correlation matrix P (m×m) is shared by all outputs (they see the same features); weights W are
 * outputs×m, row-major. Per update: O(m²) for P, O(m·outputs) for W. Local in the sense the brief
 * requires: the update reads the presynaptic vector φ, the postsynaptic error e and P (a property
 * of the presynaptic population's own statistics); there is no backpropagation through anything.
 *
 * Safeguards: P starts as initP·I (regularised); P is symmetrised on every update (only the upper
 * triangle is computed and mirrored); if trace(P) exceeds maxTrace (covariance wind-up when the
 * input stops exciting some direction under forgetting) P is scaled back; if P goes non-finite or
 * loses positive diagonal it is reset to initP·I (counted). Non-finite φ/target → no update
 * (counted in nanCount).
 */
import { z } from 'zod';
import { parseParams } from './params.js';
import { allFinite, f64ToList, readF64Into, readNumber, linearPredict } from './state.js';

export const RlsParams = z.object({
  inputs: z.number().int().min(1).max(4096).describe('feature dimension m'),
  outputs: z.number().int().min(1).max(4096).describe('output dimension'),
  forgetting: z.number().min(0.9).max(1).default(0.999).describe('forgetting factor λ (memory ≈ 1/(1−λ) updates)'),
  initP: z.number().positive().max(1e8).default(100).describe('P(0) = initP·I (= 1/δ, regularisation δ)'),
  maxTrace: z.number().positive().default(1e7).describe('trace(P) cap against wind-up'),
});
export type RlsOptions = z.input<typeof RlsParams>;
export type RlsConfig = z.output<typeof RlsParams>;

export class RlsReadout {
  readonly cfg: RlsConfig;
  readonly inputs: number;
  readonly outputs: number;
  /** Weights, row j = output j. */
  readonly w: Float64Array;
  /** Inverse correlation matrix, row-major m×m, symmetric. */
  readonly p: Float64Array;
  /** A-priori error of the last update (target − W·φ before the update). */
  readonly lastError: Float64Array;
  updates = 0;
  nanCount = 0;
  resets = 0;
  traceClamps = 0;
  private readonly pphi: Float64Array;
  private readonly invLambda: number;

  constructor(opts: RlsOptions) {
    this.cfg = parseParams(RlsParams, opts, 'RlsReadout');
    this.inputs = this.cfg.inputs;
    this.outputs = this.cfg.outputs;
    this.w = new Float64Array(this.outputs * this.inputs);
    this.p = new Float64Array(this.inputs * this.inputs);
    this.lastError = new Float64Array(this.outputs);
    this.pphi = new Float64Array(this.inputs);
    this.invLambda = 1 / this.cfg.forgetting;
    this.resetP();
  }

  resetP(): void {
    const m = this.inputs;
    this.p.fill(0);
    for (let i = 0; i < m; i++) this.p[i * m + i] = this.cfg.initP;
  }

  reset(): void {
    this.w.fill(0);
    this.lastError.fill(0);
    this.resetP();
    this.updates = this.nanCount = this.resets = this.traceClamps = 0;
  }

  /** out = W·φ. */
  predict(phi: ArrayLike<number>, out: Float64Array): Float64Array {
    return linearPredict(this.w, this.inputs, this.outputs, phi, out);
  }

  /**
   * One RLS step towards `target` on features φ. `mask` (optional, per output, non-zero = learn)
   * excludes outputs whose target is unknown this tick; P is still updated (it depends only on φ).
   * Returns false (and counts) when φ or a used target is non-finite.
   */
  update(phi: ArrayLike<number>, target: ArrayLike<number>, mask?: ArrayLike<number | boolean>): boolean {
    const m = this.inputs, q = this.outputs, w = this.w, p = this.p, k = this.pphi;
    if (!allFinite(phi, m)) {
      this.nanCount++;
      return false;
    }
    for (let j = 0; j < q; j++) {
      if ((mask === undefined || mask[j]) && !Number.isFinite(target[j]!)) {
        this.nanCount++;
        return false;
      }
    }
    // k = P φ ; denom = λ + φᵀ P φ
    let phiPphi = 0;
    for (let i = 0; i < m; i++) {
      let s = 0;
      const r = i * m;
      for (let c = 0; c < m; c++) s += p[r + c]! * phi[c]!;
      k[i] = s;
      phiPphi += phi[i]! * s;
    }
    const denom = this.cfg.forgetting + phiPphi;
    if (!(denom > 0) || !Number.isFinite(denom)) {
      this.resetP();
      this.resets++;
      return false;
    }
    const invDenom = 1 / denom;
    // weights: w_j += e_j · k / denom, with the a-priori error
    for (let j = 0; j < q; j++) {
      const b = j * m;
      let y = 0;
      for (let i = 0; i < m; i++) y += w[b + i]! * phi[i]!;
      const e = mask === undefined || mask[j] ? target[j]! - y : 0;
      this.lastError[j] = e;
      if (e === 0) continue;
      const g = e * invDenom;
      for (let i = 0; i < m; i++) w[b + i] = w[b + i]! + g * k[i]!;
    }
    // P ← (P − k kᵀ/denom)/λ, symmetrised (upper triangle computed, mirrored)
    const il = this.invLambda;
    let trace = 0;
    let ok = true;
    for (let i = 0; i < m; i++) {
      const ki = k[i]! * invDenom;
      const ri = i * m;
      for (let c = i; c < m; c++) {
        const v = (0.5 * (p[ri + c]! + p[c * m + i]!) - ki * k[c]!) * il;
        p[ri + c] = v;
        p[c * m + i] = v;
      }
      const d = p[ri + i]!;
      if (!(d > 0) || !Number.isFinite(d)) ok = false;
      trace += d;
    }
    if (!ok || !Number.isFinite(trace)) {
      this.resetP();
      this.resets++;
    } else if (trace > this.cfg.maxTrace) {
      const s = this.cfg.maxTrace / trace;
      for (let i = 0; i < m * m; i++) p[i] = p[i]! * s;
      this.traceClamps++;
    }
    if (!allFinite(w)) {
      // cannot happen with finite inputs and a finite gain; belt and braces
      w.fill(0);
      this.resetP();
      this.resets++;
      return false;
    }
    this.updates++;
    return true;
  }

  saveState(): Record<string, unknown> {
    return { w: f64ToList(this.w), p: f64ToList(this.p), updates: this.updates, nanCount: this.nanCount, resets: this.resets, traceClamps: this.traceClamps };
  }

  loadState(d: Record<string, unknown>, where = 'RlsReadout'): void {
    readF64Into(d, 'w', this.w, where);
    readF64Into(d, 'p', this.p, where);
    this.updates = readNumber(d, 'updates', where);
    this.nanCount = readNumber(d, 'nanCount', where);
    this.resets = readNumber(d, 'resets', where);
    this.traceClamps = readNumber(d, 'traceClamps', where);
  }
}
