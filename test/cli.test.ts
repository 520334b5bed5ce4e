/**
 * What the CLI's users rely on, through the same functions the commands call: `race` writes the
 * results JSON and plots, `sim render` writes a PNG in which the first gate is visible, bad options
 * fail with a clear message, and `--state` carries learning from one run to the next.
 */
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { describe, expect, it } from 'vitest';
import { RACE_DEFAULTS, flyRace, readLearnedState, writeOutputs } from '../src/cli/race.js';
import { renderStill, parsePose } from '../src/cli/render.js';
import { plotSvg } from '../src/report/plot.js';
import { loadTrack } from '../sim/track.js';
import { cameraProfile, projectPoint } from '../sim/camera.js';
import { quatFromEuler } from '../src/math/quat.js';

const dir = mkdtempSync(join(tmpdir(), 'brainpilot-cli-'));

describe('race outputs', () => {
  it('writes the results JSON, an SVG plot with a PNG twin and the flight record', async () => {
    const { result, record } = flyRace({ ...RACE_DEFAULTS, controller: 'oracle', track: 'warmup', laps: 1, seed: 2 });
    const json = join(dir, 'r.json'), svg = join(dir, 'r.svg'), rec = join(dir, 'rec.json');
    await writeOutputs(result, record, { json, plot: svg, record: rec });
    const r = JSON.parse(readFileSync(json, 'utf8'));
    expect(r).toMatchObject({ track: 'warmup', controller: 'oracle', seed: 2, completed: true });
    const text = readFileSync(svg, 'utf8');
    expect(text.startsWith('<svg')).toBe(true);
    expect(text).toContain('top view');
    expect(text).toContain('side view');
    expect(text).toMatch(/lap 1: \d+\.\d\d s/);
    expect(text).toContain('<polyline');
    const png = PNG.sync.read(readFileSync(join(dir, 'r.png')));
    expect(png.width).toBe(1000);
    expect(JSON.parse(readFileSync(rec, 'utf8')).samples.length).toBeGreaterThan(20);
  });

  it('the plot marks a crash', () => {
    const svg = plotSvg({
      version: 1, track: 't', controller: 'c', seed: 1, gates: [], mapGates: [], commands: [], lapTimesS: [],
      samples: [{ tS: 0, posEnuM: [0, 0, 1], velEnuMS: [0, 0, 0], eulerRad: [0, 0, 0] }, { tS: 1, posEnuM: [1, 0, 1], velEnuMS: [0, 0, 0], eulerRad: [0, 0, 0] }],
      events: [{ kind: 'crash', tS: 1, cause: 'ground' }],
    });
    expect(svg).toContain('crash: ground');
  });
});

describe('sim render', () => {
  it('writes a PNG of the start view in which the first gate is visible', () => {
    const png = PNG.sync.read(renderStill({ track: 'split-s', camera: 'aigp-vq', seed: 1, perturb: false, format: 'png' }));
    expect([png.width, png.height]).toEqual([640, 360]);
    // the first gate's centre projects into the image, and gate orange surrounds it
    const t = loadTrack('split-s');
    const g = t.gates[0]!;
    const px = projectPoint(g.centerEnuM, t.start.posEnuM, quatFromEuler(0, 0, t.start.yawRad), cameraProfile('aigp-vq'))!;
    expect(px).not.toBeNull();
    let orange = 0;
    for (let v = Math.max(0, Math.round(px.v) - 60); v < Math.min(360, Math.round(px.v) + 60); v++) {
      for (let u = Math.max(0, Math.round(px.u) - 60); u < Math.min(640, Math.round(px.u) + 60); u++) {
        const i = (v * 640 + u) * 4;
        const r = png.data[i]!, gg = png.data[i + 1]!, b = png.data[i + 2]!;
        if (r > 170 && gg > 60 && gg < 140 && b < 60) orange++;
      }
    }
    expect(orange).toBeGreaterThan(300);
  });

  it('rejects a malformed pose with a message naming the expected form', () => {
    expect(() => parsePose('1,2,three,4')).toThrow(/x,y,z,yawDeg/);
    expect(parsePose('1,2,3,90').yawRad).toBeCloseTo(Math.PI / 2);
  });
});

describe('--state', () => {
  it('saves the learned state after a run and refuses a file that is not one', () => {
    const state = join(dir, 'brain.json');
    flyRace({ ...RACE_DEFAULTS, controller: 'pipeline', track: 'warmup', laps: 1, seed: 4, latencyMs: 30, statePath: state });
    expect(existsSync(state)).toBe(true);
    const regions = readLearnedState(state);
    expect(Object.keys(regions).sort()).toEqual(['cerebellum', 'cortex', 'cortexHeading', 'hippocampus']);
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, '{"hello": 1}');
    expect(() => readLearnedState(bad)).toThrow(/not a brainpilot learned-state file/);
  });
});

describe('ablate --jobs', () => {
  it('flies the races on worker threads and tabulates exactly what the sequential run does', async () => {
    const { runAblation, runAblationParallel, defaultConditions, defaultVariants } = await import('../src/cli/ablate.js');
    const o = {
      track: 'warmup',
      seeds: 2,
      laps: 1,
      command: 'test',
      conditions: defaultConditions().filter((c) => c.name === 'nominal'),
      variants: defaultVariants().filter((v) => v.name === 'full pipeline' || v.name === 'pid baseline'),
    };
    const seq = runAblation(o);
    const par = await runAblationParallel({ ...o, jobs: 2 });
    expect(par).toEqual(seq);
    expect(seq.cells.find((c) => c.variant === 'full pipeline')!.completed).toBe(2);
  }, 120_000);
});

describe('ablate --conditions / --variants', () => {
  it('picks the named entries in the order given, "-" standing for "−", and names the known ones on a typo', async () => {
    const { pickByName, defaultConditions, defaultVariants } = await import('../src/cli/ablate.js');
    expect(pickByName(defaultConditions(), 'heavy, drops', 'condition').map((c) => c.name)).toEqual(['heavy', 'drops']);
    expect(pickByName(defaultVariants(), 'full pipeline,- cortex', 'variant').map((v) => v.name)).toEqual(['full pipeline', '− cortex']);
    expect(() => pickByName(defaultConditions(), 'drop', 'condition')).toThrow(/unknown condition 'drop' \(known: nominal, latency, drops/);
  });
});
