/**
 * The reusable learners in src/learn: each one learns what it claims, from zero, online, seeded.
 */
import { describe, expect, it } from 'vitest';
import { AlphaFilterBank, DelayLine, logSpacedTaus } from '../src/learn/filters.js';
import { NlmsReadout } from '../src/learn/nlms.js';
import { RandomExpansion } from '../src/learn/random-expansion.js';
import { RlsReadout } from '../src/learn/rls.js';
import { TdGvf, discountedToSeconds, timeToEventGamma } from '../src/learn/td-gvf.js';
import { Rng } from '../src/rng.js';
import { runLearnBench } from '../bench/learn.js';

/** A random linear map y = A·x + c with A (q×n), for readout tests. */
function linearTask(n: number, q: number, seed: number) {
  const rng = new Rng(seed);
  const A = Float64Array.from({ length: q * n }, () => rng.gauss());
  const c = Float64Array.from({ length: q }, () => rng.gauss());
  const x = new Float64Array(n + 1);
  const y = new Float64Array(q);
  return {
    /** Draw an input (x[0] = 1 bias, rest Gaussian) and its target. */
    draw(): { x: Float64Array; y: Float64Array } {
      x[0] = 1;
      for (let i = 0; i < n; i++) x[i + 1] = rng.gauss();
      for (let j = 0; j < q; j++) {
        let s = c[j]!;
        for (let i = 0; i < n; i++) s += A[j * n + i]! * x[i + 1]!;
        y[j] = s;
      }
      return { x, y };
    },
  };
}

function maxHeldOutError(r: { predict(phi: ArrayLike<number>, out: Float64Array): Float64Array }, task: ReturnType<typeof linearTask>, q: number): number {
  const out = new Float64Array(q);
  let worst = 0;
  for (let t = 0; t < 200; t++) {
    const { x, y } = task.draw();
    r.predict(x, out);
    for (let j = 0; j < q; j++) worst = Math.max(worst, Math.abs(out[j]! - y[j]!));
  }
  return worst;
}

describe('RandomExpansion', () => {
  it('is deterministic per seed, different across seeds', () => {
    const a = new RandomExpansion({ inputs: 10, features: 50, fanIn: 3, seed: 42 });
    const b = new RandomExpansion({ inputs: 10, features: 50, fanIn: 3, seed: 42 });
    const c = new RandomExpansion({ inputs: 10, features: 50, fanIn: 3, seed: 43 });
    expect(Array.from(a.index)).toEqual(Array.from(b.index));
    expect(Array.from(a.weight)).toEqual(Array.from(b.weight));
    expect(Array.from(a.bias)).toEqual(Array.from(b.bias));
    expect(Array.from(a.weight)).not.toEqual(Array.from(c.weight));
    const x = Float64Array.from({ length: 10 }, (_, i) => Math.sin(i));
    expect(Array.from(a.transform(x))).toEqual(Array.from(b.transform(x)));
  });

  it('is sparse: each feature reads exactly k distinct inputs', () => {
    const n = 40, m = 300, k = 4;
    const e = new RandomExpansion({ inputs: n, features: m, fanIn: k, seed: 1 });
    expect(e.nonZeros).toBe(m * k);
    expect(e.nonZeros / (m * n)).toBeLessThanOrEqual(0.1);
    const used = new Set<number>();
    for (let j = 0; j < m; j++) {
      const idx = Array.from(e.index.subarray(j * k, (j + 1) * k));
      expect(new Set(idx).size).toBe(k);
      for (const i of idx) {
        expect(i).toBeGreaterThanOrEqual(0);
        expect(i).toBeLessThan(n);
        used.add(i);
      }
    }
    expect(used.size).toBe(n); // wide enough that every input is read by some feature
    // a feature does not change when an input it does not read changes
    const x = new Float64Array(n).fill(0.3);
    const before = Float64Array.from(e.transform(x));
    const j0 = Array.from(e.index.subarray(0, k));
    const other = [...Array(n).keys()].find((i) => !j0.includes(i))!;
    x[other] = 5;
    expect(e.transform(x)[0]).toBe(before[0]);
  });

  it('tanh features are bounded, relu features are non-negative; fan-in is clipped to n', () => {
    const t = new RandomExpansion({ inputs: 3, features: 100, fanIn: 8, seed: 2, activation: 'tanh' });
    expect(t.fanIn).toBe(3);
    const y = t.transform([10, -10, 3]);
    expect(Array.from(y).every((v) => v >= -1 && v <= 1)).toBe(true);
    const r = new RandomExpansion({ inputs: 3, features: 100, fanIn: 2, seed: 2, activation: 'relu' });
    expect(Array.from(r.transform([1, -2, 0.5])).every((v) => v >= 0)).toBe(true);
  });

  it('rejects bad parameters with a clear error', () => {
    expect(() => new RandomExpansion({ inputs: 0, features: 10 })).toThrow(/RandomExpansion: invalid parameters/);
  });
});

