/**
 * `brainpilot fc probe --link <uri>`: connect to a flight controller and say who it is, whether it
 * is armed, what stops it from arming (by name) and what the preflight check finds. Betaflight over
 * MSP; PX4 and ArduPilot over MAVLink (identity from HEARTBEAT + AUTOPILOT_VERSION, mode, armed,
 * SYS_STATUS sensor health by name).
 *
 * Protocol: `auto` takes MAVLink on UDP; on TCP/serial it listens (without sending anything) for a
 * MAVLink frame for up to 1.5 s — PX4 and ArduPilot send HEARTBEATs unasked, an MSP FC is silent until
 * asked — and falls back to MSP.
 */
import { common, minimal, standard } from 'node-mavlink';
import { openLink, type Link } from '../../firmware-bridge/link/index.js';
import { BetaflightBridge } from '../../firmware-bridge/betaflight/index.js';
import { MavlinkDecoder } from '../../firmware-bridge/mavlink/codec.js';
import { MavlinkSession } from '../../firmware-bridge/mavlink/session.js';
import { MSG } from '../../firmware-bridge/mavlink/messages.js';
import { autopilotName } from '../../firmware-bridge/mavlink/bridge.js';
import { GUID_OPTIONS_THRUST_AS_THRUST } from '../../firmware-bridge/mavlink/ardupilot.js';

export type ProbeProtocol = 'auto' | 'msp' | 'mavlink';

export type ProbeReport = MspProbeReport | MavlinkProbeReport;

export interface MspProbeReport {
  link: string;
  protocol: 'msp';
  identity: { apiVersion: string; variant: string; version: string; board: string };
  armed: boolean;
  armingDisableFlags: string[];
  preflight: string[];
  /** Would the FC fail safe on its own if brainpilot died? [] = yes (see BetaflightBridge.fcFailsafeProblems). */
  failsafe: string[];
}

function waitOpen(link: Link, timeoutMs: number, uri: string): Promise<void> {
  if (link.connected) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => {
      link.off('open', onOpen);
      reject(new Error(`no connection on ${uri} within ${timeoutMs} ms`));
    }, timeoutMs);
    const onOpen = (): void => {
      clearTimeout(t);
      resolve();
    };
    link.once('open', onOpen);
  });
}

export interface MavlinkProbeReport {
  link: string;
  protocol: 'mavlink';
  identity: {
    sysid: number;
    compid: number;
    /** "PX4", "ArduPilot". */
    autopilot: string;
    /** MAV_TYPE name, "QUADROTOR". */
    vehicleType: string;
    /** "1.16.0" from AUTOPILOT_VERSION, or null when the FC did not answer. */
    firmware: string | null;
  };
  mode: string;
  armed: boolean;
  /** MAV_STATE name, "STANDBY". */
  systemStatus: string;
  /** SYS_STATUS sensors present, and those present + enabled but not healthy, by name. */
  sensorsPresent: string[];
  sensorsUnhealthy: string[];
  preflight: string[];
}

const enumName = (e: object, v: number): string => (e as Record<number, string | undefined>)[v] ?? String(v);

function sensorNames(mask: number): string[] {
  const out: string[] = [];
  for (let bit = 0; bit < 31; bit++) {
    const v = 2 ** bit;
    if (mask & v) out.push(enumName(common.MavSysStatusSensor, v));
  }
  return out;
}

/** Wait passively for one valid MAVLink frame on a stream link (no bytes sent). */
function heardMavlink(link: Link, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const dec = new MavlinkDecoder();
    const onData = (c: Buffer): void => dec.push(c, () => done(true));
    const t = setTimeout(() => done(false), ms);
    let settled = false;
    const done = (v: boolean): void => {
      if (settled) return;
      settled = true;
      clearTimeout(t);
      link.off('data', onData);
      resolve(v);
    };
    link.on('data', onData);
  });
}

export async function probeFc(uri: string, timeoutMs = 3000, protocol: ProbeProtocol = 'auto'): Promise<ProbeReport> {
  const link = openLink(uri);
  link.on('error', () => {}); // counted in link.stats; the probe reports its own timeout
  let proto = protocol;
  if (proto === 'auto') {
    if (link.spec.kind === 'udp') proto = 'mavlink';
    else {
      try {
        await waitOpen(link, timeoutMs, uri);
      } catch (e) {
        await link.close();
        throw e;
      }
      proto = (await heardMavlink(link, Math.min(1500, timeoutMs))) ? 'mavlink' : 'msp';
    }
  }
  return proto === 'mavlink' ? probeMavlink(link, uri, timeoutMs) : probeMsp(link, uri, timeoutMs);
}

