/**
 * Hippocampus (learned online): the track map and where we are on it.
 *
 * Claim: holding the gate map in an odometry frame — seeded from the organisers' prior when there is
 * one, corrected by every gate seen and passed, written from scratch when there is none — makes the
 * next gate's position known before it is visible (behind a turn, after the split-S) and lets laps
 * 2+ fly from memory, faster. Measurement: the ablation (docs/ablation.md) with the map memory
 * switched off (every lap flown against the uncorrected prior), on success and lap-2+ time, and
 * with hidden gates.
 *
 * Method: a Kalman filter per world axis whose state holds the drone [position, velocity,
 * accelerometer bias] and every gate's position — the map — with their cross-covariances (EKF-SLAM,
 * decoupled per axis because attitude comes from the vestibular region). IMU samples drive path
 * integration; a gate sighting (the colliculus' PnP, placed at the attitude of its exposure) measures
 * gate − drone and is associated with the map gate it fits best (χ² gating), so every gate in view
 * corrects the drone and the map together, and a gate seen again (lap 2) closes the loop. A gate
 * passed (the drone crosses its plane in the estimated gate frame) advances the target and counts
 * laps. Without a prior, gates are added as they are first seen.
 */
import { clamp, dot, wrapPi, type Vec3 } from '../math/vec3.js';
import type { LearnedState, Region } from './region.js';

export interface MapGate {
  centerEnuM: Vec3;
  yawRad: number;
  /** 1-σ uncertainty of the centre, m (horizontal mean). */
  sigmaM: number;
  yawSigmaRad: number;
  sightings: number;
  passes: number;
}

export interface HippocampusConfig {
  /** Prior uncertainty of a mapped gate's position (how far real gates may stand from the map), m. */
  mapSigmaM: number;
  mapYawSigmaRad: number;
  /** Random acceleration noise of path integration (sensor noise + attitude error × g), m/s². */
  accelNoiseMS2: number;
  /** Random walk of the world-frame accelerometer bias, m/s²/√s. */
  accelBiasWalk: number;
  initialBiasSigmaMS2: number;
  /** Sighting noise: σ = base + perM · range, m (times the sighting's own scale). */
  sightingSigmaBaseM: number;
  sightingSigmaPerM: number;
  /** χ² threshold (3 dof) for associating a sighting with a map gate. */
  associationChi2: number;
  /** ... and the largest innovation (m) and heading difference (rad) that may still be the same gate. */
  associationMaxM: number;
  associationYawRad: number;
  /** History kept for delayed measurements, s. */
  historyS: number;
  /** When false the map is never corrected (ablation: localise against the prior, never write it). */
  learnMap: boolean;
  /** Capacity for gates discovered without a prior. */
  maxGates: number;
}

export const HIPPOCAMPUS_DEFAULTS: HippocampusConfig = {
  mapSigmaM: 0.35,
  mapYawSigmaRad: (6 * Math.PI) / 180,
  accelNoiseMS2: 0.6,
  accelBiasWalk: 0.02,
  initialBiasSigmaMS2: 0.15,
  sightingSigmaBaseM: 0.05,
  sightingSigmaPerM: 0.03,
  associationChi2: 16,
  associationMaxM: 3,
  associationYawRad: (40 * Math.PI) / 180,
  historyS: 0.6,
  learnMap: true,
  maxGates: 24,
};

export interface Sighting {
  stampS: number;
  /** Gate centre minus drone position, ENU, from the colliculus' PnP at the exposure attitude. */
  relEnuM: Vec3;
  /** The gate plane's normal in ENU pointing toward the camera, when the PnP gave one. */
  normalEnu: Vec3 | null;
  rangeM: number;
  /** Multiplies the sighting noise (oblique views, poor fits); default 1. */
  sigmaScale?: number;
  /**
   * Multiplies the per-metre part of the sighting noise, ≤ 1; default 1. That part is mostly the
   * heading error rotating the sighting, an error shared by the sightings close in time, so its weight
   * depends on how many of them arrive (see Pipeline.onFrame).
   */
  perMScale?: number;
}

export type HippocampusInput = ({ kind: 'imu'; stampS: number; accEnuMS2: Vec3 }) | ({ kind: 'sighting' } & Sighting);

