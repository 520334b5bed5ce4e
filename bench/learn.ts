/**
 * Learner benchmark: per-step wall time (p50/p99/mean/max, µs) of the Cortex (RLS readout over
 * 1 + 10 sensory + 4 action + 200 random features = 215 features, 10 outputs, 2 GVFs) and the
 * Cerebellum (6 inputs × (6 alpha filters + raw) = 42 parallel fibres, 2 outputs, 60 ms eligibility
 * delay), plus heap growth over 10 k steps (exact with `node --expose-gc`, otherwise approximate:
 * no forced GC around the window). The learners must not allocate per tick: a heap growth near 0
 * per 10 k steps is the target.
 *
 * Standalone: `npx tsc -p tsconfig.build.json && node --expose-gc dist/bench/learn.js [steps]`.
 * From bench/run.ts: register `learn: benchLearn`.
 */
import { pathToFileURL } from 'node:url';
import { Cerebellum } from '../src/regions/cerebellum.js';
import { Cortex, type CortexInput } from '../src/regions/cortex.js';
import { Rng } from '../src/rng.js';

export interface StepTiming {
  p50Us: number;
  p99Us: number;
  meanUs: number;
  maxUs: number;
  steps: number;
}

export interface HeapGrowth {
  steps: number;
  /** heapUsed growth over `steps` steps between forced GCs, bytes per 10 k steps: what is retained (a leak if it grows). */
  retainedBytesPer10k: number;
  /**
   * What the region's steps allocate (garbage included), bytes per 10 k steps: the median heapUsed
   * growth over many 100-step windows with no GC forced (a window a scavenge hit shrinks and falls
   * out of the median), less the same for the harness loop alone. 0 = no per-tick allocation. (The
   * Region interface's `step(input, dtS)` passes a double: V8 boxes it (16 B) whenever the call is
   * not inlined, which is counted here.)
   */
  allocatedBytesPer10k: number;
  /** True when the retained number was measured between forced GCs (--expose-gc); false = approximate. */
  exact: boolean;
}

export interface LearnBenchResult {
  cortex: { config: Record<string, number>; timing: StepTiming; heap: HeapGrowth };
  cerebellum: { config: Record<string, number>; timing: StepTiming; heap: HeapGrowth };
  targets: { cortexP99Us: number; cerebellumP99Us: number; retainedBytesPer10k: number; allocatedBytesPer10k: number };
}

export interface LearnBenchOptions {
  /** Timed steps per region (default 5000). */
  steps?: number;
  /** Untimed warm-up steps (default 2000). */
  warmup?: number;
  /** Steps in the heap-growth window (default 10 000). */
  heapSteps?: number;
  cortexFeatures?: number;
  cortexOutputs?: number;
}

type Stepper = (i: number) => void;

function timeSteps(step: Stepper, warmup: number, steps: number): StepTiming {
  for (let i = 0; i < warmup; i++) step(i);
  const d = new Float64Array(steps);
  for (let i = 0; i < steps; i++) {
    const t0 = performance.now();
    step(warmup + i);
    d[i] = (performance.now() - t0) * 1000;
  }
  let sum = 0, max = 0;
  for (let i = 0; i < steps; i++) {
    sum += d[i]!;
    if (d[i]! > max) max = d[i]!;
  }
  d.sort();
  const q = (p: number) => d[Math.min(steps - 1, Math.floor(p * steps))]!;
  const r = (x: number) => Math.round(x * 100) / 100;
  return { p50Us: r(q(0.5)), p99Us: r(q(0.99)), meanUs: r(sum / steps), maxUs: r(max), steps };
}

const median = (a: Float64Array): number => {
  a.sort();
  return a[a.length >> 1]!;
};

/** Median bytes allocated per step by `step`, over many 100-step windows. */
function allocPerStep(step: Stepper, start: number): number {
  const windows = 100, w = 100;
  const d = new Float64Array(windows);
  let i0 = start;
  for (let k = 0; k < windows; k++) {
    const a = process.memoryUsage().heapUsed;
    for (let i = 0; i < w; i++) step(i0++);
    d[k] = process.memoryUsage().heapUsed - a;
  }
  return median(d) / w;
}

/** Heap use of `step` less that of `harness` (the same loop without the region step). */
function heapGrowth(step: Stepper, harness: Stepper, start: number, steps: number): HeapGrowth {
  const gc = (globalThis as { gc?: () => void }).gc;
  for (let i = 0; i < 2000; i++) harness(i); // warm the harness-only path too
  const allocated = Math.max(0, allocPerStep(step, start) - allocPerStep(harness, start));
  let i0 = start + 10_000;
  // retention: GC, run, GC; median of 3 windows (code and feedback collected by the JIT move it by ± 100 kB)
  const r = new Float64Array(3);
  for (let k = 0; k < 3; k++) {
    gc?.();
    gc?.();
    const before = process.memoryUsage().heapUsed;
    for (let i = 0; i < steps; i++) step(i0++);
    gc?.();
    gc?.();
    r[k] = process.memoryUsage().heapUsed - before;
  }
  const retained = median(r);
  return { steps, retainedBytesPer10k: Math.round((retained * 10_000) / steps), allocatedBytesPer10k: Math.round(allocated * 10_000), exact: gc !== undefined };
}

