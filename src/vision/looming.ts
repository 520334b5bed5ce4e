/**
 * Looming: the LGMD collision detector (Yue & Rind 2006) and time-to-contact τ = θ/θ' from a
 * tracked object's size. Both allocation-free per frame.
 *
 * LGMD, per frame on a coarse luminance grid L (mean grey level per cell):
 *   P = L − L_prev                                  (photoreceptors: temporal change)
 *   I = 3 × 3 blur of the previous frame's P        (lateral inhibition, one frame late;
 *       weights 0.25 on the edges, 0.125 on the corners, 0 in the centre)
 *   S = P − W_I·I where P and I have the same sign (ON inhibits ON, OFF inhibits OFF), else S = P;
 *       a cell whose S would change sign is cancelled (S = 0); then |S| < T_S is dropped
 *   k = Σ|S|;  κ = 1 / (1 + exp(−k / N_cell))      (κ ∈ [0.5, 1))
 *   spike when κ ≥ κ_spike, unless the whole field changed (feed-forward inhibition:
 *   Σ|P| / N_cell ≥ T_FFI → self-motion / a lighting change, no spike, the run is broken);
 *   collision after n_spikes spikes in a row.
 * Scale. The cells are the mean of 4 pixels (2 × 2 samples at ¼ and ¾) of each cellPx × cellPx
 * block (8 × 8 by default: 80 × 45 cells for 640 × 360), so P is in grey levels like the original's
 * per-pixel P, but an edge must move ≈ 2–4 px within a cell to count; T_S = 30 (as published) works
 * at that scale (pixel noise std 4 never reaches it). T_FFI is raised from the published 10 to 20
 * (mean |P| over the field, grey levels): in the last ≈ 150 ms before contact a dark object expanding
 * over 10–20 % of the image per frame (30 Hz) would otherwise veto itself. The veto catches abrupt
 * whole-field changes (a lighting change, a fast pan over high-contrast texture); it does NOT catch
 * the drone turning over the simulator's scene (mean |P| 3–9 at 0.5–8 rad/s, yet dozens of spiking
 * frames): that is what the corollary discharge below is for. Both thresholds assume ≈ 30–60 Hz
 * frames (P is a per-frame difference).
 *
 * Corollary discharge (an extension, optional): given the camera's rotation since the previous frame
 * (from the gyro), the previous grid is warped by it (bilinear, per cell through K·R·K⁻¹) before
 * differencing, so the drone's own turning does not excite P — as saccadic suppression and efference
 * copies do in animals. Translation-induced expansion is kept: that is looming.
 *
 * Time to contact: for an object of fixed size s at distance d approached at speed v, the image
 * size on the normalised plane is θ_n = s/d, so d(ln θ_n)/dt = v/d = 1/τ exactly (for a fronto-
 * parallel approach; θ_n ≈ θ for small angles). The estimator fits ln θ_n against the frame stamps
 * over a short window by least squares and moves the estimate from the window's mean time to the
 * newest stamp (τ decreases one-for-one with time at constant speed): τ_now = 1/slope − (t_now − t̄).
 */

export interface LgmdParams {
  /** Grid size (cells). */
  width: number;
  height: number;
  /** W_I: weight of the lateral inhibition. */
  inhibitionWeight: number;
  /** T_S: |S| below this is dropped, grey levels. */
  sThreshold: number;
  /** κ at or above this is a spike. */
  spikeKappa: number;
  /** Consecutive spikes that signal a collision. */
  spikesForCollision: number;
  /** T_FFI: whole-field veto when mean |P| ≥ this, grey levels. */
  vetoMeanAbsP: number;
  /** Pinhole intrinsics of the cell grid (cell units), for the rotation compensation. */
  fx?: number;
  fy?: number;
  cx?: number;
  cy?: number;
}

export interface LgmdState {
  /** Membrane potential κ of the last frame (0.5 = silent). */
  kappa: number;
  /** k = Σ|S| of the last frame. */
  k: number;
  /** Mean |P| of the last frame (the FFI signal). */
  meanAbsP: number;
  spike: boolean;
  vetoed: boolean;
  /** Consecutive spikes so far. */
  spikes: number;
  collision: boolean;
}

export class Lgmd {
  readonly p: Readonly<LgmdParams>;
  readonly state: LgmdState = { kappa: 0.5, k: 0, meanAbsP: 0, spike: false, vetoed: false, spikes: 0, collision: false };
  private prevL: Float32Array;
  private curL: Float32Array;
  private P: Float32Array;
  private prevP: Float32Array;
  private primed = false;
  /** Per column: (x − cx) / fx (the warp's normalised coordinate). */
  private readonly xns: Float64Array;

