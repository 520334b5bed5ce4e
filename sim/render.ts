/**
 * Software renderer for the simulated FPV camera: sky with a horizon gradient, a procedurally
 * textured ground plane z = 0, the DCL gates as 3D square rings with high-contrast markings, and
 * optional distractor boxes/poles. Pure TypeScript, one core, ≈ 1.2 ms per 640×360 rgb8 frame
 * (≈ 1.4 ms with noise; see bench/render.ts).
 *
 * How it works (per frame, no allocation in steady state):
 *  - background: per row, the world ray is linear in u, so the sky/ground split is one division;
 *    ground pixels intersect the plane z = 0 (one division each) and sample a mip-mapped 512² texel
 *    texture (6.25 cm texels, 32 m period) whose coarser levels are pre-blended with horizon haze;
 *    sky pixels index a gradient table by sin²(elevation).
 *  - solids: every face is a convex quad; back faces are culled, the quad is clipped to z ≥ 0 in the
 *    world (nothing below ground is ever visible from above it), transformed to the camera, clipped to
 *    the near plane, projected and scanline-filled with a per-pixel depth test. Per-pixel colour
 *    comes from the exact ray–plane intersection (perspective-correct face coordinates).
 *  - noise: see applyNoise. Every emitted colour lies in 16..239 before noise (video levels), so the
 *    default profiles' noise (std ≤ 4, clipped at ±16) is one 32-bit add per 4 bytes.
 *
 * Gate appearance (what a detector may rely on; see GATE_COLOURS, GATE_MARKINGS): the ring face is
 * saturated orange; its inner edge carries a near-black band (0.10 m) and its outer edge a
 * white/black checker band (0.12 m wide, 0.20 m squares of a checker laid in the face plane). The
 * inner tunnel faces are dark grey, the outer side faces orange. Both faces of a gate look the same.
 * Faces are lit by a fixed sun: colours are scaled by 0.8–1.0 depending on the face orientation.
 */
import type { Vec3 } from '../src/math/vec3.js';
import type { Quat } from '../src/math/quat.js';
import { quatFromEuler, quatToMatrix } from '../src/math/quat.js';
import { Rng } from '../src/rng.js';
import type { GateSpec } from './types.js';
import { type CameraProfile, cameraPoseWorld, newCameraPose } from './camera.js';

export type Rgb = [number, number, number];

/** Gate marking colours (before the per-face lighting, ×0.8–1.0, and the 16..239 level clamp). */
export const GATE_COLOURS = Object.freeze({
  face: [255, 112, 0] as Rgb,
  innerBand: [22, 22, 28] as Rgb,
  checkerLight: [245, 245, 240] as Rgb,
  checkerDark: [18, 18, 18] as Rgb,
  innerSide: [48, 48, 54] as Rgb,
  outerSide: [235, 100, 0] as Rgb,
});

/** Gate marking geometry, metres (measured on the ring face from the inner edge outwards). */
export const GATE_MARKINGS = Object.freeze({ innerBandM: 0.1, checkerBandM: 0.12, checkerSegmentM: 0.2 });

/** Colours used by `randomDistractors`: deliberately close to (but not) the gate palette. */
export const DISTRACTOR_COLOURS: readonly Rgb[] = Object.freeze([
  [225, 55, 25], // red-orange
  [240, 175, 10], // amber
  [190, 85, 40], // brown-orange
  [215, 40, 150], // magenta
  [235, 235, 230], // white
  [60, 60, 66], // dark grey
]);

export interface DistractorSpec {
  kind: 'box' | 'pole';
  /** Centre of the box, ENU m. */
  centerEnuM: Vec3;
  /** Full extents along the object's own x, y, z, m. */
  sizeM: Vec3;
  yawRad: number;
  rgb: Rgb;
  /** Horizontal bands alternating rgb / near-black every `stripeM` (default 0.25 m). */
  stripes?: boolean;
  stripeM?: number;
}

export type GateLike = Pick<GateSpec, 'centerEnuM' | 'yawRad' | 'pitchRad' | 'innerM' | 'outerM' | 'depthM'>;

export interface RendererOptions {
  distractors?: readonly DistractorSpec[];
  /** Seed of the procedural ground texture. */
  seed?: number;
}

// Face pattern kinds.
const K_PLAIN = 0;
const K_RING = 1;
const K_STRIPES = 2;

/** Near clipping plane, m. */
const NEAR_M = 0.02;
/** World direction towards the sun (normalised below) and the lighting split. */
const SUN: Vec3 = [0.35, -0.45, 0.82];
const AMBIENT = 0.8;
const DIFFUSE = 0.2;

const TEX_BITS = 9;
const TEX_SIZE = 1 << TEX_BITS; // texels per side
const TEX_PER_M = 16; // 6.25 cm texels → 32 m period
const TEX_LEVELS = TEX_BITS + 1;
const TEX_OFFSET = 1 << 22; // keeps texel coordinates positive before truncation
const SKY_LUT_SIZE = 1024;
const HORIZON: Rgb = [202, 213, 226];
const ZENITH: Rgb = [66, 118, 198];
/** Haze blended into ground mip level ℓ (≈ distance 20·2^ℓ m at fx = 320). */
const HAZE_BY_LEVEL = [0, 0.04, 0.12, 0.28, 0.5, 0.7, 0.85, 0.93, 0.96, 0.97];

