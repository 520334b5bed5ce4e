/**
 * The ROS 2 node without ROS 2: asking for it without rclnodejs or a sourced ROS 2 gives one clear
 * line (not a stack trace), from the library call and from the CLI; and the node's plumbing (QoS,
 * topics and types, parameters validated on set, the disarm, a full lap of `sim serve --ros2` against
 * the daemon) runs over an in-memory bus with rclnodejs' API shape and DDS's matching rules
 * (type must match; a reliable reader does not hear a best-effort writer), delivering asynchronously.
 */
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../src/config/schema.js';
import { Daemon } from '../src/daemon/daemon.js';
import type { SensorSink } from '../src/daemon/transport.js';
import { Pipeline } from '../src/pipeline.js';
import { cameraFor, pipelineConfigFromConfig, startDaemon } from '../src/cli/run.js';
import { Ros2UnavailableError, createRos2Transport, loadRclnodejs, rosArgs, type Ros2Config } from '../src/transports/ros2/node.js';
import { loadVehicle } from '../sim/vehicle.js';
import { sampleToImu, frameToImage, intrinsicsToCameraInfo } from '../src/transports/ros2/mapping.js';
import { serveRos2 } from '../sim/serve/ros2.js';
import { buildSim, RACE_DEFAULTS } from '../src/cli/race.js';
import type { CameraFrame, ImuSample } from '../src/tracts/io.js';
import { BEST_EFFORT, FakeBus, FakeQoS, KEEP_LAST, PT, RELIABLE, TRANSIENT_LOCAL, VOLATILE, fakeRcl } from './helpers/ros2-fake-bus.js';

const root = join(import.meta.dirname, '..');
const silent = pino({ level: 'silent' });

function rclnodejsInstalled(): boolean {
  try {
    createRequire(import.meta.url).resolve('rclnodejs');
    return true;
  } catch {
    return false;
  }
}

async function withEnv<T>(key: string, value: string | undefined, fn: () => Promise<T>): Promise<T> {
  const old = process.env[key];
  if (value === undefined) delete process.env[key];
  else process.env[key] = value;
  try {
    return await fn();
  } finally {
    if (old === undefined) delete process.env[key];
    else process.env[key] = old;
  }
}

