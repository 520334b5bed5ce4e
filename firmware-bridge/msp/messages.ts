/**
 * Typed MSP payloads: decoders for the replies brainpilot reads, encoders for the commands it sends, and the
 * second stream stage (`MspParser`: `MspFrame` in, typed `MspMessage` out).
 *
 * Layouts follow Betaflight's src/main/msp/msp.c (mspCommonProcessOutCommand, mspProcessOutCommand,
 * mspProcessInCommand). All multi-byte fields are little-endian. Decoders read the fields a given API version
 * has and ignore trailing bytes, so newer firmware that appends fields still decodes.
 */
import { Transform, type TransformCallback } from 'node:stream';
import type { Vec3 } from '../../src/math/vec3.js';
import { MSP, mspCommandName, decodeArmingFlags, modeStepToUs, usToModeStep } from './codes.js';
import { mspV1FrameLength, type MspDirection, type MspFrame } from './codec.js';

/** A payload too short (or otherwise inconsistent) for the message it claims to be. */
export class MspDecodeError extends Error {
  constructor(
    readonly cmd: number,
    message: string,
  ) {
    super(`${mspCommandName(cmd)}: ${message}`);
    this.name = 'MspDecodeError';
  }
}

/** Bounds-checked little-endian reader over one payload. */
class Reader {
  pos = 0;
  constructor(
    private readonly p: Uint8Array,
    private readonly cmd: number,
  ) {}
  get remaining(): number {
    return this.p.length - this.pos;
  }
  private need(n: number, what: string): number {
    if (this.pos + n > this.p.length) {
      throw new MspDecodeError(this.cmd, `payload of ${this.p.length} bytes ends before ${what} (offset ${this.pos})`);
    }
    const at = this.pos;
    this.pos += n;
    return at;
  }
  u8(what = 'u8'): number {
    return this.p[this.need(1, what)]!;
  }
  u16(what = 'u16'): number {
    const i = this.need(2, what);
    return this.p[i]! | (this.p[i + 1]! << 8);
  }
  i16(what = 'i16'): number {
    const v = this.u16(what);
    return v >= 0x8000 ? v - 0x10000 : v;
  }
  u32(what = 'u32'): number {
    const i = this.need(4, what);
    return (this.p[i]! | (this.p[i + 1]! << 8) | (this.p[i + 2]! << 16) | (this.p[i + 3]! << 24)) >>> 0;
  }
  i32(what = 'i32'): number {
    return this.u32(what) | 0;
  }
  bytes(n: number, what = 'bytes'): Uint8Array {
    const i = this.need(n, what);
    return this.p.subarray(i, i + n);
  }
  /** Fixed-length text, latin1, trailing NULs dropped. */
  text(n: number, what = 'text'): string {
    return latin1(this.bytes(n, what));
  }
  /** u8 length then that many characters (Betaflight's "string with explicit length"). */
  pstr(what = 'string'): string {
    return this.text(this.u8(`${what} length`), what);
  }
}

const latin1 = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('latin1').replace(/\0+$/, '');

// ---------------------------------------------------------------------------------------------------------
// Identification
// ---------------------------------------------------------------------------------------------------------

export interface ApiVersion {
  /** MSP_PROTOCOL_VERSION (0). */
  protocol: number;
  major: number;
  minor: number;
  /** "major.minor", e.g. "1.49". */
  api: string;
}

/** MSP_API_VERSION (1): [protocol, major, minor]. */
export function decodeApiVersion(p: Uint8Array): ApiVersion {
  const r = new Reader(p, MSP.API_VERSION);
  const protocol = r.u8('protocol');
  const major = r.u8('major');
  const minor = r.u8('minor');
  return { protocol, major, minor, api: `${major}.${minor}` };
}

/** MSP_FC_VARIANT (2): 4 characters, "BTFL" for Betaflight. */
export const decodeFcVariant = (p: Uint8Array): string => new Reader(p, MSP.FC_VARIANT).text(4, 'identifier');

export interface FcVersion {
  major: number;
  minor: number;
  patch: number;
  /** "major.minor.patch"; since the CalVer switch major is year − 2000 (26.12.0 = 2026.12.0). */
  version: string;
  /** Length-prefixed version string some builds append after the three bytes (e.g. "2026.12.0-alpha"). */
  versionString?: string;
}

/** MSP_FC_VERSION (3): [major, minor, patch] (+ an optional length-prefixed string). */
export function decodeFcVersion(p: Uint8Array): FcVersion {
  const r = new Reader(p, MSP.FC_VERSION);
  const major = r.u8('major');
  const minor = r.u8('minor');
  const patch = r.u8('patch');
  const out: FcVersion = { major, minor, patch, version: `${major}.${minor}.${patch}` };
  if (r.remaining >= 1 && r.remaining >= 1 + p[3]!) out.versionString = r.pstr('version string');
  return out;
}

