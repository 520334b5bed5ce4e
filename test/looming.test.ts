/**
 * Looming: the LGMD collision detector and time-to-contact of the colliculus.
 * Synthetic stimuli are drawn directly into mono8 frames; rendered ones come from the simulator.
 */
import { describe, expect, it } from 'vitest';
import { quatFromEuler } from '../src/math/quat.js';
import type { Vec3 } from '../src/math/vec3.js';
import { Rng } from '../src/rng.js';
import { Colliculus } from '../src/regions/colliculus.js';
import type { CameraFrame } from '../src/tracts/io.js';
import { Lgmd, TtcEstimator } from '../src/vision/looming.js';
import { cameraProfile, frameBytes, makeCameraFrame } from '../sim/camera.js';
import { Renderer, randomDistractors, type GateLike } from '../sim/render.js';

const DEG = Math.PI / 180;
const W = 640, H = 360, FX = 320;

/** A mono8 640 × 360 frame (level camera) around a buffer the caller draws into. */
const monoFrame = (data: Uint8Array, stampS: number, seq: number): CameraFrame => ({
  stampS,
  arrivalS: stampS,
  seq,
  encoding: 'mono8',
  width: W,
  height: H,
  step: W,
  data,
  intrinsics: { width: W, height: H, fx: FX, fy: FX, cx: 320, cy: 180 },
  mount: { tiltUpRad: 0, posFluM: [0, 0, 0] },
});

/** Bright, mildly textured background with a dark square of half-side `half` px centred at (cx, cy). */
function drawSquare(buf: Uint8Array, cx: number, cy: number, half: number): void {
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const inside = Math.abs(x - cx) <= half && Math.abs(y - cy) <= half;
      buf[y * W + x] = inside ? 30 : 200 + (((x >> 3) + (y >> 3)) & 1) * 10;
    }
  }
}

const step = (col: Colliculus, f: CameraFrame, dtS: number, bodyRateRadS: Vec3 | null = null) =>
  col.step({ frame: f, rollRad: 0, pitchRad: 0, expected: null, bodyRateRadS }, dtS);

describe('LGMD (Yue & Rind 2006)', () => {
  it('is silent on a static scene and on pixel noise', () => {
    const lg = new Lgmd({ width: 80, height: 45, inhibitionWeight: 0.6, sThreshold: 30, spikeKappa: 0.78, spikesForCollision: 5, vetoMeanAbsP: 20 });
    const rng = new Rng(1);
    const L = new Float32Array(80 * 45);
    for (let k = 0; k < 20; k++) {
      for (let i = 0; i < L.length; i++) L[i] = 120 + 4 * rng.gauss(); // std 4 grey levels of noise
      const s = lg.step(L);
      expect(s.k).toBe(0);
      expect(s.kappa).toBe(0.5);
      expect(s.spike).toBe(false);
    }
  });

  it('implements P, one-frame-late 3 × 3 same-sign inhibition, the S threshold, κ and the veto', () => {
    const p = { width: 5, height: 5, inhibitionWeight: 0.6, sThreshold: 30, spikeKappa: 0.78, spikesForCollision: 2, vetoMeanAbsP: 1000 };
    const lg = new Lgmd(p);
    const L = new Float32Array(25).fill(100);
    lg.step(L); // primes
    L[12] = 200; // centre brightens by 100: P = 100, no previous P → S = 100
    let s = lg.step(L);
    expect(s.k).toBeCloseTo(100, 9);
    expect(s.kappa).toBeCloseTo(1 / (1 + Math.exp(-100 / 25)), 12);
    expect(s.spike).toBe(true);
    // next frame: the neighbour to the right brightens by 60; its inhibition from the previous P
    // (edge weight 0.25 × 100 = 25) → S = 60 − 0.6·25 = 45; the centre went back? no: unchanged (P = 0)
    L[13] = 160;
    s = lg.step(L);
    expect(s.k).toBeCloseTo(45, 9);
    expect(s.spikes).toBe(2);
    expect(s.collision).toBe(true);
    // opposite sign: darkening next to the previous brightening is not inhibited: |S| = |P| = 40
    L[14] = 60;
    s = lg.step(L);
    expect(s.k).toBeCloseTo(40, 9);
    // below the S threshold: nothing
    L[0] = 120;
    s = lg.step(L);
    expect(s.k).toBe(0);
    expect(s.spikes).toBe(0);
    // whole-field veto
    const lv = new Lgmd({ ...p, vetoMeanAbsP: 10 });
    const A = new Float32Array(25).fill(100);
    lv.step(A);
    A.fill(150);
    s = lv.step(A);
    expect(s.meanAbsP).toBe(50);
    expect(s.vetoed).toBe(true);
    expect(s.spike).toBe(false);
  });
});

