/**
 * `brainpilot ablate`: does every region earn its place? Flies the full pipeline, the pipeline with
 * one learned region switched off, and the pid baseline, each under the stress that region exists
 * for, over several seeds, and tabulates success rate and mean lap time.
 */
import { RACE_DEFAULTS, flyRace, type RaceOptions } from './race.js';
import type { PipelineConfig } from '../pipeline.js';
import { loadTrack } from '../../sim/track.js';

export interface AblationCondition {
  name: string;
  /** What this condition stresses, in words. */
  stresses: string;
  opts: Partial<RaceOptions>;
}

export interface AblationVariant {
  name: string;
  controller: RaceOptions['controller'];
  ablate?: PipelineConfig['ablate'];
}

export interface AblationCell {
  variant: string;
  condition: string;
  runs: number;
  completed: number;
  successRate: number;
  /** Mean time of completed laps, s (null when none completed). */
  meanLapS: number | null;
  /** Mean time of laps 2+ (the laps flown from memory), s. */
  meanLaterLapS: number | null;
  gatesPassed: number;
  gatesTotal: number;
  crashes: number;
}

export interface AblationReport {
  track: string;
  seeds: number[];
  laps: number;
  command: string;
  conditions: AblationCondition[];
  variants: AblationVariant[];
  cells: AblationCell[];
}

export function defaultConditions(): AblationCondition[] {
  return [
    { name: 'nominal', stresses: 'perturbed prior map, IMU noise, 30 Hz camera, 30 ms camera latency', opts: { latencyMs: 30 } },
    { name: 'latency', stresses: 'added actuation latency: 100 ms between command and FC (plus 30 ms camera latency)', opts: { latencyMs: 30, commandLatencyMs: 100 } },
    { name: 'drops', stresses: 'camera frame drops: 80 % of frames lost (a 30 Hz camera delivering ~6 frames/s)', opts: { latencyMs: 30, dropRate: 0.8 } },
    { name: 'hidden', stresses: 'a hidden gate: the middle gate of the track is invisible to the camera (it still counts and collides)', opts: { latencyMs: 30 } },
    { name: 'drift', stresses: 'a gyro bias the calibration at rest never saw: +0.6 °/s (10 mrad/s) about body z from take-off on (vibration and motor heat shift a MEMS gyro in flight)', opts: { latencyMs: 30, gyroBiasShiftRadS: 0.01 } },
    { name: 'drops+drift', stresses: 'both at once: 80 % of frames lost and the in-flight gyro bias step of drift (the heading runs on the drifting gyro for longer between the gate views that correct it)', opts: { latencyMs: 30, dropRate: 0.8, gyroBiasShiftRadS: 0.01 } },
    { name: 'heavy', stresses: 'a heavier vehicle than configured: it weighs 1.3× the mass the controller is told (payload, battery, wrong config: every command falls short)', opts: { latencyMs: 30, massScale: 1.3 } },
  ];
}

export function defaultVariants(): AblationVariant[] {
  return [
    { name: 'full pipeline', controller: 'pipeline' },
    { name: '− cerebellum', controller: 'pipeline', ablate: { cerebellum: true } },
    { name: '− hippocampus memory', controller: 'pipeline', ablate: { hippocampusMemory: true } },
    { name: '− cortex', controller: 'pipeline', ablate: { cortex: true } },
    { name: 'pid baseline', controller: 'pid' },
  ];
}

/**
 * The named entries of `all`, in the order given ("a,b"; '-' matches '−' so a shell user can type
 * "- cortex"); an unknown name throws, listing the known ones.
 */
export function pickByName<T extends { name: string }>(all: T[], names: string, what: string): T[] {
  const norm = (s: string): string => s.trim().replace(/\u2212/g, '-').toLowerCase();
  return names.split(',').map((n) => {
    const hit = all.find((x) => norm(x.name) === norm(n));
    if (!hit) throw new Error(`unknown ${what} '${n.trim()}' (known: ${all.map((x) => x.name).join(', ')})`);
    return hit;
  });
}

const mean = (xs: number[]): number | null => (xs.length ? Math.round((xs.reduce((a, b) => a + b, 0) / xs.length) * 100) / 100 : null);

export interface AblationOptions {
  track: string;
  seeds: number;
  laps: number;
  command: string;
  conditions?: AblationCondition[];
  variants?: AblationVariant[];
  onRun?: (done: number, total: number, label: string) => void;
}

/** One race of the ablation: everything a worker needs, plain data. */
export interface AblationJob {
  condition: number;
  variant: number;
  seed: number;
  race: RaceOptions;
  label: string;
}

/** What the table needs from one race. */
export interface AblationRun {
  completed: boolean;
  crashes: number;
  laps: { lap: number; timeS: number; gatesPassed: number; gatesTotal: number; crashed: boolean }[];
}

function ablationJobs(o: AblationOptions, conditions: AblationCondition[], variants: AblationVariant[]): AblationJob[] {
  const jobs: AblationJob[] = [];
  conditions.forEach((c, ci) =>
    variants.forEach((v, vi) => {
      for (let seed = 1; seed <= o.seeds; seed++) {
        const race: RaceOptions = { ...RACE_DEFAULTS, ...c.opts, track: o.track, laps: o.laps, seed, controller: v.controller, progress: false };
        if (v.ablate) race.ablate = v.ablate;
        if (c.name === 'hidden') race.hiddenGates = [Math.floor(loadTrack(o.track).gates.length / 2)];
        jobs.push({ condition: ci, variant: vi, seed, race, label: `${c.name} · ${v.name} · seed ${seed}` });
      }
    }),
  );
  return jobs;
}

