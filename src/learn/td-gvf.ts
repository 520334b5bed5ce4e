/**
 * TdGvf: a general value function (Sutton et al. 2011; "nexting", Modayil, White & Sutton 2014)
 * learned by true online TD(λ) (van Seijen et al. 2016), linear in the features φ. It predicts the
 * discounted sum of a cumulant c under a state-dependent continuation γ:
 *     v(φ_t) ≈ E[ c_{t+1} + γ_{t+1}·c_{t+2} + γ_{t+1}·γ_{t+2}·c_{t+3} + … ].
 * Time-to-event recipe (timeToEventCumulant below): cumulant = dt per tick, γ = 1 − dt/τ, and γ = 0
 * on the tick the event happens. Then v = τ·(1 − γ^T) for an event T ticks ahead, which
 * discountedToSeconds() inverts to T·dt. τ sets the horizon: events far beyond a few τ read as
 * "far away" (v → τ).
 *
 * Step sizes are normalised: α = stepSize / E[‖φ‖²] (running mean), so stepSize is scale-free.
 * Non-finite φ/cumulant/γ → no update, counted, and the trace is cut (the chain is broken).
 */
import { z } from 'zod';
import { parseParams } from './params.js';
import { allFinite, f64ToList, readBool, readF64Into, readNumber } from './state.js';

export const TdGvfParams = z.object({
  features: z.number().int().min(1).max(100_000).describe('feature dimension m'),
  lambda: z.number().min(0).max(1).default(0.9).describe('trace decay λ'),
  stepSize: z.number().positive().max(1).default(0.05).describe('normalised step size (α·E‖φ‖²)'),
  normTauSteps: z.number().min(1).default(1000).describe('time constant (ticks) of the running E‖φ‖²'),
});
export type TdGvfOptions = z.input<typeof TdGvfParams>;
export type TdGvfConfig = z.output<typeof TdGvfParams>;

export class TdGvf {
  readonly cfg: TdGvfConfig;
  readonly features: number;
  readonly w: Float64Array;
  /** Dutch eligibility trace. */
  readonly z: Float64Array;
  private readonly prevPhi: Float64Array;
  private hasPrev = false;
  private prevGamma = 0;
  private vOld = 0;
  private meanNormSq = 0;
  updates = 0;
  nanCount = 0;
  /** TD error of the last update. */
  lastDelta = 0;
  /** The prediction v(φ) at the features of the last step(), after its update. */
  value = 0;
  /** [cumulant, continuation γ] of the pending transition (see advance()). */
  readonly transition = new Float64Array(2);

  constructor(opts: TdGvfOptions) {
    this.cfg = parseParams(TdGvfParams, opts, 'TdGvf');
    this.features = this.cfg.features;
    this.w = new Float64Array(this.features);
    this.z = new Float64Array(this.features);
    this.prevPhi = new Float64Array(this.features);
  }

  reset(): void {
    this.w.fill(0);
    this.cutTrace();
    this.meanNormSq = 0;
    this.updates = this.nanCount = 0;
    this.lastDelta = 0;
    this.value = 0;
  }

  /** Forget the trajectory (not the weights): the next step() starts a new chain. */
  cutTrace(): void {
    this.z.fill(0);
    this.hasPrev = false;
    this.prevGamma = 0;
    this.vOld = 0;
  }

  predict(phi: ArrayLike<number>): number {
    let s = 0;
    for (let i = 0; i < this.features; i++) s += this.w[i]! * phi[i]!;
    return s;
  }

  /**
   * One transition from the previous call's features to `phi`: `cumulant` is received on this
   * transition, `gamma` is the continuation at `phi` (0 = the event happened, the prediction
   * terminates here). The updated prediction v(phi) is left in `value`.
   * (A tiny wrapper so it inlines: V8 boxes every double passed to, or returned from, a call that
   * is not inlined, and this runs every tick. The work is in advance(), which takes no doubles.)
   */
  step(phi: ArrayLike<number>, cumulant: number, gamma: number): void {
    this.transition[0] = cumulant;
    this.transition[1] = gamma;
    this.advance(phi);
  }

