/**
 * `brainpilot run` with transport px4 / ardupilot: the daemon (region pipeline, command clock, disarm
 * before close) flies the loopback MAVLink FC emulator over real UDP/TCP, with camera frames rendered from
 * the pose the FC reports; a mode switch on the FC ends the run and the daemon lands the vehicle; a
 * refused arming fails the start with the FC's reason; config errors name the key.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml, stringify } from 'yaml';
import { afterEach, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { ConfigError, parseConfig } from '../src/config/schema.js';
import { startDaemon, vehicleFor, type RunHandle } from '../src/cli/run.js';
import { MavlinkFcEmulator, type MavlinkFcEmulatorOptions } from '../firmware-bridge/mavlink/emulator.js';
import { MavCmd } from '../firmware-bridge/mavlink/messages.js';
import { PX4_AUTO_LOITER } from '../firmware-bridge/mavlink/modes.js';

const log = pino({ level: 'silent' });
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
});

let lastEmu: MavlinkFcEmulator | null = null;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Poll until `pred` holds (a loaded machine runs the 100 Hz command clock slower; wait for counts, not time). */
async function until(pred: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const t0 = performance.now();
  while (!pred()) {
    if (performance.now() - t0 > timeoutMs) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await sleep(20);
  }
}

async function fly(kind: 'px4' | 'ardupilot', emuOpts: Partial<MavlinkFcEmulatorOptions> = {}, extra: Record<string, unknown> = {}): Promise<{ emu: MavlinkFcEmulator; h: RunHandle }> {
  // a small camera keeps the rendering cheap on a 2-core test machine
  const base = { log: { level: 'info', healthIntervalS: 0 }, camera: { width: 320, height: 180, fx: 160, fy: 160, cx: 160, cy: 90 } };
  const probe = parseConfig({ ...base, transport: { kind } });
  const v = vehicleFor(probe);
  const emu = new MavlinkFcEmulator({ autopilot: kind, heartbeatHz: 10, massKg: v.massKg, maxThrustN: v.maxThrustN, ...emuOpts });
  await emu.start();
  lastEmu = emu;
  cleanups.push(() => emu.close());
  const transport =
    kind === 'px4'
      ? { kind, link: emu.uri, preStreamS: 0.2, renderFrames: { track: 'aigp-qualifier', rateHz: 20 }, imuRateHz: 200, ...extra }
      : { kind, link: emu.uri, takeoffAltM: 1, renderFrames: { track: 'aigp-qualifier', rateHz: 20 }, ...extra };
  const cfg = parseConfig({ ...base, transport });
  const h = await startDaemon(cfg, log);
  cleanups.push(() => h.daemon.stop('test cleanup'));
  return { emu, h };
}