export function flyAblationJob(job: AblationJob): AblationRun {
  const { result } = flyRace(job.race);
  return { completed: result.completed, crashes: result.crashes, laps: result.laps };
}

function tabulate(o: AblationOptions, conditions: AblationCondition[], variants: AblationVariant[], jobs: AblationJob[], runs: AblationRun[]): AblationReport {
  const cells: AblationCell[] = [];
  conditions.forEach((c, ci) =>
    variants.forEach((v, vi) => {
      const lapTimes: number[] = [];
      const later: number[] = [];
      let completed = 0, gatesPassed = 0, gatesTotal = 0, crashes = 0, n = 0;
      jobs.forEach((j, k) => {
        if (j.condition !== ci || j.variant !== vi) return;
        const r = runs[k]!;
        n++;
        if (r.completed) completed++;
        crashes += r.crashes;
        for (const l of r.laps) {
          gatesPassed += l.gatesPassed;
          gatesTotal += l.gatesTotal;
          if (l.gatesPassed === l.gatesTotal && !l.crashed) {
            lapTimes.push(l.timeS);
            if (l.lap >= 2) later.push(l.timeS);
          }
        }
        gatesTotal += (o.laps - r.laps.length) * (r.laps[0]?.gatesTotal ?? 0);
      });
      cells.push({ variant: v.name, condition: c.name, runs: n, completed, successRate: completed / n, meanLapS: mean(lapTimes), meanLaterLapS: mean(later), gatesPassed, gatesTotal, crashes });
    }),
  );
  const seeds = Array.from({ length: o.seeds }, (_, i) => i + 1);
  return { track: o.track, seeds, laps: o.laps, command: o.command, conditions, variants, cells };
}

export function runAblation(o: AblationOptions): AblationReport {
  const conditions = o.conditions ?? defaultConditions();
  const variants = o.variants ?? defaultVariants();
  const jobs = ablationJobs(o, conditions, variants);
  const runs = jobs.map((j, k) => {
    const r = flyAblationJob(j);
    o.onRun?.(k + 1, jobs.length, j.label);
    return r;
  });
  return tabulate(o, conditions, variants, jobs, runs);
}

/**
 * The same ablation over `jobs` worker threads: every race is seeded and independent, so the table is
 * identical to the sequential one, only sooner.
 */
export async function runAblationParallel(o: AblationOptions & { jobs: number }): Promise<AblationReport> {
  if (o.jobs <= 1) return runAblation(o);
  const { Worker } = await import('node:worker_threads');
  const conditions = o.conditions ?? defaultConditions();
  const variants = o.variants ?? defaultVariants();
  const jobs = ablationJobs(o, conditions, variants);
  const runs: AblationRun[] = new Array(jobs.length);
  let next = 0, done = 0;
  // from source (tsx, vitest) the worker is TypeScript too and needs tsx's loader; built, it is plain JS
  const fromSource = import.meta.url.endsWith('.ts');
  const url = new URL(fromSource ? './ablate-worker.ts' : './ablate-worker.js', import.meta.url);
  await Promise.all(
    Array.from({ length: Math.min(o.jobs, jobs.length) }, async () => {
      const w = fromSource
        ? new Worker(`import('tsx/esm/api').then((t) => { t.register(); return import(${JSON.stringify(url.href)}); });`, { eval: true })
        : new Worker(url);
      try {
        while (next < jobs.length) {
          const k = next++;
          runs[k] = await new Promise<AblationRun>((resolve, reject) => {
            const onMsg = (m: { ok: boolean; run?: AblationRun; error?: string }): void => {
              w.off('error', reject);
              if (m.ok) resolve(m.run!);
              else reject(new Error(`ablation run ${jobs[k]!.label} failed: ${m.error}`));
            };
            w.once('message', onMsg);
            w.once('error', reject);
            w.postMessage(jobs[k]);
          });
          o.onRun?.(++done, jobs.length, jobs[k]!.label);
        }
      } finally {
        await w.terminate();
      }
    }),
  );
  return tabulate(o, conditions, variants, jobs, runs);
}

export function ablationMarkdown(r: AblationReport): string {
  const lines: string[] = [];
  lines.push(`# Ablation: does every region earn its place?`);
  lines.push('');
  lines.push(`Track \`${r.track}\`, ${r.laps} laps, seeds ${r.seeds.join(', ')}. Produced by:`);
  lines.push('');
  lines.push('```sh');
  lines.push(r.command);
  lines.push('```');
  lines.push('');
  lines.push('Each cell: success rate (runs that flew every lap through every gate without a crash) · gates passed of all');
  lines.push('gates of all requested laps · mean lap time of clean laps · mean time of clean laps 2+ (flown from memory).');
  lines.push('"—" = no clean lap.');
  lines.push('');
  lines.push('| variant | ' + r.conditions.map((c) => c.name).join(' | ') + ' |');
  lines.push('|---|' + r.conditions.map(() => '---').join('|') + '|');
  for (const v of r.variants) {
    const cells = r.conditions.map((c) => {
      const x = r.cells.find((k) => k.variant === v.name && k.condition === c.name)!;
      const f = (t: number | null) => (t === null ? '—' : `${t.toFixed(2)} s`);
      const gates = x.gatesTotal > 0 ? `${Math.round((100 * x.gatesPassed) / x.gatesTotal)} % gates` : '—';
      return `${Math.round(x.successRate * 100)} % · ${gates} · ${f(x.meanLapS)} · ${f(x.meanLaterLapS)}`;
    });
    lines.push(`| ${v.name} | ${cells.join(' | ')} |`);
  }
  lines.push('');
  lines.push('Conditions:');
  for (const c of r.conditions) lines.push(`- **${c.name}**: ${c.stresses}.`);
  lines.push('');
  return lines.join('\n');
}
