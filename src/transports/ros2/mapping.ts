/**
 * ROS 2 messages ↔ brainpilot's tracts, as plain TypeScript (no rclnodejs), so every conversion is
 * unit-tested without a ROS 2 installation. Messages are the plain objects rclnodejs delivers and
 * accepts: field names as in the .msg definitions (`header.stamp.sec/nanosec`, `is_bigendian`,
 * `angular_velocity`...), `uint8[]` as Uint8Array, `float64[9]` as Float64Array or number[], 64-bit
 * integers as bigint.
 *
 * Conventions: REP-103 at the ROS boundary (ENU world, FLU body, SI units) is already the core's,
 * so sensor_msgs pass through unchanged; PX4's px4_msgs are NED/FRD and converted here only.
 *
 * Nothing here throws on input: every malformed message becomes a typed reject (the daemon counts it
 * and drops the sample). An unknown field is 'malformed': a message of another type (or another
 * version of it) published on our topic must not be read as ours.
 */
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import type { PerceptionReport, RejectKind } from '../../daemon/transport.js';
import type { HealthSnapshot } from '../../daemon/daemon.js';
import type { CameraFrame, CameraIntrinsics, CameraMount, CtbrCommand, ImuSample } from '../../tracts/io.js';

export type { PerceptionReport };

export type MapResult<T> = { ok: true; value: T } | { ok: false; kind: RejectKind; detail: string };

const ok = <T>(value: T): MapResult<T> => ({ ok: true, value });
const bad = <T>(kind: RejectKind, detail: string): MapResult<T> => ({ ok: false, kind, detail });

// ---------------------------------------------------------------------------------------------------
// Message shapes (as rclnodejs delivers them)
// ---------------------------------------------------------------------------------------------------

export interface TimeMsg {
  sec: number;
  nanosec: number;
}
export interface HeaderMsg {
  stamp: TimeMsg;
  frame_id: string;
}
export interface Vector3Msg {
  x: number;
  y: number;
  z: number;
}
export interface QuaternionMsg extends Vector3Msg {
  w: number;
}
type F64Array = Float64Array | number[];
type F32Array = Float32Array | number[];

/** sensor_msgs/msg/Image */
export interface ImageMsg {
  header: HeaderMsg;
  height: number;
  width: number;
  encoding: string;
  is_bigendian: number;
  step: number;
  data: Uint8Array | number[];
}
/** sensor_msgs/msg/CompressedImage */
export interface CompressedImageMsg {
  header: HeaderMsg;
  format: string;
  data: Uint8Array | number[];
}
/** sensor_msgs/msg/CameraInfo (only K and the size are read; the rest is checked for shape). */
export interface CameraInfoMsg {
  header: HeaderMsg;
  height: number;
  width: number;
  distortion_model: string;
  d: F64Array;
  k: F64Array;
  r: F64Array;
  p: F64Array;
  binning_x: number;
  binning_y: number;
  roi: { x_offset: number; y_offset: number; height: number; width: number; do_rectify: boolean };
}
/** sensor_msgs/msg/Imu */
export interface ImuMsg {
  header: HeaderMsg;
  orientation: QuaternionMsg;
  orientation_covariance: F64Array;
  angular_velocity: Vector3Msg;
  angular_velocity_covariance: F64Array;
  linear_acceleration: Vector3Msg;
  linear_acceleration_covariance: F64Array;
}
/** px4_msgs/msg/SensorCombined (PX4 v1.14+; FRD body, timestamp µs on PX4's clock). */
export interface Px4SensorCombinedMsg {
  timestamp: bigint | number;
  gyro_rad: F32Array;
  gyro_integral_dt: number;
  accelerometer_timestamp_relative: number;
  accelerometer_m_s2: F32Array;
  accelerometer_integral_dt: number;
  accelerometer_clipping: number;
  gyro_clipping: number;
  accel_calibration_count: number;
  gyro_calibration_count: number;
}
/** geometry_msgs/msg/TwistStamped, brainpilot's CTBR command (see ctbrToTwistStamped). */
export interface TwistStampedMsg {
  header: HeaderMsg;
  twist: { linear: Vector3Msg; angular: Vector3Msg };
}
/** actuator_msgs/msg/Actuators (Gazebo's multicopter motor model through ros_gz_bridge). */
export interface ActuatorsMsg {
  header: HeaderMsg;
  position: number[];
  velocity: number[];
  normalized: number[];
}
/** px4_msgs/msg/VehicleRatesSetpoint (FRD body rates, rad/s; thrust_body normalised, FRD). */
export interface Px4VehicleRatesSetpointMsg {
  timestamp: bigint;
  roll: number;
  pitch: number;
  yaw: number;
  thrust_body: [number, number, number];
  reset_integral: boolean;
}
/** px4_msgs/msg/OffboardControlMode (PX4 v1.15+ field set). */
export interface Px4OffboardControlModeMsg {
  timestamp: bigint;
  position: boolean;
  velocity: boolean;
  acceleration: boolean;
  attitude: boolean;
  body_rate: boolean;
  thrust_and_torque: boolean;
  direct_actuator: boolean;
}
/** px4_msgs/msg/VehicleCommand (only what a disarm needs is set; the rest keeps its defaults). */
export interface Px4VehicleCommandMsg {
  timestamp: bigint;
  param1: number;
  param2: number;
  command: number;
  target_system: number;
  target_component: number;
  source_system: number;
  source_component: number;
  from_external: boolean;
}
/** diagnostic_msgs/msg/DiagnosticArray */
export interface DiagnosticArrayMsg {
  header: HeaderMsg;
  status: { level: number; name: string; message: string; hardware_id: string; values: { key: string; value: string }[] }[];
}
/** vision_msgs/msg/Detection2DArray (vision_msgs ≥ 4: Pose2D center with position + theta). */
export interface Detection2DArrayMsg {
  header: HeaderMsg;
  detections: {
    header: HeaderMsg;
    results: {
      hypothesis: { class_id: string; score: number };
      pose: { pose: { position: Vector3Msg; orientation: QuaternionMsg }; covariance: number[] };
    }[];
    bbox: { center: { position: { x: number; y: number }; theta: number }; size_x: number; size_y: number };
    id: string;
  }[];
}

