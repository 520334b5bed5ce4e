/**
 * `brainpilot fc probe` against the loopback MAVLink FC emulator: PX4 over UDP and ArduPilot over TCP
 * (detected from the HEARTBEAT it sends unasked), identity from HEARTBEAT + AUTOPILOT_VERSION, mode, armed,
 * SYS_STATUS health by name; MSP is still chosen for a silent TCP FC; a clear error when nothing answers.
 */
import dgram from 'node:dgram';
import { afterEach, describe, expect, it } from 'vitest';
import { MavlinkFcEmulator } from '../firmware-bridge/mavlink/emulator.js';
import { BetaflightEmulator } from '../firmware-bridge/betaflight/index.js';
import { probeFc, probeLines } from '../src/cli/fc.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c().catch(() => undefined);
});

describe('fc probe over MAVLink', () => {
  it('PX4 over UDP: identity, firmware, mode, armed, failing pre-arm check by name', async () => {
    const emu = new MavlinkFcEmulator({ autopilot: 'px4', heartbeatHz: 5, armCheck: 'Accel #0 uncalibrated' });
    await emu.start();
    cleanups.push(() => emu.close());
    const r = await probeFc(emu.uri, 2000);
    expect(r.protocol).toBe('mavlink');
    if (r.protocol !== 'mavlink') return;
    expect(r.identity).toEqual({ sysid: 1, compid: 1, autopilot: 'PX4', vehicleType: 'QUADROTOR', firmware: '1.16.0' });
    expect(r.mode).toBe('AUTO.LOITER');
    expect(r.armed).toBe(false);
    expect(r.systemStatus).toBe('STANDBY');
    expect(r.sensorsPresent).toEqual(expect.arrayContaining(['SENSOR_3D_GYRO', 'SENSOR_3D_ACCEL', 'PREARM_CHECK']));
    expect(r.sensorsUnhealthy).toEqual(['PREARM_CHECK']);
    expect(r.preflight).toEqual(['unhealthy: PREARM_CHECK']);
    const text = probeLines(r).join('\n');
    expect(text).toContain('MAVLink · PX4 1.16.0 (system 1, component 1, QUADROTOR)');
    expect(text).toContain('sensors unhealthy: PREARM_CHECK');
  });

  it('ArduPilot over TCP is recognised from its HEARTBEAT (auto), healthy and ready', async () => {
    const emu = new MavlinkFcEmulator({ autopilot: 'ardupilot', heartbeatHz: 5 });
    await emu.start();
    cleanups.push(() => emu.close());
    const r = await probeFc(emu.uri, 2000);
    expect(r.protocol).toBe('mavlink');
    if (r.protocol !== 'mavlink') return;
    expect(r.identity.autopilot).toBe('ArduPilot');
    expect(r.identity.firmware).toBe('4.7.0');
    expect(r.mode).toBe('STABILIZE');
    expect(r.sensorsUnhealthy).toEqual([]);
    expect(r.preflight).toEqual([]);
    expect(probeLines(r).join('\n')).toContain('preflight: ok');
  });

  it('ArduPilot with GUID_OPTIONS missing bit 3: the preflight says what to set', async () => {
    const emu = new MavlinkFcEmulator({ autopilot: 'ardupilot', heartbeatHz: 5, params: { GUID_OPTIONS: 0 } });
    await emu.start();
    cleanups.push(() => emu.close());
    const r = await probeFc(emu.uri, 2000, 'mavlink');
    expect(r.preflight).toEqual(["GUID_OPTIONS is 0: set bit 3 (8) or ArduCopter reads brainpilot's thrust as a climb rate"]);
  });

  it('a silent TCP FC is probed over MSP (auto)', async () => {
    const emu = new BetaflightEmulator();
    const port = await emu.start();
    cleanups.push(() => emu.close());
    const r = await probeFc(`tcp:127.0.0.1:${port}`, 3000);
    expect(r.protocol).toBe('msp');
  });

  it('says clearly when no HEARTBEAT comes back over UDP', async () => {
    const sock = dgram.createSocket('udp4');
    await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
    cleanups.push(() => new Promise((r) => sock.close(() => r())));
    const uri = `udp:127.0.0.1:${sock.address().port}`;
    await expect(probeFc(uri, 400)).rejects.toThrow(`no MAVLink HEARTBEAT from an autopilot on ${uri} within 400 ms`);
  });
});
