/**
 * Cortex tests on a synthetic, seeded "gate bearing" world:
 *   rate_{t+1}    = rate_t + dt·(rateCmd_t − rate_t)/τ_r                    (body rate follows its command)
 *   bearing_{t+1} = bearing_t + dt·(k·u_t − c·rate_t) + noise              (the brief's bearing system, 2-D)
 *   gateLogSize   = log(1/distance), distance falls at 5 m/s, passing at 0.5 m, then the next gate at 10 m
 *                   (nonlinear: d(logSize)/dt = v·e^logSize; the log is the pipeline's preprocessing prior)
 * Actions: u (lateral) = −0.8·bearing + OU noise, rateCmd = OU noise. Frames can be dropped.
 */
import { describe, expect, it } from 'vitest';
import { AccelResponseModel, CORTEX_SCHEMA, Cortex, HeadingDriftModel, type CortexInput, type CortexOptions } from '../src/regions/cortex.js';
import { Rng } from '../src/rng.js';

const SENSORY = ['bearingX', 'bearingY', 'rateX', 'rateY', 'gateLogSize'];
const ACTION = ['uX', 'uY', 'rateCmdX', 'rateCmdY'];
const DT = 0.01;
/** Bearing process noise per tick (rad): the floor of any predictor's error on the bearing fields. */
const PROCESS_NOISE = 1e-4;

class GateWorld {
  readonly s = new Float64Array(5);
  readonly a = new Float64Array(4);
  distance = 10;
  gatePassed = false;
  private readonly rng: Rng;
  private readonly ou = new Float64Array(4);
  constructor(seed: number) {
    this.rng = new Rng(seed);
    this.s[4] = Math.log(1 / this.distance);
  }
  /** Choose this tick's action from the current state (before stepping). */
  act(): Float64Array {
    for (let i = 0; i < 4; i++) this.ou[i] = this.ou[i]! + DT * (-this.ou[i]! / 0.5) + Math.sqrt(DT) * 0.8 * this.rng.gauss();
    this.a[0] = -0.8 * this.s[0]! + this.ou[0]!;
    this.a[1] = -0.8 * this.s[1]! + this.ou[1]!;
    this.a[2] = 1.5 * this.ou[2]!;
    this.a[3] = 1.5 * this.ou[3]!;
    return this.a;
  }
  step(): void {
    const k = 1.5, c = 1.0, tauR = 0.05;
    for (let i = 0; i < 2; i++) {
      const rate = this.s[2 + i]!;
      this.s[i] = this.s[i]! + DT * (k * this.a[i]! - c * rate) + PROCESS_NOISE * this.rng.gauss();
      this.s[2 + i] = rate + (DT * (this.a[2 + i]! - rate)) / tauR;
    }
    this.distance -= 5 * DT;
    this.gatePassed = this.distance < 0.5;
    if (this.gatePassed) this.distance = 10;
    this.s[4] = Math.log(1 / this.distance);
  }
}

const opts: CortexOptions = {
  sensoryFields: SENSORY,
  actionFields: ACTION,
  scales: { rateX: 2, rateY: 2, rateCmdX: 2, rateCmdY: 2, gateLogSize: 2 },
  features: 100,
  seed: 1,
  gateGvfFields: ['gateLogSize'],
};

interface Trace {
  absErr: number[];
  world: GateWorld;
}

/** Run the cortex on the world, every frame observed; per-tick mean |prediction error| over fields (gate-pass ticks, where the gate fields jump to the next gate, excluded). */
function train(cx: Cortex, world: GateWorld, ticks: number): Trace {
  const absErr: number[] = [];
  const input: CortexInput = { sensory: world.s, action: world.a, observed: true };
  for (let t = 0; t < ticks; t++) {
    input.gatePassed = world.gatePassed;
    world.act();
    const o = cx.step(input, DT);
    if (t > 0 && !input.gatePassed) absErr.push(o.predictionError.reduce((s, e) => s + Math.abs(e), 0) / o.predictionError.length);
    world.step();
  }
  return { absErr, world };
}

const mean = (a: number[]) => a.reduce((s, x) => s + x, 0) / a.length;

