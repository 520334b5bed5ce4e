/**
 * Two links as one: the flight controller (IMU in, commands out) and a separate camera source
 * (frames in). On the AI Grand Prix drone the FC speaks MSP over a UART while the camera reaches the
 * daemon another way (ZeroMQ from a capture process, or a ROS 2 image topic). Each side delivers
 * only its own kind of sample; the FC side owns the clock, the commands and the disarm.
 */
import type { CameraFrame, FlightCommand, ImuSample } from '../tracts/io.js';
import type { RejectKind, SensorSink, Transport } from './transport.js';

export class CompositeTransport implements Transport {
  readonly name: string;
  readonly clock: 'realtime' | 'lockstep';
  readonly ended?: Promise<string>;
  /** Samples each side delivered that were not its kind (ignored, counted). */
  ignored = { framesFromFc: 0, imuFromCamera: 0 };

  constructor(
    readonly fc: Transport,
    readonly camera: Transport,
  ) {
    this.name = `${fc.name} + camera over ${camera.name}`;
    this.clock = fc.clock;
    if (fc.ended) this.ended = fc.ended;
  }

  async open(sink: SensorSink): Promise<void> {
    const fcSink: SensorSink = {
      imu: (s: ImuSample) => sink.imu(s),
      frame: () => void this.ignored.framesFromFc++,
      tick: (t: number) => sink.tick(t),
      reject: (k: RejectKind, d: string) => sink.reject(k, `fc: ${d}`),
      linkState: (up: boolean, d: string) => sink.linkState(up, `fc: ${d}`),
    };
    const camSink: SensorSink = {
      imu: () => void this.ignored.imuFromCamera++,
      frame: (f: CameraFrame) => sink.frame(f),
      tick: () => {
        // the camera side never drives the command clock
      },
      reject: (k: RejectKind, d: string) => sink.reject(k, `camera: ${d}`),
      linkState: (up: boolean, d: string) => sink.linkState(up, `camera: ${d}`),
    };
    await this.camera.open(camSink);
    try {
      await this.fc.open(fcSink);
    } catch (e) {
      await this.camera.close();
      throw e;
    }
  }

  send(cmd: FlightCommand | null): void {
    this.fc.send(cmd);
  }

  disarm(reason: string): Promise<void> {
    return this.fc.disarm(reason);
  }

  async close(): Promise<void> {
    // the FC first: its close disarms; the camera is only an input
    await this.fc.close();
    await this.camera.close();
  }

  counters(): Record<string, number> {
    const out: Record<string, number> = { framesFromFcIgnored: this.ignored.framesFromFc, imuFromCameraIgnored: this.ignored.imuFromCamera };
    for (const [k, v] of Object.entries(this.fc.counters?.() ?? {})) out[`fc.${k}`] = v;
    for (const [k, v] of Object.entries(this.camera.counters?.() ?? {})) out[`camera.${k}`] = v;
    return out;
  }
}
