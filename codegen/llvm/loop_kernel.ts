/**
 * Loop kernels (ir/kernel.ts LoopKernel) as LLVM functions
 * `void name(i8* bases, i64 lo, i64 hi)` over units [lo, hi): a unit is a
 * point of all outer dims but the last, and the last outer dim is a serial
 * loop inside it so that the innermost loop runs over contiguous memory. When
 * those points are too few to share across threads (a 1-d tensor, the rows
 * of a softmax at batch 128), units also cut the last outer dim into slices.
 */
import llvm from './llvm.js';
import type { DType } from '../../ir/dtype.js';
import { type Expr, type KernelProgram, type LoadExpr, type LoopKernel, exprChildren, mapExprChildren, mapStoreExprs } from '../../ir/kernel.js';
import type { ReduceOp } from '../../ir/scalar.js';
import { kernelAccess } from '../../passes/memory_plan.js';
import type { Emitter } from './context.js';
import { type Point, emitExpr, maskValid, storeElement, viewIndex } from './expr.js';
import { floatMinMax } from './scalar.js';
import { emitScatterKernel, isScatterKernel, scatterUnits } from './scatter.js';
import { emitColumnReduction, isColumnReduction } from './column_reduce.js';

type V = llvm.Value;

/** Units wanted for threads to balance; a slice of the last outer dim holds at least SLICE_POINTS points. */
const MIN_UNITS = 16;
const SLICE_POINTS = 512;
/**
 * Narrowest slice of a column reduction's columns: a cache line of float32.
 * Narrower slices make each unit read a few lanes of every row's line, so
 * the lines are fetched once per slice (a bias gradient over [N, 64] in 16
 * slices of 4 columns ran 7x slower than in 4 of 16).
 */
const COLUMN_SLICE = 16;

const product = (xs: readonly number[]): number => xs.reduce((p, q) => p * q, 1);

/** How many slices the last outer dim is cut into. */
export function lastDimSlices(k: LoopKernel): number {
  const rows = product(k.outer.slice(0, -1));
  const last = k.outer[k.outer.length - 1] ?? 1;
  if (rows >= MIN_UNITS) return 1;
  const byWork = Math.floor((last * product(k.inner)) / SLICE_POINTS);
  const widest = isColumnReduction(k) ? Math.floor(last / COLUMN_SLICE) : last;
  return Math.max(1, Math.min(Math.ceil(MIN_UNITS / rows), byWork, widest));
}

/** Units of parallel work of a loop kernel. */
export function rowsOf(k: LoopKernel): number {
  if (isScatterKernel(k)) return scatterUnits(k);
  return product(k.outer.slice(0, -1)) * lastDimSlices(k);
}

/**
 * Typed base pointers of every buffer a kernel touches, emitted in the
 * function's first block. `bases` points to two pointers: the program's arena
 * and the model's shared state arena.
 */
export function bufferPointers(e: Emitter, program: KernelProgram, bufs: Iterable<number>, bases: V): Map<number, V> {
  const ptrs = new Map<number, V>();
  const slots = e.b.CreateBitCast(bases, llvm.PointerType.get(e.i8p, 0));
  const base = (shared: boolean): V => e.b.CreateLoad(e.i8p, e.b.CreateInBoundsGEP(e.i8p, slots, [e.int64(shared ? 1 : 0)]));
  const arena = base(false);
  const sharedArena = [...bufs].some((id) => program.buffers[id].shared) ? base(true) : null;
  for (const id of bufs) {
    const buf = program.buffers[id];
    // A buffer that moves with a repeat's step: its slot holds the step's address (codegen/llvm/repeat.ts).
    const slot = e.stepSlots.get(id);
    if (slot !== undefined) ptrs.set(id, e.bufferPtr(e.b.CreateLoad(e.i8p, e.b.CreateInBoundsGEP(e.i8p, slots, [e.int64(slot)])), 0, buf.dtype));
    else ptrs.set(id, e.bufferPtr(buf.shared ? sharedArena! : arena, buf.offset, buf.dtype));
  }
  return ptrs;
}

/** Splits row index `r` into indices over `dims` (row-major). */
export function unflatten(e: Emitter, r: V, dims: readonly number[]): V[] {
  const out: V[] = [];
  let rest = r;
  for (let d = dims.length - 1; d >= 0; d--) {
    if (d === 0) {
      out.unshift(rest);
      break;
    }
    out.unshift(e.b.CreateURem(rest, e.int64(dims[d])));
    rest = e.b.CreateUDiv(rest, e.int64(dims[d]));
  }
  return out;
}