export interface BoardInfo {
  /** 4-character board identifier ("SITL", "S7X2", ...). */
  boardIdentifier: string;
  hardwareRevision: number;
  /** 0 = flight controller, 2 = flight controller with MAX7456 OSD (older firmware omits it). */
  fcType?: number;
  /** Bits: 0 VCP, 1 soft serial, 2 unified target, 3 flash bootloader, 4/5 custom defaults, 6 RX bind. */
  targetCapabilities?: number;
  targetName?: string;
  boardName?: string;
  manufacturerId?: string;
  /** 32-byte board signature (zeros when unsigned). */
  signature?: Uint8Array;
  mcuTypeId?: number;
  /** API 1.42+. */
  configurationState?: number;
  /** API 1.43+: gyro sample rate, Hz. */
  gyroSampleRateHz?: number;
  /** API 1.43+: bit 0 accelerometer needs calibration, bit 1 motor protocol disabled. */
  configurationProblems?: number;
  /** API 1.44+. */
  spiDeviceCount?: number;
  i2cDeviceCount?: number;
}

const BOARD_SIGNATURE_LENGTH = 32;

/** MSP_BOARD_INFO (4). Reads as far as the payload goes; only the identifier and revision are required. */
export function decodeBoardInfo(p: Uint8Array): BoardInfo {
  const r = new Reader(p, MSP.BOARD_INFO);
  const out: BoardInfo = { boardIdentifier: r.text(4, 'board identifier'), hardwareRevision: r.u16('hardware revision') };
  if (r.remaining < 1) return out;
  out.fcType = r.u8();
  if (r.remaining < 1) return out;
  out.targetCapabilities = r.u8();
  if (r.remaining < 1) return out;
  out.targetName = r.pstr('target name');
  if (r.remaining < 1) return out;
  out.boardName = r.pstr('board name');
  if (r.remaining < 1) return out;
  out.manufacturerId = r.pstr('manufacturer id');
  if (r.remaining < BOARD_SIGNATURE_LENGTH) return out;
  out.signature = Uint8Array.from(r.bytes(BOARD_SIGNATURE_LENGTH));
  if (r.remaining < 1) return out;
  out.mcuTypeId = r.u8();
  if (r.remaining < 1) return out;
  out.configurationState = r.u8();
  if (r.remaining < 2) return out;
  out.gyroSampleRateHz = r.u16();
  if (r.remaining < 4) return out;
  out.configurationProblems = r.u32();
  if (r.remaining < 2) return out;
  out.spiDeviceCount = r.u8();
  out.i2cDeviceCount = r.u8();
  return out;
}

export interface BuildInfo {
  /** "Mmm dd yyyy". */
  date: string;
  /** "hh:mm:ss". */
  time: string;
  gitRevision: string;
}

/** MSP_BUILD_INFO (5): 11-char date, 8-char time, short git revision. */
export function decodeBuildInfo(p: Uint8Array): BuildInfo {
  const r = new Reader(p, MSP.BUILD_INFO);
  const date = r.text(11, 'build date');
  const time = r.text(8, 'build time');
  return { date, time, gitRevision: r.text(r.remaining).trim() };
}

// ---------------------------------------------------------------------------------------------------------
// STATUS / STATUS_EX
// ---------------------------------------------------------------------------------------------------------

export interface MspSensors {
  acc: boolean;
  baro: boolean;
  mag: boolean;
  gps: boolean;
  rangefinder: boolean;
  gyro: boolean;
}

export interface MspStatus {
  /** PID loop period, µs. */
  cycleTimeUs: number;
  i2cErrors: number;
  sensorMask: number;
  sensors: MspSensors;
  /**
   * Box (mode) state bits, 4 + n bytes: bit i (byte i>>3, bit i&7) is the i-th box of the BOXIDS / BOXNAMES
   * reply — not a permanent id. ARM is always the first active box, hence `armed` = bit 0.
   */
  modeFlags: Uint8Array;
  /** The first 32 mode bits (offset 6) as a number. */
  modeFlagsLow32: number;
  armed: boolean;
  pidProfile: number;
  /** Average system load, percent (0..100). */
  cpuLoadPercent: number;
  /** STATUS_EX only. */
  pidProfileCount?: number;
  /** STATUS_EX only: current rate profile index. */
  rateProfile?: number;
  /** Number of arming-disable flags the firmware knows (its last one is ARM_SWITCH). */
  armingDisableCount: number;
  armingDisableFlags: number;
  /** Names of the set arming-disable bits (see codes.ts). Empty = ready to arm. */
  armingDisableNames: string[];
  rebootRequired?: boolean;
  /** API 1.46+: MCU core temperature, °C. */
  cpuTempC?: number;
}

