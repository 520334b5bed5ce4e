/**
 * Superior colliculus: gate acquisition from rendered pixels, orienting, region contract.
 * Frames come from the simulator's renderer (tests only; src/ never imports sim/). Truth comes
 * from sim/camera.ts (projectPoint, worldToCamera) and sim/gates.ts (gateCorners).
 */
import { describe, expect, it } from 'vitest';
import { quatFromEuler, type Quat } from '../src/math/quat.js';
import type { Vec3 } from '../src/math/vec3.js';
import { Rng } from '../src/rng.js';
import { Colliculus, ColliculusParams, type ColliculusInput, type GateSighting } from '../src/regions/colliculus.js';
import { cameraProfile, frameBytes, makeCameraFrame, projectPoint, worldToCamera, type CameraProfile } from '../sim/camera.js';
import { gateCorners } from '../sim/gates.js';
import { DISTRACTOR_COLOURS, Renderer, type DistractorSpec } from '../sim/render.js';
import type { GateSpec } from '../sim/types.js';
import type { CameraFrame } from '../src/tracts/io.js';

const DEG = Math.PI / 180;

const gateAt = (center: Vec3, yawRad = 0, index = 0): GateSpec => ({
  index,
  centerEnuM: center,
  yawRad,
  pitchRad: 0,
  innerM: 1.5,
  outerM: 2.7,
  depthM: 0.26,
});

interface View {
  pos: Vec3;
  q: Quat;
  rollRad: number;
  pitchRad: number;
  prof: CameraProfile;
}

/**
 * Camera at distance d in front of a gate at (0, 0, 2) (looking along +x), the gate yawed by
 * viewDeg (so the view is viewDeg off the gate's axis), body rolled by rollDeg; the body is
 * pitched 20° down so the 20°-up optical axis is level, then offset by offYaw/offPitch degrees.
 */
function frontView(d: number, rollDeg = 0, offYawDeg = 0, offPitchDeg = 0, prof = cameraProfile('aigp-vq', { noiseStd: 0 })): View {
  const pitch = (prof.tiltUpDeg + offPitchDeg) * DEG;
  return { pos: [-d, 0, 2], q: quatFromEuler(rollDeg * DEG, pitch, offYawDeg * DEG), rollRad: rollDeg * DEG, pitchRad: pitch, prof };
}

function render(r: Renderer, v: View, seed = 1, stampS = 0): CameraFrame {
  const buf = new Uint8Array(frameBytes(v.prof));
  r.render(v.pos, v.q, v.prof, buf, new Rng(seed));
  return makeCameraFrame(v.prof, buf, stampS, 0);
}

const input = (frame: CameraFrame, v: View, expected: ColliculusInput['expected'] = null): ColliculusInput => ({
  frame,
  rollRad: v.rollRad,
  pitchRad: v.pitchRad,
  expected,
});

interface Errors {
  centerPx: number;
  cornersPx: number;
  rangePct: number;
  kind: 'outer' | 'inner';
}

/** Errors of a ring sighting against the truth for `gate` seen from `v`. */
function errorsOf(s: GateSighting, gate: GateSpec, v: View): Errors {
  const c = projectPoint(gate.centerEnuM, v.pos, v.q, v.prof)!;
  const pc = worldToCamera(gate.centerEnuM, v.pos, v.q, v.prof);
  const corners = gateCorners(gate, s.cornersKind).map((p) => projectPoint(p, v.pos, v.q, v.prof)!);
  const range = Math.hypot(...pc);
  return {
    centerPx: Math.hypot(s.centerPx[0] - c.u, s.centerPx[1] - c.v),
    cornersPx: Math.max(...s.cornersPx!.map((p, k) => Math.hypot(p[0] - corners[k]!.u, p[1] - corners[k]!.v))),
    rangePct: (100 * Math.hypot(s.posCamM![0] - pc[0], s.posCamM![1] - pc[1], s.posCamM![2] - pc[2])) / range,
    kind: s.cornersKind,
  };
}

const fmt = (x: number): string => x.toFixed(2);

