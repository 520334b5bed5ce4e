/**
 * Gate geometry and the race judge.
 *
 * Gate frame: origin at the gate's centre (the middle of the opening, on the mid-plane), +x = pass
 * direction, +y = left and +z = up as seen by a pilot flying through (gate → world rotation =
 * Rz(yaw)·Ry(pitch)). The opening is |y|, |z| ≤ inner/2 on the mid-plane x = 0; the frame is the
 * square ring between inner/2 and outer/2, |x| ≤ depth/2, modelled as four boxes ("bars").
 *
 * GateJudge rules (called once per physics step with the segment travelled):
 * - Pass: the drone's centre crosses a gate's mid-plane inside the inner square, moving along +x.
 *   Only the next expected gate counts ('gate' event). Passing any other gate forward → 'wrong-gate'
 *   (not counted, the expected gate is unchanged). Crossing any gate's opening along −x → 'wrong-way'.
 * - Laps: passing the last gate completes a lap ('lap' event) and gate 0 is expected again. Lap 1 is
 *   timed from the start of the run (t = 0); each later lap from the previous lap's completion. In a
 *   'gate' event `lap` is the 1-based lap being flown; in a 'lap' event it is the lap just completed.
 *   After `lapsTarget` laps the judge is `finished`: no more gate, lap or wrong-* events (crashes are
 *   still detected and reported).
 * - Crashes (the drone is a sphere of radiusM): any part of the sphere inside a gate's frame bar →
 *   'gate-frame' (with the gate index); after take-off (once the centre has been above 0.5 m) the
 *   sphere touching the ground (z < radius) → 'ground' (resting on the ground before take-off is
 *   fine); the sphere touching an arena wall (x, y) or its ceiling → 'arena'. The first crash ends the
 *   run: `crashed` is set and update() returns no further events.
 * - Detection is exact along the segment (the distance from a segment to a box is convex in the
 *   segment parameter, so its minimum and the first contact are found by search), so fast flight
 *   cannot tunnel through a bar whatever the step. Events inside a step are time-ordered and their
 *   tS is interpolated between the previous call's tS and this one's.
 */
import { quatFromEuler, quatToMatrix, type Quat } from '../src/math/quat.js';
import { isFiniteVec, type Vec3 } from '../src/math/vec3.js';
import type { GateSpec, SimEvent, TrackSpec } from './types.js';

// ---------------------------------------------------------------------------------------------
// Geometry

export interface GateFrame {
  /** Gate centre in ENU, m (the gate frame's origin). */
  originEnuM: Vec3;
  /** Gate → world rotation. */
  quat: Quat;
  /** Gate → world rotation, row-major 3 × 3; its columns are the gate's x, y, z axes in ENU. */
  matrix: Float64Array;
  /** Gate-frame point → ENU. */
  toWorld(pGate: Vec3): Vec3;
  /** ENU point → gate frame. */
  toGate(pEnu: Vec3): Vec3;
  /** Gate-frame direction → ENU (rotation only). */
  dirToWorld(vGate: Vec3): Vec3;
  /** ENU direction → gate frame (rotation only). */
  dirToGate(vEnu: Vec3): Vec3;
}

/** The gate's frame and transforms (gate +x = pass direction). */
export function gateFrameOf(gate: GateSpec): GateFrame {
  const quat = quatFromEuler(0, gate.pitchRad, gate.yawRad);
  const m = quatToMatrix(quat);
  const o: Vec3 = [gate.centerEnuM[0], gate.centerEnuM[1], gate.centerEnuM[2]];
  const dirToWorld = (v: Vec3): Vec3 => [
    m[0]! * v[0] + m[1]! * v[1] + m[2]! * v[2],
    m[3]! * v[0] + m[4]! * v[1] + m[5]! * v[2],
    m[6]! * v[0] + m[7]! * v[1] + m[8]! * v[2],
  ];
  const dirToGate = (v: Vec3): Vec3 => [
    m[0]! * v[0] + m[3]! * v[1] + m[6]! * v[2],
    m[1]! * v[0] + m[4]! * v[1] + m[7]! * v[2],
    m[2]! * v[0] + m[5]! * v[1] + m[8]! * v[2],
  ];
  return {
    originEnuM: o,
    quat,
    matrix: m,
    dirToWorld,
    dirToGate,
    toWorld: (p) => {
      const w = dirToWorld(p);
      return [w[0] + o[0], w[1] + o[1], w[2] + o[2]];
    },
    toGate: (p) => dirToGate([p[0] - o[0], p[1] - o[1], p[2] - o[2]]),
  };
}

