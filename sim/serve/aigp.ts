/**
 * `brainpilot sim serve --aigp [host]`: the built-in simulator speaking the AI Grand Prix VQ wire, so
 * the daemon's aigp transport can be flown (and tested) exactly as against the organisers' Windows
 * simulator. MAVLink v2 to host:14550 (HEARTBEAT 1 Hz, HIGHRES_IMU per IMU sample, ATTITUDE, TIMESYNC
 * replies) and camera frames as JPEG, chunked with the 24-byte header, to host:5600. It takes
 * SET_ATTITUDE_TARGET (collective thrust 0..1 + FRD body rates) and COMPONENT_ARM_DISARM. When the run
 * ends it says so with a HEARTBEAT whose system_status is POWEROFF.
 */
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import type { Logger } from 'pino';
import type { CameraFrame, ImuSample } from '../../src/tracts/io.js';
import {
  attitudeFromEnu,
  common,
  ctbrFromAttitudeTarget,
  heartbeat,
  highresFromImu,
  MavlinkEncoder,
  minimal,
  parseDatagram,
  type MavPacket,
} from '../../src/transports/aigp/mavlink.js';
import { chunkJpeg } from '../../src/transports/aigp/video.js';
import { jpegCodec } from '../../src/transports/aigp/jpeg-worker.js';
import type { Sim } from '../world.js';
import type { SimServer, SimWire } from './loop.js';

export interface AigpWireOptions {
  /** Where the client listens. */
  host: string;
  mavlinkPort: number;
  videoPort: number;
  /** Collective thrust at thrust = 1 (the sim vehicle's 4 × motor max), N. */
  maxThrustN: number;
  systemId?: number;
  componentId?: number;
  jpegQuality?: number;
  /** JPEG bytes per video datagram (1400 keeps each under an Ethernet MTU). */
  chunkPayloadBytes?: number;
  /** ATTITUDE rate, Hz (HIGHRES_IMU goes out with every IMU sample). */
  attitudeHz?: number;
  log?: Logger;
}

export class AigpSimWire implements SimWire {
  readonly name = 'aigp';
  private mav: Socket | null = null;
  private video: Socket | null = null;
  private server: SimServer | null = null;
  private readonly enc: MavlinkEncoder;
  private readonly encoder = jpegCodec(1);
  private encoding = false;
  private next: { rgba: Uint8Array; width: number; height: number; simTimeNs: bigint } | null = null;
  private readonly spare: Uint8Array[] = [];
  private hbTimer: NodeJS.Timeout | null = null;
  private nextAttitudeS = 0;
  private frameId = 0;
  private readonly imuMsg = new common.HighresImu();
  readonly counters = { imuSent: 0, framesSent: 0, framesSkipped: 0, chunksSent: 0, commands: 0, commandsRejected: 0, malformed: 0, clientHeartbeats: 0, disarms: 0, encodeMsLast: 0 };

  /** Resolves at the client's first HEARTBEAT (the run starts then, as the VQ simulator waits for its client). */
  readonly clientHeard: Promise<void>;
  private resolveClientHeard!: () => void;

  constructor(
    readonly sim: Sim,
    readonly o: AigpWireOptions,
  ) {
    this.clientHeard = new Promise((r) => (this.resolveClientHeard = r));
    this.enc = new MavlinkEncoder(o.systemId ?? 1, o.componentId ?? 1);
  }

  /** Bind the sending socket (ephemeral port; the client answers it) and start the heartbeat. */
  async start(server: SimServer): Promise<void> {
    this.server = server;
    await this.encoder.warmUp(this.sim.camera.width, this.sim.camera.height);
    const bindHost = /^(127\.|localhost$)/.test(this.o.host) ? '127.0.0.1' : '0.0.0.0';
    this.mav = await bind(bindHost);
    this.video = await bind(bindHost);
    this.mav.on('message', (m, r) => this.onMav(m, r));
    this.heartbeat();
    this.hbTimer = setInterval(() => this.heartbeat(), 1000);
  }

