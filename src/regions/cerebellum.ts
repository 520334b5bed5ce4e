/**
 * Cerebellum: the Dean & Porrill adaptive filter, learned online from zero weights.
 *
 * CLAIM. The cerebellum cancels loop latency. In the flight loop (LatencyForwardModel, at the end of
 * this file) it learns, from efference copies (desired acceleration, rate command) and the current
 * motion, how the drone will have moved one actuation latency from now, so the innate guidance and
 * attitude controllers act on where the drone WILL be when their command lands.
 * MEASUREMENT. docs/ablation.md: under 100 ms actuation latency the pipeline completes 5/5 runs with
 * it and 0/5 without; nominal laps take half the time with it. test/pipeline.test.ts asserts the
 * latency contrast in closed loop; test/cerebellum.test.ts shows the filter itself cancelling a
 * 60 ms delay in a tracking loop (RMS error ≥ 30 % below the no-cerebellum baseline, weights moved
 * from zero, learning curve).
 *
 * MECHANISM. Inputs x (channels, divided by inputScales) → AlphaFilterBank (alpha filters with τ
 * 5–200 ms, plus the raw input and an optional bias) → p. Output per channel c: z_c = Σ_i w_ci·p_i.
 * The climbing-fibre error e (one per output, given on the ticks it is known, sign: e > 0 means z
 * was too large) arrives d seconds after the output it judges, so the update uses the parallel-
 * fibre activity from d ago, held in an eligibility buffer (Marr–Albus timing):
 *     Δw_ci = −β·e_c·p̄_i / (ε + max(‖p̄‖², mean ‖p̄‖²)),  p̄ = p(t − d)   (normalised LMS)
 * With meTauS > 0, p̄ is p(t − d) additionally filtered through a first-order model of the plant
 * that sits between z and the measured error (Herreros' ME-LMS): needed when the correction acts
 * through a lag, where plain LMS can go unstable. Per tick: ~ channels·taps·(outputs + 4)
 * multiply-adds (≈ 100 for 3 channels × 7 taps × 1 output).
 *
 * DEFENSIVE NUMERICS. A non-finite input channel is held (counted by the bank); a non-finite error
 * freezes learning that tick (counted); |z| is clamped to maxCorrection (counted); weights that go
 * non-finite are reset to zero (counted). Returned arrays are reused every tick: copy what you keep.
 */
import { z } from 'zod';
import { AlphaFilterBank, DelayLine, logSpacedTaus } from '../learn/filters.js';
import { parseParams } from '../learn/params.js';
import { allFinite, checkSchema, f64ToList, readBool, readF64Into, readNumber, readObject } from '../learn/state.js';
import type { LearnedState, Region } from './region.js';

export const CEREBELLUM_SCHEMA = 1;

export const CerebellumParams = z.object({
  inputs: z.number().int().min(1).max(256).describe('input channels (e.g. rate command, gyro, delayed camera signal)'),
  outputs: z.number().int().min(1).max(64).describe('correction channels'),
  inputScales: z.array(z.number().positive()).optional().describe('typical magnitude per input channel (default 1)'),
  tausS: z.array(z.number().min(0.001).max(2)).min(1).max(32).default(logSpacedTaus(0.005, 0.2, 6)).describe('filter time constants, s'),
  kind: z.enum(['alpha', 'exp']).default('alpha').describe('filter shape'),
  includeRaw: z.boolean().default(true).describe('raw input as an extra tap'),
  bias: z.boolean().default(false).describe('constant 1 tap (learns a fixed offset)'),
  delayS: z.number().min(0).max(1).default(0.06).describe('loop latency d between an output and the error that judges it, s'),
  maxTickHz: z.number().min(1).max(20_000).default(1000).describe('fastest expected tick rate (sizes the eligibility buffer)'),
  stepSize: z.number().positive().max(2).default(0.05).describe('normalised learning rate β'),
  eps: z.number().positive().default(0.01).describe('regulariser of the normaliser (inputs are scaled to ~1)'),
  powerTauS: z.number().positive().max(100).default(1).describe('time constant of the running mean ‖p̄‖² used as a floor of the normaliser, s'),
  meTauS: z.number().min(0).max(5).default(0).describe('ME-LMS plant model time constant, s (0 = plain LMS)'),
  maxCorrection: z.number().positive().default(1e6).describe('|z| clamp per output'),
  weightDecay: z.number().min(0).max(1).default(0).describe('per-update leak of w toward 0'),
});
export type CerebellumOptions = z.input<typeof CerebellumParams>;
export type CerebellumConfig = z.output<typeof CerebellumParams>;

