/**
 * The pid baseline: classical visual servoing on the same sensors as the pipeline — the gate's
 * image centroid drives yaw rate and climb through PD loops, a fixed forward tilt gives speed —
 * with no learning and no memory (no map, no odometry, no prediction). It exists to be beaten: the
 * ablation table compares the region pipeline against it.
 *
 * It shares only innate pieces with the pipeline (the vestibular attitude, the colliculus'
 * detector, the motor stage and the guard), so the comparison isolates what the learned regions buy.
 */
import { camToBody } from '../math/camera.js';
import { quatRotate, quatToEuler } from '../math/quat.js';
import { clamp, type Vec3 } from '../math/vec3.js';
import type { Controller } from '../tracts/controller.js';
import type { CameraFrame, CtbrCommand, ImuSample } from '../tracts/io.js';
import { Vestibular } from '../regions/vestibular.js';
import { Colliculus } from '../regions/colliculus.js';
import { MotorStage } from '../regions/motor.js';
import { Guard } from '../regions/steering.js';
import type { PipelineVehicle } from '../pipeline.js';

export interface PidConfig {
  /** Forward tilt while a gate is in view, rad. */
  cruiseTiltRad: number;
  /** Yaw rate per radian of horizontal bearing, 1/s; and damping. */
  kYaw: number;
  kYawD: number;
  /** Vertical acceleration per metre of height error (elevation × range from the gate's apparent size), 1/s²; damped by its rate. */
  kClimb: number;
  /** Keep flying straight this long after the gate leaves the view (to fly through it), s. */
  coastS: number;
  /** Yaw rate while searching for a gate, rad/s. */
  searchYawRateRadS: number;
}

export const PID_DEFAULTS: PidConfig = { cruiseTiltRad: 0.2, kYaw: 3, kYawD: 0.2, kClimb: 3, coastS: 0.6, searchYawRateRadS: 0.8 };

export class PidController implements Controller {
  readonly name = 'pid';
  readonly privileged = false;
  private readonly vest: Vestibular;
  private readonly col: Colliculus;
  private readonly motor: MotorStage;
  private readonly guard: Guard;
  private readonly cfg: PidConfig;
  private az = 0;
  private el = 0;
  private azRate = 0;
  private dz = 0;
  private dzRate = 0;
  private readonly gateOuterM: number;
  private lastSeenS = -Infinity;
  private lastFrameS: number | null = null;
  private lastImuS: number | null = null;
  private disarm = false;

  constructor(vehicle: PipelineVehicle, start: { yawRad: number }, gate: { innerM: number; outerM: number }, cfg: Partial<PidConfig> = {}) {
    this.cfg = { ...PID_DEFAULTS, ...cfg };
    this.gateOuterM = gate.outerM;
    this.vest = new Vestibular({ initialYawRad: start.yawRad });
    this.col = new Colliculus({ gate });
    this.motor = new MotorStage({ massKg: vehicle.massKg, maxThrustN: vehicle.maxThrustN * 0.92, maxRateRadS: vehicle.maxRateRadS });
    this.guard = new Guard({ hoverThrustN: vehicle.massKg * 9.81, maxThrustN: vehicle.maxThrustN * 0.95, maxRateRadS: vehicle.maxRateRadS, maxTiltRad: (80 * Math.PI) / 180 });
  }

  onImu(s: ImuSample): void {
    const v = this.vest.step(s);
    if (v.stampS === s.stampS) this.lastImuS = s.stampS;
  }

  onFrame(f: CameraFrame): void {
    this.lastFrameS = f.arrivalS;
    if (!this.vest.isCalibrated) return;
    const q = this.vest.attitudeAt(f.stampS);
    const [roll, pitch] = quatToEuler(q);
    const out = this.col.step({ frame: f, rollRad: roll, pitchRad: pitch, expected: null }, 0);
    const t = out.target;
    if (!t) return;
    // bearing in a heading-aligned level frame: azimuth left-positive, elevation up-positive
    const [, , yaw] = quatToEuler(q);
    const w: Vec3 = quatRotate(q, camToBody(t.rayCam, f.mount.tiltUpRad));
    const c = Math.cos(-yaw), s = Math.sin(-yaw);
    const x = c * w[0] - s * w[1], y = s * w[0] + c * w[1];
    const az = Math.atan2(y, x);
    const el = Math.atan2(w[2], Math.hypot(x, y));
    const dt = Math.max(1e-3, f.stampS - this.lastSeenS);
    // height error in metres: elevation times the range the gate's apparent size implies
    const rangeM = this.gateOuterM / Math.max(0.05, t.angularSizeRad);
    const dz = Math.tan(el) * rangeM;
    this.azRate = dt < 0.2 ? (az - this.az) / dt : 0;
    this.dzRate = dt < 0.2 ? 0.7 * this.dzRate + 0.3 * ((dz - this.dz) / dt) : 0;
    this.az = az;
    this.el = el;
    this.dz = dz;
    this.lastSeenS = f.stampS;
  }

  command(nowS: number): CtbrCommand | null {
    const v = this.vest;
    let proposed: CtbrCommand;
    if (!v.isCalibrated) proposed = { kind: 'ctbr', stampS: nowS, thrustN: 0, rateRadS: [0, 0, 0] };
    else {
      const [, , yaw] = v.euler;
      const since = nowS - this.lastSeenS;
      let fwd = 0, yawRate = this.cfg.searchYawRateRadS, climb = 0;
      if (since < this.cfg.coastS) {
        // a gate is (or was just) in view: servo toward it, or coast straight through it
        fwd = 9.81 * Math.tan(this.cfg.cruiseTiltRad);
        yawRate = since < 0.15 ? clamp(this.cfg.kYaw * this.az + this.cfg.kYawD * this.azRate, -3, 3) : 0;
        climb = since < 0.15 ? clamp(this.cfg.kClimb * this.dz + 2.5 * this.dzRate, -4, 4) : 0;
      }
      const acc: Vec3 = [Math.cos(yaw) * fwd, Math.sin(yaw) * fwd, climb];
      proposed = this.motor.step({ stampS: nowS, accelEnuMS2: acc, yaw: { mode: 'rate', yawRateRadS: yawRate }, attitude: v.quatEstimate }, 0).cmd;
    }
    const [roll, pitch] = v.euler;
    const out = this.guard.step({ proposed, nowS, lastFrameS: this.lastFrameS ?? (v.isCalibrated ? nowS : null), lastImuS: this.lastImuS, attitude: { rollRad: roll, pitchRad: pitch }, armed: true }, 0);
    if (out.requestDisarm) this.disarm = true;
    return out.cmd;
  }

  disarmRequested(): boolean {
    return this.disarm;
  }
}