describe('colliculus: gate detection and PnP on rendered frames', () => {
  it('straight ahead and off-axis (0–60°) at 3–15 m: centre < 3 px, corners < 3 px, position < 5 % of range', () => {
    const rows: string[] = [];
    let worst = { c: 0, k: 0, r: 0 };
    const col = new Colliculus();
    // [distance, view angle off the gate axis, camera yaw offset, camera pitch offset] (degrees)
    const cases: [number, number, number, number][] = [
      [3, 0, 0, 0], [3, 30, 5, 0], [6, 0, 10, -5], [6, 45, -8, 5], [6, 60, 0, 0],
      [10, 0, -15, 8], [10, 30, 12, -6], [10, 60, 5, 3], [15, 0, 20, 10], [15, 30, -25, -5], [15, 60, 0, 0],
    ];
    for (const [d, view, oy, op] of cases) {
      const gate = gateAt([0, 0, 2], view * DEG);
      const r = new Renderer([gate]);
      const v = frontView(d, 0, oy, op, cameraProfile('aigp-vq', { noiseStd: 2 }));
      col.reset();
      const out = col.step(input(render(r, v, d * 100 + view), v), 1 / 30);
      const rings = out.sightings.filter((s) => s.kind === 'ring');
      expect(rings.length, `d=${d} view=${view}`).toBe(1);
      const e = errorsOf(rings[0]!, gate, v);
      rows.push(`${d} m ${view}° (${oy}, ${op}): centre ${fmt(e.centerPx)} px, corners ≤ ${fmt(e.cornersPx)} px (${e.kind}), position ${fmt(e.rangePct)} %, conf ${fmt(rings[0]!.confidence)}`);
      worst = { c: Math.max(worst.c, e.centerPx), k: Math.max(worst.k, e.cornersPx), r: Math.max(worst.r, e.rangePct) };
      expect(e.centerPx).toBeLessThan(3);
      expect(e.cornersPx).toBeLessThan(3);
      expect(e.rangePct).toBeLessThan(5);
      expect(out.target).toBe(rings[0]);
    }
    console.log(`[colliculus] accuracy (noise std 2):\n  ${rows.join('\n  ')}\n  worst: centre ${fmt(worst.c)} px, corners ${fmt(worst.k)} px, position ${fmt(worst.r)} %`);
  });

  it('the normal points from the gate toward the camera and follows the gate yaw', () => {
    const col = new Colliculus();
    for (const view of [0, 30, 50]) {
      const gate = gateAt([0, 0, 2], view * DEG);
      const v = frontView(6);
      col.reset();
      const s = col.step(input(render(new Renderer([gate]), v), v), 1 / 30).target!;
      // level camera looking along +x: the gate normal toward the camera is −x_gate → camera (sin yaw·…)
      const n = s.normalCam!;
      expect(n[2]).toBeLessThan(0);
      const yawEst = Math.atan2(n[0], -n[2]) / DEG;
      expect(Math.abs(yawEst - view)).toBeLessThan(4);
    }
  });

  it('far and oblique (30 m, 20°): the planar tilt ambiguity is flagged and resolved upright', () => {
    // (at 25 m and 30° the edges now resolve the tilt: the mirrored pose fits measurably worse)
    const gate = gateAt([0, 0, 2], 20 * DEG);
    const v = frontView(30);
    const s = new Colliculus().step(input(render(new Renderer([gate]), v), v), 1 / 30).target!;
    expect(s.kind).toBe('ring');
    expect(s.poseAmbiguous).toBe(true);
    expect(s.upCam![1]).toBeLessThan(-0.99); // level camera: world up is −y in the optical frame
    expect(errorsOf(s, gate, v).rangePct).toBeLessThan(5);
    // near gates are unambiguous
    const near = new Colliculus().step(input(render(new Renderer([gate]), frontView(6)), frontView(6)), 1 / 30).target!;
    expect(near.poseAmbiguous).toBe(false);
  });

  it('roll 45°, 60° and 70°: detected, corners labelled TL, TR, BR, BL as the upright gate', () => {
    const col = new Colliculus();
    const rows: string[] = [];
    for (const [roll, view, d] of [[45, 0, 6], [-45, 30, 8], [60, 0, 6], [-60, 20, 10], [70, 30, 6], [-70, 0, 5]] as const) {
      const gate = gateAt([0, 0, 2], view * DEG);
      const v = frontView(d, roll, 0, 0, cameraProfile('aigp-vq', { noiseStd: 2 }));
      col.reset();
      const out = col.step(input(render(new Renderer([gate]), v, 7), v), 1 / 30);
      const ring = out.sightings.find((s) => s.kind === 'ring');
      expect(ring, `roll ${roll}`).toBeDefined();
      const e = errorsOf(ring!, gate, v);
      rows.push(`roll ${roll}° view ${view}° ${d} m: centre ${fmt(e.centerPx)} px, corners ${fmt(e.cornersPx)} px, position ${fmt(e.rangePct)} %`);
      expect(e.centerPx).toBeLessThan(3);
      expect(e.cornersPx).toBeLessThan(3);
      expect(e.rangePct).toBeLessThan(5);
    }
    console.log(`[colliculus] rolled:\n  ${rows.join('\n  ')}`);
  });

  it('a gate so close the outer frame leaves the image (1.8 m, centred) is located by its opening', () => {
    const gate = gateAt([0, 0, 2]);
    const v = frontView(1.8);
    const out = new Colliculus().step(input(render(new Renderer([gate]), v), v), 1 / 30);
    const s = out.target!;
    expect(s.kind).toBe('ring');
    expect(s.touchesBorder).toBe(true);
    expect(s.cornersKind).toBe('inner');
    const e = errorsOf(s, gate, v);
    expect(e.centerPx).toBeLessThan(3);
    expect(e.cornersPx).toBeLessThan(3);
    expect(e.rangePct).toBeLessThan(5);
    console.log(`[colliculus] 1.8 m: inner corners ≤ ${fmt(e.cornersPx)} px, position ${fmt(e.rangePct)} %`);
  });

  it('pixel noise std 4 does not break detection (several seeds and poses)', () => {
    const col = new Colliculus();
    const prof = cameraProfile('aigp-vq', { noiseStd: 4 });
    let worst = 0, worstR = 0;
    for (const [d, view, roll, seed] of [[4, 0, 0, 1], [8, 30, 20, 2], [12, 45, -30, 3], [15, 0, 0, 4], [6, 60, 10, 5], [10, 0, 45, 6]] as const) {
      const gate = gateAt([0, 0, 2], view * DEG);
      const v = frontView(d, roll, 5, -3, prof);
      col.reset();
      const out = col.step(input(render(new Renderer([gate]), v, seed), v), 1 / 30);
      const rings = out.sightings.filter((s) => s.kind === 'ring');
      expect(rings.length).toBe(1);
      const e = errorsOf(rings[0]!, gate, v);
      worst = Math.max(worst, e.centerPx, e.cornersPx);
      worstR = Math.max(worstR, e.rangePct);
      expect(e.centerPx).toBeLessThan(3);
      expect(e.cornersPx).toBeLessThan(3);
      expect(e.rangePct).toBeLessThan(5);
    }
    console.log(`[colliculus] noise std 4: worst centre/corner ${fmt(worst)} px, position ${fmt(worstR)} %`);
  });

  it('mono8 (best effort): a near gate is found by its dark inner band', () => {
    const col = new Colliculus();
    const prof = cameraProfile('aigp-vq-mono', { noiseStd: 3 });
    const rows: string[] = [];
    for (const [d, view] of [[3, 0], [4, 30], [6, 0], [6, 40]] as const) {
      const gate = gateAt([0, 0, 2], view * DEG);
      const v = frontView(d, 0, 4, 2, prof);
      col.reset();
      const out = col.step(input(render(new Renderer([gate]), v, d), v), 1 / 30);
      expect(out.sightings.every((s) => s.kind === 'ring')).toBe(true); // mono8 reports no blobs
      const s = out.target;
      expect(s, `mono ${d} m ${view}°`).not.toBeNull();
      const e = errorsOf(s!, gate, v);
      rows.push(`${d} m ${view}°: centre ${fmt(e.centerPx)} px, corners ${fmt(e.cornersPx)} px, position ${fmt(e.rangePct)} %`);
      expect(e.centerPx).toBeLessThan(3);
      expect(e.rangePct).toBeLessThan(5);
    }
    console.log(`[colliculus] mono8:\n  ${rows.join('\n  ')}`);
  });
});

