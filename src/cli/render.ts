/**
 * `brainpilot sim render`: one camera frame of a track at a pose, as PNG or JPEG.
 */
import { Renderer } from '../../sim/render.js';
import { cameraProfile } from '../../sim/camera.js';
import { loadTrack, perturbTrack } from '../../sim/track.js';
import { encodeJpeg, encodePng } from '../../sim/image.js';
import { quatFromEuler } from '../math/quat.js';
import { Rng } from '../rng.js';
import type { Vec3 } from '../math/vec3.js';

export interface RenderStillOptions {
  track: string;
  camera: string;
  /** "x,y,z,yawDeg" in ENU metres/degrees; default: the track's start pose. */
  pose?: string;
  seed: number;
  perturb: boolean;
  format: 'png' | 'jpeg';
}

export function parsePose(s: string): { posEnuM: Vec3; yawRad: number } {
  const parts = s.split(',').map((p) => Number(p.trim()));
  if (parts.length !== 4 || parts.some((p) => !Number.isFinite(p))) {
    throw new Error(`--pose must be "x,y,z,yawDeg" (four numbers), got "${s}"`);
  }
  return { posEnuM: [parts[0]!, parts[1]!, parts[2]!], yawRad: (parts[3]! * Math.PI) / 180 };
}

export function renderStill(o: RenderStillOptions): Buffer {
  const rng = new Rng(o.seed);
  let track = loadTrack(o.track);
  if (o.perturb) track = perturbTrack(track, rng.fork(1));
  const pose = o.pose ? parsePose(o.pose) : track.start;
  const cam = cameraProfile(o.camera);
  const data = new Uint8Array(cam.width * cam.height * (cam.encoding === 'rgb8' ? 3 : 1));
  new Renderer(track.gates, { seed: o.seed }).render(pose.posEnuM, quatFromEuler(0, 0, pose.yawRad), cam, data, rng.fork(2));
  const frame = { width: cam.width, height: cam.height, encoding: cam.encoding, data };
  return o.format === 'jpeg' ? encodeJpeg(frame) : encodePng(frame);
}