describe('colliculus looming', () => {
  it("fires before contact on Gabbiani's approach stimulus (θ(t) = 2·atan(l / (v·(t_c − t))), l/|v| = 50 ms)", () => {
    for (const hz of [30, 60]) {
      const col = new Colliculus();
      const buf = new Uint8Array(W * H);
      const tc = 1.5, lv = 0.05;
      let firstCollision = NaN, firstSpikeTheta = NaN;
      for (let k = 0; ; k++) {
        const t = k / hz;
        if (t >= tc) break;
        const half = (FX * lv) / (tc - t); // f·tan(θ/2)
        drawSquare(buf, 320, 180, half);
        const out = step(col, monoFrame(buf, t, k), 1 / hz);
        if (out.looming.spikes === 1 && Number.isNaN(firstSpikeTheta)) firstSpikeTheta = (2 * Math.atan(half / FX)) / DEG;
        if (out.looming.collision && Number.isNaN(firstCollision)) firstCollision = tc - t;
      }
      console.log(`[looming] ${hz} Hz: first spike at θ = ${firstSpikeTheta.toFixed(1)}°, collision ${(1000 * firstCollision).toFixed(0)} ms before contact`);
      expect(firstCollision).toBeGreaterThan(0.1); // a useful warning …
      expect(firstCollision).toBeLessThan(0.6); // … and not a false alarm long before
    }
  });

  it('fires before contact on a rendered approach toward a large box (8 m/s)', () => {
    const r = new Renderer([], { distractors: [{ kind: 'box', centerEnuM: [0, 0, 1.5], sizeM: [2, 2.5, 3], yawRad: 0, rgb: [60, 60, 66] }] });
    const prof = cameraProfile('aigp-vq', { noiseStd: 2 });
    const col = new Colliculus();
    const buf = new Uint8Array(frameBytes(prof));
    const rng = new Rng(2);
    const speed = 8, faceX = -1;
    let warnS = NaN;
    for (let k = 0; ; k++) {
      const t = k / 30, x = -15 + speed * t;
      if (x >= faceX - 0.05) break;
      r.render([x, 0, 1.5], quatFromEuler(0, 20 * DEG, 0), prof, buf, rng);
      const out = col.step({ frame: makeCameraFrame(prof, buf, t, k), rollRad: 0, pitchRad: 20 * DEG, expected: null, bodyRateRadS: [0, 0, 0] }, 1 / 30);
      if (out.looming.collision && Number.isNaN(warnS)) warnS = (faceX - x) / speed;
    }
    console.log(`[looming] rendered box at 8 m/s: collision ${(1000 * warnS).toFixed(0)} ms before contact`);
    expect(warnS).toBeGreaterThan(0.15);
    expect(warnS).toBeLessThan(1);
  });

  it('does not fire for a translating pattern of constant size', () => {
    const col = new Colliculus();
    const buf = new Uint8Array(W * H);
    let maxKappa = 0;
    for (let k = 0; k < 60; k++) {
      drawSquare(buf, 80 + 6 * k, 180, 50); // 100 px square, 6 px per frame (180 px/s at 30 Hz)
      const out = step(col, monoFrame(buf, k / 30, k), 1 / 30);
      maxKappa = Math.max(maxKappa, out.looming.lgmd);
      expect(out.looming.collision).toBe(false);
    }
    console.log(`[looming] translating square: max κ ${maxKappa.toFixed(3)} (spike at ≥ 0.78)`);
  });

  it('does not fire for whole-field motion: the feed-forward veto', () => {
    const col = new Colliculus();
    const rng = new Rng(4);
    const texW = 2 * W;
    const blocks = Array.from({ length: (texW >> 4) * ((H >> 4) + 1) }, () => (rng.next() < 0.5 ? 40 : 220)); // 16 px random blocks
    const tex = new Uint8Array(texW * H);
    for (let y = 0; y < H; y++) for (let x = 0; x < texW; x++) tex[y * texW + x] = blocks[(y >> 4) * (texW >> 4) + (x >> 4)]!;
    const buf = new Uint8Array(W * H);
    let vetoed = 0;
    for (let k = 0; k < 40; k++) {
      const dx = 12 * k; // the whole scene slides 12 px per frame (a pan the drone makes)
      for (let y = 0; y < H; y++) buf.set(tex.subarray(y * texW + dx, y * texW + dx + W), y * W);
      const out = step(col, monoFrame(buf, k / 30, k), 1 / 30);
      expect(out.looming.collision).toBe(false);
      if (k > 0 && out.looming.spikes === 0 && out.looming.lgmd >= 0.78) vetoed++;
    }
    expect(vetoed).toBeGreaterThan(30); // excited, but vetoed
  });

  it('the corollary discharge (gyro rates) removes the image motion of the drone turning', () => {
    const gates: GateLike[] = Array.from({ length: 4 }, (_, i) => ({
      centerEnuM: [10 * Math.cos(i * 1.57), 10 * Math.sin(i * 1.57), 1.5] as Vec3,
      yawRad: i * 1.57 + 1.57,
      pitchRad: 0,
      innerM: 1.5,
      outerM: 2.7,
      depthM: 0.26,
    }));
    const r = new Renderer(gates, { seed: 3, distractors: randomDistractors(gates, 8, 3) });
    const prof = cameraProfile('aigp-vq', { noiseStd: 2 });
    const buf = new Uint8Array(frameBytes(prof));
    const run = (gyro: boolean, rate: number): { spikes: number; collisions: number } => {
      const col = new Colliculus();
      const rng = new Rng(1);
      let spikes = 0, collisions = 0;
      for (let k = 0; k < 60; k++) {
        const t = k / 30;
        r.render([-3, -2, 1.2], quatFromEuler(0, 0.1, rate * t), prof, buf, rng);
        const out = col.step({ frame: makeCameraFrame(prof, buf, t, k), rollRad: 0, pitchRad: 0.1, expected: null, bodyRateRadS: gyro ? [0, 0, rate] : null }, 1 / 30);
        if (out.looming.spikes > 0) spikes++;
        if (out.looming.collision) collisions++;
      }
      return { spikes, collisions };
    };
    const rows: string[] = [];
    for (const rate of [1, 3, 6]) {
      const blind = run(false, rate), cd = run(true, rate);
      rows.push(`yaw ${rate} rad/s: without gyro ${blind.spikes} spiking frames / ${blind.collisions} collision frames, with gyro ${cd.spikes} / ${cd.collisions}`);
      expect(cd.collisions).toBe(0);
      expect(blind.spikes).toBeGreaterThan(cd.spikes);
    }
    console.log(`[looming] turning in place (60 frames):\n  ${rows.join('\n  ')}`);
  });
});

