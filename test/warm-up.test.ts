/**
 * JIT warm-up (GateDetector / Colliculus / Pipeline.warmUp): it reaches the detector's rare
 * partial-ring path (pose from corners) and leaves what it is called on exactly as a fresh one, so
 * that flights are the same with and without it. Frames come from the simulator's renderer
 * (tests only; src/ never imports sim/).
 */
import { describe, expect, it } from 'vitest';
import { quatFromEuler } from '../src/math/quat.js';
import type { Vec3 } from '../src/math/vec3.js';
import { Rng } from '../src/rng.js';
import { Colliculus } from '../src/regions/colliculus.js';
import { drawGateView, newSyntheticFrame } from '../src/vision/synthetic-gate.js';
import { cameraProfile, frameBytes, makeCameraFrame } from '../sim/camera.js';
import { Renderer } from '../sim/render.js';
import type { GateSpec } from '../sim/types.js';
import type { CameraFrame } from '../src/tracts/io.js';
import { Pipeline } from '../src/pipeline.js';
import { RACE_DEFAULTS, buildSim, pipelineConfigFor } from '../src/cli/race.js';
import { runRace } from '../sim/runner.js';

const DEG = Math.PI / 180;
const gate: GateSpec = { index: 0, centerEnuM: [0, 0, 2], yawRad: 0, pitchRad: 0, innerM: 1.5, outerM: 2.7, depthM: 0.26 };
const prof = cameraProfile('aigp-vq', { noiseStd: 0 });

/** Camera at pos (looking along +x), body rolled / pitched (deg, pitch + = nose down), yawed. */
interface View { pos: Vec3; rollDeg: number; pitchDeg: number; yawDeg: number }
const views: View[] = [
  { pos: [-6, 0.3, 2.2], rollDeg: 5, pitchDeg: 20, yawDeg: 3 }, // whole ring
  { pos: [-1.4, 0.6, 2.3], rollDeg: -25, pitchDeg: 24, yawDeg: 10 }, // near, cut by the border
  { pos: [-1.0, -0.5, 1.6], rollDeg: 35, pitchDeg: 26, yawDeg: -12 },
  { pos: [-3, 1.5, 2], rollDeg: 0, pitchDeg: 18, yawDeg: 30 }, // oblique
  { pos: [-0.8, 0.2, 2.1], rollDeg: -40, pitchDeg: 22, yawDeg: 0 },
];

function frames(): { frame: CameraFrame; rollRad: number; pitchRad: number }[] {
  const r = new Renderer([gate]);
  return views.map((v, i) => {
    const buf = new Uint8Array(frameBytes(prof));
    r.render(v.pos, quatFromEuler(v.rollDeg * DEG, v.pitchDeg * DEG, v.yawDeg * DEG), prof, buf, new Rng(i + 1));
    return { frame: makeCameraFrame(prof, buf, 0.1 + i / 30, i), rollRad: v.rollDeg * DEG, pitchRad: v.pitchDeg * DEG };
  });
}

describe('JIT warm-up', () => {
  it('reaches the partial-ring pose from corners on its synthetic views', () => {
    const r = new Colliculus().warmUp();
    expect(r.frames).toBeGreaterThan(0);
    // the rare path it is there for: without these frames partialRing is optimised without it
    expect(r.cornerPoseFrames).toBeGreaterThanOrEqual(3);
    expect(r.cornerCalls).toBeGreaterThan(0);
  });

  it('the synthetic view is a gate the detector sees (whole ring, posed)', () => {
    const col = new Colliculus();
    const f = newSyntheticFrame({ width: 640, height: 360, fx: 320, fy: 320, cx: 319.5, cy: 179.5 }, 20 * DEG);
    drawGateView(f, col.cfg.gate, { xM: -6, yM: 0.4, zM: 0.3, yawRad: 0.05, pitchRad: 0.3, rollRad: 0.1 });
    const out = col.step({ frame: f, rollRad: 0.1, pitchRad: 0.3, expected: null }, 1 / 30);
    const ring = out.sightings.find((s) => s.kind === 'ring');
    expect(ring?.posCamM).toBeTruthy();
    // the camera is 6 m in front of the gate's face plane (+ half the depth to its centre)
    expect(Math.hypot(...ring!.posCamM!)).toBeGreaterThan(5.5);
    expect(Math.hypot(...ring!.posCamM!)).toBeLessThan(6.8);
  });

  it('leaves the colliculus and its detector as a fresh one: same state, same outputs on rendered frames', () => {
    const fresh = new Colliculus();
    const warmed = new Colliculus();
    warmed.warmUp();
    // nothing of the warm-up is kept: every field (buffers, stamps, stats, sightings) as constructed
    expect(warmed.detector).toEqual(fresh.detector);
    expect(warmed).toEqual(fresh);
    let posed = 0;
    for (const { frame, rollRad, pitchRad } of frames()) {
      const a = fresh.step({ frame, rollRad, pitchRad, expected: null }, 1 / 30);
      const b = warmed.step({ frame, rollRad, pitchRad, expected: null }, 1 / 30);
      // JSON: the sightings' numbers bit for bit (NaN as null), the target by value
      expect(JSON.stringify(b)).toBe(JSON.stringify(a));
      expect(warmed.detector.stats).toEqual(fresh.detector.stats);
      posed += a.sightings.filter((s) => s.posCamM).length;
    }
    expect(posed).toBeGreaterThan(0); // the frames exercised detection, not only empty sky
    expect(warmed.stats).toEqual(fresh.stats);
    expect(warmed).toEqual(fresh);
  });
});

describe('Pipeline.warmUp', () => {
  it('runs once per process, leaves the pipeline (its follower included) as a fresh one, and the flight is the same', () => {
    const o = { ...RACE_DEFAULTS, controller: 'pipeline' as const, track: 'warmup', laps: 1, seed: 3, latencyMs: 30 };
    const fly = (warm: boolean) => {
      const sim = buildSim(o);
      const p = new Pipeline(pipelineConfigFor(sim, o));
      const fresh = new Pipeline(pipelineConfigFor(sim, o));
      if (warm) {
        expect(p.warmUp()).toBe(true);
        expect(p.warmUp()).toBe(false); // V8's optimised code is per process: once is enough
        // the warm-up's replans went to a throwaway follower: nothing of it is kept
        expect(p.follower).toEqual(fresh.follower);
        expect(p).toEqual(fresh);
      }
      return runRace(sim, p, { laps: 1, seed: 3, recordHz: 0 }).result;
    };
    const warmed = fly(true), cold = fly(false);
    expect(warmed.completed).toBe(true);
    expect(JSON.stringify({ laps: warmed.laps, events: warmed.events })).toBe(JSON.stringify({ laps: cold.laps, events: cold.events }));
  });
});
