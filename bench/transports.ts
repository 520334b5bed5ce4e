/**
 * Transport benchmark: frame-to-command latency through each link (in-process, ZeroMQ, the AI Grand
 * Prix MAVLink + JPEG link), JPEG decode time, and a sustained 120 Hz camera + 1 kHz IMU run per
 * link with its drop count. Writes bench/results/transports.json through bench/run.ts.
 *
 * In-process: the daemon and the pipeline with no wire at all — the floor every link adds to.
 * Frames and IMU come from the built-in sim (recorded first, so the sim's rendering is not timed);
 * each frame is followed at once by a command tick, and the time from handing the frame to the
 * daemon to the command leaving it is what is measured.
 */
import { pino } from 'pino';
import { RACE_DEFAULTS, buildSim, pipelineConfigFor } from '../src/cli/race.js';
import { Daemon } from '../src/daemon/daemon.js';
import type { SensorSink, Transport } from '../src/daemon/transport.js';
import { Pipeline } from '../src/pipeline.js';
import type { CameraFrame, FlightCommand, ImuSample } from '../src/tracts/io.js';

const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return Math.round(s[Math.min(s.length - 1, Math.floor(p * s.length))]! * 1000) / 1000;
};

export function benchInProcess(): Record<string, unknown> {
  const o = { ...RACE_DEFAULTS, track: 'aigp-qualifier', laps: 1, seed: 1, latencyMs: 30 };
  const sim = buildSim(o);
  // fly the oracle-free way: record sensor streams from the sim under the pipeline's own control
  const pipe = new Pipeline(pipelineConfigFor(sim, o));
  const events: ({ imu: ImuSample } | { frame: CameraFrame; copy: Uint8Array })[] = [];
  const ib: ImuSample[] = [], fb: CameraFrame[] = [];
  let next = 0;
  sim.arm();
  while (sim.tS < 12 && !sim.judge.crashed) {
    sim.step();
    ib.length = 0;
    fb.length = 0;
    for (const s of sim.pollImu(ib)) {
      pipe.onImu(s);
      events.push({ imu: s });
    }
    for (const f of sim.pollFrames(fb)) {
      pipe.onFrame(f);
      events.push({ frame: f, copy: f.data.slice() });
    }
    if (sim.tS >= next) {
      next += 0.004;
      const c = pipe.command(sim.tS);
      if (c) sim.sendCommand(c);
    }
  }
  // replay through a fresh daemon + pipeline with an in-process (no-wire) transport
  let sentAt = 0;
  const t: Transport & { sink?: SensorSink } = {
    name: 'in-process',
    clock: 'lockstep',
    open: async (sink) => void (t.sink = sink),
    send: (_c: FlightCommand | null) => void (sentAt = performance.now()),
    disarm: async () => {},
    close: async () => {},
  };
  const d = new Daemon({ controller: new Pipeline(pipelineConfigFor(sim, o)), transport: t, log: pino({ level: 'silent' }), rateHz: 250, healthIntervalS: 0 });
  void d.start();
  const lat: number[] = [];
  let lastStamp = 0;
  for (const e of events) {
    if ('imu' in e) {
      t.sink!.imu(e.imu);
      lastStamp = e.imu.stampS;
    } else {
      const f = { ...e.frame, data: e.copy };
      const t0 = performance.now();
      t.sink!.frame(f);
      t.sink!.tick(lastStamp);
      lat.push(sentAt - t0);
    }
  }
  const warm = lat.slice(30);
  return { frames: warm.length, frameToCommandMs: { p50: pct(warm, 0.5), p99: pct(warm, 0.99) }, note: 'daemon + pipeline, no wire: the floor for every transport' };
}