describe('RlsReadout', () => {
  it('learns a linear map to < 1e-6 error', () => {
    const n = 8, q = 3;
    const task = linearTask(n, q, 5);
    // δ = 1/initP regularises the start; with exact data its bias decays as λᵗ·δ
    const r = new RlsReadout({ inputs: n + 1, outputs: q, forgetting: 0.999, initP: 1e4 });
    for (let t = 0; t < 1000; t++) {
      const { x, y } = task.draw();
      expect(r.update(x, y)).toBe(true);
    }
    const err = maxHeldOutError(r, task, q);
    expect(err).toBeLessThan(1e-6);
    // P stays symmetric
    const m = n + 1;
    for (let i = 0; i < m; i++) for (let j = 0; j < m; j++) expect(r.p[i * m + j]).toBe(r.p[j * m + i]);
  });

  it('NaN input → no update, counted', () => {
    const r = new RlsReadout({ inputs: 3, outputs: 2 });
    r.update([1, 2, 3], [1, 1]);
    const w = Array.from(r.w), p = Array.from(r.p);
    expect(r.update([1, NaN, 3], [1, 1])).toBe(false);
    expect(r.update([1, 2, 3], [Infinity, 1])).toBe(false);
    expect(r.nanCount).toBe(2);
    expect(Array.from(r.w)).toEqual(w);
    expect(Array.from(r.p)).toEqual(p);
    // a masked-out non-finite target is fine (that output is simply not learned)
    expect(r.update([1, 2, 3], [NaN, 1], [0, 1])).toBe(true);
  });

  it('survives covariance wind-up: no excitation under forgetting → trace capped, P finite', () => {
    const r = new RlsReadout({ inputs: 4, outputs: 1, forgetting: 0.99, maxTrace: 1e5 });
    for (let t = 0; t < 5000; t++) r.update([1, 0, 0, 0], [2]); // only the first direction is excited
    expect(r.traceClamps).toBeGreaterThan(0);
    expect(Array.from(r.p).every(Number.isFinite)).toBe(true);
    let tr = 0;
    for (let i = 0; i < 4; i++) tr += r.p[i * 4 + i]!;
    expect(tr).toBeLessThanOrEqual(1e5 * (1 + 1e-9) / 0.99);
    expect(r.w[0]).toBeCloseTo(2, 6);
  });

  it('state round-trips through JSON', () => {
    const task = linearTask(4, 2, 9);
    const a = new RlsReadout({ inputs: 5, outputs: 2 });
    for (let t = 0; t < 20; t++) {
      const { x, y } = task.draw();
      a.update(x, y);
    }
    const b = new RlsReadout({ inputs: 5, outputs: 2 });
    b.loadState(JSON.parse(JSON.stringify(a.saveState())));
    expect(Array.from(b.w)).toEqual(Array.from(a.w));
    expect(Array.from(b.p)).toEqual(Array.from(a.p));
    expect(() => new RlsReadout({ inputs: 6, outputs: 2 }).loadState(a.saveState())).toThrow(/length/);
  });
});