/**
 * MSP_STATUS_EX (150) and MSP_STATUS (101) — the same serializer in Betaflight:
 *   0 u16 cycle time µs, 2 u16 i2c errors, 4 u16 sensors (bit 0 acc, 1 baro, 2 mag, 3 gps, 4 rangefinder,
 *   5 gyro), 6 4 bytes box flags, 10 u8 PID profile, 11 u16 load %, 13 (EX) u8 PID profile count + u8 rate
 *   profile | (STATUS) u16 0, 15 u8 n = extra box-flag bytes (low 4 bits), 16 n bytes, 16+n u8 arming-disable
 *   flag count, 17+n u32 arming-disable flags, 21+n u8 config state (bit 0 reboot required),
 *   22+n u16 CPU temperature °C (API 1.46+).
 */
export function decodeStatus(p: Uint8Array, cmd: number = MSP.STATUS_EX): MspStatus {
  const r = new Reader(p, cmd);
  const cycleTimeUs = r.u16('cycle time');
  const i2cErrors = r.u16('i2c errors');
  const sensorMask = r.u16('sensors');
  const low = r.bytes(4, 'mode flags');
  const pidProfile = r.u8('pid profile');
  const cpuLoadPercent = r.u16('cpu load');
  let pidProfileCount: number | undefined;
  let rateProfile: number | undefined;
  if (cmd === MSP.STATUS) r.u16('gyro cycle time');
  else {
    pidProfileCount = r.u8('pid profile count');
    rateProfile = r.u8('rate profile');
  }
  const n = r.u8('extra mode flag byte count') & 0x0f;
  const extra = r.bytes(n, 'extra mode flags');
  const modeFlags = new Uint8Array(4 + n);
  modeFlags.set(low, 0);
  modeFlags.set(extra, 4);
  const armingDisableCount = r.u8('arming disable flag count');
  const armingDisableFlags = r.u32('arming disable flags');
  const modeFlagsLow32 = (low[0]! | (low[1]! << 8) | (low[2]! << 16) | (low[3]! << 24)) >>> 0;
  const out: MspStatus = {
    cycleTimeUs,
    i2cErrors,
    sensorMask,
    sensors: {
      acc: (sensorMask & 1) !== 0,
      baro: (sensorMask & 2) !== 0,
      mag: (sensorMask & 4) !== 0,
      gps: (sensorMask & 8) !== 0,
      rangefinder: (sensorMask & 16) !== 0,
      gyro: (sensorMask & 32) !== 0,
    },
    modeFlags,
    modeFlagsLow32,
    armed: (modeFlagsLow32 & 1) === 1,
    pidProfile,
    cpuLoadPercent,
    armingDisableCount,
    armingDisableFlags,
    armingDisableNames: decodeArmingFlags(armingDisableFlags, armingDisableCount),
  };
  if (pidProfileCount !== undefined) out.pidProfileCount = pidProfileCount;
  if (rateProfile !== undefined) out.rateProfile = rateProfile;
  if (r.remaining >= 1) out.rebootRequired = (r.u8() & 1) === 1;
  if (r.remaining >= 2) out.cpuTempC = r.u16();
  return out;
}

/** Is the i-th box (BOXIDS order) set in a mode-flag bitset? */
export const modeFlagBit = (modeFlags: Uint8Array, index: number): boolean =>
  index >= 0 && (((modeFlags[index >> 3] ?? 0) >> (index & 7)) & 1) === 1;

/** Permanent ids of the boxes currently active, given the BOXIDS reply. */
export function activeBoxes(status: Pick<MspStatus, 'modeFlags'>, boxIds: readonly number[]): number[] {
  const out: number[] = [];
  boxIds.forEach((id, i) => {
    if (modeFlagBit(status.modeFlags, i)) out.push(id);
  });
  return out;
}

/** Is the box with this permanent id (codes.ts BOX) active? False when the build does not have it. */
export const isBoxActive = (status: Pick<MspStatus, 'modeFlags'>, boxIds: readonly number[], permanentId: number): boolean =>
  modeFlagBit(status.modeFlags, boxIds.indexOf(permanentId));

// ---------------------------------------------------------------------------------------------------------
// Sensors and state
// ---------------------------------------------------------------------------------------------------------

export interface RawImu {
  /** Accelerometer, Betaflight MSP units (see `rawImuAcc1G`). */
  acc: Vec3;
  /** Gyro, deg/s, integer (Betaflight 4.x sends lrintf(gyro.gyroADCf), already filtered and scaled). */
  gyro: Vec3;
  /** Magnetometer, raw ADC counts (0 without a mag). */
  mag: Vec3;
}

