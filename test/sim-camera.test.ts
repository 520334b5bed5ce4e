import { describe, expect, it } from 'vitest';
import { PNG } from 'pngjs';
import { quatFromEuler, quatIdentity } from '../src/math/quat.js';
import type { Vec3 } from '../src/math/vec3.js';
import { Rng } from '../src/rng.js';
import {
  CAMERA_PROFILES,
  cameraProfile,
  frameBytes,
  makeCameraFrame,
  projectPoint,
  worldToCamera,
  type CameraProfile,
} from '../sim/camera.js';
import { Renderer, applyNoise, type GateLike } from '../sim/render.js';
import { decodeJpeg, decodePng, encodeJpeg, encodePng, toMono } from '../sim/image.js';

const DEG = Math.PI / 180;

const gateAt = (center: Vec3, yawRad = 0): GateLike => ({ centerEnuM: center, yawRad, pitchRad: 0, innerM: 1.5, outerM: 2.7, depthM: 0.26 });

/** Noise-free profile. */
const clean = (name = 'aigp-vq', o: Partial<CameraProfile> = {}): CameraProfile => cameraProfile(name, { noiseStd: 0, ...o });

const px = (p: CameraProfile, buf: Uint8Array, u: number, v: number): [number, number, number] => {
  const i = Math.round(v) * p.width + Math.round(u);
  return p.encoding === 'rgb8' ? [buf[i * 3]!, buf[i * 3 + 1]!, buf[i * 3 + 2]!] : [buf[i]!, buf[i]!, buf[i]!];
};
const isOrange = ([r, g, b]: [number, number, number]): boolean => r > 180 && g > 70 && g < 135 && b < 40;
const isDark = ([r, g, b]: [number, number, number]): boolean => r < 45 && g < 45 && b < 50;
const isLight = ([r, g, b]: [number, number, number]): boolean => r > 180 && g > 180 && b > 180;

describe('camera profiles', () => {
  it('default aigp-vq matches the AI-GP spec', () => {
    const p = cameraProfile();
    expect(p).toMatchObject({ name: 'aigp-vq', width: 640, height: 360, fx: 320, fy: 320, cx: 320, cy: 180, tiltUpDeg: 20, rateHz: 30, encoding: 'rgb8' });
    expect(frameBytes(p)).toBe(640 * 360 * 3);
    expect(Object.keys(CAMERA_PROFILES)).toEqual(expect.arrayContaining(['aigp-vq', 'aigp-vq-mono', 'fpv-120']));
    for (const name of Object.keys(CAMERA_PROFILES)) expect(() => cameraProfile(name)).not.toThrow();
  });

  it('overrides are validated with readable errors', () => {
    expect(cameraProfile('aigp-vq', { rateHz: 60 }).rateHz).toBe(60);
    expect(() => cameraProfile('nope')).toThrow(/unknown camera profile 'nope'; available: .*aigp-vq/);
    expect(() => cameraProfile('aigp-vq', { fx: -1 })).toThrow(/fx: fx must be > 0/);
    expect(() => cameraProfile('aigp-vq', { dropRate: 2 })).toThrow(/dropRate/);
    expect(() => cameraProfile('aigp-vq', { cx: 700 })).toThrow(/cx=700 must lie in \[0, width=640\]/);
    expect(() => cameraProfile('aigp-vq', { width: 10.5 })).toThrow(/width must be an integer/);
  });

  it('makeCameraFrame fills the tract from the profile', () => {
    const p = cameraProfile('fpv-120');
    const f = makeCameraFrame(p, new Uint8Array(frameBytes(p)), 1.5, 7);
    expect(f).toMatchObject({ stampS: 1.5, seq: 7, encoding: 'mono8', width: 320, height: 180, step: 320 });
    expect(f.arrivalS).toBeCloseTo(1.5 + p.latencyS, 12);
    expect(f.mount.tiltUpRad).toBeCloseTo(25 * DEG, 12);
    expect(f.mount.posFluM).toEqual(p.posFluM);
  });
});

