/**
 * Superior colliculus: the innate fast path from pixels to "where is the gate, turn toward it,
 * and am I about to hit something". Nothing is learned; saveState() returns null.
 *
 * CLAIM. The colliculus buys (1) gate acquisition from pixels on the first frame — every gate in
 * view as a sighting with its centre, corners and a PnP pose, with no learned weights; (2) an
 * orienting reflex — a winner-take-all neural field picks one target (the expected one when cortex/
 * hippocampus say where the next gate should be, else the nearest/largest) and turns toward it; (3)
 * looming escape — an LGMD collision detector and a time-to-contact from the target's expansion.
 * MEASUREMENT (numbers printed by the tests; bench/colliculus.ts for cost).
 *  - test/colliculus.test.ts, rendered frames: at 3–15 m, 0–60° off the gate axis, noise std 2:
 *    centre ≤ 0.3 px, corners ≤ 0.5 px, PnP position ≤ 0.3 % of range; noise std 4: ≤ 1.2 px and
 *    0.3 %; rolled ±45…70°: same; 1.8 m (outer frame out of the image): opening corners 0.4 px;
 *    mono8 (best effort, 3–6 m): centre ≤ 0.2 px, corners ≤ 2.5 px, position ≤ 0.1 %. Distractors
 *    in gate-like colours: never rings (colour), gate-orange boxes: blobs (shape), never the target.
 *    Two gates: no expectation → the nearer wins; `expected` at the farther → it wins on frame 1.
 *  - test/looming.test.ts: Gabbiani's approach stimulus (l/|v| = 50 ms): collision 133 ms before
 *    contact (first spike at θ ≈ 21°); rendered box at 8 m/s: 350 ms before contact; silent for a
 *    translating square and for whole-field motion (veto); turning in place at 1–6 rad/s fires the
 *    bare LGMD on 24–50 of 60 frames but never with the gyro corollary discharge; τ within 6.5 %
 *    on a rendered 6 m/s approach.
 *  - test/colliculus-flight-cases.test.ts, the two views that cost gates in flight: 10–12 m and
 *    60–70° off axis (the outer side face merged with the face), rolled to ±40°, noise std 2:
 *    position ≤ 0.04 m, reprojection ≤ 0.4 px (outer-corner PnP before: 0.23–0.38 m at 2.8–3.6 px);
 *    the bottom checker band under ground (6–11 m): ≤ 0.02 m (before: up to 0.35 m); 2–3 m, banked
 *    ±45°, the opening cut by the image border (1–3 of its corners outside, no enclosed hole):
 *    position ≤ 0.01 m, centre ≤ 1.3 px, and it is the target (before: a blob, no pose, no target).
 *  - Flight frames (4 recorded split-s flights, scored offline against the simulator's truth): gates
 *    7–14 m away and 50–70° off axis: position error median 0.27 → 0.010 m, p90 0.53 → 0.040 m,
 *    fits over the pipeline's 2.5 px gate 124 of 325 → 0 of 356; frames with the next gate < 4.5 m
 *    ahead and in view: 174 → 446 of 505 with a correct pose (< 0.3 m), 169 → 424 where it is the
 *    target with reprojection ≤ 2.5 px (4 two-lap flights flown with this detector: 220 → 1000 of
 *    1149 and 209 → 951). Closed loop, split-s, 3 laps, seeds 1–4: 1 of 4 → 4 of 4 completed.
 *  - bench/colliculus.ts (640 × 360 rgb8, one core): p50 ≈ 0.29 ms, p99 ≈ 0.47 ms (target 0.6; the
 *    border-cut path costs ≈ 0.1 ms on the frames that take it).
 *  - Closed loop (the pipeline's ablation): gate acquisition without the colliculus — time from
 *    start to the first gate pass / gates passed per lap.
 *
 * TICK. detect (one sub-sampled pass: orange classification; coarse luma cells; components; ring
 * test; quads; sub-pixel edges; PnP from the opening, outer sides where they agree; border-cut
 * rings from their edge lines) → orienting field (bottom-up bumps from the sightings, weighted by
 * confidence² and size, plus — for a posed sighting when there is an expectation — a top-down boost
 * ∝ confidence × its match to `expected` in bearing (and distance); a top-down bump at `expected`;
 * centres past the image border held at the border) → target = the sighting under the strongest
 * field potential (> 0) → orienting rates → LGMD on the coarse luma (optionally de-rotated by the
 * gyro) → τ from the target's size over frame stamps. The returned output object, its arrays and
 * the sighting objects are reused every tick: copy what you keep.
 *
 * FRAMES. Camera optical frame: x right, y down, z forward (pixels u right, v down, integer = pixel
 * centre). Orienting rates are BODY rates (FLU): yaw about body z (+ = left), pitch about body y
 * (+ = nose down); they centre the target in the (body-fixed) image whatever the roll. `rayLevel`
 * gives bearings in the level frame (roll and pitch removed) for world-level consumers. Sighting
 * centres and corners are on the gate's mid-plane (as sim/gates.ts gateCorners).
 *
 * LIMITS. (1) A gate cut by the image border with no enclosed opening gets a pose from its edge
 * lines only with four of them (sides of the opening and checker edges) in view, and needs the
 * attitude estimate to label them (vertical edges within 20° of the image's "up"); closer than
 * ≈ 1.5 m, when the ring falls apart into separate bars, it is blobs again.
 * (2) Blobs never drive the orienting field (their input stays below the field's resting level), so
 * a gate seen edge-on is not oriented to. (3) Colour thresholds are tuned to the
 * simulator's palette (video levels 16–239, lighting 0.8–1.0, noise ≤ 4); a real JPEG stream needs
 * them re-measured (config `colour`). (4) mono8: the dark inner band only, up to ≈ 8 m, four-point
 * pose (yaw of the gate plane ambiguous by ≈ 10° at 6 m). (5) Four-point poses break the planar
 * tilt ambiguity by assuming the gate stands upright. (6) The field commits after ≈ τ/2 of evidence:
 * frame 1 at 30 Hz, frames 3–4 at 120 Hz. (7) The LGMD responds to any fast, high-contrast expansion
 * — flying through a gate looms too — and, without `bodyRateRadS`, to fast turning: the escape
 * decision downstream must weigh it against the target (passing through the opening ≠ collision).
 * (8) τ needs 3 frames of one target and is noisy (≤ 20 %) for τ > 3 s right after acquisition.
 */
