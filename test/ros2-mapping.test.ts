/**
 * The ROS 2 mapping on message objects shaped exactly as rclnodejs delivers them (field names of the
 * .msg definitions, uint8[] as Uint8Array, float64[9] as Float64Array, 64-bit integers as bigint):
 * pixels byte for byte (bgr8 → rgb8, row padding), stamps, frames (PX4 FRD ↔ FLU), the motor order
 * Gazebo gets, and every malformed kind as a typed reject, never a throw.
 */
import fc from 'fast-check';
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { jpegCodec } from '../src/transports/aigp/jpeg-worker.js';
import { describe, expect, it } from 'vitest';
import {
  PX4_QUAD_X_ORDER,
  actuatorsToMotors,
  boolMsg,
  cameraInfoToIntrinsics,
  checkCtbr,
  compressedToFrame,
  compressedToFrameAsync,
  ctbrToPx4,
  ctbrToTwistStamped,
  frameToImage,
  healthToDiagnostics,
  imageToFrame,
  imuToSample,
  intrinsicsToCameraInfo,
  motorsToActuators,
  perceptionToDetections,
  px4DisarmCommand,
  px4RatesToCtbr,
  px4SensorCombinedToSample,
  px4Us,
  sampleToImu,
  toTimeMsg,
  twistStampedToCtbr,
  type FrameContext,
  type MapResult,
} from '../src/transports/ros2/mapping.js';
import { mixToMotors, parseMixerGeometry } from '../src/regions/motor.js';
import { perceptionOf, type HealthSnapshot } from '../src/daemon/daemon.js';
import type { CameraIntrinsics, CtbrCommand } from '../src/tracts/io.js';

const hdr = (sec = 12, nanosec = 250_000_000, frame_id = 'camera_optical_frame') => ({ stamp: { sec, nanosec }, frame_id });

const K = (width: number, height: number): CameraIntrinsics => ({ width, height, fx: 100, fy: 100, cx: width / 2, cy: height / 2 });
const ctx = (width: number, height: number): FrameContext => ({ seq: 7, arrivalS: 12.3, intrinsics: K(width, height), mount: { tiltUpRad: 0.35, posFluM: [0.08, 0, 0.02] } });

function image(over: Record<string, unknown> = {}) {
  // 2×2 mono8, no padding
  return { header: hdr(), height: 2, width: 2, encoding: 'mono8', is_bigendian: 0, step: 2, data: new Uint8Array([1, 2, 3, 4]), ...over };
}

function imu(over: Record<string, unknown> = {}) {
  return {
    header: hdr(5, 1_000, 'imu_link'),
    orientation: { x: 0, y: 0, z: 0, w: 1 },
    orientation_covariance: new Float64Array([-1, 0, 0, 0, 0, 0, 0, 0, 0]),
    angular_velocity: { x: 0.1, y: -0.2, z: 0.3 },
    angular_velocity_covariance: new Float64Array(9),
    linear_acceleration: { x: 0.5, y: 0, z: 9.81 },
    linear_acceleration_covariance: new Float64Array(9),
    ...over,
  };
}

function cameraInfo(over: Record<string, unknown> = {}) {
  return {
    header: hdr(),
    height: 360,
    width: 640,
    distortion_model: 'plumb_bob',
    d: new Float64Array(5),
    k: new Float64Array([320, 0, 321, 0, 318, 181, 0, 0, 1]),
    r: new Float64Array([1, 0, 0, 0, 1, 0, 0, 0, 1]),
    p: new Float64Array([320, 0, 321, 0, 0, 318, 181, 0, 0, 0, 1, 0]),
    binning_x: 0,
    binning_y: 0,
    roi: { x_offset: 0, y_offset: 0, height: 0, width: 0, do_rectify: false },
    ...over,
  };
}

function expectReject<T>(r: MapResult<T>, kind: string, detail?: RegExp): void {
  expect(r.ok).toBe(false);
  if (r.ok) return;
  expect(r.kind).toBe(kind);
  if (detail) expect(r.detail).toMatch(detail);
}

const value = <T>(r: MapResult<T>): T => {
  if (!r.ok) throw new Error(`expected ok, got ${r.kind}: ${r.detail}`);
  return r.value;
};