export interface HippocampusOutput {
  posEnuM: Vec3;
  velEnuMS: Vec3;
  /** Index of the gate to fly through next. */
  target: number;
  /** Completed laps. */
  lap: number;
  /** Index of a gate passed on this tick, else -1. */
  passed: number;
  /** The gate the last sighting was associated with (-1: rejected). */
  associated: number;
}

/** A gate to plan through (see Hippocampus.upcoming). */
export interface UpcomingGate {
  centerEnuM: Vec3;
  yawRad: number;
  index: number;
  /** The gate's uncertainty relative to the drone, m. */
  sigmaM: number;
}

/**
 * An UpcomingGate to be filled (one factory for upcomingInto's and Pipeline.warmUp's, so both have one
 * hidden class; the doubles start as doubles, NaN, so that the first value written does not change it).
 */
export function newUpcomingGate(): UpcomingGate {
  return { centerEnuM: [NaN, NaN, NaN], yawRad: NaN, index: 0, sigmaM: NaN };
}

const D = 3; // drone states per axis: p, v, b

/**
 * One axis of the filter: x = [p, v, b, g0 … g(n−1)], P row-major. The axes are independent because
 * the measurement (gate − drone) and the dynamics separate per world axis once attitude is known.
 */
class AxisSlam {
  readonly x: Float64Array;
  readonly P: Float64Array;
  readonly ph: Float64Array;
  private readonly dim: number;

  constructor(readonly cap: number) {
    this.dim = D + cap;
    this.x = new Float64Array(this.dim);
    this.P = new Float64Array(this.dim * this.dim);
    this.ph = new Float64Array(this.dim);
  }

  reset(p: number, sigP: number, sigV: number, sigB: number): void {
    this.x.fill(0);
    this.P.fill(0);
    this.x[0] = p;
    this.P[0] = sigP * sigP;
    this.P[this.dim + 1] = sigV * sigV;
    this.P[2 * this.dim + 2] = sigB * sigB;
  }

  /** Add gate k with an independent prior. */
  setGatePrior(k: number, g: number, sig: number): void {
    const n = this.dim, j = D + k;
    this.x[j] = g;
    for (let i = 0; i < n; i++) {
      this.P[i * n + j] = 0;
      this.P[j * n + i] = 0;
    }
    this.P[j * n + j] = sig * sig;
  }

  /** Add gate k as drone + measured offset (first sighting without a prior): correlated with the drone. */
  initGateFromDrone(k: number, rel: number, dpSince: number, r: number, used: number): void {
    const n = this.dim, j = D + k;
    this.x[j] = this.x[0]! - dpSince + rel;
    for (let i = 0; i < D + used; i++) {
      const c = this.P[i * n]!; // cov(x_i, p)
      this.P[i * n + j] = c;
      this.P[j * n + i] = c;
    }
    this.P[j * n + j] = this.P[0]! + r * r;
  }

  /**
   * Path integration over dt. The doubles come in a Float64Array [a, dt, qa, qb] (a: this axis'
   * acceleration): double arguments to a call that is not inlined are boxed on the heap, at the IMU
   * rate, on three axes.
   */
  predict(args: Float64Array, used: number): void {
    const a = args[0]!, dt = args[1]!, qa = args[2]!, qb = args[3]!;
    const x = this.x, P = this.P, n = this.dim, m = D + used;
    const ab = a - x[2]!;
    x[0] = x[0]! + x[1]! * dt + 0.5 * ab * dt * dt;
    x[1] = x[1]! + ab * dt;
    // P ← F P Fᵀ + Q with F = I except F01 = dt, F02 = −dt²/2, F12 = −dt
    const h = -0.5 * dt * dt;
    for (let c = 0; c < m; c++) {
      const p0 = P[c]!, p1 = P[n + c]!, p2 = P[2 * n + c]!;
      P[c] = p0 + dt * p1 + h * p2;
      P[n + c] = p1 - dt * p2;
    }
    for (let r = 0; r < m; r++) {
      const q0 = P[r * n]!, q1 = P[r * n + 1]!, q2 = P[r * n + 2]!;
      P[r * n] = q0 + dt * q1 + h * q2;
      P[r * n + 1] = q1 - dt * q2;
    }
    const q = qa * qa;
    P[0] = P[0]! + (q * dt ** 4) / 4;
    P[1] = P[1]! + (q * dt ** 3) / 2;
    P[n] = P[n]! + (q * dt ** 3) / 2;
    P[n + 1] = P[n + 1]! + q * dt * dt;
    P[2 * n + 2] = P[2 * n + 2]! + qb * qb * dt;
  }