describe('colliculus: what is not a gate', () => {
  it('empty sky, empty ground and a bare horizon give no sightings', () => {
    const col = new Colliculus();
    const r = new Renderer([], { seed: 3 });
    const prof = cameraProfile('aigp-vq', { noiseStd: 4 });
    for (const pitchDeg of [-60, 0, 20, 60]) {
      for (const yawDeg of [0, 90, 200]) {
        const v: View = { pos: [0, 0, 2], q: quatFromEuler(0, pitchDeg * DEG, yawDeg * DEG), rollRad: 0, pitchRad: pitchDeg * DEG, prof };
        const out = col.step(input(render(r, v, yawDeg + pitchDeg), v), 1 / 30);
        expect(out.sightings, `pitch ${pitchDeg} yaw ${yawDeg}`).toHaveLength(0);
        expect(out.target).toBeNull();
        expect(out.orient).toEqual({ yawRateRadS: 0, pitchRateRadS: 0 });
      }
    }
  });

  it('distractor boxes in gate-like colours are never rings, have low confidence and never win over a gate', () => {
    const boxes: DistractorSpec[] = [];
    DISTRACTOR_COLOURS.slice(0, 4).forEach((rgb, i) => {
      for (const stripes of [false, true]) {
        boxes.push({
          kind: 'box',
          centerEnuM: [7 + 0.5 * i, 5.6 - 1.6 * (2 * i + (stripes ? 1 : 0)), 1],
          sizeM: [1, 1.2, 2],
          yawRad: 0.3 * i,
          rgb: [rgb[0], rgb[1], rgb[2]],
          stripes,
        });
      }
    });
    // shape rejection: boxes in the gate's own orange (solid and striped) are blobs, not rings
    for (const stripes of [false, true]) {
      boxes.push({ kind: 'box', centerEnuM: [9, stripes ? -9 : 9, 1.2], sizeM: [1.5, 1.5, 2.4], yawRad: 0.5, rgb: [255, 112, 0], stripes });
    }
    const prof = cameraProfile('aigp-vq', { noiseStd: 4 });
    const col = new Colliculus();
    for (const yawDeg of [-45, 0, 45]) {
      const v: View = { pos: [0, 0, 1.5], q: quatFromEuler(0, 10 * DEG, yawDeg * DEG), rollRad: 0, pitchRad: 10 * DEG, prof };
      const out = col.step(input(render(new Renderer([], { distractors: boxes }), v, 9), v), 1 / 30);
      for (const s of out.sightings) {
        expect(s.kind).toBe('blob');
        expect(s.confidence).toBeLessThan(0.3);
      }
    }
    // with a gate among them (behind the boxes), the gate is the target
    const gate = gateAt([16, 0, 3.2]);
    const r = new Renderer([gate], { distractors: boxes });
    for (const yawDeg of [-8, 0, 8]) {
      const v: View = { pos: [0, 0, 2], q: quatFromEuler(0, 14 * DEG, yawDeg * DEG), rollRad: 0, pitchRad: 14 * DEG, prof };
      col.reset();
      let out = col.step(input(render(r, v, 11), v), 1 / 30);
      out = col.step(input(render(r, v, 12), v), 1 / 30);
      expect(out.target?.kind).toBe('ring');
      expect(errorsOf(out.target!, gate, v).centerPx).toBeLessThan(3);
      for (const s of out.sightings) if (s !== out.target) expect(s.confidence).toBeLessThan(0.3);
    }
  });
});

