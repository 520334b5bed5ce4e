/**
 * Pipeline benchmark (issue #4): per-region and whole-pipeline time per 640 × 360 frame (p50/p99),
 * IMU-tick and command-tick cost, heap allocation per IMU sample / frame / command tick, and RSS.
 * The pipeline flies the built-in sim closed loop (aigp-qualifier, 4 laps); only the pipeline's own
 * calls are timed (the sim's rendering and physics are not).
 *
 * Two windows, because V8 compiles the hot code in tiers: the first lap runs partly in the
 * interpreter, where every floating-point intermediate is a heap number, and a function that meets a
 * new branch is deoptimised and re-optimised seconds later. `warmup` covers the first lap;
 * `steady` starts at lap 3 (sim time ≥ steadyFromS), which is the steady state the targets are about.
 *
 * Timing: the flight is flown TIMING_RUNS times in one process. The sim and the pipeline are seeded and
 * deterministic, so every run sees the same frames; `steady` reports the first run's wall times
 * (with whatever GC pauses and preemption by other processes it met) and `steadyIntrinsic` each
 * frame period's minimum over the runs (the pipeline's own cost on an idle core, as the colliculus
 * benchmark does). GC pauses in the first run's steady window are reported from the gc perf entries.
 *
 * Allocation method: separate flights (same track and seed; see measurePipelineAllocation), in a child process so that its JIT
 * starts cold like a real run's (the timing flights before it would have warmed it up), in which each pipeline call is bracketed
 * by process.memoryUsage().heapUsed, with a minor GC (scavenge) forced just before the call so that
 * the young generation is empty and the call's allocation cannot be hidden by a GC inside it. If the
 * heap still shrinks across a call (a GC ran anyway) the call is counted in `gcInside` and left out
 * of the mean, so the figure never silently drops it. The bracket's own cost (the memoryUsage()
 * result) is measured on an empty call and subtracted. Requires node --expose-gc (npm run bench).
 * Writes bench/results/pipeline.json through bench/run.ts.
 */
import { spawnSync } from 'node:child_process';
import { PerformanceObserver } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { RACE_DEFAULTS, buildSim, pipelineConfigFor } from '../src/cli/race.js';
import { Pipeline } from '../src/pipeline.js';
import type { CameraFrame, ImuSample } from '../src/tracts/io.js';

const TRACK = 'aigp-qualifier';
const LAPS = 4;
/** Lap 1 is ~18 s on this track: JIT warm-up; laps 3–4 are the steady state. */
const WARMUP_UNTIL_S = 18;
const STEADY_FROM_S = 36;
const END_S = 75;

type GcFn = (opts?: { type?: 'major' | 'minor'; execution?: 'sync' | 'async' }) => void;

const pct = (xs: readonly number[], p: number): number => {
  if (xs.length === 0) return NaN;
  const s = Float64Array.from(xs).sort();
  return Math.round(s[Math.min(s.length - 1, Math.floor(p * s.length))]! * 1000) / 1000;
};
const summary = (xs: readonly number[]) => ({ n: xs.length, p50Ms: pct(xs, 0.5), p99Ms: pct(xs, 0.99), maxMs: pct(xs, 1) });

interface Window {
  frame: number[];
  imu: number[];
  command: number[];
  /** Per frame period: onFrame plus every IMU and command call since the previous frame. */
  pipelinePerFrame: number[];
  regions: Record<string, number[]>;
}
const REGIONS = ['colliculus', 'vestibular', 'hippocampus', 'premotor', 'cortex', 'motor', 'cerebellum', 'guard'] as const;
const newWindow = (): Window => ({ frame: [], imu: [], command: [], pipelinePerFrame: [], regions: Object.fromEntries(REGIONS.map((r) => [r, []])) });

const regionTargets = (p: Pipeline): [string, object][] => {
  const t: [string, object][] = [
    ['colliculus', p.colliculus],
    ['vestibular', p.vestibular],
    ['hippocampus', p.hippocampus],
    ['premotor', p.follower],
    ['motor', p.motor],
    ['guard', p.guard],
  ];
  if (p.cerebellum) t.push(['cerebellum', p.cerebellum]);
  if (p.cortex) t.push(['cortex', p.cortex]);
  return t;
};

