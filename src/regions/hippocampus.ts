/**
 * Hippocampus (learned online): the track map and where we are on it.
 *
 * Claim: holding the gate map in an odometry frame — seeded from the organisers' prior when there is
 * one, corrected by every gate seen and passed, written from scratch when there is none — makes the
 * next gate's position known before it is visible (behind a turn, after the split-S) and lets laps
 * 2+ fly from memory. Measurement: the ablation (docs/ablation.md) with the map memory disabled
 * (every lap flown on the uncorrected prior), on lap-2+ time and success with hidden gates.
 *
 * Method: path integration of the vestibular world acceleration in a small Kalman filter per axis,
 * state [position, velocity, accelerometer bias, target-gate position]; a gate sighting (the
 * colliculus' PnP, placed at the attitude of its exposure time) measures gate − drone, so it
 * corrects both the drone and the gate in proportion to their uncertainties. When the target gate
 * changes, its estimate and variance are written back into the map (the memory) and the next gate's
 * stored estimate is loaded. A gate passed (the drone crosses its plane in the estimated gate frame)
 * advances the target and counts laps.
 */
import { clamp, dot, wrapPi, type Vec3 } from '../math/vec3.js';
import type { LearnedState, Region } from './region.js';

export interface MapGate {
  centerEnuM: Vec3;
  yawRad: number;
  /** 1-σ uncertainty of the centre, m, per axis. */
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
  /** Sighting noise: σ = base + perM · range, m. */
  sightingSigmaBaseM: number;
  sightingSigmaPerM: number;
  /** Sightings with a larger innovation than this many σ are treated as outliers. */
  gateChi: number;
  /** History kept for delayed measurements, s. */
  historyS: number;
  /** When false the map is never corrected (ablation: fly every lap on the prior). */
  learnMap: boolean;
}

export const HIPPOCAMPUS_DEFAULTS: HippocampusConfig = {
  mapSigmaM: 0.35,
  mapYawSigmaRad: (6 * Math.PI) / 180,
  accelNoiseMS2: 0.6,
  accelBiasWalk: 0.02,
  initialBiasSigmaMS2: 0.15,
  sightingSigmaBaseM: 0.05,
  sightingSigmaPerM: 0.04,
  gateChi: 4,
  historyS: 0.6,
  learnMap: true,
};

export type HippocampusInput =
  | { kind: 'imu'; stampS: number; accEnuMS2: Vec3 }
  | {
      kind: 'sighting';
      stampS: number;
      /** Gate centre minus drone position, ENU, from the colliculus' PnP at the exposure attitude. */
      relEnuM: Vec3;
      /** The gate plane's normal in ENU pointing toward the camera, when the PnP gave one. */
      normalEnu: Vec3 | null;
      rangeM: number;
      /** Multiplies the sighting noise (oblique views, poor fits); default 1. */
      sigmaScale?: number;
    };

export interface HippocampusOutput {
  posEnuM: Vec3;
  velEnuMS: Vec3;
  /** Index of the gate to fly through next. */
  target: number;
  /** Completed laps. */
  lap: number;
  /** Index of a gate passed on this tick, else -1. */
  passed: number;
  /** Whether the last sighting was accepted. */
  sightingAccepted: boolean;
}

const I = 4; // state size per axis: p, v, b, g

/** One axis of the path-integration filter: x = [p, v, b, g], P 4×4 row-major. */
class AxisFilter {
  readonly x = new Float64Array(I);
  readonly P = new Float64Array(I * I);

  init(p: number, sigP: number, sigV: number, sigB: number, g: number, sigG: number): void {
    this.x.set([p, 0, 0, g]);
    this.P.fill(0);
    this.P[0] = sigP * sigP;
    this.P[5] = sigV * sigV;
    this.P[10] = sigB * sigB;
    this.P[15] = sigG * sigG;
  }

