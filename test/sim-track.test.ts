import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Rng } from '../src/rng.js';
import type { Vec3 } from '../src/math/vec3.js';
import { gateCorners, segmentGateFrameDistance } from '../sim/gates.js';
import {
  DEFAULT_TRACK,
  TrackError,
  innerOpeningBottomZ,
  listTracks,
  loadTrack,
  parseTrack,
  perturbTrack,
} from '../sim/track.js';
import type { GateSpec } from '../sim/types.js';

const DEG = Math.PI / 180;
const heading = (a: Vec3, b: Vec3): number => Math.atan2(b[1] - a[1], b[0] - a[0]);
const angDiff = (a: number, b: number): number => Math.atan2(Math.sin(a - b), Math.cos(a - b));
const bisector = (hin: number, hout: number): number =>
  Math.atan2(Math.sin(hin) + Math.sin(hout), Math.cos(hin) + Math.cos(hout));
const horiz = (a: Vec3, b: Vec3): number => Math.hypot(a[0] - b[0], a[1] - b[1]);
const dist = (a: Vec3, b: Vec3): number => Math.hypot(a[0] - b[0], a[1] - b[1], a[2] - b[2]);
const stacked = (a: GateSpec, b: GateSpec): boolean => horiz(a.centerEnuM, b.centerEnuM) < 0.5;

const tmp = mkdtempSync(join(tmpdir(), 'bp-track-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const writeTmp = (name: string, text: string): string => {
  const f = join(tmp, name);
  writeFileSync(f, text);
  return f;
};
const errorOf = (fn: () => unknown): TrackError => {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(TrackError);
    return e as TrackError;
  }
  throw new Error('expected a TrackError');
};

const GOOD = `name: t
description: test track
gates:
  - center: [0, 0, 2]
    yawDeg: 0
  - center: [10, 0, 2]
    yawDeg: 90
  - center: [10, 10, 2]
    yawDeg: 180
start:
  position: [-5, 0, 0.15]
  yawDeg: 0
arena:
  min: [-10, -10, 0]
  max: [20, 20, 8]
`;

