import { describe, expect, it } from 'vitest';
import { quatToEuler } from '../src/math/quat.js';
import type { Vec3 } from '../src/math/vec3.js';
import { Rng } from '../src/rng.js';
import type { FlightCommand } from '../src/tracts/io.js';
import { applyActualRates, FlightControllerEmulator, invertActualRates } from '../sim/fc.js';
import { DEFAULT_PHYSICS_DT_S, GRAVITY_MS2, Quadrotor } from '../sim/physics.js';
import type { VehicleParams } from '../sim/types.js';
import { loadVehicle } from '../sim/vehicle.js';

const DT = DEFAULT_PHYSICS_DT_S;
const DEG = Math.PI / 180;
const racer = loadVehicle('racer-280');
const splits = loadVehicle('split-s-quad');

const ctbr = (thrustN: number, rateRadS: Vec3 = [0, 0, 0]): FlightCommand => ({ kind: 'ctbr', stampS: 0, thrustN, rateRadS });
const rc = (roll: number, pitch: number, throttle: number, yaw: number): FlightCommand => ({
  kind: 'rc',
  stampS: 0,
  channelsUs: [roll, pitch, throttle, yaw],
});

/** A hovering quad + armed FC, ready for closed-loop steps. */
function hovering(v: VehicleParams, altM = 20) {
  const quad = new Quadrotor(v);
  quad.reset([0, 0, altM], 0, quad.hoverCommand()[0]);
  const fc = new FlightControllerEmulator(v);
  fc.arm();
  const weightN = v.massKg * GRAVITY_MS2;
  fc.setCommand(ctbr(weightN));
  const tick = (n = 1) => {
    for (let i = 0; i < n; i++) quad.step(fc.update(quad.state, DT), DT);
  };
  return { quad, fc, weightN, tick };
}

