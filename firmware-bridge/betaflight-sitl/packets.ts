/**
 * Betaflight SITL UDP packets (src/main/target/SITL/target.h, sitl.c) and the conversions from brainpilot's
 * conventions (world ENU, body FLU, quaternion [w,x,y,z] body → world, SI units) to what the SITL expects.
 *
 * All structs are x86-64 little-endian with natural alignment:
 *   fdm_packet        144 B  double timestamp; double gyro[3]; double accel[3]; double quat[4];
 *                            double velocity[3]; double position[3]; double pressure          (UDP 9003 in)
 *   rc_packet          40 B  double timestamp; uint16 channels[16]                             (UDP 9004 in)
 *   servo_packet       16 B  float motor_speed[4]                                              (UDP 9002 out)
 *   servo_packet_raw   68 B  uint16 motorCount; 2 B padding; float pwm_output_raw[16]          (UDP 9001 out)
 *
 * fdm_packet sign conventions depend on how the SITL was built (sitl.c updateState), see `SitlProfile`:
 *   accel (both):        the negated body specific force, level at rest = (0, 0, −9.80665) → −f of FLU;
 *                        the FC reads −accel, i.e. FLU specific force.
 *   gyro 'gazebo-bridge': roll-right +, pitch nose-up +, yaw counter-clockwise (from above) + → (ωx, −ωy, ωz);
 *                        the FC reads (x, −y, z) — the project reference, observed on Betaflight master.
 *   gyro 'legacy':       FRD rates, yaw clockwise + → (ωx, −ωy, −ωz); the FC reads (x, −y, −z).
 *   Either way the FC ends up with FLU rates (roll-right, nose-down, yaw-left +), which is what Betaflight's
 *   mixer signs require (quad-X table with the default yaw negation in mixer.c).
 *   quat:                see fdmQuatFromEnuFlu.
 */
import type { Vec3 } from '../../src/math/vec3.js';
import { quatMul, quatRotateInv, type Quat } from '../../src/math/quat.js';

export const FDM_PACKET_SIZE = 144;
export const RC_PACKET_SIZE = 40;
export const SERVO_PACKET_SIZE = 16;
export const SERVO_PACKET_RAW_SIZE = 68;
export const SITL_RC_CHANNELS = 16;
export const SITL_PWM_CHANNELS = 16;

/** Loopback ports of a Betaflight SITL (instance 0). */
export const SITL_PORTS = {
  /** TCP: UART1, MSP v1/v2 (and '#' for the CLI). UART2..8 are 5762..5768 when a function is assigned. */
  UART1_TCP: 5761,
  /** UDP out of the SITL: servo_packet_raw. */
  PWM_RAW: 9001,
  /** UDP out of the SITL: servo_packet (one per fdm_packet received). */
  PWM: 9002,
  /** UDP into the SITL: fdm_packet. */
  FDM: 9003,
  /** UDP into the SITL: rc_packet (feature RX_UDP). */
  RC: 9004,
} as const;

export const GRAVITY_MS2 = 9.80665;

// ---------------------------------------------------------------------------------------------------------
// fdm_packet
// ---------------------------------------------------------------------------------------------------------

/** fdm_packet fields, already in the SITL's conventions. */
export interface FdmPacket {
  timestampS: number;
  /** rad/s: roll-right +, pitch nose-up +, yaw CCW + ('gazebo-bridge'; CW + for 'legacy'). */
  gyroRadS: Vec3;
  /** m/s², negated body specific force (level at rest (0, 0, −g)). */
  accelMS2: Vec3;
  /** w, x, y, z (layout per SitlProfile, see fdmQuatFromEnuFlu). */
  quat: Quat;
  /** ENU, m/s (virtual GPS speed and course). */
  velocityEnuMS: Vec3;
  /** [longitude deg, latitude deg, altitude m] (virtual GPS), pre-mirrored — see `FdmGeo`. */
  position: Vec3;
  /** Pa (unused by the default build). */
  pressurePa: number;
}

