/**
 * The CPU backend: compiles a kernel program to a native shared object
 * (codegen/llvm), loads it with koffi, and owns one 64-byte-aligned arena per
 * executable. A run is one native call of the program's entry point.
 */
import koffi from 'koffi';
import { type TypedArray, viewArray } from '../../ir/dtype.js';
import type { KernelProgram } from '../../ir/kernel.js';
import { ARENA_ALIGN } from '../../ir/kernel.js';
import { compileNative } from '../../codegen/llvm/toolchain.js';
import { ENTRY } from '../../codegen/llvm/module.js';
import type { Backend, Executable } from '../backend.js';
import { config } from '../config.js';

const libc = koffi.load('libc.so.6');
// Held for the life of the process: compiled programs link libgomp, and its
// worker threads outlive any one program, so it must never be unloaded with one.
const libgomp = koffi.load('libgomp.so.1');
void libgomp;
const alignedAlloc = libc.func('void *aligned_alloc(size_t alignment, size_t size)');
const memset = libc.func('void *memset(void *s, int c, size_t n)');
const free = libc.func('void free(void *ptr)');

function wantsPrint(name: string): boolean {
  return config.printKernel === 'all' || (config.printKernel !== null && name.includes(config.printKernel));
}

export interface CpuOptions {
  /** Threads for this program (default: KILN_NUM_THREADS or every core). */
  readonly threads?: number;
}

export async function loadCpu(program: KernelProgram, options: CpuOptions = {}): Promise<Executable> {
  const threads = options.threads ?? config.numThreads;
  const lib = await compileNative(program, { threads, cacheDir: config.cacheDir, print: wantsPrint(program.name) ? (t) => process.stderr.write(`--- KILN_PRINT_KERNEL: ${program.name} ---\n${t}`) : undefined });
  const native = koffi.load(lib.path);
  const entry = native.func(`void ${ENTRY}(void *arena)`);
  const bytes = Math.ceil(Math.max(program.arenaBytes, ARENA_ALIGN) / ARENA_ALIGN) * ARENA_ALIGN;
  let arena: unknown = alignedAlloc(ARENA_ALIGN, bytes);
  if (!arena) throw new Error(`cpu backend: could not allocate a ${bytes}-byte arena for '${program.name}'`);
  memset(arena, 0, bytes);
  const memory = koffi.view(arena, bytes) as ArrayBuffer;
  const views = program.buffers.map((b) => viewArray(memory, b.dtype, b.offset, b.size));
  const live = (): void => {
    if (!arena) throw new Error(`cpu backend: program '${program.name}' was disposed`);
  };
  return {
    program,
    fromCache: lib.fromCache,
    write(buf: number, data: TypedArray, elementOffset = 0) {
      live();
      views[buf].set(data, elementOffset);
    },
    async read(buf: number) {
      live();
      return views[buf].slice();
    },
    async run() {
      live();
      entry(arena);
    },
    dispose() {
      if (!arena) return;
      free(arena);
      arena = null;
      native.unload();
    },
  };
}

export const cpuBackend: Backend = {
  name: 'cpu',
  load: (program) => loadCpu(program),
};
