/**
 * Fashion-MNIST from Debian's `dataset-fashion-mnist` package (IDX files,
 * gzip): `loadData()` returns Keras's [[xTrain, yTrain], [xTest, yTest]] as
 * uint8 tensors of shape [n, 28, 28] and [n].
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { Tensor } from '../tensor.js';
import { config } from '../../runtime/config.js';

export const DATA_DIR = config.fashionMnistDir;

const FILES = {
  xTrain: 'train-images-idx3-ubyte.gz',
  yTrain: 'train-labels-idx1-ubyte.gz',
  xTest: 't10k-images-idx3-ubyte.gz',
  yTest: 't10k-labels-idx1-ubyte.gz',
} as const;

/** Parses an IDX file of unsigned bytes (magic 0x0000080N, N dims, big-endian sizes). */
export function parseIdx(bytes: Uint8Array, what: string): Tensor {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length < 4 || view.getUint16(0) !== 0 || bytes[2] !== 0x08) {
    throw new Error(`${what} is not an IDX file of unsigned bytes (magic ${Array.from(bytes.subarray(0, 4), (b) => b.toString(16).padStart(2, '0')).join('')})`);
  }
  const rank = bytes[3];
  const shape = Array.from({ length: rank }, (_, i) => view.getUint32(4 + 4 * i));
  const offset = 4 + 4 * rank;
  const size = shape.reduce((a, b) => a * b, 1);
  if (bytes.length !== offset + size) throw new Error(`${what} is truncated or corrupt: header says ${size} values of shape [${shape.join(', ')}], file holds ${bytes.length - offset}`);
  return new Tensor(bytes.slice(offset), shape, 'uint8');
}

function read(name: string): Tensor {
  const path = join(DATA_DIR, name);
  if (!existsSync(path)) {
    throw new Error(`Fashion-MNIST file ${path} is missing. Install the data with: apt-get install dataset-fashion-mnist (or set KILN_FASHION_MNIST_DIR to a folder holding ${Object.values(FILES).join(', ')})`);
  }
  return parseIdx(new Uint8Array(gunzipSync(readFileSync(path))), path);
}

export function loadData(): [[Tensor, Tensor], [Tensor, Tensor]] {
  return [[read(FILES.xTrain), read(FILES.yTrain)], [read(FILES.xTest), read(FILES.yTest)]];
}
