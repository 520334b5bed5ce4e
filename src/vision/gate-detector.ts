/**
 * Gate detector: from a camera frame to gate sightings (centre, corners, PnP pose), innate and
 * allocation-free per frame (scratch in typed arrays; helpers that are not inlined take and return
 * doubles through typed-array slots, since V8 boxes doubles crossing a call).
 *
 * Pipeline (rgb8, the main path):
 *  1. One pass over a sub-sampled grid (every `downsample`-th pixel of every `downsample`-th row):
 *     each sample is classified gate-orange or not, and its luma is summed into the coarse cells the
 *     looming (LGMD) stage reads. Orange = r ≥ minR, gOverRMin ≤ g/r ≤ gOverRMax, b/r ≤ bOverRMax
 *     (integer arithmetic). The gate face [255,112,0]·(0.8–1.0) has g/r ≈ 0.44, b/r < 0.09; red-orange
 *     (g/r 0.24), amber (g/r 0.73), brown-orange (b/r 0.21, r ≤ 190), magenta, sky and ground fail.
 *  2. Orange samples are grouped into horizontal runs, and runs into 8-connected components by
 *     union-find on the runs (preallocated run tables).
 *  3. Per candidate component (largest first): the hole test — the component must enclose a
 *     4-connected region of non-component samples that does not reach the outside (span fill over
 *     the component's own runs, so a farther gate seen through the opening does not break the
 *     hole), seeded at the centroid, the box centre, then the gaps between the component's runs on
 *     rows through its middle (an oblique gate's merged side face pulls the first two onto the
 *     ring). A component with such a hole is a ring; otherwise a blob (or a partial ring, 7).
 *  4. Quads: the convex hull of the component (from its per-row extents) and of the hole; the
 *     largest-area quadrilateral on each hull, seeded by the extreme points along the image
 *     diagonals de-rotated by the roll/pitch estimate (or, for a thin quad where two of those
 *     coincide, by a diameter and the farthest vertex on each side of it), then ordered TL, TR, BR,
 *     BL in the de-rotated frame (so the labels follow the upright gate for any roll).
 *  5. Sub-pixel refinement at full resolution: along each side, 16 scans across the edge (along the
 *     image axis closest to the side's normal) find the last-ring / first-non-ring pixel pair (≥ 2
 *     of each, so single noisy pixels are skipped); a total-least-squares line per side with
 *     MAD-based outlier rejection; corners = intersections of adjacent lines.
 *  6. PnP (see pnp.ts) with the physical positions of those edges: the orange region spans
 *     innerM/2 + innerBandM … outerM/2 − checkerBandM from the centre, on the face plane, which is
 *     depthM/2 in front of the gate's mid-plane. The opening's edge (orange → near-black band) is
 *     the trustworthy one; the outer edge (orange → checker) is not always: beyond ≈ 7 m and
 *     ≥ 50° off axis the 0.12 m checker band is 1–2 px, the orange outer side face merges with the
 *     face and the outer boundary runs on to the side face's far edge (measured in flight: outer
 *     corners off by 3–6 px, positions off by 0.5–0.9 m); the ground can hide the bottom band. So:
 *     the pose from the opening's four corners, then each outer side joins as a line observation
 *     (its two model corners must project onto the fitted line) only if it lies within ≈ 1 px of
 *     where that pose puts it; when the outer quad is cut by the image border, the opening alone.
 *     The mirrored-tilt solution of the planar ambiguity is refined too; the better fit wins, and
 *     on a tie the more upright gate (gravity prior from the attitude).
 *  7. Partial rings: a large component cut by the image border with no enclosed opening (a gate
 *     close and off-centre, typically while banking into it). Its outer contour (Moore trace on the
 *     sub-sampled grid) is split at the image border, the pieces into straight segments (Douglas–
 *     Peucker), each segment refined to a sub-pixel line by edge scans that also read what lies
 *     beyond it: all near-black = the opening's edge (the inner band), near-black and white = the
 *     outer edge (the checker), anything else (side face, ground, sky) is not used. Labels from the
 *     attitude: the gate's vertical edges are world-vertical, so an edge along the local image "up"
 *     (within 20°) is a left/right side, any other top/bottom; the side of the orange gives which.
 *     Pose: the gate's up axis from the attitude, its yaw by a grid search minimising the distances
 *     of the model edges from the planes through the camera and the image lines (position by least
 *     squares for each yaw), then Levenberg–Marquardt on the lines alone (corners may be far outside
 *     the image). Needs four lines (opening and checker edges together); the fit must reproject
 *     (≤ 2 px RMS) and stand upright (its up axis within 37° of the attitude estimate's).
 *
 * mono8 (best effort): orange is a mid-grey indistinguishable from ground and sky by brightness, so
 * the detector looks for the near-black inner band instead (luma ≤ darkMax): a thin dark ring whose
 * outer edge is the orange face's inner edge (innerM/2 + innerBandM). Works for near gates (the band
 * is 0.10 m: ≥ 2 sub-sampled pixels up to ≈ 8 m at fx = 320), needs the band fully visible, and
 * dark objects touching the band (shadows, dark distractors) break it. Four-point PnP only.
 *
 * Coordinates: pixels with integer = pixel centre (u right, v down); sub-sampled sample (i, j) is
 * full-resolution pixel (ds·i, ds·j).
 */
import type { Vec3 } from '../math/vec3.js';
import type { CameraFrame } from '../tracts/io.js';
import { drawGateView, newSyntheticFrame, type GateViewPose } from './synthetic-gate.js';
import { PlanarPnP, hyp2, hyp3, newPlanarPose, solveLinearInPlace, type PinholeK, type PlanarPose } from './pnp.js';

export interface GateGeometry {
  /** Inner opening side, m. */
  innerM: number;
  /** Outer frame side, m. */
  outerM: number;
  /** Frame depth (the face plane is depthM/2 in front of the mid-plane), m. */
  depthM: number;
  /** Near-black band on the face's inner edge, m. */
  innerBandM: number;
  /** Checker band on the face's outer edge, m. */
  checkerBandM: number;
}

export interface ColourThresholds {
  /** Minimum red of a gate-orange pixel (0–255). */
  minR: number;
  /** g/r range of gate orange. */
  gOverRMin: number;
  gOverRMax: number;
  /** Maximum b/r of gate orange. */
  bOverRMax: number;
  /** mono8: luma at or below this is "dark band". */
  darkMax: number;
}

export interface DetectorParams {
  gate: GateGeometry;
  colour: ColourThresholds;
  /** Sub-sampling factor of the classification grid (1, 2, 3 or 4). */
  downsample: number;
  /** Components smaller than this (full-resolution pixels) are ignored. */
  minAreaPx: number;
  /** At most this many components (largest first) are examined per frame. */
  maxCandidates: number;
  /** Edge scans per quad side in the sub-pixel refinement. */
  refineSamplesPerSide: number;
  /** Half-length of each edge scan, full-resolution pixels. */
  refineSearchPx: number;
  /** Coarse looming cell size, full-resolution pixels. */
  loomCellPx: number;
  /** Border-cut components without an enclosed opening at least this large (full-resolution px) are tried as partial rings. */
  minPartialAreaPx: number;
}

export type CornersKind = 'outer' | 'inner';

/**
 * One gate candidate. Objects handed out by the detector are pooled and overwritten on the next
 * frame: copy what you keep.
 */
export interface GateSighting {
  /** 'ring': an orange ring with an enclosed opening (a gate); 'blob': orange without a hole. */
  kind: 'ring' | 'blob';
  /** Projection of the gate centre (PnP / diagonal intersection), else the blob centroid, px. */
  centerPx: [number, number];
  /**
   * Corners of the physical square named by cornersKind (TL, TR, BR, BL as seen), px; null for blobs.
   * For a gate cut by the image border (touchesBorder) they are the opening's and may lie outside
   * the image; so may centerPx.
   */
  cornersPx: [[number, number], [number, number], [number, number], [number, number]] | null;
  /** Which square the corners belong to: the outer frame when fully inside the image, else the opening. */
  cornersKind: CornersKind;
  /** Unit ray to centerPx in the camera optical frame. */
  rayCam: Vec3;
  /** The same ray in the level body frame (FLU rotated by roll and pitch: x forward horizontal, z up). */
  rayLevel: Vec3;
  /** Angle subtended by the outer frame (blob: by √area), rad. */
  angularSizeRad: number;
  /** Size on the normalised image plane (√area of the outer square at z = 1); ∝ 1/distance. */
  sizeN: number;
  /** Orange (mono8: dark-band) pixels, full resolution. */
  areaPx: number;
  /** Bounding box [u0, v0, u1, v1] of the component, full-resolution pixels. */
  bboxPx: [number, number, number, number];
  /** The component touches the image border. */
  touchesBorder: boolean;
  /** Gate centre (mid-plane) in the camera optical frame from PnP, m. */
  posCamM: Vec3 | null;
  /** Gate plane normal, pointing from the gate toward the camera. */
  normalCam: Vec3 | null;
  /** The gate's own up axis (along its vertical sides) in the camera frame: gates stand upright, so this is world-up. */
  upCam: Vec3 | null;
  /** RMS reprojection error of the PnP fit, px (NaN without a pose). */
  reprojPx: number;
  /**
   * The mirrored-tilt pose (planar ambiguity) fit about as well and differs by > 2° in orientation;
   * the upright-gate prior (from the attitude estimate) chose between them. normalCam and upCam then
   * carry that prior and are not independent evidence of the camera's tilt. Position is unaffected.
   */
  poseAmbiguous: boolean;
  confidence: number;
}

const newSighting = (): GateSighting => ({
  kind: 'blob',
  centerPx: [0, 0],
  cornersPx: null,
  cornersKind: 'outer',
  rayCam: [0, 0, 1],
  rayLevel: [1, 0, 0],
  angularSizeRad: 0,
  sizeN: 0,
  areaPx: 0,
  bboxPx: [0, 0, 0, 0],
  touchesBorder: false,
  posCamM: null,
  normalCam: null,
  upCam: null,
  reprojPx: NaN,
  poseAmbiguous: false,
  confidence: 0,
});

/** Attitude used to de-rotate the image and to express bearings level. */
export interface DetectorAttitude {
  rollRad: number;
  pitchRad: number;
}

const BIG = 0x3fffffff;
/**
 * Sentinel for minima/maxima in hot loops: the global `Infinity` is a tagged load, and merged with
 * computed doubles it makes optimised code box them (a heap allocation per value).
 */
const HUGE = 1e300;
/** Insertion sort of a[0..n), best (confidence, then area) first; Array.prototype.sort would allocate. */
function sortBestFirst(a: GateSighting[], n: number): void {
  for (let i = 1; i < n; i++) {
    const v = a[i]!;
    let j = i - 1;
    while (j >= 0 && (a[j]!.confidence < v.confidence || (a[j]!.confidence === v.confidence && a[j]!.areaPx < v.areaPx))) {
      a[j + 1] = a[j]!;
      j--;
    }
    a[j + 1] = v;
  }
}

/** 8-neighbourhood, clockwise on screen from east (y down). */
const DX8 = Int8Array.of(1, 1, 0, -1, -1, -1, 0, 1);
const DY8 = Int8Array.of(0, 1, 1, 1, 0, -1, -1, -1);

/** Model corner signs, TL TR BR BL with X right, Y down. */
const SGN_X = Int8Array.of(-1, 1, 1, -1);
const SGN_Y = Int8Array.of(-1, -1, 1, 1);

// warmUp(): camera up-tilt of its synthetic views (the aigp-vq mount), views of the gate (camera
// pose relative to it, m and rad; the attitude is also the detector's estimate) — four close,
// rolled views whose partial ring takes the corners path (found by a search over such poses), a
// partial ring posed from its lines, a whole ring — and the edge-line sets for poseFromCorners
// (bits 0–7: slots present; bit 8: side 1 parallel to side 0).
const WARM_TILT_RAD = (20 * Math.PI) / 180;
/** (Fractional, so the intrinsics' fields are doubles from the start, as a camera's usually are.) */
const WARM_K = { width: 640, height: 360, fx: 320.5, fy: 320.5, cx: 319.5, cy: 179.5 };
const WARM_VIEWS: readonly (GateViewPose & DetectorAttitude)[] = [
  [-0.851, 0.799, 0.046, -0.269, 0.389, 0.545],
  [-1.005, 0.364, 0.605, 0.384, 0.423, -0.756],
  [-0.773, -0.595, -0.405, 0.313, 0.404, 0.8],
  [-1.128, -0.42, 0.465, -0.272, 0.423, -0.57],
  [-1.6, 0.5, 0.3, 0.2, 0.35, -0.3],
  [-6, 0.4, 0.3, 0.05, 0.3, 0.1],
].map(([xM, yM, zM, yawRad, pitchRad, rollRad]) => ({ xM: xM!, yM: yM!, zM: zM!, yawRad: yawRad!, pitchRad: pitchRad!, rollRad: rollRad! }));
const WARM_REPEATS = 3;
const WARM_MASKS = Int32Array.of(
  0x0f, 0x0e, 0x0d, 0x0b, 0x07, // the opening: 4 sides, 3
  0x33, 0x66, 0xcc, 0x99, 0x03, // 2 adjacent, with and without the outer parallels
  0xf5, 0x75, 0x01, 0x00, // opposite sides → the outer frame's 4, 3; too few
  0x10f, 0x1f5, // near-parallel sides
);

/** Cross product (a − o) × (b − o) for hull vertices o, a (indices into H) and point b. */
const hullTurn = (H: Float64Array, o: number, a: number, bx: number, by: number): number =>
  (H[2 * a]! - H[2 * o]!) * (by - H[2 * o + 1]!) - (H[2 * a + 1]! - H[2 * o + 1]!) * (bx - H[2 * o]!);

/**
 * Median of a[0..n): copied into scratch and partially reordered (quickselect) so that the median
 * is scratch[n >> 1]. No return value: a double returned from a call that is not inlined is boxed.
 */
