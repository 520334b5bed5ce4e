/**
 * The region pipeline: camera frames + IMU samples in, one flight command out.
 *
 * Data flows one way per tick: sensors → regions → motor stage → guard → transport. The table below
 * is the wiring: who runs on which trigger, what it reads and what it publishes. The code that
 * follows executes exactly these steps in this order (test/pipeline.test.ts checks the table
 * against the regions the pipeline holds).
 */
import { camToBody, bodyToCam } from './math/camera.js';
import { quatIntegrate, quatRotate, quatRotateInv, quatToEuler, type Quat } from './math/quat.js';
import { dot, norm, wrapPi, type Vec3 } from './math/vec3.js';
import type { Controller } from './tracts/controller.js';
import type { CameraFrame, CtbrCommand, ImuSample } from './tracts/io.js';
import { Vestibular } from './regions/vestibular.js';
import { Hippocampus, type HippocampusConfig } from './regions/hippocampus.js';
import { Colliculus, type ColliculusOutput } from './regions/colliculus.js';
import { GatePathFollower, type FollowerConfig, type GatePose } from './regions/premotor.js';
import { MotorStage } from './regions/motor.js';
import { Guard, type GuardMode } from './regions/steering.js';
import type { LearnedState } from './regions/region.js';
import { LatencyForwardModel } from './regions/cerebellum.js';
import { AccelResponseModel, type AccelResponseOptions } from './regions/cortex.js';

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
  /** The cerebellum's prediction horizon: the actuation latency it plans through, s. */
  cerebellumHorizonS?: number;
}