  /** The last innovation() result (fields, not a returned object: this runs per sighting and gate). */
  nu = 0;
  s = 0;

  /**
   * Innovation of "gate k − drone (at exposure)" into `nu`, its variance into `s`. The doubles come in
   * args = [y, dpSince, r, fixedGateVar] (not as arguments, which would be boxed on the heap: this
   * runs per sighting, gate and axis). fixedGateVar ≥ 0: treat the gate as a known constant of that
   * variance.
   */
  innovation(k: number, args: Float64Array): void {
    const y = args[0]!, dpSince = args[1]!, r = args[2]!, fixedGateVar = args[3]!;
    const n = this.dim, j = D + k, P = this.P;
    this.nu = y - (this.x[j]! - (this.x[0]! - dpSince));
    this.s = fixedGateVar >= 0 ? P[0]! + fixedGateVar + r * r : P[j * n + j]! - 2 * P[j * n]! + P[0]! + r * r;
  }

  /** Kalman update of gate k with the last innovation() (nu, s). */
  update(k: number, used: number, fixedGate: boolean): void {
    const nu = this.nu, s = this.s;
    const n = this.dim, j = D + k, P = this.P, ph = this.ph, m = D + used;
    // P Hᵀ with H = e_j − e_0 (or −e_0 when the gate is a fixed constant)
    for (let i = 0; i < m; i++) ph[i] = (fixedGate ? 0 : P[i * n + j]!) - P[i * n]!;
    if (fixedGate) for (let i = D; i < m; i++) ph[i] = 0; // the map is not written
    for (let i = 0; i < m; i++) this.x[i] = this.x[i]! + (ph[i]! / s) * nu;
    for (let a = 0; a < m; a++) {
      const ka = ph[a]! / s;
      if (ka === 0) continue;
      for (let b = 0; b < m; b++) P[a * n + b] = P[a * n + b]! - ka * ph[b]!;
    }
    // keep P symmetric and its diagonal positive despite rounding
    for (let a = 0; a < m; a++) {
      for (let b = a + 1; b < m; b++) {
        const v = 0.5 * (P[a * n + b]! + P[b * n + a]!);
        P[a * n + b] = v;
        P[b * n + a] = v;
      }
      if (!(P[a * n + a]! > 1e-9)) P[a * n + a] = 1e-9;
    }
  }

  gateVar(k: number): number {
    const j = D + k;
    return this.P[j * this.dim + j]!;
  }

  /** var(g_k − p). */
  relVar(k: number): number {
    const n = this.dim, j = D + k;
    return this.P[j * n + j]! - 2 * this.P[j * n]! + this.P[0]!;
  }
}

export class Hippocampus implements Region<HippocampusInput, HippocampusOutput> {
  readonly name = 'hippocampus';
  readonly cfg: HippocampusConfig;
  /** The map (a view of the filter's gate states, refreshed on every change). */
  gates: MapGate[];
  private readonly prior: MapGate[];
  private readonly axes: [AxisSlam, AxisSlam, AxisSlam];
  /** Gate indices in pass order (identity with a prior; the order flown when discovered). */
  private seq: number[] = [];
  private seqPos = 0;
  /** Gates passed, in order, while the track is still being discovered. */
  private passOrder: number[] = [];
  /** -1 while no gate is known to fly to (discovery: search). */
  private target = 0;
  private lap = 0;
  private headingRad = 0;
  private lastStampS = NaN;
  private readonly out: HippocampusOutput;
  private readonly hist: Float64Array;
  private readonly histCap: number;
  private histHead = 0;
  private histLen = 0;
  private prevGateX = NaN;
  private readonly dp: Vec3 = [0, 0, 0];
  private readonly predictArgs = new Float64Array(4);
  private readonly innovArgs = new Float64Array(4);
  sightingsAccepted = 0;
  sightingsRejected = 0;