// ---------------------------------------------------------------------------------------------------
// Shape checks
// ---------------------------------------------------------------------------------------------------

class Malformed extends Error {
  constructor(
    readonly kind: RejectKind,
    detail: string,
  ) {
    super(detail);
  }
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v) && !ArrayBuffer.isView(v);

/** Exactly these keys: a missing one or an unknown one is malformed. */
function keys(v: unknown, allowed: readonly string[], where: string): Record<string, unknown> {
  if (!isObj(v)) throw new Malformed('malformed', `${where}: expected a message object, got ${typeName(v)}`);
  for (const k of Object.keys(v)) if (!allowed.includes(k)) throw new Malformed('malformed', `${where}: unknown field "${k}"`);
  for (const k of allowed) if (!(k in v)) throw new Malformed('malformed', `${where}: missing field "${k}"`);
  return v;
}

const typeName = (v: unknown): string => (v === null ? 'null' : Array.isArray(v) ? 'array' : ArrayBuffer.isView(v) ? v.constructor.name : typeof v);

function num(v: unknown, where: string): number {
  if (typeof v !== 'number') throw new Malformed('malformed', `${where}: expected a number, got ${typeName(v)}`);
  if (!Number.isFinite(v)) throw new Malformed('non-finite', `${where} is ${v}`);
  return v;
}

function uint(v: unknown, where: string, max = 0xffffffff): number {
  const n = num(v, where);
  if (!Number.isInteger(n) || n < 0 || n > max) throw new Malformed('malformed', `${where}: expected an integer in [0, ${max}], got ${n}`);
  return n;
}

function str(v: unknown, where: string): string {
  if (typeof v !== 'string') throw new Malformed('malformed', `${where}: expected a string, got ${typeName(v)}`);
  return v;
}

function bool(v: unknown, where: string): boolean {
  if (typeof v !== 'boolean') throw new Malformed('malformed', `${where}: expected a boolean, got ${typeName(v)}`);
  return v;
}

function bytes(v: unknown, where: string): Uint8Array {
  if (v instanceof Uint8Array) return v;
  // rclnodejs with enableTypedArray: false delivers uint8[] as number[]
  if (Array.isArray(v)) {
    const out = new Uint8Array(v.length);
    for (let i = 0; i < v.length; i++) {
      const b = v[i];
      if (typeof b !== 'number' || !Number.isInteger(b) || b < 0 || b > 255) throw new Malformed('malformed', `${where}[${i}]: not a byte`);
      out[i] = b;
    }
    return out;
  }
  throw new Malformed('malformed', `${where}: expected Uint8Array, got ${typeName(v)}`);
}

/** A fixed-size float array (typed or plain); finiteness is checked only where it is read. */
function floats(v: unknown, n: number, where: string): ArrayLike<number> {
  if (v instanceof Float64Array || v instanceof Float32Array || Array.isArray(v)) {
    if (v.length !== n) throw new Malformed('malformed', `${where}: expected ${n} elements, got ${v.length}`);
    for (let i = 0; i < v.length; i++) if (typeof v[i] !== 'number') throw new Malformed('malformed', `${where}[${i}]: expected a number`);
    return v as ArrayLike<number>;
  }
  throw new Malformed('malformed', `${where}: expected a float array, got ${typeName(v)}`);
}

function vec3(v: unknown, where: string): [number, number, number] {
  const o = keys(v, ['x', 'y', 'z'], where);
  return [num(o['x'], `${where}.x`), num(o['y'], `${where}.y`), num(o['z'], `${where}.z`)];
}

/** builtin_interfaces/Time → seconds (sec may be negative only in theory; we refuse it). */
function stamp(v: unknown, where: string): number {
  const o = keys(v, ['sec', 'nanosec'], where);
  const sec = o['sec'];
  const ns = o['nanosec'];
  if (typeof sec !== 'number' || !Number.isInteger(sec) || sec < 0) throw new Malformed('time', `${where}.sec: expected an integer ≥ 0, got ${String(sec)}`);
  if (typeof ns !== 'number' || !Number.isInteger(ns) || ns < 0 || ns >= 1e9) throw new Malformed('time', `${where}.nanosec: expected an integer in [0, 1e9), got ${String(ns)}`);
  return sec + ns / 1e9;
}

function header(v: unknown, where: string): { stampS: number; frameId: string } {
  const o = keys(v, ['stamp', 'frame_id'], where);
  return { stampS: stamp(o['stamp'], `${where}.stamp`), frameId: str(o['frame_id'], `${where}.frame_id`) };
}

function guard<T>(fn: () => T): MapResult<T> {
  try {
    return ok(fn());
  } catch (e) {
    if (e instanceof Malformed) return bad(e.kind, e.message);
    return bad('malformed', e instanceof Error ? e.message : String(e));
  }
}

/** Seconds → builtin_interfaces/Time (clamped at 0; nanosec rounded without reaching 1e9). */
export function toTimeMsg(tS: number): TimeMsg {
  const t = Number.isFinite(tS) && tS > 0 ? tS : 0;
  let sec = Math.floor(t);
  let nanosec = Math.round((t - sec) * 1e9);
  if (nanosec >= 1e9) {
    sec += 1;
    nanosec -= 1e9;
  }
  return { sec, nanosec };
}

