/**
 * Pooling fused into the matmul before it (CPU): a convolution whose only
 * reader is a non-overlapping max (or min) pooling computes its rows in
 * pooling-window order and reduces each window while its tile is still in
 * cache (MatmulKernel.rowReduce), so the convolution's output is never
 * written and the pooling never reads it back (mnist_cnn: 18.9 MB each way
 * per predict at batch 128).
 *
 * Before: K = matmul over batch ++ M ++ [n] storing X; L = loop over outer ++
 * inner whose one reduction reads X (at one view V, plus anything else over
 * L's space, such as the bias and relu fusion moved there) and whose one
 * store is that reduction. After: one matmul whose M is L's outer dims less
 * the one that runs over K's columns, then L's inner dims (reduced by
 * rowReduce); its epilogue is L's reduction expression with each load of X
 * replaced by K's epilogue, every view re-expressed over the new space.
 *
 * V must reach K's output through an affine map (K's output view is a
 * bijection, so each stride of V splits into coordinates of K's space) that
 * visits every element at most once: overlapping windows (stride < pool size)
 * would compute convolution rows twice, and padded pooling (a mask) would
 * reduce over rows that do not exist. WebGPU's matmul emitter has no such
 * form, so the pass runs for the cpu backend only.
 */
import { type Expr, type Kernel, type LoopKernel, type MatmulKernel, type View, exprChildren, mapExprViews, visitLoads } from '../ir/kernel.js';
import type { LoweredProgram } from './lower.js';
import { kernelAccess } from './memory_plan.js';
import type { PassContext } from './pipeline.js';

/** Most rows one output row reduces: a group must fit in the CPU matmul's row block (144 rows). */
export const ROW_GROUP_MAX = 64;

export function poolEpilogue(p: LoweredProgram, ctx: PassContext): LoweredProgram {
  if (ctx.backend !== 'cpu') return p;
  const kernels: Kernel[] = [...p.kernels];
  let changed = false;
  for (let i = 0; i < kernels.length; i++) {
    const k = kernels[i];
    if (k.kind !== 'matmul') continue;
    const j = onlyReader(p, kernels, i);
    if (j === null) continue;
    const l = kernels[j];
    if (l.kind !== 'loop' || !undisturbed(kernels, i, j)) continue;
    const fused = fusePool(k, l);
    if (!fused) continue;
    // At L's place: everything L reads besides X is ready there, and nothing in between wrote what K reads.
    kernels[j] = fused;
    kernels.splice(i, 1);
    i--;
    changed = true;
  }
  return changed ? { ...p, kernels } : p;
}

/** The index of the one kernel after `i` that reads what kernel i writes, when it is a temp nothing else touches. */
function onlyReader(p: LoweredProgram, kernels: readonly Kernel[], i: number): number | null {
  const k = kernels[i] as MatmulKernel;
  const x = k.out.buf;
  const buf = p.buffers[x];
  if (buf.role !== 'temp' || buf.alias || p.buffers.some((b) => b.alias?.of === x)) return null;
  let reader: number | null = null;
  for (const [j, other] of kernels.entries()) {
    if (j === i) continue;
    const { reads, writes } = kernelAccess(other);
    if (writes.has(x)) return null;
    if (!reads.has(x)) continue;
    if (reader !== null || j < i) return null;
    reader = j;
  }
  return reader;
}

/** Whether no kernel between i and j writes a buffer that kernel i or j reads. */
function undisturbed(kernels: readonly Kernel[], i: number, j: number): boolean {
  const read = new Set([...kernelAccess(kernels[i]).reads, ...kernelAccess(kernels[j]).reads]);
  return kernels.slice(i + 1, j).every((k) => ![...kernelAccess(k).writes].some((b) => read.has(b)));
}

/** An affine map from a space of `dims` to coordinates: coordinate c = offset[c] + sum_d rows[c][d] * point[d]. */
interface Affine {
  readonly offset: readonly number[];
  readonly rows: readonly (readonly number[])[];
}