describe('projection', () => {
  it('projects a known point to the analytic pinhole pixel (level, yaw 0, 20° up-tilt)', () => {
    // Body = world at the origin. Camera axes in FLU for tilt θ:
    //   x_cam (right) = [0, −1, 0], y_cam (down) = [sin θ, 0, −cos θ], z_cam (fwd) = [cos θ, 0, sin θ].
    const th = 20 * DEG;
    const P: Vec3 = [10, 2, 3];
    const Xc = -P[1]; // −2
    const Yc = Math.sin(th) * P[0] - Math.cos(th) * P[2]; // 3.4202 − 2.8191 = 0.6011
    const Zc = Math.cos(th) * P[0] + Math.sin(th) * P[2]; // 9.3969 + 1.0261 = 10.4230
    const uExp = 320 + (320 * Xc) / Zc; // ≈ 258.60
    const vExp = 180 + (320 * Yc) / Zc; // ≈ 198.45
    expect(uExp).toBeCloseTo(258.6, 1);
    expect(vExp).toBeCloseTo(198.45, 1);
    const p = cameraProfile('aigp-vq');
    const r = projectPoint(P, [0, 0, 0], quatIdentity(), p)!;
    expect(Math.abs(r.u - uExp)).toBeLessThan(1);
    expect(Math.abs(r.v - vExp)).toBeLessThan(1);
    expect(r.depthM).toBeCloseTo(Zc, 9);
    expect(worldToCamera(P, [0, 0, 0], quatIdentity(), p).map((x) => +x.toFixed(9))).toEqual([Xc, Yc, Zc].map((x) => +x.toFixed(9)));
  });

  it('is invariant to a rigid motion of drone + point, and rejects points behind', () => {
    const p = cameraProfile('aigp-vq');
    // Yaw the drone 90° (now facing north) and move it; rotate the point with it.
    const q = quatFromEuler(0, 0, 90 * DEG);
    const r = projectPoint([5 - 2, 1 + 10, 4 + 3], [5, 1, 4], q, p)!;
    expect(r.u).toBeCloseTo(320 + (320 * -2) / 10.42303, 2);
    expect(projectPoint([-10, 0, 0], [0, 0, 0], quatIdentity(), p)).toBeNull();
    // Principal point: a point straight along the optical axis.
    const a = projectPoint([Math.cos(20 * DEG) * 7, 0, Math.sin(20 * DEG) * 7], [0, 0, 0], quatIdentity(), p)!;
    expect(a.u).toBeCloseTo(320, 9);
    expect(a.v).toBeCloseTo(180, 9);
  });

  it('applies the mount offset', () => {
    const p = cameraProfile('aigp-vq', { tiltUpDeg: 0, posFluM: [0, 0, 0.5] });
    const r = projectPoint([10, 0, 0.5], [0, 0, 0], quatIdentity(), p)!;
    expect(r.u).toBeCloseTo(320, 9);
    expect(r.v).toBeCloseTo(180, 9);
  });
});

