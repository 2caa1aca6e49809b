/**
 * Kiln's thread pool (pool_source.ts) as a shared object, compiled once per
 * host with the system `cc` and cached in the compile cache under a hash of
 * its source and the CPU, as `pool/kiln_pool.<hash>.so` (a folder the cache's
 * pruning leaves alone). Programs link it by its path, so every program of a
 * process shares one pool; it is linked with `-z nodelete`, so unloading a
 * program never unloads the pool under its running workers.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { dyingWithParent, removeStaleTemporaries } from '../../runtime/cpu/temporaries.js';
import { POOL_C } from './pool_source.js';

const run = promisify(execFile);

/** Temporaries of a pool build: `kiln_pool.<hash>.so.<pid>.<ms>.<ext>`. */
const POOL_TEMPORARY = /^kiln_pool\.[0-9a-f]{32}\.so\.(\d+)\.\d+\./;

/** cc flags for the pool's object: position independent, only kiln_parallel and kiln_pool_stats exported. */
export const POOL_CFLAGS = ['-O2', '-fPIC', '-pthread', '-fvisibility=hidden'];

export function poolKey(): string {
  return createHash('sha256').update(POOL_C).update(`${process.arch} ${cpus()[0]?.model ?? ''}\n`).digest('hex').slice(0, 32);
}

const built = new Map<string, Promise<string>>();

/** The pool's shared object in `cacheDir`, built on first use (once per process and cache). */
export function poolLibrary(cacheDir: string): Promise<string> {
  const path = join(cacheDir, 'pool', `kiln_pool.${poolKey()}.so`);
  let p = built.get(path);
  if (!p) {
    p = existsSync(path) ? Promise.resolve(path) : buildPool(path);
    built.set(path, p);
    p.catch(() => built.delete(path));
  }
  return p;
}

async function buildPool(path: string): Promise<string> {
  mkdirSync(dirname(path), { recursive: true });
  removeStaleTemporaries(dirname(path), (name) => {
    const m = POOL_TEMPORARY.exec(name);
    return m ? Number(m[1]) : null;
  });
  const tmp = `${path}.${process.pid}.${Date.now()}`;
  try {
    writeFileSync(`${tmp}.c`, POOL_C);
    const [file, argv] = dyingWithParent('cc', [...POOL_CFLAGS, '-shared', '-Wl,-z,nodelete', '-o', `${tmp}.so`, `${tmp}.c`]);
    await run(file, argv).catch((e: { stderr?: string; message: string }) => {
      throw new Error(`codegen/llvm: building the thread pool (${path}) with cc failed: ${e.stderr || e.message}`);
    });
    renameSync(`${tmp}.so`, path);
  } finally {
    rmSync(`${tmp}.c`, { force: true });
    rmSync(`${tmp}.so`, { force: true });
  }
  return path;
}
