/**
 * The in-process link: the built-in simulator as a daemon Transport, in lockstep. This is what
 * `brainpilot run --config config/default.yaml` flies with no network at all, and the reference
 * the networked transports are measured against.
 */
import type { SensorSink, Transport } from '../../src/daemon/transport.js';
import type { FlightCommand } from '../../src/tracts/io.js';
import type { RaceResult } from '../runner.js';
import type { Sim } from '../world.js';
import { SimServer, type ServeOptions } from './loop.js';

export class InProcessSimTransport implements Transport {
  readonly name = 'sim (in-process)';
  readonly clock = 'lockstep' as const;
  readonly server: SimServer;
  readonly ended: Promise<string>;
  result: RaceResult | null = null;
  private reply: FlightCommand | null = null;
  private sink: SensorSink | null = null;
  private resolveEnded!: (why: string) => void;

  constructor(sim: Sim, opts: Omit<ServeOptions, 'realtimeFactor'>) {
    this.ended = new Promise((r) => (this.resolveEnded = r));
    const wire = {
      name: 'pipeline',
      imu: (s: Parameters<SensorSink['imu']>[0]) => this.sink?.imu(s),
      frame: (f: Parameters<SensorSink['frame']>[0]) => this.sink?.frame(f),
      tick: async (tS: number): Promise<FlightCommand | null> => {
        this.reply = null;
        this.sink?.tick(tS);
        const r = this.reply;
        // yield now and then so signals and timers (health line) get their turn
        if (Math.round(tS * 250) % 25 === 0) await new Promise<void>((res) => setImmediate(res));
        return r;
      },
    };
    this.server = new SimServer(sim, wire, { ...opts, realtimeFactor: 0 });
  }

  async open(sink: SensorSink): Promise<void> {
    this.sink = sink;
    void this.server.run().then(
      (r) => {
        this.result = r;
        this.resolveEnded(r.completed ? `finished ${r.laps.length} laps` : r.crashes ? 'crashed' : 'run ended');
      },
      (e: unknown) => this.resolveEnded(`simulator failed: ${String(e)}`),
    );
  }

  send(cmd: FlightCommand | null): void {
    this.reply = cmd;
  }

  async disarm(): Promise<void> {
    this.server.disarm();
    this.server.stop();
  }

  async close(): Promise<void> {
    this.server.stop();
    this.sink = null;
  }
}
