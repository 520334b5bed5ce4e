import { describe, expect, it } from 'vitest';
import { Readable } from 'node:stream';
import {
  MspDecoder,
  MspSplitter,
  crc8DvbS2Buf,
  decodeMspFrames,
  encodeMsp,
  encodeMspV1,
  encodeMspV2,
  encodeMspV2OverV1,
  writeMspV1,
  type MspFrame,
} from '../firmware-bridge/msp/codec.js';
import {
  ARMING_DISABLE_BIT,
  ARMING_DISABLE_FLAG_NAMES,
  BOX,
  MSP,
  decodeArmingFlags,
  modeStepToUs,
  usToModeStep,
} from '../firmware-bridge/msp/codes.js';
import {
  MspParser,
  activeBoxes,
  actualRatesOf,
  decodeAltitude,
  decodeApiVersion,
  decodeAttitude,
  decodeBoardInfo,
  decodeBoxIds,
  decodeBoxNames,
  decodeFcVariant,
  decodeFcVersion,
  decodeModeRanges,
  decodeMotor,
  decodeMspMessage,
  decodeMultipleMspReply,
  decodeRawImu,
  decodeRcTuning,
  decodeStatus,
  encodeSetModeRange,
  encodeSetRawRc,
  isBoxActive,
  modeRangeFromUs,
  rawImuAcc1G,
  rawImuToSi,
  usedModeRanges,
  writeSetRawRcFrame,
  type MspMessage,
} from '../firmware-bridge/msp/messages.js';
import { runMspFuzz } from '../firmware-bridge/msp/fuzz.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');
/** Independent XOR for the vectors below (not the codec's). */
const xor = (bytes: number[]): number => bytes.reduce((a, b) => a ^ b, 0);

describe('CRC-8/DVB-S2', () => {
  it('matches the catalogue check value for "123456789"', () => {
    expect(crc8DvbS2Buf(Buffer.from('123456789', 'ascii'))).toBe(0xbc);
  });
});

describe('MSP v1 encoder', () => {
  it('API_VERSION request is $M< 00 01 01', () => {
    expect(encodeMspV1(MSP.API_VERSION)).toEqual(hex('24 4d 3c 00 01 01'));
  });

  it('STATUS_EX request is $M< 00 96 96', () => {
    expect(encodeMspV1(MSP.STATUS_EX)).toEqual(hex('24 4d 3c 00 96 96'));
  });

  it('SET_RAW_RC with 8 channels is 22 bytes, checksum over size, cmd and payload', () => {
    const ch = [1500, 1500, 1000, 1500, 1000, 1000, 1000, 1000];
    const frame = encodeMspV1(MSP.SET_RAW_RC, encodeSetRawRc(ch));
    // 1500 = 0x05dc, 1000 = 0x03e8, little-endian; 0x10 ^ 0xc8 ^ payload = 0xea (worked by hand)
    expect(frame).toEqual(hex('24 4d 3c 10 c8 dc05 dc05 e803 dc05 e803 e803 e803 e803 ea'));
    expect(frame.length).toBe(22);
    // the zero-allocation writer produces the same bytes
    const buf = Buffer.alloc(40, 0xaa);
    expect(writeSetRawRcFrame(buf, 3, ch)).toBe(22);
    expect(buf.subarray(3, 25)).toEqual(frame);
    expect(buf[2]).toBe(0xaa);
    expect(buf[25]).toBe(0xaa);
  });

  it('uses a jumbo header from 255 payload bytes: size 0xff, cmd, u16 size', () => {
    const payload = Buffer.alloc(300, 7);
    const f = encodeMspV1(MSP.BOXNAMES, payload, '>');
    expect(f.subarray(0, 7)).toEqual(hex('24 4d 3e ff 74 2c 01'));
    expect(f.length).toBe(7 + 300 + 1);
    const cs = xor([0xff, 0x74, 0x2c, 0x01, ...payload]);
    expect(f[f.length - 1]).toBe(cs);
    // 254 bytes still fit the plain header
    expect(encodeMspV1(1, Buffer.alloc(254)).subarray(3, 5)).toEqual(hex('fe 01'));
    expect(encodeMspV1(1, Buffer.alloc(255))[3]).toBe(0xff);
  });

  it('refuses command ids that need MSP v2; encodeMsp picks v2 for them', () => {
    expect(() => encodeMspV1(0x3001)).toThrow(RangeError);
    expect(() => encodeMspV1(255)).toThrow(/v2/);
    expect(() => encodeMspV1(-1)).toThrow(RangeError);
    expect(encodeMsp(0x3001).subarray(0, 2).toString('latin1')).toBe('$X');
    expect(encodeMsp(MSP.STATUS).subarray(0, 2).toString('latin1')).toBe('$M');
    expect(() => writeMspV1(Buffer.alloc(5), 0, 1)).toThrow(/too small/);
  });
});

