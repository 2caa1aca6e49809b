/**
 * A kernel program as one LLVM module: a function per kernel over a range of
 * rows, an OpenMP trampoline per kernel big enough to share across threads,
 * and the entry point `void kiln_run(i8* bases)` that runs every kernel in
 * order; `bases` points to two pointers, the program's arena and the model's
 * shared state arena. Threads come from libgomp's GOMP_parallel; each thread takes one
 * contiguous block of rows.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HOST_VECTOR_BITS, type VectorBits } from './host.js';
import llvm from './llvm.js';
import type { Kernel, KernelProgram } from '../../ir/kernel.js';
import { Emitter } from './context.js';
import { emitLoopKernel, rowsOf } from './loop_kernel.js';
import { emitMatmulKernel, matmulRows } from './matmul.js';

export const ENTRY = 'kiln_run';

/** Below this many scalar operations a kernel runs on the calling thread. */
const PARALLEL_WORK = 1 << 15;

function workOf(k: Kernel): number {
  if (k.kind === 'matmul') return 2 * k.batch.reduce((p, q) => p * q, 1) * k.m * k.n * k.k;
  const points = [...k.outer, ...k.inner].reduce((p, q) => p * q, 1);
  return points * (k.reductions.length + 1);
}

function rowCount(k: Kernel, threads: number): number {
  return k.kind === 'matmul' ? matmulRows(k, threads) : rowsOf(k);
}

/** `void name_omp(i8* bases)`: this thread's share of [0, rows). */
function emitTrampoline(e: Emitter, kernel: llvm.Function, rows: number, name: string): llvm.Function {
  const fn = e.beginFunction(name, e.void, [e.i8p]);
  const b = e.b;
  const tid = b.CreateSExt(b.CreateCall(e.external('omp_get_thread_num', e.i32, []), []), e.i64);
  const nt = b.CreateSExt(b.CreateCall(e.external('omp_get_num_threads', e.i32, []), []), e.i64);
  const chunk = b.CreateSDiv(b.CreateAdd(e.int64(rows), b.CreateSub(nt, e.int64(1))), nt);
  const lo = b.CreateMul(tid, chunk);
  const hiRaw = b.CreateAdd(lo, chunk);
  const hi = b.CreateSelect(b.CreateICmpSLT(hiRaw, e.int64(rows)), hiRaw, e.int64(rows));
  const run = e.block('run');
  const done = e.block('done');
  b.CreateCondBr(b.CreateICmpSLT(lo, hi), run, done);
  b.SetInsertPoint(run);
  b.CreateCall(kernel, [fn.getArg(0), lo, hi]);
  b.CreateBr(done);
  b.SetInsertPoint(done);
  e.endFunction();
  return fn;
}

/** Parses the micro-kernels' IR text and links it into the module. */
function linkMicroKernels(e: Emitter): void {
  if (e.microKernels.size === 0) return;
  const dir = mkdtempSync(join(tmpdir(), 'kiln-ll-'));
  try {
    const file = join(dir, 'microkernels.ll');
    const header = `target datalayout = "${e.module.getDataLayoutStr()}"\ntarget triple = "${e.module.getTargetTriple()}"\n`;
    // Micro-kernels of one dtype declare the same intrinsics: each declaration once.
    const lines = [...e.microKernels.values()].join('\n').split('\n');
    const declarations = new Set(lines.filter((l) => l.startsWith('declare ')));
    writeFileSync(file, header + [...declarations, ...lines.filter((l) => !l.startsWith('declare '))].join('\n'));
    const parsed = llvm.parseIRFile(file, new llvm.SMDiagnostic(), e.context);
    if (!parsed || llvm.Linker.linkModules(e.module, parsed)) throw new Error('codegen/llvm: linking the matmul micro-kernels failed');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export function emitProgram(program: KernelProgram, threads: number, vectorBits: VectorBits = HOST_VECTOR_BITS): llvm.Module {
  const e = new Emitter(program.name, vectorBits);
  const plans = program.kernels.map((k, i) => {
    const name = `k${i}_${k.name.replace(/[^A-Za-z0-9_]/g, '_')}`;
    const fn = k.kind === 'matmul' ? emitMatmulKernel(e, program, k, name, threads) : emitLoopKernel(e, program, k, name);
    const rows = rowCount(k, threads);
    const parallel = threads > 1 && rows > 1 && workOf(k) >= PARALLEL_WORK;
    return { fn, rows, trampoline: parallel ? emitTrampoline(e, fn, rows, `${name}_omp`) : null };
  });
  const entry = e.beginFunction(ENTRY, e.void, [e.i8p], llvm.Function.LinkageTypes.ExternalLinkage);
  const bases = entry.getArg(0);
  const gompParallel = e.external('GOMP_parallel', e.void, [llvm.PointerType.get(llvm.FunctionType.get(e.void, [e.i8p], false), 0), e.i8p, e.i32, e.i32]);
  for (const p of plans) {
    if (p.trampoline) e.b.CreateCall(gompParallel, [p.trampoline, bases, e.int32(threads), e.int32(0)]);
    else e.b.CreateCall(p.fn, [bases, e.int64(0), e.int64(p.rows)]);
  }
  e.endFunction();
  linkMicroKernels(e);
  if (llvm.verifyModule(e.module)) throw new Error(`codegen/llvm: the module for '${program.name}' does not verify`);
  return e.module;
}
