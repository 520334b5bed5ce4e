/**
 * MAVLink framing, shared by every MAVLink link (the AI Grand Prix UDP link here, the PX4/ArduPilot
 * bridges, their emulator and `fc probe` under firmware-bridge/): one frame check (header, incompatibility
 * flags, CRC with CRC_EXTRA) used in two modes, and one v2 encoder with sequence numbers.
 *
 * Encoding and message decoding are node-mavlink's (`MavLinkProtocolV2.serialize`, `MavLinkProtocol.data`,
 * the mavlink-mappings message classes and CRC_EXTRA table); x25 CRC is theirs too.
 *
 * Stream mode (`MavlinkDecoder`, serial/TCP, or UDP with `boundary`): node-mavlink's `MavLinkPacketSplitter`
 * skips a candidate with an unknown msgid whole, so a false start byte in line noise swallows up to 280
 * bytes, valid frames included. Here every rejected candidate (bad CRC, unknown msgid, unsupported
 * incompatibility flag) costs exactly one byte, so the decoder resyncs on the next valid frame. It is
 * synchronous so callers see frames in order, at once.
 *
 * Datagram mode (`parseDatagram`, a link whose peer sends whole packets per datagram and may speak a
 * dialect we lack): a frame with an unknown msgid is skipped by its length (it is framed, just
 * unverifiable), and anything malformed ends the datagram with one error, since its remaining bytes
 * cannot be framed reliably.
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

// ---------------------------------------------------------------------------------------------------------
// The frame check both modes use
// ---------------------------------------------------------------------------------------------------------

/** What `checkFrame` found at a start byte. */
export const FrameStatus = {
  OK: 0,
  /** Fewer bytes than the frame needs (`info.total` is the full length once the length byte is in). */
  SHORT: 1,
  /** v2 incompatibility flags other than "signed" (the spec says drop the frame). */
  BAD_FLAGS: 2,
  /** No CRC_EXTRA for this msgid: another dialect, cannot be checked. */
  UNKNOWN_MSGID: 3,
  CRC: 4,
} as const;
export type FrameStatus = (typeof FrameStatus)[keyof typeof FrameStatus];

/** Filled by `checkFrame` (reused by the caller: no allocation per candidate). */
export interface FrameInfo {
  version: 1 | 2;
  headerLen: number;
  /** Whole frame length, header to CRC (+ signature); 0 while the length byte is not in. */
  total: number;
  msgid: number;
  signed: boolean;
  flags: number;
  crcGot: number;
  crcWant: number;
}

export const newFrameInfo = (): FrameInfo => ({ version: 2, headerLen: V2_HEADER, total: 0, msgid: -1, signed: false, flags: 0, crcGot: 0, crcWant: 0 });

/**
 * Check the candidate frame whose start byte (STX_V1 or STX_V2, the caller has looked) is at b[i], with
 * bytes up to b[end). Never throws; reads nothing at or past `end`.
 */
export function checkFrame(b: Buffer, i: number, end: number, magic: Record<number, number | undefined>, info: FrameInfo): FrameStatus {
  const v2 = b[i] === STX_V2;
  const header = v2 ? V2_HEADER : V1_HEADER;
  const avail = end - i;
  info.version = v2 ? 2 : 1;
  info.headerLen = header;
  info.total = 0;
  info.msgid = -1;
  info.signed = false;
  info.flags = 0;
  if (avail < 2) return FrameStatus.SHORT;
  const plen = b[i + 1]!;
  if (v2 && avail > 2) {
    info.flags = b[i + 2]!;
    if ((info.flags & ~IFLAG_SIGNED) !== 0) return FrameStatus.BAD_FLAGS;
  }
  const signed = v2 && (info.flags & IFLAG_SIGNED) !== 0;
  info.signed = signed;
  const total = header + plen + CRC_LEN + (signed ? SIGNATURE_LEN : 0);
  info.total = total;
  if (avail < total) return FrameStatus.SHORT;
  const msgid = v2 ? b[i + 7]! | (b[i + 8]! << 8) | (b[i + 9]! << 16) : b[i + 5]!;
  info.msgid = msgid;
  const extra = magic[msgid];
  if (extra === undefined) return FrameStatus.UNKNOWN_MSGID;
  const crcAt = i + header + plen;
  info.crcWant = x25crc(b.subarray(i + 1, crcAt), 0, 0, extra);
  info.crcGot = b[crcAt]! | (b[crcAt + 1]! << 8);
  return info.crcGot === info.crcWant ? FrameStatus.OK : FrameStatus.CRC;
}

