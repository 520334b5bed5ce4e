/**
 * The AI Grand Prix virtual-qualifier link as a daemon Transport: MAVLink v2 over UDP for the IMU,
 * attitude, heartbeat and time sync in and SET_ATTITUDE_TARGET (collective thrust + body rates) out,
 * and the chunked-JPEG video stream on its own UDP port. Realtime clock: the simulator runs on its
 * own and the daemon commands at its configured rate.
 *
 * The client binds both ports (the VQ simulator sends to 127.0.0.1:14550 and :5600) and answers the
 * address its vehicle's HEARTBEAT came from. Sensor times are the simulator's: HIGHRES_IMU time_usec
 * and the video header's sim_time_ns are on the same clock, so a frame's stampS and the IMU's stampS
 * compare directly. Everything that cannot be converted goes to sink.reject with a reason.
 */
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import type { Logger } from 'pino';
import type { SensorSink, Transport } from '../../daemon/transport.js';
import type { TransportConfig } from '../../config/schema.js';
import type { CameraFrame, CameraIntrinsics, CameraMount, CtbrCommand, FlightCommand } from '../../tracts/io.js';
import { armDisarm, attitudeTargetFromCtbr, common, heartbeat, imuFromHighres, MavlinkEncoder, minimal, parseDatagram, type MavPacket } from './mavlink.js';
import { VideoReassembler, type ReassembledFrame } from './video.js';
import { jpegCodec, type JpegCodec, type JpegResult } from './jpeg-worker.js';

export interface HostPort {
  host: string;
  port: number;
}

export function parseHostPort(s: string, what: string): HostPort {
  const m = /^([^\s:]+):(\d{1,5})$/.exec(s);
  const port = m ? Number(m[2]) : NaN;
  if (!m || !(port >= 0 && port <= 65535)) throw new Error(`${what}: expected "host:port" (e.g. 127.0.0.1:14550), got "${s}"`);
  return { host: m[1]!, port };
}

export interface AigpOptions {
  mavlinkBind: HostPort;
  videoBind: HostPort;
  /** SET_ATTITUDE_TARGET at most this often, Hz. */
  commandRateHz: number;
  heartbeatHz: number;
  systemId: number;
  componentId: number;
  /** Thrust sent as thrustN / maxThrustN (the simulator's normalised collective thrust). */
  maxThrustN: number;
  maxRateRadS: readonly [number, number, number];
  intrinsics: CameraIntrinsics;
  mount: CameraMount;
  log: Logger;
  /** No vehicle HEARTBEAT for this long → link down, s. */
  linkTimeoutS?: number;
  /** JPEG decode worker threads (jpeg-js takes ≈ 15 ms of CPU per 640×360 frame: one keeps up with 30 Hz). */
  decodeWorkers?: number;
  /** Time allowed for the vehicle to acknowledge a disarm, s. */
  disarmTimeoutS?: number;
}

const MAV_MODE_FLAG_SAFETY_ARMED = 128;
const UDP_RECV_BUFFER_BYTES = 4 << 20;

