/**
 * The daemon's configuration: one YAML file, validated by this zod schema. Unknown keys are errors
 * (strict objects everywhere): a misspelt key silently ignored is a failsafe that never triggers.
 * Errors name the key path, the value found and what was expected.
 */
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';

const pos = () => z.number().positive();
const port = () => z.number().int().min(1).max(65535);
/** host:port; the default binds loopback only. */
const hostPort = () => z.string().regex(/^[^\s:]+:\d{1,5}$/, 'expected "host:port", e.g. "127.0.0.1:14550"');

/** Link URIs shared with the firmware bridges: serial:/dev/ttyX:baud, udp:host:port, tcp:host:port. */
const linkUri = () => z.string().regex(/^(serial:[^:]+:\d+|udp:[^\s:]+:\d{1,5}|tcp:[^\s:]+:\d{1,5})$/, 'expected a link URI: serial:<device>:<baud>, udp:<host>:<port> or tcp:<host>:<port>');

export const vehicleSchema = z.union([
  z.string().min(1).describe('a vehicle name (sim/vehicles) or a YAML file path'),
  z.strictObject({
    massKg: pos(),
    /** Collective thrust the FC accepts at most, N. */
    maxThrustN: pos(),
    maxRateRadS: z.tuple([pos(), pos(), pos()]),
  }),
]);

export const cameraSchema = z.strictObject({
  /** Used by transports whose frames carry no intrinsics (ZeroMQ headers and ROS CameraInfo do). */
  width: z.number().int().positive().default(640),
  height: z.number().int().positive().default(360),
  fx: pos().default(320),
  fy: pos().default(320),
  cx: z.number().default(320),
  cy: z.number().default(180),
  /** Camera pitched up from the body x axis, degrees (AIGP VQ: 20). */
  tiltUpDeg: z.number().min(-90).max(90).default(20),
  posFluM: z.tuple([z.number(), z.number(), z.number()]).default([0.08, 0, 0.02]),
});

const simTransport = z.strictObject({
  kind: z.literal('sim'),
  /** The built-in simulator in this process: the true gates are the map's, perturbed by the seed. */
  track: z.string().default('aigp-qualifier'),
  vehicle: z.string().default('racer-280'),
  seed: z.number().int().min(0).default(1),
  laps: z.number().int().min(1).max(100).default(3),
  latencyMs: z.number().min(0).max(1000).optional(),
  dropRate: z.number().min(0).max(0.95).optional(),
  /** Wall-clock pacing: 1 = real time, 0 = as fast as possible (lockstep). */
  realtimeFactor: z.number().min(0).max(100).default(0),
});

const zmqTransport = z.strictObject({
  kind: z.literal('zmq'),
  /** Where `brainpilot sim serve --zmq` (or another publisher) listens. */
  endpoint: z.string().regex(/^(tcp|ipc|inproc):\/\/\S+$/, 'expected a ZeroMQ endpoint such as tcp://127.0.0.1:5555').default('tcp://127.0.0.1:5555'),
  /** How long `run` waits for the server's hello before it gives up, s. */
  connectTimeoutS: pos().max(600).default(10),
  /** No message from the server for this long → link down (the guard fails safe on stale sensors), s. */
  linkTimeoutS: pos().max(60).default(0.5),
  /** How long disarm() waits for the server to acknowledge the disarm message, s. */
  disarmAckTimeoutS: pos().max(10).default(1),
});

/** ROS 2 topic or node names: absolute, relative or private (~/), no spaces (checked again by rcl). */
const rosName = () => z.string().regex(/^(~\/)?\/?[A-Za-z_][A-Za-z0-9_/]*$/, 'expected a ROS 2 name such as "/camera/image_raw"');
/** An optional output topic: a ROS 2 name, or "" to not publish it. */
const rosNameOrOff = () => z.union([z.literal(''), rosName()]);