/**
 * LSB per g of MSP_RAW_IMU's accelerometer. Betaflight divides accADC by 1, 2, 4 or 8 (a MultiWii-era hack,
 * msp.c MSP_RAW_IMU) so that sensors with acc_1G ≥ 512 report 1 g ≈ 512: an ICM42688P (±16 g, acc_1G 2048)
 * is divided by 4 → 512; an MPU6000 (4096) by 8 → 512. Sensors with acc_1G < 512 are sent unscaled — the
 * SITL's virtual accelerometer keeps the default acc_1G = 256 (ACC_SCALE = 256/9.80665 in sitl.c).
 */
export const rawImuAcc1G = (acc1GDevice: number): number => {
  const scale = acc1GDevice > 2048 ? 8 : acc1GDevice > 1024 ? 4 : acc1GDevice >= 512 ? 2 : 1;
  return acc1GDevice / scale;
};
export const RAW_IMU_ACC_1G_FC = 512;
export const RAW_IMU_ACC_1G_SITL = 256;

/** MSP_RAW_IMU (102): 9 × int16 — acc xyz, gyro xyz, mag xyz. */
export function decodeRawImu(p: Uint8Array): RawImu {
  const r = new Reader(p, MSP.RAW_IMU);
  const v = (): Vec3 => [r.i16(), r.i16(), r.i16()];
  return { acc: v(), gyro: v(), mag: v() };
}

export interface RawImuSi {
  /** Specific force, m/s² (level at rest ≈ (0, 0, +9.81)). */
  accMS2: Vec3;
  gyroRadS: Vec3;
}

/**
 * RAW_IMU → SI, in Betaflight's body axes. Betaflight's rate loop sign conventions (mixer table + yaw
 * negation in mixer.c) make its gyro axes roll-right +, pitch nose-down +, yaw nose-left +, i.e. the same
 * right-handed set as our FLU body; the accelerometer reads +1 g on z when level. Resolution is 1 °/s.
 * @param acc1G LSB per g on the wire: 512 on real FCs, 256 on the SITL (see `rawImuAcc1G`).
 */
export function rawImuToSi(raw: RawImu, acc1G: number = RAW_IMU_ACC_1G_FC): RawImuSi {
  const g = 9.80665;
  const d2r = Math.PI / 180;
  return {
    accMS2: [(raw.acc[0] / acc1G) * g, (raw.acc[1] / acc1G) * g, (raw.acc[2] / acc1G) * g],
    gyroRadS: [raw.gyro[0] * d2r, raw.gyro[1] * d2r, raw.gyro[2] * d2r],
  };
}

export interface Attitude {
  /** Degrees, 0.1° resolution. */
  rollDeg: number;
  /** Degrees, 0.1° resolution. */
  pitchDeg: number;
  /** Heading, whole degrees, 0..359, clockwise from north. */
  yawDeg: number;
}

/** MSP_ATTITUDE (108): int16 roll 0.1°, int16 pitch 0.1°, int16 yaw whole degrees. */
export function decodeAttitude(p: Uint8Array): Attitude {
  const r = new Reader(p, MSP.ATTITUDE);
  return { rollDeg: r.i16('roll') / 10, pitchDeg: r.i16('pitch') / 10, yawDeg: r.i16('yaw') };
}

export interface Altitude {
  /** Estimated altitude above the arming point, m (wire: int32 cm). */
  altitudeM: number;
  /** Vertical speed, m/s (wire: int16 cm/s; 0 without USE_VARIO). */
  varioMS: number;
}

/** MSP_ALTITUDE (109): int32 cm, int16 cm/s. */
export function decodeAltitude(p: Uint8Array): Altitude {
  const r = new Reader(p, MSP.ALTITUDE);
  const cm = r.i32('altitude');
  const vario = r.remaining >= 2 ? r.i16('vario') : 0;
  return { altitudeM: cm / 100, varioMS: vario / 100 };
}

/** MSP_MOTOR (104): 8 × u16 motor outputs in external units (µs-like, 1000 = stopped; 0 = no motor). */
export function decodeMotor(p: Uint8Array): number[] {
  const r = new Reader(p, MSP.MOTOR);
  const out: number[] = [];
  while (r.remaining >= 2) out.push(r.u16());
  return out;
}

/** MSP_RC (105): u16 per channel, µs, in the FC's channel order after its rx map (AETR1234 by default). */
export function decodeRc(p: Uint8Array): number[] {
  const r = new Reader(p, MSP.RC);
  const out: number[] = [];
  while (r.remaining >= 2) out.push(r.u16());
  return out;
}

// ---------------------------------------------------------------------------------------------------------
// Rates
// ---------------------------------------------------------------------------------------------------------

export const RATES_TYPE_NAMES = ['BETAFLIGHT', 'RACEFLIGHT', 'KISS', 'ACTUAL', 'QUICK'] as const;
export const RATES_TYPE = { BETAFLIGHT: 0, RACEFLIGHT: 1, KISS: 2, ACTUAL: 3, QUICK: 4 } as const;