describe('without rclnodejs: one clear line', () => {
  it('no sourced ROS 2: says AMENT_PREFIX_PATH is unset and how to enable it', async () => {
    const e = await withEnv('AMENT_PREFIX_PATH', undefined, () => loadRclnodejs().catch((x: unknown) => x));
    expect(e).toBeInstanceOf(Ros2UnavailableError);
    const msg = (e as Error).message;
    expect(msg.split('\n')).toHaveLength(1);
    expect(msg).toContain('AMENT_PREFIX_PATH is not set');
    expect(msg).toContain('source /opt/ros/<distro>/setup.bash');
    expect(msg).toContain('npm_config_yes=true npm install rclnodejs');
  });

  it('ROS 2 sourced but rclnodejs missing or broken: says which, in one line', async () => {
    const missing = Object.assign(new Error("Cannot find package 'rclnodejs' imported from /x/node.js"), { code: 'ERR_MODULE_NOT_FOUND' });
    const e1 = await withEnv('AMENT_PREFIX_PATH', '/opt/ros/jazzy', () => loadRclnodejs(() => Promise.reject(missing)).then(() => new Error('loaded'), (x: unknown) => x as Error));
    expect(e1.message).toMatch(/^ROS 2 transport: rclnodejs is not installed \(it is optional\); to enable it: source \/opt\/ros/);
    const broken = new Error('undefined symbol: rcl_timer_get_next_call_time\n    at Module._extensions..node');
    const e2 = await withEnv('AMENT_PREFIX_PATH', '/opt/ros/jazzy', () => loadRclnodejs(() => Promise.reject(broken)).then(() => new Error('loaded'), (x: unknown) => x as Error));
    expect(e2.message).toContain('rclnodejs failed to load (undefined symbol: rcl_timer_get_next_call_time)');
    expect(e2.message.split('\n')).toHaveLength(1);
    const e3 = await withEnv('AMENT_PREFIX_PATH', '/opt/ros/jazzy', () => loadRclnodejs(() => Promise.resolve({ default: {} })).then(() => new Error('loaded'), (x: unknown) => x as Error));
    expect(e3.message).toContain('does not look like rclnodejs');
  });

  it('removes rclnodejs’ own SIGINT handler, so a Ctrl-C disarms before the context goes', async () => {
    let removed = 0;
    const mod = { default: { init: async () => {}, Node: class {}, removeSignalHandlers: () => void removed++ } };
    await withEnv('AMENT_PREFIX_PATH', '/opt/ros/jazzy', () => loadRclnodejs(() => Promise.resolve(mod)));
    expect(removed).toBe(1);
  });

  const cli = (args: string[], env: Record<string, string | undefined>) => {
    const e: NodeJS.ProcessEnv = { ...process.env, ...env };
    for (const [k, v] of Object.entries(env)) if (v === undefined) delete e[k];
    return spawnSync(process.execPath, ['--import', 'tsx', join(root, 'src/cli/main.ts'), ...args], { cwd: root, env: e, encoding: 'utf8', timeout: 30_000 });
  };
  const oneLine = (stderr: string): string[] => stderr.split('\n').filter((l) => l.trim() !== '' && !l.startsWith('npm warn'));

  it('`brainpilot run --config config/ros2-sim.yaml` without ROS 2 exits 2 with one line, no stack trace', () => {
    const r = cli(['run', '--config', 'config/ros2-sim.yaml'], { AMENT_PREFIX_PATH: undefined });
    expect(r.status).toBe(2);
    const lines = oneLine(r.stderr);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^brainpilot: ROS 2 transport: no sourced ROS 2 .*source \/opt\/ros\/<distro>\/setup\.bash.*npm install rclnodejs/);
  });

  it('`brainpilot sim serve --ros2` without ROS 2: the same one line', () => {
    const r = cli(['sim', 'serve', '--ros2', '--laps', '1'], { AMENT_PREFIX_PATH: undefined });
    expect(r.status).toBe(2);
    const lines = oneLine(r.stderr);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^brainpilot: sim serve --ros2: no sourced ROS 2/);
  });

  it.skipIf(rclnodejsInstalled())('with AMENT_PREFIX_PATH set but rclnodejs not installed: one line naming rclnodejs (skipped where it is installed)', () => {
    const r = cli(['run', '--config', 'config/ros2-sim.yaml', '--ros-args', '-r', '/imu/data:=/imu'], { AMENT_PREFIX_PATH: '/nonexistent/ros' });
    expect(r.status).toBe(2);
    const lines = oneLine(r.stderr);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^brainpilot: ROS 2 transport: rclnodejs is not installed/);
  });

  it('--ros-args and everything after it are left to rcl', () => {
    expect(rosArgs(['node', 'main.js', 'run', '--config', 'c.yaml', '--ros-args', '-r', 'a:=b', '-p', 'x:=1'])).toEqual(['--ros-args', '-r', 'a:=b', '-p', 'x:=1']);
    expect(rosArgs(['node', 'main.js', 'run'])).toEqual([]);
  });
});

/** A sink that records what the transport delivers. */
function recordingSink() {
  const got = { imu: [] as ImuSample[], frames: [] as CameraFrame[], rejects: [] as string[], link: [] as boolean[] };
  const sink: SensorSink = {
    imu: (s) => void got.imu.push(s),
    frame: (f) => void got.frames.push(f),
    tick: () => {},
    reject: (k, d) => void got.rejects.push(`${k}: ${d}`),
    linkState: (up) => void got.link.push(up),
  };
  return { got, sink };
}

