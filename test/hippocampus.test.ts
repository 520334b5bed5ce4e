/**
 * The hippocampus' map filter on a synthetic flight: the gates' real positions differ from the prior
 * map, the accelerometer is biased and noisy, sightings are noisy; the map and the pose must converge
 * to the truth, passes must advance the target, and the learned map must survive save/load.
 */
import { describe, expect, it } from 'vitest';
import { Hippocampus } from '../src/regions/hippocampus.js';
import { Rng } from '../src/rng.js';
import type { Vec3 } from '../src/math/vec3.js';

const prior = [
  { centerEnuM: [10, 0, 2] as Vec3, yawRad: 0 },
  { centerEnuM: [20, 10, 2] as Vec3, yawRad: Math.PI / 2 },
];
const truth: Vec3[] = [
  [10.3, -0.25, 2.1],
  [19.8, 10.2, 1.9],
];

/** Fly a straight line at constant velocity through gate 0 while sighting it at 30 Hz. */
function fly(h: Hippocampus, rng: Rng, opts: { bias: Vec3; sightings: boolean; untilX: number }) {
  const v: Vec3 = [5, 0, 0];
  const p: Vec3 = [0, 0, 2];
  let t = 0;
  const dt = 0.002;
  let nextFrame = 0;
  let out = h.step({ kind: 'imu', stampS: 0, accEnuMS2: [0, 0, 0] });
  const passed: number[] = [];
  // start moving: the filter starts at rest; give it the initial velocity as an acceleration pulse
  for (let k = 0; k < 50; k++) {
    t += dt;
    for (let a = 0; a < 3; a++) p[a] = p[a]! + (v[a]! * (k + 0.5)) / 50 * dt;
    out = h.step({ kind: 'imu', stampS: t, accEnuMS2: [v[0] / (50 * dt) + opts.bias[0] + 0.05 * rng.gauss(), opts.bias[1] + 0.05 * rng.gauss(), opts.bias[2] + 0.05 * rng.gauss()] });
  }
  while (p[0] < opts.untilX) {
    t += dt;
    for (let a = 0; a < 3; a++) p[a] = p[a]! + v[a]! * dt;
    out = h.step({ kind: 'imu', stampS: t, accEnuMS2: [opts.bias[0] + 0.05 * rng.gauss(), opts.bias[1] + 0.05 * rng.gauss(), opts.bias[2] + 0.05 * rng.gauss()] });
    if (out.passed >= 0) passed.push(out.passed);
    if (opts.sightings && t >= nextFrame && truth[0]![0] - p[0] > 1.5) {
      nextFrame += 1 / 30;
      const rel: Vec3 = [0, 1, 2].map((a) => truth[0]![a]! - p[a]!) as Vec3;
      const range = Math.hypot(...rel);
      const noisy: Vec3 = rel.map((x) => x + rng.gauss() * (0.02 + 0.02 * range)) as Vec3;
      h.step({ kind: 'sighting', stampS: t, relEnuM: noisy, normalEnu: [-1, 0, 0], rangeM: range });
    }
  }
  return { out, p, passed };
}