  predict(a: number, dt: number, qa: number, qb: number): void {
    const x = this.x, P = this.P;
    const ab = a - x[2]!;
    x[0] = x[0]! + x[1]! * dt + 0.5 * ab * dt * dt;
    x[1] = x[1]! + ab * dt;
    // P = F P Fᵀ + Q with F = [[1, dt, -dt²/2, 0], [0, 1, -dt, 0], [0, 0, 1, 0], [0, 0, 0, 1]]
    const h = -0.5 * dt * dt;
    // rows of F P
    for (let c = 0; c < I; c++) {
      const p0 = P[c]!, p1 = P[4 + c]!, p2 = P[8 + c]!;
      P[c] = p0 + dt * p1 + h * p2;
      P[4 + c] = p1 - dt * p2;
    }
    // columns of (F P) Fᵀ
    for (let r = 0; r < I; r++) {
      const q0 = P[r * 4]!, q1 = P[r * 4 + 1]!, q2 = P[r * 4 + 2]!;
      P[r * 4] = q0 + dt * q1 + h * q2;
      P[r * 4 + 1] = q1 - dt * q2;
    }
    const q = qa * qa;
    P[0] = P[0]! + (q * dt ** 4) / 4;
    P[1] = P[1]! + (q * dt ** 3) / 2;
    P[4] = P[4]! + (q * dt ** 3) / 2;
    P[5] = P[5]! + q * dt * dt;
    P[10] = P[10]! + qb * qb * dt;
  }

  /** Measurement y = g − p (with the drone position at exposure = current − dpSince). Returns the normalised innovation. */
  innovation(y: number, dpSince: number, r: number): { nu: number; s: number } {
    const x = this.x, P = this.P;
    const nu = y - (x[3]! - (x[0]! - dpSince));
    const s = P[0]! - P[3]! - P[12]! + P[15]! + r * r;
    return { nu, s };
  }

  update(nu: number, s: number): void {
    const x = this.x, P = this.P;
    // PHᵀ with H = [-1, 0, 0, 1]
    const ph = [P[3]! - P[0]!, P[7]! - P[4]!, P[11]! - P[8]!, P[15]! - P[12]!];
    const k = ph.map((v) => v / s);
    for (let i = 0; i < I; i++) x[i] = x[i]! + k[i]! * nu;
    // P = P − K (H P); H P = phᵀ (P symmetric)
    for (let i = 0; i < I; i++) for (let j = 0; j < I; j++) P[i * 4 + j] = P[i * 4 + j]! - k[i]! * ph[j]!;
    for (let i = 0; i < I; i++) for (let j = i + 1; j < I; j++) {
      const m = 0.5 * (P[i * 4 + j]! + P[j * 4 + i]!);
      P[i * 4 + j] = m;
      P[j * 4 + i] = m;
    }
  }

  /** Swap the gate slot: write the current gate estimate out, load another. */
  loadGate(g: number, sigG: number): void {
    this.x[3] = g;
    for (let i = 0; i < I; i++) {
      this.P[i * 4 + 3] = 0;
      this.P[12 + i] = 0;
    }
    this.P[15] = sigG * sigG;
  }
}

export class Hippocampus implements Region<HippocampusInput, HippocampusOutput> {
  readonly name = 'hippocampus';
  readonly cfg: HippocampusConfig;
  /** The map: prior gates, corrected in place as they are seen. */
  gates: MapGate[];
  private readonly prior: MapGate[];
  private readonly axes = [new AxisFilter(), new AxisFilter(), new AxisFilter()];
  private target = 0;
  private lap = 0;
  private lastStampS = NaN;
  private readonly out: HippocampusOutput;
  // history of (t, px, py, pz) for delayed sightings
  private readonly hist: Float64Array;
  private readonly histCap: number;
  private histHead = 0;
  private histLen = 0;
  private prevGateX = NaN;
  /** Learned-from-experience counters for reporting. */
  sightingsAccepted = 0;
  sightingsRejected = 0;

  constructor(
    prior: readonly { centerEnuM: Vec3; yawRad: number }[],
    private readonly start: { posEnuM: Vec3; yawRad: number },
    cfg: Partial<HippocampusConfig> = {},
  ) {
    this.cfg = { ...HIPPOCAMPUS_DEFAULTS, ...cfg };
    this.prior = prior.map((g) => ({
      centerEnuM: [g.centerEnuM[0], g.centerEnuM[1], g.centerEnuM[2]],
      yawRad: g.yawRad,
      sigmaM: this.cfg.mapSigmaM,
      yawSigmaRad: this.cfg.mapYawSigmaRad,
      sightings: 0,
      passes: 0,
    }));
    this.gates = this.prior.map(cloneGate);
    this.histCap = Math.ceil(this.cfg.historyS * 2000) + 8;
    this.hist = new Float64Array(this.histCap * 4);
    this.out = { posEnuM: [0, 0, 0], velEnuMS: [0, 0, 0], target: 0, lap: 0, passed: -1, sightingAccepted: false };
    this.resetFilter();
  }

