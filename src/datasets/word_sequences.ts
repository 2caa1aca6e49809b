/**
 * The word-index datasets (imdb, reuters): object arrays of word-index lists
 * from an npz, shuffled with numpy's RandomState as Keras does, then start
 * character, index offset, maxlen filter and vocabulary cut applied.
 */
import { readFileSync } from 'node:fs';
import { Tensor } from '../tensor.js';
import type { NdArray } from './pickle.js';
import { numericValues } from './pickle.js';
import { type DatasetFileArgs, type DatasetSpec, datasetFile } from './source.js';

export interface WordSequenceArgs extends DatasetFileArgs {
  readonly numWords?: number | null;
  readonly skipTop?: number;
  readonly maxlen?: number | null;
  readonly seed?: number;
  readonly startChar?: number | null;
  readonly oovChar?: number | null;
  readonly indexFrom?: number;
}

/** The lists of word indices of an object array (each element a list of ints). */
export function sequencesOf(a: NdArray, what: string): number[][] {
  if (a.data instanceof Uint8Array) throw new Error(`${what}: expected an object array of word-index lists, got dtype ${a.dtype}`);
  return a.data.map((s, i) => {
    if (!Array.isArray(s) || s.some((w) => typeof w !== 'number')) throw new Error(`${what}: element ${i} is not a list of word indices`);
    return s as number[];
  });
}

export function labelsOf(a: NdArray, what: string): number[] {
  return Array.from(numericValues(a, what));
}

/** Start char, index offset, then the vocabulary cut: words outside [skipTop, numWords) become oovChar (or are dropped). */
export function encode(xs: number[][], args: WordSequenceArgs): number[][] {
  const { startChar = 1, indexFrom = 3 } = args;
  return xs.map((x) => {
    const shifted = x.map((w) => w + indexFrom);
    return startChar === null ? shifted : [startChar, ...shifted];
  });
}

export function cutVocabulary(xs: number[][], args: WordSequenceArgs): number[][] {
  const { skipTop = 0, oovChar = 2 } = args;
  const numWords = args.numWords || xs.reduce((m, x) => x.reduce((a, w) => Math.max(a, w), m), 0);
  return xs.map((x) => (oovChar === null ? x.filter((w) => skipTop <= w && w < numWords) : x.map((w) => (skipTop <= w && w < numWords ? w : oovChar))));
}

/** Keeps the pairs whose sequence is shorter than maxlen (Keras's _remove_long_seq). */
export function removeLong(maxlen: number, xs: number[][], labels: number[], dataset: string): [number[][], number[]] {
  const keep = xs.map((x, i) => i).filter((i) => xs[i].length < maxlen);
  if (!keep.length) throw new Error(`${dataset}: after filtering for sequences shorter than maxlen=${maxlen}, no sequence was kept. Increase maxlen.`);
  return [keep.map((i) => xs[i]), keep.map((i) => labels[i])];
}

export function labelTensor(labels: number[]): Tensor {
  return new Tensor(Int32Array.from(labels), [labels.length], 'int32');
}

/** The word index json (word -> rank) of a dataset. */
export async function loadWordIndex(spec: DatasetSpec, args: DatasetFileArgs): Promise<Record<string, number>> {
  const path = await datasetFile(spec, args);
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as Record<string, number>;
  } catch (e) {
    throw new Error(`${path} is not a JSON word index (${(e as Error).message})`);
  }
}
