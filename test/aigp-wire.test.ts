/**
 * The AI Grand Prix wire formats, byte for byte: the 24-byte video chunk header and the reassembler
 * (out of order, duplicates, missing and lying chunks), and the MAVLink v2 frames the link sends
 * (HEARTBEAT, SET_ATTITUDE_TARGET, the disarm COMMAND_LONG) against bytes computed by hand with an
 * independent x25/CRC_EXTRA implementation (Python struct), plus the NED/FRD ↔ ENU/FLU conversions.
 */
import { describe, expect, it } from 'vitest';
import { chunkJpeg, readChunkHeader, VideoReassembler, writeChunkHeader, type ReassembledFrame } from '../src/transports/aigp/video.js';
import {
  armDisarm,
  attitudeTargetFromCtbr,
  heartbeat,
  common,
  ctbrFromAttitudeTarget,
  highresFromImu,
  imuFromHighres,
  MavlinkEncoder,
  nedEulerFromEnu,
  parseDatagram,
  type MavPacket,
} from '../src/transports/aigp/mavlink.js';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

/** A deterministic pseudo-JPEG payload (the reassembler does not look inside). */
function bytes(n: number, seed = 7): Uint8Array {
  const out = new Uint8Array(n);
  let s = seed;
  for (let i = 0; i < n; i++) out[i] = (s = (s * 1103515245 + 12345) >>> 0) >>> 24;
  return out;
}

function collect(o = {}) {
  const frames: ReassembledFrame[] = [];
  const drops: { kind: string; detail: string }[] = [];
  let now = 0;
  const r = new VideoReassembler((f) => frames.push({ ...f, jpeg: f.jpeg.slice() }), (kind, detail) => drops.push({ kind, detail }), o, () => now);
  return { r, frames, drops, advance: (ms: number) => (now += ms) };
}

describe('video chunk header', () => {
  it('is 24 bytes, little-endian, in the documented field order', () => {
    const b = new Uint8Array(24);
    writeChunkHeader({ frameId: 0x01020304, chunkId: 0x0506, totalChunks: 0x0708, jpegSize: 0x090a0b0c, payloadSize: 0x0d0e0f10, simTimeNs: 0x1112131415161718n }, b);
    expect(hex(b)).toBe('04030201' + '0605' + '0807' + '0c0b0a09' + '100f0e0d' + '1817161514131211');
    expect(readChunkHeader(b)).toEqual({ frameId: 0x01020304, chunkId: 0x0506, totalChunks: 0x0708, jpegSize: 0x090a0b0c, payloadSize: 0x0d0e0f10, simTimeNs: 0x1112131415161718n });
  });

  it('chunkJpeg splits at the payload size and every chunk carries the whole-frame fields', () => {
    const jpeg = bytes(3000);
    const chunks = chunkJpeg(42, jpeg, 1_234_567_890n, 1400);
    expect(chunks.map((c) => c.length)).toEqual([1424, 1424, 224]);
    expect(hex(chunks[2]!.subarray(0, 24))).toBe('2a000000' + '0200' + '0300' + 'b80b0000' + 'c8000000' + 'd202964900000000');
    expect(Buffer.concat(chunks.map((c) => c.subarray(24)))).toEqual(Buffer.from(jpeg));
    expect(() => chunkJpeg(1, new Uint8Array(0), 0n)).toThrow(/empty JPEG/);
    expect(() => chunkJpeg(1, jpeg, 0n, 70_000)).toThrow(/chunk payload must be an integer in \[1, 65483\]/);
  });
});