describe('track loading', () => {
  it('lists and loads every shipped track', () => {
    const names = listTracks();
    expect(names).toEqual(expect.arrayContaining(['aigp-qualifier', 'split-s', 'warmup']));
    expect(names).toContain(DEFAULT_TRACK);
    for (const n of names) {
      const t = loadTrack(n);
      expect(t.name).toBe(n);
      expect(t.description.length).toBeGreaterThan(10);
      expect(t.gates.length).toBeGreaterThan(0);
      t.gates.forEach((g, i) => {
        expect(g.index).toBe(i);
        expect(g.innerM).toBe(1.5);
        expect(g.outerM).toBe(2.7);
        expect(g.depthM).toBe(0.26);
        expect(Math.abs(g.yawRad)).toBeLessThanOrEqual(Math.PI);
      });
    }
    expect(loadTrack().name).toBe(DEFAULT_TRACK);
  });

  it('loads a track by path and applies defaults and per-gate overrides', () => {
    const f = writeTmp(
      'ok.yaml',
      GOOD.replace('description: test track', 'description: test track\ngateDefaults: { inner: 1.0, outer: 2.0 }').replace(
        '    yawDeg: 90',
        '    yawDeg: 90\n    pitchDeg: 10\n    depth: 0.1',
      ),
    );
    const t = loadTrack(f);
    expect(t.gates[0]).toMatchObject({ innerM: 1.0, outerM: 2.0, depthM: 0.26, pitchRad: 0, yawRad: 0 });
    expect(t.gates[1]!.depthM).toBe(0.1);
    expect(t.gates[1]!.pitchRad).toBeCloseTo(10 * DEG, 12);
    expect(t.gates[1]!.yawRad).toBeCloseTo(Math.PI / 2, 12);
    expect(Math.abs(t.gates[2]!.yawRad)).toBeCloseTo(Math.PI, 12);
    expect(t.start).toEqual({ posEnuM: [-5, 0, 0.15], yawRad: 0 });
    expect(t.arena).toEqual({ minEnuM: [-10, -10, 0], maxEnuM: [20, 20, 8] });
  });

  it('a missing field names the file, the field path and the line', () => {
    const f = writeTmp('missing.yaml', GOOD.replace('  yawDeg: 0\narena', 'arena'));
    const e = errorOf(() => loadTrack(f));
    expect(e.message).toContain(f);
    expect(e.message).toMatch(/start\.yawDeg: missing required field/);
    expect(e.message).toMatch(/line 1[0-9]/);
  });

  it('a wrong type names the field path', () => {
    const f = writeTmp('type.yaml', GOOD.replace('center: [10, 10, 2]', 'center: "north"'));
    const e = errorOf(() => loadTrack(f));
    expect(e.message).toContain(f);
    expect(e.message).toContain('gates[2].center');
    expect(e.message).toMatch(/expected tuple|expected array/);
    expect(e.message).toContain('line 8');
    const e2 = errorOf(() => parseTrack(GOOD.replace('center: [10, 0, 2]', 'center: [10, "x", 2]'), 'mem.yaml'));
    expect(e2.message).toContain('mem.yaml');
    expect(e2.message).toContain('gates[1].center[1]');
    expect(e2.message).toMatch(/expected number/);
  });

  it('an unknown key is an error naming it', () => {
    const f = writeTmp('unknown.yaml', GOOD.replace('    yawDeg: 90', '    yawDeg: 90\n    colour: red'));
    const e = errorOf(() => loadTrack(f));
    expect(e.message).toContain(f);
    expect(e.message).toContain("gates[1].colour: unknown key 'colour'");
    const e2 = errorOf(() => parseTrack(GOOD + 'weather: rain\n', 'x.yaml'));
    expect(e2.message).toContain("weather: unknown key 'weather'");
  });

  it('a YAML syntax error names the file and the line', () => {
    const f = writeTmp('syntax.yaml', GOOD.replace('center: [10, 0, 2]', 'center: [10, 0, 2'));
    const e = errorOf(() => loadTrack(f));
    expect(e.message).toContain(f);
    expect(e.message).toMatch(/line \d+, column \d+: YAML syntax error/);
    const e2 = errorOf(() => parseTrack('name: a\ndescription: "b\n', 'bad.yaml'));
    expect(e2.message).toMatch(/^bad\.yaml: line 3, column 1: YAML syntax error: Missing closing/);
    const e3 = errorOf(() => parseTrack('name: a\nname: b\n', 'dup.yaml'));
    expect(e3.message).toMatch(/^dup\.yaml: line 2, column 1: YAML syntax error: Map keys must be unique/);
  });

  it('rejects geometric nonsense', () => {
    expect(errorOf(() => parseTrack(GOOD.replace('    yawDeg: 90', '    yawDeg: 90\n    inner: 3'), 'g.yaml')).message).toMatch(
      /gates\[1\]\.inner: inner \(3\) must be smaller than outer \(2\.7\)/,
    );
    expect(errorOf(() => parseTrack(GOOD.replace('max: [20, 20, 8]', 'max: [20, -20, 8]'), 'g.yaml')).message).toContain('arena.max[1]');
    expect(errorOf(() => parseTrack(GOOD.replace('[10, 10, 2]', '[10, 30, 2]'), 'g.yaml')).message).toContain(
      'gates[2].center: lies outside the arena',
    );
    expect(errorOf(() => parseTrack(GOOD.replace('gates:\n', 'gates: []\nx:\n'), 'g.yaml')).message).toContain('g.yaml');
    expect(errorOf(() => parseTrack(GOOD.replace('yawDeg: 90', 'yawDeg: .inf'), 'g.yaml')).message).toContain('gates[1].yawDeg');
    expect(errorOf(() => parseTrack(GOOD.replace('    yawDeg: 90', '    yawDeg: 90\n    depth: -1'), 'g.yaml')).message).toContain(
      'gates[1].depth',
    );
  });

  it('an unknown track name lists the available ones', () => {
    const e = errorOf(() => loadTrack('monaco'));
    expect(e.message).toContain("unknown track 'monaco'");
    for (const n of ['aigp-qualifier', 'split-s', 'warmup']) expect(e.message).toContain(n);
    expect(errorOf(() => loadTrack(join(tmp, 'nope.yaml'))).message).toContain('not found');
  });
});

