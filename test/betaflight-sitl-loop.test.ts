/**
 * The built-in sim as the physics of a Betaflight SITL, against a loopback stand-in for the SITL binary (a
 * few lines that answer each fdm_packet with motor packets, as sitl.c does): what goes out on which port, the
 * packet sizes and byte order, the FDM timestamp rule, and that the motors the SITL returns fly the drone.
 */
import dgram from 'node:dgram';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import {
  encodeServoPacket,
  encodeServoPacketRaw,
  FDM_PACKET_SIZE,
  motorsToServoPacket,
  RC_PACKET_SIZE,
} from '../firmware-bridge/betaflight-sitl/packets.js';
import { BetaflightSitlPhysics } from '../sim/serve/betaflight-sitl.js';
import { buildSim, RACE_DEFAULTS } from '../src/cli/race.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function udp(): Promise<{ sock: dgram.Socket; port: number }> {
  const sock = dgram.createSocket('udp4');
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
  cleanups.push(() => new Promise<void>((r) => sock.close(() => r())));
  return { sock, port: (sock.address() as AddressInfo).port };
}

describe('Betaflight SITL in the loop (loopback stand-in for the SITL)', () => {
  it('FDM ≥ 20.1 ms apart at the wall pace, RC as the pilot radio, motors from the SITL fly the sim', async () => {
    const fdm = await udp();
    const rc = await udp();
    const sim = buildSim({ ...RACE_DEFAULTS, track: 'warmup', laps: 1, seed: 3, cameraEnabled: false });
    const physics = new BetaflightSitlPhysics(sim, { laps: 1, seed: 3, lapTimeoutS: 10, fdmPort: fdm.port, rcPort: rc.port, pwmPort: 0, pwmRawPort: 0 });
    const { pwmPort, pwmRawPort } = await physics.start();
    cleanups.push(() => physics.close());

    // The stand-in: like sitl.c, one servo_packet (and one servo_packet_raw) per fdm_packet received.
    let spin = 0; // motor output the stand-in "FC" commands, 0..1
    const fdms: { wallMs: number; buf: Buffer }[] = [];
    const rcs: Buffer[] = [];
    fdm.sock.on('message', (m) => {
      fdms.push({ wallMs: performance.now(), buf: m });
      fdm.sock.send(encodeServoPacket(motorsToServoPacket([spin, spin, spin, spin])), pwmPort, '127.0.0.1');
      fdm.sock.send(encodeServoPacketRaw({ motorCount: 4, pwm: [1, 2, 3, 4].map(() => 1000 + 1000 * spin) }), pwmRawPort!, '127.0.0.1');
    });
    rc.sock.on('message', (m) => rcs.push(m));

    await sleep(600); // disarmed, at rest on the ground
    const z0 = sim.state.posEnuM[2];
    spin = 0.6; // 4 × 10.5 N × 0.6² ≈ 15 N > 9.3 N weight: climbs
    await sleep(1200);
    const z1 = sim.state.posEnuM[2];

    // ports and sizes
    expect(fdms.length).toBeGreaterThan(60);
    expect(fdms.every((f) => f.buf.length === FDM_PACKET_SIZE)).toBe(true);
    expect(rcs.length).toBeGreaterThan(60);
    expect(rcs.every((b) => b.length === RC_PACKET_SIZE)).toBe(true);

    // byte order: little-endian doubles; at rest, level, nose east: accel (0, 0, −g), quaternion (1, 0, 0, 0)
    const rest = fdms[10]!.buf;
    expect(rest.readDoubleLE(6 * 8)).toBeGreaterThan(-9.80665 - 1.5);
    expect(rest.readDoubleLE(6 * 8)).toBeLessThan(-9.80665 + 1.5);
    expect(Math.abs(rest.readDoubleLE(7 * 8))).toBeCloseTo(1, 3);
    expect(Math.abs(rest.readDoubleLE(16 * 8) - 400)).toBeLessThan(1); // altitude m: origin 400 m + 0.15 m

    // the timestamp rule: strictly increasing, ≥ 20.1 ms apart, and paced like the wall clock (no warp)
    const ts = fdms.map((f) => f.buf.readDoubleLE(0));
    for (let i = 1; i < ts.length; i++) expect(ts[i]! - ts[i - 1]!).toBeGreaterThanOrEqual(0.0201 - 1e-9);
    const simSpan = ts[ts.length - 1]! - ts[0]!;
    const wallSpan = (fdms[fdms.length - 1]!.wallMs - fdms[0]!.wallMs) / 1000;
    expect(simSpan / wallSpan).toBeGreaterThan(0.8);
    expect(simSpan / wallSpan).toBeLessThan(1.25);

    // rc_packet: the pilot's radio, AETR then AUX; stamped on the FDM timeline
    const r = rcs[rcs.length - 1]!;
    expect([0, 1, 2, 3, 4, 5].map((i) => r.readUInt16LE(8 + 2 * i))).toEqual([1500, 1500, 1000, 1500, 1000, 2000]);
    expect(r.readDoubleLE(0)).toBeLessThanOrEqual(ts[ts.length - 1]!);

    // one servo packet per FDM, applied to the sim's motors: the drone climbed
    expect(physics.stats.servoPackets).toBeGreaterThanOrEqual(fdms.length - 3);
    expect(physics.motors.every((m) => Math.abs(m - 0.6) < 1e-6)).toBe(true);
    expect(physics.lastRawPwm).toEqual([1600, 1600, 1600, 1600]);
    expect(z1 - z0).toBeGreaterThan(0.3);
    expect(physics.stats.malformed).toBe(0);
  }, 20_000);

  it('counts and drops malformed servo datagrams without touching the motors', async () => {
    const fdm = await udp();
    const rc = await udp();
    const sim = buildSim({ ...RACE_DEFAULTS, track: 'warmup', laps: 1, seed: 3, cameraEnabled: false });
    const physics = new BetaflightSitlPhysics(sim, { laps: 1, seed: 3, lapTimeoutS: 5, fdmPort: fdm.port, rcPort: rc.port, pwmPort: 0, pwmRawPort: null });
    const { pwmPort } = await physics.start();
    cleanups.push(() => physics.close());
    const nan = encodeServoPacket({ motorSpeed: [Number.NaN, 0.5, 0.5, 0.5] });
    const big = encodeServoPacket({ motorSpeed: [0.5, 7, 0.5, 0.5] });
    for (const b of [Buffer.alloc(15), nan, big]) fdm.sock.send(b, pwmPort, '127.0.0.1');
    await sleep(100);
    expect(physics.stats.malformed).toBe(3);
    expect(physics.stats.servoPackets).toBe(0);
    expect(physics.motors).toEqual([0, 0, 0, 0]);
  });
});
