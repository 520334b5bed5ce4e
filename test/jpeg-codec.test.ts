/**
 * The JPEG codec the AI Grand Prix link decodes camera frames with: sharp (libjpeg-turbo) where its
 * native binary loads, jpeg-js worker threads otherwise. Both must give the same picture and both
 * must turn garbage into a failed result, never a throw.
 */
import jpeg from 'jpeg-js';
import { afterAll, describe, expect, it } from 'vitest';
import { JpegWorkers, SharpJpeg, jpegCodec } from '../src/transports/aigp/jpeg-worker.js';

const W = 64, H = 48;
const rgba = new Uint8Array(W * H * 4);
for (let y = 0, i = 0; y < H; y++) for (let x = 0; x < W; x++, i += 4) [rgba[i], rgba[i + 1], rgba[i + 2], rgba[i + 3]] = [x * 4, y * 5, (x + y) & 255, 255];
const jpg = new Uint8Array(jpeg.encode({ data: rgba, width: W, height: H }, 95).data);

describe('JPEG codec', () => {
  const sharp = jpegCodec(1);
  const workers = new JpegWorkers(1);
  afterAll(async () => {
    await sharp.close();
    await workers.close();
  });

  it('sharp loads on this platform (the fast path CI and the Jetson use)', () => {
    expect(sharp).toBeInstanceOf(SharpJpeg);
  });

  it('decodes to rgb8 of the right size, the same picture with either codec', async () => {
    const a = await sharp.decode(jpg.slice(), 1);
    const b = await workers.decode(jpg.slice(), 1);
    expect([a.ok, a.width, a.height, a.data.length]).toEqual([true, W, H, W * H * 3]);
    expect([b.ok, b.width, b.height, b.data.length]).toEqual([true, W, H, W * H * 3]);
    let maxDiff = 0;
    for (let i = 0; i < a.data.length; i++) maxDiff = Math.max(maxDiff, Math.abs(a.data[i]! - b.data[i]!));
    expect(maxDiff).toBeLessThanOrEqual(8); // IDCT rounding differs a little between decoders
    // and it is the picture that went in (q95): a pixel in the middle
    const i = (20 * W + 30) * 3;
    expect(Math.abs(a.data[i]! - 120)).toBeLessThan(10);
    expect(Math.abs(a.data[i + 1]! - 100)).toBeLessThan(10);
  });

  it('a truncated or garbage JPEG is a failed result with a reason, not a throw', async () => {
    for (const bad of [jpg.slice(0, 100), new Uint8Array(500).fill(7)]) {
      const r = await sharp.decode(bad, 1);
      expect(r.ok).toBe(false);
      expect(r.error).toBeTruthy();
    }
  });

  it('refuses an image larger than the pixel limit it is given', async () => {
    const r = await sharp.decode(jpg.slice(), 0.001); // 1000 pixels < 64×48
    expect(r.ok).toBe(false);
  });
});
