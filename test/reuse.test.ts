/**
 * The hot paths reuse their outputs and scratch storage (issue #4: no steady-state allocation).
 * What a caller relies on: a reused output always holds the latest step's values (copy what you
 * keep), reused storage never leaks an earlier step's data into a later one, the guard's one command
 * object is refilled each tick while the simulator's latency queue keeps copies, and the in-place math helpers agree with the
 * allocating ones, also when the output aliases an input.
 */
import { describe, expect, it } from 'vitest';
import { bodyToCam, bodyToCamInto, camToBody, camToBodyInto, camToBodyOfInto } from '../src/math/camera.js';
import {
  type Quat,
  quatFromEuler,
  quatIntegrate,
  quatIntegrateInto,
  quatRotate,
  quatRotateInto,
  quatRotateInv,
  quatRotateInvInto,
  quatToEuler,
  quatToEulerInto,
} from '../src/math/quat.js';
import type { Vec3 } from '../src/math/vec3.js';
import { Rng } from '../src/rng.js';
import { Hippocampus, type UpcomingGate } from '../src/regions/hippocampus.js';
import { MotorStage, type MotorStageInput } from '../src/regions/motor.js';
import { GatePathFollower, type GatePose } from '../src/regions/premotor.js';
import { Guard } from '../src/regions/steering.js';
import { loadTrack } from '../sim/track.js';
import { loadVehicle } from '../sim/vehicle.js';
import { Sim } from '../sim/world.js';

const stageCfg = { massKg: 0.95, maxThrustN: 42, minThrustN: 0.5 };
const motorIn = (accel: Vec3, q: Quat, yawRad: number): MotorStageInput => ({ stampS: 1, accelEnuMS2: accel, yaw: { mode: 'angle', yawRad }, attitude: q });

describe('MotorStage output reuse', () => {
  it('returns the same object every step, holding exactly what a fresh stage computes for that input', () => {
    const rng = new Rng(11);
    const reused = new MotorStage(stageCfg);
    let prev: ReturnType<MotorStage['step']> | null = null;
    for (let k = 0; k < 200; k++) {
      const q = quatFromEuler(rng.uniform(-0.6, 0.6), rng.uniform(-0.6, 0.6), rng.uniform(-Math.PI, Math.PI));
      const input = motorIn([rng.uniform(-30, 30), rng.uniform(-30, 30), rng.uniform(-12, 20)], q, rng.uniform(-Math.PI, Math.PI));
      const out = reused.step(input, 0.004);
      if (prev) expect(out).toBe(prev);
      prev = out;
      const fresh = new MotorStage(stageCfg).step(input, 0.004);
      expect(out.cmd.thrustN).toBe(fresh.cmd.thrustN);
      expect([...out.cmd.rateRadS]).toEqual([...fresh.cmd.rateRadS]);
      expect(out.tiltLimited).toBe(fresh.tiltLimited);
      expect(out.rateSaturated).toBe(fresh.rateSaturated);
    }
  });

  it('takes every case of the desired-attitude quaternion (yaw anywhere, up to the tilt limit) to a bounded command', () => {
    // the Shepperd cases (trace > 0, x-, y- or z-dominant) are all computed and one picked: each
    // must give the rotation toward the desired attitude, not a stale or mixed case
    const s = new MotorStage(stageCfg);
    for (let yaw = -Math.PI; yaw <= Math.PI; yaw += Math.PI / 8) {
      for (const tilt of [0, 0.5, 1.0]) {
        const out = s.step(motorIn([9.81 * Math.tan(tilt), 0, 0], quatFromEuler(0, 0, 0), yaw), 0.004);
        const r = out.cmd.rateRadS;
        expect(r.every(Number.isFinite)).toBe(true);
        // yaw error of ψ about +z: the yaw rate turns toward it (sign of sin ψ), saturating at 4 rad/s
        if (Math.abs(Math.sin(yaw)) > 0.2) expect(Math.sign(r[2])).toBe(Math.sign(Math.sin(yaw)));
      }
    }
  });
});

