/**
 * Simulated camera: validated profiles (intrinsics, mount, rate, encoding, noise, latency, drops)
 * and the pinhole projection shared by the renderer and the tests.
 *
 * Frames: world ENU, body FLU (x forward, y left, z up), camera optical frame OpenCV (z forward,
 * x right, y down). The optical axis is body +x pitched UP by `tiltUpDeg` (a rotation of −tilt about
 * body +y), so the camera looks above the nose, as on an FPV racer. The mount sits at `posFluM` in
 * the body frame.
 */
import { z } from 'zod';
import type { Vec3 } from '../src/math/vec3.js';
import type { Quat } from '../src/math/quat.js';
import { quatToMatrix } from '../src/math/quat.js';
import type { CameraFrame, CameraIntrinsics, CameraMount, PixelEncoding } from '../src/tracts/io.js';
import type { Rng } from '../src/rng.js';

export interface CameraProfile {
  name: string;
  width: number;
  height: number;
  fx: number;
  fy: number;
  cx: number;
  cy: number;
  /** Optical axis pitched up from body +x, degrees. */
  tiltUpDeg: number;
  rateHz: number;
  encoding: PixelEncoding;
  /** Std of additive gaussian pixel noise, grey levels (0 = none). */
  noiseStd: number;
  /** Exposure → arrival latency, s. */
  latencyS: number;
  /** Probability that a frame is lost, 0..1. */
  dropRate: number;
  /** Mount position in the body frame (FLU), m. */
  posFluM: Vec3;
}

const finite = z.number().refine(Number.isFinite, { message: 'must be a finite number' });

export const CameraProfileSchema = z
  .object({
    name: z.string().min(1, 'name must not be empty'),
    width: z.number().int('width must be an integer').min(8, 'width must be ≥ 8').max(8192, 'width must be ≤ 8192'),
    height: z.number().int('height must be an integer').min(8, 'height must be ≥ 8').max(8192, 'height must be ≤ 8192'),
    fx: finite.positive('fx must be > 0 (pixels)'),
    fy: finite.positive('fy must be > 0 (pixels)'),
    cx: finite,
    cy: finite,
    tiltUpDeg: finite.min(-90, 'tiltUpDeg must be ≥ -90').max(90, 'tiltUpDeg must be ≤ 90'),
    rateHz: finite.positive('rateHz must be > 0').max(1000, 'rateHz must be ≤ 1000'),
    encoding: z.enum(['mono8', 'rgb8']),
    noiseStd: finite.min(0, 'noiseStd must be ≥ 0').max(64, 'noiseStd must be ≤ 64 grey levels'),
    latencyS: finite.min(0, 'latencyS must be ≥ 0').max(1, 'latencyS must be ≤ 1 s'),
    dropRate: finite.min(0, 'dropRate must be in [0, 1]').max(1, 'dropRate must be in [0, 1]'),
    posFluM: z.tuple([finite, finite, finite]),
  })
  .strict()
  .superRefine((p, ctx) => {
    if (p.cx < 0 || p.cx > p.width) ctx.addIssue({ code: 'custom', path: ['cx'], message: `cx=${p.cx} must lie in [0, width=${p.width}]` });
    if (p.cy < 0 || p.cy > p.height) ctx.addIssue({ code: 'custom', path: ['cy'], message: `cy=${p.cy} must lie in [0, height=${p.height}]` });
  });

const AIGP_VQ: CameraProfile = {
  name: 'aigp-vq',
  width: 640,
  height: 360,
  fx: 320,
  fy: 320,
  cx: 320,
  cy: 180,
  tiltUpDeg: 20,
  rateHz: 30,
  encoding: 'rgb8',
  noiseStd: 2,
  latencyS: 0.04,
  dropRate: 0.01,
  posFluM: [0, 0, 0],
};

/**
 * Built-in profiles. `aigp-vq` is the AI-GP virtual-qualifier camera (640×360, 90° HFOV, 20° up,
 * 30 Hz, JPEG → rgb8). `archer-imx477-640` is the physical drone's ≈74° HFOV camera scaled to
 * 640×360 at 60 Hz. `fpv-120` is a small fast mono camera for closed-loop experiments.
 */