const pack = (r: number, g: number, b: number): number => (r & 255) | ((g & 255) << 8) | ((b & 255) << 16);
const lumaOf = (r: number, g: number, b: number): number => (77 * r + 150 * g + 29 * b + 128) >> 8;
const clamp255 = (x: number): number => (x < 0 ? 0 : x > 255 ? 255 : Math.round(x));
/** Headroom kept free at both ends of the 0..255 range so clipped noise never saturates. */
const NOISE_HEADROOM = 16;
/** Output levels: every colour the renderer emits is clamped to this range. */
const levels = (x: number): number => Math.max(NOISE_HEADROOM, Math.min(255 - NOISE_HEADROOM, clamp255(x)));

class Face {
  /** 4 corners, world, xyz interleaved. */
  readonly v = new Float64Array(12);
  /** Outward unit normal, world. */
  readonly n = new Float64Array(3);
  /** Pattern frame: origin and axes (world); s = e1·(p − o), t = e2·(p − o). */
  readonly o = new Float64Array(3);
  readonly e1 = new Float64Array(3);
  readonly e2 = new Float64Array(3);
  /** Shaded palette, packed RGB and luma. */
  readonly pal = new Int32Array(4);
  readonly palY = new Int32Array(4);
  minZ = 0;
  /** Pattern parameters: ring = [inner half, inner band end, checker start, 1/segment]; stripes = [1/period]. */
  readonly prm = new Float64Array(4);
  constructor(readonly kind: number) {}
}

/** Place a few distractor boxes/poles around a track, away from the gates and the lines between them. */
export const randomDistractors = (gates: readonly GateLike[], count: number, seed: number): DistractorSpec[] => {
  const rng = new Rng(seed ^ 0x5bd1e995);
  const out: DistractorSpec[] = [];
  if (gates.length === 0 || count <= 0) return out;
  let minX = Infinity, minY = Infinity, maxX = -Infinity, maxY = -Infinity;
  for (const g of gates) {
    minX = Math.min(minX, g.centerEnuM[0]); maxX = Math.max(maxX, g.centerEnuM[0]);
    minY = Math.min(minY, g.centerEnuM[1]); maxY = Math.max(maxY, g.centerEnuM[1]);
  }
  const margin = 8;
  const segDist = (px: number, py: number, a: Vec3, b: Vec3): number => {
    const dx = b[0] - a[0], dy = b[1] - a[1];
    const l2 = dx * dx + dy * dy;
    const t = l2 > 0 ? Math.max(0, Math.min(1, ((px - a[0]) * dx + (py - a[1]) * dy) / l2)) : 0;
    return Math.hypot(px - a[0] - t * dx, py - a[1] - t * dy);
  };
  for (let tries = 0; out.length < count && tries < count * 200; tries++) {
    const x = rng.uniform(minX - margin, maxX + margin);
    const y = rng.uniform(minY - margin, maxY + margin);
    let ok = true;
    for (let i = 0; i < gates.length && ok; i++) {
      const a = gates[i]!.centerEnuM, b = gates[(i + 1) % gates.length]!.centerEnuM;
      if (Math.hypot(x - a[0], y - a[1]) < 3.5 || segDist(x, y, a, b) < 2.5) ok = false;
    }
    if (!ok) continue;
    const pole = rng.next() < 0.6;
    const rgb = DISTRACTOR_COLOURS[Math.floor(rng.next() * DISTRACTOR_COLOURS.length)]!;
    const sizeM: Vec3 = pole
      ? [rng.uniform(0.12, 0.3), rng.uniform(0.12, 0.3), rng.uniform(2, 5)]
      : [rng.uniform(0.5, 2), rng.uniform(0.5, 2), rng.uniform(0.4, 1.8)];
    out.push({
      kind: pole ? 'pole' : 'box',
      centerEnuM: [x, y, sizeM[2] / 2],
      sizeM,
      yawRad: rng.uniform(-Math.PI, Math.PI),
      rgb: [rgb[0], rgb[1], rgb[2]],
      stripes: rng.next() < 0.4,
    });
  }
  return out;
};

export class Renderer {
  private readonly faces: Face[] = [];
  private readonly sun: Vec3;
  // Ground texture mip pyramid (packed RGB and luma), per-level offset/mask/row shift.
  private readonly tex: Int32Array;
  private readonly texY: Uint8Array;
  private readonly lvOff = new Int32Array(TEX_LEVELS);
  private readonly lvMask = new Int32Array(TEX_LEVELS);
  private readonly lvSh = new Int32Array(TEX_LEVELS);
  private readonly sky = new Int32Array(SKY_LUT_SIZE);
  private readonly skyY = new Uint8Array(SKY_LUT_SIZE);
  // Per-frame scratch.
  private readonly pose = newCameraPose();
  private zbuf = new Float32Array(0);
  private readonly polyA = new Float64Array(3 * 16);
  private readonly polyB = new Float64Array(3 * 16);
  private readonly px = new Float64Array(16);
  private readonly py = new Float64Array(16);