  constructor(
    prior: readonly { centerEnuM: Vec3; yawRad: number }[] | null,
    private readonly start: { posEnuM: Vec3; yawRad: number },
    cfg: Partial<HippocampusConfig> = {},
  ) {
    this.cfg = { ...HIPPOCAMPUS_DEFAULTS, ...cfg };
    this.prior = (prior ?? []).map((g) => ({
      centerEnuM: [g.centerEnuM[0], g.centerEnuM[1], g.centerEnuM[2]],
      yawRad: g.yawRad,
      sigmaM: this.cfg.mapSigmaM,
      yawSigmaRad: this.cfg.mapYawSigmaRad,
      sightings: 0,
      passes: 0,
    }));
    this.mapKnown = this.prior.length > 0;
    const cap = Math.max(this.prior.length, this.cfg.maxGates);
    this.axes = [new AxisSlam(cap), new AxisSlam(cap), new AxisSlam(cap)];
    this.gates = this.prior.map(cloneGate);
    this.histCap = Math.ceil(this.cfg.historyS * 2000) + 8;
    this.hist = new Float64Array(this.histCap * 4);
    this.out = { posEnuM: [0, 0, 0], velEnuMS: [0, 0, 0], target: 0, lap: 0, passed: -1, associated: -1 };
    this.resetFilter();
  }

  /** Whether the whole map is known (a prior, a loaded memory, or a discovered lap that closed). */
  get hasPrior(): boolean {
    return this.mapKnown;
  }
  private mapKnown: boolean;

  private resetFilter(): void {
    for (let a = 0; a < 3; a++) {
      const ax = this.axes[a]!;
      ax.reset(this.start.posEnuM[a]!, 0.05, 0.02, this.cfg.initialBiasSigmaMS2);
      this.gates.forEach((g, k) => ax.setGatePrior(k, g.centerEnuM[a]!, g.sigmaM));
    }
    this.seq = this.mapKnown ? this.gates.map((_, k) => k) : [];
    this.seqPos = 0;
    this.passOrder = [];
    this.loopPending = false;
    this.target = this.mapKnown && this.gates.length > 0 ? 0 : -1;
    this.lap = 0;
    this.histLen = 0;
    this.prevGateX = NaN;
    this.lastStampS = NaN;
    this.writeOut();
  }

  step(input: HippocampusInput, _dtS = 0): HippocampusOutput {
    this.out.passed = -1;
    if (input.kind === 'imu') this.integrate(input);
    else this.sight(input);
    this.writeOut();
    return this.out;
  }

  /** The latest output without stepping. */
  get current(): HippocampusOutput {
    return this.out;
  }

  private integrate(input: { stampS: number; accEnuMS2: Vec3 }): void {
    const tS = input.stampS, acc = input.accEnuMS2;
    if (!Number.isFinite(tS) || !(tS > this.lastStampS || Number.isNaN(this.lastStampS))) return;
    const dt = Number.isNaN(this.lastStampS) ? 0 : Math.min(0.02, tS - this.lastStampS);
    this.lastStampS = tS;
    if (dt > 0 && Number.isFinite(acc[0]) && Number.isFinite(acc[1]) && Number.isFinite(acc[2])) {
      const args = this.predictArgs;
      args[1] = dt;
      args[2] = this.cfg.accelNoiseMS2;
      args[3] = this.cfg.accelBiasWalk;
      for (let a = 0; a < 3; a++) {
        args[0] = acc[a]!;
        this.axes[a]!.predict(args, this.gates.length);
      }
    }
    const i = this.histHead * 4;
    this.hist[i] = tS;
    for (let a = 0; a < 3; a++) this.hist[i + 1 + a] = this.axes[a]!.x[0]!;
    this.histHead = (this.histHead + 1) % this.histCap;
    if (this.histLen < this.histCap) this.histLen++;
    this.checkPassage();
  }

  /** Drone position change since time tS (for delayed measurements), per axis. */
  private sinceStamp(tS: number): Vec3 {
    const out = this.dp;
    out[0] = out[1] = out[2] = 0;
    for (let k = 1; k <= this.histLen; k++) {
      const i = ((this.histHead - k + this.histCap) % this.histCap) * 4;
      if (this.hist[i]! <= tS) {
        for (let a = 0; a < 3; a++) out[a] = this.axes[a]!.x[0]! - this.hist[i + 1 + a]!;
        return out;
      }
    }
    return out;
  }

