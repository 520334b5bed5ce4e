/**
 * Camera geometry shared by perception and estimation. Camera optical frame (OpenCV): z forward,
 * x right, y down. The camera's optical axis is the body +x axis pitched UP by `tiltUpRad`
 * (body FLU: x forward, y left, z up).
 */
import type { Vec3 } from './vec3.js';
import type { CameraIntrinsics } from '../tracts/io.js';

/** Optical-frame vector → body FLU (rotation only). */
export function camToBody(v: Vec3, tiltUpRad: number): Vec3 {
  const s = Math.sin(tiltUpRad), c = Math.cos(tiltUpRad);
  return [s * v[1] + c * v[2], -v[0], -c * v[1] + s * v[2]];
}

/** Body FLU vector → optical frame (rotation only). */
export function bodyToCam(v: Vec3, tiltUpRad: number): Vec3 {
  const s = Math.sin(tiltUpRad), c = Math.cos(tiltUpRad);
  return [-v[1], s * v[0] - c * v[2], c * v[0] + s * v[2]];
}

/** Pixel → unit ray in the optical frame. */
export function pixelToRay(u: number, v: number, k: CameraIntrinsics): Vec3 {
  const x = (u - k.cx) / k.fx, y = (v - k.cy) / k.fy;
  const n = Math.hypot(x, y, 1);
  return [x / n, y / n, 1 / n];
}

/** Optical-frame point → pixel, or null when behind the camera. */
export function projectCam(p: Vec3, k: CameraIntrinsics): [number, number] | null {
  if (p[2] <= 1e-6) return null;
  return [k.cx + (k.fx * p[0]) / p[2], k.cy + (k.fy * p[1]) / p[2]];
}
