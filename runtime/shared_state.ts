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
import type { SharedMemory } from './backend.js';

export interface SharedEntry {
  readonly name: string;
  readonly dtype: DType;
  readonly size: number;
}

export class SharedState {
  readonly layout: SharedLayout;
  private readonly entries: ReadonlyMap<string, SharedEntry>;
  private memory: SharedMemory | null = null;
  private owner: string | null = null;
  /** The allocation in flight: concurrent first programs share it. */
  private allocating: Promise<SharedMemory> | null = null;

  constructor(entries: readonly SharedEntry[]) {
    const offsets = new Map<string, number>();
    let bytes = 0;
    for (const e of entries) {
      offsets.set(e.name, bytes);
      bytes += Math.ceil(Math.max(e.size * DTYPE_BYTES[e.dtype], 1) / ARENA_ALIGN) * ARENA_ALIGN;
    }
    this.layout = { offsets, bytes };
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

  /** Pushes entry `name` (after its view was written) to the device, where the memory is a mirror. */
  commit(name: string): void {
    const e = this.entries.get(name);
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