describe('MSP v2 encoder', () => {
  it('MSP2 0x3001 request: $X< flag cmd16 size16 crc8', () => {
    // CRC-8/DVB-S2 of 00 01 30 00 00 = 0x6e
    expect(encodeMspV2(0x3001)).toEqual(hex('24 58 3c 00 01 30 00 00 6e'));
  });

  it('reply with payload, CRC over flag..payload', () => {
    // CRC-8/DVB-S2 of 00 01 30 04 00 00 01 02 03 = 0x72
    expect(encodeMspV2(0x3001, Buffer.from([0, 1, 2, 3]), '>')).toEqual(hex('24 58 3e 00 01 30 04 00 00 01 02 03 72'));
  });

  it('v1 command ids over v2 (API_VERSION)', () => {
    expect(encodeMspV2(MSP.API_VERSION)).toEqual(hex('24 58 3c 00 01 00 00 00 45'));
  });

  it('v2 tunnelled in v1: cmd 255, v1 payload = flag cmd16 size16 payload crc8, then the v1 xor', () => {
    // 06 ^ ff ^ 00 ^ 01 ^ 30 ^ 00 ^ 00 ^ 6e = a6
    expect(encodeMspV2OverV1(0x3001)).toEqual(hex('24 4d 3c 06 ff 00 01 30 00 00 6e a6'));
  });
});