  constructor(gates: readonly GateLike[] | { gates: readonly GateLike[] }, opts: RendererOptions = {}) {
    const s = SUN, sn = Math.hypot(s[0], s[1], s[2]);
    this.sun = [s[0] / sn, s[1] / sn, s[2] / sn];
    const list = Array.isArray(gates) ? (gates as readonly GateLike[]) : (gates as { gates: readonly GateLike[] }).gates;
    for (const g of list) this.addGate(g);
    for (const d of opts.distractors ?? []) this.addBox(d);
    let total = 0;
    for (let l = 0; l < TEX_LEVELS; l++) {
      const size = TEX_SIZE >> l;
      this.lvOff[l] = total;
      this.lvMask[l] = size - 1;
      this.lvSh[l] = TEX_BITS - l;
      total += size * size;
    }
    this.tex = new Int32Array(total);
    this.texY = new Uint8Array(total);
    this.buildGround(opts.seed ?? 1);
    this.buildSky();
  }

  /** Number of faces in the scene (gates: 16 each, distractors: 6 each). */
  get faceCount(): number {
    return this.faces.length;
  }

  // ---------------------------------------------------------------- scene construction

  private shadePalette(f: Face, cols: readonly Rgb[]): void {
    const nd = f.n[0]! * this.sun[0] + f.n[1]! * this.sun[1] + f.n[2]! * this.sun[2];
    const k = AMBIENT + DIFFUSE * Math.max(0, nd);
    for (let i = 0; i < 4; i++) {
      const c = cols[Math.min(i, cols.length - 1)]!;
      const r = levels(c[0] * k), g = levels(c[1] * k), b = levels(c[2] * k);
      f.pal[i] = pack(r, g, b);
      f.palY[i] = lumaOf(r, g, b);
    }
  }

  /**
   * Add an axis-aligned (in a local frame) rectangle as a face. `m` = local→world row-major matrix,
   * `c` = local origin in world; the rectangle spans local coordinates given by 4 corners.
   */
  private addQuad(
    kind: number,
    m: Float64Array,
    c: Vec3,
    corners: readonly Vec3[],
    nLocal: Vec3,
    e1Local: Vec3,
    e2Local: Vec3,
    cols: readonly Rgb[],
    prm: readonly number[] = [],
  ): void {
    const f = new Face(kind);
    const toWorld = (p: Vec3, out: Float64Array, off: number, translate: boolean): void => {
      for (let i = 0; i < 3; i++) {
        out[off + i] = m[i * 3]! * p[0] + m[i * 3 + 1]! * p[1] + m[i * 3 + 2]! * p[2] + (translate ? c[i]! : 0);
      }
    };
    let minZ = Infinity;
    corners.forEach((p, k) => {
      toWorld(p, f.v, k * 3, true);
      minZ = Math.min(minZ, f.v[k * 3 + 2]!);
    });
    f.minZ = minZ;
    toWorld(nLocal, f.n, 0, false);
    toWorld(e1Local, f.e1, 0, false);
    toWorld(e2Local, f.e2, 0, false);
    toWorld([0, 0, 0], f.o, 0, true);
    prm.forEach((x, i) => (f.prm[i] = x));
    this.shadePalette(f, cols);
    this.faces.push(f);
  }

  private addGate(g: GateLike): void {
    const m = quatToMatrix(quatFromEuler(0, g.pitchRad, g.yawRad));
    const hi = g.innerM / 2, ho = g.outerM / 2, dh = g.depthM / 2;
    const C = GATE_COLOURS;
    const mk = GATE_MARKINGS;
    const ringCols: Rgb[] = [C.face, C.innerBand, C.checkerLight, C.checkerDark];
    const ringPrm = [hi, hi + mk.innerBandM, ho - mk.checkerBandM, 1 / mk.checkerSegmentM];
    for (const side of [1, -1]) {
      const x = side * dh;
      const n: Vec3 = [side, 0, 0];
      const quads: [number, number, number, number][] = [
        [-ho, ho, hi, ho], // top: y range, z range
        [-ho, ho, -ho, -hi], // bottom
        [hi, ho, -hi, hi], // left (+y)
        [-ho, -hi, -hi, hi], // right
      ];
      for (const [y0, y1, z0, z1] of quads) {
        this.addQuad(K_RING, m, g.centerEnuM, [[x, y0, z0], [x, y1, z0], [x, y1, z1], [x, y0, z1]], n, [0, 1, 0], [0, 0, 1], ringCols, ringPrm);
      }
    }
    // Inner tunnel faces (normals towards the axis) and outer side faces.
    for (const [r, inward, cols] of [
      [hi, true, [C.innerSide]],
      [ho, false, [C.outerSide]],
    ] as [number, boolean, Rgb[]][]) {
      const sgn = inward ? -1 : 1;
      // top (z = +r), bottom (z = −r), left (y = +r), right (y = −r)
      this.addQuad(K_PLAIN, m, g.centerEnuM, [[-dh, -r, r], [dh, -r, r], [dh, r, r], [-dh, r, r]], [0, 0, sgn], [1, 0, 0], [0, 1, 0], cols);
      this.addQuad(K_PLAIN, m, g.centerEnuM, [[-dh, -r, -r], [dh, -r, -r], [dh, r, -r], [-dh, r, -r]], [0, 0, -sgn], [1, 0, 0], [0, 1, 0], cols);
      this.addQuad(K_PLAIN, m, g.centerEnuM, [[-dh, r, -r], [dh, r, -r], [dh, r, r], [-dh, r, r]], [0, sgn, 0], [1, 0, 0], [0, 0, 1], cols);
      this.addQuad(K_PLAIN, m, g.centerEnuM, [[-dh, -r, -r], [dh, -r, -r], [dh, -r, r], [-dh, -r, r]], [0, -sgn, 0], [1, 0, 0], [0, 0, 1], cols);
    }
  }

