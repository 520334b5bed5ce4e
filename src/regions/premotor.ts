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
import { clamp, type Vec3 } from '../math/vec3.js';

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

/**
 * Follows a polyline through a sequence of gates. The path can be rebuilt at any time (the
 * hippocampus corrects gate poses as it sees them); progress is kept by gate index.
 *
 * The path lives in preallocated typed arrays that only grow (a replan on every sighting must not
 * allocate): vertex i is xyz[3i..3i+2] with speed limit vMax[i]; segment i joins vertices i and i+1.
 */
export class GatePathFollower {
  private xyz = new Float64Array(3 * 16);
  private vMax = new Float64Array(16);
  private segLen = new Float64Array(16);
  /** Vertices in the current path (segments: n − 1). */
  private n = 0;
  private seg = 0;
  // The fields that hold doubles start as NaN (a double), set to their defaults in the constructor:
  // started as 0 (a small integer), the first double stored changes the object's hidden class, and a
  // follower built earlier (the flight's, before Pipeline.warmUp's) then meets code optimised for the
  // other class and throws it away. (Not declared bare either: a field that starts as undefined keeps
  // every double stored in it boxed, 16 B a store.)
  private yawRad = NaN;
  readonly cfg: FollowerConfig;
  /**
   * Scales the cruise speed (between gates as well as at them; the gates' own limits come in
   * GatePose.maxSpeedMS). Set before a (re)plan; 1 = as configured.
   */
  cruiseScale = NaN;

  constructor(cfg: Partial<FollowerConfig> = {}, initialYawRad = 0) {
    this.cfg = { ...FOLLOWER_DEFAULTS, ...cfg };
    this.yawRad = initialYawRad;
    this.cruiseScale = 1;
    this.startSpeed = 0;
    this.startTail = 0;
    this.laFromM = 0;
    this.laDistM = 0;
  }

  /**
   * Build the path from a start point through the given gates (in order). `startSpeedMS` is the
   * speed already flown at the start point: replanning mid-flight must not brake to a standstill.
   */
  setPath(startEnuM: Readonly<Vec3>, gates: readonly GatePose[], startSpeedMS = 0.5, tailM = 4): void {
    this.startSpeed = startSpeedMS;
    this.startTail = tailM;
    this.buildPath(startEnuM, null, gates, null);
    this.seg = 0;
  }

  /**
   * setPath from the vehicle's state: start at posEnuM at the speed of velEnuMS, default tail. The
   * replanning form (per sighting): no double crosses the call (V8 boxes one passed to a call it does
   * not inline), and the speed is computed in buildPath, which is optimised early, not here (a small
   * function called a few times a second runs unoptimised, boxing every intermediate, for a minute).
   */
  replanFrom(posEnuM: Readonly<Vec3>, velEnuMS: Readonly<Vec3>, gates: readonly GatePose[]): void {
    this.startTail = 4;
    this.buildPath(posEnuM, velEnuMS, gates, null);
    this.seg = 0;
  }

  /**
   * Move the current path's gates to newly estimated poses without restarting it: same start point,
   * same structure, same progress. Re-planning from scratch on every sighting would make the drone's
   * current position the start of a new path and lose where it was on the old one.
   */
  updateGates(gates: readonly GatePose[]): void {
    if (!this.havePath || gates.length !== this.gateCount) return;
    const seg = this.seg;
    this.buildPath(this.startPos, null, gates, this.startSkipEntry);
    this.seg = Math.min(seg, Math.max(0, this.n - 2));
  }

  private havePath = false;
  /** NaN, a double, for the elements kind: see yawRad. */
  private readonly startPos: Vec3 = [NaN, NaN, NaN];
  private startSpeed = NaN;
  private startTail = NaN;
  private startSkipEntry = false;
  private gateCount = 0;

  /** Make room for `vertices` (the arrays only grow: a longer path than ever before). */
  private reserve(vertices: number): void {
    if (vertices <= this.vMax.length) return;
    const cap = Math.max(vertices, 2 * this.vMax.length);
    this.xyz = new Float64Array(3 * cap);
    this.vMax = new Float64Array(cap);
    this.segLen = new Float64Array(cap);
  }

