/**
 * MAVLink on the AI Grand Prix link: the shared codec (src/transports/mavlink) in datagram mode, reading
 * only the messages this link uses. The VQ simulator sends one or more whole packets per UDP datagram
 * and some of its own dialect; those are skipped by length and counted, never trusted.
 */
import { common, minimal, type MavLinkData, type MavLinkDataConstructor } from 'node-mavlink';
import { parseDatagram as parseMavlinkDatagram, type MavPacket } from '../mavlink/codec.js';

export { MavlinkEncoder, type MavPacket } from '../mavlink/codec.js';
export {
  armDisarm,
  attitudeFromEnu,
  attitudeTargetFromCtbr,
  common,
  ctbrFromAttitudeTarget,
  fluFromFrd,
  heartbeat,
  highresFromImu,
  imuFromHighres,
  minimal,
  nedEulerFromEnu,
  RATES_THRUST_TYPE_MASK,
} from '../mavlink/messages.js';

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

/**
 * Split one UDP datagram into MAVLink packets, decoding those in `registry` (default: what this link
 * reads). See the shared `parseDatagram` for what goes to onError and onUnknown.
 */
export function parseDatagram(
  dg: Buffer,
  onPacket: (p: MavPacket) => void,
  onError: (detail: string) => void,
  onUnknown?: (msgid: number) => void,
  registry: Record<number, MavLinkDataConstructor<MavLinkData>> = AIGP_REGISTRY,
): void {
  parseMavlinkDatagram(dg, onPacket, onError, onUnknown, registry);
}