describe('FlightControllerEmulator: rate loop', () => {
  describe.each([
    ['racer-280', racer],
    ['split-s-quad', splits],
  ])('%s', (_name, v) => {
    // Roll and pitch: 5 rad/s. Yaw has a fraction of the authority (prop reaction torque only), so
    // its step is 2.5 rad/s — still within 10 % after 100 ms.
    it.each([
      [0, 5],
      [1, 5],
      [2, 2.5],
      [0, -5],
    ])('tracks a step on axis %i to %f rad/s within 10 % after 100 ms', (axis, stepRadS) => {
      const { quad, fc, weightN, tick } = hovering(v);
      tick(100);
      const rate: Vec3 = [0, 0, 0];
      rate[axis] = stepRadS;
      expect(fc.setCommand(ctbr(weightN, rate))).toBe(true);
      tick(100);
      // From 100 ms to 300 ms the rate stays within 10 % of the step, the others near zero.
      for (let i = 0; i < 200; i++) {
        const w = quad.state.rateFluRadS;
        expect(Math.abs(w[axis]! - stepRadS)).toBeLessThan(0.1 * Math.abs(stepRadS));
        for (let a = 0; a < 3; a++) if (a !== axis) expect(Math.abs(w[a]!)).toBeLessThan(0.1);
        tick();
      }
    });
  });

  it('holds a level attitude in a CTBR hover with zero rates, damping an initial disturbance', () => {
    const { quad, tick } = hovering(racer, 5);
    quad.state.rateFluRadS[0] = 0.5;
    quad.state.rateFluRadS[1] = -0.3;
    quad.state.rateFluRadS[2] = 0.2;
    tick(3000);
    const [roll, pitch] = quatToEuler(quad.state.quat);
    expect(Math.abs(roll)).toBeLessThan(2 * DEG);
    expect(Math.abs(pitch)).toBeLessThan(2 * DEG);
    expect(Math.max(...quad.state.rateFluRadS.map(Math.abs))).toBeLessThan(1e-3);
    expect(Math.abs(quad.state.posEnuM[2] - 5)).toBeLessThan(0.5);
  });

  it('outputs zero while disarmed and idle when armed with no thrust', () => {
    const quad = new Quadrotor(racer);
    const fc = new FlightControllerEmulator(racer);
    fc.setCommand(ctbr(20));
    expect(fc.update(quad.state, DT)).toEqual([0, 0, 0, 0]);
    fc.arm();
    fc.setCommand(ctbr(0));
    expect(fc.update(quad.state, DT)).toEqual([racer.motorIdle, racer.motorIdle, racer.motorIdle, racer.motorIdle]);
    fc.disarm();
    expect(fc.update(quad.state, DT)).toEqual([0, 0, 0, 0]);
  });

  it('keeps attitude authority at zero and full thrust (airmode)', () => {
    const quad = new Quadrotor(racer);
    quad.reset([0, 0, 10], 0);
    const fc = new FlightControllerEmulator(racer);
    fc.arm();
    // Zero collective, roll right demanded: left motors (RL, FL) above right ones, right ones at idle.
    fc.setCommand(ctbr(0, [5, 0, 0]));
    const low = [...fc.update(quad.state, DT)];
    expect(low[2]!).toBeGreaterThan(low[0]! + 0.05);
    expect(low[3]!).toBeGreaterThan(low[1]! + 0.05);
    expect(Math.min(...low)).toBeCloseTo(racer.motorIdle, 12);
    // Full collective, roll right: the left side saturates at 1, the right side is pulled down.
    const fc2 = new FlightControllerEmulator(racer);
    fc2.arm();
    fc2.setCommand(ctbr(4 * racer.motorMaxThrustN, [5, 0, 0]));
    const high = [...fc2.update(quad.state, DT)];
    expect(Math.max(...high)).toBe(1);
    expect(high[0]!).toBeLessThan(0.99);
    expect(high[1]!).toBeLessThan(0.99);
  });

  it('passes motor commands through when armed', () => {
    const quad = new Quadrotor(racer);
    const fc = new FlightControllerEmulator(racer);
    fc.arm();
    expect(fc.setCommand({ kind: 'motors', stampS: 0, motors: [0.1, 0.2, 0.3, 0.4] })).toBe(true);
    expect(fc.update(quad.state, DT)).toEqual([0.1, 0.2, 0.3, 0.4]);
    expect(fc.commandMode).toBe('motors');
  });

  it('is deterministic in closed loop (bitwise)', () => {
    const run = (): number[] => {
      const { quad, fc, weightN, tick } = hovering(racer, 10);
      const rng = new Rng(3);
      const out: number[] = [];
      for (let k = 0; k < 50; k++) {
        fc.setCommand(ctbr(weightN * rng.uniform(0.5, 2), [rng.uniform(-5, 5), rng.uniform(-5, 5), rng.uniform(-2, 2)]));
        tick(20);
        out.push(...quad.state.posEnuM, ...quad.state.quat, ...quad.state.rateFluRadS, ...quad.state.motorSpeed);
      }
      return out;
    };
    const a = Float64Array.from(run()), b = Float64Array.from(run());
    expect(Buffer.from(a.buffer).equals(Buffer.from(b.buffer))).toBe(true);
  });
});

