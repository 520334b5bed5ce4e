import { describe, expect, it } from 'vitest';
import type { Vec3 } from '../src/math/vec3.js';
import { GateJudge, gateBarBoxes, gateCorners, gateFrameOf, segmentGateFrameDistance } from '../sim/gates.js';
import { listTracks, loadTrack } from '../sim/track.js';
import type { GateSpec, SimEvent, TrackSpec } from '../sim/types.js';

const DEG = Math.PI / 180;

const gate = (index: number, center: Vec3, yawDeg = 0, pitchDeg = 0): GateSpec => ({
  index,
  centerEnuM: center,
  yawRad: yawDeg * DEG,
  pitchRad: pitchDeg * DEG,
  innerM: 1.5,
  outerM: 2.7,
  depthM: 0.26,
});

/** Three DCL gates in a row along +x at 2 m height. */
const straight = (): TrackSpec => ({
  name: 'straight',
  description: 'test',
  gates: [gate(0, [0, 0, 2]), gate(1, [10, 0, 2]), gate(2, [20, 0, 2])],
  start: { posEnuM: [-5, 0, 0.15], yawRad: 0 },
  arena: { minEnuM: [-20, -20, 0], maxEnuM: [40, 20, 10] },
});

/** Fly a polyline in steps of at most stepM at speedMS, starting at t = t0; returns all events. */
function fly(judge: GateJudge, pts: Vec3[], stepM: number, speedMS = 10, t0 = 0): { events: SimEvent[]; tEnd: number } {
  const events: SimEvent[] = [];
  let t = t0;
  judge.update(pts[0]!, pts[0]!, t); // establishes the clock
  for (let i = 1; i < pts.length; i++) {
    const a = pts[i - 1]!, b = pts[i]!;
    const len = Math.hypot(b[0] - a[0], b[1] - a[1], b[2] - a[2]);
    const n = Math.max(1, Math.ceil(len / stepM - 1e-9));
    let prev = a;
    for (let k = 1; k <= n; k++) {
      const s = k / n;
      const p: Vec3 = [a[0] + s * (b[0] - a[0]), a[1] + s * (b[1] - a[1]), a[2] + s * (b[2] - a[2])];
      t += len / n / speedMS;
      events.push(...judge.update(prev, p, t));
      prev = p;
    }
  }
  return { events, tEnd: t };
}

const kinds = (ev: SimEvent[]): string[] => ev.map((e) => (e.kind === 'gate' ? `gate${e.gate}` : e.kind));

describe('gate geometry', () => {
  it('gateFrameOf: +x is the pass direction, transforms round-trip, pitch tilts +x down', () => {
    const g = gate(0, [1, 2, 3], 90, 30);
    const f = gateFrameOf(g);
    const x = f.dirToWorld([1, 0, 0]);
    expect(x[0]).toBeCloseTo(0, 12);
    expect(x[1]).toBeCloseTo(Math.cos(30 * DEG), 12);
    expect(x[2]).toBeCloseTo(-Math.sin(30 * DEG), 12);
    const p: Vec3 = [0.3, -0.7, 1.1];
    const back = f.toGate(f.toWorld(p));
    p.forEach((v, k) => expect(back[k]).toBeCloseTo(v, 12));
    expect(f.toGate([1, 2, 3])).toEqual([0, 0, 0]);
    const y = f.dirToWorld([0, 1, 0]); // left of a north-bound pass = west
    expect(y[0]).toBeCloseTo(-1, 12);
  });

  it('gateCorners: mid-plane corners, top-left first as seen flying through', () => {
    const g = gate(0, [5, 0, 2], 90);
    const c = gateCorners(g, 'inner');
    const want: Vec3[] = [[4.25, 0, 2.75], [5.75, 0, 2.75], [5.75, 0, 1.25], [4.25, 0, 1.25]];
    c.forEach((p, i) => p.forEach((v, k) => expect(v).toBeCloseTo(want[i]![k]!, 12)));
    const o = gateCorners(g, 'outer');
    expect(o[0][0]).toBeCloseTo(5 - 1.35, 12);
    expect(o[2][2]).toBeCloseTo(2 - 1.35, 12);
  });

  it('bars form the ring between inner and outer; segment distance to the frame is exact', () => {
    const g = gate(0, [0, 0, 2]);
    const bars = gateBarBoxes(g);
    expect(bars).toHaveLength(4);
    expect(segmentGateFrameDistance(g, [-3, 0, 2], [3, 0, 2])).toBeCloseTo(0.75, 9);
    expect(segmentGateFrameDistance(g, [-3, 0.5, 2.1], [3, 0.5, 2.1])).toBeCloseTo(0.25, 9);
    expect(segmentGateFrameDistance(g, [-3, 1.0, 2], [3, 1.0, 2])).toBe(0);
    expect(segmentGateFrameDistance(g, [-3, 0, 2 + 1.35 + 0.4], [3, 0, 2 + 1.35 + 0.4])).toBeCloseTo(0.4, 9);
    expect(segmentGateFrameDistance(g, [-1, 0, 2], [-0.5, 0, 2])).toBeCloseTo(Math.hypot(0.5 - 0.13, 0.75), 9);
  });
});

