/**
 * A lap over real ROS 2 topics: `brainpilot sim serve --ros2` in its own process, the daemon with the
 * ros2 transport in this one, DDS in between (loopback only, a domain id of its own). Needs a sourced
 * ROS 2 (AMENT_PREFIX_PATH) and rclnodejs installed against it; skipped otherwise, with the reason in
 * the test name.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../src/config/schema.js';
import { startDaemon } from '../src/cli/run.js';

const root = join(import.meta.dirname, '..');
const haveRos = Boolean(process.env['AMENT_PREFIX_PATH']);
const why = haveRos ? '' : ' (skipped: needs a sourced ROS 2 — AMENT_PREFIX_PATH is not set — and rclnodejs)';

// keep DDS discovery on loopback and off any other ROS 2 graph on this machine
const rosEnv = { ROS_DOMAIN_ID: String(1 + (process.pid % 100)), ROS_LOCALHOST_ONLY: '1', ROS_AUTOMATIC_DISCOVERY_RANGE: 'LOCALHOST' };

async function lap(realtime: number): Promise<{ completed: boolean; crashes: number; laps: { gatesPassed: number; gatesTotal: number }[] }> {
  Object.assign(process.env, rosEnv);
  const out = join(mkdtempSync(join(tmpdir(), 'brainpilot-ros2-')), 'sim.json');
  const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'src/cli/main.ts'), 'sim', 'serve', '--ros2', '--track', 'warmup', '--laps', '1', '--seed', '3', '--realtime', String(realtime), '--json', out], {
    cwd: root,
    env: { ...process.env, ...rosEnv, BRAINPILOT_LOG: 'warn' },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  const cfg = parseConfig({ track: { map: 'warmup' }, log: { healthIntervalS: 0, level: 'warn' }, transport: { kind: 'ros2', clock: realtime === 0 ? 'lockstep' : 'realtime' } });
  const h = await startDaemon(cfg, pino({ level: 'warn' }));
  try {
    await exited;
  } finally {
    await h.daemon.stop('simulator finished');
    child.kill('SIGINT');
  }
  return JSON.parse(readFileSync(out, 'utf8'));
}

describe('ROS 2, live', () => {
  it.skipIf(!haveRos)(`a lap of sim serve --ros2 in lockstep over real ROS 2 topics${why}`, async () => {
    const r = await lap(0);
    expect(r.crashes).toBe(0);
    expect(r.completed).toBe(true);
    expect(r.laps[0]!.gatesPassed).toBe(r.laps[0]!.gatesTotal);
  }, 55_000);

  it.skipIf(!haveRos)(`a lap paced in real time over real ROS 2 topics${why}`, async () => {
    const r = await lap(1);
    expect(r.completed).toBe(true);
  }, 55_000);
});