export interface CerebellumInput {
  /** Mossy-fibre inputs (length = inputs). */
  signals: ArrayLike<number>;
  /** Climbing-fibre error per output for the output emitted delayS ago; omit/null on ticks with no error (e.g. no frame). */
  error?: ArrayLike<number> | null;
  /** Tick length, s, used when step() is called without its dtS argument (see Region.step). */
  dtS?: number;
}

export interface CerebellumOutput {
  /** Learned correction per output channel. */
  correction: Float64Array;
  /** ‖W‖ (Frobenius). */
  weightNorm: number;
  /** True when the weights were updated this tick. */
  learned: boolean;
}

export interface CerebellumStats {
  ticks: number;
  updates: number;
  nanCount: number;
  clamps: number;
  resets: number;
  /** Ticks with an error but no eligibility from d ago yet (start-up). */
  noEligibility: number;
}

export class Cerebellum implements Region<CerebellumInput, CerebellumOutput> {
  readonly name = 'cerebellum';
  readonly cfg: CerebellumConfig;
  /** Parallel-fibre dimension (bank size + bias). */
  readonly np: number;
  readonly w: Float64Array;
  private readonly bank: AlphaFilterBank;
  private readonly delay: DelayLine;
  private readonly invScale: Float64Array;
  private readonly xs: Float64Array;
  private readonly p: Float64Array;
  private readonly pd: Float64Array;
  private readonly elig: Float64Array;
  private eligValid = false;
  private meanPower = 0;
  private tS = 0;
  private readonly out: CerebellumOutput;
  private st: CerebellumStats = { ticks: 0, updates: 0, nanCount: 0, clamps: 0, resets: 0, noEligibility: 0 };

  constructor(opts: CerebellumOptions) {
    const cfg = parseParams(CerebellumParams, opts, 'Cerebellum');
    if (cfg.inputScales !== undefined && cfg.inputScales.length !== cfg.inputs) {
      throw new Error(`Cerebellum: invalid parameters: inputScales has ${cfg.inputScales.length} entries, inputs is ${cfg.inputs}`);
    }
    this.cfg = cfg;
    this.bank = new AlphaFilterBank({ channels: cfg.inputs, tausS: cfg.tausS, kind: cfg.kind, includeRaw: cfg.includeRaw });
    this.np = this.bank.size + (cfg.bias ? 1 : 0);
    this.w = new Float64Array(cfg.outputs * this.np);
    this.delay = new DelayLine(this.np, Math.ceil(cfg.delayS * cfg.maxTickHz) + 3);
    this.invScale = Float64Array.from({ length: cfg.inputs }, (_, i) => 1 / (cfg.inputScales?.[i] ?? 1));
    this.xs = new Float64Array(cfg.inputs);
    this.p = new Float64Array(this.np);
    this.pd = new Float64Array(this.np);
    this.elig = new Float64Array(this.np);
    this.out = { correction: new Float64Array(cfg.outputs), weightNorm: 0, learned: false };
  }

  get stats(): Readonly<CerebellumStats> {
    return { ...this.st };
  }

  /** Current parallel-fibre vector p (for inspection). */
  get features(): Float64Array {
    return this.p;
  }

  reset(): void {
    this.w.fill(0);
    this.bank.reset();
    this.delay.reset();
    this.p.fill(0);
    this.pd.fill(0);
    this.elig.fill(0);
    this.eligValid = false;
    this.meanPower = 0;
    this.tS = 0;
    this.out.correction.fill(0);
    this.out.weightNorm = 0;
    this.out.learned = false;
    this.st = { ticks: 0, updates: 0, nanCount: 0, clamps: 0, resets: 0, noEligibility: 0 };
  }

