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
});

const ros2Transport = z.strictObject({
  kind: z.literal('ros2'),
  nodeName: z.string().default('brainpilot'),
  namespace: z.string().default(''),
  imageTopic: z.string().default('/camera/image_raw'),
  /** Take sensor_msgs/CompressedImage (jpeg) instead of raw Image. */
  compressed: z.boolean().default(false),
  cameraInfoTopic: z.string().default('/camera/camera_info'),
  imuTopic: z.string().default('/imu/data'),
  /** actuators: actuator_msgs/Actuators (Gazebo); px4: px4_msgs VehicleRatesSetpoint + OffboardControlMode; ctbr: brainpilot's own. */
  output: z.enum(['actuators', 'px4', 'ctbr']).default('ctbr'),
  commandTopic: z.string().default('/brainpilot/command'),
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
  link: linkUri().default('serial:/dev/ttyTHS1:115200'),
  /** AUX channel (1-based, after AETR) and the µs value that arms. */
  armAux: z.number().int().min(1).max(14).default(1),
  armUs: z.number().int().min(900).max(2100).default(1800),
  /** The pipeline stall after which failsafe (disarm) sticks are sent, s. */
  watchdogS: pos().max(2).default(0.1),
  stickRateHz: pos().max(500).default(100),
  imuRateHz: pos().max(1000).default(100),
});

const mavlinkFc = (kind: 'px4' | 'ardupilot', defLink: string) =>
  z.strictObject({
    kind: z.literal(kind),
    link: linkUri().default(defLink),
    systemId: z.number().int().min(1).max(255).default(255),
    componentId: z.number().int().min(0).max(255).default(190),
    targetSystem: z.number().int().min(1).max(255).default(1),
    /** Command retries and their spacing for COMMAND_LONG (mode, arm). */
    commandRetries: z.number().int().min(0).max(20).default(5),
    commandTimeoutS: pos().default(0.5),
    setpointRateHz: pos().max(500).default(100),
  });

export const transportSchema = z.discriminatedUnion('kind', [
  simTransport,
  zmqTransport,
  ros2Transport,
  aigpTransport,
  betaflightTransport,
  mavlinkFc('px4', 'udp:127.0.0.1:14540'),
  mavlinkFc('ardupilot', 'tcp:127.0.0.1:5760'),
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
      return `${path}: got ${show(kind)}; expected one of ${transportSchema.options.map((o) => `"${o.shape.kind.value}"`).join(', ')}`;
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