describe('Cortex: the forward model learns online', () => {
  it('an untrained cortex predicts "no change" (hold), zero weights', () => {
    const cx = new Cortex(opts);
    const o = cx.step({ sensory: [0.1, -0.2, 1, 2, -1], action: [1, 1, 1, 1], observed: true }, DT);
    expect(Array.from(o.predicted)).toEqual([0.1, -0.2, 1, 2, -1]);
    expect(Array.from(o.belief)).toEqual([0.1, -0.2, 1, 2, -1]);
    expect(Array.from(cx.weights).every((w) => w === 0)).toBe(true);
  });

  it('prediction error falls over a run (last 20 % < 30 % of the first 10 %)', () => {
    const cx = new Cortex(opts);
    const { absErr } = train(cx, new GateWorld(1), 3000);
    const n = absErr.length;
    const first = mean(absErr.slice(0, Math.floor(n * 0.1)));
    const last = mean(absErr.slice(Math.floor(n * 0.8)));
    const floor = (2 * PROCESS_NOISE * Math.sqrt(2 / Math.PI)) / 5; // mean |noise| on 2 of 5 fields
    console.log(`[cortex] mean |prediction error|: first 10 % ${first.toExponential(3)}, last 20 % ${last.toExponential(3)} (ratio ${(last / first).toFixed(3)}; process-noise floor ${floor.toExponential(2)}); updates ${cx.stats.updates}`);
    expect(last).toBeLessThan(0.3 * first);
    expect(cx.stats.nanCount).toBe(0);
    expect(cx.stats.rlsResets).toBe(0);
  });

  it.each([false, true])('the NLMS readout (idbd=%s) learns too, an order of magnitude more slowly than RLS', (idbd) => {
    const cx = new Cortex({ ...opts, learner: 'nlms', idbd });
    const { absErr } = train(cx, new GateWorld(1), 6000);
    const rls = train(new Cortex(opts), new GateWorld(1), 6000).absErr;
    const n = absErr.length;
    const first = mean(absErr.slice(0, Math.floor(n * 0.1)));
    const last = mean(absErr.slice(Math.floor(n * 0.8)));
    const lastRls = mean(rls.slice(Math.floor(n * 0.8)));
    console.log(`[cortex nlms${idbd ? '+idbd' : ''}] 60 s run, mean |prediction error|: first 10 % ${first.toExponential(3)}, last 20 % ${last.toExponential(3)} (ratio ${(last / first).toFixed(3)}); RLS last 20 % ${lastRls.toExponential(3)}`);
    expect(last).toBeLessThan(0.7 * first);
    expect(lastRls).toBeLessThan(0.1 * last);
  });

  it('bridges dropped frames and occlusions far better than holding the last observation', () => {
    const cx = new Cortex(opts);
    const world = new GateWorld(2);
    train(cx, world, 3000);
    const dropRng = new Rng(99);
    const truthLag = new Float64Array(5);
    const lastObs = new Float64Array(5);
    lastObs.set(world.s);
    const input: CortexInput = { sensory: world.s, action: world.a, observed: true };
    const run = (ticks: number, observedAt: (t: number) => boolean) => {
      let eBelief = 0, eHold = 0, dropped = 0;
      for (let t = 0; t < ticks; t++) {
        input.observed = observedAt(t);
        input.gatePassed = world.gatePassed;
        world.act();
        const o = cx.step(input, DT);
        if (input.observed) lastObs.set(world.s);
        else {
          dropped++;
          truthLag.set(world.s);
          for (let i = 0; i < 4; i++) {
            // bearing and rate fields, in scaled units (rates /2), so they weigh alike
            const sc = i < 2 ? 1 : 0.5;
            eBelief += sc * Math.abs(o.belief[i]! - truthLag[i]!);
            eHold += sc * Math.abs(lastObs[i]! - truthLag[i]!);
          }
        }
        world.step();
      }
      return { ratio: eBelief / eHold, dropped, eBelief: eBelief / dropped / 4, eHold: eHold / dropped / 4 };
    };
    const random = run(2000, () => dropRng.next() >= 0.5);
    const occl = run(2000, (t) => t % 60 >= 20); // 0.2 s observed, 0.4 s occluded, repeating
    console.log(
      `[cortex] bridging, 50 % random drops: mean |belief − truth| ${random.eBelief.toExponential(3)} vs hold-last ${random.eHold.toExponential(3)} → ratio ${random.ratio.toFixed(3)} (${random.dropped} dropped ticks); ` +
        `0.4 s occlusions: ${occl.eBelief.toExponential(3)} vs ${occl.eHold.toExponential(3)} → ratio ${occl.ratio.toFixed(3)}`,
    );
    expect(random.ratio).toBeLessThan(0.5);
    expect(occl.ratio).toBeLessThan(0.5);
    expect(cx.stats.bridgedTicks).toBeGreaterThan(1000);
  });

  it('a per-field observedMask bridges only the unobserved fields (IMU always, camera sometimes)', () => {
    const cx = new Cortex(opts);
    const world = new GateWorld(3);
    train(cx, world, 1500);
    const input: CortexInput = { sensory: world.s, action: world.a, observed: true, observedMask: [0, 0, 1, 1, 0] };
    world.act();
    const o = cx.step(input, DT);
    expect(o.belief[2]).toBeCloseTo(world.s[2]!, 12);
    expect(o.belief[3]).toBeCloseTo(world.s[3]!, 12);
    expect(o.predictionError[0]).toBe(0);
    expect(o.predictionError[2]).not.toBe(0);
  });

  it('predicts through latency: predictAhead(50 ms) beats the current belief as an estimate of the state 50 ms later', () => {
    const cx = new Cortex(opts);
    const world = new GateWorld(4);
    train(cx, world, 3000);
    const input: CortexInput = { sensory: world.s, action: world.a, observed: true };
    const ahead = new Float64Array(5);
    const pending: { due: number; pred: Float64Array; now: Float64Array }[] = [];
    let ePred = 0, eNow = 0, count = 0;
    for (let t = 0; t < 1000; t++) {
      input.gatePassed = world.gatePassed;
      world.act();
      const o = cx.step(input, DT);
      while (pending.length > 0 && pending[0]!.due === t) {
        const p = pending.shift()!;
        for (let i = 0; i < 2; i++) {
          ePred += Math.abs(p.pred[i]! - world.s[i]!);
          eNow += Math.abs(p.now[i]! - world.s[i]!);
        }
        count++;
      }
      if (t % 10 === 0) pending.push({ due: t + 5, pred: Float64Array.from(cx.predictAhead(0.05, ahead)), now: Float64Array.from(o.belief) });
      world.step();
    }
    console.log(`[cortex] 50 ms ahead, bearing: |rollout − truth| ${(ePred / count / 2).toExponential(3)} vs |now − truth| ${(eNow / count / 2).toExponential(3)} → ratio ${(ePred / eNow).toFixed(3)}`);
    expect(ePred).toBeLessThan(0.5 * eNow);
  });

  it('predictFrom(…, H, out, parts) rolls H / parts: the same prediction as predictFrom(…, H / parts), and a longer roll differs', () => {
    const cx = new Cortex(opts);
    const world = new GateWorld(5);
    train(cx, world, 2000);
    const s = Float64Array.from(world.s), a = Float64Array.from(world.a);
    const whole = Float64Array.from(cx.predictFrom(s, a, 0.05, new Float64Array(5)));
    const split = Float64Array.from(cx.predictFrom(s, a, 0.1, new Float64Array(5), 2));
    expect(Array.from(split)).toEqual(Array.from(whole));
    const longer = cx.predictFrom(s, a, 0.1, new Float64Array(5));
    expect(Array.from(longer)).not.toEqual(Array.from(whole));
    expect(Array.from(cx.predictFrom(s, a, 0.1, new Float64Array(5), 0)).every(Number.isFinite)).toBe(true);
  });

  it('learns time-to-gate with its GVF (mean within 10 %, worst 25 %, for gates 0.3–1.5 s ahead); no crash → time-to-crash saturates', () => {
    const cx = new Cortex(opts);
    const world = new GateWorld(5);
    train(cx, world, 30000);
    const input: CortexInput = { sensory: world.s, action: world.a, observed: true };
    let worst = 0, sum = 0, n = 0, minCrash = Infinity;
    for (let t = 0; t < 400; t++) {
      input.gatePassed = world.gatePassed;
      world.act();
      const o = cx.step(input, DT);
      const truth = (world.distance - 0.5) / 5 + DT; // the pass happens on the tick after distance < 0.5
      if (truth >= 0.3 && truth <= 1.5) {
        const rel = Math.abs(o.timeToGateS - truth) / truth;
        worst = Math.max(worst, rel);
        sum += rel;
        n++;
      }
      minCrash = Math.min(minCrash, o.timeToCrashS);
      world.step();
    }
    console.log(`[cortex] time-to-gate GVF: mean relative error ${((100 * sum) / n).toFixed(1)} %, worst ${(100 * worst).toFixed(1)} % (0.3–1.5 s ahead); min time-to-crash ${minCrash.toFixed(2)} s`);
    expect(sum / n).toBeLessThan(0.1);
    expect(worst).toBeLessThan(0.25);
    expect(cx.stats.eventTicks).toBeGreaterThan(100);
    expect(minCrash).toBeGreaterThan(opts.crashHorizonS ?? 2);
  });
});