// ---------------------------------------------------------------------------------------------------
// Camera
// ---------------------------------------------------------------------------------------------------

export interface FrameContext {
  seq: number;
  /** When the frame became available, on the sensor clock (see node.ts); at least the stamp. */
  arrivalS: number;
  /** From the latest CameraInfo, or the config's; must match the image size. */
  intrinsics: CameraIntrinsics;
  mount: CameraMount;
}

const IMAGE_FIELDS = ['header', 'height', 'width', 'encoding', 'is_bigendian', 'step', 'data'] as const;
/** Bytes per pixel of the encodings we take; bgr8/rgba8/bgra8 are converted to rgb8. */
const BPP: Record<string, number> = { mono8: 1, rgb8: 3, bgr8: 3, rgba8: 4, bgra8: 4, '8UC1': 1, '8UC3': 3 };

/**
 * sensor_msgs/msg/Image → CameraFrame (mono8 or rgb8, rows packed: step = width × bpp). mono8 and
 * rgb8 without row padding are passed through without a copy; padded rows are repacked; bgr8,
 * rgba8 and bgra8 are converted to rgb8. 8UC1/8UC3 are read as mono8/bgr8 (OpenCV's conventions).
 */
export function imageToFrame(msg: unknown, ctx: FrameContext): MapResult<CameraFrame> {
  return guard(() => {
    const m = keys(msg, IMAGE_FIELDS, 'Image');
    const { stampS } = header(m['header'], 'Image.header');
    const width = uint(m['width'], 'Image.width');
    const height = uint(m['height'], 'Image.height');
    const encoding = str(m['encoding'], 'Image.encoding');
    const bigEndian = m['is_bigendian'];
    // 8-bit encodings have no byte order, but anything other than 0/1 means a broken publisher
    if (bigEndian !== 0 && bigEndian !== 1 && bigEndian !== false && bigEndian !== true) throw new Malformed('malformed', `Image.is_bigendian: expected 0 or 1, got ${String(bigEndian)}`);
    const step = uint(m['step'], 'Image.step');
    const data = bytes(m['data'], 'Image.data');
    const bpp = BPP[encoding];
    if (bpp === undefined) throw new Malformed('encoding', `Image.encoding "${encoding}" (takes mono8, rgb8, bgr8, rgba8, bgra8)`);
    if (width === 0 || height === 0) throw new Malformed('encoding', `Image size ${width}×${height}`);
    if (step < width * bpp) throw new Malformed('decode', `Image.step ${step} < width ${width} × ${bpp} bytes (${encoding})`);
    if (data.length !== step * height) throw new Malformed('decode', `Image.data has ${data.length} bytes, step × height = ${step * height}`);
    const k = ctx.intrinsics;
    if (k.width !== width || k.height !== height) throw new Malformed('encoding', `Image ${width}×${height} but the camera intrinsics are for ${k.width}×${k.height} (publish a matching CameraInfo or set camera.width/height)`);
    const outEnc = bpp === 1 ? 'mono8' : 'rgb8';
    const outBpp = bpp === 1 ? 1 : 3;
    const rowOut = width * outBpp;
    let out: Uint8Array;
    if ((encoding === 'mono8' || encoding === '8UC1' || encoding === 'rgb8') && step === rowOut) {
      out = data;
    } else if (encoding === 'mono8' || encoding === '8UC1' || encoding === 'rgb8') {
      out = new Uint8Array(rowOut * height);
      for (let r = 0; r < height; r++) out.set(data.subarray(r * step, r * step + rowOut), r * rowOut);
    } else {
      out = new Uint8Array(rowOut * height);
      // red's and blue's byte offsets in the source pixel (constant per image: a tight inner loop)
      const swap = encoding === 'bgr8' || encoding === 'bgra8' || encoding === '8UC3';
      const rOff = swap ? 2 : 0, bOff = swap ? 0 : 2;
      for (let r = 0; r < height; r++) {
        let i = r * step;
        const end = r * rowOut + rowOut;
        for (let o = r * rowOut; o < end; o += 3, i += bpp) {
          out[o] = data[i + rOff]!;
          out[o + 1] = data[i + 1]!;
          out[o + 2] = data[i + bOff]!;
        }
      }
    }
    return { stampS, arrivalS: Math.max(stampS, ctx.arrivalS), seq: ctx.seq, encoding: outEnc, width, height, step: rowOut, data: out, intrinsics: k, mount: ctx.mount };
  });
}

/** Largest compressed image we decode (a 4K frame is 8.3 MP): a bomb must not eat the Jetson's memory. */
const MAX_DECODE_MP = 9;

/** The fields of a CompressedImage, checked (shared by the sync and async paths). */
function compressedFields(msg: unknown): { stampS: number; format: string; data: Uint8Array } {
  const m = keys(msg, ['header', 'format', 'data'], 'CompressedImage');
  const { stampS } = header(m['header'], 'CompressedImage.header');
  const format = str(m['format'], 'CompressedImage.format').toLowerCase();
  const data = bytes(m['data'], 'CompressedImage.data');
  return { stampS, format, data };
}

const isJpeg = (format: string): boolean => format.includes('jpeg') || format.includes('jpg');