describe('daemon over MAVLink (px4 / ardupilot transports)', () => {
  it('PX4: engages OFFBOARD, the pipeline commands rates + thrust from IMU and rendered frames, stop disarms', async () => {
    const { emu, h } = await fly('px4');
    const engagedAt = emu.attitudeTargets.length;
    const totals = (): { imu: number; frames: number; commands: number } => h.daemon.health().totals;
    // wait for counts, and for the pipeline to have calibrated and lifted (on a loaded machine the IMU
    // arrives slower than the 100 Hz command clock, so the first commands are the idle ones)
    const lifting = (): boolean => emu.attitudeTargets.slice(engagedAt).some((t) => t.mode === 'OFFBOARD' && t.armed && t.thrust > 0.1);
    await until(() => totals().commands > 60 && totals().frames > 10 && lifting(), 15_000, '60 commands, 10 frames and a lifting command');
    expect(totals().imu).toBeGreaterThan(60);
    const flown = emu.attitudeTargets.slice(engagedAt).filter((t) => t.mode === 'OFFBOARD' && t.armed);
    expect(flown.length).toBeGreaterThan(50);
    for (const t of flown) {
      expect(t.typeMask).toBe(128);
      expect(t.thrust).toBeGreaterThanOrEqual(0);
      expect(t.thrust).toBeLessThanOrEqual(1);
      expect(t.ratesFrd.every(Number.isFinite)).toBe(true);
    }
    // the pipeline holds the drone up: not all commands are idle thrust
    expect(Math.max(...flown.map((t) => t.thrust))).toBeGreaterThan(0.1);
    await h.daemon.stop('test');
    expect(await h.finished).toBe('stopped');
    expect(emu.armed).toBe(false);
  });

  it('PX4: a mode switch on the FC ends the run (control lost) and the daemon lands it', async () => {
    const { emu, h } = await fly('px4', { landSpeedMS: 5 });
    await sleep(600);
    emu.switchMode(PX4_AUTO_LOITER, 'RC: mode switch to HOLD');
    const why = await h.finished;
    expect(why).toMatch(/^control lost: PX4 left OFFBOARD for AUTO\.LOITER \(FC says: .*RC: mode switch to HOLD/);
    await emu.waitFor(() => !emu.armed, 5000, 'disarmed');
  });

  it('PX4: a refused arming fails the start with the FC\'s reason and leaves nothing streaming', async () => {
    await expect(fly('px4', { armCheck: 'Preflight Fail: ekf2 missing data' }, { armTimeoutS: 0.4 })).rejects.toThrow(
      /arming refused .*TEMPORARILY_REJECTED.*Arming denied: Preflight Fail: ekf2 missing data/,
    );
    const emu = lastEmu!;
    expect(emu.armed).toBe(false);
    const n = emu.attitudeTargets.length;
    const hb = emu.heartbeatsIn;
    await sleep(300);
    expect(emu.attitudeTargets.length).toBe(n); // keep-alive stopped
    expect(emu.heartbeatsIn).toBe(hb); // session closed
  });

  it('ArduPilot over TCP: GUIDED, arm, takeoff, then the pipeline flies; stop lands and disarms', async () => {
    const { emu, h } = await fly('ardupilot', { landSpeedMS: 5 });
    expect(emu.commands.some((c) => c.command === MavCmd.NAV_TAKEOFF)).toBe(true);
    await until(() => emu.attitudeTargets.filter((t) => t.mode === 'GUIDED').length > 20, 10_000, '20 setpoints in GUIDED');
    expect(h.daemon.health().totals.commands).toBeGreaterThan(20);
    await h.daemon.stop('test');
    expect(emu.armed).toBe(false);
  });

  it('`brainpilot run --config` (a px4-sitl.yaml pointed at the emulator): flies, and SIGINT disarms before exit', async () => {
    const emu = new MavlinkFcEmulator({ autopilot: 'px4', heartbeatHz: 10, landSpeedMS: 5 });
    await emu.start();
    cleanups.push(() => emu.close());
    const root = fileURLToPath(new URL('..', import.meta.url));
    const cfg = parseYaml(readFileSync(join(root, 'config/px4-sitl.yaml'), 'utf8')) as Record<string, Record<string, unknown>>;
    cfg['transport'] = { ...cfg['transport'], link: emu.uri, preStreamS: 0.2, renderFrames: { track: 'aigp-qualifier', rateHz: 10 } };
    cfg['camera'] = { ...cfg['camera'], width: 320, height: 180, fx: 160, fy: 160, cx: 160, cy: 90 };
    const path = join(mkdtempSync(join(tmpdir(), 'brainpilot-px4-')), 'px4.yaml');
    writeFileSync(path, stringify(cfg));
    const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'src/cli/main.ts'), 'run', '--config', path], { cwd: root, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    cleanups.push(async () => {
      if (child.exitCode === null) child.kill('SIGKILL');
    });
    await until(() => emu.armed && emu.attitudeTargets.filter((t) => t.mode === 'OFFBOARD' && t.thrust > 0).length > 20, 20_000, 'the CLI flying in OFFBOARD');
    child.kill('SIGINT');
    const code = await exited;
    expect(code).toBe(0);
    expect(emu.armed).toBe(false);
    expect(stderr).toMatch(/SIGINT: disarming/);
    expect(stderr).toMatch(/PX4 engaged: OFFBOARD/);
  }, 40_000);

  it('config errors name the key (strict blocks per stack)', () => {
    expect(() => parseConfig({ transport: { kind: 'px4', takeoffAltM: 3 } })).toThrow(ConfigError);
    expect(() => parseConfig({ transport: { kind: 'px4', takeoffAltM: 3 } })).toThrow(/transport: unknown key "takeoffAltM"/);
    expect(() => parseConfig({ transport: { kind: 'ardupilot', link: 'tcp:localhost' } })).toThrow(/transport\.link: got "tcp:localhost"; expected a link URI/);
    expect(() => parseConfig({ transport: { kind: 'px4', heartbeatHz: 0.2 } })).toThrow(/transport\.heartbeatHz/);
  });
});
