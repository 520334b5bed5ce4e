/**
 * Seeded MAVLink stream fuzzing shared by the tests and the benchmark: valid v1/v2 frames (what PX4 and
 * ArduPilot send: HEARTBEAT, HIGHRES_IMU, ATTITUDE, LOCAL_POSITION_NED, COMMAND_ACK, STATUSTEXT) mixed
 * with line noise (start bytes included), bit-flipped frames, truncated frames and fake headers, fed to a
 * `MavlinkDecoder` in random chunk sizes. Every valid frame is accounted for: recovered, lost to a falsely
 * accepted candidate that overlapped it (a 16-bit CRC lets ≈ 2⁻¹⁶ of bogus candidates with a known msgid
 * through), or unexplained (must be 0).
 */
import { common, minimal, MavLinkProtocolV1, type MavLinkData } from 'node-mavlink';
import { Rng } from '../../src/rng.js';
import { MavlinkDecoder, MavlinkEncoder, type MavlinkFrame } from './codec.js';

export interface MavlinkFuzzOptions {
  seed: number;
  /** Stream items (valid frames, noise runs, corrupted or truncated frames). */
  items: number;
  /** Feed whole datagrams (UDP) instead of random stream chunks. */
  datagrams?: boolean;
}

export interface MavlinkFuzzReport {
  items: number;
  streamBytes: number;
  validFrames: number;
  recovered: number;
  corrupted: number;
  truncated: number;
  fakeHeaders: number;
  noiseBytes: number;
  falseAccepts: number;
  lostToCollision: number;
  unexplainedLoss: number;
  exceptions: number;
  decoderStats: MavlinkDecoder['stats'];
}

function randomMessage(rng: Rng): MavLinkData {
  const r = rng.next();
  const f = (): number => (rng.next() - 0.5) * 200;
  if (r < 0.35) {
    const m = new common.HighresImu();
    m.timeUsec = BigInt(Math.floor(rng.next() * 1e12));
    m.xacc = f(); m.yacc = f(); m.zacc = f();
    m.xgyro = f(); m.ygyro = f(); m.zgyro = f();
    m.xmag = 0; m.ymag = 0; m.zmag = 0;
    m.absPressure = 1013; m.diffPressure = 0; m.pressureAlt = f(); m.temperature = 25;
    m.fieldsUpdated = 0x3f as common.HighresImuUpdatedFlags;
    m.id = 0;
    return m;
  }
  if (r < 0.55) {
    const m = new common.Attitude();
    m.timeBootMs = Math.floor(rng.next() * 1e9);
    m.roll = f(); m.pitch = f(); m.yaw = f(); m.rollspeed = f(); m.pitchspeed = f(); m.yawspeed = f();
    return m;
  }
  if (r < 0.75) {
    const m = new common.LocalPositionNed();
    m.timeBootMs = Math.floor(rng.next() * 1e9);
    m.x = f(); m.y = f(); m.z = f(); m.vx = f(); m.vy = f(); m.vz = f();
    return m;
  }
  if (r < 0.87) {
    const m = new minimal.Heartbeat();
    m.type = 2; m.autopilot = rng.next() < 0.5 ? 12 : 3; m.baseMode = Math.floor(rng.next() * 256) as minimal.MavModeFlag;
    m.customMode = Math.floor(rng.next() * 2 ** 32); m.systemStatus = 4; m.mavlinkVersion = 3;
    return m;
  }
  if (r < 0.95) {
    const m = new common.CommandAck();
    m.command = [176, 400, 511, 21, 22][Math.floor(rng.next() * 5)]!; m.result = Math.floor(rng.next() * 6);
    m.progress = 0; m.resultParam2 = 0; m.targetSystem = 255; m.targetComponent = 190;
    return m;
  }
  const m = new common.StatusText();
  m.severity = 6; m.text = 'Failsafe activated: no offboard signal'.slice(0, 1 + Math.floor(rng.next() * 38)); m.id = 0; m.chunkSeq = 0;
  return m;
}

interface Item {
  bytes: Buffer;
  /** Index into the valid list, or -1 for junk. */
  valid: number;
}

