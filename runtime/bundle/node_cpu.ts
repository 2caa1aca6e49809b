/**
 * node-cpu: the bundle's native shared objects, loaded with koffi. A bundle
 * holds one object per CPU feature level (AVX-512, AVX2); the best level
 * whose features the CPU has (per /proc/cpuinfo) is loaded, and a CPU with
 * none is refused naming the features it lacks. The objects link only libc,
 * libm, libmvec and libgomp: no LLVM at run time.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { type Engine, type LoadedProgram, viewOf } from './engine.js';
import type { BufferSlot, Manifest, NativeLevel, NativeProgram, ProgramSpec } from './manifest.js';
import type { BundleSource } from './source.js';

const ALIGN = 64;

export function hostCpuFlags(): string[] {
  try {
    const line = readFileSync('/proc/cpuinfo', 'utf8').split('\n').find((l) => l.startsWith('flags'));
    return line ? line.split(':')[1].trim().split(/\s+/) : [];
  } catch {
    return [];
  }
}

/** The first level (best first) whose features are all in `flags`, or an error naming what is missing. */
export function chooseLevel(levels: readonly NativeLevel[], flags: readonly string[], where: string): NativeLevel {
  const have = new Set(flags);
  const fit = levels.find((l) => l.features.every((f) => have.has(f)));
  if (fit) return fit;
  const lowest = levels[levels.length - 1];
  const missing = lowest ? lowest.features.filter((f) => !have.has(f)) : [];
  throw new Error(`kiln runtime: ${where}: this CPU lacks ${missing.join(', ')}, which the bundle's lowest native level (${lowest?.level}) needs; load the bundle with { target: 'wasm' } or compile it with another --cpu-levels`);
}

export interface NodeCpuOptions {
  /** CPU flags to choose the level with (default: /proc/cpuinfo's); tests use it to pose as another CPU. */
  readonly cpuFlags?: readonly string[];
}

type Koffi = typeof import('koffi');

export async function nodeCpuEngine(source: BundleSource, manifest: Manifest, weights: Uint8Array, options: NodeCpuOptions = {}): Promise<Engine> {
  if (manifest.cpu && manifest.cpu.arch !== process.arch) throw new Error(`kiln runtime: ${source.where}: the native objects are for ${manifest.cpu.arch}, this machine is ${process.arch}; load the bundle with { target: 'wasm' }`);
  const natives = manifest.programs.filter((p): p is NativeProgram => p.target === 'node-cpu');
  if (natives.length === 0) throw new Error(`kiln runtime: ${source.where} has no node-cpu programs (targets: ${manifest.targets.join(', ')})`);
  const level = chooseLevel(natives[0].levels, options.cpuFlags ?? hostCpuFlags(), source.where);
  let koffi: Koffi;
  try {
    koffi = createRequire(import.meta.url)('koffi') as Koffi;
  } catch {
    throw new Error("kiln runtime: the node-cpu target needs the 'koffi' package (npm install koffi), or load the bundle with { target: 'wasm' }");
  }
  const libc = koffi.load('libc.so.6');
  // Held for the life of the process: libgomp's worker threads outlive any one program.
  for (const lib of manifest.cpu?.libraries ?? []) koffi.load(lib);
  const alignedAlloc = libc.func('void *aligned_alloc(size_t alignment, size_t size)');
  const memset = libc.func('void *memset(void *s, int c, size_t n)');
  const free = libc.func('void free(void *ptr)');
  const block = (bytes: number): { pointer: unknown; buffer: ArrayBuffer } => {
    const size = Math.ceil(Math.max(bytes, ALIGN) / ALIGN) * ALIGN;
    const pointer: unknown = alignedAlloc(ALIGN, size);
    if (!pointer) throw new Error(`kiln runtime: could not allocate ${size} bytes`);
    memset(pointer, 0, size);
    return { pointer, buffer: koffi.view(pointer, size) as ArrayBuffer };
  };
  const shared = block(weights.byteLength);
  new Uint8Array(shared.buffer, 0, weights.byteLength).set(weights);
  const loaded: LoadedProgram[] = [];
  return {
    description: `node-cpu ${level.level}`,
    async load(spec: ProgramSpec): Promise<LoadedProgram> {
      if (spec.target !== 'node-cpu') throw new Error(`kiln runtime: program for ${spec.target} given to the node-cpu engine`);
      const file = spec.levels.find((l) => l.level === level.level)?.file;
      if (!file) throw new Error(`kiln runtime: ${source.where}: the batch-${spec.batch} ${spec.kind} program has no ${level.level} object`);
      const path = await source.path(file);
      const lib = koffi.load(path!);
      const entry = lib.func('void kiln_run(void *bases)');
      const arena = block(spec.arenaBytes);
      const bases = block(16);
      new BigUint64Array(bases.buffer, 0, 2).set([BigInt(koffi.address(arena.pointer)), BigInt(koffi.address(shared.pointer))]);
      const view = (slot: BufferSlot) => viewOf(slot.shared ? shared.buffer : arena.buffer, slot.dtype, slot.offset, slot.size);
      let live = true;
      const program: LoadedProgram = {
        spec,
        write: (slot, data) => view(slot).set(data),
        run: async () => {
          if (!live) throw new Error('kiln runtime: the model was disposed');
          entry(bases.pointer);
        },
        read: async (slot) => view(slot).slice(),
        dispose() {
          if (!live) return;
          live = false;
          free(arena.pointer);
          free(bases.pointer);
          lib.unload();
        },
      };
      loaded.push(program);
      return program;
    },
    dispose() {
      for (const p of loaded) p.dispose();
      free(shared.pointer);
    },
  };
}
