/**
 * The built-in simulator, assembled: vehicle physics + Betaflight-like FC + gate judge + camera +
 * IMU, advanced in lockstep by the caller at a fixed physics rate. Sensor latency, command latency
 * and frame drops are modelled here with arrival-time queues so a controller sees exactly what a
 * real one would see over a link: samples stamped at exposure time, delivered later.
 */
import { Rng } from '../src/rng.js';
import type { Vec3 } from '../src/math/vec3.js';
import type { CameraFrame, CtbrCommand, FlightCommand, ImuSample, MotorsCommand } from '../src/tracts/io.js';
import { Quadrotor } from './physics.js';
import { FlightControllerEmulator } from './fc.js';
import { GateJudge } from './gates.js';
import { perturbTrack } from './track.js';
import { Renderer, randomDistractors } from './render.js';
import { cameraProfile, makeCameraFrame, type CameraProfile } from './camera.js';
import { ImuModel, type ImuConfig } from './imu.js';
import type { SimEvent, TrackSpec, VehicleParams } from './types.js';

export interface SimOptions {
  track: TrackSpec;
  vehicle: VehicleParams;
  seed: number;
  /** Physics + FC rate, Hz (≥ 500). */
  physicsHz?: number;
  /** Camera profile (name or object) and overrides. */
  camera?: CameraProfile;
  /** Render camera frames at all (the oracle can fly blind; sensors-only controllers need them). */
  cameraEnabled?: boolean;
  imu?: Partial<ImuConfig>;
  /** Extra latency on commands, s (on top of the FC's own loop). */
  commandLatencyS?: number;
  /** Perturb the real gates away from the nominal map (±0.3 m, ±5° by default). */
  perturbGates?: boolean | { posM: number; yawDeg: number };
  /** Number of laps the judge counts before it reports the race finished. */
  laps?: number;
  /** Gates the camera cannot see (occluded: they still count and still collide). */
  hiddenGates?: readonly number[];
  /** Distractor objects in the camera's scene (gate-like colours). */
  distractors?: number;
}

interface QueuedCommand {
  arrivalS: number;
  cmd: FlightCommand;
}

const FRAME_POOL = 12;

/** A copy the queue owns (arrays too). Malformed fields are copied as they are: the FC judges them. */
function copyCommand(cmd: FlightCommand): FlightCommand {
  const arr = (a: unknown): unknown => (Array.isArray(a) ? a.slice() : a);
  switch (cmd.kind) {
    case 'ctbr':
      return { ...cmd, rateRadS: arr(cmd.rateRadS) as CtbrCommand['rateRadS'] };
    case 'motors':
      return { ...cmd, motors: arr(cmd.motors) as MotorsCommand['motors'] };
    case 'rc':
      return { ...cmd, channelsUs: arr(cmd.channelsUs) as number[] };
    default:
      return { ...(cmd as object) } as FlightCommand;
  }
}

export class Sim {
  readonly dtS: number;
  readonly quad: Quadrotor;
  readonly fc: FlightControllerEmulator;
  readonly judge: GateJudge;
  /** The gates as they really stand (the prior map is `mapTrack`). */
  readonly trueTrack: TrackSpec;
  /** The organisers' nominal map: what a controller may be given as a prior. */
  readonly mapTrack: TrackSpec;
  readonly camera: CameraProfile;
  readonly cameraEnabled: boolean;
  readonly events: SimEvent[] = [];
  tS = 0;
  steps = 0;
  framesRendered = 0;
  framesDropped = 0;

  private readonly rng: Rng;
  private readonly camRng: Rng;
  private readonly imuRng: Rng;
  private readonly renderer: Renderer;
  private readonly imu: ImuModel;
  private readonly commandLatencyS: number;
  private readonly cmdQueue: QueuedCommand[] = [];
  private readonly imuQueue: ImuSample[] = [];
  private readonly frameQueue: CameraFrame[] = [];
  private readonly framePool: Uint8Array[] = [];
  private framePoolNext = 0;
  private nextImuS = 0;
  private nextFrameS = 0;
  private frameSeq = 0;
  private readonly prevPos: Vec3 = [0, 0, 0];

