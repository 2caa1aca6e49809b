/**
 * From kernel program to native shared object: emit the LLVM module, write
 * bitcode, `opt-14 -O3`, `llc-14 -O3 -mcpu=native`, link with `cc -shared`
 * against Kiln's thread pool (pool.ts). Results are cached on disk under a content hash of the
 * program, so a second compile of the same model does no LLVM work at all.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { KernelProgram } from '../../ir/kernel.js';
import { HOST_FINGERPRINT, type VectorBits } from './host.js';
import { poolLibrary } from './pool.js';
import { ENTRY } from './runtime_abi.js';
import { dyingWithParent, removeStaleTemporaries } from '../../runtime/cpu/temporaries.js';

const run = promisify(execFile);

/**
 * Who may use a cache entry: the code generator that wrote it (a hash of its
 * own files, so a changed or older Kiln never reuses its objects) and the
 * host it was compiled for (`-mcpu=native` code can fault on another CPU).
 * Both go into every key, and into the entry's note, which a load checks: an
 * entry copied from another machine, or written by a Kiln whose keys were
 * made differently, is rebuilt rather than loaded.
 */
export interface CacheIdentity {
  readonly codegen: string;
  readonly host: string;
}

export const CACHE_IDENTITY: CacheIdentity = {
  codegen: (() => {
    const dir = dirname(fileURLToPath(import.meta.url));
    const h = createHash('sha256');
    for (const f of readdirSync(dir).filter((n) => /\.(js|ts|ll)$/.test(n)).sort()) h.update(readFileSync(join(dir, f)));
    return h.digest('hex');
  })(),
  host: `${process.arch} ${cpus()[0]?.model ?? ''} ${HOST_FINGERPRINT}`,
};

/** What a cache entry's `<key>.json` note holds. */
interface EntryNote extends CacheIdentity {
  readonly name: string;
  readonly kernels?: number;
}

/**
 * glibc's vector math library on x86-64: with it the loop vectorizer turns
 * llvm.exp/log/pow (exp in softmax and sigmoid) into 8-wide calls instead of
 * leaving the loop scalar around one libm call per element.
 */
const VECTOR_MATH = process.arch === 'x64' ? { opt: ['-vector-library=LIBMVEC-X86'], link: ['-lmvec'] } : { opt: [], link: [] };

export interface NativeLibrary {
  readonly path: string;
  readonly fromCache: boolean;
}

export interface NativeOptions {
  readonly threads: number;
  readonly cacheDir: string;
  /** The cache is pruned to this many bytes, least recently used first, after each new entry. */
  readonly maxCacheBytes: number;
  /** Vector width of the matmul micro-kernels (at most the host's). */
  readonly vectorBits: VectorBits;
  /** opt and llc processes one build may run at once (a program of many kernels is split into this many modules; default 1). */
  readonly jobs?: number;
  /** Called with the LLVM IR text before optimization (KILN_PRINT_KERNEL). */
  readonly print?: (text: string) => void;
}

/** Names (of the model, its layers, kernels and buffers) label a program but do not change its code. */
const withoutNames = (key: string, value: unknown): unknown => (key === 'name' ? undefined : value);

/** The cache key: the program's content (not the names in it), the code generator and the host. */
export function programKey(program: KernelProgram, threads: number, vectorBits: VectorBits, identity: CacheIdentity = CACHE_IDENTITY): string {
  const h = createHash('sha256');
  h.update(identity.codegen);
  h.update(`${identity.host} threads=${threads} vector=${vectorBits}\n`);
  h.update(JSON.stringify({ buffers: program.buffers, kernels: program.kernels, arenaBytes: program.arenaBytes, sharedBytes: program.sharedBytes ?? 0 }, withoutNames));
  return h.digest('hex').slice(0, 32);
}

/** Runs a toolchain command as a child that dies with this process (a killed compile leaves no opt-14 behind); returns its output. */
async function toolOutput(cmd: string, args: string[]): Promise<string> {
  const [file, argv] = dyingWithParent(cmd, args);
  try {
    return (await run(file, argv, { maxBuffer: 256 << 20 })).stdout;
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    throw new Error(`codegen/llvm: '${cmd} ${args.join(' ')}' failed: ${err.stderr || err.message}`);
  }
}

