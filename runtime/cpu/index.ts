/**
 * The CPU backend: compiles a kernel program to a native shared object
 * (codegen/llvm), loads it with koffi, and owns one page-aligned arena per
 * executable. A run is one native call of the program's entry point.
 * dispose() unloads the library (dlclose) and unmaps the arena; an executable
 * dropped without dispose() is released the same way by a FinalizationRegistry.
 */
import koffi from 'koffi';
import { type TypedArray, viewArray } from '../../ir/dtype.js';
import type { KernelProgram } from '../../ir/kernel.js';
import { ARENA_ALIGN } from '../../ir/kernel.js';
import { compileNative } from '../../codegen/llvm/toolchain.js';
import { HOST_VECTOR_BITS, type VectorBits } from '../../codegen/llvm/host.js';
import { ENTRY } from '../../codegen/llvm/runtime_abi.js';
import type { Backend, Executable, SharedMemory } from '../backend.js';
import { config } from '../config.js';
import { advanceGeneration } from '../shared_state.js';
import { mapPages } from './pages.js';

// Programs link Kiln's thread pool (codegen/llvm/pool.ts), built into the
// compile cache; it is never unloaded with a program (-z nodelete), as its
// workers outlive any one program.

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
  /** opt and llc processes a build runs at once (default: KILN_COMPILE_JOBS, else 1). */
  readonly compileJobs?: number;
}

/** The micro-kernels' vector width: the one asked for, never wider than the host's. */
export function cpuVectorBits(asked: VectorBits | null = config.vectorBits): VectorBits {
  return asked !== null && asked < HOST_VECTOR_BITS ? asked : HOST_VECTOR_BITS;
}

export function allocSharedCpu(bytes: number): SharedMemory {
  const block = mapPages(bytes, 'a shared state arena');
  return {
    bytes: block.bytes,
    buffer: block.buffer,
    handle: block.pointer,
    dispose: () => block.dispose(),
  };
}

/** What an executable holds natively, released by dispose() or, if it is dropped without one, by the registry. */
interface Held {
  readonly native: { unload(): void };
  readonly arena: { dispose(): void };
  /** The shared arena the program addresses by pointer: kept mapped while the program lives. */
  readonly shared: SharedMemory | undefined;
  live: boolean;
}

function release(held: Held): void {
  if (!held.live) return;
  held.live = false;
  held.arena.dispose();
  held.native.unload();
}

const dropped = new FinalizationRegistry<Held>(release);

export async function loadCpu(program: KernelProgram, options: CpuOptions = {}, shared?: SharedMemory): Promise<Executable> {
  const threads = options.threads ?? config.numThreads;
  const lib = await compileNative(program, { threads, cacheDir: options.cacheDir ?? config.cacheDir, maxCacheBytes: options.maxCacheBytes ?? config.cacheMaxBytes, jobs: options.compileJobs ?? config.compileJobs, vectorBits: cpuVectorBits(options.vectorBits ?? config.vectorBits), print: wantsPrint(program.name) ? (t) => process.stderr.write(`--- KILN_PRINT_KERNEL: ${program.name} ---\n${t}`) : undefined });
  if ((program.sharedBytes ?? 0) > (shared?.bytes ?? 0)) throw new Error(`cpu backend: program '${program.name}' needs a shared state arena of ${program.sharedBytes} bytes, got ${shared?.bytes ?? 0}`);
  const native = koffi.load(lib.path);
  // The entry point takes a pointer to its bases, passed as the address (the same register as a pointer on every 64-bit ABI).
  const entry = native.func(`void ${ENTRY}(uint64_t bases)`);
  // One mapping: the program's arena, then the pointers the entry point takes ([arena, shared arena]).
  const basesAt = Math.ceil(Math.max(program.arenaBytes, 1) / ARENA_ALIGN) * ARENA_ALIGN;
  const arena = mapPages(basesAt + 16, `the arena of '${program.name}'`);
  const basesPointer = BigInt(koffi.address(arena.pointer)) + BigInt(basesAt);
  new BigUint64Array(arena.buffer, basesAt, 2).set([BigInt(koffi.address(arena.pointer)), shared ? BigInt(koffi.address(shared.handle)) : 0n]);
  const views = program.buffers.map((b) => viewArray(b.shared ? shared!.buffer : arena.buffer, b.dtype, b.offset, b.size));
  const held: Held = { native, arena, shared, live: true };
  const check = (): void => {
    if (!held.live) throw new Error(`cpu backend: program '${program.name}' was disposed`);
  };
  const exe: Executable = {
    program,
    fromCache: lib.fromCache,
    write(buf: number, data: TypedArray, elementOffset = 0) {
      check();
      views[buf].set(data, elementOffset);
      // A write into the shared arena may change a weight: every program's packed copies are rebuilt before use.
      if (program.buffers[buf].shared && program.weights) advanceGeneration(views[program.weights.generation] as Int32Array);
    },
    async read(buf: number) {
      check();
      return views[buf].slice();
    },
    async run() {
      check();
      entry(basesPointer);
    },
    // No await before the copies: the results are taken before the caller can write the next inputs.
    async runAndRead(bufs: readonly number[]) {
      check();
      entry(basesPointer);
      return bufs.map((b) => views[b].slice());
    },
    dispose() {
      dropped.unregister(held);
      release(held);
    },
  };
  dropped.register(exe, held, held);
  return exe;
}

export const cpuBackend: Backend = {
  name: 'cpu',
  allocShared: allocSharedCpu,
  load: (program, shared) => loadCpu(program, {}, shared),
};