function selectMedian(a: Float64Array, n: number, scratch: Float64Array): void {
  for (let i = 0; i < n; i++) scratch[i] = a[i]!;
  const k = n >> 1;
  let lo = 0, hi = n - 1;
  while (lo < hi) {
    const pivot = scratch[(lo + hi) >> 1]!;
    let i = lo, j = hi;
    while (i <= j) {
      while (scratch[i]! < pivot) i++;
      while (scratch[j]! > pivot) j--;
      if (i <= j) { const t = scratch[i]!; scratch[i] = scratch[j]!; scratch[j] = t; i++; j--; }
    }
    if (k <= j) hi = j;
    else if (k >= i) lo = i;
    else break;
  }
}

/** Sort 4 entries ascending in place: by key[a[i]] when key is given, else by value. */
function sort4(a: Int32Array, key: Float64Array | null): void {
  for (let i = 1; i < 4; i++) {
    const v = a[i]!;
    const kv = key ? key[v]! : v;
    let j = i - 1;
    while (j >= 0 && (key ? key[a[j]!]! : a[j]!) > kv) { a[j + 1] = a[j]!; j--; }
    a[j + 1] = v;
  }
}

/**
 * The detector. Buffers are sized for the first frame and re-sized only when the frame size or
 * encoding changes.
 */
export class GateDetector {
  readonly p: Readonly<DetectorParams>;
  /**
   * Sightings of the last frame, best first (pooled objects): one of byCount, swapped in per frame.
   * (Not one array cut to each frame's count: V8 trims a backing store that `length = m` leaves over
   * half unused, or drops it at 0, and the next frame with more sightings re-grew it, 144-152 B.)
   */
  sightings: GateSighting[];
  private readonly pool: GateSighting[] = [];
  /** byCount[m]: an array of exactly m slots for a frame with m sightings, filled by index, never resized. */
  private readonly byCount: GateSighting[][] = [];
  /** The frame's sightings while they are examined, suppressed and sorted (maxCandidates slots, never resized). */
  private readonly work: GateSighting[] = [];
  private readonly poolCorners: [[number, number], [number, number], [number, number], [number, number]][] = [];
  private readonly poolPos: Vec3[] = [];
  private readonly poolNormal: Vec3[] = [];
  private readonly poolUp: Vec3[] = [];

  // frame geometry
  private W = 0;
  private H = 0;
  private wd = 0;
  private hd = 0;
  /** Coarse luma cells (LGMD input), cw × ch, mean grey level. */
  cells = new Float32Array(0);
  cw = 0;
  ch = 0;

  // runs and components
  private maxRuns = 0;
  private nRuns = 0;
  private runY = new Int32Array(0);
  private runX0 = new Int32Array(0);
  private runX1 = new Int32Array(0);
  private runParent = new Int32Array(0);
  private runComp = new Int32Array(0);
  private rowRunStart = new Int32Array(0);
  private nComp = 0;
  private compArea = new Int32Array(0);
  private compSumX = new Float64Array(0);
  private compSumY = new Float64Array(0);
  private compX0 = new Int32Array(0);
  private compX1 = new Int32Array(0);
  private compY0 = new Int32Array(0);
  private compY1 = new Int32Array(0);
  private readonly cand = new Int32Array(64);

  // per-candidate scratch
  private rowMin = new Int32Array(0);
  private rowMax = new Int32Array(0);
  private holeMin = new Int32Array(0);
  private holeMax = new Int32Array(0);
  private gapStamp = new Int32Array(0);
  private stamp = 0;
  private stackY = new Int32Array(0);
  private stackA = new Int32Array(0);
  private stackB = new Int32Array(0);
  private hullPts = new Float64Array(0);
  private hull = new Float64Array(0);
  private hullN = 0;
  private holeArea = 0;
  private holeY0 = 0;
  private holeY1 = 0;

  // quads (full-res px, TL TR BR BL interleaved u, v)
  private readonly quadOuter = new Float64Array(8);
  private readonly quadInner = new Float64Array(8);
  private readonly quadTmp = new Float64Array(8);
  private readonly lineN = new Float64Array(8); // 4 × (nx, ny)
  private readonly lineC = new Float64Array(4);
  private readonly lineRms = new Float64Array(4);
  /** The last resolveAmbiguity() found the mirrored-tilt pose about as good (see GateSighting.poseAmbiguous). */
  private ambiguous = false;
  /** The outer quad's side lines (refineQuad's lineN/lineC, kept before the inner quad overwrites them). */
  private readonly outerN = new Float64Array(8);
  private readonly outerC = new Float64Array(4);
  /** Per outer side: max distance of the inner-pose prediction from the fitted line, px (diagnostics). */
  readonly outerDevPx = new Float64Array(4);
  /** Line observations handed to the PnP: model (X, Y) pairs and (nx, ny, c) triples. */
  private readonly lineModel = new Float64Array(32);
  private readonly lineEq = new Float64Array(48);
  /** Half-sizes of the orange face's edges: inner (opening + dark band) and outer (frame − checker), m. */
  private readonly hIn: number;
  private readonly hOut: number;
  // partial rings: component mark (stamped), contour, chain, Douglas–Peucker scratch
  private mark = new Int32Array(0);
  private markStamp = 0;
  private ctrX = new Int32Array(0);
  private ctrY = new Int32Array(0);
  private chX = new Int32Array(0);
  private chY = new Int32Array(0);
  private dpKeep = new Uint8Array(0);
  private dpStack = new Int32Array(0);
  /** Edge lines by slot (0–3 inner top, right, bottom, left; 4–7 outer): normal, offset, seen length, seen ends. */
  private readonly segN = new Float64Array(16);
  private readonly segC = new Float64Array(8);
  private readonly segLen = new Float64Array(8);
  private readonly segEnd = new Float64Array(32);
  private readonly segHave = new Uint8Array(8);
  /** Edge-line planes through the camera (unit normals) by slot, and the yaw-scan axes (e1, e2, down). */
  private readonly planeN = new Float64Array(24);
  private readonly yawAx = new Float64Array(9);
  /** 3 × 3 least-squares system (position from the edge planes). */
  private readonly A3 = new Float64Array(9);
  private readonly b3 = new Float64Array(3);
  /**
   * Unit direction from toward(). Double-valued fields start at -0 (a heap number), not 0 (a small
   * integer), so V8 gives them double representation from the start: a field that first turns
   * fractional mid-flight changes the detector's hidden class and deoptimises every method
   * specialised on it (measured: tdx/tdy first fractional at t = 60 s threw detection back to
   * unoptimised code, ~20 KB of heap numbers per frame, for seconds).
   */
  private tdx = -0;
  private tdy = -0;
  /** Counts from the last classifying scanEdge(). */
  private scanDark = 0;
  private scanWhite = 0;
  /** Scalar results of helpers (a double returned from a call that is not inlined is boxed). */
  private readonly scal = new Float64Array(3);
  /** Double arguments of helpers (scanEdge: segment, scan direction, t range; upAt/toward/poseFromLines: a pixel). */
  private readonly arg = new Float64Array(8);
  private readonly pt = new Float64Array(2);
  private readonly ex = new Float64Array(256);
  private readonly ey = new Float64Array(256);
  private readonly res = new Float64Array(256);
  private readonly res2 = new Float64Array(256);

  // pnp
  private readonly pnp = new PlanarPnP();
  private readonly pose: PlanarPose = newPlanarPose();
  private readonly poseAlt: PlanarPose = newPlanarPose();
  private readonly modelPts = new Float64Array(16);
  private readonly imagePts = new Float64Array(16);
  /**
   * The frame's intrinsics (set per frame). NaN initial values are doubles: started as small
   * integers, the first intrinsics held as doubles (the sim's are) change the hidden class after
   * warmUp() and deoptimise what it optimised.
   */
  private readonly K: PinholeK = { fx: NaN, fy: NaN, cx: NaN, cy: NaN };
  private readonly qIdx = new Int32Array(4);
  private readonly qOrd = new Int32Array(4);
  private readonly qAng = new Float64Array(4);
  private readonly qDirs = new Float64Array(8);

  // colour thresholds as integers
  private readonly gLo: number;
  private readonly gHi: number;
  private readonly bHi: number;
  private readonly minR: number;
  private readonly darkMax: number;

  // de-rotation of the current frame (doubles: -0 initial values, see tdx)
  private upX = -0;
  private upY = -1;
  private upCamX = -0;
  private upCamY = -1;
  private upCamZ = -0;
  private fx = NaN; // (doubles from the start, as K above)
  private fy = NaN;
  private cx = -0;
  private cy = -0;
  private sr = -0;
  private cr = 1;
  private sp = -0;
  private cp = 1;
  private st = -0;
  private ct = 1;
  private mono = false;
  private data: Uint8Array = new Uint8Array(0);
  private stride = 0;

  /** Last frame's counts, for diagnostics. */
  readonly stats = { runs: 0, components: 0, candidates: 0, rings: 0, partial: 0, runOverflow: 0, cornerPoses: 0 };

  constructor(params: DetectorParams) {
    this.p = params;
    const c = params.colour;
    this.gLo = Math.round(256 * c.gOverRMin);
    this.gHi = Math.round(256 * c.gOverRMax);
    this.bHi = Math.round(256 * c.bOverRMax);
    this.minR = c.minR;
    this.darkMax = c.darkMax;
    this.hIn = params.gate.innerM / 2 + params.gate.innerBandM;
    this.hOut = params.gate.outerM / 2 - params.gate.checkerBandM;
    if (!(params.loomCellPx >= 2)) throw new Error(`GateDetector: loomCellPx must be ≥ 2, got ${params.loomCellPx}`);
    if (params.refineSamplesPerSide > 250) throw new Error('GateDetector: refineSamplesPerSide must be ≤ 250');
    if (params.maxCandidates > 64) throw new Error('GateDetector: maxCandidates must be ≤ 64');
    for (let i = 0; i < params.maxCandidates; i++) {
      this.pool.push(newSighting());
      this.poolCorners.push([[0, 0], [0, 0], [0, 0], [0, 0]]);
      this.poolPos.push([0, 0, 0]);
      this.poolNormal.push([0, 0, 0]);
      this.poolUp.push([0, 0, 0]);
      this.work.push(this.pool[i]!);
    }
    for (let m = 0; m <= params.maxCandidates; m++) {
      // every count's array from the same literal with an object in it, the empty one too: one
      // elements kind, so the reads of `sightings` stay monomorphic
      const a: GateSighting[] = [this.pool[0] ?? newSighting()];
      a.length = 0;
      for (let k = 0; k < m; k++) a.push(this.pool[k]!);
      this.byCount.push(a);
    }
    this.sightings = this.byCount[0]!;
  }

  /** No sightings (a frame refused or skipped before detection). */
  clearSightings(): void {
    this.sightings = this.byCount[0]!;
  }

  private resize(W: number, H: number): void {
    const f = this.p.downsample;
    this.W = W;
    this.H = H;
    const wd = (this.wd = Math.floor((W - 1) / f) + 1);
    const hd = (this.hd = Math.floor((H - 1) / f) + 1);
    // coarse looming grid (none when the frame is smaller than 3 × 3 cells)
    const cw = Math.floor(W / this.p.loomCellPx), ch = Math.floor(H / this.p.loomCellPx);
    this.cw = cw >= 3 && ch >= 3 ? cw : 0;
    this.ch = cw >= 3 && ch >= 3 ? ch : 0;
    this.cells = new Float32Array(this.cw * this.ch);
    this.maxRuns = ((wd + 1) >> 1) * hd + 1;
    this.runY = new Int32Array(this.maxRuns);
    this.runX0 = new Int32Array(this.maxRuns);
    this.runX1 = new Int32Array(this.maxRuns);
    this.runParent = new Int32Array(this.maxRuns);
    this.runComp = new Int32Array(this.maxRuns);
    this.gapStamp = new Int32Array(this.maxRuns);
    this.rowRunStart = new Int32Array(hd + 1);
    this.compArea = new Int32Array(this.maxRuns);
    this.compSumX = new Float64Array(this.maxRuns);
    this.compSumY = new Float64Array(this.maxRuns);
    this.compX0 = new Int32Array(this.maxRuns);
    this.compX1 = new Int32Array(this.maxRuns);
    this.compY0 = new Int32Array(this.maxRuns);
    this.compY1 = new Int32Array(this.maxRuns);
    this.rowMin = new Int32Array(hd);
    this.rowMax = new Int32Array(hd);
    this.holeMin = new Int32Array(hd);
    this.holeMax = new Int32Array(hd);
    this.stackY = new Int32Array(4 * hd + 16);
    this.stackA = new Int32Array(4 * hd + 16);
    this.stackB = new Int32Array(4 * hd + 16);
    this.hullPts = new Float64Array(4 * hd + 8);
    this.hull = new Float64Array(4 * hd + 8);
    this.mark = new Int32Array(wd * hd);
    this.markStamp = 0;
    const cap = 8 * (wd + hd) + 16;
    this.ctrX = new Int32Array(cap);
    this.ctrY = new Int32Array(cap);
    this.chX = new Int32Array(cap);
    this.chY = new Int32Array(cap);
    this.dpKeep = new Uint8Array(cap);
    this.dpStack = new Int32Array(256);
  }

  /**
   * Detect gates in `frame` (the camera up-tilt comes from frame.mount; the attitude de-rotates the image).
   * Returns the number of sightings (also `this.sightings.length`), best first.
   */
  detect(frame: CameraFrame, att: DetectorAttitude): number {
    const W = frame.width, H = frame.height;
    if (W !== this.W || H !== this.H) this.resize(W, H);
    this.mono = frame.encoding === 'mono8';
    this.data = frame.data;
    this.stride = frame.step;
    const K = frame.intrinsics;
    this.fx = K.fx; this.fy = K.fy; this.cx = K.cx; this.cy = K.cy;
    this.K.fx = K.fx; this.K.fy = K.fy; this.K.cx = K.cx; this.K.cy = K.cy;
    const tilt = frame.mount.tiltUpRad;
    this.sr = Math.sin(att.rollRad); this.cr = Math.cos(att.rollRad);
    this.sp = Math.sin(att.pitchRad); this.cp = Math.cos(att.pitchRad);
    this.st = Math.sin(tilt); this.ct = Math.cos(tilt);
    // World up in the camera optical frame (body FLU: up = [−sθ, sφcθ, cφcθ]).
    this.upCamX = -this.sr * this.cp;
    this.upCamY = -(this.sp * this.st + this.cr * this.cp * this.ct);
    this.upCamZ = -this.sp * this.ct + this.cr * this.cp * this.st;
    return this.detectLoaded();
  }