describe('Cortex: state and numerics', () => {
  it('save → JSON → load → identical predictions', () => {
    const a = new Cortex(opts);
    const wa = new GateWorld(6);
    train(a, wa, 500);
    const snap = JSON.parse(JSON.stringify(a.saveState()));
    const b = new Cortex(opts);
    b.loadState(snap);
    const input: CortexInput = { sensory: wa.s, action: wa.a, observed: true };
    for (let t = 0; t < 200; t++) {
      input.observed = t % 3 !== 0;
      wa.act();
      const pa = Array.from(a.step(input, DT).predicted);
      const pb = Array.from(b.step(input, DT).predicted);
      expect(pb).toEqual(pa);
      wa.step();
    }
    expect(b.stats).toEqual(a.stats);
  });

  it('schema or layout mismatch throws a clear error', () => {
    const a = new Cortex(opts);
    const s = a.saveState();
    expect(() => a.loadState({ ...s, schema: CORTEX_SCHEMA + 1 })).toThrow(/schema mismatch.*snapshot has schema 2.*expects 1/);
    const other = new Cortex({ ...opts, sensoryFields: ['bearingX', 'bearingY', 'rateX', 'rateY', 'visible'], scales: {}, gateGvfFields: ['visible'] });
    expect(() => other.loadState(s)).toThrow(/layout differs in 'sensoryFields'/);
    expect(() => a.loadState({ schema: CORTEX_SCHEMA, data: {} })).toThrow(/layout/);
  });

  it('NaN observation → treated as unobserved, counted, no poisoning; NaN action → not learned from', () => {
    const cx = new Cortex(opts);
    const world = new GateWorld(7);
    train(cx, world, 300);
    const w0 = Float64Array.from(cx.weights);
    const bad = Float64Array.from(world.s);
    bad[0] = NaN;
    const o = cx.step({ sensory: bad, action: world.a, observed: true }, DT);
    expect(cx.stats.nanCount).toBe(1);
    expect(Number.isFinite(o.belief[0]!)).toBe(true);
    expect(Array.from(o.predicted).every(Number.isFinite)).toBe(true);
    const o2 = cx.step({ sensory: world.s, action: [NaN, 0, 0, 0], observed: true }, DT);
    expect(cx.stats.nanCount).toBe(2);
    expect(Array.from(o2.predicted).every(Number.isFinite)).toBe(true);
    const updates = cx.stats.updates;
    cx.step({ sensory: world.s, action: world.a, observed: true }, DT); // the tainted tick's features are not learned from
    expect(cx.stats.updates).toBe(updates);
    expect(Array.from(cx.weights).every(Number.isFinite)).toBe(true);
    expect(w0.length).toBe(cx.weights.length);
  });

  it('surprise is ≈ 1 or below in steady flight and spikes on an unexpected jump', () => {
    const cx = new Cortex(opts);
    const world = new GateWorld(8);
    train(cx, world, 1000);
    const input: CortexInput = { sensory: world.s, action: world.a, observed: true };
    let steady = 0;
    for (let t = 0; t < 100; t++) {
      input.gatePassed = world.gatePassed;
      world.act();
      if (!input.gatePassed) steady = Math.max(steady, cx.step(input, DT).surprise);
      else cx.step(input, DT);
      world.step();
    }
    world.act();
    const kicked = Float64Array.from(world.s);
    kicked[0] = kicked[0]! + 0.05; // the gate jumps 0.05 rad in one tick
    const o = cx.step({ sensory: kicked, action: world.a, observed: true }, DT);
    console.log(`[cortex] surprise: steady max ${steady.toFixed(2)}, on a 0.05 rad jump ${o.surprise.toFixed(1)}`);
    expect(steady).toBeLessThan(3);
    expect(o.surprise).toBeGreaterThan(10 * Math.max(1, steady));
  });

  it('rejects bad parameters with a clear error', () => {
    expect(() => new Cortex({ ...opts, sensoryFields: ['a', 'a'] })).toThrow(/Cortex: invalid parameters/);
    expect(() => new Cortex({ ...opts, scales: { nope: 1 } })).toThrow(/unknown field 'nope'/);
    expect(() => new Cortex(opts).field('nope')).toThrow(/unknown sensory field/);
    expect(new Cortex(opts).field('rateY')).toBe(3);
  });
});

