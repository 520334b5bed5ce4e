/**
 * NlmsReadout: multi-output normalised LMS, w_j += μ·e_j·φ/(ε + ‖φ‖²), optionally with IDBD
 * per-weight step sizes (Sutton 1992): β_ji += θ·e_j·φ_i·h_ji, α_ji = exp(β_ji), w_ji += α_ji·e_j·φ_i,
 * h_ji ← h_ji·(1 − α_ji·φ_i²)⁺ + α_ji·e_j·φ_i. The IDBD step sizes are normalised Autostep-style
 * (Mahmood et al. 2012): if Σ_i α_ji·φ_i² > 1 the effective steps of that row are divided by it, so
 * one update can never overshoot the target. O(m·outputs) per update; every update is local
 * (presynaptic φ, postsynaptic error, the weight's own step-size memory). Non-finite φ/target → no
 * update, counted.
 */
import { z } from 'zod';
import { parseParams } from './params.js';
import { allFinite, f64ToList, readF64Into, readNumber, linearPredict } from './state.js';

export const NlmsParams = z.object({
  inputs: z.number().int().min(1).max(100_000).describe('feature dimension m'),
  outputs: z.number().int().min(1).max(4096).describe('output dimension'),
  stepSize: z.number().positive().max(2).default(0.5).describe('NLMS μ (0 < μ < 2 for stability)'),
  eps: z.number().positive().default(1e-6).describe('regulariser of ‖φ‖²'),
  idbd: z.boolean().default(false).describe('per-weight step sizes (IDBD)'),
  metaStep: z.number().min(0).max(1).default(0.01).describe('IDBD meta step θ'),
  initStep: z.number().positive().max(1).default(0.01).describe('IDBD initial per-weight α'),
});
export type NlmsOptions = z.input<typeof NlmsParams>;
export type NlmsConfig = z.output<typeof NlmsParams>;

const LOG_ALPHA_MIN = Math.log(1e-8);
const LOG_ALPHA_MAX = 0;

export class NlmsReadout {
  readonly cfg: NlmsConfig;
  readonly inputs: number;
  readonly outputs: number;
  readonly w: Float64Array;
  /** IDBD log step sizes β (outputs×m), empty when idbd is off. */
  readonly beta: Float64Array;
  /** IDBD traces h (outputs×m), empty when idbd is off. */
  readonly h: Float64Array;
  readonly lastError: Float64Array;
  updates = 0;
  nanCount = 0;
  private readonly alpha: Float64Array;

  constructor(opts: NlmsOptions) {
    this.cfg = parseParams(NlmsParams, opts, 'NlmsReadout');
    this.inputs = this.cfg.inputs;
    this.outputs = this.cfg.outputs;
    const n = this.inputs * this.outputs;
    this.w = new Float64Array(n);
    this.beta = new Float64Array(this.cfg.idbd ? n : 0);
    this.h = new Float64Array(this.cfg.idbd ? n : 0);
    this.alpha = new Float64Array(this.cfg.idbd ? this.inputs : 0);
    this.lastError = new Float64Array(this.outputs);
    this.reset();
  }

  reset(): void {
    this.w.fill(0);
    this.beta.fill(Math.log(this.cfg.initStep));
    this.h.fill(0);
    this.lastError.fill(0);
    this.updates = this.nanCount = 0;
  }

  predict(phi: ArrayLike<number>, out: Float64Array): Float64Array {
    return linearPredict(this.w, this.inputs, this.outputs, phi, out);
  }

  /** One step towards `target`; `mask` (per output, non-zero = learn) skips unknown targets. */
  update(phi: ArrayLike<number>, target: ArrayLike<number>, mask?: ArrayLike<number | boolean>): boolean {
    const m = this.inputs, q = this.outputs, w = this.w;
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
    let nn = 0;
    for (let i = 0; i < m; i++) nn += phi[i]! * phi[i]!;
    const norm = this.cfg.stepSize / (this.cfg.eps + nn);
    for (let j = 0; j < q; j++) {
      const b = j * m;
      let y = 0;
      for (let i = 0; i < m; i++) y += w[b + i]! * phi[i]!;
      const e = mask === undefined || mask[j] ? target[j]! - y : 0;
      this.lastError[j] = e;
      if (e === 0) continue;
      if (!this.cfg.idbd) {
        const g = e * norm;
        for (let i = 0; i < m; i++) w[b + i] = w[b + i]! + g * phi[i]!;
      } else {
        this.idbdRow(b, phi, e);
      }
    }
    this.updates++;
    return true;
  }

  private idbdRow(b: number, phi: ArrayLike<number>, e: number): void {
    const m = this.inputs, w = this.w, beta = this.beta, h = this.h, a = this.alpha, th = this.cfg.metaStep;
    let load = 0;
    for (let i = 0; i < m; i++) {
      const x = phi[i]!;
      let bi = beta[b + i]! + th * e * x * h[b + i]!;
      bi = bi < LOG_ALPHA_MIN ? LOG_ALPHA_MIN : bi > LOG_ALPHA_MAX ? LOG_ALPHA_MAX : bi;
      beta[b + i] = bi;
      const ai = Math.exp(bi);
      a[i] = ai;
      load += ai * x * x;
    }
    const s = load > 1 ? 1 / load : 1;
    for (let i = 0; i < m; i++) {
      const x = phi[i]!;
      const ai = a[i]! * s;
      const step = ai * e * x;
      w[b + i] = w[b + i]! + step;
      const decay = 1 - ai * x * x;
      h[b + i] = h[b + i]! * (decay > 0 ? decay : 0) + step;
    }
  }

  saveState(): Record<string, unknown> {
    return { w: f64ToList(this.w), beta: f64ToList(this.beta), h: f64ToList(this.h), updates: this.updates, nanCount: this.nanCount };
  }

  loadState(d: Record<string, unknown>, where = 'NlmsReadout'): void {
    readF64Into(d, 'w', this.w, where);
    readF64Into(d, 'beta', this.beta, where);
    readF64Into(d, 'h', this.h, where);
    this.updates = readNumber(d, 'updates', where);
    this.nanCount = readNumber(d, 'nanCount', where);
  }
}
