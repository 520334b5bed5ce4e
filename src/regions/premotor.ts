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
    const p = posEnuM, v = velEnuMS, out = this.out, acc3 = out.accEnuMS2;
    if (this.path.length < 2) {
      acc3[0] = -v[0];
      acc3[1] = -v[1];
      acc3[2] = -v[2];
      out.yawRad = this.yawRad;
      out.speedRefMS = 0;
      out.segment = 0;
      out.finished = true;
      return out;
    }
    // move on once past the current segment's end, or once the next segment is nearer (a path whose
    // gates moved under a sighting may put the drone beside a vertex rather than before it)
    while (this.seg < this.segLen.length - 1) {
      const a = this.path[this.seg]!.p, b = this.path[this.seg + 1]!.p, c = this.path[this.seg + 2]!.p;
      const abx = b[0] - a[0], aby = b[1] - a[1], abz = b[2] - a[2];
      const along = ((p[0] - a[0]) * abx + (p[1] - a[1]) * aby + (p[2] - a[2]) * abz) / Math.max(1e-9, abx * abx + aby * aby + abz * abz);
      if (along >= 1 || distToSegment(p, b, c) < distToSegment(p, a, b) - 0.05) {
        this.seg++;
        continue;
      }
      break;
    }
    // scalar arithmetic and preallocated outputs: this runs at the command rate
    const a = this.path[this.seg]!, b = this.path[this.seg + 1]!;
    const abx = b.p[0] - a.p[0], aby = b.p[1] - a.p[1], abz = b.p[2] - a.p[2];
    const L = Math.max(1e-9, Math.hypot(abx, aby, abz));
    const tx = abx / L, ty = aby / L, tz = abz / L;
    const t = clamp((p[0] - a.p[0]) * tx + (p[1] - a.p[1]) * ty + (p[2] - a.p[2]) * tz, 0, L);
    const finished = this.seg === this.segLen.length - 1 && t >= L - 1e-6;
    const rx = a.p[0] + tx * t, ry = a.p[1] + ty * t, rz = a.p[2] + tz * t;
    const { accelMS2: acc, cruiseMS: cruise, kv, kp } = this.cfg;
    const vB = Math.sqrt(b.vMax ** 2 + 2 * acc * BRAKE * (L - t));
    const vRef = Math.min(cruise, vB, Math.max(a.vMax, Math.sqrt(a.vMax ** 2 + 2 * acc * t)));
    // pure pursuit toward a carrot ahead on the path anticipates corners; the pull keeps the
    // gate axis tracked tightly
    const speed = Math.hypot(v[0], v[1], v[2]);
    const carrot = this.lookAhead(t, 1.0 + 0.35 * speed, this.scratch);
    let dx = carrot[0] - p[0], dy = carrot[1] - p[1], dz = carrot[2] - p[2];
    const dn = Math.hypot(dx, dy, dz);
    if (dn > 1e-12) {
      dx /= dn;
      dy /= dn;
      dz /= dn;
    } else dx = dy = dz = 0;
    acc3[0] = kv * (dx * vRef - v[0]) + kp * (rx - p[0]);
    acc3[1] = kv * (dy * vRef - v[1]) + kp * (ry - p[1]);
    acc3[2] = kv * (dz * vRef - v[2]) + kp * (rz - p[2]);
    const ahead = this.lookAhead(t, 3, this.scratch);
    const hx = ahead[0] - p[0], hy = ahead[1] - p[1];
    if (Math.hypot(hx, hy) > 0.5) this.yawRad = Math.atan2(hy, hx);
    out.yawRad = this.yawRad;
    out.speedRefMS = vRef;
    out.segment = this.seg;
    out.finished = finished;
    return out;
  }

  /** Reused every tick: copy what you keep. */
  private readonly out: GuidanceOutput = { accEnuMS2: [0, 0, 0], yawRad: 0, speedRefMS: 0, segment: 0, finished: false };
  private readonly scratch: Vec3 = [0, 0, 0];

  private lookAhead(t: number, distM: number, into: Vec3): Vec3 {
    let i = this.seg;
    let left = distM + t;
    while (i < this.segLen.length && left > this.segLen[i]!) {
      left -= this.segLen[i]!;
      i++;
    }
    if (i >= this.segLen.length) {
      const e = this.path[this.path.length - 1]!.p;
      into[0] = e[0];
      into[1] = e[1];
      into[2] = e[2];
      return into;
    }
    const a = this.path[i]!.p, b = this.path[i + 1]!.p;
    const f = left / Math.max(1e-9, this.segLen[i]!);
    into[0] = a[0] + (b[0] - a[0]) * f;
    into[1] = a[1] + (b[1] - a[1]) * f;
    into[2] = a[2] + (b[2] - a[2]) * f;
    return into;
  }
}

/** Distance from p to the segment [a, b]. */
function distToSegment(p: Vec3, a: Vec3, b: Vec3): number {
  const abx = b[0] - a[0], aby = b[1] - a[1], abz = b[2] - a[2];
  const t = clamp(((p[0] - a[0]) * abx + (p[1] - a[1]) * aby + (p[2] - a[2]) * abz) / Math.max(1e-12, abx * abx + aby * aby + abz * abz), 0, 1);
  return Math.hypot(p[0] - a[0] - abx * t, p[1] - a[1] - aby * t, p[2] - a[2] - abz * t);
}
