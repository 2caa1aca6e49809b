/**
 * wasm: each program is a WebAssembly module (codegen/llvm/wasm.ts) with its
 * own memory; above its static data the engine places the weights (a copy
 * of weights.bin), the program's arena, the two arena pointers `kiln_run`
 * takes and, for a threaded module, one stack per worker. Imports the module
 * could not resolve at link time are answered here: libm's float functions
 * from Math, OpenMP's thread queries and GOMP_parallel (one thread, or a team
 * of workers in Node: wasm_threads.ts). Runs in Node and in browsers alike.
 */
import { type Engine, type LoadedProgram, viewOf } from './engine.js';
import type { BufferSlot, Manifest, ProgramSpec, WasmProgram } from './manifest.js';
import type { BundleSource } from './source.js';
import type { Team } from './wasm_threads.js';

const PAGE = 65536;
const ALIGN = 64;
/** Stack of each worker thread of a threaded module (the main thread's is in the module's own data). */
const WORKER_STACK = 1 << 20;
const up = (n: number, a = ALIGN): number => Math.ceil(n / a) * a;

const MATH: Record<string, (...x: number[]) => number> = {
  exp: Math.exp, expm1: Math.expm1, log: Math.log, log1p: Math.log1p, log2: Math.log2, log10: Math.log10,
  sin: Math.sin, cos: Math.cos, tan: Math.tan, asin: Math.asin, acos: Math.acos, atan: Math.atan, atan2: Math.atan2,
  sinh: Math.sinh, cosh: Math.cosh, tanh: Math.tanh, asinh: Math.asinh, acosh: Math.acosh, atanh: Math.atanh,
  pow: Math.pow, sqrt: Math.sqrt, cbrt: Math.cbrt, fmod: (a, b) => a % b,
};

const mathOf = (name: string): ((...x: number[]) => number) | undefined => MATH[name] ?? MATH[name.replace(/f$/, '')];

/** The module's "env" imports; `given` answers the names a threaded module adds (memory, GOMP_parallel, omp_*). */
function imports(module: WebAssembly.Module, where: string, memory: () => WebAssembly.Memory, given: Record<string, WebAssembly.ImportValue> = {}): Record<string, WebAssembly.ImportValue> {
  const env: Record<string, WebAssembly.ImportValue> = {};
  for (const imp of WebAssembly.Module.imports(module)) {
    const name = imp.name;
    if (name in given) env[name] = given[name];
    else if (imp.kind !== 'function') throw new Error(`kiln runtime: ${where} imports ${imp.kind} '${imp.module}.${name}', which no runtime provides`);
    else if (name === 'omp_get_thread_num') env[name] = () => 0;
    else if (name === 'omp_get_num_threads') env[name] = () => 1;
    else if (name === 'memset') env[name] = (p: number, c: number, n: number) => (new Uint8Array(memory().buffer, p, n).fill(c), p);
    else if (name === 'memcpy' || name === 'memmove') env[name] = (d: number, s: number, n: number) => (new Uint8Array(memory().buffer).copyWithin(d, s, s + n), d);
    else if (mathOf(name)) env[name] = mathOf(name)!;
    else throw new Error(`kiln runtime: ${where} imports function '${name}', which the wasm runtime does not provide`);
  }
  return env;
}

async function compile(source: BundleSource, file: string): Promise<{ bytes: Uint8Array; module: WebAssembly.Module; where: string }> {
  const where = `${source.where}/${file}`;
  const bytes = await source.bytes(file);
  try {
    return { bytes, module: await WebAssembly.compile(bytes), where };
  } catch (e) {
    throw new Error(`kiln runtime: ${where} is not a valid WebAssembly module: ${(e as Error).message}`);
  }
}

/** A program instantiated: its memory, where the weights and its arena sit, and its entry. */
interface Instantiated {
  readonly memory: WebAssembly.Memory;
  readonly sharedAt: number;
  readonly arenaAt: number;
  readonly run: () => void;
  readonly dispose: () => void;
}

/** One thread: the module's own memory, grown to hold the weights and the arena above its heap base. */
async function single(source: BundleSource, spec: WasmProgram, weights: Uint8Array): Promise<Instantiated> {
  const { module, where } = await compile(source, spec.file);
  let memory: WebAssembly.Memory | null = null;
  const instance = await WebAssembly.instantiate(module, { env: imports(module, where, () => memory!) });
  memory = instance.exports.memory as WebAssembly.Memory;
  const heapBase = (instance.exports.__heap_base as WebAssembly.Global).value as number;
  const sharedAt = up(heapBase);
  const arenaAt = up(sharedAt + weights.byteLength);
  const basesAt = up(arenaAt + spec.arenaBytes);
  if (basesAt + 8 > memory.buffer.byteLength) memory.grow(Math.ceil((basesAt + 8 - memory.buffer.byteLength) / PAGE));
  new Uint32Array(memory.buffer, basesAt, 2).set([arenaAt, sharedAt]);
  const run = instance.exports.kiln_run as (bases: number) => void;
  return { memory, sharedAt, arenaAt, run: () => run(basesAt), dispose: () => undefined };
}