function decodeCompressedSync(format: string, data: Uint8Array): { width: number; height: number; rgb: Uint8Array } {
  if (isJpeg(format)) {
    let img: { width: number; height: number; data: Uint8Array };
    try {
      img = jpeg.decode(data, { useTArray: true, formatAsRGBA: false, maxResolutionInMP: MAX_DECODE_MP, maxMemoryUsageInMB: 256 });
    } catch (e) {
      throw new Malformed('decode', `CompressedImage: JPEG does not decode (${e instanceof Error ? e.message : String(e)})`);
    }
    return { width: img.width, height: img.height, rgb: img.data };
  }
  if (format.includes('png')) {
    let img: { width: number; height: number; data: Uint8Array };
    try {
      img = PNG.sync.read(Buffer.from(data.buffer, data.byteOffset, data.byteLength));
    } catch (e) {
      throw new Malformed('decode', `CompressedImage: PNG does not decode (${e instanceof Error ? e.message : String(e)})`);
    }
    const { width, height } = img;
    if (width * height > MAX_DECODE_MP * 1e6) throw new Malformed('decode', `CompressedImage: PNG ${width}×${height} is larger than ${MAX_DECODE_MP} MP`);
    const rgb = new Uint8Array(width * height * 3);
    for (let i = 0, o = 0; o < rgb.length; i += 4, o += 3) {
      rgb[o] = img.data[i]!;
      rgb[o + 1] = img.data[i + 1]!;
      rgb[o + 2] = img.data[i + 2]!;
    }
    return { width, height, rgb };
  }
  throw new Malformed('encoding', `CompressedImage.format "${format}" (takes jpeg, png)`);
}

function compressedFrame(stampS: number, d: { width: number; height: number; rgb: Uint8Array }, ctx: FrameContext): CameraFrame {
  const { width, height, rgb } = d;
  if (rgb.length !== width * height * 3) throw new Malformed('decode', `CompressedImage: decoded ${rgb.length} bytes for ${width}×${height} rgb8`);
  const k = ctx.intrinsics;
  if (k.width !== width || k.height !== height) throw new Malformed('encoding', `CompressedImage ${width}×${height} but the camera intrinsics are for ${k.width}×${k.height} (publish a matching CameraInfo or set camera.width/height)`);
  return { stampS, arrivalS: Math.max(stampS, ctx.arrivalS), seq: ctx.seq, encoding: 'rgb8', width, height, step: width * 3, data: rgb, intrinsics: k, mount: ctx.mount };
}

/** sensor_msgs/msg/CompressedImage (jpeg or png) → rgb8 CameraFrame. */
export function compressedToFrame(msg: unknown, ctx: FrameContext): MapResult<CameraFrame> {
  return guard(() => {
    const { stampS, format, data } = compressedFields(msg);
    return compressedFrame(stampS, decodeCompressedSync(format, data), ctx);
  });
}

/** A JPEG decoder that does not block the event loop (sharp / libjpeg-turbo on libuv's pool). */
export type AsyncJpegDecoder = (jpeg: Uint8Array, maxMP: number) => Promise<{ ok: boolean; width: number; height: number; data: Uint8Array; error?: string }>;

/**
 * The same mapping with the JPEG decoded off the event loop: ≈ 1.6 ms on the thread pool instead of
 * ≈ 20 ms of jpeg-js blocking the IMU stream and the command clock. PNG stays synchronous.
 */
export async function compressedToFrameAsync(msg: unknown, ctx: FrameContext, decode: AsyncJpegDecoder): Promise<MapResult<CameraFrame>> {
  const f = guard(() => compressedFields(msg));
  if (!f.ok) return f;
  const { stampS, format, data } = f.value;
  if (!isJpeg(format)) return guard(() => compressedFrame(stampS, decodeCompressedSync(format, data), ctx));
  const r = await decode(data, MAX_DECODE_MP);
  return guard(() => {
    if (!r.ok) throw new Malformed('decode', `CompressedImage: JPEG does not decode (${r.error ?? 'unknown error'})`);
    return compressedFrame(stampS, { width: r.width, height: r.height, rgb: r.data }, ctx);
  });
}

const CAMERA_INFO_FIELDS = ['header', 'height', 'width', 'distortion_model', 'd', 'k', 'r', 'p', 'binning_x', 'binning_y', 'roi'] as const;

/**
 * sensor_msgs/msg/CameraInfo → intrinsics from K = [fx 0 cx; 0 fy cy; 0 0 1] (row-major). Binning
 * scales K to the delivered image. Distortion is not undone: the detector assumes a pinhole image
 * (Gazebo's cameras are; a real camera should publish rectified images, image_proc).
 */
export function cameraInfoToIntrinsics(msg: unknown): MapResult<CameraIntrinsics> {
  return guard(() => {
    const m = keys(msg, CAMERA_INFO_FIELDS, 'CameraInfo');
    header(m['header'], 'CameraInfo.header');
    const width = uint(m['width'], 'CameraInfo.width');
    const height = uint(m['height'], 'CameraInfo.height');
    str(m['distortion_model'], 'CameraInfo.distortion_model');
    const d = m['d'];
    if (!(d instanceof Float64Array || Array.isArray(d))) throw new Malformed('malformed', `CameraInfo.d: expected a float array, got ${typeName(d)}`);
    const k = floats(m['k'], 9, 'CameraInfo.k');
    floats(m['r'], 9, 'CameraInfo.r');
    floats(m['p'], 12, 'CameraInfo.p');
    const bx = uint(m['binning_x'], 'CameraInfo.binning_x');
    const by = uint(m['binning_y'], 'CameraInfo.binning_y');
    keys(m['roi'], ['x_offset', 'y_offset', 'height', 'width', 'do_rectify'], 'CameraInfo.roi');
    if (width === 0 || height === 0) throw new Malformed('encoding', `CameraInfo size ${width}×${height} (uncalibrated camera?)`);
    const fx = num(k[0], 'CameraInfo.k[0]'), cx = num(k[2], 'CameraInfo.k[2]'), fy = num(k[4], 'CameraInfo.k[4]'), cy = num(k[5], 'CameraInfo.k[5]');
    if (!(fx > 0 && fy > 0)) throw new Malformed('decode', `CameraInfo.k: fx ${fx}, fy ${fy} must be > 0 (all-zero K = uncalibrated)`);
    // binning 0 and 1 both mean "no binning" (REP-104)
    const sx = bx > 1 ? bx : 1, sy = by > 1 ? by : 1;
    return { width: Math.floor(width / sx), height: Math.floor(height / sy), fx: fx / sx, fy: fy / sy, cx: cx / sx, cy: cy / sy };
  });
}

