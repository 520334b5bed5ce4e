import { describe, expect, it } from 'vitest';
import {
  FDM_PACKET_SIZE,
  FdmClock,
  FdmGeo,
  GRAVITY_MS2,
  Q_RX180,
  Q_RZ90,
  RC_PACKET_SIZE,
  SERVO_PACKET_RAW_SIZE,
  SERVO_PACKET_SIZE,
  SERVO_SLOT_OF_MOTOR,
  decodeFdmPacket,
  decodeRcPacket,
  decodeServoPacket,
  decodeServoPacketRaw,
  encodeFdmPacket,
  encodeRcPacket,
  encodeServoPacket,
  encodeServoPacketRaw,
  fcAccelFromFdm,
  fcGyroFromFdm,
  fcQuatFromFdmQuat,
  fcTargetQuat,
  fdmAccelFromSpecificForceFlu,
  fdmFromState,
  fdmGyroFromFlu,
  fdmQuatFromEnuFlu,
  motorsToServoPacket,
  quatCanonical,
  servoPacketToMotors,
  specificForceFlu,
  type FdmPacket,
  type SitlProfile,
} from '../firmware-bridge/betaflight-sitl/packets.js';
import { quatFromAxisAngle, quatFromEuler, quatMul, quatNormalize, quatRotate, type Quat } from '../src/math/quat.js';
import type { Vec3 } from '../src/math/vec3.js';
import { Rng } from '../src/rng.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const S = Math.SQRT1_2;

const expectVec = (a: ArrayLike<number>, b: ArrayLike<number>, digits = 9): void => {
  expect(a.length).toBe(b.length);
  for (let i = 0; i < a.length; i++) expect(a[i]!).toBeCloseTo(b[i]!, digits);
};

describe('fdm_packet', () => {
  const pkt: FdmPacket = {
    timestampS: 1,
    gyroRadS: [2, 3, 4],
    accelMS2: [5, 6, 7],
    quat: [8, 9, 10, 11],
    velocityEnuMS: [12, 13, 14],
    position: [15, 16, 17],
    pressurePa: 18,
  };

  it('is 144 bytes = 18 little-endian doubles in the struct order', () => {
    const b = encodeFdmPacket(pkt);
    expect(b.length).toBe(FDM_PACKET_SIZE);
    for (let i = 0; i < 18; i++) expect(b.readDoubleLE(8 * i)).toBe(i + 1);
    // byte-exact: double 1.0 = 0x3ff0000000000000, double 18.0 = 0x4032000000000000
    expect(b.subarray(0, 8)).toEqual(hex('000000000000f03f'));
    expect(b.subarray(136, 144)).toEqual(hex('0000000000003240'));
    expect(decodeFdmPacket(b)).toEqual(pkt);
  });

  it('writes into a reused buffer at an offset', () => {
    const target = Buffer.alloc(160, 0xee);
    encodeFdmPacket(pkt, target, 8);
    expect(target[7]).toBe(0xee);
    expect(target.readDoubleLE(8)).toBe(1);
    expect(target.readDoubleLE(8 + 136)).toBe(18);
    expect(() => encodeFdmPacket(pkt, Buffer.alloc(100))).toThrow(RangeError);
    expect(() => decodeFdmPacket(Buffer.alloc(143))).toThrow(RangeError);
  });
});

describe('rc_packet', () => {
  it('is 40 bytes: double timestamp, 16 × uint16, AETR then AUX; missing AUX sent low', () => {
    const b = encodeRcPacket(1.5, [1500, 1500, 1000, 1500]);
    expect(b.length).toBe(RC_PACKET_SIZE);
    expect(b).toEqual(hex(`000000000000f83f dc05 dc05 e803 dc05 ${'e803'.repeat(12)}`));
    expect(decodeRcPacket(b)).toEqual({ timestampS: 1.5, channels: [1500, 1500, 1000, 1500, ...new Array(12).fill(1000)] });
    const full = encodeRcPacket(2, Array.from({ length: 16 }, (_, i) => 1000 + i));
    expect(full.readUInt16LE(8 + 2 * 15)).toBe(1015);
    expect(() => encodeRcPacket(0, [1500, 1500, 1000])).toThrow(RangeError);
    expect(() => encodeRcPacket(0, new Array(17).fill(1500))).toThrow(RangeError);
    expect(() => encodeRcPacket(0, [1500, 1500, Number.NaN, 1500])).toThrow(RangeError);
  });
});

