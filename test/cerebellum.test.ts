/**
 * Cerebellum tests. The headline: "the cerebellum cancels an injected delay". A yaw-bearing
 * tracking loop: the gate's bearing b drifts slowly (b' = v(t) − ω), gusts push the body rate
 * (ω' = (ω_cmd − ω)/τ_act + gust(t), τ_act = 30 ms, gusts around 2 Hz), and the camera shows b with
 * a 60 ms delay. The innate controller ω_cmd = K·b̂ acts on b̂ = b_seen + z, where z is the
 * cerebellum's correction (z = 0 in the baseline). The cerebellum reads the rate command, the gyro
 * and b_seen; its only teacher is the delayed error: when the camera shows b(t − d), the estimate
 * made at t − d is judged, e = b̂(t − d) − b_seen(t). An "oracle" that sees the true b gives the
 * bound. Seeded, deterministic.
 */
import { describe, expect, it } from 'vitest';
import { DelayLine } from '../src/learn/filters.js';
import { CEREBELLUM_SCHEMA, Cerebellum, type CerebellumOptions } from '../src/regions/cerebellum.js';
import { Rng } from '../src/rng.js';

type Mode = 'baseline' | 'cerebellum' | 'oracle';

interface TrackRun {
  /** RMS of the true bearing error per 5 % segment of the run. */
  seg: number[];
  /** RMS per 0.25 s over the first 4 s (the early learning curve). */
  early: number[];
  rmsFirst10: number;
  rmsLast20: number;
  cb: Cerebellum | null;
}

const rms = (a: ArrayLike<number>, from: number, to: number): number => {
  let s = 0;
  for (let i = from; i < to; i++) s += a[i]! * a[i]!;
  return Math.sqrt(s / Math.max(1, to - from));
};

function runTracking(mode: Mode, seed: number, hz = 200, opts: Partial<CerebellumOptions> = {}, durationS = 120): TrackRun {
  const dt = 1 / hz, delayS = 0.06, tauAct = 0.03, K = 12;
  const delayTicks = Math.round(delayS / dt);
  const rng = new Rng(seed);
  const ph = [rng.uniform(0, 6.28), rng.uniform(0, 6.28), rng.uniform(0, 6.28)];
  const cb = mode === 'cerebellum' ? new Cerebellum({ inputs: 3, outputs: 1, delayS, inputScales: [2, 2, 0.2], stepSize: 0.05, ...opts }) : null;
  const bHist = new Float64Array(delayTicks + 1);
  const estLine = new DelayLine(1, delayTicks + 8); // b̂ at each tick, judged d later
  const past = new Float64Array(1);
  const signals = new Float64Array(3);
  const err = new Float64Array(1);
  const n = Math.round(durationS / dt);
  const bTrue = new Float64Array(n);
  let b = 0, omega = 0, cmd = 0;
  for (let t = 0; t < n; t++) {
    const time = t * dt;
    // plant
    const gust = 20 * (Math.sin(2 * Math.PI * 2 * time + ph[0]!) + 0.7 * Math.sin(2 * Math.PI * 2.74 * time + ph[2]!));
    const v = 0.3 * (0.5 * Math.sin(2 * Math.PI * 0.5 * time + ph[0]!) + 0.4 * Math.sin(2 * Math.PI * 1.1 * time + ph[1]!));
    omega += (dt / tauAct) * (cmd - omega) + dt * gust;
    b += dt * (v - omega);
    bHist[t % (delayTicks + 1)] = b;
    // sensors: delayed camera bearing, gyro
    const bSeen = (t >= delayTicks ? bHist[(t - delayTicks) % (delayTicks + 1)]! : 0) + 0.002 * rng.gauss();
    const gyro = omega + 0.01 * rng.gauss();
    let z = 0;
    if (mode === 'oracle') z = b - bSeen;
    if (cb) {
      const haveErr = estLine.readDelayed(time, delayS, past);
      if (haveErr) err[0] = past[0]! - bSeen;
      signals[0] = cmd;
      signals[1] = gyro;
      signals[2] = bSeen;
      z = cb.step({ signals, error: haveErr ? err : null }, dt).correction[0]!;
    }
    const bHat = bSeen + z;
    past[0] = bHat;
    estLine.push(time, past);
    cmd = K * bHat;
    bTrue[t] = b;
  }
  const seg = Array.from({ length: 20 }, (_, k) => rms(bTrue, Math.floor((n * k) / 20), Math.floor((n * (k + 1)) / 20)));
  const q = Math.round(0.25 / dt);
  const early = Array.from({ length: 16 }, (_, k) => rms(bTrue, k * q, (k + 1) * q));
  return { seg, early, rmsFirst10: rms(bTrue, 0, Math.floor(n * 0.1)), rmsLast20: rms(bTrue, Math.floor(n * 0.8), n), cb };
}