export class AigpTransport implements Transport {
  readonly name: string;
  readonly clock = 'realtime' as const;
  readonly ended: Promise<string>;
  private resolveEnded!: (why: string) => void;
  private sink: SensorSink | null = null;
  private mav: Socket | null = null;
  private video: Socket | null = null;
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly enc: MavlinkEncoder;
  private readonly reasm: VideoReassembler;
  private readonly t0Ms = performance.now();
  private peer: RemoteInfo | null = null;
  private targetSystem = 1;
  private targetComponent = 1;
  private lastHeartbeatMs = NaN;
  private vehicleArmed = false;
  private poweredOff = false;
  private linkUp = false;
  // sensor clock: newest IMU stamp and the wall time it arrived
  private lastImuS = -Infinity;
  private lastImuWallMs = NaN;
  private lastFrameNs = -1n;
  private lastGoodFrameNs = -1n;
  /** sim_time_ns of the frames submitted for decoding and not yet delivered, in order. */
  private readonly inFlightNs: bigint[] = [];
  // commands
  private pending: CtbrCommand | null = null;
  private lastSendMs = -Infinity;
  private slotTimer: NodeJS.Timeout | null = null;
  private disarmed = false;
  private disarmAck: (() => void) | null = null;
  private timesyncSentNs = -1n;
  private closed = false;
  private readonly decoders: JpegCodec;
  private delivery: Promise<void> = Promise.resolve();
  // wire-to-wire latency: last chunk of a frame in → the first SET_ATTITUDE_TARGET out after its delivery
  private frameInMs = NaN;
  private readonly latMs = new Float64Array(1024);
  private latN = 0;
  // last chunk in → frame handed to the pipeline (reassembly + decode queue + decode + hand-over)
  private readonly deliverMs = new Float64Array(1024);
  private deliverN = 0;
  private readonly c = {
    mavPackets: 0,
    mavIgnored: 0,
    mavUnknownId: 0,
    imu: 0,
    attitude: 0,
    vehicleHeartbeats: 0,
    framesDecoded: 0,
    decodeMsLast: 0,
    commandsSent: 0,
    commandsRefused: 0,
    commandsNoPeer: 0,
    heartbeatsSent: 0,
    sendErrors: 0,
    timesyncRttMs: NaN,
    timesyncOffsetMs: NaN,
  };

  constructor(readonly o: AigpOptions) {
    if (!(o.commandRateHz > 0)) throw new Error(`aigp: commandRateHz must be > 0, got ${o.commandRateHz}`);
    if (!(o.heartbeatHz >= 2)) throw new Error(`aigp: heartbeatHz must be ≥ 2 (the VQ simulator requires it), got ${o.heartbeatHz}`);
    if (!(o.maxThrustN > 0)) throw new Error(`aigp: maxThrustN must be > 0, got ${o.maxThrustN}`);
    this.name = `aigp (MAVLink ${o.mavlinkBind.host}:${o.mavlinkBind.port}, video ${o.videoBind.host}:${o.videoBind.port})`;
    this.ended = new Promise((r) => (this.resolveEnded = r));
    this.enc = new MavlinkEncoder(o.systemId, o.componentId);
    this.decoders = jpegCodec(o.decodeWorkers ?? 1);
    this.reasm = new VideoReassembler(
      (f) => this.onJpeg(f),
      (kind, detail) => this.sink?.reject(kind, detail),
      { maxJpegBytes: Math.max(1 << 20, o.intrinsics.width * o.intrinsics.height * 3) },
    );
  }

  /** The ports actually bound (port 0 in the config = chosen by the OS). */
  ports(): { mavlink: number; video: number } {
    return { mavlink: this.mav?.address().port ?? 0, video: this.video?.address().port ?? 0 };
  }

  async open(sink: SensorSink): Promise<void> {
    this.sink = sink;
    await this.decoders.warmUp(this.o.intrinsics.width, this.o.intrinsics.height);
    this.mav = await bindUdp(this.o.mavlinkBind, 'MAVLink');
    this.video = await bindUdp(this.o.videoBind, 'video');
    this.mav.on('message', (m, r) => this.onMav(m, r));
    this.video.on('message', (m) => this.reasm.push(m));
    for (const s of [this.mav, this.video]) s.on('error', (e) => this.o.log.error({ err: String(e) }, `aigp socket error: ${String(e)}`));
    this.o.log.info(this.ports(), `aigp: MAVLink on ${this.o.mavlinkBind.host}:${this.ports().mavlink}, video on ${this.o.videoBind.host}:${this.ports().video}`);
    const every = (ms: number, fn: () => void): void => {
      const t = setInterval(fn, ms);
      this.timers.push(t);
    };
    every(1000 / this.o.heartbeatHz, () => this.sendHeartbeat());
    every(1000, () => this.sendTimesync());
    every(100, () => {
      this.reasm.expire();
      const lim = (this.o.linkTimeoutS ?? 3) * 1000;
      if (this.linkUp && performance.now() - this.lastHeartbeatMs > lim) this.setLink(false, `no vehicle HEARTBEAT for ${lim / 1000} s`);
    });
  }

