/**
 * Pose of a planar target (the gate's ring face) from point correspondences with a calibrated
 * pinhole camera: homography by DLT in normalised image coordinates, decomposed with K
 * (H ∝ K·[r1 r2 t]) and orthonormalised, then refined by Levenberg–Marquardt on the pixel
 * reprojection error (6 DoF). Allocation-free after construction; every matrix lives in a preallocated typed array.
 *
 * Line observations (optional, refine/alternative/solve): a model point (X, Y) that must project
 * onto a known image line nx·u + ny·v = c (unit normal, pixels) — an edge seen over part of its
 * length whose end (corner) may be outside the image or unobserved. Each contributes one scalar
 * residual (the signed pixel distance to the line); a point observation contributes two.
 *
 * Conventions: model points lie on the plane Z = 0 of the model frame, given as (X, Y) in metres;
 * the pose maps model → camera optical frame (x right, y down, z forward): P_c = R·P_m + t. R is
 * row-major 3 × 3. For a square seen with its corners in image order TL, TR, BR, BL given as model
 * (−h, −h), (h, −h), (h, h), (−h, h) (X right, Y down), R is proper and the model +Z axis points
 * away from the camera.
 */

/** √(x² + y²) without Math.hypot's varargs cost (it allocates in V8's optimised code). */
export const hyp2 = (x: number, y: number): number => Math.sqrt(x * x + y * y);
/** √(x² + y² + z²). */
export const hyp3 = (x: number, y: number, z: number): number => Math.sqrt(x * x + y * y + z * z);

export interface PinholeK {
  fx: number;
  fy: number;
  cx: number;
  cy: number;
}

export interface PlanarPose {
  /** Model → camera rotation, row-major 3 × 3. */
  R: Float64Array;
  /** Model origin in the camera optical frame, m. */
  t: Float64Array;
  /** RMS pixel reprojection error after refinement. */
  rmsPx: number;
  /** Homography orthonormality defect before refinement (0 = a perfect calibrated square view). */
  orthoDefect: number;
}

export const newPlanarPose = (): PlanarPose => ({ R: new Float64Array(9), t: new Float64Array(3), rmsPx: NaN, orthoDefect: NaN });

/** Maximum correspondences one solve takes. */
export const PNP_MAX_POINTS = 32;

/**
 * Solve the n × n system A·x = b in place (row-major A), Gaussian elimination with partial pivoting.
 * Returns false when A is (numerically) singular. x is written into b.
 */
export function solveLinearInPlace(A: Float64Array, b: Float64Array, n: number): boolean {
  for (let c = 0; c < n; c++) {
    let piv = c, best = Math.abs(A[c * n + c]!);
    for (let r = c + 1; r < n; r++) {
      const v = Math.abs(A[r * n + c]!);
      if (v > best) { best = v; piv = r; }
    }
    if (!(best > 1e-14)) return false;
    if (piv !== c) {
      for (let k = 0; k < n; k++) {
        const t = A[c * n + k]!; A[c * n + k] = A[piv * n + k]!; A[piv * n + k] = t;
      }
      const t = b[c]!; b[c] = b[piv]!; b[piv] = t;
    }
    const d = A[c * n + c]!;
    for (let r = c + 1; r < n; r++) {
      const f = A[r * n + c]! / d;
      if (f === 0) continue;
      for (let k = c; k < n; k++) A[r * n + k] = A[r * n + k]! - f * A[c * n + k]!;
      b[r] = b[r]! - f * b[c]!;
    }
  }
  for (let r = n - 1; r >= 0; r--) {
    let s = b[r]!;
    for (let k = r + 1; k < n; k++) s -= A[r * n + k]! * b[k]!;
    b[r] = s / A[r * n + r]!;
  }
  return true;
}

