/**
 * keras.preprocessing.sequence: padSequences, skipgrams, makeSamplingTable
 * and TimeseriesGenerator, with Keras 2.2's semantics. Randomness comes from
 * a seeded generator, so results repeat for a seed (they are not numpy's
 * streams: the same seed does not give Keras's exact shuffle).
 */
import { sizeOf } from '../../ir/dtype.js';
import { Tensor } from '../tensor.js';
import { makeRandom } from '../training/data.js';
import { Sequence } from '../training/generators.js';
import { type KerasOptions, optionSpec, readOptions } from '../options.js';

export interface PadSequencesArgs {
  readonly maxlen?: number;
  readonly dtype?: 'int32' | 'float32' | 'float64';
  readonly padding?: 'pre' | 'post';
  readonly truncating?: 'pre' | 'post';
  readonly value?: number;
}

const PAD_OPTIONS = optionSpec<PadSequencesArgs>({ maxlen: true, dtype: true, padding: true, truncating: true, value: true });

function checkSide(what: 'Padding' | 'Truncating', side: string): void {
  if (side !== 'pre' && side !== 'post') throw new Error(`padSequences: ${what} type '${side}' not understood; use 'pre' or 'post'`);
}

/** Pads (or truncates) every sequence to `maxlen` (default: the longest), as keras pad_sequences. */
export function padSequences(sequences: readonly (readonly number[])[], options: KerasOptions<PadSequencesArgs> = {}): Tensor {
  const args = readOptions('padSequences', options, PAD_OPTIONS);
  const { dtype = 'int32', padding = 'pre', truncating = 'pre', value = 0 } = args;
  checkSide('Padding', padding);
  checkSide('Truncating', truncating);
  if (!Array.isArray(sequences)) throw new Error(`padSequences: sequences must be an array of arrays of numbers, got ${typeof sequences}`);
  sequences.forEach((s, i) => {
    if (!Array.isArray(s)) throw new Error(`padSequences: sequence ${i} is not an array (got ${JSON.stringify(s)})`);
  });
  const maxlen = args.maxlen ?? Math.max(0, ...sequences.map((s) => s.length));
  if (!Number.isInteger(maxlen) || maxlen < 0) throw new Error(`padSequences: maxlen must be a non-negative integer, got ${maxlen}`);
  const out = dtype === 'int32' ? new Int32Array(sequences.length * maxlen) : dtype === 'float64' ? new Float64Array(sequences.length * maxlen) : new Float32Array(sequences.length * maxlen);
  out.fill(value);
  sequences.forEach((s, i) => {
    if (s.length === 0) return;
    const kept: readonly number[] = truncating === 'pre' ? s.slice(Math.max(0, s.length - maxlen)) : s.slice(0, maxlen);
    const at = padding === 'post' ? 0 : maxlen - kept.length;
    kept.forEach((v: number, j: number) => {
      if (typeof v !== 'number') throw new Error(`padSequences: sequence ${i} holds ${JSON.stringify(v)} at ${j}; sequences must hold numbers`);
      out[i * maxlen + at + j] = v;
    });
  });
  return new Tensor(out, [sequences.length, maxlen], dtype);
}

/** Probability of keeping the word of each frequency rank (Zipf-law estimate), as keras make_sampling_table. */
export function makeSamplingTable(size: number, samplingFactor = 1e-5): Float64Array {
  const gamma = 0.577;
  return Float64Array.from({ length: size }, (_, i) => {
    const rank = Math.max(i, 1);
    const f = samplingFactor * (rank * (Math.log(rank) + gamma) + 0.5 - 1 / (12 * rank));
    return Math.min(1, f / Math.sqrt(f));
  });
}

export interface SkipgramsArgs {
  readonly windowSize?: number;
  readonly negativeSamples?: number;
  readonly shuffle?: boolean;
  readonly categorical?: boolean;
  readonly samplingTable?: ArrayLike<number> | null;
  readonly seed?: number;
}

const SKIPGRAM_OPTIONS = optionSpec<SkipgramsArgs>({ windowSize: true, negativeSamples: true, shuffle: true, categorical: true, samplingTable: true, seed: true });