export const CAMERA_PROFILES: Readonly<Record<string, Readonly<CameraProfile>>> = Object.freeze({
  'aigp-vq': AIGP_VQ,
  'aigp-vq-mono': { ...AIGP_VQ, name: 'aigp-vq-mono', encoding: 'mono8' },
  'archer-imx477-640': {
    ...AIGP_VQ,
    name: 'archer-imx477-640',
    fx: 424.6,
    fy: 424.6,
    rateHz: 60,
    latencyS: 0.03,
    noiseStd: 3,
    dropRate: 0,
  },
  'fpv-120': {
    name: 'fpv-120',
    width: 320,
    height: 180,
    fx: 160,
    fy: 160,
    cx: 160,
    cy: 90,
    tiltUpDeg: 25,
    rateHz: 120,
    encoding: 'mono8',
    noiseStd: 3,
    latencyS: 0.012,
    dropRate: 0,
    posFluM: [0.08, 0, 0.02],
  },
});

export const DEFAULT_CAMERA_PROFILE = 'aigp-vq';

/** Format zod issues as "field: message; field: message". */
const formatIssues = (issues: readonly { path: readonly PropertyKey[]; message: string }[]): string =>
  issues.map((i) => `${i.path.length ? i.path.map(String).join('.') : '(profile)'}: ${i.message}`).join('; ');

/** Validate a complete profile object; throws with a readable message. */
export const validateCameraProfile = (p: unknown): CameraProfile => {
  const r = CameraProfileSchema.safeParse(p);
  if (!r.success) {
    const name = typeof p === 'object' && p !== null && 'name' in p ? String((p as { name: unknown }).name) : '?';
    throw new Error(`invalid camera profile '${name}': ${formatIssues(r.error.issues)}`);
  }
  return { ...r.data, posFluM: [r.data.posFluM[0], r.data.posFluM[1], r.data.posFluM[2]] };
};

/** A built-in profile by name (default `aigp-vq`), with optional overrides, validated. */
export const cameraProfile = (name: string = DEFAULT_CAMERA_PROFILE, overrides: Partial<CameraProfile> = {}): CameraProfile => {
  const base = CAMERA_PROFILES[name];
  if (!base) {
    throw new Error(`unknown camera profile '${name}'; available: ${Object.keys(CAMERA_PROFILES).join(', ')}`);
  }
  return validateCameraProfile({ ...base, posFluM: [...base.posFluM], ...overrides });
};

export const profileIntrinsics = (p: CameraProfile): CameraIntrinsics => ({
  width: p.width,
  height: p.height,
  fx: p.fx,
  fy: p.fy,
  cx: p.cx,
  cy: p.cy,
});

export const profileMount = (p: CameraProfile): CameraMount => ({
  tiltUpRad: (p.tiltUpDeg * Math.PI) / 180,
  posFluM: [p.posFluM[0], p.posFluM[1], p.posFluM[2]],
});

export const bytesPerPixel = (enc: PixelEncoding): number => (enc === 'rgb8' ? 3 : 1);

/** Size in bytes of one frame of this profile. */
export const frameBytes = (p: CameraProfile): number => p.width * p.height * bytesPerPixel(p.encoding);

/**
 * Camera pose in the world: `rot` is row-major 3×3 whose COLUMNS are the camera optical axes
 * (x right, y down, z forward) expressed in ENU, i.e. p_world = rot · p_cam + pos.
 */
export interface CameraPose {
  rot: Float64Array;
  pos: Float64Array;
}

export const newCameraPose = (): CameraPose => ({ rot: new Float64Array(9), pos: new Float64Array(3) });

const scratchRwb = new Float64Array(9);

/**
 * Compute the camera's world pose from the body pose. Allocation-free when `out` is given.
 * Camera axes in body FLU for tilt θ: x_c = [0, −1, 0], y_c = [sin θ, 0, −cos θ], z_c = [cos θ, 0, sin θ].
 */