/** Left-multiply R (row-major) by the rotation exp([w]×) (Rodrigues), in place. */
function rotateLeft(R: Float64Array, w: Float64Array, tmp: Float64Array): void {
  const wx = w[0]!, wy = w[1]!, wz = w[2]!;
  const th = hyp3(wx, wy, wz);
  let a: number, b: number;
  if (th < 1e-9) { a = 1; b = 0.5; } else { a = Math.sin(th) / th; b = (1 - Math.cos(th)) / (th * th); }
  // E = I + a[w]× + b[w]×²
  const xx = wx * wx, yy = wy * wy, zz = wz * wz, xy = wx * wy, xz = wx * wz, yz = wy * wz;
  const e00 = 1 - b * (yy + zz), e01 = -a * wz + b * xy, e02 = a * wy + b * xz;
  const e10 = a * wz + b * xy, e11 = 1 - b * (xx + zz), e12 = -a * wx + b * yz;
  const e20 = -a * wy + b * xz, e21 = a * wx + b * yz, e22 = 1 - b * (xx + yy);
  for (let c = 0; c < 3; c++) {
    const r0 = R[c]!, r1 = R[3 + c]!, r2 = R[6 + c]!;
    tmp[c] = e00 * r0 + e01 * r1 + e02 * r2;
    tmp[3 + c] = e10 * r0 + e11 * r1 + e12 * r2;
    tmp[6 + c] = e20 * r0 + e21 * r1 + e22 * r2;
  }
  R.set(tmp);
}

/**
 * Planar PnP solver with preallocated scratch. Not re-entrant (one instance per thread of use).
 */
export class PlanarPnP {
  private readonly AtA = new Float64Array(64);
  private readonly Atb = new Float64Array(8);
  private readonly xn = new Float64Array(PNP_MAX_POINTS);
  private readonly yn = new Float64Array(PNP_MAX_POINTS);
  private readonly J = new Float64Array(36);
  private readonly g = new Float64Array(6);
  private readonly J0 = new Float64Array(36);
  private readonly g0 = new Float64Array(6);
  private readonly tmp = new Float64Array(9);
  private readonly Rsave = new Float64Array(9);
  private readonly tsave = new Float64Array(3);
  private readonly sse = new Float64Array(1);
  /** [the sum, Infinity]: residual's result chosen by index (see there). */
  private readonly pick = Float64Array.of(0, Infinity);
  /** Line observations used by the next solve/refine/alternative: model (X, Y) pairs and (nx, ny, c) triples. */
  private readonly lModel = new Float64Array(2 * PNP_MAX_POINTS);
  private readonly lEq = new Float64Array(3 * PNP_MAX_POINTS);
  private nLines = 0;
  /** Levenberg–Marquardt iterations (accepted steps). */
  iterations = 10;

  /**
   * Line observations for the following solve()/refine()/alternative() calls (until replaced):
   * model point i = (model[2i], model[2i+1]) lies on the image line eq[3i]·u + eq[3i+1]·v = eq[3i+2]
   * ((eq[3i], eq[3i+1]) a unit normal, pixels). m ≤ 32; m = 0 clears them. Copied.
   */
  setLines(model: ArrayLike<number>, eq: ArrayLike<number>, m: number): void {
    const k = Math.max(0, Math.min(PNP_MAX_POINTS, m | 0));
    for (let i = 0; i < 2 * k; i++) this.lModel[i] = model[i]!;
    for (let i = 0; i < 3 * k; i++) this.lEq[i] = eq[i]!;
    this.nLines = k;
  }

  /** Number of line observations in use. */
  get lineCount(): number {
    return this.nLines;
  }