describe('MSP decoder', () => {
  const apiReply = hex('24 4d 3e 03 01 00 01 31 32'); // API 0 / 1.49, xor 03^01^00^01^31 = 32

  it('decodes a hand-built API_VERSION reply', () => {
    const [f] = decodeMspFrames(apiReply);
    expect(f).toMatchObject({ version: 1, direction: '>', cmd: 1 });
    expect(decodeApiVersion(f!.payload)).toEqual({ protocol: 0, major: 1, minor: 49, api: '1.49' });
  });

  it('round-trips v1, jumbo, v2, v2-over-v1 and error frames', () => {
    const frames: MspFrame[] = [
      { version: 1, direction: '<', cmd: 0, payload: Buffer.alloc(0) },
      { version: 1, direction: '>', cmd: MSP.BOXNAMES, payload: Buffer.alloc(600, 0x41) },
      { version: 1, direction: '!', cmd: MSP.SET_RAW_RC, payload: Buffer.alloc(0) },
      { version: 2, direction: '>', cmd: 0x1234, flag: 0, payload: Buffer.from('hello') },
      { version: 2, direction: '>', cmd: 0x3001, flag: 5, payload: Buffer.from([1, 2, 3]), overV1: true },
    ];
    const bytes = Buffer.concat([
      encodeMspV1(0, undefined, '<'),
      encodeMspV1(MSP.BOXNAMES, frames[1]!.payload, '>'),
      encodeMspV1(MSP.SET_RAW_RC, undefined, '!'),
      encodeMspV2(0x1234, Buffer.from('hello'), '>'),
      encodeMspV2OverV1(0x3001, Buffer.from([1, 2, 3]), '>', 5),
    ]);
    const dec = new MspDecoder({ maxPayload: 1024 });
    const out: MspFrame[] = [];
    dec.push(bytes, (f) => out.push(f));
    expect(out).toEqual(frames);
    expect(dec.stats).toEqual({ frames: 5, badChecksum: 0, garbageBytes: 0, oversize: 0 });
  });

  it('gives the same frames whatever the chunking (byte by byte)', () => {
    const bytes = Buffer.concat([apiReply, encodeMspV2(0x3001, Buffer.alloc(40, 3), '>'), apiReply]);
    const whole = decodeMspFrames(bytes);
    const dec = new MspDecoder();
    const out: MspFrame[] = [];
    for (const b of bytes) dec.push(Buffer.from([b]), (f) => out.push(f));
    expect(out).toEqual(whole);
    expect(out).toHaveLength(3);
  });

  it('resyncs after garbage and counts it', () => {
    const garbage = hex('00 ff 4d 3c 13 37 24 24 4d 99');
    const dec = new MspDecoder();
    const out: MspFrame[] = [];
    dec.push(Buffer.concat([garbage, apiReply]), (f) => out.push(f));
    expect(out).toHaveLength(1);
    expect(dec.stats.garbageBytes).toBe(garbage.length);
    expect(dec.frameOffset).toBe(garbage.length);
  });

  it('recovers the frame after a truncated one (the truncated header swallows it first, then backtracks)', () => {
    // a STATUS_EX reply cut after 4 of its 22 payload bytes, then a complete API_VERSION reply
    const truncated = encodeMspV1(MSP.STATUS_EX, Buffer.alloc(22, 1), '>').subarray(0, 9);
    const out: MspFrame[] = [];
    const dec = new MspDecoder();
    dec.push(truncated, (f) => out.push(f));
    expect(dec.bufferedBytes).toBe(9);
    dec.push(apiReply, (f) => out.push(f));
    // still waiting: the candidate needs 28 bytes, only 18 are here
    expect(out).toHaveLength(0);
    dec.push(Buffer.concat([apiReply, apiReply]), (f) => out.push(f));
    expect(out.map((f) => f.cmd)).toEqual([1, 1, 1]);
    expect(dec.stats.badChecksum).toBe(1);
    expect(dec.bufferedBytes).toBe(0);
  });

  it('drops a frame with a bad checksum and keeps the next one', () => {
    const bad = Buffer.from(apiReply);
    bad[bad.length - 1] = bad[bad.length - 1]! ^ 0x01;
    const v2bad = encodeMspV2(0x3001, Buffer.from([9]), '>');
    v2bad[8] = v2bad[8]! ^ 0x80;
    const out = decodeMspFrames(Buffer.concat([bad, v2bad, apiReply]));
    expect(out).toHaveLength(1);
    const dec = new MspDecoder();
    dec.push(Buffer.concat([bad, v2bad, apiReply]), () => {});
    expect(dec.stats.badChecksum).toBe(2);
    expect(dec.stats.frames).toBe(1);
  });

  it('rejects oversize declarations immediately, with bounded memory', () => {
    const dec = new MspDecoder({ maxPayload: 64 });
    const out: MspFrame[] = [];
    // v2 header declaring 60000 bytes, then a valid frame right behind it
    dec.push(Buffer.concat([hex('24 58 3e 00 01 00 60 ea'), apiReply]), (f) => out.push(f));
    expect(out).toHaveLength(1);
    expect(dec.stats.oversize).toBe(1);
    // a jumbo v1 header declaring 1000 bytes
    dec.push(Buffer.concat([hex('24 4d 3e ff 74 e8 03'), apiReply]), (f) => out.push(f));
    expect(out).toHaveLength(2);
    expect(dec.stats.oversize).toBe(2);
    // a legitimately large frame beyond maxPayload is refused too
    dec.push(encodeMspV1(MSP.BOXNAMES, Buffer.alloc(100), '>'), (f) => out.push(f));
    expect(out).toHaveLength(2);
    expect(dec.bufferedBytes).toBeLessThanOrEqual(64 + 9);
  });

  it('never throws and stays bounded on random bytes', () => {
    const dec = new MspDecoder({ maxPayload: 128 });
    let s = 12345;
    const rnd = (): number => (s = (Math.imul(s, 1103515245) + 12345) >>> 0) >>> 24;
    for (let i = 0; i < 2000; i++) {
      const chunk = Buffer.alloc(1 + (rnd() % 64));
      for (let j = 0; j < chunk.length; j++) chunk[j] = rnd() < 32 ? 0x24 : rnd();
      expect(() => dec.push(chunk, () => {})).not.toThrow();
      expect(dec.bufferedBytes).toBeLessThanOrEqual(128 + 9);
    }
  });

  it('accepts Uint8Array input as well as Buffer', () => {
    const out = decodeMspFrames(new Uint8Array(apiReply));
    expect(out).toHaveLength(1);
  });
});