describe('FlightControllerEmulator: command validation', () => {
  it('rejects non-finite and out-of-range commands, counts them and keeps the last valid one', () => {
    const fc = new FlightControllerEmulator(racer);
    const maxT = 4 * racer.motorMaxThrustN;
    expect(fc.setCommand(ctbr(5, [1, 2, 0.5]))).toBe(true);
    const bad: unknown[] = [
      ctbr(NaN),
      ctbr(-0.1),
      ctbr(maxT + 1e-6),
      ctbr(Infinity),
      ctbr(5, [NaN, 0, 0]),
      ctbr(5, [0, -Infinity, 0]),
      ctbr(5, [0, 0, 1.5 * racer.maxRateRadS[2] + 0.01]),
      { kind: 'ctbr', stampS: 0, thrustN: 5, rateRadS: [0, 0] },
      { kind: 'ctbr', stampS: NaN, thrustN: 5, rateRadS: [0, 0, 0] },
      { kind: 'motors', stampS: 0, motors: [0, 0, 0, 1.01] },
      { kind: 'motors', stampS: 0, motors: [0, NaN, 0, 0] },
      { kind: 'motors', stampS: 0, motors: [0, 0, 0] },
      rc(1500, 1500, 1000, NaN),
      rc(1500, 1500, 1000, 2201),
      rc(799, 1500, 1000, 1500),
      { kind: 'rc', stampS: 0, channelsUs: [1500, 1500, 1000] },
      { kind: 'rc', stampS: 0, channelsUs: [1500, 1500, 1000, 1500, 5000] },
      { kind: 'warp', stampS: 0 },
    ];
    for (const [i, cmd] of bad.entries()) {
      expect(fc.setCommand(cmd as FlightCommand), `command ${i}`).toBe(false);
      expect(fc.rejectedCount).toBe(i + 1);
      expect(fc.lastRejectReason).not.toBe('');
    }
    expect(fc.commandMode).toBe('rate');
    expect(fc.thrustSetpointN).toBe(5);
    expect([...fc.rateSetpointRadS]).toEqual([1, 2, 0.5]);
  });

  it('clamps accepted rates above the vehicle limit to the limit', () => {
    const fc = new FlightControllerEmulator(racer);
    expect(fc.setCommand(ctbr(5, [1.2 * racer.maxRateRadS[0], 0, -1.4 * racer.maxRateRadS[2]]))).toBe(true);
    expect([...fc.rateSetpointRadS]).toEqual([racer.maxRateRadS[0], 0, -racer.maxRateRadS[2]]);
  });

  it('survives a fuzz of 1000 commands with a finite state and motors in [0, 1]', () => {
    const { quad, fc, weightN, tick } = hovering(racer, 30);
    const rng = new Rng(2024);
    const nasty = [NaN, Infinity, -Infinity, 1e300, -1e300, -1e3];
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rng.next() * xs.length)]!;
    let expectedRejects = 0;
    for (let k = 0; k < 1000; k++) {
      const kind = pick(['ctbr', 'motors', 'rc'] as const);
      let cmd: FlightCommand;
      if (kind === 'ctbr') {
        cmd = ctbr(weightN * rng.uniform(0, 3), [rng.uniform(-10, 10), rng.uniform(-10, 10), rng.uniform(-4, 4)]);
      } else if (kind === 'motors') {
        cmd = { kind, stampS: k, motors: [rng.next(), rng.next(), rng.next(), rng.next()] };
      } else {
        cmd = rc(rng.uniform(1000, 2000), rng.uniform(1000, 2000), rng.uniform(1000, 2000), rng.uniform(1000, 2000));
      }
      const corrupt = rng.next() < 0.5;
      if (corrupt) {
        expectedRejects++;
        const x = pick(nasty);
        if (cmd.kind === 'ctbr') {
          if (rng.next() < 0.5) cmd.thrustN = x;
          else cmd.rateRadS[Math.floor(rng.next() * 3)] = x;
        } else if (cmd.kind === 'motors') cmd.motors[Math.floor(rng.next() * 4)] = x;
        else cmd.channelsUs[Math.floor(rng.next() * 4)] = x;
      }
      expect(fc.setCommand(cmd)).toBe(!corrupt);
      for (let i = 0; i < 5; i++) {
        const m = fc.update(quad.state, DT);
        for (const u of m) expect(u >= 0 && u <= 1).toBe(true);
        quad.step(m, DT);
      }
      // Keep it airborne-ish so the whole envelope gets exercised.
      if (quad.onGround) quad.reset([0, 0, 30], 0, quad.hoverCommand()[0]);
    }
    tick(10);
    expect(fc.rejectedCount).toBe(expectedRejects);
    const s = quad.state;
    for (const a of [s.posEnuM, s.velEnuMS, s.quat, s.rateFluRadS, s.motorSpeed, s.accEnuMS2]) {
      expect(a.every(Number.isFinite)).toBe(true);
    }
    expect(quad.numericFaultCount).toBe(0);
  });

  it('holds its output on a non-finite gyro instead of propagating NaN', () => {
    const { quad, fc } = hovering(racer);
    const before = [...fc.update(quad.state, DT)];
    quad.state.rateFluRadS[0] = NaN;
    expect([...fc.update(quad.state, DT)]).toEqual(before);
    expect(fc.numericFaultCount).toBe(1);
  });
});

