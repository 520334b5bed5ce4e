/**
 * The region pipeline: camera frames + IMU samples in, one flight command out.
 *
 * Data flows one way per tick: sensors → regions → motor stage → guard → transport. The table below
 * is the wiring: who runs on which trigger, what it reads and what it publishes. The code that
 * follows executes exactly these steps in this order (test/pipeline.test.ts checks the table
 * against the regions the pipeline holds).
 */
import { camToBodyOfInto, bodyToCamInto } from './math/camera.js';
import { quatIntegrateInto, quatRotateInto, quatRotateInvInto, quatToEulerInto, type Quat } from './math/quat.js';
import { dot, norm, type Vec3 } from './math/vec3.js';
import type { Controller } from './tracts/controller.js';
import type { CameraFrame, CtbrCommand, ImuSample } from './tracts/io.js';
import { Vestibular, type TiltObservation, type YawObservation } from './regions/vestibular.js';
import { Hippocampus, newUpcomingGate, type HippocampusConfig, type HippocampusInput, type UpcomingGate } from './regions/hippocampus.js';
import { Colliculus, type ColliculusInput, type ColliculusOutput } from './regions/colliculus.js';
import { GatePathFollower, type FollowerConfig, type GatePose } from './regions/premotor.js';
import { MotorStage, type MotorStageInput } from './regions/motor.js';
import { Guard, type GuardInput, type GuardMode } from './regions/steering.js';
import type { LearnedState } from './regions/region.js';
import { LatencyForwardModel, type LatencyForwardInput } from './regions/cerebellum.js';
import { AccelResponseModel, HeadingDriftModel, type AccelResponseInput, type AccelResponseOptions, type HeadingDriftInput, type HeadingDriftOptions } from './regions/cortex.js';

export type Trigger = 'imu' | 'frame' | 'command';

export interface WiringRow {
  region: string;
  trigger: Trigger;
  reads: string[];
  publishes: string;
}

/** The wiring table: one row per region step, in execution order within each trigger. */
export const WIRING: readonly WiringRow[] = [
  { region: 'vestibular', trigger: 'imu', reads: ['imu'], publishes: 'attitude, worldAccel' },
  { region: 'hippocampus', trigger: 'imu', reads: ['worldAccel'], publishes: 'pose, target, gatePassed' },
  { region: 'cortex', trigger: 'imu', reads: ['worldAccel'], publishes: 'sensedAccel' },
  { region: 'cortex', trigger: 'imu', reads: ['gateSighting', 'gateMap'], publishes: 'headingCorrection' },
  { region: 'colliculus', trigger: 'frame', reads: ['frame', 'attitude@exposure', 'expectedGate'], publishes: 'gateSighting, orient, looming' },
  { region: 'hippocampus', trigger: 'frame', reads: ['gateSighting', 'attitude@exposure'], publishes: 'pose, gateMap' },
  { region: 'premotor', trigger: 'command', reads: ['pose', 'gateMap', 'target', 'predictedChange'], publishes: 'desiredAccel, heading' },
  { region: 'cortex', trigger: 'command', reads: ['desiredAccel', 'sensedAccel', 'pose'], publishes: 'accelCommand' },
  { region: 'motor', trigger: 'command', reads: ['accelCommand', 'heading', 'attitude', 'predictedChange'], publishes: 'proposedCtbr' },
  { region: 'cerebellum', trigger: 'command', reads: ['desiredAccel', 'proposedCtbr', 'pose', 'gyro'], publishes: 'predictedChange' },
  { region: 'steering.guard', trigger: 'command', reads: ['proposedCtbr', 'attitude', 'sensorFreshness', 'armed'], publishes: 'command' },
];

export interface PipelineVehicle {
  massKg: number;
  /** Collective thrust the FC accepts at most, N. */
  maxThrustN: number;
  maxRateRadS: Vec3;
}