describe('Cerebellum: cancels an injected delay', () => {
  it.each([200, 500])('60 ms camera delay at %i Hz: starts like the baseline, ends ≥ 30 percent below it, near the no-delay oracle', (hz) => {
    const base = runTracking('baseline', 7, hz);
    const oracle = runTracking('oracle', 7, hz);
    const learn = runTracking('cerebellum', 7, hz);
    const ratio = learn.rmsLast20 / base.rmsLast20;
    // same seed ⇒ same gusts: the ratio to the baseline removes the disturbance's own variation
    const early = learn.early.slice(0, 2), earlyBase = base.early.slice(0, 2);
    const ratioFirstHalfS = Math.hypot(...early) / Math.hypot(...earlyBase);
    console.log(
      `[cerebellum ${hz} Hz] RMS bearing error, last 20 %: baseline ${base.rmsLast20.toFixed(4)} rad, ` +
        `cerebellum ${learn.rmsLast20.toFixed(4)} (ratio ${ratio.toFixed(3)}), oracle (no delay) ${oracle.rmsLast20.toFixed(4)}; ` +
        `ratio over the first 0.5 s ${ratioFirstHalfS.toFixed(3)}; early curve (0.25 s bins) baseline ${base.early.map((x) => x.toFixed(3)).join(' ')} | cerebellum ${learn.early.map((x) => x.toFixed(3)).join(' ')}; |w| = ${learn.cb!.step({ signals: [0, 0, 0] }, 1 / hz).weightNorm.toFixed(3)}`,
    );
    expect(ratio).toBeLessThan(0.7);
    expect(learn.rmsLast20).toBeLessThan(1.15 * oracle.rmsLast20);
    expect(ratioFirstHalfS).toBeGreaterThan(ratio + 0.15);
    // the weights moved from zero, nothing was frozen or clamped along the way
    expect(Math.max(...Array.from(learn.cb!.w, Math.abs))).toBeGreaterThan(1e-3);
    expect(learn.cb!.stats.nanCount).toBe(0);
    expect(learn.cb!.stats.resets).toBe(0);
    expect(learn.cb!.stats.clamps).toBe(0);
    expect(learn.cb!.stats.updates).toBeGreaterThan(0.9 * learn.cb!.stats.ticks);
  });

  it('learning curve over the run with a slow learner (β = 0.001): the error falls segment by segment', () => {
    const base = runTracking('baseline', 7, 200);
    const slow = runTracking('cerebellum', 7, 200, { stepSize: 0.001 });
    const r = slow.seg.map((x, k) => x / base.seg[k]!);
    console.log(`[cerebellum slow β] RMS ratio to baseline per 5 % of a 120 s run: ${r.map((x) => x.toFixed(2)).join(' ')}`);
    expect(r[0]!).toBeGreaterThan(0.75);
    expect(slow.rmsLast20).toBeLessThan(0.7 * slow.rmsFirst10);
    expect(slow.rmsLast20 / base.rmsLast20).toBeLessThan(0.6);
    for (let k = 4; k < 20; k += 4) expect(r[k]!).toBeLessThan(r[k - 4]! + 0.03);
  });

  it('is deterministic for a seed', () => {
    const a = runTracking('cerebellum', 11, 200, {}, 10);
    const b = runTracking('cerebellum', 11, 200, {}, 10);
    expect(Array.from(a.cb!.w)).toEqual(Array.from(b.cb!.w));
    expect(a.seg).toEqual(b.seg);
  });
});

/**
 * ME-LMS: the correction acts through a lagging plant (y' = (u − y)/τ_p, τ_p = 150 ms) and the
 * tracking error is seen 50 ms late. The feed-forward u = r + z ignores the lag; the cerebellum,
 * reading r, must learn the lead. Eligibility filtered through the plant model (meTauS = τ_p)
 * converges; plain delayed LMS stalls at a worse error.
 */
