/**
 * Unit quaternions [w, x, y, z], Hamilton convention. A pose quaternion q rotates body-frame
 * vectors into the world frame: v_world = q ⊗ v_body ⊗ q*. World is ENU, body is FLU (REP-103).
 */
import type { Vec3 } from './vec3.js';

export type Quat = [number, number, number, number];

export const quatIdentity = (): Quat => [1, 0, 0, 0];

export const quatMul = (a: Quat, b: Quat): Quat => [
  a[0] * b[0] - a[1] * b[1] - a[2] * b[2] - a[3] * b[3],
  a[0] * b[1] + a[1] * b[0] + a[2] * b[3] - a[3] * b[2],
  a[0] * b[2] - a[1] * b[3] + a[2] * b[0] + a[3] * b[1],
  a[0] * b[3] + a[1] * b[2] - a[2] * b[1] + a[3] * b[0],
];

export const quatConj = (q: Quat): Quat => [q[0], -q[1], -q[2], -q[3]];

export const quatNormalize = (q: Quat): Quat => {
  const n = Math.hypot(q[0], q[1], q[2], q[3]);
  return n > 1e-12 ? [q[0] / n, q[1] / n, q[2] / n, q[3] / n] : [1, 0, 0, 0];
};

/** Rotate v by q (body → world when q is a pose). */
export const quatRotate = (q: Quat, v: Vec3): Vec3 => {
  const [w, x, y, z] = q;
  // t = 2 * cross(q.xyz, v); v' = v + w t + cross(q.xyz, t)
  const tx = 2 * (y * v[2] - z * v[1]);
  const ty = 2 * (z * v[0] - x * v[2]);
  const tz = 2 * (x * v[1] - y * v[0]);
  return [
    v[0] + w * tx + (y * tz - z * ty),
    v[1] + w * ty + (z * tx - x * tz),
    v[2] + w * tz + (x * ty - y * tx),
  ];
};

/** Rotate v by q⁻¹ (world → body when q is a pose). */
export const quatRotateInv = (q: Quat, v: Vec3): Vec3 => quatRotate(quatConj(q), v);

export const quatFromAxisAngle = (axis: Vec3, angleRad: number): Quat => {
  const n = Math.hypot(axis[0], axis[1], axis[2]) || 1;
  const s = Math.sin(angleRad / 2) / n;
  return [Math.cos(angleRad / 2), axis[0] * s, axis[1] * s, axis[2] * s];
};

/** ZYX (yaw, pitch, roll) Euler angles → quaternion. Pitch positive = nose down in FLU/ENU (right-hand about +y). */
export const quatFromEuler = (rollRad: number, pitchRad: number, yawRad: number): Quat => {
  const cr = Math.cos(rollRad / 2), sr = Math.sin(rollRad / 2);
  const cp = Math.cos(pitchRad / 2), sp = Math.sin(pitchRad / 2);
  const cy = Math.cos(yawRad / 2), sy = Math.sin(yawRad / 2);
  return [
    cr * cp * cy + sr * sp * sy,
    sr * cp * cy - cr * sp * sy,
    cr * sp * cy + sr * cp * sy,
    cr * cp * sy - sr * sp * cy,
  ];
};

/** Quaternion → ZYX Euler [roll, pitch, yaw] in radians. */
export const quatToEuler = (q: Quat): Vec3 => {
  const [w, x, y, z] = q;
  const roll = Math.atan2(2 * (w * x + y * z), 1 - 2 * (x * x + y * y));
  const s = Math.max(-1, Math.min(1, 2 * (w * y - z * x)));
  const pitch = Math.asin(s);
  const yaw = Math.atan2(2 * (w * z + x * y), 1 - 2 * (y * y + z * z));
  return [roll, pitch, yaw];
};

/** Integrate body angular rate ω (rad/s, body frame) over dt: q ← q ⊗ exp(ω dt / 2). */
export const quatIntegrate = (q: Quat, omegaBody: Vec3, dtS: number): Quat => {
  const wx = omegaBody[0], wy = omegaBody[1], wz = omegaBody[2];
  const ang = Math.hypot(wx, wy, wz) * dtS;
  if (ang < 1e-12) return q;
  const s = Math.sin(ang / 2) / (ang / dtS);
  const dq: Quat = [Math.cos(ang / 2), wx * s, wy * s, wz * s];
  return quatNormalize(quatMul(q, dq));
};

/** Rotation matrix (row-major 3×3, body → world) from a quaternion. */
export const quatToMatrix = (q: Quat, out: Float64Array = new Float64Array(9)): Float64Array => {
  const [w, x, y, z] = q;
  out[0] = 1 - 2 * (y * y + z * z); out[1] = 2 * (x * y - w * z); out[2] = 2 * (x * z + w * y);
  out[3] = 2 * (x * y + w * z); out[4] = 1 - 2 * (x * x + z * z); out[5] = 2 * (y * z - w * x);
  out[6] = 2 * (x * z - w * y); out[7] = 2 * (y * z + w * x); out[8] = 1 - 2 * (x * x + y * y);
  return out;
};
