/**
 * Image decoding, mode conversion and resizing with PIL's semantics, as
 * self-contained functions (the codec libraries are passed in) so that the
 * augmentation workers can run them from their source text. PNG through
 * pngjs, JPEG through jpeg-js.
 */

/** A decoded image as PIL holds it: mode 'L' (1 channel), 'RGB' (3) or 'RGBA' (4), 8 bits per channel, rows top to bottom. */
export interface Image {
  readonly width: number;
  readonly height: number;
  readonly mode: 'L' | 'RGB' | 'RGBA';
  readonly data: Uint8Array;
}

export interface CodecLibs {
  readonly PNG: { sync: { read(b: Buffer): { width: number; height: number; data: Uint8Array }; write(png: unknown, opts?: object): Buffer } };
  readonly jpeg: { decode(b: Uint8Array, o: object): { width: number; height: number; data: Uint8Array }; encode(img: object, quality?: number): { data: Uint8Array } };
}

/** Decodes PNG or JPEG bytes to RGBA; any other type is an error naming the file and what it looks like. */
export function decodeImage(bytes: Uint8Array, path: string, libs: CodecLibs): Image {
  const b = bytes;
  const isPng = b.length > 8 && b[0] === 0x89 && b[1] === 0x50 && b[2] === 0x4e && b[3] === 0x47;
  const isJpeg = b.length > 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff;
  if (!isPng && !isJpeg) {
    const head = String.fromCharCode(...Array.from(b.subarray(0, 4)));
    const kind = head.startsWith('GIF8') ? 'a GIF' : head.startsWith('BM') ? 'a BMP' : head === 'II*\0' || head === 'MM\0*' ? 'a TIFF' : head === 'RIFF' ? 'a WebP' : 'not an image Kiln can read';
    throw new Error(`Cannot load image ${path}: it is ${kind} file; supported types are PNG and JPEG`);
  }
  try {
    const img = isPng ? libs.PNG.sync.read(Buffer.from(b.buffer, b.byteOffset, b.byteLength)) : libs.jpeg.decode(b, { useTArray: true, formatAsRGBA: true });
    return { width: img.width, height: img.height, mode: 'RGBA', data: new Uint8Array(img.data.buffer, img.data.byteOffset, img.width * img.height * 4) };
  } catch (e) {
    throw new Error(`Cannot load image ${path}: corrupt ${isPng ? 'PNG' : 'JPEG'} data (${(e as Error).message})`);
  }
}

/** PIL's Image.convert between L, RGB and RGBA (L = (19595 R + 38470 G + 7471 B + 2^15) >> 16; alpha dropped, or 255 added). */
export function convertImage(img: Image, mode: 'L' | 'RGB' | 'RGBA'): Image {
  if (img.mode === mode) return img;
  const n = img.width * img.height;
  const inC = img.mode === 'L' ? 1 : img.mode === 'RGB' ? 3 : 4;
  const outC = mode === 'L' ? 1 : mode === 'RGB' ? 3 : 4;
  const out = new Uint8Array(n * outC);
  for (let i = 0; i < n; i++) {
    const r = img.data[i * inC];
    const g = inC === 1 ? r : img.data[i * inC + 1];
    const bl = inC === 1 ? r : img.data[i * inC + 2];
    if (outC === 1) out[i] = (r * 19595 + g * 38470 + bl * 7471 + 0x8000) >> 16;
    else {
      out[i * outC] = r;
      out[i * outC + 1] = g;
      out[i * outC + 2] = bl;
      if (outC === 4) out[i * 4 + 3] = inC === 4 ? img.data[i * 4 + 3] : 255;
    }
  }
  return { width: img.width, height: img.height, mode, data: out };
}

export type Interpolation = 'nearest' | 'bilinear' | 'bicubic';