/** One axis of a rate profile, raw firmware values (their meaning depends on the rates type). */
export interface AxisRates {
  /** rcRates[axis]: BETAFLIGHT "RC rate" × 100; ACTUAL "center sensitivity" ÷ 10 °/s. */
  rcRate: number;
  /** rates[axis]: BETAFLIGHT "super rate" × 100; ACTUAL "max rate" ÷ 10 °/s. */
  rate: number;
  /** rcExpo[axis] × 100. */
  expo: number;
  /** rate_limit[axis], °/s (API 1.42+). */
  rateLimitDegS?: number;
}

export interface RcTuning {
  ratesType: number;
  /** Name of `ratesType`, or `TYPE<n>` when unknown. */
  ratesTypeName: string;
  roll: AxisRates;
  pitch: AxisRates;
  yaw: AxisRates;
  /** thrMid8 / 100. */
  throttleMid: number;
  /** thrExpo8 / 100. */
  throttleExpo: number;
  throttleLimitType?: number;
  throttleLimitPercent?: number;
  /** thrHover8 / 100, appended by some newer builds. */
  throttleHover?: number;
}

/**
 * MSP_RC_TUNING (111), the 4.x layout (API 1.43+):
 *   0 rcRate R, 1 rcExpo R, 2 rate R, 3 rate P, 4 rate Y, 5 0 (old TPA), 6 thrMid8, 7 thrExpo8,
 *   8 u16 0 (old TPA breakpoint), 10 rcExpo Y, 11 rcRate Y, 12 rcRate P, 13 rcExpo P,
 *   14 throttle_limit_type, 15 throttle_limit_percent, 16/18/20 u16 rate_limit R/P/Y, 22 rates_type.
 * Before API 1.43 rates_type is absent (BETAFLIGHT rates assumed).
 */
export function decodeRcTuning(p: Uint8Array): RcTuning {
  const r = new Reader(p, MSP.RC_TUNING);
  const rcRateR = r.u8('rcRate roll');
  const expoR = r.u8('rcExpo roll');
  const rateR = r.u8('rate roll');
  const rateP = r.u8('rate pitch');
  const rateY = r.u8('rate yaw');
  r.u8('tpa (unused)');
  const thrMid = r.u8('thrMid');
  const thrExpo = r.u8('thrExpo');
  r.u16('tpa breakpoint (unused)');
  const expoY = r.u8('rcExpo yaw');
  const rcRateY = r.u8('rcRate yaw');
  const rcRateP = r.u8('rcRate pitch');
  const expoP = r.u8('rcExpo pitch');
  const out: RcTuning = {
    ratesType: RATES_TYPE.BETAFLIGHT,
    ratesTypeName: 'BETAFLIGHT',
    roll: { rcRate: rcRateR, rate: rateR, expo: expoR },
    pitch: { rcRate: rcRateP, rate: rateP, expo: expoP },
    yaw: { rcRate: rcRateY, rate: rateY, expo: expoY },
    throttleMid: thrMid / 100,
    throttleExpo: thrExpo / 100,
  };
  if (r.remaining >= 2) {
    out.throttleLimitType = r.u8();
    out.throttleLimitPercent = r.u8();
  }
  if (r.remaining >= 6) {
    out.roll.rateLimitDegS = r.u16();
    out.pitch.rateLimitDegS = r.u16();
    out.yaw.rateLimitDegS = r.u16();
  }
  if (r.remaining >= 1) {
    out.ratesType = r.u8();
    out.ratesTypeName = RATES_TYPE_NAMES[out.ratesType] ?? `TYPE${out.ratesType}`;
  }
  if (r.remaining >= 1) out.throttleHover = r.u8() / 100;
  return out;
}

/**
 * ACTUAL rates → the simulator's RcRates shape (sim/types.ts): center sensitivity = rcRate × 10 °/s,
 * max rate = rate × 10 °/s, expo = rcExpo / 100, per axis [roll, pitch, yaw]. Undefined for other types.
 */
export function actualRatesOf(t: RcTuning): { centerDegS: Vec3; maxDegS: Vec3; expo: Vec3 } | undefined {
  if (t.ratesType !== RATES_TYPE.ACTUAL) return undefined;
  const axes = [t.roll, t.pitch, t.yaw] as const;
  return {
    centerDegS: [axes[0].rcRate * 10, axes[1].rcRate * 10, axes[2].rcRate * 10],
    maxDegS: [axes[0].rate * 10, axes[1].rate * 10, axes[2].rate * 10],
    expo: [axes[0].expo / 100, axes[1].expo / 100, axes[2].expo / 100],
  };
}

// ---------------------------------------------------------------------------------------------------------
// Modes
// ---------------------------------------------------------------------------------------------------------

