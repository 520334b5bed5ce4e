/**
 * The built-in simulator as the physics of a real Betaflight SITL binary (software in the loop): the SITL's own
 * rate loop, mixer, arming and failsafe fly our rigid body. Loopback UDP, little-endian packets
 * (firmware-bridge/betaflight-sitl/packets.ts; docs/betaflight-sitl.md shows how to run it):
 *
 *   us → SITL  UDP 9003  fdm_packet (144 B): IMU sample (gyro, negated specific force), attitude, velocity,
 *                         virtual GPS, pressure — decimated so consecutive timestamps are ≥ 20.1 ms apart
 *                         (closer ones make the SITL warp its clock: RXLOSS, failsafe, disarm)
 *   us → SITL  UDP 9004  rc_packet (40 B): "the pilot's radio" (RX_UDP): sticks centred, throttle low, arm
 *                         low, MSP OVERRIDE on — the companion (the daemon's Betaflight transport on TCP 5761)
 *                         flies through MSP override, as on the AI Grand Prix drone
 *   SITL → us  UDP 9002  servo_packet (16 B): one per fdm_packet, normalised motors → the sim's motors
 *   SITL → us  UDP 9001  servo_packet_raw (68 B): raw PWM, counted and kept for inspection
 *
 * The SITL runs on the wall clock, so the sim is paced at 1× real time (SimServer, never bursting: see maxLagS).
 * Malformed datagrams (wrong size, non-finite or out-of-range motor values) are counted and dropped.
 */
import dgram from 'node:dgram';
import type { AddressInfo } from 'node:net';
import type { CameraFrame, ImuSample } from '../../src/tracts/io.js';
import type { Sim } from '../world.js';
import type { RaceResult } from '../runner.js';
import { SimServer, type ServeOptions, type SimWire } from './loop.js';
import {
  servoDatagramMotors,
  decodeServoPacketRaw,
  encodeFdmPacket,
  encodeRcPacket,
  FDM_PACKET_SIZE,
  FdmClock,
  FdmGeo,
  fdmAccelFromSpecificForceFlu,
  fdmGyroFromFlu,
  fdmQuatFromEnuFlu,
  isaPressurePa,
  RC_PACKET_SIZE,
  SERVO_PACKET_RAW_SIZE,
  SITL_PORTS,
  type SitlProfile,
} from '../../firmware-bridge/betaflight-sitl/packets.js';

export interface SitlPhysicsOptions extends Omit<ServeOptions, 'realtimeFactor' | 'armAtStart'> {
  /** Where the SITL listens. Default 127.0.0.1. */
  sitlHost?: string;
  /** SITL fdm_packet port. Default 9003. */
  fdmPort?: number;
  /** SITL rc_packet port. Default 9004. */
  rcPort?: number;
  /** Our servo_packet port (the SITL sends there). Default 9002; 0 = ephemeral (tests). */
  pwmPort?: number;
  /** Our servo_packet_raw port. Default 9001; 0 = ephemeral; null = do not listen. */
  pwmRawPort?: number | null;
  /** Which sitl.c the packets are for (see packets.ts). Default 'gazebo-bridge'. */
  profile?: SitlProfile;
  /** "The pilot's radio", 16 channels µs AETR + AUX1..12. Default centred, throttle 1000, AUX1 1000, AUX2 2000. */
  radioUs?: number[];
  /** rc_packet rate, Hz. Default 50. */
  rcRateHz?: number;
}

export interface SitlStats {
  fdmSent: number;
  rcSent: number;
  servoPackets: number;
  servoRawPackets: number;
  /** Datagrams of the wrong size, or with non-finite / out-of-range motor values. */
  malformed: number;
  sendErrors: number;
}

const DEFAULT_RADIO = [1500, 1500, 1000, 1500, 1000, 2000, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000];

export class BetaflightSitlPhysics implements SimWire {
  readonly name = 'betaflight-sitl';
  readonly server: SimServer;
  readonly stats: SitlStats = { fdmSent: 0, rcSent: 0, servoPackets: 0, servoRawPackets: 0, malformed: 0, sendErrors: 0 };
  /** The last motors applied, our order (RR, FR, RL, FL), 0..1. */
  readonly motors: [number, number, number, number] = [0, 0, 0, 0];
  /** The last servo_packet_raw (raw PWM µs, motors first). */
  lastRawPwm: number[] = [];
  result: Promise<RaceResult> | undefined;
  radioUs: number[];
  readonly frames: { onFrame(cb: (f: CameraFrame) => void): () => void } = {
    onFrame: (cb) => {
      this.frameSubs.add(cb);
      return () => this.frameSubs.delete(cb);
    },
  };

  private readonly frameSubs = new Set<(f: CameraFrame) => void>();
  private readonly out = dgram.createSocket('udp4');
  private readonly pwm = dgram.createSocket('udp4');
  private readonly pwmRaw: dgram.Socket | null;
  private readonly clock = new FdmClock();
  private readonly geo: FdmGeo;
  private readonly fdmBuf = Buffer.alloc(FDM_PACKET_SIZE);
  private readonly rcBuf = Buffer.alloc(RC_PACKET_SIZE);
  private readonly host: string;
  private readonly fdmPort: number;
  private readonly rcPort: number;
  private readonly rcPeriodS: number;
  private nextRcS = 0;
  private lastWireS = 0;