  imu(s: ImuSample): void {
    this.sendMav(highresFromImu(s, this.imuMsg));
    this.counters.imuSent++;
    if (s.stampS >= this.nextAttitudeS) {
      this.nextAttitudeS = s.stampS + 1 / (this.o.attitudeHz ?? 50);
      const st = this.sim.state;
      this.sendMav(attitudeFromEnu(s.stampS * 1000, st.quat, st.rateFluRadS));
    }
  }

  frame(f: CameraFrame): void {
    if (!this.video) return;
    // copy out of the sim's pooled buffer now (as RGBA, what jpeg-js encodes); encode off this thread
    const out = this.spare.pop() ?? new Uint8Array(f.width * f.height * 4);
    const d = f.data;
    if (f.encoding === 'rgb8') {
      for (let r = 0, j = 0; r < f.height; r++) {
        for (let c = 0, i = r * f.step; c < f.width; c++, i += 3, j += 4) {
          out[j] = d[i]!;
          out[j + 1] = d[i + 1]!;
          out[j + 2] = d[i + 2]!;
          out[j + 3] = 255;
        }
      }
    } else {
      for (let r = 0, j = 0; r < f.height; r++) {
        for (let c = 0, i = r * f.step; c < f.width; c++, i++, j += 4) {
          out[j] = out[j + 1] = out[j + 2] = d[i]!;
          out[j + 3] = 255;
        }
      }
    }
    const job = { rgba: out, width: f.width, height: f.height, simTimeNs: BigInt(Math.round(f.stampS * 1e9)) };
    if (this.encoding) {
      // the encoder is behind: a real camera pipeline sends the newest frame, not a queue
      if (this.next) {
        this.counters.framesSkipped++;
        this.spare.push(this.next.rgba);
      }
      this.next = job;
      return;
    }
    this.encode(job);
  }

  private encode(job: { rgba: Uint8Array; width: number; height: number; simTimeNs: bigint }): void {
    this.encoding = true;
    void this.encoder.encode(job.rgba, job.width, job.height, this.o.jpegQuality ?? 85).then((r) => {
      this.encoding = false;
      if (r.back && this.spare.length < 3) this.spare.push(new Uint8Array(r.back));
      this.counters.encodeMsLast = r.ms;
      if (r.ok && this.video) {
        const chunks = chunkJpeg(this.frameId, r.data, job.simTimeNs, this.o.chunkPayloadBytes ?? 1400);
        this.frameId = (this.frameId + 1) >>> 0;
        for (const c of chunks) this.video.send(c, this.o.videoPort, this.o.host);
        this.counters.framesSent++;
        this.counters.chunksSent += chunks.length;
      } else if (!r.ok) this.o.log?.error({ err: r.error }, `aigp sim: JPEG encode failed: ${r.error}`);
      const n = this.next;
      this.next = null;
      if (n) this.encode(n);
    });
  }

  /** Tell the client the session is over (POWEROFF heartbeats), then close. */
  async stop(): Promise<void> {
    if (this.hbTimer) clearInterval(this.hbTimer);
    this.hbTimer = null;
    for (let i = 0; i < 3; i++) {
      this.heartbeat(true);
      await new Promise<void>((r) => setTimeout(r, 20));
    }
    await Promise.all([this.mav, this.video].map((s) => (s ? new Promise<void>((r) => s.close(() => r())) : undefined)));
    this.mav = this.video = null;
    await this.encoder.close();
  }

  private heartbeat(powerOff = false): void {
    const armed = this.sim.fc.armed;
    this.sendMav(
      heartbeat(minimal.MavType.QUADROTOR, {
        autopilot: minimal.MavAutopilot.GENERIC,
        baseMode: armed && !powerOff ? minimal.MavModeFlag.SAFETY_ARMED : 0,
        systemStatus: powerOff ? minimal.MavState.POWEROFF : armed ? minimal.MavState.ACTIVE : minimal.MavState.STANDBY,
      }),
    );
  }

