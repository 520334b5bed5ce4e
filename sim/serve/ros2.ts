/**
 * `brainpilot sim serve --ros2`: the built-in simulator as a ROS 2 node, paced by the wall clock like
 * a real simulator, or in lockstep (deterministic, as fast as the controller). It publishes what a
 * camera and IMU driver would (sensor_msgs Image + CameraInfo + Imu, SensorData QoS, REP-105 frame
 * ids) and takes brainpilot's CTBR command (TwistStamped) or rotor speeds (actuator_msgs/Actuators,
 * straight to the motors like a Gazebo motor model), and the armed state (std_msgs/Bool, transient
 * local). The run starts when the controller says it is armed
 * (so a node started second does not find the drone already on the floor) and ends at the last lap,
 * a crash, or the controller's disarm once the drone is down. Topics follow the ros2 transport's
 * defaults; `--ros-args -r from:=to` remaps them.
 */
import type { Logger } from 'pino';
import type { CameraFrame, FlightCommand, ImuSample } from '../../src/tracts/io.js';
import { loadRclnodejs, qosProfiles, rosArgs, type Rcl } from '../../src/transports/ros2/node.js';
import { PX4_QUAD_X_ORDER, actuatorsToMotors, boolMsg, px4RatesToCtbr, frameToImage, intrinsicsToCameraInfo, sampleToImu, toClockMsg, twistStampedToCtbr, type MotorOrder } from '../../src/transports/ros2/mapping.js';
import type { RaceResult } from '../runner.js';
import type { Sim } from '../world.js';
import { SimServer, type SimWire } from './loop.js';

export interface Ros2SimTopics {
  image: string;
  cameraInfo: string;
  imu: string;
  command: string;
  armed: string;
  /** Lockstep only: rosgraph_msgs/Clock, published after each control period's sensors. */
  clock: string;
  /** actuator_msgs/Actuators rotor speeds, as a Gazebo multicopter model takes them (no FC). */
  motorSpeed: string;
  /** px4_msgs/VehicleRatesSetpoint, as PX4's uXRCE-DDS client takes it (the simulated FC flies it). */
  px4RatesSetpoint: string;
}

export const ROS2_SIM_TOPICS: Ros2SimTopics = {
  image: '/camera/image_raw',
  cameraInfo: '/camera/camera_info',
  imu: '/imu/data',
  command: '/brainpilot/command',
  armed: '/brainpilot/armed',
  clock: '/clock',
  motorSpeed: '/motor_speed',
  px4RatesSetpoint: '/fmu/in/vehicle_rates_setpoint',
};

export interface Ros2SimOptions {
  laps: number;
  seed: number;
  /**
   * Sim seconds per wall second; 0 = lockstep: after each control period's sensors the simulator
   * publishes its clock and waits for the command stamped with it (the node's `clock: lockstep`).
   */
  realtimeFactor: number;
  /** Lockstep: step on without a command after this much wall time, s (counted as late). */
  lockstepTimeoutS?: number;
  log: Logger;
  topics?: Partial<Ros2SimTopics>;
  nodeName?: string;
  /** Give up if no controller arms within this long, s. */
  waitForArmS?: number;
  /** The motor model on motorSpeed: rotor speed at command 1, rad/s, and the slot order (PX4 gz models'). */
  maxRotorRadS?: number;
  motorOrder?: MotorOrder;
  /** Subscribe to PX4's rate setpoint too (needs px4_msgs); thrust_body −1 = this collective, N. */
  px4?: { maxThrustN: number };
  /** Injected rclnodejs (tests); default: the lazy import with its one-line error. */
  rcl?: Rcl;
  /** Ends the run early (SIGINT/SIGTERM): stops waiting for a controller, or ends the race as it stands. */
  abort?: AbortSignal;
}

export interface Ros2SimResult {
  result: RaceResult;
  commandsRejected: number;
  /** Lockstep ticks that timed out waiting for the command. */
  ticksLate: number;
}