describe('seeded fuzz', () => {
  it('clean corruption: 5000 items, every valid frame recovered, every corruption counted', () => {
    const r = runMspFuzz({ seed: 20260611, items: 5000, adversarial: false });
    expect(r.exceptions).toBe(0);
    expect(r.validFrames).toBeGreaterThan(2000);
    expect(r.recovered).toBe(r.validFrames);
    expect(r.falseAccepts).toBe(0);
    expect(r.decoderStats.badChecksum).toBe(r.corrupted);
    expect(r.decoderStats.frames).toBe(r.validFrames);
  });

  it('adversarial: no exception, no unexplained loss, collisions at the 8-bit-check rate', () => {
    const r = runMspFuzz({ seed: 7, items: 5000, adversarial: true });
    expect(r.exceptions).toBe(0);
    expect(r.unexplainedLoss).toBe(0);
    expect(r.recovered + r.lostToCollision).toBe(r.validFrames);
    // ~1/256 of the bogus candidates pass an 8-bit check; allow 3× that
    const bogus = r.corrupted + r.truncated + r.decoderStats.badChecksum;
    expect(r.falseAccepts).toBeLessThanOrEqual(Math.ceil((3 * bogus) / 256) + 3);
    expect(r.recovered / r.validFrames).toBeGreaterThan(0.97);
    expect(r.decoderStats.oversize).toBeGreaterThanOrEqual(r.oversizeHeaders);
  });
});

describe('stream stages', () => {
  it('MspSplitter → MspParser yields typed messages from a chunked byte stream', async () => {
    const statusPayload = statusExPayload();
    const bytes = Buffer.concat([
      hex('00 11 22'),
      hex('24 4d 3e 03 01 00 01 31 32'),
      encodeMspV1(MSP.STATUS_EX, statusPayload, '>'),
      encodeMspV1(MSP.SET_RAW_RC, undefined, '>'),
      encodeMspV1(MSP.SET_MODE_RANGE, undefined, '!'),
      encodeMspV1(MSP.RAW_IMU, Buffer.alloc(3), '>'), // too short for RAW_IMU
    ]);
    const chunks: Buffer[] = [];
    for (let i = 0; i < bytes.length; i += 5) chunks.push(bytes.subarray(i, i + 5));
    const splitter = new MspSplitter();
    const parser = new MspParser();
    const out: MspMessage[] = [];
    await new Promise<void>((resolve, reject) => {
      Readable.from(chunks)
        .pipe(splitter)
        .pipe(parser)
        .on('data', (m: MspMessage) => out.push(m))
        .on('end', resolve)
        .on('error', reject);
    });
    expect(out.map((m) => m.kind)).toEqual(['reply', 'reply', 'ack', 'error', 'malformed']);
    const api = out[0]!;
    if (api.kind === 'reply' && api.name === 'API_VERSION') expect(api.data.api).toBe('1.49');
    else throw new Error('expected API_VERSION');
    const st = out[1]!;
    if (st.kind === 'reply' && st.name === 'STATUS_EX') expect(st.data.armingDisableNames).toContain('ARM_SWITCH');
    else throw new Error('expected STATUS_EX');
    expect(splitter.stats.garbageBytes).toBe(3);
    expect(parser.stats).toEqual({ messages: 5, replies: 2, errors: 1, malformed: 1 });
  });
});