import { z } from 'zod';
import type { Vec3 } from '../math/vec3.js';
import type { CameraFrame } from '../tracts/io.js';
import { parseParams } from '../learn/params.js';
import { GateDetector, type GateSighting } from '../vision/gate-detector.js';
import { Lgmd, TtcEstimator } from '../vision/looming.js';
import { AmariField } from '../vision/neural-field.js';
import { hyp2, hyp3 } from '../vision/pnp.js';
import type { LearnedState, Region } from './region.js';

export type { GateSighting, CornersKind } from '../vision/gate-detector.js';

// ---------------------------------------------------------------------------------------------------
// Tracts
// ---------------------------------------------------------------------------------------------------

export interface ExpectedGate {
  /** Unit ray in the camera optical frame where the next gate is expected. */
  rayCam: Vec3;
  /** Angular uncertainty (1σ), rad. */
  sigmaRad: number;
  /** Expected distance, m (optional: favours sightings whose PnP range matches). */
  distanceM?: number;
}

export interface ColliculusInput {
  frame: CameraFrame;
  /** Attitude estimate (ZYX roll, pitch + = nose down), for de-rotating the image and level bearings. */
  rollRad: number;
  pitchRad: number;
  /** Top-down: where the next gate is expected (cortex / hippocampus), or null. */
  expected: ExpectedGate | null;
  /**
   * Optional corollary discharge: the body angular rate (gyro, FLU, rad/s) over the last frame
   * interval. When given, the LGMD removes the image motion of the drone's own rotation.
   */
  bodyRateRadS?: Vec3 | null;
  /** Tick length, s, used when step() is called without its dtS argument (see Region.step). */
  dtS?: number;
}

export interface LoomingOutput {
  /**
   * Time to contact with the target gate from its expansion, s; NaN: no target / not approaching.
   * (A NaN sentinel, not null: a field holding a double or null is boxed at every store.)
   */
  ttcS: number;
  /** LGMD: n consecutive spikes — something is about to hit the camera. */
  collision: boolean;
  /** LGMD membrane potential κ (0.5 silent … 1). */
  lgmd: number;
  /** Consecutive LGMD spikes. */
  spikes: number;
}