/** A team: the threaded module on a shared memory sized up front (shared memories do not move), workers from wasm_threads.ts. */
async function threaded(source: BundleSource, spec: WasmProgram, weights: Uint8Array, threads: number): Promise<Instantiated> {
  const { bytes, module, where } = await compile(source, spec.threaded!.file);
  const { importedMemory, startTeam } = await import('./wasm_threads.js');
  const limits = importedMemory(bytes);
  if (!limits) throw new Error(`kiln runtime: ${where} imports no memory; it is not a threaded kiln module`);
  const sharedAt = up(limits.min * PAGE);
  const arenaAt = up(sharedAt + weights.byteLength);
  const basesAt = up(arenaAt + spec.arenaBytes);
  const stacksAt = up(basesAt + 8, PAGE);
  const pages = Math.ceil((stacksAt + (threads - 1) * WORKER_STACK) / PAGE);
  if (pages > limits.max) throw new Error(`kiln runtime: ${where} needs ${pages} pages of memory, more than its maximum ${limits.max}`);
  const memory = new WebAssembly.Memory({ initial: pages, maximum: limits.max, shared: true });
  let team: Team | null = null;
  let teamSize = 1;
  let table: WebAssembly.Table | null = null;
  const env = imports(module, where, () => memory, {
    memory,
    omp_get_num_threads: () => teamSize,
    GOMP_parallel: (fn: number, data: number, n: number) => team!.parallel(table!, fn, data, n, (k) => void (teamSize = k)),
  });
  const instance = await WebAssembly.instantiate(module, { env });
  table = instance.exports.__indirect_function_table as WebAssembly.Table;
  const math = WebAssembly.Module.imports(module).filter((i) => i.kind === 'function' && mathOf(i.name)).map((i) => i.name);
  team = await startTeam(module, memory, threads - 1, (tid) => stacksAt + tid * WORKER_STACK, math);
  new Uint32Array(memory.buffer, basesAt, 2).set([arenaAt, sharedAt]);
  const run = instance.exports.kiln_run as (bases: number) => void;
  return { memory, sharedAt, arenaAt, run: () => run(basesAt), dispose: () => team?.dispose() };
}

export interface WasmOptions {
  /** Threads for wasm programs in Node (default: the machine's, at most the bundle's); pages run one. */
  readonly threads?: number;
}

/** Threads for a program: Node only (a page's main thread may not block), at most the bundle's and the machine's. */
async function threadsFor(spec: WasmProgram, asked: number | undefined): Promise<number> {
  const inNode = typeof process !== 'undefined' && !!process.versions?.node;
  if (!spec.threaded || !inNode) return 1;
  const cores = (await import('node:os')).availableParallelism();
  return Math.max(1, Math.min(spec.threaded.threads, asked ?? cores));
}

export async function wasmEngine(source: BundleSource, manifest: Manifest, weights: Uint8Array, options: WasmOptions = {}): Promise<Engine> {
  if (!manifest.programs.some((p) => p.target === 'wasm')) throw new Error(`kiln runtime: ${source.where} has no wasm programs (targets: ${manifest.targets.join(', ')})`);
  // Each module has its own memory and copy of the weights: the one that ran last holds the current weights (a train step changes them).
  let latest: { shared: () => Uint8Array } | null = null;
  const loaded: Instantiated[] = [];
  return {
    description: 'wasm',
    weights: async () => (latest ? latest.shared().slice() : weights.slice()),
    async load(spec: ProgramSpec): Promise<LoadedProgram> {
      if (spec.target !== 'wasm') throw new Error(`kiln runtime: program for ${spec.target} given to the wasm engine`);
      const threads = await threadsFor(spec, options.threads);
      const p = threads > 1 ? await threaded(source, spec, weights, threads) : await single(source, spec, weights);
      loaded.push(p);
      const { memory, sharedAt, arenaAt } = p;
      new Uint8Array(memory.buffer, sharedAt, weights.byteLength).set(weights);
      // memory.buffer is replaced when a memory grows: views are made per access.
      const view = (slot: BufferSlot) => viewOf(memory.buffer as ArrayBuffer, slot.dtype, (slot.shared ? sharedAt : arenaAt) + slot.offset, slot.size);
      const self = { shared: () => new Uint8Array(memory.buffer, sharedAt, weights.byteLength) };
      return {
        spec,
        write: (slot, data) => view(slot).set(data),
        run: async () => {
          if (latest && latest !== self) self.shared().set(latest.shared());
          latest = self;
          p.run();
        },
        read: async (slot) => view(slot).slice(),
        dispose: p.dispose,
      };
    },
    dispose: () => {
      for (const p of loaded) p.dispose();
    },
  };
}
