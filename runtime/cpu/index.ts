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
import { HOST_VECTOR_BITS, type VectorBits } from '../../codegen/llvm/host.js';
import { ENTRY } from '../../codegen/llvm/module.js';
import type { Backend, Executable, SharedMemory } from '../backend.js';
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
  /** Where compiled code is cached (default: KILN_CACHE_DIR or <package>/.kiln-cache). */
  readonly cacheDir?: string;
  /** The cache's size limit in bytes (default: KILN_CACHE_MAX_MB, 1024 MiB). */
  readonly maxCacheBytes?: number;
  /** Vector width of the matmul micro-kernels (default: KILN_VECTOR_BITS, else the host's widest). */
  readonly vectorBits?: VectorBits;
}

/** The micro-kernels' vector width: the one asked for, never wider than the host's. */
export function cpuVectorBits(asked: VectorBits | null = config.vectorBits): VectorBits {
  return asked !== null && asked < HOST_VECTOR_BITS ? asked : HOST_VECTOR_BITS;
}

function alignedBlock(bytes: number, what: string): { pointer: unknown; buffer: ArrayBuffer; bytes: number } {
  const size = Math.ceil(Math.max(bytes, ARENA_ALIGN) / ARENA_ALIGN) * ARENA_ALIGN;
  const pointer: unknown = alignedAlloc(ARENA_ALIGN, size);
  if (!pointer) throw new Error(`cpu backend: could not allocate ${size} bytes for ${what}`);
  memset(pointer, 0, size);
  return { pointer, buffer: koffi.view(pointer, size) as ArrayBuffer, bytes: size };
}

export function allocSharedCpu(bytes: number): SharedMemory {
  const block = alignedBlock(bytes, 'a shared state arena');
  let live = true;
  return {
    bytes: block.bytes,
    buffer: block.buffer,
    handle: block.pointer,
    dispose() {
      if (live) free(block.pointer);
      live = false;
    },
  };
}

export async function loadCpu(program: KernelProgram, options: CpuOptions = {}, shared?: SharedMemory): Promise<Executable> {
  const threads = options.threads ?? config.numThreads;
  const lib = await compileNative(program, { threads, cacheDir: options.cacheDir ?? config.cacheDir, maxCacheBytes: options.maxCacheBytes ?? config.cacheMaxBytes, vectorBits: cpuVectorBits(options.vectorBits ?? config.vectorBits), print: wantsPrint(program.name) ? (t) => process.stderr.write(`--- KILN_PRINT_KERNEL: ${program.name} ---\n${t}`) : undefined });
  if ((program.sharedBytes ?? 0) > (shared?.bytes ?? 0)) throw new Error(`cpu backend: program '${program.name}' needs a shared state arena of ${program.sharedBytes} bytes, got ${shared?.bytes ?? 0}`);
  const native = koffi.load(lib.path);
  const entry = native.func(`void ${ENTRY}(void *bases)`);
  const arena = alignedBlock(program.arenaBytes, `the arena of '${program.name}'`);
  // The entry point takes a pointer to [arena, shared arena].
  const bases = alignedBlock(16, 'arena pointers');
  new BigUint64Array(bases.buffer, 0, 2).set([BigInt(koffi.address(arena.pointer)), shared ? BigInt(koffi.address(shared.handle)) : 0n]);
  const views = program.buffers.map((b) => viewArray(b.shared ? shared!.buffer : arena.buffer, b.dtype, b.offset, b.size));
  let live = true;
  const check = (): void => {
    if (!live) throw new Error(`cpu backend: program '${program.name}' was disposed`);
  };
  return {
    program,
    fromCache: lib.fromCache,
    write(buf: number, data: TypedArray, elementOffset = 0) {
      check();
      views[buf].set(data, elementOffset);
    },
    async read(buf: number) {
      check();
      return views[buf].slice();
    },
    async run() {
      check();
      entry(bases.pointer);
    },
    // No await before the copies: the results are taken before the caller can write the next inputs.
    async runAndRead(bufs: readonly number[]) {
      check();
      entry(bases.pointer);
      return bufs.map((b) => views[b].slice());
    },
    dispose() {
      if (!live) return;
      live = false;
      free(arena.pointer);
      free(bases.pointer);
      native.unload();
    },
  };
}

export const cpuBackend: Backend = {
  name: 'cpu',
  allocShared: allocSharedCpu,
  load: (program, shared) => loadCpu(program, {}, shared),
};
