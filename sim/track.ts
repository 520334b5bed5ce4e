/**
 * Race tracks: loading the YAML files in sim/tracks/, validating them, and perturbing them.
 *
 * Track YAML format (world ENU, metres, degrees; every key below is checked, unknown keys are errors):
 *
 *   name: split-s                 # string, required (by convention the file's base name)
 *   description: "…"              # string, required
 *   gateDefaults:                 # optional; each field optional; defaults = the DCL gate
 *     inner: 1.5                  #   inner (flyable) opening, square side, m
 *     outer: 2.7                  #   outer frame size, square side, m
 *     depth: 0.26                 #   frame depth along the pass direction, m
 *   gates:                        # ≥ 1 gates, in pass order
 *     - center: [x, y, z]         #   centre of the opening, ENU m (z = height above the ground)
 *       yawDeg: 90                #   heading of the pass direction (gate +x): 0 = east (+x), CCW positive
 *       pitchDeg: 0               #   optional, (−90, 90); positive = pass direction tilted down
 *       inner: 1.5                #   optional per-gate overrides of gateDefaults
 *       outer: 2.7
 *       depth: 0.26
 *   start:                        # where the drone rests before take-off
 *     position: [x, y, z]         #   ENU m; z is the height of the drone's centre (≈ 0.15 on its gear)
 *     yawDeg: 0                   #   initial heading, same convention as the gates
 *   arena:                        # axis-aligned box the drone must stay inside
 *     min: [x, y, z]              #   min z must be ≤ 0 (the ground, z = 0, is the floor)
 *     max: [x, y, z]
 *
 * Checks beyond types: inner < outer, sizes > 0, arena min < max on every axis, gate centres and the
 * start position inside the arena. Errors name the file, the field path (e.g. `gates[2].center`), the
 * line where that field sits when it can be found, and the problem.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { basename, extname, join, resolve } from 'node:path';
import { LineCounter, parseDocument } from 'yaml';
import { z } from 'zod';
import { packageRoot } from '../src/paths.js';
import type { Rng } from '../src/rng.js';
import { wrapPi, type Vec3 } from '../src/math/vec3.js';
import type { GateSpec, TrackSpec } from './types.js';

/** The track used when none is named. */
export const DEFAULT_TRACK = 'aigp-qualifier';

/** The DCL gate (AI Grand Prix and A2RL): inner opening, outer frame, depth, metres. */
export const DCL_GATE = { inner: 1.5, outer: 2.7, depth: 0.26 } as const;

const DEG = Math.PI / 180;

// ---------------------------------------------------------------------------------------------
// Schema

const finite = z.number();
const vec3Schema = z.tuple([finite, finite, finite]);
const sizeSchema = z.number().positive();

const gateSchema = z.strictObject({
  center: vec3Schema,
  yawDeg: finite,
  pitchDeg: z.number().gt(-90).lt(90).optional(),
  inner: sizeSchema.optional(),
  outer: sizeSchema.optional(),
  depth: sizeSchema.optional(),
});

const trackSchema = z.strictObject({
  name: z.string().min(1),
  description: z.string(),
  gateDefaults: z
    .strictObject({
      inner: sizeSchema.optional(),
      outer: sizeSchema.optional(),
      depth: sizeSchema.optional(),
    })
    .optional(),
  gates: z.array(gateSchema).min(1),
  start: z.strictObject({ position: vec3Schema, yawDeg: finite }),
  arena: z.strictObject({ min: vec3Schema, max: vec3Schema }),
});

type TrackFile = z.infer<typeof trackSchema>;