export interface ColliculusOutput {
  /** Gate candidates, best (highest confidence) first. */
  sightings: GateSighting[];
  /** The winner of the orienting field (one of `sightings`), or null. */
  target: GateSighting | null;
  /** Orienting reflex, body rates, rad/s (zero without a target). */
  orient: { yawRateRadS: number; pitchRateRadS: number };
  looming: LoomingOutput;
}

// ---------------------------------------------------------------------------------------------------
// Parameters (style 5)
// ---------------------------------------------------------------------------------------------------

const pos = () => z.number().positive();

export const ColliculusParams = z.strictObject({
  gate: z
    .strictObject({
      innerM: pos().default(1.5).describe('inner opening side, m'),
      outerM: pos().default(2.7).describe('outer frame side, m'),
      depthM: z.number().nonnegative().default(0.26).describe('frame depth, m (face plane = depth/2 in front of the mid-plane)'),
      innerBandM: z.number().nonnegative().default(0.1).describe('dark band on the inner edge of the face, m'),
      checkerBandM: z.number().nonnegative().default(0.12).describe('checker band on the outer edge of the face, m'),
    })
    .prefault({})
    .describe('gate geometry: the orange face spans innerM/2 + innerBandM … outerM/2 − checkerBandM from the centre'),
  colour: z
    .strictObject({
      minR: z.number().min(0).max(255).default(170).describe('minimum red of gate orange'),
      gOverRMin: z.number().min(0).max(1).default(0.335).describe('minimum g/r of gate orange'),
      gOverRMax: z.number().min(0).max(1.5).default(0.58).describe('maximum g/r of gate orange'),
      bOverRMax: z.number().min(0).max(1).default(0.13).describe('maximum b/r of gate orange'),
      darkMax: z.number().min(0).max(255).default(40).describe('mono8: luma of the dark inner band is ≤ this'),
    })
    .prefault({}),
  detector: z
    .strictObject({
      downsample: z.number().int().min(1).max(4).default(2).describe('classification grid sub-sampling factor'),
      minAreaPx: pos().default(60).describe('smallest component examined, full-resolution pixels'),
      maxCandidates: z.number().int().min(1).max(64).default(8).describe('components examined per frame (largest first)'),
      refineSamplesPerSide: z.number().int().min(4).max(250).default(16).describe('edge scans per quad side'),
      refineSearchPx: z.number().int().min(2).max(32).default(6).describe('half-length of each edge scan, px'),
      minPartialAreaPx: pos().default(3000).describe('border-cut orange components without an enclosed opening at least this large (px) are tried as partial rings (pose from edge lines)'),
    })
    .prefault({}),
  field: z
    .strictObject({
      cols: z.number().int().min(4).max(256).default(32),
      rows: z.number().int().min(4).max(256).default(32),
      tauS: pos().default(0.05).describe('field time constant, s'),
      iterations: z.number().int().min(1).max(32).default(4).describe('Euler sub-steps per frame'),
      sigmaExcCells: pos().default(1).describe('local excitation σ, cells'),
      wExc: z.number().nonnegative().default(0.8).describe('local excitation gain (kernel sum)'),
      wInh: z.number().nonnegative().default(0.1).describe('global inhibition per unit of Σ f(u)'),
      restLevel: z.number().nonnegative().default(0.1).describe('resting level h'),
      bottomUpGain: z.number().nonnegative().default(1).describe('peak input of a confidence-1, large sighting'),
      sizeHalfRad: pos().default(0.1).describe('angular size at which the size factor θ/(θ + θ½) is one half, rad'),
      topDownGain: z.number().nonnegative().default(1).describe('peak input of the expectation bump'),
      minSigmaRad: pos().default(0.03).describe('floor on the expectation σ, rad'),
      distanceSigmaLog: pos().default(0.3).describe('expected-distance match width, in ln(distance)'),
      readoutMin: z.number().default(0).describe('a target needs field potential above this (the field rests at −restLevel)'),
    })
    .prefault({}),
  orient: z
    .strictObject({
      gainPerS: z.number().nonnegative().default(3).describe('body rate per radian of target offset, 1/s'),
      maxRateRadS: pos().default(4).describe('limit of each orienting rate, rad/s'),
    })
    .prefault({}),
  looming: z
    .strictObject({
      cellPx: z.number().int().min(2).max(64).default(8).describe('coarse LGMD cell size, px (80 × 45 cells at 640 × 360)'),
      inhibitionWeight: z.number().nonnegative().default(0.6).describe('W_I'),
      sThreshold: z.number().nonnegative().default(30).describe('T_S, grey levels'),
      spikeKappa: z.number().gt(0.5).lt(1).default(0.78).describe('spike threshold on κ'),
      spikesForCollision: z.number().int().min(1).default(5),
      vetoMeanAbsP: pos().default(20).describe('whole-field veto T_FFI on mean |P|, grey levels'),
      ttcWindow: z.number().int().min(2).max(64).default(8).describe('frames in the τ regression (longer = less noise, more lag under acceleration)'),
      maxTtcS: pos().default(30).describe('τ above this is reported as null, s'),
      trackMaxJump: pos().default(0.2).describe('target continuity: max centre jump per frame, fraction of image width'),
    })
    .prefault({}),
});