// ---------------------------------------------------------------------------------------------------
// IMU
// ---------------------------------------------------------------------------------------------------

const IMU_FIELDS = ['header', 'orientation', 'orientation_covariance', 'angular_velocity', 'angular_velocity_covariance', 'linear_acceleration', 'linear_acceleration_covariance'] as const;

/**
 * sensor_msgs/msg/Imu → ImuSample. REP-103/REP-145: angular velocity in the body (FLU) frame and
 * linear acceleration as specific force (+9.81 up at rest), which is the tract's convention. The
 * orientation is not read (the vestibular region estimates its own); covariance[0] = −1 marks a
 * field the driver does not provide, which is fatal only for the two we read.
 */
export function imuToSample(msg: unknown): MapResult<ImuSample> {
  return guard(() => {
    const m = keys(msg, IMU_FIELDS, 'Imu');
    const { stampS } = header(m['header'], 'Imu.header');
    keys(m['orientation'], ['x', 'y', 'z', 'w'], 'Imu.orientation');
    floats(m['orientation_covariance'], 9, 'Imu.orientation_covariance');
    const gyroCov = floats(m['angular_velocity_covariance'], 9, 'Imu.angular_velocity_covariance');
    const accCov = floats(m['linear_acceleration_covariance'], 9, 'Imu.linear_acceleration_covariance');
    if (gyroCov[0] === -1) throw new Malformed('decode', 'Imu: angular_velocity_covariance[0] = -1 (the driver says it has no angular velocity)');
    if (accCov[0] === -1) throw new Malformed('decode', 'Imu: linear_acceleration_covariance[0] = -1 (the driver says it has no linear acceleration)');
    return { stampS, gyroRadS: vec3(m['angular_velocity'], 'Imu.angular_velocity'), accelMS2: vec3(m['linear_acceleration'], 'Imu.linear_acceleration') };
  });
}

const SENSOR_COMBINED_FIELDS = [
  'timestamp',
  'gyro_rad',
  'gyro_integral_dt',
  'accelerometer_timestamp_relative',
  'accelerometer_m_s2',
  'accelerometer_integral_dt',
  'accelerometer_clipping',
  'gyro_clipping',
  'accel_calibration_count',
  'gyro_calibration_count',
] as const;

/**
 * px4_msgs/msg/SensorCombined → ImuSample: FRD → FLU is (x, −y, −z) for both vectors (PX4's
 * accelerometer reads −9.81 on z at rest, FRD; the tract wants +9.81 up). Stamp: µs → s.
 */
export function px4SensorCombinedToSample(msg: unknown): MapResult<ImuSample> {
  return guard(() => {
    const m = keys(msg, SENSOR_COMBINED_FIELDS, 'SensorCombined');
    const ts = m['timestamp'];
    let us: number;
    if (typeof ts === 'bigint') us = Number(ts);
    else if (typeof ts === 'number' && Number.isInteger(ts)) us = ts;
    else throw new Malformed('malformed', `SensorCombined.timestamp: expected a uint64, got ${typeName(ts)}`);
    if (!(us > 0)) throw new Malformed('time', `SensorCombined.timestamp ${us} µs (PX4 not booted?)`);
    const g = floats(m['gyro_rad'], 3, 'SensorCombined.gyro_rad');
    const a = floats(m['accelerometer_m_s2'], 3, 'SensorCombined.accelerometer_m_s2');
    const relUs = num(m['accelerometer_timestamp_relative'], 'SensorCombined.accelerometer_timestamp_relative');
    for (let i = 0; i < 3; i++) {
      num(g[i], `SensorCombined.gyro_rad[${i}]`);
      num(a[i], `SensorCombined.accelerometer_m_s2[${i}]`);
    }
    // PX4 marks an invalid accelerometer sample with INT32_MAX relative time
    if (relUs === 2147483647) throw new Malformed('decode', 'SensorCombined: accelerometer invalid (timestamp_relative = RELATIVE_TIMESTAMP_INVALID)');
    return { stampS: us * 1e-6, gyroRadS: [g[0]!, -g[1]!, -g[2]!], accelMS2: [a[0]!, -a[1]!, -a[2]!] };
  });
}

// ---------------------------------------------------------------------------------------------------
// Commands
// ---------------------------------------------------------------------------------------------------

export interface CommandLimits {
  maxThrustN: number;
  /** Per-axis rate limit FLU, rad/s. */
  maxRateRadS: readonly [number, number, number];
}

/**
 * The last line before a command leaves the process: a non-finite field → null (send nothing, the
 * far side keeps its failsafe); thrust clamped to [0, maxThrustN], rates to ±maxRateRadS.
 */