/** Semantic checks the type schema cannot express; each problem = [path, message]. */
function semanticProblems(t: TrackFile): Array<[(string | number)[], string]> {
  const out: Array<[(string | number)[], string]> = [];
  const { min, max } = t.arena;
  for (let k = 0; k < 3; k++) {
    if (!(min[k]! < max[k]!)) out.push([['arena', 'max', k], `must be greater than arena.min[${k}] (${min[k]})`]);
  }
  if (min[2] > 0) out.push([['arena', 'min', 2], 'must be ≤ 0: the ground (z = 0) is the arena floor']);
  const inside = (p: Vec3) => p.every((v, k) => v >= min[k]! && v <= max[k]!);
  const d = t.gateDefaults ?? {};
  t.gates.forEach((g, i) => {
    const inner = g.inner ?? d.inner ?? DCL_GATE.inner;
    const outer = g.outer ?? d.outer ?? DCL_GATE.outer;
    if (!(inner < outer)) {
      const where = g.inner !== undefined || g.outer !== undefined ? ['gates', i, g.outer !== undefined ? 'outer' : 'inner'] : ['gateDefaults'];
      out.push([where, `inner (${inner}) must be smaller than outer (${outer})`]);
    }
    if (!inside(g.center)) out.push([['gates', i, 'center'], 'lies outside the arena']);
  });
  if (!inside(t.start.position)) out.push([['start', 'position'], 'lies outside the arena']);
  if (t.start.position[2] < 0) out.push([['start', 'position', 2], 'must be ≥ 0 (above the ground)']);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Errors

/** A track file that cannot be used; `message` lists every problem, one per line. */
export class TrackError extends Error {
  constructor(
    readonly file: string,
    readonly problems: string[],
  ) {
    super(problems.length === 1 ? `${file}: ${problems[0]}` : `${file}: invalid track:\n  ${problems.join('\n  ')}`);
    this.name = 'TrackError';
  }
}

/** `['gates', 2, 'center']` → `gates[2].center`. */
export function formatPath(path: ReadonlyArray<PropertyKey>): string {
  let s = '';
  for (const p of path) {
    if (typeof p === 'number') s += `[${p}]`;
    else s += s === '' ? String(p) : `.${String(p)}`;
  }
  return s === '' ? '(root)' : s;
}

/** Whether `path` names a value present in plain parsed data. */
function hasPath(data: unknown, path: ReadonlyArray<PropertyKey>): boolean {
  let cur: unknown = data;
  for (const k of path) {
    if (cur === null || typeof cur !== 'object' || !Object.prototype.hasOwnProperty.call(cur, k)) return false;
    cur = (cur as Record<PropertyKey, unknown>)[k];
  }
  return cur !== undefined;
}

// ---------------------------------------------------------------------------------------------
// Loading

/** Folder holding the shipped tracks. */
export function tracksDir(): string {
  return join(packageRoot(), 'sim', 'tracks');
}

/** Names of the shipped tracks (file base names in sim/tracks/), sorted. */
export function listTracks(): string[] {
  const dir = tracksDir();
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith('.yaml') || f.endsWith('.yml'))
    .map((f) => basename(f, extname(f)))
    .sort();
}

/**
 * Load a track by shipped name (`split-s`) or by file path (anything with a path separator or a
 * .yaml/.yml extension, resolved against the working directory). Throws TrackError on any problem.
 */
export function loadTrack(nameOrPath: string = DEFAULT_TRACK): TrackSpec {
  const looksLikePath = /[\\/]/.test(nameOrPath) || /\.ya?ml$/i.test(nameOrPath);
  let file: string;
  if (looksLikePath) {
    file = resolve(nameOrPath);
    if (!existsSync(file)) throw new TrackError(nameOrPath, ['track file not found']);
  } else {
    const dir = tracksDir();
    const hit = ['.yaml', '.yml'].map((e) => join(dir, nameOrPath + e)).find((f) => existsSync(f));
    if (hit === undefined) {
      const names = listTracks();
      throw new TrackError(nameOrPath, [
        `unknown track '${nameOrPath}'; available: ${names.length ? names.join(', ') : '(none)'} (or give a path to a .yaml file)`,
      ]);
    }
    file = hit;
  }
  return parseTrack(readFileSync(file, 'utf8'), file);
}

/** Parse and validate track YAML text; `file` is only used to label errors. */
export function parseTrack(text: string, file = '<track>'): TrackSpec {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, uniqueKeys: true, prettyErrors: false });
  if (doc.errors.length > 0) {
    throw new TrackError(
      file,
      doc.errors.map((e) => {
        const pos = e.linePos?.[0] ?? (e.pos ? lineCounter.linePos(e.pos[0]) : undefined);
        const where = pos ? `line ${pos.line}, column ${pos.col}: ` : '';
        return `${where}YAML syntax error: ${e.message.split('\n')[0]}`;
      }),
    );
  }
  const data: unknown = doc.toJS();

  const lineOf = (path: ReadonlyArray<PropertyKey>): number | undefined => {
    // The deepest existing node on the path (a missing key is reported at its parent).
    for (let n = path.length; n >= 0; n--) {
      const keys = path.slice(0, n).map((k) => (typeof k === 'symbol' ? String(k) : k));
      const node = n === 0 ? doc.contents : doc.getIn(keys, true);
      const range = (node as { range?: [number, number, number] } | null | undefined)?.range;
      if (range) return lineCounter.linePos(range[0]).line;
    }
    return undefined;
  };
  const describe = (path: ReadonlyArray<PropertyKey>, message: string): string => {
    const line = lineOf(path);
    return `${formatPath(path)}: ${message}${line !== undefined ? ` (line ${line})` : ''}`;
  };

  const parsed = trackSchema.safeParse(data);
  if (!parsed.success) {
    throw new TrackError(
      file,
      parsed.error.issues.flatMap((iss) => {
        if (iss.code === 'unrecognized_keys') return iss.keys.map((k) => describe([...iss.path, k], `unknown key '${k}'`));
        if (iss.code === 'invalid_type' && !hasPath(data, iss.path)) return [describe(iss.path, `missing required field (${iss.message})`)];
        return [describe(iss.path, iss.message)];
      }),
    );
  }
  const t = parsed.data;
  const problems = semanticProblems(t);
  if (problems.length > 0) throw new TrackError(file, problems.map(([p, m]) => describe(p, m)));

  const d = t.gateDefaults ?? {};
  const gates: GateSpec[] = t.gates.map((g, index) => ({
    index,
    centerEnuM: [g.center[0], g.center[1], g.center[2]],
    yawRad: wrapPi(g.yawDeg * DEG),
    pitchRad: (g.pitchDeg ?? 0) * DEG,
    innerM: g.inner ?? d.inner ?? DCL_GATE.inner,
    outerM: g.outer ?? d.outer ?? DCL_GATE.outer,
    depthM: g.depth ?? d.depth ?? DCL_GATE.depth,
  }));
  return {
    name: t.name,
    description: t.description,
    gates,
    start: { posEnuM: [...t.start.position], yawRad: wrapPi(t.start.yawDeg * DEG) },
    arena: { minEnuM: [...t.arena.min], maxEnuM: [...t.arena.max] },
  };
}