/** STATUS_EX as Betaflight 2026.x serialises it, built field by field at the reference's offsets. */
function statusExPayload(opts: { armed?: boolean; flags?: number; extra?: number[] } = {}): Buffer {
  const extra = opts.extra ?? [0x02];
  const flags = opts.flags ?? ((1 << 2) | (1 << 7) | (1 << 9) | (1 << 29));
  const b = Buffer.alloc(22 + extra.length + 2);
  let o = 0;
  o = b.writeUInt16LE(125, o); // 0 cycle time µs
  o = b.writeUInt16LE(3, o); // 2 i2c errors
  o = b.writeUInt16LE(0b100011, o); // 4 sensors: acc, baro, gyro
  o = b.writeUInt32LE((opts.armed ? 1 : 0) | (1 << 1), o); // 6 mode flags (ANGLE = box index 1)
  o = b.writeUInt8(1, o); // 10 pid profile
  o = b.writeUInt16LE(17, o); // 11 load %
  o = b.writeUInt8(4, o); // 13 pid profile count
  o = b.writeUInt8(2, o); // 14 rate profile
  o = b.writeUInt8(extra.length, o); // 15 n
  for (const e of extra) o = b.writeUInt8(e, o); // 16..16+n
  o = b.writeUInt8(30, o); // 16+n flag count
  o = b.writeUInt32LE(flags >>> 0, o); // 17+n flags
  o = b.writeUInt8(1, o); // 21+n config state: reboot required
  b.writeUInt16LE(41, o); // 22+n cpu temp
  return b;
}

describe('STATUS_EX', () => {
  it('decodes the reference offsets: mode flags at 6, n at 15, count at 16+n, u32 flags at 17+n', () => {
    const p = statusExPayload({ armed: false });
    expect(p[15]).toBe(1);
    expect(p[17]).toBe(30);
    expect(p.readUInt32LE(18)).toBe((1 << 2) | (1 << 7) | (1 << 9) | (1 << 29));
    const s = decodeStatus(p, MSP.STATUS_EX);
    expect(s.cycleTimeUs).toBe(125);
    expect(s.i2cErrors).toBe(3);
    expect(s.sensors).toEqual({ acc: true, baro: true, mag: false, gps: false, rangefinder: false, gyro: true });
    expect(s.armed).toBe(false);
    expect(s.modeFlags).toEqual(new Uint8Array([2, 0, 0, 0, 2]));
    expect(s.pidProfile).toBe(1);
    expect(s.cpuLoadPercent).toBe(17);
    expect(s.pidProfileCount).toBe(4);
    expect(s.rateProfile).toBe(2);
    expect(s.armingDisableCount).toBe(30);
    expect(s.armingDisableNames).toEqual(['RXLOSS', 'THROTTLE', 'BOOTGRACE', 'ARM_SWITCH']);
    expect(s.rebootRequired).toBe(true);
    expect(s.cpuTempC).toBe(41);
  });

  it('armed = bit 0 of the mode flags; boxes map through BOXIDS order', () => {
    const s = decodeStatus(statusExPayload({ armed: true, flags: 0, extra: [] }));
    expect(s.armed).toBe(true);
    expect(s.armingDisableNames).toEqual([]);
    const boxIds = [BOX.ARM, BOX.ANGLE, BOX.HORIZON, BOX.MAG];
    expect(activeBoxes(s, boxIds)).toEqual([BOX.ARM, BOX.ANGLE]);
    expect(isBoxActive(s, boxIds, BOX.ANGLE)).toBe(true);
    expect(isBoxActive(s, boxIds, BOX.HORIZON)).toBe(false);
    expect(isBoxActive(s, boxIds, BOX.MSP_OVERRIDE)).toBe(false); // not on this build
  });

  it('MSP_STATUS (101) shares the layout, with u16 0 instead of the profile bytes', () => {
    const p = statusExPayload();
    p.writeUInt16LE(0, 13);
    const s = decodeStatus(p, MSP.STATUS);
    expect(s.pidProfileCount).toBeUndefined();
    expect(s.armingDisableNames).toContain('RXLOSS');
  });

  it('rejects a payload that ends before the arming flags', () => {
    expect(() => decodeStatus(statusExPayload().subarray(0, 18))).toThrow(/ends before/);
  });
});

