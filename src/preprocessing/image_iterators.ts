/**
 * The iterators of ImageDataGenerator, as utils.Sequence: NumpyArrayIterator
 * (flow) and DirectoryIterator (flowFromDirectory). A batch's transform
 * parameters are drawn on the calling thread, in Keras's order (reseeded
 * with seed + batches seen, index permutation first); loading and
 * augmentation run in the worker pool, standardization after.
 */
import { existsSync, lstatSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join, relative } from 'node:path';
import { sizeOf } from '../../ir/dtype.js';
import { NumpyRandomState } from '../datasets/numpy_random.js';
import { Tensor } from '../tensor.js';
import { type KerasOptions, optionSpec, readOptions } from '../options.js';
import { Sequence } from '../training/generators.js';
import { type ImageShape, type TransformParams, applyTransformTo } from './affine.js';
import { type SampleJob, sharedPool } from './augment_pool.js';
import type { ImageDataGenerator } from './image_data_generator.js';
import { type ColorMode, type Interpolation, checkInterpolation, codecLibs, colorModeOf, saveImg } from './image_utils.js';
import { imageToFloats, loadImageFile } from './image_codec.js';

export interface IteratorArgs {
  readonly batchSize?: number;
  readonly shuffle?: boolean;
  readonly seed?: number | null;
  readonly saveToDir?: string | null;
  readonly savePrefix?: string;
  readonly saveFormat?: 'png' | 'jpeg' | 'jpg';
  readonly subset?: 'training' | 'validation' | null;
  /** Worker threads that load and augment images; 0 does it on the calling thread. Default: cores - 1, at most 4. */
  readonly workers?: number;
}

export interface FlowArgs extends IteratorArgs {
  readonly sampleWeight?: Tensor | null;
}

export interface FlowFromDirectoryArgs extends IteratorArgs {
  /** [height, width] */
  readonly targetSize?: readonly [number, number];
  readonly colorMode?: ColorMode;
  readonly classes?: readonly string[] | null;
  readonly classMode?: 'categorical' | 'binary' | 'sparse' | 'input' | null;
  readonly followLinks?: boolean;
  readonly interpolation?: Interpolation;
}

const ITERATOR_KEYS = { batchSize: true, shuffle: true, seed: true, saveToDir: true, savePrefix: true, saveFormat: true, subset: true, workers: true } as const;
const FLOW_OPTIONS = optionSpec<FlowArgs>({ ...ITERATOR_KEYS, sampleWeight: true });
const DIRECTORY_OPTIONS = optionSpec<FlowFromDirectoryArgs>({ ...ITERATOR_KEYS, targetSize: true, colorMode: true, classes: true, classMode: true, followLinks: true, interpolation: true });

export type ImageBatch = Tensor | [Tensor, Tensor] | [Tensor, Tensor, Tensor];

/** Keras's Iterator: batch indexing, per-batch reseeding, a new permutation each epoch. */
abstract class ImageIterator<T extends ImageBatch> extends Sequence<T> {
  readonly batchSize: number;
  readonly shuffle: boolean;
  private readonly seed: number | null;
  protected random: NumpyRandomState;
  private indexArray: number[] | null = null;
  totalBatchesSeen = 0;
  readonly workers: number;

  constructor(readonly n: number, protected readonly generator: ImageDataGenerator, protected readonly args: IteratorArgs) {
    super();
    this.batchSize = args.batchSize ?? 32;
    if (!Number.isInteger(this.batchSize) || this.batchSize < 1) throw new Error(`batchSize must be a positive integer, got ${this.batchSize}`);
    this.shuffle = args.shuffle ?? true;
    this.seed = args.seed ?? null;
    this.random = new NumpyRandomState(this.seed ?? Math.floor(Math.random() * 2 ** 32));
    this.workers = args.workers ?? Math.max(1, Math.min(4, availableParallelism() - 1));
    if (args.subset && args.subset !== 'training' && args.subset !== 'validation') throw new Error(`subset must be 'training' or 'validation', got ${JSON.stringify(args.subset)}`);
  }

  get length(): number {
    return Math.ceil(this.n / this.batchSize);
  }

  private setIndexArray(): void {
    this.indexArray = this.shuffle ? this.random.permutation(this.n) : Array.from({ length: this.n }, (_, i) => i);
  }

  override onEpochEnd(): void {
    this.setIndexArray();
  }

  getItem(idx: number): T | Promise<T> {
    if (idx < 0 || idx >= this.length) throw new Error(`Asked to retrieve element ${idx}, but the Sequence has length ${this.length}`);
    if (this.seed !== null) this.random = new NumpyRandomState((this.seed + this.totalBatchesSeen) >>> 0);
    this.totalBatchesSeen++;
    if (!this.indexArray) this.setIndexArray();
    const indices = this.indexArray!.slice(this.batchSize * idx, this.batchSize * (idx + 1));
    const samples = this.samples(indices);
    const finish = (images: Float32Array[]): T => this.finish(indices, images, samples) as T;
    if (this.workers === 0) return finish(samples.jobs.map((s) => applyTransformTo(this.pixelsOf(s), samples.shape, s.params, this.generator.args.fillMode, this.generator.args.cval)));
    sharedPool.grow(this.workers);
    return sharedPool.run({ shape: samples.shape, fillMode: this.generator.args.fillMode, cval: this.generator.args.cval, ...this.loadOptions(), samples: samples.jobs }).then(finish);
  }