/** Checks every shipped track must meet. */
describe.each(['aigp-qualifier', 'split-s', 'warmup'])('shipped track %s', (name) => {
  const t = loadTrack(name);
  const { minEnuM: amin, maxEnuM: amax } = t.arena;

  it('keeps gates and start inside the arena with ≥ 3 m margin', () => {
    for (const g of t.gates) {
      for (const c of gateCorners(g, 'outer')) {
        expect(c[0] - amin[0]).toBeGreaterThanOrEqual(3);
        expect(amax[0] - c[0]).toBeGreaterThanOrEqual(3);
        expect(c[1] - amin[1]).toBeGreaterThanOrEqual(3);
        expect(amax[1] - c[1]).toBeGreaterThanOrEqual(3);
        expect(amax[2] - c[2]).toBeGreaterThanOrEqual(3);
      }
      expect(innerOpeningBottomZ(g)).toBeGreaterThanOrEqual(0.05 - 1e-9);
    }
    const s = t.start.posEnuM;
    expect(s[2]).toBeCloseTo(0.15, 9);
    expect(Math.min(s[0] - amin[0], amax[0] - s[0], s[1] - amin[1], amax[1] - s[1])).toBeGreaterThanOrEqual(2);
  });

  it('has no overlapping gates (stacked gates only touch)', () => {
    for (let i = 0; i < t.gates.length; i++) {
      for (let j = i + 1; j < t.gates.length; j++) {
        const a = t.gates[i]!, b = t.gates[j]!;
        if (stacked(a, b)) {
          expect(Math.abs(a.centerEnuM[2] - b.centerEnuM[2])).toBeGreaterThanOrEqual((a.outerM + b.outerM) / 2 - 1e-9);
          continue;
        }
        // the frames are ≥ 1 m apart: every edge of b's outer square keeps clear of a's frame
        const cb = gateCorners(b, 'outer');
        for (let k = 0; k < 4; k++) {
          expect(segmentGateFrameDistance(a, cb[k]!, cb[(k + 1) % 4]!)).toBeGreaterThan(1);
        }
        expect(dist(a.centerEnuM, b.centerEnuM)).toBeGreaterThan(4);
      }
    }
  });

  it('has flyable chords: start → gate 1 and gate → next gate keep ≥ 1 m from every other gate', () => {
    // (the end gates themselves are flown through on a curve aligned with their axis, not on the chord;
    // the flight tests in sim-gates.test.ts fly through them along their axes)
    const n = t.gates.length;
    const legs: Array<[Vec3, Vec3, number[]]> = [[t.start.posEnuM, t.gates[0]!.centerEnuM, [0]]];
    for (let i = 0; i < n; i++) {
      const a = t.gates[i]!, b = t.gates[(i + 1) % n]!;
      if (stacked(a, b)) continue; // the split-S half-loop is not a straight line
      legs.push([a.centerEnuM, b.centerEnuM, [a.index, b.index]]);
    }
    for (const [p, q, ends] of legs) {
      for (const g of t.gates) {
        if (!ends.includes(g.index)) expect(segmentGateFrameDistance(g, p, q)).toBeGreaterThanOrEqual(1);
      }
    }
  });
});

