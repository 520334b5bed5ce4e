/**
 * Config → Transport. Each transport is an adapter at the edge; this file (CLI glue) is where they
 * are chosen, so the daemon and the pipeline import none of them. Heavy or native modules (zeromq,
 * rclnodejs, serialport) are imported lazily, only for the transport the config asks for.
 */
import type { Logger } from 'pino';
import type { Transport } from '../daemon/transport.js';
import type { BrainpilotConfig, TransportConfig } from '../config/schema.js';
import type { PipelineVehicle } from '../pipeline.js';
import type { CameraIntrinsics, CameraMount } from '../tracts/io.js';
import type { Ros2Context } from '../transports/ros2/node.js';

/** What every transport may need besides its own block of the config. */
export interface TransportContext {
  log: Logger;
  config: BrainpilotConfig;
  vehicle: PipelineVehicle;
  intrinsics: CameraIntrinsics;
  mount: CameraMount;
}

type Of<K extends TransportConfig['kind']> = Extract<TransportConfig, { kind: K }>;

/**
 * The camera side of a composite link (config `frames:`): a ZeroMQ or ROS 2 transport whose frames
 * are used and whose IMU (if any) is ignored; the FC transport owns the commands.
 */
export async function createFrameTransport(frames: NonNullable<BrainpilotConfig['frames']>, ctx: TransportContext): Promise<Transport> {
  const { transportSchema } = await import('../config/schema.js');
  if (frames.kind === 'zmq') return createTransport(transportSchema.parse({ kind: 'zmq', endpoint: frames.endpoint }), ctx);
  return createTransport(
    transportSchema.parse({ kind: 'ros2', imageTopic: frames.imageTopic, compressed: frames.compressed, cameraInfoTopic: frames.cameraInfoTopic }),
    ctx,
  );
}

export async function createTransport(cfg: TransportConfig, ctx: TransportContext): Promise<Transport> {
  switch (cfg.kind) {
    case 'sim':
      return createSim(cfg, ctx);
    case 'zmq': {
      const { createZmqTransport } = await import('../transports/zmq/transport.js');
      return createZmqTransport(cfg, ctx);
    }
    case 'ros2':
      return createRos2(cfg, ctx);
    case 'aigp': {
      const { createAigpTransport } = await import('../transports/aigp/transport.js');
      return createAigpTransport(cfg, ctx);
    }
    case 'betaflight':
      return createBetaflight(cfg, ctx);
    case 'px4':
    case 'ardupilot':
      return createMavlinkFc(cfg, ctx);
    default: {
      const never: never = cfg;
      throw new Error(`unknown transport ${JSON.stringify(never)}`);
    }
  }
}

async function createSim(cfg: Of<'sim'>, ctx: TransportContext): Promise<Transport> {
  const { buildServedSim } = await import('./race.js');
  const { InProcessSimTransport } = await import('../../sim/serve/inproc.js');
  const sim = buildServedSim(cfg);
  ctx.log.info({ track: cfg.track, seed: cfg.seed, laps: cfg.laps }, `built-in simulator in this process: ${cfg.track}, seed ${cfg.seed}, ${cfg.laps} laps`);
  return new InProcessSimTransport(sim, { laps: cfg.laps, seed: cfg.seed });
}

async function createMavlinkFc(cfg: Of<'px4'> | Of<'ardupilot'>, ctx: TransportContext): Promise<Transport> {
  const { MavlinkFcTransport } = await import('../../firmware-bridge/mavlink/transport.js');
  const session = {
    systemId: cfg.systemId,
    componentId: cfg.componentId,
    targetSystem: cfg.targetSystem,
    heartbeatHz: cfg.heartbeatHz,
    commandRetries: cfg.commandRetries,
    commandTimeoutMs: cfg.commandTimeoutS * 1000,
  };
  const common = {
    maxThrustN: ctx.vehicle.maxThrustN,
    maxRateRadS: ctx.vehicle.maxRateRadS,
    setpointRateHz: cfg.setpointRateHz,
    imuRateHz: cfg.imuRateHz,
    poseRateHz: cfg.poseRateHz,
    connectTimeoutS: cfg.connectTimeoutS,
    armTimeoutS: cfg.armTimeoutS,
    landTimeoutS: cfg.landTimeoutS,
    fcHeartbeatHz: cfg.fcHeartbeatHz,
  };
  const frameSource = cfg.renderFrames ? await poseFrameSource(cfg.renderFrames, ctx) : undefined;
  const log = ctx.log;
  ctx.log.info({ link: cfg.link, kind: cfg.kind, renderFrames: Boolean(frameSource) }, `${cfg.kind === 'px4' ? 'PX4' : 'ArduPilot'} over MAVLink on ${cfg.link}`);
  return cfg.kind === 'px4'
    ? new MavlinkFcTransport({ kind: 'px4', link: cfg.link, session, bridge: { ...common, preStreamS: cfg.preStreamS }, log, ...(frameSource ? { frameSource } : {}) })
    : new MavlinkFcTransport({
        kind: 'ardupilot',
        link: cfg.link,
        session,
        bridge: { ...common, guidedTimeoutS: cfg.guidedTimeoutS, takeoffAltM: cfg.takeoffAltM },
        log,
        ...(frameSource ? { frameSource } : {}),
      });
}