  step(input: CerebellumInput, dtArg?: number): CerebellumOutput {
    // the tick's dt: the argument, else the tract's (see Region.step); `+dtArg` keeps dtS an unboxed double
    const dtS = dtArg === undefined ? (input.dtS ?? NaN) : +dtArg;
    const cfg = this.cfg, np = this.np, q = cfg.outputs, w = this.w, p = this.p, out = this.out;
    const dt = dtS > 0 && Number.isFinite(dtS) ? dtS : 0.004;
    this.tS += dt;
    this.st.ticks++;
    // 1. parallel fibres: filter bank of the scaled inputs (+ bias)
    for (let i = 0; i < cfg.inputs; i++) this.xs[i] = input.signals[i]! * this.invScale[i]!;
    const nanBefore = this.bank.nanCount;
    const bp = this.bank.step(this.xs, dt);
    if (this.bank.nanCount !== nanBefore) this.st.nanCount++;
    p.set(bp);
    if (cfg.bias) p[np - 1] = 1;
    this.delay.push(this.tS, p);
    // 2. eligibility: p from d ago, optionally through the plant model (ME-LMS)
    const have = this.delay.readDelayed(this.tS, cfg.delayS, this.pd);
    if (have) {
      if (cfg.meTauS > 0) {
        const a = 1 - Math.exp(-dt / cfg.meTauS);
        if (!this.eligValid) this.elig.fill(0);
        for (let i = 0; i < np; i++) this.elig[i] = this.elig[i]! + a * (this.pd[i]! - this.elig[i]!);
      } else {
        this.elig.set(this.pd);
      }
      this.eligValid = true;
    }
    // 3. climbing fibre: Δw = −β e p̄ / (ε + ‖p̄‖²)
    out.learned = false;
    const err = input.error;
    if (err !== undefined && err !== null) {
      if (!allFinite(err, q)) {
        this.st.nanCount++;
      } else if (!this.eligValid) {
        this.st.noEligibility++;
      } else {
        let nn = 0;
        for (let i = 0; i < np; i++) nn += this.elig[i]! * this.elig[i]!;
        // normalise by max(‖p̄‖², its running mean): a momentarily tiny p̄ (start-up, quiet input)
        // must not turn a small error into a huge weight jump that explodes when p grows again
        this.meanPower += Math.min(1, dt / cfg.powerTauS) * (nn - this.meanPower);
        const g = cfg.stepSize / (cfg.eps + Math.max(nn, this.meanPower));
        const keep = 1 - cfg.weightDecay;
        for (let c = 0; c < q; c++) {
          const k = -g * err[c]!;
          const b = c * np;
          for (let i = 0; i < np; i++) w[b + i] = keep * w[b + i]! + k * this.elig[i]!;
        }
        if (!allFinite(w)) {
          w.fill(0);
          this.st.resets++;
        } else {
          out.learned = true;
          this.st.updates++;
        }
      }
    }
    // 4. output z = W p
    let wn = 0;
    const lim = cfg.maxCorrection;
    for (let c = 0; c < q; c++) {
      const b = c * np;
      let s = 0;
      for (let i = 0; i < np; i++) {
        const wi = w[b + i]!;
        s += wi * p[i]!;
        wn += wi * wi;
      }
      if (s > lim || s < -lim) {
        s = s > 0 ? lim : -lim;
        this.st.clamps++;
      }
      out.correction[c] = s;
    }
    out.weightNorm = Math.sqrt(wn);
    return out;
  }

  saveState(): LearnedState {
    const c = this.cfg;
    return {
      schema: CEREBELLUM_SCHEMA,
      data: {
        layout: { inputs: c.inputs, outputs: c.outputs, tausS: [...c.tausS], kind: c.kind, includeRaw: c.includeRaw, bias: c.bias },
        w: f64ToList(this.w),
        bank: this.bank.saveState(),
        delay: this.delay.saveState(),
        elig: f64ToList(this.elig),
        eligValid: this.eligValid,
        meanPower: this.meanPower,
        tS: this.tS,
        stats: { ...this.st },
      },
    };
  }

  loadState(s: LearnedState): void {
    const where = 'Cerebellum.loadState';
    checkSchema(s, CEREBELLUM_SCHEMA, where);
    const d = s.data;
    const layout = readObject(d, 'layout', where);
    const c = this.cfg;
    const mine = { inputs: c.inputs, outputs: c.outputs, tausS: c.tausS, kind: c.kind, includeRaw: c.includeRaw, bias: c.bias };
    for (const [k, v] of Object.entries(mine)) {
      if (JSON.stringify(layout[k]) !== JSON.stringify(v)) {
        throw new Error(`${where}: snapshot layout differs in '${k}': snapshot ${JSON.stringify(layout[k])}, this cerebellum ${JSON.stringify(v)}`);
      }
    }
    readF64Into(d, 'w', this.w, where);
    this.bank.loadState(readObject(d, 'bank', where), `${where}.bank`);
    this.delay.loadState(readObject(d, 'delay', where), `${where}.delay`);
    readF64Into(d, 'elig', this.elig, where);
    this.eligValid = readBool(d, 'eligValid', where);
    this.meanPower = readNumber(d, 'meanPower', where);
    this.tS = readNumber(d, 'tS', where);
    const st = readObject(d, 'stats', where);
    this.st = {
      ticks: readNumber(st, 'ticks', where),
      updates: readNumber(st, 'updates', where),
      nanCount: readNumber(st, 'nanCount', where),
      clamps: readNumber(st, 'clamps', where),
      resets: readNumber(st, 'resets', where),
      noEligibility: readNumber(st, 'noEligibility', where),
    };
  }
}

// ---------------------------------------------------------------------------------------------------
// The cerebellum in the flight loop: a forward model through the actuation latency
// ---------------------------------------------------------------------------------------------------