describe('arming-disable flags', () => {
  it('agrees with the reference bits', () => {
    expect(ARMING_DISABLE_BIT.RXLOSS).toBe(2);
    expect(ARMING_DISABLE_BIT.THROTTLE).toBe(7);
    expect(ARMING_DISABLE_BIT.ANGLE).toBe(8);
    expect(ARMING_DISABLE_BIT.BOOTGRACE).toBe(9);
    expect(ARMING_DISABLE_BIT.CALIB).toBe(12);
    expect(ARMING_DISABLE_BIT.ARM_SWITCH).toBe(29);
    expect(ARMING_DISABLE_FLAG_NAMES).toHaveLength(30);
  });

  it('names the last reported bit ARM_SWITCH on older firmware (4.5: 26 flags, 2025.12: 29)', () => {
    expect(decodeArmingFlags((1 << 25) | (1 << 2), 26)).toEqual(['RXLOSS', 'ARM_SWITCH']);
    expect(decodeArmingFlags(1 << 28, 29)).toEqual(['ARM_SWITCH']);
    expect(decodeArmingFlags(1 << 28, 30)).toEqual(['AUTOPILOT_SW']);
    expect(decodeArmingFlags(1 << 31, 30)).toEqual(['BIT31']);
    expect(decodeArmingFlags(0)).toEqual([]);
  });
});

describe('identification payloads', () => {
  it('FC_VARIANT, FC_VERSION (+ optional string), BOARD_INFO', () => {
    expect(decodeFcVariant(Buffer.from('BTFL'))).toBe('BTFL');
    expect(decodeFcVersion(Buffer.from([26, 12, 0]))).toEqual({ major: 26, minor: 12, patch: 0, version: '26.12.0' });
    const withString = Buffer.concat([Buffer.from([26, 12, 0, 15]), Buffer.from('2026.12.0-alpha')]);
    expect(decodeFcVersion(withString).versionString).toBe('2026.12.0-alpha');
    // SITL: identifier, hw revision, fc type, capabilities, target name "SITL", empty board/manufacturer...
    const board = Buffer.concat([Buffer.from('SITL'), hex('0000 00 04'), Buffer.from([4]), Buffer.from('SITL'), hex('00 00')]);
    expect(decodeBoardInfo(board)).toEqual({
      boardIdentifier: 'SITL',
      hardwareRevision: 0,
      fcType: 0,
      targetCapabilities: 4,
      targetName: 'SITL',
      boardName: '',
      manufacturerId: '',
    });
    expect(decodeBoardInfo(hex('53495431 0200'))).toEqual({ boardIdentifier: 'SIT1', hardwareRevision: 2 });
  });
});

