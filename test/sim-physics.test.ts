import { mkdtempSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { quatRotateInv, quatToEuler } from '../src/math/quat.js';
import type { Vec3 } from '../src/math/vec3.js';
import { Rng } from '../src/rng.js';
import { DEFAULT_PHYSICS_DT_S, GRAVITY_MS2, Quadrotor } from '../sim/physics.js';
import type { VehicleParams } from '../sim/types.js';
import { listVehicles, loadVehicle, vehiclesDir } from '../sim/vehicle.js';

const DT = DEFAULT_PHYSICS_DT_S;
const isFiniteState = (q: Quadrotor): boolean =>
  [q.state.posEnuM, q.state.velEnuMS, q.state.quat, q.state.rateFluRadS, q.state.motorSpeed, q.state.accEnuMS2].every(
    (a) => a.every((x) => Number.isFinite(x)),
  );

describe('vehicle files', () => {
  it('lists and loads the shipped vehicles', () => {
    expect(listVehicles()).toEqual(expect.arrayContaining(['racer-280', 'split-s-quad']));
    for (const name of listVehicles()) {
      const v = loadVehicle(name);
      expect(v.name).toBe(name);
    }
  });

  it('racer-280 and split-s-quad have the specified class figures', () => {
    const tw = (v: VehicleParams) => (4 * v.motorMaxThrustN) / (v.massKg * GRAVITY_MS2);
    const racer = loadVehicle('racer-280');
    expect(tw(racer)).toBeGreaterThan(4.3);
    expect(tw(racer)).toBeLessThan(4.7);
    expect(racer.massKg).toBeGreaterThanOrEqual(0.9);
    expect(racer.massKg).toBeLessThanOrEqual(1.0);
    const splits = loadVehicle('split-s-quad');
    expect(splits.massKg).toBe(0.85);
    expect(tw(splits)).toBeCloseTo(3.3, 1);
    expect(splits.maxRateRadS[0]).toBe(15);
    for (const v of [racer, splits]) {
      expect(v.motorTauS).toBeGreaterThanOrEqual(0.025);
      expect(v.motorTauS).toBeLessThanOrEqual(0.035);
    }
  });

  it('loads by path', () => {
    const v = loadVehicle(join(vehiclesDir(), 'racer-280.yaml'));
    expect(v.name).toBe('racer-280');
  });

  it('names the available vehicles for an unknown name', () => {
    expect(() => loadVehicle('no-such-quad')).toThrow(/unknown vehicle 'no-such-quad'.*racer-280.*split-s-quad/);
  });

  it('rejects unknown keys and bad values with file and field path', () => {
    const dir = mkdtempSync(join(tmpdir(), 'bp-vehicle-'));
    const good = readFileSync(join(vehiclesDir(), 'racer-280.yaml'), 'utf8');

    const extra = join(dir, 'extra.yaml');
    writeFileSync(extra, good.replace('rateGains:', 'rateGains:\n  ff: [1, 1, 1]'));
    expect(() => loadVehicle(extra)).toThrow(/extra\.yaml[\s\S]*rateGains\.ff: unknown key/);

    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, good.replace(/^massKg: .*$/m, 'massKg: -1'));
    expect(() => loadVehicle(bad)).toThrow(/bad\.yaml[\s\S]*massKg:/);

    const short = join(dir, 'short.yaml');
    writeFileSync(short, good.replace(/^inertiaKgM2: .*$/m, 'inertiaKgM2: [1e-3, 1e-3]'));
    expect(() => loadVehicle(short)).toThrow(/short\.yaml[\s\S]*inertiaKgM2/);

    const missing = join(dir, 'missing.yaml');
    writeFileSync(missing, good.replace(/^motorTauS: .*$/m, ''));
    expect(() => loadVehicle(missing)).toThrow(/missing\.yaml[\s\S]*motorTauS/);

    const broken = join(dir, 'broken.yaml');
    writeFileSync(broken, 'massKg: [1, 2\n');
    expect(() => loadVehicle(broken)).toThrow(/broken\.yaml: YAML parse error/);
  });
});