describe('time to contact τ = θ/θ′', () => {
  it('is exact on a synthetic constant-speed size sequence, NaN when receding or unknown', () => {
    const est = new TtcEstimator({ window: 5, maxTtcS: 30 });
    const d0 = 20, v = 5;
    let last = NaN;
    for (let k = 0; k < 30; k++) {
      const t = k / 30;
      est.push(t, 2.7 / (d0 - v * t));
      last = est.ttcS;
      if (k >= 2) expect(Math.abs(last - (d0 - v * t) / v) / ((d0 - v * t) / v)).toBeLessThan(0.01);
    }
    expect(Number.isFinite(last)).toBe(true);
    est.restart();
    for (let k = 0; k < 10; k++) est.push(k / 30, 2.7 / (5 + k)); // receding
    expect(est.ttcS).toBeNaN();
    est.push(1, NaN);
    expect(est.ttcS).toBeNaN();
  });

  it('is within 20 % on a rendered constant-speed approach to a gate (6 m/s, 16 → 2 m, noise std 3)', () => {
    const gate = { index: 0, centerEnuM: [0, 0, 2] as Vec3, yawRad: 0.3, pitchRad: 0, innerM: 1.5, outerM: 2.7, depthM: 0.26 };
    const r = new Renderer([gate]);
    const prof = cameraProfile('aigp-vq', { noiseStd: 3 });
    const col = new Colliculus();
    const buf = new Uint8Array(frameBytes(prof));
    const rng = new Rng(2);
    const speed = 6;
    let worst = 0, n = 0;
    for (let k = 0; ; k++) {
      const t = k / 30, x = -16 + speed * t;
      if (x > -2) break;
      r.render([x, 0.3, 2], quatFromEuler(0, 20 * DEG, 0), prof, buf, rng);
      const out = col.step({ frame: makeCameraFrame(prof, buf, t, k), rollRad: 0, pitchRad: 20 * DEG, expected: null }, 1 / 30);
      if (k < 8) continue; // the regression window (8 frames) fills
      const truth = -x / speed;
      expect(Number.isFinite(out.looming.ttcS)).toBe(true);
      const e = Math.abs(out.looming.ttcS - truth) / truth;
      worst = Math.max(worst, e);
      n++;
      expect(e).toBeLessThan(0.2);
    }
    console.log(`[looming] τ on a rendered approach: worst error ${(100 * worst).toFixed(1)} % over ${n} frames`);
  });

  it('is NaN (unknown) without a target', () => {
    const col = new Colliculus();
    const buf = new Uint8Array(W * H).fill(120);
    for (let k = 0; k < 5; k++) expect(step(col, monoFrame(buf, k / 30, k), 1 / 30).looming.ttcS).toBeNaN();
  });
});
