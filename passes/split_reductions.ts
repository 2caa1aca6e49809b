/**
 * Long reductions over few outer points split in two kernels (CPU): a bias
 * gradient sums [N, C] down its N rows into C values, and its C outer points
 * are too few to share between threads, so the code generator cut the
 * columns into slices, each reading every row's cache lines (mnist_cnn's
 * [73728, 64]: 4 slices read 75 MB to sum 18.9 MB). Split, the first kernel
 * reduces U row ranges into a [U, ...outer] temporary (U outer points more:
 * the ranges run in parallel, each reading its rows once) and the second
 * reduces the U partial results and stores as the original did.
 *
 * The ranges are fixed by the shape (never by the thread count), so results
 * do not depend on the threads; a sum adds in another order than the
 * unsplit kernel (max and min are exact).
 */
import { type BufferDecl, type Expr, type Kernel, type LoopKernel, type Reduction, type Store, type View, exprChildren, mapExprViews, mapStoreExprs } from '../ir/kernel.js';
import { stridesOf } from '../ir/dtype.js';
import type { LoweredProgram } from './lower.js';
import type { PassContext } from './pipeline.js';

/**
 * Outer points below which a reduction is split: the code generator cuts a
 * column reduction's columns into slices of at least 16, so 64 columns make
 * 4 units at most, each reading all rows.
 */
const FEW_OUTER = 256;
/** Fewest reduced points per outer point worth a second kernel. */
const LONG_INNER = 16384;
/** Most row ranges (the first inner dim is cut into the largest divisor of its extent up to this). */
const MAX_PARTS = 8;

const product = (xs: readonly number[]): number => xs.reduce((p, q) => p * q, 1);

export function splitReductions(p: LoweredProgram, ctx: PassContext): LoweredProgram {
  if (ctx.backend !== 'cpu') return p;
  const buffers: BufferDecl[] = [...p.buffers];
  const kernels = p.kernels.flatMap((k): Kernel[] => {
    if (k.kind !== 'loop') return [k];
    const parts = partsOf(k);
    return parts ? split(k, parts, buffers) : [k];
  });
  return buffers.length === p.buffers.length ? p : { ...p, buffers, kernels };
}

/** How many row ranges `k` splits into; null when it stays whole. */
function partsOf(k: LoopKernel): number | null {
  if (!k.reductions.length || !k.inner.length || product(k.outer) >= FEW_OUTER || product(k.inner) < LONG_INNER) return null;
  if (k.stores.some((s) => s.space !== 'outer' || s.scatter) || k.reductions.some((r) => readsAcc(r.expr))) return null;
  for (let u = MAX_PARTS; u >= 2; u--) if (k.inner[0] % u === 0) return u;
  return null;
}

function readsAcc(e: Expr): boolean {
  return e.k === 'acc' || exprChildren(e).some(readsAcc);
}

function split(k: LoopKernel, parts: number, buffers: BufferDecl[]): [LoopKernel, LoopKernel] {
  const nOuter = k.outer.length;
  const rows = k.inner[0] / parts;
  // The partial kernel's space: [part] ++ outer ++ [rows of a part] ++ the other inner dims.
  const toPartial = (v: View): View => ({ offset: v.offset, strides: [v.strides[nOuter] * rows, ...v.strides] });
  const outerStrides = stridesOf(k.outer);
  const partials = k.reductions.map((r) => {
    const id = buffers.length;
    buffers.push({ id, name: `${k.name}:partial${r.id}`, role: 'temp', dtype: r.dtype, size: parts * product(k.outer), shape: [parts, ...k.outer], offset: -1 });
    return id;
  });
  const partial: LoopKernel = {
    kind: 'loop',
    name: `${k.name}_part`,
    outer: [parts, ...k.outer],
    inner: [rows, ...k.inner.slice(1)],
    reductions: k.reductions.map((r): Reduction => ({ ...r, expr: mapExprViews(r.expr, toPartial) })),
    stores: k.reductions.map((r, i): Store => ({
      buf: partials[i],
      view: { offset: 0, strides: [product(k.outer), ...outerStrides, ...k.inner.map(() => 0)] },
      expr: { k: 'acc', id: r.id, dtype: r.dtype },
      space: 'outer',
    })),
  };
  // The final kernel's space: outer ++ [part]; its stores read at inner 0, as the original's did.
  const toFinal = (v: View): View => ({ offset: v.offset, strides: [...v.strides.slice(0, nOuter), 0] });
  const final: LoopKernel = {
    kind: 'loop',
    name: k.name,
    outer: k.outer,
    inner: [parts],
    reductions: k.reductions.map((r, i): Reduction => ({
      ...r,
      expr: { k: 'load', buf: partials[i], view: { offset: 0, strides: [...outerStrides, product(k.outer)] }, dtype: r.dtype },
    })),
    stores: k.stores.map((s) => ({ ...mapStoreExprs(s, (e) => mapExprViews(e, toFinal)), view: toFinal(s.view) })),
  };
  return [partial, final];
}