const tick = () => new Promise<void>((r) => setImmediate(r));
const ros2Cfg = (over: Record<string, unknown> = {}): Ros2Config => parseConfig({ transport: { kind: 'ros2', ...over } }).transport as Ros2Config;
const baseCtx = () => {
  const cam = cameraFor(parseConfig({ transport: { kind: 'ros2' } }));
  return { log: silent, ...cam, vehicle: { maxThrustN: 42, maxRateRadS: [13, 13, 5] as const } };
};

/**
 * `sim serve --ros2` (lockstep, warm-up track, seed 3) and the daemon with the pipeline on a ROS 2
 * transport, both on one in-memory bus; the daemon is started, the simulator's run is `served`.
 */
async function lockstepFlight(o: {
  transport?: Partial<Ros2Config>;
  serve?: (vehicle: Pipeline['cfg']['vehicle']) => Partial<Parameters<typeof serveRos2>[1]>;
  motors?: Parameters<typeof createRos2Transport>[1]['motors'];
  healthIntervalS?: number;
  record?: readonly string[];
}) {
  const bus = new FakeBus();
  if (o.record) bus.record = (topic) => o.record!.includes(topic);
  const rcl = fakeRcl(bus);
  const cfg = parseConfig({ track: { map: 'warmup' }, log: { healthIntervalS: o.healthIntervalS ?? 0 }, transport: { kind: 'ros2', clock: 'lockstep', ...o.transport } });
  const pipeline = new Pipeline(pipelineConfigFromConfig(cfg));
  const sim = buildSim({ ...RACE_DEFAULTS, track: 'warmup', laps: 1, seed: 3 });
  const served = serveRos2(sim, { laps: 1, seed: 3, realtimeFactor: 0, log: silent, rcl, waitForArmS: 10, ...o.serve?.(pipeline.cfg.vehicle) });
  const transport = await createRos2Transport(cfg.transport as Ros2Config, { log: silent, ...cameraFor(cfg), vehicle: pipeline.cfg.vehicle, rcl, ...(o.motors ? { motors: o.motors } : {}) });
  const daemon = new Daemon({ controller: pipeline, transport, log: silent, rateHz: cfg.control.rateHz, healthIntervalS: cfg.log.healthIntervalS });
  await daemon.start();
  return { bus, sim, served, transport, daemon };
}

/** The simulator's run ends, then the daemon; every command taken, every tick answered, no crash. */
async function expectCleanLap(f: Awaited<ReturnType<typeof lockstepFlight>>) {
  const { result, commandsRejected, ticksLate } = await f.served;
  await f.daemon.stop('simulator finished');
  expect(commandsRejected).toBe(0);
  expect(ticksLate).toBe(0);
  expect(f.bus.mismatches).toEqual([]);
  expect(result.crashes).toBe(0);
  expect(result.completed).toBe(true);
  return result;
}