export function reduceInit(e: Emitter, op: ReduceOp, dtype: DType): V {
  if (op === 'sum') return e.constant(0, dtype);
  if (dtype === 'int32') return e.constant(op === 'max' ? -2147483648 : 2147483647, dtype);
  return e.constant(op === 'max' ? -Infinity : Infinity, dtype);
}

export function reduceStep(e: Emitter, op: ReduceOp, dtype: DType, acc: V, v: V): V {
  const float = dtype !== 'int32';
  if (op === 'sum') return float ? e.b.CreateFAdd(acc, v) : e.b.CreateAdd(acc, v);
  if (float) return floatMinMax(e, op === 'max', acc, v);
  return e.b.CreateSelect(op === 'max' ? e.b.CreateICmpSGT(v, acc) : e.b.CreateICmpSLT(v, acc), v, acc);
}

/** The dims a row's loops run over: the last outer dim and every inner dim. */
function rowVaryingDims(k: LoopKernel): number[] {
  return [...k.outer.keys()].slice(-1).concat([...k.inner.keys()].map((d) => k.outer.length + d));
}

/**
 * Loads that read one element for a whole row: stride 0 on the last outer
 * dim and every inner dim (a step counter, a scalar). Emitted once per row,
 * they leave the row's loops with no load that a store might alias, so the
 * loops vectorize (a dropout mask's Philox loop did not, for its counter).
 * Hoisting is sound because within a kernel no store overlaps a load of
 * another element (ir/kernel.ts; in-place updates read the element they write).
 */
function rowInvariantLoads(k: LoopKernel): Expr[] {
  const varying = rowVaryingDims(k);
  const invariant = (x: Expr): boolean => {
    if (x.k === 'load') return varying.every((d) => x.view.strides[d] === 0 && (x.mask?.bounds ?? []).every((b) => b.strides[d] === 0)) && (!x.dyn || invariant(x.dyn.expr));
    if (x.k === 'index' || x.k === 'random' || x.k === 'acc') return false;
    return exprChildren(x).every(invariant);
  };
  const seen = new Set<Expr>();
  const found: Expr[] = [];
  const visit = (x: Expr): void => {
    if (seen.has(x)) return;
    seen.add(x);
    if (x.k === 'load' && invariant(x)) found.push(x);
    else exprChildren(x).forEach(visit);
  };
  for (const r of k.reductions) visit(r.expr);
  for (const st of k.stores) visit(st.expr);
  return found;
}

/**
 * Masked loads whose bounds do not move along a row (stride 0 on the last
 * outer dim and every inner dim): each row of a padded copy lies wholly
 * inside the valid range or wholly in the padding. Left to select, every
 * element picks its index, and the row's loop ran scalar.
 */
function rowInvariantMasks(k: LoopKernel): Set<LoadExpr> {
  const varying = rowVaryingDims(k);
  const found = new Set<LoadExpr>();
  const visit = (x: Expr): void => {
    if (x.k === 'load' && x.mask && !x.dyn && x.mask.bounds.every((b) => varying.every((d) => b.strides[d] === 0))) found.add(x);
    exprChildren(x).forEach(visit);
  };
  for (const r of k.reductions) visit(r.expr);
  for (const st of k.stores) visit(st.expr);
  return found;
}

/** `k` with the masks of `loads` dropped (for rows where every one of them holds). */
function withoutMasks(k: LoopKernel, loads: ReadonlySet<LoadExpr>): LoopKernel {
  const strip = (x: Expr): Expr => (x.k === 'load' && loads.has(x) ? { ...x, mask: undefined } : mapExprChildren(x, strip));
  return { ...k, reductions: k.reductions.map((r) => ({ ...r, expr: strip(r.expr) })), stores: k.stores.map((st) => mapStoreExprs(st, strip)) };
}

