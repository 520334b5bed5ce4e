/**
 * MSP benchmark: decoder throughput on realistic mixed traffic, seeded fuzz counts, encoder cost, and the
 * link budget of Betaflight MSP over a 115200-baud UART (the onboard interface of the AI-GP hardware).
 *
 * Run standalone: `node dist/bench/msp.js` after a build (prints JSON), or call `benchMsp()`.
 */
import { pathToFileURL } from 'node:url';
import { performance } from 'node:perf_hooks';
import { Rng } from '../src/rng.js';
import { MSP } from '../firmware-bridge/msp/codes.js';
import { MspDecoder, encodeMspV1, encodeMspV2, mspV1FrameLength, type MspFrame } from '../firmware-bridge/msp/codec.js';
import { writeSetRawRcFrame } from '../firmware-bridge/msp/messages.js';
import { runMspFuzz } from '../firmware-bridge/msp/fuzz.js';

/** Bytes/s of an 8N1 UART: 10 bit times per byte (start + 8 data + stop). */
const uartBytesPerS = (baud: number): number => baud / 10;

/**
 * The serial link budget for the control loop "send sticks, read IMU" over MSP v1.
 * Betaflight answers every command, SET_RAW_RC included (an empty '>' frame), and its serial task handles
 * one MSP command per port per run (msp_serial.c: "process one command at a time so as not to block"),
 * so besides bandwidth the loop is capped at serial_update_rate_hz / commands-per-cycle.
 */
export function mspLinkBudget(opts: { baud?: number; rcChannels?: number; serialTaskHz?: number } = {}) {
  const baud = opts.baud ?? 115200;
  const channels = opts.rcChannels ?? 8;
  const serialTaskHz = opts.serialTaskHz ?? 100;
  const bytesPerS = uartBytesPerS(baud);
  const setRawRc = mspV1FrameLength(2 * channels); // 6 + 2n
  const ack = mspV1FrameLength(0); // 6
  const imuRequest = mspV1FrameLength(0); // 6
  const imuReply = mspV1FrameLength(18); // 24
  const toFc = setRawRc + imuRequest;
  const fromFc = ack + imuReply;
  const commandsPerCycle = 2;
  const fullDuplexHz = bytesPerS / Math.max(toFc, fromFc);
  const halfDuplexHz = bytesPerS / (toFc + fromFc);
  const taskCapHz = serialTaskHz / commandsPerCycle;
  return {
    baud,
    bytesPerS,
    rcChannels: channels,
    frameBytes: { setRawRc, setRawRcAck: ack, rawImuRequest: imuRequest, rawImuReply: imuReply },
    bytesPerCycle: { hostToFc: toFc, fcToHost: fromFc, total: toFc + fromFc },
    /** Bandwidth limits. */
    maxCycleHzFullDuplex: fullDuplexHz,
    maxCycleHzHalfDuplex: halfDuplexHz,
    maxCommandOnlyHz: bytesPerS / setRawRc,
    maxImuOnlyHz: bytesPerS / imuReply,
    /** Firmware limit: one MSP command per serial task run. */
    serialTaskHz,
    maxCycleHzSerialTask: taskCapHz,
    /** What the loop can actually reach: the lower of bandwidth (full duplex) and the serial task cap. */
    achievableCycleHz: Math.min(fullDuplexHz, taskCapHz),
    /** Time on the wire, ms. */
    wireMsSetRawRc: (1000 * setRawRc) / bytesPerS,
    wireMsImuReply: (1000 * imuReply) / bytesPerS,
    /** Request → reply latency floor for RAW_IMU: request + wait for the serial task (≤ 1 period) + reply. */
    imuRoundTripMsWorst: (1000 * (imuRequest + imuReply)) / bytesPerS + 1000 / serialTaskHz,
  };
}