  /**
   * warmUp()'s detect(): the same fields from a synthetic frame, then the same detection. Its own
   * copy of detect()'s reads, so that the frame, intrinsics and attitude objects read in detect()
   * are only ever flight frames' (objects of other hidden classes there would make those reads
   * polymorphic, and a double read polymorphically is boxed).
   */
  private detectSynthetic(frame: CameraFrame, att: DetectorAttitude): number {
    if (frame.width !== this.W || frame.height !== this.H) this.resize(frame.width, frame.height);
    this.mono = frame.encoding === 'mono8';
    this.data = frame.data;
    this.stride = frame.step;
    const K = frame.intrinsics;
    this.fx = K.fx; this.fy = K.fy; this.cx = K.cx; this.cy = K.cy;
    this.K.fx = K.fx; this.K.fy = K.fy; this.K.cx = K.cx; this.K.cy = K.cy;
    const tilt = frame.mount.tiltUpRad;
    this.sr = Math.sin(att.rollRad); this.cr = Math.cos(att.rollRad);
    this.sp = Math.sin(att.pitchRad); this.cp = Math.cos(att.pitchRad);
    this.st = Math.sin(tilt); this.ct = Math.cos(tilt);
    this.upCamX = -this.sr * this.cp;
    this.upCamY = -(this.sp * this.st + this.cr * this.cp * this.ct);
    this.upCamZ = -this.sp * this.ct + this.cr * this.cp * this.st;
    return this.detectLoaded();
  }

  /** Detection on the frame detect() has loaded into the fields. */
  private detectLoaded(): number {
    if (this.mono) this.classifyMono();
    else this.classifyRgb();
    this.label();
    this.stats.rings = 0;
    this.stats.partial = 0;
    this.stats.cornerPoses = 0;
    const nc = this.selectCandidates();
    this.stats.candidates = nc;
    // gathered in the fixed work array and copied into the array of that count, no array ever
    // resized (see `sightings`)
    const W = this.work;
    let m = 0;
    for (let k = 0; k < nc; k++) {
      const s = this.pool[m]!;
      if (this.examine(this.cand[k]!, s, m)) W[m++] = s;
    }
    m = this.suppressRingParts(m);
    sortBestFirst(W, m);
    const S = this.byCount[m]!;
    for (let k = 0; k < m; k++) S[k] = W[k]!;
    this.sightings = S;
    return m;
  }

  /**
   * Warm V8's JIT up on the detector's rare paths before flight, so that flight frames neither
   * deoptimise on a path first met mid-flight nor run its helpers in the baseline tier (where every
   * floating-point intermediate is a heap number). The partial-ring pose from corners (no horizontal
   * edge) is met a few times a minute in flight: V8 first optimises partialRing without it, deopts
   * when a frame takes it and re-optimises a second later (~32 KB of code metadata inside a frame),
   * and its helpers stay unoptimised (~1.6 KB each time). Here: synthetic gate views that take that
   * path (and a ring and a partial-ring view), detected a few times, give partialRing the path's type
   * feedback; then poseFromCorners and its helpers run on synthetic edge lines (every branch, both
   * squares) until V8 optimises them.
   *
   * Runs on a throwaway detector with the same parameters: this one (its buffers, sightings,
   * stamps and stats) is not touched, so what it detects afterwards is what it would have. Results
   * do not depend on the JIT tier (IEEE doubles in every tier); only allocation and timing do.
   * Returns what was exercised (for tests): frames detected, frames that took the corners path,
   * direct poseFromCorners calls.
   */
  warmUp(cornerCalls = 6000): { frames: number; cornerPoseFrames: number; cornerCalls: number } {
    const d = new GateDetector(this.p);
    const views = WARM_VIEWS.map((v, i) => {
      const f = newSyntheticFrame(WARM_K, WARM_TILT_RAD, 0.5 + i / 30);
      drawGateView(f, this.p.gate, v);
      return f;
    });
    const atts = WARM_VIEWS.map((v) => ({ rollRad: v.rollRad, pitchRad: v.pitchRad }));
    let frames = 0, cornerPoseFrames = 0;
    for (let rep = 0; rep < WARM_REPEATS; rep++) {
      for (let i = 0; i < views.length; i++) {
        d.detectSynthetic(views[i]!, atts[i]!);
        frames++;
        if (d.stats.cornerPoses > 0) cornerPoseFrames++;
      }
    }
    // poseFromCorners on a projected gate's edge lines: all four sides, each side missing, each
    // adjacent pair (with the other square's parallel sides), an opposite pair, near-parallel lines;
    // the opening's lines first, then the outer frame's alone
    const S = WARM_MASKS.length;
    for (let i = 0; i < cornerCalls; i++) {
      d.warmLines(i % S, (i % 7) * 0.05 - 0.15, 0.9 + (i % 5) * 0.1);
      d.poseFromCorners(d.poseAlt);
    }
    return { frames, cornerPoseFrames, cornerCalls };
  }

  /**
   * Edge lines of a gate seen square-on at distance distM (rolled by rollRad) into segN/segC/segEnd/segHave,
   * for the line set WARM_MASKS[maskIdx] (warmUp only).
   */
  private warmLines(maskIdx: number, rollRad: number, distM: number): void {
    const mask = WARM_MASKS[maskIdx]!, cs = Math.cos(rollRad), sn = Math.sin(rollRad);
    this.K.fx = 320; this.K.fy = 320; this.K.cx = 320; this.K.cy = 180;
    const q = this.quadTmp;
    for (let sq = 0; sq < 2; sq++) {
      const h = (sq === 0 ? this.hIn : this.hOut) * (320 / distM);
      // corners TL TR BR BL around (300, 190), rolled
      for (let k = 0; k < 4; k++) {
        const x = SGN_X[k]! * h, y = SGN_Y[k]! * h;
        q[2 * k] = 300 + cs * x - sn * y; q[2 * k + 1] = 190 + sn * x + cs * y;
      }
      for (let k = 0; k < 4; k++) {
        const slot = 4 * sq + k, k1 = (k + 1) & 3; // side k joins corners k and k + 1
        const ax = q[2 * k]!, ay = q[2 * k + 1]!, bx = q[2 * k1]!, by = q[2 * k1 + 1]!;
        const l = hyp2(bx - ax, by - ay), tx = (bx - ax) / l, ty = (by - ay) / l;
        // mask bit 8: side 1 parallel to side 0 (no corner)
        let nx = -ty, ny = tx;
        if (mask & 0x100 && k === 1) { nx = this.segN[2 * (slot - 1)]!; ny = this.segN[2 * (slot - 1) + 1]!; }
        this.segN[2 * slot] = nx; this.segN[2 * slot + 1] = ny; this.segC[slot] = nx * ax + ny * ay;
        const E = this.segEnd;
        E[4 * slot] = ax + 0.2 * (bx - ax); E[4 * slot + 1] = ay + 0.2 * (by - ay);
        E[4 * slot + 2] = ax + 0.8 * (bx - ax); E[4 * slot + 3] = ay + 0.8 * (by - ay);
        this.segHave[slot] = (mask >> slot) & 1;
      }
    }
  }

  /**
   * Drop blobs that are parts of a detected ring's gate: the orange outer side faces seen off-axis
   * (a strip just outside the checker band). mono8 reports no blobs at all (a dark blob is no gate
   * evidence).
   */
  private suppressRingParts(n: number): number {
    const S = this.work;
    let m = 0;
    for (let i = 0; i < n; i++) {
      const s = S[i]!;
      let keep = true;
      if (s.kind === 'blob') {
        if (this.mono) keep = false;
        for (let j = 0; j < n && keep; j++) {
          const r = S[j]!;
          if (r.kind !== 'ring' || s.areaPx > r.areaPx) continue;
          const b = r.bboxPx, gx = 0.2 * (b[2] - b[0]), gy = 0.2 * (b[3] - b[1]);
          const u = s.centerPx[0], v = s.centerPx[1];
          if (u >= b[0] - gx && u <= b[2] + gx && v >= b[1] - gy && v <= b[3] + gy) keep = false;
        }
      }
      if (keep) S[m++] = s;
    }
    return m;
  }

  // ------------------------------------------------------------------ pass 1: classify + runs

  private classifyRgb(): void {
    const f = this.p.downsample, wd = this.wd, hd = this.hd;
    const data = this.data, stride = this.stride;
    const gLo = this.gLo, gHi = this.gHi, bHi = this.bHi, minR = this.minR;
    this.beginRuns();
    const f3 = 3 * f;
    for (let j = 0; j < hd; j++) {
      this.rowRunStart[j] = this.nRuns;
      const p0 = j * f * stride, pEnd = p0 + wd * f3;
      let p = p0;
      while (p < pEnd) {
        // outside a run: skip the samples too dark in red to be orange (most of the image) in a
        // loop of their own, the cheapest the scan can be
        while (p < pEnd && data[p]! < minR) p += f3;
        if (p >= pEnd) break;
        let r = data[p]!, g = data[p + 1]! << 8;
        if (!(g >= gLo * r && g <= gHi * r && data[p + 2]! << 8 <= bHi * r)) {
          p += f3;
          continue;
        }
        // a run of orange samples starts here and lasts while they stay orange
        const x0 = (p - p0) / f3;
        for (p += f3; p < pEnd; p += f3) {
          r = data[p]!;
          if (r < minR) break;
          g = data[p + 1]! << 8;
          if (!(g >= gLo * r && g <= gHi * r && data[p + 2]! << 8 <= bHi * r)) break;
        }
        this.pushRun(j, x0, (p - p0) / f3 - 1);
      }
    }
    this.rowRunStart[hd] = this.nRuns;
    this.lumaCells();
  }

  private classifyMono(): void {
    const f = this.p.downsample, wd = this.wd, hd = this.hd;
    const data = this.data, stride = this.stride;
    const dark = this.darkMax;
    this.beginRuns();
    for (let j = 0; j < hd; j++) {
      this.rowRunStart[j] = this.nRuns;
      const p0 = j * f * stride, pEnd = p0 + wd * f;
      let p = p0;
      while (p < pEnd) {
        // as classifyRgb: the samples too bright to be gate skipped in a loop of their own
        while (p < pEnd && data[p]! > dark) p += f;
        if (p >= pEnd) break;
        const x0 = (p - p0) / f;
        for (p += f; p < pEnd && data[p]! <= dark; p += f);
        this.pushRun(j, x0, (p - p0) / f - 1);
      }
    }
    this.rowRunStart[hd] = this.nRuns;
    this.lumaCells();
  }

  /**
   * Coarse luminance for the LGMD: the mean of 4 pixels per cell, at (¼, ¾) of the cell in x and
   * y (a 2 × 2 sample of each loomCellPx × loomCellPx cell; Rec. 601 luma for rgb8).
   */
  private lumaCells(): void {
    const cw = this.cw, ch = this.ch, cells = this.cells, data = this.data, stride = this.stride;
    const cp = this.p.loomCellPx, a = cp >> 2, b = (3 * cp) >> 2;
    if (this.mono) {
      for (let cj = 0; cj < ch; cj++) {
        const r0 = (cp * cj + a) * stride, r1 = (cp * cj + b) * stride;
        for (let ci = 0; ci < cw; ci++) {
          const x0 = cp * ci + a, x1 = cp * ci + b;
          cells[cj * cw + ci] = 0.25 * (data[r0 + x0]! + data[r0 + x1]! + data[r1 + x0]! + data[r1 + x1]!);
        }
      }
      return;
    }
    for (let cj = 0; cj < ch; cj++) {
      const r0 = (cp * cj + a) * stride, r1 = (cp * cj + b) * stride;
      for (let ci = 0; ci < cw; ci++) {
        const x0 = 3 * (cp * ci + a), x1 = 3 * (cp * ci + b);
        const p00 = r0 + x0, p01 = r0 + x1, p10 = r1 + x0, p11 = r1 + x1;
        const sr = data[p00]! + data[p01]! + data[p10]! + data[p11]!;
        const sg = data[p00 + 1]! + data[p01 + 1]! + data[p10 + 1]! + data[p11 + 1]!;
        const sb = data[p00 + 2]! + data[p01 + 2]! + data[p10 + 2]! + data[p11 + 2]!;
        cells[cj * cw + ci] = (77 * sr + 150 * sg + 29 * sb) * (1 / 1024);
      }
    }
  }

  private prevStart = 0;
  private prevEnd = 0;
  private prevPtr = 0;
  private curRow = -1;

  private beginRuns(): void {
    this.nRuns = 0;
    this.curRow = -1;
    this.prevStart = this.prevEnd = this.prevPtr = 0;
  }

  private find(a: number): number {
    const par = this.runParent;
    while (par[a]! !== a) {
      const g = par[par[a]!]!;
      par[a] = g;
      a = g;
    }
    return a;
  }

