/**
 * keras.preprocessing.image's file helpers: loadImg, imgToArray, arrayToImg
 * and saveImg, over PNG and JPEG files.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { extname } from 'node:path';
import type pngjs from 'pngjs';
import { jpegPackage, pngPackage } from '../optional_packages.js';
import { Tensor } from '../tensor.js';
import { type KerasOptions, optionSpec, readOptions } from '../options.js';
import { type CodecLibs, type Image, type Interpolation, imageToFloats, loadImageFile } from './image_codec.js';

export type { Image, Interpolation };
export type DataFormat = 'channels_last' | 'channels_first';
export type ColorMode = 'grayscale' | 'rgb' | 'rgba';

/** The PNG and JPEG codecs, loaded when the first image is. */
export const codecLibs = (): CodecLibs => ({ PNG: pngPackage().PNG as unknown as CodecLibs['PNG'], jpeg: jpegPackage() as unknown as CodecLibs['jpeg'] });

export const COLOR_MODES: Record<ColorMode, Image['mode']> = { grayscale: 'L', rgb: 'RGB', rgba: 'RGBA' };

export function checkDataFormat(f: string): DataFormat {
  if (f !== 'channels_last' && f !== 'channels_first') throw new Error(`dataFormat must be 'channels_last' or 'channels_first', got ${JSON.stringify(f)}`);
  return f;
}

export interface LoadImgArgs {
  readonly grayscale?: boolean;
  readonly colorMode?: ColorMode;
  /** [height, width] */
  readonly targetSize?: readonly [number, number] | null;
  readonly interpolation?: Interpolation;
}

const LOAD_OPTIONS = optionSpec<LoadImgArgs>({ grayscale: true, colorMode: true, targetSize: true, interpolation: true });

export function colorModeOf(mode: string): Image['mode'] {
  const m = COLOR_MODES[mode as ColorMode];
  if (!m) throw new Error(`colorMode must be one of grayscale, rgb, rgba; got ${JSON.stringify(mode)}`);
  return m;
}

export function checkInterpolation(i: string): Interpolation {
  if (i !== 'nearest' && i !== 'bilinear' && i !== 'bicubic') throw new Error(`interpolation must be one of nearest, bilinear, bicubic; got ${JSON.stringify(i)}`);
  return i;
}

/** Loads a PNG or JPEG file as a PIL-style image in the colour mode, resized to targetSize ([height, width]). */
export function loadImg(path: string, options: KerasOptions<LoadImgArgs> = {}): Image {
  const args = readOptions('loadImg', options, LOAD_OPTIONS);
  const mode = colorModeOf(args.grayscale ? 'grayscale' : args.colorMode ?? 'rgb');
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(readFileSync(path));
  } catch (e) {
    throw new Error(`Cannot load image ${path}: ${(e as Error).message}`);
  }
  return loadImageFile(bytes, path, codecLibs(), mode, args.targetSize ?? null, checkInterpolation(args.interpolation ?? 'nearest'));
}

/** An image as a float32 tensor [h, w, c] (or [c, h, w]). */
export function imgToArray(img: Image, dataFormat: DataFormat = 'channels_last'): Tensor {
  const c = img.mode === 'L' ? 1 : img.mode === 'RGB' ? 3 : 4;
  const channelsFirst = checkDataFormat(dataFormat) === 'channels_first';
  return new Tensor(imageToFloats(img, channelsFirst), channelsFirst ? [c, img.height, img.width] : [img.height, img.width, c]);
}

/** A rank-3 array as an image; with `scale`, shifted to a zero minimum and stretched to 255 as Keras does; values truncated to uint8. */
export function arrayToImg(x: Tensor, dataFormat: DataFormat = 'channels_last', scale = true): Image {
  if (x.shape.length !== 3) throw new Error(`arrayToImg: expected image array to have rank 3 (single image), got an array of shape [${x.shape.join(', ')}]`);
  const channelsFirst = checkDataFormat(dataFormat) === 'channels_first';
  const [h, w, c] = channelsFirst ? [x.shape[1], x.shape[2], x.shape[0]] : x.shape;
  if (c !== 1 && c !== 3 && c !== 4) throw new Error(`arrayToImg: unsupported channel number: ${c} (shape [${x.shape.join(', ')}]); images have 1, 3 or 4 channels`);
  const values = Float64Array.from(x.data, Number);
  if (scale) {
    const shift = Math.max(-values.reduce((m, v) => Math.min(m, v), Infinity), 0);
    const max = values.reduce((m, v) => Math.max(m, v + shift), -Infinity);
    for (let i = 0; i < values.length; i++) values[i] = ((values[i] + shift) / (max !== 0 ? max : 1)) * 255;
  }
  const data = new Uint8Array(h * w * c);
  for (let i = 0; i < h * w; i++) for (let k = 0; k < c; k++) data[i * c + k] = Math.trunc(values[channelsFirst ? k * h * w + i : i * c + k]) & 0xff;
  return { width: w, height: h, mode: c === 1 ? 'L' : c === 3 ? 'RGB' : 'RGBA', data };
}

/** Encodes an image as PNG or JPEG bytes. */
export function encodeImg(img: Image, format: 'png' | 'jpeg' | 'jpg', quality = 95): Uint8Array {
  const c = img.mode === 'L' ? 1 : img.mode === 'RGB' ? 3 : 4;
  if (format === 'png') {
    const colorType = c === 1 ? 0 : c === 3 ? 2 : 6;
    return new Uint8Array(pngPackage().PNG.sync.write({ width: img.width, height: img.height, data: Buffer.from(img.data) } as pngjs.PNG, { colorType, inputColorType: colorType, inputHasAlpha: c === 4 }));
  }
  if (format !== 'jpeg' && format !== 'jpg') throw new Error(`saveImg: unsupported file format '${format}'; use png or jpeg`);
  const rgba = new Uint8Array(img.width * img.height * 4);
  for (let i = 0; i < img.width * img.height; i++) {
    for (let k = 0; k < 3; k++) rgba[i * 4 + k] = img.data[i * c + (c === 1 ? 0 : k)];
    rgba[i * 4 + 3] = 255;
  }
  return new Uint8Array(jpegPackage().encode({ width: img.width, height: img.height, data: rgba }, quality).data);
}

export interface SaveImgArgs {
  readonly dataFormat?: DataFormat;
  readonly fileFormat?: 'png' | 'jpeg' | 'jpg';
  readonly scale?: boolean;
}

const SAVE_OPTIONS = optionSpec<SaveImgArgs>({ dataFormat: true, fileFormat: true, scale: true });

/** Saves an array (or an image) as a PNG or JPEG file; the format defaults to the file's extension. */
export function saveImg(path: string, x: Tensor | Image, options: KerasOptions<SaveImgArgs> = {}): void {
  const args = readOptions('saveImg', options, SAVE_OPTIONS);
  const img = x instanceof Tensor ? arrayToImg(x, args.dataFormat ?? 'channels_last', args.scale ?? true) : x;
  const format = args.fileFormat ?? (extname(path).slice(1).toLowerCase() as 'png');
  if (!['png', 'jpg', 'jpeg'].includes(format)) throw new Error(`saveImg: cannot tell the format of ${path} (extension '${format}'); use .png or .jpg, or pass fileFormat`);
  writeFileSync(path, encodeImg(img, format));
}