/** Precomputed noise, so the harness itself does not call out per tick. */
function noiseTable(seed: number, n = 4096): Float64Array {
  const rng = new Rng(seed);
  return Float64Array.from({ length: n }, () => rng.gauss());
}

/**
 * A cortex stepper on a synthetic 10-field sensory stream (frames dropped 20 % of ticks, a gate
 * every 2 s). `run = false` does everything but the region step (to subtract the harness's cost).
 */
function cortexStepper(features: number, outputs: number): { step: Stepper; harness: Stepper; cortex: Cortex } {
  const sensoryFields = Array.from({ length: outputs }, (_, i) => `s${i}`);
  const cortex = new Cortex({ sensoryFields, actionFields: ['thrust', 'rateX', 'rateY', 'rateZ'], features, gateGvfFields: ['s0', 's1'] });
  const noise = noiseTable(1);
  const s = new Float64Array(outputs);
  const a = new Float64Array(4);
  const input: CortexInput = { sensory: s, action: a, observed: true, gatePassed: false, crash: false };
  const dt = 0.01;
  const make = (run: boolean): Stepper => (i) => {
    const t = i * dt;
    for (let k = 0; k < outputs; k++) s[k] = Math.sin(0.7 * t * (k + 1) + k) + 0.01 * noise[(i * outputs + k) & 4095]!;
    for (let k = 0; k < 4; k++) a[k] = Math.cos(0.5 * t * (k + 1));
    input.observed = noise[(i * 7) & 4095]! > -0.84; // ≈ 20 % dropped
    input.gatePassed = i % 200 === 199;
    if (run) cortex.step(input, dt);
  };
  return { step: make(true), harness: make(false), cortex };
}

function cerebellumStepper(): { step: Stepper; harness: Stepper; cerebellum: Cerebellum } {
  const cerebellum = new Cerebellum({ inputs: 6, outputs: 2, delayS: 0.06, maxTickHz: 500 });
  const noise = noiseTable(2);
  const x = new Float64Array(6);
  const e = new Float64Array(2);
  const input: { signals: Float64Array; error: Float64Array | null } = { signals: x, error: e };
  const dt = 0.002;
  const make = (run: boolean): Stepper => (i) => {
    const t = i * dt;
    for (let k = 0; k < 6; k++) x[k] = Math.sin(3 * t * (k + 1)) + 0.01 * noise[(i * 6 + k) & 4095]!;
    e[0] = 0.01 * Math.sin(5 * t);
    e[1] = 0.01 * Math.cos(4 * t);
    input.error = i % 4 === 0 ? e : null; // a camera frame (and so an error) every 4th IMU tick
    if (run) cerebellum.step(input, dt);
  };
  return { step: make(true), harness: make(false), cerebellum };
}

export function runLearnBench(opts: LearnBenchOptions = {}): LearnBenchResult {
  const steps = opts.steps ?? 5000, warmup = opts.warmup ?? 2000, heapSteps = opts.heapSteps ?? 10_000;
  const features = opts.cortexFeatures ?? 200, outputs = opts.cortexOutputs ?? 10;
  const cx = cortexStepper(features, outputs);
  const cxTiming = timeSteps(cx.step, warmup, steps);
  const cxHeap = heapGrowth(cx.step, cx.harness, warmup + steps, heapSteps);
  const cb = cerebellumStepper();
  const cbTiming = timeSteps(cb.step, warmup, steps);
  const cbHeap = heapGrowth(cb.step, cb.harness, warmup + steps, heapSteps);
  return {
    cortex: { config: { features, outputs, actions: 4, readoutInputs: cx.cortex.nf, tickHz: 100 }, timing: cxTiming, heap: cxHeap },
    cerebellum: { config: { inputs: 6, outputs: 2, parallelFibres: cb.cerebellum.np, delayMs: 60, tickHz: 500 }, timing: cbTiming, heap: cbHeap },
    // budgets: the cortex runs per camera frame (≤ 10 ms at 100 Hz), the cerebellum per IMU tick (2 ms at 500 Hz)
    targets: { cortexP99Us: 1000, cerebellumP99Us: 50, retainedBytesPer10k: 64 * 1024, allocatedBytesPer10k: 64 * 1024 },
  };
}

/** bench/run.ts entry: same result as a plain record. */
export function benchLearn(): Record<string, unknown> {
  return { ...runLearnBench() };
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const steps = Number(process.argv[2] ?? 5000);
  console.log(JSON.stringify(runLearnBench({ steps: Number.isFinite(steps) && steps > 0 ? steps : 5000 }), null, 2));
}