describe('servo_packet and motor order', () => {
  it('is 16 bytes of float32', () => {
    // float32 0.6 = 0x3f19999a
    const b = hex('9a99193f 9a99193f 9a99193f 9a99193f');
    expect(b.length).toBe(SERVO_PACKET_SIZE);
    const p = decodeServoPacket(b);
    p.motorSpeed.forEach((v) => expect(v).toBeCloseTo(0.6, 6));
    expect(encodeServoPacket(p)).toEqual(b);
  });

  it('undoes sitl.c remap (slot 3 = M1, 0 = M2, 1 = M3, 2 = M4) into our RR, FR, RL, FL order', () => {
    // What pwmCompleteMotorUpdate sends for M1..M4 = 1306, 1306, 1893, 1893 µs (right roll in ANGLE, observed):
    // motor_speed[3] = M1, [0] = M2, [1] = M3, [2] = M4, each (µs − 1000) / 1000.
    const m = [1306, 1306, 1893, 1893].map((us) => (us - 1000) / 1000);
    const wire = Buffer.alloc(16);
    wire.writeFloatLE(m[0]!, 12);
    wire.writeFloatLE(m[1]!, 0);
    wire.writeFloatLE(m[2]!, 4);
    wire.writeFloatLE(m[3]!, 8);
    const ours = servoPacketToMotors(decodeServoPacket(wire));
    expectVec(ours, [0.306, 0.306, 0.893, 0.893], 6);
    // a right roll raises the left motors: RL (2) and FL (3) = Betaflight M3/M4
    expect(ours[2]).toBeGreaterThan(ours[0]);
    expect(ours[3]).toBeGreaterThan(ours[1]);
    expect(SERVO_SLOT_OF_MOTOR).toEqual([3, 0, 1, 2]);
    expect(encodeServoPacket(motorsToServoPacket([m[0]!, m[1]!, m[2]!, m[3]!]))).toEqual(wire);
  });

  it('servo_packet_raw is 68 bytes: u16 motorCount, 2 padding bytes, 16 × float32, motors not remapped', () => {
    const b = Buffer.alloc(SERVO_PACKET_RAW_SIZE);
    b.writeUInt16LE(4, 0);
    [1306, 1306, 1893, 1893].forEach((v, i) => b.writeFloatLE(v, 4 + 4 * i));
    const raw = decodeServoPacketRaw(b);
    expect(raw.motorCount).toBe(4);
    expect(raw.pwm.slice(0, 4)).toEqual([1306, 1306, 1893, 1893]);
    expect(raw.pwm).toHaveLength(16);
    expect(encodeServoPacketRaw(raw)).toEqual(b);
    // float32 1306 = 0x44a34000
    expect(b.subarray(0, 8)).toEqual(hex('0400 0000 0040a344'));
  });
});

