/**
 * PX4 or ArduPilot over MAVLink as a daemon Transport (src/daemon/transport.ts): `open()` connects and runs
 * the stack's sequence to "armed and taking setpoints" (px4.ts / ardupilot.ts), IMU samples flow to the
 * sink, CTBR commands go out as SET_ATTITUDE_TARGET, `disarm()` disarms on the ground or lands and waits
 * for the FC's disarm, and a loss of control (the FC left OFFBOARD/GUIDED, disarmed on its own) ends the
 * session through `ended`. Real time: the FC runs on its own clock.
 *
 * Frames: PX4 SIH and ArduPilot SITL have no camera. A `frameSource` (e.g. the built-in simulator's
 * renderer driven by the reported pose, wired in src/cli/transports.ts) can supply them; without one the
 * pipeline sees no frames and its guard fails safe (level, descend, then disarm), as it should.
 */
import type { Logger } from 'pino';
import type { SensorSink, Transport } from '../../src/daemon/transport.js';
import type { CameraFrame, FlightCommand } from '../../src/tracts/io.js';
import { openLink } from '../link/index.js';
import { MavlinkSession, type MavlinkSessionOptions } from './session.js';
import { Px4Bridge, type Px4BridgeOptions } from './px4.js';
import { ArduPilotBridge, type ArduPilotBridgeOptions } from './ardupilot.js';
import type { MavlinkFcBridge } from './bridge.js';
import type { VehiclePose } from './messages.js';

/** Renders a camera frame for a pose (or null when it cannot). Called at `rateHz`. */
export interface PoseFrameSource {
  rateHz: number;
  render(pose: VehiclePose, seq: number): CameraFrame | null;
}

export type MavlinkTransportOptions =
  | { kind: 'px4'; link: string; session: MavlinkSessionOptions; bridge: Px4BridgeOptions; log?: Logger; frameSource?: PoseFrameSource }
  | { kind: 'ardupilot'; link: string; session: MavlinkSessionOptions; bridge: ArduPilotBridgeOptions; log?: Logger; frameSource?: PoseFrameSource };

export class MavlinkFcTransport implements Transport {
  readonly name: string;
  readonly clock = 'realtime' as const;
  readonly ended: Promise<string>;
  bridge: MavlinkFcBridge | null = null;
  private resolveEnded!: (why: string) => void;
  private sink: SensorSink | null = null;
  private unsupported = 0;
  private framesRendered = 0;
  private frameTimer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(private readonly o: MavlinkTransportOptions) {
    this.name = `${o.kind === 'px4' ? 'PX4' : 'ArduPilot'} over MAVLink (${o.link})`;
    this.ended = new Promise((r) => (this.resolveEnded = r));
  }

  async open(sink: SensorSink): Promise<void> {
    this.sink = sink;
    const o = this.o;
    const link = openLink(o.link, o.log ? { log: o.log.child({ module: 'link' }) } : {});
    link.on('error', () => {}); // counted in link.stats and logged by the link
    link.on('open', () => this.sink?.linkState(true, `${link.uri} open`));
    link.on('close', () => this.sink?.linkState(false, `${link.uri} closed`));
    const session = new MavlinkSession(link, { ...o.session, ...(o.log ? { log: o.log } : {}) });
    const bridgeOpts = { ...o.bridge, ...(o.log ? { log: o.log } : {}) };
    const bridge = o.kind === 'px4' ? new Px4Bridge(session, bridgeOpts) : new ArduPilotBridge(session, bridgeOpts);
    this.bridge = bridge;
    bridge.on('imu', (s) => this.sink?.imu(s));
    bridge.on('link', (up, detail) => this.sink?.linkState(up, detail));
    bridge.on('reject', (detail) => this.sink?.reject('non-finite', detail));
    bridge.on('lost', (why) => this.resolveEnded(`control lost: ${why}`));
    try {
      await bridge.start();
    } catch (e) {
      await bridge.disarm('start failed').catch(() => undefined);
      await bridge.close();
      throw e;
    }
    if (o.frameSource) this.startFrames(o.frameSource, bridge);
  }

  private startFrames(src: PoseFrameSource, bridge: MavlinkFcBridge): void {
    let seq = 0;
    let lastStampS = -Infinity;
    this.frameTimer = setInterval(() => {
      const pose = bridge.pose;
      // one frame per new pose: a repeated stamp is the same exposure
      if (!pose || !this.sink || !(pose.stampS > lastStampS)) return;
      lastStampS = pose.stampS;
      let f: CameraFrame | null = null;
      try {
        f = src.render(pose, seq++);
      } catch (e) {
        this.sink.reject('decode', `frame render failed: ${(e as Error).message}`);
        return;
      }
      if (!f) return;
      this.framesRendered++;
      this.sink.frame(f);
    }, 1000 / src.rateHz);
  }

  send(cmd: FlightCommand | null): void {
    if (!cmd || !this.bridge || this.closed) return;
    if (cmd.kind !== 'ctbr') {
      // PX4/ArduPilot take rates + thrust here; motor or RC commands have no meaning on this link
      this.unsupported++;
      return;
    }
    this.bridge.setpoint(cmd);
  }

  async disarm(reason: string): Promise<void> {
    if (this.frameTimer) clearInterval(this.frameTimer);
    this.frameTimer = undefined;
    await this.bridge?.disarm(reason);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.frameTimer) clearInterval(this.frameTimer);
    this.frameTimer = undefined;
    await this.bridge?.close();
    this.sink = null;
  }

  counters(): Record<string, number> {
    return { ...(this.bridge?.counters() ?? {}), unsupportedCommands: this.unsupported, framesRendered: this.framesRendered };
  }
}