describe('video reassembler', () => {
  it('reassembles chunks that arrive out of order, ignoring duplicates', () => {
    const { r, frames, drops } = collect();
    const jpeg = bytes(5000, 3);
    const c = chunkJpeg(9, jpeg, 5n, 1000); // 5 chunks
    for (const i of [4, 2, 0, 2, 3, 1, 1]) r.push(c[i]!);
    expect(drops).toEqual([]);
    expect(frames).toHaveLength(1);
    expect(frames[0]!.frameId).toBe(9);
    expect(frames[0]!.simTimeNs).toBe(5n);
    expect(Buffer.from(frames[0]!.jpeg).equals(Buffer.from(jpeg))).toBe(true);
    expect(r.counters.duplicateChunks).toBe(2);
    // a late duplicate of a finished frame neither reopens it nor delivers it again
    r.push(c[0]!);
    expect(frames).toHaveLength(1);
    expect(r.pendingFrames).toBe(0);
    expect(r.counters.duplicateChunks).toBe(3);
  });

  it('interleaved frames complete independently; a one-chunk frame works', () => {
    const { r, frames } = collect();
    const a = chunkJpeg(1, bytes(2500, 1), 10n, 1000);
    const b = chunkJpeg(2, bytes(900, 2), 20n, 1000);
    r.push(a[0]!);
    r.push(b[0]!);
    r.push(a[2]!);
    r.push(a[1]!);
    expect(frames.map((f) => f.frameId)).toEqual([2, 1]);
  });

  it('drops a frame with a missing chunk as incomplete when it ages out or is crowded out', () => {
    const { r, frames, drops, advance } = collect({ maxPendingFrames: 2, maxFrameAgeMs: 100 });
    const a = chunkJpeg(1, bytes(3000), 1n, 1000);
    r.push(a[0]!);
    r.push(a[2]!); // chunk 1 never comes
    advance(150);
    r.expire();
    expect(drops).toEqual([{ kind: 'incomplete', detail: 'video frame 1: 2/3 chunks, no chunk completed it within 100 ms' }]);
    // bounded memory: a third partial frame pushes the oldest out
    for (const id of [2, 3, 4]) r.push(chunkJpeg(id, bytes(3000), BigInt(id), 1000)[0]!);
    expect(r.pendingFrames).toBe(2);
    expect(drops.at(-1)).toEqual({ kind: 'incomplete', detail: 'video frame 2: 1/3 chunks, 2 newer frames pending' });
    expect(frames).toEqual([]);
  });

  it('refuses truncated, oversized and self-contradicting chunks, naming the field', () => {
    const { r, frames, drops } = collect({ maxJpegBytes: 100_000 });
    const c = chunkJpeg(5, bytes(2000), 7n, 1000);
    r.push(c[0]!.subarray(0, 10));
    r.push(c[0]!.subarray(0, 500)); // truncated payload
    r.push(Buffer.concat([c[1]!, Buffer.alloc(3)])); // oversized
    const lying = Buffer.from(c[1]!);
    lying.writeUInt16LE(0, 6); // total_chunks 0
    r.push(lying);
    const huge = Buffer.from(c[0]!);
    huge.writeUInt32LE(200_000, 8);
    r.push(huge);
    expect(drops.map((d) => d.kind)).toEqual(['malformed', 'malformed', 'malformed', 'malformed', 'malformed']);
    expect(drops[0]!.detail).toMatch(/shorter than the 24-byte header/);
    expect(drops[1]!.detail).toMatch(/payload_size 1000 but 476 bytes follow the header \(truncated\)/);
    expect(drops[2]!.detail).toMatch(/payload_size 1000 but 1003 bytes follow the header \(oversized\)/);
    expect(drops[3]!.detail).toMatch(/chunk_id 1 not below total_chunks 0/);
    expect(drops[4]!.detail).toMatch(/jpeg_size 200000 outside \[1, 100000\]/);
    // two chunks of one frame that disagree on sim_time_ns: the frame is dropped
    r.push(c[0]!);
    const other = Buffer.from(c[1]!);
    other.writeBigUInt64LE(8n, 16);
    r.push(other);
    expect(drops.at(-1)!.detail).toMatch(/video frame 5: chunk 1 says .* sim_time_ns 8; earlier chunks said 2, 2000, 7/);
    expect(frames).toEqual([]);
    expect(r.pendingFrames).toBe(0);
  });

  it('a frame whose chunks add up to less than jpeg_size is a decode drop', () => {
    const { r, frames, drops } = collect();
    const c = chunkJpeg(3, bytes(1500), 1n, 1000);
    const last = Buffer.from(c[1]!.subarray(0, 24 + 400));
    last.writeUInt32LE(400, 12);
    r.push(c[0]!);
    r.push(last);
    expect(frames).toEqual([]);
    expect(drops).toEqual([{ kind: 'decode', detail: 'video frame 3: chunks carry 1400 bytes, jpeg_size says 1500' }]);
  });
});

