/**
 * keras.datasets.cifar10 and cifar100: the Python-pickled batches of the
 * Toronto archives (`data`: uint8 [n, 3072] in channels-first order,
 * `labels` / `fine_labels` / `coarse_labels`), returned channels-last as
 * Keras's default image_data_format: x uint8 [n, 32, 32, 3], y uint8 [n, 1].
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Tensor } from '../tensor.js';
import { type NdArray, numericValues, unpickle } from './pickle.js';
import { type DatasetFileArgs, datasetFile, datasetOptions } from './source.js';
import type { KerasOptions } from '../options.js';

export const CIFAR10 = { dataset: 'cifar10', fname: 'cifar-10-batches-py', origin: 'https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz', untar: true } as const;
export const CIFAR100 = { dataset: 'cifar100', fname: 'cifar-100-python', origin: 'https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz', untar: true } as const;

/** One pickled batch: images channels-first [n, 3, 32, 32] and labels (Keras's cifar.load_batch). */
export function loadBatch(path: string, labelKey = 'labels'): { data: Uint8Array; labels: number[] } {
  if (!existsSync(path)) throw new Error(`CIFAR batch file ${path} is missing; the archive's folder must hold it`);
  const d = unpickle(new Uint8Array(readFileSync(path)), path);
  if (!(d instanceof Map)) throw new Error(`${path}: expected a pickled dict of data and labels`);
  const data = d.get('data') as NdArray | undefined;
  const labels = d.get(labelKey) as number[] | undefined;
  if (data?.kind !== 'ndarray') throw new Error(`${path}: no 'data' array (keys: ${[...d.keys()].join(', ')})`);
  if (!Array.isArray(labels)) throw new Error(`${path}: no '${labelKey}' list (keys: ${[...d.keys()].join(', ')})`);
  const values = numericValues(data, `${path}:data`);
  if (!(values instanceof Uint8Array) || values.length !== data.shape[0] * 3072) throw new Error(`${path}: 'data' must be uint8 of shape [n, 3072], got ${data.dtype} [${data.shape.join(', ')}]`);
  if (labels.length !== data.shape[0]) throw new Error(`${path}: ${data.shape[0]} images but ${labels.length} labels`);
  return { data: values, labels };
}

function toTensors(batches: { data: Uint8Array; labels: number[] }[]): [Tensor, Tensor] {
  const n = batches.reduce((s, b) => s + b.labels.length, 0);
  const x = new Uint8Array(n * 3072);
  const y = new Uint8Array(n);
  let i = 0;
  for (const b of batches) {
    for (let k = 0; k < b.labels.length; k++, i++) {
      y[i] = b.labels[k];
      for (let c = 0; c < 3; c++) for (let p = 0; p < 1024; p++) x[i * 3072 + p * 3 + c] = b.data[k * 3072 + c * 1024 + p];
    }
  }
  return [new Tensor(x, [n, 32, 32, 3], 'uint8'), new Tensor(y, [n, 1], 'uint8')];
}

export const cifar10 = {
  async loadData(options: KerasOptions<DatasetFileArgs> = {}): Promise<[[Tensor, Tensor], [Tensor, Tensor]]> {
    const args = datasetOptions<DatasetFileArgs>('cifar10.loadData', options, {});
    const dir = await datasetFile(CIFAR10, args);
    const train = [1, 2, 3, 4, 5].map((i) => loadBatch(join(dir, `data_batch_${i}`)));
    return [toTensors(train), toTensors([loadBatch(join(dir, 'test_batch'))])];
  },
};

export const cifar100 = {
  async loadData(labelMode: 'fine' | 'coarse' = 'fine', options: KerasOptions<DatasetFileArgs> = {}): Promise<[[Tensor, Tensor], [Tensor, Tensor]]> {
    const args = datasetOptions<DatasetFileArgs>('cifar100.loadData', options, {});
    if (labelMode !== 'fine' && labelMode !== 'coarse') throw new Error(`cifar100: labelMode must be 'fine' or 'coarse', got ${JSON.stringify(labelMode)}`);
    const dir = await datasetFile(CIFAR100, args);
    const key = `${labelMode}_labels`;
    return [toTensors([loadBatch(join(dir, 'train'), key)]), toTensors([loadBatch(join(dir, 'test'), key)])];
  },
};