export interface PipelineConfig {
  vehicle: PipelineVehicle;
  /** Where the drone starts (the start box is known at every race). */
  start: { posEnuM: Vec3; yawRad: number };
  /** The organisers' nominal gate poses, or null to discover the track. */
  prior: readonly { centerEnuM: Vec3; yawRad: number }[] | null;
  gate: { innerM: number; outerM: number };
  follower?: Partial<FollowerConfig>;
  hippocampus?: Partial<HippocampusConfig>;
  /** How many gates ahead the path is planned through. */
  planGates?: number;
  /**
   * Uncertainty-aware speed: a gate whose position is known to σ ≤ sigmaFastM is flown at fastMS,
   * one known no better than sigmaSlowM (the raw prior) at slowMS, linear in between. This is what
   * turns the hippocampus' learning into lap time.
   */
  speed?: Partial<SpeedPolicy>;
  /** Ablations: switch a learned region off. */
  ablate?: { hippocampusMemory?: boolean; cerebellum?: boolean; cortex?: boolean };
  /** Failsafe timing for the guard (sensor-loss timeouts); the limits come from the vehicle. */
  guard?: { frameTimeoutS?: number; imuTimeoutS?: number; failsafeDisarmAfterS?: number };
  /** The cortex's command → acceleration model (defaults: src/regions/cortex.ts AccelResponseParams). */
  cortex?: AccelResponseOptions;
  /** The cortex's heading-drift predictor (defaults: src/regions/cortex.ts HeadingDriftParams). */
  cortexHeading?: HeadingDriftOptions;
  /** The cerebellum's prediction horizon: the actuation latency it plans through, s. */
  cerebellumHorizonS?: number;
}

export interface SpeedPolicy {
  slowMS: number;
  fastMS: number;
  sigmaSlowM: number;
  sigmaFastM: number;
}

/**
 * The frame rate the innate vision defaults were set for (heading gain, speed, sighting noise): at or
 * above it they apply as they are; below it each is scaled by how many frames really arrive.
 */
const FULL_FRAME_RATE_HZ = 25;

export const SPEED_DEFAULTS: SpeedPolicy = { slowMS: 4.5, fastMS: 8, sigmaSlowM: 0.3, sigmaFastM: 0.08 };

export const speedForSigma = (sigmaM: number, p: SpeedPolicy): number => {
  const f = Math.min(1, Math.max(0, (p.sigmaSlowM - sigmaM) / (p.sigmaSlowM - p.sigmaFastM)));
  return p.slowMS + (p.fastMS - p.slowMS) * f;
};

export interface PipelineTelemetry {
  guardMode: GuardMode;
  target: number;
  lap: number;
  gatesPassed: number;
  sightings: number;
  sightingsAccepted: number;
  lastColliculus: ColliculusOutput | null;
}

/** Pipeline.warmUp() has run in this process (V8's type feedback and optimised code are per process). */
let jitWarm = false;

/** A gate of the follower's plan: one factory for the flight's plans and warmUp's, so both have one hidden class. */
function newPlanGate(): GatePose {
  return { centerEnuM: [NaN, NaN, NaN], forwardEnu: [NaN, NaN, NaN], maxSpeedMS: NaN };
}

/** The colliculus' top-down input, and the camera tilt it was computed for. */
interface Expectation {
  rayCam: Vec3;
  sigmaRad: number;
  distanceM: number;
  tiltUpRad: number;
}

/** One factory for the flight's Expectation and warmUp's (one hidden class; doubles start as doubles). */
function newExpectation(): Expectation {
  return { rayCam: [NaN, NaN, NaN], sigmaRad: NaN, distanceM: NaN, tiltUpRad: NaN };
}

/**
 * Where gate g (the target: its sigmaM is its uncertainty relative to the drone) should appear in a
 * camera at posEnuM with body attitude q and out.tiltUpRad: into out. False when it cannot be in
 * view (behind the image plane, or at the camera). A module function of plain inputs, so that warmUp
 * can have V8 optimise it before flight; it reads σ from g, not from a call: a double returned by a
 * call V8 did not inline was boxed, 16 B a frame, in one run of 75.
 */
function expectGateInto(out: Expectation, g: UpcomingGate, posEnuM: Readonly<Vec3>, q: Readonly<Quat>, rel: Vec3): boolean {
  rel[0] = g.centerEnuM[0] - posEnuM[0];
  rel[1] = g.centerEnuM[1] - posEnuM[1];
  rel[2] = g.centerEnuM[2] - posEnuM[2];
  const d = norm(rel);
  if (d < 1e-3) return false;
  const cam = bodyToCamInto(rel, quatRotateInvInto(rel, q, rel), out.tiltUpRad);
  if (cam[2] <= 0) return false;
  out.rayCam[0] = cam[0] / d;
  out.rayCam[1] = cam[1] / d;
  out.rayCam[2] = cam[2] / d;
  out.sigmaRad = Math.atan2(g.sigmaM + 0.2, d) + 0.03;
  out.distanceM = d;
  return true;
}

/** Calls warmUp makes to expectGateInto (in flight it is called once a frame: optimised ~34 s in). */
const WARM_EXPECTATIONS = 4000;

/**
 * Replans warmUp makes on a throwaway follower: enough for V8 to optimise replanFrom, which flight
 * calls only a few times a second (it was first optimised ~60 s into a flight, in the steady window,
 * and in some runs that compile left one 96 B allocation in the command tick).
 */
const WARM_REPLANS = 3000;

