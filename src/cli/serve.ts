/**
 * `brainpilot sim serve`: the built-in simulator as its own process, speaking a wire protocol
 * (ZeroMQ, the AI Grand Prix MAVLink + JPEG link, ROS 2) so the daemon can fly it over a real link.
 */
import type { RaceResult } from '../../sim/runner.js';
import type { Logger } from 'pino';

export interface ServeCliOptions {
  wire: 'zmq' | 'aigp' | 'ros2';
  /** zmq: endpoint to bind; aigp: host the client listens on; ros2: unused. */
  endpoint?: string;
  track: string;
  vehicle: string;
  seed: number;
  laps: number;
  latencyMs?: number;
  dropRate?: number;
  /** 0 = lockstep (zmq only), else sim seconds per wall second. */
  realtimeFactor: number;
  log: Logger;
}

export async function serveSim(o: ServeCliOptions): Promise<RaceResult> {
  switch (o.wire) {
    case 'zmq':
    case 'aigp':
    case 'ros2':
      throw new Error(`sim serve --${o.wire} is not available in this version of brainpilot`);
  }
}
