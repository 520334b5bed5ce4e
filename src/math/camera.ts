/**
 * Camera geometry shared by perception and estimation. Camera optical frame (OpenCV): z forward,
 * x right, y down. The camera's optical axis is the body +x axis pitched UP by `tiltUpRad`
 * (body FLU: x forward, y left, z up).
 */
import type { Vec3 } from './vec3.js';
import type { CameraIntrinsics, CameraMount } from '../tracts/io.js';

/** Optical-frame vector → body FLU (rotation only). */
export function camToBody(v: Readonly<Vec3>, tiltUpRad: number): Vec3 {
  return camToBodyInto([0, 0, 0], v, tiltUpRad);
}

/** camToBody written into `out` (may alias v); no allocation. */
export function camToBodyInto(out: Vec3, v: Readonly<Vec3>, tiltUpRad: number): Vec3 {
  const s = Math.sin(tiltUpRad), c = Math.cos(tiltUpRad);
  const x = v[0], y = v[1], z = v[2];
  out[0] = s * y + c * z;
  out[1] = -x;
  out[2] = -c * y + s * z;
  return out;
}

/**
 * camToBodyInto for a camera mount: the per-frame form. The tilt is read here rather than passed: a
 * double argument to a call TurboFan does not inline is boxed on the heap (16 B a call).
 */
export function camToBodyOfInto(out: Vec3, v: Readonly<Vec3>, mount: Readonly<CameraMount>): Vec3 {
  const s = Math.sin(mount.tiltUpRad), c = Math.cos(mount.tiltUpRad);
  const x = v[0], y = v[1], z = v[2];
  out[0] = s * y + c * z;
  out[1] = -x;
  out[2] = -c * y + s * z;
  return out;
}

/** Body FLU vector → optical frame (rotation only). */
export function bodyToCam(v: Readonly<Vec3>, tiltUpRad: number): Vec3 {
  return bodyToCamInto([0, 0, 0], v, tiltUpRad);
}

/** bodyToCam written into `out` (may alias v); no allocation. */
export function bodyToCamInto(out: Vec3, v: Readonly<Vec3>, tiltUpRad: number): Vec3 {
  const s = Math.sin(tiltUpRad), c = Math.cos(tiltUpRad);
  const x = v[0], y = v[1], z = v[2];
  out[0] = -y;
  out[1] = s * x - c * z;
  out[2] = c * x + s * z;
  return out;
}

/** Pixel → unit ray in the optical frame. */
export function pixelToRay(u: number, v: number, k: CameraIntrinsics): Vec3 {
  const x = (u - k.cx) / k.fx, y = (v - k.cy) / k.fy;
  const n = Math.sqrt(x * x + y * y + 1);
  return [x / n, y / n, 1 / n];
}

/** Optical-frame point → pixel, or null when behind the camera. */
export function projectCam(p: Vec3, k: CameraIntrinsics): [number, number] | null {
  if (p[2] <= 1e-6) return null;
  return [k.cx + (k.fx * p[0]) / p[2], k.cy + (k.fy * p[1]) / p[2]];
}