/**
 * The four corners of the inner opening or of the outer frame, on the gate's mid-plane (gate x = 0),
 * in ENU. Order, as seen by a pilot flying through along +x: top-left, top-right, bottom-right,
 * bottom-left (gate-frame (y, z) = (+h, +h), (−h, +h), (−h, −h), (+h, −h), h = size / 2).
 */
export function gateCorners(gate: GateSpec, which: 'inner' | 'outer'): [Vec3, Vec3, Vec3, Vec3] {
  const f = gateFrameOf(gate);
  const h = (which === 'inner' ? gate.innerM : gate.outerM) / 2;
  return [f.toWorld([0, h, h]), f.toWorld([0, -h, h]), f.toWorld([0, -h, -h]), f.toWorld([0, h, -h])];
}

/** An axis-aligned box in the gate frame. */
export interface GateBox {
  lo: Vec3;
  hi: Vec3;
}

/** The frame's four bars as gate-frame boxes: top, bottom (full width), left (+y), right (−y). */
export function gateBarBoxes(gate: GateSpec): [GateBox, GateBox, GateBox, GateBox] {
  const i = gate.innerM / 2, o = gate.outerM / 2, d = gate.depthM / 2;
  return [
    { lo: [-d, -o, i], hi: [d, o, o] },
    { lo: [-d, -o, -o], hi: [d, o, -i] },
    { lo: [-d, i, -i], hi: [d, o, i] },
    { lo: [-d, -o, -i], hi: [d, -i, i] },
  ];
}

// Segment-to-box distance on flat arrays: a = start (3), v = end − start (3), box lo/hi.
function pointBoxDist(a: Float64Array, v: Float64Array, s: number, box: Float64Array, b: number): number {
  let d2 = 0;
  for (let k = 0; k < 3; k++) {
    const p = a[k]! + s * v[k]!;
    const lo = box[b + k]!, hi = box[b + 3 + k]!;
    const e = p < lo ? lo - p : p > hi ? p - hi : 0;
    d2 += e * e;
  }
  return Math.sqrt(d2);
}

const SEARCH_ITERS = 60;

/** Minimising segment parameter of the (convex) segment–box distance, by ternary search. */
function segBoxArgMin(a: Float64Array, v: Float64Array, box: Float64Array, b: number): number {
  let lo = 0, hi = 1;
  for (let it = 0; it < SEARCH_ITERS && hi - lo > 1e-12; it++) {
    const m1 = lo + (hi - lo) / 3, m2 = hi - (hi - lo) / 3;
    if (pointBoxDist(a, v, m1, box, b) <= pointBoxDist(a, v, m2, box, b)) hi = m2;
    else lo = m1;
  }
  return (lo + hi) / 2;
}

/**
 * First segment parameter where the distance drops below r, given that it does (f(sMin) < r).
 * f is non-increasing on [0, sMin] (convexity), so bisection applies.
 */
function firstContact(a: Float64Array, v: Float64Array, box: Float64Array, b: number, r: number, sMin: number): number {
  if (pointBoxDist(a, v, 0, box, b) < r) return 0;
  let lo = 0, hi = sMin;
  for (let it = 0; it < SEARCH_ITERS && hi - lo > 1e-12; it++) {
    const m = (lo + hi) / 2;
    if (pointBoxDist(a, v, m, box, b) < r) hi = m;
    else lo = m;
  }
  return hi;
}