  private pushRun(j: number, x0: number, x1: number): void {
    if (this.nRuns >= this.maxRuns) {
      this.stats.runOverflow++;
      return;
    }
    if (j !== this.curRow) {
      // runs of row j − 1 are [rowRunStart[j − 1], rowRunStart[j])
      this.curRow = j;
      if (j > 0) {
        this.prevStart = this.rowRunStart[j - 1]!;
        this.prevEnd = this.rowRunStart[j]!;
      } else {
        this.prevStart = this.prevEnd = 0;
      }
      this.prevPtr = this.prevStart;
    }
    const n = this.nRuns++;
    this.runY[n] = j;
    this.runX0[n] = x0;
    this.runX1[n] = x1;
    this.runParent[n] = n;
    const X0 = this.runX0, X1 = this.runX1, par = this.runParent;
    let q = this.prevPtr;
    const end = this.prevEnd;
    while (q < end && X1[q]! < x0 - 1) q++;
    this.prevPtr = q;
    while (q < end && X0[q]! <= x1 + 1) {
      const ra = this.find(n), rb = this.find(q);
      if (ra !== rb) {
        if (ra < rb) par[rb] = ra;
        else par[ra] = rb;
      }
      q++;
    }
  }

  private label(): void {
    const n = this.nRuns;
    const par = this.runParent, comp = this.runComp;
    let nc = 0;
    for (let r = 0; r < n; r++) {
      const root = this.find(r);
      let c: number;
      if (root === r) {
        c = nc++;
        this.compArea[c] = 0;
        this.compSumX[c] = 0;
        this.compSumY[c] = 0;
        this.compX0[c] = BIG;
        this.compX1[c] = -1;
        this.compY0[c] = BIG;
        this.compY1[c] = -1;
      } else c = comp[root]!;
      comp[r] = c;
      par[r] = root;
      const x0 = this.runX0[r]!, x1 = this.runX1[r]!, y = this.runY[r]!;
      const len = x1 - x0 + 1;
      this.compArea[c] = this.compArea[c]! + len;
      this.compSumX[c] = this.compSumX[c]! + 0.5 * (x0 + x1) * len;
      this.compSumY[c] = this.compSumY[c]! + y * len;
      if (x0 < this.compX0[c]!) this.compX0[c] = x0;
      if (x1 > this.compX1[c]!) this.compX1[c] = x1;
      if (y < this.compY0[c]!) this.compY0[c] = y;
      if (y > this.compY1[c]!) this.compY1[c] = y;
    }
    this.nComp = nc;
    this.stats.runs = n;
    this.stats.components = nc;
  }

  /** Largest components above the area threshold into this.cand; returns the count. */
  private selectCandidates(): number {
    const f = this.p.downsample;
    const minA = Math.max(1, this.p.minAreaPx / (f * f));
    const K = this.p.maxCandidates, cand = this.cand, area = this.compArea;
    let n = 0;
    for (let c = 0; c < this.nComp; c++) {
      const a = area[c]!;
      if (a < minA) continue;
      if (n < K) {
        let k = n++;
        while (k > 0 && area[cand[k - 1]!]! < a) { cand[k] = cand[k - 1]!; k--; }
        cand[k] = c;
      } else if (a > area[cand[K - 1]!]!) {
        let k = K - 1;
        while (k > 0 && area[cand[k - 1]!]! < a) { cand[k] = cand[k - 1]!; k--; }
        cand[k] = c;
      }
    }
    return n;
  }

  // ------------------------------------------------------------------ per candidate

  /** Examine component c; fill sighting s. Returns false to drop it. */
  private examine(c: number, s: GateSighting, poolIdx: number): boolean {
    const f = this.p.downsample;
    const x0 = this.compX0[c]!, x1 = this.compX1[c]!, y0 = this.compY0[c]!, y1 = this.compY1[c]!;
    const area = this.compArea[c]!;
    const cxd = this.compSumX[c]! / area, cyd = this.compSumY[c]! / area;
    s.areaPx = area * f * f;
    s.bboxPx[0] = x0 * f; s.bboxPx[1] = y0 * f; s.bboxPx[2] = x1 * f; s.bboxPx[3] = y1 * f;
    s.touchesBorder = x0 === 0 || y0 === 0 || x1 === this.wd - 1 || y1 === this.hd - 1;
    s.posCamM = null;
    s.normalCam = null;
    s.upCam = null;
    s.cornersPx = null;
    s.cornersKind = 'outer';
    s.reprojPx = NaN;
    s.poseAmbiguous = false;

    // per-row extents of the component
    const rowMin = this.rowMin, rowMax = this.rowMax;
    for (let j = y0; j <= y1; j++) {
      let lo = BIG, hi = -1;
      for (let r = this.rowRunStart[j]!, e = this.rowRunStart[j + 1]!; r < e; r++) {
        if (this.runComp[r] !== c) continue;
        if (this.runX0[r]! < lo) lo = this.runX0[r]!;
        if (this.runX1[r]! > hi) hi = this.runX1[r]!;
      }
      rowMin[j] = lo;
      rowMax[j] = hi;
    }

    // hole
    let ring = this.tryHole(c, Math.round(cxd), Math.round(cyd), y0, y1, area);
    if (!ring) ring = this.tryHole(c, (x0 + x1) >> 1, (y0 + y1) >> 1, y0, y1, area);
    // off-centre opening (an oblique gate whose orange outer side face has merged with the ring
    // pulls the centroid and the box centre onto the ring): seed in the gaps between the
    // component's runs on rows through the middle
    for (let q = 0; q < 3 && !ring; q++) {
      const j = (y0 + y1 + (q === 0 ? 0 : q === 1 ? -1 : 1) * ((y1 - y0) >> 2)) >> 1;
      let prev = -1;
      for (let r = this.rowRunStart[j]!, e = this.rowRunStart[j + 1]!; r < e && !ring; r++) {
        if (this.runComp[r] !== c) continue;
        if (prev >= 0 && this.runX0[r]! - this.runX1[prev]! > 1) ring = this.tryHole(c, (this.runX1[prev]! + this.runX0[r]!) >> 1, j, y0, y1, area);
        prev = r;
      }
    }

    if (ring) {
      const okPose = this.ringGeometry(c, s, poolIdx);
      if (okPose) {
        this.stats.rings++;
        return true;
      }
    }
    // a large component cut by the image border without an enclosed opening: a near gate, partly out of view
    if (s.touchesBorder && !this.mono && s.areaPx >= this.p.minPartialAreaPx && this.partialRing(c, s, poolIdx)) {
      this.stats.rings++;
      this.stats.partial++;
      return true;
    }
    // blob (or a ring whose geometry failed)
    s.kind = 'blob';
    s.posCamM = null;
    s.normalCam = null;
    s.upCam = null;
    s.cornersPx = null;
    s.cornersKind = 'outer';
    s.reprojPx = NaN;
    s.poseAmbiguous = false;
    const u = cxd * f, v = cyd * f;
    s.centerPx[0] = u; s.centerPx[1] = v;
    this.setRay(s, u, v);
    s.sizeN = Math.sqrt(s.areaPx / (this.fx * this.fy));
    s.angularSizeRad = 2 * Math.atan(s.sizeN / 2);
    // A blob is never confidently a gate: at most 0.25, more for big blobs, less at the border.
    const big = Math.min(1, s.areaPx / 2000);
    s.confidence = (ring ? 0.25 : 0.12) * (0.5 + 0.5 * big) * (s.touchesBorder ? 0.8 : 1);
    return true;
  }

  private setRay(s: GateSighting, u: number, v: number): void {
    const x = (u - this.cx) / this.fx, y = (v - this.cy) / this.fy;
    const n = hyp3(x, y, 1);
    s.rayCam[0] = x / n; s.rayCam[1] = y / n; s.rayCam[2] = 1 / n;
    this.toLevel(s.rayCam, s.rayLevel);
  }

  /** Camera optical-frame direction → level body frame (FLU de-rolled and de-pitched). */
  private toLevel(c: Vec3, out: Vec3): void {
    // camera → body: x_b = y_c·sτ + z_c·cτ, y_b = −x_c, z_b = −y_c·cτ + z_c·sτ
    const bx = c[1] * this.st + c[2] * this.ct, by = -c[0], bz = -c[1] * this.ct + c[2] * this.st;
    // level = Ry(θ)·Rx(φ)·body
    const y1 = this.cr * by - this.sr * bz, z1 = this.sr * by + this.cr * bz;
    out[0] = this.cp * bx + this.sp * z1;
    out[1] = y1;
    out[2] = -this.sp * bx + this.cp * z1;
  }

  /** fillHole, and the hole is a plausible opening (≥ 4 samples, 8–95 % of hole + ring). */
  private tryHole(c: number, sx: number, sy: number, y0: number, y1: number, area: number): boolean {
    if (!this.fillHole(c, sx, sy, y0, y1)) return false;
    const frac = this.holeArea / (this.holeArea + area);
    return this.holeArea >= 4 && frac >= 0.08 && frac <= 0.95;
  }

  /**
   * Span-fill the non-component region containing (sx, sy) using only component c's runs as
   * walls. Returns true when it is enclosed (does not reach the outside or the image border).
   * Fills this.holeMin/holeMax for rows holeY0..holeY1 and this.holeArea.
   */
  private fillHole(c: number, sx: number, sy: number, y0: number, y1: number): boolean {
    if (sy <= y0 || sy >= y1) return false;
    const holeMin = this.holeMin, holeMax = this.holeMax;
    for (let j = y0; j <= y1; j++) { holeMin[j] = BIG; holeMax[j] = -1; }
    const st = ++this.stamp;
    const runComp = this.runComp, X0 = this.runX0, X1 = this.runX1, rs = this.rowRunStart, gs = this.gapStamp;
    // seed gap
    let left = -1, right = -1;
    for (let r = rs[sy]!, e = rs[sy + 1]!; r < e; r++) {
      if (runComp[r] !== c) continue;
      if (X1[r]! < sx) left = r;
      else if (X0[r]! > sx) { right = r; break; } else return false; // seed on the component
    }
    if (left < 0 || right < 0) return false;
    const sY = this.stackY, sA = this.stackA, sB = this.stackB, cap = sY.length;
    let top = 0;
    gs[left] = st;
    sY[top] = sy; sA[top] = X1[left]! + 1; sB[top] = X0[right]! - 1; top++;
    let areaSum = 0;
    let hy0 = sy, hy1 = sy;
    while (top > 0) {
      top--;
      const j = sY[top]!, a = sA[top]!, b = sB[top]!;
      areaSum += b - a + 1;
      if (a < holeMin[j]!) holeMin[j] = a;
      if (b > holeMax[j]!) holeMax[j] = b;
      if (j < hy0) hy0 = j;
      if (j > hy1) hy1 = j;
      for (let d = -1; d <= 1; d += 2) {
        const nj = j + d;
        if (nj < y0 || nj > y1) return false; // reached beyond the component: open
        // background intervals of row nj between consecutive c-runs that overlap [a, b]
        let prev = -1; // previous c-run in row nj (−1: none yet → left exterior)
        let broke = false;
        for (let r = rs[nj]!, e = rs[nj + 1]!; r < e; r++) {
          if (runComp[r] !== c) continue;
          const lo = prev < 0 ? -BIG : X1[prev]! + 1, hi = X0[r]! - 1;
          if (lo <= hi && lo <= b && hi >= a) {
            if (prev < 0) return false; // joins the left exterior: open
            if (gs[prev] !== st) {
              gs[prev] = st;
              if (top >= cap) return false;
              sY[top] = nj; sA[top] = lo; sB[top] = hi; top++;
            }
          }
          prev = r;
          if (X0[r]! > b) { broke = true; break; }
        }
        // right exterior (or the whole row when it has no c-run)
        if (!broke && (prev < 0 || X1[prev]! + 1 <= b)) return false;
      }
    }
    this.holeArea = areaSum;
    this.holeY0 = hy0;
    this.holeY1 = hy1;
    return true;
  }

  /** Convex hull (Andrew's monotone chain on y-sorted row extents) into this.hull; returns count. */
  private hullFromRows(minA: Int32Array, maxA: Int32Array, y0: number, y1: number): number {
    const f = this.p.downsample;
    const grow = 0.5 * f; // computed here, not passed: a double argument is boxed (16 B)
    const P = this.hullPts;
    let n = 0;
    for (let j = y0; j <= y1; j++) {
      const lo = minA[j]!, hi = maxA[j]!;
      if (hi < lo) continue;
      const y = j * f;
      P[2 * n] = lo * f - grow; P[2 * n + 1] = y; n++;
      P[2 * n] = hi * f + grow; P[2 * n + 1] = y; n++;
    }
    if (n < 3) return 0;
    // points are sorted by (y, x): monotone chain with y as the primary key
    const Hh = this.hull;
    let k = 0;
    for (let i = 0; i < n; i++) {
      const x = P[2 * i]!, y = P[2 * i + 1]!;
      while (k >= 2 && hullTurn(Hh, k - 2, k - 1, x, y) >= 0) k--;
      Hh[2 * k] = x; Hh[2 * k + 1] = y; k++;
    }
    const lower = k + 1;
    for (let i = n - 2; i >= 0; i--) {
      const x = P[2 * i]!, y = P[2 * i + 1]!;
      while (k >= lower && hullTurn(Hh, k - 2, k - 1, x, y) >= 0) k--;
      Hh[2 * k] = x; Hh[2 * k + 1] = y; k++;
    }
    this.hullN = k - 1;
    return this.hullN;
  }

  /** Local image "up" direction at pixel (u, v) from the attitude (unit, pixels). */
  private upAt(): void {
    const u = this.pt[0]!, v = this.pt[1]!;
    const xn = (u - this.cx) / this.fx, yn = (v - this.cy) / this.fy;
    let dx = this.fx * (this.upCamX - xn * this.upCamZ), dy = this.fy * (this.upCamY - yn * this.upCamZ);
    const n = hyp2(dx, dy);
    if (n < 1e-9) { dx = 0; dy = -1; } else { dx /= n; dy /= n; }
    this.upX = dx;
    this.upY = dy;
  }

