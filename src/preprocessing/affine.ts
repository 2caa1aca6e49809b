/**
 * Image transforms of ImageDataGenerator, as plain functions with no
 * imports and no outside references: the augmentation worker threads are
 * built from their source text (`Function.prototype.toString`), so the same
 * code runs on the main thread and in the workers.
 *
 * An image is a Float32Array with its height, width, channels and layout
 * ('channels_last': [h, w, c]; 'channels_first': [c, h, w]). The affine
 * transform follows Keras: a 3x3 matrix in (row, col) coordinates mapping
 * output to input pixels about the image centre, sampled bilinearly
 * (scipy's order=1) with the fill mode outside the image.
 */

export interface ImageShape {
  readonly h: number;
  readonly w: number;
  readonly c: number;
  readonly channelsFirst: boolean;
}

export interface TransformParams {
  theta: number;
  tx: number;
  ty: number;
  shear: number;
  zx: number;
  zy: number;
  flipHorizontal: boolean;
  flipVertical: boolean;
  channelShiftIntensity: number | null;
  brightness: number | null;
}

export type FillMode = 'constant' | 'nearest' | 'reflect' | 'wrap';

/** The output-to-input matrix (row-major 3x3) of Keras's apply_affine_transform, centred on the image, or null for the identity. */
export function affineMatrix(p: TransformParams, h: number, w: number): number[] | null {
  const mul = (a: number[], b: number[]): number[] => {
    const out = new Array<number>(9).fill(0);
    for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) for (let k = 0; k < 3; k++) out[i * 3 + j] += a[i * 3 + k] * b[k * 3 + j];
    return out;
  };
  let m: number[] | null = null;
  const then = (x: number[]): void => void (m = m === null ? x : mul(m, x));
  if (p.theta !== 0) {
    const t = (p.theta * Math.PI) / 180;
    then([Math.cos(t), -Math.sin(t), 0, Math.sin(t), Math.cos(t), 0, 0, 0, 1]);
  }
  if (p.tx !== 0 || p.ty !== 0) then([1, 0, p.tx, 0, 1, p.ty, 0, 0, 1]);
  if (p.shear !== 0) {
    const s = (p.shear * Math.PI) / 180;
    then([1, -Math.sin(s), 0, 0, Math.cos(s), 0, 0, 0, 1]);
  }
  if (p.zx !== 1 || p.zy !== 1) then([p.zx, 0, 0, 0, p.zy, 0, 0, 0, 1]);
  if (m === null) return null;
  // The centre of pixel rows 0..h-1 is (h - 1) / 2 (keras-preprocessing 1.1+; Keras 2.2 used h / 2 + 0.5, off by one pixel).
  const oy = h / 2 - 0.5;
  const ox = w / 2 - 0.5;
  return mul(mul([1, 0, oy, 0, 1, ox, 0, 0, 1], m), [1, 0, -oy, 0, 1, -ox, 0, 0, 1]);
}

/** Maps an index outside [0, n) back inside by the fill mode; -1 means "use cval". */
export function fillIndex(i: number, n: number, mode: FillMode): number {
  if (i >= 0 && i < n) return i;
  if (mode === 'constant') return -1;
  if (mode === 'nearest') return i < 0 ? 0 : n - 1;
  if (mode === 'wrap') return ((i % n) + n) % n;
  const period = 2 * n;
  const r = ((i % period) + period) % period;
  return r < n ? r : period - 1 - r;
}