  /**
   * Estimate the pose. `model` holds n (X, Y) pairs (m), `image` n (u, v) pixel pairs; n in [4, 32].
   * The initial homography uses the points only; the refinement also the line observations set by
   * setLines(). Image points may lie outside the image (corners from intersected edge lines).
   * Returns false (out untouched or partial) when the geometry is degenerate or the target would lie
   * behind the camera.
   */
  solve(model: ArrayLike<number>, image: ArrayLike<number>, n: number, K: PinholeK, out: PlanarPose): boolean {
    if (n < 4 || n > PNP_MAX_POINTS) return false;
    const { fx, fy, cx, cy } = K;
    const xn = this.xn, yn = this.yn;
    for (let i = 0; i < n; i++) {
      xn[i] = (image[2 * i]! - cx) / fx;
      yn[i] = (image[2 * i + 1]! - cy) / fy;
      if (!Number.isFinite(xn[i]!) || !Number.isFinite(yn[i]!)) return false;
    }
    // ---- homography (h8 = 1) by least squares on the DLT rows
    const A = this.AtA, b = this.Atb;
    A.fill(0);
    b.fill(0);
    const row = this.J; // 8 entries of scratch
    for (let i = 0; i < n; i++) {
      const X = model[2 * i]!, Y = model[2 * i + 1]!, x = xn[i]!, y = yn[i]!;
      for (let pass = 0; pass < 2; pass++) {
        if (pass === 0) {
          row[0] = X; row[1] = Y; row[2] = 1; row[3] = 0; row[4] = 0; row[5] = 0; row[6] = -x * X; row[7] = -x * Y;
        } else {
          row[0] = 0; row[1] = 0; row[2] = 0; row[3] = X; row[4] = Y; row[5] = 1; row[6] = -y * X; row[7] = -y * Y;
        }
        const rhs = pass === 0 ? x : y;
        for (let r = 0; r < 8; r++) {
          const vr = row[r]!;
          if (vr === 0) continue;
          for (let c = 0; c < 8; c++) A[r * 8 + c] = A[r * 8 + c]! + vr * row[c]!;
          b[r] = b[r]! + vr * rhs;
        }
      }
    }
    if (!solveLinearInPlace(A, b, 8)) return false;
    // H columns: h1 = (b0, b3, b6), h2 = (b1, b4, b7), h3 = (b2, b5, 1)
    let h1x = b[0]!, h1y = b[3]!, h1z = b[6]!;
    let h2x = b[1]!, h2y = b[4]!, h2z = b[7]!;
    const n1 = hyp3(h1x, h1y, h1z), n2 = hyp3(h2x, h2y, h2z);
    if (!(n1 > 1e-12 && n2 > 1e-12)) return false;
    const s = 2 / (n1 + n2); // h3z = 1 > 0 → t_z > 0 with a positive scale
    out.orthoDefect = Math.abs(n1 - n2) / (0.5 * (n1 + n2)) + Math.abs(h1x * h2x + h1y * h2y + h1z * h2z) / (n1 * n2);
    const t = out.t, R = out.R;
    t[0] = s * b[2]!; t[1] = s * b[5]!; t[2] = s;
    // symmetric orthonormalisation of the first two columns
    h1x /= n1; h1y /= n1; h1z /= n1;
    h2x /= n2; h2y /= n2; h2z /= n2;
    let cxv = h1x + h2x, cyv = h1y + h2y, czv = h1z + h2z;
    let dxv = h1x - h2x, dyv = h1y - h2y, dzv = h1z - h2z;
    const nc = hyp3(cxv, cyv, czv), nd = hyp3(dxv, dyv, dzv);
    if (!(nc > 1e-9 && nd > 1e-9)) return false;
    cxv /= nc; cyv /= nc; czv /= nc; dxv /= nd; dyv /= nd; dzv /= nd;
    const k = Math.SQRT1_2;
    const r1x = k * (cxv + dxv), r1y = k * (cyv + dyv), r1z = k * (czv + dzv);
    const r2x = k * (cxv - dxv), r2y = k * (cyv - dyv), r2z = k * (czv - dzv);
    R[0] = r1x; R[3] = r1y; R[6] = r1z;
    R[1] = r2x; R[4] = r2y; R[7] = r2z;
    R[2] = r1y * r2z - r1z * r2y; R[5] = r1z * r2x - r1x * r2z; R[8] = r1x * r2y - r1y * r2x;
    if (!Number.isFinite(t[0]! + t[1]! + t[2]!)) return false;

    return this.refine(model, image, n, K, out);
  }

