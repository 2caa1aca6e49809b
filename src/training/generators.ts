/**
 * fitGenerator / evaluateGenerator / predictGenerator over (async) iterables
 * of batches, with a bounded prefetch queue: up to `maxQueueSize` batches are
 * pulled from the source ahead of the step that consumes them, so a slow
 * producer (decoding, augmentation) overlaps with compiled training steps.
 */
import type { Tensor } from '../tensor.js';

export type Batch = readonly [Tensor, Tensor] | readonly [Tensor, Tensor, Tensor];
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