/** expectGateInto on throwaway inputs of the flight's hidden classes, the gate ahead and behind in turn. */
function warmUpExpectation(): void {
  const out = newExpectation(), g = newUpcomingGate(), rel: Vec3 = [NaN, NaN, NaN];
  const pos: Vec3 = [0.5, 0.25, 1.5], q: Quat = [Math.cos(0.1), 0.01, 0.02, Math.sin(0.1)];
  g.centerEnuM[0] = 8.5;
  g.centerEnuM[1] = 0.75;
  g.centerEnuM[2] = 1.75;
  g.yawRad = 0.1;
  g.index = 1;
  g.sigmaM = 0.15;
  out.tiltUpRad = 0.35;
  for (let i = 0; i < WARM_EXPECTATIONS; i++) {
    pos[0] = i % 4 === 3 ? 12.5 : 0.5 + 1e-3 * i; // every fourth call the gate is behind
    expectGateInto(out, g, pos, q, rel);
  }
}

/** GuardInput with number-only stamps (a class of its own: a plain object literal would share its hidden class, and its fields' representation, with guardInStart's nulls). */
class GuardIn implements GuardInput {
  proposed: CtbrCommand | null = null;
  nowS = 0;
  lastFrameS = 0;
  lastImuS = 0;
  armed = true;
  constructor(readonly attitude: { rollRad: number; pitchRad: number }) {}
}

export class Pipeline implements Controller {
  readonly name = 'pipeline';
  readonly privileged = false;
  readonly vestibular: Vestibular;
  readonly hippocampus: Hippocampus;
  readonly colliculus: Colliculus;
  readonly follower: GatePathFollower;
  readonly motor: MotorStage;
  readonly guard: Guard;
  armed = true;
  private disarm = false;
  // NaN = none yet, not null: a field that may hold null keeps every double stored in it boxed on
  // the heap (a fresh 16 B heap number per store); a number-only field is updated in place
  private lastImuS = NaN;
  private lastFrameS = NaN;
  private lastFrameStampS = NaN;
  private replan = true;
  private gatesPassed = 0;
  private sightings = 0;
  private lastCol: ColliculusOutput | null = null;
  private guardMode: GuardMode = 'disarmed';
  private readonly planGates: number;
  readonly cerebellum: LatencyForwardModel | null;
  /** The cortex's forward model of what a command really does (mass, thrust, drag the config does not know). */
  readonly cortex: AccelResponseModel | null;
  /** The cortex's predictor of the heading estimate's drift, bridging the gaps between gate views. */
  readonly cortexHeading: HeadingDriftModel | null;
  private lastCommandS = NaN;
  /** The motor stage cut the last command (tilt or thrust limit). */
  private motorLimited = false;
  private plannedTarget = -2;
  /**
   * Re-plan from the current position on every corrected estimate (measured best with a prior map:
   * 10/10 on the default track), or keep one path per target and move its gates (measured best
   * while discovering a track: it keeps the approach to a newly found gate steady).
   */
  private get persistPath(): boolean {
    return !this.cfg.prior;
  }
  private plannedCount = 0;
  private readonly speed: SpeedPolicy;
  /** Discovery search: hold this height and turn at this rate until a gate is seen. */
  private readonly searchHeightM = 1.5;
  private readonly searchYawRateRadS = 1.2;
  /**
   * Fraction of a sighting's heading error corrected per sighting. Below 25 frames/s it is scaled up by
   * 25 Hz / the frame rate received (up to 5×), so the correction per second holds: with 60 % of
   * frames lost a per-sighting correction ran 2.5× less often, the gyro's residual bias (~2.4 mrad/s)
   * outran it (heading error 3.4° RMS against 1.9°) and gates were hit on the frame. At full rate and
   * light drops the gain is the one the flight was tuned with.
   */
  private readonly yawGain = 0.004;