/** Double index of each fdm_packet field (byte offset = 8 × index). */
export const FDM_FIELD = {
  timestamp: 0,
  gyro: 1,
  accel: 4,
  quat: 7,
  velocity: 11,
  position: 14,
  pressure: 17,
} as const;

/** Encode into `target` (allocated when omitted; pass a reused 144-byte buffer on the per-tick path). */
export function encodeFdmPacket(p: FdmPacket, target: Buffer = Buffer.allocUnsafe(FDM_PACKET_SIZE), offset = 0): Buffer {
  if (offset < 0 || offset + FDM_PACKET_SIZE > target.length) throw new RangeError('target too small for fdm_packet');
  let o = offset;
  const d = (v: number): void => {
    target.writeDoubleLE(v, o);
    o += 8;
  };
  d(p.timestampS);
  for (const v of p.gyroRadS) d(v);
  for (const v of p.accelMS2) d(v);
  for (const v of p.quat) d(v);
  for (const v of p.velocityEnuMS) d(v);
  for (const v of p.position) d(v);
  d(p.pressurePa);
  return target;
}

export function decodeFdmPacket(buf: Uint8Array): FdmPacket {
  if (buf.length !== FDM_PACKET_SIZE) throw new RangeError(`fdm_packet is ${FDM_PACKET_SIZE} bytes, got ${buf.length}`);
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  const d = (i: number): number => b.readDoubleLE(i * 8);
  const v3 = (i: number): Vec3 => [d(i), d(i + 1), d(i + 2)];
  return {
    timestampS: d(FDM_FIELD.timestamp),
    gyroRadS: v3(FDM_FIELD.gyro),
    accelMS2: v3(FDM_FIELD.accel),
    quat: [d(7), d(8), d(9), d(10)],
    velocityEnuMS: v3(FDM_FIELD.velocity),
    position: v3(FDM_FIELD.position),
    pressurePa: d(FDM_FIELD.pressure),
  };
}

// ---------------------------------------------------------------------------------------------------------
// rc_packet
// ---------------------------------------------------------------------------------------------------------

export interface RcPacket {
  timestampS: number;
  /** 16 channels, µs: AETR (roll, pitch, throttle, yaw), then AUX1..AUX12. */
  channels: number[];
}

/**
 * Encode an rc_packet. Give at least the 4 stick channels; missing AUX channels are sent as 1000 µs (low:
 * no mode active), the safe default. Values are rounded; range policy belongs to the guard stage.
 */
export function encodeRcPacket(
  timestampS: number,
  channels: ArrayLike<number>,
  target: Buffer = Buffer.allocUnsafe(RC_PACKET_SIZE),
  offset = 0,
): Buffer {
  if (channels.length < 4 || channels.length > SITL_RC_CHANNELS) {
    throw new RangeError(`rc_packet takes 4..${SITL_RC_CHANNELS} channels, got ${channels.length}`);
  }
  if (offset < 0 || offset + RC_PACKET_SIZE > target.length) throw new RangeError('target too small for rc_packet');
  target.writeDoubleLE(timestampS, offset);
  for (let i = 0; i < SITL_RC_CHANNELS; i++) {
    const v = i < channels.length ? Math.round(channels[i]!) : 1000;
    if (!Number.isFinite(v) || v < 0 || v > 0xffff) throw new RangeError(`rc_packet channel ${i} = ${channels[i]}`);
    target.writeUInt16LE(v, offset + 8 + 2 * i);
  }
  return target;
}

export function decodeRcPacket(buf: Uint8Array): RcPacket {
  if (buf.length !== RC_PACKET_SIZE) throw new RangeError(`rc_packet is ${RC_PACKET_SIZE} bytes, got ${buf.length}`);
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  const channels: number[] = [];
  for (let i = 0; i < SITL_RC_CHANNELS; i++) channels.push(b.readUInt16LE(8 + 2 * i));
  return { timestampS: b.readDoubleLE(0), channels };
}

