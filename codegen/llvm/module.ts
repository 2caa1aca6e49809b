/**
 * A kernel program as one LLVM module: a function per kernel over a range of
 * rows, and the entry point `void kiln_run(i8* bases)` that runs every kernel in
 * order; `bases` points to two pointers, the program's arena and the model's
 * shared state arena. A parallel kernel is one call of
 * `kiln_parallel(kernel, bases, rows, chunk, threads)`: natively Kiln's own
 * pool (pool_source.ts), which degrades to the calling thread alone when
 * another process holds a core; in WebAssembly the IR below over the
 * runtime's GOMP_parallel team. Either way threads take chunks of rows from a
 * shared counter, so a slowed thread holds no fixed share of a kernel.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HOST_VECTOR_BITS, type VectorBits } from './host.js';
import llvm from './llvm.js';
import type { Kernel, KernelProgram } from '../../ir/kernel.js';
import { Emitter } from './context.js';
import { emitLoopKernel, rowsOf } from './loop_kernel.js';
import { emitMatmulKernel } from './matmul.js';
import { matmulRows } from './matmul_plan.js';
import { emitAdvance, emitPackers, emitRepack } from './prepack.js';
import { assignStepSlots, entryBases, emitRepeatLoop } from './repeat.js';
import type { PlainKernel } from '../../ir/repeat.js';
import { ENTRY } from './runtime_abi.js';

export { ENTRY } from './runtime_abi.js';

/** Below this many scalar operations a kernel runs on the calling thread. */
const PARALLEL_WORK = 1 << 15;

function workOf(k: PlainKernel): number {
  if (k.kind === 'matmul') return 2 * k.batch.reduce((p, q) => p * q, 1) * k.m * k.n * k.k;
  const points = [...k.outer, ...k.inner].reduce((p, q) => p * q, 1);
  return points * (k.reductions.length + 1);
}

function rowCount(k: PlainKernel): number {
  return k.kind === 'matmul' ? matmulRows(k) : rowsOf(k);
}

/** Chunks per thread a parallel kernel is cut into: enough that a thread slowed by another process costs only its share. */
const CHUNKS_PER_THREAD = 4;

/**
 * `kiln_parallel(kernel, bases, rows, chunk, threads)` for WebAssembly
 * modules: runs kernel(bases, lo, hi) over [0, rows) on the team the
 * runtime's GOMP_parallel import provides, the threads taking chunks of
 * `chunk` rows from a shared counter (dynamic scheduling), so a thread that
 * the OS deschedules (another process on its core) holds no fixed share of
 * the work: the others take the chunks it does not reach. IR text, because
 * llvm-bindings has no atomicrmw builder; the counter's ordering is
 * monotonic, the team's closing barrier orders the kernel's writes.
 */
const OPENMP_PARALLEL = `%kiln.par = type { void (i8*, i64, i64)*, i8*, i64, i64, i64 }
declare void @GOMP_parallel(void (i8*)*, i8*, i32, i32)
define internal void @kiln_par_worker(i8* %p) {
entry:
  %ctx = bitcast i8* %p to %kiln.par*
  %fp = getelementptr %kiln.par, %kiln.par* %ctx, i32 0, i32 0
  %fn = load void (i8*, i64, i64)*, void (i8*, i64, i64)** %fp
  %bp = getelementptr %kiln.par, %kiln.par* %ctx, i32 0, i32 1
  %bases = load i8*, i8** %bp
  %next = getelementptr %kiln.par, %kiln.par* %ctx, i32 0, i32 2
  %rp = getelementptr %kiln.par, %kiln.par* %ctx, i32 0, i32 3
  %rows = load i64, i64* %rp
  %cp = getelementptr %kiln.par, %kiln.par* %ctx, i32 0, i32 4
  %chunk = load i64, i64* %cp
  br label %take
take:
  %lo = atomicrmw add i64* %next, i64 %chunk monotonic
  %more = icmp slt i64 %lo, %rows
  br i1 %more, label %run, label %done
run:
  %end = add i64 %lo, %chunk
  %inside = icmp slt i64 %end, %rows
  %hi = select i1 %inside, i64 %end, i64 %rows
  call void %fn(i8* %bases, i64 %lo, i64 %hi)
  br label %take
done:
  ret void
}
define hidden void @kiln_parallel(void (i8*, i64, i64)* %fn, i8* %bases, i64 %rows, i64 %chunk, i32 %threads) {
entry:
  %ctx = alloca %kiln.par
  %fp = getelementptr %kiln.par, %kiln.par* %ctx, i32 0, i32 0
  store void (i8*, i64, i64)* %fn, void (i8*, i64, i64)** %fp
  %bp = getelementptr %kiln.par, %kiln.par* %ctx, i32 0, i32 1
  store i8* %bases, i8** %bp
  %next = getelementptr %kiln.par, %kiln.par* %ctx, i32 0, i32 2
  store i64 0, i64* %next
  %rp = getelementptr %kiln.par, %kiln.par* %ctx, i32 0, i32 3
  store i64 %rows, i64* %rp
  %cp = getelementptr %kiln.par, %kiln.par* %ctx, i32 0, i32 4
  store i64 %chunk, i64* %cp
  %p = bitcast %kiln.par* %ctx to i8*
  call void @GOMP_parallel(void (i8*)* @kiln_par_worker, i8* %p, i32 %threads, i32 0)
  ret void
}`;