  /** Largest-area quad on the current hull, ordered TL, TR, BR, BL in the de-rotated frame. */
  private quadFromHull(out: Float64Array): boolean {
    const m = this.hullN, Hh = this.hull;
    if (m < 4) return false;
    const ux = this.upX, uy = this.upY, rx = -uy, ry = ux; // right = up rotated clockwise
    const idx = this.qIdx, dirs = this.qDirs;
    dirs[0] = -rx + ux; dirs[1] = -ry + uy; dirs[2] = rx + ux; dirs[3] = ry + uy;
    dirs[4] = rx - ux; dirs[5] = ry - uy; dirs[6] = -rx - ux; dirs[7] = -ry - uy;
    for (let k = 0; k < 4; k++) {
      let best = -HUGE, bi = 0;
      const dx = dirs[2 * k]!, dy = dirs[2 * k + 1]!;
      for (let i = 0; i < m; i++) {
        const v = Hh[2 * i]! * dx + Hh[2 * i + 1]! * dy;
        if (v > best) { best = v; bi = i; }
      }
      idx[k] = bi;
    }
    // coordinate ascent on the quad area (each vertex maximises its distance to its neighbours' chord)
    sort4(idx, null);
    if (idx[0] === idx[1] || idx[1] === idx[2] || idx[2] === idx[3]) {
      // two diagonal extremes coincide (a thin, strongly foreshortened quad): seed instead with a
      // diameter (A, C) and the farthest vertex on each side of it (B, D)
      let cxh = 0, cyh = 0;
      for (let i = 0; i < m; i++) { cxh += Hh[2 * i]!; cyh += Hh[2 * i + 1]!; }
      cxh /= m; cyh /= m;
      let a = 0, best = -1;
      for (let i = 0; i < m; i++) {
        const d = (Hh[2 * i]! - cxh) ** 2 + (Hh[2 * i + 1]! - cyh) ** 2;
        if (d > best) { best = d; a = i; }
      }
      let c = a;
      best = -1;
      for (let i = 0; i < m; i++) {
        const d = (Hh[2 * i]! - Hh[2 * a]!) ** 2 + (Hh[2 * i + 1]! - Hh[2 * a + 1]!) ** 2;
        if (d > best) { best = d; c = i; }
      }
      let b = -1, d2 = -1, bb = 0, bd = 0;
      // hullTurn(Hh, a, c, point i) written out: this rare path's call is not inlined, and the
      // double it returned was boxed (16 B, measured in flight at t = 61 s)
      const ox = Hh[2 * a]!, oy = Hh[2 * a + 1]!, ax = Hh[2 * c]! - ox, ay = Hh[2 * c + 1]! - oy;
      for (let i = 0; i < m; i++) {
        const v = ax * (Hh[2 * i + 1]! - oy) - ay * (Hh[2 * i]! - ox);
        if (v > bb) { bb = v; b = i; }
        if (-v > bd) { bd = -v; d2 = i; }
      }
      if (b < 0 || d2 < 0 || a === c) return false;
      idx[0] = a; idx[1] = b; idx[2] = c; idx[3] = d2;
      sort4(idx, null);
      if (idx[0] === idx[1] || idx[1] === idx[2] || idx[2] === idx[3]) return false;
    }
    for (let sweep = 0; sweep < 6; sweep++) {
      let changed = false;
      for (let k = 0; k < 4; k++) {
        const a = idx[(k + 3) & 3]!, b = idx[(k + 1) & 3]!;
        const ax = Hh[2 * a]!, ay = Hh[2 * a + 1]!, bx = Hh[2 * b]!, by = Hh[2 * b + 1]!;
        let best = -HUGE, bi = idx[k]!;
        for (let i = (a + 1) % m; i !== b; i = (i + 1) % m) {
          const v = Math.abs((bx - ax) * (Hh[2 * i + 1]! - ay) - (by - ay) * (Hh[2 * i]! - ax));
          if (v > best) { best = v; bi = i; }
        }
        if (bi !== idx[k]) { idx[k] = bi; changed = true; }
      }
      if (!changed) break;
    }
    // order by angle in the de-rotated frame: TL ≈ −135°, TR −45°, BR 45°, BL 135° (x right, y down)
    let mx = 0, my = 0;
    for (let k = 0; k < 4; k++) { mx += Hh[2 * idx[k]!]!; my += Hh[2 * idx[k]! + 1]!; }
    mx /= 4; my /= 4;
    const ang = this.qAng, order = this.qOrd;
    for (let k = 0; k < 4; k++) {
      const dx = Hh[2 * idx[k]!]! - mx, dy = Hh[2 * idx[k]! + 1]! - my;
      ang[k] = Math.atan2(-(dx * ux + dy * uy), dx * rx + dy * ry); // (x' right, y' down)
      order[k] = k;
    }
    sort4(order, ang);
    let bestShift = 0, bestCost = HUGE;
    for (let sh = 0; sh < 4; sh++) {
      let cost = 0;
      for (let k = 0; k < 4; k++) {
        let d = ang[order[(k + sh) & 3]!]! - (k - 1.5) * 0.5 * Math.PI; // TL −135°, TR −45°, BR 45°, BL 135°
        d -= 2 * Math.PI * Math.round(d / (2 * Math.PI));
        cost += Math.abs(d);
      }
      if (cost < bestCost) { bestCost = cost; bestShift = sh; }
    }
    for (let k = 0; k < 4; k++) {
      const i = idx[order[(k + bestShift) & 3]!]!;
      out[2 * k] = Hh[2 * i]!;
      out[2 * k + 1] = Hh[2 * i + 1]!;
    }
    // must be a proper convex quad with some area
    let area2 = 0;
    for (let k = 0; k < 4; k++) {
      const a = k, b = (k + 1) & 3;
      area2 += out[2 * a]! * out[2 * b + 1]! - out[2 * b]! * out[2 * a + 1]!;
    }
    return area2 > 8;
  }

  /** Is full-resolution pixel (x, y) ring ("on")? Outside the image: off. */
  private onAt(x: number, y: number): boolean {
    if (x < 0 || y < 0 || x >= this.W || y >= this.H) return false;
    const d = this.data;
    if (this.mono) return d[y * this.stride + x]! <= this.darkMax;
    const p = y * this.stride + 3 * x;
    const r = d[p]!, g = d[p + 1]!, b = d[p + 2]!;
    return r >= this.minR && g << 8 >= this.gLo * r && g << 8 <= this.gHi * r && b << 8 <= this.bHi * r;
  }

  /**
   * Refine a rough quad (TL, TR, BR, BL) to sub-pixel: per side, scans across the edge from the
   * ring side toward the non-ring side (`outward`: the ring is inside the quad — outer boundary;
   * otherwise the ring is outside — the hole boundary), TLS line fits, intersections. Writes `out`.
   */
  private refineQuad(q: Float64Array, outward: boolean, out: Float64Array): boolean {
    const M = this.p.refineSamplesPerSide, k = this.p.refineSearchPx;
    let qx = 0, qy = 0;
    for (let i = 0; i < 4; i++) { qx += q[2 * i]!; qy += q[2 * i + 1]!; }
    qx /= 4; qy /= 4;
    for (let s = 0; s < 4; s++) {
      const ax = q[2 * s]!, ay = q[2 * s + 1]!, bx = q[2 * ((s + 1) & 3)]!, by = q[2 * ((s + 1) & 3) + 1]!;
      const dx = bx - ax, dy = by - ay;
      const len = hyp2(dx, dy);
      if (len < 4) return false;
      let nx = -dy / len, ny = dx / len;
      if (nx * ((ax + bx) / 2 - qx) + ny * ((ay + by) / 2 - qy) < 0) { nx = -nx; ny = -ny; } // outward normal
      // scan direction: from the ring toward the non-ring side
      const a = this.arg;
      a[0] = ax; a[1] = ay; a[2] = bx; a[3] = by; a[4] = outward ? nx : -nx; a[5] = outward ? ny : -ny; a[6] = 0.12; a[7] = 0.88;
      const n = this.scanEdge(M, k, false);
      if (!this.fitLine(n, s)) return false;
    }
    const maxShift = 2 * k + 2;
    for (let c = 0; c < 4; c++) {
      const a = (c + 3) & 3, b = c; // corner c = side (c−1) ∩ side c
      const n1x = this.lineN[2 * a]!, n1y = this.lineN[2 * a + 1]!, c1 = this.lineC[a]!;
      const n2x = this.lineN[2 * b]!, n2y = this.lineN[2 * b + 1]!, c2 = this.lineC[b]!;
      const det = n1x * n2y - n1y * n2x;
      if (Math.abs(det) < 0.05) return false;
      const x = (c1 * n2y - c2 * n1y) / det, y = (n1x * c2 - n2x * c1) / det;
      if (hyp2(x - q[2 * c]!, y - q[2 * c + 1]!) > maxShift) return false;
      out[2 * c] = x;
      out[2 * c + 1] = y;
    }
    return true;
  }

  /**
   * Edge points along the segment a → b (full-resolution px; arg = [ax, ay, bx, by, sx, sy, t0, t1]:
   * doubles are passed in a typed array, as arguments of a call that is not inlined they would be
   * boxed): M scans at t ∈ [t0, t1], each along
   * the image axis closest to the scan direction (sx, sy) (from the ring toward the non-ring side),
   * starting k px on the ring side; the edge is ≥ 2 ring pixels then ≥ 2 non-ring pixels (single
   * noisy pixels are skipped). Points → ex/ey; returns their count. With `classify`, the 3 pixels
   * beyond each edge point are also read: scanDark / scanWhite count the scans where they are all
   * near-black (the inner band, a black checker square) / mostly light grey-white (a white checker
   * square, or pale sky).
   */
  private scanEdge(M: number, k: number, classify: boolean): number {
    const a = this.arg, ax = a[0]!, ay = a[1]!, bx = a[2]!, by = a[3]!, sx = a[4]!, sy = a[5]!, t0 = a[6]!, t1 = a[7]!;
    const ex = this.ex, ey = this.ey;
    const dx = bx - ax, dy = by - ay;
    const alongX = Math.abs(sx) >= Math.abs(sy);
    let n = 0, last = -BIG;
    let dark = 0, white = 0;
    for (let m = 0; m < M; m++) {
      const t = t0 + ((t1 - t0) * (m + 0.5)) / M;
      let x: number, y: number, ddx: number, ddy: number;
      if (alongX) {
        y = Math.round(ay + t * dy);
        if (y === last || y < 0 || y >= this.H) continue;
        last = y;
        const xl = Math.abs(dy) > 1e-9 ? ax + ((y - ay) * dx) / dy : ax + t * dx;
        ddx = sx > 0 ? 1 : -1; ddy = 0;
        x = Math.round(xl - ddx * k);
      } else {
        x = Math.round(ax + t * dx);
        if (x === last || x < 0 || x >= this.W) continue;
        last = x;
        const yl = Math.abs(dx) > 1e-9 ? ay + ((x - ax) * dy) / dx : ay + t * dy;
        ddy = sy > 0 ? 1 : -1; ddx = 0;
        y = Math.round(yl - ddy * k);
      }
      let run = 0, found = false;
      for (let i = 0, steps = 2 * k; i <= steps; i++, x += ddx, y += ddy) {
        if (this.onAt(x, y)) { run++; continue; }
        if (run >= 2) {
          if (this.onAt(x + ddx, y + ddy)) continue;
          ex[n] = x - 0.5 * ddx; ey[n] = y - 0.5 * ddy; n++;
          found = true;
          break;
        }
        run = 0;
      }
      if (!found || !classify) continue;
      // (x, y) = first non-ring pixel beyond the edge
      let nd = 0, nw = 0;
      for (let i = 0; i < 3; i++) {
        const c = this.pixClass(x + i * ddx, y + i * ddy);
        if (c === 1) nd++;
        else if (c === 2) nw++;
      }
      if (nd === 3) dark++;
      else if (nw >= 2) white++;
    }
    this.scanDark = dark;
    this.scanWhite = white;
    return n;
  }

  /** rgb8 pixel class: 1 near-black (max channel ≤ 72), 2 light grey-white (min ≥ 150, spread ≤ 48), 0 other or outside. */
  private pixClass(x: number, y: number): number {
    if (x < 0 || y < 0 || x >= this.W || y >= this.H) return 0;
    const d = this.data, p = y * this.stride + 3 * x;
    const r = d[p]!, g = d[p + 1]!, b = d[p + 2]!;
    const hi = r > g ? (r > b ? r : b) : g > b ? g : b;
    if (hi <= 72) return 1;
    const lo = r < g ? (r < b ? r : b) : g < b ? g : b;
    return lo >= 150 && hi - lo <= 48 ? 2 : 0;
  }

  /**
   * Total-least-squares line through ex/ey[0..n) with robust re-weighting: two passes that drop
   * points farther than max(0.75 px, 3·1.48·MAD) from the previous fit → lineN/lineC/lineRms[s].
   */
  private fitLine(n: number, s: number): boolean {
    if (n < 4) return false;
    const ex = this.ex, ey = this.ey, res = this.res;
    let use = n;
    let nx = 0, ny = 0, c = 0;
    for (let pass = 0; pass < 3; pass++) {
      let mx = 0, my = 0;
      for (let i = 0; i < use; i++) { mx += ex[i]!; my += ey[i]!; }
      mx /= use; my /= use;
      let sxx = 0, sxy = 0, syy = 0;
      for (let i = 0; i < use; i++) {
        const dx = ex[i]! - mx, dy = ey[i]! - my;
        sxx += dx * dx; sxy += dx * dy; syy += dy * dy;
      }
      // direction = principal eigenvector; normal ⟂ it
      const th = 0.5 * Math.atan2(2 * sxy, sxx - syy);
      nx = -Math.sin(th); ny = Math.cos(th);
      c = nx * mx + ny * my;
      let ss = 0;
      for (let i = 0; i < use; i++) {
        const r = nx * ex[i]! + ny * ey[i]! - c;
        res[i] = r < 0 ? -r : r;
        ss += r * r;
      }
      this.lineRms[s] = Math.sqrt(ss / use);
      if (pass === 2) break;
      selectMedian(res, use, this.res2);
      const thr = Math.max(0.75, 3 * 1.4826 * this.res2[use >> 1]!);
      let m = 0;
      for (let i = 0; i < use; i++) {
        if (res[i]! <= thr) { ex[m] = ex[i]!; ey[m] = ey[i]!; m++; }
      }
      if (m === use) break;
      if (m < 4) return false;
      use = m;
    }
    this.lineN[2 * s] = nx;
    this.lineN[2 * s + 1] = ny;
    this.lineC[s] = c;
    return true;
  }