  /**
   * Build the path from `start` (kept as startPos) through the gates. The start speed is |startVel|
   * when given, else startSpeed; the tail is startTail (fields, not double arguments: see replanFrom).
   */
  private buildPath(start: Readonly<Vec3>, startVel: Readonly<Vec3> | null, gates: readonly GatePose[], skipEntry: boolean | null): void {
    if (startVel) this.startSpeed = Math.sqrt(startVel[0] * startVel[0] + startVel[1] * startVel[1] + startVel[2] * startVel[2]);
    const sx = start[0], sy = start[1], sz = start[2], startSpeedMS = this.startSpeed, tailM = this.startTail;
    const e = this.cfg.approachM;
    let skipped = false;
    this.reserve(3 * gates.length + 2);
    // vertices written in place (a helper taking the coordinates would box each double it is passed);
    // vMax holds each vertex's speed limit until the profile below turns it into the vertex's speed
    const xyz = this.xyz, vMax = this.vMax;
    xyz[0] = sx;
    xyz[1] = sy;
    xyz[2] = sz;
    vMax[0] = Infinity;
    let n = 1;
    for (let k = 0; k < gates.length; k++) {
      const g = gates[k]!;
      const f = g.forwardEnu, c = g.centerEnuM;
      const lim = g.maxSpeedMS ?? Infinity;
      // already on the approach axis (past the entry point and close to the axis): fly straight at
      // the centre; beside the gate, the entry point still has to be reached first
      const rx = sx - c[0], ry = sy - c[1], rz = sz - c[2];
      const along = rx * f[0] + ry * f[1] + rz * f[2];
      const lx = rx - f[0] * along, ly = ry - f[1] * along, lz = rz - f[2] * along;
      const lateral = Math.sqrt(lx * lx + ly * ly + lz * lz);
      const pastEntry = k === 0 && (skipEntry ?? (along > -e && lateral < 0.25 * e));
      if (k === 0) skipped = pastEntry;
      // entry (unless skipped), centre, exit
      for (let m = pastEntry ? 0 : -1; m <= 1; m++) {
        xyz[3 * n] = c[0] + m * f[0] * e;
        xyz[3 * n + 1] = c[1] + m * f[1] * e;
        xyz[3 * n + 2] = c[2] + m * f[2] * e;
        vMax[n] = lim;
        n++;
      }
    }
    {
      const l = n - 1, pv = n >= 2 ? l - 1 : l;
      let dx = xyz[3 * l]! - xyz[3 * pv]!, dy = xyz[3 * l + 1]! - xyz[3 * pv + 1]!, dz = xyz[3 * l + 2]! - xyz[3 * pv + 2]!;
      const dn = Math.sqrt(dx * dx + dy * dy + dz * dz);
      if (dn > 1e-12) {
        dx /= dn; dy /= dn; dz /= dn;
      } else dx = dy = dz = 0;
      xyz[3 * n] = xyz[3 * l]! + dx * tailM;
      xyz[3 * n + 1] = xyz[3 * l + 1]! + dy * tailM;
      xyz[3 * n + 2] = xyz[3 * l + 2]! + dz * tailM;
      vMax[n] = Infinity;
      n++;
    }
    this.n = n;
    const cruise = this.cfg.cruiseMS * this.cruiseScale, segLen = this.segLen;
    // corner speeds: vMax[i] still holds vertex i's limit here and is overwritten in place
    for (let i = 0; i < n; i++) {
      let v = cruise;
      if (i > 0 && i < n - 1) {
        let ax = xyz[3 * i]! - xyz[3 * i - 3]!, ay = xyz[3 * i + 1]! - xyz[3 * i - 2]!, az = xyz[3 * i + 2]! - xyz[3 * i - 1]!;
        let bx = xyz[3 * i + 3]! - xyz[3 * i]!, by = xyz[3 * i + 4]! - xyz[3 * i + 1]!, bz = xyz[3 * i + 5]! - xyz[3 * i + 2]!;
        const an = Math.sqrt(ax * ax + ay * ay + az * az), bn = Math.sqrt(bx * bx + by * by + bz * bz);
        if (an > 1e-12) {
          ax /= an; ay /= an; az /= an;
        } else ax = ay = az = 0;
        if (bn > 1e-12) {
          bx /= bn; by /= bn; bz /= bn;
        } else bx = by = bz = 0;
        const turn = Math.acos(clamp(ax * bx + ay * by + az * bz, -1, 1)); // 0 = straight, π = reversal
        v = Math.max(this.cfg.minCornerMS, cruise * Math.pow(Math.cos(turn / 2), 2));
      }
      vMax[i] = Math.min(v, vMax[i]!);
    }
    vMax[0] = Math.min(vMax[0]!, Math.max(0.5, startSpeedMS));
    for (let i = 0; i + 1 < n; i++) {
      const dx = xyz[3 * i + 3]! - xyz[3 * i]!, dy = xyz[3 * i + 4]! - xyz[3 * i + 1]!, dz = xyz[3 * i + 5]! - xyz[3 * i + 2]!;
      segLen[i] = Math.sqrt(dx * dx + dy * dy + dz * dz);
    }
    // backward pass: never arrive at a vertex faster than the braking budget allows
    for (let i = n - 2; i >= 0; i--) {
      const lim = Math.sqrt(vMax[i + 1]! ** 2 + 2 * this.cfg.accelMS2 * BRAKE * segLen[i]!);
      if (vMax[i]! > lim) vMax[i] = lim;
    }
    this.havePath = true;
    this.startPos[0] = sx;
    this.startPos[1] = sy;
    this.startPos[2] = sz;
    this.startSkipEntry = skipped;
    this.gateCount = gates.length;
  }