  /**
   * Levenberg–Marquardt on the pixel reprojection error (points and line observations) from the
   * pose already in `out` (6 DoF). Sets out.rmsPx. Returns false if the target
   * ends up behind the camera.
   */
  refine(model: ArrayLike<number>, image: ArrayLike<number>, n: number, K: PinholeK, out: PlanarPose): boolean {
    const { fx, fy, cx, cy } = K;
    const R = out.R, t = out.t;
    const m = this.nLines, LM = this.lModel, LE = this.lEq;
    if (2 * n + m < 6) return false;
    this.residual(model, image, n, K, R, t);
    let err = this.sse[0]!;
    if (!Number.isFinite(err)) return false;
    let lambda = 1e-6;
    for (let it = 0; it < this.iterations; it++) {
      const JtJ = this.J, g = this.g;
      JtJ.fill(0);
      g.fill(0);
      for (let i = 0; i < n; i++) {
        const X = model[2 * i]!, Y = model[2 * i + 1]!;
        const qx = R[0]! * X + R[1]! * Y, qy = R[3]! * X + R[4]! * Y, qz = R[6]! * X + R[7]! * Y; // R·X
        const px = qx + t[0]!, py = qy + t[1]!, pz = qz + t[2]!;
        if (!(pz > 1e-6)) return false;
        const iz = 1 / pz;
        const ru = fx * px * iz + cx - image[2 * i]!;
        const rv = fy * py * iz + cy - image[2 * i + 1]!;
        // d(u)/dP = [fx/z, 0, −fx x/z²]; d(v)/dP = [0, fy/z, −fy y/z²]
        const a0 = fx * iz, a2 = -fx * px * iz * iz;
        const b1 = fy * iz, b2 = -fy * py * iz * iz;
        // dP/dw = −[q]× = [[0, qz, −qy], [−qz, 0, qx], [qy, −qx, 0]]; dP/dt = I
        const u6 = this.tmp; // u row: [ju0 ju1 ju2 a0 0 a2]
        u6[0] = a2 * qy; u6[1] = a0 * qz - a2 * qx; u6[2] = -a0 * qy; u6[3] = a0; u6[4] = 0; u6[5] = a2;
        for (let r = 0; r < 6; r++) {
          const ur = u6[r]!;
          for (let c = r; c < 6; c++) JtJ[r * 6 + c] = JtJ[r * 6 + c]! + ur * u6[c]!;
          g[r] = g[r]! - ur * ru;
        }
        // v row: [jv0 jv1 jv2 0 b1 b2]
        u6[0] = -b1 * qz + b2 * qy; u6[1] = -b2 * qx; u6[2] = b1 * qx; u6[3] = 0; u6[4] = b1; u6[5] = b2;
        for (let r = 0; r < 6; r++) {
          const vr = u6[r]!;
          for (let c = r; c < 6; c++) JtJ[r * 6 + c] = JtJ[r * 6 + c]! + vr * u6[c]!;
          g[r] = g[r]! - vr * rv;
        }
      }
      for (let i = 0; i < m; i++) {
        const X = LM[2 * i]!, Y = LM[2 * i + 1]!, lnx = LE[3 * i]!, lny = LE[3 * i + 1]!;
        const qx = R[0]! * X + R[1]! * Y, qy = R[3]! * X + R[4]! * Y, qz = R[6]! * X + R[7]! * Y;
        const px = qx + t[0]!, py = qy + t[1]!, pz = qz + t[2]!;
        if (!(pz > 1e-6)) return false;
        const iz = 1 / pz;
        const rl = lnx * (fx * px * iz + cx) + lny * (fy * py * iz + cy) - LE[3 * i + 2]!;
        const a0 = fx * iz, a2 = -fx * px * iz * iz;
        const b1 = fy * iz, b2 = -fy * py * iz * iz;
        // row = nx·(u row) + ny·(v row)
        const w6 = this.tmp;
        w6[0] = lnx * (a2 * qy) + lny * (-b1 * qz + b2 * qy);
        w6[1] = lnx * (a0 * qz - a2 * qx) + lny * (-b2 * qx);
        w6[2] = lnx * (-a0 * qy) + lny * (b1 * qx);
        w6[3] = lnx * a0; w6[4] = lny * b1; w6[5] = lnx * a2 + lny * b2;
        for (let r = 0; r < 6; r++) {
          const wr = w6[r]!;
          for (let c = r; c < 6; c++) JtJ[r * 6 + c] = JtJ[r * 6 + c]! + wr * w6[c]!;
          g[r] = g[r]! - wr * rl;
        }
      }
      for (let r = 0; r < 6; r++) for (let c = 0; c < r; c++) JtJ[r * 6 + c] = JtJ[c * 6 + r]!;
      this.J0.set(JtJ);
      this.g0.set(g);
      // Levenberg–Marquardt: a step that does not lower the error is retried with more damping
      // (weakly conditioned views — small, far, four points — need it: the tilt valley is flat)
      let accepted = false, done = false;
      for (let tries = 0; tries < 8; tries++) {
        JtJ.set(this.J0);
        g.set(this.g0);
        for (let r = 0; r < 6; r++) JtJ[r * 6 + r] = JtJ[r * 6 + r]! * (1 + lambda) + 1e-9;
        if (!solveLinearInPlace(JtJ, g, 6)) { lambda *= 10; continue; }
        this.Rsave.set(R);
        this.tsave.set(t);
        rotateLeft(R, g, this.tmp);
        t[0] = t[0]! + g[3]!; t[1] = t[1]! + g[4]!; t[2] = t[2]! + g[5]!;
        this.residual(model, image, n, K, R, t);
        const e2 = this.sse[0]!;
        if (e2 <= err) {
          done = err - e2 < 1e-10 * (1 + err);
          err = e2;
          lambda = Math.max(1e-7, lambda * 0.1);
          accepted = true;
          break;
        }
        R.set(this.Rsave);
        t.set(this.tsave);
        lambda *= 10;
      }
      if (!accepted || done) break;
    }
    // RMS per point (a line residual is one of a point's two components)
    out.rmsPx = Math.sqrt(err / (n + 0.5 * m));
    return t[2]! > 0 && Number.isFinite(out.rmsPx);
  }