  private addBox(d: DistractorSpec): void {
    const m = quatToMatrix(quatFromEuler(0, 0, d.yawRad));
    const [hx, hy, hz] = [d.sizeM[0] / 2, d.sizeM[1] / 2, d.sizeM[2] / 2];
    const kind = d.stripes ? K_STRIPES : K_PLAIN;
    const cols: Rgb[] = d.stripes ? [d.rgb, [25, 25, 25]] : [d.rgb];
    const prm = [1 / (d.stripeM ?? 0.25)];
    const c = d.centerEnuM;
    // e2 = local z for the side faces so stripes are horizontal bands.
    this.addQuad(kind, m, c, [[hx, -hy, -hz], [hx, hy, -hz], [hx, hy, hz], [hx, -hy, hz]], [1, 0, 0], [0, 1, 0], [0, 0, 1], cols, prm);
    this.addQuad(kind, m, c, [[-hx, -hy, -hz], [-hx, hy, -hz], [-hx, hy, hz], [-hx, -hy, hz]], [-1, 0, 0], [0, 1, 0], [0, 0, 1], cols, prm);
    this.addQuad(kind, m, c, [[-hx, hy, -hz], [hx, hy, -hz], [hx, hy, hz], [-hx, hy, hz]], [0, 1, 0], [1, 0, 0], [0, 0, 1], cols, prm);
    this.addQuad(kind, m, c, [[-hx, -hy, -hz], [hx, -hy, -hz], [hx, -hy, hz], [-hx, -hy, hz]], [0, -1, 0], [1, 0, 0], [0, 0, 1], cols, prm);
    this.addQuad(K_PLAIN, m, c, [[-hx, -hy, hz], [hx, -hy, hz], [hx, hy, hz], [-hx, hy, hz]], [0, 0, 1], [1, 0, 0], [0, 1, 0], [d.rgb]);
    this.addQuad(K_PLAIN, m, c, [[-hx, -hy, -hz], [hx, -hy, -hz], [hx, hy, -hz], [-hx, hy, -hz]], [0, 0, -1], [1, 0, 0], [0, 1, 0], [d.rgb]);
  }

  /** Procedural grass: 2 m checker of mild contrast + multi-scale value noise + dirt patches. */
  private buildGround(seed: number): void {
    const rng = new Rng(seed ^ 0x27d4eb2d);
    const S = TEX_SIZE;
    const lattice = (cells: number): Float32Array => {
      const a = new Float32Array(cells * cells);
      for (let i = 0; i < a.length; i++) a[i] = rng.next() * 2 - 1;
      return a;
    };
    const sampler = (cells: number) => {
      const a = lattice(cells);
      const step = S / cells;
      return (x: number, y: number): number => {
        const fx = x / step, fy = y / step;
        const ix = Math.floor(fx), iy = Math.floor(fy);
        let tx = fx - ix, ty = fy - iy;
        tx = tx * tx * (3 - 2 * tx);
        ty = ty * ty * (3 - 2 * ty);
        const x0 = ((ix % cells) + cells) % cells, x1 = (x0 + 1) % cells;
        const y0 = ((iy % cells) + cells) % cells, y1 = (y0 + 1) % cells;
        const v00 = a[y0 * cells + x0]!, v10 = a[y0 * cells + x1]!, v01 = a[y1 * cells + x0]!, v11 = a[y1 * cells + x1]!;
        return (v00 * (1 - tx) + v10 * tx) * (1 - ty) + (v01 * (1 - tx) + v11 * tx) * ty;
      };
    };
    const nLarge = sampler(8); // 4 m
    const nDirt = sampler(16); // 2 m
    const nMid = sampler(32); // 1 m
    const nFine = sampler(128); // 25 cm
    const tileTex = 2 * TEX_PER_M; // 2 m tiles
    const tileJitter = lattice(S / tileTex);
    const tilesPerSide = S / tileTex;
    // Level 0 as float RGB.
    const r0 = new Float32Array(S * S), g0 = new Float32Array(S * S), b0 = new Float32Array(S * S);
    for (let y = 0; y < S; y++) {
      for (let x = 0; x < S; x++) {
        const tx = Math.floor(x / tileTex), ty = Math.floor(y / tileTex);
        const checker = (tx + ty) & 1 ? 1 : -1;
        const jit = tileJitter[ty * tilesPerSide + tx]!;
        const bright =
          1 + 0.07 * checker + 0.03 * jit + 0.08 * nLarge(x, y) + 0.06 * nMid(x, y) + 0.06 * nFine(x, y) + 0.07 * (rng.next() * 2 - 1);
        let dirt = (nDirt(x, y) - 0.45) * 4;
        dirt = dirt < 0 ? 0 : dirt > 1 ? 1 : dirt;
        const i = y * S + x;
        r0[i] = (74 * (1 - dirt) + 118 * dirt) * bright;
        g0[i] = (108 * (1 - dirt) + 104 * dirt) * bright;
        b0[i] = (48 * (1 - dirt) + 72 * dirt) * bright;
      }
    }
    // Box-filtered mip chain with haze.
    let cr = r0, cg = g0, cb = b0;
    for (let l = 0; l < TEX_LEVELS; l++) {
      const size = S >> l;
      if (l > 0) {
        const ps = size * 2;
        const nr = new Float32Array(size * size), ng = new Float32Array(size * size), nb = new Float32Array(size * size);
        for (let y = 0; y < size; y++) {
          for (let x = 0; x < size; x++) {
            const a = 2 * y * ps + 2 * x, b = a + 1, c = a + ps, d = c + 1;
            const i = y * size + x;
            nr[i] = (cr[a]! + cr[b]! + cr[c]! + cr[d]!) / 4;
            ng[i] = (cg[a]! + cg[b]! + cg[c]! + cg[d]!) / 4;
            nb[i] = (cb[a]! + cb[b]! + cb[c]! + cb[d]!) / 4;
          }
        }
        cr = nr; cg = ng; cb = nb;
      }
      const h = HAZE_BY_LEVEL[Math.min(l, HAZE_BY_LEVEL.length - 1)]!;
      const off = this.lvOff[l]!;
      for (let i = 0; i < size * size; i++) {
        const r = levels(cr[i]! * (1 - h) + HORIZON[0] * h);
        const g = levels(cg[i]! * (1 - h) + HORIZON[1] * h);
        const b = levels(cb[i]! * (1 - h) + HORIZON[2] * h);
        this.tex[off + i] = pack(r, g, b);
        this.texY[off + i] = lumaOf(r, g, b);
      }
    }
  }