describe('sensor and state payloads', () => {
  it('RAW_IMU: 9 × int16, acc in 1 g = 512 (FC) / 256 (SITL), gyro in whole deg/s', () => {
    const p = Buffer.alloc(18);
    [10, -20, 512, 1, -2, 300, 0, 0, -5].forEach((v, i) => p.writeInt16LE(v, 2 * i));
    const raw = decodeRawImu(p);
    expect(raw).toEqual({ acc: [10, -20, 512], gyro: [1, -2, 300], mag: [0, 0, -5] });
    const si = rawImuToSi(raw);
    expect(si.accMS2[2]).toBeCloseTo(9.80665, 6);
    expect(si.gyroRadS[2]).toBeCloseTo((300 * Math.PI) / 180, 9);
    expect(rawImuAcc1G(2048)).toBe(512); // ICM42688P ±16 g
    expect(rawImuAcc1G(4096)).toBe(512); // MPU6000 ±8 g
    expect(rawImuAcc1G(256)).toBe(256); // SITL virtual acc
  });

  it('ATTITUDE: roll/pitch in 0.1°, yaw in whole degrees', () => {
    const p = Buffer.alloc(6);
    p.writeInt16LE(-125, 0);
    p.writeInt16LE(37, 2);
    p.writeInt16LE(271, 4);
    expect(decodeAttitude(p)).toEqual({ rollDeg: -12.5, pitchDeg: 3.7, yawDeg: 271 });
  });

  it('ALTITUDE: int32 cm + int16 cm/s', () => {
    const p = Buffer.alloc(6);
    p.writeInt32LE(1010, 0);
    p.writeInt16LE(-210, 4);
    expect(decodeAltitude(p)).toEqual({ altitudeM: 10.1, varioMS: -2.1 });
  });

  it('MOTOR: 8 × u16', () => {
    const p = Buffer.alloc(16);
    [1306, 1306, 1893, 1893, 0, 0, 0, 0].forEach((v, i) => p.writeUInt16LE(v, 2 * i));
    expect(decodeMotor(p)).toEqual([1306, 1306, 1893, 1893, 0, 0, 0, 0]);
  });
});

describe('RC_TUNING', () => {
  /** The 4.x (API 1.43+) layout, built field by field. */
  const rcTuning = Buffer.from([
    7, // 0 rcRate roll (ACTUAL: center 70 °/s)
    10, // 1 rcExpo roll
    67, // 2 rate roll (ACTUAL: max 670 °/s)
    66, // 3 rate pitch
    50, // 4 rate yaw
    0, // 5 old TPA
    50, // 6 thrMid8
    0, // 7 thrExpo8
    0, 0, // 8 old TPA breakpoint
    5, // 10 rcExpo yaw
    6, // 11 rcRate yaw
    8, // 12 rcRate pitch
    12, // 13 rcExpo pitch
    0, // 14 throttle limit type
    100, // 15 throttle limit percent
    0xe8, 0x03, // 16 rate limit roll 1000
    0xe8, 0x03, // 18 rate limit pitch
    0xe8, 0x03, // 20 rate limit yaw
    3, // 22 rates type ACTUAL
  ]);

  it('decodes per-axis rcRate, rate, expo and the rates type', () => {
    const t = decodeRcTuning(rcTuning);
    expect(t.ratesType).toBe(3);
    expect(t.ratesTypeName).toBe('ACTUAL');
    expect(t.roll).toEqual({ rcRate: 7, rate: 67, expo: 10, rateLimitDegS: 1000 });
    expect(t.pitch).toEqual({ rcRate: 8, rate: 66, expo: 12, rateLimitDegS: 1000 });
    expect(t.yaw).toEqual({ rcRate: 6, rate: 50, expo: 5, rateLimitDegS: 1000 });
    expect(t.throttleMid).toBe(0.5);
    expect(t.throttleLimitPercent).toBe(100);
    expect(actualRatesOf(t)).toEqual({ centerDegS: [70, 80, 60], maxDegS: [670, 660, 500], expo: [0.1, 0.12, 0.05] });
  });

  it('pre-1.43 payloads default to BETAFLIGHT rates', () => {
    const t = decodeRcTuning(rcTuning.subarray(0, 14));
    expect(t.ratesTypeName).toBe('BETAFLIGHT');
    expect(t.roll.rateLimitDegS).toBeUndefined();
    expect(actualRatesOf(t)).toBeUndefined();
  });
});

