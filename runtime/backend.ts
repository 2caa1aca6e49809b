/**
 * The narrow backend contract (DESIGN.md contract 4): load a compiled kernel
 * program, realize its arena, write and read buffer regions, run it.
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
  dispose(): void;
}

export interface Backend {
  readonly name: string;
  load(program: KernelProgram): Promise<Executable>;
}
