/** keras.datasets.reuters: reuters.npz (x: newswires as word-rank lists, y: topics), shuffled and split at 1 - testSplit. */
import type { Tensor } from '../tensor.js';
import { NumpyRandomState } from './numpy_random.js';
import { loadNpz, npzArray } from './npy.js';
import type { DatasetFileArgs } from './source.js';
import { datasetFile, datasetOptions } from './source.js';
import type { KerasOptions } from '../options.js';
import { type WordSequenceArgs, cutVocabulary, encode, labelTensor, labelsOf, loadWordIndex, removeLong, sequencesOf } from './word_sequences.js';

export const REUTERS = { dataset: 'reuters', fname: 'reuters.npz', origin: 'https://s3.amazonaws.com/text-datasets/reuters.npz', fileHash: '87aedbeb0cb229e378797a632c1997b6' } as const;
export const REUTERS_WORD_INDEX = { dataset: 'reuters word index', fname: 'reuters_word_index.json', origin: 'https://s3.amazonaws.com/text-datasets/reuters_word_index.json', fileHash: '4d44cc38712099c9e383dc6e5f11a921' } as const;

export async function loadData(options: KerasOptions<WordSequenceArgs & { testSplit?: number }> = {}): Promise<[[number[][], Tensor], [number[][], Tensor]]> {
  const args = datasetOptions<WordSequenceArgs & { testSplit?: number }>('reuters.loadData', options, { ...{ numWords: true, skipTop: true, maxlen: true, seed: true, startChar: true, oovChar: true, indexFrom: true }, testSplit: true });
  const path = await datasetFile(REUTERS, args);
  const arrays = loadNpz(path);
  const x = sequencesOf(npzArray(arrays, 'x', path), `${path}:x`);
  const y = labelsOf(npzArray(arrays, 'y', path), `${path}:y`);
  if (x.length !== y.length) throw new Error(`${path}: x has ${x.length} newswires but y has ${y.length} labels`);
  const order = new NumpyRandomState(args.seed ?? 113).permutation(x.length);
  let xs = encode(order.map((i) => x[i]), args);
  let labels = order.map((i) => y[i]);
  if (args.maxlen) [xs, labels] = removeLong(args.maxlen, xs, labels, 'reuters');
  xs = cutVocabulary(xs, args);
  const idx = Math.floor(xs.length * (1 - (args.testSplit ?? 0.2)));
  return [[xs.slice(0, idx), labelTensor(labels.slice(0, idx))], [xs.slice(idx), labelTensor(labels.slice(idx))]];
}

export async function getWordIndex(options: KerasOptions<DatasetFileArgs> = {}): Promise<Record<string, number>> {
  const args = datasetOptions<DatasetFileArgs>('reuters.getWordIndex', options, {});
  return loadWordIndex(REUTERS_WORD_INDEX, { ...args, path: args.path ?? REUTERS_WORD_INDEX.fname });
}