/**
 * The cortex's job in the flight loop (AccelResponseModel) on a seeded point-mass plant whose real
 * response differs from what the innate motor stage assumes: thrust gain K = 1/1.3 (the vehicle
 * weighs 1.3× its configured mass, so every command falls short and gravity is under-compensated),
 * linear drag 0.3 /s, a 50 ms first-order actuation lag, IMU noise 0.45 m/s² per sample at 500 Hz.
 * A PD guidance chases a randomly moving setpoint at 250 Hz (the excitation a race gives).
 */
class HeavyPlant {
  static readonly K = 1 / 1.3;
  static readonly DRAG = 0.3;
  static readonly TAU = 0.05;
  readonly a = [0, 0, 0];
  readonly v = [0, 0, 0];
  readonly p = [0, 0, 0];
  readonly ref = [0, 0, 0];
  private readonly rng: Rng;
  constructor(seed: number) {
    this.rng = new Rng(seed);
  }
  /** The steady acceleration a held command settles to at velocity v (the truth the model must learn). */
  static settle(cmd: readonly number[], v: readonly number[], k: number): number {
    return HeavyPlant.K * (cmd[k]! + (k === 2 ? 9.81 : 0)) - (k === 2 ? 9.81 : 0) - HeavyPlant.DRAG * v[k]!;
  }
  guidance(): [number, number, number] {
    for (let k = 0; k < 3; k++) this.ref[k] = this.ref[k]! + 0.004 * (-this.ref[k]! / 2) + Math.sqrt(0.004) * 3 * this.rng.gauss();
    return [0, 1, 2].map((k) => 4 * (this.ref[k]! - this.p[k]!) - 3 * this.v[k]!) as [number, number, number];
  }
  /** Advance 2 ms with the command held; returns a noisy IMU sample of the world acceleration. */
  step(cmd: readonly number[]): number[] {
    const dt = 0.002;
    for (let k = 0; k < 3; k++) {
      this.a[k] = this.a[k]! + (dt * (HeavyPlant.settle(cmd, this.v, k) - this.a[k]!)) / HeavyPlant.TAU;
      this.v[k] = this.v[k]! + dt * this.a[k]!;
      this.p[k] = this.p[k]! + dt * this.v[k]!;
    }
    return this.a.map((x) => x + 0.45 * this.rng.gauss());
  }
}

