/**
 * Superior colliculus: the two views that cost gates in closed-loop flight, on rendered frames.
 *  1. Oblique at medium range (10–12 m, 60–70° off the gate axis): the 0.12 m checker band is
 *     ≤ 1–2 px there, so the orange outer side face merges with the face's orange region and the
 *     outer boundary (and its corners) is biased by up to the side face's width. The pose must come
 *     from the opening's edge (orange → dark band), with the outer sides only where they agree.
 *  2. Close (2–3 m) while banked 45°, the ring cut by the image border, no enclosed opening: the
 *     pose comes from the straight edges of the visible ring (labelled by the attitude), corners
 *     possibly outside the image.
 * Frames come from the simulator's renderer (tests only; src/ never imports sim/); truth from
 * sim/camera.ts and sim/gates.ts.
 */
import { describe, expect, it } from 'vitest';
import { quatFromEuler, type Quat } from '../src/math/quat.js';
import type { Vec3 } from '../src/math/vec3.js';
import { Rng } from '../src/rng.js';
import { Colliculus, type ColliculusInput, type GateSighting } from '../src/regions/colliculus.js';
import { cameraProfile, frameBytes, makeCameraFrame, projectPoint, worldToCamera, type CameraProfile } from '../sim/camera.js';
import { gateCorners } from '../sim/gates.js';
import { Renderer, type DistractorSpec } from '../sim/render.js';
import type { GateSpec } from '../sim/types.js';
import type { CameraFrame } from '../src/tracts/io.js';

const DEG = Math.PI / 180;

const gateAt = (center: Vec3, yawRad = 0): GateSpec => ({ index: 0, centerEnuM: center, yawRad, pitchRad: 0, innerM: 1.5, outerM: 2.7, depthM: 0.26 });

interface View {
  pos: Vec3;
  q: Quat;
  rollRad: number;
  pitchRad: number;
  prof: CameraProfile;
}

/** Camera at (−d, y, z) looking along +x, optical axis level (body pitched down by the mount tilt) plus offsets, rolled. */
function view(d: number, rollDeg: number, offYawDeg: number, offPitchDeg: number, z = 2, y = 0): View {
  const prof = cameraProfile('aigp-vq', { noiseStd: 2 });
  const pitch = (prof.tiltUpDeg + offPitchDeg) * DEG;
  return { pos: [-d, y, z], q: quatFromEuler(rollDeg * DEG, pitch, offYawDeg * DEG), rollRad: rollDeg * DEG, pitchRad: pitch, prof };
}

function render(r: Renderer, v: View, seed: number): CameraFrame {
  const buf = new Uint8Array(frameBytes(v.prof));
  r.render(v.pos, v.q, v.prof, buf, new Rng(seed));
  return makeCameraFrame(v.prof, buf, 0, 0);
}

/** Expectation at the true gate (what hippocampus/cortex would say), σ 0.1 rad, with its distance. */
function expectedAt(gate: GateSpec, v: View): NonNullable<ColliculusInput['expected']> {
  const p = worldToCamera(gate.centerEnuM, v.pos, v.q, v.prof);
  const n = Math.hypot(...p);
  return { rayCam: [p[0] / n, p[1] / n, p[2] / n], sigmaRad: 0.1, distanceM: n };
}

/** Position error of the sighting's PnP centre (m) and its image-centre error (px). */
function errorsOf(s: GateSighting, gate: GateSpec, v: View): { posM: number; centerPx: number } {
  const pc = worldToCamera(gate.centerEnuM, v.pos, v.q, v.prof);
  const c = projectPoint(gate.centerEnuM, v.pos, v.q, v.prof)!;
  return {
    posM: Math.hypot(s.posCamM![0] - pc[0], s.posCamM![1] - pc[1], s.posCamM![2] - pc[2]),
    centerPx: Math.hypot(s.centerPx[0] - c.u, s.centerPx[1] - c.v),
  };
}

const fmt = (x: number, d = 3): string => x.toFixed(d);