describe('colliculus: orienting field', () => {
  const near = gateAt([6, 1.6, 2], 0, 0);
  const far = gateAt([15, -3.5, 2.3], 0, 1);
  const r = new Renderer([near, far]);
  const v: View = { pos: [0, 0, 2], q: quatFromEuler(0, 20 * DEG, 0), rollRad: 0, pitchRad: 20 * DEG, prof: cameraProfile('aigp-vq', { noiseStd: 2 }) };
  const ray = (g: GateSpec): Vec3 => {
    const p = worldToCamera(g.centerEnuM, v.pos, v.q, v.prof);
    const n = Math.hypot(...p);
    return [p[0] / n, p[1] / n, p[2] / n];
  };
  const isGate = (s: GateSighting | null, g: GateSpec): boolean => s !== null && errorsOf(s, g, v).centerPx < 3;

  it('two gates in view: without an expectation the nearest (largest) wins', () => {
    const col = new Colliculus();
    for (let k = 0; k < 3; k++) {
      const out = col.step(input(render(r, v, k), v), 1 / 30);
      expect(out.sightings.filter((s) => s.kind === 'ring')).toHaveLength(2);
      expect(isGate(out.target, near)).toBe(true);
      // near gate is to the left (+y) → turn left (positive yaw rate)
      expect(out.orient.yawRateRadS).toBeGreaterThan(0);
    }
  });

  it('with `expected` pointing at the farther gate, the farther gate wins from the first frame', () => {
    const col = new Colliculus();
    for (let k = 0; k < 3; k++) {
      const out = col.step(input(render(r, v, k), v, { rayCam: ray(far), sigmaRad: 0.08 }), 1 / 30);
      expect(isGate(out.target, far)).toBe(true);
      expect(out.orient.yawRateRadS).toBeLessThan(0); // far gate is to the right
    }
    // an expected distance alone also favours the matching gate
    col.reset();
    const out = col.step(input(render(r, v, 5), v, { rayCam: [0, 0, 1], sigmaRad: 1, distanceM: 15 }), 1 / 30);
    expect(isGate(out.target, far)).toBe(true);
  });

  it('the field holds its choice against a brief change (hysteresis) and follows a sustained one', () => {
    const col = new Colliculus();
    for (let k = 0; k < 5; k++) col.step(input(render(r, v, k), v, { rayCam: ray(far), sigmaRad: 0.08 }), 1 / 30);
    // expectation withdrawn: the far gate stays the target for at least a frame, then the near one takes over
    const first = col.step(input(render(r, v, 10), v), 1 / 30);
    expect(isGate(first.target, far)).toBe(true);
    let out = first;
    for (let k = 0; k < 12; k++) out = col.step(input(render(r, v, 11 + k), v), 1 / 30);
    expect(isGate(out.target, near)).toBe(true);
  });

  it('orienting rates are proportional to the target offset and zero without a target', () => {
    const col = new Colliculus({ orient: { gainPerS: 2, maxRateRadS: 10 } });
    const gate = gateAt([0, 0, 2]);
    const rg = new Renderer([gate]);
    for (const [oy, op] of [[10, 0], [-12, 0], [0, 8], [0, -6]] as const) {
      const vv = frontView(8, 0, oy, op);
      col.reset();
      const out = col.step(input(render(rg, vv), vv), 1 / 30);
      const t = out.target!;
      const ax = Math.atan2(t.rayCam[0], t.rayCam[2]), ay = Math.atan2(t.rayCam[1], t.rayCam[2]);
      expect(out.orient.yawRateRadS).toBeCloseTo(-2 * ax, 9);
      expect(out.orient.pitchRateRadS).toBeCloseTo(2 * ay, 9);
      // camera yawed left of the gate (oy > 0) → gate right of centre → turn right (negative yaw rate)
      if (oy !== 0) expect(Math.sign(out.orient.yawRateRadS)).toBe(-Math.sign(oy));
      // body pitched further down (op > 0) → gate above the image centre → nose up (negative pitch rate)
      if (op !== 0) expect(Math.sign(out.orient.pitchRateRadS)).toBe(-Math.sign(op));
      // level bearing: the gate is level with the camera along world +x; the body heads oy → [cos oy, −sin oy, 0]
      expect(t.rayLevel[0]).toBeCloseTo(Math.cos(oy * DEG), 2);
      expect(t.rayLevel[1]).toBeCloseTo(-Math.sin(oy * DEG), 2);
      expect(t.rayLevel[2]).toBeCloseTo(0, 2);
    }
  });
});

