/**
 * Matmul kernels: C = epilogue(A @ B) over rows of (batch, m). This is the
 * straightforward form, correct for any strides; the packed, register-tiled
 * micro-kernel path replaces it where the shapes allow.
 */
import llvm from 'llvm-bindings';
import type { Expr, KernelProgram, MatmulKernel } from '../../ir/kernel.js';
import { kernelAccess } from '../../passes/memory_plan.js';
import type { Emitter } from './context.js';
import { emitExpr, loadElement, storeElement, viewIndex } from './expr.js';
import { bufferPointers, unflatten } from './loop_kernel.js';

type V = llvm.Value;

export function matmulRows(k: MatmulKernel): number {
  return k.batch.reduce((p, q) => p * q, 1) * k.m;
}

export function emitMatmulKernel(e: Emitter, program: KernelProgram, k: MatmulKernel, name: string): llvm.Function {
  const fn = e.beginFunction(name, e.void, [e.i8p, e.i64, e.i64]);
  const [arena, lo, hi] = [fn.getArg(0), fn.getArg(1), fn.getArg(2)];
  const { reads, writes } = kernelAccess(k);
  const ptrs = bufferPointers(e, program, new Set([...reads, ...writes]), arena);
  const ty = e.typeOf(k.dtype);
  const fma = e.intrinsic(llvm.Intrinsic.fmuladd, [ty]);
  e.loop(lo, hi, (r) => {
    const [...rowIdx] = unflatten(e, r, [...k.batch, k.m]);
    const batch = rowIdx.slice(0, -1);
    const i = rowIdx[rowIdx.length - 1];
    e.loop(0, k.n, (j) => {
      const slot = e.alloca(ty, 'sum');
      e.b.CreateStore(e.constant(0, k.dtype), slot);
      e.loop(0, k.k, (p) => {
        const a = loadElement(e, ptrs.get(k.a.buf)!, viewIndex(e, k.a.view, [...batch, i, p]), k.dtype);
        const bv = loadElement(e, ptrs.get(k.b.buf)!, viewIndex(e, k.b.view, [...batch, p, j]), k.dtype);
        e.b.CreateStore(e.b.CreateCall(fma, [a, bv, e.b.CreateLoad(ty, slot)]), slot);
      }, 'p');
      const idx = [...batch, i, j];
      const v = emitExpr(e, k.epilogue, { idx, accs: [e.b.CreateLoad(ty, slot)], ptrs, memo: new Map<Expr, V>() });
      storeElement(e, ptrs.get(k.out.buf)!, viewIndex(e, k.out.view, idx), program.buffers[k.out.buf].dtype, v);
    }, 'j');
  }, 'row');
  e.endFunction();
  return fn;
}
