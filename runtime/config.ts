/**
 * Environment settings, read once at startup. Passes never read the
 * environment themselves: the pipeline runner hands them what they need.
 */
import { existsSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

function positiveInt(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined || value === '') return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${name} must be a positive integer, got '${value}'`);
  return n;
}

/** The nearest directory above this file that holds package.json (works from src and dist). */
function findPackageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json')) && dirname(dir) !== dir) dir = dirname(dir);
  return dir;
}
const packageRoot = resolve(findPackageRoot());

/** Pass stages by the names KILN_DUMP_IR accepts (and short aliases). */
const STAGE_ALIASES: Record<string, string> = { memory: 'memory_plan' };

/** null: off; 'all'; or a set of stage names. */
function stageList(value: string | undefined): 'all' | ReadonlySet<string> | null {
  if (!value || value === '0') return null;
  if (value === '1' || value === 'all') return 'all';
  return new Set(value.split(',').map((s) => STAGE_ALIASES[s.trim()] ?? s.trim()));
}

/** null: off; 'all'; or a substring of the program names to print. */
function filter(value: string | undefined): string | null {
  if (!value || value === '0') return null;
  return value === '1' || value === 'all' ? 'all' : value;
}

/** null: the host's widest; else 256 or 512 bits. */
function vectorBits(value: string | undefined): 256 | 512 | null {
  if (value === undefined || value === '') return null;
  if (value !== '256' && value !== '512') throw new Error(`KILN_VECTOR_BITS must be 256 or 512, got '${value}'`);
  return Number(value) as 256 | 512;
}

export const config = Object.freeze({
  /** Threads for native kernels (default: every core). */
  numThreads: positiveInt('KILN_NUM_THREADS', process.env.KILN_NUM_THREADS, cpus().length),
  /**
   * KILN_COMPILE_JOBS: opt and llc processes a native build runs at once (default 1: a large program is
   * split only when asked, until a quiet machine shows that split programs train as fast; docs/benchmarks.md).
   */
  compileJobs: positiveInt('KILN_COMPILE_JOBS', process.env.KILN_COMPILE_JOBS, 1),
  /** KILN_VECTOR_BITS=256|512: vector width of the CPU matmul micro-kernels, capped at the host's (default: the host's). */
  vectorBits: vectorBits(process.env.KILN_VECTOR_BITS),
  /** KILN_BACKEND: the process-wide default backend (default cpu; executor.ts checks the name). */
  backend: process.env.KILN_BACKEND || null,
  /** KILN_WEBGPU_BACKEND: Dawn's backend for WebGPU (default: 'default' with a GPU, else 'opengles'). */
  webgpuBackend: process.env.KILN_WEBGPU_BACKEND || null,
  /** Where compiled native code is cached, keyed by content hash. */
  cacheDir: process.env.KILN_CACHE_DIR || join(packageRoot, '.kiln-cache'),
  /** KILN_CACHE_MAX_MB: the native-code cache is pruned to this size, least recently used first (default 1024). */
  cacheMaxBytes: positiveInt('KILN_CACHE_MAX_MB', process.env.KILN_CACHE_MAX_MB, 1024) * 2 ** 20,
  /** KILN_DUMP_IR=all|<pass>,...: the pipeline runner prints the IR after those passes to stderr (input, autodiff, dce, simplify, layout, merge_scans, prune_scans, fold_scale, fusion, lower, contractions, in_place_updates, prepack_weights, memory_plan or memory: passes/pipeline.ts). */
  dumpIr: stageList(process.env.KILN_DUMP_IR),
  /** KILN_PRINT_KERNEL=all|<substring>: code generators print the code of matching programs to stderr. */
  printKernel: filter(process.env.KILN_PRINT_KERNEL),
  /** KILN_FASHION_MNIST_DIR: where datasets.fashion_mnist reads the IDX files (default: Debian's dataset-fashion-mnist). */
  fashionMnistDir: process.env.KILN_FASHION_MNIST_DIR || '/usr/share/datasets/fashion-mnist',
  /** KILN_VERIFY=0 skips verifying the IR between passes (on by default). */
  verify: process.env.KILN_VERIFY !== '0',
  /** KILN_PROFILE=1: the WebGPU backend times every kernel of every run (runtime/webgpu/profile.ts); slows runs down. */
  profile: process.env.KILN_PROFILE === '1',
});