describe('colliculus: region contract', () => {
  it('is innate: saveState() is null, loadState() refuses, reset() returns to tick 0', () => {
    const col = new Colliculus();
    expect(col.saveState()).toBeNull();
    expect(() => col.loadState({ schema: 1, data: {} })).toThrow(/innate/);
    const v = frontView(6);
    const f = render(new Renderer([gateAt([0, 0, 2])]), v);
    const a = structuredClone(col.step(input(f, v), 1 / 30));
    col.step(input(f, v), 1 / 30);
    col.reset();
    expect(structuredClone(col.step(input(f, v), 1 / 30))).toEqual(a);
  });

  it('refuses malformed frames and replaces a non-finite attitude (counted), never throws', () => {
    const col = new Colliculus();
    const v = frontView(6);
    const f = render(new Renderer([gateAt([0, 0, 2])]), v);
    const bad: CameraFrame[] = [
      { ...f, data: f.data.subarray(0, 1000) },
      { ...f, encoding: 'bgr8' as never },
      { ...f, step: 10 },
      { ...f, intrinsics: { ...f.intrinsics, fx: NaN } },
      { ...f, width: 0 },
    ];
    for (const b of bad) {
      const out = col.step(input(b, v), 1 / 30);
      expect(out.sightings).toHaveLength(0);
      expect(out.target).toBeNull();
    }
    expect(col.stats.badFrames).toBe(bad.length);
    const out = col.step({ frame: f, rollRad: NaN, pitchRad: Infinity, expected: { rayCam: [NaN, 0, 1], sigmaRad: 0.1 } }, NaN);
    expect(out.target?.kind).toBe('ring');
    expect(col.stats.replacedNonFinite).toBe(4); // roll, pitch, expected ray, dt
  });

  it('validates its parameters with a clear error', () => {
    expect(() => new Colliculus({ detector: { downsample: 7 } })).toThrow(/Colliculus: invalid parameters/);
    expect(() => new Colliculus({ gate: { innerM: 3, outerM: 2.7 } })).toThrow(/outerM/);
    expect(() => new Colliculus({ bogus: 1 } as never)).toThrow(/Colliculus/);
    const cfg = ColliculusParams.parse({});
    expect(cfg.gate).toMatchObject({ innerM: 1.5, outerM: 2.7, depthM: 0.26, innerBandM: 0.1, checkerBandM: 0.12 });
    expect(cfg.field.cols).toBe(32);
  });

  it('works on other frame sizes and strides (320 × 180 fpv-120 mono, padded rgb rows)', () => {
    const gate = gateAt([0, 0, 2]);
    const r = new Renderer([gate]);
    const small = cameraProfile('fpv-120', { noiseStd: 0, encoding: 'rgb8', posFluM: [0, 0, 0], tiltUpDeg: 20 });
    const v = frontView(4, 0, 0, 0, small);
    const f = render(r, v);
    const col = new Colliculus();
    // at 120 Hz the field needs a few frames (≈ τ/2 = 25 ms of evidence) to commit to a target
    let out = col.step(input(f, v), 1 / 120);
    for (let k = 0; k < 3; k++) out = col.step(input(f, v), 1 / 120);
    expect(out.target?.kind).toBe('ring');
    expect(errorsOf(out.target!, gate, v).centerPx).toBeLessThan(3);
    // the same frame with 16 bytes of padding per row
    const step = f.step + 16;
    const padded = new Uint8Array(step * f.height);
    for (let y = 0; y < f.height; y++) padded.set(f.data.subarray(y * f.step, (y + 1) * f.step), y * step);
    const out2 = new Colliculus().step(input({ ...f, step, data: padded }, v), 1 / 30);
    expect(out2.target!.centerPx[0]).toBeCloseTo(out.target!.centerPx[0], 6);
  });
});

