/**
 * The AI Grand Prix link end to end: the daemon (in this process, the shipped config/aigp-vq.yaml)
 * flies a lap of the warm-up track against `brainpilot sim serve --aigp` in a child process over
 * real UDP sockets on loopback, while garbage of every kind is thrown at both of its ports.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { afterEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../src/config/schema.js';
import { startDaemon } from '../src/cli/run.js';
import type { AigpTransport } from '../src/transports/aigp/transport.js';
import { chunkJpeg } from '../src/transports/aigp/video.js';
import { FakeVehicle, imuMsg, root, silent, sleep, testJpeg, until } from './aigp-helpers.js';

let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

describe('aigp link flies sim serve --aigp', () => {
  it('completes a lap of the warm-up track over UDP while garbage of every kind is dropped and counted', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'brainpilot-aigp-'));
    // the shipped config/aigp-vq.yaml, on the warm-up map and ephemeral ports
    const shipped = parseYaml(readFileSync(join(root, 'config', 'aigp-vq.yaml'), 'utf8')) as Record<string, Record<string, unknown>>;
    const cfg = parseConfig({
      ...shipped,
      track: { ...shipped['track'], map: 'warmup' },
      // two cores shared with the other test files (hence also --realtime 0.4): a stall of this
      // process reads as IMU age to the daemon, so allow more than the shipped 0.25 s before the
      // failsafe disarms (the failsafe itself is tested in steering.test.ts)
      failsafe: { ...shipped['failsafe'], imuTimeoutS: 0.5 },
      log: { level: 'warn', healthIntervalS: 0 },
      transport: { ...shipped['transport'], mavlinkBind: '127.0.0.1:0', videoBind: '127.0.0.1:0' },
    });
    const h = await startDaemon(cfg, silent);
    const link = h.transport as AigpTransport;
    const { mavlink, video } = link.ports();
    const json = join(dir, 'serve.json');
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', 'src/cli/main.ts', 'sim', 'serve', '--aigp', `127.0.0.1:${mavlink}:${video}`, '--track', 'warmup', '--laps', '1', '--seed', '1', '--realtime', '0.4', '--json', json],
      { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, BRAINPILOT_LOG: 'warn' } },
    );
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    cleanup.push(async () => {
      if (child.exitCode === null) child.kill('SIGTERM');
      await h.daemon.stop('test end');
    });

    // the guard's mode over the flight, for the failure message
    const modes: string[] = [];
    const modeTimer = setInterval(() => {
      const m = h.pipeline.telemetry().guardMode;
      if (modes.at(-1) !== m) modes.push(m);
    }, 20);
    cleanup.push(async () => clearInterval(modeTimer));

    // once flying, throw one of each kind of garbage at both ports from a stranger's socket
    await until(() => h.daemon.health().totals.frames >= 10, 20_000, 'frames through the link').catch((e: Error) => {
      throw new Error(`${e.message}; sim serve said: ${stderr.slice(-1500)}`);
    });
    const v = new FakeVehicle({ mavlink, video });
    await v.open();
    cleanup.push(() => v.close());
    const good = v.enc.encode(imuMsg(0.5));
    const crc = Buffer.from(good);
    crc[12]! ^= 0x01;
    v.mav(crc);
    v.mav(good.subarray(0, 20));
    v.msg(imuMsg(1e6, [NaN, 0, 0]));
    v.msg(imuMsg(0.001)); // long before the newest sample
    const j = testJpeg();
    const c = chunkJpeg(0xfffff000, j, 1n, 1400);
    v.video(c[0]!.subarray(0, 50));
    v.video(Buffer.concat([c[1]!, Buffer.alloc(1)]));
    // not a JPEG (stamped far ahead: a failed frame must not raise the bar for the real ones); sent a
    // few times, as one arriving while both decode slots are busy is dropped before decoding
    for (let k = 0; k < 5; k++) {
      for (const x of chunkJpeg(0xfffff010 + k, new Uint8Array(3000).fill(1), 10n ** 15n + BigInt(k), 1400)) v.video(x);
      await sleep(60);
    }
    v.video(chunkJpeg(0xfffff002, j, 10n ** 15n, 1400)[0]!);
    for (const x of c) v.video(x); // a good JPEG, stamped 1 ns: older than the flight's frames

    const why = await h.finished;
    const code = await exited;
    expect(why).toMatch(/POWEROFF/);
    const result = JSON.parse(readFileSync(json, 'utf8')) as { completed: boolean; laps: { gatesPassed: number; gatesTotal: number }[]; crashes: number };
    const health = h.daemon.health();
    const why2 = JSON.stringify({ modes, drops: health.drops, totals: health.totals, transport: health.transport, sim: stderr.slice(-1500) });
    expect({ completed: result.completed, crashes: result.crashes, gates: result.laps[0]?.gatesPassed }, why2).toEqual({ completed: true, crashes: 0, gates: 4 });
    expect(code).toBe(0);
    expect(health.totals.imu).toBeGreaterThan(3000);
    expect(health.totals.frames).toBeGreaterThan(50);
    expect(health.totals.commands).toBeGreaterThan(500);
    expect(health.drops.malformed).toBeGreaterThanOrEqual(4);
    expect(health.drops['non-finite']).toBeGreaterThanOrEqual(1);
    expect(health.drops.time).toBeGreaterThanOrEqual(2);
    expect(health.drops.decode).toBeGreaterThanOrEqual(1);
    expect(health.drops.incomplete).toBeGreaterThanOrEqual(1);
    expect(health.failsafe).toBe('disarmed');
  }, 55_000);
});