  private resetFilter(): void {
    this.target = 0;
    const g = this.gates[0];
    for (let a = 0; a < 3; a++) {
      this.axes[a]!.init(this.start.posEnuM[a]!, 0.02, 0.02, this.cfg.initialBiasSigmaMS2, g ? g.centerEnuM[a]! : 0, g ? g.sigmaM : 1);
    }
    this.lap = 0;
    this.histLen = 0;
    this.prevGateX = NaN;
    this.lastStampS = NaN;
    this.writeOut();
  }

  step(input: HippocampusInput, _dtS = 0): HippocampusOutput {
    this.out.passed = -1;
    if (input.kind === 'imu') this.integrate(input.stampS, input.accEnuMS2);
    else this.sight(input);
    this.writeOut();
    return this.out;
  }

  private integrate(tS: number, acc: Vec3): void {
    if (!Number.isFinite(tS) || !(tS > this.lastStampS || Number.isNaN(this.lastStampS))) return;
    const dt = Number.isNaN(this.lastStampS) ? 0 : Math.min(0.02, tS - this.lastStampS);
    this.lastStampS = tS;
    if (dt > 0 && Number.isFinite(acc[0]) && Number.isFinite(acc[1]) && Number.isFinite(acc[2])) {
      for (let a = 0; a < 3; a++) this.axes[a]!.predict(acc[a]!, dt, this.cfg.accelNoiseMS2, this.cfg.accelBiasWalk);
    }
    const i = this.histHead * 4;
    this.hist[i] = tS;
    this.hist[i + 1] = this.axes[0]!.x[0]!;
    this.hist[i + 2] = this.axes[1]!.x[0]!;
    this.hist[i + 3] = this.axes[2]!.x[0]!;
    this.histHead = (this.histHead + 1) % this.histCap;
    if (this.histLen < this.histCap) this.histLen++;
    this.checkPassage();
  }