  private sight(s: Extract<HippocampusInput, { kind: 'sighting' }>): void {
    this.out.associated = -1;
    const rel = s.relEnuM;
    if (!Number.isFinite(s.rangeM) || !Number.isFinite(rel[0]) || !Number.isFinite(rel[1]) || !Number.isFinite(rel[2])) return;
    const r = (this.cfg.sightingSigmaBaseM + this.cfg.sightingSigmaPerM * Math.min(1, s.perMScale ?? 1) * s.rangeM) * Math.max(1, s.sigmaScale ?? 1);
    const dp = this.sinceStamp(s.stampS);
    const learn = this.cfg.learnMap;
    const ia = this.innovArgs;
    ia[2] = r;
    // associate with the map gate that explains the sighting best
    let best = -1, bestChi = Infinity;
    // a gate seen face-on has a heading: it must agree (either face) with the map gate's
    const ne = s.normalEnu;
    // (a flag, not a NaN sentinel: a global NaN read on a path not taken when sight() was optimised
    // is a tagged value, and the heading it merges with is then boxed on the heap)
    const faceOn = ne !== null && ne !== undefined && ne[0] * ne[0] + ne[1] * ne[1] > 0.49;
    const obsYaw = faceOn ? Math.atan2(-ne[1], -ne[0]) : 0;
    for (let k = 0; k < this.gates.length; k++) {
      if (faceOn) {
        const dy = Math.abs(wrapPi(obsYaw - this.gates[k]!.yawRad));
        if (Math.min(dy, Math.PI - dy) > this.cfg.associationYawRad) continue;
      }
      let chi = 0, e2 = 0;
      for (let a = 0; a < 3; a++) {
        const ax = this.axes[a]!;
        ia[0] = s.relEnuM[a]!;
        ia[1] = dp[a]!;
        ia[3] = learn ? -1 : this.gates[k]!.sigmaM ** 2;
        ax.innovation(k, ia);
        const nu = ax.nu;
        chi += (nu * nu) / ax.s;
        e2 += nu * nu;
      }
      // however lost we are, a gate several metres from where we expect it is another gate
      if (e2 > this.cfg.associationMaxM ** 2) continue;
      if (chi < bestChi) {
        bestChi = chi;
        best = k;
      }
    }
    if (best < 0 || bestChi > this.cfg.associationChi2) {
      if (!this.hasPrior && learn && this.gates.length < this.cfg.maxGates && s.normalEnu && s.rangeM < 16) this.discover(s, r, dp);
      else this.sightingsRejected++;
      return;
    }
    for (let a = 0; a < 3; a++) {
      const ax = this.axes[a]!;
      ia[0] = s.relEnuM[a]!;
      ia[1] = dp[a]!;
      ia[3] = learn ? -1 : this.gates[best]!.sigmaM ** 2;
      ax.innovation(best, ia);
      ax.update(best, this.gates.length, !learn);
    }
    this.sightingsAccepted++;
    this.out.associated = best;
    const g = this.gates[best]!;
    g.sightings++;
    if (learn) {
      this.refreshGates();
      // the map gate's heading from the sighting's plane normal — written here, not in a method of
      // its own: a small function called only near gates was optimised by V8 ~46 s into a flight
      // and until then ran in the baseline tier, boxing every intermediate (~150 B per frame)
      const n = s.normalEnu;
      if (n && !(s.rangeM >= 10)) {
        // we approach from its front, so forward = −normal
        const fx = -n[0], fy = -n[1];
        if (!(fx * fx + fy * fy < 0.49)) {
          // wrapPi written out: sight() does not inline it here, and a double passed to or
          // returned from a call is boxed
          let d = Math.atan2(fy, fx) - g.yawRad;
          d -= 2 * Math.PI * Math.ceil((d - Math.PI) / (2 * Math.PI));
          // seen from behind: the normal points the other way
          if (Math.abs(d) > Math.PI / 2) {
            d += Math.PI;
            d -= 2 * Math.PI * Math.ceil((d - Math.PI) / (2 * Math.PI));
          }
          if (!(Math.abs(d) > 0.6)) {
            const rv = (0.05 + 0.01 * s.rangeM) ** 2;
            const k = g.yawSigmaRad ** 2 / (g.yawSigmaRad ** 2 + rv);
            const y = g.yawRad + k * d;
            g.yawRad = y - 2 * Math.PI * Math.ceil((y - Math.PI) / (2 * Math.PI));
            g.yawSigmaRad = Math.max(0.005, Math.sqrt((1 - k) * g.yawSigmaRad ** 2));
          }
        }
      }
    }
  }