describe('NlmsReadout', () => {
  it.each([false, true])('converges on a linear map (idbd=%s)', (idbd) => {
    const n = 8, q = 2;
    const task = linearTask(n, q, 6);
    const r = new NlmsReadout({ inputs: n + 1, outputs: q, stepSize: 0.5, idbd, initStep: 0.02, metaStep: 0.01 });
    const first = maxHeldOutError(r, task, q);
    for (let t = 0; t < 3000; t++) {
      const { x, y } = task.draw();
      r.update(x, y);
    }
    const last = maxHeldOutError(r, task, q);
    expect(last).toBeLessThan(1e-3);
    expect(last).toBeLessThan(first * 1e-3);
    expect(r.nanCount).toBe(0);
  });

  it('NaN input → no update, counted', () => {
    const r = new NlmsReadout({ inputs: 2, outputs: 1, idbd: true });
    r.update([1, 1], [1]);
    const w = Array.from(r.w);
    expect(r.update([NaN, 1], [1])).toBe(false);
    expect(r.nanCount).toBe(1);
    expect(Array.from(r.w)).toEqual(w);
  });
});

describe('AlphaFilterBank and DelayLine', () => {
  it('filters have unit DC gain, the alpha impulse response peaks at τ, layout is raw then taus', () => {
    const taus = logSpacedTaus(0.005, 0.2, 6);
    expect(taus[0]).toBeCloseTo(0.005, 12);
    expect(taus[5]).toBeCloseTo(0.2, 12);
    const bank = new AlphaFilterBank({ channels: 2, tausS: taus });
    expect(bank.size).toBe(2 * 7);
    let out = bank.out;
    for (let t = 0; t < 4000; t++) out = bank.step([1, -2], 0.001);
    for (let j = 0; j < 7; j++) {
      expect(out[j]).toBeCloseTo(1, 6);
      expect(out[7 + j]).toBeCloseTo(-2, 6);
    }
    // impulse response of the τ = 40 ms alpha filter peaks at ≈ 40 ms
    const one = new AlphaFilterBank({ channels: 1, tausS: [0.04], includeRaw: false });
    let best = -1, bestT = 0;
    for (let t = 0; t < 300; t++) {
      const y = one.step([t === 0 ? 1000 : 0], 0.001)[0]!;
      if (y > best) {
        best = y;
        bestT = t * 0.001;
      }
    }
    expect(bestT).toBeGreaterThan(0.035);
    expect(bestT).toBeLessThan(0.045);
  });

  it('a NaN input holds that channel and is counted', () => {
    const bank = new AlphaFilterBank({ channels: 2, tausS: [0.01] });
    bank.step([1, 1], 0.005);
    const before = Array.from(bank.out);
    bank.step([NaN, 1], 0.005);
    expect(bank.nanCount).toBe(1);
    expect(bank.out[0]).toBe(before[0]);
    expect(bank.out[1]).toBe(before[1]);
  });

  it('DelayLine returns the vector from d seconds ago', () => {
    const dl = new DelayLine(2, 20);
    const out = new Float64Array(2);
    expect(dl.readDelayed(0, 0.05, out)).toBe(false);
    for (let t = 0; t < 30; t++) dl.push(t * 0.01, [t, -t]);
    expect(dl.readDelayed(0.29, 0.05, out)).toBe(true);
    expect(Array.from(out)).toEqual([24, -24]);
    expect(dl.readDelayed(0.29, 0.0, out)).toBe(true);
    expect(Array.from(out)).toEqual([29, -29]);
    expect(dl.readDelayed(0.29, 0.5, out)).toBe(false); // beyond the buffer
  });
});

