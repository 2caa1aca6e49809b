/**
 * Kernel-IR expressions to LLVM values at one point of a kernel's iteration
 * space. Shared subexpressions (the same Expr object) are emitted once per
 * loop body through `memo`.
 */
import llvm from './llvm.js';
import type { DType } from '../../ir/dtype.js';
import { type Bound, type DynIndex, type Expr, type Mask, type View, exprDType } from '../../ir/kernel.js';
import type { Emitter } from './context.js';
import { BINARY, UNARY, floatToInt32 } from './scalar.js';

type V = llvm.Value;

export interface Point {
  /** i64 index per dim of the iteration space. */
  readonly idx: readonly V[];
  /** Values of the reductions (or matmul accumulator) available here. */
  readonly accs: readonly V[];
  /** Typed base pointer of each buffer. */
  readonly ptrs: ReadonlyMap<number, V>;
  readonly memo: Map<Expr, V>;
}

export function viewIndex(e: Emitter, view: View, idx: readonly V[]): V {
  let sum: V = e.int64(view.offset);
  view.strides.forEach((s, d) => {
    if (s === 0) return;
    sum = e.b.CreateAdd(sum, s === 1 ? idx[d] : e.b.CreateMul(idx[d], e.int64(s)));
  });
  return sum;
}

/** i1: every bound's coordinate lies in [0, size) (one unsigned compare each). */
export function maskValid(e: Emitter, bounds: readonly Bound[], idx: readonly V[]): V {
  let valid: V = e.b.getTrue();
  for (const b of bounds) {
    const c = viewIndex(e, { offset: b.offset, strides: b.strides }, idx);
    valid = e.b.CreateAnd(valid, e.b.CreateICmpULT(c, e.int64(b.size)));
  }
  return valid;
}

/** A load at `index`, or, with a mask, branch-free: an invalid point reads element 0 (always inside the arena) and selects the fill. */
export function maskedLoad(e: Emitter, ptr: V, index: V, mask: Mask | undefined, idx: readonly V[], dtype: DType): V {
  if (!mask) return loadElement(e, ptr, index, dtype);
  const valid = maskValid(e, mask.bounds, idx);
  return e.b.CreateSelect(valid, loadElement(e, ptr, e.b.CreateSelect(valid, index, e.int64(0)), dtype), e.constant(mask.fill, dtype));
}

export function loadElement(e: Emitter, ptr: V, index: V, dtype: DType): V {
  const p = e.b.CreateInBoundsGEP(e.memTypeOf(dtype), ptr, [index]);
  const v = e.b.CreateLoad(e.memTypeOf(dtype), p);
  return dtype === 'bool' ? e.b.CreateICmpNE(v, e.b.getInt8(0)) : v;
}

export function storeElement(e: Emitter, ptr: V, index: V, dtype: DType, value: V): void {
  const p = e.b.CreateInBoundsGEP(e.memTypeOf(dtype), ptr, [index]);
  e.b.CreateStore(dtype === 'bool' ? e.b.CreateZExt(value, e.i8) : value, p);
}

const PHILOX_M0 = 0xd2511f53;
const PHILOX_M1 = 0xcd9e8d57;
const PHILOX_W0 = 0x9e3779b9;
const PHILOX_W1 = 0xbb67ae85;