describe('MAVLink frames the link sends (node-mavlink), byte for byte', () => {
  it('HEARTBEAT: onboard controller, autopilot invalid, active, MAVLink 3', () => {
    const enc = new MavlinkEncoder(255, 190);
    expect(hex(enc.encode(heartbeat()))).toBe('fd09000000ffbe000000' + '00000000120800' + '0403' + '211a');
  });

  it('SET_ATTITUDE_TARGET: thrust normalised, body rates FLU → FRD, attitude ignored, zero tail truncated', () => {
    const enc = new MavlinkEncoder(255, 190);
    enc.encode(heartbeat()); // seq 0
    const m = attitudeTargetFromCtbr(
      { kind: 'ctbr', stampS: 3, thrustN: 10, rateRadS: [0.5, 0.25, -1] },
      { maxThrustN: 40, maxRateRadS: [10, 10, 10], timeBootMs: 1000, targetSystem: 1, targetComponent: 1 },
    )!;
    expect(hex(enc.encode(m))).toBe(
      'fd27000001ffbe520000' + 'e8030000' + '0000803f000000000000000000000000' + '0000003f' + '000080be' + '0000803f' + '0000803e' + '010180' + '2633',
    );
  });

  it('COMMAND_LONG COMPONENT_ARM_DISARM with param1 = 0 disarms', () => {
    const enc = new MavlinkEncoder(255, 190);
    enc.encode(heartbeat());
    enc.encode(heartbeat());
    expect(hex(enc.encode(armDisarm(false, 1, 1)))).toBe('fd20000002ffbe4c0000' + '00'.repeat(28) + '9001' + '0101' + '5583');
  });

  it('a command is clamped to 0..1 thrust and the rate limits; a non-finite one is not sent', () => {
    const o = { maxThrustN: 40, maxRateRadS: [5, 5, 3], timeBootMs: 0, targetSystem: 1, targetComponent: 1 };
    const m = attitudeTargetFromCtbr({ kind: 'ctbr', stampS: 0, thrustN: 100, rateRadS: [9, -9, 9] }, o)!;
    expect([m.thrust, m.bodyRollRate, m.bodyPitchRate, m.bodyYawRate]).toEqual([1, 5, 5, -3]);
    expect(attitudeTargetFromCtbr({ kind: 'ctbr', stampS: 0, thrustN: -1, rateRadS: [0, 0, 0] }, o)!.thrust).toBe(0);
    expect(attitudeTargetFromCtbr({ kind: 'ctbr', stampS: 0, thrustN: NaN, rateRadS: [0, 0, 0] }, o)).toBeNull();
    expect(attitudeTargetFromCtbr({ kind: 'ctbr', stampS: 0, thrustN: 1, rateRadS: [0, Infinity, 0] }, o)).toBeNull();
  });
});

