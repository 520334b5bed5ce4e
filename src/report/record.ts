/**
 * A flight record: plain, JSON-serialisable data written by any runner (the built-in sim, a
 * transport) and read by the plotter. Keeping it plain keeps the report code free of the simulator.
 */
export interface RecordedGate {
  index: number;
  centerEnuM: [number, number, number];
  yawRad: number;
  innerM: number;
  outerM: number;
}

export interface RecordedSample {
  tS: number;
  posEnuM: [number, number, number];
  velEnuMS: [number, number, number];
  /** roll, pitch, yaw (rad). */
  eulerRad: [number, number, number];
}

export interface RecordedCommand {
  tS: number;
  kind: string;
  /** Collective thrust (N) for ctbr, else NaN-free summary value. */
  thrustN?: number;
  rateRadS?: [number, number, number];
  motors?: number[];
}

export interface RecordedEvent {
  kind: string;
  tS: number;
  [k: string]: unknown;
}

export interface FlightRecord {
  version: 1;
  track: string;
  controller: string;
  seed: number;
  /** Where the gates really stood. */
  gates: RecordedGate[];
  /** The prior map the controller was given (may differ from `gates`). */
  mapGates: RecordedGate[];
  samples: RecordedSample[];
  commands: RecordedCommand[];
  events: RecordedEvent[];
  lapTimesS: number[];
  /** Optional extra series to plot (e.g. a learning curve: per-lap or per-second values). */
  series?: Record<string, { x: number[]; y: number[]; xLabel: string; yLabel: string }>;
}