  private buildSky(): void {
    for (let i = 0; i < SKY_LUT_SIZE; i++) {
      const sinE = Math.sqrt((i + 0.5) / SKY_LUT_SIZE);
      const t = Math.pow(sinE, 0.55);
      const r = levels(HORIZON[0] + (ZENITH[0] - HORIZON[0]) * t);
      const g = levels(HORIZON[1] + (ZENITH[1] - HORIZON[1]) * t);
      const b = levels(HORIZON[2] + (ZENITH[2] - HORIZON[2]) * t);
      this.sky[i] = pack(r, g, b);
      this.skyY[i] = lumaOf(r, g, b);
    }
  }

  // ---------------------------------------------------------------- rendering

  /**
   * Render the view from a body pose into `out` (row-major, `profile.encoding`, step = width·bpp).
   * If `rng` is given and profile.noiseStd > 0, gaussian pixel noise is added (one `rng.next()` per
   * frame picks the offset into a precomputed gaussian table; each channel gets its own sample; for
   * std ≤ 4 the noise is clipped at ±16 = ±4σ). Latency and frame drops are the caller's business
   * (see frameTiming in camera.ts).
   */
  render(posEnuM: ArrayLike<number>, quat: Quat, profile: CameraProfile, out: Uint8Array, rng?: Rng): void {
    const W = profile.width, H = profile.height;
    const bpp = profile.encoding === 'rgb8' ? 3 : 1;
    const n = W * H * bpp;
    if (out.length < n) throw new Error(`render: output buffer has ${out.length} bytes, need ${n} (${W}×${H} ${profile.encoding})`);
    if (!(Number.isFinite(posEnuM[0]!) && Number.isFinite(posEnuM[1]!) && Number.isFinite(posEnuM[2]!) && Number.isFinite(quat[0] + quat[1] + quat[2] + quat[3]))) {
      throw new Error(`render: non-finite pose (pos ${Array.from(posEnuM).join(', ')}; quat ${quat.join(', ')})`);
    }
    if (this.zbuf.length !== W * H) this.zbuf = new Float32Array(W * H);
    cameraPoseWorld(posEnuM, quat, (profile.tiltUpDeg * Math.PI) / 180, profile.posFluM, this.pose);
    this.drawBackground(profile, out, bpp === 3);
    if (this.faces.length > 0) {
      this.zbuf.fill(Infinity);
      for (const f of this.faces) this.drawFace(f, profile, out, bpp === 3);
    }
    if (rng && profile.noiseStd > 0) {
      // Every colour the renderer emits lies in [NOISE_HEADROOM, 255 − NOISE_HEADROOM], so noise
      // clipped to ±NOISE_HEADROOM needs no saturation: one 32-bit add per 4 bytes.
      if (profile.noiseStd <= FAST_NOISE_MAX_STD) applyHeadroomNoise(out, profile.noiseStd, rng, n);
      else applyNoise(out, profile.noiseStd, rng, n);
    }
  }

