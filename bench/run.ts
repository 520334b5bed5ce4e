/**
 * `npm run bench`: runs every benchmark and writes one JSON file per area under bench/results/.
 * Benchmarks, not unit tests, check speed and memory targets.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cpus } from 'node:os';
import { packageRoot } from '../src/paths.js';
import { benchSim } from './sim.js';
import { benchMsp } from './msp.js';
import { benchLearn } from './learn.js';
import { benchPipeline } from './pipeline.js';
import { benchColliculus } from './colliculus.js';
import { benchInProcess } from './transports.js';
import { benchRos2 } from './ros2.js';
import { benchZmq } from './transport-zmq.js';
import { benchAigp } from './transport-aigp.js';
import { benchMavlink } from './mavlink.js';
import { benchBetaflightLoop } from './betaflight-loop.js';
import { runSitlServoFuzz } from './sitl-fuzz.js';

const outDir = join(packageRoot(), 'bench', 'results');
mkdirSync(outDir, { recursive: true });

const machine = { node: process.version, cpu: cpus()[0]?.model ?? 'unknown', cores: cpus().length, date: new Date().toISOString() };

function write(name: string, data: Record<string, unknown>): void {
  const p = join(outDir, `${name}.json`);
  writeFileSync(p, JSON.stringify({ machine, ...data }, null, 2) + '\n');
  console.log(`wrote ${p}`);
}

const only = process.argv[2];
const benches: Record<string, () => Promise<Record<string, unknown>> | Record<string, unknown>> = {
  sim: benchSim,
  bridges: async () => ({ msp: benchMsp() as Record<string, unknown>, mavlink: benchMavlink(), sitlServoFuzz: runSitlServoFuzz(), betaflightLoop: await benchBetaflightLoop() }),
  learn: benchLearn,
  // frame-to-command latency per link, JPEG decode, sustained 120 Hz camera + 1 kHz IMU
  transports: async () => ({ inProcess: benchInProcess(), zmq: await benchZmq(), aigp: await benchAigp() }),
  pipeline: async () => ({ ...(await benchPipeline()), colliculusStandalone: benchColliculus() as unknown as Record<string, unknown> }),
  ros2: benchRos2,
};
for (const [name, fn] of Object.entries(benches)) {
  if (only && only !== name) continue;
  write(name, await fn());
}
