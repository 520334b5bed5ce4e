/**
 * What a closed-loop runner needs from a controller, whatever it is made of (the region pipeline,
 * the pid baseline, the privileged oracle). Sensors are pushed as they arrive; the runner asks for a
 * command at the control rate. Returning null means "no new command" (the FC keeps the last one).
 */
import type { CameraFrame, FlightCommand, ImuSample } from './io.js';

export interface Controller {
  readonly name: string;
  /** True when the controller reads ground truth (the oracle); such results are labelled privileged. */
  readonly privileged: boolean;
  onImu(sample: ImuSample): void;
  onFrame(frame: CameraFrame): void;
  /**
   * The command for now. The returned object may be reused by the next call (the pipeline refills
   * one object per tick so steady flight allocates nothing): whoever keeps it past the call — a
   * latency queue, a rate-limited sender — copies it.
   */
  command(nowS: number): FlightCommand | null;
  /**
   * True once the controller's own safety logic has decided to disarm (e.g. the guard's failsafe).
   * A null command alone keeps the FC flying its last command, so adapters must act on this.
   */
  disarmRequested?(): boolean;
}
