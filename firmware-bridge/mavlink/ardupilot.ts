/**
 * ArduCopter over MAVLink (TCP to SITL's SERIAL0 on 5760, or serial): the GUIDED sequence that flew on
 * ArduCopter SITL (reference firmware-protocols.md):
 *   1. connect, wait for the HEARTBEAT (autopilot 3); ArduCopter streams almost nothing on its own, so
 *   2. SET_MESSAGE_INTERVAL for SCALED_IMU, ATTITUDE and LOCAL_POSITION_NED;
 *   3. DO_SET_MODE p1=1 p2=4 (GUIDED), repeated once a second until HEARTBEAT custom_mode = 4 (GUIDED needs a
 *      position estimate: refused for the first seconds after boot);
 *   4. COMPONENT_ARM_DISARM p1=1, retried once a second while the pre-arm checks refuse (24–42 s on SITL);
 *   5. NAV_TAKEOFF p7 = takeoffAltM at once (ArduCopter disarms itself ≈ 10 s after arming without one) and
 *      wait for LOCAL_POSITION_NED to reach 90 % of it;
 *   6. engaged: SET_ATTITUDE_TARGET with body rates + thrust.
 * Before any of that, GUID_OPTIONS is read: ArduCopter takes SET_ATTITUDE_TARGET's `thrust` as a climb rate
 * (0.5 = hold) unless bit 3 ("SetAttitudeTarget interprets Thrust As Thrust") is set, and our normalised
 * hover thrust (≈ 0.2–0.3) would then be a full-rate descent. The bridge refuses to fly without it.
 * Land: DO_SET_MODE LAND (9) → descends and disarms.
 */
import { MavCmd, MAV_AUTOPILOT_ARDUPILOTMEGA, MAV_MODE_FLAG_CUSTOM_MODE_ENABLED, MSG } from './messages.js';
import { COPTER_MODE, copterModeName } from './modes.js';
import { MavlinkFcBridge, sleep, type MavlinkBridgeOptions } from './bridge.js';
import type { MavlinkSession } from './session.js';

/** GUID_OPTIONS bit 3: SET_ATTITUDE_TARGET thrust is thrust, not a climb rate. */
export const GUID_OPTIONS_THRUST_AS_THRUST = 8;

export interface ArduPilotBridgeOptions extends MavlinkBridgeOptions {
  /** NAV_TAKEOFF altitude, m. Default 2. */
  takeoffAltM?: number;
  /** GUIDED is requested every armRetryIntervalS (default 1 s) for this long, s. Default 60. */
  guidedTimeoutS?: number;
  /** The takeoff must reach 90 % of takeoffAltM within this, s. Default 20. */
  takeoffTimeoutS?: number;
}

export class ArduPilotBridge extends MavlinkFcBridge {
  readonly stack = 'ArduPilot';
  private readonly takeoffAltM: number;
  private readonly guidedTimeoutS: number;
  private readonly takeoffTimeoutS: number;

  constructor(session: MavlinkSession, opts: ArduPilotBridgeOptions) {
    super(session, opts, { imuRateHz: 100, armTimeoutS: 60 });
    this.takeoffAltM = opts.takeoffAltM ?? 2;
    this.guidedTimeoutS = opts.guidedTimeoutS ?? 60;
    this.takeoffTimeoutS = opts.takeoffTimeoutS ?? 20;
    for (const [k, v] of [['takeoffAltM', this.takeoffAltM], ['guidedTimeoutS', this.guidedTimeoutS], ['takeoffTimeoutS', this.takeoffTimeoutS]] as const) {
      if (!(v > 0 && Number.isFinite(v))) throw new RangeError(`${k} must be positive, got ${v}`);
    }
  }

  async start(): Promise<void> {
    const v = await this.waitHeartbeat(MAV_AUTOPILOT_ARDUPILOTMEGA);
    this.log?.info({ mode: v.mode, armed: v.armed }, `ArduPilot system ${v.sysid}: ${v.mode}, ${v.armed ? 'armed' : 'disarmed'}`);
    if (v.armed) throw new Error(`ArduPilot is already armed (mode ${v.mode}): refusing to take over an armed vehicle`);
    const guid = await this.session.readParam('GUID_OPTIONS');
    if ((Math.round(guid) & GUID_OPTIONS_THRUST_AS_THRUST) === 0) {
      throw new Error(
        `ArduCopter GUID_OPTIONS is ${guid}: bit 3 (8, "SetAttitudeTarget interprets Thrust As Thrust") is not set, so thrust would be read as a climb rate; ` +
          `set GUID_OPTIONS to ${Math.round(guid) | GUID_OPTIONS_THRUST_AS_THRUST} and try again`,
      );
    }
    await this.requestStreams(MSG.SCALED_IMU);
    await this.enterGuided();
    await this.armWithRetries();
    await this.takeoff();
    this.engage(copterModeName(COPTER_MODE.GUIDED));
  }

  private async enterGuided(): Promise<void> {
    const deadline = this.session.nowS() + this.guidedTimeoutS;
    let last = '';
    for (;;) {
      try {
        await this.session.command(MavCmd.DO_SET_MODE, [MAV_MODE_FLAG_CUSTOM_MODE_ENABLED, COPTER_MODE.GUIDED]);
        await this.session.waitForState((s) => s.customMode === COPTER_MODE.GUIDED, 1500, 'ArduPilot in GUIDED');
        return;
      } catch (e) {
        last = (e as Error).message;
      }
      if (this.session.nowS() + this.o.armRetryIntervalS > deadline) throw new Error(`ArduPilot did not enter GUIDED within ${this.guidedTimeoutS} s: ${last}`);
      await sleep(this.o.armRetryIntervalS * 1000);
    }
  }

  private async takeoff(): Promise<void> {
    try {
      await this.session.command(MavCmd.NAV_TAKEOFF, [0, 0, 0, Number.NaN, 0, 0, this.takeoffAltM]);
    } catch (e) {
      throw new Error(`ArduPilot refused NAV_TAKEOFF to ${this.takeoffAltM} m: ${(e as Error).message}`, { cause: e });
    }
    const t0 = this.session.nowS();
    while (!(this.pose && this.pose.posEnuM[2] >= 0.9 * this.takeoffAltM)) {
      if (this.session.nowS() - t0 > this.takeoffTimeoutS) {
        const alt = this.pose ? `${this.pose.posEnuM[2].toFixed(2)} m` : 'unknown (no LOCAL_POSITION_NED)';
        throw new Error(`ArduPilot takeoff did not reach ${(0.9 * this.takeoffAltM).toFixed(2)} m within ${this.takeoffTimeoutS} s (altitude ${alt})`);
      }
      const v = this.session.vehicle;
      if (v && !v.armed) throw new Error(`ArduPilot disarmed during takeoff (mode ${v.mode})`);
      await sleep(50);
    }
  }

  protected async commandLand(): Promise<void> {
    await this.session.command(MavCmd.DO_SET_MODE, [MAV_MODE_FLAG_CUSTOM_MODE_ENABLED, COPTER_MODE.LAND]);
    await this.waitDisarmed();
  }
}