describe('Quadrotor', () => {
  const racer = loadVehicle('racer-280');

  it('holds altitude within ±5 cm for 5 s on the hover command', () => {
    const q = new Quadrotor(racer);
    const hover = q.hoverCommand();
    q.reset([0, 0, 2], 0.3, hover[0]);
    let maxErr = 0;
    for (let i = 0; i < 5 / DT; i++) {
      q.step(hover, DT);
      maxErr = Math.max(maxErr, Math.abs(q.state.posEnuM[2] - 2));
    }
    expect(maxErr).toBeLessThan(0.05);
    expect(q.onGround).toBe(false);
    // Hovering: the world acceleration is ~0, so the IMU would read +g along body z.
    expect(Math.abs(q.state.accEnuMS2[2])).toBeLessThan(1e-6);
  });

  it('falls freely as ½gt² with drag removed', () => {
    const noDrag: VehicleParams = { ...racer, dragLinear: [0, 0, 0], dragQuadratic: [0, 0, 0] };
    const q = new Quadrotor(noDrag);
    q.reset([0, 0, 100], 0);
    for (let i = 0; i < 1 / DT; i++) q.step([0, 0, 0, 0], DT);
    const dropped = 100 - q.state.posEnuM[2];
    expect(Math.abs(dropped - 0.5 * GRAVITY_MS2) / (0.5 * GRAVITY_MS2)).toBeLessThan(0.01);
    expect(q.state.velEnuMS[2]).toBeCloseTo(-GRAVITY_MS2, 6);
    expect(q.state.accEnuMS2[2]).toBeCloseTo(-GRAVITY_MS2, 9);
  });

  it('spins a motor up to 63 % at t = τ', () => {
    for (const dt of [0.001, 0.002]) {
      const q = new Quadrotor(racer);
      q.reset([0, 0, 50], 0);
      const n = Math.round(racer.motorTauS / dt);
      for (let i = 0; i < n; i++) q.step([1, 1, 1, 1], dt);
      expect(q.state.motorSpeed[0]).toBeCloseTo(1 - Math.exp(-1), 3);
    }
  });

  it('turns the right way for each motor pair', () => {
    const hover = new Quadrotor(racer).hoverCommand()[0];
    const hi = hover * 1.1, lo = hover * 0.9;
    const rateAfter = (cmd: [number, number, number, number]): Vec3 => {
      const q = new Quadrotor(racer);
      q.reset([0, 0, 10], 0, hover);
      for (let i = 0; i < 50; i++) q.step(cmd, DT);
      return [...q.state.rateFluRadS];
    };
    // Left motors (RL, FL) stronger → roll right → +x rate.
    expect(rateAfter([lo, lo, hi, hi])[0]).toBeGreaterThan(0.1);
    // Rear motors (RR, RL) stronger → nose down → +y rate.
    expect(rateAfter([hi, lo, hi, lo])[1]).toBeGreaterThan(0.1);
    // CW props (RR, FL) stronger → reaction torque CCW → +z rate.
    expect(rateAfter([hi, lo, lo, hi])[2]).toBeGreaterThan(0.1);
  });

  it('rests on the ground with motors off, and takes off and lands again', () => {
    const q = new Quadrotor(racer);
    q.reset([1, 2, 0], 1);
    for (let i = 0; i < 2 / DT; i++) q.step([0, 0, 0, 0], DT);
    expect(q.state.posEnuM).toEqual([1, 2, 0]);
    expect(q.state.velEnuMS).toEqual([0, 0, 0]);
    expect(q.onGround).toBe(true);
    expect(isFiniteState(q)).toBe(true);
    // Specific force on the ground = R^T(a − g) = +g along body z.
    const g: Vec3 = [0, 0, -GRAVITY_MS2];
    const a = q.state.accEnuMS2;
    const f = quatRotateInv(q.state.quat, [a[0] - g[0], a[1] - g[1], a[2] - g[2]]);
    expect(f[2]).toBeCloseTo(GRAVITY_MS2, 9);

    // Idle-ish thrust below weight: still grounded.
    for (let i = 0; i < 200; i++) q.step([0.3, 0.3, 0.3, 0.3], DT);
    expect(q.onGround).toBe(true);
    expect(q.state.posEnuM[2]).toBe(0);

    // Full thrust: leaves the ground.
    for (let i = 0; i < 300; i++) q.step([1, 1, 1, 1], DT);
    expect(q.onGround).toBe(false);
    expect(q.state.posEnuM[2]).toBeGreaterThan(0.5);

    // Cut the motors: it falls back, never below z = 0, and stops.
    let minZ = Infinity;
    for (let i = 0; i < 3 / DT; i++) {
      q.step([0, 0, 0, 0], DT);
      minZ = Math.min(minZ, q.state.posEnuM[2]);
    }
    expect(minZ).toBe(0);
    expect(q.onGround).toBe(true);
    expect(q.touchdownSpeedMS).toBeGreaterThan(1);
    expect(q.state.velEnuMS).toEqual([0, 0, 0]);
    expect(isFiniteState(q)).toBe(true);
  });

  it('friction stops a sliding drone', () => {
    const q = new Quadrotor(racer);
    q.reset([0, 0, 0], 0);
    q.state.velEnuMS[0] = 3;
    for (let i = 0; i < 2 / DT; i++) q.step([0, 0, 0, 0], DT);
    expect(q.state.velEnuMS[0]).toBe(0);
    // v²/(2 μ g) = 9 / (2·0.6·9.81) ≈ 0.76 m.
    expect(q.state.posEnuM[0]).toBeGreaterThan(0.6);
    expect(q.state.posEnuM[0]).toBeLessThan(0.9);
  });

  it('sanitises non-finite and out-of-range motor commands', () => {
    const q = new Quadrotor(racer);
    q.reset([0, 0, 5], 0);
    const rng = new Rng(7);
    const junk = [NaN, Infinity, -Infinity, 1e308, -1e308, -5, 5, 0.5];
    for (let i = 0; i < 3000; i++) {
      const cmd = [0, 1, 2, 3].map(() => junk[Math.floor(rng.next() * junk.length)]!);
      q.step(cmd, DT);
      expect(q.state.motorSpeed.every((m) => m >= 0 && m <= 1)).toBe(true);
    }
    expect(isFiniteState(q)).toBe(true);
    expect(q.invalidCommandCount).toBeGreaterThan(0);
    expect(q.numericFaultCount).toBe(0);
    // Short command arrays count as zeros.
    q.step([], DT);
    expect(isFiniteState(q)).toBe(true);
    expect(() => q.step([0, 0, 0, 0], NaN)).toThrow(RangeError);
    expect(() => q.step([0, 0, 0, 0], 0)).toThrow(RangeError);
  });

  it('sub-steps long steps exactly like the equivalent short steps', () => {
    const a = new Quadrotor(racer), b = new Quadrotor(racer);
    a.reset([0, 0, 3], 0, 0.4);
    b.reset([0, 0, 3], 0, 0.4);
    const cmd = [0.5, 0.45, 0.42, 0.48];
    a.step(cmd, 0.01);
    for (let i = 0; i < 5; i++) b.step(cmd, 0.002);
    expect(a.state).toEqual(b.state);
  });

  it('is deterministic: same inputs give a bitwise identical trajectory', () => {
    const run = (): Float64Array => {
      const q = new Quadrotor(racer);
      q.reset([0, 0, 1], 0.5, 0.3);
      const rng = new Rng(42);
      const out = new Float64Array(2000 * 13);
      for (let i = 0; i < 2000; i++) {
        q.step([rng.next(), rng.next(), rng.next(), rng.next()], DT);
        const s = q.state;
        out.set([...s.posEnuM, ...s.velEnuMS, ...s.quat, ...s.rateFluRadS], i * 13);
      }
      return out;
    };
    const a = run(), b = run();
    expect(Buffer.from(a.buffer).equals(Buffer.from(b.buffer))).toBe(true);
  });

  it('keeps the attitude level in a pure hover', () => {
    const q = new Quadrotor(racer);
    const hover = q.hoverCommand();
    q.reset([0, 0, 2], 0, hover[0]);
    for (let i = 0; i < 1000; i++) q.step(hover, DT);
    const [roll, pitch] = quatToEuler(q.state.quat);
    expect(Math.abs(roll)).toBeLessThan(1e-9);
    expect(Math.abs(pitch)).toBeLessThan(1e-9);
  });
});