/** Minimum distance from the ENU segment a→b to the gate's frame (0 if it touches or enters it). */
export function segmentGateFrameDistance(gate: GateSpec, aEnu: Vec3, bEnu: Vec3): number {
  const f = gateFrameOf(gate);
  const la = f.toGate(aEnu), lb = f.toGate(bEnu);
  const a = Float64Array.from(la);
  const v = Float64Array.from([lb[0] - la[0], lb[1] - la[1], lb[2] - la[2]]);
  let best = Infinity;
  for (const bx of gateBarBoxes(gate)) {
    const box = Float64Array.from([...bx.lo, ...bx.hi]);
    const s = segBoxArgMin(a, v, box, 0);
    best = Math.min(best, pointBoxDist(a, v, s, box, 0));
  }
  return best;
}

// ---------------------------------------------------------------------------------------------
// Judge

type CrashEvent = Extract<SimEvent, { kind: 'crash' }>;

/** Height the centre must exceed once before ground contact counts as a crash, m. */
export const TAKEOFF_HEIGHT_M = 0.5;

interface Crossing {
  s: number;
  gate: number;
  forward: boolean;
}

export class GateJudge {
  readonly track: TrackSpec;
  readonly radiusM: number;
  readonly lapsTarget: number;

  private readonly n: number;
  /** Per gate: centre (3) + row-major gate→world matrix (9). */
  private readonly pose: Float64Array;
  /** Per gate: 4 bars × (lo 3 + hi 3) in the gate frame. */
  private readonly bars: Float64Array;
  private readonly innerHalf: Float64Array;
  /** Per gate: radius of a sphere around the centre enclosing the whole frame. */
  private readonly boundR: Float64Array;

  // scratch (no per-step allocation in the geometry)
  private readonly la = new Float64Array(3);
  private readonly lv = new Float64Array(3);

  private _nextGate = 0;
  private _lap = 0;
  private _gatesPassedThisLap = 0;
  private readonly _lapTimes: number[] = [];
  private _crash: CrashEvent | null = null;
  private _finished = false;
  private _tookOff = false;
  private lastLapEndS = 0;
  private prevTS: number | null = null;

  /**
   * @param track the track (gates in pass order, arena)
   * @param radiusM the drone's collision sphere radius, m
   * @param lapsTarget laps to finish the run (a positive integer, or Infinity to never finish)
   */
  constructor(track: TrackSpec, radiusM: number, lapsTarget = 1) {
    if (!(radiusM >= 0) || !Number.isFinite(radiusM)) throw new RangeError(`GateJudge: radiusM must be ≥ 0, got ${radiusM}`);
    if (!(lapsTarget >= 1) || (Number.isFinite(lapsTarget) && !Number.isInteger(lapsTarget))) {
      throw new RangeError(`GateJudge: lapsTarget must be a positive integer or Infinity, got ${lapsTarget}`);
    }
    if (track.gates.length === 0) throw new RangeError('GateJudge: the track has no gates');
    this.track = track;
    this.radiusM = radiusM;
    this.lapsTarget = lapsTarget;
    const n = (this.n = track.gates.length);
    this.pose = new Float64Array(12 * n);
    this.bars = new Float64Array(24 * n);
    this.innerHalf = new Float64Array(n);
    this.boundR = new Float64Array(n);
    track.gates.forEach((g, i) => {
      const f = gateFrameOf(g);
      this.pose.set(f.originEnuM, 12 * i);
      this.pose.set(f.matrix, 12 * i + 3);
      gateBarBoxes(g).forEach((bx, k) => {
        this.bars.set(bx.lo, 24 * i + 6 * k);
        this.bars.set(bx.hi, 24 * i + 6 * k + 3);
      });
      this.innerHalf[i] = g.innerM / 2;
      this.boundR[i] = Math.hypot(g.outerM / 2, g.outerM / 2, g.depthM / 2);
    });
  }

