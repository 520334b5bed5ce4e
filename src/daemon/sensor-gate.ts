/**
 * The daemon's input check: every sample a transport delivers passes here before the pipeline sees
 * it. A malformed sample is dropped and counted, never thrown: a NaN in one IMU message must not
 * stop a drone in flight. The rules are the tracts' contract (src/tracts/io.ts).
 */
import type { CameraFrame, ImuSample } from '../tracts/io.js';
import type { RejectKind } from './transport.js';

export interface GateVerdict {
  ok: boolean;
  kind?: RejectKind;
  detail?: string;
}

const OK: GateVerdict = { ok: true };
const bad = (kind: RejectKind, detail: string): GateVerdict => ({ ok: false, kind, detail });
const finite3 = (v: readonly number[]): boolean => v.length === 3 && Number.isFinite(v[0]) && Number.isFinite(v[1]) && Number.isFinite(v[2]);

export interface SensorGateConfig {
  /** A frame exposed this long before the newest IMU sample is stale (it would steer from the past), s. */
  maxFrameAgeS: number;
  /** Image sizes the pipeline takes (0 = any). */
  expectWidth: number;
  expectHeight: number;
}

export class SensorGate {
  private lastImuS = -Infinity;
  private lastFrameS = -Infinity;
  constructor(private readonly cfg: SensorGateConfig = { maxFrameAgeS: 0.5, expectWidth: 0, expectHeight: 0 }) {}

  imu(s: ImuSample): GateVerdict {
    if (!Number.isFinite(s.stampS)) return bad('non-finite', `IMU stamp ${s.stampS}`);
    if (!finite3(s.gyroRadS)) return bad('non-finite', `IMU gyro [${s.gyroRadS.join(', ')}]`);
    if (!finite3(s.accelMS2)) return bad('non-finite', `IMU accel [${s.accelMS2.join(', ')}]`);
    if (s.stampS <= this.lastImuS) return bad('time', `IMU stamp ${s.stampS.toFixed(6)} s not after the previous ${this.lastImuS.toFixed(6)} s`);
    this.lastImuS = s.stampS;
    return OK;
  }

  frame(f: CameraFrame): GateVerdict {
    if (!Number.isFinite(f.stampS) || !Number.isFinite(f.arrivalS)) return bad('non-finite', `frame stamp ${f.stampS}/${f.arrivalS}`);
    if (f.encoding !== 'mono8' && f.encoding !== 'rgb8') return bad('encoding', `frame encoding "${String(f.encoding)}" (takes mono8, rgb8)`);
    const bpp = f.encoding === 'rgb8' ? 3 : 1;
    if (!(Number.isInteger(f.width) && Number.isInteger(f.height) && f.width > 0 && f.height > 0)) return bad('encoding', `frame size ${f.width}×${f.height}`);
    if (this.cfg.expectWidth > 0 && (f.width !== this.cfg.expectWidth || f.height !== this.cfg.expectHeight))
      return bad('encoding', `frame ${f.width}×${f.height}, expected ${this.cfg.expectWidth}×${this.cfg.expectHeight}`);
    if (f.step < f.width * bpp) return bad('decode', `frame step ${f.step} < width × ${bpp}`);
    if (f.data.length < f.step * (f.height - 1) + f.width * bpp) return bad('decode', `frame has ${f.data.length} bytes, needs ${f.step * f.height}`);
    const k = f.intrinsics;
    if (!(k.fx > 0 && k.fy > 0 && Number.isFinite(k.cx) && Number.isFinite(k.cy))) return bad('non-finite', 'frame intrinsics');
    if (f.stampS <= this.lastFrameS) return bad('time', `frame stamp ${f.stampS.toFixed(6)} s not after the previous ${this.lastFrameS.toFixed(6)} s`);
    if (this.lastImuS - f.stampS > this.cfg.maxFrameAgeS)
      return bad('time', `frame exposed ${(this.lastImuS - f.stampS).toFixed(3)} s before the newest IMU sample (stale > ${this.cfg.maxFrameAgeS} s)`);
    this.lastFrameS = f.stampS;
    return OK;
  }
}
