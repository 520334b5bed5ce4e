/**
 * Fuzz of the Betaflight SITL servo datagram parser (the one packet the SITL sends the physics):
 * valid packets, corrupted bytes, truncated and extended datagrams, pure noise, NaN/∞ floats. No
 * exception may escape, every valid packet is accepted, and nothing out of 0..1 ever reaches a motor.
 */
import { Rng } from '../src/rng.js';
import { SERVO_PACKET_SIZE, encodeServoPacket, servoDatagramMotors } from '../firmware-bridge/betaflight-sitl/packets.js';

export function runSitlServoFuzz(items = 200_000, seed = 9001): Record<string, number> {
  const rng = new Rng(seed);
  const c = { items, valid: 0, acceptedValid: 0, corrupted: 0, wrongSize: 0, noise: 0, nonFinite: 0, accepted: 0, rejected: 0, exceptions: 0, outOfRangeAccepted: 0 };
  const t0 = performance.now();
  for (let i = 0; i < items; i++) {
    const kind = rng.next();
    let buf: Uint8Array;
    let isValid = false;
    if (kind < 0.55) {
      buf = encodeServoPacket({ motorSpeed: [rng.next(), rng.next(), rng.next(), rng.next()] });
      isValid = true;
      c.valid++;
    } else if (kind < 0.7) {
      buf = encodeServoPacket({ motorSpeed: [rng.next(), rng.next(), rng.next(), rng.next()] });
      for (let k = 1 + Math.floor(rng.next() * 4); k > 0; k--) buf[Math.floor(rng.next() * buf.length)] = Math.floor(rng.next() * 256);
      c.corrupted++;
    } else if (kind < 0.82) {
      const n = Math.floor(rng.next() * 40);
      buf = new Uint8Array(n === SERVO_PACKET_SIZE ? n + 1 : n).map(() => Math.floor(rng.next() * 256));
      c.wrongSize++;
    } else if (kind < 0.92) {
      buf = new Uint8Array(SERVO_PACKET_SIZE).map(() => Math.floor(rng.next() * 256));
      c.noise++;
    } else {
      const bad = [NaN, Infinity, -Infinity, -0.5, 1.5, 1e30][Math.floor(rng.next() * 6)]!;
      const m: [number, number, number, number] = [rng.next(), rng.next(), rng.next(), rng.next()];
      m[Math.floor(rng.next() * 4)] = bad;
      buf = encodeServoPacket({ motorSpeed: m });
      c.nonFinite++;
    }
    try {
      const motors = servoDatagramMotors(buf);
      if (motors) {
        c.accepted++;
        if (isValid) c.acceptedValid++;
        if (!motors.every((v) => Number.isFinite(v) && v >= 0 && v <= 1)) c.outOfRangeAccepted++;
      } else c.rejected++;
    } catch {
      c.exceptions++;
    }
  }
  return { ...c, datagramsPerS: Math.round(items / ((performance.now() - t0) / 1000)) };
}
