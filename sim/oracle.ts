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
import { clamp, cross, dot, norm, normalize, type Vec3 } from '../src/math/vec3.js';
import { GatePathFollower, type FollowerConfig, type GatePose } from '../src/regions/premotor.js';
import { quatConj, quatMul, type Quat } from '../src/math/quat.js';
import type { RigidBodyState, TrackSpec, VehicleParams } from './types.js';
import { GRAVITY_MS2 } from './physics.js';
import { gateFrameOf } from './gates.js';

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

export class OracleController implements Controller {
  readonly name = 'oracle';
  readonly privileged = true;
  private readonly follower: GatePathFollower;

  constructor(
    private readonly truth: () => RigidBodyState,
    track: TrackSpec,
    private readonly vehicle: VehicleParams,
    laps: number,
    opts: Partial<FollowerConfig> = {},
  ) {
    this.follower = new GatePathFollower(opts, track.start.yawRad);
    const gates: GatePose[] = [];
    for (let lap = 0; lap < laps; lap++) {
      for (const g of track.gates) gates.push({ centerEnuM: g.centerEnuM, forwardEnu: gateFrameOf(g).dirToWorld([1, 0, 0]) });
    }
    this.follower.setPath(track.start.posEnuM, gates);
  }

  onImu(_s: ImuSample): void {}
  onFrame(_f: CameraFrame): void {}

  command(nowS: number): CtbrCommand {
    const s = this.truth();
    const g = this.follower.step(s.posEnuM, s.velEnuMS);
    const acc: Vec3 = [g.accEnuMS2[0], g.accEnuMS2[1], g.accEnuMS2[2] + GRAVITY_MS2];
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
    const zb = normalize(acc);
    const xc: Vec3 = [Math.cos(g.yawRad), Math.sin(g.yawRad), 0];
    let yb = cross(zb, xc);
    if (norm(yb) < 1e-3) yb = [-Math.sin(g.yawRad), Math.cos(g.yawRad), 0];
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
}

/** Body z axis in world coordinates. */
function quatRotateZ(q: Quat): Vec3 {
  const [w, x, y, z] = q;
  return [2 * (x * z + w * y), 2 * (y * z - w * x), 1 - 2 * (x * x + y * y)];
}
