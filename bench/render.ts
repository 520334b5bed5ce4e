/**
 * Render benchmark: 300 frames of the `aigp-vq` profile (640×360 rgb8) flying along a line through a
 * 7-gate track, passing through every gate (exercises near-plane clipping). Reports per-frame render
 * time percentiles, with and without pixel noise. Runnable standalone: `node dist/bench/render.js`.
 */
import { fileURLToPath } from 'node:url';
import { quatFromEuler } from '../src/math/quat.js';
import type { Vec3 } from '../src/math/vec3.js';
import { Rng } from '../src/rng.js';
import { cameraProfile, frameBytes } from '../sim/camera.js';
import { Renderer, randomDistractors, type GateLike } from '../sim/render.js';

export interface RenderBenchResult {
  p50Ms: number;
  p99Ms: number;
  frames: number;
  /** Same flight with the profile's pixel noise applied inside render(). */
  noisyP50Ms: number;
  noisyP99Ms: number;
  /** Same flight, `aigp-vq-mono` (mono8), clean. */
  monoP50Ms: number;
  monoP99Ms: number;
  profile: string;
  width: number;
  height: number;
}

const pct = (sorted: number[], q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
const round3 = (x: number): number => Math.round(x * 1000) / 1000;

/** Seven gates along +x, 9 m apart, slightly staggered in y and z; the path runs through all centres. */
export const benchGates = (): GateLike[] =>
  Array.from({ length: 7 }, (_, i) => ({
    centerEnuM: [8 + 9 * i, (i % 2 === 0 ? 0.4 : -0.4), 1.35 + 0.3 * (i % 3)] as Vec3,
    yawRad: 0.05 * (i % 2 === 0 ? 1 : -1),
    pitchRad: 0,
    innerM: 1.5,
    outerM: 2.7,
    depthM: 0.26,
  }));

export function benchRender(frames = 300): RenderBenchResult {
  const gates = benchGates();
  const renderer = new Renderer(gates, { seed: 7, distractors: randomDistractors(gates, 6, 7) });
  const profile = cameraProfile('aigp-vq');
  const mono = cameraProfile('aigp-vq-mono');
  const out = new Uint8Array(frameBytes(profile));
  const rng = new Rng(1);
  const pose = (k: number): { pos: Vec3; yaw: number; pitch: number; roll: number } => {
    // Piecewise-linear path through consecutive gate centres, from 6 m before the first gate.
    const s = k / (frames - 1);
    const pts: Vec3[] = [[2, 0, 1.4], ...gates.map((g) => g.centerEnuM), [75, 0, 1.5]];
    const f = s * (pts.length - 1);
    const i = Math.min(pts.length - 2, Math.floor(f));
    const t = f - i;
    const a = pts[i]!, b = pts[i + 1]!;
    const pos: Vec3 = [a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t, a[2] + (b[2] - a[2]) * t];
    return { pos, yaw: Math.atan2(b[1] - a[1], b[0] - a[0]), pitch: 0.25 + 0.1 * Math.sin(k * 0.21), roll: 0.3 * Math.sin(k * 0.13) };
  };
  const run = (noisy: boolean, prof = profile): number[] => {
    const times: number[] = [];
    for (let k = 0; k < frames; k++) {
      const p = pose(k);
      const q = quatFromEuler(p.roll, p.pitch, p.yaw);
      const t0 = performance.now();
      renderer.render(p.pos, q, prof, out, noisy ? rng : undefined);
      times.push(performance.now() - t0);
    }
    return times.sort((x, y) => x - y);
  };
  // Warm-up (JIT, noise table).
  run(true);
  run(false);
  run(false, mono);
  const clean = run(false);
  const noisy = run(true);
  const monoT = run(false, mono);
  return {
    p50Ms: round3(pct(clean, 0.5)),
    p99Ms: round3(pct(clean, 0.99)),
    frames,
    noisyP50Ms: round3(pct(noisy, 0.5)),
    noisyP99Ms: round3(pct(noisy, 0.99)),
    monoP50Ms: round3(pct(monoT, 0.5)),
    monoP99Ms: round3(pct(monoT, 0.99)),
    profile: profile.name,
    width: profile.width,
    height: profile.height,
  };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  console.log(JSON.stringify(benchRender(), null, 2));
}