/** The ROS 2 node (rclnodejs, loaded only for this transport). Every key is also a ROS 2 parameter. */
export const ros2Transport = z.strictObject({
  kind: z.literal('ros2'),
  nodeName: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'expected a ROS 2 node name (letters, digits, _)').default('brainpilot'),
  namespace: z.string().regex(/^(\/[A-Za-z_][A-Za-z0-9_]*)*\/?$|^$/, 'expected a namespace such as "/drone1" or ""').default(''),
  imageTopic: rosName().default('/camera/image_raw'),
  /** Take sensor_msgs/CompressedImage (jpeg or png) instead of raw Image. */
  compressed: z.boolean().default(false),
  /** sensor_msgs/CameraInfo; until one arrives (or if its size differs) the config's camera block is used. */
  cameraInfoTopic: rosNameOrOff().default('/camera/camera_info'),
  imuTopic: rosName().default('/imu/data'),
  /** sensor_msgs/Imu (REP-103 FLU), or PX4's SensorCombined (FRD, converted) from uXRCE-DDS. */
  imuType: z.enum(['sensor_msgs/msg/Imu', 'px4_msgs/msg/SensorCombined']).default('sensor_msgs/msg/Imu'),
  /** actuators: actuator_msgs/Actuators (Gazebo); px4: px4_msgs VehicleRatesSetpoint + OffboardControlMode; ctbr: brainpilot's own. */
  output: z.enum(['actuators', 'px4', 'ctbr']).default('ctbr'),
  /** ctbr: geometry_msgs/TwistStamped; actuators: actuator_msgs/Actuators (e.g. /x500/command/motor_speed); px4: unused. */
  commandTopic: rosName().default('/brainpilot/command'),
  /** std_msgs/Bool, reliable + transient local: true while armed, false once the daemon disarms. */
  armedTopic: rosNameOrOff().default('/brainpilot/armed'),
  /** PX4 uXRCE-DDS namespace: /fmu/in/vehicle_rates_setpoint, /fmu/in/offboard_control_mode, /fmu/in/vehicle_command. */
  px4Prefix: rosName().default('/fmu'),
  px4TargetSystem: z.number().int().min(1).max(255).default(1),
  /** actuators: rotor speed at motor command 1, rad/s (the model's maxRotVelocity; gz x500: 1000). */
  maxRotorRadS: z.number().positive().max(10000).default(1000),
  /** actuators: our motor (0 RR, 1 FR, 2 RL, 3 FL) for each actuator slot; PX4 gz models: [1, 2, 3, 0]. */
  motorOrder: z
    .tuple([z.number().int().min(0).max(3), z.number().int().min(0).max(3), z.number().int().min(0).max(3), z.number().int().min(0).max(3)])
    .refine((o) => new Set(o).size === 4, 'expected each motor 0..3 exactly once')
    .default([1, 2, 3, 0]),
  /** diagnostic_msgs/DiagnosticArray from the daemon's health line ("" = off). */
  diagnosticsTopic: rosNameOrOff().default('/diagnostics'),
  /** vision_msgs/Detection2DArray, the gates seen in each frame ("" = off; needs vision_msgs). */
  detectionsTopic: rosNameOrOff().default('/brainpilot/gate_detections'),
  /** std_msgs/Float64, predicted time to the target gate from its looming, s ("" = off). */
  timeToGateTopic: rosNameOrOff().default('/brainpilot/time_to_gate'),
  /** No sensor message for this long → link down (the guard fails safe as the sensors age), s. */
  linkTimeoutS: z.number().positive().max(10).default(0.5),
  /**
   * realtime: command at control.rateHz on the sensor clock. lockstep: one command per
   * rosgraph_msgs/Clock tick on clockTopic, stamped with it (`sim serve --ros2 --realtime 0`).
   */
  clock: z.enum(['realtime', 'lockstep']).default('realtime'),
  clockTopic: rosName().default('/clock'),
});

const aigpTransport = z.strictObject({
  kind: z.literal('aigp'),
  /** The client's MAVLink UDP socket (the VQ sim sends to 127.0.0.1:14550). */
  mavlinkBind: hostPort().default('127.0.0.1:14550'),
  /** The camera stream: chunked JPEG over UDP. */
  videoBind: hostPort().default('127.0.0.1:5600'),
  /** SET_ATTITUDE_TARGET rate, Hz (the spec says < 100). */
  commandRateHz: pos().max(250).default(90),
  heartbeatHz: z.number().min(2).max(10).default(2),
  systemId: z.number().int().min(1).max(255).default(255),
  componentId: z.number().int().min(0).max(255).default(190),
  /** JPEG decode worker threads: 1 keeps up with the VQ's 30 Hz; 2 for 120 Hz cameras. */
  decodeWorkers: z.number().int().min(1).max(8).default(1),
});