describe('Guard: reused output and command; the simulator queue copies', () => {
  const cfg = { hoverThrustN: 9.3, maxThrustN: 42, minThrustN: 0.5 };
  const base = { nowS: 1, lastFrameS: 1, lastImuS: 1, attitude: { rollRad: 0, pitchRad: 0 }, armed: true };

  it('refills one command object each tick, always with the latest values', () => {
    const g = new Guard(cfg);
    const a = g.step({ ...base, proposed: { thrustN: 10, rateRadS: [1, 2, 3] } }, 0.004);
    const cmdA = a.cmd!;
    expect(cmdA.thrustN).toBe(10);
    const b = g.step({ ...base, nowS: 1.004, proposed: { thrustN: 20, rateRadS: [-1, -2, -3] } }, 0.004);
    expect(b).toBe(a); // the GuardOutput wrapper is reused
    expect(b.cmd).toBe(cmdA); // and so is the command: valid until the next step
    expect(b.cmd!.stampS).toBe(1.004);
    expect(b.cmd!.thrustN).toBe(20);
    expect(b.cmd!.rateRadS).toEqual([-1, -2, -3]);
    // a failsafe path refills the same object too, without leaking the previous rates
    const c = g.step({ ...base, nowS: 1.6, lastImuS: 1.6, lastFrameS: 1, proposed: { thrustN: 20, rateRadS: [1, 1, 1] } }, 0.004);
    expect(c.mode).toBe('failsafe-level-descend');
    expect(c.cmd).toBe(cmdA);
    expect(c.cmd!.rateRadS).toEqual([0, 0, 0]);
  });

  it("the simulator's latency queue delivers what was sent, not what the guard refilled since", () => {
    const sim = new Sim({ track: loadTrack('warmup'), vehicle: loadVehicle('racer-280'), seed: 1, laps: 1, cameraEnabled: false, commandLatencyS: 0.02 });
    const delivered: number[] = [];
    const orig = sim.fc.setCommand.bind(sim.fc);
    sim.fc.setCommand = (cmd) => {
      if (cmd.kind === 'ctbr') delivered.push(cmd.thrustN, cmd.rateRadS[0]);
      return orig(cmd);
    };
    sim.arm();
    const g = new Guard(cfg);
    const first = g.step({ ...base, proposed: { thrustN: 10, rateRadS: [1, 0, 0] } }, 0.004).cmd!;
    sim.sendCommand(first);
    g.step({ ...base, nowS: 1.004, proposed: { thrustN: 20, rateRadS: [2, 0, 0] } }, 0.004); // refills `first`
    expect(first.thrustN).toBe(20);
    while (delivered.length === 0 && sim.tS < 0.1) sim.step();
    expect(delivered).toEqual([10, 1]);
  });
});

describe('GatePathFollower: path storage reused across replans', () => {
  const gatesOf = (n: number, shift: number): GatePose[] =>
    Array.from({ length: n }, (_, i) => ({
      centerEnuM: [10 + 9 * i + shift, (i % 2 === 0 ? 2 : -2) + shift, 1.5] as Vec3,
      forwardEnu: [Math.cos(0.3 * i), Math.sin(0.3 * i), 0] as Vec3,
      maxSpeedMS: 6 + i,
    }));

  it('after replans of any length (longer than the initial storage, then shorter) guides exactly like a new follower', () => {
    const reused = new GatePathFollower({}, 0.2);
    const rng = new Rng(5);
    // 9 gates = 29 vertices: beyond the initial storage (16), so it has to grow; then shrink again
    for (const n of [3, 9, 2, 6, 1, 9, 3]) {
      const gates = gatesOf(n, rng.uniform(-1, 1));
      const start: Vec3 = [rng.uniform(-2, 2), rng.uniform(-2, 2), 1.5];
      reused.setPath(start, gates, 3);
      const fresh = new GatePathFollower({}, 0.2);
      fresh.setPath(start, gates, 3);
      for (let k = 0; k < 40; k++) {
        const pos: Vec3 = [start[0] + 0.6 * k, start[1] + 0.1 * k, 1.5];
        const vel: Vec3 = [5, 0.5, 0];
        const a = reused.step(pos, vel), b = fresh.step(pos, vel);
        expect([...a.accEnuMS2]).toEqual([...b.accEnuMS2]);
        expect(a.yawRad).toBe(b.yawRad);
        expect(a.speedRefMS).toBe(b.speedRefMS);
        expect(a.segment).toBe(b.segment);
        expect(a.finished).toBe(b.finished);
      }
    }
  });

  it('updateGates keeps progress and matches a path built from the same start through the moved gates', () => {
    const f = new GatePathFollower({}, 0);
    const start: Vec3 = [0, 0, 1.5];
    f.setPath(start, gatesOf(3, 0), 2);
    for (let k = 0; k < 30; k++) f.step([0.5 * k, 0, 1.5], [5, 0, 0]);
    const seg = f.segment;
    f.updateGates(gatesOf(3, 0.2));
    expect(f.segment).toBe(seg);
    // reference: the moved gates planned from the same start, flown over the same positions
    const ref = new GatePathFollower({}, 0);
    ref.setPath(start, gatesOf(3, 0.2), 2);
    for (let k = 0; k < 30; k++) ref.step([0.5 * k, 0, 1.5], [5, 0, 0]);
    const a = f.step([15, 0, 1.5], [5, 0, 0]), b = ref.step([15, 0, 1.5], [5, 0, 0]);
    expect(a.segment).toBe(b.segment);
    expect([...a.accEnuMS2]).toEqual([...b.accEnuMS2]);
    expect(a.speedRefMS).toBe(b.speedRefMS);
  });
});