  constructor(readonly cfg: PipelineConfig) {
    this.vestibular = new Vestibular({ initialYawRad: cfg.start.yawRad });
    this.hippocampus = new Hippocampus(cfg.prior, cfg.start, { ...cfg.hippocampus, learnMap: !(cfg.ablate?.hippocampusMemory ?? false) });
    this.colliculus = new Colliculus({ gate: cfg.gate });
    this.speed = { ...SPEED_DEFAULTS, ...cfg.speed };
    this.follower = new GatePathFollower({ cruiseMS: this.speed.fastMS, ...cfg.follower }, cfg.start.yawRad);
    const hoverN = cfg.vehicle.massKg * 9.81;
    this.motor = new MotorStage({ massKg: cfg.vehicle.massKg, maxThrustN: cfg.vehicle.maxThrustN * 0.92, maxRateRadS: cfg.vehicle.maxRateRadS, attitudeGainsPerS: [12, 12, 5] });
    // the guard's tilt limit sits above the motor stage's (60°) so it only acts when something is wrong
    this.guard = new Guard({ hoverThrustN: hoverN, maxThrustN: cfg.vehicle.maxThrustN * 0.95, maxRateRadS: cfg.vehicle.maxRateRadS, maxTiltRad: (80 * Math.PI) / 180, ...cfg.guard });
    this.planGates = cfg.planGates ?? 3;
    this.cerebellum = cfg.ablate?.cerebellum ? null : new LatencyForwardModel(cfg.cerebellumHorizonS ?? 0.1);
    this.cortex = cfg.ablate?.cortex ? null : new AccelResponseModel(cfg.cortex);
    this.cortexHeading = cfg.ablate?.cortex ? null : new HeadingDriftModel(cfg.cortexHeading);
  }

  /**
   * JIT warm-up, once per process, before the first flight (GateDetector.warmUp: the detector's
   * rare paths, so that steady flight frames allocate nothing; warmUpFollower and warmUpExpectation:
   * the replanning and the top-down expectation, so that V8 optimises them before, not during, the
   * steady state). Changes no state of this pipeline:
   * a flight flies the same with or without it. Returns false when this process was already warm.
   */
  warmUp(): boolean {
    if (jitWarm) return false;
    jitWarm = true;
    this.colliculus.warmUp();
    this.warmUpFollower();
    warmUpExpectation();
    return true;
  }

  /**
   * replanFrom, updateGates and step on a throwaway follower, with plan gates of the flight's hidden
   * class and doubles wherever flight has doubles: a follower, gate or vector that meets the code in
   * flight with another hidden class or elements kind throws the optimised code away (--trace-deopt:
   * "wrong map"), and V8 then optimised it again only ~30-60 s later.
   */
  private warmUpFollower(): void {
    const f = new GatePathFollower(this.follower.cfg, 0.5);
    f.cruiseScale = 0.75;
    const pos: Vec3 = [0.5, 0.25, 1.5], vel: Vec3 = [2.5, 0.5, 0.25];
    for (let n = 1; n <= this.planGates; n++) {
      const gates = Array.from({ length: n }, newPlanGate);
      for (let k = 0; k < n; k++) {
        const g = gates[k]!;
        // doubles, as in flight (an array given only small integers keeps another elements kind)
        g.centerEnuM[0] = 8.5 * (k + 1);
        g.centerEnuM[1] = 0.5 * k + 0.25;
        g.centerEnuM[2] = 1.5;
        g.forwardEnu[0] = Math.cos(0.1 * k + 0.05);
        g.forwardEnu[1] = Math.sin(0.1 * k + 0.05);
        g.forwardEnu[2] = 0;
        g.maxSpeedMS = 6.5;
      }
      for (let i = 0; i < WARM_REPLANS; i++) {
        pos[0] = 0.5 + 1e-3 * i;
        f.replanFrom(pos, vel, gates);
        f.updateGates(gates);
        f.step(pos, vel);
      }
    }
  }

