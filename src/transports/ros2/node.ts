/**
 * The ROS 2 transport: brainpilot as a ROS 2 node (rclnodejs). Subscribes to a camera (Image or
 * CompressedImage, + CameraInfo) and an IMU (sensor_msgs/Imu or PX4's SensorCombined) with the
 * SensorData QoS (best effort, keep last 5: the newest frame wins), and publishes the command
 * reliably: brainpilot's CTBR (TwistStamped), PX4 offboard rate setpoints, or Gazebo motor speeds
 * (actuator_msgs/Actuators, through the core rate loop + mixer, stepped on every IMU sample like an
 * FC's gyro loop). Also /diagnostics from the health line, gate detections and the time to the gate.
 *
 * rclnodejs is an optional dependency that binds to a sourced ROS 2 at install and run time; it is
 * imported here lazily, and without it (or without a sourced ROS 2) the error is one line that says
 * what is missing and how to enable it. The message conversions live in mapping.ts (tested without
 * ROS 2); this file is only the node's plumbing.
 */
import type { Logger } from 'pino';
import { ros2Transport, type TransportConfig } from '../../config/schema.js';
import type { PerceptionReport, SensorSink, Transport } from '../../daemon/transport.js';
import type { HealthSnapshot } from '../../daemon/daemon.js';
import { DirectMotorOutput, type MixerGeometryInput, type RateLoopConfigInput } from '../../regions/motor.js';
import type { CameraFrame, CameraIntrinsics, CameraMount, CtbrCommand, FlightCommand, ImuSample } from '../../tracts/io.js';
import { jpegCodec, type JpegCodec } from '../aigp/jpeg-worker.js';
import type { Vec3 } from '../../math/vec3.js';
import {
  cameraInfoToIntrinsics,
  checkCtbr,
  clockToSeconds,
  compressedToFrame,
  compressedToFrameAsync,
  ctbrToPx4,
  ctbrToTwistStamped,
  healthToDiagnostics,
  imageToFrame,
  imuToSample,
  motorsToActuators,
  perceptionToDetections,
  px4DisarmCommand,
  px4SensorCombinedToSample,
  px4Us,
  type MapResult,
} from './mapping.js';

export type Ros2Config = Extract<TransportConfig, { kind: 'ros2' }>;

/** What the ROS 2 transport needs besides its config block (the CLI builds it). */
export interface Ros2Context {
  log: Logger;
  /** Used until a CameraInfo arrives (and when its size differs from the images'). */
  intrinsics: CameraIntrinsics;
  mount: CameraMount;
  vehicle: { maxThrustN: number; maxRateRadS: readonly [number, number, number] };
  /** output 'actuators': the rate loop and mixer that stand in for a flight controller. */
  motors?: { rateLoop: RateLoopConfigInput; geometry: MixerGeometryInput };
  /** An already loaded rclnodejs (tests: an in-memory bus); default: the lazy import. */
  rcl?: Rcl;
}

export class Ros2UnavailableError extends Error {
  override name = 'Ros2UnavailableError';
}

const ENABLE = 'to enable it: source /opt/ros/<distro>/setup.bash (Humble, Jazzy, Kilted or Rolling), then run `npm_config_yes=true npm install rclnodejs` in the brainpilot folder';

// The subset of rclnodejs this file uses (its own typings exist only where it is installed).
interface RclPublisher {
  publish(msg: unknown): void;
}
interface RclParameter {
  name: string;
  type: number;
  value: unknown;
}
interface RclNode {
  createSubscription(type: string, topic: string, options: object, cb: (msg: unknown) => void): unknown;
  createPublisher(type: string, topic: string, options?: object): RclPublisher;
  declareParameter(p: RclParameter, d?: unknown): RclParameter;
  getParameter(name: string): RclParameter;
  addOnSetParametersCallback(cb: (ps: RclParameter[]) => { successful: boolean; reason: string }): void;
  now(): { nanoseconds: bigint };
  spin(timeout?: number): void;
  stop(): void;
  destroy(): void;
  name(): string;
  namespace(): string;
}
export interface Rcl {
  init(context?: unknown, argv?: string[]): Promise<void>;
  shutdown(context?: unknown): void;
  removeSignalHandlers?(): void;
  Context: new () => unknown;
  Node: new (name: string, ns?: string, context?: unknown) => RclNode;
  Parameter: new (name: string, type: number, value?: unknown) => RclParameter;
  ParameterDescriptor: new (name: string, type: number, description?: string, readOnly?: boolean) => unknown;
  ParameterType: Record<string, number>;
  QoS: any;
}