describe('FDM conventions', () => {
  it('gyro (gazebo-bridge): roll-right +, pitch nose-up +, yaw CCW + from FLU rates', () => {
    // FLU: +x roll is right-wing-down, +y pitch is nose-down, +z yaw is counter-clockwise from above
    expect(fdmGyroFromFlu([0.5, 0, 0])[0]).toBe(0.5);
    expect(fdmGyroFromFlu([0, -0.25, 0])[1]).toBe(0.25); // nose up
    expect(fdmGyroFromFlu([0, 0, 1])[2]).toBe(1); // CCW
    expect(fdmGyroFromFlu([0, 0, 1], 'legacy')[2]).toBe(-1); // legacy: FRD, clockwise +
  });

  it('gyro and accel reach the FC as FLU rates and FLU specific force, in both SITL profiles', () => {
    const rng = new Rng(3);
    for (let i = 0; i < 50; i++) {
      const w: Vec3 = [rng.gauss(), rng.gauss(), rng.gauss()];
      for (const profile of ['gazebo-bridge', 'legacy'] as SitlProfile[]) {
        expectVec(fcGyroFromFdm(fdmGyroFromFlu(w, profile), profile), w);
      }
      const f: Vec3 = [rng.gauss(), rng.gauss(), 9.8 + rng.gauss()];
      expectVec(fcAccelFromFdm(fdmAccelFromSpecificForceFlu(f)), f);
    }
  });

  it('accelerometer: level at rest reads (0, 0, −g), whatever the heading', () => {
    for (const yaw of [0, 1, -2.5]) {
      const q = quatFromAxisAngle([0, 0, 1], yaw);
      expectVec(fdmAccelFromSpecificForceFlu(specificForceFlu(q, [0, 0, 0])), [0, 0, -GRAVITY_MS2]);
    }
  });

  it('accelerometer: rolled 90° right at rest, and accelerating forward', () => {
    const rolled = quatFromAxisAngle([1, 0, 0], Math.PI / 2); // right wing down: body +y (left) points up
    expectVec(fdmAccelFromSpecificForceFlu(specificForceFlu(rolled, [0, 0, 0])), [0, -GRAVITY_MS2, 0]);
    const north = quatFromAxisAngle([0, 0, 1], Math.PI / 2);
    expectVec(fdmAccelFromSpecificForceFlu(specificForceFlu(north, [0, 3, 0])), [-3, 0, -GRAVITY_MS2]);
  });

  it('quaternion: level nose north is (√½,0,0,√½) in ENU/FLU and lands on identity in the FC', () => {
    const q: Quat = [S, 0, 0, S];
    expectVec(quatRotate(q, [1, 0, 0]), [0, 1, 0]); // the nose points north
    expectVec(quatCanonical(fcTargetQuat(q)), [1, 0, 0, 0]);
    // gazebo-bridge wire layout: the plugin's similarity transform; the FC multiplies Rz(90°) in
    const pkt = fdmQuatFromEnuFlu(q);
    expectVec(pkt, [S, 0, 0, -S]);
    expectVec(quatCanonical(fcQuatFromFdmQuat(pkt)), [1, 0, 0, 0]);
    // legacy: the FC takes the packet as is, so the packet is the target itself
    expectVec(quatCanonical(fdmQuatFromEnuFlu(q, 'legacy')), [1, 0, 0, 0]);
    expectVec(quatCanonical(fcQuatFromFdmQuat(fdmQuatFromEnuFlu(q, 'legacy'), 'legacy')), [1, 0, 0, 0]);
  });

  it('quaternion: every orientation lands on Rz(90°)·Rx(180°)·q·Rx(180°) = body FRD → world NED', () => {
    const rng = new Rng(42);
    const enuToNed = (v: Vec3): Vec3 => [v[1], v[0], -v[2]];
    const fluToFrd = (v: Vec3): Vec3 => [v[0], -v[1], -v[2]];
    for (let i = 0; i < 200; i++) {
      const q = quatNormalize([rng.gauss(), rng.gauss(), rng.gauss(), rng.gauss()]);
      const reference = quatCanonical(quatMul(quatMul(quatMul(Q_RZ90, Q_RX180), q), Q_RX180));
      for (const profile of ['gazebo-bridge', 'legacy'] as SitlProfile[]) {
        const fc = quatCanonical(fcQuatFromFdmQuat(fdmQuatFromEnuFlu(q, profile), profile));
        expectVec(fc, reference);
        // physically: every body axis, expressed in FRD, maps to the NED image of where our FLU axis points
        for (const axis of [
          [1, 0, 0],
          [0, 1, 0],
          [0, 0, 1],
        ] as Vec3[]) {
          expectVec(quatRotate(fc, fluToFrd(axis)), enuToNed(quatRotate(q, axis)));
        }
      }
    }
  });

  it('quaternion: heading, pitch and roll come out as NED/FRD Euler angles', () => {
    // nose east, 10° nose-up, 20° right roll — built in ENU/FLU (pitch + is nose-down there)
    const d = Math.PI / 180;
    const q = quatFromEuler(20 * d, -10 * d, 0);
    const [w, x, y, z] = fcQuatFromFdmQuat(fdmQuatFromEnuFlu(q));
    const roll = Math.atan2(2 * (w * x + y * z), 1 - 2 * (x * x + y * y));
    const pitch = Math.asin(2 * (w * y - z * x));
    const yaw = Math.atan2(2 * (w * z + x * y), 1 - 2 * (y * y + z * z));
    expect(roll / d).toBeCloseTo(20, 9); // right wing down
    expect(pitch / d).toBeCloseTo(10, 9); // nose up (FRD)
    expect(yaw / d).toBeCloseTo(90, 9); // heading east
  });
});

