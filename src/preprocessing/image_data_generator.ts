/**
 * keras.preprocessing.image.ImageDataGenerator: random affine and colour
 * augmentation drawn with numpy's RandomState (the same draws, in the same
 * order, as keras-preprocessing), standardization (rescale, sample- and
 * feature-wise centring and scaling, ZCA whitening), and the flow /
 * flowFromDirectory iterators, whose batches are augmented in worker threads.
 */
import { Tensor } from '../tensor.js';
import { type KerasOptions, optionSpec, readOptions } from '../options.js';
import { NumpyRandomState } from '../datasets/numpy_random.js';
import { type FillMode, type ImageShape, type TransformParams, applyTransformTo } from './affine.js';
import { type DataFormat, checkDataFormat } from './image_utils.js';
import { DirectoryIterator, type FlowFromDirectoryArgs, type FlowArgs, NumpyArrayIterator } from './image_iterators.js';
import { zcaMatrix } from './zca.js';

export interface ImageDataGeneratorArgs {
  readonly featurewiseCenter?: boolean;
  readonly samplewiseCenter?: boolean;
  readonly featurewiseStdNormalization?: boolean;
  readonly samplewiseStdNormalization?: boolean;
  readonly zcaWhitening?: boolean;
  readonly zcaEpsilon?: number;
  readonly rotationRange?: number;
  readonly widthShiftRange?: number | readonly number[];
  readonly heightShiftRange?: number | readonly number[];
  readonly brightnessRange?: readonly [number, number] | null;
  readonly shearRange?: number;
  readonly zoomRange?: number | readonly [number, number];
  readonly channelShiftRange?: number;
  readonly fillMode?: FillMode;
  readonly cval?: number;
  readonly horizontalFlip?: boolean;
  readonly verticalFlip?: boolean;
  readonly rescale?: number | null;
  /** Runs on each image (a [h, w, c] tensor) after augmentation, before the rest of standardize; it runs on the main thread. */
  readonly preprocessingFunction?: ((x: Tensor) => Tensor) | null;
  readonly dataFormat?: DataFormat;
  readonly validationSplit?: number;
}

const GENERATOR_OPTIONS = optionSpec<ImageDataGeneratorArgs>({
  featurewiseCenter: true, samplewiseCenter: true, featurewiseStdNormalization: true, samplewiseStdNormalization: true, zcaWhitening: true, zcaEpsilon: true,
  rotationRange: true, widthShiftRange: true, heightShiftRange: true, brightnessRange: true, shearRange: true, zoomRange: true, channelShiftRange: true,
  fillMode: true, cval: true, horizontalFlip: true, verticalFlip: true, rescale: true, preprocessingFunction: true, dataFormat: true, validationSplit: true,
});
const FIT_OPTIONS = optionSpec<{ augment?: boolean; rounds?: number; seed?: number }>({ augment: true, rounds: true, seed: true });
const FILL_MODES: readonly FillMode[] = ['constant', 'nearest', 'reflect', 'wrap'];
const K_EPSILON = 1e-7;

export class ImageDataGenerator {
  readonly args: Required<Omit<ImageDataGeneratorArgs, 'zoomRange' | 'brightnessRange' | 'preprocessingFunction' | 'rescale'>> & { zoomRange: [number, number]; brightnessRange: readonly [number, number] | null; preprocessingFunction: ((x: Tensor) => Tensor) | null; rescale: number | null };
  /** Feature-wise statistics from fit: one value per channel. */
  mean: Float32Array | null = null;
  std: Float32Array | null = null;
  principalComponents: Float32Array | null = null;
  private readonly random = new NumpyRandomState(Math.floor(Math.random() * 2 ** 32));