function makeFlight(seed: number) {
  const o = { ...RACE_DEFAULTS, controller: 'pipeline' as const, track: TRACK, laps: LAPS, seed, latencyMs: 30 };
  const sim = buildSim(o);
  const p = new Pipeline(pipelineConfigFor(sim, o));
  if (!process.argv.includes(NO_WARM_FLAG)) p.warmUp();
  return { sim, p };
}

const TIMING_RUNS = 3;

export async function benchPipeline(): Promise<Record<string, unknown>> {
  const runs: Awaited<ReturnType<typeof timePipeline>>[] = [];
  for (let i = 0; i < TIMING_RUNS; i++) runs.push(await timePipeline(i === 0));
  const time = runs[0]!;
  const sameFlight = runs.every((r) => r.endS === time.endS && r.steadyFramePeriods.length === time.steadyFramePeriods.length);
  const intrinsic = sameFlight ? time.steadyFramePeriods.map((_, k) => Math.min(...runs.map((r) => r.steadyFramePeriods[k]!))) : [];
  const alloc = allocationInChild();
  return {
    track: TRACK,
    frame: '640x360 rgb8 (aigp-vq)',
    windows: { warmupUntilS: WARMUP_UNTIL_S, steadyFromS: STEADY_FROM_S, endS: time.endS, completedLaps: time.laps, lapTimesS: time.lapTimesS, crashed: time.crashed },
    timingNote:
      'pipelinePerFrame: wall time of onFrame plus every onImu and command call since the previous frame. steady/warmup: the first flight as it ran (GC pauses, and preemption by other processes on a shared host, included); ' +
      'steadyIntrinsic: per frame period the minimum over identical flights (the pipeline on an idle core). gcSteady: V8 GC pauses in the first flight\'s steady window (the in-process simulator allocates too).',
    steady: time.steady,
    steadyIntrinsic: sameFlight
      ? { pipelinePerFrame: summary(intrinsic), note: `per frame period, the minimum over ${TIMING_RUNS} identical flights` }
      : { note: 'runs differed (not deterministic on this host): not reported' },
    gcSteady: time.gc,
    warmup: time.warmup,
    heap: {
      note:
        'Bytes allocated per call by the pipeline, measured in a fresh node process (cold JIT, as in a real run): heapUsed growth across the call with a scavenge forced just before it, the bracket cost subtracted; calls with a GC inside are counted in gcInside, not averaged. ' +
        'allocatingCalls: calls that grew the heap by a heap number (16 B) or more; maxBytes: the largest growth of one call. ' +
        "Steady (laps 3-4): in most runs of the allocation child no frame, IMU sample or command tick allocates (0 B, no allocating call). " +
        "Two causes found on 2026-11-23: the cortex's heading-drift model, stepped once a frame, ran unoptimised (V8 never optimised a step called 30 times a second; 124-148 allocating frames): it is stepped at the IMU rate since commit 53443aa; and a vertical hull edge's -0 deoptimised the detector's processEdge mid-flight (integer-speculated arithmetic; 18 frames of up to 17 KB until it was re-optimised): written (0 - dx) since fe675e5. " +
        "Third cause, found the same day: in about 1 run in 5 (14 of 75 scratch runs), 221 of the 896 steady frames allocated 64 B (128 B with two): the frames with a close gate cut by the image border (~< 4 m), whose pose the detector's partialRing solves. There V8 sometimes did not inline hyp3 (the range check), and the call boxed its three double arguments and its result (sampling heap profiler started mid-flight in a bad run: 48 B self in partialRing, 16 B in hyp3). It looked like the heading-view code because close views are heading views. hyp3 is written out there since the commit after 49bc7a5 (16 of 16 runs then: 0 allocating frames). " +
        "Also seen once in 75 runs: every frame 16 B, the double returned by hippocampus.relativeSigmaM() when expectedGate's call to it was not inlined. Reading the σ upcomingInto writes (a field) instead moved expectedGate's optimisation from 34 s to 36 s, into the steady window (its install: 2 frames of 720 B); since the commit after 515e7cf the expectation is a module function of plain inputs (expectGateInto) that Pipeline.warmUp() has V8 optimise before flight, called from onFrame (a small method around it ran unoptimised: 16 B a frame), and reads σ from the gate. " +
        "Fourth, deterministic (the same frame in every run): one steady frame of ~900 allocated 152 B in GateDetector.detectLoaded (sampling heap profiler around it): the detector cut its sightings array to each frame's count (length = m), V8 trims an array's backing store when the new length leaves more than half of it unused (to 1 slot there, or to none at length 0), and a later frame with more sightings re-grew it (from 1 slot to 17: 16 + 17 × 8 = 152 B). Since 1ec18e6 each count has its own array, filled by index and never resized. " +
        'The IMU sample and the command tick allocate nothing (no allocating call). Until the commit after e1cc9a9 the command tick had a JIT event in some runs: one tick at ~64 s, 96 B (once 3.9 KB), when the premotor\'s replanFrom, a few calls a second, was first optimised ~60 s into the flight (4 of 16 allocation-child runs). Pipeline.warmUp() now replans on a throwaway follower until V8 optimises replanFrom, and the follower\'s double fields and vectors start as doubles (NaN) so that the flight\'s follower, built before the warm-up, has the warm-up\'s hidden class and elements kinds and keeps that code (--trace-opt: no pipeline function is optimised after 34 s of this 66 s flight). Then 16 of 16 runs one at a time had 0 allocating frames, IMU samples and command ticks, and of 20 run two at a time (both cores busy) 19 had 0 and one had one IMU sample of 2160 B. After the expectation warm-up (below), 15 of 16 runs one at a time had 0, and one had one command tick of 168 B at 40.8 s (firstAllocating records when). In a traced run the simulator\'s own functions are still optimised inside the steady window (an arrow function of sim/camera.ts at ~40 s, world.renderFrame at ~54 s), and a finished concurrent compile is installed at the main thread\'s next interrupt check, which can fall inside a measured pipeline call: the likely cause of these single events (the times match; not proven). ' +
        "Before flight, Pipeline.warmUp() (once per process, ~0.3-0.5 s; race, the daemon and this bench call it) drives the gate detector's rare paths on a throwaway detector (and the follower's replanning on a throwaway follower), so the flight's detector is untouched and flights are identical with and without it (race --json, aigp-qualifier seeds 1-2 and split-s seed 1). " +
        "Without it, partialRing first took its no-horizontal-edge branch (pose from corners) ~41 s into this flight, was deoptimised there, and its re-optimised code was installed during a frame ~1 s later (~32 KB of code metadata in old space); the branch's helpers (cornersFromLines, meet, toward) ran a few times a minute in the baseline tier, where every floating-point intermediate is a heap number (~1.6 KB each time): 7-8 allocating frames. " +
        'The warm-up detects synthetic gate views the core draws itself (src/vision/synthetic-gate.ts: close, rolled views whose partial ring takes that branch, found by a search over such poses), so partialRing is optimised with it, then runs poseFromCorners (the branch, its own method) and its helpers on synthetic edge lines through every case until V8 optimises them. ' +
        'It must leave the hidden classes flight meets: its frames are built as the camera tracts are, with doubles where they carry doubles, and the detector\'s intrinsics fields start as doubles (NaN): the sim\'s intrinsics (doubles) stored into fields the warm-up had left small integers made a new hidden class and deoptimised everything it had optimised, and warm-up intrinsics that were integers made the detector\'s reads of them polymorphic (64 B per frame). ' +
        'The last frame allocation, a rare thin-quad path of quadFromHull whose call to hullTurn was not inlined (its double result boxed, 16 B at ~61 s), is written out. ' +
        'How the rest went to 0: a double passed to or returned from a call TurboFan did not inline is boxed (16 B), so region steps take dt in their input tracts, the vestibular corrections and the follower\'s replanning take reused tracts or vectors, and helpers whose result is a double are written out where the caller\'s inlining budget is spent (wrapPi, norm); ' +
        'a class field declared without a value starts as undefined and V8 then keeps every double stored in it boxed (number fields are declared = 0); a config value or a global (Infinity, NaN) read on a path not yet taken when the function was optimised is a tagged value, and a double merged with one is boxed (Number.POSITIVE_INFINITY, flags instead of NaN sentinels); ' +
        'a small function called only a few times a second is optimised by V8 only after ~1 MB of its bytecode has run (about 40 s for vestibular.correctTilt), so the vision corrections run inside the vestibular\'s per-frame attitude lookup, which is optimised within seconds. ' +
        'How the sites were found: node --print-opt-code, each inline heap-number allocation in optimised code mapped through the code\'s source-position table to its line; --trace-opt/--trace-deopt for functions still unoptimised in the steady window; per-frame heap growth for the frames that allocate; the sampling heap profiler (inspector HeapProfiler.startSampling, 8 B interval) around an allocating call for the function that allocates (the --trace flags themselves change what is allocated). ' +
        'Whole calls are measured in a flight with no region wrapped, region steps in a second one with each step wrapped; the wrappers change what TurboFan inlines, so the per-region figures read high (the guard\'s and the hippocampus sightings\' bytes appear only in the wrapped flight: the whole command tick and IMU sample measure 0 B). ' +
        'Warm-up (lap 1): per-frame code runs in V8\'s interpreter/baseline tiers until it has run often enough to be optimised (the detector\'s top-level functions at 30 Hz: ~20 s), and every floating-point intermediate there is a heap number; ' +
        'in a trial, node --interrupt-budget=8192 cut lap-1 allocation from ~90 KB to ~35 KB per frame (a launcher flag, not set by brainpilot).',
      steady: alloc.steady,
      warmup: alloc.warmup,
      perRegionSteady: alloc.regions,
    },
    rssMB: Math.round(process.memoryUsage().rss / 1e6),
    targets: { pipelineP99MsPerFrame: 1, steadyStateAllocation: 'none' },
  };
}