  constructor(p: LgmdParams) {
    if (!(p.width >= 3 && p.height >= 3)) throw new Error(`Lgmd: grid must be at least 3 × 3, got ${p.width} × ${p.height}`);
    this.p = p;
    const n = p.width * p.height;
    this.prevL = new Float32Array(n);
    this.curL = new Float32Array(n);
    this.P = new Float32Array(n);
    this.prevP = new Float32Array(n);
    this.xns = new Float64Array(p.width);
  }

  reset(): void {
    this.primed = false;
    this.prevP.fill(0);
    Object.assign(this.state, { kappa: 0.5, k: 0, meanAbsP: 0, spike: false, vetoed: false, spikes: 0, collision: false });
  }

  /**
   * One frame of mean-luminance cells (length width·height). `rot`, when given, is the camera's
   * rotation since the previous frame as a rotation vector in the camera optical frame (rad): the
   * previous frame is warped by it before differencing (a corollary discharge: the image motion the
   * animal causes by turning is predicted and removed, so only motion in the world excites P).
   * Cells whose source falls outside the previous frame get P = 0 (new content is not looming).
   */
  step(L: ArrayLike<number>, rot: ArrayLike<number> | null = null): LgmdState {
    const { width: w, height: h, inhibitionWeight: wi, sThreshold: ts } = this.p;
    const n = w * h;
    const P = this.P, Pp = this.prevP;
    const st = this.state;
    if (!this.primed) {
      for (let i = 0; i < n; i++) this.prevL[i] = L[i]!;
      Pp.fill(0);
      this.primed = true;
      st.kappa = 0.5; st.k = 0; st.meanAbsP = 0; st.spike = false; st.vetoed = false; st.spikes = 0; st.collision = false;
      return st;
    }
    const Lp = this.prevL, Lc = this.curL;
    for (let i = 0; i < n; i++) Lc[i] = L[i]!;
    let sumAbsP = 0;
    const rx = rot ? rot[0]! : 0, ry = rot ? rot[1]! : 0, rz = rot ? rot[2]! : 0;
    const th = Math.sqrt(rx * rx + ry * ry + rz * rz);
    if (th > 1e-6 && Number.isFinite(th) && this.p.fx !== undefined) {
      // d_prev = R·d_now, R = exp([θ]×) (Rodrigues)
      const a = Math.sin(th) / th, b = (1 - Math.cos(th)) / (th * th);
      const R00 = 1 - b * (ry * ry + rz * rz), R01 = -a * rz + b * rx * ry, R02 = a * ry + b * rx * rz;
      const R10 = a * rz + b * rx * ry, R11 = 1 - b * (rx * rx + rz * rz), R12 = -a * rx + b * ry * rz;
      const R20 = -a * ry + b * rx * rz, R21 = a * rx + b * ry * rz, R22 = 1 - b * (rx * rx + ry * ry);
      const fx = this.p.fx, fy = this.p.fy ?? fx, cx = this.p.cx ?? (w - 1) / 2, cy = this.p.cy ?? (h - 1) / 2;
      // the normalised column coordinates and each row's products, hoisted out of the cell loop
      // (same operations in the same order: the same doubles)
      const xns = this.xns;
      for (let x = 0; x < w; x++) xns[x] = (x - cx) / fx;
      for (let y = 0; y < h; y++) {
        const yn = (y - cy) / fy;
        const r01 = R01 * yn, r11 = R11 * yn, r21 = R21 * yn;
        for (let x = 0; x < w; x++) {
          const xn = xns[x]!;
          const pz = R20 * xn + r21 + R22;
          const i = y * w + x;
          let d = 0;
          if (pz > 1e-3) {
            const sx = (fx * (R00 * xn + r01 + R02)) / pz + cx, sy = (fy * (R10 * xn + r11 + R12)) / pz + cy;
            if (sx >= 0 && sy >= 0 && sx <= w - 1 && sy <= h - 1) {
              const x0 = sx | 0, y0 = sy | 0, x1 = x0 < w - 1 ? x0 + 1 : x0, y1 = y0 < h - 1 ? y0 + 1 : y0;
              const tx = sx - x0, ty = sy - y0;
              const top = Lp[y0 * w + x0]! + tx * (Lp[y0 * w + x1]! - Lp[y0 * w + x0]!);
              const bot = Lp[y1 * w + x0]! + tx * (Lp[y1 * w + x1]! - Lp[y1 * w + x0]!);
              d = Lc[i]! - (top + ty * (bot - top));
            }
          }
          P[i] = d;
          sumAbsP += Math.abs(d); // branch-free: the sign of d is noise, a branch on it mispredicts
        }
      }
    } else {
      for (let i = 0; i < n; i++) {
        const d = Lc[i]! - Lp[i]!;
        P[i] = d;
        sumAbsP += Math.abs(d);
      }
    }
    this.prevL = Lc;
    this.curL = Lp;
    // |S| ≤ |P| (inhibition only subtracts), so only cells with |P| ≥ T_S can contribute
    let k = 0;
    for (let y = 0; y < h; y++) {
      const ym = (y > 0 ? y - 1 : y) * w, yc = y * w, yp = (y < h - 1 ? y + 1 : y) * w; // replicate at the border
      for (let x = 0; x < w; x++) {
        const p = P[yc + x]!;
        if (Math.abs(p) < ts) continue;
        const xm = x > 0 ? x - 1 : x, xp = x < w - 1 ? x + 1 : x;
        const I =
          0.25 * (Pp[ym + x]! + Pp[yp + x]! + Pp[yc + xm]! + Pp[yc + xp]!) +
          0.125 * (Pp[ym + xm]! + Pp[ym + xp]! + Pp[yp + xm]! + Pp[yp + xp]!);
        let S = p;
        if (p * I > 0) {
          S = p - wi * I; // same-sign inhibition (ON inhibits ON, OFF inhibits OFF)
          if (S * p <= 0) continue; // cancelled
        }
        const a = Math.abs(S);
        if (a >= ts) k += a;
      }
    }
    // this frame's P is the next frame's inhibition source
    this.P = Pp;
    this.prevP = P;
    const meanAbsP = sumAbsP / n;
    const kappa = 1 / (1 + Math.exp(-k / n));
    const vetoed = meanAbsP >= this.p.vetoMeanAbsP;
    const spike = kappa >= this.p.spikeKappa && !vetoed;
    st.kappa = kappa;
    st.k = k;
    st.meanAbsP = meanAbsP;
    st.vetoed = vetoed;
    st.spike = spike;
    st.spikes = spike ? st.spikes + 1 : 0;
    st.collision = st.spikes >= this.p.spikesForCollision;
    return st;
  }
}