describe('modes', () => {
  it('SET_MODE_RANGE: ARM on AUX1 1700..2100 µs is [0, 0, 0, 32, 48]', () => {
    expect(modeStepToUs(32)).toBe(1700);
    expect(modeStepToUs(48)).toBe(2100);
    expect(usToModeStep(1700)).toBe(32);
    expect(encodeSetModeRange(modeRangeFromUs(0, BOX.ARM, 0, 1700, 2100))).toEqual(Buffer.from([0, 0, 0, 32, 48]));
    expect(encodeSetModeRange({ index: 1, permanentId: BOX.ANGLE, auxChannelIndex: 1, startStep: 32, endStep: 48 })).toEqual(
      Buffer.from([1, 1, 1, 32, 48]),
    );
    expect(
      encodeSetModeRange({ index: 2, permanentId: BOX.MSP_OVERRIDE, auxChannelIndex: 2, startStep: 32, endStep: 48, modeLogic: 0, linkedTo: 0 }),
    ).toEqual(Buffer.from([2, 50, 2, 32, 48, 0, 0]));
    expect(() => encodeSetModeRange({ index: 0, permanentId: 0, auxChannelIndex: 0, startStep: 32, endStep: 60 })).toThrow();
    expect(() => encodeSetModeRange({ index: 0, permanentId: 0, auxChannelIndex: 0, startStep: 0, endStep: 1, modeLogic: 0 })).toThrow();
  });

  it('MODE_RANGES, BOXIDS, BOXNAMES', () => {
    const ranges = decodeModeRanges(Buffer.from([0, 0, 32, 48, 1, 1, 32, 48, 0, 0, 0, 0]));
    expect(ranges).toHaveLength(3);
    expect(ranges[1]).toEqual({ index: 1, permanentId: 1, auxChannelIndex: 1, startStep: 32, endStep: 48, startUs: 1700, endUs: 2100 });
    expect(usedModeRanges(ranges).map((r) => r.index)).toEqual([0, 1]);
    expect(decodeBoxIds(Buffer.from([0, 1, 2, 5, 3]))).toEqual([0, 1, 2, 5, 3]);
    expect(decodeBoxNames(Buffer.from('ARM;ANGLE;HORIZON;MAG;ALTHOLD;HEADFREE;FAILSAFE;POS HOLD;GPS RESCUE;AUTOPILOT;'))).toEqual([
      'ARM',
      'ANGLE',
      'HORIZON',
      'MAG',
      'ALTHOLD',
      'HEADFREE',
      'FAILSAFE',
      'POS HOLD',
      'GPS RESCUE',
      'AUTOPILOT',
    ]);
  });

  it('SET_RAW_RC rejects channel counts and values the FC would not take', () => {
    expect(() => encodeSetRawRc([])).toThrow(RangeError);
    expect(() => encodeSetRawRc(new Array(19).fill(1500))).toThrow(RangeError);
    expect(() => encodeSetRawRc([1500, Number.NaN])).toThrow(RangeError);
    expect(encodeSetRawRc([1499.6])).toEqual(hex('dc05'));
  });

  it('MULTIPLE_MSP reply splits into per-command payloads', () => {
    const reply = Buffer.concat([Buffer.from([6]), Buffer.alloc(6, 1), Buffer.from([0])]);
    expect(decodeMultipleMspReply(reply, [MSP.ATTITUDE, MSP.BOXIDS, MSP.RAW_IMU])).toEqual([
      { cmd: MSP.ATTITUDE, payload: Buffer.alloc(6, 1) },
      { cmd: MSP.BOXIDS, payload: Buffer.alloc(0) },
    ]);
  });

  it('decodeMspMessage: replies, acks, errors, requests', () => {
    const f = (direction: '<' | '>' | '!', cmd: number, payload = Buffer.alloc(0)): MspFrame => ({ version: 1, direction, cmd, payload });
    expect(decodeMspMessage(f('>', MSP.FC_VARIANT, Buffer.from('BTFL')))).toMatchObject({ kind: 'reply', name: 'FC_VARIANT', data: 'BTFL' });
    expect(decodeMspMessage(f('>', MSP.EEPROM_WRITE)).kind).toBe('ack');
    expect(decodeMspMessage(f('!', MSP.SET_MODE_RANGE)).kind).toBe('error');
    expect(decodeMspMessage(f('<', MSP.STATUS_EX)).kind).toBe('raw');
  });
});