// ---------------------------------------------------------------------------------------------------------
// servo_packet / servo_packet_raw
// ---------------------------------------------------------------------------------------------------------

/**
 * Slot of servo_packet.motor_speed[] that carries each Betaflight motor M1..M4. sitl.c pwmCompleteMotorUpdate()
 * keeps the old Gazebo ArduCopterPlugin remap:
 *   motor_speed[3] = M1, motor_speed[0] = M2, motor_speed[1] = M3, motor_speed[2] = M4
 * so the packet is NOT in Betaflight order. Our sim order is Betaflight's (0 RR = M1, 1 FR = M2, 2 RL = M3,
 * 3 FL = M4), hence ours[i] = motor_speed[SERVO_SLOT_OF_MOTOR[i]]. servo_packet_raw is not remapped.
 */
export const SERVO_SLOT_OF_MOTOR = [3, 0, 1, 2] as const;

/** servo_packet: 4 × float32 = (motor − 1000 µs) / 1000 (÷ 500 with feature 3D), in the remapped slot order. */
export interface ServoPacket {
  motorSpeed: [number, number, number, number];
}

export function decodeServoPacket(buf: Uint8Array): ServoPacket {
  if (buf.length !== SERVO_PACKET_SIZE) throw new RangeError(`servo_packet is ${SERVO_PACKET_SIZE} bytes, got ${buf.length}`);
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  return { motorSpeed: [b.readFloatLE(0), b.readFloatLE(4), b.readFloatLE(8), b.readFloatLE(12)] };
}

/**
 * A servo datagram as it arrives from the SITL → normalised motor commands 0..1 in brainpilot's order, or
 * null when it is not one (wrong size, NaN, a value no propeller should be spun with). Never throws.
 */
export function servoDatagramMotors(m: Uint8Array): [number, number, number, number] | null {
  if (m.length !== SERVO_PACKET_SIZE) return null;
  const motors = servoPacketToMotors(decodeServoPacket(m));
  for (let i = 0; i < 4; i++) {
    const v = motors[i]!;
    if (!(Number.isFinite(v) && v >= -1e-6 && v <= 1 + 1e-6)) return null;
  }
  return [Math.min(1, Math.max(0, motors[0])), Math.min(1, Math.max(0, motors[1])), Math.min(1, Math.max(0, motors[2])), Math.min(1, Math.max(0, motors[3]))];
}

/** Encode a servo_packet (what the SITL sends; for fakes and tests). */
export function encodeServoPacket(p: ServoPacket, target: Buffer = Buffer.allocUnsafe(SERVO_PACKET_SIZE)): Buffer {
  p.motorSpeed.forEach((v, i) => target.writeFloatLE(v, 4 * i));
  return target;
}

/** servo_packet slots → our motor order (RR, FR, RL, FL = Betaflight M1..M4), normalised 0..1. */
export const servoPacketToMotors = (p: ServoPacket): [number, number, number, number] => [
  p.motorSpeed[SERVO_SLOT_OF_MOTOR[0]],
  p.motorSpeed[SERVO_SLOT_OF_MOTOR[1]],
  p.motorSpeed[SERVO_SLOT_OF_MOTOR[2]],
  p.motorSpeed[SERVO_SLOT_OF_MOTOR[3]],
];

/** Our motor order → servo_packet slots (inverse of servoPacketToMotors; for fakes of the SITL). */
export function motorsToServoPacket(motors: readonly [number, number, number, number]): ServoPacket {
  const s: [number, number, number, number] = [0, 0, 0, 0];
  for (let i = 0; i < 4; i++) s[SERVO_SLOT_OF_MOTOR[i]!] = motors[i]!;
  return { motorSpeed: s };
}

export interface ServoPacketRaw {
  motorCount: number;
  /** Raw outputs, µs: motors in Betaflight order M1.. (no remap), then servos. */
  pwm: number[];
}