describe('TdGvf', () => {
  it('discountedToSeconds inverts the time-to-event return', () => {
    const dt = 0.01, tau = 2;
    for (const T of [1, 10, 100, 300]) {
      const g = 1 - dt / tau;
      const v = (dt * (1 - g ** T)) / (1 - g);
      expect(discountedToSeconds(v, dt, tau)).toBeCloseTo(T * dt, 9);
    }
    expect(discountedToSeconds(-1, dt, tau)).toBe(0);
    expect(discountedToSeconds(5, dt, tau)).toBe(10);
  });

  it('learns time-to-event on a periodic event to within 15 %', () => {
    // An event every 1.2 s (dt = 10 ms); the features see only the phase (as cos/sin through a
    // random expansion). The phase code is continuous across the event, where the true
    // time-to-event jumps from 0 to 1.2 s: the ±0.2 s around that jump cannot be resolved by any
    // smooth feature and are excluded from the per-point check (the mean includes them).
    const dt = 0.01, period = 120, horizon = 2;
    const exp = new RandomExpansion({ inputs: 2, features: 300, fanIn: 2, seed: 3, weightScale: 8, biasScale: 4 });
    const nf = 1 + exp.features;
    const phi = new Float64Array(nf);
    const feat = (k: number) => {
      const a = (2 * Math.PI * (k % period)) / period;
      phi[0] = 1;
      exp.transform([Math.cos(a), Math.sin(a)], phi, 1);
      return phi;
    };
    const gvf = new TdGvf({ features: nf, lambda: 0.95, stepSize: 0.05 });
    const errs: number[] = [];
    const trues: number[] = [];
    const steps = 300 * period;
    for (let k = 0; k < steps; k++) {
      const event = k % period === 0 && k > 0;
      gvf.step(feat(k), dt, timeToEventGamma(dt, horizon, event));
      const v = gvf.value;
      if (k >= steps - 3 * period) {
        const remaining = (period - (k % period)) * dt; // the next event is this many seconds away
        errs.push(Math.abs(discountedToSeconds(v, dt, horizon) - remaining));
        trues.push(remaining);
      }
    }
    const meanErr = errs.reduce((s, x) => s + x, 0) / errs.length;
    const meanTrue = trues.reduce((s, x) => s + x, 0) / trues.length;
    let relFar = 0;
    for (let i = 0; i < errs.length; i++) if (trues[i]! >= 0.3 && trues[i]! <= 1.0) relFar = Math.max(relFar, errs[i]! / trues[i]!);
    console.log(`[TdGvf] time-to-event: mean |error| ${meanErr.toFixed(3)} s over a mean ${meanTrue.toFixed(3)} s (${((100 * meanErr) / meanTrue).toFixed(1)} %), worst relative error for 0.3–1.0 s ahead ${(100 * relFar).toFixed(1)} %`);
    expect(meanErr / meanTrue).toBeLessThan(0.15);
    expect(relFar).toBeLessThan(0.15);
    expect(gvf.nanCount).toBe(0);
  });

  it('NaN input → no update, counted, trace cut', () => {
    const g = new TdGvf({ features: 2 });
    g.step([1, 0], 0.01, 0.99);
    g.step([0, 1], 0.01, 0.99);
    const w = Array.from(g.w);
    g.step([NaN, 1], 0.01, 0.99);
    expect(g.nanCount).toBe(1);
    expect(Array.from(g.w)).toEqual(w);
    expect(Array.from(g.z)).toEqual([0, 0]);
    g.step([1, 0], NaN, 0.99);
    expect(g.nanCount).toBe(2);
    expect(Array.from(g.w)).toEqual(w);
  });
});

describe('bench/learn.ts', () => {
  it('runs and reports timings and heap numbers (smoke test, tiny sizes)', () => {
    const r = runLearnBench({ steps: 200, warmup: 100, heapSteps: 300, cortexFeatures: 20, cortexOutputs: 4 });
    for (const region of [r.cortex, r.cerebellum]) {
      expect(region.timing.steps).toBe(200);
      expect(region.timing.p50Us).toBeGreaterThan(0);
      expect(region.timing.p99Us).toBeGreaterThanOrEqual(region.timing.p50Us);
      expect(Number.isFinite(region.heap.retainedBytesPer10k)).toBe(true);
      expect(region.heap.allocatedBytesPer10k).toBeGreaterThanOrEqual(0);
    }
    expect(r.cortex.config['readoutInputs']).toBe(1 + 4 + 4 + 20);
  });
});