/** Runs a toolchain command as a child that dies with this process. */
export async function tool(cmd: string, args: string[]): Promise<void> {
  await toolOutput(cmd, args);
}

/**
 * Kernels per part below which a module is not split: each part costs an
 * llvm-link, opt and llc start-up (tens of milliseconds), which a small
 * predict program does not win back.
 */
const KERNELS_PER_PART = 8;

/** The kernels and the entry point, by the names module.ts gives them (`k<i>_...`, ENTRY). */
const KERNEL_FUNCTIONS = ['--rfunc=^k[0-9]+_', `--func=${ENTRY}`];

/** A mutable global defined (not declared) in LLVM IR text: its name. */
const MUTABLE_GLOBAL = /^(@\S+) = (?!(?:\w+ )*external )(?:\w+ )*global /;

/**
 * Whether the helpers' IR text uses a mutable global (the kernels' packing
 * buffers are in the text too, as definitions, but only kernels use them).
 */
export function helpersShareState(text: string): boolean {
  const lines = text.split('\n');
  const code = lines.filter((l) => !l.startsWith('@')).join('\n');
  return lines.some((l) => {
    const name = MUTABLE_GLOBAL.exec(l)?.[1];
    return name !== undefined && new RegExp(`${name.replace(/[^\w@]/g, '\\$&')}(?![\\w.$])`).test(code);
  });
}

/**
 * Cuts the module at `input` into `parts` modules `<part(i)>.bc` that compile
 * side by side: the kernels and the entry point are spread over the parts by
 * llvm-split (which makes the kernels' internal symbols hidden, so nothing
 * leaves the shared object), and each part gets its own internal copy of the
 * helpers its kernels call (micro-kernels, packing, the thread team), so opt
 * still inlines them as it does in one module. Returns false, leaving the
 * module whole, when a helper defines a mutable global: copies of it would
 * not share its state.
 */
async function splitModule(input: string, tmp: string, parts: number, part: (i: number) => string): Promise<boolean> {
  const ids = Array.from({ length: parts }, (_, i) => i);
  try {
    await Promise.all([
      tool('llvm-extract-14', [...KERNEL_FUNCTIONS, input, '-o', `${tmp}.kernels.bc`]),
      tool('llvm-extract-14', ['--delete', ...KERNEL_FUNCTIONS, input, '-o', `${tmp}.helpers.bc`]),
    ]);
    const [helpers] = await Promise.all([
      toolOutput('llvm-dis-14', [`${tmp}.helpers.bc`, '-o', '-']),
      tool('llvm-split-14', ['-j', String(parts), `${tmp}.kernels.bc`, '-o', `${tmp}.split`]),
    ]);
    if (helpersShareState(helpers)) return false;
    await Promise.all(ids.map((i) => tool('llvm-link-14', ['--only-needed', '--internalize', `${tmp}.split${i}`, `${tmp}.helpers.bc`, '-o', `${part(i)}.bc`])));
    return true;
  } finally {
    for (const f of [`${tmp}.kernels.bc`, `${tmp}.helpers.bc`, ...ids.map((i) => `${tmp}.split${i}`)]) rmSync(f, { force: true });
  }
}

/**
 * Runs `write(tmpPath)` (which writes `<tmp>.bc` or `<tmp>.ll`), then opt, llc
 * and the linker, and renames the shared object into place as `<key>.so`:
 * readers never see a half-written file. A module of many kernels is first
 * cut into up to `jobs` modules (splitModule) that opt and llc, each single
 * threaded, compile side by side; their objects link into one shared object.
 */
