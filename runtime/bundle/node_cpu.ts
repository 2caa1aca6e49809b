/**
 * node-cpu: the bundle's native objects, each a Node-API addon (see
 * codegen/bundle/napi_shim.ts) loaded with process.dlopen: no FFI package,
 * no LLVM. A bundle holds one object per CPU feature level (AVX-512, AVX2);
 * the best level whose features the CPU has (per /proc/cpuinfo) is loaded,
 * and a CPU with none is refused naming the features it lacks. Arenas are
 * ArrayBuffers the runtime owns, used from their first 64-byte boundary.
 */
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { type Engine, type LoadedProgram, viewOf } from './engine.js';
import type { BufferSlot, Manifest, NativeLevel, NativeProgram, ProgramSpec } from './manifest.js';
import type { BundleSource } from './source.js';

const ALIGN = 64;

interface NativeAddon {
  run(arena: ArrayBuffer, arenaOffset: number, shared: ArrayBuffer, sharedOffset: number): void;
  misalignment(buffer: ArrayBuffer): number;
}

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
  throw new Error(`kiln runtime: ${where}: this CPU lacks ${missing.join(', ')}, which the bundle's lowest native level (${lowest?.level}) needs; load the bundle with { target: 'wasm' } or compile it with other --cpu-levels`);
}

export interface NodeCpuOptions {
  /** CPU flags to choose the level with (default: /proc/cpuinfo's); tests use it to pose as another CPU. */
  readonly cpuFlags?: readonly string[];
  /** Threads for node-cpu programs (default: the machine's, at most the bundle's maximum). */
  readonly threads?: number;
}

/**
 * Caps the threads of the objects' pools through KILN_NUM_THREADS, which
 * each object's pool reads at its first parallel kernel: more threads than
 * cores stall every parallel kernel. A value the user set in the environment
 * wins. The pools need no spin setting: their workers sleep when idle and
 * the caller runs alone while another process holds a core.
 */
function limitThreads(asked: number | undefined, max: number, where: string): void {
  if (asked !== undefined && (!Number.isInteger(asked) || asked < 1 || asked > max)) throw new Error(`kiln runtime: ${where}: threads must be an integer from 1 to ${max} (the bundle's maximum), got ${asked}`);
  if (process.env.KILN_NUM_THREADS) return;
  process.env.KILN_NUM_THREADS = String(asked ?? Math.min(max, availableParallelism()));
}

/** An ArrayBuffer with `bytes` usable from a 64-byte boundary. */
function alignedBuffer(addon: NativeAddon, bytes: number): { buffer: ArrayBuffer; offset: number } {
  const buffer = new ArrayBuffer(Math.max(bytes, 1) + ALIGN);
  return { buffer, offset: (ALIGN - addon.misalignment(buffer)) % ALIGN };
}

function openAddon(path: string, where: string, libraries: readonly string[]): NativeAddon {
  const module = { exports: {} as NativeAddon };
  try {
    process.dlopen(module, path);
  } catch (e) {
    const message = (e as Error).message;
    const lib = libraries.find((l) => message.includes(l));
    throw new Error(`kiln runtime: cannot load ${where}: ${lib ? `the system library ${lib} is missing (Debian: libc6 for libmvec)` : message}`);
  }
  return module.exports;
}

export async function nodeCpuEngine(source: BundleSource, manifest: Manifest, weights: Uint8Array, options: NodeCpuOptions = {}): Promise<Engine> {
  if (manifest.cpu && manifest.cpu.arch !== process.arch) throw new Error(`kiln runtime: ${source.where}: the native objects are for ${manifest.cpu.arch}, this machine is ${process.arch}; load the bundle with { target: 'wasm' }`);
  const natives = manifest.programs.filter((p): p is NativeProgram => p.target === 'node-cpu');
  if (natives.length === 0) throw new Error(`kiln runtime: ${source.where} has no node-cpu programs (targets: ${manifest.targets.join(', ')})`);
  const level = chooseLevel(natives[0].levels, options.cpuFlags ?? hostCpuFlags(), source.where);
  limitThreads(options.threads, manifest.cpu?.threads ?? 1, source.where);
  let shared: { buffer: ArrayBuffer; offset: number } | null = null;
  return {
    description: `node-cpu ${level.level}`,
    async load(spec: ProgramSpec): Promise<LoadedProgram> {
      if (spec.target !== 'node-cpu') throw new Error(`kiln runtime: program for ${spec.target} given to the node-cpu engine`);
      const file = spec.levels.find((l) => l.level === level.level)?.file;
      if (!file) throw new Error(`kiln runtime: ${source.where}: the batch-${spec.batch} ${spec.kind} program has no ${level.level} object`);
      const path = await source.path(file);
      if (!path) throw new Error(`kiln runtime: ${source.where}: native objects load from a folder on disk, not a URL`);
      const addon = openAddon(path, `${source.where}/${file}`, manifest.cpu?.libraries ?? []);
      if (!shared) {
        shared = alignedBuffer(addon, weights.byteLength);
        new Uint8Array(shared.buffer, shared.offset, weights.byteLength).set(weights);
      }
      const weightsArena = shared;
      const arena = alignedBuffer(addon, spec.arenaBytes);
      const view = (slot: BufferSlot) => (slot.shared ? viewOf(weightsArena.buffer, slot.dtype, weightsArena.offset + slot.offset, slot.size) : viewOf(arena.buffer, slot.dtype, arena.offset + slot.offset, slot.size));
      return {
        spec,
        write: (slot, data) => view(slot).set(data),
        run: async () => addon.run(arena.buffer, arena.offset, weightsArena.buffer, weightsArena.offset),
        read: async (slot) => view(slot).slice(),
        dispose: () => undefined,
      };
    },
    weights: async () => (shared ? new Uint8Array(shared.buffer, shared.offset, weights.byteLength).slice() : weights.slice()),
    dispose: () => {
      shared = null;
    },
  };
}