export function checkCtbr(cmd: CtbrCommand, lim: CommandLimits): { cmd: CtbrCommand; clamped: boolean } | null {
  const r = cmd.rateRadS;
  if (!Number.isFinite(cmd.thrustN) || !Number.isFinite(r[0]) || !Number.isFinite(r[1]) || !Number.isFinite(r[2]) || !Number.isFinite(cmd.stampS)) return null;
  const c = (v: number, lo: number, hi: number): number => (v < lo ? lo : v > hi ? hi : v);
  const thrustN = c(cmd.thrustN, 0, lim.maxThrustN);
  const rate: [number, number, number] = [c(r[0], -lim.maxRateRadS[0], lim.maxRateRadS[0]), c(r[1], -lim.maxRateRadS[1], lim.maxRateRadS[1]), c(r[2], -lim.maxRateRadS[2], lim.maxRateRadS[2])];
  const clamped = thrustN !== cmd.thrustN || rate[0] !== r[0] || rate[1] !== r[1] || rate[2] !== r[2];
  return { cmd: { kind: 'ctbr', stampS: cmd.stampS, thrustN, rateRadS: rate }, clamped };
}

/**
 * brainpilot's CTBR on a standard type, geometry_msgs/msg/TwistStamped, frame base_link (FLU):
 * twist.angular = desired body rates, rad/s; twist.linear.z = collective thrust along body +z, N
 * (linear.x/y are 0). A Twist is a rate, and body rates are; the thrust in linear.z is the one
 * liberty taken, documented in docs/ros2.md. The stamp is the sensor time the command was made for.
 */
export function ctbrToTwistStamped(cmd: CtbrCommand, frameId = 'base_link'): TwistStampedMsg {
  return {
    header: { stamp: toTimeMsg(cmd.stampS), frame_id: frameId },
    twist: { linear: { x: 0, y: 0, z: cmd.thrustN }, angular: { x: cmd.rateRadS[0], y: cmd.rateRadS[1], z: cmd.rateRadS[2] } },
  };
}

/** The inverse (the simulator's side of `sim serve --ros2`); thrust must be ≥ 0 and linear.x/y 0. */
export function twistStampedToCtbr(msg: unknown): MapResult<CtbrCommand> {
  return guard(() => {
    const m = keys(msg, ['header', 'twist'], 'TwistStamped');
    const { stampS } = header(m['header'], 'TwistStamped.header');
    const t = keys(m['twist'], ['linear', 'angular'], 'TwistStamped.twist');
    const lin = vec3(t['linear'], 'TwistStamped.twist.linear');
    const ang = vec3(t['angular'], 'TwistStamped.twist.angular');
    if (lin[0] !== 0 || lin[1] !== 0) throw new Malformed('decode', `TwistStamped.twist.linear.x/y must be 0 for a CTBR command (got ${lin[0]}, ${lin[1]})`);
    if (lin[2] < 0) throw new Malformed('decode', `TwistStamped.twist.linear.z (thrust) ${lin[2]} N < 0`);
    return { kind: 'ctbr' as const, stampS, thrustN: lin[2], rateRadS: ang };
  });
}

/** Our motor index (RR 0, FR 1, RL 2, FL 3) for each actuator slot of the Gazebo model. */
export type MotorOrder = readonly [number, number, number, number];
/** PX4's gz x500 (and most PX4 quad-X models): 0 front-right, 1 rear-left, 2 front-left, 3 rear-right. */
export const PX4_QUAD_X_ORDER: MotorOrder = [1, 2, 3, 0];

/**
 * Normalised motor commands (0..1, ours: thrust = max·u²) → actuator_msgs/msg/Actuators for Gazebo's
 * MulticopterMotorModel, which takes rotor speeds (thrust = motorConstant·ω²): ω = u·maxRotorRadS
 * keeps the same quadratic law. normalized[] carries u as well. Non-finite → 0, out of range clamped.
 */
export function motorsToActuators(motors: ArrayLike<number>, order: MotorOrder, maxRotorRadS: number, stampS: number, frameId = 'base_link'): ActuatorsMsg {
  const velocity: number[] = [];
  const normalized: number[] = [];
  for (const idx of order) {
    const u0 = motors[idx];
    const u = typeof u0 === 'number' && Number.isFinite(u0) ? (u0 < 0 ? 0 : u0 > 1 ? 1 : u0) : 0;
    normalized.push(u);
    velocity.push(u * maxRotorRadS);
  }
  return { header: { stamp: toTimeMsg(stampS), frame_id: frameId }, position: [], velocity, normalized };
}

/** Actuators → normalised motors in our order (the simulator's side; tests the round trip). */
export function actuatorsToMotors(msg: unknown, order: MotorOrder, maxRotorRadS: number): MapResult<{ stampS: number; motors: [number, number, number, number] }> {
  return guard(() => {
    const m = keys(msg, ['header', 'position', 'velocity', 'normalized'], 'Actuators');
    const { stampS } = header(m['header'], 'Actuators.header');
    const v = m['velocity'];
    if (!(Array.isArray(v) || v instanceof Float64Array)) throw new Malformed('malformed', `Actuators.velocity: expected a float array, got ${typeName(v)}`);
    if (v.length !== 4) throw new Malformed('decode', `Actuators.velocity: expected 4 rotors, got ${v.length}`);
    const motors: [number, number, number, number] = [0, 0, 0, 0];
    order.forEach((idx, slot) => {
      const w = num(v[slot], `Actuators.velocity[${slot}]`);
      if (w < 0 || w > maxRotorRadS * 1.0001) throw new Malformed('decode', `Actuators.velocity[${slot}] ${w} rad/s outside [0, ${maxRotorRadS}]`);
      motors[idx] = Math.min(1, w / maxRotorRadS);
    });
    return { stampS, motors };
  });
}

/** PX4 clock: microseconds as uint64 (rclnodejs takes bigint for 64-bit integers). */
export const px4Us = (tS: number): bigint => BigInt(Math.max(0, Math.round((Number.isFinite(tS) ? tS : 0) * 1e6)));

