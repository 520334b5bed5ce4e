/**
 * The oracle: a PRIVILEGED baseline that reads the simulator's true state and the true gate poses.
 * It exists to validate the simulator (every shipped track is flyable) and to be the reference
 * against which the sensor-only controllers are compared. It is never a fallback for them.
 *
 * Method: the pipeline's own innate premotor path follower (a path through every gate along its
 * axis, corner-aware speeds, pure pursuit) and motor stage (desired acceleration → collective thrust
 * + body rates), fed with the truth instead of estimates.
 */
import type { Controller } from '../src/tracts/controller.js';
import type { CameraFrame, CtbrCommand, ImuSample } from '../src/tracts/io.js';
import { GatePathFollower, type FollowerConfig, type GatePose } from '../src/regions/premotor.js';
import { MotorStage } from '../src/regions/motor.js';
import type { RigidBodyState, TrackSpec, VehicleParams } from './types.js';
import { gateFrameOf } from './gates.js';

export class OracleController implements Controller {
  readonly name = 'oracle';
  readonly privileged = true;
  private readonly follower: GatePathFollower;
  private readonly motor: MotorStage;

  constructor(
    private readonly truth: () => RigidBodyState,
    track: TrackSpec,
    vehicle: VehicleParams,
    laps: number,
    opts: Partial<FollowerConfig> = {},
  ) {
    this.follower = new GatePathFollower(opts, track.start.yawRad);
    // the same innate motor stage the pipeline uses, fed with the true attitude
    this.motor = new MotorStage({
      massKg: vehicle.massKg,
      maxThrustN: 4 * vehicle.motorMaxThrustN * 0.92,
      maxRateRadS: vehicle.maxRateRadS,
      attitudeGainsPerS: [12, 12, 5],
    });
    const gates: GatePose[] = [];
    for (let lap = 0; lap < laps; lap++) {
      for (const g of track.gates) gates.push({ centerEnuM: g.centerEnuM, forwardEnu: gateFrameOf(g).dirToWorld([1, 0, 0]) });
    }
    this.follower.setPath(track.start.posEnuM, gates);
  }

  onImu(_s: ImuSample): void {}
  onFrame(_f: CameraFrame): void {}

  command(nowS: number): CtbrCommand {
    const s = this.truth();
    const g = this.follower.step(s.posEnuM, s.velEnuMS);
    const c = this.motor.step({ stampS: nowS, accelEnuMS2: g.accEnuMS2, yaw: { mode: 'angle', yawRad: g.yawRad }, attitude: s.quat }, 0).cmd;
    // the motor stage reuses its output and the sim queues commands (latency): hand over a copy
    return { kind: 'ctbr', stampS: c.stampS, thrustN: c.thrustN, rateRadS: [c.rateRadS[0], c.rateRadS[1], c.rateRadS[2]] };
  }
}