export interface ModeRange {
  /** Slot index 0..19 (MAX_MODE_ACTIVATION_CONDITION_COUNT = 20). */
  index: number;
  /** Box permanent id (codes.ts BOX). */
  permanentId: number;
  /** 0 = AUX1 (RC channel 5). */
  auxChannelIndex: number;
  startStep: number;
  endStep: number;
  /** 900 + 25 × step. */
  startUs: number;
  endUs: number;
}

/** MSP_MODE_RANGES (34): per slot [permanentId, auxChannelIndex, startStep, endStep]. Unused slots are 0..0. */
export function decodeModeRanges(p: Uint8Array): ModeRange[] {
  const r = new Reader(p, MSP.MODE_RANGES);
  const out: ModeRange[] = [];
  for (let index = 0; r.remaining >= 4; index++) {
    const permanentId = r.u8();
    const auxChannelIndex = r.u8();
    const startStep = r.u8();
    const endStep = r.u8();
    out.push({ index, permanentId, auxChannelIndex, startStep, endStep, startUs: modeStepToUs(startStep), endUs: modeStepToUs(endStep) });
  }
  return out;
}

/** Mode ranges that can ever activate (start < end). */
export const usedModeRanges = (ranges: readonly ModeRange[]): ModeRange[] => ranges.filter((m) => m.endStep > m.startStep);

/** MSP_BOXIDS (119): the permanent id of each active box, in mode-flag bit order. */
export const decodeBoxIds = (p: Uint8Array): number[] => Array.from(p);

/** MSP_BOXNAMES (116): ';'-terminated names in mode-flag bit order ("ARM;ANGLE;...;"). */
export function decodeBoxNames(p: Uint8Array): string[] {
  const names = latin1(p).split(';');
  if (names.length > 0 && names[names.length - 1] === '') names.pop();
  return names;
}

export interface SetModeRange {
  /** Slot 0..19. */
  index: number;
  permanentId: number;
  auxChannelIndex: number;
  startStep: number;
  endStep: number;
  /** Optional (API 1.41+): 0 = OR, 1 = AND; both or neither of modeLogic/linkedTo. */
  modeLogic?: number;
  /** Optional: permanent id of a linked mode. */
  linkedTo?: number;
}

/**
 * MSP_SET_MODE_RANGE (35) payload: [index, permanentId, auxChannelIndex, startStep, endStep] (5 bytes), or 7
 * with [modeLogic, linkedTo]. ARM on AUX1 1700..2100 µs = [0, 0, 0, 32, 48]. Persist with MSP_EEPROM_WRITE.
 */
export function encodeSetModeRange(m: SetModeRange): Buffer {
  const fields = [m.index, m.permanentId, m.auxChannelIndex, m.startStep, m.endStep];
  if ((m.modeLogic === undefined) !== (m.linkedTo === undefined)) {
    throw new RangeError('SET_MODE_RANGE: give both modeLogic and linkedTo, or neither');
  }
  if (m.modeLogic !== undefined && m.linkedTo !== undefined) fields.push(m.modeLogic, m.linkedTo);
  for (const v of fields) if (!Number.isInteger(v) || v < 0 || v > 255) throw new RangeError(`SET_MODE_RANGE: field ${v} is not a u8`);
  if (m.startStep > 48 || m.endStep > 48) throw new RangeError('SET_MODE_RANGE: steps go 0..48 (900..2100 µs)');
  return Buffer.from(fields);
}

/** Mode range from µs bounds (rounded down to Betaflight's 25 µs steps). */
export const modeRangeFromUs = (
  index: number,
  permanentId: number,
  auxChannelIndex: number,
  startUs: number,
  endUs: number,
): SetModeRange => ({ index, permanentId, auxChannelIndex, startStep: usToModeStep(startUs), endStep: usToModeStep(endUs) });

// ---------------------------------------------------------------------------------------------------------
// Receiver and failsafe configuration (does the FC fail safe on its own when the companion goes quiet?)
// ---------------------------------------------------------------------------------------------------------

/** Feature bits of MSP_FEATURE_CONFIG that matter to a companion (Betaflight src/main/config/feature.h). */
export const FEATURE = {
  RX_PPM: 1 << 0,
  RX_SERIAL: 1 << 3,
  GPS: 1 << 7,
  RX_PARALLEL_PWM: 1 << 13,
  /** MSP_SET_RAW_RC is the receiver: MSP silence is RX loss, so the FC's own failsafe covers a dead companion. */
  RX_MSP: 1 << 14,
  RX_SPI: 1 << 25,
} as const;

/** MSP_FEATURE_CONFIG (36): u32 enabled-feature mask. */
export const decodeFeatureConfig = (p: Uint8Array): number => new Reader(p, MSP.FEATURE_CONFIG).u32('feature mask');

export const FAILSAFE_PROCEDURE_NAMES = ['AUTO-LAND', 'DROP', 'GPS-RESCUE'] as const;