export const cameraPoseWorld = (
  bodyPosEnuM: ArrayLike<number>,
  bodyQuat: Quat,
  tiltUpRad: number,
  posFluM: ArrayLike<number>,
  out: CameraPose = newCameraPose(),
): CameraPose => {
  const r = quatToMatrix(bodyQuat, scratchRwb);
  const s = Math.sin(tiltUpRad), c = Math.cos(tiltUpRad);
  const rot = out.rot;
  for (let i = 0; i < 3; i++) {
    const r0 = r[i * 3]!, r1 = r[i * 3 + 1]!, r2 = r[i * 3 + 2]!;
    rot[i * 3] = -r1; // x_c = −y_b
    rot[i * 3 + 1] = r0 * s - r2 * c; // y_c
    rot[i * 3 + 2] = r0 * c + r2 * s; // z_c
    out.pos[i] = bodyPosEnuM[i]! + r0 * posFluM[0]! + r1 * posFluM[1]! + r2 * posFluM[2]!;
  }
  return out;
};

const scratchPose = newCameraPose();

/** Transform a world ENU point into the camera optical frame (x right, y down, z forward), metres. */
export const worldToCamera = (
  pEnuM: Vec3,
  bodyPosEnuM: Vec3,
  bodyQuat: Quat,
  mount: { tiltUpDeg: number; posFluM?: Vec3 },
): Vec3 => {
  const pose = cameraPoseWorld(bodyPosEnuM, bodyQuat, (mount.tiltUpDeg * Math.PI) / 180, mount.posFluM ?? [0, 0, 0], scratchPose);
  const R = pose.rot;
  const dx = pEnuM[0] - pose.pos[0]!, dy = pEnuM[1] - pose.pos[1]!, dz = pEnuM[2] - pose.pos[2]!;
  return [
    R[0]! * dx + R[3]! * dy + R[6]! * dz,
    R[1]! * dx + R[4]! * dy + R[7]! * dz,
    R[2]! * dx + R[5]! * dy + R[8]! * dz,
  ];
};

/** Minimum depth for a projectable point, m. */
export const PROJECT_MIN_DEPTH_M = 1e-6;

/**
 * Pinhole projection of a world point: pixel (u right, v down; integer = pixel centre) and depth
 * along the optical axis. Null when the point is behind (or on) the camera plane. The result may
 * lie outside the image.
 */
export const projectPoint = (
  pEnuM: Vec3,
  bodyPosEnuM: Vec3,
  bodyQuat: Quat,
  profile: Pick<CameraProfile, 'fx' | 'fy' | 'cx' | 'cy' | 'tiltUpDeg'> & { posFluM?: Vec3 },
): { u: number; v: number; depthM: number } | null => {
  const pc = worldToCamera(pEnuM, bodyPosEnuM, bodyQuat, profile);
  if (!(pc[2] > PROJECT_MIN_DEPTH_M)) return null;
  return { u: profile.fx * (pc[0] / pc[2]) + profile.cx, v: profile.fy * (pc[1] / pc[2]) + profile.cy, depthM: pc[2] };
};

/**
 * Timing of one frame exposed at `stampS`: arrival time (= stamp + latencyS) and whether it is
 * dropped (drawn from `rng` with probability dropRate; draws exactly one uniform per call).
 */
export const frameTiming = (p: CameraProfile, stampS: number, rng: Rng): { arrivalS: number; dropped: boolean } => ({
  arrivalS: stampS + p.latencyS,
  dropped: rng.next() < p.dropRate,
});

/** Wrap rendered pixels as the CameraFrame tract (data is not copied). */
export const makeCameraFrame = (p: CameraProfile, data: Uint8Array, stampS: number, seq: number): CameraFrame => ({
  stampS,
  arrivalS: stampS + p.latencyS,
  seq,
  encoding: p.encoding,
  width: p.width,
  height: p.height,
  step: p.width * bytesPerPixel(p.encoding),
  data,
  intrinsics: profileIntrinsics(p),
  mount: profileMount(p),
});
