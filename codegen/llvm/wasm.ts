/**
 * The same kernel program as WebAssembly for portable bundles: the module
 * that emitProgram builds for the CPU (one thread, 256-bit micro-kernel
 * vectors, which wasm's SIMD128 splits in two), retargeted to wasm32, then
 * `opt-14 -O3`, `llc-14 -mtriple=wasm32 -mattr=+simd128` and `wasm-ld-14`.
 *
 * The single-threaded module exports its own memory, `kiln_run` and
 * `__heap_base`; arenas go above the heap base (the runtime grows the
 * memory). Calls the module cannot resolve (libm's expm1f/log1pf, OpenMP's
 * thread queries and GOMP_parallel) stay imports from "env": the runtime
 * answers them (runtime/bundle/wasm.ts, wasm_threads.ts).
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { KernelProgram } from '../../ir/kernel.js';
import { emitProgram } from './module.js';

const run = promisify(execFile);

export const WASM_TRIPLE = 'wasm32-unknown-unknown';
/** clang-14 -target wasm32's data layout: 32-bit pointers. */
export const WASM_LAYOUT = 'e-m:e-p:32:32-p10:8:8-p20:8:8-i64:64-n32:64-S128-ni:1:10:20';
/** Wasm features every target browser and Node 20 has. */
export const WASM_FEATURES = '+simd128,+bulk-memory,+nontrapping-fptoint,+sign-ext,+mutable-globals';

async function tool(cmd: string, args: string[]): Promise<void> {
  try {
    await run(cmd, args, { maxBuffer: 64 << 20 });
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    throw new Error(`codegen/llvm/wasm: '${cmd} ${args.join(' ')}' failed: ${err.stderr || err.message}`);
  }
}

/**
 * The host module's IR text for wasm32. The IR is target-neutral up to the
 * triple and layout (pointers are only loaded, stored and offset). Wasm has
 * no fused multiply-add: llvm.fma would become a libm call per lane, so the
 * micro-kernels' FMAs become llvm.fmuladd (multiply then add where the
 * target has no FMA; results differ from the CPU's by rounding only).
 */
export function retarget(ir: string): string {
  return ir
    .replace(/^target triple = ".*"$/m, `target triple = "${WASM_TRIPLE}"`)
    .replace(/^target datalayout = ".*"$/m, `target datalayout = "${WASM_LAYOUT}"`)
    .replace(/@llvm\.fma\./g, '@llvm.fmuladd.');
}

/** Where the host offers wasm threads (Node's worker_threads), the threaded build adds atomics and shared memory. */
export const WASM_THREAD_FEATURES = `${WASM_FEATURES},+atomics`;

/** Largest memory a threaded module may have (shared memories declare their maximum): 2 GiB. */
export const WASM_MAX_MEMORY = 2 ** 31;

/**
 * The program as a WebAssembly binary. With `threads` > 1 the module runs its
 * parallel kernels on a team: it imports a shared memory and calls
 * GOMP_parallel(fn, data, n), fn an index into the exported function table,
 * which the runtime runs on worker threads, each an instance of the module
 * with its own stack (the exported __stack_pointer set per worker).
 */
export async function compileWasm(program: KernelProgram, threads = 1): Promise<Uint8Array> {
  const threaded = threads > 1;
  const features = threaded ? WASM_THREAD_FEATURES : WASM_FEATURES;
  const link = threaded
    ? ['--import-memory', '--shared-memory', `--max-memory=${WASM_MAX_MEMORY}`, '--export=__stack_pointer', '--export-table']
    : [];
  const dir = mkdtempSync(join(tmpdir(), 'kiln-wasm-'));
  try {
    writeFileSync(join(dir, 'p.ll'), retarget(emitProgram(program, threads, 256, 'openmp').print()));
    await tool('opt-14', ['-O3', `-mattr=${features}`, join(dir, 'p.ll'), '-o', join(dir, 'p.opt.bc')]);
    await tool('llc-14', ['-O3', `-mtriple=${WASM_TRIPLE}`, `-mattr=${features}`, '-filetype=obj', join(dir, 'p.opt.bc'), '-o', join(dir, 'p.o')]);
    await tool('wasm-ld-14', ['--no-entry', '--export=kiln_run', '--export=__heap_base', '--allow-undefined', '--stack-first', '-z', 'stack-size=1048576', ...link, join(dir, 'p.o'), '-o', join(dir, 'p.wasm')]);
    return new Uint8Array(readFileSync(join(dir, 'p.wasm')));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