describe('GateJudge passes', () => {
  it('a forward pass through the centre counts, with an interpolated time', () => {
    const j = new GateJudge(straight(), 0.15, 1);
    expect(j.update([-1, 0, 2], [-0.5, 0, 2], 0.5)).toEqual([]);
    const ev = j.update([-0.5, 0, 2], [0.5, 0, 2], 1.0);
    expect(ev).toEqual([{ kind: 'gate', tS: 0.75, gate: 0, lap: 1 }]);
    expect(j.nextGate).toBe(1);
    expect(j.gatesPassedThisLap).toBe(1);
    expect(j.lap).toBe(0);
    expect(j.crashed).toBe(false);
  });

  it('the wrong direction reports wrong-way and does not count', () => {
    const j = new GateJudge(straight(), 0.15, 1);
    const { events } = fly(j, [[1, 0.2, 2], [-1, 0.2, 2]], 0.05);
    expect(kinds(events)).toEqual(['wrong-way']);
    expect(events[0]).toMatchObject({ kind: 'wrong-way', gate: 0 });
    expect(j.nextGate).toBe(0);
    expect(j.gatesPassedThisLap).toBe(0);
  });

  it('out of order reports wrong-gate and does not count', () => {
    const j = new GateJudge(straight(), 0.15, 1);
    const { events } = fly(j, [[5, 0, 2], [12, 0, 2]], 0.05);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ kind: 'wrong-gate', gate: 1, expected: 0 });
    expect(j.nextGate).toBe(0);
    // the expected gate still counts afterwards
    const more = fly(j, [[12, 0, 5], [-2, 0, 5], [-2, 0, 2], [2, 0, 2]], 0.05).events;
    expect(kinds(more)).toEqual(['gate0']);
  });

  it('flying beside or above a gate is nothing', () => {
    const j = new GateJudge(straight(), 0.15, 1);
    const { events } = fly(j, [[-2, 3, 2], [2, 3, 2], [2, 0, 5], [-2, 0, 5]], 0.05);
    expect(events).toEqual([]);
    expect(j.nextGate).toBe(0);
  });

  it('a full lap gives gate events in order then a lap event with the lap time; laps chain', () => {
    const j = new GateJudge(straight(), 0.15, 2);
    const lap1 = fly(j, [[-5, 0, 0.15], [-5, 0, 2], [25, 0, 2]], 0.01, 10);
    expect(kinds(lap1.events)).toEqual(['gate0', 'gate1', 'gate2', 'lap']);
    // path length to gate 2 = 1.85 climb + 25 → 2.685 s at 10 m/s, timed from t = 0
    const lapEv = lap1.events[3]!;
    expect(lapEv).toMatchObject({ kind: 'lap', lap: 1 });
    if (lapEv.kind !== 'lap') throw new Error('unreachable');
    expect(lapEv.lapTimeS).toBeCloseTo(2.685, 9);
    expect(lapEv.tS).toBeCloseTo(2.685, 9);
    expect(lap1.events[2]).toMatchObject({ kind: 'gate', gate: 2, lap: 1 });
    expect(j.lap).toBe(1);
    expect(j.nextGate).toBe(0);
    expect(j.gatesPassedThisLap).toBe(0);
    expect(j.finished).toBe(false);
    // go round above the gates and fly lap 2
    const lap2 = fly(j, [[25, 0, 2], [25, 0, 6], [-5, 0, 6], [-5, 0, 2], [25, 0, 2]], 0.01, 10, lap1.tEnd);
    expect(kinds(lap2.events)).toEqual(['gate0', 'gate1', 'gate2', 'lap']);
    expect(lap2.events[0]).toMatchObject({ lap: 2 });
    // lap 2 runs from lap 1's end (gate 2, x = 20) to gate 2: 5 + 4 + 30 + 4 + 25 = 68 m
    expect(j.lapTimes).toHaveLength(2);
    expect(j.lapTimes[1]).toBeCloseTo(6.8, 9);
    expect(j.finished).toBe(true);
    // finished: no more gate events
    expect(fly(j, [[25, 0, 6], [-5, 0, 6], [-5, 0, 2], [5, 0, 2]], 0.01, 10, lap2.tEnd).events).toEqual([]);
  });

  it('several crossings in one long step come out in order', () => {
    const j = new GateJudge(straight(), 0.15, 1);
    j.update([-1, 0, 2], [-1, 0, 2], 0);
    const ev = j.update([-1, 0, 2], [23, 0, 2], 1.2);
    expect(kinds(ev)).toEqual(['gate0', 'gate1', 'gate2', 'lap']);
    expect(ev.map((e) => e.tS)).toEqual([0.05, 0.55, 1.05, 1.05].map((v) => expect.closeTo(v, 9)));
  });

  it('counts a pass through a pitched gate along its axis', () => {
    const t = straight();
    t.gates = [gate(0, [0, 0, 3], 0, 30)];
    const j = new GateJudge(t, 0.15, 1);
    const f = gateFrameOf(t.gates[0]!);
    const ev = fly(j, [f.toWorld([-2, 0, 0]), f.toWorld([2, 0, 0])], 0.05).events;
    expect(kinds(ev)).toEqual(['gate0', 'lap']);
  });
});