export async function serveRos2(sim: Sim, o: Ros2SimOptions): Promise<Ros2SimResult> {
  const rcl = o.rcl ?? (await loadRclnodejs(undefined, 'sim serve --ros2'));
  const t = { ...ROS2_SIM_TOPICS, ...o.topics };
  const context = new rcl.Context();
  await rcl.init(context, ['brainpilot-sim', ...rosArgs()]);
  const node = new rcl.Node(o.nodeName ?? 'brainpilot_sim', '', context);
  const q = qosProfiles(rcl);
  const pubImage = node.createPublisher('sensor_msgs/msg/Image', t.image, { qos: q.sensor });
  const pubInfo = node.createPublisher('sensor_msgs/msg/CameraInfo', t.cameraInfo, { qos: q.sensor });
  const pubImu = node.createPublisher('sensor_msgs/msg/Imu', t.imu, { qos: q.sensor });
  let rejected = 0;
  let lastRejectLog = -Infinity;
  const reject = (detail: string): void => {
    rejected++;
    if (performance.now() - lastRejectLog > 1000) {
      lastRejectLog = performance.now();
      o.log.warn({ detail, rejected }, `command dropped: ${detail}`);
    }
  };
  const lockstep = o.realtimeFactor === 0;
  const pubClock = lockstep ? node.createPublisher('rosgraph_msgs/msg/Clock', t.clock, { qos: q.command }) : null;
  // lockstep: the tick waiting for the command stamped with its time
  let waiting: { tS: number; resolve: (c: FlightCommand | null) => void } | null = null;
  let ticksLate = 0;
  const lockTimeoutMs = (o.lockstepTimeoutS ?? 2) * 1000;
  const wire: SimWire = {
    name: 'ros2',
    imu: (s: ImuSample) => pubImu.publish(sampleToImu(s)),
    frame: (f: CameraFrame) => {
      pubImage.publish(frameToImage(f));
      pubInfo.publish(intrinsicsToCameraInfo(f.intrinsics, f.stampS));
    },
    ...(lockstep
      ? {
          tick: (tS: number) =>
            new Promise<FlightCommand | null>((resolve) => {
              const timer = setTimeout(() => {
                ticksLate++;
                waiting = null;
                resolve(null);
              }, lockTimeoutMs);
              waiting = {
                tS,
                resolve: (c) => {
                  clearTimeout(timer);
                  waiting = null;
                  resolve(c);
                },
              };
              pubClock!.publish(toClockMsg(tS));
            }),
        }
      : {}),
  };
  const server = new SimServer(sim, wire, { laps: o.laps, seed: o.seed, realtimeFactor: o.realtimeFactor });
  let armed = false;
  let resolveArmed!: () => void;
  const armedP = new Promise<void>((r) => (resolveArmed = r));
  node.createSubscription('geometry_msgs/msg/TwistStamped', t.command, { qos: q.command }, (m) => {
    const r = twistStampedToCtbr(m);
    if (!r.ok) return reject(`${r.kind}: ${r.detail}`);
    if (!armed) return;
    if (!lockstep) return server.command(r.value);
    // lockstep: the answer to the waiting tick (an older stamp is a late answer to a timed-out one)
    if (waiting && r.value.stampS >= waiting.tS - 1e-6) waiting.resolve(r.value);
  });
  // rotor speeds straight to the motors, bypassing the simulated FC (what Gazebo's motor model takes)
  const order = o.motorOrder ?? PX4_QUAD_X_ORDER;
  const maxRotorRadS = o.maxRotorRadS ?? 1000;
  try {
    node.createSubscription('actuator_msgs/msg/Actuators', t.motorSpeed, { qos: q.command }, (m) => {
      const r = actuatorsToMotors(m, order, maxRotorRadS);
      if (!r.ok) return reject(`${r.kind}: ${r.detail}`);
      if (!armed) return;
      const cmd: FlightCommand = { kind: 'motors', stampS: r.value.stampS, motors: r.value.motors };
      if (!lockstep) return server.command(cmd);
      if (waiting && cmd.stampS >= waiting.tS - 1e-6) waiting.resolve(cmd);
    });
  } catch (e) {
    // actuator_msgs is not in ros-base: without it the simulator takes CTBR only
    o.log.warn({ err: String(e) }, `not taking rotor speeds on ${t.motorSpeed}: actuator_msgs/msg/Actuators is not available`);
  }
  if (o.px4) {
    const maxThrustN = o.px4.maxThrustN;
    node.createSubscription('px4_msgs/msg/VehicleRatesSetpoint', t.px4RatesSetpoint, { qos: q.command }, (m) => {
      const r = px4RatesToCtbr(m, maxThrustN);
      if (!r.ok) return reject(`${r.kind}: ${r.detail}`);
      if (!armed) return;
      if (!lockstep) return server.command(r.value);
      if (waiting && r.value.stampS >= waiting.tS - 1e-6) waiting.resolve(r.value);
    });
  }
  node.createSubscription('std_msgs/msg/Bool', t.armed, { qos: q.latched }, (m) => {
    const r = boolMsg(m, 'armed');
    if (!r.ok) return reject(`${r.kind}: ${r.detail}`);
    if (r.value && !armed) {
      armed = true;
      o.log.info('controller armed: starting the run');
      resolveArmed();
    } else if (!r.value && armed) {
      o.log.warn('controller disarmed: motors stop');
      server.disarm();
      waiting?.resolve(null);
    }
  });
  node.spin();
  try {
    o.log.info({ topics: t, lockstep }, `ROS 2 simulator${lockstep ? ' (lockstep on ' + t.clock + ')' : ''}: publishing ${t.image}, ${t.cameraInfo}, ${t.imu}; waiting for ${t.armed} = true`);
    const waitS = o.waitForArmS ?? 60;
    let timer: NodeJS.Timeout | undefined;
    let onAbort: () => void = () => {};
    const aborted = new Promise<'aborted'>((r) => (onAbort = () => r('aborted')));
    if (o.abort?.aborted) onAbort();
    o.abort?.addEventListener('abort', onAbort, { once: true });
    const first = await Promise.race([armedP.then(() => 'armed' as const), aborted, new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), waitS * 1000)))]);
    clearTimeout(timer);
    if (first === 'timeout') throw new Error(`sim serve --ros2: no controller armed on ${t.armed} within ${waitS} s (is \`brainpilot run\` with a ros2 config running?)`);
    if (first === 'aborted') o.log.warn('sim serve --ros2: stopped before a controller armed');
    else
      o.abort?.addEventListener(
        'abort',
        () => {
          server.stop();
          waiting?.resolve(null); // lockstep: do not sit out the tick's timeout
        },
        { once: true },
      );
    // stopped before arming: the race as it stands (nothing flown), so the summary is still printed
    const result = first === 'aborted' ? (server.stop(), await server.run()) : await server.run();
    // linger: a publisher that exits at once loses what is still queued
    await new Promise<void>((r) => setTimeout(r, 200));
    return { result, commandsRejected: rejected, ticksLate };
  } finally {
    node.stop();
    node.destroy();
    rcl.shutdown(context);
  }
}
