/**
 * The one MAVLink codec (src/transports/mavlink) in both its modes: the stream decoder the autopilot
 * bridges use and the datagram parser the AI Grand Prix link uses must agree on what a valid frame is,
 * and differ only where their links differ (resync by one byte vs. end the datagram; unknown ids).
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { common, minimal, MavLinkProtocolV1 } from 'node-mavlink';
import { MavlinkDecoder, MavlinkEncoder, parseDatagram, type MavlinkFrame, type MavPacket } from '../src/transports/mavlink/codec.js';
import {
  armDisarm,
  attitudeFromEnu,
  attitudeRatesTarget,
  attitudeTargetFromCtbr,
  attitudeToQuatEnuFlu,
  commandLong,
  heartbeat,
  highresFromImu,
  imuFromHighres,
  MavCmd,
} from '../src/transports/mavlink/messages.js';
import { quatFromEuler } from '../src/math/quat.js';
import { Rng } from '../src/rng.js';

function datagram(dg: Buffer): { pk: MavPacket[]; err: string[]; unknown: number[] } {
  const pk: MavPacket[] = [];
  const err: string[] = [];
  const unknown: number[] = [];
  parseDatagram(dg, (p) => pk.push(p), (e) => err.push(e), (id) => unknown.push(id));
  return { pk, err, unknown };
}

function stream(bytes: Buffer): MavlinkFrame[] {
  const out: MavlinkFrame[] = [];
  new MavlinkDecoder().push(bytes, (f) => out.push(f), true);
  return out;
}

describe('shared MAVLink codec', () => {
  it('stream and datagram modes read the same frames, ids and sequence numbers from the same bytes', () => {
    const enc = new MavlinkEncoder(7, 3);
    const rng = new Rng(11);
    const msgs = [];
    for (let i = 0; i < 40; i++) {
      const r = rng.next();
      msgs.push(
        r < 0.3
          ? heartbeat()
          : r < 0.6
            ? highresFromImu({ stampS: i * 0.004, accelMS2: [rng.next(), rng.next(), 9.8], gyroRadS: [rng.next(), 0, -rng.next()] })
            : attitudeRatesTarget(1, 1, i, [rng.next(), -rng.next(), rng.next()], rng.next()),
      );
    }
    const dg = Buffer.concat(msgs.map((m) => enc.encode(m)));
    const s = stream(dg);
    const d = datagram(dg);
    expect(d.err).toEqual([]);
    expect(s).toHaveLength(40);
    expect(d.pk.map((p) => [p.msgid, p.seq, p.sysid, p.compid])).toEqual(s.map((f) => [f.msgid, f.seq, f.sysid, f.compid]));
    expect(s.map((f) => f.seq)).toEqual([...Array(40).keys()]);
  });

  it('a corrupted frame: the stream resyncs on the next one, the datagram ends with the reason', () => {
    const enc = new MavlinkEncoder(1, 1);
    const a = enc.encode(heartbeat());
    const b = Buffer.from(enc.encode(heartbeat()));
    b[12]! ^= 0xff;
    const c = enc.encode(heartbeat());
    const bytes = Buffer.concat([a, b, c]);
    expect(stream(bytes).map((f) => f.seq)).toEqual([0, 2]);
    const d = datagram(bytes);
    expect(d.pk.map((p) => p.seq)).toEqual([0]);
    expect(d.err).toEqual([expect.stringMatching(/^MAVLink CRC mismatch on message 0/)]);
  });

  it('unsupported incompatibility flags are refused in both modes (the spec says drop)', () => {
    const f = Buffer.from(new MavlinkEncoder(1, 1).encode(heartbeat()));
    f[2] = 0x02;
    const dec = new MavlinkDecoder();
    dec.push(f, () => expect.unreachable(), true);
    expect(dec.stats.badFlags).toBe(1);
    expect(datagram(f).err).toEqual(['MAVLink packet at byte 0 has incompatibility flags 0x02 (only 0x01, signed, is defined)']);
  });

  it('a v1 frame of a message the datagram link reads is refused; the stream decoder takes it', () => {
    const v1 = new MavLinkProtocolV1(1, 1).serialize(heartbeat(), 0);
    expect(stream(v1).map((f) => [f.version, f.msgid])).toEqual([[1, 0]]);
    expect(datagram(v1).err).toEqual(['MAVLink v1 packet for message 0; this link speaks v2']);
  });

  it('one set of builders: arm/disarm is COMMAND_LONG 400 with param1 1/0, the CTBR target is the rates target clamped', () => {
    const enc1 = new MavlinkEncoder(255, 190);
    const enc2 = new MavlinkEncoder(255, 190);
    expect(enc1.encode(armDisarm(false, 1, 1))).toEqual(enc2.encode(commandLong(1, 1, MavCmd.COMPONENT_ARM_DISARM, [0])));
    const m = attitudeTargetFromCtbr({ kind: 'ctbr', stampS: 0, thrustN: 60, rateRadS: [20, -1, 2] }, { maxThrustN: 48, maxRateRadS: [5, 5, 5], timeBootMs: 12.7, targetSystem: 1, targetComponent: 1 })!;
    expect([m.thrust, m.bodyRollRate, m.bodyPitchRate, m.bodyYawRate, m.timeBootMs]).toEqual([1, 5, 1, -2, 12]);
    expect(attitudeTargetFromCtbr({ kind: 'ctbr', stampS: 0, thrustN: NaN, rateRadS: [0, 0, 0] }, { maxThrustN: 48, maxRateRadS: [5, 5, 5], timeBootMs: 0, targetSystem: 1, targetComponent: 1 })).toBeNull();
  });

  it('HIGHRES_IMU FLU → FRD → FLU round trips through the wire', () => {
    const s = { stampS: 2.25, accelMS2: [0.5, -1.5, 9.7] as [number, number, number], gyroRadS: [0.1, 0.2, -0.3] as [number, number, number] };
    const [f] = stream(new MavlinkEncoder(1, 1).encode(highresFromImu(s)));
    const d = datagram(f!.bytes).pk[0]!.message as common.HighresImu;
    expect(d.yacc).toBeCloseTo(1.5, 5);
    const back = imuFromHighres(d);
    expect(back.stampS).toBe(2.25);
    back.accelMS2.forEach((v, i) => expect(v).toBeCloseTo(s.accelMS2[i]!, 5));
    back.gyroRadS.forEach((v, i) => expect(v).toBeCloseTo(s.gyroRadS[i]!, 5));
  });

  it('ATTITUDE from an ENU/FLU pose reads back as the same pose (quaternion up to sign), rates FLU → FRD', () => {
    const q = quatFromEuler(0.2, -0.3, 2.5);
    const m = attitudeFromEnu(1234.4, q, [0.5, 0.25, -1]);
    expect(m.timeBootMs).toBe(1234);
    expect([m.rollspeed, m.pitchspeed, m.yawspeed]).toEqual([0.5, -0.25, 1]);
    const back = attitudeToQuatEnuFlu(m.roll, m.pitch, m.yaw);
    const dot = q.reduce((a, v, i) => a + v * back[i]!, 0);
    expect(Math.abs(dot)).toBeCloseTo(1, 9);
  });

  it('HEARTBEAT: our default is an active onboard controller; a vehicle passes type, autopilot, armed bit and state', () => {
    const ours = heartbeat();
    expect([ours.type, ours.autopilot, ours.baseMode, ours.systemStatus]).toEqual([minimal.MavType.ONBOARD_CONTROLLER, minimal.MavAutopilot.INVALID, 0, minimal.MavState.ACTIVE]);
    const v = heartbeat(minimal.MavType.QUADROTOR, { autopilot: minimal.MavAutopilot.PX4, baseMode: 129, customMode: 6 << 16, systemStatus: minimal.MavState.STANDBY });
    const [f] = stream(new MavlinkEncoder(1, 1).encode(v));
    const d = datagram(f!.bytes).pk[0]!.message as minimal.Heartbeat;
    expect([d.type, d.autopilot, d.baseMode, d.customMode, d.systemStatus, d.mavlinkVersion]).toEqual([2, 12, 129, 6 << 16, 3, 3]);
  });

  it('datagram mode never throws on arbitrary bytes, reports at most one error per datagram, and valid packets before the damage come out', () => {
    const enc = new MavlinkEncoder(1, 1);
    const good = Buffer.concat([enc.encode(heartbeat()), enc.encode(attitudeRatesTarget(1, 1, 5, [0.1, 0.2, 0.3], 0.5))]);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), fc.boolean(), (junk, withStx) => {
        const tail = Buffer.from(junk);
        if (withStx && tail.length > 0) tail[0] = 0xfd;
        const r = datagram(Buffer.concat([good, tail]));
        expect(r.err.length).toBeLessThanOrEqual(1);
        expect(r.pk.slice(0, 2).map((p) => p.msgid)).toEqual([0, 82]);
      }),
      { seed: 7, numRuns: 2000 },
    );
  });
});