  send(cmd: FlightCommand | null): void {
    if (!cmd || this.disarmed || this.closed) return;
    if (cmd.kind !== 'ctbr') {
      this.c.commandsRefused++;
      return;
    }
    // a copy: it may go out on a later slot, after the controller has refilled its command object
    this.pending = { kind: 'ctbr', stampS: cmd.stampS, thrustN: cmd.thrustN, rateRadS: [cmd.rateRadS[0], cmd.rateRadS[1], cmd.rateRadS[2]] };
    // send at once when the rate allows; otherwise the newest command goes out the moment the next
    // slot opens (never faster than commandRateHz, never later than needed)
    const waitMs = this.lastSendMs + 1000 / this.o.commandRateHz - performance.now();
    if (waitMs <= 0) this.flush();
    else if (!this.slotTimer) this.slotTimer = setTimeout(() => this.flush(), waitMs);
  }

  async disarm(reason: string): Promise<void> {
    if (this.closed) return;
    this.disarmed = true;
    this.pending = null;
    if (this.slotTimer) clearTimeout(this.slotTimer);
    this.slotTimer = null;
    if (!this.peer) {
      this.o.log.warn({ reason }, 'aigp: disarm requested but no vehicle has been heard; nothing to disarm');
      return;
    }
    const acked = new Promise<void>((r) => (this.disarmAck = r));
    const timeoutMs = (this.o.disarmTimeoutS ?? 0.5) * 1000;
    const t0 = performance.now();
    let tries = 0;
    // thrust 0 first (stops the motors even if the command is lost), then the disarm command, repeated: UDP may drop either
    while (performance.now() - t0 < timeoutMs) {
      this.sendStop();
      this.sendMav(armDisarm(false, this.targetSystem, this.targetComponent, Math.min(255, tries)));
      tries++;
      if (this.poweredOff) break;
      const r = await Promise.race([acked.then(() => true), sleep(100).then(() => false)]);
      if (r || !this.vehicleArmedFresh()) break;
    }
    this.disarmAck = null;
    this.o.log.info({ reason, tries }, `aigp: disarm sent (${reason})`);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const t of this.timers) clearInterval(t);
    this.timers.length = 0;
    if (this.slotTimer) clearTimeout(this.slotTimer);
    this.slotTimer = null;
    await Promise.all([this.mav, this.video].map((s) => (s ? new Promise<void>((r) => s.close(() => r())) : undefined)));
    this.mav = this.video = null;
    this.sink = null;
    await this.decoders.close();
  }

  /**
   * Wall ms from a frame's last chunk arriving to the first command sent after that frame reached
   * the pipeline (decode + pipeline + the daemon's command clock + the rate limit): p50/p99 over
   * the last 1024 frames.
   */
  frameToWireMs(): { p50: number; p99: number; n: number } {
    return quantiles(this.latMs, this.latN);
  }

  /** Wall ms from a frame's last chunk arriving to its hand-over to the pipeline (the decode's share). */
  frameToPipelineMs(): { p50: number; p99: number; n: number } {
    return quantiles(this.deliverMs, this.deliverN);
  }

  counters(): Record<string, number> {
    const r = this.reasm.counters;
    const lat = this.frameToWireMs();
    return { ...this.c, frameToWireP50Ms: lat.p50, frameToWireP99Ms: lat.p99, chunks: r.chunks, duplicateChunks: r.duplicateChunks, framesCompleted: r.framesCompleted, framesDropped: r.framesDropped };
  }

  // --- inbound -------------------------------------------------------------------------------------

  private onMav(dg: Buffer, rinfo: RemoteInfo): void {
    const sink = this.sink;
    if (!sink) return;
    parseDatagram(
      dg,
      (p) => this.onPacket(p, rinfo, sink),
      (detail) => sink.reject('malformed', detail),
      () => this.c.mavUnknownId++,
    );
  }

  private onPacket(p: MavPacket, rinfo: RemoteInfo, sink: SensorSink): void {
    this.c.mavPackets++;
    const m = p.message;
    if (m instanceof common.HighresImu) {
      const s = imuFromHighres(m);
      const vals = [m.xacc, m.yacc, m.zacc, m.xgyro, m.ygyro, m.zgyro];
      if (!vals.every(Number.isFinite)) return sink.reject('non-finite', `HIGHRES_IMU at ${s.stampS.toFixed(6)} s: [${vals.join(', ')}]`);
      if (!(s.stampS > this.lastImuS)) return sink.reject('time', `HIGHRES_IMU time_usec ${m.timeUsec} not after the previous ${Math.round(this.lastImuS * 1e6)}`);
      this.lastImuS = s.stampS;
      this.lastImuWallMs = performance.now();
      this.c.imu++;
      sink.imu(s);
    } else if (m instanceof common.Attitude) {
      if (![m.roll, m.pitch, m.yaw, m.rollspeed, m.pitchspeed, m.yawspeed].every(Number.isFinite)) return sink.reject('non-finite', 'ATTITUDE with a non-finite field');
      this.c.attitude++;
    } else if (m instanceof minimal.Heartbeat) {
      if (p.sysid === this.o.systemId && p.compid === this.o.componentId) return; // our own echo
      this.c.vehicleHeartbeats++;
      this.peer = rinfo;
      this.targetSystem = p.sysid;
      this.targetComponent = p.compid;
      this.lastHeartbeatMs = performance.now();
      this.vehicleArmed = (m.baseMode & MAV_MODE_FLAG_SAFETY_ARMED) !== 0;
      if (m.systemStatus === minimal.MavState.POWEROFF && !this.poweredOff) {
        this.poweredOff = true;
        this.setLink(false, 'the simulator powered off');
        this.resolveEnded('the simulator ended the session (HEARTBEAT POWEROFF)');
        return;
      }
      this.setLink(true, `vehicle ${p.sysid}/${p.compid} at ${rinfo.address}:${rinfo.port}`);
    } else if (m instanceof common.TimeSync) {
      this.onTimesync(m, rinfo);
    } else if (m instanceof common.CommandAck) {
      if (m.command === common.MavCmd.COMPONENT_ARM_DISARM && m.result === common.MavResult.ACCEPTED) this.disarmAck?.();
    } else {
      this.c.mavIgnored++;
    }
  }

  private onTimesync(m: common.TimeSync, rinfo: RemoteInfo): void {
    const nowNs = this.nowNs();
    if (m.tc1 === 0n) {
      // a request from the other side: answer with our clock
      const r = new common.TimeSync();
      r.tc1 = nowNs;
      r.ts1 = m.ts1;
      this.sendMavTo(r, rinfo);
      return;
    }
    if (m.ts1 === this.timesyncSentNs) {
      const rttNs = nowNs - m.ts1;
      this.c.timesyncRttMs = Number(rttNs) / 1e6;
      // the far clock minus ours at the midpoint of the round trip
      this.c.timesyncOffsetMs = (Number(m.tc1) - Number(m.ts1 + rttNs / 2n)) / 1e6;
    }
  }

  private onJpeg(f: ReassembledFrame): void {
    const sink = this.sink;
    if (!sink) return;
    if (f.simTimeNs <= this.lastFrameNs) return sink.reject('time', `video frame ${f.frameId}: sim_time_ns ${f.simTimeNs} not after the previous ${this.lastFrameNs}`);
    if (this.decoders.inFlight >= 2 * this.decoders.size)
      return sink.reject('time', `video frame ${f.frameId}: ${this.decoders.inFlight} frames still decoding (the decoder is behind; dropping rather than queueing latency)`);
    this.lastFrameNs = f.simTimeNs;
    this.inFlightNs.push(f.simTimeNs);
    const k = this.o.intrinsics;
    const job = this.decoders.decode(f.jpeg, ((k.width * k.height) / 1e6) * 4);
    // deliver in submission order even when several workers decode at once
    this.delivery = this.delivery.then(() => job).then((r) => this.deliverFrame(f, r));
  }

  private deliverFrame(f: ReassembledFrame, r: JpegResult): void {
    const sink = this.sink;
    if (!sink) return;
    const k = this.o.intrinsics;
    this.inFlightNs.shift(); // delivery is in submission order: this frame's stamp
    this.c.decodeMsLast = r.ms;
    const good = r.ok && r.width === k.width && r.height === k.height && r.data.length === k.width * k.height * 3;
    if (good) this.lastGoodFrameNs = f.simTimeNs;
    else {
      // a frame that fails must not leave its (possibly bogus) stamp as the bar every later frame has to clear
      let bar = this.lastGoodFrameNs;
      for (const ns of this.inFlightNs) if (ns > bar) bar = ns;
      this.lastFrameNs = bar;
    }
    if (!r.ok) return sink.reject('decode', `video frame ${f.frameId}: JPEG does not decode (${r.error ?? 'unknown error'})`);
    if (r.width !== k.width || r.height !== k.height)
      return sink.reject('encoding', `video frame ${f.frameId}: JPEG is ${r.width}×${r.height}, the camera config says ${k.width}×${k.height}`);
    if (r.data.length !== k.width * k.height * 3) return sink.reject('decode', `video frame ${f.frameId}: decoded ${r.data.length} bytes, expected ${k.width * k.height * 3}`);
    this.c.framesDecoded++;
    this.deliverMs[this.deliverN++ % this.deliverMs.length] = performance.now() - f.completedMs;
    if (Number.isNaN(this.frameInMs)) this.frameInMs = f.completedMs;
    const stampS = Number(f.simTimeNs) / 1e9;
    // arrival on the sensor clock: the newest IMU stamp aged by the wall time since it came
    const arrivalS = Number.isNaN(this.lastImuWallMs) ? stampS : Math.max(stampS, this.lastImuS + (performance.now() - this.lastImuWallMs) / 1000);
    const frame: CameraFrame = {
      stampS,
      arrivalS,
      seq: f.frameId,
      encoding: 'rgb8',
      width: r.width,
      height: r.height,
      step: r.width * 3,
      data: r.data,
      intrinsics: this.o.intrinsics,
      mount: this.o.mount,
    };
    sink.frame(frame);
  }

  // --- outbound ------------------------------------------------------------------------------------

  private flush(): void {
    if (this.slotTimer) clearTimeout(this.slotTimer);
    this.slotTimer = null;
    const cmd = this.pending;
    if (!cmd || this.disarmed) return;
    this.pending = null;
    const msg = attitudeTargetFromCtbr(cmd, this.targetOpts());
    if (!msg) {
      this.c.commandsRefused++;
      return;
    }
    if (this.sendMav(msg)) {
      this.c.commandsSent++;
      this.lastSendMs = performance.now();
      if (!Number.isNaN(this.frameInMs)) {
        this.latMs[this.latN++ % this.latMs.length] = this.lastSendMs - this.frameInMs;
        this.frameInMs = NaN;
      }
    }
  }

  private sendStop(): void {
    const msg = attitudeTargetFromCtbr({ kind: 'ctbr', stampS: 0, thrustN: 0, rateRadS: [0, 0, 0] }, this.targetOpts());
    if (msg) this.sendMav(msg);
  }

  private targetOpts() {
    return { maxThrustN: this.o.maxThrustN, maxRateRadS: this.o.maxRateRadS, timeBootMs: performance.now() - this.t0Ms, targetSystem: this.targetSystem, targetComponent: this.targetComponent };
  }

  private sendHeartbeat(): void {
    if (this.sendMav(heartbeat())) this.c.heartbeatsSent++;
  }

  private sendTimesync(): void {
    const m = new common.TimeSync();
    m.tc1 = 0n;
    m.ts1 = this.timesyncSentNs = this.nowNs();
    m.targetSystem = this.targetSystem;
    m.targetComponent = this.targetComponent;
    this.sendMav(m);
  }

  /** Send to the vehicle; false when no vehicle has been heard yet. */
  private sendMav(msg: Parameters<MavlinkEncoder['encode']>[0]): boolean {
    if (!this.peer) {
      if (msg instanceof common.SetAttitudeTarget) this.c.commandsNoPeer++;
      return false;
    }
    return this.sendMavTo(msg, this.peer);
  }

  private sendMavTo(msg: Parameters<MavlinkEncoder['encode']>[0], to: RemoteInfo): boolean {
    if (!this.mav || this.closed) return false;
    this.mav.send(this.enc.encode(msg), to.port, to.address, (err) => {
      if (err) this.c.sendErrors++;
    });
    return true;
  }

  private vehicleArmedFresh(): boolean {
    return this.vehicleArmed && performance.now() - this.lastHeartbeatMs < 3000;
  }

  private setLink(up: boolean, detail: string): void {
    if (up === this.linkUp) return;
    this.linkUp = up;
    this.sink?.linkState(up, detail);
  }

  private nowNs(): bigint {
    return BigInt(Math.round((performance.now() - this.t0Ms) * 1e6));
  }
}