/** Fly the plant for `seconds`; returns the mean |achieved − desired| acceleration over the last half. */
function flyHeavy(model: AccelResponseModel | null, seconds: number, seed = 3): number {
  const plant = new HeavyPlant(seed);
  const ticks = Math.round(seconds / 0.004);
  let err = 0, n = 0;
  for (let t = 0; t < ticks; t++) {
    const des = plant.guidance();
    const cmd = model ? Array.from(model.step({ accDesEnuMS2: des, velEnuMS: plant.v, airborne: true }, 0.004).accCmdEnuMS2) : des;
    for (let s = 0; s < 2; s++) {
      const imu = plant.step(cmd);
      model?.observe(imu);
    }
    if (t > ticks / 2) {
      // steady effect of this command vs what was wanted (the lag is the plant's, not the model's)
      for (let k = 0; k < 3; k++) err += Math.abs(HeavyPlant.settle(cmd, plant.v, k) - des[k]!);
      n += 3;
    }
  }
  return err / n;
}

describe('Cortex in the flight loop: the command → acceleration model (AccelResponseModel)', () => {
  it('untrained, it passes the desired acceleration through unchanged (the innate motor stage as it was)', () => {
    const m = new AccelResponseModel();
    const out = m.step({ accDesEnuMS2: [1, -2, 0.5], velEnuMS: [3, 0, 0], airborne: true }, 0.004);
    expect(Array.from(out.accCmdEnuMS2)).toEqual([1, -2, 0.5]);
    expect(out.active).toBe(false);
    expect(Array.from(m.cortex.weights).every((w) => w === 0)).toBe(true);
  });

  it('its prediction of what a command settles to improves during the flight (error at 20 s < 25 % of that at 1 s)', () => {
    const m = new AccelResponseModel();
    const plant = new HeavyPlant(5);
    const probe = (): number => {
      // the held commands a race asks for: hover, climb, a hard turn, at speed
      const cases: [number[], number[]][] = [[[0, 0, 0], [0, 0, 0]], [[0, 0, 3], [2, 0, 1]], [[6, -4, 0], [4, 3, 0]]];
      let e = 0;
      const out = new Float64Array(3);
      for (const [cmd, v] of cases) {
        m.predictSettled(cmd, v, out);
        for (let k = 0; k < 3; k++) e += Math.abs(out[k]! - HeavyPlant.settle(cmd, v, k));
      }
      return e / 9;
    };
    let early = NaN;
    for (let t = 0; t < 5000; t++) {
      const des = plant.guidance();
      const cmd = Array.from(m.step({ accDesEnuMS2: des, velEnuMS: plant.v, airborne: true }, 0.004).accCmdEnuMS2);
      for (let s = 0; s < 2; s++) m.observe(plant.step(cmd));
      if (t === 250) early = probe();
    }
    const late = probe();
    console.log(`AccelResponseModel steady-state prediction error: ${early.toFixed(3)} m/s² at 1 s → ${late.toFixed(3)} m/s² at 20 s`);
    expect(late).toBeLessThan(0.25 * early);
    expect(late).toBeLessThan(0.3);
  });

  it('inverting it makes the heavy plant do what guidance asks: |achieved − desired| < 35 % of the uncorrected error', () => {
    const without = flyHeavy(null, 30);
    const withModel = flyHeavy(new AccelResponseModel(), 30);
    console.log(`heavy plant, mean |achieved − desired| acceleration: ${without.toFixed(3)} m/s² without, ${withModel.toFixed(3)} m/s² with the cortex`);
    expect(withModel).toBeLessThan(0.35 * without);
  });

  it('on the ground only the vertical axis learns, and a heavy drone is pushed off the pad', () => {
    const m = new AccelResponseModel();
    const cmdU: number[] = [];
    for (let t = 0; t < 1500; t++) {
      // sitting on the pad: guidance asks for +1 m/s² up and some forward, nothing moves (ground holds it)
      const o = m.step({ accDesEnuMS2: [1, 0, 1], velEnuMS: [0, 0, 0], airborne: false }, 0.004);
      cmdU.push(o.accCmdEnuMS2[2]);
      m.observe([0.02 * Math.sin(t), 0, 0.02 * Math.cos(t)]);
    }
    expect(m.out.correctionEnuMS2[0]).toBe(0);
    expect(cmdU[cmdU.length - 1]!).toBeGreaterThan(3);
    expect(cmdU[cmdU.length - 1]!).toBeLessThanOrEqual(1 + m.cfg.maxCorrectionMS2 + 1e-9);
  });

  it('save → JSON → load → identical commands; a cortex snapshot is refused with a clear error', () => {
    const a = new AccelResponseModel();
    const plant = new HeavyPlant(7);
    for (let t = 0; t < 1500; t++) {
      const cmd = Array.from(a.step({ accDesEnuMS2: plant.guidance(), velEnuMS: plant.v, airborne: true }, 0.004).accCmdEnuMS2);
      for (let s = 0; s < 2; s++) a.observe(plant.step(cmd));
    }
    const b = new AccelResponseModel();
    b.loadState(JSON.parse(JSON.stringify(a.saveState())));
    const inp = { accDesEnuMS2: [2, -1, 0.5], velEnuMS: [4, 1, 0], airborne: true };
    expect(Array.from(b.step(inp, 0.004).accCmdEnuMS2)).toEqual(Array.from(a.step(inp, 0.004).accCmdEnuMS2));
    expect(() => b.loadState(a.cortex.saveState())).toThrow(/AccelResponseModel\.loadState/);
  });

  it('non-finite inputs: commands stay finite and bounded, bad samples are counted and dropped', () => {
    const m = new AccelResponseModel({ warmupUpdates: 0 });
    for (let t = 0; t < 500; t++) {
      m.observe(t % 7 === 0 ? [NaN, Infinity, 0] : [0.1, 0, -0.1]);
      const o = m.step({ accDesEnuMS2: t % 5 === 0 ? [NaN, 0, 1] : [0.5, 0, 1], velEnuMS: t % 11 === 0 ? [Infinity, 0, 0] : [1, 0, 0], airborne: true }, t % 13 === 0 ? NaN : 0.004);
      for (const x of o.accCmdEnuMS2) expect(Number.isFinite(x)).toBe(true);
      for (const x of o.correctionEnuMS2) expect(Math.abs(x)).toBeLessThanOrEqual(m.cfg.maxCorrectionMS2);
    }
    expect(m.nanInputs).toBeGreaterThan(100);
    expect(() => new AccelResponseModel({ axes: ['U', 'U'] })).toThrow(/axes must be unique/);
    expect(() => new AccelResponseModel({ horizonS: -1 })).toThrow(/AccelResponseModel: invalid parameters/);
  });
});

