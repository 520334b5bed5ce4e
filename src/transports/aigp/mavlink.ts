/**
 * MAVLink v2 over UDP for the AI Grand Prix link, on node-mavlink + mavlink-mappings: their
 * generated message classes, field layouts, CRC_EXTRA table and x25 CRC; this file adds only what
 * a datagram link needs (node-mavlink's splitter is a byte stream that would glue a truncated
 * datagram to the next one): split one datagram into packets, check each packet's CRC, decode
 * the payload into its message class, and say why anything was refused.
 *
 * Frames: MAVLink is NED world / FRD body. The conversions to and from brainpilot's ENU/FLU tracts
 * live here and nowhere else.
 */
import { common, minimal, MavLinkProtocolV2, MSG_ID_MAGIC_NUMBER, x25crc, type MavLinkData, type MavLinkDataConstructor } from 'node-mavlink';
import type { CtbrCommand, ImuSample } from '../../tracts/io.js';
import type { Vec3 } from '../../math/vec3.js';

const STX_V2 = 0xfd;
const STX_V1 = 0xfe;
const V2_HEADER = 10;
const V1_HEADER = 6;
const CRC_BYTES = 2;
const SIGNATURE_BYTES = 13;

/** The messages this link reads; everything else with a valid CRC is counted as ignored. */
export const AIGP_REGISTRY = {
  [minimal.Heartbeat.MSG_ID]: minimal.Heartbeat,
  [common.Attitude.MSG_ID]: common.Attitude,
  [common.HighresImu.MSG_ID]: common.HighresImu,
  [common.TimeSync.MSG_ID]: common.TimeSync,
  [common.SetAttitudeTarget.MSG_ID]: common.SetAttitudeTarget,
  [common.CommandLong.MSG_ID]: common.CommandLong,
  [common.CommandAck.MSG_ID]: common.CommandAck,
} as Record<number, MavLinkDataConstructor<MavLinkData>>;

export interface MavPacket {
  msgid: number;
  sysid: number;
  compid: number;
  seq: number;
  /** The decoded message, or null when the id is not in the registry (valid CRC, not used here). */
  message: MavLinkData | null;
}

const v2 = new MavLinkProtocolV2();

/**
 * Split one UDP datagram into MAVLink packets. Each good packet goes to onPacket; a datagram that
 * does not start with a packet, a packet cut short, or a CRC mismatch goes to onError once and
 * ends the datagram (its remaining bytes cannot be framed reliably). A message id with no known
 * CRC_EXTRA (another dialect) goes to onUnknown and is skipped.
 */
export function parseDatagram(
  dg: Buffer,
  onPacket: (p: MavPacket) => void,
  onError: (detail: string) => void,
  onUnknown?: (msgid: number) => void,
  registry: Record<number, MavLinkDataConstructor<MavLinkData>> = AIGP_REGISTRY,
): void {
  let off = 0;
  while (off < dg.length) {
    const stx = dg[off]!;
    if (stx !== STX_V2 && stx !== STX_V1) return onError(`byte ${off} is 0x${stx.toString(16).padStart(2, '0')}, not a MAVLink start byte`);
    const hdr = stx === STX_V2 ? V2_HEADER : V1_HEADER;
    if (dg.length - off < hdr + CRC_BYTES) return onError(`truncated MAVLink header at byte ${off} (${dg.length - off} bytes left)`);
    const plen = dg[off + 1]!;
    const signed = stx === STX_V2 && (dg[off + 2]! & MavLinkProtocolV2.IFLAG_SIGNED) !== 0;
    const total = hdr + plen + CRC_BYTES + (signed ? SIGNATURE_BYTES : 0);
    if (dg.length - off < total) return onError(`truncated MAVLink packet at byte ${off}: needs ${total} bytes, ${dg.length - off} left`);
    const pkt = dg.subarray(off, off + total);
    const msgid = stx === STX_V2 ? pkt.readUIntLE(7, 3) : pkt[5]!;
    const magic = (MSG_ID_MAGIC_NUMBER as Record<number, number | undefined>)[msgid];
    if (magic === undefined) {
      // a dialect we do not know (the VQ simulator's own messages): framed by its length, unverifiable, skipped
      onUnknown?.(msgid);
      off += total;
      continue;
    }
    const crc = pkt.readUInt16LE(hdr + plen);
    const want = x25crc(pkt, 1, (signed ? SIGNATURE_BYTES : 0) + CRC_BYTES, magic);
    if (crc !== want) return onError(`MAVLink CRC mismatch on message ${msgid}: got 0x${crc.toString(16)}, computed 0x${want.toString(16)}`);
    const clazz = registry[msgid];
    let message: MavLinkData | null = null;
    if (clazz) {
      if (stx !== STX_V2) return onError(`MAVLink v1 packet for message ${msgid}; this link speaks v2`);
      // payload is zero-truncated in v2: pad it back to the full length before decoding
      const payload = Buffer.alloc(Math.max(clazz.PAYLOAD_LENGTH + 32, plen));
      pkt.copy(payload, 0, hdr, hdr + plen);
      message = v2.data(payload, clazz);
    }
    onPacket({ msgid, sysid: pkt[stx === STX_V2 ? 5 : 3]!, compid: pkt[stx === STX_V2 ? 6 : 4]!, seq: pkt[stx === STX_V2 ? 4 : 2]!, message });
    off += total;
  }
}

