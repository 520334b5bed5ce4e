/**
 * Pipeline benchmark: per-region and whole-pipeline time per 640 × 360 frame (p50/p99), IMU-tick and
 * command-tick cost, heap allocation per tick in steady state, and RSS. The pipeline flies the
 * built-in sim closed loop; only the pipeline's own calls are timed (the sim's rendering is not).
 * Writes bench/results/pipeline.json through bench/run.ts.
 */
import { RACE_DEFAULTS, buildSim, pipelineConfigFor } from '../src/cli/race.js';
import { Pipeline } from '../src/pipeline.js';
import type { CameraFrame, ImuSample } from '../src/tracts/io.js';

interface Timer {
  samples: number[];
}

const pct = (xs: number[], p: number): number => {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return Math.round(s[Math.min(s.length - 1, Math.floor(p * s.length))]! * 1000) / 1000;
};

/** Wrap obj[method] so each call's wall time (ms) is recorded. */
function instrument(obj: object, method: string, t: Timer): void {
  const o = obj as Record<string, (...a: unknown[]) => unknown>;
  const orig = o[method]!.bind(obj);
  o[method] = (...a: unknown[]) => {
    const t0 = performance.now();
    const r = orig(...a);
    t.samples.push(performance.now() - t0);
    return r;
  };
}

export function benchPipeline(): Record<string, unknown> {
  const o = { ...RACE_DEFAULTS, controller: 'pipeline' as const, track: 'aigp-qualifier', laps: 2, seed: 1, latencyMs: 30 };
  const sim = buildSim(o);
  const p = new Pipeline(pipelineConfigFor(sim, o));
  const regions: Record<string, Timer> = {
    colliculus: { samples: [] },
    vestibular: { samples: [] },
    hippocampus: { samples: [] },
    premotor: { samples: [] },
    motor: { samples: [] },
    cerebellum: { samples: [] },
    guard: { samples: [] },
  };
  instrument(p.colliculus, 'step', regions['colliculus']!);
  instrument(p.vestibular, 'step', regions['vestibular']!);
  instrument(p.hippocampus, 'step', regions['hippocampus']!);
  instrument(p.follower, 'step', regions['premotor']!);
  instrument(p.motor, 'step', regions['motor']!);
  if (p.cerebellum) instrument(p.cerebellum, 'step', regions['cerebellum']!);
  instrument(p.guard, 'step', regions['guard']!);
  const frame: Timer = { samples: [] }, imu: Timer = { samples: [] }, cmd: Timer = { samples: [] };
  const imuBuf: ImuSample[] = [], frameBuf: CameraFrame[] = [];
  let nextCmd = 0;
  sim.arm();
  // warm up (JIT) for 3 s of sim time, then measure steady flight
  const measureFromS = 3;
  let heap0 = 0, ticks = 0;
  const gc = (globalThis as { gc?: () => void }).gc;
  while (sim.tS < 40 && !sim.judge.crashed && !sim.judge.finished) {
    sim.step();
    if (sim.tS >= measureFromS && heap0 === 0) {
      gc?.();
      heap0 = process.memoryUsage().heapUsed;
      for (const t of [...Object.values(regions), frame, imu, cmd]) t.samples.length = 0;
    }
    imuBuf.length = 0;
    frameBuf.length = 0;
    for (const s of sim.pollImu(imuBuf)) {
      const t0 = performance.now();
      p.onImu(s);
      imu.samples.push(performance.now() - t0);
    }
    for (const f of sim.pollFrames(frameBuf)) {
      const t0 = performance.now();
      p.onFrame(f);
      frame.samples.push(performance.now() - t0);
    }
    if (sim.tS >= nextCmd) {
      nextCmd += 0.004;
      const t0 = performance.now();
      const c = p.command(sim.tS);
      cmd.samples.push(performance.now() - t0);
      if (c) sim.sendCommand(c);
      if (heap0 !== 0) ticks++;
    }
  }
  const heapAfter = process.memoryUsage().heapUsed;
  const alloc = measurePipelineAllocation();
  const summary = (t: Timer) => ({ n: t.samples.length, p50Ms: pct(t.samples, 0.5), p99Ms: pct(t.samples, 0.99) });
  // the whole pipeline's work for one camera frame: the frame's own processing plus the IMU and
  // command ticks that fall within one frame period
  const framesN = Math.max(1, frame.samples.length);
  const perFrameBudgetMs = (frame.samples.reduce((a, b) => a + b, 0) + imu.samples.reduce((a, b) => a + b, 0) + cmd.samples.reduce((a, b) => a + b, 0)) / framesN;
  return {
    track: o.track,
    frame: '640x360 rgb8 (aigp-vq)',
    onFrame: summary(frame),
    onImu: summary(imu),
    command: summary(cmd),
    perRegion: Object.fromEntries(Object.entries(regions).map(([k, v]) => [k, summary(v)])),
    meanPipelineMsPerFrame: Math.round(perFrameBudgetMs * 1000) / 1000,
    heap: {
      note: 'bytes allocated by the pipeline\'s own calls (heap growth across each call, summed; a GC inside a call is skipped), per call; the whole-process figure includes the simulator',
      pipelineBytesPerImuSample: alloc.imu,
      pipelineBytesPerFrame: alloc.frame,
      pipelineBytesPerCommandTick: alloc.command,
      processBytesPerCommandTick: ticks > 0 ? Math.round((heapAfter - heap0) / ticks) : null,
    },
    rssMB: Math.round(process.memoryUsage().rss / 1e6),
    targets: { pipelineP99MsPerFrame: 1, steadyStateAllocation: 'none' },
  };
}

/** Heap growth across each pipeline call in a second flight (separate, since measuring costs time). */
function measurePipelineAllocation(): { imu: number; frame: number; command: number } {
  const o = { ...RACE_DEFAULTS, controller: 'pipeline' as const, track: 'aigp-qualifier', laps: 1, seed: 2, latencyMs: 30 };
  const sim = buildSim(o);
  const p = new Pipeline(pipelineConfigFor(sim, o));
  const sums = { imu: 0, frame: 0, command: 0, noop: 0 }, counts = { imu: 0, frame: 0, command: 0, noop: 0 };
  const imuBuf: ImuSample[] = [], frameBuf: CameraFrame[] = [];
  const heap = (): number => process.memoryUsage().heapUsed;
  const track = (k: keyof typeof sums, fn: () => void): void => {
    const h0 = heap();
    fn();
    const d = heap() - h0;
    if (sim.tS < 3) return; // warm-up (JIT)
    if (d >= 0) sums[k] += d;
    counts[k]++;
  };
  let nextCmd = 0;
  sim.arm();
  while (sim.tS < 20 && !sim.judge.crashed && !sim.judge.finished) {
    sim.step();
    imuBuf.length = 0;
    frameBuf.length = 0;
    for (const s of sim.pollImu(imuBuf)) track('imu', () => p.onImu(s));
    for (const f of sim.pollFrames(frameBuf)) track('frame', () => p.onFrame(f));
    if (sim.tS >= nextCmd) {
      nextCmd += 0.004;
      let c: ReturnType<Pipeline['command']> = null;
      track('command', () => {
        c = p.command(sim.tS);
      });
      if (c) sim.sendCommand(c);
      // the measurement's own cost (the memoryUsage() result, the closure): subtracted below
      track('noop', () => {});
    }
  }
  const overhead = sums.noop / Math.max(1, counts.noop);
  const per = (k: keyof typeof sums): number => Math.max(0, Math.round(sums[k] / Math.max(1, counts[k]) - overhead));
  return { imu: per('imu'), frame: per('frame'), command: per('command') };
}
