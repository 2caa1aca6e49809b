/**
 * Loop kernels with a scatter store (ir/kernel.ts, verifier K9) as LLVM
 * functions over units [lo, hi). A unit is a point of the outer dims but the
 * last, times a slice of the last outer dim (a run of a row's elements);
 * it walks the inner dims (the updates) in order and, for each, adds the
 * slice's contiguous elements into the indexed row. Distinct units touch
 * distinct elements (K9), so units run on any threads with no atomics, and
 * each element's sum runs in index order as in the interpreters. Unlike a
 * plain loop kernel, the inner dims are outside the slice's loop: each
 * update row is read once, contiguously.
 */
import llvm from './llvm.js';
import { type Expr, type KernelProgram, type LoopKernel, exprChildren } from '../../ir/kernel.js';
import { kernelAccess } from '../../passes/memory_plan.js';
import type { Emitter } from './context.js';
import { type Point, dynOffset, emitExpr, loadElement, storeElement, viewIndex } from './expr.js';
import { bufferPointers, unflatten } from './loop_kernel.js';

type V = llvm.Value;

/** Units wanted for threads to balance; a slice holds at least a cache line of float32 elements. */
const MIN_UNITS = 16;
const SLICE_ELEMENTS = 16;

const product = (xs: readonly number[]): number => xs.reduce((p, q) => p * q, 1);

export function isScatterKernel(k: LoopKernel): boolean {
  return k.stores.some((s) => s.scatter);
}

function slicesOf(k: LoopKernel): number {
  const rows = product(k.outer.slice(0, -1));
  const last = k.outer[k.outer.length - 1] ?? 1;
  if (rows >= MIN_UNITS) return 1;
  return Math.max(1, Math.min(Math.ceil(MIN_UNITS / rows), Math.floor(last / SLICE_ELEMENTS)));
}

/** Units of parallel work of a scatter kernel. */
export function scatterUnits(k: LoopKernel): number {
  return product(k.outer.slice(0, -1)) * slicesOf(k);
}

/** Whether `x` reads anything that moves along dim `d` (so it cannot be hoisted out of that dim's loop). */
function variesAlong(x: Expr, d: number): boolean {
  switch (x.k) {
    case 'load': return x.view.strides[d] !== 0 || (x.dyn ? variesAlong(x.dyn.expr, d) : false);
    case 'index': case 'random': return x.view.strides[d] !== 0 || (x.k === 'random' && variesAlong(x.counter, d));
    case 'acc': return true;
    case 'const': case 'unary': case 'binary': case 'select': case 'cast': return exprChildren(x).some((c) => variesAlong(c, d));
  }
}

export function emitScatterKernel(e: Emitter, program: KernelProgram, k: LoopKernel, name: string): llvm.Function {
  const [store] = k.stores;
  const scatter = store.scatter!;
  const fn = e.beginFunction(name, e.void, [e.i8p, e.i64, e.i64]);
  const [bases, lo, hi] = [fn.getArg(0), fn.getArg(1), fn.getArg(2)];
  const { reads, writes } = kernelAccess(k);
  const ptrs = bufferPointers(e, program, new Set([...reads, ...writes]), bases);
  const dtype = program.buffers[store.buf].dtype;
  const out = ptrs.get(store.buf)!;
  const lastDim = k.outer.length - 1;
  const slices = slicesOf(k);
  const last = k.outer[lastDim] ?? 1;
  const chunk = Math.ceil(last / slices);
  // The row offset is computed once per update when the index does not move along the slice (the usual case).
  const hoistIndex = lastDim >= 0 && !variesAlong(scatter.expr, lastDim);
  e.loop(lo, hi, (u) => {
    const rowIdx = unflatten(e, e.b.CreateUDiv(u, e.int64(slices)), k.outer.slice(0, -1));
    const from = e.b.CreateMul(e.b.CreateURem(u, e.int64(slices)), e.int64(chunk));
    const to = e.b.CreateAdd(from, e.int64(chunk));
    const end = e.b.CreateSelect(e.b.CreateICmpSLT(to, e.int64(last)), to, e.int64(last));
    e.loopNest(k.inner, (inner) => {
      const at = (j: V): Point => ({ idx: [...rowIdx, ...(lastDim >= 0 ? [j] : []), ...inner], accs: [], ptrs, memo: new Map<Expr, V>() });
      const rowOffset = hoistIndex ? dynOffset(e, scatter, at(from)) : null;
      const add = (j: V): void => {
        const p = at(j);
        const index = e.b.CreateAdd(viewIndex(e, store.view, p.idx), rowOffset ?? dynOffset(e, scatter, p));
        const sum = e.b.CreateFAdd(loadElement(e, out, index, dtype), emitExpr(e, store.expr, p));
        storeElement(e, out, index, dtype, sum);
      };
      if (lastDim < 0) add(e.int64(0));
      else e.loop(from, end, add, 'j');
    }, 's');
  }, 'unit');
  e.endFunction();
  return fn;
}
