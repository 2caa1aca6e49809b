/**
 * Contractions: a loop kernel that sums the product of two loads over its
 * inner dims is a (batched) matmul, and becomes a MatmulKernel so that it
 * runs on the packed micro-kernel. Outer dims that both operands read are
 * batch dims; dims only one operand reads are that operand's rows (M) or
 * columns (n; several merge into one when every view walks them row-major);
 * the inner dims are the contraction (K). A masked operand (a convolution's
 * padded windows) stays masked: the micro-kernel's packing gathers it, so a
 * convolution is an implicit GEMM and no im2col tensor exists. Kernels the
 * micro-kernel would waste work on (few columns, a short contraction) stay
 * loops.
 */
import { type Expr, type Kernel, type KernelProgram, type LoadExpr, type LoopKernel, type Mask, type MatmulKernel, type View, mapExprChildren } from '../ir/kernel.js';

/** Narrower or shallower products run better as loops (the micro-kernel pads columns to 16-32). */
const MIN_N = 8;
const MIN_K = 8;
const MIN_M = 16;
/** Down to 4 rows (one 4-row tile) when the contraction is this deep: a convolution's kernel gradient over one input channel (9 rows, depth batch x positions). */
const MIN_M_DEEP = 4;
const DEEP_K = 4096;

type Role = 'batch' | 'm' | 'n';

const reads = (l: LoadExpr, d: number): boolean => l.view.strides[d] !== 0 || !!l.mask?.bounds.some((b) => b.strides[d] !== 0);

/** Strides over the loop space re-expressed over [...pick, merged]: `merge` dims fold into one when row-major. */
function reindex(strides: readonly number[], pick: readonly number[], merge: readonly number[], extents: readonly number[]): number[] | null {
  for (let i = 0; i + 1 < merge.length; i++) {
    if (strides[merge[i]] !== strides[merge[i + 1]] * extents[merge[i + 1]]) return null;
  }
  return [...pick.map((d) => strides[d]), ...(merge.length ? [strides[merge[merge.length - 1]]] : [])];
}

function reindexView(v: View, pick: readonly number[], merge: readonly number[], extents: readonly number[]): View | null {
  const strides = reindex(v.strides, pick, merge, extents);
  return strides ? { offset: v.offset, strides } : null;
}

function reindexMask(m: Mask | undefined, pick: readonly number[], merge: readonly number[], extents: readonly number[]): Mask | undefined | null {
  if (!m) return undefined;
  const bounds = m.bounds.map((b) => {
    const strides = reindex(b.strides, pick, merge, extents);
    return strides ? { ...b, strides } : null;
  });
  return bounds.every((b) => b !== null) ? { fill: m.fill, bounds: bounds as Mask['bounds'] } : null;
}

/** An epilogue expression re-expressed over batch ++ M ++ [n]; null when a view does not merge its n dims. */
function reindexExpr(e: Expr, pick: readonly number[], merge: readonly number[], extents: readonly number[]): Expr | null {
  let ok = true;
  const walk = (x: Expr): Expr => {
    const inner = mapExprChildren(x, walk);
    switch (inner.k) {
      case 'load': {
        const view = reindexView(inner.view, pick, merge, extents);
        const mask = reindexMask(inner.mask, pick, merge, extents);
        if (!view || mask === null) ok = false;
        return view && mask !== null ? { ...inner, view, ...(mask ? { mask } : {}) } : inner;
      }
      case 'index': case 'random': {
        const view = reindexView(inner.view, pick, merge, extents);
        if (!view) ok = false;
        return view ? { ...inner, view } : inner;
      }
      case 'const': case 'acc': case 'unary': case 'binary': case 'select': case 'cast': return inner;
    }
  };
  const out = walk(e);
  return ok ? out : null;
}

/** The matmul form of `k` with `a` as the row operand, or null when it does not fit. */
function asMatmul(k: LoopKernel, a: LoadExpr, b: LoadExpr): MatmulKernel | null {
  const outer = k.outer.map((_, d) => d);
  const inner = k.inner.map((_, i) => k.outer.length + i);
  const extents = [...k.outer, ...k.inner];
  const role = (d: number): Role => (reads(a, d) && reads(b, d) ? 'batch' : reads(b, d) && k.outer[d] > 1 ? 'n' : 'm');
  const [batch, m, n] = (['batch', 'm', 'n'] as const).map((r) => outer.filter((d) => role(d) === r));
  const product = (ds: readonly number[]): number => ds.reduce((p, d) => p * extents[d], 1);
  if (product(n) < MIN_N || product(inner) < MIN_K || product(m) < (product(inner) >= DEEP_K ? MIN_M_DEEP : MIN_M)) return null;
  const [store] = k.stores;
  const aView = reindexView(a.view, [...batch, ...m, ...inner], [], extents);
  const aMask = reindexMask(a.mask, [...batch, ...m, ...inner], [], extents);
  const bView = reindexView(b.view, [...batch, ...inner], n, extents);
  const bMask = reindexMask(b.mask, [...batch, ...inner], n, extents);
  const outView = reindexView(store.view, [...batch, ...m], n, extents);
  const epilogue = reindexExpr(store.expr, [...batch, ...m], n, extents);
  if (!aView || !bView || !outView || !epilogue || aMask === null || bMask === null) return null;
  if ((aMask && aMask.fill !== 0) || (bMask && bMask.fill !== 0)) return null;
  const mDims = m.map((d) => extents[d]);
  const kDims = inner.map((d) => extents[d]);
  return {
    kind: 'matmul', name: k.name, batch: batch.map((d) => extents[d]), m: product(m), n: product(n), k: product(inner),
    ...(mDims.length !== 1 ? { mDims } : {}), ...(kDims.length !== 1 ? { kDims } : {}), dtype: a.dtype,
    a: { buf: a.buf, view: aView, ...(aMask ? { mask: aMask } : {}) },
    b: { buf: b.buf, view: bView, ...(bMask ? { mask: bMask } : {}) },
    epilogue, out: { buf: store.buf, view: outView },
  };
}

/** A loop kernel of the form store(epilogue(sum over inner of a * b)), as a matmul; else the kernel itself. */
export function contractKernel(k: Kernel): Kernel {
  // A loop body's kernels too: ConvLSTM2D's recurrent convolution runs once per step.
  if (k.kind === 'repeat') return { ...k, body: k.body.map((b) => contractKernel(b) as LoopKernel | MatmulKernel) };
  if (k.kind !== 'loop' || k.reductions.length !== 1 || k.stores.length !== 1 || k.stores[0].space !== 'outer') return k;
  const [r] = k.reductions;
  const e = r.expr;
  if (r.op !== 'sum' || (r.dtype !== 'float32' && r.dtype !== 'float64') || e.k !== 'binary' || e.op !== 'mul') return k;
  const [x, y] = [e.a, e.b];
  if (x.k !== 'load' || y.k !== 'load' || x.dyn || y.dyn || x.dtype !== r.dtype || y.dtype !== r.dtype) return k;
  return asMatmul(k, x, y) ?? asMatmul(k, y, x) ?? k;
}

export function contractions<P extends KernelProgram>(program: P): P {
  return { ...program, kernels: program.kernels.map(contractKernel) };
}
