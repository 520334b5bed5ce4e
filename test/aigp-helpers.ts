/**
 * Shared by the aigp link tests: a scripted vehicle on a UDP socket, a recording sink, a test JPEG.
 */
import { createSocket, type Socket } from 'node:dgram';
import { join } from 'node:path';
import jpeg from 'jpeg-js';
import { pino } from 'pino';
import type { RejectKind, SensorSink } from '../src/daemon/transport.js';
import type { CameraFrame, ImuSample } from '../src/tracts/io.js';
import { heartbeat, highresFromImu, MavlinkEncoder, minimal, parseDatagram, type MavPacket } from '../src/transports/aigp/mavlink.js';

export const root = join(import.meta.dirname, '..');
export const silent = pino({ level: 'silent' });
export const INTR = { width: 640, height: 360, fx: 320, fy: 320, cx: 320, cy: 180 };
export const MOUNT = { tiltUpRad: (20 * Math.PI) / 180, posFluM: [0, 0, 0] as [number, number, number] };
export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export async function until(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

/** A 640×360 JPEG: a bright square on grey (seeded by `shade`). */
export function testJpeg(shade = 90): Uint8Array {
  const rgba = new Uint8Array(640 * 360 * 4);
  for (let y = 0; y < 360; y++)
    for (let x = 0; x < 640; x++) {
      const i = (y * 640 + x) * 4;
      const inSq = x > 200 && x < 440 && y > 80 && y < 280;
      rgba[i] = inSq ? 250 : shade;
      rgba[i + 1] = inSq ? 120 : shade;
      rgba[i + 2] = inSq ? 20 : shade;
      rgba[i + 3] = 255;
    }
  return new Uint8Array(jpeg.encode({ data: rgba, width: 640, height: 360 }, 85).data);
}

export class RecordingSink implements SensorSink {
  imus: ImuSample[] = [];
  frames: CameraFrame[] = [];
  rejects: { kind: RejectKind; detail: string }[] = [];
  links: boolean[] = [];
  imu(s: ImuSample) {
    this.imus.push(s);
  }
  frame(f: CameraFrame) {
    this.frames.push(f);
  }
  tick() {}
  reject(kind: RejectKind, detail: string) {
    this.rejects.push({ kind, detail });
  }
  linkState(up: boolean) {
    this.links.push(up);
  }
  kinds(): string[] {
    return this.rejects.map((r) => r.kind);
  }
}

/** The far side, scripted: a UDP socket speaking as vehicle 1/1. */
export class FakeVehicle {
  sock!: Socket;
  enc = new MavlinkEncoder(1, 1);
  got: MavPacket[] = [];
  bad: string[] = [];
  constructor(readonly ports: { mavlink: number; video: number }) {}
  async open(): Promise<void> {
    this.sock = createSocket('udp4');
    this.sock.on('message', (m) => parseDatagram(m, (p) => this.got.push(p), (e) => this.bad.push(e)));
    await new Promise<void>((r) => this.sock.bind(0, '127.0.0.1', r));
  }
  mav(buf: Buffer): void {
    this.sock.send(buf, this.ports.mavlink, '127.0.0.1');
  }
  msg(m: Parameters<MavlinkEncoder['encode']>[0]): void {
    this.mav(this.enc.encode(m));
  }
  heartbeat(armed = true, status = minimal.MavState.ACTIVE): void {
    this.msg(heartbeat(minimal.MavType.QUADROTOR, { autopilot: minimal.MavAutopilot.GENERIC, baseMode: armed ? 128 : 0, systemStatus: status }));
  }
  video(buf: Buffer): void {
    this.sock.send(buf, this.ports.video, '127.0.0.1');
  }
  of<T>(cls: new () => T): T[] {
    return this.got.map((p) => p.message).filter((m): m is T & NonNullable<typeof m> => m instanceof cls);
  }
  close(): Promise<void> {
    return new Promise((r) => this.sock.close(() => r()));
  }
}

export const imuMsg = (tS: number, acc: [number, number, number] = [0, 0, 9.81], gyro: [number, number, number] = [0, 0, 0]) =>
  highresFromImu({ stampS: tS, accelMS2: acc, gyroRadS: gyro });