/** Skip-gram couples [word, context] labelled 1, and random negatives labelled 0, as keras skipgrams. */
export function skipgrams(sequence: readonly number[], vocabularySize: number, options: KerasOptions<SkipgramsArgs> = {}): [number[][], (number | number[])[]] {
  const args = readOptions('skipgrams', options, SKIPGRAM_OPTIONS);
  const { windowSize = 4, negativeSamples = 1, shuffle = true, categorical = false, samplingTable = null } = args;
  const random = makeRandom(args.seed ?? Math.floor(Math.random() * 2 ** 32));
  const couples: number[][] = [];
  const labels: (number | number[])[] = [];
  sequence.forEach((wi, i) => {
    if (!wi) return;
    if (samplingTable && samplingTable[wi] < random()) return;
    for (let j = Math.max(0, i - windowSize); j < Math.min(sequence.length, i + windowSize + 1); j++) {
      if (j === i || !sequence[j]) continue;
      couples.push([wi, sequence[j]]);
      labels.push(categorical ? [0, 1] : 1);
    }
  });
  if (negativeSamples > 0 && couples.length > 0) {
    const count = Math.floor(labels.length * negativeSamples);
    const words = shuffled(couples.map((c) => c[0]), random);
    for (let i = 0; i < count; i++) {
      couples.push([words[i % words.length], 1 + Math.floor(random() * (vocabularySize - 1))]);
      labels.push(categorical ? [1, 0] : 0);
    }
  }
  if (!shuffle) return [couples, labels];
  const order = shuffled(couples.map((_, i) => i), random);
  return [order.map((i) => couples[i]), order.map((i) => labels[i])];
}

function shuffled<T>(items: T[], random: () => number): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [items[i], items[j]] = [items[j], items[i]];
  }
  return items;
}

export interface TimeseriesGeneratorArgs {
  readonly length: number;
  readonly samplingRate?: number;
  readonly stride?: number;
  readonly startIndex?: number;
  readonly endIndex?: number;
  readonly shuffle?: boolean;
  readonly reverse?: boolean;
  readonly batchSize?: number;
  readonly seed?: number;
}

const TIMESERIES_OPTIONS = optionSpec<TimeseriesGeneratorArgs>({ length: true, samplingRate: true, stride: true, startIndex: true, endIndex: true, shuffle: true, reverse: true, batchSize: true, seed: true });

/** Batches of windows over a time series: each sample is `length` past steps, its target the next step. */
export class TimeseriesGenerator extends Sequence<[Tensor, Tensor]> {
  private readonly start: number;
  private readonly end: number;
  private readonly args: Required<Omit<TimeseriesGeneratorArgs, 'endIndex' | 'seed'>>;
  private readonly random: () => number;

  constructor(private readonly data: Tensor, private readonly targets: Tensor, options: KerasOptions<TimeseriesGeneratorArgs>) {
    super();
    const args = readOptions('TimeseriesGenerator', options, TIMESERIES_OPTIONS);
    if (!(Number.isInteger(args.length) && args.length > 0)) throw new Error(`TimeseriesGenerator: length must be a positive integer, got ${args.length}`);
    if (data.shape[0] !== targets.shape[0]) throw new Error(`TimeseriesGenerator: data has ${data.shape[0]} steps but targets has ${targets.shape[0]}; they must be equal`);
    this.args = { samplingRate: 1, stride: 1, startIndex: 0, shuffle: false, reverse: false, batchSize: 128, ...args };
    this.start = this.args.startIndex + this.args.length;
    this.end = args.endIndex ?? data.shape[0] - 1;
    if (this.start > this.end) throw new Error(`TimeseriesGenerator: startIndex + length (${this.start}) is past endIndex (${this.end}); no sample fits in ${data.shape[0]} steps`);
    this.random = makeRandom(args.seed ?? 0);
  }

  get length(): number {
    const span = this.args.batchSize * this.args.stride;
    return Math.floor((this.end - this.start + span) / span);
  }

  getItem(index: number): [Tensor, Tensor] {
    const { batchSize, stride, samplingRate, length, shuffle, reverse } = this.args;
    let rows: number[];
    if (shuffle) rows = Array.from({ length: batchSize }, () => this.start + Math.floor(this.random() * (this.end + 1 - this.start)));
    else {
      const i = this.start + batchSize * stride * index;
      rows = [];
      for (let r = i; r < Math.min(i + batchSize * stride, this.end + 1); r += stride) rows.push(r);
    }
    const feature = sizeOf(this.data.shape.slice(1));
    const steps = Math.ceil(length / samplingRate);
    const x = new Float32Array(rows.length * steps * feature);
    rows.forEach((row, b) => {
      for (let t = 0; t < steps; t++) {
        const from = (row - length + t * samplingRate) * feature;
        x.set(this.data.data.subarray(from, from + feature), (b * steps + (reverse ? steps - 1 - t : t)) * feature);
      }
    });
    const targetSize = sizeOf(this.targets.shape.slice(1));
    const y = new Float32Array(rows.length * targetSize);
    rows.forEach((row, b) => y.set(this.targets.data.subarray(row * targetSize, (row + 1) * targetSize), b * targetSize));
    return [new Tensor(x, [rows.length, steps, ...this.data.shape.slice(1)]), new Tensor(y, [rows.length, ...this.targets.shape.slice(1)])];
  }
}