describe('split-s', () => {
  const t = loadTrack('split-s');
  const centres: Vec3[] = [
    [-1.1, -1.6, 3.6],
    [9.2, 6.6, 1.0],
    [9.2, -4.0, 1.2],
    [-4.5, -6.0, 3.5],
    [-4.5, -6.0, 0.8],
    [4.75, -0.9, 1.2],
    [-2.8, 6.8, 1.2],
  ];

  it('has the 7 published gate centres in order', () => {
    expect(t.gates.map((g) => g.centerEnuM)).toEqual(centres);
  });

  it('orients gates along the flight path; the stacked pair is flown both ways', () => {
    for (const i of [0, 1, 2, 5, 6]) {
      const prev = centres[(i + 6) % 7]!, cur = centres[i]!, next = centres[(i + 1) % 7]!;
      const want = bisector(heading(prev, cur), heading(cur, next));
      expect(Math.abs(angDiff(t.gates[i]!.yawRad, want))).toBeLessThan(0.1 * DEG);
    }
    const up = t.gates[3]!, low = t.gates[4]!;
    expect(Math.cos(up.yawRad)).toBeLessThan(-0.9); // heading ≈ −x
    expect(Math.cos(low.yawRad)).toBeGreaterThan(0.9); // heading ≈ +x
    expect(Math.abs(angDiff(up.yawRad, low.yawRad + Math.PI))).toBeLessThan(1e-9); // one plane
    // within 15° of the chord in from gate 3 and the chord out to gate 6
    expect(Math.abs(angDiff(up.yawRad, heading(centres[2]!, centres[3]!)))).toBeLessThan(15 * DEG);
    expect(Math.abs(angDiff(low.yawRad, heading(centres[4]!, centres[5]!)))).toBeLessThan(15 * DEG);
  });

  it('starts on the ground facing gate 1 in a 30 × 30 × 8 m arena', () => {
    expect(t.start.posEnuM).toEqual([-5, 4.5, 0.15]);
    expect(Math.abs(angDiff(t.start.yawRad, heading(t.start.posEnuM, centres[0]!)))).toBeLessThan(0.1 * DEG);
    const size = t.arena.maxEnuM.map((v, k) => v - t.arena.minEnuM[k]!);
    expect(size).toEqual([30, 30, 8]);
  });
});

describe('aigp-qualifier', () => {
  const t = loadTrack('aigp-qualifier');
  const n = t.gates.length;
  const c = (i: number): Vec3 => t.gates[(i + n) % n]!.centerEnuM;

  it('has 8–10 gates at 1.2–3 m, 6–15 m apart, turning 45–120°, gates along the path', () => {
    expect(n).toBeGreaterThanOrEqual(8);
    expect(n).toBeLessThanOrEqual(10);
    let leftTurns = 0, rightTurns = 0;
    for (let i = 0; i < n; i++) {
      expect(c(i)[2]).toBeGreaterThanOrEqual(1.2);
      expect(c(i)[2]).toBeLessThanOrEqual(3);
      const d = dist(c(i), c(i + 1));
      expect(d).toBeGreaterThanOrEqual(6);
      expect(d).toBeLessThanOrEqual(15);
      const hin = heading(c(i - 1), c(i)), hout = heading(c(i), c(i + 1));
      const turn = angDiff(hout, hin) / DEG;
      expect(Math.abs(turn)).toBeGreaterThanOrEqual(45);
      expect(Math.abs(turn)).toBeLessThanOrEqual(120);
      if (turn > 0) leftTurns++;
      else rightTurns++;
      expect(Math.abs(angDiff(t.gates[i]!.yawRad, bisector(hin, hout)))).toBeLessThan(0.1 * DEG);
    }
    expect(leftTurns).toBeGreaterThan(0);
    expect(rightTurns).toBeGreaterThan(0);
    const heights = new Set(t.gates.map((g) => g.centerEnuM[2]));
    expect(heights.size).toBeGreaterThanOrEqual(4);
  });

  it('sits in a ≈ 50 × 26 m field with the start box 7.4 m before gate 1', () => {
    const size = t.arena.maxEnuM.map((v, k) => v - t.arena.minEnuM[k]!);
    expect(size[0]).toBeCloseTo(50, 6);
    expect(size[1]).toBeCloseTo(26, 6);
    const g1 = t.gates[0]!;
    const s = t.start.posEnuM;
    expect(horiz(s, g1.centerEnuM)).toBeCloseTo(7.4, 1);
    expect(Math.abs(angDiff(heading(s, g1.centerEnuM), g1.yawRad))).toBeLessThan(0.5 * DEG);
    expect(Math.abs(angDiff(t.start.yawRad, g1.yawRad))).toBeLessThan(1e-9);
  });
});

