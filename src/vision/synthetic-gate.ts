/**
 * A synthetic camera view of one gate, drawn by the core itself (no simulator): the gate's face
 * plane ray-cast per pixel — near-black inner band, orange face, black/white checker band — over a
 * sky/ground background. Used to warm up the detector's JIT on its rarer paths before flight
 * (GateDetector.warmUp); not a renderer for anything else (no side faces, lighting or texture).
 */
import type { CameraFrame, CameraIntrinsics } from '../tracts/io.js';
import type { GateGeometry } from './gate-detector.js';

/** Camera relative to the gate: the gate stands at the world origin, its face toward −x (FLU world). */
export interface GateViewPose {
  /** Camera position, m (x < 0: in front of the gate). */
  xM: number;
  yM: number;
  zM: number;
  /** Body attitude (ZYX; pitch + = nose down), rad. */
  yawRad: number;
  pitchRad: number;
  rollRad: number;
}

const SKY = [120, 160, 220] as const;
const GROUND = [70, 130, 50] as const;
const ORANGE = [240, 108, 0] as const;
const DARK = [24, 24, 28] as const;
const BLACK = [16, 16, 16] as const;
const WHITE = [235, 235, 235] as const;

/**
 * A blank rgb8 frame for drawGateView. Built as the camera tracts are (the same fields in the same
 * order, doubles where they carry doubles), so that V8 gives it the same hidden classes as flight
 * frames: code warmed up on it then meets nothing new in flight.
 */
export function newSyntheticFrame(K: CameraIntrinsics, tiltUpRad: number, stampS = 0.5): CameraFrame {
  return {
    stampS,
    arrivalS: stampS + 0.25,
    seq: 0,
    encoding: 'rgb8',
    width: K.width,
    height: K.height,
    step: 3 * K.width,
    data: new Uint8Array(3 * K.width * K.height),
    intrinsics: { width: K.width, height: K.height, fx: K.fx, fy: K.fy, cx: K.cx, cy: K.cy },
    mount: { tiltUpRad, posFluM: [0, 0, 0] },
  };
}

/** Draw the gate as seen from `pose` into `frame` (rgb8). The ground is groundBelowM under the gate's centre. */
export function drawGateView(frame: CameraFrame, g: GateGeometry, pose: GateViewPose, groundBelowM = 2): void {
  const K = frame.intrinsics, tl = frame.mount.tiltUpRad;
  const st = Math.sin(tl), ct = Math.cos(tl);
  const cy = Math.cos(pose.yawRad), sy = Math.sin(pose.yawRad);
  const cp = Math.cos(pose.pitchRad), sp = Math.sin(pose.pitchRad);
  const cr = Math.cos(pose.rollRad), sr = Math.sin(pose.rollRad);
  // body → world, R = Rz(yaw) Ry(pitch) Rx(roll)
  const R = [
    cy * cp, cy * sp * sr - sy * cr, cy * sp * cr + sy * sr,
    sy * cp, sy * sp * sr + cy * cr, sy * sp * cr - cy * sr,
    -sp, cp * sr, cp * cr,
  ];
  // camera optical axes in body FLU: x_c = −y_b, y_c = [sτ, 0, −cτ], z_c = [cτ, 0, sτ]; then in world
  const axes = [0, -1, 0, st, 0, -ct, ct, 0, st];
  const A = new Float64Array(9); // A[3i + k]: world component i of camera axis k
  for (let k = 0; k < 3; k++) {
    const bx = axes[3 * k]!, by = axes[3 * k + 1]!, bz = axes[3 * k + 2]!;
    for (let i = 0; i < 3; i++) A[3 * i + k] = R[3 * i]! * bx + R[3 * i + 1]! * by + R[3 * i + 2]! * bz;
  }
  const faceX = -g.depthM / 2;
  const hInner = g.innerM / 2, hBand = hInner + g.innerBandM, hOrange = g.outerM / 2 - g.checkerBandM, hOuter = g.outerM / 2;
  const cb = g.checkerBandM > 0 ? g.checkerBandM : 1;
  const d = frame.data, W = frame.width, H = frame.height, stride = frame.step;
  for (let v = 0; v < H; v++) {
    for (let u = 0; u < W; u++) {
      const rx = (u - K.cx) / K.fx, ry = (v - K.cy) / K.fy;
      const dx = A[0]! * rx + A[1]! * ry + A[2]!;
      const dy = A[3]! * rx + A[4]! * ry + A[5]!;
      const dz = A[6]! * rx + A[7]! * ry + A[8]!;
      let c: readonly number[] = dz > 0 ? SKY : -(groundBelowM + pose.zM) / dz > 0 ? GROUND : SKY;
      const lam = (faceX - pose.xM) / dx;
      if (lam > 0) {
        // model X right (world −y seen from the front), Y down (world −z)
        const X = -(pose.yM + lam * dy), Y = -(pose.zM + lam * dz);
        const r = Math.max(Math.abs(X), Math.abs(Y));
        if (r >= hInner && r < hOuter) {
          if (r < hBand) c = DARK;
          else if (r < hOrange) c = ORANGE;
          else c = (Math.floor(X / cb) + Math.floor(Y / cb)) & 1 ? BLACK : WHITE;
        }
      }
      const p = v * stride + 3 * u;
      d[p] = c[0]!; d[p + 1] = c[1]!; d[p + 2] = c[2]!;
    }
  }
}