  private drawBackground(p: CameraProfile, out: Uint8Array, rgb: boolean): void {
    const W = p.width, H = p.height;
    const R = this.pose.rot;
    const camX = this.pose.pos[0]!, camY = this.pose.pos[1]!;
    const h = Math.max(this.pose.pos[2]!, 1e-3);
    const ifx = 1 / p.fx;
    const ddx = R[0]! * ifx, ddy = R[3]! * ifx, ddz = R[6]! * ifx;
    // (2·footprint)² in texels² = inv²·|d|²·K, footprint ≈ distance / fx.
    const K = (2 * TEX_PER_M * TEX_PER_M) / (p.fx * p.fx);
    const tex = this.tex, texY = this.texY, lvOff = this.lvOff, lvMask = this.lvMask, lvSh = this.lvSh;
    const sky = this.sky, skyY = this.skyY;
    const LMAX = TEX_LEVELS - 1;
    const GMAX = 2 ** (2 * LMAX);
    const skyScale = SKY_LUT_SIZE - 1;
    for (let j = 0; j < H; j++) {
      const yn = (j - p.cy) / p.fy;
      const x0n = -p.cx * ifx;
      const bx = R[2]! + R[1]! * yn + R[0]! * x0n;
      const by = R[5]! + R[4]! * yn + R[3]! * x0n;
      const bz = R[8]! + R[7]! * yn + R[6]! * x0n;
      // Ground where dz(u) = bz + u·ddz < 0.
      let g0: number, g1: number;
      if (Math.abs(ddz) < 1e-15) {
        if (bz < 0) { g0 = 0; g1 = W; } else { g0 = 0; g1 = 0; }
      } else {
        const uc = -bz / ddz;
        if (ddz > 0) { g0 = 0; g1 = Math.min(W, Math.max(0, Math.ceil(uc))); }
        else { g0 = Math.min(W, Math.max(0, Math.floor(uc) + 1)); g1 = W; }
      }
      const row = j * W;
      // Sky spans: [0, g0) and [g1, W).
      for (let pass = 0; pass < 2; pass++) {
        const ua = pass === 0 ? 0 : g1, ub = pass === 0 ? g0 : W;
        for (let u = ua; u < ub; u++) {
          const dx = bx + u * ddx, dy = by + u * ddy, dz = bz + u * ddz;
          const q = (dz * dz) / (dx * dx + dy * dy + dz * dz);
          const k = (q * skyScale) | 0;
          if (rgb) {
            const c = sky[k]!, o = (row + u) * 3;
            out[o] = c; out[o + 1] = c >> 8; out[o + 2] = c >> 16;
          } else out[row + u] = skyY[k]!;
        }
      }
      for (let u = g0; u < g1; u++) {
        const dx = bx + u * ddx, dy = by + u * ddy;
        let dz = bz + u * ddz;
        if (dz > -1e-12) dz = -1e-12;
        const inv = -h / dz;
        const gx = camX + dx * inv, gy = camY + dy * inv;
        const g = inv * inv * (dx * dx + dy * dy + dz * dz) * K;
        const l = g < 4 ? 0 : g >= GMAX ? LMAX : (31 - Math.clz32(g)) >> 1;
        const tx = ((gx * TEX_PER_M + TEX_OFFSET) | 0) >> l, ty = ((gy * TEX_PER_M + TEX_OFFSET) | 0) >> l;
        const m = lvMask[l]!;
        const idx = lvOff[l]! + ((ty & m) << lvSh[l]!) + (tx & m);
        if (rgb) {
          const c = tex[idx]!, o = (row + u) * 3;
          out[o] = c; out[o + 1] = c >> 8; out[o + 2] = c >> 16;
        } else out[row + u] = texY[idx]!;
      }
    }
  }

  /** Clip polygon `src` (n verts) against a·p ≥ c (a = unit axis index ax, sign), into dst; returns count. */
  private static clipAxis(src: Float64Array, n: number, dst: Float64Array, ax: number, c: number): number {
    let m = 0;
    for (let i = 0; i < n; i++) {
      const j = i + 1 === n ? 0 : i + 1;
      const ai = src[i * 3 + ax]! - c, aj = src[j * 3 + ax]! - c;
      if (ai >= 0) {
        dst[m * 3] = src[i * 3]!; dst[m * 3 + 1] = src[i * 3 + 1]!; dst[m * 3 + 2] = src[i * 3 + 2]!;
        m++;
      }
      if ((ai >= 0) !== (aj >= 0)) {
        const t = ai / (ai - aj);
        for (let k = 0; k < 3; k++) dst[m * 3 + k] = src[i * 3 + k]! + t * (src[j * 3 + k]! - src[i * 3 + k]!);
        m++;
      }
    }
    return m;
  }