/** Serialises outgoing messages as one system/component, with its own sequence counter. */
export class MavEncoder {
  private readonly proto: MavLinkProtocolV2;
  private seq = 0;
  constructor(
    readonly systemId: number,
    readonly componentId: number,
  ) {
    this.proto = new MavLinkProtocolV2(systemId, componentId);
  }

  encode(msg: MavLinkData): Buffer {
    const b = this.proto.serialize(msg, this.seq);
    this.seq = (this.seq + 1) & 0xff;
    return b;
  }
}

// --- frames: FLU ↔ FRD is a sign flip of y and z; ENU ↔ NED swaps x/y and flips z -----------------

export const fluFromFrd = (x: number, y: number, z: number): Vec3 => [x, -y, -z];

/** HIGHRES_IMU → ImuSample. xacc..zacc is specific force in FRD (≈ [0, 0, −9.81] level at rest). */
export function imuFromHighres(m: common.HighresImu): ImuSample {
  return {
    stampS: Number(m.timeUsec) / 1e6,
    gyroRadS: fluFromFrd(m.xgyro, m.ygyro, m.zgyro),
    accelMS2: fluFromFrd(m.xacc, m.yacc, m.zacc),
  };
}

/** ImuSample → HIGHRES_IMU (the simulator side). */
export function highresFromImu(s: ImuSample, out = new common.HighresImu()): common.HighresImu {
  out.timeUsec = BigInt(Math.round(s.stampS * 1e6));
  out.xacc = s.accelMS2[0];
  out.yacc = -s.accelMS2[1];
  out.zacc = -s.accelMS2[2];
  out.xgyro = s.gyroRadS[0];
  out.ygyro = -s.gyroRadS[1];
  out.zgyro = -s.gyroRadS[2];
  out.fieldsUpdated = 0x3f as common.HighresImuUpdatedFlags; // acc + gyro
  return out;
}

/** ENU/FLU Euler (roll, pitch nose-down positive, yaw from east CCW) → NED/FRD Euler. */
export function nedEulerFromEnu(rollRad: number, pitchRad: number, yawRad: number): Vec3 {
  let yaw = Math.PI / 2 - yawRad;
  yaw = Math.atan2(Math.sin(yaw), Math.cos(yaw));
  return [rollRad, -pitchRad, yaw];
}

/** SET_ATTITUDE_TARGET bits: use body rates and thrust, ignore the attitude quaternion. */
export const TYPE_MASK_RATES_THRUST = common.AttitudeTargetTypemask.ATTITUDE_IGNORE;

/**
 * CtbrCommand → SET_ATTITUDE_TARGET: collective thrust normalised by maxThrustN to 0..1, body rates
 * FLU → FRD. Returns null (send nothing) for a command that is not finite.
 */
