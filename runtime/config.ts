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

export const config = Object.freeze({
  /** Threads for native kernels (default: every core). */
  numThreads: positiveInt('KILN_NUM_THREADS', process.env.KILN_NUM_THREADS, cpus().length),
  /** Where compiled native code is cached, keyed by content hash. */
  cacheDir: process.env.KILN_CACHE_DIR || join(packageRoot, '.kiln-cache'),
  /** When set, the pipeline runner prints the IR after every pass to stderr. */
  dumpIr: Boolean(process.env.KILN_DUMP_IR),
  /** When set, code generators print the kernels they emit to stderr. */
  printKernel: Boolean(process.env.KILN_PRINT_KERNEL),
});