  constructor(options: KerasOptions<ImageDataGeneratorArgs> = {}) {
    const args = readOptions('ImageDataGenerator', options, GENERATOR_OPTIONS);
    const zoom = args.zoomRange ?? 0;
    let zoomRange: [number, number];
    if (typeof zoom === 'number') zoomRange = [1 - zoom, 1 + zoom];
    else if (Array.isArray(zoom) && zoom.length === 2) zoomRange = [zoom[0], zoom[1]];
    else throw new Error(`ImageDataGenerator: zoomRange should be a number or a pair [lower, upper], got ${JSON.stringify(zoom)}`);
    const fillMode = args.fillMode ?? 'nearest';
    if (!FILL_MODES.includes(fillMode)) throw new Error(`ImageDataGenerator: fillMode must be one of ${FILL_MODES.join(', ')}; got ${JSON.stringify(fillMode)}`);
    const validationSplit = args.validationSplit ?? 0;
    if (!(validationSplit >= 0 && validationSplit < 1)) throw new Error(`ImageDataGenerator: validationSplit must be between 0 and 1 (exclusive of 1), got ${validationSplit}`);
    if (args.brightnessRange && args.brightnessRange.length !== 2) throw new Error(`ImageDataGenerator: brightnessRange must be a pair [lower, upper], got ${JSON.stringify(args.brightnessRange)}`);
    const zca = args.zcaWhitening ?? false;
    this.args = {
      featurewiseCenter: (args.featurewiseCenter ?? false) || zca,
      samplewiseCenter: args.samplewiseCenter ?? false,
      featurewiseStdNormalization: args.featurewiseStdNormalization ?? false,
      samplewiseStdNormalization: args.samplewiseStdNormalization ?? false,
      zcaWhitening: zca,
      zcaEpsilon: args.zcaEpsilon ?? 1e-6,
      rotationRange: args.rotationRange ?? 0,
      widthShiftRange: args.widthShiftRange ?? 0,
      heightShiftRange: args.heightShiftRange ?? 0,
      brightnessRange: args.brightnessRange ?? null,
      shearRange: args.shearRange ?? 0,
      zoomRange,
      channelShiftRange: args.channelShiftRange ?? 0,
      fillMode,
      cval: args.cval ?? 0,
      horizontalFlip: args.horizontalFlip ?? false,
      verticalFlip: args.verticalFlip ?? false,
      rescale: args.rescale ?? null,
      preprocessingFunction: args.preprocessingFunction ?? null,
      dataFormat: checkDataFormat(args.dataFormat ?? 'channels_last'),
      validationSplit,
    };
  }

  get channelsFirst(): boolean {
    return this.args.dataFormat === 'channels_first';
  }

  /** [h, w, c] of one image's shape in this generator's data format. */
  imageShape(shape: readonly number[]): ImageShape {
    if (shape.length !== 3) throw new Error(`ImageDataGenerator: expected one image of rank 3, got shape [${shape.join(', ')}]`);
    return this.channelsFirst ? { c: shape[0], h: shape[1], w: shape[2], channelsFirst: true } : { h: shape[0], w: shape[1], c: shape[2], channelsFirst: false };
  }

  private shift(range: number | readonly number[], size: number, random: NumpyRandomState): number {
    if (!range || (Array.isArray(range) && !range.length)) return 0;
    let t: number;
    if (Array.isArray(range)) t = range[random.randint(0, range.length)] * [-1, 1][random.randint(0, 2)];
    else if (Number.isInteger(range) && (range as number) >= 1) t = random.randint(0, range as number) * [-1, 1][random.randint(0, 2)];
    else t = random.uniform(-(range as number), range as number);
    const max = Array.isArray(range) ? Math.max(...range) : (range as number);
    return max < 1 ? t * size : t;
  }