/** Time every pipeline call and region step over the flight (no forced GC: the real loop's timing). */
async function timePipeline(observeGc: boolean) {
  const { sim, p } = makeFlight(1);
  const warmup = newWindow(), steady = newWindow();
  let win: Window | null = warmup;
  // per-region timers: wrap each region's step (the wrapper's own cost is two performance.now() calls)
  for (const [name, obj] of regionTargets(p)) {
    const o = obj as Record<string, (...a: unknown[]) => unknown>;
    const orig = o['step']!.bind(obj);
    o['step'] = (a: unknown, b: unknown) => {
      const t0 = performance.now();
      const r = orig(a, b);
      win?.regions[name]!.push(performance.now() - t0);
      return r;
    };
  }
  // gc entries arrive asynchronously (after the flight): keep them all, filter by the window's times
  const gcEntries: { startTime: number; duration: number }[] = [];
  let steadyT0 = Infinity, steadyT1 = Infinity;
  const obs = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) gcEntries.push({ startTime: e.startTime, duration: e.duration });
  });
  if (observeGc) obs.observe({ entryTypes: ['gc'] });
  const imuBuf: ImuSample[] = [], frameBuf: CameraFrame[] = [];
  let nextCmd = 0, sinceFrameMs = 0;
  sim.arm();
  while (sim.tS < END_S && !sim.judge.crashed && !sim.judge.finished) {
    sim.step();
    win = sim.tS < WARMUP_UNTIL_S ? warmup : sim.tS >= STEADY_FROM_S ? steady : null;
    if (win === steady && steadyT0 === Infinity) steadyT0 = performance.now();
    imuBuf.length = 0;
    frameBuf.length = 0;
    for (const s of sim.pollImu(imuBuf)) {
      const t0 = performance.now();
      p.onImu(s);
      const d = performance.now() - t0;
      win?.imu.push(d);
      sinceFrameMs += d;
    }
    for (const f of sim.pollFrames(frameBuf)) {
      const t0 = performance.now();
      p.onFrame(f);
      const d = performance.now() - t0;
      win?.frame.push(d);
      win?.pipelinePerFrame.push(sinceFrameMs + d);
      sinceFrameMs = 0;
    }
    if (sim.tS >= nextCmd) {
      nextCmd += 0.004;
      const t0 = performance.now();
      const c = p.command(sim.tS);
      const d = performance.now() - t0;
      win?.command.push(d);
      sinceFrameMs += d;
      if (c) sim.sendCommand(c);
    }
  }
  const report = (w: Window) => ({
    pipelinePerFrame: summary(w.pipelinePerFrame),
    onFrame: summary(w.frame),
    onImu: summary(w.imu),
    command: summary(w.command),
    perRegion: Object.fromEntries(Object.entries(w.regions).map(([k, v]) => [k, summary(v)])),
  });
  steadyT1 = performance.now();
  await new Promise((r) => setTimeout(r, 50));
  obs.disconnect();
  const gcStats = { count: 0, totalMs: 0, maxMs: 0 };
  for (const e of gcEntries) {
    if (e.startTime < steadyT0 || e.startTime > steadyT1) continue;
    gcStats.count++;
    gcStats.totalMs += e.duration;
    gcStats.maxMs = Math.max(gcStats.maxMs, e.duration);
  }
  const steadyS = Math.max(1e-9, sim.tS - STEADY_FROM_S);
  const gc = { count: gcStats.count, perS: Math.round((gcStats.count / steadyS) * 100) / 100, totalMs: Math.round(gcStats.totalMs * 100) / 100, maxMs: Math.round(gcStats.maxMs * 100) / 100 };
  return { steady: report(steady), warmup: report(warmup), steadyFramePeriods: steady.pipelinePerFrame, gc, endS: Math.round(sim.tS * 10) / 10, laps: sim.judge.lap, lapTimesS: sim.judge.lapTimes.map((t) => Math.round(t * 100) / 100), crashed: sim.judge.crashed };
}

