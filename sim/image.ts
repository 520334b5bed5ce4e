/**
 * Image codecs for camera frames: PNG (pngjs, lossless, for logs and tests) and JPEG (jpeg-js, what
 * the AI-GP simulator streams), plus rgb8 → mono8 conversion. All synchronous.
 */
import { PNG } from 'pngjs';
import * as jpeg from 'jpeg-js';
import type { PixelEncoding } from '../src/tracts/io.js';

export interface RawImage {
  width: number;
  height: number;
  encoding: PixelEncoding;
  data: Uint8Array;
}

const channels = (enc: PixelEncoding): number => (enc === 'rgb8' ? 3 : 1);

const checkSize = (f: RawImage, what: string): void => {
  const need = f.width * f.height * channels(f.encoding);
  if (!(f.width > 0 && f.height > 0) || f.data.length < need) {
    throw new Error(`${what}: ${f.width}×${f.height} ${f.encoding} needs ${need} bytes, got ${f.data.length}`);
  }
};

/** Expand mono8 / rgb8 to RGBA (what pngjs and jpeg-js take). */
const toRgba = (f: RawImage): Buffer => {
  const n = f.width * f.height;
  const out = Buffer.allocUnsafe(n * 4);
  const d = f.data;
  if (f.encoding === 'rgb8') {
    for (let i = 0, s = 0, o = 0; i < n; i++, s += 3, o += 4) {
      out[o] = d[s]!; out[o + 1] = d[s + 1]!; out[o + 2] = d[s + 2]!; out[o + 3] = 255;
    }
  } else {
    for (let i = 0, o = 0; i < n; i++, o += 4) {
      const v = d[i]!;
      out[o] = v; out[o + 1] = v; out[o + 2] = v; out[o + 3] = 255;
    }
  }
  return out;
};

/** Lossless PNG: mono8 → 8-bit greyscale, rgb8 → 8-bit RGB. */
export const encodePng = (frame: RawImage): Buffer => {
  checkSize(frame, 'encodePng');
  const png = new PNG({
    width: frame.width,
    height: frame.height,
    colorType: frame.encoding === 'rgb8' ? 2 : 0,
    inputColorType: 6,
    inputHasAlpha: true,
    bitDepth: 8,
  });
  png.data = toRgba(frame);
  return PNG.sync.write(png, { colorType: frame.encoding === 'rgb8' ? 2 : 0, inputColorType: 6, inputHasAlpha: true });
};

/** Decode a PNG into rgb8 (or mono8 when `encoding` is 'mono8': luma of the RGB). */
export const decodePng = (buf: Buffer, encoding: PixelEncoding = 'rgb8'): RawImage => {
  const png = PNG.sync.read(buf);
  const rgb = rgbaToRgb(png.data, png.width * png.height);
  return encoding === 'rgb8'
    ? { width: png.width, height: png.height, encoding, data: rgb }
    : { width: png.width, height: png.height, encoding, data: toMono(rgb) };
};

/** Baseline JPEG at `quality` (1–100). mono8 frames are encoded as grey RGB. */
export const encodeJpeg = (frame: RawImage, quality = 80): Buffer => {
  checkSize(frame, 'encodeJpeg');
  if (!(quality >= 1 && quality <= 100)) throw new Error(`encodeJpeg: quality must be in [1, 100], got ${quality}`);
  return jpeg.encode({ width: frame.width, height: frame.height, data: toRgba(frame) }, quality).data;
};

/** Decode a JPEG into rgb8. */
export const decodeJpeg = (buf: Uint8Array): { width: number; height: number; encoding: 'rgb8'; data: Uint8Array } => {
  const img = jpeg.decode(buf, { useTArray: true, formatAsRGBA: false, maxResolutionInMP: 64 });
  const n = img.width * img.height;
  if (img.data.length === n * 4) return { width: img.width, height: img.height, encoding: 'rgb8', data: rgbaToRgb(img.data, n) };
  return { width: img.width, height: img.height, encoding: 'rgb8', data: img.data };
};

const rgbaToRgb = (rgba: Uint8Array, n: number): Uint8Array => {
  const out = new Uint8Array(n * 3);
  for (let i = 0, s = 0, o = 0; i < n; i++, s += 4, o += 3) {
    out[o] = rgba[s]!; out[o + 1] = rgba[s + 1]!; out[o + 2] = rgba[s + 2]!;
  }
  return out;
};

/**
 * rgb8 → mono8 (Rec. 601 luma, integer: (77 R + 150 G + 29 B + 128) >> 8 — the same weights the
 * renderer uses for mono8, so rendering mono8 equals toMono of the rgb8 render up to noise).
 */
export const toMono = (rgb: Uint8Array, out?: Uint8Array): Uint8Array => {
  const n = Math.floor(rgb.length / 3);
  const o = out ?? new Uint8Array(n);
  if (o.length < n) throw new Error(`toMono: output has ${o.length} bytes, need ${n}`);
  for (let i = 0, s = 0; i < n; i++, s += 3) o[i] = (77 * rgb[s]! + 150 * rgb[s + 1]! + 29 * rgb[s + 2]! + 128) >> 8;
  return o;
};