export type ColliculusOptions = z.input<typeof ColliculusParams>;
export type ColliculusConfig = z.output<typeof ColliculusParams>;

export interface ColliculusStats {
  frames: number;
  /** Frames refused (wrong encoding, inconsistent size, short buffer, bad intrinsics). */
  badFrames: number;
  /** Non-finite attitude / expectation fields replaced. */
  replacedNonFinite: number;
  /** Frames with at least one ring sighting. */
  framesWithGate: number;
  collisions: number;
}

// ---------------------------------------------------------------------------------------------------
// Region
// ---------------------------------------------------------------------------------------------------

export class Colliculus implements Region<ColliculusInput, ColliculusOutput> {
  readonly name = 'colliculus';
  readonly cfg: ColliculusConfig;
  readonly detector: GateDetector;
  readonly field: AmariField;
  private lgmd: Lgmd | null = null;
  private readonly ttc: TtcEstimator;
  private readonly out: ColliculusOutput;
  private readonly st: ColliculusStats = { frames: 0, badFrames: 0, replacedNonFinite: 0, framesWithGate: 0, collisions: 0 };
  private prevTarget = { valid: false, u: 0, v: 0, sizeN: 0 };
  private lastCollision = false;
  /** Last frame stamp, s; NaN before the first frame (a sentinel, not null: see LoomingOutput.ttcS). */
  private prevStampS = NaN;
  /** Image → field scale [cols / W, rows / H] of the current frame, read by fieldXY. */
  private readonly fieldScale = new Float64Array(2);
  private readonly rot = new Float64Array(3);
  private readonly att = { rollRad: 0, pitchRad: 0 };

  constructor(opts: ColliculusOptions = {}) {
    const cfg = (this.cfg = parseParams(ColliculusParams, opts, 'Colliculus'));
    const g = cfg.gate;
    if (!(g.outerM > g.innerM)) throw new Error(`Colliculus: invalid parameters: gate.outerM (${g.outerM}) must exceed gate.innerM (${g.innerM})`);
    if (!(g.outerM / 2 - g.checkerBandM > g.innerM / 2 + g.innerBandM)) throw new Error('Colliculus: invalid parameters: the gate markings leave no orange face');
    if (cfg.colour.gOverRMin >= cfg.colour.gOverRMax) throw new Error('Colliculus: invalid parameters: colour.gOverRMin must be < colour.gOverRMax');
    this.detector = new GateDetector({
      gate: g,
      colour: cfg.colour,
      downsample: cfg.detector.downsample,
      minAreaPx: cfg.detector.minAreaPx,
      maxCandidates: cfg.detector.maxCandidates,
      refineSamplesPerSide: cfg.detector.refineSamplesPerSide,
      refineSearchPx: cfg.detector.refineSearchPx,
      minPartialAreaPx: cfg.detector.minPartialAreaPx,
      loomCellPx: cfg.looming.cellPx,
    });
    this.field = new AmariField(cfg.field);
    this.ttc = new TtcEstimator({ window: cfg.looming.ttcWindow, maxTtcS: cfg.looming.maxTtcS });
    this.out = {
      sightings: this.detector.sightings,
      target: null,
      orient: { yawRateRadS: 0, pitchRateRadS: 0 },
      looming: { ttcS: NaN, collision: false, lgmd: 0.5, spikes: 0 },
    };
  }