describe('sensor_msgs/Image → CameraFrame', () => {
  it('mono8 without padding passes through without a copy; stamp = sec + nanosec', () => {
    const m = image();
    const f = value(imageToFrame(m, ctx(2, 2)));
    expect(f.data).toBe(m.data);
    expect(f).toMatchObject({ encoding: 'mono8', width: 2, height: 2, step: 2, seq: 7, stampS: 12.25, arrivalS: 12.3 });
    expect(f.intrinsics).toEqual(K(2, 2));
  });

  it('arrival is never before the exposure', () => {
    const f = value(imageToFrame(image(), { ...ctx(2, 2), arrivalS: 1 }));
    expect(f.arrivalS).toBe(12.25);
  });

  it('honours step: padded rgb8 rows are repacked byte for byte', () => {
    // 2×2 rgb8, step 8 (2 bytes of padding per row, filled with 0xEE)
    const data = new Uint8Array([10, 11, 12, 20, 21, 22, 0xee, 0xee, 30, 31, 32, 40, 41, 42, 0xee, 0xee]);
    const f = value(imageToFrame(image({ encoding: 'rgb8', step: 8, data }), ctx(2, 2)));
    expect(f.step).toBe(6);
    expect(Array.from(f.data)).toEqual([10, 11, 12, 20, 21, 22, 30, 31, 32, 40, 41, 42]);
  });

  it('bgr8 → rgb8 swaps blue and red per pixel and drops the padding', () => {
    const data = new Uint8Array([1, 2, 3, 4, 5, 6, 9, 9, 9, 7, 8, 9, 10, 11, 12, 9, 9, 9]); // 2×2, step 9
    const f = value(imageToFrame(image({ encoding: 'bgr8', step: 9, data }), ctx(2, 2)));
    expect(f.encoding).toBe('rgb8');
    expect(Array.from(f.data)).toEqual([3, 2, 1, 6, 5, 4, 9, 8, 7, 12, 11, 10]);
    expect(data[0]).toBe(1); // the message is not modified
  });

  it('rgba8 / bgra8 → rgb8 (alpha dropped); 8UC1 as mono8; padded mono8 repacked', () => {
    const rgba = value(imageToFrame(image({ encoding: 'rgba8', width: 1, height: 1, step: 4, data: new Uint8Array([1, 2, 3, 255]) }), ctx(1, 1)));
    expect(Array.from(rgba.data)).toEqual([1, 2, 3]);
    const bgra = value(imageToFrame(image({ encoding: 'bgra8', width: 1, height: 1, step: 4, data: new Uint8Array([1, 2, 3, 255]) }), ctx(1, 1)));
    expect(Array.from(bgra.data)).toEqual([3, 2, 1]);
    const u8 = value(imageToFrame(image({ encoding: '8UC1' }), ctx(2, 2)));
    expect(u8.encoding).toBe('mono8');
    const padded = value(imageToFrame(image({ step: 3, data: new Uint8Array([1, 2, 0, 3, 4, 0]) }), ctx(2, 2)));
    expect(Array.from(padded.data)).toEqual([1, 2, 3, 4]);
  });

  it('takes uint8[] as a plain number array (rclnodejs with enableTypedArray false)', () => {
    const f = value(imageToFrame(image({ data: [1, 2, 3, 4] }), ctx(2, 2)));
    expect(f.data).toBeInstanceOf(Uint8Array);
    expect(Array.from(f.data)).toEqual([1, 2, 3, 4]);
  });

  it('rejects every malformed image with the right kind', () => {
    expectReject(imageToFrame(image({ extra: 1 }), ctx(2, 2)), 'malformed', /unknown field "extra"/);
    const { step: _s, ...noStep } = image();
    expectReject(imageToFrame(noStep, ctx(2, 2)), 'malformed', /missing field "step"/);
    expectReject(imageToFrame(image({ is_bigendian: 2 }), ctx(2, 2)), 'malformed', /is_bigendian/);
    expectReject(imageToFrame(image({ is_bigendian: 'yes' }), ctx(2, 2)), 'malformed', /is_bigendian/);
    expectReject(imageToFrame(image({ data: new Uint8Array(3) }), ctx(2, 2)), 'decode', /3 bytes, step × height = 4/);
    expectReject(imageToFrame(image({ data: new Uint8Array(5) }), ctx(2, 2)), 'decode');
    expectReject(imageToFrame(image({ step: 1, data: new Uint8Array(2) }), ctx(2, 2)), 'decode', /step 1 < width 2/);
    expectReject(imageToFrame(image({ encoding: '16UC1' }), ctx(2, 2)), 'encoding', /16UC1/);
    expectReject(imageToFrame(image({ width: 0, step: 0, data: new Uint8Array(0) }), ctx(2, 2)), 'encoding');
    expectReject(imageToFrame(image({ width: 2.5 }), ctx(2, 2)), 'malformed');
    expectReject(imageToFrame(image({ data: 'abcd' }), ctx(2, 2)), 'malformed', /Uint8Array/);
    expectReject(imageToFrame(image({ data: [1, 2, 3, 300] }), ctx(2, 2)), 'malformed', /not a byte/);
    expectReject(imageToFrame(image({ header: { stamp: { sec: 1, nanosec: 1e9 }, frame_id: '' } }), ctx(2, 2)), 'time', /nanosec/);
    expectReject(imageToFrame(image({ header: { stamp: { sec: -1, nanosec: 0 }, frame_id: '' } }), ctx(2, 2)), 'time');
    expectReject(imageToFrame(image({ header: { stamp: { sec: 1, nanosec: 0 } } }), ctx(2, 2)), 'malformed', /frame_id/);
    expectReject(imageToFrame(image(), ctx(4, 2)), 'encoding', /intrinsics are for 4×2/);
    expectReject(imageToFrame(null, ctx(2, 2)), 'malformed');
  });
});