function quantiles(ring: Float64Array, count: number): { p50: number; p99: number; n: number } {
  const n = Math.min(count, ring.length);
  const a = Array.from(ring.subarray(0, n)).sort((x, y) => x - y);
  const q = (p: number): number => (n ? Math.round(a[Math.min(n - 1, Math.floor(p * n))]! * 1000) / 1000 : NaN);
  return { p50: q(0.5), p99: q(0.99), n };
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function bindUdp(at: HostPort, what: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = createSocket({ type: 'udp4', recvBufferSize: UDP_RECV_BUFFER_BYTES });
    s.once('error', (e) => {
      s.close();
      reject(new Error(`aigp: cannot bind the ${what} socket to ${at.host}:${at.port}: ${e.message}`));
    });
    s.bind(at.port, at.host, () => {
      s.removeAllListeners('error');
      resolve(s);
    });
  });
}

type AigpConfig = Extract<TransportConfig, { kind: 'aigp' }>;

/** Config block + what the daemon knows (airframe, camera) → the link. */
export function createAigpTransport(
  cfg: AigpConfig,
  ctx: { log: Logger; vehicle: { maxThrustN: number; maxRateRadS: readonly [number, number, number] | readonly number[] }; intrinsics: CameraIntrinsics; mount: CameraMount },
): AigpTransport {
  const r = ctx.vehicle.maxRateRadS;
  return new AigpTransport({
    mavlinkBind: parseHostPort(cfg.mavlinkBind, 'transport.mavlinkBind'),
    videoBind: parseHostPort(cfg.videoBind, 'transport.videoBind'),
    commandRateHz: cfg.commandRateHz,
    heartbeatHz: cfg.heartbeatHz,
    systemId: cfg.systemId,
    componentId: cfg.componentId,
    decodeWorkers: cfg.decodeWorkers,
    maxThrustN: ctx.vehicle.maxThrustN,
    maxRateRadS: [r[0] ?? Infinity, r[1] ?? Infinity, r[2] ?? Infinity],
    intrinsics: ctx.intrinsics,
    mount: ctx.mount,
    log: ctx.log,
  });
}
