/**
 * The oracle: a PRIVILEGED baseline that reads the simulator's true state and the true gate poses.
 * It exists to validate the simulator (every shipped track is flyable) and to be the reference
 * against which the sensor-only controllers are compared. It is never a fallback for them.
 *
 * Method: a polyline through every gate (entry point → centre → exit point along the gate's pass
 * direction), a speed profile that slows for corners within an acceleration budget, and a
 * position/velocity tracker that produces a thrust vector, turned into collective thrust + body
 * rates by a quaternion attitude controller — the classic differential-flatness recipe.
 */
import type { Controller } from '../src/tracts/controller.js';
import type { CameraFrame, CtbrCommand, ImuSample } from '../src/tracts/io.js';
import { clamp, cross, dot, norm, normalize, sub, type Vec3 } from '../src/math/vec3.js';
import { quatConj, quatMul, type Quat } from '../src/math/quat.js';
import type { RigidBodyState, TrackSpec, VehicleParams } from './types.js';
import { GRAVITY_MS2 } from './physics.js';
import { gateFrameOf } from './gates.js';

export interface OracleOptions {
  /** Cruise speed, m/s. */
  cruiseMS?: number;
  /** Acceleration budget used to plan braking, m/s². */
  accelMS2?: number;
  /** Distance of the entry/exit points from the gate centre along its axis, m. */
  approachM?: number;
}

/** Rotation matrix (columns = body axes in world) → quaternion [w,x,y,z]. */
function quatFromAxes(xb: Vec3, yb: Vec3, zb: Vec3): Quat {
  const m00 = xb[0], m01 = yb[0], m02 = zb[0];
  const m10 = xb[1], m11 = yb[1], m12 = zb[1];
  const m20 = xb[2], m21 = yb[2], m22 = zb[2];
  const tr = m00 + m11 + m22;
  let q: Quat;
  if (tr > 0) {
    const s = Math.sqrt(tr + 1) * 2;
    q = [0.25 * s, (m21 - m12) / s, (m02 - m20) / s, (m10 - m01) / s];
  } else if (m00 > m11 && m00 > m22) {
    const s = Math.sqrt(1 + m00 - m11 - m22) * 2;
    q = [(m21 - m12) / s, 0.25 * s, (m01 + m10) / s, (m02 + m20) / s];
  } else if (m11 > m22) {
    const s = Math.sqrt(1 + m11 - m00 - m22) * 2;
    q = [(m02 - m20) / s, (m01 + m10) / s, 0.25 * s, (m12 + m21) / s];
  } else {
    const s = Math.sqrt(1 + m22 - m00 - m11) * 2;
    q = [(m10 - m01) / s, (m02 + m20) / s, (m12 + m21) / s, 0.25 * s];
  }
  return q;
}

interface PathPoint {
  p: Vec3;
  /** Speed limit at this vertex, m/s. */
  vMax: number;
}

export class OracleController implements Controller {
  readonly name = 'oracle';
  readonly privileged = true;
  private readonly path: PathPoint[] = [];
  private readonly segLen: number[] = [];
  /** Index of the path segment being tracked. */
  private seg = 0;
  private yawRad: number;
  private readonly cruise: number;
  private readonly accel: number;

  constructor(
    private readonly truth: () => RigidBodyState,
    track: TrackSpec,
    private readonly vehicle: VehicleParams,
    laps: number,
    opts: OracleOptions = {},
  ) {
    this.cruise = opts.cruiseMS ?? 7;
    this.accel = opts.accelMS2 ?? 9;
    const e = opts.approachM ?? 3;
    const pts: Vec3[] = [track.start.posEnuM];
    for (let lap = 0; lap < laps; lap++) {
      for (const g of track.gates) {
        const f = gateFrameOf(g).dirToWorld([1, 0, 0]);
        const c = g.centerEnuM;
        pts.push([c[0] - f[0] * e, c[1] - f[1] * e, c[2] - f[2] * e]);
        pts.push([c[0], c[1], c[2]]);
        pts.push([c[0] + f[0] * e, c[1] + f[1] * e, c[2] + f[2] * e]);
      }
    }
    // keep flying a little past the final gate so the last pass is clean
    const last = pts[pts.length - 1]!, prev = pts[pts.length - 2]!;
    const d = normalize(sub(last, prev));
    pts.push([last[0] + d[0] * 4, last[1] + d[1] * 4, last[2] + d[2] * 4]);
    for (let i = 0; i < pts.length; i++) {
      let vMax = this.cruise;
      if (i > 0 && i < pts.length - 1) {
        const a = normalize(sub(pts[i]!, pts[i - 1]!));
        const b = normalize(sub(pts[i + 1]!, pts[i]!));
        const cosT = clamp(dot(a, b), -1, 1);
        const turn = Math.acos(cosT); // 0 = straight, π = reversal
        vMax = Math.max(1.2, this.cruise * Math.pow(Math.cos(turn / 2), 2));
      }
      this.path.push({ p: pts[i]!, vMax });
    }
    this.path[0]!.vMax = 0.5;
    for (let i = 0; i + 1 < this.path.length; i++) this.segLen.push(norm(sub(this.path[i + 1]!.p, this.path[i]!.p)));
    // backward pass: never arrive at a vertex faster than the braking budget allows
    for (let i = this.path.length - 2; i >= 0; i--) {
      const lim = Math.sqrt(this.path[i + 1]!.vMax ** 2 + 2 * this.accel * 0.6 * this.segLen[i]!);
      if (this.path[i]!.vMax > lim) this.path[i]!.vMax = lim;
    }
    this.yawRad = track.start.yawRad;
  }