  get stats(): Readonly<ColliculusStats> {
    return { ...this.st };
  }

  saveState(): LearnedState | null {
    return null;
  }

  loadState(s: LearnedState): void {
    throw new Error(`Colliculus: innate region has no learned state to load (got schema ${String((s as { schema?: unknown } | null)?.schema)})`);
  }

  /**
   * JIT warm-up before flight (see GateDetector.warmUp): drives the detector's rare paths on a
   * throwaway detector; this region's state, and its detector's, are untouched.
   */
  warmUp(): ReturnType<GateDetector['warmUp']> {
    return this.detector.warmUp();
  }

  /** Back to tick 0: field at rest, LGMD and τ history cleared (nothing learned to forget). */
  reset(): void {
    this.field.reset();
    this.lgmd?.reset();
    this.ttc.restart();
    this.prevTarget.valid = false;
    this.lastCollision = false;
    this.prevStampS = NaN;
    this.clearOutput();
  }

  /** No sightings, no target, no reflex (a reset, or a frame refused before detection). */
  private clearOutput(): void {
    const o = this.out;
    this.detector.clearSightings();
    o.sightings = this.detector.sightings; // the detector swaps arrays: take its empty one
    o.target = null;
    o.orient.yawRateRadS = 0;
    o.orient.pitchRateRadS = 0;
    o.looming.ttcS = NaN;
    o.looming.collision = false;
    o.looming.lgmd = 0.5;
    o.looming.spikes = 0;
  }