  // Scratch for the hot paths, reused every tick so steady flight allocates nothing (each is read
  // within the call that fills it).
  private readonly eulerS: Vec3 = [0, 0, 0];
  private readonly qFrame: Quat = [1, 0, 0, 0];
  private readonly qSight: Quat = [1, 0, 0, 0];
  private readonly qAhead: Quat = [1, 0, 0, 0];
  private readonly v3a: Vec3 = [0, 0, 0];
  private readonly v3b: Vec3 = [0, 0, 0];
  private readonly posAhead: Vec3 = [0, 0, 0];
  private readonly velAhead: Vec3 = [0, 0, 0];
  private readonly searchAcc: Vec3 = [0, 0, 0];
  private readonly relS: Vec3 = [0, 0, 0];
  private readonly normalS: Vec3 = [0, 0, 0];
  private readonly hipImu = { kind: 'imu' as const, stampS: 0, accEnuMS2: [0, 0, 0] as Vec3 };
  private readonly hipSight: Extract<HippocampusInput, { kind: 'sighting' }> = { kind: 'sighting', stampS: 0, relEnuM: [0, 0, 0], normalEnu: null, rangeM: 0, sigmaScale: 1, perMScale: 1 };
  /**
   * Vision corrections for the vestibular, refilled per use (doubles as fields: see TiltObservation).
   * The number fields start as NaN, a double: started as 0 (a small integer) the first double stored
   * changes the object's layout, and code that then meets both layouts reads the field boxed.
   */
  private readonly tiltObs: TiltObservation = { upBody: [0, 0, 0], gain: NaN, stampS: NaN };
  private readonly yawObs: YawObservation = { deltaRad: NaN };
  private readonly driftIn: HeadingDriftInput = { residualRad: NaN, weight: NaN, dtS: NaN };
  private readonly expected = newExpectation();
  /** expectGateInto's scratch (NaN: a double array from the start, the elements kind warmUp's has). */
  private readonly relExpect: Vec3 = [NaN, NaN, NaN];
  // the dt of the colliculus, cortex and cerebellum goes in these reused tracts, not as step()'s
  // argument: a double argument to a call TurboFan does not inline is boxed (see Region.step)
  private readonly colIn: ColliculusInput = { frame: null as unknown as CameraFrame, rollRad: 0, pitchRad: 0, expected: null, bodyRateRadS: [0, 0, 0], dtS: 0 };
  private readonly yawAngle = { mode: 'angle' as const, yawRad: 0 };
  private readonly yawRate = { mode: 'rate' as const, yawRateRadS: 0 };
  private readonly motorIn: MotorStageInput = { stampS: 0, accelEnuMS2: [0, 0, 0], yaw: this.yawAngle, attitude: [1, 0, 0, 0] };
  private readonly cortexIn: AccelResponseInput = { accDesEnuMS2: [0, 0, 0], velEnuMS: [0, 0, 0], airborne: false, saturated: false, dtS: 0 };
  private readonly cbIn: LatencyForwardInput = { accCmdEnuMS2: [0, 0, 0], rateCmdRadS: [0, 0, 0], velEnuMS: [0, 0, 0], gyroRadS: [0, 0, 0], posEnuM: [0, 0, 0], dtS: 0 };
  private readonly guardAtt = { rollRad: 0, pitchRad: 0 };
  /** The guard's input once both sensors have been heard (its stamps never null: see lastImuS). */
  private readonly guardIn = new GuardIn(this.guardAtt);
  /** The guard's input before that (a separate object, so guardIn's stamp fields stay number-only). */
  private readonly guardInStart: GuardInput = { proposed: null, nowS: 0, lastFrameS: null, lastImuS: null, attitude: this.guardAtt, armed: true };
  private readonly upcomingBuf: UpcomingGate[] = [];
  /** Motors at rest while the gyro calibrates (the guard copies it into its own command). */
  private readonly restCmd: CtbrCommand = { kind: 'ctbr', stampS: 0, thrustN: 0, rateRadS: [0, 0, 0] };
  /** One GatePose list per plan length (the follower reads gates.length), filled in place. */
  private readonly planBufs: GatePose[][] = [];

  onImu(s: ImuSample): void {
    const v = this.vestibular.step(s);
    if (v.stampS !== s.stampS) return; // refused sample
    const prevImuS = this.lastImuS;
    this.lastImuS = s.stampS;
    if (v.calibrated) {
      this.cortex?.observe(v.accEnuMS2);
      // the cortex's heading-drift prediction, at the IMU rate: it learns from the last frame's gate
      // view (if one came since the previous sample) and turns the heading by the drift predicted
      // over this sample's interval, frames seen or dropped. (Stepped here, not per frame: at the
      // frame rate V8 never optimised the step, and every double in it was a 16 B heap number.)
      if (this.cortexHeading && !Number.isNaN(prevImuS)) {
        const di = this.driftIn;
        di.dtS = s.stampS - prevImuS;
        const hd = this.cortexHeading.step(di);
        di.residualRad = NaN;
        if (hd.yawDeltaRad !== 0) {
          this.yawObs.deltaRad = hd.yawDeltaRad;
          this.vestibular.correctYaw(this.yawObs);
        }
      }
    }
    const hin = this.hipImu;
    hin.stampS = s.stampS;
    hin.accEnuMS2 = v.accEnuMS2;
    const h = this.hippocampus.step(hin);
    if (h.passed >= 0) {
      this.gatesPassed++;
      this.replan = true;
    }
  }