describe('sensor_msgs/CompressedImage → CameraFrame', () => {
  const w = 16, h = 8;
  const rgba = new Uint8Array(w * h * 4);
  for (let i = 0; i < w * h; i++) rgba.set([200, 100, 20, 255], i * 4);

  it('decodes a JPEG to rgb8 (format contains "jpeg")', () => {
    const enc = jpeg.encode({ data: rgba, width: w, height: h }, 95);
    const f = value(compressedToFrame({ header: hdr(), format: 'rgb8; jpeg compressed bgr8', data: new Uint8Array(enc.data) }, ctx(w, h)));
    expect(f).toMatchObject({ encoding: 'rgb8', width: w, height: h, step: w * 3, stampS: 12.25 });
    expect(Math.abs(f.data[0]! - 200)).toBeLessThanOrEqual(4);
    expect(Math.abs(f.data[1]! - 100)).toBeLessThanOrEqual(4);
    expect(Math.abs(f.data[2]! - 20)).toBeLessThanOrEqual(4);
  });

  it('decodes a PNG exactly', () => {
    const png = new PNG({ width: 2, height: 1 });
    png.data.set([1, 2, 3, 255, 4, 5, 6, 255]);
    const f = value(compressedToFrame({ header: hdr(), format: 'png', data: new Uint8Array(PNG.sync.write(png)) }, ctx(2, 1)));
    expect(Array.from(f.data)).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('a JPEG that does not decode → decode; another format → encoding; an extra field → malformed', () => {
    expectReject(compressedToFrame({ header: hdr(), format: 'jpeg', data: new Uint8Array([0xff, 0xd8, 1, 2, 3]) }, ctx(w, h)), 'decode', /JPEG/);
    expectReject(compressedToFrame({ header: hdr(), format: 'png', data: new Uint8Array([1, 2, 3]) }, ctx(w, h)), 'decode', /PNG/);
    expectReject(compressedToFrame({ header: hdr(), format: 'tiff', data: new Uint8Array(4) }, ctx(w, h)), 'encoding', /tiff/);
    expectReject(compressedToFrame({ header: hdr(), format: 'jpeg', data: new Uint8Array(4), quality: 90 }, ctx(w, h)), 'malformed', /quality/);
  });

  it('the off-event-loop path (sharp) gives the same frame and the same rejects', async () => {
    const codec = jpegCodec(1);
    const decode = (d: Uint8Array, mp: number) => codec.decode(d, mp);
    const enc = new Uint8Array(jpeg.encode({ data: rgba, width: w, height: h }, 95).data);
    const a = value(compressedToFrame({ header: hdr(), format: 'jpeg', data: enc.slice() }, ctx(w, h)));
    const b = value(await compressedToFrameAsync({ header: hdr(), format: 'jpeg', data: enc.slice() }, ctx(w, h), decode));
    expect({ ...b, data: null }).toEqual({ ...a, data: null });
    for (let i = 0; i < a.data.length; i++) expect(Math.abs(a.data[i]! - b.data[i]!)).toBeLessThanOrEqual(6);
    expectReject(await compressedToFrameAsync({ header: hdr(), format: 'jpeg', data: new Uint8Array([0xff, 0xd8, 1, 2, 3]) }, ctx(w, h), decode), 'decode', /JPEG/);
    expectReject(await compressedToFrameAsync({ header: hdr(), format: 'jpeg', data: enc.slice() }, ctx(w * 2, h), decode), 'encoding', /intrinsics/);
    expectReject(await compressedToFrameAsync({ header: hdr(), format: 'jpeg', data: enc, quality: 90 }, ctx(w, h), decode), 'malformed', /quality/);
    await codec.close();
  });
});

describe('sensor_msgs/CameraInfo → intrinsics', () => {
  it('reads fx, fy, cx, cy from K and the size', () => {
    expect(value(cameraInfoToIntrinsics(cameraInfo()))).toEqual({ width: 640, height: 360, fx: 320, fy: 318, cx: 321, cy: 181 });
  });

  it('binning 2 scales K and the size to the delivered image', () => {
    expect(value(cameraInfoToIntrinsics(cameraInfo({ binning_x: 2, binning_y: 2 })))).toEqual({ width: 320, height: 180, fx: 160, fy: 159, cx: 160.5, cy: 90.5 });
  });

  it('round-trips what the simulator publishes', () => {
    const k = { width: 640, height: 360, fx: 300, fy: 301, cx: 319.5, cy: 179.5 };
    expect(value(cameraInfoToIntrinsics(intrinsicsToCameraInfo(k, 3)))).toEqual(k);
  });

  it('rejects an uncalibrated (all-zero) K, a short K, NaN and unknown fields', () => {
    expectReject(cameraInfoToIntrinsics(cameraInfo({ k: new Float64Array(9) })), 'decode', /uncalibrated/);
    expectReject(cameraInfoToIntrinsics(cameraInfo({ k: new Float64Array(8) })), 'malformed', /9 elements/);
    expectReject(cameraInfoToIntrinsics(cameraInfo({ k: new Float64Array([NaN, 0, 1, 0, 1, 1, 0, 0, 1]) })), 'non-finite');
    expectReject(cameraInfoToIntrinsics(cameraInfo({ D: [0] })), 'malformed', /unknown field "D"/);
    expectReject(cameraInfoToIntrinsics(cameraInfo({ width: 0 })), 'encoding');
  });
});

describe('sensor_msgs/Imu → ImuSample', () => {
  it('passes FLU rates and specific force through; stamp from sec/nanosec', () => {
    const s = value(imuToSample(imu()));
    expect(s.stampS).toBeCloseTo(5.000001, 9);
    expect(s.gyroRadS).toEqual([0.1, -0.2, 0.3]);
    expect(s.accelMS2).toEqual([0.5, 0, 9.81]);
  });

  it('takes covariances as number[] too; round-trips what the simulator publishes', () => {
    expect(imuToSample(imu({ angular_velocity_covariance: new Array(9).fill(0) })).ok).toBe(true);
    const s = { stampS: 1.5, gyroRadS: [1, 2, 3] as [number, number, number], accelMS2: [4, 5, 6] as [number, number, number] };
    expect(value(imuToSample(sampleToImu(s)))).toEqual(s);
  });

  it('rejects NaN (non-finite), a missing gyro (covariance −1, decode), unknown fields and wrong shapes (malformed)', () => {
    expectReject(imuToSample(imu({ angular_velocity: { x: NaN, y: 0, z: 0 } })), 'non-finite', /angular_velocity.x/);
    expectReject(imuToSample(imu({ linear_acceleration: { x: 0, y: Infinity, z: 0 } })), 'non-finite');
    expectReject(imuToSample(imu({ angular_velocity_covariance: new Float64Array([-1, 0, 0, 0, 0, 0, 0, 0, 0]) })), 'decode', /angular_velocity_covariance/);
    expectReject(imuToSample(imu({ magnetic_field: { x: 0, y: 0, z: 0 } })), 'malformed', /unknown field "magnetic_field"/);
    expectReject(imuToSample(imu({ angular_velocity: { x: 0, y: 0 } })), 'malformed', /missing field "z"/);
    expectReject(imuToSample(imu({ angular_velocity: { x: '0', y: 0, z: 0 } })), 'malformed');
    expectReject(imuToSample(imu({ orientation_covariance: new Float64Array(4) })), 'malformed');
    expectReject(imuToSample([1, 2, 3]), 'malformed');
  });
});

describe('px4_msgs/SensorCombined → ImuSample (FRD → FLU)', () => {
  const sc = (over: Record<string, unknown> = {}) => ({
    timestamp: 12_345_678n,
    gyro_rad: new Float32Array([0.5, 0.25, -0.125]),
    gyro_integral_dt: 4000,
    accelerometer_timestamp_relative: 0,
    accelerometer_m_s2: new Float32Array([1, 2, -9.75]),
    accelerometer_integral_dt: 4000,
    accelerometer_clipping: 0,
    gyro_clipping: 0,
    accel_calibration_count: 1,
    gyro_calibration_count: 1,
    ...over,
  });

  it('flips y and z of both vectors (level at rest: +9.75 up in FLU); µs → s', () => {
    const s = value(px4SensorCombinedToSample(sc()));
    expect(s.stampS).toBeCloseTo(12.345678, 9);
    expect(s.gyroRadS).toEqual([0.5, -0.25, 0.125]);
    expect(s.accelMS2).toEqual([1, -2, 9.75]);
  });

  it('rejects an invalid accelerometer, a zero timestamp, NaN and unknown fields', () => {
    expectReject(px4SensorCombinedToSample(sc({ accelerometer_timestamp_relative: 2147483647 })), 'decode');
    expectReject(px4SensorCombinedToSample(sc({ timestamp: 0n })), 'time');
    expectReject(px4SensorCombinedToSample(sc({ gyro_rad: new Float32Array([NaN, 0, 0]) })), 'non-finite');
    expectReject(px4SensorCombinedToSample(sc({ baro: 1 })), 'malformed');
  });
});

describe('commands', () => {
  const cmd: CtbrCommand = { kind: 'ctbr', stampS: 3.25, thrustN: 9.5, rateRadS: [1, -2, 0.5] };
  const lim = { maxThrustN: 40, maxRateRadS: [13, 13, 5] as const };

  it('never emits a non-finite or out-of-range command', () => {
    expect(checkCtbr({ ...cmd, thrustN: NaN }, lim)).toBeNull();
    expect(checkCtbr({ ...cmd, rateRadS: [0, Infinity, 0] }, lim)).toBeNull();
    const c = checkCtbr({ ...cmd, thrustN: 99, rateRadS: [20, -20, 9] }, lim)!;
    expect(c.clamped).toBe(true);
    expect(c.cmd.thrustN).toBe(40);
    expect(c.cmd.rateRadS).toEqual([13, -13, 5]);
    expect(checkCtbr({ ...cmd, thrustN: -1 }, lim)!.cmd.thrustN).toBe(0);
    expect(checkCtbr(cmd, lim)).toEqual({ cmd, clamped: false });
  });

  it('CTBR ↔ TwistStamped: angular = FLU rates, linear.z = thrust N, stamped with the command time', () => {
    const m = ctbrToTwistStamped(cmd);
    expect(m).toEqual({ header: { stamp: { sec: 3, nanosec: 250_000_000 }, frame_id: 'base_link' }, twist: { linear: { x: 0, y: 0, z: 9.5 }, angular: { x: 1, y: -2, z: 0.5 } } });
    expect(value(twistStampedToCtbr(m))).toEqual(cmd);
    expectReject(twistStampedToCtbr({ ...m, twist: { ...m.twist, linear: { x: 1, y: 0, z: 2 } } }), 'decode', /linear.x\/y/);
    expectReject(twistStampedToCtbr({ ...m, twist: { ...m.twist, linear: { x: 0, y: 0, z: -2 } } }), 'decode', /thrust/);
    expectReject(twistStampedToCtbr({ ...m, twist: { ...m.twist, angular: { x: NaN, y: 0, z: 0 } } }), 'non-finite');
    expectReject(twistStampedToCtbr({ ...m, extra: true }), 'malformed');
  });

  it('toTimeMsg never produces nanosec = 1e9 and clamps negative time', () => {
    expect(toTimeMsg(0.9999999999)).toEqual({ sec: 1, nanosec: 0 });
    expect(toTimeMsg(-3)).toEqual({ sec: 0, nanosec: 0 });
    expect(toTimeMsg(NaN)).toEqual({ sec: 0, nanosec: 0 });
  });

  it('PX4: FLU rates → FRD (roll, −pitch, −yaw); thrust_body = [0, 0, −T/Tmax]; body-rate offboard mode', () => {
    const { rates, mode } = ctbrToPx4(cmd, 19, px4Us(3.25));
    expect(rates).toEqual({ timestamp: 3_250_000n, roll: 1, pitch: 2, yaw: -0.5, thrust_body: [0, 0, -0.5], reset_integral: false });
    expect(mode.body_rate).toBe(true);
    expect([mode.position, mode.velocity, mode.acceleration, mode.attitude, mode.thrust_and_torque, mode.direct_actuator]).toEqual([false, false, false, false, false, false]);
    expect(ctbrToPx4({ ...cmd, thrustN: 100 }, 19, 0n).rates.thrust_body[2]).toBe(-1);
    // PX4's side reads it back (what sim serve --ros2 flies)
    expect(value(px4RatesToCtbr(rates, 19))).toEqual({ ...cmd, stampS: 3.25 });
    expectReject(px4RatesToCtbr({ ...rates, thrust_body: [0.1, 0, -0.5] }, 19), 'decode', /x\/y/);
    expectReject(px4RatesToCtbr({ ...rates, thrust_body: [0, 0, 0.5] }, 19), 'decode', /outside/);
    expectReject(px4RatesToCtbr({ ...rates, yaw: NaN }, 19), 'non-finite');
    expectReject(px4RatesToCtbr({ ...rates, thrust_and_torque: true }, 19), 'malformed');
    const d = px4DisarmCommand(5n, 2);
    expect(d).toMatchObject({ command: 400, param1: 0, param2: 21196, target_system: 2 });
  });

  it('Actuators: rotor speeds in the model’s slot order, round trip, clamped and finite', () => {
    const m = motorsToActuators([0.1, 0.2, 0.3, 0.4], PX4_QUAD_X_ORDER, 1000, 2.5);
    // slots: front-right (our 1), rear-left (2), front-left (3), rear-right (0)
    expect(m.velocity.map((v) => Math.round(v))).toEqual([200, 300, 400, 100]);
    expect(m.normalized).toEqual([0.2, 0.3, 0.4, 0.1]);
    expect(m.header.stamp).toEqual({ sec: 2, nanosec: 500_000_000 });
    const back = value(actuatorsToMotors(m, PX4_QUAD_X_ORDER, 1000));
    back.motors.forEach((u, i) => expect(u).toBeCloseTo([0.1, 0.2, 0.3, 0.4][i]!, 12));
    const bad = motorsToActuators([NaN, 2, -1, 0.5], PX4_QUAD_X_ORDER, 1000, 0);
    expect(bad.velocity).toEqual([1000, 0, 500, 0]);
    expectReject(actuatorsToMotors({ ...m, velocity: [1, 2, 3] }, PX4_QUAD_X_ORDER, 1000), 'decode', /4 rotors/);
  });

  it('the core mixer through Actuators: a positive roll torque (FLU: right side down) spins the left rotors faster', () => {
    const g = parseMixerGeometry({ armXM: 0.099, armYM: 0.099, motorMaxThrustN: 10.5, yawTorquePerThrustM: 0.016, motorIdle: 0.05 });
    const hover = mixToMotors({ thrustN: 9.32, torqueNm: [0, 0, 0] }, g);
    const hv = motorsToActuators(hover.motors, PX4_QUAD_X_ORDER, 1108, 0).velocity;
    expect(Math.max(...hv) - Math.min(...hv)).toBeLessThan(1e-9);
    // thrust = k·ω² with ω = u·ωmax must give the commanded collective back
    const k = 10.5 / 1108 ** 2;
    expect(hv.reduce((a, w) => a + k * w * w, 0)).toBeCloseTo(9.32, 6);
    const roll = motorsToActuators(mixToMotors({ thrustN: 9.32, torqueNm: [0.05, 0, 0] }, g).motors, PX4_QUAD_X_ORDER, 1108, 0).velocity;
    const [fr, rl, fl, rr] = roll as [number, number, number, number];
    expect(rl).toBeGreaterThan(rr);
    expect(fl).toBeGreaterThan(fr);
  });

  it('std_msgs/Bool', () => {
    expect(value(boolMsg({ data: false }))).toBe(false);
    expectReject(boolMsg({ data: 1 }), 'malformed');
  });
});

describe('diagnostics and perception', () => {
  const health = (over: Partial<HealthSnapshot> = {}): HealthSnapshot => ({
    framesPerS: 30,
    imuPerS: 250,
    commandsPerS: 100,
    frameToCommandMs: { p50: 1.5, p99: 4, n: 60 },
    drops: {},
    failsafe: 'nominal',
    link: 'up',
    totals: { frames: 600, imu: 5000, commands: 2000, dropped: 0 },
    ...over,
  });

  it('health → DiagnosticArray with a level a user can alarm on', () => {
    const ok = healthToDiagnostics(health({ transport: { published: 12 } }), 7.5, 'brainpilot');
    expect(ok.header.stamp).toEqual({ sec: 7, nanosec: 500_000_000 });
    const st = ok.status[0]!;
    expect(st).toMatchObject({ level: 0, name: 'brainpilot: daemon', hardware_id: 'brainpilot' });
    const kv = Object.fromEntries(st.values.map((v) => [v.key, v.value]));
    expect(kv).toMatchObject({ frames_per_s: '30', imu_per_s: '250', frame_to_command_p99_ms: '4', failsafe: 'nominal', transport_published: '12' });
    expect(healthToDiagnostics(health({ drops: { decode: 3 } }), 0, 'b').status[0]).toMatchObject({ level: 1, message: '3 inputs dropped' });
    expect(healthToDiagnostics(health({ failsafe: 'failsafe-level-descend' }), 0, 'b').status[0]!.level).toBe(1);
    expect(healthToDiagnostics(health({ link: 'down' }), 0, 'b').status[0]!.level).toBe(2);
    expect(healthToDiagnostics(health({ failsafe: 'disarmed' }), 0, 'b').status[0]!.level).toBe(2);
    expect(healthToDiagnostics(health({ totals: { frames: 0, imu: 0, commands: 0, dropped: 0 } }), 0, 'b').status[0]!.level).toBe(3);
    const nan = healthToDiagnostics(health({ frameToCommandMs: { p50: NaN, p99: NaN, n: 0 } }), 0, 'b').status[0]!.values.find((v) => v.key === 'frame_to_command_p50_ms');
    expect(nan?.value).toBe('n/a');
  });

  it('sightings → Detection2DArray: bbox centre/size, class, score, PnP pose, the target marked', () => {
    const d = perceptionToDetections(
      {
        stampS: 4.5,
        sightings: [
          { kind: 'blob', bboxPx: [10, 20, 30, 60], confidence: 0.3, posCamM: null },
          { kind: 'ring', bboxPx: [100, 50, 200, 150], confidence: 0.9, posCamM: [0.5, -0.2, 6] },
        ],
        targetIndex: 1,
        timeToGateS: 1.2,
      },
      'camera_optical_frame',
    );
    expect(d.header).toEqual({ stamp: { sec: 4, nanosec: 500_000_000 }, frame_id: 'camera_optical_frame' });
    const [a, b] = d.detections;
    expect(a!.bbox).toEqual({ center: { position: { x: 20, y: 40 }, theta: 0 }, size_x: 20, size_y: 40 });
    expect(a!.results[0]!.hypothesis).toEqual({ class_id: 'gate_blob', score: 0.3 });
    expect(a!.results[0]!.pose.covariance[0]).toBe(-1);
    expect(b!.id).toBe('target');
    expect(b!.results[0]!.pose.pose.position).toEqual({ x: 0.5, y: -0.2, z: 6 });
    expect(b!.results[0]!.pose.covariance).toHaveLength(36);
  });

  it('the daemon turns the colliculus output into the report (target index, finite TTC only)', () => {
    const s1 = { kind: 'ring' as const, bboxPx: [1, 2, 3, 4] as [number, number, number, number], confidence: 0.8, posCamM: [0, 0, 5] as [number, number, number] };
    const col = { sightings: [s1], target: s1, orient: { yawRateRadS: 0, pitchRateRadS: 0 }, looming: { ttcS: 0.7, collision: false, lgmd: 0.5, spikes: 0 } };
    const r = perceptionOf(col as never, 2);
    expect(r).toEqual({ stampS: 2, sightings: [{ kind: 'ring', bboxPx: [1, 2, 3, 4], confidence: 0.8, posCamM: [0, 0, 5] }], targetIndex: 0, timeToGateS: 0.7 });
    expect(perceptionOf({ ...col, target: null, looming: { ...col.looming, ttcS: Infinity } } as never, 2)).toMatchObject({ targetIndex: -1, timeToGateS: null });
    // the colliculus' "unknown" is NaN; on the wire it is null
    expect(perceptionOf({ ...col, looming: { ...col.looming, ttcS: NaN } } as never, 2)).toMatchObject({ targetIndex: 0, timeToGateS: null });
  });
});

describe('never throws', () => {
  it('every input mapping returns a result for arbitrary input (fast-check, seeded)', () => {
    const c = ctx(2, 2);
    fc.assert(
      fc.property(fc.anything({ withTypedArray: true, withBigInt: true, withNullPrototype: true }), (x) => {
        for (const r of [imageToFrame(x, c), compressedToFrame(x, c), cameraInfoToIntrinsics(x), imuToSample(x), px4SensorCombinedToSample(x), twistStampedToCtbr(x), actuatorsToMotors(x, PX4_QUAD_X_ORDER, 1000), px4RatesToCtbr(x, 40), boolMsg(x)]) {
          expect(typeof r.ok).toBe('boolean');
          if (!r.ok) expect(['malformed', 'decode', 'encoding', 'non-finite', 'time', 'incomplete']).toContain(r.kind);
        }
      }),
      { seed: 5, numRuns: 400 },
    );
  });

  it('random corruptions of a valid Image and Imu are rejected or mapped, never thrown', () => {
    fc.assert(
      fc.property(fc.constantFrom('height', 'width', 'encoding', 'is_bigendian', 'step', 'data', 'header'), fc.anything({ withTypedArray: true }), (key, v) => {
        const r = imageToFrame({ ...image(), [key]: v }, ctx(2, 2));
        if (r.ok) expect(r.value.data.length).toBe(r.value.step * r.value.height);
        const s = imuToSample({ ...imu(), [key === 'data' ? 'angular_velocity' : 'linear_acceleration']: v });
        if (s.ok) expect(s.value.gyroRadS.every(Number.isFinite)).toBe(true);
      }),
      { seed: 11, numRuns: 300 },
    );
  });

  it('the simulator’s frames map back unchanged (frameToImage → imageToFrame)', () => {
    const data = new Uint8Array(4 * 3 * 3).map((_, i) => i);
    const f = { stampS: 1.25, arrivalS: 1.29, seq: 3, encoding: 'rgb8' as const, width: 4, height: 3, step: 12, data, intrinsics: K(4, 3), mount: { tiltUpRad: 0, posFluM: [0, 0, 0] as [number, number, number] } };
    const back = value(imageToFrame(frameToImage(f), { seq: 3, arrivalS: 1.29, intrinsics: K(4, 3), mount: f.mount }));
    expect(back).toEqual(f);
  });
});