/** Philox4x32-10 first output word for counter (c0, c1, 0, 0) and key (seed, 0), as float32 in [0, 1). */
function philox(e: Emitter, seed: number, c0in: V, c1in: V): V {
  const b = e.b;
  const u32 = (n: number): V => llvm.ConstantInt.get(e.i32, n >>> 0, false);
  const mulHiLo = (m: number, x: V): [V, V] => {
    const p = b.CreateMul(llvm.ConstantInt.get(e.i64, m, false), b.CreateZExt(x, e.i64));
    return [b.CreateTrunc(b.CreateLShr(p, e.int64(32)), e.i32), b.CreateTrunc(p, e.i32)];
  };
  let [c0, c1, c2, c3] = [c0in, c1in, u32(0), u32(0)];
  let [k0, k1] = [seed >>> 0, 0];
  for (let round = 0; round < 10; round++) {
    const [hi0, lo0] = mulHiLo(PHILOX_M0, c0);
    const [hi1, lo1] = mulHiLo(PHILOX_M1, c2);
    [c0, c1, c2, c3] = [b.CreateXor(b.CreateXor(hi1, c1), u32(k0)), lo1, b.CreateXor(b.CreateXor(hi0, c3), u32(k1)), lo0];
    k0 = (k0 + PHILOX_W0) >>> 0;
    k1 = (k1 + PHILOX_W1) >>> 0;
  }
  return b.CreateFMul(b.CreateUIToFP(b.CreateLShr(c0, u32(8)), e.f32), llvm.ConstantFP.get(e.f32, 2 ** -24));
}

function cast(e: Emitter, x: V, from: DType, to: DType): V {
  const b = e.b;
  if (from === to) return x;
  const fromFloat = from === 'float32' || from === 'float64';
  if (to === 'bool') return fromFloat ? b.CreateFCmpUNE(x, e.constant(0, from)) : b.CreateICmpNE(x, e.constant(0, from));
  if (from === 'bool') return to === 'int32' ? b.CreateZExt(x, e.i32) : b.CreateUIToFP(x, e.typeOf(to));
  if (to === 'int32') return floatToInt32(e, x, e.typeOf(from));
  if (from === 'int32') return b.CreateSIToFP(x, e.typeOf(to));
  return to === 'float64' ? b.CreateFPExt(x, e.f64) : b.CreateFPTrunc(x, e.f32);
}

/** i64 element offset of a gather or scatter: clamp(index, 0, limit - 1) * stride. */
export function dynOffset(e: Emitter, dyn: DynIndex, at: Point): V {
  const raw = cast(e, emitExpr(e, dyn.expr, at), exprDType(dyn.expr), 'int32');
  const clamped = e.b.CreateSelect(e.b.CreateICmpSLT(raw, e.int32(0)), e.int32(0), e.b.CreateSelect(e.b.CreateICmpSGT(raw, e.int32(dyn.limit - 1)), e.int32(dyn.limit - 1), raw));
  return e.b.CreateMul(e.b.CreateSExt(clamped, e.i64), e.int64(dyn.stride));
}

export function emitExpr(e: Emitter, expr: Expr, at: Point): V {
  const hit = at.memo.get(expr);
  if (hit) return hit;
  const go = (x: Expr): V => emitExpr(e, x, at);
  let v: V;
  switch (expr.k) {
    case 'load': {
      let index = viewIndex(e, expr.view, at.idx);
      if (expr.dyn) index = e.b.CreateAdd(index, dynOffset(e, expr.dyn, at));
      v = maskedLoad(e, at.ptrs.get(expr.buf)!, index, expr.mask, at.idx, expr.dtype);
      break;
    }
    case 'index': v = e.b.CreateTrunc(viewIndex(e, expr.view, at.idx), e.i32); break;
    case 'random': v = philox(e, expr.seed, e.b.CreateTrunc(viewIndex(e, expr.view, at.idx), e.i32), cast(e, go(expr.counter), exprDType(expr.counter), 'int32')); break;
    case 'const': v = e.constant(expr.value, expr.dtype); break;
    case 'acc': v = at.accs[expr.id]; break;
    case 'unary': v = UNARY[expr.op](e, go(expr.a), expr.dtype); break;
    case 'binary': v = BINARY[expr.op](e, go(expr.a), go(expr.b), exprDType(expr.a)); break;
    case 'select': v = e.b.CreateSelect(go(expr.cond), go(expr.a), go(expr.b)); break;
    case 'cast': v = cast(e, go(expr.a), exprDType(expr.a), expr.dtype); break;
  }
  at.memo.set(expr, v);
  return v;
}