const betaflightTransport = z.strictObject({
  kind: z.literal('betaflight'),
  /** The FC's UART (the Jetson's /dev/ttyTHS1), or tcp:127.0.0.1:5761 for a Betaflight SITL. */
  link: linkUri().default('serial:/dev/ttyTHS1:921600'),
  /** AUX channel (1-based, after AETR) that carries ARM, and the µs values that arm / disarm. */
  armAux: z.number().int().min(1).max(14).default(1),
  armUs: z.number().int().min(1000).max(2000).default(1800),
  disarmUs: z.number().int().min(1000).max(2000).default(1000),
  /** The other AUX channels sent with every stick frame, µs, AUX1 first (the arm channel's entry is ignored). */
  auxUs: z.array(z.number().int().min(1000).max(2000)).max(14).default([]),
  /** Channels per MSP_SET_RAW_RC frame (AETR + AUX). */
  channelCount: z.number().int().min(5).max(18).default(8),
  /** No command from the pipeline for this long → disarm sticks (MSP override would hold the last ones forever), s. */
  watchdogS: pos().max(2).default(0.25),
  /** MSP_RAW_IMU polling rate, Hz. */
  imuRateHz: pos().max(1000).default(100),
  /** Throttle that holds hover, µs: calibrate it. Collective thrust → throttle is linear from (0 N, 1000 µs). */
  hoverThrottleUs: z.number().gt(1000).lt(2000),
  /** Highest throttle ever sent, µs. */
  maxThrottleUs: z.number().gt(1000).max(2000).default(2000),
  /** MSP_RAW_IMU accelerometer LSB per g: 512 on a real FC, 256 on Betaflight SITL. */
  acc1G: z.union([z.literal(512), z.literal(256)]).default(512),
  /** true only once `set msp_override_failsafe = ON` is saved on the FC (Betaflight 4.5+; unreadable over MSP). */
  mspOverrideFailsafe: z.boolean().default(false),
  /** Wait this long at start for the FC's arming-disable flags to clear, s. */
  armWaitS: pos().max(60).default(6),
});

const mavlinkFcCommon = <K extends 'px4' | 'ardupilot'>(kind: K, defLink: string) => ({
  kind: z.literal(kind),
  link: linkUri().default(defLink),
  systemId: z.number().int().min(1).max(255).default(255),
  componentId: z.number().int().min(0).max(255).default(190),
  targetSystem: z.number().int().min(1).max(255).default(1),
  /** Command retries and their spacing for COMMAND_LONG (mode, arm). */
  commandRetries: z.number().int().min(0).max(20).default(5),
  commandTimeoutS: pos().default(0.5),
  /** Keep-alive setpoint rate until the pipeline commands (the pipeline then sends at control.rateHz). */
  setpointRateHz: pos().max(500).default(100),
  /** Our HEARTBEAT rate, Hz (MAVLink wants >= 1). */
  heartbeatHz: z.number().min(1).max(50).default(1),
  /** The FC's HEARTBEAT rate we ask for, Hz: a lost OFFBOARD/GUIDED shows at the next one (ArduPilot keeps 1). */
  fcHeartbeatHz: z.number().min(1).max(50).default(5),
  /** ATTITUDE + LOCAL_POSITION_NED stream rate, Hz. */
  poseRateHz: pos().max(500).default(50),
  /** The FC's first HEARTBEAT must arrive within this, s. */
  connectTimeoutS: pos().default(10),
  /** Land must end in the FC's disarm within this, s. */
  landTimeoutS: pos().default(30),
  /** Render camera frames from the reported pose with the built-in simulator (SITL has no camera). */
  renderFrames: z
    .strictObject({
      track: z.string().default('aigp-qualifier'),
      rateHz: pos().max(120).default(30),
    })
    .nullable()
    .default(null),
});

const px4Transport = z.strictObject({
  ...mavlinkFcCommon('px4', 'udp:127.0.0.1:14580'),
  /** HIGHRES_IMU rate, Hz. */
  imuRateHz: pos().max(1000).default(250),
  /** Setpoints streamed before OFFBOARD is requested, s (PX4 refuses OFFBOARD without a stream). */
  preStreamS: z.number().min(0).max(10).default(0.5),
  /** Arming retried while TEMPORARILY_REJECTED for this long, s ("Ready for takeoff" 5–8 s after boot). */
  armTimeoutS: pos().default(15),
});

const ardupilotTransport = z.strictObject({
  ...mavlinkFcCommon('ardupilot', 'tcp:127.0.0.1:5760'),
  /** SCALED_IMU rate, Hz. */
  imuRateHz: pos().max(1000).default(100),
  /** Arming retried once a second for this long, s (pre-arm checks refuse for the first 24–42 s of SITL). */
  armTimeoutS: pos().default(60),
  /** GUIDED requested once a second for this long, s (needs a position estimate). */
  guidedTimeoutS: pos().default(60),
  /** NAV_TAKEOFF altitude, m, sent right after arming (ArduCopter disarms ≈ 10 s after arming without it). */
  takeoffAltM: pos().max(100).default(2),
});

