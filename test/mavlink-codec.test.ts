/**
 * MAVLink on the wire: the frames the bridges send, byte for byte (hand-laid payloads, an independent
 * X.25 CRC with the spec's CRC_EXTRA), the decoder on real and hostile streams (seeded fuzz: no exception,
 * resync on the next valid frame), and the frame conversions NED/FRD → ENU/FLU.
 */
import { describe, expect, it } from 'vitest';
import { common, minimal } from 'node-mavlink';
import { decodeMessage, MavlinkDecoder, MavlinkEncoder, type MavlinkFrame } from '../firmware-bridge/mavlink/codec.js';
import {
  attitudeRatesTarget,
  attitudeToQuatEnuFlu,
  commandLong,
  commandName,
  heartbeat,
  imuFromHighres,
  nedToEnu,
  resultName,
  setMode,
} from '../firmware-bridge/mavlink/messages.js';
import { px4CustomMode, px4ModeName, copterModeName, PX4_OFFBOARD, PX4_AUTO_LAND, PX4_AUTO_LOITER } from '../firmware-bridge/mavlink/modes.js';
import { runMavlinkFuzz } from '../firmware-bridge/mavlink/fuzz.js';
import { quatRotate } from '../src/math/quat.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

/** MAVLink's crc_accumulate (X.25 / CRC-16-MCRF4XX), written out here independently of the library. */
function crcX25(bytes: Uint8Array, extra: number): number {
  let crc = 0xffff;
  const acc = (b: number): void => {
    let t = (b ^ crc) & 0xff;
    t = (t ^ (t << 4)) & 0xff;
    crc = ((crc >> 8) ^ (t << 8) ^ (t << 3) ^ (t >> 4)) & 0xffff;
  };
  for (const b of bytes) acc(b);
  acc(extra);
  return crc;
}

/** header (without STX) + payload, then the CRC over them with CRC_EXTRA, little-endian. */
function frameV2(headerNoStx: string, payload: string, crcExtra: number): Buffer {
  const body = Buffer.concat([hex(headerNoStx), hex(payload)]);
  const crc = crcX25(body, crcExtra);
  return Buffer.concat([Buffer.from([0xfd]), body, Buffer.from([crc & 0xff, crc >> 8])]);
}

// CRC_EXTRA from the MAVLink XML (common.xml / minimal.xml)
const CRC_EXTRA = { HEARTBEAT: 50, SET_MODE: 89, COMMAND_LONG: 152, SET_ATTITUDE_TARGET: 49 };