function runLaggedPlant(meTauS: number, useCb = true, durationS = 60): { first10: number; last20: number } {
  const dt = 0.005, tauP = 0.15, delayS = 0.05, f = 2.5;
  const rng = new Rng(3);
  const cb = useCb ? new Cerebellum({ inputs: 1, outputs: 1, delayS, stepSize: 0.05, meTauS }) : null;
  const dTicks = Math.round(delayS / dt);
  const hist = new Float64Array(dTicks + 1);
  const n = Math.round(durationS / dt);
  const e2 = new Float64Array(n);
  const sig = new Float64Array(1), err = new Float64Array(1);
  let y = 0, z = 0;
  for (let t = 0; t < n; t++) {
    const time = t * dt;
    const r = Math.sin(2 * Math.PI * f * time) + 0.5 * Math.sin(2 * Math.PI * f * 0.43 * time + 1);
    y += (dt / tauP) * (r + z - y);
    hist[t % (dTicks + 1)] = y - r;
    sig[0] = r;
    const have = t >= dTicks;
    err[0] = have ? hist[(t - dTicks) % (dTicks + 1)]! + 0.01 * rng.gauss() : 0;
    if (cb) z = cb.step({ signals: sig, error: have ? err : null }, dt).correction[0]!;
    e2[t] = y - r;
  }
  return { first10: rms(e2, 0, Math.floor(n * 0.1)), last20: rms(e2, Math.floor(n * 0.8), n) };
}

describe('Cerebellum: ME-LMS through a lagging plant', () => {
  it('converges with the plant model in the eligibility, better than plain delayed LMS', () => {
    const none = runLaggedPlant(0, false);
    const lms = runLaggedPlant(0);
    const me = runLaggedPlant(0.15);
    console.log(`[cerebellum ME-LMS] RMS error last 20 %: no correction ${none.last20.toFixed(3)}, plain LMS ${lms.last20.toFixed(3)}, ME-LMS ${me.last20.toFixed(3)}`);
    expect(me.last20).toBeLessThan(0.3 * none.last20);
    expect(me.last20).toBeLessThan(0.6 * lms.last20);
  });
});

describe('Cerebellum: numerics and state', () => {
  const mk = () => new Cerebellum({ inputs: 2, outputs: 2, delayS: 0.02 });

  it('zero weights in, zero correction out; no error, no learning', () => {
    const cb = mk();
    for (let i = 0; i < 50; i++) {
      const o = cb.step({ signals: [Math.sin(i), Math.cos(i)] }, 0.005);
      expect(Array.from(o.correction)).toEqual([0, 0]);
      expect(o.learned).toBe(false);
    }
    expect(cb.stats.updates).toBe(0);
  });

  it('a NaN error freezes learning (counted); a NaN input is held (counted); outputs stay finite', () => {
    const cb = mk();
    for (let i = 0; i < 20; i++) cb.step({ signals: [Math.sin(i), 1], error: [0.1, -0.1] }, 0.005);
    const w0 = Array.from(cb.w);
    const o = cb.step({ signals: [0.3, 1], error: [NaN, 0.1] }, 0.005);
    expect(o.learned).toBe(false);
    expect(Array.from(cb.w)).toEqual(w0);
    expect(cb.stats.nanCount).toBe(1);
    const o2 = cb.step({ signals: [Infinity, 1] }, 0.005);
    expect(cb.stats.nanCount).toBe(2);
    expect(Array.from(o2.correction).every(Number.isFinite)).toBe(true);
  });

  it('save → JSON → load gives identical outputs; schema or layout mismatch throws', () => {
    const a = mk();
    const drive = (c: Cerebellum, i: number) => c.step({ signals: [Math.sin(0.1 * i), Math.cos(0.07 * i)], error: [0.01 * Math.sin(0.05 * i), 0.02] }, 0.005);
    for (let i = 0; i < 300; i++) drive(a, i);
    const snap = JSON.parse(JSON.stringify(a.saveState()));
    const b = mk();
    b.loadState(snap);
    for (let i = 300; i < 400; i++) {
      const oa = Array.from(drive(a, i).correction);
      const ob = Array.from(drive(b, i).correction);
      expect(ob).toEqual(oa);
    }
    expect(() => b.loadState({ ...snap, schema: CEREBELLUM_SCHEMA + 1 })).toThrow(/schema mismatch/);
    expect(() => new Cerebellum({ inputs: 3, outputs: 2, delayS: 0.02 }).loadState(snap)).toThrow(/layout differs in 'inputs'/);
  });

  it('rejects invalid parameters with a clear error', () => {
    expect(() => new Cerebellum({ inputs: 0, outputs: 1 })).toThrow(/Cerebellum: invalid parameters/);
    expect(() => new Cerebellum({ inputs: 2, outputs: 1, inputScales: [1] })).toThrow(/inputScales/);
  });
});