/**
 * Camera frames for a SITL without a camera: the built-in simulator's renderer, placed by the pose the FC
 * reports. The FC's local origin is taken as the track's start box, and its axes are turned so the heading
 * at the first pose is the start box's heading (PX4 SIH boots facing north, a track may start facing east).
 */
async function poseFrameSource(o: { track: string; rateHz: number }, ctx: TransportContext) {
  const { Renderer } = await import('../../sim/render.js');
  const { cameraProfile, makeCameraFrame } = await import('../../sim/camera.js');
  const { loadTrack } = await import('../../sim/track.js');
  const { quatFromAxisAngle, quatMul, quatRotate, quatToEuler } = await import('../math/quat.js');
  const track = loadTrack(o.track);
  const renderer = new Renderer(track);
  const i = ctx.intrinsics;
  const profile = cameraProfile(undefined, {
    width: i.width,
    height: i.height,
    fx: i.fx,
    fy: i.fy,
    cx: i.cx,
    cy: i.cy,
    tiltUpDeg: (ctx.mount.tiltUpRad * 180) / Math.PI,
    posFluM: ctx.mount.posFluM,
    rateHz: o.rateHz,
    latencyS: 0,
    dropRate: 0,
    noiseStd: 0,
  });
  const bpp = profile.encoding === 'rgb8' ? 3 : 1;
  let align: { yawRad: number } | null = null;
  return {
    rateHz: o.rateHz,
    render(pose: { stampS: number; posEnuM: [number, number, number]; quatEnuFlu: [number, number, number, number] }, seq: number) {
      if (!align) align = { yawRad: track.start.yawRad - quatToEuler(pose.quatEnuFlu)[2] };
      const turn = quatFromAxisAngle([0, 0, 1], align.yawRad);
      const p = quatRotate(turn, pose.posEnuM);
      const pos: [number, number, number] = [track.start.posEnuM[0] + p[0], track.start.posEnuM[1] + p[1], track.start.posEnuM[2] + p[2]];
      const out = new Uint8Array(profile.width * profile.height * bpp); // handed to the pipeline: one buffer per frame
      renderer.render(pos, quatMul(turn, pose.quatEnuFlu), profile, out);
      return makeCameraFrame(profile, out, pose.stampS, seq);
    },
  };
}

async function createRos2(cfg: Of<'ros2'>, ctx: TransportContext): Promise<Transport> {
  const { createRos2Transport } = await import('../transports/ros2/node.js');
  let motors: Ros2Context['motors'];
  // Gazebo's motors need a rate loop and mixer in place of an FC: both from the airframe file
  if (cfg.output === 'actuators' && typeof ctx.config.vehicle === 'string') {
    const { loadVehicle } = await import('../../sim/vehicle.js');
    const v = loadVehicle(ctx.config.vehicle);
    motors = {
      rateLoop: { p: v.rateGains.p, i: v.rateGains.i, d: v.rateGains.d, inertiaKgM2: v.inertiaKgM2 },
      geometry: { armXM: v.armXM, armYM: v.armYM, motorMaxThrustN: v.motorMaxThrustN, yawTorquePerThrustM: v.yawTorquePerThrustM, motorIdle: v.motorIdle },
    };
  }
  return createRos2Transport(cfg, { log: ctx.log, intrinsics: ctx.intrinsics, mount: ctx.mount, vehicle: ctx.vehicle, ...(motors ? { motors } : {}) });
}

async function createBetaflight(cfg: Of<'betaflight'>, ctx: TransportContext): Promise<Transport> {
  const { BetaflightTransport } = await import('../../firmware-bridge/betaflight/transport.js');
  const auxUs = Array.from({ length: cfg.channelCount - 4 }, (_, i) => (i === cfg.armAux - 1 ? cfg.disarmUs : (cfg.auxUs[i] ?? 1000)));
  if (ctx.config.frames === null) {
    ctx.log.warn(
      { link: cfg.link },
      'betaflight: camera frames do not come over MSP and the config names no `frames:` source: ' +
        'without frames the guard levels, descends and disarms',
    );
  }
  return new BetaflightTransport({
    link: cfg.link,
    bridge: {
      armAux: cfg.armAux - 1,
      armHighUs: cfg.armUs,
      armLowUs: cfg.disarmUs,
      auxUs,
      channelCount: cfg.channelCount,
      watchdogS: cfg.watchdogS,
      throttle: { hoverThrustN: ctx.vehicle.massKg * 9.80665, hoverUs: cfg.hoverThrottleUs, maxUs: cfg.maxThrottleUs },
      acc1G: cfg.acc1G,
    },
    imuRateHz: cfg.imuRateHz,
    commandRateHz: ctx.config.control.rateHz,
    armWaitS: cfg.armWaitS,
    mspOverrideFailsafe: cfg.mspOverrideFailsafe,
    log: ctx.log,
  });
}