describe('renderer', () => {
  // Camera at the gate's height, body pitched 20° nose-down so the optical axis is horizontal.
  const H = 2;
  const gate = gateAt([8, 0, H]);
  const levelAxis = quatFromEuler(0, 20 * DEG, 0);
  const FACE_X = 8 - 0.13;

  /** Where the ray through pixel (u, v) meets the gate's front face plane, in gate (y, z) coordinates. */
  const hitFace = (p: CameraProfile, u: number, v: number): [number, number] => [
    (-FACE_X * (u - p.cx)) / p.fx,
    (-FACE_X * (v - p.cy)) / p.fy,
  ];

  it('draws the gate ring in gate colours and leaves the opening clear (rgb8)', () => {
    const p = clean('aigp-vq');
    const out = new Uint8Array(frameBytes(p));
    new Renderer([gate], { seed: 1 }).render([0, 0, H], levelAxis, p, out);
    // Analytic corners: the outer square's corners land where the pinhole says.
    const c = projectPoint([FACE_X, 1.35, H + 1.35], [0, 0, H], levelAxis, p)!;
    expect(c.u).toBeCloseTo(320 - (320 * 1.35) / FACE_X, 6);
    expect(c.v).toBeCloseTo(180 - (320 * 1.35) / FACE_X, 6);
    // Sample points on the orange part of each side (radius 1.04 m on the face).
    for (const [y, z] of [[1.04, 0], [-1.04, 0], [0, 1.04], [0, -1.04], [0.6, 1.04], [-1.04, -0.5]] as const) {
      const q = projectPoint([FACE_X, y, H + z], [0, 0, H], levelAxis, p)!;
      expect(isOrange(px(p, out, q.u, q.v)), `orange at (${y}, ${z}) → ${px(p, out, q.u, q.v)}`).toBe(true);
    }
    // Scan the whole image: every pixel whose ray meets the ring face is a gate colour of the right band.
    const counts = { band: 0, orange: 0, checkerLight: 0, checkerDark: 0, opening: 0 };
    const wrong: string[] = [];
    for (let v = 0; v < p.height; v++) {
      for (let u = 0; u < p.width; u++) {
        const [y, z] = hitFace(p, u, v);
        const a = Math.max(Math.abs(y), Math.abs(z));
        const col = px(p, out, u, v);
        if (a > 0.77 && a < 0.83) {
          if (!isDark(col)) wrong.push(`inner band at ${u},${v}: ${col}`);
          counts.band++;
        } else if (a > 0.87 && a < 1.21) {
          if (!isOrange(col)) wrong.push(`orange at ${u},${v}: ${col}`);
          counts.orange++;
        } else if (a > 1.25 && a < 1.33) {
          if (isLight(col)) counts.checkerLight++;
          else if (isDark(col)) counts.checkerDark++;
          else wrong.push(`checker at ${u},${v}: ${col}`);
        } else if (a < 0.68 || a > 1.4) {
          if (isOrange(col) || isDark(col)) wrong.push(`background at ${u},${v}: ${col}`);
          counts.opening++;
        }
      }
    }
    expect(wrong.slice(0, 10)).toEqual([]);
    expect(counts.orange).toBeGreaterThan(4000);
    expect(counts.band).toBeGreaterThan(500);
    expect(counts.checkerLight).toBeGreaterThan(300);
    expect(counts.checkerDark).toBeGreaterThan(300);
    // The centre of the opening shows the background (sky above the horizon line: the axis is level).
    const centre = px(p, out, 320, 170);
    expect(isOrange(centre)).toBe(false);
    expect(centre[2]).toBeGreaterThan(centre[0]); // bluish sky
  });

  it('mono8 has the right size and equals the luma of the rgb8 render', () => {
    const r = new Renderer([gate], { seed: 3 });
    const prgb = clean('aigp-vq');
    const pmono = clean('aigp-vq-mono');
    const rgb = new Uint8Array(frameBytes(prgb));
    const mono = new Uint8Array(frameBytes(pmono));
    expect(rgb.length).toBe(640 * 360 * 3);
    expect(mono.length).toBe(640 * 360);
    r.render([0, 0.3, H], levelAxis, prgb, rgb);
    r.render([0, 0.3, H], levelAxis, pmono, mono);
    expect(Buffer.from(toMono(rgb)).equals(Buffer.from(mono))).toBe(true);
    // The gate's marking contrast survives in mono: dark inner band vs orange face vs light checker.
    const q = (y: number, z: number) => projectPoint([FACE_X, y, H + z], [0, 0.3, H], levelAxis, pmono)!;
    const band = px(pmono, mono, q(0, 0.8).u, q(0, 0.8).v)[0];
    const face = px(pmono, mono, q(0, 1.04).u, q(0, 1.04).v)[0];
    expect(band).toBeLessThan(40);
    expect(face).toBeGreaterThan(100);
    expect(() => r.render([0, 0, H], levelAxis, prgb, new Uint8Array(100))).toThrow(/output buffer has 100 bytes, need 691200/);
    // A smaller profile renders into its own size.
    const pf = clean('fpv-120');
    const small = new Uint8Array(frameBytes(pf));
    r.render([0, 0, H], levelAxis, pf, small);
    expect(small.length).toBe(320 * 180);
  });

  it('looking up shows sky, looking down shows ground', () => {
    const r = new Renderer([], { seed: 1 });
    const p = clean('aigp-vq');
    const out = new Uint8Array(frameBytes(p));
    r.render([0, 0, 5], quatFromEuler(0, -70 * DEG, 0), p, out); // nose up 70° + 20° tilt
    let sky = 0;
    for (let i = 0; i < p.width * p.height; i++) if (out[i * 3 + 2]! > out[i * 3]! + 20 && out[i * 3 + 2]! > out[i * 3 + 1]!) sky++;
    expect(sky).toBe(p.width * p.height);
    r.render([0, 0, 5], quatFromEuler(0, 90 * DEG, 0), p, out); // nose down 90° − 20° tilt
    let ground = 0;
    for (let i = 0; i < p.width * p.height; i++) if (out[i * 3 + 1]! > out[i * 3 + 2]!) ground++;
    expect(ground).toBe(p.width * p.height);
    // Level: the horizon is a straight line at the image row of the vanishing line.
    r.render([0, 0, 1.5], levelAxis, p, out);
    expect(px(p, out, 320, 150)[2]).toBeGreaterThan(px(p, out, 320, 150)[1]);
    expect(px(p, out, 320, 220)[1]).toBeGreaterThan(px(p, out, 320, 220)[2]);
  });

  it('occludes far geometry behind near geometry', () => {
    const p = clean('aigp-vq');
    const out = new Uint8Array(frameBytes(p));
    // A magenta box between the camera and the gate's left bar.
    const r = new Renderer([gate], {
      seed: 1,
      distractors: [{ kind: 'box', centerEnuM: [4, 0.52, H], sizeM: [0.3, 0.3, 0.3], yawRad: 0, rgb: [220, 30, 200] }],
    });
    r.render([0, 0, H], levelAxis, p, out);
    const q = projectPoint([FACE_X, 1.04, H], [0, 0, H], levelAxis, p)!;
    const c = px(p, out, q.u, q.v);
    expect(c[0]).toBeGreaterThan(150);
    expect(c[2]).toBeGreaterThan(150);
    expect(c[1]).toBeLessThan(60);
    // Two gates in a row: the near one's bar hides the far one where they overlap.
    const r2 = new Renderer([gateAt([16, 0, H]), gateAt([8, 0, H])], { seed: 1 });
    r2.render([0, 0, H], levelAxis, p, out);
    const n = projectPoint([FACE_X, 1.04, H], [0, 0, H], levelAxis, p)!;
    expect(isOrange(px(p, out, n.u, n.v))).toBe(true);
  });

  it('does not draw the part of a gate below the ground', () => {
    const p = clean('aigp-vq');
    const out = new Uint8Array(frameBytes(p));
    const low = gateAt([8, 0, 0.5]); // outer frame reaches z = −0.85
    new Renderer([low], { seed: 1 }).render([0, 0, 1.5], quatFromEuler(0, 30 * DEG, 0), p, out);
    // A ray hitting the face plane at z = −0.5 (under the ground) must show ground.
    const q = projectPoint([FACE_X, 1.04, -0.5], [0, 0, 1.5], quatFromEuler(0, 30 * DEG, 0), p)!;
    const c = px(p, out, q.u, q.v);
    expect(isOrange(c)).toBe(false);
    expect(c[1]).toBeGreaterThan(c[2]); // grass
    // …while the part above the ground is there.
    const a = projectPoint([FACE_X, 1.04, 0.3], [0, 0, 1.5], quatFromEuler(0, 30 * DEG, 0), p)!;
    expect(isOrange(px(p, out, a.u, a.v))).toBe(true);
  });

  it('handles the near plane when flying into and through a gate', () => {
    const p = clean('aigp-vq');
    const out = new Uint8Array(frameBytes(p));
    const r = new Renderer([gate], { seed: 1 });
    // 0.1 m in front of the top bar's face, looking straight at it: the view is mostly the orange face.
    r.render([FACE_X - 0.1, 0, H + 1.04], levelAxis, p, out);
    let orange = 0;
    for (let i = 0; i < p.width * p.height; i++) if (isOrange([out[i * 3]!, out[i * 3 + 1]!, out[i * 3 + 2]!])) orange++;
    expect(orange / (p.width * p.height)).toBeGreaterThan(0.5);
    // Through the gate along its axis and right through a bar (camera inside the frame's volume), with
    // attitude wobble: no throw, every pixel written, every value inside the renderer's output levels.
    for (let k = 0; k <= 60; k++) {
      const x = 7 + k * 0.04;
      for (const z of [H, H + 0.95, H + 1.04]) {
        const q = quatFromEuler(0.3 * Math.sin(k), 20 * DEG + 0.2 * Math.cos(k), 0.1 * Math.sin(2 * k));
        out.fill(0);
        expect(() => r.render([x, 0.01 * k, z], q, p, out)).not.toThrow();
        let bad = 0;
        for (let i = 0; i < out.length; i++) if (out[i]! < 16 || out[i]! > 239) bad++;
        expect(bad).toBe(0);
      }
    }
  });

  it('same seed → identical noisy frame; different seed → different', () => {
    const p = cameraProfile('aigp-vq', { noiseStd: 4 });
    const r = new Renderer([gate], { seed: 1 });
    const a = new Uint8Array(frameBytes(p)), b = new Uint8Array(frameBytes(p)), c = new Uint8Array(frameBytes(p));
    const ref = new Uint8Array(frameBytes(p));
    r.render([0, 0, H], levelAxis, p, a, new Rng(42));
    r.render([0, 0, H], levelAxis, p, b, new Rng(42));
    r.render([0, 0, H], levelAxis, p, c, new Rng(43));
    r.render([0, 0, H], levelAxis, p, ref);
    expect(Buffer.from(a).equals(Buffer.from(b))).toBe(true);
    expect(Buffer.from(a).equals(Buffer.from(c))).toBe(false);
    // Noise has about the requested std (clamping at 0/255 aside).
    let s = 0, s2 = 0, n = 0;
    for (let i = 0; i < a.length; i++) {
      if (ref[i]! < 20 || ref[i]! > 235) continue;
      const d = a[i]! - ref[i]!;
      s += d; s2 += d * d; n++;
    }
    expect(Math.abs(s / n)).toBeLessThan(0.1);
    expect(Math.sqrt(s2 / n - (s / n) ** 2)).toBeGreaterThan(3.7);
    expect(Math.sqrt(s2 / n - (s / n) ** 2)).toBeLessThan(4.3);
    // Ground textures differ between renderer seeds, and are deterministic per seed.
    const g1 = new Uint8Array(frameBytes(p)), g2 = new Uint8Array(frameBytes(p)), g3 = new Uint8Array(frameBytes(p));
    const down = quatFromEuler(0, 60 * DEG, 0);
    new Renderer([], { seed: 5 }).render([0, 0, 3], down, p, g1);
    new Renderer([], { seed: 5 }).render([0, 0, 3], down, p, g2);
    new Renderer([], { seed: 6 }).render([0, 0, 3], down, p, g3);
    expect(Buffer.from(g1).equals(Buffer.from(g2))).toBe(true);
    expect(Buffer.from(g1).equals(Buffer.from(g3))).toBe(false);
  });
});