  private drawFace(f: Face, p: CameraProfile, out: Uint8Array, rgb: boolean): void {
    const R = this.pose.rot, cp = this.pose.pos;
    const cx = cp[0]!, cy = cp[1]!, cz = cp[2]!;
    const v = f.v, n = f.n;
    // Back-face cull (also drops edge-on faces).
    const facing = (cx - v[0]!) * n[0]! + (cy - v[1]!) * n[1]! + (cz - v[2]!) * n[2]!;
    if (!(facing > 1e-9)) return;
    let A = this.polyA, B = this.polyB;
    A.set(v);
    let cnt = 4;
    if (f.minZ < 0) {
      cnt = Renderer.clipAxis(A, cnt, B, 2, 0);
      const t = A; A = B; B = t;
      if (cnt < 3) return;
    }
    // World → camera: p_c = Rᵀ (p − pos).
    for (let i = 0; i < cnt; i++) {
      const wx = A[i * 3]! - cx, wy = A[i * 3 + 1]! - cy, wz = A[i * 3 + 2]! - cz;
      A[i * 3] = R[0]! * wx + R[3]! * wy + R[6]! * wz;
      A[i * 3 + 1] = R[1]! * wx + R[4]! * wy + R[7]! * wz;
      A[i * 3 + 2] = R[2]! * wx + R[5]! * wy + R[8]! * wz;
    }
    cnt = Renderer.clipAxis(A, cnt, B, 2, NEAR_M);
    if (cnt < 3) return;
    const W = p.width, H = p.height, fx = p.fx, fy = p.fy, pcx = p.cx, pcy = p.cy;
    const px = this.px, py = this.py;
    let ymin = Infinity, ymax = -Infinity, xmin = Infinity, xmax = -Infinity;
    for (let i = 0; i < cnt; i++) {
      const iz = 1 / B[i * 3 + 2]!;
      const x = fx * B[i * 3]! * iz + pcx, y = fy * B[i * 3 + 1]! * iz + pcy;
      px[i] = x; py[i] = y;
      if (y < ymin) ymin = y;
      if (y > ymax) ymax = y;
      if (x < xmin) xmin = x;
      if (x > xmax) xmax = x;
    }
    if (xmax < -0.5 || xmin > W - 0.5 || ymax < -0.5 || ymin > H - 0.5) return;
    const j0 = Math.max(0, Math.ceil(ymin - 1e-6)), j1 = Math.min(H - 1, Math.floor(ymax + 1e-6));
    if (j1 < j0) return;

    // Plane and pattern frame in camera coordinates.
    const rc = (a: number, b: number, c: number, k: number): number => R[k]! * a + R[3 + k]! * b + R[6 + k]! * c;
    const nx = rc(n[0]!, n[1]!, n[2]!, 0), ny = rc(n[0]!, n[1]!, n[2]!, 1), nz = rc(n[0]!, n[1]!, n[2]!, 2);
    const dc = -facing; // n_c · p_c for any point on the plane (camera at origin)
    const e1 = f.e1, e2 = f.e2, o = f.o;
    const e1x = rc(e1[0]!, e1[1]!, e1[2]!, 0), e1y = rc(e1[0]!, e1[1]!, e1[2]!, 1), e1z = rc(e1[0]!, e1[1]!, e1[2]!, 2);
    const e2x = rc(e2[0]!, e2[1]!, e2[2]!, 0), e2y = rc(e2[0]!, e2[1]!, e2[2]!, 1), e2z = rc(e2[0]!, e2[1]!, e2[2]!, 2);
    // s = e1·(p_w − o) = e1_c·p_c + e1·(camPos − o)
    const s0 = e1[0]! * (cx - o[0]!) + e1[1]! * (cy - o[1]!) + e1[2]! * (cz - o[2]!);
    const t0 = e2[0]! * (cx - o[0]!) + e2[1]! * (cy - o[1]!) + e2[2]! * (cz - o[2]!);
    const ifx = 1 / fx;
    const dDen = nx * ifx, dE1 = e1x * ifx, dE2 = e2x * ifx;
    const zb = this.zbuf;
    const pal = rgb ? f.pal : f.palY;
    const kind = f.kind;
    const prm = f.prm;
    const band = prm[1]!, chk = prm[2]!, iseg = prm[3]!;
    const istripe = prm[0]!;

    for (let j = j0; j <= j1; j++) {
      // Span of the convex polygon on this row.
      let xl = Infinity, xr = -Infinity;
      for (let i = 0; i < cnt; i++) {
        const k = i + 1 === cnt ? 0 : i + 1;
        const ya = py[i]!, yb = py[k]!;
        if ((ya <= j && j <= yb) || (yb <= j && j <= ya)) {
          let x: number;
          if (ya === yb) {
            x = px[i]!;
            const x2 = px[k]!;
            if (x2 < xl) xl = x2;
            if (x2 > xr) xr = x2;
          } else x = px[i]! + ((j - ya) * (px[k]! - px[i]!)) / (yb - ya);
          if (x < xl) xl = x;
          if (x > xr) xr = x;
        }
      }
      const i0 = Math.max(0, Math.ceil(xl - 1e-6)), i1 = Math.min(W - 1, Math.floor(xr + 1e-6));
      if (i1 < i0) continue;
      const yn = (j - pcy) / fy;
      const xn = (i0 - pcx) * ifx;
      let den = nx * xn + ny * yn + nz;
      let ea = e1x * xn + e1y * yn + e1z;
      let eb = e2x * xn + e2y * yn + e2z;
      let idx = j * W + i0;
      for (let i = i0; i <= i1; i++, idx++, den += dDen, ea += dE1, eb += dE2) {
        const z = dc / den;
        if (!(z > 0 && z < zb[idx]!)) continue;
        zb[idx] = z;
        let c: number;
        if (kind === K_RING) {
          const s = ea * z + s0, t = eb * z + t0;
          const as = s < 0 ? -s : s, at = t < 0 ? -t : t;
          const a = as > at ? as : at;
          if (a < band) c = pal[1]!;
          else if (a > chk) c = ((((s * iseg + 4096) | 0) + ((t * iseg + 4096) | 0)) & 1) === 0 ? pal[2]! : pal[3]!;
          else c = pal[0]!;
        } else if (kind === K_STRIPES) {
          const t = eb * z + t0;
          c = (((t * istripe + 4096) | 0) & 1) === 0 ? pal[0]! : pal[1]!;
        } else c = pal[0]!;
        if (rgb) {
          const ob = idx * 3;
          out[ob] = c; out[ob + 1] = c >> 8; out[ob + 2] = c >> 16;
        } else out[idx] = c;
      }
    }
  }
}

// ---------------------------------------------------------------- noise

const NOISE_BITS = 20;
/** Entries of the byte noise tables; the packed tables hold the same samples 4 per word. */
const NOISE_N = 1 << NOISE_BITS;
const NOISE_MASK = NOISE_N - 1;
const NOISE_WORDS = NOISE_N >> 2;
const NOISE_WORD_MASK = NOISE_WORDS - 1;
/** Largest std for which render() clips noise at ±NOISE_HEADROOM (= 4σ) and skips saturation. */
const FAST_NOISE_MAX_STD = NOISE_HEADROOM / 4;
const LANE_HI = 0x80808080 | 0;
const LANE_LO = 0x7f7f7f7f;

