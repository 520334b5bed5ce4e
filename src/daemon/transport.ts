/**
 * The daemon's edge: a Transport brings sensor samples in and takes commands out. ZeroMQ, ROS 2,
 * the AI Grand Prix MAVLink link, the in-process simulator and the firmware bridges all implement
 * this one interface; the daemon and the pipeline never see a socket, a message class or a wire
 * format. Transports convert to the tracts in src/tracts/io.ts (ENU world, FLU body, SI units,
 * seconds on the sensor clock) and report what they could not convert through `sink.reject`.
 */
import type { CameraFrame, FlightCommand, ImuSample } from '../tracts/io.js';
import type { HealthSnapshot } from './daemon.js';

/** Why an input was dropped; counted per kind in the health line. */
export type RejectKind =
  | 'malformed' // could not be parsed at all (bad multipart, truncated datagram, unknown field)
  | 'decode' // parsed, but the payload does not decode (a JPEG that fails, wrong byte count)
  | 'encoding' // an image encoding or size the pipeline does not take
  | 'non-finite' // NaN/Inf in a numeric field
  | 'time' // non-monotonic or stale timestamp
  | 'incomplete'; // a chunked frame that never completed

export interface SensorSink {
  imu(sample: ImuSample): void;
  frame(frame: CameraFrame): void;
  /**
   * Lockstep transports only: the far side has advanced to sensor time nowS and waits for one
   * command (send(cmd) or send(null)) before it steps on.
   */
  tick(nowS: number): void;
  /** An input that was dropped, with a short reason for the (rate-limited) log. */
  reject(kind: RejectKind, detail: string): void;
  /** The link itself went down or came back (the health line and the failsafe read this). */
  linkState(up: boolean, detail: string): void;
}

export interface Transport {
  readonly name: string;
  /**
   * 'realtime': sensors arrive on their own clock; the daemon commands at its configured rate.
   * 'lockstep': the far side calls sink.tick() and waits for exactly one send() in reply.
   */
  readonly clock: 'realtime' | 'lockstep';
  open(sink: SensorSink): Promise<void>;
  /**
   * Send a command (null in lockstep = "no new command, step on"). Never throws on a dead link. The
   * object is the controller's and may be refilled on the next tick: encode it now or copy it.
   */
  send(cmd: FlightCommand | null): void;
  /** Tell the vehicle to disarm (or the transport's failsafe) and wait until it has left. */
  disarm(reason: string): Promise<void>;
  /** Release every socket and timer. Idempotent. */
  close(): Promise<void>;
  /** Resolves when the far side ends the session on its own (a simulator that finished its laps). */
  readonly ended?: Promise<string>;
  /** Transport-specific counters for the health line (bytes, datagrams, reconnects...). */
  counters?(): Record<string, number>;
  /** Links that publish the daemon's state (ROS 2 /diagnostics): each health line, off the command path. */
  publishHealth?(h: HealthSnapshot): void;
  /** Links that publish what the camera saw (ROS 2 detections): after each accepted frame. Must not block. */
  publishPerception?(p: PerceptionReport): void;
}

/** What the colliculus made of one frame, for links that publish it. */
export interface PerceptionReport {
  /** The frame's exposure time, s (sensor clock). */
  stampS: number;
  sightings: readonly {
    kind: 'ring' | 'blob';
    /** [u0, v0, u1, v1], px. */
    bboxPx: readonly [number, number, number, number];
    confidence: number;
    /** Gate centre in the camera optical frame (x right, y down, z forward), m; null without a pose. */
    posCamM: readonly [number, number, number] | null;
  }[];
  /** Index of the orienting target in sightings, or −1. */
  targetIndex: number;
  /** Time to contact with the target gate from its looming, s (null: unknown). */
  timeToGateS: number | null;
}