describe('MAVLink v2 frames the bridges send (byte-exact)', () => {
  it('the CRC routine matches the catalogue check value (CRC-16/MCRF4XX of "123456789" = 0x6F91)', () => {
    // CRC_EXTRA is accumulated last; undo that by checking the plain CRC through a 9-byte run
    let crc = 0xffff;
    for (const b of Buffer.from('123456789')) {
      let t = (b ^ crc) & 0xff;
      t = (t ^ (t << 4)) & 0xff;
      crc = ((crc >> 8) ^ (t << 8) ^ (t << 3) ^ (t >> 4)) & 0xffff;
    }
    expect(crc).toBe(0x6f91);
  });

  it('HEARTBEAT from 255/190: onboard controller, autopilot INVALID, ACTIVE, version 3', () => {
    const enc = new MavlinkEncoder(255, 190);
    // len 9, incompat 0, compat 0, seq 0, sys 255, comp 190, msgid 0
    // payload: custom_mode u32 0 | type 18 | autopilot 8 | base_mode 0 | system_status 4 | mavlink_version 3
    const want = frameV2('09 00 00 00 ff be 000000', '00000000 12 08 00 04 03', CRC_EXTRA.HEARTBEAT);
    expect(want.toString('hex')).toBe('fd09000000ffbe000000000000001208000403211a');
    expect(enc.encode(heartbeat()).equals(want)).toBe(true);
  });

  it('COMMAND_LONG DO_SET_MODE p1=1 p2=6 (PX4 OFFBOARD): trailing zero confirmation truncated', () => {
    const enc = new MavlinkEncoder(255, 190);
    enc.encode(heartbeat()); // seq 0
    // params 1.0, 6.0, 0 ×5 | command 176 | target 1/1 | confirmation 0 (dropped: v2 truncates zeros)
    const want = frameV2('20 00 00 01 ff be 4c0000', '0000803f 0000c040' + '00000000'.repeat(5) + 'b000 01 01', CRC_EXTRA.COMMAND_LONG);
    expect(want.toString('hex')).toBe('fd20000001ffbe4c00000000803f0000c0400000000000000000000000000000000000000000b0000101b4ea');
    expect(enc.encode(commandLong(1, 1, 176, [1, 6])).equals(want)).toBe(true);
  });

  it('COMMAND_LONG COMPONENT_ARM_DISARM p1=1 as a second retry (confirmation 2)', () => {
    const enc = new MavlinkEncoder(255, 190);
    enc.encode(heartbeat());
    enc.encode(heartbeat()); // seq 2 next
    const want = frameV2('21 00 00 02 ff be 4c0000', '0000803f' + '00000000'.repeat(6) + '9001 01 01 02', CRC_EXTRA.COMMAND_LONG);
    expect(want.toString('hex')).toBe('fd21000002ffbe4c00000000803f0000000000000000000000000000000000000000000000009001010102e5f2');
    expect(enc.encode(commandLong(1, 1, 400, [1], 2)).equals(want)).toBe(true);
  });

  it('SET_ATTITUDE_TARGET: rates FLU → FRD (pitch and yaw negated), thrust 0.75, type_mask 128', () => {
    const enc = new MavlinkEncoder(255, 190);
    for (let i = 0; i < 3; i++) enc.encode(heartbeat());
    // time_boot_ms 1000 | q 1,0,0,0 | roll 0.5 | pitch −0.25 | yaw +1 | thrust 0.75 | target 1/1 | mask 0x80
    // (thrust_body extension all zero → truncated)
    const want = frameV2(
      '27 00 00 03 ff be 520000',
      'e8030000 0000803f 00000000 00000000 00000000 0000003f 000080be 0000803f 0000403f 01 01 80',
      CRC_EXTRA.SET_ATTITUDE_TARGET,
    );
    expect(want.toString('hex')).toBe('fd27000003ffbe520000e80300000000803f0000000000000000000000000000003f000080be0000803f0000403f010180cc29');
    expect(enc.encode(attitudeRatesTarget(1, 1, 1000, [0.5, 0.25, -1], 0.75)).equals(want)).toBe(true);
  });

  it('SET_MODE to PX4 OFFBOARD: custom_mode 6 << 16, base_mode CUSTOM_MODE_ENABLED', () => {
    const enc = new MavlinkEncoder(255, 190);
    for (let i = 0; i < 4; i++) enc.encode(heartbeat());
    const want = frameV2('06 00 00 04 ff be 0b0000', '00000600 01 01', CRC_EXTRA.SET_MODE);
    expect(want.toString('hex')).toBe('fd06000004ffbe0b00000000060001019cd7');
    expect(enc.encode(setMode(1, PX4_OFFBOARD)).equals(want)).toBe(true);
  });

  it('sequence numbers wrap at 256 and ids are validated', () => {
    const enc = new MavlinkEncoder(1, 1);
    for (let i = 0; i < 256; i++) expect(enc.encode(heartbeat())[4]).toBe(i);
    expect(enc.encode(heartbeat())[4]).toBe(0);
    expect(() => new MavlinkEncoder(0, 1)).toThrow(/system id must be 1..255, got 0/);
    expect(() => new MavlinkEncoder(1, 256)).toThrow(/component id must be 0..255, got 256/);
  });
});