  /**
   * The other pose of the planar two-fold ambiguity: the plane normal mirrored about the line of
   * sight to the target (a tilt of +α ↔ −α, indistinguishable under weak perspective), refined.
   * `from` is not modified. Returns false when no distinct alternative exists.
   */
  alternative(model: ArrayLike<number>, image: ArrayLike<number>, n: number, K: PinholeK, from: PlanarPose, out: PlanarPose): boolean {
    const R = from.R, t = from.t;
    const tn = hyp3(t[0]!, t[1]!, t[2]!);
    if (!(tn > 0)) return false;
    const vx = t[0]! / tn, vy = t[1]! / tn, vz = t[2]! / tn;
    const n1x = R[2]!, n1y = R[5]!, n1z = R[8]!;
    const d = n1x * vx + n1y * vy + n1z * vz;
    const n2x = 2 * d * vx - n1x, n2y = 2 * d * vy - n1y, n2z = 2 * d * vz - n1z;
    // rotation taking n1 to n2, applied on the left
    let ax = n1y * n2z - n1z * n2y, ay = n1z * n2x - n1x * n2z, az = n1x * n2y - n1y * n2x;
    const sn = hyp3(ax, ay, az), cs = n1x * n2x + n1y * n2y + n1z * n2z;
    if (sn < 1e-4) return false; // already symmetric (frontal): a single solution
    const ang = Math.atan2(sn, cs);
    ax *= ang / sn; ay *= ang / sn; az *= ang / sn;
    out.R.set(R);
    out.t.set(t);
    const w = this.g;
    w[0] = ax; w[1] = ay; w[2] = az;
    rotateLeft(out.R, w, this.tmp);
    out.orthoDefect = from.orthoDefect;
    return this.refine(model, image, n, K, out);
  }

  /** Sum of squared pixel residuals → this.sse[0] (a typed-array slot: no boxed return value). */
  private residual(model: ArrayLike<number>, image: ArrayLike<number>, n: number, K: PinholeK, R: Float64Array, t: Float64Array): void {
    // one store at the end, not one per early exit: a store on a path first taken late in a flight
    // has no type feedback and deoptimises the function (measured: at t = 59 s on aigp-qualifier).
    // The store picks its value from a typed array by index, not `behind ? Infinity : e`: the global
    // `Infinity` on a path not yet taken has no feedback, is loaded tagged, and the merge boxed e
    // into a 16 B heap number on every call.
    let e = 0, behind = 0;
    for (let i = 0; i < n; i++) {
      const X = model[2 * i]!, Y = model[2 * i + 1]!;
      const px = R[0]! * X + R[1]! * Y + t[0]!, py = R[3]! * X + R[4]! * Y + t[1]!, pz = R[6]! * X + R[7]! * Y + t[2]!;
      if (!(pz > 1e-6)) { behind = 1; break; }
      const du = K.fx * px / pz + K.cx - image[2 * i]!, dv = K.fy * py / pz + K.cy - image[2 * i + 1]!;
      e += du * du + dv * dv;
    }
    const LM = this.lModel, LE = this.lEq;
    for (let i = 0; i < this.nLines && behind === 0; i++) {
      const X = LM[2 * i]!, Y = LM[2 * i + 1]!;
      const px = R[0]! * X + R[1]! * Y + t[0]!, py = R[3]! * X + R[4]! * Y + t[1]!, pz = R[6]! * X + R[7]! * Y + t[2]!;
      if (!(pz > 1e-6)) { behind = 1; break; }
      const r = LE[3 * i]! * (K.fx * px / pz + K.cx) + LE[3 * i + 1]! * (K.fy * py / pz + K.cy) - LE[3 * i + 2]!;
      e += r * r;
    }
    const pick = this.pick;
    pick[0] = e;
    this.sse[0] = pick[behind]!;
  }

}