export interface FailsafeConfig {
  /** Stage-1 guard time after the signal is lost, s (wire: failsafe_delay, 0.1 s units). */
  delayS: number;
  /** Landing time before the motors stop (AUTO-LAND), s (wire: 0.1 s units). */
  offDelayS: number;
  /** Throttle while landing, µs. */
  throttleUs: number;
  /** failsafe_switch_mode (0 stage 1, 1 kill, 2 stage 2). */
  switchMode: number;
  /** failsafe_procedure: 0 AUTO-LAND, 1 DROP, 2 GPS-RESCUE. */
  procedure: number;
  procedureName: string;
}

/**
 * MSP_FAILSAFE_CONFIG (75): u8 failsafe_delay, u8 failsafe_off_delay, u16 failsafe_throttle, u8 switch mode,
 * u16 failsafe_throttle_low_delay, u8 failsafe_procedure (newer builds append fields; they are ignored).
 */
export function decodeFailsafeConfig(p: Uint8Array): FailsafeConfig {
  const r = new Reader(p, MSP.FAILSAFE_CONFIG);
  const delayS = r.u8('failsafe_delay') / 10;
  const offDelayS = r.u8('failsafe_off_delay') / 10;
  const throttleUs = r.u16('failsafe_throttle');
  const switchMode = r.u8('failsafe_switch_mode');
  r.u16('failsafe_throttle_low_delay');
  const procedure = r.u8('failsafe_procedure');
  return { delayS, offDelayS, throttleUs, switchMode, procedure, procedureName: FAILSAFE_PROCEDURE_NAMES[procedure] ?? `PROCEDURE${procedure}` };
}

// ---------------------------------------------------------------------------------------------------------
// Commands
// ---------------------------------------------------------------------------------------------------------

/** Betaflight rejects more (MAX_SUPPORTED_RC_CHANNEL_COUNT). */
export const MSP_MAX_RC_CHANNELS = 18;

const checkChannels = (channels: ArrayLike<number>): void => {
  if (channels.length < 1 || channels.length > MSP_MAX_RC_CHANNELS) {
    throw new RangeError(`SET_RAW_RC: ${channels.length} channels (1..${MSP_MAX_RC_CHANNELS})`);
  }
  for (let i = 0; i < channels.length; i++) {
    const v = channels[i]!;
    if (!Number.isFinite(v) || v < 0 || v > 0xffff) throw new RangeError(`SET_RAW_RC: channel ${i} = ${v}`);
  }
};

/**
 * MSP_SET_RAW_RC (200) payload: n × u16 µs, in the FC's channel order (AETR1234 by default, after rx map).
 * Values are rounded, not clamped: range policy belongs to the guard stage, not to the codec.
 */
export function encodeSetRawRc(channels: ArrayLike<number>): Buffer {
  checkChannels(channels);
  const out = Buffer.allocUnsafe(channels.length * 2);
  for (let i = 0; i < channels.length; i++) out.writeUInt16LE(Math.round(channels[i]!), i * 2);
  return out;
}

/**
 * Write a complete `$M<` SET_RAW_RC frame into `target` without allocating (the per-tick command path).
 * @returns bytes written: 6 + 2n (22 for 8 channels, 38 for 16).
 */
export function writeSetRawRcFrame(target: Uint8Array, offset: number, channels: ArrayLike<number>): number {
  checkChannels(channels);
  const size = channels.length * 2;
  const total = mspV1FrameLength(size);
  if (offset < 0 || offset + total > target.length) throw new RangeError('target too small for SET_RAW_RC frame');
  let p = offset;
  target[p++] = 0x24;
  target[p++] = 0x4d;
  target[p++] = 0x3c;
  target[p++] = size;
  target[p++] = MSP.SET_RAW_RC;
  let x = size ^ MSP.SET_RAW_RC;
  for (let i = 0; i < channels.length; i++) {
    const v = Math.round(channels[i]!);
    const lo = v & 0xff;
    const hi = v >>> 8;
    target[p++] = lo;
    target[p++] = hi;
    x ^= lo ^ hi;
  }
  target[p] = x;
  return total;
}

/** MSP_MULTIPLE_MSP (230) request payload: the out-commands (ids ≤ 254, no arguments) to batch. */
export function encodeMultipleMspRequest(cmds: readonly number[]): Buffer {
  for (const c of cmds) if (!Number.isInteger(c) || c < 0 || c > 254) throw new RangeError(`MULTIPLE_MSP: command ${c}`);
  return Buffer.from(cmds);
}

/**
 * MSP_MULTIPLE_MSP reply: [u8 len][payload] per requested command, in request order, truncated when the FC's
 * TX buffer filled up (so fewer entries than requested is normal).
 */
