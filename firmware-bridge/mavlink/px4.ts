/**
 * PX4 over MAVLink (UDP to SITL's onboard link, or serial TELEM): the OFFBOARD sequence that flew on PX4
 * SITL (reference firmware-protocols.md):
 *   1. wait for the autopilot's HEARTBEAT (autopilot 12), then send ours at ≥ 1 Hz (the session does);
 *   2. SET_MESSAGE_INTERVAL for HIGHRES_IMU, ATTITUDE and LOCAL_POSITION_NED;
 *   3. stream setpoints (SET_ATTITUDE_TARGET: zero rates, zero thrust) for `preStreamS` — PX4 refuses
 *      OFFBOARD without a live setpoint stream;
 *   4. DO_SET_MODE p1=1 (custom) p2=6 (OFFBOARD), then wait for HEARTBEAT custom_mode = OFFBOARD;
 *   5. COMPONENT_ARM_DISARM p1=1 (retried while TEMPORARILY_REJECTED: "Ready for takeoff" comes 5–8 s after
 *      boot), then wait for HEARTBEAT armed;
 *   6. engaged: setpoint() sends body rates + normalised thrust. Leaving OFFBOARD (PX4's offboard-loss
 *      failsafe after COM_OF_LOSS_T, an RC switch) is reported once as 'lost'.
 * Land: MAV_CMD_NAV_LAND → AUTO.LAND → PX4 disarms on touchdown ("Disarmed by landing").
 */
import { MavCmd, MAV_AUTOPILOT_PX4, MAV_MODE_FLAG_CUSTOM_MODE_ENABLED, MSG } from './messages.js';
import { PX4_MAIN, px4ModeName, PX4_OFFBOARD } from './modes.js';
import { MavlinkFcBridge, sleep, type MavlinkBridgeOptions } from './bridge.js';
import type { MavlinkSession } from './session.js';

export interface Px4BridgeOptions extends MavlinkBridgeOptions {
  /** Setpoints streamed before asking for OFFBOARD, s. Default 0.5. */
  preStreamS?: number;
}

export class Px4Bridge extends MavlinkFcBridge {
  readonly stack = 'PX4';
  private readonly preStreamS: number;

  constructor(session: MavlinkSession, opts: Px4BridgeOptions) {
    super(session, opts, { imuRateHz: 250, armTimeoutS: 10 });
    this.preStreamS = opts.preStreamS ?? 0.5;
    if (!(this.preStreamS >= 0 && Number.isFinite(this.preStreamS))) throw new RangeError(`preStreamS must be ≥ 0, got ${opts.preStreamS}`);
  }

  async start(): Promise<void> {
    const v = await this.waitHeartbeat(MAV_AUTOPILOT_PX4);
    this.log?.info({ mode: v.mode, armed: v.armed }, `PX4 system ${v.sysid}: ${v.mode}, ${v.armed ? 'armed' : 'disarmed'}`);
    if (v.armed) throw new Error(`PX4 is already armed (mode ${v.mode}): refusing to take over an armed vehicle`);
    await this.requestStreams(MSG.HIGHRES_IMU);
    this.startKeepalive();
    await sleep(this.preStreamS * 1000);
    try {
      await this.session.command(MavCmd.DO_SET_MODE, [MAV_MODE_FLAG_CUSTOM_MODE_ENABLED, PX4_MAIN.OFFBOARD, 0]);
    } catch (e) {
      this.stopKeepalive();
      throw new Error(`PX4 refused OFFBOARD: ${(e as Error).message}`, { cause: e });
    }
    await this.session.waitForState((s) => s.customMode === PX4_OFFBOARD, 3000, 'PX4 in OFFBOARD');
    try {
      await this.armWithRetries();
    } catch (e) {
      this.stopKeepalive();
      throw e;
    }
    this.engage(px4ModeName(PX4_OFFBOARD));
  }

  protected async commandLand(): Promise<void> {
    await this.session.command(MavCmd.NAV_LAND, [0, 0, 0, Number.NaN, Number.NaN, Number.NaN, Number.NaN]);
    await this.waitDisarmed();
  }
}
