/**
 * A small Amari neural field for winner-take-all target selection (the colliculus' orienting map).
 *
 *   τ·du/dt = −u + w ∗ f(u) + I − h,    f(u) = clamp(u, 0, 1)
 *   w = local excitation (Gaussian, σ_e cells, gain w_e; separable) − global inhibition w_g·Σf / N_peak
 *
 * The field is retinotopic (cols × rows cells over the image). Inputs are Gaussian bumps written by
 * the caller each frame (bottom-up sightings, top-down expectation); the state persists across
 * frames, so a selected target holds against a slightly stronger rival for a few frames (hysteresis)
 * and a vanished target fades with τ. Euler integration with `iterations` sub-steps per frame.
 * Allocation-free; ≈ 2·cols·rows·(2r+1) multiply-adds per sub-step.
 */

export interface FieldParams {
  cols: number;
  rows: number;
  /** Time constant, s. */
  tauS: number;
  /** Euler sub-steps per step() call. */
  iterations: number;
  /** Local excitation: Gaussian σ in cells and gain (the kernel sums to wExc). */
  sigmaExcCells: number;
  wExc: number;
  /** Global inhibition per unit of total activity Σ f(u). */
  wInh: number;
  /** Resting level h (subtracted), keeps weak inputs silent. */
  restLevel: number;
}

export class AmariField {
  readonly p: Readonly<FieldParams>;
  /** Field potential u, row-major rows × cols. */
  readonly u: Float64Array;
  /** Input I for the next step (caller writes; cleared by clearInput()). */
  readonly input: Float64Array;
  private readonly fu: Float64Array;
  private readonly tmp: Float64Array;
  private readonly conv: Float64Array;
  private readonly kernel: Float64Array;
  private readonly r: number;

  constructor(p: FieldParams) {
    if (!(p.cols >= 4 && p.rows >= 4 && p.cols <= 256 && p.rows <= 256)) throw new Error('AmariField: cols and rows must be in [4, 256]');
    this.p = p;
    const n = p.cols * p.rows;
    this.u = new Float64Array(n);
    this.input = new Float64Array(n);
    this.fu = new Float64Array(n);
    this.tmp = new Float64Array(n);
    this.conv = new Float64Array(n);
    const r = (this.r = Math.max(1, Math.ceil(2.5 * p.sigmaExcCells)));
    this.kernel = new Float64Array(2 * r + 1);
    let s = 0;
    for (let i = -r; i <= r; i++) s += (this.kernel[i + r] = Math.exp(-(i * i) / (2 * p.sigmaExcCells * p.sigmaExcCells)));
    // 2D kernel = k ⊗ k sums to wExc
    const norm = Math.sqrt(p.wExc) / s;
    for (let i = 0; i <= 2 * r; i++) this.kernel[i] = this.kernel[i]! * norm;
    this.u.fill(-p.restLevel);
  }

  reset(): void {
    this.u.fill(-this.p.restLevel);
    this.input.fill(0);
  }

  clearInput(): void {
    this.input.fill(0);
  }

  /**
   * Argument block for addBumpArgs() / sampleArgs(): [cx, cy, sigmaX, sigmaY, amp], and sampleArgs()
   * writes its result into [5]. Per-frame callers pass doubles through it because a double passed to
   * (or returned from) a call that is not inlined is boxed on the heap.
   */
  readonly args = new Float64Array(6);

  /** Add a Gaussian bump of peak `amp` at fractional cell (cx, cy), σ per axis in cells (clipped to 3σ). */
  addBump(cx: number, cy: number, sigmaX: number, sigmaY: number, amp: number): void {
    const a = this.args;
    a[0] = cx;
    a[1] = cy;
    a[2] = sigmaX;
    a[3] = sigmaY;
    a[4] = amp;
    this.addBumpArgs();
  }

  /** addBump with its arguments in `args`. */
  addBumpArgs(): void {
    const a = this.args;
    const cx = a[0]!, cy = a[1]!, sigmaX = a[2]!, sigmaY = a[3]!, amp = a[4]!;
    const { cols, rows } = this.p;
    if (!(Number.isFinite(cx) && Number.isFinite(cy) && Number.isFinite(amp))) return;
    const sx = Math.max(0.3, sigmaX), sy = Math.max(0.3, sigmaY);
    const x0 = Math.max(0, Math.floor(cx - 3 * sx)), x1 = Math.min(cols - 1, Math.ceil(cx + 3 * sx));
    const y0 = Math.max(0, Math.floor(cy - 3 * sy)), y1 = Math.min(rows - 1, Math.ceil(cy + 3 * sy));
    const kx = -1 / (2 * sx * sx), ky = -1 / (2 * sy * sy);
    for (let y = y0; y <= y1; y++) {
      const dy = y - cy;
      for (let x = x0; x <= x1; x++) {
        const dx = x - cx;
        this.input[y * cols + x] = this.input[y * cols + x]! + amp * Math.exp(kx * dx * dx + ky * dy * dy);
      }
    }
  }