export function decodeServoPacketRaw(buf: Uint8Array): ServoPacketRaw {
  if (buf.length !== SERVO_PACKET_RAW_SIZE) {
    throw new RangeError(`servo_packet_raw is ${SERVO_PACKET_RAW_SIZE} bytes, got ${buf.length}`);
  }
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  const pwm: number[] = [];
  for (let i = 0; i < SITL_PWM_CHANNELS; i++) pwm.push(b.readFloatLE(4 + 4 * i));
  return { motorCount: b.readUInt16LE(0), pwm };
}

export function encodeServoPacketRaw(p: ServoPacketRaw, target: Buffer = Buffer.alloc(SERVO_PACKET_RAW_SIZE)): Buffer {
  if (p.pwm.length > SITL_PWM_CHANNELS) throw new RangeError('servo_packet_raw holds 16 outputs');
  target.writeUInt16LE(p.motorCount, 0);
  target.writeUInt16LE(0, 2); // padding
  for (let i = 0; i < SITL_PWM_CHANNELS; i++) target.writeFloatLE(p.pwm[i] ?? 0, 4 + 4 * i);
  return target;
}

// ---------------------------------------------------------------------------------------------------------
// Conventions: ENU/FLU → fdm_packet
// ---------------------------------------------------------------------------------------------------------

const S = Math.SQRT1_2;
/** 180° about x. */
export const Q_RX180: Quat = [0, 1, 0, 0];
/** 90° about z. */
export const Q_RZ90: Quat = [S, 0, 0, S];

/**
 * Which sitl.c the packets are for.
 * - 'gazebo-bridge' (default): Betaflight master with the Gazebo Harmonic bridge code (commits 26524e20d /
 *   035a4d655, ENABLE_GAZEBO_BRIDGE) — the behaviour the project reference observed: gyro yaw not negated,
 *   attitude pre-multiplied by Rz(90°), virtual-GPS position mirrored around the first packet.
 * - 'legacy': the long-standing sitl.c (4.x, 2025.12 without the bridge code): gyro (x, −y, −z), the packet
 *   quaternion handed to imuSetAttitudeQuat() unchanged, no GPS mirror.
 */
export type SitlProfile = 'gazebo-bridge' | 'legacy';

/** Body FLU rates → fdm gyro. 'gazebo-bridge': (ωx, −ωy, ωz); 'legacy': (ωx, −ωy, −ωz). */
export const fdmGyroFromFlu = (rateFluRadS: Vec3, profile: SitlProfile = 'gazebo-bridge'): Vec3 => [
  rateFluRadS[0],
  -rateFluRadS[1],
  profile === 'legacy' ? -rateFluRadS[2] : rateFluRadS[2],
];

/** What sitl.c hands the gyro driver (before its deg/s × 16.4 scaling), for tests: FLU rates when right. */
export const fcGyroFromFdm = (gyro: Vec3, profile: SitlProfile = 'gazebo-bridge'): Vec3 => [
  gyro[0],
  -gyro[1],
  profile === 'legacy' ? -gyro[2] : gyro[2],
];

/** Specific force in body FLU from the world acceleration and attitude: f = Rᵀ (a − g), g = (0, 0, −9.80665). */
export const specificForceFlu = (quatEnuFlu: Quat, accEnuMS2: Vec3): Vec3 =>
  quatRotateInv(quatEnuFlu, [accEnuMS2[0], accEnuMS2[1], accEnuMS2[2] + GRAVITY_MS2]);

/** Body FLU specific force → fdm accelerometer: negated, so level at rest is (0, 0, −g). */
export const fdmAccelFromSpecificForceFlu = (fFlu: Vec3): Vec3 => [-fFlu[0], -fFlu[1], -fFlu[2]];

/** What sitl.c hands the accelerometer driver (before × 256/g): −accel, i.e. FLU specific force. */
export const fcAccelFromFdm = (accel: Vec3): Vec3 => [-accel[0], -accel[1], -accel[2]];