  /** step() with the cumulant and continuation already in transition[0] and transition[1]. */
  advance(phi: ArrayLike<number>): void {
    const cumulant = this.transition[0]!, gamma = this.transition[1]!;
    const m = this.features, w = this.w, z = this.z, x = this.prevPhi;
    if (!allFinite(phi, m) || !Number.isFinite(cumulant) || !Number.isFinite(gamma)) {
      this.nanCount++;
      this.cutTrace(); // value keeps the last good prediction
      return;
    }
    let nn = 0;
    for (let i = 0; i < m; i++) nn += phi[i]! * phi[i]!;
    const beta = 1 / this.cfg.normTauSteps;
    this.meanNormSq = this.updates === 0 && !this.hasPrev ? nn : this.meanNormSq + beta * (nn - this.meanNormSq);
    if (this.hasPrev) {
      const alpha = this.cfg.stepSize / (this.meanNormSq + 1e-12);
      const lam = this.cfg.lambda;
      let v = 0, vNext = 0, zx = 0;
      for (let i = 0; i < m; i++) {
        v += w[i]! * x[i]!;
        vNext += w[i]! * phi[i]!;
        zx += z[i]! * x[i]!;
      }
      const delta = cumulant + gamma * vNext - v;
      // true online TD(λ): z ← γλz + (1 − αγλ zᵀx)x ; w ← w + α(δ + v − v_old)z − α(v − v_old)x
      const gl = this.prevGamma * lam;
      const cx = 1 - alpha * gl * zx;
      const a1 = alpha * (delta + v - this.vOld), a2 = alpha * (v - this.vOld);
      for (let i = 0; i < m; i++) {
        const zi = gl * z[i]! + cx * x[i]!;
        z[i] = zi;
        w[i] = w[i]! + a1 * zi - a2 * x[i]!;
      }
      this.lastDelta = delta;
      this.updates++;
      this.vOld = vNext;
      if (!allFinite(w)) {
        w.fill(0);
        this.cutTrace();
        this.nanCount++;
      }
    }
    let v = 0;
    for (let i = 0; i < m; i++) {
      const p = phi[i]!;
      v += w[i]! * p;
      x[i] = p;
    }
    if (!this.hasPrev) this.vOld = v;
    this.value = v;
    this.prevGamma = gamma;
    this.hasPrev = true;
    if (gamma === 0) {
      // terminal: the next transition starts a fresh trace
      this.z.fill(0);
      this.vOld = 0;
    }
  }

  saveState(): Record<string, unknown> {
    return {
      w: f64ToList(this.w), z: f64ToList(this.z), prevPhi: f64ToList(this.prevPhi), hasPrev: this.hasPrev,
      prevGamma: this.prevGamma, vOld: this.vOld, meanNormSq: this.meanNormSq, updates: this.updates, nanCount: this.nanCount, lastDelta: this.lastDelta, value: this.value,
    };
  }

  loadState(d: Record<string, unknown>, where = 'TdGvf'): void {
    readF64Into(d, 'w', this.w, where);
    readF64Into(d, 'z', this.z, where);
    readF64Into(d, 'prevPhi', this.prevPhi, where);
    this.hasPrev = readBool(d, 'hasPrev', where);
    this.prevGamma = readNumber(d, 'prevGamma', where);
    this.vOld = readNumber(d, 'vOld', where);
    this.meanNormSq = readNumber(d, 'meanNormSq', where);
    this.updates = readNumber(d, 'updates', where);
    this.nanCount = readNumber(d, 'nanCount', where);
    this.lastDelta = readNumber(d, 'lastDelta', where);
    this.value = readNumber(d, 'value', where);
  }
}

/** Cumulant and continuation for a time-to-event GVF: c = dt, γ = 0 on the event, else 1 − dt/τ. */
export function timeToEventGamma(dtS: number, horizonS: number, event: boolean): number {
  return event ? 0 : Math.max(0, 1 - dtS / horizonS);
}

/**
 * Invert v = τ·(1 − (1 − dt/τ)^T) to the time T·dt. Saturates at `capS` (default 5τ) when v ≥ τ
 * (event "beyond the horizon") and returns 0 for v ≤ 0.
 */
export function discountedToSeconds(v: number, dtS: number, horizonS: number, capS = 5 * horizonS): number {
  if (!(v > 0)) return 0;
  const frac = v / horizonS;
  if (frac >= 1) return capS;
  const g = 1 - dtS / horizonS;
  const t = g > 0 && g < 1 ? (dtS * Math.log(1 - frac)) / Math.log(g) : -horizonS * Math.log(1 - frac);
  return Math.min(capS, t);
}
