/**
 * brainpilot with Betaflight in the loop: the daemon and the region pipeline fly the built-in simulator
 * through its Betaflight face (MSP over TCP loopback, paced by the wall clock): IMU polled over MSP, CTBR
 * turned into sticks through the FC's own rate curve, frames fed in-process from the same simulator. And the
 * fly-away hazard: when the pipeline stops commanding, disarm sticks reach the FC within the watchdog time.
 */
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { BetaflightTransport } from '../firmware-bridge/betaflight/index.js';
import { MspSimServer } from '../sim/serve/msp.js';
import { buildSim, RACE_DEFAULTS } from '../src/cli/race.js';
import { pipelineConfigFromConfig } from '../src/cli/run.js';
import { parseConfig } from '../src/config/schema.js';
import { Daemon } from '../src/daemon/daemon.js';
import { Pipeline } from '../src/pipeline.js';
import type { Controller } from '../src/tracts/controller.js';
import type { FlightCommand } from '../src/tracts/io.js';

const quiet = pino({ level: 'silent' });
const G = 9.80665;
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function flyOverMsp(opts: { watchdogS: number; wrap?: (c: Controller) => Controller }) {
  const sim = buildSim({ ...RACE_DEFAULTS, track: 'warmup', laps: 1, seed: 1 });
  const fc = new MspSimServer(sim, { laps: 1, seed: 1, lapTimeoutS: 25 });
  await fc.start();
  cleanups.push(() => fc.close());
  // The sim, its renderer and the pipeline share this one process, on a machine shared with other tests: the
  // guard's IMU timeout is widened from 0.1 s so a process descheduled for a few hundred ms is not taken for a
  // dead IMU link (the guard's own timeouts are tested in test/daemon.test.ts and the pipeline tests).
  const cfg = parseConfig({ vehicle: 'racer-280', track: { map: 'warmup' }, failsafe: { imuTimeoutS: 0.5 }, transport: { kind: 'sim', track: 'warmup' } });
  const pipeline = new Pipeline(pipelineConfigFromConfig(cfg));
  const v = sim.opts.vehicle;
  const hoverN = v.massKg * G;
  const transport = new BetaflightTransport({
    link: fc.uri,
    bridge: {
      watchdogS: opts.watchdogS,
      // the sim FC's throttle is linear in collective thrust: 2000 µs = 4 × motorMaxThrustN
      throttle: { hoverThrustN: hoverN, hoverUs: 1000 + (1000 * hoverN) / (4 * v.motorMaxThrustN) },
      acc1G: 512,
      requestTimeoutMs: 100,
    },
    imuRateHz: 250,
    statusRateHz: 5,
    frames: fc.frames,
    clockS: () => fc.clockS(),
  });
  const controller = opts.wrap ? opts.wrap(pipeline) : pipeline;
  const daemon = new Daemon({ controller, transport, log: quiet, rateHz: 100, healthIntervalS: 0 });
  cleanups.push(() => daemon.stop('test over'));
  await daemon.start();
  return { sim, fc, transport, daemon };
}

describe('Betaflight in the daemon loop (MSP over TCP, real time)', () => {
  it('flies a lap of warmup: completed', async () => {
    const { fc, transport, daemon } = await flyOverMsp({ watchdogS: 0.25 });
    const result = await fc.result!;
    const why = await Promise.race([transport.ended, new Promise<string>((r) => setTimeout(() => r('no end'), 2000))]);
    const h = daemon.health();
    await daemon.stop('lap flown');
    expect(result.completed, JSON.stringify({ laps: result.laps, crashes: result.crashes, why })).toBe(true);
    expect(result.laps[0]!.gatesPassed).toBe(4);
    expect(why).toMatch(/^the FC disarmed/); // the run ended, the FC disarmed, the session followed
    expect(transport.counters().watchdogTrips).toBe(0);
    expect(h.totals.imu).toBeGreaterThan(1000);
    expect(h.totals.frames).toBeGreaterThan(150);
    expect(fc.server.commandsReceived).toBeGreaterThan(500);
    expect(fc.server.commandsRejected).toBe(0);
  }, 40_000);

  it('watchdog: the pipeline stops commanding in flight → disarm sticks reach the FC within watchdogS', async () => {
    const watchdogS = 0.25;
    let stallAtMs = NaN;
    const stallAfterS = 3.5;
    let t0 = NaN;
    let zAtStallM = NaN;
    let simRef: { state: { posEnuM: number[] } } | undefined;
    const wrap = (c: Controller): Controller => ({
      name: 'stalling',
      privileged: false,
      onImu: (s) => c.onImu(s),
      onFrame: (f) => c.onFrame(f),
      command: (nowS: number): FlightCommand | null => {
        if (Number.isNaN(t0)) t0 = nowS;
        if (nowS - t0 < stallAfterS) return c.command(nowS);
        if (Number.isNaN(stallAtMs)) {
          stallAtMs = performance.now();
          zAtStallM = simRef?.state.posEnuM[2] ?? NaN;
        }
        return null; // stuck: no command, ever again
      },
    });
    const { fc, sim, transport } = await flyOverMsp({ watchdogS, wrap });
    simRef = sim;
    const why = await Promise.race([transport.ended, new Promise<string>((r) => setTimeout(() => r('no end'), 8000))]);
    expect(why).toMatch(/^watchdog/);
    expect(zAtStallM).toBeGreaterThan(0.5); // it was flying, not sitting on the ground
    // the trip is reported as the failsafe frame is written: give TCP a moment to deliver it
    const isDisarm = (r: { tMs: number; channels: number[] }): boolean => r.tMs >= stallAtMs && (r.channels[4] ?? 0) < 1700;
    for (let i = 0; i < 50 && !fc.rc.some(isDisarm); i++) await new Promise((r) => setTimeout(r, 10));
    const firstDisarm = fc.rc.find(isDisarm);
    expect(firstDisarm).toBeDefined();
    const latencyMs = firstDisarm!.tMs - stallAtMs;
    expect(latencyMs).toBeLessThan(watchdogS * 1000 + 60);
    // the silence the FC saw: from the last flying command to the disarm sticks — the watchdog waited for
    // watchdogS (not less) and then acted within one check period (watchdogS / 10) plus event-loop jitter
    const lastFlying = fc.rc.filter((r) => r.tMs < firstDisarm!.tMs && (r.channels[4] ?? 0) >= 1700).at(-1)!;
    const silenceMs = firstDisarm!.tMs - lastFlying.tMs;
    expect(silenceMs).toBeGreaterThanOrEqual(watchdogS * 1000 - 5);
    expect(silenceMs).toBeLessThan(watchdogS * 1000 + 60);
    const fcDisarm = fc.disarms.find((d) => d.tMs >= stallAtMs);
    expect(fcDisarm?.cause).toBe('switch');
    // nothing but disarm sticks after the trip
    expect(fc.rc.filter((r) => r.tMs > firstDisarm!.tMs).every((r) => (r.channels[4] ?? 0) < 1700)).toBe(true);
  }, 20_000);
});