  onImu(_s: ImuSample): void {}
  onFrame(_f: CameraFrame): void {}

  command(nowS: number): CtbrCommand {
    const s = this.truth();
    const p = s.posEnuM, v = s.velEnuMS;
    // advance along the path: move to the next segment once past the current one's end
    while (this.seg < this.segLen.length - 1) {
      const a = this.path[this.seg]!.p, b = this.path[this.seg + 1]!.p;
      const ab = sub(b, a);
      const t = dot(sub(p, a), ab) / Math.max(1e-9, dot(ab, ab));
      if (t < 1) break;
      this.seg++;
    }
    const a = this.path[this.seg]!, b = this.path[this.seg + 1] ?? a;
    const ab = sub(b.p, a.p);
    const L = Math.max(1e-9, norm(ab));
    const tan: Vec3 = [ab[0] / L, ab[1] / L, ab[2] / L];
    const t = clamp(dot(sub(p, a.p), tan), 0, L);
    const pRef: Vec3 = [a.p[0] + tan[0] * t, a.p[1] + tan[1] * t, a.p[2] + tan[2] * t];
    // speed: interpolate the braking-limited profile
    const vB = Math.sqrt(b.vMax ** 2 + 2 * this.accel * 0.6 * (L - t));
    const vRef = Math.min(this.cruise, vB, Math.max(a.vMax, Math.sqrt(a.vMax ** 2 + 2 * this.accel * t)));
    // pure pursuit: steer toward a carrot ahead on the path (anticipates corners), plus a pull
    // back onto the path so the gate axis is tracked tightly near the gates
    const speed = norm(v);
    const carrot = this.lookAhead(this.seg, t, 1.0 + 0.35 * speed);
    const dir = normalize(sub(carrot, p));
    const kv = 4.5, kp = 2;
    const acc: Vec3 = [
      kv * (dir[0] * vRef - v[0]) + kp * (pRef[0] - p[0]),
      kv * (dir[1] * vRef - v[1]) + kp * (pRef[1] - p[1]),
      kv * (dir[2] * vRef - v[2]) + kp * (pRef[2] - p[2]) + GRAVITY_MS2,
    ];
    // keep some vertical authority and bound the tilt
    const maxTilt = (60 * Math.PI) / 180;
    acc[2] = Math.max(acc[2], 0.3 * GRAVITY_MS2);
    const h = Math.hypot(acc[0], acc[1]);
    const hMax = acc[2] * Math.tan(maxTilt);
    if (h > hMax) {
      acc[0] *= hMax / h;
      acc[1] *= hMax / h;
    }
    const m = this.vehicle.massKg;
    const maxThrust = 4 * this.vehicle.motorMaxThrustN * 0.92;
    // heading: look toward a point a few metres ahead on the path (the camera should see the gates)
    const ahead = this.lookAhead(this.seg, t, 3);
    const dx = ahead[0] - p[0], dy = ahead[1] - p[1];
    if (Math.hypot(dx, dy) > 0.5) this.yawRad = Math.atan2(dy, dx);
    const zb = normalize(acc);
    const xc: Vec3 = [Math.cos(this.yawRad), Math.sin(this.yawRad), 0];
    let yb = cross(zb, xc);
    if (norm(yb) < 1e-3) yb = [-Math.sin(this.yawRad), Math.cos(this.yawRad), 0];
    yb = normalize(yb);
    const xb = cross(yb, zb);
    const qDes = quatFromAxes(xb, yb, zb);
    let qe = quatMul(quatConj(s.quat), qDes);
    if (qe[0] < 0) qe = [-qe[0], -qe[1], -qe[2], -qe[3]];
    const kAtt: Vec3 = [12, 12, 5];
    const mr = this.vehicle.maxRateRadS;
    const rate: Vec3 = [
      clamp(2 * kAtt[0] * qe[1], -mr[0], mr[0]),
      clamp(2 * kAtt[1] * qe[2], -mr[1], mr[1]),
      clamp(2 * kAtt[2] * qe[3], -mr[2], mr[2]),
    ];
    // collective thrust: project the desired force on the current body z axis
    const zCur = quatRotateZ(s.quat);
    const thrustN = clamp(m * dot(acc, zCur), 0, maxThrust);
    return { kind: 'ctbr', stampS: nowS, thrustN, rateRadS: rate };
  }

  private lookAhead(seg: number, t: number, distM: number): Vec3 {
    let i = seg;
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

/** Body z axis in world coordinates. */
function quatRotateZ(q: Quat): Vec3 {
  const [w, x, y, z] = q;
  return [2 * (x * z + w * y), 2 * (y * z - w * x), 1 - 2 * (x * x + y * y)];
}