  /** Keras's get_random_transform: the parameters for one image of `shape`, drawn from `random` (or from a seed). */
  getRandomTransform(shape: readonly number[], seed?: number | NumpyRandomState): TransformParams {
    const random = seed instanceof NumpyRandomState ? seed : seed !== undefined ? new NumpyRandomState(seed) : this.random;
    const { h, w } = this.imageShape(shape);
    const a = this.args;
    const theta = a.rotationRange ? random.uniform(-a.rotationRange, a.rotationRange) : 0;
    const tx = this.shift(a.heightShiftRange, h, random);
    const ty = this.shift(a.widthShiftRange, w, random);
    const shear = a.shearRange ? random.uniform(-a.shearRange, a.shearRange) : 0;
    let [zx, zy] = [1, 1];
    if (a.zoomRange[0] !== 1 || a.zoomRange[1] !== 1) [zx, zy] = [random.uniform(a.zoomRange[0], a.zoomRange[1]), random.uniform(a.zoomRange[0], a.zoomRange[1])];
    const flipHorizontal = random.random() < 0.5 && a.horizontalFlip;
    const flipVertical = random.random() < 0.5 && a.verticalFlip;
    const channelShiftIntensity = a.channelShiftRange ? random.uniform(-a.channelShiftRange, a.channelShiftRange) : null;
    const brightness = a.brightnessRange ? random.uniform(a.brightnessRange[0], a.brightnessRange[1]) : null;
    return { theta, tx, ty, shear, zx, zy, flipHorizontal, flipVertical, channelShiftIntensity, brightness };
  }

  /** Applies transform parameters to one image (Keras's apply_transform). */
  applyTransform(x: Tensor, params: Partial<TransformParams>): Tensor {
    const full: TransformParams = { theta: 0, tx: 0, ty: 0, shear: 0, zx: 1, zy: 1, flipHorizontal: false, flipVertical: false, channelShiftIntensity: null, brightness: null, ...params };
    return new Tensor(applyTransformTo(Float32Array.from(x.data), this.imageShape(x.shape), full, this.args.fillMode, this.args.cval), x.shape);
  }

  /** A randomly augmented copy of one image. */
  randomTransform(x: Tensor, seed?: number): Tensor {
    return this.applyTransform(x, this.getRandomTransform(x.shape, seed));
  }

  /** Keras's standardize on one image (values in its data format). */
  standardizeValues(values: Float32Array, shape: ImageShape): Float32Array {
    let x = values;
    const a = this.args;
    if (a.preprocessingFunction) {
      const dims = shape.channelsFirst ? [shape.c, shape.h, shape.w] : [shape.h, shape.w, shape.c];
      const out = a.preprocessingFunction(new Tensor(x, dims));
      if (out.size !== x.length) throw new Error(`ImageDataGenerator: preprocessingFunction must return an image of shape [${dims.join(', ')}], got [${out.shape.join(', ')}]`);
      x = Float32Array.from(out.data);
    }
    if (a.rescale) for (let i = 0; i < x.length; i++) x[i] *= a.rescale;
    if (a.samplewiseCenter) {
      const mean = x.reduce((s, v) => s + v, 0) / x.length;
      for (let i = 0; i < x.length; i++) x[i] -= mean;
    }
    if (a.samplewiseStdNormalization) {
      const mean = x.reduce((s, v) => s + v, 0) / x.length;
      const std = Math.sqrt(x.reduce((s, v) => s + (v - mean) ** 2, 0) / x.length);
      for (let i = 0; i < x.length; i++) x[i] /= std + K_EPSILON;
    }
    const channelOf = (i: number): number => (shape.channelsFirst ? Math.floor(i / (shape.h * shape.w)) : i % shape.c);
    if (a.featurewiseCenter && this.mean) for (let i = 0; i < x.length; i++) x[i] -= this.mean[channelOf(i)];
    if (a.featurewiseStdNormalization && this.std) for (let i = 0; i < x.length; i++) x[i] /= this.std[channelOf(i)] + 1e-6;
    if (a.zcaWhitening && this.principalComponents) {
      const d = x.length;
      const pc = this.principalComponents;
      const out = new Float32Array(d);
      for (let i = 0; i < d; i++) {
        const v = x[i];
        if (v !== 0) for (let j = 0; j < d; j++) out[j] += v * pc[i * d + j];
      }
      x = out;
    }
    return x;
  }

  /** Standardizes one image [h, w, c] or a batch [n, h, w, c] (or channels_first). */
  standardize(x: Tensor): Tensor {
    const batch = x.shape.length === 4;
    const shape = this.imageShape(batch ? x.shape.slice(1) : x.shape);
    const size = shape.h * shape.w * shape.c;
    const out = new Float32Array(x.size);
    for (let s = 0; s < x.size / size; s++) out.set(this.standardizeValues(Float32Array.from(x.data.subarray(s * size, (s + 1) * size)), shape), s * size);
    return new Tensor(out, x.shape);
  }