  onFrame(f: CameraFrame): void {
    // how many frames really arrive: fewer frames mean fewer close sightings before each gate
    if (!Number.isNaN(this.lastArrivalS)) {
      const gap = Math.max(1e-3, f.arrivalS - this.lastArrivalS);
      this.frameRateHz += (1 / gap - this.frameRateHz) * Math.min(1, gap / 1.0);
    }
    this.lastArrivalS = f.arrivalS;
    this.lastFrameS = f.arrivalS;
    if (!this.vestibular.isCalibrated) return;
    this.hippocampus.setHeadingOf(this.vestibular.eulerInto(this.eulerS));
    const q = this.vestibular.attitudeOfInto(f, this.qFrame);
    const e = quatToEulerInto(q, this.eulerS);
    // top-down: where the target gate should appear in this camera (from the map and the pose); the
    // object is reused, the colliculus reads it within this frame's step. (Here, not in a method of
    // its own: one that small ran unoptimised, and its copy of the tilt was a 16 B heap number a frame.)
    let expected: Expectation | null = null;
    if (this.hippocampus.upcomingInto(1, this.upcomingBuf) >= 1) {
      this.expected.tiltUpRad = f.mount.tiltUpRad;
      if (expectGateInto(this.expected, this.upcomingBuf[0]!, this.hippocampus.current.posEnuM, q, this.relExpect)) expected = this.expected;
    }
    const dtS = Number.isNaN(this.lastFrameStampS) ? 1 / 30 : Math.max(1e-3, f.stampS - this.lastFrameStampS);
    this.lastFrameStampS = f.stampS;
    const cin = this.colIn;
    cin.frame = f;
    cin.rollRad = e[0];
    cin.pitchRad = e[1];
    cin.expected = expected;
    cin.bodyRateRadS = this.vestibular.rateEstimate;
    cin.dtS = dtS;
    const col = this.colliculus.step(cin);
    this.lastCol = col;
    const t = col.target;
    // an upright gate shows where world-up is: bound the gyro's tilt drift (close, clean fits only)
    if (t && t.upCam && t.posCamM && !t.poseAmbiguous && t.reprojPx < 1.5) {
      // norm(), written out: onFrame's inlining budget is spent, and a double returned from a call is boxed
      const tp = t.posCamM;
      const rangeM = Math.sqrt(tp[0] * tp[0] + tp[1] * tp[1] + tp[2] * tp[2]);
      if (rangeM < 9) {
        const to = this.tiltObs;
        camToBodyOfInto(to.upBody, t.upCam, f.mount);
        to.gain = 0.06 * Math.min(1, 4 / rangeM);
        to.stampS = f.stampS;
        this.vestibular.correctTilt(to);
      }
    }
    const qs = this.vestibular.attitudeOfInto(f, this.qSight);
    // every gate in view localises the drone and corrects the map, not only the target
    for (const s of col.sightings) {
      // PnP fits that do not reproject (> 2.5 px RMS) are wrong-solution poses: measured in flight,
      // their position error is ~0.6 m against ~0.15 m for clean ones
      if (s.kind !== 'ring' || !s.posCamM || !(s.reprojPx <= 2.5)) continue;
      this.sightings++;
      const sp = s.posCamM;
      const rangeM = Math.sqrt(sp[0] * sp[0] + sp[1] * sp[1] + sp[2] * sp[2]); // norm(), written out (see above)
      const relEnuM = quatRotateInto(this.relS, qs, camToBodyOfInto(this.v3a, s.posCamM, f.mount));
      const normalEnu = s.normalCam ? quatRotateInto(this.normalS, qs, camToBodyOfInto(this.v3a, s.normalCam, f.mount)) : null;
      // oblique views and poor fits give poor PnP: say so to the filter
      const cosView = s.normalCam ? Math.abs(dot(s.normalCam, s.rayCam)) : 0.5;
      const sigmaScale = (1 / Math.max(0.3, cosView)) * (1 + s.reprojPx);
      const hs = this.hipSight;
      hs.stampS = f.stampS;
      hs.relEnuM = relEnuM;
      hs.normalEnu = normalEnu;
      hs.rangeM = rangeM;
      hs.sigmaScale = sigmaScale;
      // the per-metre noise is mostly the heading error rotating the sighting (measured at 80 % drops:
      // sideways ~0.027·range RMS, < 0.005·range with the heading error taken out), shared by the
      // sightings close in time. Treated as independent, n correlated sightings must each count as
      // √n times noisier; the default was set at ≥ 25 Hz, so with fewer frames each counts for more
      // (measured at 6 Hz: 0.03 left the estimate ~0.3 m behind the last views of a gate)
      hs.perMScale = Math.sqrt(Math.min(1, this.frameRateHz / FULL_FRAME_RATE_HZ));
      const h = this.hippocampus.step(hs);
      if (h.associated >= 0) {
        this.replan = true;
        // heading: a clean, near, face-on view of a gate whose heading the map knows reveals the
        // gyro's heading drift (map headings are off by a few degrees each, so the gain averages
        // over several gates)
        if (normalEnu && rangeM < 10 && cosView > 0.5 && s.reprojPx < 1) {
          // the gate's heading reference: the organisers' map when there is one, else what we wrote
          // (read here, not through helpers: onFrame's inlining budget is spent, and a double passed to
          // or returned from a call that is not inlined is boxed; wrapPi is written out for that reason)
          const k = h.associated, pg = this.cfg.prior?.[k];
          const ref = pg ? pg.yawRad : this.hippocampus.gates[k]!.yawRad;
          const obs = Math.atan2(-normalEnu[1], -normalEnu[0]);
          let d = obs - ref;
          d -= 2 * Math.PI * Math.ceil((d - Math.PI) / (2 * Math.PI));
          if (Math.abs(d) > Math.PI / 2) {
            d += Math.PI;
            d -= 2 * Math.PI * Math.ceil((d - Math.PI) / (2 * Math.PI));
          }
          if (Math.abs(d) < 0.3) {
            const w = Math.min(5, Math.max(1, FULL_FRAME_RATE_HZ / this.frameRateHz));
            this.yawObs.deltaRad = -this.yawGain * w * d;
            this.vestibular.correctYaw(this.yawObs);
            this.driftIn.residualRad = d;
            this.driftIn.weight = w;
          }
        }
      }
    }
  }