describe('colliculus: the classification scan', () => {
  // the scan skips non-gate samples in a loop of its own (speed); this pins it to the rule it
  // implements, sample by sample: rgb8 orange = r ≥ minR and g/r, b/r within the colour bounds;
  // mono8 = dark. Random frames with orange and dark blocks, runs touching both row ends.
  type Runs = { nRuns: number; runY: Int32Array; runX0: Int32Array; runX1: Int32Array };
  type ColliculusParamsColour = { minR: number; gOverRMin: number; gOverRMax: number; bOverRMax: number; darkMax: number };
  const reference = (data: Uint8Array, W: number, H: number, mono: boolean, f: number, c: ColliculusParamsColour): string[] => {
    const out: string[] = [];
    const gLo = Math.round(256 * c.gOverRMin), gHi = Math.round(256 * c.gOverRMax), bHi = Math.round(256 * c.bOverRMax);
    for (let j = 0; j < Math.floor(H / f); j++) {
      let x0 = -1;
      const wd = Math.floor(W / f);
      for (let i = 0; i <= wd; i++) {
        let on = false;
        if (i < wd) {
          const p = (j * f * W + i * f) * (mono ? 1 : 3);
          if (mono) on = data[p]! <= c.darkMax;
          else {
            const r = data[p]!, g = data[p + 1]!, b = data[p + 2]!;
            on = r >= c.minR && 256 * g >= gLo * r && 256 * g <= gHi * r && 256 * b <= bHi * r;
          }
        }
        if (on && x0 < 0) x0 = i;
        if (!on && x0 >= 0) {
          out.push(`${j}:${x0}-${i - 1}`);
          x0 = -1;
        }
      }
    }
    return out;
  };

  for (const mono of [false, true]) {
    it(`finds exactly the runs of ${mono ? 'dark (mono8)' : 'orange (rgb8)'} samples a per-sample test finds, seeded`, () => {
      const col = new Colliculus();
      const W = 96, H = 64, ch = mono ? 1 : 3;
      const rng = new Rng(mono ? 11 : 12);
      const prof = cameraProfile(mono ? 'aigp-vq-mono' : 'aigp-vq');
      for (let k = 0; k < 20; k++) {
        const data = new Uint8Array(W * H * ch);
        for (let i = 0; i < data.length; i++) data[i] = Math.floor(rng.next() * 256);
        // blocks of gate colour (some at the left and right edges) and of near-miss colours
        for (let b = 0; b < 24; b++) {
          const x0 = b % 4 === 0 ? 0 : Math.floor(rng.next() * W), y0 = Math.floor(rng.next() * H);
          const x1 = b % 4 === 1 ? W : Math.min(W, x0 + 1 + Math.floor(rng.next() * 30));
          const colour = mono ? [Math.floor(rng.next() * 60)] : [[230, 100, 10], [170, 57, 22], [200, 116, 26], [169, 80, 5], [255, 148, 33]][b % 5]!;
          for (let y = y0; y < Math.min(H, y0 + 4); y++) for (let x = x0; x < x1; x++) for (let c = 0; c < ch; c++) data[(y * W + x) * ch + c] = colour[c]!;
        }
        const frame = { ...makeCameraFrame(prof, data, k / 30, k), width: W, height: H, step: W * ch };
        col.detector.detect(frame, { rollRad: 0, pitchRad: 0 });
        const d = col.detector as unknown as Runs;
        const got: string[] = [];
        for (let n = 0; n < d.nRuns; n++) got.push(`${d.runY[n]}:${d.runX0[n]}-${d.runX1[n]}`);
        const want = reference(data, W, H, mono, col.cfg.detector.downsample, col.cfg.colour);
        expect(want.length).toBeGreaterThan(10);
        expect(got).toEqual(want);
      }
    });
  }
});