  get segment(): number {
    return this.seg;
  }

  /** The output is reused by every step (see `out`): valid until the next step. */
  step(posEnuM: Readonly<Vec3>, velEnuMS: Readonly<Vec3>): GuidanceOutput {
    const p = posEnuM, v = velEnuMS, out = this.out, acc3 = out.accEnuMS2;
    const xyz = this.xyz, nSeg = this.n - 1;
    if (this.n < 2) {
      acc3[0] = -v[0];
      acc3[1] = -v[1];
      acc3[2] = -v[2];
      out.yawRad = this.yawRad;
      out.speedRefMS = 0;
      out.segment = 0;
      out.finished = true;
      return out;
    }
    const px = p[0], py = p[1], pz = p[2];
    // move on once past the current segment's end, or once the next segment is nearer (a path whose
    // gates moved under a sighting may put the drone beside a vertex rather than before it)
    while (this.seg < nSeg - 1) {
      const a = 3 * this.seg;
      const abx = xyz[a + 3]! - xyz[a]!, aby = xyz[a + 4]! - xyz[a + 1]!, abz = xyz[a + 5]! - xyz[a + 2]!;
      const along = ((px - xyz[a]!) * abx + (py - xyz[a + 1]!) * aby + (pz - xyz[a + 2]!) * abz) / Math.max(1e-9, abx * abx + aby * aby + abz * abz);
      if (along >= 1 || nextSegmentNearer(p, xyz, a)) {
        this.seg++;
        continue;
      }
      break;
    }
    // scalar arithmetic and preallocated outputs: this runs at the command rate
    const a = 3 * this.seg;
    const ax = xyz[a]!, ay = xyz[a + 1]!, az = xyz[a + 2]!;
    const abx = xyz[a + 3]! - ax, aby = xyz[a + 4]! - ay, abz = xyz[a + 5]! - az;
    const L = Math.max(1e-9, Math.sqrt(abx * abx + aby * aby + abz * abz));
    const tx = abx / L, ty = aby / L, tz = abz / L;
    const t = Math.min(L, Math.max(0, (px - ax) * tx + (py - ay) * ty + (pz - az) * tz));
    const finished = this.seg === nSeg - 1 && t >= L - 1e-6;
    const rx = ax + tx * t, ry = ay + ty * t, rz = az + tz * t;
    const cfg = this.cfg, acc = cfg.accelMS2, cruise = cfg.cruiseMS * this.cruiseScale, kv = cfg.kv, kp = cfg.kp;
    const aV = this.vMax[this.seg]!, bV = this.vMax[this.seg + 1]!;
    const vB = Math.sqrt(bV ** 2 + 2 * acc * BRAKE * (L - t));
    const vRef = Math.min(cruise, vB, Math.max(aV, Math.sqrt(aV ** 2 + 2 * acc * t)));
    // pure pursuit toward a carrot ahead on the path anticipates corners; the pull keeps the
    // gate axis tracked tightly
    const speed = Math.sqrt(v[0] * v[0] + v[1] * v[1] + v[2] * v[2]);
    // the look-ahead's doubles go through fields: a call that is not inlined boxes double arguments
    this.laFromM = t;
    this.laDistM = 1.0 + 0.35 * speed;
    const carrot = this.lookAhead(this.scratch);
    let dx = carrot[0] - px, dy = carrot[1] - py, dz = carrot[2] - pz;
    const dn = Math.sqrt(dx * dx + dy * dy + dz * dz);
    if (dn > 1e-12) {
      dx /= dn;
      dy /= dn;
      dz /= dn;
    } else dx = dy = dz = 0;
    acc3[0] = kv * (dx * vRef - v[0]) + kp * (rx - px);
    acc3[1] = kv * (dy * vRef - v[1]) + kp * (ry - py);
    acc3[2] = kv * (dz * vRef - v[2]) + kp * (rz - pz);
    this.laDistM = 3;
    const ahead = this.lookAhead(this.scratch);
    const hx = ahead[0] - px, hy = ahead[1] - py;
    if (hx * hx + hy * hy > 0.25) this.yawRad = Math.atan2(hy, hx);
    out.yawRad = this.yawRad;
    out.speedRefMS = vRef;
    out.segment = this.seg;
    out.finished = finished;
    return out;
  }