/** PIL's resize: nearest samples floor((x + 0.5) * scale); bilinear and bicubic convolve (support widened when shrinking), rows then columns, rounding to 8 bits after each pass. */
export function resizeImage(img: Image, width: number, height: number, interpolation: Interpolation): Image {
  if (img.width === width && img.height === height) return img;
  const c = img.mode === 'L' ? 1 : img.mode === 'RGB' ? 3 : 4;
  if (interpolation === 'nearest') {
    const out = new Uint8Array(width * height * c);
    for (let y = 0; y < height; y++) {
      const sy = Math.min(img.height - 1, Math.floor(((y + 0.5) * img.height) / height));
      for (let x = 0; x < width; x++) {
        const sx = Math.min(img.width - 1, Math.floor(((x + 0.5) * img.width) / width));
        for (let k = 0; k < c; k++) out[(y * width + x) * c + k] = img.data[(sy * img.width + sx) * c + k];
      }
    }
    return { width, height, mode: img.mode, data: out };
  }
  const support = interpolation === 'bilinear' ? 1 : 2;
  const kernel = (x: number): number => {
    const a = Math.abs(x);
    if (interpolation === 'bilinear') return a < 1 ? 1 - a : 0;
    if (a < 1) return (1.5 * a - 2.5) * a * a + 1;
    return a < 2 ? (((a - 5) * a + 8) * a - 4) * -0.5 : 0;
  };
  const coefficients = (inSize: number, outSize: number): { start: number; weights: number[] }[] => {
    const scale = inSize / outSize;
    const filterScale = Math.max(scale, 1);
    const reach = support * filterScale;
    return Array.from({ length: outSize }, (_, xx) => {
      const center = (xx + 0.5) * scale;
      const start = Math.max(0, Math.trunc(center - reach + 0.5));
      const stop = Math.min(inSize, Math.trunc(center + reach + 0.5));
      const weights = Array.from({ length: stop - start }, (_, i) => kernel((i + start - center + 0.5) / filterScale));
      const total = weights.reduce((s, w) => s + w, 0);
      return { start, weights: weights.map((w) => (total ? w / total : 0)) };
    });
  };
  const pass = (src: Uint8Array, w: number, h: number, newW: number, newH: number, horizontal: boolean): Uint8Array => {
    const out = new Uint8Array(newW * newH * c);
    const coeffs = coefficients(horizontal ? w : h, horizontal ? newW : newH);
    for (let y = 0; y < newH; y++) {
      for (let x = 0; x < newW; x++) {
        const { start, weights } = coeffs[horizontal ? x : y];
        for (let k = 0; k < c; k++) {
          let s = 0;
          for (let i = 0; i < weights.length; i++) s += weights[i] * src[(horizontal ? y * w + start + i : (start + i) * w + x) * c + k];
          out[(y * newW + x) * c + k] = Math.min(255, Math.max(0, Math.floor(s + 0.5)));
        }
      }
    }
    return out;
  };
  let data = img.data;
  let w = img.width;
  if (width !== img.width) {
    data = pass(data, img.width, img.height, width, img.height, true);
    w = width;
  }
  if (height !== img.height) data = pass(data, w, img.height, w, height, false);
  return { width, height, mode: img.mode, data };
}

/** Reads, decodes, converts and resizes as Keras's load_img (run in workers and on the main thread). */
export function loadImageFile(bytes: Uint8Array, path: string, libs: CodecLibs, mode: 'L' | 'RGB' | 'RGBA', target: readonly [number, number] | null, interpolation: Interpolation): Image {
  const img = convertImage(decodeImage(bytes, path, libs), mode);
  return target ? resizeImage(img, target[1], target[0], interpolation) : img;
}

/** Image bytes to float values in channels_last or channels_first order (Keras's img_to_array). */
export function imageToFloats(img: Image, channelsFirst: boolean): Float32Array {
  const c = img.mode === 'L' ? 1 : img.mode === 'RGB' ? 3 : 4;
  if (!channelsFirst) return Float32Array.from(img.data);
  const n = img.width * img.height;
  const out = new Float32Array(n * c);
  for (let i = 0; i < n; i++) for (let k = 0; k < c; k++) out[k * n + i] = img.data[i * c + k];
  return out;
}

export const CODEC_FUNCTIONS = [decodeImage, convertImage, resizeImage, loadImageFile, imageToFloats] as const;