describe('colliculus flight case 1: oblique gates at medium range', () => {
  it('10–12 m, 60–70° off axis (outer side face in view, rolled up to 40°): PnP position error < 0.15 m, reprojection < 1 px', () => {
    const col = new Colliculus();
    const rows: string[] = [];
    let worst = 0, worstRp = 0;
    for (const d of [10, 11, 12]) {
      for (const yawDeg of [60, 65, 70]) {
        for (const [roll, oy, op, z] of [[0, 0, 0, 2], [30, 5, -3, 1.6], [-40, -6, 4, 2.5]] as const) {
          const gate = gateAt([0, 0, 2], yawDeg * DEG);
          const v = view(d, roll, oy, op, z);
          col.reset();
          const out = col.step({ frame: render(new Renderer([gate]), v, d * 100 + yawDeg + roll), rollRad: v.rollRad, pitchRad: v.pitchRad, expected: null }, 1 / 30);
          const ring = out.sightings.find((s) => s.kind === 'ring');
          expect(ring, `${d} m ${yawDeg}° roll ${roll}`).toBeDefined();
          const e = errorsOf(ring!, gate, v);
          rows.push(`${d} m ${yawDeg}° roll ${roll}°: position ${fmt(e.posM)} m, reprojection ${fmt(ring!.reprojPx, 2)} px, centre ${fmt(e.centerPx, 2)} px`);
          worst = Math.max(worst, e.posM);
          worstRp = Math.max(worstRp, ring!.reprojPx);
          expect(e.posM).toBeLessThan(0.15);
          expect(ring!.reprojPx).toBeLessThan(1); // well inside the pipeline's 2.5 px acceptance
          expect(out.target).toBe(ring);
        }
      }
    }
    console.log(`[colliculus] oblique 10–12 m, 60–70°:\n  ${rows.join('\n  ')}\n  worst: position ${fmt(worst)} m, reprojection ${fmt(worstRp, 2)} px`);
  });

  it('the ground hiding the bottom checker band does not bias the pose (gate sunk 0.25 m)', () => {
    // centre 1.1 m: the frame's bottom (1.35 m below the centre) is under ground with the whole
    // bottom checker band and 0.13 m of orange; the orange → ground edge is no checker edge
    const rows: string[] = [];
    const col = new Colliculus();
    for (const d of [6, 8, 11]) {
      for (const yawDeg of [0, 20]) {
        const gate = gateAt([0, 0, 1.1], yawDeg * DEG);
        const v = view(d, 10, 0, 3, 1.5);
        col.reset();
        const out = col.step({ frame: render(new Renderer([gate]), v, d), rollRad: v.rollRad, pitchRad: v.pitchRad, expected: null }, 1 / 30);
        const ring = out.sightings.find((s) => s.kind === 'ring');
        expect(ring, `${d} m ${yawDeg}°`).toBeDefined();
        const e = errorsOf(ring!, gate, v);
        rows.push(`${d} m ${yawDeg}°: position ${fmt(e.posM)} m, reprojection ${fmt(ring!.reprojPx, 2)} px`);
        expect(e.posM, `${d} m ${yawDeg}°`).toBeLessThan(0.1);
        expect(ring!.reprojPx).toBeLessThan(1);
      }
    }
    console.log(`[colliculus] bottom band under ground:\n  ${rows.join('\n  ')}`);
  });
});