export function decodeMultipleMspReply(p: Uint8Array, cmds: readonly number[]): { cmd: number; payload: Buffer }[] {
  const r = new Reader(p, MSP.MULTIPLE_MSP);
  const out: { cmd: number; payload: Buffer }[] = [];
  for (const cmd of cmds) {
    if (r.remaining < 1) break;
    const len = r.u8('entry length');
    out.push({ cmd, payload: Buffer.from(r.bytes(len, 'entry payload')) });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------
// Stream stage 2: frames → typed messages
// ---------------------------------------------------------------------------------------------------------

/** Reply payload type per command name. */
export interface MspReplyTypes {
  API_VERSION: ApiVersion;
  FC_VARIANT: string;
  FC_VERSION: FcVersion;
  BOARD_INFO: BoardInfo;
  BUILD_INFO: BuildInfo;
  STATUS: MspStatus;
  STATUS_EX: MspStatus;
  RAW_IMU: RawImu;
  MOTOR: number[];
  RC: number[];
  ATTITUDE: Attitude;
  ALTITUDE: Altitude;
  RC_TUNING: RcTuning;
  MODE_RANGES: ModeRange[];
  BOXNAMES: string[];
  BOXIDS: number[];
}

export type MspReplyName = keyof MspReplyTypes;

const REPLY_DECODERS: { [K in MspReplyName]: (p: Uint8Array) => MspReplyTypes[K] } = {
  API_VERSION: decodeApiVersion,
  FC_VARIANT: decodeFcVariant,
  FC_VERSION: decodeFcVersion,
  BOARD_INFO: decodeBoardInfo,
  BUILD_INFO: decodeBuildInfo,
  STATUS: (p) => decodeStatus(p, MSP.STATUS),
  STATUS_EX: (p) => decodeStatus(p, MSP.STATUS_EX),
  RAW_IMU: decodeRawImu,
  MOTOR: decodeMotor,
  RC: decodeRc,
  ATTITUDE: decodeAttitude,
  ALTITUDE: decodeAltitude,
  RC_TUNING: decodeRcTuning,
  MODE_RANGES: decodeModeRanges,
  BOXNAMES: decodeBoxNames,
  BOXIDS: decodeBoxIds,
};

const REPLY_NAME_BY_CMD = new Map<number, MspReplyName>(
  (Object.keys(REPLY_DECODERS) as MspReplyName[]).map((name) => [MSP[name], name]),
);

/** A decoded reply, discriminated by `name`. */
export type MspReply = {
  [K in MspReplyName]: { kind: 'reply'; name: K; cmd: number; data: MspReplyTypes[K]; frame: MspFrame };
}[MspReplyName];

export type MspMessage =
  | MspReply
  /** An empty '>' reply: the FC's acknowledgement of a SET_* / action command. */
  | { kind: 'ack'; cmd: number; frame: MspFrame }
  /** '!': the FC rejected or does not know the command. */
  | { kind: 'error'; cmd: number; frame: MspFrame }
  /** A frame without a decoder here (or a request, direction '<'). */
  | { kind: 'raw'; cmd: number; frame: MspFrame }
  /** A reply whose payload did not fit its message layout. */
  | { kind: 'malformed'; cmd: number; frame: MspFrame; reason: string };

/** Frame → message. Never throws: payloads that do not fit become `malformed`. */
export function decodeMspMessage(frame: MspFrame): MspMessage {
  const cmd = frame.cmd;
  const dir: MspDirection = frame.direction;
  if (dir === '!') return { kind: 'error', cmd, frame };
  if (dir === '<') return { kind: 'raw', cmd, frame };
  // v2 frames may carry v1 command ids too; Betaflight answers them identically.
  const name = REPLY_NAME_BY_CMD.get(cmd);
  if (name === undefined) return frame.payload.length === 0 ? { kind: 'ack', cmd, frame } : { kind: 'raw', cmd, frame };
  try {
    const data = REPLY_DECODERS[name](frame.payload);
    return { kind: 'reply', name, cmd, data, frame } as MspReply;
  } catch (e) {
    return { kind: 'malformed', cmd, frame, reason: e instanceof Error ? e.message : String(e) };
  }
}

export interface MspParserStats {
  messages: number;
  replies: number;
  errors: number;
  malformed: number;
}

/** Stream stage 2 (parser): `MspFrame` objects in (from `MspSplitter`), `MspMessage` objects out. */
export class MspParser extends Transform {
  readonly stats: MspParserStats = { messages: 0, replies: 0, errors: 0, malformed: 0 };

  constructor() {
    super({ readableObjectMode: true, writableObjectMode: true });
  }

  override _transform(frame: MspFrame, _encoding: BufferEncoding, callback: TransformCallback): void {
    const m = decodeMspMessage(frame);
    this.stats.messages++;
    if (m.kind === 'reply') this.stats.replies++;
    else if (m.kind === 'error') this.stats.errors++;
    else if (m.kind === 'malformed') this.stats.malformed++;
    callback(null, m);
  }
}