  /** Feature-wise statistics (mean, std, ZCA components) from sample data, optionally augmented `rounds` times. */
  fit(x: Tensor, options: KerasOptions<{ augment?: boolean; rounds?: number; seed?: number }> = {}): void {
    const args = readOptions('ImageDataGenerator.fit', options, FIT_OPTIONS);
    if (x.shape.length !== 4) throw new Error(`ImageDataGenerator.fit: input should have rank 4, got an array of shape [${x.shape.join(', ')}]`);
    const shape = this.imageShape(x.shape.slice(1));
    const size = shape.h * shape.w * shape.c;
    const random = new NumpyRandomState(args.seed ?? Math.floor(Math.random() * 2 ** 32));
    let n = x.shape[0];
    let data = Float64Array.from(x.data, Number);
    if (args.augment) {
      const rounds = args.rounds ?? 1;
      const ax = new Float64Array(rounds * n * size);
      for (let r = 0; r < rounds; r++) {
        for (let i = 0; i < n; i++) {
          const img = Float32Array.from(x.data.subarray(i * size, (i + 1) * size), Number);
          ax.set(applyTransformTo(img, shape, this.getRandomTransform(x.shape.slice(1), random), this.args.fillMode, this.args.cval), (r * n + i) * size);
        }
      }
      data = ax;
      n *= rounds;
    }
    const channelOf = (i: number): number => (shape.channelsFirst ? Math.floor(i / (shape.h * shape.w)) : i % shape.c);
    const perChannel = n * shape.h * shape.w;
    if (this.args.featurewiseCenter) {
      const mean = new Float64Array(shape.c);
      data.forEach((v, i) => (mean[channelOf(i % size)] += v));
      this.mean = Float32Array.from(mean, (m) => m / perChannel);
      for (let i = 0; i < data.length; i++) data[i] -= this.mean[channelOf(i % size)];
    }
    if (this.args.featurewiseStdNormalization) {
      const mean = new Float64Array(shape.c);
      data.forEach((v, i) => (mean[channelOf(i % size)] += v / perChannel));
      const variance = new Float64Array(shape.c);
      data.forEach((v, i) => (variance[channelOf(i % size)] += (v - mean[channelOf(i % size)]) ** 2 / perChannel));
      this.std = Float32Array.from(variance, Math.sqrt);
      for (let i = 0; i < data.length; i++) data[i] /= this.std[channelOf(i % size)] + K_EPSILON;
    }
    if (this.args.zcaWhitening) this.principalComponents = zcaMatrix(data, n, size, this.args.zcaEpsilon);
  }

  /** Batches of augmented, standardized images from in-memory data (Keras's flow): [x, y] (or [x, y, w]), or x alone without y. */
  flow(x: Tensor, y: Tensor, args?: KerasOptions<FlowArgs>): NumpyArrayIterator<[Tensor, Tensor] | [Tensor, Tensor, Tensor]>;
  flow(x: Tensor, y?: null, args?: KerasOptions<FlowArgs>): NumpyArrayIterator<Tensor>;
  flow(x: Tensor, y: Tensor | null = null, args: KerasOptions<FlowArgs> = {}): NumpyArrayIterator {
    return new NumpyArrayIterator(x, y, this, args);
  }

  /** Batches of images read from class subfolders of `directory` (Keras's flow_from_directory): [x, y], or x alone with classMode null. */
  flowFromDirectory(directory: string, args: KerasOptions<FlowFromDirectoryArgs> & { classMode: null }): DirectoryIterator<Tensor>;
  flowFromDirectory(directory: string, args?: KerasOptions<FlowFromDirectoryArgs>): DirectoryIterator<[Tensor, Tensor]>;
  flowFromDirectory(directory: string, args: KerasOptions<FlowFromDirectoryArgs> = {}): DirectoryIterator {
    return new DirectoryIterator(directory, this, args);
  }
}