/** Rows per chunk: about CHUNKS_PER_THREAD chunks per thread, at least one row. */
export function chunkRows(rows: number, threads: number): number {
  return Math.max(1, Math.ceil(rows / (threads * CHUNKS_PER_THREAD)));
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

interface KernelPlan {
  readonly fn: llvm.Function;
  readonly rows: number;
  readonly parallel: boolean;
}

/**
 * Where kiln_parallel comes from: 'pool', Kiln's pool library (linked from
 * outside the module: codegen/llvm/pool.ts, or compiled into a bundle object);
 * 'openmp', the IR above over an imported GOMP_parallel (WebAssembly).
 */
export type ParallelRuntime = 'pool' | 'openmp';

export function emitProgram(program: KernelProgram, threads: number, vectorBits: VectorBits = HOST_VECTOR_BITS, parallelRuntime: ParallelRuntime = 'pool'): llvm.Module {
  const e = new Emitter(program.name, vectorBits);
  const slots = assignStepSlots(e, program);
  const planOf = (k: PlainKernel, label: string): KernelPlan => {
    const name = `${label}_${k.name.replace(/[^A-Za-z0-9_]/g, '_')}`;
    const fn = k.kind === 'matmul' ? emitMatmulKernel(e, program, k, name, threads) : emitLoopKernel(e, program, k, name);
    const rows = rowCount(k);
    const parallel = threads > 1 && rows > 1 && workOf(k) >= PARALLEL_WORK;
    return { fn, rows, parallel };
  };
  // A repeat's body kernels are emitted once each; the entry loops around their calls.
  const plans = program.kernels.map((k, i) => (k.kind === 'repeat' ? { repeat: k, body: k.body.map((x, j) => planOf(x, `k${i}_${j}`)) } : planOf(k, `k${i}`)));
  const packers = emitPackers(e, program).map((p) => ({ fn: p.fn, rows: p.rows, parallel: threads > 1 && p.rows > 1 && p.work >= PARALLEL_WORK }));
  const entry = e.beginFunction(ENTRY, e.void, [e.i8p], llvm.Function.LinkageTypes.ExternalLinkage);
  const bases = entryBases(e, entry.getArg(0), slots);
  const kernelType = llvm.PointerType.get(llvm.FunctionType.get(e.void, [e.i8p, e.i64, e.i64], false), 0);
  const flat = [...packers, ...plans.flatMap((p) => ('repeat' in p ? p.body : [p]))];
  if (parallelRuntime === 'openmp' && flat.some((p) => p.parallel)) e.microKernels.set('kiln_parallel', OPENMP_PARALLEL);
  const call = (p: KernelPlan): void => {
    if (p.parallel) {
      const parallel = e.external('kiln_parallel', e.void, [kernelType, e.i8p, e.i64, e.i64, e.i32]);
      e.b.CreateCall(parallel, [p.fn, bases, e.int64(p.rows), e.int64(chunkRows(p.rows, threads)), e.int32(threads)]);
    } else e.b.CreateCall(p.fn, [bases, e.int64(0), e.int64(p.rows)]);
  };
  if (packers.length) emitRepack(e, program, bases, () => packers.forEach(call));
  for (const p of plans) {
    if ('repeat' in p) emitRepeatLoop(e, program, p.repeat, bases, () => p.body.forEach(call));
    else call(p);
  }
  emitAdvance(e, program, bases);
  e.endFunction();
  linkMicroKernels(e);
  if (llvm.verifyModule(e.module)) throw new Error(`codegen/llvm: the module for '${program.name}' does not verify`);
  return e.module;
}
