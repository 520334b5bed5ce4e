/**
 * Seeded pseudo-random numbers (mulberry32 + Box–Muller). Every stochastic piece of brainpilot
 * (sensor noise, gate perturbation, frame drops, random projections) draws from one of these so a
 * run is reproducible from its seed.
 */
export class Rng {
  private s: number;
  private spare = NaN;

  constructor(seed: number) {
    this.s = (seed >>> 0) ^ 0x9e3779b9;
    // warm up so nearby seeds diverge
    for (let i = 0; i < 4; i++) this.next();
  }

  /** Uniform in [0, 1). */
  next(): number {
    this.s = (this.s + 0x6d2b79f5) >>> 0;
    let t = this.s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  uniform(lo: number, hi: number): number {
    return lo + (hi - lo) * this.next();
  }

  /** Standard normal sample. */
  gauss(): number {
    if (!Number.isNaN(this.spare)) {
      const v = this.spare;
      this.spare = NaN;
      return v;
    }
    let u = 0;
    while (u <= 1e-300) u = this.next();
    const v = this.next();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }

  /** Derive an independent child stream (e.g. one per sensor) from this one. */
  fork(salt: number): Rng {
    return new Rng(Math.floor(this.next() * 4294967296) ^ Math.imul(salt + 1, 0x85ebca6b));
  }
}
