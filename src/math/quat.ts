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
  const n = Math.sqrt(q[0] * q[0] + q[1] * q[1] + q[2] * q[2] + q[3] * q[3]);
  return n > 1e-12 ? [q[0] / n, q[1] / n, q[2] / n, q[3] / n] : [1, 0, 0, 0];
};

/** Rotate v by q (body → world when q is a pose). */
export const quatRotate = (q: Readonly<Quat>, v: Readonly<Vec3>): Vec3 => quatRotateInto([0, 0, 0], q, v);

/** quatRotate written into `out` (may alias v); no allocation. */
export function quatRotateInto(out: Vec3, q: Readonly<Quat>, v: Readonly<Vec3>): Vec3 {
  return rotateBy(out, q, 1, v);
}

/** Rotate v by q⁻¹ (world → body when q is a pose). */
export const quatRotateInv = (q: Readonly<Quat>, v: Readonly<Vec3>): Vec3 => quatRotateInvInto([0, 0, 0], q, v);

/** quatRotateInv written into `out` (may alias v); no allocation. */
export function quatRotateInvInto(out: Vec3, q: Readonly<Quat>, v: Readonly<Vec3>): Vec3 {
  return rotateBy(out, q, -1, v);
}

/**
 * v rotated by (q0, s·q1, s·q2, s·q3), s = ±1 (the inverse with s = −1). The quaternion is passed
 * whole, not as four doubles: double arguments to a call V8 does not inline are boxed (16 B each).
 */
function rotateBy(out: Vec3, q: Readonly<Quat>, s: 1 | -1, v: Readonly<Vec3>): Vec3 {
  const w = q[0], x = s * q[1], y = s * q[2], z = s * q[3];
  const vx = v[0], vy = v[1], vz = v[2];
  // t = 2 * cross(q.xyz, v); v' = v + w t + cross(q.xyz, t)
  const tx = 2 * (y * vz - z * vy);
  const ty = 2 * (z * vx - x * vz);
  const tz = 2 * (x * vy - y * vx);
  out[0] = vx + w * tx + (y * tz - z * ty);
  out[1] = vy + w * ty + (z * tx - x * tz);
  out[2] = vz + w * tz + (x * ty - y * tx);
  return out;
}

export const quatFromAxisAngle = (axis: Vec3, angleRad: number): Quat => {
  const n = Math.sqrt(axis[0] * axis[0] + axis[1] * axis[1] + axis[2] * axis[2]) || 1;
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
export const quatToEuler = (q: Readonly<Quat>): Vec3 => quatToEulerInto(q, [0, 0, 0]);

/** quatToEuler written into `out`; no allocation. */
export function quatToEulerInto(q: Readonly<Quat>, out: Vec3): Vec3 {
  const w = q[0], x = q[1], y = q[2], z = q[3];
  out[0] = Math.atan2(2 * (w * x + y * z), 1 - 2 * (x * x + y * y));
  const s = Math.max(-1, Math.min(1, 2 * (w * y - z * x)));
  out[1] = Math.asin(s);
  out[2] = Math.atan2(2 * (w * z + x * y), 1 - 2 * (y * y + z * z));
  return out;
}

/** Integrate body angular rate ω (rad/s, body frame) over dt: q ← q ⊗ exp(ω dt / 2). */
export const quatIntegrate = (q: Quat, omegaBody: Vec3, dtS: number): Quat => {
  const wx = omegaBody[0], wy = omegaBody[1], wz = omegaBody[2];
  const ang = Math.sqrt(wx * wx + wy * wy + wz * wz) * dtS;
  if (ang < 1e-12) return q;
  return quatIntegrateInto([0, 0, 0, 0], q, omegaBody, dtS);
};

/** quatIntegrate written into `out` (may alias q); a negligible rotation copies q. No allocation. */
export function quatIntegrateInto(out: Quat, q: Readonly<Quat>, omegaBody: Readonly<Vec3>, dtS: number): Quat {
  const wx = omegaBody[0], wy = omegaBody[1], wz = omegaBody[2];
  const ang = Math.sqrt(wx * wx + wy * wy + wz * wz) * dtS;
  const aw = q[0], ax = q[1], ay = q[2], az = q[3];
  if (ang < 1e-12) {
    out[0] = aw; out[1] = ax; out[2] = ay; out[3] = az;
    return out;
  }
  const s = Math.sin(ang / 2) / (ang / dtS);
  const bw = Math.cos(ang / 2), bx = wx * s, by = wy * s, bz = wz * s;
  // normalize(q ⊗ dq)
  const w = aw * bw - ax * bx - ay * by - az * bz;
  const x = aw * bx + ax * bw + ay * bz - az * by;
  const y = aw * by - ax * bz + ay * bw + az * bx;
  const z = aw * bz + ax * by - ay * bx + az * bw;
  const n = Math.sqrt(w * w + x * x + y * y + z * z);
  if (n > 1e-12) {
    out[0] = w / n; out[1] = x / n; out[2] = y / n; out[3] = z / n;
  } else {
    out[0] = 1; out[1] = 0; out[2] = 0; out[3] = 0;
  }
  return out;
}

/** Rotation matrix (row-major 3×3, body → world) from a quaternion. */
export const quatToMatrix = (q: Quat, out: Float64Array = new Float64Array(9)): Float64Array => {
  const [w, x, y, z] = q;
  out[0] = 1 - 2 * (y * y + z * z); out[1] = 2 * (x * y - w * z); out[2] = 2 * (x * z + w * y);
  out[3] = 2 * (x * y + w * z); out[4] = 1 - 2 * (x * x + z * z); out[5] = 2 * (y * z - w * x);
  out[6] = 2 * (x * z - w * y); out[7] = 2 * (y * z + w * x); out[8] = 1 - 2 * (x * x + y * y);
  return out;
};