  step(input: ColliculusInput, dtArg?: number): ColliculusOutput {
    // the tick's dt: the argument, else the tract's (see Region.step); `+dtArg` keeps dtS an unboxed double
    const dtS = dtArg === undefined ? (input.dtS ?? NaN) : +dtArg;
    this.st.frames++;
    const fr = input.frame;
    const o = this.out;
    if (!validFrame(fr)) {
      this.st.badFrames++;
      this.clearOutput();
      return o;
    }
    let roll = input.rollRad, pitch = input.pitchRad;
    if (!Number.isFinite(roll)) { roll = 0; this.st.replacedNonFinite++; }
    if (!Number.isFinite(pitch)) { pitch = 0; this.st.replacedNonFinite++; }
    // field integration step: the caller's dt, clamped; a missing/invalid one stands in as 1/30 s
    let dt = dtS;
    if (!Number.isFinite(dt)) { dt = 1 / 30; this.st.replacedNonFinite++; }
    else if (!(dt > 0)) dt = 1 / 30;
    dt = Math.min(0.25, dt);

    // ---- detection
    this.att.rollRad = roll;
    this.att.pitchRad = pitch;
    const n = this.detector.detect(fr, this.att);
    const S = this.detector.sightings;
    o.sightings = S; // the detector swaps in the array of this frame's count
    let rings = 0;
    for (let i = 0; i < n; i++) if (S[i]!.kind === 'ring') rings++;
    if (rings > 0) this.st.framesWithGate++;

    // ---- orienting field
    const F = this.cfg.field, field = this.field;
    const W = fr.width, H = fr.height, K = fr.intrinsics;
    const sx = F.cols / W, sy = F.rows / H;
    this.fieldScale[0] = sx; // for fieldXY (doubles as call arguments are boxed)
    this.fieldScale[1] = sy;
    field.clearInput();
    const exp = input.expected;
    let expOk = exp !== null && exp !== undefined;
    let expU = 0, expV = 0, expSigma = 0, expDist = NaN;
    if (expOk) {
      const r = exp!.rayCam;
      if (!(Number.isFinite(r[0]) && Number.isFinite(r[1]) && Number.isFinite(r[2]))) { expOk = false; this.st.replacedNonFinite++; }
      else if (r[2] > 1e-3) {
        expU = K.fx * (r[0] / r[2]) + K.cx;
        expV = K.fy * (r[1] / r[2]) + K.cy;
        // (−∞, not the config bound, in the ternary: a config field is a tagged value to V8, and a
        // double merged with one is boxed on the heap)
        expSigma = Math.max(F.minSigmaRad, Number.isFinite(exp!.sigmaRad) ? exp!.sigmaRad : Number.NEGATIVE_INFINITY);
        if (exp!.distanceM !== undefined && Number.isFinite(exp!.distanceM) && exp!.distanceM > 0) expDist = exp!.distanceM;
      } else expOk = false; // expected behind the image plane: nothing to bias in view
    }
    const er = exp?.rayCam;
    for (let i = 0; i < n; i++) {
      const s = S[i]!;
      const sizeF = s.angularSizeRad / (s.angularSizeRad + F.sizeHalfRad);
      let amp = F.bottomUpGain * s.confidence * s.confidence * sizeF;
      if (expOk && s.posCamM) {
        // a posed sighting that matches the expectation in bearing (and distance, when given) gets a
        // top-down boost of its own: a near gate cut by the image border has its centre at or past
        // the border, where the expectation bump (and its own) is clipped by the field's edge
        const r = s.rayCam, rn = hyp3(er![0], er![1], er![2]);
        const c = (r[0] * er![0] + r[1] * er![1] + r[2] * er![2]) / rn;
        const a = Math.acos(Math.max(-1, Math.min(1, c))) / Math.max(expSigma, F.minSigmaRad);
        let match = Math.exp(-0.5 * a * a);
        if (!Number.isNaN(expDist)) {
          const l = Math.log(hyp3(s.posCamM[0], s.posCamM[1], s.posCamM[2]) / expDist) / F.distanceSigmaLog;
          match = 0.5 * (match + Math.exp(-0.5 * l * l));
        }
        amp += F.topDownGain * s.confidence * match;
      }
      // doubles through the field's argument block (boxed on the heap as call arguments)
      const fa = field.args;
      this.fieldXY(s, W, H, fa);
      fa[2] = 1;
      fa[3] = 1;
      fa[4] = amp;
      field.addBumpArgs();
    }
    if (expOk) {
      const sig = expSigma * K.fx, fa = field.args;
      fa[0] = expU * sx - 0.5;
      fa[1] = expV * sy - 0.5;
      fa[2] = sig * sx;
      fa[3] = (sig * sy * K.fy) / K.fx;
      fa[4] = F.topDownGain;
      field.addBumpArgs();
    }
    field.args[0] = dt; // (through the argument block: a double argument is boxed)
    field.stepArgs();
    let target: GateSighting | null = null;
    let best = +F.readoutMin; // `+`: a double, not the tagged config value, so `best = v` below is not boxed
    for (let i = 0; i < n; i++) {
      const s = S[i]!;
      this.fieldXY(s, W, H, field.args);
      field.sampleArgs();
      const v = field.args[5]!;
      if (v > best) { best = v; target = s; }
    }
    o.target = target;

    // ---- orienting reflex
    if (target) {
      const r = target.rayCam;
      const g = this.cfg.orient.gainPerS, lim = this.cfg.orient.maxRateRadS;
      o.orient.yawRateRadS = clampAbs(-g * Math.atan2(r[0], r[2]), lim);
      o.orient.pitchRateRadS = clampAbs(g * Math.atan2(r[1], r[2]), lim);
    } else {
      o.orient.yawRateRadS = 0;
      o.orient.pitchRateRadS = 0;
    }

    // ---- looming
    const det = this.detector;
    const L = this.cfg.looming;
    const cp = L.cellPx, off = ((cp >> 2) + ((3 * cp) >> 2)) / 2; // cell centre = mean of its samples
    if (det.cw >= 3 && (!this.lgmd || this.lgmd.p.width !== det.cw || this.lgmd.p.height !== det.ch || this.lgmd.p.fx !== K.fx / cp || this.lgmd.p.cx !== (K.cx - off) / cp)) {
      this.lgmd = new Lgmd({
        width: det.cw,
        height: det.ch,
        inhibitionWeight: L.inhibitionWeight,
        sThreshold: L.sThreshold,
        spikeKappa: L.spikeKappa,
        spikesForCollision: L.spikesForCollision,
        vetoMeanAbsP: L.vetoMeanAbsP,
        fx: K.fx / cp,
        fy: K.fy / cp,
        cx: (K.cx - off) / cp,
        cy: (K.cy - off) / cp,
      });
    }
    let rot: Float64Array | null = null;
    const w = input.bodyRateRadS;
    const frameDt = fr.stampS > this.prevStampS ? fr.stampS - this.prevStampS : dt;
    if (w && frameDt > 0) {
      if (Number.isFinite(w[0]) && Number.isFinite(w[1]) && Number.isFinite(w[2])) {
        // body rate → camera optical frame: x_c = −y_b, y_c = [sτ, 0, −cτ], z_c = [cτ, 0, sτ]
        const tl = fr.mount.tiltUpRad, st = Math.sin(tl), ct = Math.cos(tl);
        rot = this.rot;
        rot[0] = -w[1] * frameDt;
        rot[1] = (st * w[0] - ct * w[2]) * frameDt;
        rot[2] = (ct * w[0] + st * w[2]) * frameDt;
      } else this.st.replacedNonFinite++;
    }
    this.prevStampS = Number.isFinite(fr.stampS) ? fr.stampS : NaN;
    const lg = this.lgmd && det.cw >= 3 ? this.lgmd.step(det.cells, rot) : IDLE_LGMD;
    o.looming.lgmd = lg.kappa;
    o.looming.spikes = lg.spikes;
    o.looming.collision = lg.collision;
    if (lg.collision && !this.lastCollision) this.st.collisions++;
    this.lastCollision = lg.collision;

    // τ from the target's expansion (same physical target across frames)
    const pt = this.prevTarget;
    if (target && target.sizeN > 0) {
      const jump = hyp2(target.centerPx[0] - pt.u, target.centerPx[1] - pt.v);
      const ratio = pt.sizeN > 0 ? target.sizeN / pt.sizeN : 0;
      const same = pt.valid && jump <= this.cfg.looming.trackMaxJump * W && ratio > 0.67 && ratio < 1.5;
      if (!same) this.ttc.restart();
      this.ttc.args[0] = fr.stampS; // (through the argument block: double arguments are boxed)
      this.ttc.args[1] = target.sizeN;
      this.ttc.pushArgs();
      o.looming.ttcS = this.ttc.ttcS;
      pt.valid = true;
      pt.u = target.centerPx[0];
      pt.v = target.centerPx[1];
      pt.sizeN = target.sizeN;
    } else {
      this.ttc.restart();
      pt.valid = false;
      o.looming.ttcS = NaN;
    }
    return o;
  }