describe('FlightControllerEmulator: rc sticks', () => {
  const r = racer.rcRates;

  it('centred sticks command zero rates; throttle is linear in thrust', () => {
    const fc = new FlightControllerEmulator(racer);
    expect(fc.setCommand(rc(1500, 1500, 1000, 1500))).toBe(true);
    expect([...fc.rateSetpointRadS]).toEqual([0, 0, 0]);
    expect(fc.thrustSetpointN).toBe(0);
    fc.setCommand(rc(1500, 1500, 1500, 1500));
    expect(fc.thrustSetpointN).toBeCloseTo(2 * racer.motorMaxThrustN, 12);
    fc.setCommand(rc(1500, 1500, 2000, 1500));
    expect(fc.thrustSetpointN).toBeCloseTo(4 * racer.motorMaxThrustN, 12);
  });

  it('full sticks give the max rates with FLU signs', () => {
    const fc = new FlightControllerEmulator(racer);
    // Roll right → +x (right side down).
    fc.setCommand(rc(2000, 1500, 1200, 1500));
    expect(fc.rateSetpointRadS[0]).toBeCloseTo(r.maxDegS[0] * DEG, 12);
    fc.setCommand(rc(1000, 1500, 1200, 1500));
    expect(fc.rateSetpointRadS[0]).toBeCloseTo(-r.maxDegS[0] * DEG, 12);
    // Pitch forward → nose down → +y.
    fc.setCommand(rc(1500, 2000, 1200, 1500));
    expect(fc.rateSetpointRadS[1]).toBeCloseTo(r.maxDegS[1] * DEG, 12);
    // Yaw right → clockwise from above → −z.
    fc.setCommand(rc(1500, 1500, 1200, 2000));
    expect(fc.rateSetpointRadS[2]).toBeCloseTo(-r.maxDegS[2] * DEG, 12);
    // Beyond 1000..2000 µs the stick saturates.
    fc.setCommand(rc(2100, 1500, 1200, 1500));
    expect(fc.rateSetpointRadS[0]).toBeCloseTo(r.maxDegS[0] * DEG, 12);
  });

  it('roll stick right actually rolls the quad right (right side down)', () => {
    const quad = new Quadrotor(racer);
    quad.reset([0, 0, 20], 0, quad.hoverCommand()[0]);
    const fc = new FlightControllerEmulator(racer);
    fc.arm();
    const hoverUs = 1000 + 1000 * ((racer.massKg * GRAVITY_MS2) / (4 * racer.motorMaxThrustN));
    fc.setCommand(rc(1600, 1500, hoverUs, 1500));
    for (let i = 0; i < 200; i++) quad.step(fc.update(quad.state, DT), DT);
    const [roll] = quatToEuler(quad.state.quat);
    expect(roll).toBeGreaterThan(0.05);
    // Body +y (left) now points up: the right side is down.
    expect(quad.state.rateFluRadS[0]).toBeGreaterThan(0);
  });

  it('applyActualRates follows the Betaflight formula', () => {
    expect(applyActualRates(0, 200, 670, 0.54)).toBe(0);
    expect(applyActualRates(1, 200, 670, 0.54)).toBeCloseTo(670, 12);
    expect(applyActualRates(-1, 200, 670, 0.54)).toBeCloseTo(-670, 12);
    // x = 0.5: expof = 0.5·(0.5⁵·0.54 + 0.5·0.46) = 0.1234375; 0.5·200 + 470·0.1234375.
    expect(applyActualRates(0.5, 200, 670, 0.54)).toBeCloseTo(100 + 470 * 0.1234375, 10);
    // max below center: no extra stick movement.
    expect(applyActualRates(0.5, 300, 200, 0.5)).toBeCloseTo(150, 12);
  });

  it('invertActualRates round-trips', () => {
    const curves: [number, number, number][] = [
      [r.centerDegS[0], r.maxDegS[0], r.expo[0]],
      [r.centerDegS[2], r.maxDegS[2], r.expo[2]],
      [70, 670, 0],
      [200, 1000, 1],
      [0, 800, 0.8],
    ];
    for (const [c, m, e] of curves) {
      for (let x = -1; x <= 1.0000001; x += 0.05) {
        const rate = applyActualRates(x, c, m, e);
        const back = invertActualRates(rate, c, m, e);
        expect(Math.abs(back - x)).toBeLessThan(1e-9);
      }
      expect(invertActualRates(m * 2, c, m, e)).toBe(1);
      expect(invertActualRates(-m * 2, c, m, e)).toBe(-1);
      expect(invertActualRates(0, c, m, e)).toBe(0);
    }
  });
});
