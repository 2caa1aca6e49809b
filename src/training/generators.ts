/**
 * fitGenerator / evaluateGenerator / predictGenerator over (async) iterables
 * of batches, with a bounded prefetch queue: up to `maxQueueSize` batches are
 * pulled from the source ahead of the step that consumes them, so a slow
 * producer (decoding, augmentation) overlaps with compiled training steps.
 */
import type { Tensor } from '../tensor.js';
import { makeRandom } from './data.js';
import { type KerasOptions, optionSpec, readOptions } from '../options.js';
import type { DataList } from './standardize.js';

/** A batch for fitGenerator: [x, y] or [x, y, sampleWeight], each one array, a list, or keyed by input/output name. */
export type Batch = readonly [DataList, DataList] | readonly [DataList, DataList, DataList];
export type BatchSource<T> = Iterable<T> | AsyncIterable<T>;

/** Pulls items from `source` ahead of use, holding at most `capacity` of them. */
export class Prefetcher<T> {
  private readonly iterator: Iterator<T> | AsyncIterator<T>;
  private readonly queue: Promise<IteratorResult<T>>[] = [];

  constructor(source: BatchSource<T>, private readonly capacity = 10) {
    if (capacity < 1) throw new Error(`maxQueueSize must be at least 1, got ${capacity}`);
    const asyncIt = (source as AsyncIterable<T>)[Symbol.asyncIterator];
    this.iterator = asyncIt ? asyncIt.call(source) : (source as Iterable<T>)[Symbol.iterator]();
    this.fill();
  }

  private fill(): void {
    while (this.queue.length < this.capacity) this.queue.push(Promise.resolve(this.iterator.next()));
  }

  /** The next item, or null when the source is exhausted. */
  async next(): Promise<T | null> {
    const head = this.queue.shift()!;
    const r = await head;
    if (r.done) {
      this.queue.length = 0;
      this.queue.push(head);
      return null;
    }
    this.fill();
    return r.value;
  }

  /** Items handed out or in flight: how far the source has been read. */
  get buffered(): number {
    return this.queue.length;
  }
}

export interface SequenceIterateArgs {
  /** getItem calls in flight at once (Keras's `workers`); they overlap when getItem is async (worker threads, I/O). */
  readonly workers?: number;
  /** Visit the batches of each epoch in a new random order. */
  readonly shuffle?: boolean;
  readonly seed?: number;
}

/**
 * keras.utils.Sequence: a dataset addressed by batch index. As a source for
 * fitGenerator it is an endless stream of epochs; onEpochEnd runs once every
 * batch of an epoch has been produced, before the next epoch's first batch.
 */
export abstract class Sequence<T> implements AsyncIterable<T> {
  abstract readonly length: number;
  abstract getItem(index: number): T | Promise<T>;
  onEpochEnd(): void {}

  [Symbol.asyncIterator](): AsyncIterator<T> {
    return this.iterate()[Symbol.asyncIterator]();
  }

  iterate(options: KerasOptions<SequenceIterateArgs> = {}): AsyncIterable<T> {
    const args = readOptions('Sequence.iterate', options, ITERATE_OPTIONS);
    const workers = args.workers ?? 1;
    if (!Number.isInteger(workers) || workers < 1) throw new Error(`Sequence: workers must be a positive integer, got ${workers}`);
    const random = makeShuffle(args.seed ?? 0);
    let order: number[] = [];
    let position = 0;
    let barrier: Promise<void> = Promise.resolve();
    let epochItems: Promise<unknown>[] = [];
    let slots = workers;
    const waiting: (() => void)[] = [];
    const acquire = (): Promise<void> => (slots > 0 ? (slots--, Promise.resolve()) : new Promise((r) => waiting.push(r)));
    const release = (): void => void (waiting.length ? waiting.shift()!() : slots++);
    const next = (): Promise<IteratorResult<T>> => {
      const n = this.length;
      if (!(n > 0)) return Promise.reject(new Error(`Sequence: length is ${n}; a Sequence used as a generator must hold at least one batch`));
      const k = position++ % n;
      if (k === 0) {
        if (position > 1) {
          const ended = Promise.all(epochItems);
          barrier = ended.then(() => this.onEpochEnd());
        }
        epochItems = [];
        order = Array.from({ length: n }, (_, i) => i);
        if (args.shuffle) random(order);
      }
      const index = order[k];
      const item = barrier.then(acquire).then(async () => {
        try {
          return await this.getItem(index);
        } finally {
          release();
        }
      });
      epochItems.push(item.catch(() => undefined));
      const result = item.then((value) => ({ value, done: false as const }));
      // Batches read ahead may fail before anyone asks for them: the failure reaches whoever awaits this
      // batch, and is not reported as unhandled meanwhile.
      result.catch(() => undefined);
      return result;
    };
    return { [Symbol.asyncIterator]: () => ({ next }) };
  }
}

const ITERATE_OPTIONS = optionSpec<SequenceIterateArgs>({ workers: true, shuffle: true, seed: true });

function makeShuffle(seed: number): (items: number[]) => void {
  const random = makeRandom(seed);
  return (items) => {
    for (let i = items.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [items[i], items[j]] = [items[j], items[i]];
    }
  };
}
