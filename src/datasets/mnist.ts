/** keras.datasets.mnist: mnist.npz (x_train, y_train, x_test, y_test; uint8) as [[xTrain, yTrain], [xTest, yTest]]. */
import { Tensor } from '../tensor.js';
import { loadNpz, npzArray } from './npy.js';
import { numericValues } from './pickle.js';
import { type DatasetFileArgs, datasetFile, datasetOptions } from './source.js';
import type { KerasOptions } from '../options.js';

export const MNIST = { dataset: 'mnist', fname: 'mnist.npz', origin: 'https://s3.amazonaws.com/img-datasets/mnist.npz', fileHash: '8a61469f7ea1b51cbae51d4f78837e45' } as const;

export async function loadData(options: KerasOptions<DatasetFileArgs> = {}): Promise<[[Tensor, Tensor], [Tensor, Tensor]]> {
  const args = datasetOptions<DatasetFileArgs>('mnist.loadData', options, {});
  const path = await datasetFile(MNIST, args);
  const arrays = loadNpz(path);
  const get = (name: string): Tensor => {
    const a = npzArray(arrays, name, path);
    const values = numericValues(a, `${path}:${name}`);
    if (!(values instanceof Uint8Array)) throw new Error(`${path}:${name} has dtype ${a.dtype}; mnist.npz holds uint8 arrays`);
    return new Tensor(values, a.shape, 'uint8');
  };
  return [[get('x_train'), get('y_train')], [get('x_test'), get('y_test')]];
}