  constructor(readonly opts: SimOptions) {
    const hz = opts.physicsHz ?? 1000;
    if (!(hz >= 500)) throw new Error(`sim: physicsHz must be ≥ 500 (got ${hz})`);
    this.dtS = 1 / hz;
    this.rng = new Rng(opts.seed);
    const trackRng = this.rng.fork(1);
    this.camRng = this.rng.fork(2);
    this.imuRng = this.rng.fork(3);
    this.mapTrack = opts.track;
    const pert = opts.perturbGates ?? true;
    this.trueTrack =
      pert === false
        ? opts.track
        : perturbTrack(opts.track, trackRng, pert === true ? undefined : pert);
    this.quad = new Quadrotor(opts.vehicle);
    this.quad.reset(this.trueTrack.start.posEnuM, this.trueTrack.start.yawRad);
    this.fc = new FlightControllerEmulator(opts.vehicle);
    this.judge = new GateJudge(this.trueTrack, opts.vehicle.radiusM, opts.laps ?? 1);
    this.camera = opts.camera ?? cameraProfile('aigp-vq');
    this.cameraEnabled = opts.cameraEnabled ?? true;
    const hidden = new Set(opts.hiddenGates ?? []);
    const visible = this.trueTrack.gates.filter((g) => !hidden.has(g.index));
    const distractors = opts.distractors ? randomDistractors(this.trueTrack.gates, opts.distractors, opts.seed) : undefined;
    this.renderer = new Renderer(visible, { seed: opts.seed, ...(distractors ? { distractors } : {}) });
    this.imu = new ImuModel(opts.imu ?? {});
    this.commandLatencyS = opts.commandLatencyS ?? 0;
    const bytes = this.camera.width * this.camera.height * (this.camera.encoding === 'rgb8' ? 3 : 1);
    for (let i = 0; i < FRAME_POOL; i++) this.framePool.push(new Uint8Array(bytes));
    this.nextFrameS = 0;
    this.nextImuS = 0;
  }

  get state() {
    return this.quad.state;
  }

  arm(): void {
    this.fc.arm();
  }

  disarm(): void {
    this.fc.disarm();
  }

  /** Queue a command; it reaches the FC after the configured command latency. */
  sendCommand(cmd: FlightCommand): void {
    // a copy: the controller may refill its command object on its next tick (the guard does)
    this.cmdQueue.push({ arrivalS: this.tS + this.commandLatencyS, cmd: copyCommand(cmd) });
  }

  /** Advance one physics step. Returns the events of this step. */
  step(): SimEvent[] {
    while (this.cmdQueue.length > 0 && this.cmdQueue[0]!.arrivalS <= this.tS + 1e-12) {
      const { cmd } = this.cmdQueue.shift()!;
      if (!this.fc.setCommand(cmd)) {
        this.events.push({ kind: 'command-rejected', tS: this.tS, reason: this.fc.lastRejectReason ?? 'invalid' });
      }
    }
    const s = this.quad.state;
    this.prevPos[0] = s.posEnuM[0];
    this.prevPos[1] = s.posEnuM[1];
    this.prevPos[2] = s.posEnuM[2];
    const motors = this.fc.update(s, this.dtS);
    this.quad.step(motors, this.dtS);
    this.tS += this.dtS;
    this.steps++;
    const ev = this.judge.update(this.prevPos, s.posEnuM, this.tS);
    for (const e of ev) this.events.push(e);
    this.sampleSensors();
    return ev;
  }

  private sampleSensors(): void {
    if (this.tS + 1e-9 >= this.nextImuS) {
      this.nextImuS += 1 / this.imu.rateHz;
      this.imuQueue.push(this.imu.sample(this.quad.state, this.tS, this.imuRng));
    }
    if (this.cameraEnabled && this.tS + 1e-9 >= this.nextFrameS) {
      this.nextFrameS += 1 / this.camera.rateHz;
      const seq = this.frameSeq++;
      if (this.camera.dropRate > 0 && this.camRng.next() < this.camera.dropRate) {
        this.framesDropped++;
        return;
      }
      this.frameQueue.push(this.renderFrame(seq));
    }
  }

  /** Render the camera view at the current true pose into a pooled buffer. */
  renderFrame(seq = this.frameSeq): CameraFrame {
    const p = this.camera;
    const data = this.framePool[this.framePoolNext]!;
    this.framePoolNext = (this.framePoolNext + 1) % FRAME_POOL;
    const s = this.quad.state;
    this.renderer.render(s.posEnuM, s.quat, p, data, this.camRng);
    this.framesRendered++;
    return makeCameraFrame(p, data, this.tS, seq);
  }

  private readonly imuDue: ImuSample[] = [];
  private readonly framesDue: CameraFrame[] = [];

  /** Hand every sample whose arrival time has come to the callbacks: IMU first, then frames, each in arrival order. */
  deliver(onImu: (s: ImuSample) => void, onFrame: (f: CameraFrame) => void): void {
    this.imuDue.length = 0;
    this.framesDue.length = 0;
    for (const s of this.pollImu(this.imuDue)) onImu(s);
    for (const f of this.pollFrames(this.framesDue)) onFrame(f);
  }

  /** Sensor samples whose arrival time has come (in arrival order). */
  pollImu(out: ImuSample[]): ImuSample[] {
    const lat = this.imu.latencyS;
    while (this.imuQueue.length > 0 && this.imuQueue[0]!.stampS + lat <= this.tS + 1e-12) out.push(this.imuQueue.shift()!);
    return out;
  }

  pollFrames(out: CameraFrame[]): CameraFrame[] {
    while (this.frameQueue.length > 0 && this.frameQueue[0]!.arrivalS <= this.tS + 1e-12) out.push(this.frameQueue.shift()!);
    return out;
  }
}
