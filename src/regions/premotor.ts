/**
 * Premotor guidance (innate): turns "where the gates are" into "which acceleration to ask for now".
 *
 * Claim: given any estimate of the gate poses and of the drone's state, it produces a flyable
 * acceleration + heading that threads each gate along its axis. Measurement: the privileged oracle
 * uses this same follower with true state and completes every shipped track (test/race.test.ts);
 * the pipeline's lap success then measures only the quality of its estimates.
 *
 * Method: a polyline through every gate (entry point → centre → exit point along the gate's pass
 * direction), a speed profile that slows for corners within an acceleration budget, pure pursuit
 * toward a carrot ahead on the path plus a pull back onto the path.
 */
import { clamp, dot, norm, normalize, sub, type Vec3 } from '../math/vec3.js';

export interface GatePose {
  centerEnuM: Vec3;
  /** Unit pass direction (gate +x) in ENU. */
  forwardEnu: Vec3;
  /** Speed limit through this gate (e.g. from how well its position is known), m/s. */
  maxSpeedMS?: number;
}

export interface FollowerConfig {
  /** Cruise speed, m/s. */
  cruiseMS: number;
  /** Braking budget used to plan speeds, m/s². */
  accelMS2: number;
  /** Entry/exit point distance from the gate centre along its axis, m. */
  approachM: number;
  /** Velocity-error gain, 1/s, and path-pull gain, 1/s². */
  kv: number;
  kp: number;
  /** Lowest speed at a vertex, m/s. */
  minCornerMS: number;
}

/** Fraction of the acceleration budget planned for braking: the velocity loop lags, so plan early. */
const BRAKE = 0.4;

export const FOLLOWER_DEFAULTS: FollowerConfig = { cruiseMS: 7, accelMS2: 9, approachM: 3, kv: 4.5, kp: 2, minCornerMS: 1.2 };

export interface GuidanceOutput {
  /** Desired acceleration, ENU m/s², gravity NOT included. */
  accEnuMS2: Vec3;
  /** Desired heading (yaw), rad, toward a point ahead on the path (keeps the camera on the gates). */
  yawRad: number;
  /** Reference speed at the current point, m/s. */
  speedRefMS: number;
  /** Index of the path segment being tracked. */
  segment: number;
  /** True once the end of the path is reached. */
  finished: boolean;
}

interface PathPoint {
  p: Vec3;
  vMax: number;
}

/**
 * Follows a polyline through a sequence of gates. The path can be rebuilt at any time (the
 * hippocampus corrects gate poses as it sees them); progress is kept by gate index.
 */
export class GatePathFollower {
  private path: PathPoint[] = [];
  private segLen: number[] = [];
  private seg = 0;
  private yawRad: number;
  readonly cfg: FollowerConfig;

  constructor(cfg: Partial<FollowerConfig> = {}, initialYawRad = 0) {
    this.cfg = { ...FOLLOWER_DEFAULTS, ...cfg };
    this.yawRad = initialYawRad;
  }

  /**
   * Build the path from a start point through the given gates (in order). `startSpeedMS` is the
   * speed already flown at the start point: replanning mid-flight must not brake to a standstill.
   */
  setPath(startEnuM: Vec3, gates: readonly GatePose[], startSpeedMS = 0.5, tailM = 4): void {
    this.buildPath(startEnuM, gates, startSpeedMS, tailM, null);
    this.seg = 0;
  }

  /**
   * Move the current path's gates to newly estimated poses without restarting it: same start point,
   * same structure, same progress. Re-planning from scratch on every sighting would make the drone's
   * current position the start of a new path and lose where it was on the old one.
   */
  updateGates(gates: readonly GatePose[]): void {
    if (!this.start || gates.length !== this.gateCount) return;
    const seg = this.seg;
    this.buildPath(this.start.p, gates, this.start.speed, this.start.tail, this.start.skipEntry);
    this.seg = Math.min(seg, Math.max(0, this.segLen.length - 1));
  }

  private start: { p: Vec3; speed: number; tail: number; skipEntry: boolean } | null = null;
  private gateCount = 0;