/**
 * rclnodejs, or one clear line (Ros2UnavailableError) saying what is missing and how to enable it.
 * Shared with `sim serve --ros2`.
 */
export async function loadRclnodejs(load?: () => Promise<unknown>, who = 'ROS 2 transport'): Promise<Rcl> {
  if (!process.env['AMENT_PREFIX_PATH']) throw new Ros2UnavailableError(`${who}: no sourced ROS 2 (AMENT_PREFIX_PATH is not set); ${ENABLE}`);
  let mod: unknown;
  try {
    // a variable specifier: rclnodejs is optional and may not be installed, so tsc must not resolve it
    const name = 'rclnodejs';
    mod = await (load ?? (() => import(name)))();
  } catch (e) {
    const why = e instanceof Error ? (e.message.split('\n')[0] ?? '') : String(e);
    const missing = /Cannot find (module|package)|ERR_MODULE_NOT_FOUND/.test(why);
    throw new Ros2UnavailableError(missing ? `${who}: rclnodejs is not installed (it is optional); ${ENABLE}` : `${who}: rclnodejs failed to load (${why}); rebuild it against the sourced ROS 2: ${ENABLE}`);
  }
  const m = ((mod as { default?: unknown }).default ?? mod) as Partial<Rcl>;
  if (typeof m.init !== 'function' || typeof m.Node !== 'function') throw new Ros2UnavailableError(`${who}: the installed rclnodejs does not look like rclnodejs ≥ 1 (no init/Node); ${ENABLE}`);
  // rclnodejs shuts every context down on SIGINT by itself: that would drop the daemon's disarm
  // (armed=false, PX4's disarm command) on the floor. brainpilot's own handler disarms, then closes.
  m.removeSignalHandlers?.();
  return m as Rcl;
}

/** The ROS 2 args of this process (everything from --ros-args on: remaps, params files, log levels). */
export function rosArgs(argv: readonly string[] = process.argv): string[] {
  const i = argv.indexOf('--ros-args');
  return i < 0 ? [] : argv.slice(i);
}

