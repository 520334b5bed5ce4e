/**
 * The FC side of MSP shared by the loopback emulator and the sim's Betaflight face (firmware-bridge/msp/fc.ts):
 * one listener and one request → reply path, so both FCs answer the same commands the same way.
 */
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { encodeMspV1, MspDecoder, type MspFrame } from '../firmware-bridge/msp/codec.js';
import { BOX, MSP } from '../firmware-bridge/msp/codes.js';
import { FEATURE } from '../firmware-bridge/msp/messages.js';
import {
  answerMspRequest,
  CONFIGURED_MODE_RANGES,
  decodeRawRcChannels,
  DEFAULT_BOX_IDS,
  DEFAULT_EMULATOR_RATES,
  encodeFailsafeConfigReply,
  encodeRawImuReply,
  encodeStatusExReply,
  fcReply,
  MspFcServer,
  type MspFcModel,
} from '../firmware-bridge/msp/fc.js';
import { BetaflightEmulator } from '../firmware-bridge/betaflight/index.js';

function model(rc: number[][]): MspFcModel {
  return {
    armed: () => true,
    boxIds: () => DEFAULT_BOX_IDS,
    armingDisableFlags: () => 0x20,
    rawImu: () => encodeRawImuReply([1, 2, 512], [3, 4, 5]),
    rates: () => DEFAULT_EMULATOR_RATES,
    modeRanges: () => CONFIGURED_MODE_RANGES,
    features: () => FEATURE.RX_MSP,
    failsafe: () => ({ procedure: 1, delayS: 0.8 }),
    onRc: (ch) => rc.push(ch),
  };
}

/** Send requests over TCP and collect `n` frames back. */
async function exchange(port: number, requests: Buffer[], n: number): Promise<MspFrame[]> {
  const sock = net.connect(port, '127.0.0.1');
  const got: MspFrame[] = [];
  const dec = new MspDecoder();
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`only ${got.length} of ${n} replies`)), 2000);
    sock.on('data', (c: Buffer) =>
      dec.push(c, (f) => {
        got.push(f);
        if (got.length === n) {
          clearTimeout(t);
          resolve();
        }
      }),
    );
    sock.on('connect', () => sock.write(Buffer.concat(requests)));
    sock.on('error', reject);
  });
  sock.destroy();
  return got;
}

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0)) await c();
});

describe('MSP FC answer path', () => {
  it('replies are built from the model: STATUS_EX armed + flags, RAW_IMU, FEATURE, FAILSAFE, identity; unknown → undefined', () => {
    const fc = model([]);
    expect(fcReply(MSP.STATUS_EX, fc)).toEqual(encodeStatusExReply(true, DEFAULT_BOX_IDS, 0x20));
    expect(fcReply(MSP.RAW_IMU, fc)).toEqual(encodeRawImuReply([1, 2, 512], [3, 4, 5]));
    expect(fcReply(MSP.FEATURE_CONFIG, fc)!.readUInt32LE(0)).toBe(FEATURE.RX_MSP);
    expect(fcReply(MSP.FAILSAFE_CONFIG, fc)).toEqual(encodeFailsafeConfigReply(1, 0.8));
    expect([...fcReply(MSP.BOXIDS, fc)!]).toEqual(DEFAULT_BOX_IDS);
    expect([...fcReply(MSP.API_VERSION, fc)!]).toEqual([0, 1, 49]);
    expect(fcReply(0xfa, fc)).toBeUndefined();
    expect(decodeRawRcChannels(Buffer.from([0xdc, 0x05, 0xe8, 0x03, 0x07]))).toEqual([1500, 1000]);
  });

  it('over TCP: sticks go to the model and are acked empty, unknown commands get "!", replies from the peer are ignored', async () => {
    const rc: number[][] = [];
    const fc = model(rc);
    const srv = new MspFcServer((s, f) => answerMspRequest(s, f, fc));
    const port = await srv.listen();
    closers.push(() => srv.close());
    const sticks = Buffer.alloc(16);
    [1500, 1500, 1000, 1500, 1800, 1000, 1000, 1000].forEach((v, i) => sticks.writeUInt16LE(v, i * 2));
    const got = await exchange(port, [encodeMspV1(MSP.API_VERSION, Buffer.alloc(0), '>'), encodeMspV1(MSP.SET_RAW_RC, sticks), encodeMspV1(0xfa), encodeMspV1(MSP.BOXIDS)], 3);
    expect(got.map((f) => [f.cmd, f.direction, f.payload.length])).toEqual([
      [MSP.SET_RAW_RC, '>', 0],
      [0xfa, '!', 0],
      [MSP.BOXIDS, '>', DEFAULT_BOX_IDS.length],
    ]);
    expect(rc).toEqual([[1500, 1500, 1000, 1500, 1800, 1000, 1000, 1000]]);
  });

  it('the emulator answers through the same path: ARM at its BOXIDS position once AUX1 is high', async () => {
    const emu = new BetaflightEmulator();
    const port = await emu.start();
    closers.push(() => emu.close());
    const sticks = Buffer.alloc(10);
    [1500, 1500, 1000, 1500, 1800].forEach((v, i) => sticks.writeUInt16LE(v, i * 2));
    const [, status] = await exchange(port, [encodeMspV1(MSP.SET_RAW_RC, sticks), encodeMspV1(MSP.STATUS_EX)], 2);
    expect(status!.payload).toEqual(encodeStatusExReply(true, DEFAULT_BOX_IDS, 0));
    expect(DEFAULT_BOX_IDS.indexOf(BOX.ARM)).toBe(0);
    expect(status!.payload[6]! & 1).toBe(1);
  });
});