  /** A gate never seen before (no prior map): write it into the map. */
  private discover(s: Sighting, r: number, dp: Vec3): void {
    // a new gate must be seen in a few consecutive frames at a consistent place before it is written
    // (one odd PnP must not put a phantom gate in the map), and not right beside a known gate
    const p: Vec3 = [this.axes[0].x[0]! - dp[0] + s.relEnuM[0], this.axes[1].x[0]! - dp[1] + s.relEnuM[1], this.axes[2].x[0]! - dp[2] + s.relEnuM[2]];
    for (let k = 0; k < this.gates.length; k++) {
      const c = this.gateCenter(k);
      if (Math.hypot(c[0] - p[0], c[1] - p[1], c[2] - p[2]) < 3) {
        this.sightingsRejected++;
        return;
      }
    }
    const cand = this.candidate;
    if (cand && Math.hypot(cand.p[0] - p[0], cand.p[1] - p[1], cand.p[2] - p[2]) < 0.6 + 0.1 * s.rangeM && s.stampS - cand.lastS < 0.3) {
      cand.n++;
      cand.lastS = s.stampS;
      cand.p = p;
    } else {
      this.candidate = { p, n: 1, lastS: s.stampS };
    }
    if (this.candidate!.n < 3) return;
    this.candidate = null;
    const k = this.gates.length;
    const n = s.normalEnu!;
    // we approach a new gate from its front: its pass direction points away from us
    const yaw = Math.atan2(-n[1], -n[0]);
    this.gates.push({ centerEnuM: [0, 0, 0], yawRad: yaw, sigmaM: r, yawSigmaRad: 0.2, sightings: 1, passes: 0 });
    for (let a = 0; a < 3; a++) this.axes[a]!.initGateFromDrone(k, s.relEnuM[a]!, dp[a]!, r, k);
    this.refreshGates();
    this.out.associated = k;
    this.sightingsAccepted++;
    if (this.target < 0 || this.loopPending) this.selectTarget();
  }

  private refreshGates(): void {
    for (let k = 0; k < this.gates.length; k++) {
      const g = this.gates[k]!;
      // in place: a map write on every accepted sighting must not allocate
      const c = g.centerEnuM;
      c[0] = this.axes[0].x[D + k]!;
      c[1] = this.axes[1].x[D + k]!;
      c[2] = this.axes[2].x[D + k]!;
      g.sigmaM = Math.sqrt((this.axes[0].gateVar(k) + this.axes[1].gateVar(k)) / 2);
    }
  }

  /** Advance the target when the estimated position crosses the target gate's plane. */
  private checkPassage(): void {
    const g = this.gates[this.target];
    if (!g) return;
    // scalar arithmetic only: this runs at the IMU rate
    const fx = Math.cos(g.yawRad), fy = Math.sin(g.yawRad);
    const j = D + this.target;
    const rx = this.axes[0].x[0]! - this.axes[0].x[j]!, ry = this.axes[1].x[0]! - this.axes[1].x[j]!, rz = this.axes[2].x[0]! - this.axes[2].x[j]!;
    const x = rx * fx + ry * fy;
    const lx = rx - fx * x, ly = ry - fy * x;
    const lateral = Math.sqrt(lx * lx + ly * ly + rz * rz);
    if (this.prevGateX < 0 && x >= 0 && lateral < 2.5) this.advance();
    else this.prevGateX = x;
  }