// ---------------------------------------------------------------------------------------------
// Perturbation

export interface PerturbOptions {
  /** Uniform ± displacement on x and y, m (z gets ± posM / 3). Default 0.3. */
  posM?: number;
  /** Uniform ± yaw change, degrees. Default 5. */
  yawDeg?: number;
}

/** Lowest clearance the inner opening keeps above the ground after perturbation, m. */
export const MIN_OPENING_CLEARANCE_M = 0.05;

/** Height of the lowest inner-opening corner (on the gate's mid-plane) above the ground, m. */
export function innerOpeningBottomZ(g: GateSpec): number {
  return g.centerEnuM[2] - (g.innerM / 2) * Math.abs(Math.cos(g.pitchRad));
}

/**
 * A copy of `track` with its gates displaced as real gates stand elsewhere than the organisers'
 * map says: x, y uniform ± posM, z uniform ± posM/3, yaw uniform ± yawDeg. Gates stacked on one
 * spot (horizontal centre distance < 0.5 m, e.g. the split-S double gate) are one structure and move
 * together. A gate (or stack) is raised if needed so every inner opening stays ≥ 0.05 m above the
 * ground. Deterministic for a given rng state (4 draws per gate or stack, in gate order). Start,
 * arena, name and description are copied unchanged.
 */
export function perturbTrack(track: TrackSpec, rng: Rng, opts: PerturbOptions = {}): TrackSpec {
  const posM = opts.posM ?? 0.3;
  const yawDeg = opts.yawDeg ?? 5;
  const n = track.gates.length;
  // group stacked gates (union by horizontal proximity, transitively)
  const group = track.gates.map((_, i) => i);
  const root = (i: number): number => (group[i] === i ? i : (group[i] = root(group[i]!)));
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      const a = track.gates[i]!.centerEnuM, b = track.gates[j]!.centerEnuM;
      if (Math.hypot(a[0] - b[0], a[1] - b[1]) < 0.5) group[root(j)] = root(i);
    }
  }
  const offsets = new Map<number, { dx: number; dy: number; dz: number; dyaw: number }>();
  for (let i = 0; i < n; i++) {
    const r = root(i);
    if (!offsets.has(r)) {
      offsets.set(r, {
        dx: rng.uniform(-posM, posM),
        dy: rng.uniform(-posM, posM),
        dz: rng.uniform(-posM / 3, posM / 3),
        dyaw: rng.uniform(-yawDeg, yawDeg) * DEG,
      });
    }
  }
  const gates: GateSpec[] = track.gates.map((g) => {
    const o = offsets.get(root(g.index))!;
    return {
      ...g,
      centerEnuM: [g.centerEnuM[0] + o.dx, g.centerEnuM[1] + o.dy, g.centerEnuM[2] + o.dz],
      yawRad: wrapPi(g.yawRad + o.dyaw),
    };
  });
  // lift each group so that all its openings clear the ground
  const lift = new Map<number, number>();
  for (const g of gates) {
    const need = MIN_OPENING_CLEARANCE_M - innerOpeningBottomZ(g);
    const r = root(g.index);
    lift.set(r, Math.max(lift.get(r) ?? 0, need));
  }
  for (const g of gates) {
    const up = lift.get(root(g.index)) ?? 0;
    if (up > 0) g.centerEnuM[2] += up + 1e-9;
  }
  return {
    name: track.name,
    description: track.description,
    gates,
    start: { posEnuM: [...track.start.posEnuM], yawRad: track.start.yawRad },
    arena: { minEnuM: [...track.arena.minEnuM], maxEnuM: [...track.arena.maxEnuM] },
  };
}