  /** Quads, refinement and PnP for a ring component; fills s. False = treat as blob. */
  private ringGeometry(c: number, s: GateSighting, poolIdx: number): boolean {
    const f = this.p.downsample;
    const g = this.p.gate;
    const area = this.compArea[c]!;
    // the hole fraction examine() found, computed again here: a double argument is boxed (16 B)
    const holeFrac = this.holeArea / (this.holeArea + area);
    const cu = (this.compSumX[c]! / area) * f, cv = (this.compSumY[c]! / area) * f;
    this.pt[0] = cu; this.pt[1] = cv;
    this.upAt();
    // outer quad (only when the component is fully inside the image)
    let outerOk = false;
    if (!s.touchesBorder) {
      if (this.hullFromRows(this.rowMin, this.rowMax, this.compY0[c]!, this.compY1[c]!) >= 4 && this.quadFromHull(this.quadTmp)) {
        outerOk = this.refineQuad(this.quadTmp, true, this.quadOuter);
        if (outerOk) { this.outerN.set(this.lineN); this.outerC.set(this.lineC); }
      }
    }
    // inner quad (the hole)
    let innerOk = false;
    if (this.hullFromRows(this.holeMin, this.holeMax, this.holeY0, this.holeY1) >= 4 && this.quadFromHull(this.quadTmp)) {
      innerOk = this.refineQuad(this.quadTmp, false, this.quadInner);
    }
    // model half-sizes of the detected edges
    let hOut: number, hIn: number;
    if (this.mono) {
      // dark band: its outer edge is the orange face's inner edge; its inner edge (the opening) is
      // polluted by the dark tunnel faces → use the outer edge only
      hOut = g.innerM / 2 + g.innerBandM;
      hIn = NaN;
      innerOk = false;
    } else {
      hOut = g.outerM / 2 - g.checkerBandM;
      hIn = g.innerM / 2 + g.innerBandM;
    }
    let n = 0;
    const M = this.modelPts, I = this.imagePts;
    const sgnX = SGN_X, sgnY = SGN_Y;
    let pose = this.pose;
    let outerUsed = 0;
    this.pnp.setLines(this.lineModel, this.lineEq, 0);
    if (innerOk && outerOk) {
      // The inner edge (orange → dark band) is the trustworthy one: the outer edge (orange → checker)
      // loses its checker band below ≈ 2 px (far and oblique) and then runs on into the orange outer
      // side face, and the ground can hide the bottom band. Pose from the opening's four corners, then
      // each outer side joins (as a line: its two model corners must project onto it) only if it
      // agrees with that pose.
      this.matchOuterToInner();
      for (let k = 0; k < 4; k++) {
        M[2 * k] = sgnX[k]! * hIn; M[2 * k + 1] = sgnY[k]! * hIn;
        I[2 * k] = this.quadInner[2 * k]!; I[2 * k + 1] = this.quadInner[2 * k + 1]!;
      }
      n = 4;
      if (!this.pnp.solve(M, I, n, this.K, pose)) return false;
      outerUsed = this.outerSidesAgreeing(pose);
      if (outerUsed > 0 && !this.pnp.refine(M, I, n, this.K, pose)) return false;
    } else {
      if (outerOk) {
        for (let k = 0; k < 4; k++) {
          M[2 * n] = sgnX[k]! * hOut; M[2 * n + 1] = sgnY[k]! * hOut;
          I[2 * n] = this.quadOuter[2 * k]!; I[2 * n + 1] = this.quadOuter[2 * k + 1]!; n++;
        }
      }
      if (innerOk) {
        for (let k = 0; k < 4; k++) {
          M[2 * n] = sgnX[k]! * hIn; M[2 * n + 1] = sgnY[k]! * hIn;
          I[2 * n] = this.quadInner[2 * k]!; I[2 * n + 1] = this.quadInner[2 * k + 1]!; n++;
        }
      }
      if (n < 4) return false;
      if (!this.pnp.solve(M, I, n, this.K, pose)) return false;
    }
    pose = this.resolveAmbiguity(M, I, n, pose);
    if (!this.fillFromPose(s, poolIdx, pose)) return false;
    // confidence: fit quality × hole proportion × calibrated-square consistency
    const qFit = Math.exp(-((pose.rmsPx / 2) ** 2));
    const fracExp = this.mono ? 0.75 : (hIn / hOut) ** 2;
    // (a component cut by the image border has lost part of its ring: its hole fraction says nothing)
    const qHole = s.touchesBorder ? 1 : Math.exp(-(((holeFrac - fracExp) / 0.25) ** 2));
    // (four points alone: is their homography a calibrated square view? — unless the outer sides confirmed it)
    const qOrtho = n === 4 && outerUsed < 2 ? Math.exp(-((pose.orthoDefect / 0.35) ** 2)) : 1;
    const qBoth = (outerOk && innerOk && outerUsed >= 2) || (outerOk && !innerOk && this.mono) ? 1 : 0.85;
    s.confidence = Math.max(0.3, Math.min(1, (this.mono ? 0.85 : 1) * qBoth * (0.35 + 0.65 * qFit * qHole * qOrtho)));
    return true;
  }

  /**
   * Planar two-fold ambiguity: also refine the mirrored tilt (same points and line observations);
   * keep the clearly better fit, and between two fits of equal quality the more upright gate (the
   * gravity prior: gates stand). Sets this.ambiguous.
   */
  private resolveAmbiguity(M: Float64Array, I: Float64Array, n: number, pose: PlanarPose): PlanarPose {
    const alt = this.poseAlt;
    let ambiguous = false;
    if (this.pnp.alternative(M, I, n, this.K, pose, alt)) {
      const margin = 0.15 + 0.25 * Math.min(pose.rmsPx, alt.rmsPx);
      if (alt.rmsPx < pose.rmsPx - margin) pose = alt;
      else if (alt.rmsPx <= pose.rmsPx + margin) {
        const A = pose.R, B = alt.R; // cos of the angle between the two plane normals
        ambiguous = A[2]! * B[2]! + A[5]! * B[5]! + A[8]! * B[8]! < Math.cos(2 * (Math.PI / 180));
        this.uprightness(alt);
        const ua = this.scal[0]!;
        this.uprightness(pose);
        if (ua > this.scal[0]!) pose = alt;
      }
    }
    this.ambiguous = ambiguous;
    return pose;
  }

  /**
   * Fill the sighting from a face-plane pose: centre (mid-plane), normal, up, ray, corners of the
   * outer square if it is fully in the image, else of the opening (which may then extend past the
   * image border), angular size. False when the gate would be behind / at the camera.
   */
  private fillFromPose(s: GateSighting, poolIdx: number, pose: PlanarPose): boolean {
    const g = this.p.gate;
    const sgnX = SGN_X, sgnY = SGN_Y;
    const R = pose.R, t = pose.t;
    const d = g.depthM / 2;
    // gate centre on the mid-plane: d behind the face (model +Z points away from the camera)
    const pc = this.poolPos[poolIdx]!;
    pc[0] = t[0]! + d * R[2]!; pc[1] = t[1]! + d * R[5]!; pc[2] = t[2]! + d * R[8]!;
    if (!(pc[2] > 0.2)) return false;
    const nrm = this.poolNormal[poolIdx]!;
    nrm[0] = -R[2]!; nrm[1] = -R[5]!; nrm[2] = -R[8]!;
    if (nrm[0] * pc[0] + nrm[1] * pc[1] + nrm[2] * pc[2] > 0) { nrm[0] = -nrm[0]; nrm[1] = -nrm[1]; nrm[2] = -nrm[2]; }
    s.kind = 'ring';
    s.posCamM = pc;
    s.normalCam = nrm;
    // model Y points down the gate (corner order TL, TR, BR, BL): up = −(model Y) in the camera
    const up = this.poolUp[poolIdx]!;
    up[0] = -R[1]!; up[1] = -R[4]!; up[2] = -R[7]!;
    s.upCam = up;
    s.poseAmbiguous = this.ambiguous;
    s.reprojPx = pose.rmsPx;
    const u = this.fx * (pc[0] / pc[2]) + this.cx, v = this.fy * (pc[1] / pc[2]) + this.cy;
    s.centerPx[0] = u; s.centerPx[1] = v;
    this.setRay(s, u, v);
    // corners of the physical squares on the mid-plane; outer if fully in the image, else inner
    const corners = this.poolCorners[poolIdx]!;
    let kind: CornersKind = 'outer';
    let areaN = 0;
    for (let pass = 0; pass < 2; pass++) {
      const h = pass === 0 ? g.outerM / 2 : g.innerM / 2;
      let inside = true;
      let a2 = 0;
      let px0 = 0, py0 = 0, pxp = 0, pyp = 0;
      for (let k = 0; k < 4; k++) {
        const X = sgnX[k]! * h, Y = sgnY[k]! * h;
        const qx = R[0]! * X + R[1]! * Y + R[2]! * d + t[0]!;
        const qy = R[3]! * X + R[4]! * Y + R[5]! * d + t[1]!;
        const qz = R[6]! * X + R[7]! * Y + R[8]! * d + t[2]!;
        const xn = qx / qz, yn = qy / qz;
        const cu2 = this.fx * xn + this.cx, cv2 = this.fy * yn + this.cy;
        corners[k]![0] = cu2; corners[k]![1] = cv2;
        if (!(qz > 0) || cu2 < 0 || cv2 < 0 || cu2 > this.W - 1 || cv2 > this.H - 1) inside = false;
        if (k === 0) { px0 = xn; py0 = yn; } else a2 += pxp * yn - xn * pyp;
        pxp = xn; pyp = yn;
      }
      a2 += pxp * py0 - px0 * pyp;
      if (pass === 0) areaN = Math.abs(a2) / 2;
      if (inside) { kind = pass === 0 ? 'outer' : 'inner'; break; }
      kind = 'inner';
    }
    s.cornersPx = corners;
    s.cornersKind = kind;
    s.sizeN = Math.sqrt(areaN);
    s.angularSizeRad = 2 * Math.atan(s.sizeN / 2);
    return true;
  }

  // ------------------------------------------------------------------ partial rings (border-cut)

  /**
   * A large orange component cut by the image border with no enclosed opening (a gate so close, or
   * so rolled, that part of its ring is outside the image): find the straight edges of its contour,
   * tell the orange → dark-band edges of the opening (inner: all dark beyond) from the orange →
   * checker edges of the outer frame (dark and white beyond), label each by side from its direction
   * in the de-rotated image (the inner edge's normal points to the gate centre, the outer edge's
   * away), and solve the pose from the edge lines (corners may lie outside the image). Fills s as a
   * ring; false = leave it a blob.
   */
  private partialRing(c: number, s: GateSighting, poolIdx: number): boolean {
    const f = this.p.downsample, wd = this.wd, hd = this.hd;
    const y0 = this.compY0[c]!, y1 = this.compY1[c]!;
    // 1. mark the component on the sub-sampled grid (stamped: no clearing)
    if (this.markStamp >= 0x3fffffff) { this.mark.fill(0); this.markStamp = 0; }
    const st = ++this.markStamp;
    const mark = this.mark, rs = this.rowRunStart, X0 = this.runX0, X1 = this.runX1, comp = this.runComp;
    let sx = -1;
    for (let j = y0; j <= y1; j++) {
      for (let r = rs[j]!, e = rs[j + 1]!; r < e; r++) {
        if (comp[r] !== c) continue;
        if (sx < 0) sx = X0[r]!;
        for (let i = X0[r]!, o = j * wd; i <= X1[r]!; i++) mark[o + i] = st;
      }
    }
    if (sx < 0) return false;
    // 2. outer contour (clockwise; the component is on the right of the direction of travel)
    const nc = this.traceContour(sx, y0, st);
    if (nc < 24) return false;
    // 3. chains of non-border contour points → straight pieces (Douglas–Peucker) → edge lines
    this.segHave.fill(0);
    const CX = this.ctrX, CY = this.ctrY;
    let ib = -1;
    for (let i = 0; i < nc; i++) if (CX[i] === 0 || CY[i] === 0 || CX[i] === wd - 1 || CY[i] === hd - 1) { ib = i; break; }
    if (ib < 0) return false;
    const LX = this.chX, LY = this.chY;
    let len = 0;
    for (let t = 1; t <= nc; t++) {
      const i = (ib + t) % nc;
      const border = CX[i] === 0 || CY[i] === 0 || CX[i] === wd - 1 || CY[i] === hd - 1;
      if (!border) { LX[len] = CX[i]!; LY[len] = CY[i]!; len++; }
      if ((border || t === nc) && len > 0) {
        this.chainSegments(len);
        len = 0;
      }
    }
    // 4. pose from the labelled lines
    const have = this.segHave;
    let nIn = 0, nOut = 0;
    for (let k = 0; k < 4; k++) { nIn += have[k]!; nOut += have[4 + k]!; }
    // at least four lines: 8 scalar observations, two to spare for 6 DoF (three lines fit exactly,
    // whatever they are — in flight frames, the only such fits were wrong)
    if (nIn + nOut < 4) return false;
    const M = this.modelPts, I = this.imagePts;
    let pose = this.pose;
    this.pnp.setLines(this.lineModel, this.lineEq, 0);
    const area = this.compArea[c]!;
    this.pt[0] = (this.compSumX[c]! / area) * f; this.pt[1] = (this.compSumY[c]! / area) * f;
    if (!this.poseFromLines(pose) && !this.poseFromCorners(pose)) return false;
    // refine on the edge lines alone (two passes: model corners, then the model points seen at the
    // ends of each observed edge segment)
    for (let pass = 0; pass < 2; pass++) {
      const m = this.edgeLineObs(pass === 0 ? null : pose);
      this.pnp.setLines(this.lineModel, this.lineEq, m);
      if (!this.pnp.refine(M, I, 0, this.K, pose)) return false;
    }
    if (!(pose.rmsPx <= 2)) return false;
    pose = this.resolveAmbiguity(M, I, 0, pose);
    // gates stand: a pose far from upright means mislabelled edges (or a wrong attitude estimate)
    this.uprightness(pose);
    if (!(this.scal[0]! >= 0.8)) return false;
    if (!this.fillFromPose(s, poolIdx, pose)) return false;
    // hyp3 written out: in about 1 flight in 5 V8 did not inline it here (partialRing's inlining
    // budget goes to whichever callees were hot when it was compiled), and the call boxed its three
    // double arguments and its result: 64 B on every close, border-cut gate view (measured, 2026-11-23)
    const pc = s.posCamM!;
    const range = Math.sqrt(pc[0] * pc[0] + pc[1] * pc[1] + pc[2] * pc[2]);
    if (!(range > 0.3 && range < 12)) return false;
    // a pose from edges only: at most 0.85, less with a poorer fit or fewer sides of the opening
    const qFit = Math.exp(-((pose.rmsPx / 1.5) ** 2));
    s.confidence = Math.max(0.3, Math.min(0.85, (0.35 + 0.5 * qFit) * (nIn >= 3 ? 1 : 0.85)));
    return true;
  }

