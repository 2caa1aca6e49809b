/** keras.datasets.boston_housing: boston_housing.npz (x [506, 13], y [506], float64), shuffled with seed 113 and split at 1 - testSplit. */
import { Tensor } from '../tensor.js';
import { NumpyRandomState } from './numpy_random.js';
import { loadNpz, npzArray } from './npy.js';
import { numericValues } from './pickle.js';
import { type DatasetFileArgs, datasetFile, datasetOptions } from './source.js';
import type { KerasOptions } from '../options.js';

export const BOSTON_HOUSING = {
  dataset: 'boston_housing',
  fname: 'boston_housing.npz',
  origin: 'https://s3.amazonaws.com/keras-datasets/boston_housing.npz',
  fileHash: 'f553886a1f8d56431e820c5b82552d9d95cfcb96d1e678153f8839538947dff5',
} as const;

function rows(values: ArrayLike<number>, shape: number[], order: number[], from: number, to: number): Tensor {
  const width = shape.slice(1).reduce((a, b) => a * b, 1);
  const out = new Float64Array((to - from) * width);
  for (let r = from; r < to; r++) for (let j = 0; j < width; j++) out[(r - from) * width + j] = values[order[r] * width + j];
  return new Tensor(out, [to - from, ...shape.slice(1)], 'float64');
}

export async function loadData(options: KerasOptions<DatasetFileArgs & { testSplit?: number; seed?: number }> = {}): Promise<[[Tensor, Tensor], [Tensor, Tensor]]> {
  const args = datasetOptions<DatasetFileArgs & { testSplit?: number; seed?: number }>('boston_housing.loadData', options, { testSplit: true, seed: true });
  const path = await datasetFile(BOSTON_HOUSING, args);
  const arrays = loadNpz(path);
  const x = npzArray(arrays, 'x', path);
  const y = npzArray(arrays, 'y', path);
  const xv = numericValues(x, `${path}:x`);
  const yv = numericValues(y, `${path}:y`);
  const n = x.shape[0];
  if (y.shape[0] !== n) throw new Error(`${path}: x has ${n} rows but y has ${y.shape[0]}`);
  const order = new NumpyRandomState(args.seed ?? 113).permutation(n);
  const idx = Math.floor(n * (1 - (args.testSplit ?? 0.2)));
  return [[rows(xv, x.shape, order, 0, idx), rows(yv, y.shape, order, 0, idx)], [rows(xv, x.shape, order, idx, n), rows(yv, y.shape, order, idx, n)]];
}