  /** Integrate dtS seconds (Euler, `iterations` sub-steps, each at most 0.5·τ). */
  step(dtS: number): void {
    this.args[0] = dtS;
    this.stepArgs();
  }

  /** step() with dtS in args[0]. */
  stepArgs(): void {
    const dtS = this.args[0]!;
    const { cols, rows, tauS, iterations, wInh, restLevel } = this.p;
    const n = cols * rows;
    const u = this.u, fu = this.fu, tmp = this.tmp, conv = this.conv, I = this.input, kern = this.kernel, r = this.r;
    const eta = Math.min(0.5, Math.max(0, dtS) / (tauS * iterations));
    if (!(eta > 0)) return;
    for (let it = 0; it < iterations; it++) {
      // f(u) and the bounding box of the active cells (the field is sparse: a few bumps)
      let total = 0;
      let ax0 = cols, ax1 = -1, ay0 = rows, ay1 = -1;
      for (let y = 0; y < rows; y++) {
        const o = y * cols;
        for (let x = 0; x < cols; x++) {
          const v = u[o + x]!;
          if (v <= 0) { fu[o + x] = 0; continue; }
          const f = v > 1 ? 1 : v;
          fu[o + x] = f;
          total += f;
          if (x < ax0) ax0 = x;
          if (x > ax1) ax1 = x;
          if (y < ay0) ay0 = y;
          if (y > ay1) ay1 = y;
        }
      }
      conv.fill(0);
      if (ax1 >= 0) {
        // separable excitation over the active box grown by the kernel radius (zero padding)
        const bx0 = Math.max(0, ax0 - r), bx1 = Math.min(cols - 1, ax1 + r);
        const by0 = Math.max(0, ay0 - r), by1 = Math.min(rows - 1, ay1 + r);
        for (let y = ay0; y <= ay1; y++) {
          const o = y * cols;
          for (let x = bx0; x <= bx1; x++) {
            let s = 0;
            const a = Math.max(ax0, x - r), b = Math.min(ax1, x + r);
            for (let xx = a; xx <= b; xx++) s += kern[xx - x + r]! * fu[o + xx]!;
            tmp[o + x] = s;
          }
        }
        for (let y = by0; y <= by1; y++) {
          const a = Math.max(ay0, y - r), b = Math.min(ay1, y + r);
          for (let x = bx0; x <= bx1; x++) {
            let s = 0;
            for (let yy = a; yy <= b; yy++) s += kern[yy - y + r]! * tmp[yy * cols + x]!;
            conv[y * cols + x] = s;
          }
        }
      }
      const bias = -wInh * total - restLevel;
      for (let i = 0; i < n; i++) {
        const v = u[i]!;
        u[i] = v + eta * (conv[i]! + I[i]! + bias - v);
      }
    }
  }

  /** Potential at fractional cell (cx, cy): max over the 3 × 3 neighbourhood of the nearest cell. */
  sample(cx: number, cy: number): number {
    this.args[0] = cx;
    this.args[1] = cy;
    this.sampleArgs();
    return this.args[5]!;
  }

  /** sample(args[0], args[1]) written into args[5]. */
  sampleArgs(): void {
    const cx = this.args[0]!, cy = this.args[1]!;
    const { cols, rows } = this.p;
    const x = Math.min(cols - 1, Math.max(0, Math.round(cx))), y = Math.min(rows - 1, Math.max(0, Math.round(cy)));
    let best = -Infinity;
    for (let yy = Math.max(0, y - 1); yy <= Math.min(rows - 1, y + 1); yy++) {
      for (let xx = Math.max(0, x - 1); xx <= Math.min(cols - 1, x + 1); xx++) {
        const v = this.u[yy * cols + xx]!;
        if (v > best) best = v;
      }
    }
    this.args[5] = best;
  }

  /** Index of the maximum of u. */
  argmax(): number {
    let best = -Infinity, bi = 0;
    for (let i = 0; i < this.u.length; i++) if (this.u[i]! > best) { best = this.u[i]!; bi = i; }
    return bi;
  }
}