/** Keras's apply_affine_transform on one image: `out[o] = in[M o]`, bilinear, per channel. */
export function applyAffine(x: Float32Array, s: ImageShape, m: number[], fillMode: FillMode, cval: number): Float32Array {
  const { h, w, c, channelsFirst } = s;
  const out = new Float32Array(x.length);
  // Element (row, col, channel) sits at row * rowStride + col * colStride + channel * chStride.
  const rowStride = channelsFirst ? w : w * c;
  const colStride = channelsFirst ? 1 : c;
  const chStride = channelsFirst ? h * w : 1;
  const eps = 1e-9;
  for (let r = 0; r < h; r++) {
    for (let q = 0; q < w; q++) {
      const o = r * rowStride + q * colStride;
      const sr = m[0] * r + m[1] * q + m[2];
      const sq = m[3] * r + m[4] * q + m[5];
      if (fillMode === 'constant' && (sr < -eps || sr > h - 1 + eps || sq < -eps || sq > w - 1 + eps)) {
        for (let ch = 0; ch < c; ch++) out[o + ch * chStride] = cval;
        continue;
      }
      const r0 = Math.floor(sr + eps);
      const q0 = Math.floor(sq + eps);
      const fr = sr - r0 > eps ? sr - r0 : 0;
      const fq = sq - q0 > eps ? sq - q0 : 0;
      const ra = fillIndex(r0, h, fillMode);
      const qa = fillIndex(q0, w, fillMode);
      const rb = fr ? fillIndex(r0 + 1, h, fillMode) : -1;
      const qb = fq ? fillIndex(q0 + 1, w, fillMode) : -1;
      // Corner offsets, or -1 where the fill is cval; weights of the four corners.
      const a = ra < 0 || qa < 0 ? -1 : ra * rowStride + qa * colStride;
      const b = ra < 0 || qb < 0 ? -1 : ra * rowStride + qb * colStride;
      const cc = rb < 0 || qa < 0 ? -1 : rb * rowStride + qa * colStride;
      const d = rb < 0 || qb < 0 ? -1 : rb * rowStride + qb * colStride;
      const wa = (1 - fr) * (1 - fq);
      const wb = (1 - fr) * fq;
      const wc = fr * (1 - fq);
      const wd = fr * fq;
      for (let ch = 0; ch < c; ch++) {
        const k = ch * chStride;
        let v = wa * (a < 0 ? cval : x[a + k]);
        if (wb) v += wb * (b < 0 ? cval : x[b + k]);
        if (wc) v += wc * (cc < 0 ? cval : x[cc + k]);
        if (wd) v += wd * (d < 0 ? cval : x[d + k]);
        out[o + k] = v;
      }
    }
  }
  return out;
}

/** Reverses the image along rows (vertical flip) or columns (horizontal flip). */
export function flipImage(x: Float32Array, s: ImageShape, alongRows: boolean): Float32Array {
  const { h, w, c, channelsFirst } = s;
  const out = new Float32Array(x.length);
  const at = (r: number, q: number, ch: number): number => (channelsFirst ? (ch * h + r) * w + q : (r * w + q) * c + ch);
  for (let r = 0; r < h; r++) for (let q = 0; q < w; q++) for (let ch = 0; ch < c; ch++) out[at(r, q, ch)] = x[at(alongRows ? h - 1 - r : r, alongRows ? q : w - 1 - q, ch)];
  return out;
}

/** Keras's apply_channel_shift: every value plus `intensity`, clipped to the image's own min and max. */
export function channelShift(x: Float32Array, intensity: number): Float32Array {
  let min = Infinity;
  let max = -Infinity;
  for (const v of x) (min = Math.min(min, v)), (max = Math.max(max, v));
  return x.map((v) => Math.min(max, Math.max(min, v + intensity)));
}

/**
 * Keras's apply_brightness_shift: the image goes through array_to_img
 * (shifted to a zero minimum, scaled to a 255 maximum, truncated to uint8)
 * and PIL's ImageEnhance.Brightness (each value times the factor, truncated,
 * clipped to 0..255).
 */
export function brightnessShift(x: Float32Array, factor: number): Float32Array {
  let min = Infinity;
  for (const v of x) min = Math.min(min, v);
  const shift = Math.max(-min, 0);
  let max = -Infinity;
  for (const v of x) max = Math.max(max, v + shift);
  return x.map((v) => {
    const u8 = Math.trunc(max !== 0 ? ((v + shift) / max) * 255 : v + shift);
    return Math.min(255, Math.max(0, Math.trunc(u8 * factor)));
  });
}

/** ImageDataGenerator.apply_transform: affine, channel shift, flips, brightness, in Keras's order. */
export function applyTransformTo(x: Float32Array, s: ImageShape, p: TransformParams, fillMode: FillMode, cval: number): Float32Array {
  const m = affineMatrix(p, s.h, s.w);
  let y = m ? applyAffine(x, s, m, fillMode, cval) : x;
  if (p.channelShiftIntensity !== null) y = channelShift(y, p.channelShiftIntensity);
  if (p.flipHorizontal) y = flipImage(y, s, false);
  if (p.flipVertical) y = flipImage(y, s, true);
  if (p.brightness !== null) y = brightnessShift(y, p.brightness);
  return y;
}

/** The functions above, in dependency order, for building worker source. */
export const AFFINE_FUNCTIONS = [affineMatrix, fillIndex, applyAffine, flipImage, channelShift, brightnessShift, applyTransformTo] as const;