/** seq, sysid, compid of a checked frame at b[i]. */
const seqAt = (b: Uint8Array, i: number, v2: boolean): number => b[i + (v2 ? 4 : 2)]!;
const sysidAt = (b: Uint8Array, i: number, v2: boolean): number => b[i + (v2 ? 5 : 3)]!;
const compidAt = (b: Uint8Array, i: number, v2: boolean): number => b[i + (v2 ? 6 : 4)]!;

// ---------------------------------------------------------------------------------------------------------
// Stream mode
// ---------------------------------------------------------------------------------------------------------

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
 *
 * UDP: pass `boundary = true` at the end of each datagram. A candidate that is still incomplete at a
 * datagram's end cannot complete (PX4 and ArduPilot never split a frame across datagrams), so it is
 * dropped there instead of holding later frames hostage until more bytes arrive.
 */
export class MavlinkDecoder {
  readonly stats: MavlinkDecoderStats = { frames: 0, crcErrors: 0, unknownMsgid: 0, badFlags: 0, truncated: 0, skippedBytes: 0, signedFrames: 0 };
  private buf = Buffer.alloc(4 * MAVLINK_MAX_FRAME);
  private start = 0;
  private end = 0;
  private readonly info = newFrameInfo();

  constructor(private readonly magic: Record<number, number | undefined> = MSG_ID_MAGIC_NUMBER) {}

  /** Bytes held waiting for the rest of a frame. */
  get pending(): number {
    return this.end - this.start;
  }