describe('GateJudge crashes', () => {
  it('clipping the frame bar (1.0 m from centre) is a gate-frame crash; then the judge is silent', () => {
    const j = new GateJudge(straight(), 0.15, 1);
    const { events } = fly(j, [[-1, 1.0, 2], [1, 1.0, 2]], 0.01);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ kind: 'crash', cause: 'gate-frame', gate: 0 });
    // first contact where the sphere meets the bar's front face: x = −0.13 − 0.15
    expect(events[0]!.tS).toBeCloseTo((1 - 0.28) / 10, 6);
    expect(j.crashed).toBe(true);
    expect(j.crash).toEqual(events[0]);
    expect(fly(j, [[-1, 0, 2], [1, 0, 2]], 0.01).events).toEqual([]);
    expect(j.nextGate).toBe(0);
  });

  it('through the opening 0.70 m off centre with radius 0.15 the sphere touches the inner edge: crash, no pass', () => {
    const j = new GateJudge(straight(), 0.15, 1);
    const { events } = fly(j, [[-1, 0.7, 2], [1, 0.7, 2]], 0.01);
    expect(kinds(events)).toEqual(['crash']);
    expect(events[0]).toMatchObject({ cause: 'gate-frame', gate: 0 });
    // the centre crossed the opening, but only after the sphere hit the bar
    expect(j.gatesPassedThisLap).toBe(0);
    // 0.55 m off centre clears (0.55 + 0.15 < 0.75); the same 0.70 m line clears a point-sized drone
    const ok = new GateJudge(straight(), 0.15, 1);
    expect(kinds(fly(ok, [[-1, 0.55, 2.55], [1, 0.55, 2.55]], 0.01).events)).toEqual(['gate0']);
    const point = new GateJudge(straight(), 0, 1);
    expect(kinds(fly(point, [[-1, 0.7, 2], [1, 0.7, 2]], 0.01).events)).toEqual(['gate0']);
  });

  it('a 30 m/s step of 10 ms straddling a bar is still a crash (no tunnelling)', () => {
    // radius 0.01: the inflated bar spans |x| < 0.14; the step goes x = −0.145 → +0.155, both ends outside it
    const j = new GateJudge(straight(), 0.01, 1);
    j.update([-0.445, 1.0, 2], [-0.445, 1.0, 2], 0);
    expect(j.update([-0.445, 1.0, 2], [-0.145, 1.0, 2], 0.01)).toEqual([]);
    const ev = j.update([-0.145, 1.0, 2], [0.155, 1.0, 2], 0.02);
    expect(kinds(ev)).toEqual(['crash']);
    expect(ev[0]).toMatchObject({ cause: 'gate-frame', gate: 0 });
    // and a whole run at 30 m/s with 10 ms and 1 ms steps, through a top bar and a corner diagonal
    for (const step of [0.3, 0.03]) {
      for (const [a, b] of [
        [[-3.145, 0, 3.0], [3.155, 0, 3.0]],
        [[-3, -3, 2 + 1.0], [3, 3, 2 + 1.0]],
        [[-3.145, 1.0, 2 - 1.0], [3.155, 1.0, 2 - 1.0]],
      ] as Array<[Vec3, Vec3]>) {
        const jj = new GateJudge(straight(), 0.01, 1);
        const { events } = fly(jj, [a, b], step, 30);
        expect(kinds(events)).toEqual(['crash']);
        expect(events[0]).toMatchObject({ cause: 'gate-frame', gate: 0 });
      }
    }
  });

  it('ground contact after take-off is a crash; resting before take-off is not', () => {
    const j = new GateJudge(straight(), 0.15, 1);
    // sitting and shuffling on the ground before take-off
    expect(fly(j, [[-5, 0, 0.15], [-5, 0, 0.1], [-4.8, 0.1, 0.12]], 0.01).events).toEqual([]);
    expect(j.tookOff).toBe(false);
    // hop below take-off height and land: still fine
    expect(fly(j, [[-4.8, 0.1, 0.12], [-4.8, 0.1, 0.45], [-4.8, 0.1, 0.14]], 0.01).events).toEqual([]);
    // take off, then touch down
    const { events } = fly(j, [[-4.8, 0.1, 0.14], [-4.8, 0.1, 1.0], [-3, 0.1, 0.5], [-2, 0.1, 0.1]], 0.01);
    expect(j.tookOff).toBe(true);
    expect(kinds(events)).toEqual(['crash']);
    expect(events[0]).toMatchObject({ cause: 'ground' });
    expect(events[0]).not.toHaveProperty('gate');
  });

  it('leaving the arena is a crash', () => {
    const j = new GateJudge(straight(), 0.15, 1);
    const { events } = fly(j, [[30, 0, 2], [39.5, 0, 2], [45, 0, 2]], 0.01);
    expect(kinds(events)).toEqual(['crash']);
    expect(events[0]).toMatchObject({ cause: 'arena' });
    // the sphere touches the wall at x = 40 − 0.15
    expect(events[0]!.tS).toBeCloseTo((40 - 0.15 - 30) / 10, 6);
    const up = new GateJudge(straight(), 0.15, 1);
    expect(fly(up, [[-5, 5, 2], [-5, 5, 12]], 0.05).events[0]).toMatchObject({ kind: 'crash', cause: 'arena' });
    const side = new GateJudge(straight(), 0.15, 1);
    expect(fly(side, [[-5, 5, 2], [-5, -25, 2]], 0.05).events[0]).toMatchObject({ kind: 'crash', cause: 'arena' });
  });

  it('a crash ends a pass in the same step only if the pass came first', () => {
    // gate passed at the start of a step that then hits the arena wall: gate, then crash
    const t = straight();
    t.arena.maxEnuM[0] = 1;
    const j = new GateJudge(t, 0.15, 1);
    j.update([-0.5, 0, 2], [-0.5, 0, 2], 0);
    expect(kinds(j.update([-0.5, 0, 2], [2, 0, 2], 0.25))).toEqual(['gate0', 'crash']);
  });
});

describe('GateJudge on the shipped tracks', () => {
  /** A path along each gate's axis: 1.5 m before → 1.5 m after, chained; take-off at the start. */
  const axisPath = (t: TrackSpec, laps: number): Vec3[] => {
    const s = t.start.posEnuM;
    const pts: Vec3[] = [s, [s[0], s[1], 1.0]];
    for (let l = 0; l < laps; l++) {
      for (const g of t.gates) {
        const f = gateFrameOf(g);
        pts.push(f.toWorld([-1.5, 0, 0]), f.toWorld([1.5, 0, 0]));
      }
    }
    return pts;
  };

  it.each(listTracks())('%s: two laps along the gate axes give every gate in order and two laps', (name) => {
    const t = loadTrack(name);
    for (const step of [0.03, 0.3]) {
      const j = new GateJudge(t, 0.15, 2);
      const { events } = fly(j, axisPath(t, 2), step, 30);
      const want = [...t.gates.map((g) => `gate${g.index}`), 'lap'];
      expect(kinds(events)).toEqual([...want, ...want]);
      expect(j.lap).toBe(2);
      expect(j.finished).toBe(true);
      expect(j.crashed).toBe(false);
      expect(j.lapTimes.every((v) => v > 0)).toBe(true);
    }
  });
});
