/**
 * keras.datasets.imdb: imdb.npz (x_train, y_train, x_test, y_test; reviews
 * as lists of word ranks). Returns x as arrays of word indices (ragged, as
 * Keras's object arrays) and y as int32 tensors. The maxlen filter is applied
 * to train and test separately (Keras 2.2.4 filters the joined list and
 * then splits at the old train size, which mixes the two).
 */
import type { Tensor } from '../tensor.js';
import { NumpyRandomState } from './numpy_random.js';
import { loadNpz, npzArray } from './npy.js';
import { type DatasetFileArgs, datasetFile, datasetOptions } from './source.js';
import type { KerasOptions } from '../options.js';
import { type WordSequenceArgs, cutVocabulary, encode, labelTensor, labelsOf, loadWordIndex, removeLong, sequencesOf } from './word_sequences.js';

export const IMDB = { dataset: 'imdb', fname: 'imdb.npz', origin: 'https://s3.amazonaws.com/text-datasets/imdb.npz', fileHash: '599dadb1135973df5b59232a0e9a887c' } as const;
export const IMDB_WORD_INDEX = { dataset: 'imdb word index', fname: 'imdb_word_index.json', origin: 'https://s3.amazonaws.com/text-datasets/imdb_word_index.json', fileHash: 'bfafd718b763782e994055a2d397834f' } as const;

export async function loadData(options: KerasOptions<WordSequenceArgs> = {}): Promise<[[number[][], Tensor], [number[][], Tensor]]> {
  const args = datasetOptions<WordSequenceArgs>('imdb.loadData', options, { numWords: true, skipTop: true, maxlen: true, seed: true, startChar: true, oovChar: true, indexFrom: true });
  const path = await datasetFile(IMDB, args);
  const arrays = loadNpz(path);
  const random = new NumpyRandomState(args.seed ?? 113);
  const split = (x: string, y: string): [number[][], number[]] => {
    const xs = sequencesOf(npzArray(arrays, x, path), `${path}:${x}`);
    const ys = labelsOf(npzArray(arrays, y, path), `${path}:${y}`);
    if (xs.length !== ys.length) throw new Error(`${path}: ${x} has ${xs.length} reviews but ${y} has ${ys.length} labels`);
    const order = random.permutation(xs.length);
    return [order.map((i) => xs[i]), order.map((i) => ys[i])];
  };
  let [xTrain, yTrain] = split('x_train', 'y_train');
  let [xTest, yTest] = split('x_test', 'y_test');
  xTrain = encode(xTrain, args);
  xTest = encode(xTest, args);
  if (args.maxlen) {
    [xTrain, yTrain] = removeLong(args.maxlen, xTrain, yTrain, 'imdb');
    [xTest, yTest] = removeLong(args.maxlen, xTest, yTest, 'imdb');
  }
  const all = cutVocabulary([...xTrain, ...xTest], args);
  return [[all.slice(0, xTrain.length), labelTensor(yTrain)], [all.slice(xTrain.length), labelTensor(yTest)]];
}

/** word -> rank (1 is the most frequent word; loadData's indices are rank + indexFrom). */
export async function getWordIndex(options: KerasOptions<DatasetFileArgs> = {}): Promise<Record<string, number>> {
  const args = datasetOptions<DatasetFileArgs>('imdb.getWordIndex', options, {});
  return loadWordIndex(IMDB_WORD_INDEX, { ...args, path: args.path ?? IMDB_WORD_INDEX.fname });
}