async function buildSharedObject(cacheDir: string, key: string, input: 'bc' | 'll', write: (tmp: string) => void, meta: EntryNote, threadsLibrary: () => Promise<readonly string[]>, jobs: number): Promise<string> {
  const path = join(cacheDir, `${key}.so`);
  mkdirSync(cacheDir, { recursive: true });
  removeStaleCacheTemporaries(cacheDir);
  const tmp = join(cacheDir, `${key}.${process.pid}.${Date.now()}`);
  const name = meta.name;
  const timed = async <T>(stage: BuildStage, step: () => T | Promise<T>): Promise<T> => {
    const start = performance.now();
    const result = await step();
    BUILD_TIMES.push({ program: name, stage, ms: performance.now() - start });
    return result;
  };
  const wanted = Math.max(1, Math.min(jobs, Math.floor((meta.kernels ?? 0) / KERNELS_PER_PART)));
  const part = (i: number): string => `${tmp}.part${i}`;
  let sources = [`${tmp}.${input}`];
  const objects = (): string[] => sources.map((_, i) => `${part(i)}.o`);
  try {
    await timed('emit', () => write(tmp));
    if (wanted > 1 && (await timed('split', () => splitModule(`${tmp}.${input}`, tmp, wanted, part)))) {
      sources = Array.from({ length: wanted }, (_, i) => `${part(i)}.bc`);
    }
    await timed('opt', () => Promise.all(sources.map((src, i) => tool('opt-14', ['-O3', '-mcpu=native', ...VECTOR_MATH.opt, src, '-o', `${part(i)}.opt.bc`]))));
    await timed('llc', () => Promise.all(sources.map((_, i) => tool('llc-14', ['-O3', '-mcpu=native', '-filetype=obj', '-relocation-model=pic', `${part(i)}.opt.bc`, '-o', `${part(i)}.o`]))));
    const threads = await threadsLibrary();
    await timed('link', () => tool('cc', ['-shared', '-o', `${tmp}.so`, ...objects(), ...threads, ...VECTOR_MATH.link, '-lm']));
    writeFileSync(`${tmp}.json`, `${JSON.stringify(meta)}\n`);
    renameSync(`${tmp}.json`, join(cacheDir, `${key}.json`));
    renameSync(`${tmp}.so`, path);
  } finally {
    for (const ext of ['.bc', '.ll', '.so', '.json']) rmSync(`${tmp}${ext}`, { force: true });
    for (let i = 0; i < wanted; i++) for (const ext of ['.bc', '.opt.bc', '.o']) rmSync(`${part(i)}${ext}`, { force: true });
  }
  return path;
}

/** `pool`: finding, or on a cache's first use building, the thread pool library (pool.ts), once per cache folder and process. */
export type BuildStage = 'pool' | 'emit' | 'split' | 'opt' | 'llc' | 'link';

const poolTimed = new Set<string>();

/** Wall time of each stage of every native build in this process (read by `npm run bench:compile`). */
export const BUILD_TIMES: { readonly program: string; readonly stage: BuildStage; readonly ms: number }[] = [];

/** Temporaries of a build: `<key>.<pid>.<ms>.<ext>` (and `philox-<key>.<pid>.<ms>.<ext>`, runtime/cpu/philox_words.ts). */
const CACHE_TEMPORARY = /^(?:philox-)?[0-9a-f]{32}\.(\d+)\.\d+\./;

const cleanedCaches = new Set<string>();

/** Removes temporaries of killed compiles (older than a minute, writer gone). */
export function removeStaleCacheTemporaries(cacheDir: string): string[] {
  cleanedCaches.add(cacheDir);
  return removeStaleTemporaries(cacheDir, (name) => {
    const m = CACHE_TEMPORARY.exec(name);
    return m ? Number(m[1]) : null;
  });
}

/** The code generator and llvm-bindings, loaded at the first build: a process whose programs are all cached never loads them. */
async function codeGenerator(): Promise<{ emitProgram: typeof import('./module.js').emitProgram; llvm: typeof import('./llvm.js').default }> {
  const [{ emitProgram }, { default: llvm }] = await Promise.all([import('./module.js'), import('./llvm.js')]);
  return { emitProgram, llvm };
}