/**
 * CTBR (FLU, N) → PX4 offboard body-rate setpoint: rates FRD = (x, −y, −z); thrust_body is the
 * normalised collective along body −z (FRD up), so [0, 0, −thrustN/maxThrustN], in [−1, 0].
 * OffboardControlMode must be streamed with it (≥ 2 Hz) for PX4 to stay in offboard.
 */
export function ctbrToPx4(cmd: CtbrCommand, maxThrustN: number, timestampUs: bigint): { rates: Px4VehicleRatesSetpointMsg; mode: Px4OffboardControlModeMsg } {
  const t = Math.min(1, Math.max(0, cmd.thrustN / maxThrustN));
  return {
    rates: { timestamp: timestampUs, roll: cmd.rateRadS[0], pitch: -cmd.rateRadS[1], yaw: -cmd.rateRadS[2], thrust_body: [0, 0, -t], reset_integral: false },
    mode: { timestamp: timestampUs, position: false, velocity: false, acceleration: false, attitude: false, body_rate: true, thrust_and_torque: false, direct_actuator: false },
  };
}

/**
 * The inverse, PX4's side (`sim serve --ros2` flies it): FRD rates → FLU, thrust_body[2] ∈ [−1, 0] →
 * newtons. Only a pure collective (thrust_body x/y = 0) is a multicopter command.
 */
export function px4RatesToCtbr(msg: unknown, maxThrustN: number): MapResult<CtbrCommand> {
  return guard(() => {
    const m = keys(msg, ['timestamp', 'roll', 'pitch', 'yaw', 'thrust_body', 'reset_integral'], 'VehicleRatesSetpoint');
    const ts = m['timestamp'];
    if (typeof ts !== 'bigint' && !(typeof ts === 'number' && Number.isInteger(ts) && ts >= 0)) throw new Malformed('malformed', `VehicleRatesSetpoint.timestamp: expected a uint64, got ${typeName(ts)}`);
    bool(m['reset_integral'], 'VehicleRatesSetpoint.reset_integral');
    const tb = floats(m['thrust_body'], 3, 'VehicleRatesSetpoint.thrust_body');
    const tz = num(tb[2], 'VehicleRatesSetpoint.thrust_body[2]');
    if (num(tb[0], 'VehicleRatesSetpoint.thrust_body[0]') !== 0 || num(tb[1], 'VehicleRatesSetpoint.thrust_body[1]') !== 0) throw new Malformed('decode', 'VehicleRatesSetpoint.thrust_body x/y must be 0 for a multicopter');
    if (tz > 0 || tz < -1) throw new Malformed('decode', `VehicleRatesSetpoint.thrust_body[2] ${tz} outside [−1, 0]`);
    const rate: [number, number, number] = [num(m['roll'], 'VehicleRatesSetpoint.roll'), -num(m['pitch'], 'VehicleRatesSetpoint.pitch'), -num(m['yaw'], 'VehicleRatesSetpoint.yaw')];
    return { kind: 'ctbr' as const, stampS: Number(ts) * 1e-6, thrustN: -tz * maxThrustN + 0, rateRadS: rate };
  });
}

/** VEHICLE_CMD_COMPONENT_ARM_DISARM (400), param1 0 = disarm, param2 21196 = even in the air (kill). */
export function px4DisarmCommand(timestampUs: bigint, targetSystem = 1): Px4VehicleCommandMsg {
  return { timestamp: timestampUs, param1: 0, param2: 21196, command: 400, target_system: targetSystem, target_component: 1, source_system: 1, source_component: 1, from_external: true };
}

// ---------------------------------------------------------------------------------------------------
// Diagnostics and perception
// ---------------------------------------------------------------------------------------------------

/** diagnostic_msgs/DiagnosticStatus levels. */
export const DIAG = { OK: 0, WARN: 1, ERROR: 2, STALE: 3 } as const;

/**
 * The daemon's health line → diagnostic_msgs/msg/DiagnosticArray (one status, "brainpilot: daemon"):
 * ERROR when the link is down or the guard disarmed / is about to; WARN in a failsafe or when inputs
 * were dropped; STALE before any sensor arrived; else OK. Every number is a key/value pair.
 */
export function healthToDiagnostics(h: HealthSnapshot, stampS: number, hardwareId: string): DiagnosticArrayMsg {
  const dropped = Object.values(h.drops).reduce((a, b) => a + (b ?? 0), 0);
  let level: number = DIAG.OK;
  let message = 'flying';
  if (h.link === 'down') [level, message] = [DIAG.ERROR, 'link down'];
  else if (h.failsafe === 'disarmed' || h.failsafe === 'failsafe-disarm') [level, message] = [DIAG.ERROR, `failsafe: ${h.failsafe}`];
  else if (h.totals.imu === 0 && h.totals.frames === 0) [level, message] = [DIAG.STALE, 'no sensor data yet'];
  else if (h.failsafe.startsWith('failsafe')) [level, message] = [DIAG.WARN, `failsafe: ${h.failsafe}`];
  else if (dropped > 0) [level, message] = [DIAG.WARN, `${dropped} inputs dropped`];
  const f = (x: number): string => (Number.isFinite(x) ? String(x) : 'n/a');
  const values = [
    { key: 'frames_per_s', value: f(h.framesPerS) },
    { key: 'imu_per_s', value: f(h.imuPerS) },
    { key: 'commands_per_s', value: f(h.commandsPerS) },
    { key: 'frame_to_command_p50_ms', value: f(h.frameToCommandMs.p50) },
    { key: 'frame_to_command_p99_ms', value: f(h.frameToCommandMs.p99) },
    { key: 'failsafe', value: h.failsafe },
    { key: 'link', value: h.link },
    { key: 'frames_total', value: String(h.totals.frames) },
    { key: 'imu_total', value: String(h.totals.imu) },
    { key: 'commands_total', value: String(h.totals.commands) },
    { key: 'dropped_total', value: String(h.totals.dropped) },
    ...Object.entries(h.drops).map(([k, n]) => ({ key: `dropped_${k}`, value: String(n) })),
    ...Object.entries(h.transport ?? {}).map(([k, n]) => ({ key: `transport_${k}`, value: f(n) })),
  ];
  return { header: { stamp: toTimeMsg(stampS), frame_id: '' }, status: [{ level, name: 'brainpilot: daemon', message, hardware_id: hardwareId, values }] };
}