export interface LatencyForwardInput {
  /** Desired world acceleration the guidance asked for (efference copy), ENU m/s². */
  accCmdEnuMS2: ArrayLike<number>;
  /** Body-rate command sent to the FC (efference copy), rad/s. */
  rateCmdRadS: ArrayLike<number>;
  /** Current estimates: world velocity, body rates (gyro), and the state the targets are built from. */
  velEnuMS: ArrayLike<number>;
  gyroRadS: ArrayLike<number>;
  posEnuM: ArrayLike<number>;
  /** Tick length, s, used when step() is called without its dtS argument (see Region.step). */
  dtS?: number;
}

export interface LatencyForwardOutput {
  /** Predicted change over the horizon: position (3), velocity (3), body rotation vector (3). */
  dPosEnuM: [number, number, number];
  dVelEnuMS: [number, number, number];
  dRotBodyRad: [number, number, number];
}

/**
 * What the flight loop uses the adaptive filter for: predict how the drone will have moved one
 * actuation latency from now, from the commands already sent (efference copies) and the current
 * motion, so the innate controllers act on where the drone WILL be when their command lands.
 * Targets are the measured changes over the last horizon; the error seen now judges the prediction
 * made one horizon ago (the filter's eligibility delay = the horizon). Zero weights predict no
 * change, i.e. exactly the controller without a cerebellum.
 */
export class LatencyForwardModel {
  readonly filter: Cerebellum;
  private readonly hist: DelayLine;
  private readonly now = new Float64Array(18);
  private readonly past = new Float64Array(18);
  private readonly err = new Float64Array(9);
  private readonly sig = new Float64Array(12);
  private readonly rot: [number, number, number] = [0, 0, 0];
  /** The filter's input, reused every tick (no allocation on the command tick). */
  private readonly filterIn: CerebellumInput = { signals: this.sig, error: null, dtS: 0 };
  private tS = 0;
  readonly out: LatencyForwardOutput = { dPosEnuM: [0, 0, 0], dVelEnuMS: [0, 0, 0], dRotBodyRad: [0, 0, 0] };

  constructor(
    readonly horizonS: number,
    opts: Partial<CerebellumOptions> = {},
    readonly tickHz = 250,
  ) {
    this.filter = new Cerebellum({
      inputs: 12,
      outputs: 9,
      inputScales: [5, 5, 5, 3, 3, 3, 5, 5, 5, 3, 3, 3],
      tausS: logSpacedTaus(0.01, 0.25, 7),
      delayS: horizonS,
      maxTickHz: tickHz * 2,
      stepSize: 0.02,
      bias: true,
      maxCorrection: 20,
      ...opts,
    });
    this.hist = new DelayLine(18, Math.ceil(horizonS * tickHz * 2) + 8);
  }

  step(i: LatencyForwardInput, dtArg?: number): LatencyForwardOutput {
    // the tick's dt: the argument, else the tract's (see Region.step); `+dtArg` keeps dtS an unboxed double
    const dtS = dtArg === undefined ? (i.dtS ?? NaN) : +dtArg;
    this.tS += dtS;
    for (let a = 0; a < 3; a++) this.rot[a] = this.rot[a]! + i.gyroRadS[a]! * dtS;
    // what happened over the last horizon judges what was predicted one horizon ago
    const n = this.now;
    for (let a = 0; a < 3; a++) {
      n[a] = i.posEnuM[a]!;
      n[3 + a] = i.velEnuMS[a]!;
      n[6 + a] = this.rot[a]!;
    }
    let error: Float64Array | null = null;
    if (this.hist.readDelayed(this.tS, this.horizonS, this.past)) {
      for (let k = 0; k < 9; k++) this.err[k] = this.past[9 + k]! - (n[k]! - this.past[k]!);
      error = this.err;
    }
    const s = this.sig;
    for (let a = 0; a < 3; a++) {
      s[a] = i.accCmdEnuMS2[a]!;
      s[3 + a] = i.rateCmdRadS[a]!;
      s[6 + a] = i.velEnuMS[a]!;
      s[9 + a] = i.gyroRadS[a]!;
    }
    const fin = this.filterIn;
    fin.signals = s;
    fin.error = error;
    fin.dtS = dtS;
    const z = this.filter.step(fin).correction;
    for (let k = 0; k < 9; k++) n[9 + k] = z[k]!;
    this.hist.push(this.tS, n);
    const o = this.out;
    for (let a = 0; a < 3; a++) {
      o.dPosEnuM[a] = z[a]!;
      o.dVelEnuMS[a] = z[3 + a]!;
      o.dRotBodyRad[a] = z[6 + a]!;
    }
    return o;
  }
}