interface AllocAcc {
  sum: number;
  n: number;
  gcInside: number;
  /** Calls that grew the heap by a heap number (16 B) or more, bracket included (~0 B in steady state). */
  allocating: number;
  maxBytes: number;
  /** Sim time and bytes of the first allocating calls (which event it was: a JIT install at a known time, or every lap). */
  first: { tS: number; bytes: number }[];
}
const acc = (): AllocAcc => ({ sum: 0, n: 0, gcInside: 0, allocating: 0, maxBytes: 0, first: [] });
/** The allocation flight's sim time, for AllocAcc.first. */
let allocNowS = 0;

type AllocReport = ReturnType<typeof measurePipelineAllocation>;

/** measurePipelineAllocation() in a fresh node process (cold JIT), with --expose-gc. */
function allocationInChild(): AllocReport {
  const self = fileURLToPath(import.meta.url);
  const flags = [ALLOC_CHILD_FLAG, ...(process.argv.includes(NO_WARM_FLAG) ? [NO_WARM_FLAG] : [])];
  const res = spawnSync(process.execPath, ['--expose-gc', ...(self.endsWith('.ts') ? ['--import', 'tsx'] : []), self, ...flags], { encoding: 'utf8', maxBuffer: 1 << 24 });
  if (res.status !== 0) throw new Error(`bench pipeline: allocation child failed (status ${String(res.status)}): ${res.stderr}`);
  const line = res.stdout.trim().split('\n').pop() ?? '';
  return JSON.parse(line) as AllocReport;
}