describe('colliculus flight case 2: close gates cut by the image border while banked', () => {
  // [distance, roll, camera yaw offset, camera pitch offset, gate yaw] — the gate centre is placed
  // 20–25° off the optical axis, so 1–3 corners of the opening lie outside the image
  const cases: [number, number, number, number, number][] = [
    [2, 45, 25, 0, 0], [2, -45, 0, 22, 25], [2, 45, -20, -15, 0], [2, -45, 22, -12, 25],
    [2.5, 45, -25, 0, 25], [2.5, -45, 20, 15, 0], [2.5, 45, 0, 22, 0], [2.5, -45, 0, -22, 25],
    [3, 45, 20, 15, 25], [3, -45, 25, 0, 0], [3, 45, -20, -15, 0], [3, -45, -25, 0, 25],
  ];

  it('2–3 m, rolled ±45°, opening cut by the border: a ring with a pose (error < 0.1 m, centre < 3 px) that wins the orienting field', () => {
    const rows: string[] = [];
    let worst = 0, worstC = 0, outside = 0;
    for (const [d, roll, oy, op, yawDeg] of cases) {
      const gate = gateAt([0, 0, 2], yawDeg * DEG);
      const v = view(d, roll, oy, op);
      const corners = gateCorners(gate, 'inner').map((p) => projectPoint(p, v.pos, v.q, v.prof)!);
      const cut = corners.filter((p) => p.u < 0 || p.v < 0 || p.u > v.prof.width - 1 || p.v > v.prof.height - 1).length;
      expect(cut, `${d} m roll ${roll}: the opening must be cut by the border`).toBeGreaterThan(0);
      const col = new Colliculus();
      const out = col.step({ frame: render(new Renderer([gate]), v, 7), rollRad: v.rollRad, pitchRad: v.pitchRad, expected: expectedAt(gate, v) }, 1 / 30);
      expect(col.detector.stats.partial, `${d} m roll ${roll} (${oy}, ${op}): partial ring`).toBeGreaterThanOrEqual(1);
      const s = out.target;
      expect(s?.kind, `${d} m roll ${roll} (${oy}, ${op})`).toBe('ring');
      expect(s!.touchesBorder).toBe(true);
      const e = errorsOf(s!, gate, v);
      rows.push(`${d} m roll ${roll}° (${oy}, ${op}) yaw ${yawDeg}°, ${cut} corner(s) out: position ${fmt(e.posM)} m, centre ${fmt(e.centerPx, 2)} px at (${s!.centerPx.map((x) => x.toFixed(0)).join(', ')}), reprojection ${fmt(s!.reprojPx, 2)} px`);
      worst = Math.max(worst, e.posM);
      worstC = Math.max(worstC, e.centerPx);
      if (s!.centerPx[0] < 0 || s!.centerPx[1] < 0 || s!.centerPx[0] > v.prof.width - 1 || s!.centerPx[1] > v.prof.height - 1) outside++;
      expect(e.posM).toBeLessThan(0.1);
      expect(e.centerPx).toBeLessThan(3);
      expect(s!.reprojPx).toBeLessThan(1);
      expect(s!.upCam![1] * Math.cos(v.rollRad)).toBeLessThan(0); // upright: up is image-up after de-rolling
    }
    console.log(`[colliculus] close and border-cut:\n  ${rows.join('\n  ')}\n  worst: position ${fmt(worst)} m, centre ${fmt(worstC, 2)} px (${outside} centres outside the image)`);
  });

  it('the same sightings win without an expectation when they are the only gate; orienting turns toward them', () => {
    for (const [d, roll, oy, op, yawDeg] of cases.slice(0, 4)) {
      const gate = gateAt([0, 0, 2], yawDeg * DEG);
      const v = view(d, roll, oy, op);
      const col = new Colliculus();
      const f = render(new Renderer([gate]), v, 3);
      let out = col.step({ frame: f, rollRad: v.rollRad, pitchRad: v.pitchRad, expected: null }, 1 / 30);
      out = col.step({ frame: f, rollRad: v.rollRad, pitchRad: v.pitchRad, expected: null }, 1 / 30);
      expect(out.target?.kind, `${d} m roll ${roll}`).toBe('ring');
      const r = out.target!.rayCam;
      // orienting rates point at the gate centre (body yaw + = left: gate at image right → negative)
      expect(Math.sign(out.orient.yawRateRadS)).toBe(-Math.sign(Math.atan2(r[0], r[2])));
    }
  });

  it('border-cut orange boxes (solid and striped) are not taken for partial gates', () => {
    const prof = cameraProfile('aigp-vq', { noiseStd: 3 });
    const boxes: DistractorSpec[] = [
      { kind: 'box', centerEnuM: [3, 1.2, 1.2], sizeM: [1.5, 1.5, 2.4], yawRad: 0.4, rgb: [255, 112, 0], stripes: false },
      { kind: 'box', centerEnuM: [3, -1.4, 1.2], sizeM: [1.5, 1.5, 2.4], yawRad: -0.3, rgb: [255, 112, 0], stripes: true },
    ];
    const r = new Renderer([], { distractors: boxes });
    const col = new Colliculus();
    for (const [roll, yawDeg] of [[0, 25], [40, 25], [-40, -25], [45, -20], [0, -28]] as const) {
      const pitch = (prof.tiltUpDeg - 5) * DEG;
      const v: View = { pos: [0, 0, 1.6], q: quatFromEuler(roll * DEG, pitch, yawDeg * DEG), rollRad: roll * DEG, pitchRad: pitch, prof };
      const out = col.step({ frame: render(r, v, 5), rollRad: v.rollRad, pitchRad: v.pitchRad, expected: null }, 1 / 30);
      expect(out.sightings.some((s) => s.touchesBorder), `roll ${roll} yaw ${yawDeg}: a box cut by the border`).toBe(true);
      for (const s of out.sightings) expect(s.kind, `roll ${roll} yaw ${yawDeg}`).toBe('blob');
    }
  });
});