  private advance(): void {
    const passed = this.target;
    this.gates[passed]!.passes++;
    this.out.passed = passed;
    this.prevGateX = NaN;
    if (this.mapKnown) {
      this.seqPos = (this.seqPos + 1) % this.seq.length;
      if (this.seqPos === 0) this.lap++;
      this.target = this.seq[this.seqPos]!;
      return;
    }
    if (this.loopPending && passed === this.passOrder[0]) {
      // the loop closed: the gates in the order flown are the track, flown from memory from now on
      this.seq = [...this.passOrder];
      this.seqPos = 1 % this.seq.length;
      this.target = this.seq[this.seqPos]!;
      this.mapKnown = true;
      this.loopPending = false;
      this.lap++;
      return;
    }
    this.passOrder.push(passed);
    this.selectTarget();
  }

  /**
   * Current heading of the drone, euler[2] of a ZYX [roll, pitch, yaw] estimate (rad): discovery
   * picks gates ahead of it. Takes the euler vector, not the yaw: per frame, a double argument to a
   * call TurboFan does not inline is boxed on the heap.
   */
  setHeadingOf(euler: Readonly<Vec3>): void {
    const yawRad = euler[2];
    if (!Number.isFinite(yawRad)) return;
    this.headingRad = yawRad;
    if (!this.mapKnown && this.target < 0) this.selectTarget();
  }

  /** Discovery is flying back to the first gate to close the loop (a new gate may still take over). */
  private loopPending = false;
  private candidate: { p: Vec3; n: number; lastS: number } | null = null;

  /** Turn direction for a search: the way the track turned last (+1 left / −1 right). */
  get searchDirection(): number {
    const o = this.passOrder;
    if (o.length < 2) return 1;
    const a = this.gates[o[o.length - 2]!]!.yawRad, b = this.gates[o[o.length - 1]!]!.yawRad;
    return wrapPi(b - a) >= 0 ? 1 : -1;
  }

  /**
   * Discovery: fly to the nearest known gate not yet passed that lies ahead and shows us its front.
   * When the only such gate is the first one passed, the track has closed into a loop: from then on
   * the map is known and laps are flown from memory in the order discovered.
   */
  private selectTarget(): void {
    const p: Vec3 = [this.axes[0].x[0]!, this.axes[1].x[0]!, this.axes[2].x[0]!];
    const h: Vec3 = [Math.cos(this.headingRad), Math.sin(this.headingRad), 0];
    const passed = new Set(this.passOrder);
    let best = -1, bestD = Infinity;
    const consider = (k: number): void => {
      const g = this.gates[k]!;
      const c = this.gateCenter(k);
      const rel: Vec3 = [c[0] - p[0], c[1] - p[1], c[2] - p[2]];
      const d = Math.hypot(rel[0], rel[1]);
      const fwd: Vec3 = [Math.cos(g.yawRad), Math.sin(g.yawRad), 0];
      // ahead of us (within ±80°) and we are on its entry side
      if (dot(rel, h) < 0.17 * d || dot(rel, fwd) <= 0.3) return;
      if (d < bestD) {
        bestD = d;
        best = k;
      }
    };
    for (let k = 0; k < this.gates.length; k++) if (!passed.has(k)) consider(k);
    // nothing new ahead: fly back to the first gate flown. That closes the loop — provisionally: a
    // gate discovered on the way takes over, and the map only becomes the track when gate 0 is passed
    this.loopPending = false;
    if (best < 0 && this.passOrder.length >= 2) {
      consider(this.passOrder[0]!);
      if (best >= 0) this.loopPending = true;
    }
    this.target = best;
    this.prevGateX = NaN;
  }

  private gateCenter(k: number): Vec3 {
    return [this.axes[0].x[D + k]!, this.axes[1].x[D + k]!, this.axes[2].x[D + k]!];
  }

  private writeOut(): void {
    // in place: the output is read within the tick (copy what you keep)
    const p = this.out.posEnuM, v = this.out.velEnuMS;
    for (let a = 0; a < 3; a++) {
      p[a] = this.axes[a]!.x[0]!;
      v[a] = this.axes[a]!.x[1]!;
    }
    this.out.target = this.target;
    this.out.lap = this.lap;
  }

  /** The gate poses to plan through, starting at the target. sigmaM is the gate's uncertainty relative to the drone. */
  upcoming(count: number): UpcomingGate[] {
    const out: UpcomingGate[] = [];
    out.length = this.upcomingInto(count, out);
    return out;
  }