  /** Drone position change since time tS (for delayed measurements), per axis. */
  private sinceStamp(tS: number, out: Vec3): Vec3 {
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

  private readonly dp: Vec3 = [0, 0, 0];

  private sight(s: Extract<HippocampusInput, { kind: 'sighting' }>): void {
    this.out.sightingAccepted = false;
    const g = this.gates[this.target];
    if (!g || !Number.isFinite(s.rangeM) || !s.relEnuM.every(Number.isFinite)) return;
    const r = (this.cfg.sightingSigmaBaseM + this.cfg.sightingSigmaPerM * s.rangeM) * Math.max(1, s.sigmaScale ?? 1);
    const dp = this.sinceStamp(s.stampS, this.dp);
    const inn = [0, 1, 2].map((a) => this.axes[a]!.innovation(s.relEnuM[a]!, dp[a]!, r));
    // gate the sighting as a whole: a different gate or a bad PnP is an outlier
    const chi2 = inn.reduce((acc, v) => acc + (v.nu * v.nu) / v.s, 0);
    if (chi2 > this.cfg.gateChi * this.cfg.gateChi * 3) {
      this.sightingsRejected++;
      return;
    }
    for (let a = 0; a < 3; a++) this.axes[a]!.update(inn[a]!.nu, inn[a]!.s);
    this.sightingsAccepted++;
    this.out.sightingAccepted = true;
    g.sightings++;
    if (this.cfg.learnMap) {
      g.centerEnuM = [this.axes[0]!.x[3]!, this.axes[1]!.x[3]!, this.axes[2]!.x[3]!];
      g.sigmaM = Math.sqrt((this.axes[0]!.P[15]! + this.axes[1]!.P[15]!) / 2);
      // the gate's heading from its plane normal (we approach from its front, so forward = −normal)
      if (s.normalEnu && s.rangeM < 10) {
        const fx = -s.normalEnu[0], fy = -s.normalEnu[1];
        if (Math.hypot(fx, fy) > 0.7) {
          const obs = Math.atan2(fy, fx);
          const d = wrapPi(obs - g.yawRad);
          if (Math.abs(d) < 0.6) {
            const rv = (0.05 + 0.01 * s.rangeM) ** 2;
            const k = g.yawSigmaRad ** 2 / (g.yawSigmaRad ** 2 + rv);
            g.yawRad = wrapPi(g.yawRad + k * d);
            g.yawSigmaRad = Math.sqrt((1 - k) * g.yawSigmaRad ** 2);
          }
        }
      }
    } else {
      // ablation: keep using the prior for the gate itself (the drone still localises against it)
      const pg = this.prior[this.target]!;
      for (let a = 0; a < 3; a++) this.axes[a]!.loadGate(pg.centerEnuM[a]!, pg.sigmaM);
    }
  }

  /** Advance the target when the estimated position crosses the target gate's plane. */
  private checkPassage(): void {
    const g = this.gates[this.target];
    if (!g) return;
    const f: Vec3 = [Math.cos(g.yawRad), Math.sin(g.yawRad), 0];
    const c = this.targetCenter();
    const rel: Vec3 = [this.axes[0]!.x[0]! - c[0], this.axes[1]!.x[0]! - c[1], this.axes[2]!.x[0]! - c[2]];
    const x = dot(rel, f);
    const lateral = Math.hypot(rel[0] - f[0] * x, rel[1] - f[1] * x, rel[2]);
    if (this.prevGateX < 0 && x >= 0 && lateral < 2.5) this.advance();
    else this.prevGateX = x;
  }

  private advance(): void {
    const passed = this.target;
    const g = this.gates[passed]!;
    g.passes++;
    this.out.passed = passed;
    this.target = (this.target + 1) % this.gates.length;
    if (this.target === 0) this.lap++;
    const next = this.gates[this.target]!;
    for (let a = 0; a < 3; a++) this.axes[a]!.loadGate(next.centerEnuM[a]!, next.sigmaM);
    this.prevGateX = NaN;
  }

  private targetCenter(): Vec3 {
    return [this.axes[0]!.x[3]!, this.axes[1]!.x[3]!, this.axes[2]!.x[3]!];
  }

  private writeOut(): void {
    this.out.posEnuM = [this.axes[0]!.x[0]!, this.axes[1]!.x[0]!, this.axes[2]!.x[0]!];
    this.out.velEnuMS = [this.axes[0]!.x[1]!, this.axes[1]!.x[1]!, this.axes[2]!.x[1]!];
    this.out.target = this.target;
    this.out.lap = this.lap;
  }

  /** The gate poses to plan through, starting at the target (the target's live estimate first). */
  upcoming(count: number): { centerEnuM: Vec3; yawRad: number; index: number; sigmaM: number }[] {
    const out: { centerEnuM: Vec3; yawRad: number; index: number; sigmaM: number }[] = [];
    const n = this.gates.length;
    for (let k = 0; k < Math.min(count, n * 4); k++) {
      const idx = (this.target + k) % n;
      const g = this.gates[idx]!;
      out.push({ centerEnuM: k === 0 ? this.targetCenter() : g.centerEnuM, yawRad: g.yawRad, index: idx, sigmaM: k === 0 ? this.relativeSigmaM() : g.sigmaM });
    }
    return out;
  }

  /** Uncertainty of the target gate relative to the drone, m (1 σ, horizontal). */
  relativeSigmaM(): number {
    let s = 0;
    for (let a = 0; a < 2; a++) {
      const P = this.axes[a]!.P;
      s += P[0]! - P[3]! - P[12]! + P[15]!;
    }
    return Math.sqrt(Math.max(0, s / 2));
  }

  get positionSigmaM(): number {
    return Math.sqrt((this.axes[0]!.P[0]! + this.axes[1]!.P[0]!) / 2);
  }

  saveState(): LearnedState {
    return { schema: 1, data: { gates: this.gates.map(cloneGate) } };
  }

  loadState(s: LearnedState): void {
    if (s.schema !== 1) throw new Error(`hippocampus: learned state schema ${s.schema} is not the supported 1`);
    const gates = s.data['gates'];
    if (!Array.isArray(gates) || gates.length !== this.gates.length) {
      throw new Error(`hippocampus: learned map has ${Array.isArray(gates) ? gates.length : 'no'} gates, this track has ${this.gates.length}`);
    }
    this.gates = gates.map((g: MapGate, i) => {
      const ok = Array.isArray(g.centerEnuM) && g.centerEnuM.length === 3 && g.centerEnuM.every(Number.isFinite) && Number.isFinite(g.yawRad) && Number.isFinite(g.sigmaM);
      if (!ok) throw new Error(`hippocampus: learned map gate ${i} is malformed`);
      return { ...cloneGate(g), sigmaM: clamp(g.sigmaM, 0.03, 5), yawSigmaRad: clamp(g.yawSigmaRad ?? this.cfg.mapYawSigmaRad, 0.005, 1) };
    });
    this.resetFilter();
  }

  reset(): void {
    this.gates = this.prior.map(cloneGate);
    this.resetFilter();
  }
}

function cloneGate(g: MapGate): MapGate {
  return { ...g, centerEnuM: [g.centerEnuM[0], g.centerEnuM[1], g.centerEnuM[2]] };
}