  /** Index of the gate to pass next. */
  get nextGate(): number {
    return this._nextGate;
  }
  /** Completed laps. */
  get lap(): number {
    return this._lap;
  }
  get gatesPassedThisLap(): number {
    return this._gatesPassedThisLap;
  }
  /** Times of the completed laps, s. */
  get lapTimes(): readonly number[] {
    return this._lapTimes;
  }
  get crashed(): boolean {
    return this._crash !== null;
  }
  /** The crash that ended the run, if any. */
  get crash(): CrashEvent | null {
    return this._crash;
  }
  /** lapsTarget laps completed. */
  get finished(): boolean {
    return this._finished;
  }
  /** The centre has been above TAKEOFF_HEIGHT_M. */
  get tookOff(): boolean {
    return this._tookOff;
  }

  /** Back to the pre-run state (same track, radius and laps target). */
  reset(): void {
    this._nextGate = 0;
    this._lap = 0;
    this._gatesPassedThisLap = 0;
    this._lapTimes.length = 0;
    this._crash = null;
    this._finished = false;
    this._tookOff = false;
    this.lastLapEndS = 0;
    this.prevTS = null;
  }

  /**
   * Judge one physics step: the drone's centre moved from prevPosEnuM to posEnuM, arriving at time
   * tS (s since the run started). Returns the step's events in time order.
   */
  update(prevPosEnuM: Vec3, posEnuM: Vec3, tS: number): SimEvent[] {
    const t0 = this.prevTS ?? tS;
    this.prevTS = tS;
    if (this._crash) return [];
    const p0 = prevPosEnuM, p1 = posEnuM;
    if (!isFiniteVec(p0) || !isFiniteVec(p1)) return []; // a diverged state is the physics' problem, not a race event
    if (p0[2] > TAKEOFF_HEIGHT_M) this._tookOff = true;
    const r = this.radiusM;
    const timeAt = (s: number): number => t0 + s * (tS - t0);

    // ---- crashes: earliest contact along the segment
    let crashS = Infinity;
    let crashCause: CrashEvent['cause'] = 'arena';
    let crashGate = -1;

    // ground
    if (this._tookOff && Math.min(p0[2], p1[2]) < r) {
      const s = p0[2] < r ? 0 : (p0[2] - r) / (p0[2] - p1[2]);
      if (s < crashS) {
        crashS = s;
        crashCause = 'ground';
      }
    }
    // arena walls (x, y) and ceiling (z)
    const { minEnuM: amin, maxEnuM: amax } = this.track.arena;
    for (let k = 0; k < 3; k++) {
      const a = p0[k]!, b = p1[k]!;
      if (k < 2) {
        const lo = amin[k]! + r;
        if (Math.min(a, b) < lo) {
          const s = a < lo ? 0 : (a - lo) / (a - b);
          if (s < crashS) { crashS = s; crashCause = 'arena'; crashGate = -1; }
        }
      }
      const hi = amax[k]! - r;
      if (Math.max(a, b) > hi) {
        const s = a > hi ? 0 : (hi - a) / (b - a);
        if (s < crashS) { crashS = s; crashCause = 'arena'; crashGate = -1; }
      }
    }

    // gate frames
    const dx = p1[0] - p0[0], dy = p1[1] - p0[1], dz = p1[2] - p0[2];
    const segLen2 = dx * dx + dy * dy + dz * dz;
    const la = this.la, lv = this.lv;
    let crossings: Crossing[] | null = null;
    for (let i = 0; i < this.n; i++) {
      const o = 12 * i;
      const P = this.pose;
      const cx = P[o]!, cy = P[o + 1]!, cz = P[o + 2]!;
      // closest point of the segment to the gate centre → bounding-sphere reject
      const wx = cx - p0[0], wy = cy - p0[1], wz = cz - p0[2];
      let sc = segLen2 > 0 ? (wx * dx + wy * dy + wz * dz) / segLen2 : 0;
      sc = sc < 0 ? 0 : sc > 1 ? 1 : sc;
      const ex = wx - sc * dx, ey = wy - sc * dy, ez = wz - sc * dz;
      const br = this.boundR[i]! + r;
      if (ex * ex + ey * ey + ez * ez > br * br) continue;

      // to the gate frame: local = Mᵀ (p − c)
      const qx = p0[0] - cx, qy = p0[1] - cy, qz = p0[2] - cz;
      la[0] = P[o + 3]! * qx + P[o + 6]! * qy + P[o + 9]! * qz;
      la[1] = P[o + 4]! * qx + P[o + 7]! * qy + P[o + 10]! * qz;
      la[2] = P[o + 5]! * qx + P[o + 8]! * qy + P[o + 11]! * qz;
      lv[0] = P[o + 3]! * dx + P[o + 6]! * dy + P[o + 9]! * dz;
      lv[1] = P[o + 4]! * dx + P[o + 7]! * dy + P[o + 10]! * dz;
      lv[2] = P[o + 5]! * dx + P[o + 8]! * dy + P[o + 11]! * dz;

      // frame bars
      for (let k = 0; k < 4; k++) {
        const b = 24 * i + 6 * k;
        const B = this.bars;
        // quick reject on the segment's bounding box
        let far = false;
        for (let ax = 0; ax < 3 && !far; ax++) {
          const e0 = la[ax]!, e1 = la[ax]! + lv[ax]!;
          const smin = e0 < e1 ? e0 : e1, smax = e0 < e1 ? e1 : e0;
          if (smin > B[b + 3 + ax]! + r || smax < B[b + ax]! - r) far = true;
        }
        if (far) continue;
        const sMin = segBoxArgMin(la, lv, B, b);
        if (pointBoxDist(la, lv, sMin, B, b) < r) {
          const s = firstContact(la, lv, B, b, r, sMin);
          if (s < crashS) {
            crashS = s;
            crashCause = 'gate-frame';
            crashGate = i;
          }
        }
      }

      // mid-plane crossing inside the opening
      const x0 = la[0]!, x1 = la[0]! + lv[0]!;
      const forward = x0 < 0 && x1 >= 0;
      const backward = x0 >= 0 && x1 < 0;
      if (forward || backward) {
        const s = x0 / (x0 - x1);
        const y = la[1]! + s * lv[1]!, z = la[2]! + s * lv[2]!;
        const h = this.innerHalf[i]!;
        if (Math.abs(y) <= h && Math.abs(z) <= h) (crossings ??= []).push({ s, gate: i, forward });
      }
    }

    const events: SimEvent[] = [];
    if (crossings) {
      crossings.sort((a, b) => a.s - b.s);
      for (const c of crossings) {
        if (c.s >= crashS) break;
        if (!this._finished) this.judgeCrossing(c, timeAt(c.s), events);
      }
    }
    if (crashS <= 1) {
      const ev: CrashEvent = { kind: 'crash', tS: timeAt(crashS), cause: crashCause };
      if (crashCause === 'gate-frame') ev.gate = crashGate;
      this._crash = ev;
      events.push(ev);
    }
    if (p1[2] > TAKEOFF_HEIGHT_M) this._tookOff = true;
    return events;
  }

  private judgeCrossing(c: Crossing, t: number, events: SimEvent[]): void {
    if (!c.forward) {
      events.push({ kind: 'wrong-way', tS: t, gate: c.gate });
      return;
    }
    if (c.gate !== this._nextGate) {
      events.push({ kind: 'wrong-gate', tS: t, gate: c.gate, expected: this._nextGate });
      return;
    }
    events.push({ kind: 'gate', tS: t, gate: c.gate, lap: this._lap + 1 });
    this._gatesPassedThisLap++;
    this._nextGate++;
    if (this._nextGate >= this.n) {
      this._nextGate = 0;
      this._gatesPassedThisLap = 0;
      this._lap++;
      const lapTimeS = t - this.lastLapEndS;
      this.lastLapEndS = t;
      this._lapTimes.push(lapTimeS);
      events.push({ kind: 'lap', tS: t, lap: this._lap, lapTimeS });
      if (this._lap >= this.lapsTarget) this._finished = true;
    }
  }
}