describe('applyNoise', () => {
  it('adds clamped zero-mean gaussian noise, reproducibly, aligned or not', () => {
    const base = new Uint8Array(100_003);
    for (let i = 0; i < base.length; i++) base[i] = i % 3 === 0 ? 0 : i % 3 === 1 ? 128 : 255;
    const a = base.slice(), b = base.slice();
    applyNoise(a, 6, new Rng(9));
    applyNoise(b, 6, new Rng(9));
    expect(Buffer.from(a).equals(Buffer.from(b))).toBe(true);
    let s = 0, s2 = 0, n = 0;
    for (let i = 0; i < a.length; i++) {
      if (base[i] === 0) expect(a[i]).toBeGreaterThanOrEqual(0);
      if (base[i] !== 128) continue;
      const d = a[i]! - 128;
      s += d; s2 += d * d; n++;
    }
    expect(Math.abs(s / n)).toBeLessThan(0.15);
    expect(Math.sqrt(s2 / n)).toBeGreaterThan(5.7);
    expect(Math.sqrt(s2 / n)).toBeLessThan(6.3);
    // Saturation: black stays ≥ 0 and some black pixels got brighter; white never wraps to dark.
    let raisedBlack = 0, darkWhite = 0;
    for (let i = 0; i < a.length; i++) {
      if (base[i] === 0 && a[i]! > 0) raisedBlack++;
      if (base[i] === 255 && a[i]! < 200) darkWhite++;
    }
    expect(raisedBlack).toBeGreaterThan(10_000);
    expect(darkWhite).toBe(0);
    // Unaligned view (scalar path) and a length limit.
    const c = base.slice();
    const view = c.subarray(1, 50_001);
    applyNoise(view, 6, new Rng(9), 10_000);
    expect(c[0]).toBe(base[0]);
    expect(Buffer.from(c.subarray(10_001)).equals(Buffer.from(base.subarray(10_001)))).toBe(true);
    expect(Buffer.from(c.subarray(1, 10_001)).equals(Buffer.from(base.subarray(1, 10_001)))).toBe(false);
  });
});

