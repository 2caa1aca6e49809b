/**
 * What each target's engine offers the bundle model: programs loaded onto
 * their arenas, with inputs written and outputs read by manifest slot.
 */
import type { BufferSlot, BundleDType, ProgramSpec } from './manifest.js';

export type BundleArray = Float32Array | Float64Array | Int32Array | Uint8Array;

export interface LoadedProgram {
  readonly spec: ProgramSpec;
  write(slot: BufferSlot, data: BundleArray): void;
  run(): Promise<void>;
  read(slot: BufferSlot): Promise<BundleArray>;
  dispose(): void;
}

export interface Engine {
  /** The target and, for node-cpu, the feature level chosen ('node-cpu avx2'). */
  readonly description: string;
  load(spec: ProgramSpec): Promise<LoadedProgram>;
  /** A copy of the shared state arena as the last run left it (the weights, after train steps). */
  weights(): Promise<Uint8Array>;
  dispose(): void;
}

export const DTYPE_BYTES: Record<BundleDType, number> = { float32: 4, float64: 8, int32: 4, bool: 1 };

/** `size` elements of `value` in a new array of `dtype`. */
export function filled(dtype: BundleDType, size: number, value: number): BundleArray {
  return viewOf(new ArrayBuffer(size * DTYPE_BYTES[dtype]), dtype, 0, size).fill(value);
}

/** A typed view of `size` elements at byte `offset` of `buffer`. */
export function viewOf(buffer: ArrayBuffer, dtype: BundleDType, offset: number, size: number): BundleArray {
  switch (dtype) {
    case 'float32': return new Float32Array(buffer, offset, size);
    case 'float64': return new Float64Array(buffer, offset, size);
    case 'int32': return new Int32Array(buffer, offset, size);
    case 'bool': return new Uint8Array(buffer, offset, size);
  }
}
