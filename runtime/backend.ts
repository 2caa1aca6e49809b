/**
 * The narrow backend contract (DESIGN.md contract 4): allocate memory, load a
 * compiled kernel program onto its arena (and a model's shared state arena),
 * write and read buffer regions, run it.
 */
import type { TypedArray } from '../ir/dtype.js';
import type { KernelProgram } from '../ir/kernel.js';

export interface Executable {
  readonly program: KernelProgram;
  /** True when the backend reused compiled code from its cache. */
  readonly fromCache?: boolean;
  /** Copies `data` into buffer `buf`, starting at element `elementOffset`. */
  write(buf: number, data: TypedArray, elementOffset?: number): void;
  /** A copy of buffer `buf`'s contents. */
  read(buf: number): Promise<TypedArray>;
  /** Runs every kernel of the program once, in order. */
  run(): Promise<void>;
  /**
   * Runs the program and reads `buffers` back, starting both before it
   * returns (WebGPU queues the run and the copies in one submission), so a
   * caller may write inputs and start the next run before awaiting this one's
   * results. Without it, callers run() and then read().
   */
  runAndRead?(buffers: readonly number[]): Promise<TypedArray[]>;
  dispose(): void;
}

/**
 * Memory several programs of one model address together (weights that
 * predict, evaluate and train programs share). `buffer` is host-visible: on
 * the CPU it is the native memory itself.
 */
export interface SharedMemory {
  readonly bytes: number;
  readonly buffer: ArrayBuffer;
  /** Backend-specific handle (the native pointer on the CPU). */
  readonly handle: unknown;
  /** Where `buffer` is only a host mirror (WebGPU): push bytes [offset, offset + bytes) to the device. */
  upload?(offset: number, bytes: number): void;
  /** Where `buffer` is only a host mirror: refresh it from the device. */
  download?(): Promise<void>;
  dispose(): void;
}

export interface Backend {
  readonly name: string;
  /** Bool elements take 32 bits in this backend's memory (no byte-sized storage). */
  readonly wideBool?: boolean;
  /** Zeroed, 64-byte-aligned memory for a shared state arena. */
  allocShared(bytes: number): SharedMemory | Promise<SharedMemory>;
  load(program: KernelProgram, shared?: SharedMemory): Promise<Executable>;
}
