/**
 * A model's shared state arena: the weights (and anything else named here)
 * that all of its compiled programs address in one place, so predict,
 * evaluate and train programs never copy weights between each other. The
 * layout is fixed when the state is created; memory comes from the backend of
 * the first program that uses it.
 */
import { type DType, DTYPE_BYTES, type TypedArray, viewArray } from '../ir/dtype.js';
import { ARENA_ALIGN } from '../ir/kernel.js';
import type { SharedLayout } from '../passes/memory_plan.js';
import { WEIGHTS_GENERATION } from '../passes/prepack_weights.js';
import { GENERATION_WORDS } from '../ir/kernel.js';
import type { SharedMemory } from './backend.js';

export interface SharedEntry {
  readonly name: string;
  readonly dtype: DType;
  readonly size: number;
  /** A kept state (a stateful RNN's), not a weight: programs keep no packed copies of it, and writing it leaves theirs valid. */
  readonly state?: boolean;
}

/**
 * Adds one to the weights generation (GENERATION_WORDS int32 elements, one
 * little-endian unsigned 64-bit count), so that every program's packed
 * copies of the weights are rebuilt before their next use.
 */
export function advanceGeneration(words: Int32Array): void {
  const low = (words[0] + 1) | 0;
  words[0] = low;
  if (low === 0) words[1] = (words[1] + 1) | 0;
}

export class SharedState {
  readonly layout: SharedLayout;
  private readonly entries: ReadonlyMap<string, SharedEntry>;
  private memory: SharedMemory | null = null;
  private owner: string | null = null;
  /** The allocation in flight: concurrent first programs share it. */
  private allocating: Promise<SharedMemory> | null = null;

  constructor(given: readonly SharedEntry[]) {
    const clash = given.find((e) => e.name === WEIGHTS_GENERATION);
    if (clash) throw new Error(`shared state: the entry name '${WEIGHTS_GENERATION}' is reserved for the weights generation`);
    // The weights generation sits after the entries, so their offsets are as without it.
    const entries = [...given, { name: WEIGHTS_GENERATION, dtype: 'int32' as const, size: GENERATION_WORDS, state: true }];
    const offsets = new Map<string, number>();
    let bytes = 0;
    for (const e of entries) {
      offsets.set(e.name, bytes);
      bytes += Math.ceil(Math.max(e.size * DTYPE_BYTES[e.dtype], 1) / ARENA_ALIGN) * ARENA_ALIGN;
    }
    this.layout = { offsets, bytes, weights: new Set(given.filter((e) => !e.state).map((e) => e.name)) };
    this.entries = new Map(entries.map((e) => [e.name, e]));
  }

  has(name: string): boolean {
    return this.entries.has(name);
  }

  /** The arena's memory, allocated by the first backend that asks. */
  async memoryFor(backend: string, alloc: (bytes: number) => SharedMemory | Promise<SharedMemory>): Promise<SharedMemory> {
    if (this.owner !== null && this.owner !== backend) {
      throw new Error(`a model's programs share one backend: its state lives on '${this.owner}', this program is for '${backend}'. Create the model again to use another backend.`);
    }
    if (this.memory) return this.memory;
    if (!this.allocating) {
      this.owner = backend;
      const pending = Promise.resolve(alloc(this.layout.bytes));
      this.allocating = pending;
      try {
        const memory = await pending;
        // Disposed while allocating: the memory is not ours to keep.
        if (this.allocating !== pending) {
          memory.dispose();
          throw new Error('shared state: disposed while its memory was being allocated');
        }
        this.memory = memory;
      } catch (e) {
        if (this.allocating === pending) this.owner = null;
        throw e;
      } finally {
        if (this.allocating === pending) this.allocating = null;
      }
      return this.memory;
    }
    const shared = await this.allocating;
    if (this.memory !== shared) throw new Error('shared state: disposed while its memory was being allocated');
    return shared;
  }

  get allocated(): boolean {
    return this.memory !== null;
  }

  /** A live view of one entry (writes through to every program). */
  view(name: string): TypedArray {
    const e = this.entries.get(name);
    if (!e || !this.memory) throw new Error(`shared state has no ${this.memory ? `entry '${name}'` : 'memory yet'}`);
    return viewArray(this.memory.buffer, e.dtype, this.layout.offsets.get(name)!, e.size);
  }

  /**
   * Pushes entry `name` (after its view was written) to the device, where the
   * memory is a mirror; a weight's write also advances the weights generation.
   */
  commit(name: string): void {
    const e = this.entries.get(name);
    if (e && this.layout.weights?.has(name) && this.memory) advanceGeneration(this.view(WEIGHTS_GENERATION) as Int32Array);
    if (e && this.memory?.upload) this.memory.upload(this.layout.offsets.get(name)!, e.size * DTYPE_BYTES[e.dtype]);
  }

  /** Refreshes the host views from the device, where the memory is a mirror (after training steps). */
  async refresh(): Promise<void> {
    await this.memory?.download?.();
  }

  dispose(): void {
    this.memory?.dispose();
    this.memory = null;
    this.owner = null;
    this.allocating = null;
  }
}