  /** The jobs of one batch: pixels or a path, and transform parameters drawn now. */
  protected abstract samples(indices: readonly number[]): { shape: ImageShape; imageDims: number[]; jobs: SampleJob[] };
  protected abstract pixelsOf(job: SampleJob): Float32Array;
  protected loadOptions(): object {
    return {};
  }
  protected abstract targets(indices: readonly number[], x: Tensor): ImageBatch;

  private finish(indices: readonly number[], images: Float32Array[], s: { shape: ImageShape; imageDims: number[] }): ImageBatch {
    const size = sizeOf(s.imageDims);
    const batch = new Float32Array(indices.length * size);
    images.forEach((img, i) => batch.set(this.generator.standardizeValues(img, s.shape), i * size));
    const x = new Tensor(batch, [indices.length, ...s.imageDims]);
    if (this.args.saveToDir) {
      for (let i = 0; i < indices.length; i++) {
        const name = `${this.args.savePrefix ?? ''}_${indices[i]}_${this.random.randint(0, 1e7)}.${this.args.saveFormat ?? 'png'}`;
        saveImg(join(this.args.saveToDir, name), new Tensor(batch.subarray(i * size, (i + 1) * size), s.imageDims), { dataFormat: this.generator.args.dataFormat, scale: true });
      }
    }
    return this.targets(indices, x);
  }

  protected drawParams(dims: readonly number[]): TransformParams {
    return this.generator.getRandomTransform(dims, this.random);
  }
}

function rows(t: Tensor, indices: readonly number[]): Tensor {
  const size = sizeOf(t.shape.slice(1));
  const out = new Float32Array(indices.length * size);
  indices.forEach((j, i) => out.set(t.data.subarray(j * size, (j + 1) * size), i * size));
  return new Tensor(out, [indices.length, ...t.shape.slice(1)]);
}

/** flow(x, y): batches of augmented copies of in-memory images. */
export class NumpyArrayIterator<T extends ImageBatch = ImageBatch> extends ImageIterator<T> {
  readonly x: Tensor;
  readonly y: Tensor | null;
  readonly sampleWeight: Tensor | null;

  constructor(x: Tensor, y: Tensor | null, generator: ImageDataGenerator, options: KerasOptions<FlowArgs> = {}) {
    const args = readOptions('flow', options, FLOW_OPTIONS);
    if (x.shape.length !== 4) throw new Error(`Input data in NumpyArrayIterator (flow) should have rank 4; got an array of shape [${x.shape.join(', ')}]`);
    if (y && y.shape[0] !== x.shape[0]) throw new Error(`flow: x (images) and y (labels) should have the same length; found x.shape = [${x.shape.join(', ')}], y.shape = [${y.shape.join(', ')}]`);
    const w = args.sampleWeight ?? null;
    if (w && w.shape[0] !== x.shape[0]) throw new Error(`flow: x (images) and sampleWeight should have the same length; found x.shape = [${x.shape.join(', ')}], sampleWeight.shape = [${w.shape.join(', ')}]`);
    let [from, to] = [0, x.shape[0]];
    if (args.subset) {
      const split = Math.floor(x.shape[0] * generator.args.validationSplit);
      [from, to] = args.subset === 'validation' ? [0, split] : [split, x.shape[0]];
    }
    super(to - from, generator, args);
    const range = Array.from({ length: to - from }, (_, i) => from + i);
    this.x = from === 0 && to === x.shape[0] ? x : rows(x, range);
    this.y = y && (from === 0 && to === y.shape[0] ? y : rows(y, range));
    this.sampleWeight = w && rows(w, range);
    generator.imageShape(x.shape.slice(1));
  }

  protected samples(indices: readonly number[]): { shape: ImageShape; imageDims: number[]; jobs: SampleJob[] } {
    const dims = this.x.shape.slice(1);
    const size = sizeOf(dims);
    const jobs = indices.map((j) => ({ pixels: Float32Array.from(this.x.data.subarray(j * size, (j + 1) * size)), params: this.drawParams(dims) }));
    return { shape: this.generator.imageShape(dims), imageDims: dims, jobs };
  }

  protected pixelsOf(job: SampleJob): Float32Array {
    return (job as { pixels: Float32Array }).pixels;
  }

  protected targets(indices: readonly number[], x: Tensor): ImageBatch {
    if (!this.y) return x;
    const y = rows(this.y, indices);
    return this.sampleWeight ? [x, y, rows(this.sampleWeight, indices)] : [x, y];
  }
}