export async function compileNative(program: KernelProgram, options: NativeOptions): Promise<NativeLibrary> {
  const key = programKey(program, options.threads, options.vectorBits);
  const path = join(options.cacheDir, `${key}.so`);
  // Built before any program of this cache loads (programs find it beside them, in pool/),
  // on a cache's first use side by side with the program's own build, which needs it only to link.
  const building = poolLibrary(options.cacheDir);
  const pool = async (): Promise<string> => {
    const start = performance.now();
    const path = await building;
    if (!poolTimed.has(options.cacheDir)) {
      poolTimed.add(options.cacheDir);
      BUILD_TIMES.push({ program: 'kiln_pool', stage: 'pool', ms: performance.now() - start });
    }
    return path;
  };
  // Cache hits clean once per process; builds clean every time.
  if (!cleanedCaches.has(options.cacheDir)) removeStaleCacheTemporaries(options.cacheDir);
  if (usableEntry(options.cacheDir, key)) {
    await pool();
    if (options.print) options.print((await codeGenerator()).emitProgram(program, options.threads, options.vectorBits).print());
    touch(path);
    return { path, fromCache: true };
  }
  const meta: EntryNote = { name: program.name, kernels: program.kernels.length, ...CACHE_IDENTITY };
  const { emitProgram, llvm } = await codeGenerator();
  await buildSharedObject(options.cacheDir, key, 'bc', (tmp) => {
    const module = emitProgram(program, options.threads, options.vectorBits);
    options.print?.(module.print());
    llvm.WriteBitcodeToFile(module, `${tmp}.bc`);
  }, meta, async () => poolLinkFlags(await pool()), options.jobs ?? 1);
  pruneCache(options.cacheDir, options.maxCacheBytes, path);
  return { path, fromCache: false };
}

/**
 * Whether `<key>.so` exists and its note says this code generator wrote it
 * for this host. An entry without a note, or with another's, is not loaded:
 * the build that follows replaces it.
 */
function usableEntry(cacheDir: string, key: string): boolean {
  if (!existsSync(join(cacheDir, `${key}.so`))) return false;
  try {
    const note = JSON.parse(readFileSync(join(cacheDir, `${key}.json`), 'utf8')) as Partial<EntryNote>;
    return note.codegen === CACHE_IDENTITY.codegen && note.host === CACHE_IDENTITY.host;
  } catch {
    return false;
  }
}

/** Marks a cache entry as used now (the modification time orders pruning). */
function touch(path: string): void {
  const now = new Date();
  try {
    utimesSync(path, now, now);
  } catch {
    // Another process pruned it meanwhile: it is loaded or rebuilt by the caller either way.
  }
}

/**
 * Deletes the least recently used shared objects (and their .json notes)
 * until the cache holds at most `maxBytes`; `keep` (the entry just built)
 * always stays. Loaded libraries are unaffected: Linux keeps an unlinked
 * file mapped.
 */
export function pruneCache(cacheDir: string, maxBytes: number, keep?: string): void {
  const entries = readdirSync(cacheDir)
    .filter((f) => f.endsWith('.so') && f.split('.').length === 2)
    .flatMap((f) => {
      try {
        const st = statSync(join(cacheDir, f));
        return [{ path: join(cacheDir, f), bytes: st.size, used: st.mtimeMs }];
      } catch {
        return [];
      }
    })
    .sort((a, b) => a.used - b.used);
  let total = entries.reduce((sum, e) => sum + e.bytes, 0);
  for (const e of entries) {
    if (total <= maxBytes) break;
    if (e.path === keep) continue;
    rmSync(e.path, { force: true });
    rmSync(e.path.replace(/\.so$/, '.json'), { force: true });
    total -= e.bytes;
  }
}

/**
 * Links the pool by file name, found through the program's run path in the
 * cache's pool/ folder: a cache folder that moves keeps working. The pool's
 * name holds a hash of its source, which the code generator's hash covers.
 */
function poolLinkFlags(pool: string): string[] {
  return [`-L${dirname(pool)}`, `-l:${basename(pool)}`, '-Wl,-rpath,$ORIGIN/pool'];
}

/** A shared object from hand-written LLVM IR text (benchmark kernels, which call GOMP_parallel themselves), cached like programs. */
export async function compileIrText(name: string, text: string, cacheDir: string): Promise<NativeLibrary> {
  const key = createHash('sha256').update(CACHE_IDENTITY.codegen).update(`${CACHE_IDENTITY.host}\n`).update(text).digest('hex').slice(0, 32);
  const path = join(cacheDir, `${key}.so`);
  if (usableEntry(cacheDir, key)) return { path, fromCache: true };
  await buildSharedObject(cacheDir, key, 'll', (tmp) => writeFileSync(`${tmp}.ll`, text), { name, ...CACHE_IDENTITY }, async () => ['-lgomp'], 1);
  return { path, fromCache: false };
}