describe('hippocampus', () => {
  it('corrects the gate and the pose from sightings, and advances on passing', () => {
    const h = new Hippocampus(prior, { posEnuM: [0, 0, 2], yawRad: 0 });
    const { out, p, passed } = fly(h, new Rng(1), { bias: [0.1, -0.08, 0.05], sightings: true, untilX: 11 });
    const g0 = h.gates[0]!.centerEnuM;
    // the gate estimate moved from the prior (0.3 m off) to within a few cm of the truth
    expect(Math.hypot(g0[0] - truth[0]![0], g0[1] - truth[0]![1], g0[2] - truth[0]![2])).toBeLessThan(0.08);
    expect(Math.hypot(out.posEnuM[0] - p[0], out.posEnuM[1] - p[1], out.posEnuM[2] - p[2])).toBeLessThan(0.15);
    expect(passed).toEqual([0]);
    expect(out.target).toBe(1);
    expect(h.gates[0]!.sightings).toBeGreaterThan(20);
    expect(h.sightingsAccepted).toBeGreaterThan(20);
  });

  it('without sightings the prior is kept and the pose drifts with the bias', () => {
    const h = new Hippocampus(prior, { posEnuM: [0, 0, 2], yawRad: 0 });
    const { out, p } = fly(h, new Rng(2), { bias: [0.1, -0.08, 0.05], sightings: false, untilX: 9 });
    expect(h.gates[0]!.centerEnuM).toEqual(prior[0]!.centerEnuM);
    expect(Math.hypot(out.posEnuM[0] - p[0], out.posEnuM[1] - p[1])).toBeGreaterThan(0.2);
  });

  it('associates a sighting with the gate it fits and rejects one that fits no gate', () => {
    const h = new Hippocampus(prior, { posEnuM: [0, 0, 2], yawRad: 0 });
    h.step({ kind: 'imu', stampS: 0.01, accEnuMS2: [0, 0, 0] });
    expect(h.step({ kind: 'sighting', stampS: 0.01, relEnuM: [19.9, 10.1, 0], normalEnu: null, rangeM: 22 }).associated).toBe(1);
    expect(h.step({ kind: 'sighting', stampS: 0.01, relEnuM: [-15, 8, 0], normalEnu: null, rangeM: 17 }).associated).toBe(-1);
    expect(h.sightingsRejected).toBe(1);
  });

  it('without a prior, a new gate is written into the map where it is seen', () => {
    const h = new Hippocampus(null, { posEnuM: [0, 0, 2], yawRad: 0 });
    h.step({ kind: 'imu', stampS: 0.01, accEnuMS2: [0, 0, 0] });
    // one sighting is not enough to write a gate (a single odd PnP must not make a phantom gate)
    const first = h.step({ kind: 'sighting', stampS: 0.01, relEnuM: [6, 1, 0], normalEnu: [-1, 0, 0], rangeM: 6.1 });
    expect(first.associated).toBe(-1);
    expect(h.gates).toHaveLength(0);
    h.step({ kind: 'sighting', stampS: 0.04, relEnuM: [6, 1, 0], normalEnu: [-1, 0, 0], rangeM: 6.1 });
    const out = h.step({ kind: 'sighting', stampS: 0.07, relEnuM: [6, 1, 0], normalEnu: [-1, 0, 0], rangeM: 6.1 });
    expect(out.associated).toBe(0);
    expect(h.gates).toHaveLength(1);
    expect(h.gates[0]!.centerEnuM[0]).toBeCloseTo(6, 5);
    expect(h.gates[0]!.centerEnuM[1]).toBeCloseTo(1, 5);
    expect(h.gates[0]!.yawRad).toBeCloseTo(0, 5);
    // seeing it again associates with it rather than adding another
    expect(h.step({ kind: 'sighting', stampS: 0.1, relEnuM: [6.05, 0.95, 0.02], normalEnu: [-1, 0, 0], rangeM: 6.1 }).associated).toBe(0);
    expect(h.gates).toHaveLength(1);
  });

  it("learns a map gate's heading from close face-on sightings, not from far ones or ones 0.6 rad off", () => {
    const sightAt = (h: Hippocampus, t: number, yawRad: number, rangeM: number) =>
      h.step({ kind: 'sighting', stampS: t, relEnuM: [10, 0, 0], normalEnu: [-Math.cos(yawRad), -Math.sin(yawRad), 0], rangeM });
    const far = new Hippocampus(prior, { posEnuM: [0, 0, 2], yawRad: 0 });
    far.step({ kind: 'imu', stampS: 0.01, accEnuMS2: [0, 0, 0] });
    for (let i = 0; i < 10; i++) expect(sightAt(far, 0.01 + i / 30, 0.2, 10).associated).toBe(0);
    expect(far.gates[0]!.yawRad).toBe(0); // 10 m: too far to trust the normal
    const h = new Hippocampus(prior, { posEnuM: [0, 0, 2], yawRad: 0 });
    h.step({ kind: 'imu', stampS: 0.01, accEnuMS2: [0, 0, 0] });
    const sigma0 = h.gates[0]!.yawSigmaRad;
    for (let i = 0; i < 10; i++) expect(sightAt(h, 0.01 + i / 30, 0.2, 6).associated).toBe(0);
    const g = h.gates[0]!;
    expect(g.yawRad).toBeGreaterThan(0.15);
    expect(g.yawRad).toBeLessThan(0.2 + 1e-9);
    expect(g.yawSigmaRad).toBeLessThan(sigma0);
    const learned = g.yawRad;
    sightAt(h, 0.5, learned + 0.65, 6); // 0.65 rad off the map: an outlier, ignored
    expect(h.gates[0]!.yawRad).toBe(learned);
  });

  it('with map learning ablated the prior is never overwritten', () => {
    const h = new Hippocampus(prior, { posEnuM: [0, 0, 2], yawRad: 0 }, { learnMap: false });
    fly(h, new Rng(3), { bias: [0, 0, 0], sightings: true, untilX: 9 });
    expect(h.gates[0]!.centerEnuM).toEqual(prior[0]!.centerEnuM);
  });

  it('saves and restores the learned map; refuses a wrong schema or gate count', () => {
    const h = new Hippocampus(prior, { posEnuM: [0, 0, 2], yawRad: 0 });
    fly(h, new Rng(4), { bias: [0, 0, 0], sightings: true, untilX: 9 });
    const saved = JSON.parse(JSON.stringify(h.saveState()));
    const h2 = new Hippocampus(prior, { posEnuM: [0, 0, 2], yawRad: 0 });
    h2.loadState(saved);
    expect(h2.gates[0]!.centerEnuM).toEqual(h.gates[0]!.centerEnuM);
    expect(h2.gates[0]!.sigmaM).toBeLessThan(0.1);
    expect(() => h2.loadState({ ...saved, schema: 99 })).toThrow(/schema 99/);
    expect(() => h2.loadState({ schema: 2, data: { gates: [] } })).toThrow(/0 gates/);
    // a memory of another track with the same gate count is refused, and the prior stays in use
    const other = JSON.parse(JSON.stringify(saved));
    other.data.gates[1].centerEnuM = [-20, 3, 2];
    expect(() => h2.loadState(other)).toThrow(/another track/);
    expect(h2.gates[1]!.centerEnuM).toEqual(prior[1]!.centerEnuM);
  });
});