  /**
   * Initial pose when poseFromLines finds none (no horizontal edge): approximate corners from the
   * lines (the opening's, else the outer frame's), then the homography → pose, modelPts/imagePts[0..4).
   * (Its own method so that warmUp() can drive every path of it directly: frames reach it rarely.)
   */
  private poseFromCorners(pose: PlanarPose): boolean {
    this.stats.cornerPoses++;
    const M = this.modelPts, I = this.imagePts, Q = this.quadTmp;
    let hQ = this.hIn;
    if (!this.cornersFromLines(0, 4, Q)) {
      if (!this.cornersFromLines(4, 0, Q)) return false;
      hQ = this.hOut;
    }
    for (let k = 0; k < 4; k++) {
      M[2 * k] = SGN_X[k]! * hQ; M[2 * k + 1] = SGN_Y[k]! * hQ;
      I[2 * k] = Q[2 * k]!; I[2 * k + 1] = Q[2 * k + 1]!;
    }
    return this.pnp.solve(M, I, 4, this.K, pose);
  }

  /**
   * Moore-neighbour trace of the outer contour of the marked region from its top-left pixel
   * (x0, y0) into ctrX/ctrY; returns the point count (−1 when it exceeds the buffer).
   */
  private traceContour(x0: number, y0: number, st: number): number {
    const X = this.ctrX, Y = this.ctrY, cap = X.length, mark = this.mark, wd = this.wd, hd = this.hd;
    let x = x0, y = y0, k = 6; // "arrived moving north": the backtrack pixel is west
    let n = 0, first = -1;
    X[n] = x; Y[n] = y; n++;
    for (;;) {
      const start = k & 1 ? (k + 5) & 7 : (k + 6) & 7;
      let found = -1;
      for (let i = 0; i < 8; i++) {
        const d = (start + i) & 7;
        const nx = x + DX8[d]!, ny = y + DY8[d]!;
        if (nx >= 0 && ny >= 0 && nx < wd && ny < hd && mark[ny * wd + nx] === st) { found = d; break; }
      }
      if (found < 0) return n;
      if (x === x0 && y === y0) {
        if (first < 0) first = found;
        else if (found === first) return n - 1;
      }
      x += DX8[found]!; y += DY8[found]!; k = found;
      if (n >= cap) return -1;
      X[n] = x; Y[n] = y; n++;
    }
  }

  /** Douglas–Peucker on the open chain chX/chY[0..len); each long piece → processEdge. */
  private chainSegments(len: number): void {
    const minLen = Math.max(6, 24 / this.p.downsample); // sub-sampled px
    if (len < minLen) return;
    const LX = this.chX, LY = this.chY, keep = this.dpKeep, stk = this.dpStack;
    for (let i = 0; i < len; i++) keep[i] = 0;
    keep[0] = 1; keep[len - 1] = 1;
    let top = 0;
    stk[top++] = 0; stk[top++] = len - 1;
    const eps = 1.5;
    while (top > 0) {
      const b = stk[--top]!, a = stk[--top]!;
      if (b - a < 2) continue;
      const ax = LX[a]!, ay = LY[a]!, dx = LX[b]! - ax, dy = LY[b]! - ay;
      const l = hyp2(dx, dy);
      let best = -1, bi = -1;
      for (let i = a + 1; i < b; i++) {
        const d = l > 1e-9 ? Math.abs(dx * (LY[i]! - ay) - dy * (LX[i]! - ax)) / l : hyp2(LX[i]! - ax, LY[i]! - ay);
        if (d > best) { best = d; bi = i; }
      }
      if (best > eps && top + 4 <= stk.length) {
        keep[bi] = 1;
        stk[top++] = a; stk[top++] = bi;
        stk[top++] = bi; stk[top++] = b;
      }
    }
    let prev = 0;
    for (let i = 1; i < len; i++) {
      if (!keep[i]) continue;
      if (hyp2(LX[i]! - LX[prev]!, LY[i]! - LY[prev]!) >= minLen) this.processEdge(prev, i);
      prev = i;
    }
  }

  /**
   * One straight piece of the contour (chain points a..b): sub-pixel line, what lies beyond it
   * (inner band / checker / other), its side label; kept in segN/segC/segEnd[slot] when it is the
   * longest of its label (slots 0–3 inner top, right, bottom, left; 4–7 the same outer).
   */
  private processEdge(a: number, b: number): void {
    const f = this.p.downsample;
    const ax = this.chX[a]! * f, ay = this.chY[a]! * f, bx = this.chX[b]! * f, by = this.chY[b]! * f;
    const dx = bx - ax, dy = by - ay, l = hyp2(dx, dy);
    // outward normal: the component is on the right of the direction of travel (y down). (0 − dx), not
    // −dx: the coordinates are small integers, so V8 compiles this arithmetic for integers, and −0 (a
    // vertical edge, dx = 0) is no integer: it threw the optimised code away mid-flight (~15 KB of heap
    // numbers a frame until re-optimised). The sign of a zero ony matters nowhere below.
    const onx = dy / l, ony = (0 - dx) / l;
    const arg = this.arg;
    arg[0] = ax; arg[1] = ay; arg[2] = bx; arg[3] = by; arg[4] = onx; arg[5] = ony; arg[6] = 0.08; arg[7] = 0.92;
    const n = this.scanEdge(this.p.refineSamplesPerSide, this.p.refineSearchPx + f, true);
    const scans = this.p.refineSamplesPerSide;
    if (n < scans * 0.6) return;
    const dark = this.scanDark / n, white = this.scanWhite / n;
    let inner: boolean;
    if (dark >= 0.85 && white <= 0.05) inner = true;
    else if (dark >= 0.15 && white >= 0.15) inner = false;
    else return;
    if (!this.fitLine(n, 0) || this.lineRms[0]! > 1) return;
    let nx = this.lineN[0]!, ny = this.lineN[1]!, c = this.lineC[0]!;
    if (nx * onx + ny * ony < 0) { nx = -nx; ny = -ny; c = -c; }
    // Side: the gate's vertical edges are world-vertical, so their image direction is the local
    // image "up" of the attitude estimate whatever the gate's yaw and the perspective (horizontal
    // edges tilt with both); an edge within 20° of it is a left/right side, any other top/bottom.
    // Then the normal's sign: outer edges face away from the centre, inner edges toward it.
    this.pt[0] = (ax + bx) / 2; this.pt[1] = (ay + by) / 2;
    this.upAt();
    const nu = nx * this.upX + ny * this.upY, nr = nx * -this.upY + ny * this.upX;
    const vertical = Math.abs(nr) >= 0.94; // |direction · up| = |normal · right|
    // outer: normal away from the centre — up → top (0), right → right (1), down → bottom (2), left → left (3)
    let side = vertical ? (nr > 0 ? 1 : 3) : nu > 0 ? 0 : 2;
    if (inner) side = (side + 2) & 3; // inner: the normal points to the centre
    const slot = inner ? side : 4 + side;
    // extent of the observed edge along the line (for the line observations)
    const tx = -ny, ty = nx;
    let lo = HUGE, hi = -HUGE;
    const ex = this.ex, ey = this.ey;
    for (let i = 0; i < n; i++) {
      const p = ex[i]! * tx + ey[i]! * ty;
      if (p < lo) lo = p;
      if (p > hi) hi = p;
    }
    const seen = hi - lo;
    if (this.segHave[slot] && seen <= this.segLen[slot]!) return;
    this.segHave[slot] = 1;
    this.segLen[slot] = seen;
    this.segN[2 * slot] = nx; this.segN[2 * slot + 1] = ny; this.segC[slot] = c;
    const E = this.segEnd;
    E[4 * slot] = nx * c + tx * lo; E[4 * slot + 1] = ny * c + ty * lo;
    E[4 * slot + 2] = nx * c + tx * hi; E[4 * slot + 3] = ny * c + ty * hi;
  }

  /**
   * Initial pose from the labelled edge lines and the attitude. Gates stand, so the gate's vertical
   * axis is world down (model +Y) and only its yaw about it is unknown: for each yaw on a grid over
   * ±80° (facing the camera), the position solves in least squares "both model corners of each seen
   * side lie in the plane through the camera and that side's image line" (distances in metres); the
   * yaw with the smallest residual (parabola through its grid neighbours) wins. pt = a pixel of the
   * gate (yaw 0 = the gate squarely facing it). False when the lines do not fix the position.
   */
  private poseFromLines(pose: PlanarPose): boolean {
    const cu = this.pt[0]!, cv = this.pt[1]!;
    const fx = this.fx, fy = this.fy, cx = this.cx, cy = this.cy;
    const N = this.segN, C = this.segC, have = this.segHave, mn = this.planeN;
    let rows = 0;
    for (let slot = 0; slot < 8; slot++) {
      if (!have[slot]) continue;
      const mx = N[2 * slot]! * fx, my = N[2 * slot + 1]! * fy, mz = N[2 * slot]! * cx + N[2 * slot + 1]! * cy - C[slot]!;
      const ml = hyp3(mx, my, mz);
      mn[3 * slot] = mx / ml; mn[3 * slot + 1] = my / ml; mn[3 * slot + 2] = mz / ml;
      rows += 2;
    }
    if (rows < 6) return false;
    const dvx = -this.upCamX, dvy = -this.upCamY, dvz = -this.upCamZ;
    // e1: image-right at the gate (ray × up, made ⟂ down); e2 = e1 × down (away from the camera)
    const rx = (cu - cx) / fx, ry = (cv - cy) / fy;
    let e1x = ry * -dvz + dvy, e1y = -dvx + rx * dvz, e1z = -rx * dvy + ry * dvx;
    const dd = e1x * dvx + e1y * dvy + e1z * dvz;
    e1x -= dd * dvx; e1y -= dd * dvy; e1z -= dd * dvz;
    const el = hyp3(e1x, e1y, e1z);
    if (!(el > 1e-9)) return false;
    e1x /= el; e1y /= el; e1z /= el;
    const ax = this.yawAx;
    ax[0] = e1x; ax[1] = e1y; ax[2] = e1z;
    ax[3] = e1y * dvz - e1z * dvy; ax[4] = e1z * dvx - e1x * dvz; ax[5] = e1x * dvy - e1y * dvx;
    ax[6] = dvx; ax[7] = dvy; ax[8] = dvz;
    const steps = 17, lo = -80 * (Math.PI / 180), step = (160 * (Math.PI / 180)) / (steps - 1);
    let best = HUGE, bk = -1, cPrev = HUGE, cNext = HUGE, last = HUGE;
    for (let k = 0; k < steps; k++) {
      this.scal[2] = lo + k * step;
      this.yawCost(pose);
      const cost = this.scal[1]!;
      if (cost < best) { best = cost; bk = k; cPrev = last; cNext = HUGE; }
      else if (k === bk + 1) cNext = cost;
      last = cost;
    }
    if (bk < 0) return false;
    const cBest = best;
    let psi = lo + bk * step;
    if (cPrev < HUGE && cNext < HUGE) {
      const den = cPrev - 2 * cBest + cNext;
      if (den > 0) psi += 0.5 * step * Math.max(-1, Math.min(1, (cPrev - cNext) / den));
    }
    this.scal[2] = psi;
    this.yawCost(pose);
    return this.scal[1]! < HUGE && pose.t[2]! > 0.2;
  }