/** Build the seeded stream: returns the items and the valid frames in order. */
export function buildMavlinkFuzzStream(opts: MavlinkFuzzOptions): { items: Item[]; valid: Buffer[]; counts: { corrupted: number; truncated: number; fakeHeaders: number; noiseBytes: number } } {
  const rng = new Rng(opts.seed);
  const encoders = [new MavlinkEncoder(1, 1), new MavlinkEncoder(2, 1), new MavlinkEncoder(255, 190)];
  const v1 = new MavLinkProtocolV1(1, 1);
  const items: Item[] = [];
  const valid: Buffer[] = [];
  const counts = { corrupted: 0, truncated: 0, fakeHeaders: 0, noiseBytes: 0 };
  for (let i = 0; i < opts.items; i++) {
    const msg = randomMessage(rng);
    const id = (msg.constructor as unknown as { MSG_ID: number }).MSG_ID;
    const frame = id < 256 && rng.next() < 0.1 ? v1.serialize(msg, i & 0xff) : encoders[Math.floor(rng.next() * encoders.length)]!.encode(msg);
    const r = rng.next();
    if (r < 0.7) {
      items.push({ bytes: frame, valid: valid.length });
      valid.push(frame);
    } else if (r < 0.8) {
      // 1–3 bit flips anywhere (length and flags included)
      const b = Buffer.from(frame);
      const flips = 1 + Math.floor(rng.next() * 3);
      for (let k = 0; k < flips; k++) b[Math.floor(rng.next() * b.length)]! ^= 1 << Math.floor(rng.next() * 8);
      if (!b.equals(frame)) {
        items.push({ bytes: b, valid: -1 });
        counts.corrupted++;
      }
    } else if (r < 0.88) {
      const cut = 1 + Math.floor(rng.next() * (frame.length - 1));
      items.push({ bytes: frame.subarray(0, cut), valid: -1 });
      counts.truncated++;
    } else if (r < 0.94) {
      // a plausible header with a random known-looking msgid and junk after it
      const n = 10 + Math.floor(rng.next() * 40);
      const b = Buffer.alloc(n);
      for (let k = 0; k < n; k++) b[k] = Math.floor(rng.next() * 256);
      b[0] = rng.next() < 0.8 ? 0xfd : 0xfe;
      b[2] = 0;
      b[7] = [0, 30, 32, 77, 105, 253][Math.floor(rng.next() * 6)]!;
      b[8] = 0;
      b[9] = 0;
      items.push({ bytes: b, valid: -1 });
      counts.fakeHeaders++;
    } else {
      const n = 1 + Math.floor(rng.next() * 64);
      const b = Buffer.alloc(n);
      for (let k = 0; k < n; k++) b[k] = rng.next() < 0.1 ? (rng.next() < 0.5 ? 0xfd : 0xfe) : Math.floor(rng.next() * 256);
      items.push({ bytes: b, valid: -1 });
      counts.noiseBytes += n;
    }
  }
  return { items, valid, counts };
}

/** Run the fuzz: feed the stream, account for every valid frame. */
export function runMavlinkFuzz(opts: MavlinkFuzzOptions): MavlinkFuzzReport {
  const { items, valid, counts } = buildMavlinkFuzzStream(opts);
  const rng = new Rng(opts.seed ^ 0x5a5a);
  const dec = new MavlinkDecoder();
  const out: MavlinkFrame[] = [];
  let exceptions = 0;
  let streamBytes = 0;
  const feed = (b: Buffer, boundary: boolean): void => {
    streamBytes += b.length;
    try {
      dec.push(b, (f) => out.push(f), boundary);
    } catch {
      exceptions++;
    }
  };
  if (opts.datagrams) {
    // a datagram holds one to four items, as a UDP sender batches
    for (let i = 0; i < items.length; ) {
      const k = 1 + Math.floor(rng.next() * 4);
      feed(Buffer.concat(items.slice(i, i + k).map((x) => x.bytes)), true);
      i += k;
    }
  } else {
    const all = Buffer.concat([...items.map((x) => x.bytes), Buffer.alloc(300)]); // trailing traffic flushes a pending candidate
    for (let p = 0; p < all.length; ) {
      const n = 1 + Math.floor(rng.next() * 200);
      feed(all.subarray(p, p + n), false);
      p += n;
    }
  }
  // match outputs to the valid frames in order
  let k = 0;
  let recovered = 0;
  let falseAccepts = 0;
  let lost = 0;
  let lostToCollision = 0;
  let pendingCollision = false;
  // A falsely accepted candidate spans ≤ 280 bytes, so it can hide only a few frames: look a bounded way
  // ahead (identical frames recur in a long stream, e.g. the same COMMAND_ACK with the same seq).
  const WINDOW = 32;
  for (const f of out) {
    let j = k;
    const end = Math.min(valid.length, k + WINDOW);
    while (j < end && !valid[j]!.equals(f.bytes)) j++;
    if (j === end) {
      falseAccepts++;
      pendingCollision = true;
      continue;
    }
    const skipped = j - k;
    if (pendingCollision) lostToCollision += skipped;
    else lost += skipped;
    pendingCollision = false;
    recovered++;
    k = j + 1;
  }
  lost += valid.length - k;
  return {
    items: opts.items,
    streamBytes,
    validFrames: valid.length,
    recovered,
    ...counts,
    falseAccepts,
    lostToCollision,
    unexplainedLoss: lost,
    exceptions,
    decoderStats: { ...dec.stats },
  };
}