describe('MAVLink datagrams in', () => {
  // HIGHRES_IMU, sys 1 comp 1 seq 5: t = 1.5 s, acc FRD (0.1, 0.2, −9.81), gyro FRD (0.01, 0.02, 0.03)
  const IMU = Buffer.from(
    'fd3d000005010169000060e3160000000000cdcccc3dcdcc4c3ec3f51cc10ad7233c0ad7a33c8fc2f53c000000000000000000000000000000000000000000000000000000003f4925',
    'hex',
  );

  function parse(dg: Buffer) {
    const pk: MavPacket[] = [];
    const err: string[] = [];
    parseDatagram(dg, (p) => pk.push(p), (e) => err.push(e));
    return { pk, err };
  }

  it('HIGHRES_IMU (hand-built bytes) → ImuSample in FLU: specific force +z up at rest', () => {
    const { pk, err } = parse(IMU);
    expect(err).toEqual([]);
    expect(pk).toHaveLength(1);
    const s = imuFromHighres(pk[0]!.message as common.HighresImu);
    expect(s.stampS).toBe(1.5);
    expect(s.accelMS2[0]).toBeCloseTo(0.1, 6);
    expect(s.accelMS2[1]).toBeCloseTo(-0.2, 6);
    expect(s.accelMS2[2]).toBeCloseTo(9.81, 5);
    expect(s.gyroRadS.map((v) => Math.round(v * 1e6) / 1e6)).toEqual([0.01, -0.02, -0.03]);
    // and the simulator side writes exactly these bytes back
    const enc = new MavlinkEncoder(1, 1);
    for (let i = 0; i < 5; i++) enc.encode(heartbeat());
    expect(hex(enc.encode(highresFromImu({ stampS: 1.5, accelMS2: [0.1, -0.2, 9.81], gyroRadS: [0.01, -0.02, -0.03] })))).toBe(hex(IMU));
  });

  it('several packets in one datagram all come out', () => {
    const enc = new MavlinkEncoder(1, 1);
    const dg = Buffer.concat([enc.encode(heartbeat()), IMU, enc.encode(heartbeat())]);
    expect(parse(dg).pk.map((p) => p.msgid)).toEqual([0, 105, 0]);
  });

  it('a message of an unknown dialect is skipped by its length, and the packets after it still come out', () => {
    const enc = new MavlinkEncoder(1, 1);
    const alien = Buffer.from(enc.encode(heartbeat()));
    alien.writeUIntLE(0xabcde, 7, 3); // no CRC_EXTRA known for this id
    const unknown: number[] = [];
    const pk: MavPacket[] = [];
    const err: string[] = [];
    parseDatagram(Buffer.concat([alien, IMU]), (p) => pk.push(p), (e) => err.push(e), (id) => unknown.push(id));
    expect(unknown).toEqual([0xabcde]);
    expect(pk.map((p) => p.msgid)).toEqual([105]);
    expect(err).toEqual([]);
  });

  it('a flipped bit fails the CRC; a cut packet and garbage are refused with a reason', () => {
    const bad = Buffer.from(IMU);
    bad[20]! ^= 0x01;
    expect(parse(bad)).toEqual({ pk: [], err: [expect.stringMatching(/^MAVLink CRC mismatch on message 105: got 0x2549, computed 0x[0-9a-f]+$/)] });
    expect(parse(IMU.subarray(0, 40)).err).toEqual(['truncated MAVLink packet at byte 0: needs 73 bytes, 40 left']);
    expect(parse(Buffer.from('hello')).err).toEqual(['byte 0 is 0x68, not a MAVLink start byte']);
  });

  it('SET_ATTITUDE_TARGET → CtbrCommand on the simulator side (inverse of the client)', () => {
    const m = attitudeTargetFromCtbr(
      { kind: 'ctbr', stampS: 0, thrustN: 12, rateRadS: [1, -2, 3] },
      { maxThrustN: 48, maxRateRadS: [10, 10, 10], timeBootMs: 0, targetSystem: 1, targetComponent: 1 },
    )!;
    const { cmd } = ctbrFromAttitudeTarget(m, 48, 2.5);
    expect(cmd).toEqual({ kind: 'ctbr', stampS: 2.5, thrustN: 12, rateRadS: [1, -2, 3] });
    m.typeMask = 0 as common.AttitudeTargetTypemask;
    expect(ctbrFromAttitudeTarget(m, 48, 0).why).toMatch(/asks for an attitude target/);
  });

  it('ENU/FLU Euler → NED/FRD: facing north level is yaw 0; nose up is positive pitch', () => {
    const [r, p, y] = nedEulerFromEnu(0.1, -0.2, Math.PI / 2);
    expect(r).toBeCloseTo(0.1, 12);
    expect(p).toBeCloseTo(0.2, 12);
    expect(y).toBeCloseTo(0, 12);
    expect(nedEulerFromEnu(0, 0, 0)[2]).toBeCloseTo(Math.PI / 2, 12); // facing east
  });
});