const ALLOC_CHILD_FLAG = '--pipeline-alloc-child';
/** Fly without Pipeline.warmUp() (for comparison). */
const NO_WARM_FLAG = '--no-warm-up';

/**
 * Heap growth across each pipeline call, and across each region step, in two more flights: the whole
 * calls in one with nothing wrapped, the region steps in another with each step wrapped. (One flight
 * doing both read 100-400 B too high per whole call: the wrappers, calls through a bound function,
 * box the doubles passed to and returned from every region step.)
 */
function measurePipelineAllocation() {
  const whole = allocFlight(false);
  const regions = allocFlight(true);
  return { steady: whole.steady, warmup: whole.warmup, regions: regions.regions };
}

function allocFlight(withRegions: boolean) {
  const gc = (globalThis as { gc?: GcFn }).gc;
  if (!gc) throw new Error('bench pipeline: run node with --expose-gc (npm run bench does) to measure allocation');
  const { sim, p } = makeFlight(1);
  const heap = (): number => process.memoryUsage().heapUsed;
  const windows = { warmup: { imu: acc(), frame: acc(), command: acc(), bracket: acc() }, steady: { imu: acc(), frame: acc(), command: acc(), bracket: acc() } };
  const regions: Record<string, AllocAcc> = {};
  let cur: (typeof windows)['steady'] | null = null;
  let measuring = false; // region brackets nest inside a pipeline call: measured only in the steady window, one level deep
  // The pipeline's calls are bracketed inline (begin(); call; end()), not through a closure: a call
  // made from a closure passed to a helper is a megamorphic call site, and measured that way the same
  // calls read 100-400 B higher (doubles boxed at the call boundary, the closure's context).
  const begin = (): number => {
    gc({ type: 'minor', execution: 'sync' });
    return heap();
  };
  const end = (a: AllocAcc, h0: number): void => {
    const d = heap() - h0;
    if (d < 0) a.gcInside++;
    else {
      a.sum += d;
      a.n++;
      if (d >= 16) {
        a.allocating++;
        if (a.first.length < 8) a.first.push({ tS: Math.round(allocNowS * 100) / 100, bytes: d });
      }
      if (d > a.maxBytes) a.maxBytes = d;
    }
  };
  // per-region allocation in the steady window: each region's step on its own, in a separate pass
  // of the bracket (a nested bracket would count the inner memoryUsage() in the outer call)
  const regionPass = { on: false };
  for (const [name, obj] of withRegions ? regionTargets(p) : []) {
    const o = obj as Record<string, (...a: unknown[]) => unknown>;
    const orig = o['step']!.bind(obj);
    regions[name] = acc();
    const ra = regions[name]!;
    o['step'] = (a: unknown, b: unknown) => {
      if (!regionPass.on || measuring) return orig(a, b);
      measuring = true;
      const h0 = begin();
      const r = orig(a, b);
      end(ra, h0);
      measuring = false;
      return r;
    };
  }
  const imuBuf: ImuSample[] = [], frameBuf: CameraFrame[] = [];
  let nextCmd = 0;
  sim.arm();
  while (sim.tS < END_S && !sim.judge.crashed && !sim.judge.finished) {
    sim.step();
    allocNowS = sim.tS;
    cur = sim.tS < WARMUP_UNTIL_S ? windows.warmup : sim.tS >= STEADY_FROM_S ? windows.steady : null;
    regionPass.on = withRegions && cur === windows.steady;
    const whole = withRegions ? null : cur;
    imuBuf.length = 0;
    frameBuf.length = 0;
    for (const s of sim.pollImu(imuBuf)) {
      if (whole) {
        const h0 = begin();
        p.onImu(s);
        end(whole.imu, h0);
      } else p.onImu(s);
    }
    for (const f of sim.pollFrames(frameBuf)) {
      if (whole) {
        const h0 = begin();
        p.onFrame(f);
        end(whole.frame, h0);
      } else p.onFrame(f);
    }
    if (sim.tS >= nextCmd) {
      nextCmd += 0.004;
      let c: ReturnType<Pipeline['command']> = null;
      const nowS = sim.tS;
      if (whole) {
        const h0 = begin();
        c = p.command(nowS);
        end(whole.command, h0);
      } else c = p.command(nowS);
      if (c) sim.sendCommand(c);
      // the bracket's own cost (the memoryUsage() result, the closure): subtracted below
      if (cur && !withRegions) end(cur.bracket, begin());
    }
  }
  const ov = (w: { bracket: AllocAcc }): number => w.bracket.sum / Math.max(1, w.bracket.n);
  const per = (a: AllocAcc, o: number) => ({
    bytesPerCall: Math.max(0, Math.round(a.sum / Math.max(1, a.n) - o)),
    calls: a.n,
    allocatingCalls: a.allocating,
    maxBytes: a.maxBytes,
    gcInside: a.gcInside,
    firstAllocating: a.first,
  });
  const report = (w: (typeof windows)['steady']) => {
    const o = ov(w);
    return { perImuSample: per(w.imu, o), perFrame: per(w.frame, o), perCommandTick: per(w.command, o), bracketBytes: Math.round(o) };
  };
  // the region brackets' own cost: an empty call through the same wrapper path is not available, so
  // the inline bracket's (measured in the whole-call flight, ~0 in steady state) is not subtracted
  const os = 0;
  return {
    steady: report(windows.steady),
    warmup: report(windows.warmup),
    regions: Object.fromEntries(Object.entries(regions).map(([k, v]) => [k, per(v, os)])),
  };
}

if (process.argv.includes(ALLOC_CHILD_FLAG)) process.stdout.write(JSON.stringify(measurePipelineAllocation()) + '\n');
