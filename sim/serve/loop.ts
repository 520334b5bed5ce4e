/**
 * The built-in simulator as a server: the loop every wire protocol shares (ZeroMQ, the AI Grand
 * Prix MAVLink link, ROS 2). The wire publishes what the loop hands it and passes commands back;
 * the loop steps the physics in lockstep (waiting for the client's answer every control period:
 * deterministic, as fast as the client) or paced by the wall clock (what a real simulator does).
 */
import type { CameraFrame, FlightCommand, ImuSample } from '../../src/tracts/io.js';
import type { Sim } from '../world.js';
import { raceOver, summarize, type RaceResult } from '../runner.js';

export interface SimWire {
  readonly name: string;
  imu(s: ImuSample): void;
  frame(f: CameraFrame): void;
  /** Lockstep only: ask the client for its command at sim time tS (null = keep the last one). */
  tick?(tS: number): Promise<FlightCommand | null>;
}

export interface ServeOptions {
  laps: number;
  seed: number;
  /** 0 = lockstep (the wire must implement tick); > 0 = sim seconds per wall second. */
  realtimeFactor: number;
  /** Lockstep control period, s. */
  controlPeriodS?: number;
  /** Stop after this much sim time per lap, s. */
  lapTimeoutS?: number;
  /**
   * Paced only: when the sim falls more than this far behind the wall clock (a loaded machine), it slows down
   * (the debt is dropped) instead of stepping a burst to catch up, so clients see sensors at a steady pace.
   * Default: catch up (no limit).
   */
  maxLagS?: number;
  /** Arm the sim FC when the run starts (default true); false when the wire arms it (an MSP AUX switch). */
  armAtStart?: boolean;
  /** Called about every 0.25 s of sim time. */
  onProgress?: (info: { lap: number; gate: number; tS: number }) => void;
}

export class SimServer {
  private disarmedByClient = false;
  private stopped = false;
  commandsReceived = 0;
  commandsRejected = 0;
  /** Paced: sim time given up to stay within maxLagS of the wall clock, s. */
  slippedS = 0;

  constructor(
    readonly sim: Sim,
    readonly wire: SimWire,
    readonly o: ServeOptions,
  ) {
    if (o.realtimeFactor === 0 && !wire.tick) throw new Error(`sim serve: the ${wire.name} wire has no lockstep; give a realtime factor > 0`);
  }

  /** A command from the client (any time in real-time mode). */
  command(cmd: FlightCommand): void {
    this.commandsReceived++;
    this.sim.sendCommand(cmd);
  }

  /** The client asked to disarm: motors stop, the run ends when the drone is down. */
  disarm(): void {
    this.disarmedByClient = true;
    this.sim.disarm();
  }

  /** End the run early (SIGINT, the client went away for good). */
  stop(): void {
    this.stopped = true;
  }

  get clientDisarmed(): boolean {
    return this.disarmedByClient;
  }

  async run(): Promise<RaceResult> {
    const { sim, wire, o } = this;
    const period = o.controlPeriodS ?? 0.004;
    const timeout = (o.lapTimeoutS ?? 60) * o.laps;
    const onImu = (x: ImuSample): void => wire.imu(x);
    const onFrame = (f: CameraFrame): void => wire.frame(f);
    let nextTick = 0;
    let nextProg = 0;
    let done = false;
    const wall0 = performance.now();
    if (o.armAtStart ?? true) sim.arm();
    const stepOnce = (): void => {
      const ev = sim.step();
      sim.deliver(onImu, onFrame);
      if (raceOver(ev, o.laps)) done = true;
      // a client disarm ends the run once the drone has come down
      if (this.disarmedByClient && sim.state.posEnuM[2] < 0.05) done = true;
      if (o.onProgress && sim.tS >= nextProg) {
        nextProg += 0.25;
        o.onProgress({ lap: sim.judge.lap + 1, gate: sim.judge.nextGate, tS: sim.tS });
      }
    };
    if (o.realtimeFactor === 0) {
      while (!done && !this.stopped && sim.tS < timeout) {
        stepOnce();
        if (sim.tS + 1e-9 >= nextTick) {
          nextTick += period;
          const cmd = await wire.tick!(sim.tS);
          if (cmd) this.command(cmd);
        }
      }
    } else {
      // paced: catch the sim up with the wall clock, then yield to the event loop for I/O
      while (!done && !this.stopped && sim.tS < timeout) {
        let targetS = ((performance.now() - wall0) / 1000) * o.realtimeFactor - this.slippedS;
        if (o.maxLagS !== undefined && targetS - sim.tS > o.maxLagS) {
          this.slippedS += targetS - sim.tS - o.maxLagS;
          targetS = sim.tS + o.maxLagS;
        }
        let n = 0;
        while (sim.tS < targetS && !done && n < 200) {
          stepOnce();
          n++;
        }
        await new Promise<void>((r) => setTimeout(r, n >= 200 ? 0 : 1));
      }
    }
    sim.disarm();
    const wallS = (performance.now() - wall0) / 1000;
    this.commandsRejected = sim.fc.rejectedCount;
    return summarize(sim, { name: wire.name, privileged: false }, o.seed, o.laps, wallS);
  }
}