export function emitLoopKernel(e: Emitter, program: KernelProgram, k: LoopKernel, name: string): llvm.Function {
  if (isScatterKernel(k)) return emitScatterKernel(e, program, k, name);
  if (isColumnReduction(k)) return emitColumnReduction(e, program, k, name);
  const fn = e.beginFunction(name, e.void, [e.i8p, e.i64, e.i64]);
  const [arena, lo, hi] = [fn.getArg(0), fn.getArg(1), fn.getArg(2)];
  const { reads, writes } = kernelAccess(k);
  const ptrs = bufferPointers(e, program, new Set([...reads, ...writes]), arena);
  const rowDims = k.outer.slice(0, -1);
  const masked = k.outer.length ? rowInvariantMasks(k) : new Set<LoadExpr>();
  const unmasked = masked.size ? withoutMasks(k, masked) : k;
  const invariants = [...rowInvariantLoads(k), ...(unmasked === k ? [] : rowInvariantLoads(unmasked))];
  let hoisted = new Map<Expr, V>();
  let rowStart: Point | null = null;
  const hoist = (rowIdx: V[]): void => {
    rowStart = { idx: [...rowIdx, ...(k.outer.length ? [e.int64(0)] : []), ...k.inner.map(() => e.int64(0))], accs: [], ptrs, memo: new Map<Expr, V>() };
    hoisted = new Map(invariants.map((x) => [x, emitExpr(e, x, rowStart!)]));
  };
  const point = (idx: V[], accs: V[]): Point => ({ idx, accs, ptrs, memo: new Map(hoisted) });
  /** The row's loop over the last outer dim: where the row-invariant masks all hold, a copy of it without them. */
  const rowLoop = (rowIdx: V[], from: V | number, to: V | number): void => {
    if (unmasked === k) return e.loop(from, to, (j) => body(k, [...rowIdx, j]), 'j');
    let valid: V = e.b.getTrue();
    for (const l of masked) valid = e.b.CreateAnd(valid, maskValid(e, l.mask!.bounds, rowStart!.idx));
    const [inside, padding, done] = [e.block('row.inside'), e.block('row.padding'), e.block('row.done')];
    e.b.CreateCondBr(valid, inside, padding);
    e.b.SetInsertPoint(inside);
    e.loop(from, to, (j) => body(unmasked, [...rowIdx, j]), 'ji');
    e.b.CreateBr(done);
    e.b.SetInsertPoint(padding);
    e.loop(from, to, (j) => body(k, [...rowIdx, j]), 'jp');
    e.b.CreateBr(done);
    e.b.SetInsertPoint(done);
  };
  const body = (k: LoopKernel, outerIdx: V[]): void => {
    const accs: V[] = [];
    for (const r of k.reductions) {
      const slot = e.alloca(e.typeOf(r.dtype), `acc${r.id}`);
      e.b.CreateStore(reduceInit(e, r.op, r.dtype), slot);
      e.loopNest(k.inner, (inner) => {
        const v = emitExpr(e, r.expr, point([...outerIdx, ...inner], accs));
        e.b.CreateStore(reduceStep(e, r.op, r.dtype, e.b.CreateLoad(e.typeOf(r.dtype), slot), v), slot);
      }, `r${r.id}_`);
      accs[r.id] = e.b.CreateLoad(e.typeOf(r.dtype), slot);
    }
    const zeros = k.inner.map(() => e.int64(0));
    const at = point([...outerIdx, ...zeros], accs);
    for (const s of k.stores.filter((x) => x.space === 'outer')) {
      storeElement(e, ptrs.get(s.buf)!, viewIndex(e, s.view, at.idx), program.buffers[s.buf].dtype, emitExpr(e, s.expr, at));
    }
    const full = k.stores.filter((x) => x.space === 'full');
    if (full.length === 0) return;
    e.loopNest(k.inner, (inner) => {
      const p = point([...outerIdx, ...inner], accs);
      for (const s of full) storeElement(e, ptrs.get(s.buf)!, viewIndex(e, s.view, p.idx), program.buffers[s.buf].dtype, emitExpr(e, s.expr, p));
    }, 'f');
  };
  const slices = lastDimSlices(k);
  const last = k.outer[k.outer.length - 1];
  const chunk = Math.ceil(last / slices);
  e.loop(lo, hi, (u) => {
    if (k.outer.length === 0) {
      hoist([]);
      return body(k, []);
    }
    if (slices === 1) {
      const rowIdx = unflatten(e, u, rowDims);
      hoist(rowIdx);
      return rowLoop(rowIdx, 0, last);
    }
    const rowIdx = unflatten(e, e.b.CreateUDiv(u, e.int64(slices)), rowDims);
    hoist(rowIdx);
    const from = e.b.CreateMul(e.b.CreateURem(u, e.int64(slices)), e.int64(chunk));
    const to = e.b.CreateAdd(from, e.int64(chunk));
    rowLoop(rowIdx, from, e.b.CreateSelect(e.b.CreateICmpSLT(to, e.int64(last)), to, e.int64(last)));
  }, 'unit');
  e.endFunction();
  return fn;
}
