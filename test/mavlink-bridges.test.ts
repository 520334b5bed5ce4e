/**
 * The MAVLink session and the PX4 / ArduPilot bridges against the loopback FC emulator over real UDP and
 * TCP sockets on 127.0.0.1: our HEARTBEAT, ACK retries and timeouts with the result named, PX4 refusing
 * OFFBOARD without a setpoint stream, arming refused then accepted, offboard loss detected within the
 * configured time, setpoints FLU → FRD with thrust normalised, landing; ArduPilot GUIDED / arm / takeoff.
 */
import dgram from 'node:dgram';
import { afterEach, describe, expect, it } from 'vitest';
import { common } from 'node-mavlink';
import { openLink } from '../firmware-bridge/link/index.js';
import { MavlinkDecoder, MavlinkEncoder } from '../firmware-bridge/mavlink/codec.js';
import { MavlinkFcEmulator, type MavlinkFcEmulatorOptions } from '../firmware-bridge/mavlink/emulator.js';
import { MavCmd, MSG } from '../firmware-bridge/mavlink/messages.js';
import { MavlinkCommandError, MavlinkSession, MavlinkTimeoutError, type MavlinkSessionOptions } from '../firmware-bridge/mavlink/session.js';
import { Px4Bridge, type Px4BridgeOptions } from '../firmware-bridge/mavlink/px4.js';
import { ArduPilotBridge } from '../firmware-bridge/mavlink/ardupilot.js';
import type { MavlinkFcBridge } from '../firmware-bridge/mavlink/bridge.js';
import type { ImuSample } from '../src/tracts/io.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
});

async function emulator(o: MavlinkFcEmulatorOptions): Promise<MavlinkFcEmulator> {
  const emu = new MavlinkFcEmulator(o);
  await emu.start();
  cleanups.push(async () => {
    await emu.close();
    expect(emu.handlerErrors).toEqual([]);
  });
  return emu;
}

function session(emu: MavlinkFcEmulator, o: MavlinkSessionOptions = {}): MavlinkSession {
  const link = openLink(emu.uri);
  link.on('error', () => {});
  const s = new MavlinkSession(link, { commandTimeoutMs: 150, ...o });
  cleanups.push(() => s.close());
  return s;
}

