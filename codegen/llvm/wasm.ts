/**
 * The same kernel program as WebAssembly for portable bundles: the module
 * that emitProgram builds for the CPU (one thread, 256-bit micro-kernel
 * vectors, which wasm's SIMD128 splits in two), retargeted to wasm32, then
 * `opt-14 -O3`, `llc-14 -mtriple=wasm32 -mattr=+simd128` and `wasm-ld-14`.
 *
 * The module exports its own memory, `kiln_run` and `__heap_base`; arenas go
 * above the heap base (the runtime grows the memory). Calls the module cannot
 * resolve (libm's expm1f/log1pf, OpenMP's thread queries) stay imports from
 * "env": the runtime answers them (runtime/bundle/wasm.ts).
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

/** The program as a WebAssembly binary (single-threaded). */
export async function compileWasm(program: KernelProgram): Promise<Uint8Array> {
  const dir = mkdtempSync(join(tmpdir(), 'kiln-wasm-'));
  try {
    writeFileSync(join(dir, 'p.ll'), retarget(emitProgram(program, 1, 256).print()));
    await tool('opt-14', ['-O3', `-mattr=${WASM_FEATURES}`, join(dir, 'p.ll'), '-o', join(dir, 'p.opt.bc')]);
    await tool('llc-14', ['-O3', `-mtriple=${WASM_TRIPLE}`, `-mattr=${WASM_FEATURES}`, '-filetype=obj', join(dir, 'p.opt.bc'), '-o', join(dir, 'p.o')]);
    await tool('wasm-ld-14', ['--no-entry', '--export=kiln_run', '--export=__heap_base', '--allow-undefined', '--stack-first', '-z', 'stack-size=1048576', join(dir, 'p.o'), '-o', join(dir, 'p.wasm')]);
    return new Uint8Array(readFileSync(join(dir, 'p.wasm')));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
