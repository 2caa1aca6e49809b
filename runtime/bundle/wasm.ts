/**
 * wasm: each program is a WebAssembly module (codegen/llvm/wasm.ts) with its
 * own memory; above its heap base the engine places the weights (a copy of
 * weights.bin), the program's arena and the two arena pointers `kiln_run`
 * takes. Imports the module could not resolve at link time are answered
 * here: libm's float functions from Math, OpenMP's thread queries as one
 * thread. Runs in Node and in browsers alike.
 */
import { type Engine, type LoadedProgram, viewOf } from './engine.js';
import type { BufferSlot, Manifest, ProgramSpec } from './manifest.js';
import type { BundleSource } from './source.js';

const PAGE = 65536;
const ALIGN = 64;
const up = (n: number, a = ALIGN): number => Math.ceil(n / a) * a;

const MATH: Record<string, (...x: number[]) => number> = {
  exp: Math.exp, expm1: Math.expm1, log: Math.log, log1p: Math.log1p, log2: Math.log2, log10: Math.log10,
  sin: Math.sin, cos: Math.cos, tan: Math.tan, asin: Math.asin, acos: Math.acos, atan: Math.atan, atan2: Math.atan2,
  sinh: Math.sinh, cosh: Math.cosh, tanh: Math.tanh, asinh: Math.asinh, acosh: Math.acosh, atanh: Math.atanh,
  pow: Math.pow, sqrt: Math.sqrt, cbrt: Math.cbrt, fmod: (a, b) => a % b,
};

function imports(module: WebAssembly.Module, where: string, memoryRef: { memory: WebAssembly.Memory | null }): WebAssembly.Imports {
  const env: Record<string, WebAssembly.ImportValue> = {};
  for (const imp of WebAssembly.Module.imports(module)) {
    if (imp.kind !== 'function') throw new Error(`kiln runtime: ${where} imports ${imp.kind} '${imp.module}.${imp.name}', which no runtime provides`);
    const name = imp.name;
    const math = MATH[name] ?? MATH[name.replace(/f$/, '')];
    if (name === 'omp_get_thread_num') env[name] = () => 0;
    else if (name === 'omp_get_num_threads') env[name] = () => 1;
    else if (name === 'memset') env[name] = (p: number, c: number, n: number) => (new Uint8Array(memoryRef.memory!.buffer, p, n).fill(c), p);
    else if (name === 'memcpy' || name === 'memmove') env[name] = (d: number, s: number, n: number) => (new Uint8Array(memoryRef.memory!.buffer).copyWithin(d, s, s + n), d);
    else if (math) env[name] = math;
    else throw new Error(`kiln runtime: ${where} imports function '${name}', which the wasm runtime does not provide`);
  }
  return { env };
}

export async function wasmEngine(source: BundleSource, manifest: Manifest, weights: Uint8Array): Promise<Engine> {
  if (!manifest.programs.some((p) => p.target === 'wasm')) throw new Error(`kiln runtime: ${source.where} has no wasm programs (targets: ${manifest.targets.join(', ')})`);
  // Each module has its own memory and copy of the weights: the one that ran last holds the current weights (a train step changes them).
  let latest: { shared: () => Uint8Array } | null = null;
  return {
    weights: async () => (latest ? latest.shared().slice() : weights.slice()),
    description: 'wasm',
    async load(spec: ProgramSpec): Promise<LoadedProgram> {
      if (spec.target !== 'wasm') throw new Error(`kiln runtime: program for ${spec.target} given to the wasm engine`);
      const where = `${source.where}/${spec.file}`;
      let module: WebAssembly.Module;
      try {
        module = await WebAssembly.compile(await source.bytes(spec.file));
      } catch (e) {
        throw new Error(`kiln runtime: ${where} is not a valid WebAssembly module: ${(e as Error).message}`);
      }
      const ref: { memory: WebAssembly.Memory | null } = { memory: null };
      const instance = await WebAssembly.instantiate(module, imports(module, where, ref));
      const memory = instance.exports.memory as WebAssembly.Memory;
      ref.memory = memory;
      const heapBase = (instance.exports.__heap_base as WebAssembly.Global).value as number;
      const sharedAt = up(heapBase);
      const arenaAt = up(sharedAt + weights.byteLength);
      const basesAt = up(arenaAt + spec.arenaBytes);
      const end = basesAt + 8;
      if (end > memory.buffer.byteLength) memory.grow(Math.ceil((end - memory.buffer.byteLength) / PAGE));
      new Uint8Array(memory.buffer, sharedAt, weights.byteLength).set(weights);
      new Uint32Array(memory.buffer, basesAt, 2).set([arenaAt, sharedAt]);
      const run = instance.exports.kiln_run as (bases: number) => void;
      // memory.buffer is replaced when memory grows: views are made per access.
      const view = (slot: BufferSlot) => viewOf(memory.buffer, slot.dtype, (slot.shared ? sharedAt : arenaAt) + slot.offset, slot.size);
      const self = { shared: () => new Uint8Array(memory.buffer, sharedAt, weights.byteLength) };
      return {
        spec,
        write: (slot, data) => view(slot).set(data),
        run: async () => {
          if (latest && latest !== self) self.shared().set(latest.shared());
          latest = self;
          run(basesAt);
        },
        read: async (slot) => view(slot).slice(),
        dispose: () => undefined,
      };
    },
    dispose: () => undefined,
  };
}