/** SensorData (best effort, keep last 5) and command (reliable, keep last 5) profiles. */
export function qosProfiles(rcl: Rcl): { sensor: unknown; command: unknown; latched: unknown } {
  const Q = rcl.QoS;
  const H = Q.HistoryPolicy, R = Q.ReliabilityPolicy, D = Q.DurabilityPolicy;
  return {
    sensor: new Q(H.RMW_QOS_POLICY_HISTORY_KEEP_LAST, 5, R.RMW_QOS_POLICY_RELIABILITY_BEST_EFFORT, D.RMW_QOS_POLICY_DURABILITY_VOLATILE),
    command: new Q(H.RMW_QOS_POLICY_HISTORY_KEEP_LAST, 5, R.RMW_QOS_POLICY_RELIABILITY_RELIABLE, D.RMW_QOS_POLICY_DURABILITY_VOLATILE),
    // the armed state: a late subscriber (the simulator started second) still gets the last value
    latched: new Q(H.RMW_QOS_POLICY_HISTORY_KEEP_LAST, 1, R.RMW_QOS_POLICY_RELIABILITY_RELIABLE, D.RMW_QOS_POLICY_DURABILITY_TRANSIENT_LOCAL),
  };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const firstLine = (e: unknown): string => (e instanceof Error ? e.message : String(e)).split('\n')[0] ?? '';
const MSG_HINT = "is the message's package installed, and were rclnodejs' messages generated after it (npx generate-ros-messages)?";

/** Config keys that are not ROS parameters (they name the node itself). */
const NOT_PARAMS = new Set(['kind', 'nodeName', 'namespace']);
/** Parameters that may change while flying (validated by the same schema); the rest need a restart. */
const LIVE_PARAMS = new Set(['linkTimeoutS', 'maxRotorRadS']);
/** Integer-valued scalar keys (declared PARAMETER_INTEGER; the other numbers are doubles). */
const INT_PARAMS = new Set(['px4TargetSystem']);

export async function createRos2Transport(cfg: Ros2Config, ctx: Ros2Context): Promise<Transport> {
  const rcl = ctx.rcl ?? (await loadRclnodejs());
  if (cfg.output === 'actuators' && !ctx.motors) throw new Error('ROS 2 transport: output "actuators" needs the airframe geometry (vehicle: a name from sim/vehicles or a vehicle YAML with arms, inertia and rate gains)');
  return new Ros2Transport(rcl, cfg, ctx);
}

export class Ros2Transport implements Transport {
  readonly name: string;
  readonly clock: 'realtime' | 'lockstep';
  private cfg: Ros2Config;
  private context: unknown = null;
  private node: RclNode | null = null;
  private sink: SensorSink | null = null;
  private pubs: { command?: RclPublisher; px4Rates?: RclPublisher; px4Mode?: RclPublisher; px4Command?: RclPublisher; armed?: RclPublisher; diag?: RclPublisher; detections?: RclPublisher; ttg?: RclPublisher } = {};
  private cameraK: CameraIntrinsics | null = null;
  private frameSeq = 0;
  /** Real time: JPEGs decode on the thread pool (sharp) and are delivered in arrival order. */
  private jpeg: JpegCodec | null = null;
  private jpegDelivery: Promise<void> = Promise.resolve();
  private jpegInFlight = 0;
  private lastImuS = NaN;
  private lastImuWallMs = NaN;
  private lastSensorWallMs = NaN;
  private linkUp = false;
  private watchdog: NodeJS.Timeout | null = null;
  private armed = true;
  private closed = false;
  private readonly motors: DirectMotorOutput | null;
  private setpoint: CtbrCommand | null = null;
  private gyroRadS: Vec3 = [0, 0, 0];
  private lastMotorS = NaN;
  private readonly n = { imu: 0, frames: 0, cameraInfo: 0, ticks: 0, published: 0, clamped: 0, nonFinite: 0, unsupported: 0, publishErrors: 0 };

  constructor(
    private readonly rcl: Rcl,
    cfg: Ros2Config,
    private readonly ctx: Ros2Context,
  ) {
    this.cfg = cfg;
    this.name = `ros2 (${cfg.output})`;
    this.clock = cfg.clock;
    this.motors = cfg.output === 'actuators' && ctx.motors ? new DirectMotorOutput(ctx.motors.rateLoop, ctx.motors.geometry) : null;
  }

  async open(sink: SensorSink): Promise<void> {
    this.sink = sink;
    try {
      await this.start();
    } catch (e) {
      // leave nothing behind, and say it in one line (rcl errors can span many)
      await this.close().catch(() => {});
      throw new Error(firstLine(e).startsWith('ROS 2 transport') ? firstLine(e) : `ROS 2 transport: ${firstLine(e)}`);
    }
  }

  private async start(): Promise<void> {
    const rcl = this.rcl;
    this.context = new rcl.Context();
    await rcl.init(this.context, ['brainpilot', ...rosArgs()]);
    const node = new rcl.Node(this.cfg.nodeName, this.cfg.namespace, this.context);
    this.node = node;
    this.cfg = this.declareParameters(node);
    const c = this.cfg;
    const q = qosProfiles(rcl);
    const sub = (type: string, topic: string, qos: unknown, cb: (m: unknown) => void): void => {
      try {
        node.createSubscription(type, topic, { qos }, cb);
      } catch (e) {
        throw new Error(`cannot subscribe to ${topic} (${type}): ${firstLine(e)}; ${MSG_HINT}`);
      }
    };
    const pub = (type: string, topic: string, qos: unknown): RclPublisher => {
      try {
        return node.createPublisher(type, topic, { qos });
      } catch (e) {
        throw new Error(`cannot publish ${topic} (${type}): ${firstLine(e)}; ${MSG_HINT}`);
      }
    };

    if (c.compressed) sub('sensor_msgs/msg/CompressedImage', c.imageTopic, q.sensor, (m) => this.onImage(m, true));
    else sub('sensor_msgs/msg/Image', c.imageTopic, q.sensor, (m) => this.onImage(m, false));
    if (c.cameraInfoTopic) sub('sensor_msgs/msg/CameraInfo', c.cameraInfoTopic, q.sensor, (m) => this.onCameraInfo(m));
    if (c.imuType === 'px4_msgs/msg/SensorCombined') sub(c.imuType, c.imuTopic, q.sensor, (m) => this.onImu(px4SensorCombinedToSample(m)));
    else sub(c.imuType, c.imuTopic, q.sensor, (m) => this.onImu(imuToSample(m)));

    // lockstep: the simulator publishes its clock after the sensors of each control period and
    // waits for the command stamped with it (reliable: a lost tick would stall it until its timeout)
    if (c.clock === 'lockstep') sub('rosgraph_msgs/msg/Clock', c.clockTopic, q.command, (m) => this.onClock(m));

    if (c.output === 'ctbr') this.pubs.command = pub('geometry_msgs/msg/TwistStamped', c.commandTopic, q.command);
    if (c.output === 'actuators') this.pubs.command = pub('actuator_msgs/msg/Actuators', c.commandTopic, q.command);
    if (c.output === 'px4') {
      this.pubs.px4Rates = pub('px4_msgs/msg/VehicleRatesSetpoint', `${c.px4Prefix}/in/vehicle_rates_setpoint`, q.command);
      this.pubs.px4Mode = pub('px4_msgs/msg/OffboardControlMode', `${c.px4Prefix}/in/offboard_control_mode`, q.command);
      this.pubs.px4Command = pub('px4_msgs/msg/VehicleCommand', `${c.px4Prefix}/in/vehicle_command`, q.command);
    }
    if (c.armedTopic) {
      this.pubs.armed = pub('std_msgs/msg/Bool', c.armedTopic, q.latched);
      this.pubs.armed.publish({ data: true });
    }
    if (c.diagnosticsTopic) this.pubs.diag = pub('diagnostic_msgs/msg/DiagnosticArray', c.diagnosticsTopic, q.command);
    // vision_msgs is not in ros-base: without it the node flies, it just does not publish detections
    const cmd = { qos: q.command };
    if (c.detectionsTopic) this.pubs.detections = this.optionalPublisher(node, 'vision_msgs/msg/Detection2DArray', c.detectionsTopic, cmd);
    if (c.timeToGateTopic) this.pubs.ttg = this.optionalPublisher(node, 'std_msgs/msg/Float64', c.timeToGateTopic, cmd);

    node.spin();
    // the link counts as up from the start, so a wrong topic name shows as "link down" at once
    this.linkUp = true;
    this.lastSensorWallMs = performance.now();
    this.watchdog = setInterval(() => this.checkLink(), 100);
    this.watchdog.unref();
    this.ctx.log.info(
      { node: `${node.namespace()}/${node.name()}`.replace('//', '/'), image: c.imageTopic, imu: c.imuTopic, output: c.output, clock: c.clock },
      `ROS 2 node ${node.name()}: camera ${c.imageTopic}${c.compressed ? ' (compressed)' : ''}, IMU ${c.imuTopic}, output ${c.output}, ${c.clock}`,
    );
  }

  private optionalPublisher(node: RclNode, type: string, topic: string, opts: object): RclPublisher | undefined {
    try {
      return node.createPublisher(type, topic, opts);
    } catch (e) {
      this.ctx.log.warn({ type, topic, err: firstLine(e) }, `not publishing ${topic}: ${type} is not available (${firstLine(e)})`);
      return undefined;
    }
  }

  /**
   * Every key of the config's ros2 block is a parameter (parameter overrides from --ros-args
   * --params-file win over the config file); the result is validated by the same zod schema, and
   * later sets are too (rejected with the reason); topics and types need a restart.
   */
  private declareParameters(node: RclNode): Ros2Config {
    const rcl = this.rcl;
    const T = rcl.ParameterType;
    const typeOf = (key: string, v: unknown): number => {
      if (typeof v === 'boolean') return T['PARAMETER_BOOL']!;
      if (typeof v === 'number') return INT_PARAMS.has(key) ? T['PARAMETER_INTEGER']! : T['PARAMETER_DOUBLE']!;
      if (Array.isArray(v)) return T['PARAMETER_INTEGER_ARRAY']!;
      return T['PARAMETER_STRING']!;
    };
    const fromParam = (key: string, v: unknown): unknown => {
      if (typeof v === 'bigint') return Number(v);
      if (Array.isArray(v) || ArrayBuffer.isView(v)) return Array.from(v as ArrayLike<unknown>, (x) => (typeof x === 'bigint' ? Number(x) : x));
      return v;
    };
    // 64-bit integer parameters are bigint in rclnodejs
    const toParam = (key: string, v: unknown): unknown => (Array.isArray(v) ? v.map((x) => BigInt(x as number)) : INT_PARAMS.has(key) ? BigInt(v as number) : v);
    const raw: Record<string, unknown> = { ...this.cfg };
    for (const [key, value] of Object.entries(this.cfg)) {
      if (NOT_PARAMS.has(key)) continue;
      const type = typeOf(key, value);
      const desc = new rcl.ParameterDescriptor(key, type, `brainpilot transport.${key} (see config/*.yaml)`, !LIVE_PARAMS.has(key));
      let p: RclParameter;
      try {
        p = node.declareParameter(new rcl.Parameter(key, type, toParam(key, value)), desc);
      } catch (e) {
        throw new Error(`ROS 2 transport: parameter ${key}: ${firstLine(e)} (a double needs a decimal point in a params file: 1000.0)`);
      }
      raw[key] = fromParam(key, p.value);
    }
    const parsed = ros2Transport.safeParse(raw);
    if (!parsed.success) {
      const i = parsed.error.issues[0]!;
      throw new Error(`ROS 2 transport: parameter ${i.path.join('.')}: ${i.message}`);
    }
    node.addOnSetParametersCallback((ps) => {
      const next: Record<string, unknown> = { ...this.cfg };
      for (const p of ps) {
        if (!(p.name in this.cfg) || NOT_PARAMS.has(p.name)) continue; // not ours (use_sim_time...)
        if (!LIVE_PARAMS.has(p.name)) return { successful: false, reason: `${p.name} takes effect only at start: change it in the config or the params file and restart` };
        next[p.name] = fromParam(p.name, p.value);
      }
      const r = ros2Transport.safeParse(next);
      if (!r.success) {
        const i = r.error.issues[0]!;
        return { successful: false, reason: `${i.path.join('.')}: ${i.message}` };
      }
      this.cfg = r.data;
      return { successful: true, reason: '' };
    });
    return parsed.data;
  }

  private noteSensor(): void {
    this.lastSensorWallMs = performance.now();
    if (!this.linkUp) {
      this.linkUp = true;
      this.sink?.linkState(true, 'ROS 2 sensor messages arriving');
    }
  }

  private checkLink(): void {
    if (this.linkUp && performance.now() - this.lastSensorWallMs > this.cfg.linkTimeoutS * 1000) {
      this.linkUp = false;
      const heard = this.n.imu + this.n.frames > 0;
      this.sink?.linkState(false, `${heard ? 'no ROS 2 sensor message' : 'nothing heard yet'} on ${this.cfg.imuTopic} or ${this.cfg.imageTopic} for ${this.cfg.linkTimeoutS} s`);
    }
  }

  private onImu(r: MapResult<ImuSample>): void {
    if (this.closed || !this.sink) return;
    this.noteSensor();
    if (!r.ok) return this.sink.reject(r.kind, r.detail);
    const s = r.value;
    this.lastImuS = s.stampS;
    this.lastImuWallMs = performance.now();
    this.gyroRadS = s.gyroRadS;
    this.n.imu++;
    // real time: the rate loop runs on the gyro, like an FC's (the pipeline's command is its
    // setpoint), before the pipeline sees the sample: the inner loop's latency matters most
    if (this.clock === 'realtime') this.stepMotors(s.stampS);
    this.sink.imu(s);
  }

  /** The sensor clock now: the newest IMU stamp advanced by the wall time since it arrived. */
  private sensorNowS(fallbackS: number): number {
    if (Number.isNaN(this.lastImuS)) return fallbackS;
    // lockstep: sensor time stands still between messages (and stays deterministic)
    return this.clock === 'lockstep' ? this.lastImuS : this.lastImuS + (performance.now() - this.lastImuWallMs) / 1000;
  }

  private onImage(msg: unknown, compressed: boolean): void {
    if (this.closed || !this.sink) return;
    this.noteSensor();
    const k = this.cameraK ?? this.ctx.intrinsics;
    const fctx = { seq: this.frameSeq++, arrivalS: 0, intrinsics: k, mount: this.ctx.mount };
    if (compressed && this.clock === 'realtime') {
      // lockstep keeps the synchronous decode: a frame must be in before the next /clock tick
      this.jpeg ??= jpegCodec(2);
      if (this.jpegInFlight >= 4) return this.sink.reject('time', 'CompressedImage: 4 frames still decoding (the decoder is behind; dropping rather than queueing latency)');
      this.jpegInFlight++;
      const job = compressedToFrameAsync(msg, fctx, (d, mp) => this.jpeg!.decode(d, mp));
      this.jpegDelivery = this.jpegDelivery
        .then(() => job)
        .then((r) => {
          this.jpegInFlight--;
          if (this.closed || !this.sink) return;
          if (!r.ok) return this.sink.reject(r.kind, r.detail);
          this.deliverFrame(r.value);
        });
      return;
    }
    const r = compressed ? compressedToFrame(msg, fctx) : imageToFrame(msg, fctx);
    if (!r.ok) return this.sink.reject(r.kind, r.detail);
    this.deliverFrame(r.value);
  }

  private deliverFrame(f: CameraFrame): void {
    if (!this.sink) return;
    f.arrivalS = Math.max(f.stampS, this.sensorNowS(f.stampS));
    this.n.frames++;
    this.sink.frame(f);
  }

  private onClock(msg: unknown): void {
    if (this.closed || !this.sink) return;
    const r = clockToSeconds(msg);
    if (!r.ok) return this.sink.reject(r.kind, r.detail);
    this.n.ticks++;
    this.sink.tick(r.value);
  }

  private onCameraInfo(msg: unknown): void {
    if (this.closed || !this.sink) return;
    const r = cameraInfoToIntrinsics(msg);
    if (!r.ok) return this.sink.reject(r.kind, r.detail);
    this.n.cameraInfo++;
    if (!this.cameraK) this.ctx.log.info({ intrinsics: r.value }, `camera intrinsics from CameraInfo: ${r.value.width}×${r.value.height}, fx ${r.value.fx.toFixed(1)}`);
    this.cameraK = r.value;
  }

  private publish(pub: RclPublisher | undefined, msg: unknown): void {
    if (!pub || this.closed) return;
    try {
      pub.publish(msg);
      this.n.published++;
    } catch (e) {
      // a dead link never throws into the daemon; counted and logged by the health line
      this.n.publishErrors++;
      if (this.n.publishErrors === 1) this.ctx.log.error({ err: String(e) }, `ROS 2 publish failed: ${String(e)}`);
    }
  }

  private px4NowUs(): bigint {
    return this.node ? this.node.now().nanoseconds / 1000n : 0n;
  }

  send(cmd: FlightCommand | null): void {
    if (!cmd || this.closed || !this.armed) return;
    const c = this.cfg;
    if (cmd.kind === 'motors') {
      if (c.output !== 'actuators') return void this.n.unsupported++;
      this.setpoint = null;
      this.publish(this.pubs.command, motorsToActuators(cmd.motors, c.motorOrder, c.maxRotorRadS, cmd.stampS));
      return;
    }
    if (cmd.kind !== 'ctbr') return void this.n.unsupported++;
    const checked = checkCtbr(cmd, this.ctx.vehicle);
    if (!checked) return void this.n.nonFinite++;
    if (checked.clamped) this.n.clamped++;
    if (c.output === 'ctbr') this.publish(this.pubs.command, ctbrToTwistStamped(checked.cmd));
    else if (c.output === 'px4') {
      // lockstep: the simulator's clock is the clock (as in PX4 SITL lockstep); else the node's
      const m = ctbrToPx4(checked.cmd, this.ctx.vehicle.maxThrustN, this.clock === 'lockstep' ? px4Us(checked.cmd.stampS) : this.px4NowUs());
      this.publish(this.pubs.px4Mode, m.mode);
      this.publish(this.pubs.px4Rates, m.rates);
    } else {
      this.setpoint = checked.cmd;
      // lockstep: the simulator waits for motor speeds stamped with its tick, so the loop steps here
      if (this.clock === 'lockstep') this.stepMotors(checked.cmd.stampS);
    }
  }

  /** One rate-loop + mixer step on the newest gyro; publishes Actuators stamped stampS. */
  private stepMotors(stampS: number): void {
    if (!this.motors || !this.armed || !this.setpoint) return;
    const dtS = stampS - this.lastMotorS;
    this.lastMotorS = stampS;
    const out = this.motors.step(this.setpoint, this.gyroRadS, Number.isFinite(dtS) && dtS > 0 ? dtS : 0.004, stampS);
    this.publish(this.pubs.command, motorsToActuators(out.motors, this.cfg.motorOrder, this.cfg.maxRotorRadS, stampS));
  }

  async disarm(reason: string): Promise<void> {
    if (!this.armed || this.closed) return;
    this.armed = false;
    this.setpoint = null;
    const c = this.cfg;
    this.ctx.log.warn({ reason, output: c.output }, `ROS 2: disarming (${reason})`);
    this.publish(this.pubs.armed, { data: false });
    if (c.output === 'px4') this.publish(this.pubs.px4Command, px4DisarmCommand(this.px4NowUs(), c.px4TargetSystem));
    if (c.output === 'actuators') this.publish(this.pubs.command, motorsToActuators([0, 0, 0, 0], c.motorOrder, c.maxRotorRadS, this.sensorNowS(0)));
    // give DDS time to deliver before the node goes (a publisher that exits at once loses its queue)
    await sleep(200);
  }

  publishHealth(h: HealthSnapshot): void {
    if (!this.pubs.diag) return;
    this.publish(this.pubs.diag, healthToDiagnostics(h, this.sensorNowS(0), this.cfg.nodeName));
  }

  publishPerception(p: PerceptionReport): void {
    if (this.pubs.detections) this.publish(this.pubs.detections, perceptionToDetections(p, 'camera_optical_frame'));
    if (this.pubs.ttg && p.timeToGateS !== null) this.publish(this.pubs.ttg, { data: p.timeToGateS });
  }

  counters(): Record<string, number> {
    return { ...this.n };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.watchdog) clearInterval(this.watchdog);
    this.watchdog = null;
    try {
      this.node?.stop();
      this.node?.destroy();
    } finally {
      this.node = null;
      if (this.context) this.rcl.shutdown(this.context);
      this.context = null;
      this.sink = null;
      await this.jpeg?.close();
      this.jpeg = null;
    }
  }
}