const IMAGE_EXTENSIONS = ['.png', '.jpg', '.jpeg'];

function imageFiles(dir: string, followLinks: boolean): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name);
      const st = followLinks ? statSync(p) : lstatSync(p);
      if (st.isDirectory()) walk(p);
      else if (IMAGE_EXTENSIONS.some((e) => name.toLowerCase().endsWith(e))) out.push(p);
    }
  };
  walk(dir);
  return out.sort();
}

/** flowFromDirectory: one class per subfolder, images loaded, resized and augmented in the worker pool. */
export class DirectoryIterator<T extends ImageBatch = ImageBatch> extends ImageIterator<T> {
  readonly classIndices: Record<string, number>;
  readonly filenames: string[];
  readonly classes: Int32Array;
  readonly numClasses: number;
  readonly imageDims: number[];
  private readonly mode: 'L' | 'RGB' | 'RGBA';
  private readonly target: readonly [number, number];
  private readonly interpolation: Interpolation;
  private readonly classMode: FlowFromDirectoryArgs['classMode'];

  constructor(readonly directory: string, generator: ImageDataGenerator, options: KerasOptions<FlowFromDirectoryArgs> = {}) {
    const args = readOptions('flowFromDirectory', options, DIRECTORY_OPTIONS);
    if (!existsSync(directory) || !statSync(directory).isDirectory()) throw new Error(`flowFromDirectory: ${directory} is not a directory`);
    const classMode = args.classMode === undefined ? 'categorical' : args.classMode;
    if (classMode !== null && !['categorical', 'binary', 'sparse', 'input'].includes(classMode)) throw new Error(`flowFromDirectory: classMode must be categorical, binary, sparse, input or null; got ${JSON.stringify(classMode)}`);
    const names = args.classes ?? readdirSync(directory).filter((d) => statSync(join(directory, d)).isDirectory()).sort();
    if (!names.length) {
      const loose = imageFiles(directory, false).length;
      throw new Error(`flowFromDirectory: ${directory} has no class subfolders${loose ? ` (it holds ${loose} image files directly)` : ''}; put each class's images in a subfolder named after the class`);
    }
    const split = generator.args.validationSplit;
    const filenames: string[] = [];
    const classes: number[] = [];
    names.forEach((name, c) => {
      const dir = join(directory, name);
      if (!existsSync(dir)) throw new Error(`flowFromDirectory: class folder ${dir} does not exist`);
      const files = imageFiles(dir, args.followLinks ?? false);
      let [start, stop] = [0, files.length];
      if (args.subset && split) [start, stop] = args.subset === 'validation' ? [0, Math.floor(split * files.length)] : [Math.floor(split * files.length), files.length];
      for (const f of files.slice(start, stop)) {
        filenames.push(relative(directory, f));
        classes.push(c);
      }
    });
    super(filenames.length, generator, args);
    this.classIndices = Object.fromEntries(names.map((n, i) => [n, i]));
    this.numClasses = names.length;
    this.filenames = filenames;
    this.classes = Int32Array.from(classes);
    this.classMode = classMode;
    this.mode = colorModeOf(args.colorMode ?? 'rgb');
    this.target = args.targetSize ?? [256, 256];
    this.interpolation = checkInterpolation(args.interpolation ?? 'nearest');
    const c = this.mode === 'L' ? 1 : this.mode === 'RGB' ? 3 : 4;
    this.imageDims = generator.channelsFirst ? [c, ...this.target] : [...this.target, c];
  }

  protected samples(indices: readonly number[]): { shape: ImageShape; imageDims: number[]; jobs: SampleJob[] } {
    const jobs = indices.map((j) => ({ path: join(this.directory, this.filenames[j]), params: this.drawParams(this.imageDims) }));
    return { shape: this.generator.imageShape(this.imageDims), imageDims: this.imageDims, jobs };
  }

  protected override loadOptions(): object {
    return { mode: this.mode, target: this.target, interpolation: this.interpolation };
  }

  protected pixelsOf(job: SampleJob): Float32Array {
    const path = (job as { path: string }).path;
    return imageToFloats(loadImageFile(new Uint8Array(readFileSync(path)), path, codecLibs(), this.mode, this.target, this.interpolation), this.generator.channelsFirst);
  }

  protected targets(indices: readonly number[], x: Tensor): ImageBatch {
    const mode = this.classMode;
    if (mode === null) return x;
    if (mode === 'input') return [x, new Tensor(Float32Array.from(x.data), x.shape)];
    if (mode === 'categorical') {
      const y = new Float32Array(indices.length * this.numClasses);
      indices.forEach((j, i) => (y[i * this.numClasses + this.classes[j]] = 1));
      return [x, new Tensor(y, [indices.length, this.numClasses])];
    }
    return [x, new Tensor(Float32Array.from(indices, (j) => this.classes[j]), [indices.length])];
  }
}
