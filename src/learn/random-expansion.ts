/**
 * RandomExpansion: a fixed, wide, sparse random projection followed by a nonlinearity: "pattern
 * separation" as in cerebellar granule cells (and the random-feature recipe in
 * brain-mechanisms.md). Input dim n → m features; feature j reads k distinct random inputs with
 * Gaussian weights (scaled 1/√k) plus a uniform random bias, then tanh or a rectifier. The
 * projection never learns: only the readout on top of it does. Fully determined by its seed, so a
 * snapshot only needs the seed (and the layout is re-checked on load).
 */
import { z } from 'zod';
import { Rng } from '../rng.js';
import { parseParams } from './params.js';

export const RandomExpansionParams = z.object({
  inputs: z.number().int().min(1).max(100_000).describe('input dimension n'),
  features: z.number().int().min(0).max(100_000).describe('number of random features m'),
  fanIn: z.number().int().min(1).max(1_000).default(4).describe('inputs per feature k (clipped to n)'),
  seed: z.number().int().default(1).describe('projection seed'),
  activation: z.enum(['tanh', 'relu']).default('tanh').describe('nonlinearity'),
  weightScale: z.number().positive().max(1e3).default(1).describe('std of input weights × √k'),
  biasScale: z.number().min(0).max(1e3).default(1).describe('bias ~ U(−biasScale, biasScale)'),
});
export type RandomExpansionOptions = z.input<typeof RandomExpansionParams>;
export type RandomExpansionConfig = z.output<typeof RandomExpansionParams>;

export class RandomExpansion {
  readonly cfg: RandomExpansionConfig;
  readonly inputs: number;
  readonly features: number;
  /** Effective fan-in: min(k, n). */
  readonly fanIn: number;
  /** Input index of connection c of feature j at [j·fanIn + c]. */
  readonly index: Int32Array;
  readonly weight: Float64Array;
  readonly bias: Float64Array;
  /** Default output buffer (reused every call). */
  readonly out: Float64Array;
  private readonly relu: boolean;

  constructor(opts: RandomExpansionOptions) {
    this.cfg = parseParams(RandomExpansionParams, opts, 'RandomExpansion');
    const { inputs, features, seed, weightScale, biasScale } = this.cfg;
    this.inputs = inputs;
    this.features = features;
    this.fanIn = Math.min(this.cfg.fanIn, inputs);
    this.relu = this.cfg.activation === 'relu';
    const k = this.fanIn;
    this.index = new Int32Array(features * k);
    this.weight = new Float64Array(features * k);
    this.bias = new Float64Array(features);
    this.out = new Float64Array(features);
    const rng = new Rng(seed);
    const perm = new Int32Array(inputs);
    const ws = weightScale / Math.sqrt(k);
    for (let j = 0; j < features; j++) {
      // k distinct inputs by a partial Fisher–Yates shuffle
      for (let i = 0; i < inputs; i++) perm[i] = i;
      for (let c = 0; c < k; c++) {
        const r = c + Math.floor(rng.next() * (inputs - c));
        const t = perm[c]!;
        perm[c] = perm[r]!;
        perm[r] = t;
        this.index[j * k + c] = perm[c]!;
        this.weight[j * k + c] = ws * rng.gauss();
      }
      this.bias[j] = biasScale * (2 * rng.next() - 1);
    }
  }

  /** φ = f(W_sparse·x + b) into `out` (default: this.out) starting at `offset`. No allocation. */
  transform(x: ArrayLike<number>, out: Float64Array = this.out, offset = 0): Float64Array {
    const k = this.fanIn;
    const idx = this.index, w = this.weight, b = this.bias;
    for (let j = 0; j < this.features; j++) {
      let s = b[j]!;
      const base = j * k;
      for (let c = 0; c < k; c++) s += w[base + c]! * x[idx[base + c]!]!;
      out[offset + j] = this.relu ? (s > 0 ? s : 0) : Math.tanh(s);
    }
    return out;
  }

  /** Number of non-zero entries of the (conceptual) m×n projection matrix. */
  get nonZeros(): number {
    return this.features * this.fanIn;
  }
}