function px4(emu: MavlinkFcEmulator, o: Partial<Px4BridgeOptions> = {}, so: MavlinkSessionOptions = {}): Px4Bridge {
  const b = new Px4Bridge(session(emu, so), { maxThrustN: 16, preStreamS: 0.15, setpointRateHz: 50, ...o });
  cleanups.push(() => b.close());
  return b;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('MAVLink session', () => {
  it('sends its HEARTBEAT at the configured rate (≥ 1 Hz) once the link is up', async () => {
    const emu = await emulator({ autopilot: 'px4' });
    const s = session(emu, { heartbeatHz: 4 });
    await s.waitForState(() => true, 2000, 'first HEARTBEAT');
    const n0 = emu.heartbeatsIn;
    await sleep(1050);
    expect(emu.heartbeatsIn - n0).toBeGreaterThanOrEqual(3);
    expect(() => session(emu, { heartbeatHz: 0.5 })).toThrow(/heartbeatHz must be 1..50/);
  });

  it('re-sends a command whose ACK was lost, with confirmation counting the attempts', async () => {
    const emu = await emulator({ autopilot: 'px4' });
    const s = session(emu);
    await s.waitForState(() => true, 2000, 'HEARTBEAT');
    emu.dropAcks = 1;
    const ack = await s.setMessageInterval(MSG.ATTITUDE, 20_000);
    expect(ack.result).toBe(0);
    const sent = emu.commands.filter((c) => c.command === MavCmd.SET_MESSAGE_INTERVAL);
    expect(sent.map((c) => c.confirmation)).toEqual([0, 1]);
    expect(s.stats.commandRetries).toBe(1);
    expect(emu.acksDropped).toBe(1);
  });

  it('gives up after its retries with an error naming the command and the attempts', async () => {
    const emu = await emulator({ autopilot: 'px4' });
    const s = session(emu);
    await s.waitForState(() => true, 2000, 'HEARTBEAT');
    emu.dropAcks = 100;
    const err = await s.command(MavCmd.NAV_LAND, [], { retries: 2, timeoutMs: 80 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MavlinkTimeoutError);
    expect(String(err)).toMatch(/MAV_CMD_NAV_LAND \(21\): no COMMAND_ACK after 3 attempt\(s\) of 80 ms/);
    expect(emu.commands.filter((c) => c.command === MavCmd.NAV_LAND)).toHaveLength(3);
  });

  it('waits through IN_PROGRESS without re-sending, names DENIED, ignores ACKs meant for another GCS', async () => {
    // a scripted FC on a raw UDP socket: IN_PROGRESS, then ACCEPTED 150 ms later; DENIED for arming
    const sock = dgram.createSocket('udp4');
    await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
    cleanups.push(() => new Promise((r) => sock.close(() => r())));
    const enc = new MavlinkEncoder(1, 1);
    const dec = new MavlinkDecoder();
    const received: number[] = [];
    sock.on('message', (msg, rinfo) =>
      dec.push(
        msg,
        (f) => {
          if (f.msgid !== MSG.COMMAND_LONG) return;
          const cmd = msg.readUInt16LE(10 + 28);
          received.push(cmd);
          const ack = (result: number): void => {
            const a = new common.CommandAck();
            Object.assign(a, { command: cmd, result, progress: 0, resultParam2: 0, targetSystem: 255, targetComponent: 190 });
            sock.send(enc.encode(a), rinfo.port, rinfo.address);
          };
          if (cmd === MavCmd.COMPONENT_ARM_DISARM) {
            // an ACCEPTED addressed to another GCS first: not ours, must be ignored
            const other = new common.CommandAck();
            Object.assign(other, { command: cmd, result: 0, progress: 0, resultParam2: 0, targetSystem: 254, targetComponent: 190 });
            sock.send(enc.encode(other), rinfo.port, rinfo.address);
            return ack(2);
          }
          ack(5);
          setTimeout(() => ack(0), 150);
        },
        true,
      ),
    );
    const link = openLink(`udp:127.0.0.1:${sock.address().port}`);
    const s = new MavlinkSession(link, { commandTimeoutMs: 60, inProgressTimeoutMs: 1000 });
    cleanups.push(() => s.close());
    const ack = await s.command(MavCmd.PREFLIGHT_CALIBRATION, [0, 0, 0, 0, 1]);
    expect(ack.result).toBe(0);
    expect(received.filter((c) => c === MavCmd.PREFLIGHT_CALIBRATION)).toHaveLength(1); // no re-send during IN_PROGRESS
    const err = await s.command(MavCmd.COMPONENT_ARM_DISARM, [1]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MavlinkCommandError);
    expect(String(err)).toMatch(/MAV_CMD_COMPONENT_ARM_DISARM \(400\): DENIED/);
    expect(s.stats.unmatchedAcks).toBeGreaterThanOrEqual(1);
  });
});

describe('PX4 bridge (UDP)', () => {
  it('PX4 refuses OFFBOARD without a setpoint stream; the bridge streams first and gets OFFBOARD, then arms', async () => {
    const emu = await emulator({ autopilot: 'px4', heartbeatHz: 10 });
    // a bare session asking for OFFBOARD without setpoints is refused, with PX4's reason
    const bare = session(emu);
    await bare.waitForState(() => true, 2000, 'HEARTBEAT');
    const err = await bare.command(MavCmd.DO_SET_MODE, [1, 6]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MavlinkCommandError);
    expect((err as MavlinkCommandError).resultName).toBe('TEMPORARILY_REJECTED');
    expect(String(err)).toMatch(/Offboard is currently not available/);
    expect(emu.mode).toBe('AUTO.LOITER');
    await bare.close();

    const b = px4(emu);
    await b.start();
    expect(emu.mode).toBe('OFFBOARD');
    expect(emu.armed).toBe(true);
    expect(b.engaged).toBe(true);
    // the setpoint stream began before the accepted mode switch, which came before arming
    const modeCmds = emu.commands.filter((c) => c.command === MavCmd.DO_SET_MODE);
    const armCmd = emu.commands.find((c) => c.command === MavCmd.COMPONENT_ARM_DISARM)!;
    const lastModeCmd = modeCmds[modeCmds.length - 1]!;
    expect(lastModeCmd.params.slice(0, 2)).toEqual([1, 6]);
    expect(emu.attitudeTargets[0]!.tMs).toBeLessThan(lastModeCmd.tMs - 100);
    expect(lastModeCmd.tMs).toBeLessThan(armCmd.tMs);
    // the streams it asked for
    const intervals = emu.commands.filter((c) => c.command === MavCmd.SET_MESSAGE_INTERVAL).map((c) => c.params[0]);
    expect(intervals).toEqual([MSG.HIGHRES_IMU, MSG.ATTITUDE, MSG.LOCAL_POSITION_NED, MSG.HEARTBEAT]);
  });

  it('arming refused while a pre-arm check fails (named), accepted once the FC is ready', async () => {
    const emu = await emulator({ autopilot: 'px4', heartbeatHz: 10, armCheck: 'Accel #0 uncalibrated' });
    const refused = px4(emu, { armTimeoutS: 0.5, armRetryIntervalS: 0.2 });
    await expect(refused.start()).rejects.toThrow(/PX4 arming refused after \d+ attempt\(s\): MAV_CMD_COMPONENT_ARM_DISARM \(400\): TEMPORARILY_REJECTED \(FC says: .*Arming denied: Accel #0 uncalibrated/);
    expect(emu.armed).toBe(false);
    await refused.close();

    const emu2 = await emulator({ autopilot: 'px4', heartbeatHz: 10, readyAfterS: 0.9 });
    const b = px4(emu2, { armTimeoutS: 5, armRetryIntervalS: 0.2 });
    await b.start();
    const arms = emu2.commands.filter((c) => c.command === MavCmd.COMPONENT_ARM_DISARM);
    expect(arms.length).toBeGreaterThanOrEqual(2); // refused at least once, then accepted
    expect(emu2.statusTexts.some((t) => t.startsWith('Arming denied'))).toBe(true);
    expect(emu2.armed).toBe(true);
  });

  it('setpoints: FLU rates go out FRD, thrust normalised by max thrust and clamped, NaN refused', async () => {
    const emu = await emulator({ autopilot: 'px4', heartbeatHz: 10 });
    const b = px4(emu, { maxRateRadS: [5, 5, 2] });
    await b.start();
    const n0 = emu.attitudeTargets.length;
    expect(b.setpoint({ thrustN: 8, rateRadS: [0.5, 0.25, -1] })).toBe(true);
    expect(b.setpoint({ thrustN: 40, rateRadS: [9, 0, 3] })).toBe(true);
    expect(b.setpoint({ thrustN: Number.NaN, rateRadS: [0, 0, 0] })).toBe(false);
    expect(b.lastRejectReason).toMatch(/non-finite/);
    // a keep-alive setpoint sent just before the first caller setpoint may still be in flight: skip those
    const ours = (): typeof emu.attitudeTargets => emu.attitudeTargets.slice(n0).filter((t) => t.thrust > 0);
    await emu.waitFor(() => ours().length >= 2, 1000, 'two setpoints');
    const [a, c] = ours();
    expect(a!.typeMask).toBe(128);
    expect(a!.ratesFrd).toEqual([0.5, -0.25, 1]);
    expect(a!.thrust).toBeCloseTo(0.5, 6);
    expect(c!.thrust).toBe(1);
    expect(c!.ratesFrd).toEqual([5, -0, -2]);
    expect(b.stats.clamped).toBe(1);
    expect(b.stats.rejectedNonFinite).toBe(1);
    // the keep-alive stopped with the first caller setpoint: nothing more arrives on its own
    const n1 = emu.attitudeTargets.length;
    await sleep(120);
    expect(emu.attitudeTargets.length).toBe(n1);
  });

  it('streams HIGHRES_IMU as ImuSample in FLU (at rest: +g up) and the pose in ENU', async () => {
    const emu = await emulator({ autopilot: 'px4', heartbeatHz: 10 });
    const b = px4(emu, { imuRateHz: 100 });
    const imu: ImuSample[] = [];
    b.on('imu', (s) => imu.push(s));
    await b.start();
    await emu.waitFor(() => imu.length >= 10 && b.pose !== null, 2000, 'IMU and pose');
    const s = imu[imu.length - 1]!;
    expect(s.accelMS2[2]).toBeCloseTo(9.80665, 3);
    expect(imu.every((x, i) => i === 0 || x.stampS > imu[i - 1]!.stampS)).toBe(true);
    expect(b.pose!.quatEnuFlu[3]).toBeCloseTo(Math.SQRT1_2, 6); // nose north = ENU yaw 90°
  });

  it('offboard loss: setpoints stop, PX4 falls back after COM_OF_LOSS_T, the bridge reports it within that + one HEARTBEAT', async () => {
    const lossS = 0.3;
    const hbHz = 10;
    // the FC boots with a 1 Hz HEARTBEAT; the bridge asks for fcHeartbeatHz so a mode change shows soon
    const emu = await emulator({ autopilot: 'px4', heartbeatHz: 1, offboardLossTimeoutS: lossS });
    const b = px4(emu, { fcHeartbeatHz: hbHz });
    await b.start();
    const lost = new Promise<{ why: string; tMs: number }>((r) => b.once('lost', (why) => r({ why, tMs: performance.now() })));
    // the caller flies for a moment, then stalls
    for (let i = 0; i < 10; i++) {
      b.setpoint({ thrustN: 4, rateRadS: [0, 0, 0] });
      await sleep(20);
    }
    const lastSetpointMs = emu.attitudeTargets[emu.attitudeTargets.length - 1]!.tMs;
    const l = await lost;
    expect(l.why).toMatch(/PX4 left OFFBOARD for AUTO\.LAND.*no offboard signal/);
    const latencyMs = l.tMs - lastSetpointMs;
    expect(latencyMs).toBeGreaterThan(lossS * 1000 - 20);
    expect(latencyMs).toBeLessThan(lossS * 1000 + 1000 / hbHz + 150);
    expect(b.setpoint({ thrustN: 4, rateRadS: [0, 0, 0] })).toBe(false);
    expect(b.lastRejectReason).toMatch(/control lost/);
    await emu.waitFor(() => !emu.armed, 3000, 'PX4 lands and disarms');
  });

  it('disarm in the air is refused by PX4, so the bridge lands (NAV_LAND) and waits for "Disarmed by landing"', async () => {
    const emu = await emulator({ autopilot: 'px4', heartbeatHz: 10, landSpeedMS: 3 });
    const b = px4(emu);
    await b.start();
    const climb = setInterval(() => b.setpoint({ thrustN: 12, rateRadS: [0, 0, 0] }), 10);
    await emu.waitFor(() => emu.altitudeM > 0.5, 3000, 'climb to 0.5 m');
    clearInterval(climb);
    await b.disarm('test');
    expect(emu.armed).toBe(false);
    expect(emu.commands.some((c) => c.command === MavCmd.NAV_LAND)).toBe(true);
    expect(emu.statusTexts).toContain('Disarming denied: not landed');
    expect(emu.statusTexts).toContain('Disarmed by landing');
  });

  it('a sensor message with a non-finite value is dropped and reported, the next good one flows', async () => {
    const sock = dgram.createSocket('udp4');
    await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
    cleanups.push(() => new Promise((r) => sock.close(() => r())));
    const link = openLink(`udp:127.0.0.1:${sock.address().port}`);
    const b = new Px4Bridge(new MavlinkSession(link), { maxThrustN: 16 });
    cleanups.push(() => b.close());
    const imu: ImuSample[] = [];
    const rejects: string[] = [];
    b.on('imu', (s) => imu.push(s));
    b.on('reject', (d) => rejects.push(d));
    const peer = await new Promise<{ port: number }>((r) => sock.once('message', (_m, rinfo) => r(rinfo)));
    const enc = new MavlinkEncoder(1, 1);
    const highres = (zacc: number, tUs: bigint): Buffer => {
      const m = new common.HighresImu();
      Object.assign(m, { timeUsec: tUs, xacc: 0, yacc: 0, zacc, xgyro: 0, ygyro: 0, zgyro: 0, xmag: 0, ymag: 0, zmag: 0, absPressure: 0, diffPressure: 0, pressureAlt: 0, temperature: 0, fieldsUpdated: 0, id: 0 });
      return enc.encode(m);
    };
    sock.send(highres(Number.NaN, 1000n), peer.port, '127.0.0.1');
    sock.send(highres(-9.8, 2000n), peer.port, '127.0.0.1');
    const t0 = performance.now();
    while (imu.length < 1 && performance.now() - t0 < 1000) await sleep(5);
    expect(rejects).toEqual(['HIGHRES_IMU with a non-finite value']);
    expect(imu).toHaveLength(1);
    expect(imu[0]!.accelMS2[2]).toBeCloseTo(9.8, 5);
    expect(b.stats.malformedSensor).toBe(1);
  });

  it('refuses to start on an ArduPilot, naming what it found', async () => {
    const emu = await emulator({ autopilot: 'ardupilot', transport: 'udp' });
    const b = px4(emu);
    await expect(b.start()).rejects.toThrow(/is autopilot 3 \(ArduPilot\), not PX4/);
  });

  it('says clearly when no HEARTBEAT arrives', async () => {
    const sock = dgram.createSocket('udp4');
    await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
    cleanups.push(() => new Promise((r) => sock.close(() => r())));
    const link = openLink(`udp:127.0.0.1:${sock.address().port}`);
    const b = new Px4Bridge(new MavlinkSession(link), { maxThrustN: 16, connectTimeoutS: 0.3 });
    cleanups.push(() => b.close());
    await expect(b.start()).rejects.toThrow(/HEARTBEAT from system 1 on udp:127\.0\.0\.1:\d+: not seen within 300 ms \(vehicle: no HEARTBEAT yet\)/);
  });
});

describe('ArduPilot bridge (TCP)', () => {
  function ardupilot(emu: MavlinkFcEmulator, o: Record<string, unknown> = {}): ArduPilotBridge {
    const b = new ArduPilotBridge(session(emu), { maxThrustN: 16, takeoffAltM: 1, armRetryIntervalS: 0.2, ...o });
    cleanups.push(() => b.close());
    return b;
  }

  it('GUIDED (repeated until the HEARTBEAT shows it), arm with retries, takeoff, setpoints, land', async () => {
    const emu = await emulator({ autopilot: 'ardupilot', heartbeatHz: 10, readyAfterS: 1.2 });
    const b: MavlinkFcBridge = ardupilot(emu);
    await b.start();
    expect(emu.mode).toBe('GUIDED');
    expect(emu.armed).toBe(true);
    expect(emu.altitudeM).toBeGreaterThan(0.85);
    const cmds = emu.commands.map((c) => c.command);
    const firstGuided = cmds.indexOf(MavCmd.DO_SET_MODE);
    expect(cmds.filter((c) => c === MavCmd.DO_SET_MODE).length).toBeGreaterThanOrEqual(2); // refused before the EKF origin
    expect(cmds.indexOf(MavCmd.COMPONENT_ARM_DISARM)).toBeGreaterThan(firstGuided);
    expect(cmds.indexOf(MavCmd.NAV_TAKEOFF)).toBeGreaterThan(cmds.lastIndexOf(MavCmd.COMPONENT_ARM_DISARM));
    const takeoff = emu.commands.find((c) => c.command === MavCmd.NAV_TAKEOFF)!;
    expect(takeoff.params[6]).toBe(1);
    expect(emu.statusTexts.some((t) => /GUIDED failed/.test(t))).toBe(true);
    // SCALED_IMU, not HIGHRES_IMU, on ArduPilot
    expect(emu.commands.filter((c) => c.command === MavCmd.SET_MESSAGE_INTERVAL).map((c) => c.params[0])).toContain(MSG.SCALED_IMU);

    expect(b.setpoint({ thrustN: 8, rateRadS: [0, 0.1, 0] })).toBe(true);
    await emu.waitFor(() => emu.attitudeTargets.some((t) => t.mode === 'GUIDED' && Math.abs(t.ratesFrd[1] + 0.1) < 1e-6), 1000, 'setpoint in GUIDED');
    await b.disarm('test');
    expect(emu.armed).toBe(false);
    expect(emu.modeChanges.map((m) => m.mode)).toContain('LAND');
  });

  it('the emulated ArduCopter disarms itself when armed without a takeoff (why the bridge sends NAV_TAKEOFF at once)', async () => {
    const emu = await emulator({ autopilot: 'ardupilot', heartbeatHz: 10, takeoffTimeoutS: 0.3 });
    const s = session(emu);
    await s.waitForState(() => true, 2000, 'HEARTBEAT');
    await s.command(MavCmd.DO_SET_MODE, [1, 4]);
    await s.command(MavCmd.COMPONENT_ARM_DISARM, [1]);
    await s.waitForState((v) => v.armed && v.mode === 'GUIDED', 1000, 'armed in GUIDED');
    const v = await s.waitForState((x) => !x.armed, 2000, 'auto-disarm');
    expect(v.mode).toBe('GUIDED');
    expect(emu.statusTexts).toContain('Disarming: no takeoff');
  });

  it('refuses to fly when GUID_OPTIONS would make ArduCopter read thrust as a climb rate', async () => {
    const emu = await emulator({ autopilot: 'ardupilot', heartbeatHz: 10, params: { GUID_OPTIONS: 1 } });
    const b = ardupilot(emu);
    await expect(b.start()).rejects.toThrow(/GUID_OPTIONS is 1: bit 3 .* is not set, so thrust would be read as a climb rate; set GUID_OPTIONS to 9/);
    expect(emu.commands.some((c) => c.command === MavCmd.COMPONENT_ARM_DISARM)).toBe(false);
  });

  it('arming keeps failing with the pre-arm reason named once its time is up', async () => {
    const emu = await emulator({ autopilot: 'ardupilot', heartbeatHz: 10, armCheck: 'Compass not calibrated' });
    const b = ardupilot(emu, { armTimeoutS: 0.5 });
    await expect(b.start()).rejects.toThrow(/ArduPilot arming refused after \d+ attempt\(s\): .*FAILED.*PreArm: Compass not calibrated/);
  });
});