async function probeMavlink(link: Link, uri: string, timeoutMs: number): Promise<MavlinkProbeReport> {
  const s = new MavlinkSession(link, { commandTimeoutMs: 300, commandRetries: 2 });
  try {
    const v = await s.waitForState(() => true, timeoutMs, `no MAVLink HEARTBEAT from an autopilot on ${uri}`).catch((e: unknown) => {
      throw new Error((e as Error).message.replace(/: not seen within/, ' within'));
    });
    // AUTOPILOT_VERSION: ask once; an FC that does not answer is reported, not fatal
    const versionP = s.waitForMessage<standard.AutopilotVersion>(MSG.AUTOPILOT_VERSION, 1500).catch(() => null);
    await s.requestMessage(MSG.AUTOPILOT_VERSION).catch(() => undefined);
    const version = await versionP;
    let sys = await s.waitForMessage<common.SysStatus>(MSG.SYS_STATUS, 1200).catch(() => null);
    if (!sys) {
      const p = s.waitForMessage<common.SysStatus>(MSG.SYS_STATUS, 1000).catch(() => null);
      await s.requestMessage(MSG.SYS_STATUS).catch(() => undefined);
      sys = await p;
    }
    const now = s.vehicle ?? v;
    const fw = version ? version.flightSwVersion >>> 0 : null;
    const firmware = fw === null ? null : `${(fw >>> 24) & 0xff}.${(fw >>> 16) & 0xff}.${(fw >>> 8) & 0xff}`;
    const present = sys ? sys.onboardControlSensorsPresent >>> 0 : 0;
    const unhealthyMask = sys ? (present & (sys.onboardControlSensorsEnabled >>> 0) & ~(sys.onboardControlSensorsHealth >>> 0)) >>> 0 : 0;
    const unhealthy = sensorNames(unhealthyMask);
    const preflight: string[] = [];
    if (now.autopilot !== minimal.MavAutopilot.PX4 && now.autopilot !== minimal.MavAutopilot.ARDUPILOTMEGA) {
      preflight.push(`autopilot is ${autopilotName(now.autopilot)}: brainpilot flies PX4 (transport px4) and ArduPilot (transport ardupilot)`);
    }
    if (now.armed) preflight.push('the FC is already armed');
    if (now.autopilot === minimal.MavAutopilot.ARDUPILOTMEGA) {
      const guid = await s.readParam('GUID_OPTIONS', { retries: 1, timeoutMs: 400 }).catch(() => null);
      if (guid === null) preflight.push('GUID_OPTIONS could not be read');
      else if ((Math.round(guid) & GUID_OPTIONS_THRUST_AS_THRUST) === 0) {
        preflight.push(`GUID_OPTIONS is ${guid}: set bit 3 (${Math.round(guid) | GUID_OPTIONS_THRUST_AS_THRUST}) or ArduCopter reads brainpilot's thrust as a climb rate`);
      }
    }
    if (!sys) preflight.push('no SYS_STATUS: sensor health unknown');
    else if (unhealthy.length) preflight.push(`unhealthy: ${unhealthy.join(', ')}`);
    if (!version) preflight.push('no AUTOPILOT_VERSION answer (MAV_CMD_REQUEST_MESSAGE 148)');
    else if ((BigInt(version.capabilities) & BigInt(standard.MavProtocolCapability.SET_ATTITUDE_TARGET)) === 0n) preflight.push('the FC does not advertise SET_ATTITUDE_TARGET (body-rate setpoints)');
    return {
      link: uri,
      protocol: 'mavlink',
      identity: { sysid: now.sysid, compid: now.compid, autopilot: autopilotName(now.autopilot), vehicleType: enumName(minimal.MavType, now.type), firmware },
      mode: now.mode,
      armed: now.armed,
      systemStatus: enumName(minimal.MavState, now.systemStatus),
      sensorsPresent: sensorNames(present),
      sensorsUnhealthy: unhealthy,
      preflight,
    };
  } finally {
    await s.close();
  }
}

async function probeMsp(link: Link, uri: string, timeoutMs: number): Promise<MspProbeReport> {
  const bridge = new BetaflightBridge(link, { requestTimeoutMs: 300, retries: 2 });
  try {
    await waitOpen(link, timeoutMs, uri);
    const identity = await bridge.identify();
    const status = await bridge.status();
    const preflight = await bridge.preflight();
    const failsafe = await bridge
      .fcFailsafeProblems({ mspOverrideFailsafe: false })
      .catch((e: unknown) => [`could not read the receiver / failsafe configuration: ${e instanceof Error ? e.message : String(e)}`]);
    return { link: uri, protocol: 'msp', identity, armed: status.armed, armingDisableFlags: status.armingDisableFlags, preflight, failsafe };
  } finally {
    await link.close();
  }
}

export function probeLines(r: ProbeReport): string[] {
  if (r.protocol === 'mavlink') {
    const m = r.identity;
    return [
      `${r.link} · MAVLink · ${m.autopilot}${m.firmware ? ` ${m.firmware}` : ''} (system ${m.sysid}, component ${m.compid}, ${m.vehicleType})`,
      `  mode: ${r.mode}, ${r.systemStatus}`,
      `  armed: ${r.armed ? 'yes' : 'no'}`,
      `  sensors unhealthy: ${r.sensorsUnhealthy.length ? r.sensorsUnhealthy.join(', ') : 'none'} (present: ${r.sensorsPresent.join(', ') || 'unknown'})`,
      ...(r.preflight.length ? ['  preflight:', ...r.preflight.map((p) => `    - ${p}`)] : ['  preflight: ok']),
    ];
  }
  const id = r.identity;
  return [
    `${r.link} · MSP · ${id.variant} ${id.version} (API ${id.apiVersion}) on ${id.board}`,
    `  armed: ${r.armed ? 'yes' : 'no'}`,
    `  arming disabled by: ${r.armingDisableFlags.length ? r.armingDisableFlags.join(', ') : 'nothing (ready to arm)'}`,
    ...(r.preflight.length ? ['  preflight:', ...r.preflight.map((p) => `    - ${p}`)] : ['  preflight: ok']),
    ...(r.failsafe.length ? ['  if brainpilot dies:', ...r.failsafe.map((p) => `    - ${p}`)] : ['  if brainpilot dies: the FC fails safe on its own (MSP is its receiver)']),
  ];
}