describe('the ROS 2 node over an in-memory bus', () => {
  it('subscribes with SensorData QoS, publishes commands reliably, latches the armed state, and maps both ways', async () => {
    const bus = new FakeBus();
    const rcl = fakeRcl(bus);
    const t = await createRos2Transport(ros2Cfg(), { ...baseCtx(), rcl });
    const { got, sink } = recordingSink();
    await t.open(sink);
    const subs = Object.fromEntries(bus.subs.map((s) => [s.topic, s]));
    expect(subs['/camera/image_raw']).toMatchObject({ type: 'sensor_msgs/msg/Image', qos: { reliability: BEST_EFFORT, depth: 5, history: KEEP_LAST } });
    expect(subs['/imu/data']).toMatchObject({ type: 'sensor_msgs/msg/Imu', qos: { reliability: BEST_EFFORT, depth: 5 } });
    expect(subs['/camera/camera_info']).toMatchObject({ type: 'sensor_msgs/msg/CameraInfo', qos: { reliability: BEST_EFFORT } });
    const pubs = Object.fromEntries(bus.pubs.map((p) => [p.topic, p]));
    expect(pubs['/brainpilot/command']).toMatchObject({ type: 'geometry_msgs/msg/TwistStamped', qos: { reliability: RELIABLE } });
    expect(pubs['/brainpilot/armed']).toMatchObject({ type: 'std_msgs/msg/Bool', qos: { durability: TRANSIENT_LOCAL, depth: 1 } });
    expect(pubs['/diagnostics']?.type).toBe('diagnostic_msgs/msg/DiagnosticArray');
    expect(pubs['/brainpilot/gate_detections']?.type).toBe('vision_msgs/msg/Detection2DArray');
    expect(bus.of('/brainpilot/armed')).toEqual([{ data: true }]);

    // a driver on the bus (best effort, as camera drivers publish)
    const drv = new rcl.Node('driver');
    const be = new FakeQoS(KEEP_LAST, 5, BEST_EFFORT, VOLATILE);
    const imuPub = drv.createPublisher('sensor_msgs/msg/Imu', '/imu/data', { qos: be });
    const imgPub = drv.createPublisher('sensor_msgs/msg/Image', '/camera/image_raw', { qos: be });
    const infoPub = drv.createPublisher('sensor_msgs/msg/CameraInfo', '/camera/camera_info', { qos: be });
    imuPub.publish(sampleToImu({ stampS: 1, gyroRadS: [0, 0, 0.5], accelMS2: [0, 0, 9.81] }));
    infoPub.publish(intrinsicsToCameraInfo({ width: 4, height: 2, fx: 3, fy: 3, cx: 2, cy: 1 }, 1));
    await tick();
    const data = new Uint8Array(4 * 2 * 3).fill(7);
    imgPub.publish({ ...frameToImage({ stampS: 0.99, arrivalS: 1, seq: 0, encoding: 'rgb8', width: 4, height: 2, step: 12, data, intrinsics: { width: 4, height: 2, fx: 3, fy: 3, cx: 2, cy: 1 }, mount: { tiltUpRad: 0, posFluM: [0, 0, 0] } }), encoding: 'bgr8' });
    imgPub.publish({ bogus: 1 });
    await tick();
    expect(got.imu).toEqual([{ stampS: 1, gyroRadS: [0, 0, 0.5], accelMS2: [0, 0, 9.81] }]);
    expect(got.frames).toHaveLength(1);
    expect(got.frames[0]).toMatchObject({ encoding: 'rgb8', width: 4, height: 2, stampS: 0.99, intrinsics: { fx: 3 } });
    expect(got.frames[0]!.arrivalS).toBeGreaterThanOrEqual(1); // on the sensor clock: at least the newest IMU stamp
    expect(got.rejects).toEqual(['malformed: Image: unknown field "bogus"']);
    expect(got.link).toEqual([]); // up from the start, and it stayed up

    // commands: finite and clamped to the airframe; non-finite never leaves
    t.send({ kind: 'ctbr', stampS: 1.01, thrustN: 100, rateRadS: [1, 2, 30] });
    t.send({ kind: 'ctbr', stampS: 1.02, thrustN: NaN, rateRadS: [0, 0, 0] });
    const cmds = bus.of('/brainpilot/command') as { twist: { linear: { z: number }; angular: { z: number } } }[];
    expect(cmds).toHaveLength(1);
    expect(cmds[0]!.twist.linear.z).toBe(42);
    expect(cmds[0]!.twist.angular.z).toBe(5);
    expect(t.counters!()).toMatchObject({ clamped: 1, nonFinite: 1, imu: 1, frames: 1 });

    // health and perception go out as standard messages
    t.publishHealth!({ framesPerS: 1, imuPerS: 1, commandsPerS: 1, frameToCommandMs: { p50: 1, p99: 2, n: 1 }, drops: {}, failsafe: 'nominal', link: 'up', totals: { frames: 1, imu: 1, commands: 1, dropped: 0 } });
    t.publishPerception!({ stampS: 0.99, sightings: [{ kind: 'ring', bboxPx: [0, 0, 2, 2], confidence: 0.9, posCamM: null }], targetIndex: 0, timeToGateS: 0.8 });
    expect((bus.of('/diagnostics')[0] as { status: { level: number }[] }).status[0]!.level).toBe(0);
    expect((bus.of('/brainpilot/gate_detections')[0] as { detections: unknown[] }).detections).toHaveLength(1);
    expect(bus.of('/brainpilot/time_to_gate')).toEqual([{ data: 0.8 }]);

    // disarm: armed false (latched), then nothing more is commanded
    await t.disarm('test');
    expect(bus.of('/brainpilot/armed')).toEqual([{ data: true }, { data: false }]);
    t.send({ kind: 'ctbr', stampS: 2, thrustN: 5, rateRadS: [0, 0, 0] });
    expect(bus.of('/brainpilot/command')).toHaveLength(1);
    await t.close();
    await t.close();
    expect(rcl.nodes[0]!.destroyed).toBe(true);
    expect(bus.mismatches).toEqual([]);
  });

  it('parameters: declared from the config block, overrides validated, live sets validated and read-only ones refused', async () => {
    const bus = new FakeBus();
    const bad = fakeRcl(bus, { imageTopic: 'not a topic' });
    const t0 = await createRos2Transport(ros2Cfg(), { ...baseCtx(), rcl: bad });
    await expect(t0.open(recordingSink().sink)).rejects.toThrow(/parameter imageTopic: expected a ROS 2 name/);

    const rcl = fakeRcl(bus, { imuTopic: '/px4/imu', maxRotorRadS: 900 });
    const t = await createRos2Transport(ros2Cfg({ output: 'actuators', commandTopic: '/motor_speed' }), {
      ...baseCtx(),
      rcl,
      motors: { rateLoop: { inertiaKgM2: [2.4e-3, 2.6e-3, 4.3e-3] }, geometry: { armXM: 0.099, armYM: 0.099, motorMaxThrustN: 10.5, yawTorquePerThrustM: 0.016, motorIdle: 0.05 } },
    });
    await t.open(recordingSink().sink);
    const node = rcl.nodes.at(-1)!;
    expect([...node.params.keys()].sort()).toEqual(
      ['armedTopic', 'cameraInfoTopic', 'clock', 'clockTopic', 'commandTopic', 'compressed', 'detectionsTopic', 'diagnosticsTopic', 'imageTopic', 'imuTopic', 'imuType', 'linkTimeoutS', 'maxRotorRadS', 'motorOrder', 'output', 'px4Prefix', 'px4TargetSystem', 'timeToGateTopic'].sort(),
    );
    expect(node.params.get('motorOrder')!.p.value).toEqual([1n, 2n, 3n, 0n]);
    expect(node.params.get('px4TargetSystem')!.p).toMatchObject({ type: PT.PARAMETER_INTEGER, value: 1n });
    expect(bus.subs.some((s) => s.topic === '/px4/imu')).toBe(true); // the override won
    expect(node.setParameter({ name: 'imuTopic', type: PT.PARAMETER_STRING, value: '/x' })).toEqual({ successful: false, reason: 'read-only' });
    expect(node.setParameter({ name: 'maxRotorRadS', type: PT.PARAMETER_DOUBLE, value: -5 })).toMatchObject({ successful: false, reason: expect.stringMatching(/^maxRotorRadS: /) });
    expect(node.setParameter({ name: 'maxRotorRadS', type: PT.PARAMETER_DOUBLE, value: 1200 })).toEqual({ successful: true, reason: '' });

    // actuators: the rate loop runs on each IMU sample once a setpoint exists; rotor speeds scale with the live parameter
    t.send({ kind: 'ctbr', stampS: 0, thrustN: 9.32, rateRadS: [0, 0, 0] });
    const drv = new rcl.Node('driver');
    const imuPub = drv.createPublisher('sensor_msgs/msg/Imu', '/px4/imu', { qos: new FakeQoS(KEEP_LAST, 5, BEST_EFFORT, VOLATILE) });
    for (let i = 1; i <= 3; i++) imuPub.publish(sampleToImu({ stampS: i * 0.004, gyroRadS: [0, 0, 0], accelMS2: [0, 0, 9.81] }));
    await tick();
    const act = bus.of('/motor_speed') as { velocity: number[]; normalized: number[] }[];
    expect(act).toHaveLength(3);
    const v = act[2]!.velocity;
    expect(Math.max(...v) - Math.min(...v)).toBeLessThan(1e-6); // level hover: equal rotors
    const k = 10.5 / 1200 ** 2; // thrust = k·ω² with ω = u·1200 rad/s
    expect(v.reduce((a, w) => a + k * w * w, 0)).toBeCloseTo(9.32, 3);
    await t.disarm('test');
    expect((bus.of('/motor_speed').at(-1) as { velocity: number[] }).velocity).toEqual([0, 0, 0, 0]);
    await t.close();
  });

  it('px4 output: rates setpoint + offboard mode on /fmu/in, SensorCombined in, a forced disarm command', async () => {
    const bus = new FakeBus();
    const rcl = fakeRcl(bus);
    const t = await createRos2Transport(ros2Cfg({ output: 'px4', imuType: 'px4_msgs/msg/SensorCombined', imuTopic: '/fmu/out/sensor_combined' }), { ...baseCtx(), rcl });
    const { got, sink } = recordingSink();
    await t.open(sink);
    expect(bus.subs.find((s) => s.topic === '/fmu/out/sensor_combined')?.type).toBe('px4_msgs/msg/SensorCombined');
    t.send({ kind: 'ctbr', stampS: 1, thrustN: 21, rateRadS: [0.5, 0.25, -1] });
    const rates = bus.of('/fmu/in/vehicle_rates_setpoint') as { roll: number; pitch: number; yaw: number; thrust_body: number[]; timestamp: bigint }[];
    expect(rates[0]).toMatchObject({ roll: 0.5, pitch: -0.25, yaw: 1, thrust_body: [0, 0, -0.5] });
    expect(typeof rates[0]!.timestamp).toBe('bigint');
    expect(bus.of('/fmu/in/offboard_control_mode')).toHaveLength(1);
    const drv = new rcl.Node('px4');
    drv.createPublisher('px4_msgs/msg/SensorCombined', '/fmu/out/sensor_combined', { qos: new FakeQoS(KEEP_LAST, 5, BEST_EFFORT, VOLATILE) }).publish({
      timestamp: 2_000_000n, gyro_rad: [0.1, 0.2, 0.3], gyro_integral_dt: 4000, accelerometer_timestamp_relative: 0, accelerometer_m_s2: [0, 0, -9.8], accelerometer_integral_dt: 4000, accelerometer_clipping: 0, gyro_clipping: 0, accel_calibration_count: 0, gyro_calibration_count: 0,
    });
    await tick();
    expect(got.imu[0]).toMatchObject({ stampS: 2, gyroRadS: [0.1, -0.2, -0.3], accelMS2: [0, -0, 9.8] });
    await t.disarm('test');
    expect(bus.of('/fmu/in/vehicle_command')[0]).toMatchObject({ command: 400, param1: 0, param2: 21196 });
    await t.close();
  });

  it('a message package that is not installed: one line naming the topic and type; nothing left running', async () => {
    const rcl = fakeRcl(new FakeBus(), {}, ['px4_msgs']);
    const t = await createRos2Transport(ros2Cfg({ output: 'px4', imuType: 'px4_msgs/msg/SensorCombined', imuTopic: '/fmu/out/sensor_combined' }), { ...baseCtx(), rcl });
    const e = await t.open(recordingSink().sink).then(() => new Error('opened'), (x: unknown) => x as Error);
    expect(e.message).toMatch(/^ROS 2 transport: cannot subscribe to \/fmu\/out\/sensor_combined \(px4_msgs\/msg\/SensorCombined\): Cannot find module .*generate-ros-messages/);
    expect(e.message.split('\n')).toHaveLength(1);
    expect(rcl.nodes[0]!.destroyed).toBe(true);
    expect(rcl.shutdowns()).toBe(1);
    // vision_msgs missing only costs the detections
    const r2 = fakeRcl(new FakeBus(), {}, ['vision_msgs']);
    const t2 = await createRos2Transport(ros2Cfg(), { ...baseCtx(), rcl: r2 });
    await t2.open(recordingSink().sink);
    await t2.close();
  });

  it('the link goes down when nothing arrives (naming the topics) and comes back with the first message', async () => {
    const bus = new FakeBus();
    const rcl = fakeRcl(bus);
    const t = await createRos2Transport(ros2Cfg({ linkTimeoutS: 0.15, imuTopic: '/wrong/imu' }), { ...baseCtx(), rcl });
    const details: string[] = [];
    const { got, sink } = recordingSink();
    await t.open({ ...sink, linkState: (up, d) => (got.link.push(up), details.push(d)) });
    await new Promise((r) => setTimeout(r, 400));
    expect(got.link).toEqual([false]);
    expect(details[0]).toBe('nothing heard yet on /wrong/imu or /camera/image_raw for 0.15 s');
    new rcl.Node('drv').createPublisher('sensor_msgs/msg/Imu', '/wrong/imu', { qos: new FakeQoS(KEEP_LAST, 5, BEST_EFFORT, VOLATILE) }).publish(sampleToImu({ stampS: 1, gyroRadS: [0, 0, 0], accelMS2: [0, 0, 9.8] }));
    await tick();
    expect(got.link).toEqual([false, true]);
    await t.close();
  });

  it('actuators output without an airframe file is refused with a clear error', async () => {
    await expect(createRos2Transport(ros2Cfg({ output: 'actuators' }), { ...baseCtx(), rcl: fakeRcl(new FakeBus()) })).rejects.toThrow(/output "actuators" needs the airframe geometry/);
  });

  it('`sim serve --ros2` ends cleanly when stopped (SIGINT/SIGTERM): before a controller arms, and mid-flight in lockstep', async () => {
    // before arming: no waiting out waitForArmS, a result with nothing flown
    const idle = new AbortController();
    const sim0 = buildSim({ ...RACE_DEFAULTS, track: 'warmup', laps: 1, seed: 3 });
    const t0 = performance.now();
    const early = serveRos2(sim0, { laps: 1, seed: 3, realtimeFactor: 0, log: silent, rcl: fakeRcl(new FakeBus()), waitForArmS: 30, abort: idle.signal });
    setTimeout(() => idle.abort(), 50);
    const r0 = await early;
    expect(performance.now() - t0).toBeLessThan(5000);
    expect(r0.result.completed).toBe(false);
    expect(r0.result.laps.every((l) => l.gatesPassed === 0)).toBe(true);

    // mid-flight, lockstep: the tick waiting for a command is released at once, not after its timeout
    const stop = new AbortController();
    const { sim, served, daemon } = await lockstepFlight({ serve: () => ({ lockstepTimeoutS: 30, abort: stop.signal }) });
    // let it fly ~2 s of sim time, then stop the daemon first (it no longer answers ticks) and the simulator
    while (sim.tS < 2) await new Promise((r) => setTimeout(r, 10));
    await daemon.stop('test');
    const t1 = performance.now();
    stop.abort();
    const { result } = await served;
    expect(performance.now() - t1).toBeLessThan(5000);
    expect(result.completed).toBe(false);
    expect(sim.tS).toBeLessThan(60);
  }, 50_000);

  it('flies a lap of `sim serve --ros2` in lockstep against the daemon over the bus, as the in-process link does', async () => {
    const flight = await lockstepFlight({ healthIntervalS: 0.25, record: ['/brainpilot/armed', '/diagnostics', '/brainpilot/gate_detections', '/brainpilot/time_to_gate'] });
    const { bus } = flight;
    expect(flight.transport.clock).toBe('lockstep');
    const result = await expectCleanLap(flight);
    expect(result.laps[0]!.gatesPassed).toBe(result.laps[0]!.gatesTotal);
    expect(bus.of('/brainpilot/armed')).toEqual([{ data: true }, { data: false }]);
    // the daemon's health went out as diagnostics, the colliculus' sightings as detections
    const diags = bus.of('/diagnostics') as { status: { level: number; values: { key: string; value: string }[] }[] }[];
    expect(diags.length).toBeGreaterThan(0);
    expect(diags.some((d) => d.status[0]!.level === 0 && Number(d.status[0]!.values.find((v) => v.key === 'frames_per_s')!.value) > 0)).toBe(true);
    const dets = bus.of('/brainpilot/gate_detections') as { detections: { id: string; results: { hypothesis: { class_id: string } }[] }[] }[];
    expect(dets.length).toBeGreaterThan(100); // one per accepted frame (~30 Hz for a ~10 s lap)
    expect(dets.some((d) => d.detections.some((x) => x.id === 'target' && x.results[0]!.hypothesis.class_id === 'gate'))).toBe(true);
    const ttg = bus.of('/brainpilot/time_to_gate') as { data: number }[];
    expect(ttg.length).toBeGreaterThan(0);
    expect(ttg.every((m) => Number.isFinite(m.data))).toBe(true);

    // the same seed over the in-process link: the ROS 2 mapping must not change how the drone flies
    const ref = await startDaemon(parseConfig({ track: { map: 'warmup' }, log: { healthIntervalS: 0 }, transport: { kind: 'sim', track: 'warmup', seed: 3, laps: 1 } }), silent);
    await ref.finished;
    const refLap = (ref.transport as unknown as { result: { laps: { timeS: number }[] } }).result.laps[0]!.timeS;
    expect(Math.abs(result.laps[0]!.timeS - refLap)).toBeLessThan(0.1);
  }, 50_000);

  it('flies a lap as the flight controller: rate loop + mixer → Actuators rotor speeds (Gazebo’s path) → the simulator’s motors', async () => {
    const v = loadVehicle('racer-280');
    const motors = {
      rateLoop: { p: v.rateGains.p, i: v.rateGains.i, d: v.rateGains.d, inertiaKgM2: v.inertiaKgM2 },
      geometry: { armXM: v.armXM, armYM: v.armYM, motorMaxThrustN: v.motorMaxThrustN, yawTorquePerThrustM: v.yawTorquePerThrustM, motorIdle: v.motorIdle },
    };
    const result = await expectCleanLap(
      await lockstepFlight({
        transport: { output: 'actuators', commandTopic: '/motor_speed' },
        // the simulator takes rotor speeds in PX4's gz slot order at 1000 rad/s full scale, as the config does
        serve: () => ({ maxRotorRadS: 1000, motorOrder: [1, 2, 3, 0] }),
        motors,
      }),
    );
    expect(result.laps[0]!.gatesPassed).toBe(result.laps[0]!.gatesTotal);
  }, 50_000);

  it('flies a lap through PX4’s offboard rate setpoint (FRD, normalised thrust) read back by the simulator', async () => {
    await expectCleanLap(await lockstepFlight({ transport: { output: 'px4' }, serve: (vehicle) => ({ px4: { maxThrustN: vehicle.maxThrustN } }) }));
  }, 50_000);
});