  private buildPath(startEnuM: Vec3, gates: readonly GatePose[], startSpeedMS: number, tailM: number, skipEntry: boolean | null): void {
    const e = this.cfg.approachM;
    let skipped = false;
    const pts: Vec3[] = [[startEnuM[0], startEnuM[1], startEnuM[2]]];
    const limits: number[] = [Infinity];
    gates.forEach((g, k) => {
      const f = g.forwardEnu, c = g.centerEnuM;
      const lim = g.maxSpeedMS ?? Infinity;
      const entry: Vec3 = [c[0] - f[0] * e, c[1] - f[1] * e, c[2] - f[2] * e];
      // already on the approach axis (past the entry point and close to the axis): fly straight at
      // the centre; beside the gate, the entry point still has to be reached first
      const rel = sub(startEnuM, c);
      const along = dot(rel, f);
      const lateral = norm([rel[0] - f[0] * along, rel[1] - f[1] * along, rel[2] - f[2] * along]);
      const pastEntry = k === 0 && (skipEntry ?? (along > -e && lateral < 0.25 * e));
      if (k === 0) skipped = pastEntry;
      if (!pastEntry) {
        pts.push(entry);
        limits.push(lim);
      }
      pts.push([c[0], c[1], c[2]]);
      pts.push([c[0] + f[0] * e, c[1] + f[1] * e, c[2] + f[2] * e]);
      limits.push(lim, lim);
    });
    const last = pts[pts.length - 1]!, prev = pts[pts.length - 2] ?? last;
    const d = normalize(sub(last, prev));
    pts.push([last[0] + d[0] * tailM, last[1] + d[1] * tailM, last[2] + d[2] * tailM]);
    const cruise = this.cfg.cruiseMS;
    this.path = pts.map((p, i) => {
      let vMax = cruise;
      if (i > 0 && i < pts.length - 1) {
        const a = normalize(sub(p, pts[i - 1]!));
        const b = normalize(sub(pts[i + 1]!, p));
        const turn = Math.acos(clamp(dot(a, b), -1, 1)); // 0 = straight, π = reversal
        vMax = Math.max(this.cfg.minCornerMS, cruise * Math.pow(Math.cos(turn / 2), 2));
      }
      return { p, vMax: Math.min(vMax, limits[i] ?? Infinity) };
    });
    this.path[0]!.vMax = Math.min(this.path[0]!.vMax, Math.max(0.5, startSpeedMS));
    this.segLen = [];
    for (let i = 0; i + 1 < this.path.length; i++) this.segLen.push(norm(sub(this.path[i + 1]!.p, this.path[i]!.p)));
    // backward pass: never arrive at a vertex faster than the braking budget allows
    for (let i = this.path.length - 2; i >= 0; i--) {
      const lim = Math.sqrt(this.path[i + 1]!.vMax ** 2 + 2 * this.cfg.accelMS2 * BRAKE * this.segLen[i]!);
      if (this.path[i]!.vMax > lim) this.path[i]!.vMax = lim;
    }
    this.start = { p: [startEnuM[0], startEnuM[1], startEnuM[2]], speed: startSpeedMS, tail: tailM, skipEntry: skipped };
    this.gateCount = gates.length;
  }

  get segment(): number {
    return this.seg;
  }

  step(posEnuM: Vec3, velEnuMS: Vec3): GuidanceOutput {
    const p = posEnuM, v = velEnuMS;
    if (this.path.length < 2) return { accEnuMS2: [-v[0], -v[1], -v[2]], yawRad: this.yawRad, speedRefMS: 0, segment: 0, finished: true };
    // move on once past the current segment's end, or once the next segment is nearer (a path whose
    // gates moved under a sighting may put the drone beside a vertex rather than before it)
    while (this.seg < this.segLen.length - 1) {
      const a = this.path[this.seg]!.p, b = this.path[this.seg + 1]!.p, c = this.path[this.seg + 2]!.p;
      const ab = sub(b, a);
      if (dot(sub(p, a), ab) / Math.max(1e-9, dot(ab, ab)) >= 1 || distToSegment(p, b, c) < distToSegment(p, a, b) - 0.05) {
        this.seg++;
        continue;
      }
      break;
    }
    const a = this.path[this.seg]!, b = this.path[this.seg + 1]!;
    const ab = sub(b.p, a.p);
    const L = Math.max(1e-9, norm(ab));
    const tan: Vec3 = [ab[0] / L, ab[1] / L, ab[2] / L];
    const t = clamp(dot(sub(p, a.p), tan), 0, L);
    const finished = this.seg === this.segLen.length - 1 && t >= L - 1e-6;
    const pRef: Vec3 = [a.p[0] + tan[0] * t, a.p[1] + tan[1] * t, a.p[2] + tan[2] * t];
    const { accelMS2: acc, cruiseMS: cruise, kv, kp } = this.cfg;
    const vB = Math.sqrt(b.vMax ** 2 + 2 * acc * BRAKE * (L - t));
    const vRef = Math.min(cruise, vB, Math.max(a.vMax, Math.sqrt(a.vMax ** 2 + 2 * acc * t)));
    // pure pursuit toward a carrot ahead on the path anticipates corners; the pull keeps the
    // gate axis tracked tightly
    const speed = norm(v);
    const carrot = this.lookAhead(t, 1.0 + 0.35 * speed);
    const dir = normalize(sub(carrot, p));
    const out: Vec3 = [
      kv * (dir[0] * vRef - v[0]) + kp * (pRef[0] - p[0]),
      kv * (dir[1] * vRef - v[1]) + kp * (pRef[1] - p[1]),
      kv * (dir[2] * vRef - v[2]) + kp * (pRef[2] - p[2]),
    ];
    const ahead = this.lookAhead(t, 3);
    const dx = ahead[0] - p[0], dy = ahead[1] - p[1];
    if (Math.hypot(dx, dy) > 0.5) this.yawRad = Math.atan2(dy, dx);
    return { accEnuMS2: out, yawRad: this.yawRad, speedRefMS: vRef, segment: this.seg, finished };
  }

  private lookAhead(t: number, distM: number): Vec3 {
    let i = this.seg;
    let left = distM + t;
    while (i < this.segLen.length && left > this.segLen[i]!) {
      left -= this.segLen[i]!;
      i++;
    }
    if (i >= this.segLen.length) return this.path[this.path.length - 1]!.p;
    const a = this.path[i]!.p, b = this.path[i + 1]!.p;
    const f = left / Math.max(1e-9, this.segLen[i]!);
    return [a[0] + (b[0] - a[0]) * f, a[1] + (b[1] - a[1]) * f, a[2] + (b[2] - a[2]) * f];
  }
}

/** Distance from p to the segment [a, b]. */
function distToSegment(p: Vec3, a: Vec3, b: Vec3): number {
  const ab = sub(b, a);
  const t = clamp(dot(sub(p, a), ab) / Math.max(1e-12, dot(ab, ab)), 0, 1);
  return norm(sub(p, [a[0] + ab[0] * t, a[1] + ab[1] * t, a[2] + ab[2] * t]));
}