  /**
   * Pose for gate yaw psi = scal[2] (axes in yawAx: e1, e2, down): R from the yaw, t by least squares on the
   * edge-plane constraints of both model corners of each seen side → scal[1]: the residual sum of
   * squares (m²), HUGE when singular or behind the camera. Writes pose.R, pose.t.
   */
  private yawCost(pose: PlanarPose): void {
    const psi = this.scal[2]!, hIn = this.hIn, hOut = this.hOut;
    const ax = this.yawAx, cs = Math.cos(psi), sn = Math.sin(psi);
    const R = pose.R, t = pose.t;
    const hx = cs * ax[0]! + sn * ax[3]!, hy = cs * ax[1]! + sn * ax[4]!, hz = cs * ax[2]! + sn * ax[5]!;
    const dvx = ax[6]!, dvy = ax[7]!, dvz = ax[8]!;
    R[0] = hx; R[3] = hy; R[6] = hz;
    R[1] = dvx; R[4] = dvy; R[7] = dvz;
    R[2] = hy * dvz - hz * dvy; R[5] = hz * dvx - hx * dvz; R[8] = hx * dvy - hy * dvx;
    const A = this.A3, b = this.b3, mn = this.planeN, have = this.segHave;
    A.fill(0);
    b.fill(0);
    for (let slot = 0; slot < 8; slot++) {
      if (!have[slot]) continue;
      const mx = mn[3 * slot]!, my = mn[3 * slot + 1]!, mz = mn[3 * slot + 2]!;
      const side = slot & 3, h = slot < 4 ? hIn : hOut;
      for (let e = 0; e < 2; e++) {
        const k = (side + e) & 3;
        const X = SGN_X[k]! * h, Y = SGN_Y[k]! * h;
        const rhs = -(mx * (R[0]! * X + R[1]! * Y) + my * (R[3]! * X + R[4]! * Y) + mz * (R[6]! * X + R[7]! * Y));
        A[0] = A[0]! + mx * mx; A[1] = A[1]! + mx * my; A[2] = A[2]! + mx * mz;
        A[4] = A[4]! + my * my; A[5] = A[5]! + my * mz; A[8] = A[8]! + mz * mz;
        b[0] = b[0]! + mx * rhs; b[1] = b[1]! + my * rhs; b[2] = b[2]! + mz * rhs;
      }
    }
    A[3] = A[1]!; A[6] = A[2]!; A[7] = A[5]!;
    this.scal[1] = HUGE;
    if (!solveLinearInPlace(A, b, 3)) return;
    t[0] = b[0]!; t[1] = b[1]!; t[2] = b[2]!;
    if (!(t[2]! > 0.2)) return;
    let sse = 0;
    for (let slot = 0; slot < 8; slot++) {
      if (!have[slot]) continue;
      const mx = mn[3 * slot]!, my = mn[3 * slot + 1]!, mz = mn[3 * slot + 2]!;
      const side = slot & 3, h = slot < 4 ? hIn : hOut;
      for (let e = 0; e < 2; e++) {
        const k = (side + e) & 3;
        const X = SGN_X[k]! * h, Y = SGN_Y[k]! * h;
        const r = mx * (R[0]! * X + R[1]! * Y + t[0]!) + my * (R[3]! * X + R[4]! * Y + t[1]!) + mz * (R[6]! * X + R[7]! * Y + t[2]!);
        sse += r * r;
      }
    }
    this.scal[1] = sse;
  }

  /** Intersection of the lines in slots a and b → out[2k], out[2k + 1]; false when near-parallel. */
  private meet(a: number, b: number, out: Float64Array, k: number): boolean {
    const N = this.segN, C = this.segC;
    const n1x = N[2 * a]!, n1y = N[2 * a + 1]!, n2x = N[2 * b]!, n2y = N[2 * b + 1]!;
    const det = n1x * n2y - n1y * n2x;
    if (Math.abs(det) < 0.1) return false;
    out[2 * k] = (C[a]! * n2y - C[b]! * n1y) / det;
    out[2 * k + 1] = (n1x * C[b]! - n2x * C[a]!) / det;
    return true;
  }

  /** Unit vector (tdx, tdy) along the line in slot s, pointing from point pt toward the middle of its observed segment. */
  private toward(s: number): void {
    const px = this.pt[0]!, py = this.pt[1]!;
    const E = this.segEnd, N = this.segN;
    let tx = -N[2 * s + 1]!, ty = N[2 * s]!;
    const mx = 0.5 * (E[4 * s]! + E[4 * s + 2]!), my = 0.5 * (E[4 * s + 1]! + E[4 * s + 3]!);
    if (tx * (mx - px) + ty * (my - py) < 0) { tx = -tx; ty = -ty; }
    this.tdx = tx; this.tdy = ty;
  }

  /**
   * Approximate image corners (TL, TR, BR, BL) of the square whose side lines are in slots
   * base..base+3 (0: the inner orange edge, 4: the outer), from 4 sides (intersections), 3 (the
   * missing two corners continued along the known sides by the opposite side's length) or 2 adjacent
   * ones (side length from the spacing to the parallel line of the other square, slots
   * other..other+3). → out.
   */
  private cornersFromLines(base: number, other: number, out: Float64Array): boolean {
    const h = base === 0 ? this.hIn : this.hOut, hOther = base === 0 ? this.hOut : this.hIn;
    const have = this.segHave;
    let cnt = 0, miss = -1;
    for (let k = 0; k < 4; k++) { if (have[base + k]) cnt++; else miss = k; }
    if (cnt === 4) {
      for (let k = 0; k < 4; k++) if (!this.meet(base + ((k + 3) & 3), base + k, out, k)) return false;
      return true;
    }
    if (cnt === 3) {
      const m = miss;
      const c2 = (m + 2) & 3, c3 = (m + 3) & 3, c1 = (m + 1) & 3;
      // corner k = side (k − 1) ∩ side k
      if (!this.meet(base + ((c2 + 3) & 3), base + c2, out, c2) || !this.meet(base + ((c3 + 3) & 3), base + c3, out, c3)) return false;
      const L = hyp2(out[2 * c2]! - out[2 * c3]!, out[2 * c2 + 1]! - out[2 * c3 + 1]!);
      this.pt[0] = out[2 * c2]!; this.pt[1] = out[2 * c2 + 1]!;
      this.toward(base + c1); // side c1 joins corners c1 and c2
      out[2 * c1] = out[2 * c2]! + L * this.tdx; out[2 * c1 + 1] = out[2 * c2 + 1]! + L * this.tdy;
      this.pt[0] = out[2 * c3]!; this.pt[1] = out[2 * c3 + 1]!;
      this.toward(base + c3); // side c3 joins corners c3 and m
      out[2 * m] = out[2 * c3]! + L * this.tdx; out[2 * m + 1] = out[2 * c3 + 1]! + L * this.tdy;
      return true;
    }
    if (cnt !== 2) return false;
    let a = -1;
    for (let k = 0; k < 4; k++) if (have[base + k] && have[base + ((k + 1) & 3)]) a = k;
    if (a < 0) return false; // two opposite sides: no corner
    const b = (a + 1) & 3; // corner b = side a ∩ side b
    if (!this.meet(base + a, base + b, out, b)) return false;
    // side length from the band between this square's side and the other square's parallel side
    const E = this.segEnd, N = this.segN, C = this.segC;
    let sp = 0, ns = 0;
    for (let q = 0; q < 2; q++) {
      const sd = q === 0 ? a : b;
      if (!have[other + sd]) continue;
      const mx = 0.5 * (E[4 * (base + sd)]! + E[4 * (base + sd) + 2]!), my = 0.5 * (E[4 * (base + sd) + 1]! + E[4 * (base + sd) + 3]!);
      sp += Math.abs(N[2 * (other + sd)]! * mx + N[2 * (other + sd) + 1]! * my - C[other + sd]!);
      ns++;
    }
    if (ns === 0) return false;
    const L = ((sp / ns) * 2 * h) / Math.abs(hOther - h);
    const cx = out[2 * b]!, cy = out[2 * b + 1]!;
    this.pt[0] = cx; this.pt[1] = cy;
    this.toward(base + a); // side a joins corners a and b
    out[2 * a] = cx + L * this.tdx; out[2 * a + 1] = cy + L * this.tdy;
    const c2 = (b + 1) & 3;
    this.toward(base + b); // side b joins corners b and b + 1 (pt still the corner)
    out[2 * c2] = cx + L * this.tdx; out[2 * c2 + 1] = cy + L * this.tdy;
    const c3 = (b + 2) & 3;
    out[2 * c3] = out[2 * a]! + out[2 * c2]! - cx; out[2 * c3 + 1] = out[2 * a + 1]! + out[2 * c2 + 1]! - cy;
    return true;
  }

  /**
   * Line observations from the labelled edges into lineModel/lineEq: two model points per edge on
   * the model side line — its corners (pose null), else the model points seen at the two ends of
   * the observed segment (back-projected through `pose` onto the face plane). Returns the count.
   */
  private edgeLineObs(pose: PlanarPose | null): number {
    const hIn = this.hIn, hOut = this.hOut;
    const LM = this.lineModel, LE = this.lineEq, E = this.segEnd;
    let m = 0;
    for (let slot = 0; slot < 8; slot++) {
      if (!this.segHave[slot]) continue;
      const side = slot & 3, h = slot < 4 ? hIn : hOut;
      for (let e = 0; e < 2; e++) {
        let X: number, Y: number;
        const k = (side + e) & 3; // side s joins corners s and s + 1
        X = SGN_X[k]! * h; Y = SGN_Y[k]! * h;
        if (pose) {
          // back-project the segment end onto the plane Z = 0 of the model
          const R = pose.R, t = pose.t;
          const rx = (E[4 * slot + 2 * e]! - this.cx) / this.fx, ry = (E[4 * slot + 2 * e + 1]! - this.cy) / this.fy;
          const nz = R[2]! * rx + R[5]! * ry + R[8]!;
          const lam = (R[2]! * t[0]! + R[5]! * t[1]! + R[8]! * t[2]!) / nz;
          if (Math.abs(nz) > 1e-9 && lam > 0) {
            const px = lam * rx - t[0]!, py = lam * ry - t[1]!, pz = lam - t[2]!;
            const mx = R[0]! * px + R[3]! * py + R[6]! * pz, my = R[1]! * px + R[4]! * py + R[7]! * pz;
            // onto the model side line, within the side
            if (side === 0 || side === 2) X = Math.max(-h, Math.min(h, mx));
            else Y = Math.max(-h, Math.min(h, my));
          }
        }
        LM[2 * m] = X; LM[2 * m + 1] = Y;
        LE[3 * m] = this.segN[2 * slot]!; LE[3 * m + 1] = this.segN[2 * slot + 1]!; LE[3 * m + 2] = this.segC[slot]!;
        m++;
      }
    }
    return m;
  }

  /** cos of the angle between the gate's up axis (model −Y) and the world up, both in the camera frame → scal[0]. */
  private uprightness(p: PlanarPose): void {
    const R = p.R;
    this.scal[0] = -(R[1]! * this.upCamX + R[4]! * this.upCamY + R[7]! * this.upCamZ);
  }

  /**
   * Re-index the outer quad and its side lines so outer corner k corresponds to inner corner k
   * (concentric squares; the inner quad, the trustworthy one, keeps its labels). Side s joins
   * corners s and s + 1.
   */
  private matchOuterToInner(): void {
    // inner / outer model half-size (the colour camera's ring), read here: a double argument is boxed (16 B)
    const ratio = this.hIn / this.hOut;
    const o = this.quadOuter, q = this.quadInner, tmp = this.quadTmp;
    let mx = 0, my = 0;
    for (let k = 0; k < 4; k++) { mx += q[2 * k]!; my += q[2 * k + 1]!; }
    mx /= 4; my /= 4;
    let best = 0, bestCost = HUGE;
    for (let sh = 0; sh < 4; sh++) {
      let cost = 0;
      for (let k = 0; k < 4; k++) {
        const j = (k + sh) & 3;
        const ex = mx + (q[2 * k]! - mx) / ratio, ey = my + (q[2 * k + 1]! - my) / ratio;
        cost += (o[2 * j]! - ex) ** 2 + (o[2 * j + 1]! - ey) ** 2;
      }
      if (cost < bestCost) { bestCost = cost; best = sh; }
    }
    if (best === 0) return;
    for (let k = 0; k < 8; k++) tmp[k] = o[k]!;
    for (let k = 0; k < 4; k++) {
      const j = (k + best) & 3;
      o[2 * k] = tmp[2 * j]!;
      o[2 * k + 1] = tmp[2 * j + 1]!;
    }
    const N = this.outerN, C = this.outerC, ln = this.lineN, lc = this.lineC; // lineN/lineC: free scratch here
    for (let k = 0; k < 8; k++) ln[k] = N[k]!;
    for (let k = 0; k < 4; k++) lc[k] = C[k]!;
    for (let k = 0; k < 4; k++) {
      const j = (k + best) & 3;
      N[2 * k] = ln[2 * j]!; N[2 * k + 1] = ln[2 * j + 1]!; C[k] = lc[j]!;
    }
  }

  /**
   * Outer sides that agree with `pose` (from the opening): both model corners of side s, projected,
   * lie within tolerance of the fitted outer line s. Those become line observations of the PnP
   * (setLines); returns their count. outerDevPx[s] = the larger of the two distances.
   */
  private outerSidesAgreeing(pose: PlanarPose): number {
    const hOut = this.hOut, hIn = this.hIn;
    const R = pose.R, t = pose.t;
    const LM = this.lineModel, LE = this.lineEq, N = this.outerN, C = this.outerC;
    // tolerance: 1 px, growing with the opening's image size (corner noise × lever arm, perspective)
    let per = 0;
    const a = this.quadInner;
    for (let k = 0; k < 4; k++) {
      const b = (k + 1) & 3, dx = a[2 * b]! - a[2 * k]!, dy = a[2 * b + 1]! - a[2 * k + 1]!;
      per += Math.sqrt(dx * dx + dy * dy);
    }
    const tol = 1 + 0.004 * per * (hOut / hIn - 1);
    let m = 0, used = 0;
    for (let sd = 0; sd < 4; sd++) {
      const nx = N[2 * sd]!, ny = N[2 * sd + 1]!, c = C[sd]!;
      let dev = 0;
      for (let e = 0; e < 2; e++) {
        const k = (sd + e) & 3;
        const X = SGN_X[k]! * hOut, Y = SGN_Y[k]! * hOut;
        const px = R[0]! * X + R[1]! * Y + t[0]!, py = R[3]! * X + R[4]! * Y + t[1]!, pz = R[6]! * X + R[7]! * Y + t[2]!;
        const d = pz > 1e-6 ? Math.abs(nx * (this.fx * px / pz + this.cx) + ny * (this.fy * py / pz + this.cy) - c) : HUGE;
        if (d > dev) dev = d;
      }
      this.outerDevPx[sd] = dev;
      if (!(dev <= tol)) continue;
      used++;
      for (let e = 0; e < 2; e++) {
        const k = (sd + e) & 3;
        LM[2 * m] = SGN_X[k]! * hOut; LM[2 * m + 1] = SGN_Y[k]! * hOut;
        LE[3 * m] = nx; LE[3 * m + 1] = ny; LE[3 * m + 2] = c;
        m++;
      }
    }
    this.pnp.setLines(LM, LE, m);
    return used;
  }
}