function fusePool(k: MatmulKernel, l: LoopKernel): MatmulKernel | null {
  if (k.rowReduce || k.batch.length || l.reductions.length !== 1 || l.stores.length !== 1 || !l.inner.length) return null;
  const [r] = l.reductions;
  const [s] = l.stores;
  if (r.op === 'sum' || s.space !== 'outer' || s.scatter || s.expr.k !== 'acc' || s.expr.id !== r.id) return null;
  if (containsAcc(r.expr)) return null;
  const x = k.out.buf;
  const views: View[] = [];
  let plain = true;
  visitLoads(r.expr, (load) => {
    if (load.buf !== x) return;
    if (load.mask || load.dyn) plain = false;
    views.push(load.view);
  });
  if (!plain || !views.length || views.some((v) => !sameView(v, views[0]))) return null;
  const space = [...l.outer, ...l.inner];
  const mDims = k.mDims ?? [k.m];
  const outSpace = [...mDims, k.n];
  const map = decompose(views[0], k.out.view, outSpace, space);
  if (!map || !injective(views[0], space)) return null;
  // The dim of L's outer that runs over K's columns, whole and alone.
  const nc = outSpace.length - 1;
  const columns = l.outer.findIndex((ext, d) => map.rows[nc][d] === 1 && ext === k.n);
  if (columns < 0 || map.offset[nc] !== 0) return null;
  if (space.some((ext, d) => ext > 1 && d !== columns && map.rows[nc][d] !== 0)) return null;
  if (mDims.some((_, c) => map.rows[c][columns] !== 0)) return null;
  // The new space: L's outer less `columns`, L's inner, then `columns` (batch ++ M ++ [n] of the fused matmul).
  const order = [...l.outer.keys()].filter((d) => d !== columns).concat(l.inner.map((_, t) => l.outer.length + t), [columns]);
  const group = l.inner.reduce((a, b) => a * b, 1);
  if (group > ROW_GROUP_MAX) return null;
  const fromL = (v: View): View => ({ offset: v.offset, strides: order.map((d) => v.strides[d]) });
  const fromK = (v: View): View => compose(v, map, order);
  const newM = order.slice(0, -1).map((d) => space[d]);
  const epilogue = mapExprViews(r.expr, fromL, (load) => (load.buf === x ? mapExprViews(k.epilogue, fromK) : null));
  // A over M ++ K: its M coordinates through the map (its K strides unchanged).
  const aMap = (v: View): View => {
    const m = mDims.length;
    const composed = compose({ offset: v.offset, strides: [...v.strides.slice(0, m), 0] }, map, order.slice(0, -1));
    return { offset: composed.offset, strides: [...composed.strides, ...v.strides.slice(m)] };
  };
  const a = { ...k.a, view: aMap(k.a.view), ...(k.a.mask ? { mask: { ...k.a.mask, bounds: k.a.mask.bounds.map((b) => ({ ...b, ...aMap(b) })) } } : {}) };
  const outer = order.slice(0, order.length - 1 - l.inner.length);
  return {
    ...k,
    name: `${k.name}_${l.name.slice(l.name.lastIndexOf('_') + 1)}`,
    m: newM.reduce((p, q) => p * q, 1),
    mDims: newM,
    a,
    epilogue,
    rowReduce: { dims: l.inner.length, op: r.op },
    out: { buf: s.buf, view: { offset: s.view.offset, strides: [...outer.map((d) => s.view.strides[d]), s.view.strides[columns]] } },
  };
}

function containsAcc(e: Expr): boolean {
  return e.k === 'acc' || exprChildren(e).some(containsAcc);
}

function sameView(a: View, b: View): boolean {
  return a.offset === b.offset && a.strides.every((s, d) => s === b.strides[d]);
}

/**
 * The coordinates of `out`'s space that `view` (over `space`) reaches, as an
 * affine map: null unless `out` is a bijection onto its elements (its dims,
 * ordered by stride, row-major) and every point of `space` lands inside.
 */
function decompose(view: View, out: View, outSpace: readonly number[], space: readonly number[]): Affine | null {
  const dims = outSpace.map((_, c) => c).filter((c) => outSpace[c] > 1).sort((a, b) => out.strides[b] - out.strides[a]);
  let expected = 1;
  for (const c of [...dims].reverse()) {
    if (out.strides[c] !== expected) return null;
    expected *= outSpace[c];
  }
  const split = (value: number): number[] | null => {
    const coords = outSpace.map(() => 0);
    let rest = value;
    for (const c of dims) {
      coords[c] = Math.floor(rest / out.strides[c]);
      rest -= coords[c] * out.strides[c];
    }
    return rest === 0 ? coords : null;
  };
  const offset = split(view.offset - out.offset);
  if (!offset) return null;
  const cols: number[][] = [];
  for (const [d, ext] of space.entries()) {
    const c = ext > 1 ? split(view.strides[d]) : outSpace.map(() => 0);
    if (!c || view.strides[d] < 0) return null;
    cols.push(c);
  }
  const rows = outSpace.map((_, c) => space.map((__, d) => cols[d][c]));
  const inside = outSpace.every((n, c) => offset[c] >= 0 && offset[c] + rows[c].reduce((sum, st, d) => sum + st * (space[d] - 1), 0) < n);
  return inside ? { offset, rows } : null;
}

/** Whether `view` visits each element at most once over `space`: sorted by stride, each clears all smaller dims' reach. */
function injective(view: View, space: readonly number[]): boolean {
  const dims = space.map((_, d) => d).filter((d) => space[d] > 1).sort((a, b) => view.strides[a] - view.strides[b]);
  let reach = 0;
  for (const d of dims) {
    if (view.strides[d] <= reach) return false;
    reach += view.strides[d] * (space[d] - 1);
  }
  return true;
}

/** A view over `map`'s coordinates re-expressed over the new space (dim t of it is dim order[t] of the map's space). */
function compose(v: View, map: Affine, order: readonly number[]): View {
  return {
    offset: v.offset + map.offset.reduce((sum, o, c) => sum + o * v.strides[c], 0),
    strides: order.map((d) => map.rows.reduce((sum, row, c) => sum + row[d] * v.strides[c], 0)),
  };
}