describe('warmup', () => {
  it('is a gentle 4-gate oval about 20 × 12 m at 1.5–2 m', () => {
    const t = loadTrack('warmup');
    expect(t.gates).toHaveLength(4);
    const xs = t.gates.map((g) => g.centerEnuM[0]), ys = t.gates.map((g) => g.centerEnuM[1]);
    expect(Math.max(...xs) - Math.min(...xs)).toBeCloseTo(20, 6);
    expect(Math.max(...ys) - Math.min(...ys)).toBeCloseTo(12, 6);
    for (let i = 0; i < 4; i++) {
      const g = t.gates[i]!;
      expect(g.centerEnuM[2]).toBeGreaterThanOrEqual(1.5);
      expect(g.centerEnuM[2]).toBeLessThanOrEqual(2);
      // successive gates turn by 90° (counter-clockwise)
      expect(angDiff(t.gates[(i + 1) % 4]!.yawRad, g.yawRad) / DEG).toBeCloseTo(90, 6);
    }
  });
});

describe('perturbTrack', () => {
  const base = loadTrack('split-s');
  const snapshot = JSON.stringify(base);

  it('is deterministic per seed and differs across seeds', () => {
    const a = perturbTrack(base, new Rng(7));
    const b = perturbTrack(base, new Rng(7));
    const c = perturbTrack(base, new Rng(8));
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
    expect(JSON.stringify(base)).toBe(snapshot); // the input is untouched
    expect(a.start).toEqual(base.start);
    expect(a.arena).toEqual(base.arena);
    expect(a.start.posEnuM).not.toBe(base.start.posEnuM);
  });

  it('stays within bounds, keeps openings ≥ 0.05 m above ground and moves stacked gates together', () => {
    for (const track of [base, loadTrack('aigp-qualifier'), loadTrack('warmup')]) {
      // the most any gate (or its stack) may be raised to keep its opening clear of the ground
      const maxLift = Math.max(0, ...track.gates.map((o) => 0.05 - (innerOpeningBottomZ(o) - 0.4 / 3)));
      for (let seed = 0; seed < 200; seed++) {
        const p = perturbTrack(track, new Rng(seed), { posM: 0.4, yawDeg: 6 });
        p.gates.forEach((g, i) => {
          const o = track.gates[i]!;
          const d = g.centerEnuM.map((v, k) => v - o.centerEnuM[k]!);
          expect(Math.abs(d[0]!)).toBeLessThanOrEqual(0.4);
          expect(Math.abs(d[1]!)).toBeLessThanOrEqual(0.4);
          expect(d[2]!).toBeGreaterThanOrEqual(-0.4 / 3 - 1e-12);
          expect(d[2]!).toBeLessThanOrEqual(0.4 / 3 + maxLift + 1e-6);
          expect(Math.abs(angDiff(g.yawRad, o.yawRad))).toBeLessThanOrEqual(6 * DEG + 1e-12);
          expect(innerOpeningBottomZ(g)).toBeGreaterThanOrEqual(0.05);
          expect([g.innerM, g.outerM, g.depthM, g.pitchRad, g.index]).toEqual([o.innerM, o.outerM, o.depthM, o.pitchRad, o.index]);
        });
        if (track === base) {
          const up = p.gates[3]!, low = p.gates[4]!;
          expect(up.centerEnuM[0]).toBe(low.centerEnuM[0]);
          expect(up.centerEnuM[1]).toBe(low.centerEnuM[1]);
          expect(up.centerEnuM[2] - low.centerEnuM[2]).toBeCloseTo(2.7, 9);
          expect(Math.abs(angDiff(up.yawRad, low.yawRad + Math.PI))).toBeLessThan(1e-9);
        }
      }
    }
  });

  it('actually moves gates by about the requested amount', () => {
    const p = perturbTrack(loadTrack('aigp-qualifier'), new Rng(3));
    const moved = p.gates.map((g, i) => horiz(g.centerEnuM, loadTrack('aigp-qualifier').gates[i]!.centerEnuM));
    expect(Math.max(...moved)).toBeGreaterThan(0.1);
    const zero = perturbTrack(base, new Rng(3), { posM: 0, yawDeg: 0 });
    zero.gates.forEach((g, i) => {
      expect(g.yawRad).toBeCloseTo(base.gates[i]!.yawRad, 12);
      expect(g.centerEnuM[0]).toBe(base.gates[i]!.centerEnuM[0]);
      expect(g.centerEnuM[2]).toBeGreaterThanOrEqual(base.gates[i]!.centerEnuM[2]);
    });
  });
});