  /**
   * Field cell of a sighting into out[0], out[1]: its centre, held inside the image (a border-cut
   * gate's centre can lie past it).
   */
  private fieldXY(s: GateSighting, W: number, H: number, out: Float64Array): void {
    const u = s.centerPx[0], v = s.centerPx[1];
    const sx = this.fieldScale[0]!, sy = this.fieldScale[1]!;
    out[0] = Math.min(W - 1, Math.max(0, u)) * sx - 0.5;
    out[1] = Math.min(H - 1, Math.max(0, v)) * sy - 0.5;
  }
}

const IDLE_LGMD = Object.freeze({ kappa: 0.5, k: 0, meanAbsP: 0, spike: false, vetoed: false, spikes: 0, collision: false });

// Math.min/max, not a ternary: a ternary that can yield the config's (tagged) bound boxed x (16 B)
const clampAbs = (x: number, lim: number): number => (x !== x ? 0 : Math.min(lim, Math.max(-lim, x)));

/** A frame the detector can read safely. */
function validFrame(f: CameraFrame | null | undefined): f is CameraFrame {
  if (!f || !f.data || !f.intrinsics || !f.mount) return false;
  if (f.encoding !== 'rgb8' && f.encoding !== 'mono8') return false;
  const bpp = f.encoding === 'rgb8' ? 3 : 1;
  if (!(Number.isInteger(f.width) && Number.isInteger(f.height) && f.width >= 8 && f.height >= 8)) return false;
  if (!(Number.isInteger(f.step) && f.step >= f.width * bpp)) return false;
  if (f.data.length < f.step * (f.height - 1) + f.width * bpp) return false;
  const K = f.intrinsics;
  if (!(K.fx > 0 && K.fy > 0 && Number.isFinite(K.fx) && Number.isFinite(K.fy) && Number.isFinite(K.cx) && Number.isFinite(K.cy))) return false;
  if (!Number.isFinite(f.mount.tiltUpRad)) return false;
  return true;
}