  constructor(
    readonly sim: Sim,
    readonly o: SitlPhysicsOptions,
  ) {
    this.host = o.sitlHost ?? '127.0.0.1';
    this.fdmPort = o.fdmPort ?? SITL_PORTS.FDM;
    this.rcPort = o.rcPort ?? SITL_PORTS.RC;
    this.rcPeriodS = 1 / (o.rcRateHz ?? 50);
    this.radioUs = [...(o.radioUs ?? DEFAULT_RADIO)];
    this.geo = new FdmGeo(undefined, undefined, undefined, o.profile ?? 'gazebo-bridge');
    this.pwmRaw = o.pwmRawPort === null ? null : dgram.createSocket('udp4');
    const { sitlHost: _h, fdmPort: _f, rcPort: _r, pwmPort: _p, pwmRawPort: _q, profile: _pr, radioUs: _ru, rcRateHz: _rr, ...serve } = o;
    // The sim FC passes the SITL's motors through ('motors' commands): armed here, Betaflight does the arming.
    this.server = new SimServer(sim, this, { maxLagS: 0.02, ...serve, realtimeFactor: 1, armAtStart: true });
    this.pwm.on('message', (m) => this.onServo(m));
    this.pwmRaw?.on('message', (m) => this.onServoRaw(m));
    for (const s of [this.out, this.pwm, this.pwmRaw]) s?.on('error', () => this.stats.sendErrors++);
  }

  /** Bind the servo ports and start the paced sim. Resolves with the bound ports. */
  async start(): Promise<{ pwmPort: number; pwmRawPort: number | null }> {
    const bind = (s: dgram.Socket, port: number): Promise<number> =>
      new Promise((resolve, reject) => {
        s.once('error', reject);
        s.bind(port, this.host, () => {
          s.off('error', reject);
          resolve((s.address() as AddressInfo).port);
        });
      });
    const pwmPort = await bind(this.pwm, this.o.pwmPort ?? SITL_PORTS.PWM);
    const pwmRawPort = this.pwmRaw ? await bind(this.pwmRaw, this.o.pwmRawPort ?? SITL_PORTS.PWM_RAW) : null;
    this.result = this.server.run();
    return { pwmPort, pwmRawPort };
  }

  async close(): Promise<void> {
    this.server.stop();
    if (this.result) await this.result.catch(() => undefined);
    const close = (s: dgram.Socket | null): Promise<void> => new Promise((r) => (s ? s.close(() => r()) : r()));
    await Promise.all([close(this.out), close(this.pwm), close(this.pwmRaw)]);
  }

  // SimWire: the IMU sample is the step hook (every IMU period of sim time) -----------------------------------

  imu(s: ImuSample): void {
    const tS = this.sim.tS;
    const wire = this.clock.next(tS);
    if (wire !== undefined) {
      this.lastWireS = wire;
      this.sendFdm(wire, s);
    }
    if (tS + 1e-9 >= this.nextRcS) {
      this.nextRcS += this.rcPeriodS;
      this.send(encodeRcPacket(this.lastWireS, this.radioUs, this.rcBuf), this.rcPort);
      this.stats.rcSent++;
    }
  }

  /** The SITL has no camera: frames go to in-process subscribers (a companion's frame source). */
  frame(f: CameraFrame): void {
    for (const cb of this.frameSubs) cb(f);
  }

  private sendFdm(wireS: number, imu: ImuSample): void {
    const st = this.sim.state;
    const position = this.geo.position(st.posEnuM);
    encodeFdmPacket(
      {
        timestampS: wireS,
        gyroRadS: fdmGyroFromFlu(imu.gyroRadS, this.geo.profile),
        accelMS2: fdmAccelFromSpecificForceFlu(imu.accelMS2),
        quat: fdmQuatFromEnuFlu(st.quat, this.geo.profile),
        velocityEnuMS: [st.velEnuMS[0], st.velEnuMS[1], st.velEnuMS[2]],
        position,
        pressurePa: isaPressurePa(position[2]),
      },
      this.fdmBuf,
    );
    this.send(this.fdmBuf, this.fdmPort);
    this.stats.fdmSent++;
  }

  private send(buf: Buffer, port: number): void {
    this.out.send(buf, port, this.host, (e) => {
      if (e) this.stats.sendErrors++;
    });
  }

  private onServo(m: Buffer): void {
    // wrong size, NaN, or a value outside 0..1 is not something to spin a propeller with
    const motors = servoDatagramMotors(m);
    if (!motors) {
      this.stats.malformed++;
      return;
    }
    this.stats.servoPackets++;
    for (let i = 0; i < 4; i++) this.motors[i] = motors[i]!;
    this.server.command({ kind: 'motors', stampS: this.sim.tS, motors: [this.motors[0], this.motors[1], this.motors[2], this.motors[3]] });
  }

  private onServoRaw(m: Buffer): void {
    if (m.length !== SERVO_PACKET_RAW_SIZE) {
      this.stats.malformed++;
      return;
    }
    const raw = decodeServoPacketRaw(m);
    this.stats.servoRawPackets++;
    this.lastRawPwm = raw.pwm.slice(0, Math.min(raw.motorCount, raw.pwm.length));
  }
}