  /**
   * Speed factor for the frame rate actually received: a gate is threaded on its last close
   * sightings, and at a lower frame rate the last one comes from farther out. Full speed at
   * ≥ 25 Hz, down to half at 10 Hz and below (measured: 60 % frame drops cost gates at full speed).
   * It scales the cruise speed between gates too, not only the gates' limits.
   */
  private visionRateFactor(): number {
    return Math.min(1, Math.max(0.5, 0.5 + (0.5 * (this.frameRateHz - 10)) / (FULL_FRAME_RATE_HZ - 10)));
  }

  private lastArrivalS = NaN;
  private frameRateHz = 30;

  /** The command for this tick: the guard's one command object, valid until the next call (a holder copies it). */
  command(nowS: number): CtbrCommand | null {
    const v = this.vestibular;
    const h = this.hippocampus.current;
    let proposed: CtbrCommand;
    if (!v.isCalibrated) {
      // sitting on the pad while the gyro calibrates: motors at rest
      const r = this.restCmd;
      r.stampS = nowS;
      proposed = r;
    } else {
      if (h.target < 0) {
        // discovery with nothing known ahead: hold position at search height and turn to look around
        const v = h.velEnuMS, p = h.posEnuM;
        const acc = this.searchAcc;
        acc[0] = -1.5 * v[0];
        acc[1] = -1.5 * v[1];
        acc[2] = 2 * (this.searchHeightM - p[2]) - 1.5 * v[2];
        this.yawRate.yawRateRadS = this.searchYawRateRadS * this.hippocampus.searchDirection;
        proposed = this.motor.step(this.motorInput(nowS, acc, this.yawRate, this.vestibular.quatEstimate), 0).cmd;
        this.replan = true;
        return this.guarded(proposed, nowS);
      }
      if (this.replan) {
        const n = this.hippocampus.upcomingInto(this.planGates, this.upcomingBuf);
        // between gates too: a drone that speeds up between slowed gates arrives at the next one's
        // entry faster than it can turn onto the axis. (The loop below reads the factor back from this
        // field, not from a local: held in a local across the loop it was boxed, 96 B a replan.)
        this.follower.cruiseScale = this.visionRateFactor();
        const gates = (this.planBufs[n] ??= Array.from({ length: n }, newPlanGate));
        for (let k = 0; k < n; k++) {
          const g = this.upcomingBuf[k]!, gp = gates[k]!;
          gp.centerEnuM[0] = g.centerEnuM[0];
          gp.centerEnuM[1] = g.centerEnuM[1];
          gp.centerEnuM[2] = g.centerEnuM[2];
          gp.forwardEnu[0] = Math.cos(g.yawRad);
          gp.forwardEnu[1] = Math.sin(g.yawRad);
          gp.forwardEnu[2] = 0;
          gp.maxSpeedMS = speedForSigma(g.sigmaM, this.speed) * this.follower.cruiseScale;
        }
        // a new target starts a new path from here; a corrected estimate only moves the gates
        if (this.persistPath && h.target === this.plannedTarget && gates.length === this.plannedCount) this.follower.updateGates(gates);
        else this.follower.replanFrom(h.posEnuM, h.velEnuMS, gates);
        this.plannedTarget = h.target;
        this.plannedCount = gates.length;
        this.replan = false;
      }
      // the cerebellum's forward model: act on where the drone will be when this command lands
      let pos = h.posEnuM, vel = h.velEnuMS, att = v.quatEstimate;
      if (this.cerebellum) {
        const f = this.cerebellum.out;
        pos = this.posAhead;
        vel = this.velAhead;
        for (let a = 0; a < 3; a++) {
          pos[a] = h.posEnuM[a]! + f.dPosEnuM[a]!;
          vel[a] = h.velEnuMS[a]! + f.dVelEnuMS[a]!;
        }
        att = quatIntegrateInto(this.qAhead, att, f.dRotBodyRad, 1);
      }
      const g = this.follower.step(pos, vel);
      const dt = Number.isNaN(this.lastCommandS) ? 0.004 : Math.min(0.05, Math.max(1e-4, nowS - this.lastCommandS));
      // the cortex: ask the motor stage for the command whose learned effect is the desired acceleration
      let accCmd = g.accEnuMS2;
      if (this.cortex) {
        const ci = this.cortexIn;
        ci.accDesEnuMS2 = g.accEnuMS2;
        ci.velEnuMS = h.velEnuMS;
        ci.airborne = h.posEnuM[2] - this.cfg.start.posEnuM[2] > 0.3;
        ci.saturated = this.motorLimited;
        ci.dtS = dt;
        accCmd = this.cortex.step(ci).accCmdEnuMS2;
      }
      this.yawAngle.yawRad = g.yawRad;
      const m = this.motor.step(this.motorInput(nowS, accCmd, this.yawAngle, att), 0);
      proposed = m.cmd;
      this.motorLimited = m.tiltLimited || m.thrustSaturated;
      if (this.cerebellum) {
        const cb = this.cbIn;
        cb.accCmdEnuMS2 = g.accEnuMS2;
        cb.rateCmdRadS = proposed.rateRadS;
        cb.velEnuMS = h.velEnuMS;
        cb.gyroRadS = v.rateEstimate;
        cb.posEnuM = h.posEnuM;
        cb.dtS = dt;
        this.cerebellum.step(cb);
      }
      this.lastCommandS = nowS;
    }
    return this.guarded(proposed, nowS);
  }