  /** Feed bytes; `onFrame` runs once per valid frame, in order. `boundary`: this chunk ended a datagram. */
  push(chunk: Uint8Array, onFrame: (f: MavlinkFrame) => void, boundary = false): void {
    this.append(chunk);
    const b = this.buf;
    const info = this.info;
    const st = this.stats;
    let i = this.start;
    const end = this.end;
    while (i < end) {
      const c = b[i]!;
      if (c !== STX_V2 && c !== STX_V1) {
        st.skippedBytes++;
        i++;
        continue;
      }
      const status = checkFrame(b, i, end, this.magic, info);
      if (status !== FrameStatus.OK) {
        if (status === FrameStatus.SHORT) {
          if (!boundary) break; // wait for the rest
          st.truncated++;
        } else if (status === FrameStatus.BAD_FLAGS) st.badFlags++;
        else if (status === FrameStatus.UNKNOWN_MSGID) st.unknownMsgid++;
        else st.crcErrors++;
        st.skippedBytes++; // resync one byte on
        i++;
        continue;
      }
      st.frames++;
      if (info.signed) st.signedFrames++;
      const v2 = info.version === 2;
      const f: MavlinkFrame = {
        version: info.version,
        seq: seqAt(b, i, v2),
        sysid: sysidAt(b, i, v2),
        compid: compidAt(b, i, v2),
        msgid: info.msgid,
        signed: info.signed,
        bytes: Buffer.from(b.subarray(i, i + info.total)),
      };
      i += info.total;
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

// ---------------------------------------------------------------------------------------------------------
// Datagram mode
// ---------------------------------------------------------------------------------------------------------

export interface MavPacket {
  msgid: number;
  sysid: number;
  compid: number;
  seq: number;
  /** The decoded message, or null when the id is not in the registry (valid CRC, not used here). */
  message: MavLinkData | null;
}

const hex2 = (x: number): string => x.toString(16).padStart(2, '0');

/**
 * Split one datagram into MAVLink v2 packets. Each good packet goes to onPacket, decoded when its id is in
 * `registry`; a datagram that does not start with a packet, a packet cut short, unsupported flags, a CRC
 * mismatch or a v1 packet of a message we read goes to onError once and ends the datagram. A message id
 * with no known CRC_EXTRA (another dialect) goes to onUnknown and is skipped by its length.
 */
export function parseDatagram(
  dg: Buffer,
  onPacket: (p: MavPacket) => void,
  onError: (detail: string) => void,
  onUnknown?: (msgid: number) => void,
  registry: Record<number, MavLinkDataConstructor<MavLinkData>> = MAVLINK_REGISTRY,
  magic: Record<number, number | undefined> = MSG_ID_MAGIC_NUMBER,
): void {
  const info = newFrameInfo();
  let off = 0;
  while (off < dg.length) {
    const stx = dg[off]!;
    if (stx !== STX_V2 && stx !== STX_V1) return onError(`byte ${off} is 0x${hex2(stx)}, not a MAVLink start byte`);
    const left = dg.length - off;
    const status = checkFrame(dg, off, dg.length, magic, info);
    switch (status) {
      case FrameStatus.SHORT:
        if (left < info.headerLen + CRC_LEN) return onError(`truncated MAVLink header at byte ${off} (${left} bytes left)`);
        return onError(`truncated MAVLink packet at byte ${off}: needs ${info.total} bytes, ${left} left`);
      case FrameStatus.BAD_FLAGS:
        return onError(`MAVLink packet at byte ${off} has incompatibility flags 0x${hex2(info.flags)} (only 0x01, signed, is defined)`);
      case FrameStatus.UNKNOWN_MSGID:
        // a dialect we do not know (the VQ simulator's own messages): framed by its length, unverifiable, skipped
        onUnknown?.(info.msgid);
        off += info.total;
        continue;
      case FrameStatus.CRC:
        return onError(`MAVLink CRC mismatch on message ${info.msgid}: got 0x${info.crcGot.toString(16)}, computed 0x${info.crcWant.toString(16)}`);
    }
    const v2 = info.version === 2;
    const clazz = registry[info.msgid];
    let message: MavLinkData | null = null;
    if (clazz) {
      if (!v2) return onError(`MAVLink v1 packet for message ${info.msgid}; this link speaks v2`);
      message = decodePayload(dg.subarray(off, off + info.total), 2, clazz);
    }
    onPacket({ msgid: info.msgid, sysid: sysidAt(dg, off, v2), compid: compidAt(dg, off, v2), seq: seqAt(dg, off, v2), message });
    off += info.total;
  }
}

// ---------------------------------------------------------------------------------------------------------
// Message decode and encode
// ---------------------------------------------------------------------------------------------------------

const V1 = new MavLinkProtocolV1();
const V2 = new MavLinkProtocolV2();

/** node-mavlink's payload() zero-extends a v2-truncated payload before the fields are read. */
function decodePayload(frame: Buffer, version: 1 | 2, clazz: MavLinkDataConstructor<MavLinkData>): MavLinkData {
  const p = version === 2 ? V2 : V1;
  return p.data(p.payload(frame), clazz);
}

/** The message class for a msgid, or undefined. */
export function messageClass(msgid: number): MavLinkDataConstructor<MavLinkData> | undefined {
  return MAVLINK_REGISTRY[msgid];
}

/**
 * Decode a frame's payload into its mavlink-mappings class, or null when no class is known. Throws only
 * on a library bug; callers count that as 'decode'.
 */
export function decodeMessage(f: MavlinkFrame, registry: Record<number, MavLinkDataConstructor<MavLinkData>> = MAVLINK_REGISTRY): MavLinkData | null {
  const clazz = registry[f.msgid];
  return clazz ? decodePayload(f.bytes, f.version, clazz) : null;
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