  /**
   * upcoming() written into `out`: entries 0 … n−1 are overwritten (created once when missing) and n
   * is returned; entries past n are left as they were. No allocation once `out` holds enough entries.
   */
  upcomingInto(count: number, out: UpcomingGate[]): number {
    if (this.target < 0) return 0;
    // while discovering, only the target is known to be next
    const m = this.mapKnown ? count : 1;
    for (let k = 0; k < m; k++) {
      const idx = this.mapKnown ? this.seq[(this.seqPos + k) % this.seq.length]! : this.target;
      const g = this.gates[idx]!;
      let e = out[k];
      if (!e) {
        e = newUpcomingGate();
        out[k] = e;
      }
      const c = e.centerEnuM;
      c[0] = this.axes[0].x[D + idx]!;
      c[1] = this.axes[1].x[D + idx]!;
      c[2] = this.axes[2].x[D + idx]!;
      e.yawRad = g.yawRad;
      e.index = idx;
      e.sigmaM = this.relativeSigmaM(idx);
    }
    return m;
  }

  /** Uncertainty of a gate (default: the target) relative to the drone, m (1 σ, horizontal). */
  relativeSigmaM(k = this.target): number {
    // Number.POSITIVE_INFINITY, not the global Infinity: read on a path never taken, the global is a
    // tagged value, and every sigma this returns (inlined into upcomingInto) was boxed with it
    if (k < 0 || k >= this.gates.length) return Number.POSITIVE_INFINITY;
    return Math.sqrt(Math.max(0, (this.axes[0].relVar(k) + this.axes[1].relVar(k)) / 2));
  }

  get positionSigmaM(): number {
    return Math.sqrt((this.axes[0].P[0]! + this.axes[1].P[0]!) / 2);
  }

  saveState(): LearnedState {
    return { schema: 2, data: { gates: this.gates.map(cloneGate), sequence: this.mapKnown ? [...this.seq] : null } };
  }

  loadState(s: LearnedState): void {
    if (s.schema !== 2) throw new Error(`hippocampus: learned state schema ${s.schema} is not the supported 2`);
    const gates = s.data['gates'];
    if (!Array.isArray(gates) || (this.hasPrior && gates.length !== this.prior.length) || gates.length > this.cfg.maxGates) {
      throw new Error(`hippocampus: learned map has ${Array.isArray(gates) ? gates.length : 'no'} gates, this track has ${this.prior.length}`);
    }
    const loaded = gates.map((g: MapGate, i) => {
      const ok = Array.isArray(g.centerEnuM) && g.centerEnuM.length === 3 && g.centerEnuM.every(Number.isFinite) && Number.isFinite(g.yawRad) && Number.isFinite(g.sigmaM);
      if (!ok) throw new Error(`hippocampus: learned map gate ${i} is malformed`);
      return { ...cloneGate(g), sigmaM: clamp(g.sigmaM, 0.03, 5), yawSigmaRad: clamp(g.yawSigmaRad ?? this.cfg.mapYawSigmaRad, 0.005, 1) };
    });
    // a memory of another track must not be flown here: every remembered gate has to stand near
    // where this track's map puts it (real gates stand within a few decimetres of the map)
    this.prior.forEach((pg, i) => {
      const g = loaded[i]!;
      const d = Math.hypot(g.centerEnuM[0] - pg.centerEnuM[0], g.centerEnuM[1] - pg.centerEnuM[1], g.centerEnuM[2] - pg.centerEnuM[2]);
      if (d > 2) throw new Error(`hippocampus: learned map gate ${i} is ${d.toFixed(1)} m from this track's gate ${i}: the state file is for another track`);
    });
    this.gates = loaded;
    if (this.gates.length > 0) this.mapKnown = true;
    this.resetFilter();
    const seq = s.data['sequence'];
    if (Array.isArray(seq) && seq.length === this.gates.length && seq.every((k) => Number.isInteger(k) && k >= 0 && k < this.gates.length)) {
      this.seq = seq as number[];
      this.target = this.seq[0]!;
    }
  }

  reset(): void {
    this.gates = this.prior.map(cloneGate);
    this.mapKnown = this.prior.length > 0;
    this.resetFilter();
  }
}

function cloneGate(g: MapGate): MapGate {
  return { ...g, centerEnuM: [g.centerEnuM[0], g.centerEnuM[1], g.centerEnuM[2]] };
}