export interface SpeedPolicy {
  slowMS: number;
  fastMS: number;
  sigmaSlowM: number;
  sigmaFastM: number;
}

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
  private lastImuS: number | null = null;
  private lastFrameS: number | null = null;
  private lastFrameStampS: number | null = null;
  private replan = true;
  private gatesPassed = 0;
  private sightings = 0;
  private lastCol: ColliculusOutput | null = null;
  private guardMode: GuardMode = 'disarmed';
  private readonly planGates: number;
  readonly cerebellum: LatencyForwardModel | null;
  /** The cortex's forward model of what a command really does (mass, thrust, drag the config does not know). */
  readonly cortex: AccelResponseModel | null;
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
  /** Fraction of a sighting's heading error corrected per sighting (~30 sightings/s). */
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
  }

  onImu(s: ImuSample): void {
    const v = this.vestibular.step(s);
    if (v.stampS !== s.stampS) return; // refused sample
    this.lastImuS = s.stampS;
    if (v.calibrated) this.cortex?.observe(v.accEnuMS2);
    const h = this.hippocampus.step({ kind: 'imu', stampS: s.stampS, accEnuMS2: v.accEnuMS2 });
    if (h.passed >= 0) {
      this.gatesPassed++;
      this.replan = true;
    }
  }

  onFrame(f: CameraFrame): void {
    // how many frames really arrive: fewer frames mean fewer close sightings before each gate
    if (this.lastArrivalS !== null) {
      const gap = Math.max(1e-3, f.arrivalS - this.lastArrivalS);
      this.frameRateHz += (1 / gap - this.frameRateHz) * Math.min(1, gap / 1.0);
    }
    this.lastArrivalS = f.arrivalS;
    this.lastFrameS = f.arrivalS;
    if (!this.vestibular.isCalibrated) return;
    this.hippocampus.setHeading(this.vestibular.euler[2]);
    const q = this.vestibular.attitudeAt(f.stampS);
    const [roll, pitch] = quatToEuler(q);
    const expected = this.expectedGate(q, f.mount.tiltUpRad);
    const dtS = this.lastFrameStampS === null ? 1 / 30 : Math.max(1e-3, f.stampS - this.lastFrameStampS);
    this.lastFrameStampS = f.stampS;
    const col = this.colliculus.step({ frame: f, rollRad: roll, pitchRad: pitch, expected, bodyRateRadS: this.vestibular.rateEstimate }, dtS);
    this.lastCol = col;
    const t = col.target;
    // an upright gate shows where world-up is: bound the gyro's tilt drift (close, clean fits only)
    if (t && t.upCam && t.posCamM && !t.poseAmbiguous && t.reprojPx < 1.5) {
      const rangeM = norm(t.posCamM);
      if (rangeM < 9) this.vestibular.correctTilt(camToBody(t.upCam, f.mount.tiltUpRad), 0.06 * Math.min(1, 4 / rangeM), f.stampS);
    }
    const qs = this.vestibular.attitudeAt(f.stampS);
    // every gate in view localises the drone and corrects the map, not only the target
    for (const s of col.sightings) {
      // PnP fits that do not reproject (> 2.5 px RMS) are wrong-solution poses: measured in flight,
      // their position error is ~0.6 m against ~0.15 m for clean ones
      if (s.kind !== 'ring' || !s.posCamM || !(s.reprojPx <= 2.5)) continue;
      this.sightings++;
      const tilt = f.mount.tiltUpRad;
      const rangeM = norm(s.posCamM);
      const relEnuM = quatRotate(qs, camToBody(s.posCamM, tilt));
      const normalEnu = s.normalCam ? quatRotate(qs, camToBody(s.normalCam, tilt)) : null;
      // oblique views and poor fits give poor PnP: say so to the filter
      const cosView = s.normalCam ? Math.abs(dot(s.normalCam, s.rayCam)) : 0.5;
      const sigmaScale = (1 / Math.max(0.3, cosView)) * (1 + s.reprojPx);
      const h = this.hippocampus.step({ kind: 'sighting', stampS: f.stampS, relEnuM, normalEnu, rangeM, sigmaScale });
      if (h.associated >= 0) {
        this.replan = true;
        // heading: a clean, near, face-on view of a gate whose heading the map knows reveals the
        // gyro's heading drift (map headings are off by a few degrees each, so the gain averages
        // over several gates)
        if (normalEnu && rangeM < 10 && cosView > 0.5 && s.reprojPx < 1) {
          const ref = this.refYaw(h.associated);
          const obs = Math.atan2(-normalEnu[1], -normalEnu[0]);
          let d = wrapPi(obs - ref);
          if (Math.abs(d) > Math.PI / 2) d = wrapPi(d + Math.PI);
          if (Math.abs(d) < 0.3) this.vestibular.correctYaw(-this.yawGain * d);
        }
      }
    }
  }

  /**
   * Speed factor for the frame rate actually received: a gate is threaded on its last close
   * sightings, and at a lower frame rate the last one comes from farther out. Full speed at
   * ≥ 25 Hz, down to half at 10 Hz and below (measured: 60 % frame drops cost gates at full speed).
   */
  private visionRateFactor(): number {
    return Math.min(1, Math.max(0.5, 0.5 + (0.5 * (this.frameRateHz - 10)) / 15));
  }

  private lastArrivalS: number | null = null;
  private frameRateHz = 30;

  /** The heading reference of a gate: the organisers' map when there is one, else what we wrote. */
  private refYaw(k: number): number {
    return this.cfg.prior?.[k]?.yawRad ?? this.hippocampus.gates[k]!.yawRad;
  }

  /** Top-down: where the target gate should appear in this camera (from the map and the pose). */
  private expectedGate(q: Quat, tiltUpRad: number): { rayCam: Vec3; sigmaRad: number; distanceM: number } | null {
    const g = this.hippocampus.upcoming(1)[0];
    if (!g) return null;
    const p = this.hippocampus.current.posEnuM;
    const rel: Vec3 = [g.centerEnuM[0] - p[0], g.centerEnuM[1] - p[1], g.centerEnuM[2] - p[2]];
    const d = norm(rel);
    if (d < 1e-3) return null;
    const cam = bodyToCam(quatRotateInv(q, rel), tiltUpRad);
    if (cam[2] <= 0) return null;
    const sigma = Math.atan2(this.hippocampus.relativeSigmaM() + 0.2, d) + 0.03;
    return { rayCam: [cam[0] / d, cam[1] / d, cam[2] / d], sigmaRad: sigma, distanceM: d };
  }

  command(nowS: number): CtbrCommand | null {
    const v = this.vestibular;
    const h = this.hippocampus.current;
    let proposed: CtbrCommand;
    if (!v.isCalibrated) {
      // sitting on the pad while the gyro calibrates: motors at rest
      proposed = { kind: 'ctbr', stampS: nowS, thrustN: 0, rateRadS: [0, 0, 0] };
    } else {
      if (h.target < 0) {
        // discovery with nothing known ahead: hold position at search height and turn to look around
        const v = h.velEnuMS, p = h.posEnuM;
        const acc: Vec3 = [-1.5 * v[0], -1.5 * v[1], 2 * (this.searchHeightM - p[2]) - 1.5 * v[2]];
        proposed = this.motor.step({ stampS: nowS, accelEnuMS2: acc, yaw: { mode: 'rate', yawRateRadS: this.searchYawRateRadS * this.hippocampus.searchDirection }, attitude: this.vestibular.quatEstimate }, 0).cmd;
        this.replan = true;
        return this.guarded(proposed, nowS);
      }
      if (this.replan) {
        const gates: GatePose[] = this.hippocampus.upcoming(this.planGates).map((g) => ({
          centerEnuM: g.centerEnuM,
          forwardEnu: [Math.cos(g.yawRad), Math.sin(g.yawRad), 0],
          maxSpeedMS: speedForSigma(g.sigmaM, this.speed) * this.visionRateFactor(),
        }));
        // a new target starts a new path from here; a corrected estimate only moves the gates
        if (this.persistPath && h.target === this.plannedTarget && gates.length === this.plannedCount) this.follower.updateGates(gates);
        else this.follower.setPath(h.posEnuM, gates, norm(h.velEnuMS));
        this.plannedTarget = h.target;
        this.plannedCount = gates.length;
        this.replan = false;
      }
      // the cerebellum's forward model: act on where the drone will be when this command lands
      let pos = h.posEnuM, vel = h.velEnuMS, att = v.quatEstimate;
      if (this.cerebellum) {
        const f = this.cerebellum.out;
        pos = [pos[0] + f.dPosEnuM[0], pos[1] + f.dPosEnuM[1], pos[2] + f.dPosEnuM[2]];
        vel = [vel[0] + f.dVelEnuMS[0], vel[1] + f.dVelEnuMS[1], vel[2] + f.dVelEnuMS[2]];
        att = quatIntegrate(att, f.dRotBodyRad, 1);
      }
      const g = this.follower.step(pos, vel);
      const dt = Number.isNaN(this.lastCommandS) ? 0.004 : Math.min(0.05, Math.max(1e-4, nowS - this.lastCommandS));
      // the cortex: ask the motor stage for the command whose learned effect is the desired acceleration
      const airborne = h.posEnuM[2] - this.cfg.start.posEnuM[2] > 0.3;
      const accCmd = this.cortex ? this.cortex.step({ accDesEnuMS2: g.accEnuMS2, velEnuMS: h.velEnuMS, airborne, saturated: this.motorLimited }, dt).accCmdEnuMS2 : g.accEnuMS2;
      const m = this.motor.step({ stampS: nowS, accelEnuMS2: accCmd, yaw: { mode: 'angle', yawRad: g.yawRad }, attitude: att }, 0);
      proposed = m.cmd;
      this.motorLimited = m.tiltLimited || m.thrustSaturated;
      if (this.cerebellum) {
        this.cerebellum.step({ accCmdEnuMS2: g.accEnuMS2, rateCmdRadS: proposed.rateRadS, velEnuMS: h.velEnuMS, gyroRadS: v.rateEstimate, posEnuM: h.posEnuM }, dt);
      }
      this.lastCommandS = nowS;
    }
    return this.guarded(proposed, nowS);
  }

  /** Every command passes the guard: nothing bypasses it. */
  private guarded(proposed: CtbrCommand, nowS: number): CtbrCommand | null {
    const v = this.vestibular;
    const [roll, pitch] = v.euler;
    const out = this.guard.step(
      { proposed, nowS, lastFrameS: this.lastFrameS ?? (v.isCalibrated ? nowS : null), lastImuS: this.lastImuS, attitude: { rollRad: roll, pitchRad: pitch }, armed: this.armed },
      0,
    );
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
    return out;
  }

  loadState(s: Record<string, LearnedState>): void {
    if (s['hippocampus']) this.hippocampus.loadState(s['hippocampus']);
    if (s['cerebellum'] && this.cerebellum) this.cerebellum.filter.loadState(s['cerebellum']);
    if (s['cortex'] && this.cortex) this.cortex.loadState(s['cortex']);
  }
}
