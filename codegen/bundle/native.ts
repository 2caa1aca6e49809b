/**
 * node-cpu objects for a bundle: the program's LLVM module (codegen/llvm,
 * as for the CPU backend) compiled once per CPU feature level with a fixed
 * -mcpu instead of `native`, so a bundle built on one x86-64 machine runs on
 * any other that has the level's features. The runtime picks the best level
 * at load (runtime/bundle/node_cpu.ts). Each object is also a Node-API
 * addon (napi_shim.ts), so loading it needs no FFI package, and carries its
 * own copy of Kiln's thread pool (codegen/llvm/pool_source.ts), private to it.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { KernelProgram } from '../../ir/kernel.js';
import type { VectorBits } from '../llvm/host.js';
import llvm from '../llvm/llvm.js';
import { emitProgram } from '../llvm/module.js';
import { POOL_CFLAGS } from '../llvm/pool.js';
import { POOL_C } from '../llvm/pool_source.js';
import { NAPI_SHIM_C } from './napi_shim.js';

const run = promisify(execFile);

export interface CpuLevel {
  readonly level: string;
  readonly mcpu: string;
  readonly vectorBits: VectorBits;
  /** /proc/cpuinfo flags of the x86-64 psABI level (-mcpu) the code may use. */
  readonly features: readonly string[];
}

const V3 = ['avx', 'avx2', 'bmi1', 'bmi2', 'f16c', 'fma', 'abm', 'movbe', 'xsave', 'sse4_1', 'sse4_2', 'ssse3', 'popcnt', 'cx16'];

/** Best first. */
export const CPU_LEVELS: readonly CpuLevel[] = [
  { level: 'avx512', mcpu: 'x86-64-v4', vectorBits: 512, features: [...V3, 'avx512f', 'avx512bw', 'avx512cd', 'avx512dq', 'avx512vl'] },
  { level: 'avx2', mcpu: 'x86-64-v3', vectorBits: 256, features: V3 },
];

export function cpuLevels(names: readonly string[]): CpuLevel[] {
  return names.map((n) => {
    const l = CPU_LEVELS.find((c) => c.level === n);
    if (!l) throw new Error(`codegen/bundle: unknown CPU level '${n}'. Levels: ${CPU_LEVELS.map((c) => c.level).join(', ')}`);
    return l;
  });
}

/** Shared libraries the objects link (the runtime names them when one is missing). */
export const NATIVE_LIBRARIES = ['libmvec.so.1'];

async function tool(cmd: string, args: string[]): Promise<void> {
  try {
    await run(cmd, args, { maxBuffer: 64 << 20 });
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    throw new Error(`codegen/bundle: '${cmd} ${args.join(' ')}' failed: ${err.stderr || err.message}`);
  }
}

/** The program as a shared object for `level`, with a pool of up to `threads` threads. */
export async function compileNativeLevel(program: KernelProgram, level: CpuLevel, threads: number): Promise<Uint8Array> {
  if (process.arch !== 'x64') throw new Error(`codegen/bundle: node-cpu bundles are built for x86-64 feature levels; this machine is ${process.arch}`);
  const dir = mkdtempSync(join(tmpdir(), 'kiln-native-'));
  const f = (ext: string): string => join(dir, `p.${ext}`);
  try {
    llvm.WriteBitcodeToFile(emitProgram(program, threads, level.vectorBits), f('bc'));
    await tool('opt-14', ['-O3', `-mcpu=${level.mcpu}`, '-vector-library=LIBMVEC-X86', f('bc'), '-o', f('opt.bc')]);
    await tool('llc-14', ['-O3', `-mcpu=${level.mcpu}`, '-filetype=obj', '-relocation-model=pic', f('opt.bc'), '-o', f('o')]);
    writeFileSync(f('c'), NAPI_SHIM_C);
    await tool('cc', ['-O2', '-fPIC', '-c', f('c'), '-o', f('shim.o')]);
    writeFileSync(f('pool.c'), POOL_C);
    await tool('cc', [...POOL_CFLAGS, '-DKILN_API=', '-c', f('pool.c'), '-o', f('pool.o')]);
    await tool('cc', ['-shared', '-s', '-pthread', '-o', f('so'), f('o'), f('shim.o'), f('pool.o'), '-lmvec', '-lm']);
    return new Uint8Array(readFileSync(f('so')));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