/**
 * The attitude Betaflight's SITL wants to end up with: body FRD → world NED,
 * Rz(90°)·Rx(180°)·q·Rx(180°) for our ENU/FLU q (the project reference's formula; "ENUtoNED · M · FRDtoFLU"
 * in the bridge commit). Level, nose north: q = (√½, 0, 0, √½) → (1, 0, 0, 0).
 */
export const fcTargetQuat = (q: Quat): Quat => quatMul(quatMul(quatMul(Q_RZ90, Q_RX180), q), Q_RX180);

/**
 * Our ENU/FLU body → world quaternion → fdm_packet quaternion.
 * - 'gazebo-bridge': the Gazebo BetaflightPlugin's layout, Rx(180°)⁻¹·q·Rx(180°) = (w, x, −y, −z) (its Pose3d
 *   arithmetic `(gazeboToNED + worldPose) − gazeboToNED`); the FC pre-multiplies Rz(90°). Level, nose north:
 *   (√½, 0, 0, −√½).
 * - 'legacy': the FC uses the packet as is, so send fcTargetQuat(q) itself.
 * Only a SITL built without USE_IMU_CALC reads this field; otherwise it estimates attitude from gyro + acc.
 * Live check: level, nose north should read MSP_ATTITUDE yaw ≈ 0 (≈ 180 means the other profile).
 */
export function fdmQuatFromEnuFlu(q: Quat, profile: SitlProfile = 'gazebo-bridge'): Quat {
  if (profile === 'legacy') return fcTargetQuat(q);
  return [q[0], q[1], -q[2], -q[3]];
}

/** The quaternion sitl.c passes to imuSetAttitudeQuat() for a packet quaternion (a model, for tests). */
export function fcQuatFromFdmQuat(qPkt: Quat, profile: SitlProfile = 'gazebo-bridge'): Quat {
  // Gazebo bridge: imuSetAttitudeQuat(k(w − z), k(x − y), k(y + x), k(z + w)), k = √½, i.e. Rz(90°) ⊗ q.
  return profile === 'legacy' ? [qPkt[0], qPkt[1], qPkt[2], qPkt[3]] : quatMul(Q_RZ90, qPkt);
}

/** Canonical sign (w ≥ 0) so quaternions can be compared component-wise. */
export const quatCanonical = (q: Quat): Quat => (q[0] < 0 ? [-q[0], -q[1], -q[2], -q[3]] : [q[0], q[1], q[2], q[3]]);

/** ISA pressure at an altitude, Pa (the formula Betaflight's Gazebo-bridge build uses). */
export const isaPressurePa = (altitudeM: number): number => 101325 * Math.pow(1 - 2.25577e-5 * altitudeM, 5.25588);

const EARTH_RADIUS_M = 6378137;

/**
 * ENU metres → the virtual-GPS position fields. The Gazebo-bridge SITL mirrors horizontal position around the
 * first packet it receives (lat' = 2·lat0 − lat, for Gazebo Harmonic's inverted SphericalFromLocalPosition), so we
 * send the mirror image: the first call latches the origin and is sent unchanged, later ones as
 * 2·origin − true. Flat-earth (equirectangular) projection: fine over a race course.
 */
export class FdmGeo {
  private lat0 = 0;
  private lon0 = 0;
  private latched = false;

  constructor(
    readonly originLatDeg = 47.3977,
    readonly originLonDeg = 8.5456,
    readonly originAltM = 400,
    /** 'legacy' builds do not mirror: positions are sent as they are. */
    readonly profile: SitlProfile = 'gazebo-bridge',
  ) {}