export interface TtcParams {
  /** Samples in the regression window (≥ 2). */
  window: number;
  /** Report null above this τ (not approaching meaningfully), s. */
  maxTtcS: number;
}

/**
 * τ = θ/θ' from a sequence of (stamp, size) of one tracked object; `restart()` when the track
 * changes identity.
 */
export class TtcEstimator {
  readonly p: Readonly<TtcParams>;
  private readonly t: Float64Array;
  private readonly y: Float64Array;
  private n = 0;
  private head = 0;
  /**
   * Last estimate; NaN: unknown / not approaching. (NaN, not null: a field that holds a double or
   * null is a tagged field, and each estimate stored in it allocated a 16 B heap number.)
   */
  ttcS = NaN;

  constructor(p: TtcParams) {
    if (!(p.window >= 2 && p.window <= 64)) throw new Error(`TtcEstimator: window must be in [2, 64], got ${p.window}`);
    this.p = p;
    this.t = new Float64Array(p.window);
    this.y = new Float64Array(p.window);
  }

  restart(): void {
    this.n = 0;
    this.head = 0;
    this.ttcS = NaN;
  }

  /**
   * Add a sample (size > 0 on any linear scale ∝ 1/distance); the estimate is then in ttcS. (No
   * return value: a double returned from a call that is not inlined is boxed.)
   */
  push(stampS: number, size: number): void {
    this.args[0] = stampS;
    this.args[1] = size;
    this.pushArgs();
  }

  /** Argument block for pushArgs(): [stampS, size] (per-frame callers: a double argument is boxed). */
  readonly args = new Float64Array(2);

  /** push() with its arguments in `args`. */
  pushArgs(): void {
    const stampS = this.args[0]!, size = this.args[1]!;
    if (!(size > 0) || !Number.isFinite(stampS)) return;
    const W = this.p.window;
    if (this.n > 0) {
      const last = this.t[(this.head + W - 1) % W]!;
      if (!(stampS > last)) return; // repeated or out-of-order stamp
    }
    this.t[this.head] = stampS;
    this.y[this.head] = Math.log(size);
    this.head = (this.head + 1) % W;
    if (this.n < W) this.n++;
    if (this.n < Math.min(3, W)) {
      this.ttcS = NaN;
      return;
    }
    let mt = 0, my = 0;
    for (let i = 0; i < this.n; i++) { mt += this.t[i]!; my += this.y[i]!; }
    mt /= this.n; my /= this.n;
    let stt = 0, sty = 0;
    for (let i = 0; i < this.n; i++) {
      const dt = this.t[i]! - mt;
      stt += dt * dt;
      sty += dt * (this.y[i]! - my);
    }
    if (!(stt > 0)) {
      this.ttcS = NaN;
      return;
    }
    const slope = sty / stt; // 1/τ at the window's mean time
    if (!(slope > 1 / this.p.maxTtcS)) {
      this.ttcS = NaN;
      return;
    }
    const tau = 1 / slope - (stampS - mt);
    this.ttcS = tau > 0 ? tau : 0;
  }
}