interface NoiseTable {
  /** Rounded N(0, std²) samples. */
  b: Int16Array;
  /** The same samples packed 4 per word as saturating lanes: p = max(n, 0), m = max(−n, 0). */
  p: Int32Array;
  m: Int32Array;
  /** Samples clipped to ±NOISE_HEADROOM: bytes, and packed as one signed 32-bit addend per 4 lanes. */
  bc: Int8Array;
  d: Int32Array;
}

const noiseTables = new Map<number, NoiseTable>();

/** Gaussian noise tables for one std, built once from a fixed seed (≈ 30 ms). */
const noiseTable = (std: number): NoiseTable => {
  let t = noiseTables.get(std);
  if (!t) {
    const rng = new Rng(0x6e6f6973);
    const b = new Int16Array(NOISE_N), bc = new Int8Array(NOISE_N);
    const p = new Int32Array(NOISE_WORDS), m = new Int32Array(NOISE_WORDS), d = new Int32Array(NOISE_WORDS);
    for (let i = 0; i < NOISE_N; i++) {
      const v = Math.max(-32768, Math.min(32767, Math.round(rng.gauss() * std)));
      const vc = Math.max(-NOISE_HEADROOM, Math.min(NOISE_HEADROOM, v));
      b[i] = v;
      bc[i] = vc;
      const sh = 8 * (i & 3), w = i >> 2;
      if (v > 0) p[w] = p[w]! | (Math.min(v, 255) << sh);
      else if (v < 0) m[w] = m[w]! | (Math.min(-v, 255) << sh);
      // Σ vc·256^lane as a wrapped 32-bit integer: adding it to 4 packed bytes that each stay in
      // 0..255 after their own addend is exact (no lane carries or borrows in the final result).
      d[w] = (d[w]! + vc * 2 ** sh) | 0;
    }
    t = { b, p, m, bc, d };
    if (noiseTables.size >= 8) noiseTables.clear();
    noiseTables.set(std, t);
  }
  return t;
};

/** Per-byte-lane saturating x + p − m (SWAR on 4 lanes of 8 bits). */
const satNoise = (x: number, p: number, m: number): number => {
  const s = ((x & LANE_LO) + (p & LANE_LO)) ^ ((x ^ p) & LANE_HI);
  const carry = ((x & p) | ((x | p) & ~s)) & LANE_HI;
  const r = s | Math.imul(carry >>> 7, 255);
  const d = ((r | LANE_HI) - (m & LANE_LO)) ^ ((r ^ ~m) & LANE_HI);
  const borrow = ((~r & m) | (~(r ^ m) & d)) & LANE_HI;
  return d & ~Math.imul(borrow >>> 7, 255);
};

/**
 * Add zero-mean gaussian noise of `std` grey levels to each byte of data[0, length) (each channel
 * independently), clamped to 0..255. Reads a 2^20-entry precomputed table from a random offset drawn
 * from `rng` (one uniform per call): cheap and reproducible from the rng's seed. `render(…, rng)`
 * already applies the profile's noise; use this for frames produced elsewhere.
 */
export const applyNoise = (data: Uint8Array, std: number, rng: Rng, length: number = data.length): void => {
  if (!(std > 0)) return;
  const t = noiseTable(std);
  const n = Math.min(length, data.length);
  const woff = (rng.next() * NOISE_WORDS) | 0;
  let done = 0;
  if ((data.byteOffset & 3) === 0 && n >= 4) {
    const nw = n >> 2;
    const u = new Int32Array(data.buffer, data.byteOffset, nw);
    const p = t.p, m = t.m;
    for (let i = 0; i < nw; i++) {
      const k = (woff + i) & NOISE_WORD_MASK;
      u[i] = satNoise(u[i]!, p[k]!, m[k]!);
    }
    done = nw << 2;
  }
  const b = t.b, base = woff << 2;
  for (let i = done; i < n; i++) {
    const v = data[i]! + b[(base + i) & NOISE_MASK]!;
    data[i] = v < 0 ? 0 : v > 255 ? 255 : v;
  }
};

/**
 * The renderer's fast noise: like applyNoise but the noise is clipped to ±NOISE_HEADROOM and the data
 * must already lie in [NOISE_HEADROOM, 255 − NOISE_HEADROOM] (true for every rendered pixel), so one
 * 32-bit add per 4 bytes is exact.
 */
const applyHeadroomNoise = (data: Uint8Array, std: number, rng: Rng, length: number): void => {
  const t = noiseTable(std);
  const n = Math.min(length, data.length);
  const woff = (rng.next() * NOISE_WORDS) | 0;
  let done = 0;
  if ((data.byteOffset & 3) === 0 && n >= 4) {
    const nw = n >> 2;
    const u = new Int32Array(data.buffer, data.byteOffset, nw);
    const d = t.d;
    const first = Math.min(nw, NOISE_WORDS - woff);
    for (let i = 0, k = woff; i < first; i++, k++) u[i] = u[i]! + d[k]!;
    for (let i = first, k = 0; i < nw; i++, k = (k + 1) & NOISE_WORD_MASK) u[i] = u[i]! + d[k]!;
    done = nw << 2;
  }
  const bc = t.bc, base = woff << 2;
  for (let i = done; i < n; i++) data[i] = data[i]! + bc[(base + i) & NOISE_MASK]!;
};