describe('Cortex in the flight loop: the heading-drift predictor (HeadingDriftModel)', () => {
  /**
   * A seeded heading plant: the gyro-integrated heading drifts at biasRadS; 30 Hz frames, of which
   * dropRate are lost; gates 2.5 s apart give views only in the last second before each (|map heading
   * error| ≤ 5° per gate, 6 gates round a lap, plus 0.01 rad of view noise). Vision pulls the heading
   * back by 0.004·w per view (the pipeline's innate correction, w = 30 Hz / frames received). Returns
   * the heading error over the second half, tick by tick, and the learned rate averaged over the
   * second half (each gate's map error kicks the rate a little, so one instant is a noisy reading).
   */
  function fly(seed: number, withModel: boolean, dropRate = 0.8, biasRadS = 2.4e-3, durationS = 120): { errRad: number[]; rateRadS: number } {
    const rng = new Rng(seed);
    const mapErr = Array.from({ length: 6 }, () => rng.uniform(-1, 1) * (5 * Math.PI) / 180);
    const model = new HeadingDriftModel();
    const input = { residualRad: NaN, weight: 1, dtS: 0 };
    const dt = 1 / 30;
    const w = Math.min(5, 1 / (1 - dropRate));
    let e = 0, lastFrameS = 0;
    const errRad: number[] = [];
    let rateSum = 0;
    for (let k = 1; k * dt <= durationS; k++) {
      const t = k * dt;
      e += biasRadS * dt;
      if (rng.next() >= dropRate) {
        const leg = t % 2.5, gate = Math.floor(t / 2.5) % 6;
        input.residualRad = NaN;
        if (leg > 1.5) {
          const d = e + mapErr[gate]! + 0.01 * rng.gauss();
          e += -0.004 * w * d;
          input.residualRad = d;
          input.weight = w;
        }
        input.dtS = t - lastFrameS;
        lastFrameS = t;
        if (withModel) e += model.step(input).yawDeltaRad;
      }
      if (t > durationS / 2) {
        errRad.push(e);
        rateSum += model.out.rateRadS;
      }
    }
    return { errRad, rateRadS: rateSum / errRad.length };
  }

  it('learns the gyro drift from sparse gate views and bridges the gaps: heading error falls, seeded', () => {
    // the plant is linear, so the error the drift causes is the run's error minus the same run's
    // (same draws) with no drift: what is left is the map-heading error, which no drift model removes
    const driftRms = (seed: number, withModel: boolean): number => {
      const a = fly(seed, withModel).errRad, b = fly(seed, withModel, 0.8, 0).errRad;
      return Math.sqrt(a.reduce((s, x, k) => s + (x - b[k]!) ** 2, 0) / a.length);
    };
    const ratios: number[] = [];
    for (const seed of [1, 2, 3, 4, 5]) {
      ratios.push(driftRms(seed, true) / driftRms(seed, false));
      const r = fly(seed, true).rateRadS;
      expect(r).toBeGreaterThan(0.5 * 2.4e-3);
      expect(r).toBeLessThan(1.5 * 2.4e-3);
    }
    const mean = ratios.reduce((a, b) => a + b, 0) / ratios.length;
    console.log(`drift-caused heading error RMS with / without the drift model, 80 % drops, seeds 1-5: ${ratios.map((r) => r.toFixed(2)).join(' ')}`);
    expect(mean).toBeLessThan(0.5);
  });

  it('a drift the other way is learned too, and with no drift the rate stays near 0', () => {
    expect(fly(7, true, 0.8, -3e-3).rateRadS).toBeLessThan(-1.5e-3);
    expect(Math.abs(fly(7, true, 0.8, 0).rateRadS)).toBeLessThan(1e-3);
  });

  it('holds its correction until it has seen minViews views, bounds the rate, ignores non-finite input', () => {
    const m = new HeadingDriftModel({ minViews: 3, learningRate: 0.1, maxRateRadS: 0.01 });
    const i = { residualRad: 0.5, weight: 1, dtS: 0.1 };
    expect(m.step(i).yawDeltaRad).toBe(0);
    m.step(i);
    expect(m.out.active).toBe(false);
    const o = m.step(i);
    expect(o.active).toBe(true);
    expect(o.rateRadS).toBe(0.01);
    expect(o.yawDeltaRad).toBeCloseTo(-0.001, 12);
    for (const bad of [Infinity, -Infinity]) expect(m.step({ residualRad: bad, weight: 1, dtS: 0.1 }).rateRadS).toBe(0.01);
    expect(m.step({ residualRad: 0.1, weight: NaN, dtS: 0.1 }).rateRadS).toBe(0.01);
    expect(m.nanInputs).toBe(3);
    expect(m.step({ residualRad: NaN, weight: 1, dtS: NaN }).yawDeltaRad).toBe(0);
  });

  it('state round-trips, and a malformed snapshot is refused with a message naming the field', () => {
    const m = new HeadingDriftModel({ minViews: 1 });
    for (let k = 0; k < 50; k++) m.step({ residualRad: 0.05, weight: 1, dtS: 0.033 });
    const copy = new HeadingDriftModel({ minViews: 1 });
    copy.loadState(JSON.parse(JSON.stringify(m.saveState())));
    const i = { residualRad: NaN, weight: 1, dtS: 0.033 };
    expect(copy.step(i).yawDeltaRad).toBe(m.step(i).yawDeltaRad);
    expect(() => copy.loadState({ schema: 1, data: { rateRadS: 'x', views: 1 } })).toThrow(/rateRadS/);
    expect(() => copy.loadState({ schema: 1, data: { rateRadS: 5, views: 1 } })).toThrow(/rateRadS/);
    expect(() => copy.loadState({ schema: 2, data: {} })).toThrow(/schema/);
  });
});