/**
 * Gate sightings → vision_msgs/msg/Detection2DArray in the camera's optical frame: one detection per
 * sighting, bbox in pixels, class "gate" (a ring with an opening) or "gate_blob" (orange without one),
 * score = confidence, pose = the PnP gate centre when known (else zero with covariance −1, "unknown"),
 * id "target" for the orienting target. The time to the gate goes out separately (node.ts).
 */
export function perceptionToDetections(p: PerceptionReport, opticalFrameId: string): Detection2DArrayMsg {
  const hdr = { stamp: toTimeMsg(p.stampS), frame_id: opticalFrameId };
  const unknownCov = new Array<number>(36).fill(0);
  unknownCov[0] = -1;
  return {
    header: hdr,
    detections: p.sightings.map((s, i) => {
      const [u0, v0, u1, v1] = s.bboxPx;
      const pos = s.posCamM;
      return {
        header: hdr,
        results: [
          {
            hypothesis: { class_id: s.kind === 'ring' ? 'gate' : 'gate_blob', score: Number.isFinite(s.confidence) ? s.confidence : 0 },
            pose: {
              pose: { position: pos ? { x: pos[0], y: pos[1], z: pos[2] } : { x: 0, y: 0, z: 0 }, orientation: { x: 0, y: 0, z: 0, w: 1 } },
              covariance: pos ? new Array<number>(36).fill(0) : unknownCov.slice(),
            },
          },
        ],
        bbox: { center: { position: { x: (u0 + u1) / 2, y: (v0 + v1) / 2 }, theta: 0 }, size_x: Math.max(0, u1 - u0), size_y: Math.max(0, v1 - v0) },
        id: i === p.targetIndex ? 'target' : `gate_${i}`,
      };
    }),
  };
}

// ---------------------------------------------------------------------------------------------------
// The other direction: what a camera/IMU driver publishes (`sim serve --ros2`, tests)
// ---------------------------------------------------------------------------------------------------

/** REP-105 frame ids the simulator publishes in. */
export const FRAMES = { body: 'base_link', imu: 'imu_link', camera: 'camera_link', cameraOptical: 'camera_optical_frame' } as const;

/** CameraFrame → sensor_msgs/msg/Image (no copy of the pixels). */
export function frameToImage(f: CameraFrame, frameId: string = FRAMES.cameraOptical): ImageMsg {
  return { header: { stamp: toTimeMsg(f.stampS), frame_id: frameId }, height: f.height, width: f.width, encoding: f.encoding, is_bigendian: 0, step: f.step, data: f.data };
}

/** Intrinsics → sensor_msgs/msg/CameraInfo: pinhole, no distortion, P = [K | 0]. */
export function intrinsicsToCameraInfo(k: CameraIntrinsics, stampS: number, frameId: string = FRAMES.cameraOptical): CameraInfoMsg {
  return {
    header: { stamp: toTimeMsg(stampS), frame_id: frameId },
    height: k.height,
    width: k.width,
    distortion_model: 'plumb_bob',
    d: [0, 0, 0, 0, 0],
    k: [k.fx, 0, k.cx, 0, k.fy, k.cy, 0, 0, 1],
    r: [1, 0, 0, 0, 1, 0, 0, 0, 1],
    p: [k.fx, 0, k.cx, 0, 0, k.fy, k.cy, 0, 0, 0, 1, 0],
    binning_x: 0,
    binning_y: 0,
    roi: { x_offset: 0, y_offset: 0, height: 0, width: 0, do_rectify: false },
  };
}

/** ImuSample → sensor_msgs/msg/Imu; no orientation (covariance[0] = −1, REP-145), unknown covariances 0. */
export function sampleToImu(s: ImuSample, frameId: string = FRAMES.imu): ImuMsg {
  const none = [-1, 0, 0, 0, 0, 0, 0, 0, 0];
  const unknown = [0, 0, 0, 0, 0, 0, 0, 0, 0];
  return {
    header: { stamp: toTimeMsg(s.stampS), frame_id: frameId },
    orientation: { x: 0, y: 0, z: 0, w: 1 },
    orientation_covariance: none,
    angular_velocity: { x: s.gyroRadS[0], y: s.gyroRadS[1], z: s.gyroRadS[2] },
    angular_velocity_covariance: unknown.slice(),
    linear_acceleration: { x: s.accelMS2[0], y: s.accelMS2[1], z: s.accelMS2[2] },
    linear_acceleration_covariance: unknown.slice(),
  };
}

/** std_msgs/msg/Bool → boolean (the armed topic). */
export function boolMsg(msg: unknown, where = 'Bool'): MapResult<boolean> {
  return guard(() => bool(keys(msg, ['data'], where)['data'], `${where}.data`));
}

/** rosgraph_msgs/msg/Clock → seconds (the lockstep tick). */
export function clockToSeconds(msg: unknown): MapResult<number> {
  return guard(() => stamp(keys(msg, ['clock'], 'Clock')['clock'], 'Clock.clock'));
}

/** Seconds → rosgraph_msgs/msg/Clock. */
export const toClockMsg = (tS: number): { clock: TimeMsg } => ({ clock: toTimeMsg(tS) });