  /** [lonDeg, latDeg, altM] to put in fdm_packet.position for an ENU position relative to the origin. */
  position(posEnuM: Vec3): Vec3 {
    const lat = this.originLatDeg + (posEnuM[1] / EARTH_RADIUS_M) * (180 / Math.PI);
    const lon =
      this.originLonDeg + (posEnuM[0] / (EARTH_RADIUS_M * Math.cos((this.originLatDeg * Math.PI) / 180))) * (180 / Math.PI);
    const alt = this.originAltM + posEnuM[2];
    if (this.profile === 'legacy') return [lon, lat, alt];
    if (!this.latched) {
      this.lat0 = lat;
      this.lon0 = lon;
      this.latched = true;
    }
    return [2 * this.lon0 - lon, 2 * this.lat0 - lat, alt];
  }

  /** Forget the latched origin (when the SITL restarts). */
  reset(): void {
    this.latched = false;
  }
}

/** The simulator state an fdm_packet is built from (structurally a subset of sim RigidBodyState). */
export interface FdmSourceState {
  posEnuM: Vec3;
  velEnuMS: Vec3;
  /** Body FLU → world ENU. */
  quat: Quat;
  rateFluRadS: Vec3;
  /** World acceleration, m/s² (gravity not included). */
  accEnuMS2: Vec3;
}

/** Build a complete fdm_packet from our state, for the SITL profile `geo` was made for. */
export function fdmFromState(timestampS: number, s: FdmSourceState, geo: FdmGeo): FdmPacket {
  const position = geo.position(s.posEnuM);
  return {
    timestampS,
    gyroRadS: fdmGyroFromFlu(s.rateFluRadS, geo.profile),
    accelMS2: fdmAccelFromSpecificForceFlu(specificForceFlu(s.quat, s.accEnuMS2)),
    quat: fdmQuatFromEnuFlu(s.quat, geo.profile),
    velocityEnuMS: [s.velEnuMS[0], s.velEnuMS[1], s.velEnuMS[2]],
    position,
    pressurePa: isaPressurePa(position[2]),
  };
}

// ---------------------------------------------------------------------------------------------------------
// Timing
// ---------------------------------------------------------------------------------------------------------

/**
 * When two consecutive FDM timestamps are < 20 ms apart, sitl.c sets the FC clock rate to
 * Δtimestamp / Δarrival; bursty delivery then warps FC time (RXLOSS, failsafe, disarm). This clock decimates
 * the simulator's steps so consecutive packets are ≥ `minStepS` (20.1 ms) apart in sim time — the FC keeps
 * its own clock — and keeps the wire timestamp strictly increasing across simulator resets (sitl.c drops
 * packets whose timestamp goes backwards). Consequences: the FC then runs on wall-clock time, so the
 * simulator must run at ≈ 1× real time beside a stock SITL (no lockstep); and one servo_packet comes back per
 * FDM, so motor updates arrive at ≈ 48 Hz.
 */
export class FdmClock {
  readonly minStepS: number;
  private lastSimS: number | undefined;
  private lastWireS: number | undefined;
  private offsetS = 0;

  constructor(minStepS = 0.0201) {
    if (!(minStepS > 0)) throw new RangeError('minStepS must be > 0');
    this.minStepS = minStepS;
  }

  /**
   * Offer the simulator time of the current step. Returns the timestamp to send, or undefined when this step
   * should not produce a packet.
   */
  next(simTimeS: number): number | undefined {
    if (!Number.isFinite(simTimeS)) return undefined;
    if (this.lastSimS !== undefined && this.lastWireS !== undefined && simTimeS < this.lastSimS) {
      // Simulator reset: continue the wire timeline one step after the last packet.
      this.offsetS = this.lastWireS + this.minStepS - simTimeS;
      this.lastSimS = simTimeS;
      this.lastWireS += this.minStepS;
      return this.lastWireS;
    }
    const wire = simTimeS + this.offsetS;
    if (this.lastWireS !== undefined && wire - this.lastWireS < this.minStepS) return undefined;
    this.lastSimS = simTimeS;
    this.lastWireS = wire;
    return wire;
  }

  reset(): void {
    this.lastSimS = undefined;
    this.lastWireS = undefined;
    this.offsetS = 0;
  }
}