describe('image codecs', () => {
  const p = clean('aigp-vq');
  const frame = new Uint8Array(frameBytes(p));
  new Renderer([gateAt([8, 0.5, 1.6])], { seed: 2 }).render([0, 0, 1.5], quatFromEuler(0.1, 0.1, 0), p, frame, new Rng(1));

  it('PNG round-trips rgb8 and mono8 exactly', () => {
    const png = encodePng({ width: p.width, height: p.height, encoding: 'rgb8', data: frame });
    const back = PNG.sync.read(png);
    expect([back.width, back.height]).toEqual([640, 360]);
    for (let i = 0; i < p.width * p.height; i += 97) {
      expect([back.data[i * 4], back.data[i * 4 + 1], back.data[i * 4 + 2]]).toEqual([frame[i * 3], frame[i * 3 + 1], frame[i * 3 + 2]]);
    }
    expect(Buffer.from(decodePng(png).data).equals(Buffer.from(frame))).toBe(true);
    const mono = toMono(frame);
    const pngM = encodePng({ width: p.width, height: p.height, encoding: 'mono8', data: mono });
    const backM = decodePng(pngM, 'mono8');
    expect(Buffer.from(backM.data).equals(Buffer.from(mono))).toBe(true);
    expect(() => encodePng({ width: 640, height: 360, encoding: 'rgb8', data: new Uint8Array(10) })).toThrow(/needs 691200 bytes/);
  });

  it('JPEG round-trips approximately', () => {
    const jpg = encodeJpeg({ width: p.width, height: p.height, encoding: 'rgb8', data: frame }, 80);
    expect(jpg[0]).toBe(0xff);
    expect(jpg[1]).toBe(0xd8);
    const back = decodeJpeg(jpg);
    expect([back.width, back.height, back.data.length]).toEqual([640, 360, frame.length]);
    let err = 0;
    for (let i = 0; i < frame.length; i++) err += Math.abs(back.data[i]! - frame[i]!);
    expect(err / frame.length).toBeLessThan(8);
    // mono8 frames encode too (as grey).
    const jm = decodeJpeg(encodeJpeg({ width: p.width, height: p.height, encoding: 'mono8', data: toMono(frame) }));
    expect(jm.data.length).toBe(frame.length);
  });
});