describe('fdmFromState', () => {
  it('fills every field from an ENU/FLU state', () => {
    const geo = new FdmGeo(47, 8, 400);
    const p = fdmFromState(
      12.5,
      { posEnuM: [0, 0, 2], velEnuMS: [1, 2, 3], quat: [S, 0, 0, S], rateFluRadS: [0.1, 0.2, 0.3], accEnuMS2: [0, 0, 0] },
      geo,
    );
    expect(p.timestampS).toBe(12.5);
    expectVec(p.gyroRadS, [0.1, -0.2, 0.3]);
    expectVec(p.accelMS2, [0, 0, -GRAVITY_MS2]);
    expectVec(p.quat, [S, 0, 0, -S]);
    expect(p.velocityEnuMS).toEqual([1, 2, 3]);
    expectVec(p.position, [8, 47, 402]);
    expect(p.pressurePa).toBeCloseTo(101325 * Math.pow(1 - 2.25577e-5 * 402, 5.25588), 6);
    const bytes = encodeFdmPacket(p);
    expect(bytes.readDoubleLE(8 * 2)).toBeCloseTo(-0.2, 12);
    expect(bytes.readDoubleLE(8 * 10)).toBeCloseTo(-S, 12);
  });

  it('pre-mirrors the GPS position around the first packet, so the SITL mirror restores it', () => {
    const geo = new FdmGeo(47, 8, 400);
    const first = geo.position([0, 0, 0]);
    const moved = geo.position([100, 100, 5]); // 100 m east, 100 m north
    // the SITL computes 2·first − sent
    const fcLon = 2 * first[0] - moved[0];
    const fcLat = 2 * first[1] - moved[1];
    expect((fcLat - 47) * (Math.PI / 180) * 6378137).toBeCloseTo(100, 6);
    expect((fcLon - 8) * (Math.PI / 180) * 6378137 * Math.cos((47 * Math.PI) / 180)).toBeCloseTo(100, 6);
    expect(moved[1]).toBeLessThan(47); // what travels on the wire is the mirror image
    expect(moved[2]).toBe(405);
    // legacy builds do not mirror
    const legacy = new FdmGeo(47, 8, 400, 'legacy');
    legacy.position([0, 0, 0]);
    expect(legacy.position([0, 100, 0])[1]).toBeGreaterThan(47);
  });

  it('legacy profile: FRD gyro and the target quaternion straight on the wire', () => {
    const p = fdmFromState(
      1,
      { posEnuM: [0, 0, 0], velEnuMS: [0, 0, 0], quat: [S, 0, 0, S], rateFluRadS: [0.1, 0.2, 0.3], accEnuMS2: [0, 0, 0] },
      new FdmGeo(47, 8, 400, 'legacy'),
    );
    expectVec(p.gyroRadS, [0.1, -0.2, -0.3]);
    expectVec(quatCanonical(p.quat), [1, 0, 0, 0]);
  });
});

describe('FdmClock', () => {
  it('decimates 1 kHz simulator steps to packets ≥ 20.1 ms apart', () => {
    const clock = new FdmClock();
    const sent: number[] = [];
    for (let i = 0; i <= 1000; i++) {
      const t = clock.next(i * 0.001);
      if (t !== undefined) sent.push(t);
    }
    expect(sent[0]).toBe(0);
    for (let i = 1; i < sent.length; i++) expect(sent[i]! - sent[i - 1]!).toBeGreaterThanOrEqual(0.0201 - 1e-12);
    expect(sent.length).toBeGreaterThanOrEqual(47);
    expect(sent.length).toBeLessThanOrEqual(50);
  });

  it('sends every step when the simulator already runs at ≤ 49 Hz', () => {
    const clock = new FdmClock();
    for (let i = 0; i < 10; i++) expect(clock.next(i * 0.025)).toBeCloseTo(i * 0.025, 12);
  });

  it('keeps the wire timestamp increasing across a simulator reset and ignores non-finite times', () => {
    const clock = new FdmClock();
    expect(clock.next(5)).toBe(5);
    expect(clock.next(Number.NaN)).toBeUndefined();
    const afterReset = clock.next(0);
    expect(afterReset).toBeCloseTo(5.0201, 9);
    expect(clock.next(0.01)).toBeUndefined();
    expect(clock.next(0.03)).toBeCloseTo(5.0501, 9);
  });
});

describe('servo datagram fuzz (seeded, small; bench/sitl-fuzz.ts runs 2e5)', () => {
  it('accepts every valid packet, rejects the rest, never throws, never passes a value outside 0..1', async () => {
    const { runSitlServoFuzz } = await import('../bench/sitl-fuzz.js');
    const r = runSitlServoFuzz(5000, 3);
    expect(r['exceptions']).toBe(0);
    expect(r['outOfRangeAccepted']).toBe(0);
    expect(r['acceptedValid']).toBe(r['valid']);
    expect(r['rejected']).toBeGreaterThanOrEqual(r['wrongSize']! + r['nonFinite']!);
  });
});