  private onMav(dg: Buffer, rinfo: RemoteInfo): void {
    parseDatagram(
      dg,
      (p) => this.onPacket(p, rinfo),
      (detail) => {
        this.counters.malformed++;
        this.o.log?.warn({ detail }, `aigp sim: dropped a datagram: ${detail}`);
      },
    );
  }

  private onPacket(p: MavPacket, rinfo: RemoteInfo): void {
    const m = p.message;
    if (m instanceof common.SetAttitudeTarget) {
      const { cmd, why } = ctbrFromAttitudeTarget(m, this.o.maxThrustN, this.sim.tS);
      if (!cmd) {
        this.counters.commandsRejected++;
        this.o.log?.warn({ why }, `aigp sim: SET_ATTITUDE_TARGET refused: ${why}`);
        return;
      }
      if (this.server?.clientDisarmed) return; // motors stay off once the client disarmed
      this.counters.commands++;
      this.server?.command(cmd);
    } else if (m instanceof common.CommandLong) {
      let result = common.MavResult.UNSUPPORTED;
      if (m.command === common.MavCmd.COMPONENT_ARM_DISARM) {
        if (m._param1 === 0) {
          if (!this.server?.clientDisarmed) this.counters.disarms++;
          this.server?.disarm();
          result = common.MavResult.ACCEPTED;
        } else if (m._param1 === 1) result = this.server?.clientDisarmed ? common.MavResult.DENIED : common.MavResult.ACCEPTED; // armed by the server at start
      }
      const ack = new common.CommandAck();
      ack.command = m.command;
      ack.result = result;
      ack.targetSystem = p.sysid;
      ack.targetComponent = p.compid;
      this.sendMavTo(ack, rinfo);
    } else if (m instanceof common.TimeSync) {
      if (m.tc1 === 0n) {
        const r = new common.TimeSync();
        r.tc1 = BigInt(Math.round(this.sim.tS * 1e9));
        r.ts1 = m.ts1;
        r.targetSystem = p.sysid;
        r.targetComponent = p.compid;
        this.sendMavTo(r, rinfo);
      }
    } else if (m instanceof minimal.Heartbeat) {
      this.counters.clientHeartbeats++;
      this.resolveClientHeard();
    }
  }

  private sendMav(msg: Parameters<MavlinkEncoder['encode']>[0]): void {
    if (this.mav) this.mav.send(this.enc.encode(msg), this.o.mavlinkPort, this.o.host);
  }

  private sendMavTo(msg: Parameters<MavlinkEncoder['encode']>[0], to: RemoteInfo): void {
    if (this.mav) this.mav.send(this.enc.encode(msg), to.port, to.address);
  }
}

function bind(host: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = createSocket({ type: 'udp4', sendBufferSize: 4 << 20 });
    s.once('error', reject);
    s.bind(0, host, () => {
      s.removeAllListeners('error');
      s.on('error', () => {}); // ICMP port-unreachable before the client is up: UDP is fire and forget
      resolve(s);
    });
  });
}

/** `--aigp host[:mavlinkPort[:videoPort]]`: where the client listens (default 127.0.0.1:14550:5600). */
export function parseAigpTarget(s: string | undefined): { host: string; mavlinkPort: number; videoPort: number } {
  const t = s ?? '127.0.0.1';
  const m = /^([^\s:]+)(?::(\d{1,5}))?(?::(\d{1,5}))?$/.exec(t);
  const host = m?.[1];
  const mav = m?.[2] !== undefined ? Number(m[2]) : 14550;
  const vid = m?.[3] !== undefined ? Number(m[3]) : 5600;
  if (!host || !(mav >= 1 && mav <= 65535) || !(vid >= 1 && vid <= 65535))
    throw new Error(`sim serve --aigp: expected host[:mavlinkPort[:videoPort]] (e.g. 127.0.0.1 or 127.0.0.1:14550:5600), got "${t}"`);
  return { host, mavlinkPort: mav, videoPort: vid };
}