describe('Hippocampus.upcomingInto', () => {
  it('fills the same entries in place with what upcoming() returns', () => {
    const prior = [0, 1, 2, 3].map((i) => ({ centerEnuM: [10 * (i + 1), 2 * i, 2] as Vec3, yawRad: 0.1 * i }));
    const h = new Hippocampus(prior, { posEnuM: [0, 0, 2], yawRad: 0 });
    const buf: UpcomingGate[] = [];
    expect(h.upcomingInto(3, buf)).toBe(3);
    const first = buf[0];
    for (let t = 0; t < 1; t += 0.002) h.step({ kind: 'imu', stampS: t, accEnuMS2: [0.5, 0, 0] });
    expect(h.upcomingInto(3, buf)).toBe(3);
    expect(buf[0]).toBe(first);
    expect(buf.slice(0, 3)).toEqual(h.upcoming(3));
  });
});

describe('In-place math helpers', () => {
  it('agree with the allocating versions, also when the output aliases the input', () => {
    const rng = new Rng(3);
    for (let k = 0; k < 100; k++) {
      const q = quatFromEuler(rng.uniform(-3, 3), rng.uniform(-1.5, 1.5), rng.uniform(-3, 3));
      const v: Vec3 = [rng.uniform(-5, 5), rng.uniform(-5, 5), rng.uniform(-5, 5)];
      const w: Vec3 = [rng.uniform(-4, 4), rng.uniform(-4, 4), rng.uniform(-4, 4)];
      const tilt = rng.uniform(-0.5, 0.5);
      const alias = (f: (out: Vec3, x: Vec3) => Vec3): Vec3 => {
        const o: Vec3 = [v[0], v[1], v[2]];
        return f(o, o);
      };
      expect(quatRotateInto([0, 0, 0], q, v)).toEqual(quatRotate(q, v));
      expect(alias((o, x) => quatRotateInto(o, q, x))).toEqual(quatRotate(q, v));
      expect(alias((o, x) => quatRotateInvInto(o, q, x))).toEqual(quatRotateInv(q, v));
      expect(alias((o, x) => camToBodyInto(o, x, tilt))).toEqual(camToBody(v, tilt));
      expect(alias((o, x) => camToBodyOfInto(o, x, { tiltUpRad: tilt, posFluM: [0, 0, 0] }))).toEqual(camToBody(v, tilt));
      expect(alias((o, x) => bodyToCamInto(o, x, tilt))).toEqual(bodyToCam(v, tilt));
      expect(quatToEulerInto(q, [0, 0, 0])).toEqual(quatToEuler(q));
      const qa: Quat = [q[0], q[1], q[2], q[3]];
      expect(quatIntegrateInto(qa, qa, w, 0.004)).toEqual(quatIntegrate(q, w, 0.004));
    }
  });
});
