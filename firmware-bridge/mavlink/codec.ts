/**
 * MAVLink framing on a byte stream: a synchronous splitter/decoder and an encoder with sequence numbers.
 *
 * Encoding and message decoding are node-mavlink's (`MavLinkProtocolV2.serialize`, `MavLinkProtocol.data`,
 * the mavlink-mappings message classes and CRC_EXTRA table). The splitter is ours because node-mavlink's
 * `MavLinkPacketSplitter` skips a candidate with an unknown msgid whole: a false start byte in line noise
 * then swallows up to 280 bytes, valid frames included. Here every rejected candidate (bad CRC, unknown
 * msgid, unsupported incompatibility flag) costs exactly one byte, so the decoder resyncs on the next valid
 * frame. It is synchronous (no stream machinery) so the bridges and tests see frames in order, at once.
 *
 * UDP: pass `boundary = true` at the end of each datagram. A candidate that is still incomplete at a
 * datagram's end cannot complete (PX4 and ArduPilot never split a frame across datagrams), so it is
 * dropped there instead of holding later frames hostage until more bytes arrive.
 */
import {
  ardupilotmega,
  common,
  minimal,
  standard,
  MavLinkProtocolV1,
  MavLinkProtocolV2,
  MSG_ID_MAGIC_NUMBER,
  x25crc,
  type MavLinkData,
  type MavLinkDataConstructor,
} from 'node-mavlink';

export const STX_V1 = 0xfe;
export const STX_V2 = 0xfd;
const V1_HEADER = 6;
const V2_HEADER = 10;
const CRC_LEN = 2;
const SIGNATURE_LEN = 13;
const IFLAG_SIGNED = 0x01;
/** Largest frame: v2 header + 255 payload + CRC + signature. */
export const MAVLINK_MAX_FRAME = V2_HEADER + 255 + CRC_LEN + SIGNATURE_LEN;

/** Message classes by id: minimal, common, standard and ardupilotmega (what PX4 and ArduPilot send). */
export const MAVLINK_REGISTRY: Record<number, MavLinkDataConstructor<MavLinkData>> = {
  ...ardupilotmega.REGISTRY,
  ...standard.REGISTRY,
  ...common.REGISTRY,
  ...minimal.REGISTRY,
};

export interface MavlinkFrame {
  version: 1 | 2;
  seq: number;
  sysid: number;
  compid: number;
  msgid: number;
  signed: boolean;
  /** The whole frame (a copy; safe to keep). */
  bytes: Buffer;
}

export interface MavlinkDecoderStats {
  frames: number;
  /** Candidates whose CRC (with CRC_EXTRA) did not match: corruption or a false start byte. */
  crcErrors: number;
  /** Candidates with a msgid no dialect here knows (cannot be checked, so not trusted). */
  unknownMsgid: number;
  /** v2 candidates with incompatibility flags other than "signed" (the spec says drop them). */
  badFlags: number;
  /** Candidates still incomplete at a datagram boundary. */
  truncated: number;
  /** Bytes skipped while looking for a start byte (noise, rejected candidates' first bytes). */
  skippedBytes: number;
  signedFrames: number;
}

/**
 * Splits a MAVLink v1/v2 byte stream into CRC-checked frames. Never throws on input; everything it
 * drops is counted in `stats`.
 */
export class MavlinkDecoder {
  readonly stats: MavlinkDecoderStats = { frames: 0, crcErrors: 0, unknownMsgid: 0, badFlags: 0, truncated: 0, skippedBytes: 0, signedFrames: 0 };
  private buf = Buffer.alloc(4 * MAVLINK_MAX_FRAME);
  private start = 0;
  private end = 0;

  constructor(private readonly magic: Record<string, number> = MSG_ID_MAGIC_NUMBER) {}

  /** Bytes held waiting for the rest of a frame. */
  get pending(): number {
    return this.end - this.start;
  }