export const transportSchema = z.discriminatedUnion('kind', [
  simTransport,
  zmqTransport,
  ros2Transport,
  aigpTransport,
  betaflightTransport,
  px4Transport,
  ardupilotTransport,
]);

/** A separate camera source, for links that carry no frames (MSP, MAVLink to a real FC). */
export const framesSchema = z.discriminatedUnion('kind', [
  z.strictObject({
    kind: z.literal('zmq'),
    /** A publisher of frames in brainpilot's ZeroMQ format (docs/zmq.md), e.g. a capture process. */
    endpoint: z.string().regex(/^(tcp|ipc|inproc):\/\/\S+$/, 'expected a ZeroMQ endpoint such as tcp://127.0.0.1:5556').default('tcp://127.0.0.1:5556'),
  }),
  z.strictObject({
    kind: z.literal('ros2'),
    imageTopic: z.string().default('/camera/image_raw'),
    compressed: z.boolean().default(false),
    cameraInfoTopic: z.string().default('/camera/camera_info'),
  }),
]);

export const configSchema = z.strictObject({
  /** What the pipeline knows about its airframe. */
  vehicle: vehicleSchema.default('racer-280'),
  track: z
    .strictObject({
      /** The organisers' nominal map (track name or YAML path), or null to discover the gates. */
      map: z.string().nullable().default('aigp-qualifier'),
      /** Gate opening and outer frame, m (DCL gate). */
      innerM: pos().default(1.5),
      outerM: pos().default(2.7),
    })
    .prefault({}),
  camera: cameraSchema.prefault({}),
  control: z
    .strictObject({
      /** Real-time command rate, Hz. */
      rateHz: pos().max(2000).default(100),
    })
    .prefault({}),
  failsafe: z
    .strictObject({
      /** No frame for this long → level and descend, s. */
      frameTimeoutS: pos().default(0.5),
      /** No IMU for this long → disarm, s. */
      imuTimeoutS: pos().default(0.1),
      /** Continuous frame loss for this long → disarm, s. */
      disarmAfterS: pos().default(5),
    })
    .prefault({}),
  /** Learned-state file: loaded at start when it exists, saved on stop. */
  state: z.string().nullable().default(null),
  log: z
    .strictObject({
      level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace']).default('info'),
      /** Seconds between health lines; 0 = none. */
      healthIntervalS: z.number().min(0).default(2),
    })
    .prefault({}),
  transport: transportSchema,
  /** Where frames come from when the transport carries none (null = the transport's own). */
  frames: framesSchema.nullable().default(null),
});

export type BrainpilotConfig = z.output<typeof configSchema>;
export type TransportConfig = BrainpilotConfig['transport'];

export class ConfigError extends Error {
  constructor(
    readonly source: string,
    readonly problems: string[],
  ) {
    super(`${source}: invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

const show = (v: unknown): string => {
  if (v === undefined) return 'nothing';
  const s = JSON.stringify(v);
  return s === undefined ? String(v) : s.length > 60 ? s.slice(0, 57) + '...' : s;
};

/** Validate a parsed object; throws ConfigError with one line per problem. */
export function parseConfig(raw: unknown, source = 'config'): BrainpilotConfig {
  const r = configSchema.safeParse(raw, { reportInput: true });
  if (r.success) return r.data;
  const problems = r.error.issues.map((i) => {
    const path = i.path.length ? i.path.join('.') : '(top level)';
    if (i.code === 'unrecognized_keys') {
      return `${path === '(top level)' ? '' : path + ': '}unknown key${i.keys.length > 1 ? 's' : ''} ${i.keys.map((k) => `"${k}"`).join(', ')} (not in the schema; check the spelling)`;
    }
    if (i.code === 'invalid_union' && 'discriminator' in i) {
      const kind = (i.input as { kind?: unknown } | undefined)?.kind;
      const union = i.path[0] === 'frames' ? framesSchema : transportSchema;
      return `${path}: got ${show(kind)}; expected one of ${union.options.map((o) => `"${o.shape.kind.value}"`).join(', ')}`;
    }
    return `${path}: got ${show(i.input)}; ${i.message}`;
  });
  throw new ConfigError(source, problems);
}

/** Read, parse and validate a YAML config file. */
export function loadConfig(path: string): BrainpilotConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new ConfigError(path, [`cannot read the file (${(e as NodeJS.ErrnoException).code ?? String(e)})`]);
  }
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (e) {
    throw new ConfigError(path, [`not valid YAML: ${e instanceof Error ? e.message.split('\n')[0] : String(e)}`]);
  }
  return parseConfig(raw ?? {}, path);
}