export function attitudeTargetFromCtbr(
  cmd: CtbrCommand,
  o: { maxThrustN: number; maxRateRadS: readonly number[]; timeBootMs: number; targetSystem: number; targetComponent: number },
): common.SetAttitudeTarget | null {
  const r = cmd.rateRadS;
  if (!Number.isFinite(cmd.thrustN) || !Number.isFinite(r[0]) || !Number.isFinite(r[1]) || !Number.isFinite(r[2])) return null;
  const m = new common.SetAttitudeTarget();
  m.timeBootMs = Math.max(0, Math.min(0xffffffff, Math.floor(o.timeBootMs)));
  m.targetSystem = o.targetSystem;
  m.targetComponent = o.targetComponent;
  m.typeMask = TYPE_MASK_RATES_THRUST;
  m.q = [1, 0, 0, 0];
  const lim = (v: number, a: number): number => Math.max(-a, Math.min(a, v));
  m.bodyRollRate = lim(r[0], o.maxRateRadS[0] ?? Infinity);
  m.bodyPitchRate = lim(-r[1], o.maxRateRadS[1] ?? Infinity);
  m.bodyYawRate = lim(-r[2], o.maxRateRadS[2] ?? Infinity);
  m.thrust = Math.max(0, Math.min(1, cmd.thrustN / o.maxThrustN));
  m.thrustBody = [0, 0, 0];
  return m;
}

/** SET_ATTITUDE_TARGET → CtbrCommand (the simulator side); null when it is not rates + thrust or not finite. */
export function ctbrFromAttitudeTarget(m: common.SetAttitudeTarget, maxThrustN: number, stampS: number): { cmd: CtbrCommand | null; why?: string } {
  if ((m.typeMask & TYPE_MASK_RATES_THRUST) === 0) return { cmd: null, why: `type_mask 0x${m.typeMask.toString(16)} asks for an attitude target; this simulator takes rates + thrust` };
  if ((m.typeMask & 0x07) !== 0 || (m.typeMask & common.AttitudeTargetTypemask.THROTTLE_IGNORE) !== 0)
    return { cmd: null, why: `type_mask 0x${m.typeMask.toString(16)} ignores a rate or the thrust` };
  const vals = [m.thrust, m.bodyRollRate, m.bodyPitchRate, m.bodyYawRate];
  if (!vals.every(Number.isFinite)) return { cmd: null, why: `non-finite field in [${vals.join(', ')}]` };
  if (m.thrust < 0 || m.thrust > 1) return { cmd: null, why: `thrust ${m.thrust} outside 0..1` };
  return { cmd: { kind: 'ctbr', stampS, thrustN: m.thrust * maxThrustN, rateRadS: fluFromFrd(m.bodyRollRate, m.bodyPitchRate, m.bodyYawRate) } };
}

/** The client's HEARTBEAT: a GCS/onboard-computer component, not an autopilot. */
export function clientHeartbeat(): minimal.Heartbeat {
  const h = new minimal.Heartbeat();
  h.type = minimal.MavType.ONBOARD_CONTROLLER;
  h.autopilot = minimal.MavAutopilot.INVALID;
  h.baseMode = 0 as minimal.MavModeFlag;
  h.customMode = 0;
  h.systemStatus = minimal.MavState.ACTIVE;
  h.mavlinkVersion = 3;
  return h;
}

/** COMMAND_LONG MAV_CMD_COMPONENT_ARM_DISARM: param1 1 = arm, 0 = disarm. */
export function armDisarm(arm: boolean, targetSystem: number, targetComponent: number, confirmation = 0): common.CommandLong {
  const c = new common.CommandLong();
  c.targetSystem = targetSystem;
  c.targetComponent = targetComponent;
  c.command = common.MavCmd.COMPONENT_ARM_DISARM;
  c.confirmation = confirmation;
  c._param1 = arm ? 1 : 0;
  c._param2 = 0;
  c._param3 = 0;
  c._param4 = 0;
  c._param5 = 0;
  c._param6 = 0;
  c._param7 = 0;
  return c;
}

export { common, minimal };
