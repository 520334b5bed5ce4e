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
    { name: 'drops', stresses: 'camera frame drops: 60 % of frames lost', opts: { latencyMs: 30, dropRate: 0.6 } },
    { name: 'hidden', stresses: 'a hidden gate: the middle gate of the track is invisible to the camera (it still counts and collides)', opts: { latencyMs: 30 } },
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

const mean = (xs: number[]): number | null => (xs.length ? Math.round((xs.reduce((a, b) => a + b, 0) / xs.length) * 100) / 100 : null);

export function runAblation(o: {
  track: string;
  seeds: number;
  laps: number;
  command: string;
  conditions?: AblationCondition[];
  variants?: AblationVariant[];
  onRun?: (done: number, total: number, label: string) => void;
}): AblationReport {
  const conditions = o.conditions ?? defaultConditions();
  const variants = o.variants ?? defaultVariants();
  const seeds = Array.from({ length: o.seeds }, (_, i) => i + 1);
  const cells: AblationCell[] = [];
  const total = conditions.length * variants.length * seeds.length;
  let done = 0;
  for (const c of conditions) {
    for (const v of variants) {
      const lapTimes: number[] = [];
      const later: number[] = [];
      let completed = 0, gatesPassed = 0, gatesTotal = 0, crashes = 0;
      for (const seed of seeds) {
        const race: RaceOptions = { ...RACE_DEFAULTS, ...c.opts, track: o.track, laps: o.laps, seed, controller: v.controller, progress: false };
        if (v.ablate) race.ablate = v.ablate;
        if (c.name === 'hidden') race.hiddenGates = [Math.floor(loadTrack(o.track).gates.length / 2)];
        const { result } = flyRace(race);
        if (result.completed) completed++;
        crashes += result.crashes;
        for (const l of result.laps) {
          gatesPassed += l.gatesPassed;
          gatesTotal += l.gatesTotal;
          if (l.gatesPassed === l.gatesTotal && !l.crashed) {
            lapTimes.push(l.timeS);
            if (l.lap >= 2) later.push(l.timeS);
          }
        }
        // laps never started count as missed gates
        gatesTotal += (o.laps - result.laps.length) * (result.laps[0]?.gatesTotal ?? 0);
        o.onRun?.(++done, total, `${c.name} · ${v.name} · seed ${seed}`);
      }
      cells.push({
        variant: v.name,
        condition: c.name,
        runs: seeds.length,
        completed,
        successRate: completed / seeds.length,
        meanLapS: mean(lapTimes),
        meanLaterLapS: mean(later),
        gatesPassed,
        gatesTotal,
        crashes,
      });
    }
  }
  return { track: o.track, seeds, laps: o.laps, command: o.command, conditions, variants, cells };
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