  /** Feed bytes; `onFrame` runs once per valid frame, in order. `boundary`: this chunk ended a datagram. */
  push(chunk: Uint8Array, onFrame: (f: MavlinkFrame) => void, boundary = false): void {
    this.append(chunk);
    const b = this.buf;
    let i = this.start;
    const end = this.end;
    while (i < end) {
      const c = b[i]!;
      if (c !== STX_V2 && c !== STX_V1) {
        this.stats.skippedBytes++;
        i++;
        continue;
      }
      const v2 = c === STX_V2;
      const header = v2 ? V2_HEADER : V1_HEADER;
      const avail = end - i;
      if (avail < 2) {
        if (boundary) {
          this.stats.truncated++;
          this.stats.skippedBytes++;
          i++;
          continue;
        }
        break;
      }
      const plen = b[i + 1]!;
      const flags = v2 && avail > 2 ? b[i + 2]! : 0;
      if (v2 && avail > 2 && (flags & ~IFLAG_SIGNED) !== 0) {
        this.stats.badFlags++;
        this.stats.skippedBytes++;
        i++;
        continue;
      }
      const signed = v2 && (flags & IFLAG_SIGNED) !== 0;
      const total = header + plen + CRC_LEN + (signed ? SIGNATURE_LEN : 0);
      if (avail < total) {
        if (boundary) {
          this.stats.truncated++;
          this.stats.skippedBytes++;
          i++;
          continue;
        }
        break;
      }
      const msgid = v2 ? b[i + 7]! | (b[i + 8]! << 8) | (b[i + 9]! << 16) : b[i + 5]!;
      const extra = this.magic[msgid];
      if (extra === undefined) {
        this.stats.unknownMsgid++;
        this.stats.skippedBytes++;
        i++;
        continue;
      }
      const crcAt = i + header + plen;
      const crc = x25crc(b.subarray(i + 1, crcAt), 0, 0, extra);
      if (crc !== (b[crcAt]! | (b[crcAt + 1]! << 8))) {
        this.stats.crcErrors++;
        this.stats.skippedBytes++;
        i++;
        continue;
      }
      this.stats.frames++;
      if (signed) this.stats.signedFrames++;
      const f: MavlinkFrame = {
        version: v2 ? 2 : 1,
        seq: b[i + (v2 ? 4 : 2)]!,
        sysid: b[i + (v2 ? 5 : 3)]!,
        compid: b[i + (v2 ? 6 : 4)]!,
        msgid,
        signed,
        bytes: Buffer.from(b.subarray(i, i + total)),
      };
      i += total;
      this.start = i; // a throwing callback must not replay this frame
      onFrame(f);
    }
    this.start = i;
    if (this.start === this.end) this.start = this.end = 0;
  }

  reset(): void {
    this.start = this.end = 0;
  }

  private append(chunk: Uint8Array): void {
    const need = this.end - this.start + chunk.length;
    if (this.end + chunk.length > this.buf.length) {
      if (need > this.buf.length) {
        const nb = Buffer.alloc(Math.max(need, 2 * this.buf.length));
        this.buf.copy(nb, 0, this.start, this.end);
        this.buf = nb;
      } else {
        this.buf.copy(this.buf, 0, this.start, this.end);
      }
      this.end -= this.start;
      this.start = 0;
    }
    this.buf.set(chunk, this.end);
    this.end += chunk.length;
  }
}

const V1 = new MavLinkProtocolV1();
const V2 = new MavLinkProtocolV2();

/** The message class for a msgid, or undefined. */
export function messageClass(msgid: number): MavLinkDataConstructor<MavLinkData> | undefined {
  return MAVLINK_REGISTRY[msgid];
}

/**
 * Decode a frame's payload into its mavlink-mappings class (zero-extends a v2-truncated payload), or
 * null when no class is known. Throws only on a library bug; callers count that as 'decode'.
 */
export function decodeMessage(f: MavlinkFrame): MavLinkData | null {
  const clazz = MAVLINK_REGISTRY[f.msgid];
  if (!clazz) return null;
  const p = f.version === 2 ? V2 : V1;
  return p.data(p.payload(f.bytes), clazz);
}

/** Serialises messages as MAVLink v2 from one system/component, with a wrapping sequence number. */
export class MavlinkEncoder {
  private readonly protocol: MavLinkProtocolV2;
  private seq = 0;

  constructor(
    readonly systemId: number,
    readonly componentId: number,
  ) {
    if (!Number.isInteger(systemId) || systemId < 1 || systemId > 255) throw new RangeError(`MAVLink system id must be 1..255, got ${systemId}`);
    if (!Number.isInteger(componentId) || componentId < 0 || componentId > 255) throw new RangeError(`MAVLink component id must be 0..255, got ${componentId}`);
    this.protocol = new MavLinkProtocolV2(systemId, componentId);
  }

  /** The sequence number the next frame will carry. */
  get nextSeq(): number {
    return this.seq;
  }

  encode(msg: MavLinkData): Buffer {
    const out = this.protocol.serialize(msg, this.seq);
    this.seq = (this.seq + 1) & 0xff;
    return out;
  }
}