describe('MavlinkDecoder', () => {
  const enc = new MavlinkEncoder(1, 1);
  const ack = (): Buffer => {
    const a = new common.CommandAck();
    a.command = 400;
    a.result = 1;
    a.progress = 0;
    a.resultParam2 = 0;
    a.targetSystem = 255;
    a.targetComponent = 190;
    return enc.encode(a);
  };

  it('splits frames across arbitrary chunk boundaries and decodes them', () => {
    const stream = Buffer.concat([ack(), enc.encode(heartbeat(2)), ack()]);
    const got: MavlinkFrame[] = [];
    const dec = new MavlinkDecoder();
    for (let i = 0; i < stream.length; i++) dec.push(stream.subarray(i, i + 1), (f) => got.push(f));
    expect(got.map((f) => f.msgid)).toEqual([77, 0, 77]);
    const a = decodeMessage(got[0]!) as common.CommandAck;
    expect(a.command).toBe(400);
    expect(resultName(a.result)).toBe('TEMPORARILY_REJECTED');
    expect(commandName(a.command)).toBe('MAV_CMD_COMPONENT_ARM_DISARM (400)');
    expect((decodeMessage(got[1]!) as minimal.Heartbeat).type).toBe(2);
  });

  it('a false start byte with an unknown msgid costs one byte, not the next frame', () => {
    // 0xFD, len 200, msgid 0xABCDEF (unknown): node-mavlink's splitter would skip 212 bytes here
    const fake = hex('fd c8 00 00 00 01 01 efcdab');
    const got: number[] = [];
    const dec = new MavlinkDecoder();
    dec.push(Buffer.concat([fake, ack(), Buffer.alloc(250)]), (f) => got.push(f.msgid));
    expect(got).toEqual([77]);
    expect(dec.stats.unknownMsgid).toBe(1);
  });

  it('a corrupted frame is counted and the next valid one is taken', () => {
    const bad = ack();
    bad[12]! ^= 0x10;
    const got: number[] = [];
    const dec = new MavlinkDecoder();
    dec.push(Buffer.concat([bad, ack()]), (f) => got.push(f.msgid));
    expect(got).toEqual([77]);
    expect(dec.stats.crcErrors).toBeGreaterThanOrEqual(1);
  });

  it('UDP: a candidate truncated at a datagram boundary does not hold later datagrams back', () => {
    const dec = new MavlinkDecoder();
    const got: number[] = [];
    const a = ack();
    dec.push(Buffer.concat([a, a.subarray(0, 10)]), (f) => got.push(f.msgid), true);
    expect(dec.pending).toBe(0);
    dec.push(ack(), (f) => got.push(f.msgid), true);
    expect(got).toEqual([77, 77]);
    expect(dec.stats.truncated).toBe(1);
  });

  it('an exception in the consumer does not replay the frame', () => {
    const dec = new MavlinkDecoder();
    let n = 0;
    expect(() =>
      dec.push(ack(), () => {
        n++;
        throw new Error('consumer bug');
      }),
    ).toThrow('consumer bug');
    dec.push(ack(), () => n++);
    expect(n).toBe(2);
  });

  for (const datagrams of [false, true]) {
    it(`fuzz (${datagrams ? 'datagrams' : 'stream chunks'}, 4000 items, seeded): no exception, every valid frame recovered`, () => {
      const r = runMavlinkFuzz({ seed: 7, items: 4000, datagrams });
      expect(r.exceptions).toBe(0);
      expect(r.validFrames).toBeGreaterThan(2500);
      expect(r.corrupted + r.truncated + r.fakeHeaders).toBeGreaterThan(600);
      expect(r.unexplainedLoss).toBe(0);
      // a 16-bit CRC lets ≈ 2⁻¹⁶ of the bogus candidates through (seed 7 has one: a length byte flipped
      // 60 → 61 whose shifted CRC happened to match); such a frame may overlap, never more
      expect(r.falseAccepts).toBeLessThanOrEqual(Math.ceil((r.decoderStats.crcErrors / 65536) * 20) + 1);
      expect(r.recovered).toBe(r.validFrames - r.lostToCollision);
      expect(r.lostToCollision).toBeLessThanOrEqual(r.falseAccepts);
    });
  }

  it('random bytes only: nothing accepted, nothing thrown, memory bounded', () => {
    const dec = new MavlinkDecoder();
    let s = 12345;
    let frames = 0;
    for (let i = 0; i < 2000; i++) {
      const b = Buffer.alloc(64);
      for (let k = 0; k < 64; k++) {
        s = (Math.imul(s, 1103515245) + 12345) >>> 0;
        b[k] = s >>> 24;
      }
      dec.push(b, () => frames++);
      expect(dec.pending).toBeLessThanOrEqual(280);
    }
    expect(frames).toBe(0);
  });
});

describe('frames: MAVLink NED/FRD → brainpilot ENU/FLU', () => {
  it('HIGHRES_IMU level at rest gives +g up in FLU; FRD rates flip pitch and yaw', () => {
    const m = new common.HighresImu();
    m.timeUsec = 2_500_000n;
    [m.xacc, m.yacc, m.zacc] = [0.1, 0.2, -9.81];
    [m.xgyro, m.ygyro, m.zgyro] = [0.3, 0.4, 0.5];
    const s = imuFromHighres(m);
    expect(s.stampS).toBe(2.5);
    expect(s.accelMS2).toEqual([0.1, -0.2, 9.81]);
    expect(s.gyroRadS).toEqual([0.3, -0.4, -0.5]);
  });

  it('LOCAL_POSITION_NED 5 m north, 2 m east, 3 m up → ENU (2, 5, 3)', () => {
    expect(nedToEnu(5, 2, -3)).toEqual([2, 5, 3]);
  });

  it('ATTITUDE: nose north and level faces ENU +y; 10° nose-up points the body x axis up', () => {
    const q = attitudeToQuatEnuFlu(0, 0, 0);
    const fwd = quatRotate(q, [1, 0, 0]);
    expect(fwd[0]).toBeCloseTo(0, 9);
    expect(fwd[1]).toBeCloseTo(1, 9);
    const up = quatRotate(attitudeToQuatEnuFlu(0, (10 * Math.PI) / 180, Math.PI / 2), [1, 0, 0]);
    expect(up[0]).toBeCloseTo(Math.cos((10 * Math.PI) / 180), 9); // nose east
    expect(up[2]).toBeCloseTo(Math.sin((10 * Math.PI) / 180), 9); // and up
    // right wing down (roll +) tips the FLU left axis (y) up
    const left = quatRotate(attitudeToQuatEnuFlu(0.2, 0, 0), [0, 1, 0]);
    expect(left[2]).toBeGreaterThan(0.19);
  });

  it('PX4 and ArduCopter mode names', () => {
    expect(px4ModeName(PX4_OFFBOARD)).toBe('OFFBOARD');
    expect(px4ModeName(PX4_AUTO_LOITER)).toBe('AUTO.LOITER');
    expect(px4ModeName(PX4_AUTO_LAND)).toBe('AUTO.LAND');
    expect(PX4_AUTO_LAND).toBe(0x06040000);
    expect(px4CustomMode(6)).toBe(0x00060000);
    expect(copterModeName(4)).toBe('GUIDED');
    expect(copterModeName(9)).toBe('LAND');
  });
});