  /** Reused every tick: copy what you keep. */
  private readonly out: GuidanceOutput = { accEnuMS2: [0, 0, 0], yawRad: NaN, speedRefMS: NaN, segment: 0, finished: false };
  private readonly scratch: Vec3 = [NaN, NaN, NaN];

  private laFromM = NaN;
  private laDistM = NaN;

  /** The point laDistM ahead of the point laFromM along the current segment, into `into`. */
  private lookAhead(into: Vec3): Vec3 {
    const nSeg = this.n - 1, segLen = this.segLen, xyz = this.xyz;
    let i = this.seg;
    let left = this.laDistM + this.laFromM;
    while (i < nSeg && left > segLen[i]!) {
      left -= segLen[i]!;
      i++;
    }
    if (i >= nSeg) {
      const e = 3 * (this.n - 1);
      into[0] = xyz[e]!;
      into[1] = xyz[e + 1]!;
      into[2] = xyz[e + 2]!;
      return into;
    }
    const a = 3 * i;
    const f = left / Math.max(1e-9, segLen[i]!);
    into[0] = xyz[a]! + (xyz[a + 3]! - xyz[a]!) * f;
    into[1] = xyz[a + 1]! + (xyz[a + 4]! - xyz[a + 1]!) * f;
    into[2] = xyz[a + 2]! + (xyz[a + 5]! - xyz[a + 2]!) * f;
    return into;
  }
}

/** Whether p is nearer (by 5 cm) the segment from vertex xyz[a+3] than the one from xyz[a]. */
function nextSegmentNearer(p: Readonly<Vec3>, xyz: Float64Array, a: number): boolean {
  // both distances in one call that returns a boolean: a double returned from a call TurboFan does
  // not inline is boxed on the heap (16 B each, twice per command tick)
  const px = p[0], py = p[1], pz = p[2];
  let dCur = 0, dNext = 0;
  for (let k = 0; k < 2; k++) {
    const b = a + 3 * k;
    const ax = xyz[b]!, ay = xyz[b + 1]!, az = xyz[b + 2]!;
    const abx = xyz[b + 3]! - ax, aby = xyz[b + 4]! - ay, abz = xyz[b + 5]! - az;
    const t = Math.min(1, Math.max(0, ((px - ax) * abx + (py - ay) * aby + (pz - az) * abz) / Math.max(1e-12, abx * abx + aby * aby + abz * abz)));
    const dx = px - ax - abx * t, dy = py - ay - aby * t, dz = pz - az - abz * t;
    const d = Math.sqrt(dx * dx + dy * dy + dz * dz);
    if (k === 0) dCur = d;
    else dNext = d;
  }
  return dNext < dCur - 0.05;
}