/** Mixed traffic like an onboard link: IMU, attitude and status replies, acks, 5 % corrupted, some noise. */
function buildTraffic(frames: number, seed: number): { bytes: Buffer; valid: number } {
  const rng = new Rng(seed);
  const imu = Buffer.alloc(18);
  const status = Buffer.alloc(23);
  const att = Buffer.alloc(6);
  const parts: Buffer[] = [];
  let valid = 0;
  for (let i = 0; i < frames; i++) {
    for (let k = 0; k < 18; k++) imu[k] = Math.floor(rng.next() * 256);
    const r = rng.next();
    let f: Buffer;
    if (r < 0.55) f = encodeMspV1(MSP.RAW_IMU, imu, '>');
    else if (r < 0.75) f = encodeMspV1(MSP.SET_RAW_RC, undefined, '>');
    else if (r < 0.85) f = encodeMspV1(MSP.ATTITUDE, att, '>');
    else if (r < 0.93) f = encodeMspV1(MSP.STATUS_EX, status, '>');
    else f = encodeMspV2(0x3001, imu, '>');
    if (rng.next() < 0.05) {
      f = Buffer.from(f);
      const at = 5 + Math.floor(rng.next() * (f.length - 5));
      f[at] = f[at]! ^ (1 << Math.floor(rng.next() * 8));
    } else valid++;
    parts.push(f);
    if (rng.next() < 0.02) parts.push(Buffer.from([0x00, 0xff, 0x4d, 0x13]));
  }
  return { bytes: Buffer.concat(parts), valid };
}

function timeDecoder(bytes: Buffer, chunk: number, repeats: number) {
  let best = Infinity;
  let frames = 0;
  let stats: MspDecoder['stats'] | undefined;
  const sink = (_f: MspFrame): void => {
    frames++;
  };
  for (let r = 0; r < repeats; r++) {
    frames = 0;
    const dec = new MspDecoder();
    const t0 = performance.now();
    for (let off = 0; off < bytes.length; off += chunk) dec.push(bytes.subarray(off, off + chunk), sink);
    const dt = (performance.now() - t0) / 1000;
    if (dt < best) best = dt;
    stats = { ...dec.stats };
  }
  return {
    chunkBytes: chunk,
    seconds: best,
    framesPerS: frames / best,
    mbPerS: bytes.length / best / 1e6,
    stats: stats!,
  };
}

function timeEncoder(iterations: number) {
  const out = Buffer.alloc(64);
  const ch = [1500, 1500, 1000, 1500, 1000, 1000, 1000, 1000];
  let bytes = 0;
  const t0 = performance.now();
  for (let i = 0; i < iterations; i++) {
    ch[0] = 1000 + (i & 1023);
    bytes += writeSetRawRcFrame(out, 0, ch);
  }
  const dt = (performance.now() - t0) / 1000;
  return { setRawRcFramesPerS: iterations / dt, bytesWritten: bytes };
}

export function benchMsp(): object {
  const traffic = buildTraffic(150_000, 1234);
  const decode = {
    trafficFrames: 150_000,
    trafficBytes: traffic.bytes.length,
    validFrames: traffic.valid,
    serialChunks: timeDecoder(traffic.bytes, 64, 3),
    wholeBuffer: timeDecoder(traffic.bytes, traffic.bytes.length, 3),
  };
  const fuzz = {
    clean: runMspFuzz({ seed: 20260611, items: 200_000, adversarial: false }),
    adversarial: runMspFuzz({ seed: 7, items: 200_000, adversarial: true }),
  };
  return {
    decode,
    encode: timeEncoder(500_000),
    fuzz,
    link115200: mspLinkBudget(),
    link115200With16Channels: mspLinkBudget({ rcChannels: 16 }),
    link115200SerialTask2kHz: mspLinkBudget({ serialTaskHz: 2000 }),
    notes: [
      'Betaflight handles one MSP command per serial task run: at the default serial_update_rate_hz = 100 a ' +
        'SET_RAW_RC + RAW_IMU loop is capped at 50 Hz (a team measured ~40 Hz); raise it (max 2000) to reach the ' +
        'bandwidth limit, and batch reads with MSP_MULTIPLE_MSP.',
      'RAW_IMU gyro resolution is 1 deg/s and it is the FC-filtered gyro.',
    ],
  };
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  console.log(JSON.stringify(benchMsp(), null, 2));
}