  private motorInput(nowS: number, accEnuMS2: Vec3, yaw: MotorStageInput['yaw'], attitude: Quat): MotorStageInput {
    const m = this.motorIn;
    m.stampS = nowS;
    m.accelEnuMS2 = accEnuMS2;
    m.yaw = yaw;
    m.attitude = attitude;
    return m;
  }

  /** Every command passes the guard: nothing bypasses it. */
  private guarded(proposed: CtbrCommand, nowS: number): CtbrCommand | null {
    const v = this.vestibular;
    const e = v.eulerInto(this.eulerS);
    const frameS = Number.isNaN(this.lastFrameS) && v.isCalibrated ? nowS : this.lastFrameS;
    let gi: GuardInput;
    if (Number.isNaN(frameS) || Number.isNaN(this.lastImuS)) {
      gi = this.guardInStart;
      gi.lastFrameS = Number.isNaN(frameS) ? null : frameS;
      gi.lastImuS = Number.isNaN(this.lastImuS) ? null : this.lastImuS;
    } else {
      const g = this.guardIn;
      g.lastFrameS = frameS;
      g.lastImuS = this.lastImuS;
      gi = g;
    }
    gi.proposed = proposed;
    gi.nowS = nowS;
    this.guardAtt.rollRad = e[0];
    this.guardAtt.pitchRad = e[1];
    gi.armed = this.armed;
    const out = this.guard.step(gi, 0);
    this.guardMode = out.mode;
    if (out.requestDisarm) this.disarm = true;
    return out.cmd;
  }

  disarmRequested(): boolean {
    return this.disarm;
  }

  telemetry(): PipelineTelemetry {
    const h = this.hippocampus;
    return {
      guardMode: this.guardMode,
      target: h.upcoming(1)[0]?.index ?? 0,
      lap: h.current.lap,
      gatesPassed: this.gatesPassed,
      sightings: this.sightings,
      sightingsAccepted: h.sightingsAccepted,
      lastColliculus: this.lastCol,
    };
  }

  saveState(): Record<string, LearnedState> {
    const out: Record<string, LearnedState> = { hippocampus: this.hippocampus.saveState() };
    if (this.cerebellum) out['cerebellum'] = this.cerebellum.filter.saveState();
    if (this.cortex) out['cortex'] = this.cortex.saveState();
    if (this.cortexHeading) out['cortexHeading'] = this.cortexHeading.saveState();
    return out;
  }

  loadState(s: Record<string, LearnedState>): void {
    if (s['hippocampus']) this.hippocampus.loadState(s['hippocampus']);
    if (s['cerebellum'] && this.cerebellum) this.cerebellum.filter.loadState(s['cerebellum']);
    if (s['cortex'] && this.cortex) this.cortex.loadState(s['cortex']);
    if (s['cortexHeading'] && this.cortexHeading) this.cortexHeading.loadState(s['cortexHeading']);
  }
}
