/**
 * Kernel IR: the loop-level program that fusion groups are lowered to and that
 * every code generator consumes. A program is a list of kernels over one arena
 * of buffers; all sizes are static (a program is compiled for one batch size).
 *
 * Addressing: a kernel has an iteration space (`LoopKernel`: outer ++ inner
 * dims; `MatmulKernel`: batch ++ [m, n]). A `View` maps a point of that space to
 * an element index of a buffer: offset + sum(index[d] * strides[d]). Strides are
 * in elements, may be 0 (broadcast) or negative (reversal).
 *
 * Padding and windows: a load may carry a `Mask`, a list of per-axis valid
 * ranges over the same iteration space (the masked-view idea of tinygrad's
 * and jax-js's shape trackers). At a point where any bound's coordinate
 * leaves [0, size) the load yields the mask's fill value and reads no memory;
 * its view need only stay inside the buffer where every bound holds.
 */
import type { DType } from './dtype.js';
import type { BinaryOp, ReduceOp, UnaryOp } from './scalar.js';

export interface View {
  readonly offset: number;
  readonly strides: readonly number[];
}

/** One valid range: coordinate = offset + sum(point[d] * strides[d]) must lie in [0, size). */
export interface Bound {
  readonly offset: number;
  readonly strides: readonly number[];
  readonly size: number;
}

/** Where a load is valid (every bound holds), and what it yields elsewhere. */
export interface Mask {
  readonly bounds: readonly Bound[];
  readonly fill: number;
}

export type Expr =
  /**
   * Element of buffer `buf` at `view`; with `dyn`, the index adds clamp(dyn, 0, dynLimit - 1) * dynStride (gather);
   * with `mask`, `mask.fill` wherever a bound fails.
   */
  | { readonly k: 'load'; readonly buf: number; readonly view: View; readonly dtype: DType; readonly dyn?: DynIndex; readonly mask?: Mask }
  /** The integer value of `view` at the current point (iota). */
  | { readonly k: 'index'; readonly view: View }
  /** Uniform [0, 1) float32 from Philox4x32-10 keyed by `seed`, counter (`counter` expr, view index). */
  | { readonly k: 'random'; readonly seed: number; readonly counter: Expr; readonly view: View }
  | { readonly k: 'const'; readonly value: number; readonly dtype: DType }
  /** Value of reduction `id` of this kernel (or the matmul accumulator, id 0). */
  | { readonly k: 'acc'; readonly id: number; readonly dtype: DType }
  | { readonly k: 'unary'; readonly op: UnaryOp; readonly a: Expr; readonly dtype: DType }
  | { readonly k: 'binary'; readonly op: BinaryOp; readonly a: Expr; readonly b: Expr; readonly dtype: DType }
  | { readonly k: 'select'; readonly cond: Expr; readonly a: Expr; readonly b: Expr; readonly dtype: DType }
  | { readonly k: 'cast'; readonly a: Expr; readonly dtype: DType };

export interface DynIndex {
  readonly expr: Expr;
  readonly stride: number;
  readonly limit: number;
}

export interface Reduction {
  readonly id: number;
  readonly op: ReduceOp;
  readonly dtype: DType;
  /** Evaluated at every point of outer ++ inner; may read earlier reductions' `acc`. */
  readonly expr: Expr;
}

export interface Store {
  readonly buf: number;
  readonly view: View;
  readonly expr: Expr;
  /**
   * 'outer': stored once per outer point after all reductions (view's inner strides are 0);
   * 'full': stored at every point of outer ++ inner.
   */
  readonly space: 'outer' | 'full';
  /**
   * A scatter store (scatter_add, ir/scatter.ts): it adds its value into the
   * element at view + clamp(scatter.expr, 0, limit - 1) * stride instead of
   * overwriting it. Its kernel (verifier K9) has no reductions and this one
   * full store, and distinct outer points write distinct elements whatever
   * the indices: outer points may run in parallel, each walking the inner
   * dims in order, so the sums are race-free and in a fixed order.
   */
  readonly scatter?: DynIndex;
}

/**
 * Elementwise work, reductions and row-wise fused groups (softmax) in one form:
 * for each outer point (parallel): run each reduction over the inner dims in
 * order, then the 'outer' stores, then one pass over the inner dims for the
 * 'full' stores. With no inner dims it is a plain elementwise loop nest.
 */
export interface LoopKernel {
  readonly kind: 'loop';
  readonly name: string;
  readonly outer: readonly number[];
  readonly inner: readonly number[];
  readonly reductions: readonly Reduction[];
  readonly stores: readonly Store[];
}

/**
 * A batched matmul C = epilogue(A @ B); the epilogue sees the product as acc 0.
 * With `mDims` and `kDims` the rows and the contraction run over several
 * dims each (m and k are their products): a convolution as an implicit GEMM,
 * whose A operand reads input windows through a masked view and is gathered
 * into panels while packing, never materialized. Below, M and K stand for
 * mDims and kDims ([m] and [k] when absent).
 */
export interface MatmulKernel {
  readonly kind: 'matmul';
  readonly name: string;
  readonly batch: readonly number[];
  readonly m: number;
  readonly n: number;
  readonly k: number;
  readonly mDims?: readonly number[];
  readonly kDims?: readonly number[];
  readonly dtype: DType;
  /** Strides over batch ++ M ++ K. */
  readonly a: MatmulOperand;
  /** Strides over batch ++ K ++ [n]. */
  readonly b: MatmulOperand;
  /** Loads in the epilogue are over batch ++ M ++ [n]. */
  readonly epilogue: Expr;
  /** View over batch ++ M ++ [n]; with `rowReduce`, over batch ++ M' ++ [n]. */
  readonly out: { readonly buf: number; readonly view: View };
  /**
   * A reduction of the epilogue's values over the last `dims` dims of M (a
   * non-overlapping pooling fused into the convolution before it,
   * passes/pool_epilogue.ts): out[batch, M', j] = op over the trailing dims,
   * in order, of epilogue[batch, M', trailing, j], where M' is M without
   * them. The rows of one group are consecutive, so a tile reduces them
   * before anything is stored.
   */
  readonly rowReduce?: RowReduce;
}

export interface RowReduce {
  /** Trailing dims of M reduced (fewer than M has). */
  readonly dims: number;
  readonly op: ReduceOp;
}

/** Rows of M one output row of a matmul reduces: the product of its `rowReduce` dims (1 without). */
export function rowGroup(k: MatmulKernel): number {
  return k.rowReduce ? (k.mDims ?? [k.m]).slice(-k.rowReduce.dims).reduce((p, q) => p * q, 1) : 1;
}

export interface MatmulOperand {
  readonly buf: number;
  readonly view: View;
  /** Bounds over the operand's space; the fill is 0 (a padded operand adds nothing). */
  readonly mask?: Mask;
  /**
   * B only: a 'packed' buffer (passes/prepack_weights.ts) where the CPU code
   * keeps this weight packed for its micro-kernel, repacked at program entry
   * whenever the weights generation moved (KernelProgram.weights). A cache
   * of `buf`'s values in the code generator's layout: the interpreters read
   * `buf` and ignore it.
   */
  readonly packed?: number;
}

/**
 * A body of kernels run `count` times in order (a scan's loop, ir/scan.ts).
 * Iteration i is step t = i, or count - 1 - i when `reverse`; a buffer whose
 * `alias` has a `step` sits `t * step` elements further on at step t, so the
 * body's code is emitted once whatever the count. Bodies do not nest.
 */
export interface RepeatKernel {
  readonly kind: 'repeat';
  readonly name: string;
  readonly count: number;
  readonly reverse: boolean;
  /**
   * A buffer (int32, one element) holding the iterations to run, read when
   * the repeat starts and clamped to [0, count]: `count` is then the capacity
   * (a scan over sequences whose length is known at run time only). Iteration
   * i of a reverse repeat of n iterations is step n - 1 - i.
   */
  readonly steps?: number;
  readonly body: readonly (LoopKernel | MatmulKernel)[];
}

export type Kernel = LoopKernel | MatmulKernel | RepeatKernel;

/**
 * 'packed': bytes a program keeps for itself between runs (packed copies of
 * weights and the generation they were packed at): in its own arena, never a
 * param, written only by the code that packs them, never by a kernel.
 */
export type BufferRole = 'input' | 'output' | 'weight' | 'state' | 'temp' | 'packed';

export interface BufferDecl {
  readonly id: number;
  readonly name: string;
  readonly role: BufferRole;
  readonly dtype: DType;
  /** Number of elements. */
  readonly size: number;
  readonly shape: readonly number[];
  /** Byte offset in the arena (or in the shared state arena); -1 until memory planning assigns it. */
  readonly offset: number;
  /**
   * Lives in the shared state arena, whose layout every program of a model
   * agrees on: weights that predict, evaluate and train programs all read
   * (and the train program updates) in one place.
   */
  readonly shared?: boolean;
  /**
   * Bytes of another buffer, not bytes of its own: element 0 sits at element
   * `offset` of buffer `of` (plus `t * step` at step t of a repeat). Memory
   * planning places `of` and derives this offset.
   */
  readonly alias?: BufferAlias;
}

export interface BufferAlias {
  readonly of: number;
  readonly offset: number;
  readonly step: number;
  /** Bytes per step in the arena (set by memory planning, with the arena's element sizes). */
  readonly stepBytes?: number;
}

export interface KernelProgram {
  readonly name: string;
  readonly buffers: readonly BufferDecl[];
  readonly kernels: readonly Kernel[];
  /** Total arena bytes (set by memory planning). */
  readonly arenaBytes: number;
  /** Bytes of the shared state arena the program expects (0 when it has none). */
  readonly sharedBytes?: number;
  /** How the program keeps packed weights current, or advances their generation (passes/prepack_weights.ts). */
  readonly weights?: WeightsGeneration;
}

/**
 * Packed copies of weights can never be stale: every writer of a weight
 * advances the generation, a count in the shared state arena (int32 x 2, read
 * as one unsigned 64-bit count: it never wraps); a program that reads packed
 * copies compares it, at entry, with the generation it packed at, and repacks
 * when they differ. The packed copies and that record are the program's own,
 * so programs of one model keep their copies independently.
 */
export interface WeightsGeneration {
  /** The shared 'state' buffer holding the generation. */
  readonly generation: number;
  /** A 'packed' buffer (int32 x 2): generation + 1 when the program last packed, 0 before it ever did. */
  readonly packedAt?: number;
  /** The program writes weights (a training step): it advances the generation when it ends. */
  readonly advances: boolean;
}

/** The generation count's elements (int32): one 64-bit count. */
export const GENERATION_WORDS = 2;

/** Widest panel of B a code generator packs (four 512-bit vectors of float32): packed copies are sized for it. */
export const PACKED_PANEL_MAX = 64;

/** Elements of B's packed copy: every column, padded to whole panels of the widest width, for all of k. */
export function packedElements(k: MatmulKernel): number {
  return Math.ceil(k.n / PACKED_PANEL_MAX) * PACKED_PANEL_MAX * k.k;
}

export const ARENA_ALIGN = 64;

/*
 * Expression walks, beside the definition: every pass and emitter that needs
 * an expression's operands, a rebuilt copy, its dtype or the buffers it reads
 * uses these. Each switch is exhaustive with no default branch, so a new
 * expression kind fails `tsc` here instead of slipping past liveness or the
 * in-place check.
 */

/** The operand expressions of `e`, in evaluation order. */
export function exprChildren(e: Expr): readonly Expr[] {
  switch (e.k) {
    case 'load': return e.dyn ? [e.dyn.expr] : [];
    case 'index': case 'const': case 'acc': return [];
    case 'random': return [e.counter];
    case 'unary': case 'cast': return [e.a];
    case 'binary': return [e.a, e.b];
    case 'select': return [e.cond, e.a, e.b];
  }
}

/** `e` with each operand replaced by `f(operand)` (one level; `f` recurses if it wants to). */
export function mapExprChildren(e: Expr, f: (child: Expr) => Expr): Expr {
  switch (e.k) {
    case 'load': return e.dyn ? { ...e, dyn: { ...e.dyn, expr: f(e.dyn.expr) } } : e;
    case 'index': case 'const': case 'acc': return e;
    case 'random': return { ...e, counter: f(e.counter) };
    case 'unary': case 'cast': return { ...e, a: f(e.a) };
    case 'binary': return { ...e, a: f(e.a), b: f(e.b) };
    case 'select': return { ...e, cond: f(e.cond), a: f(e.a), b: f(e.b) };
  }
}

/** The element type an expression evaluates to. */
export function exprDType(e: Expr): DType {
  switch (e.k) {
    case 'index': return 'int32';
    case 'random': return 'float32';
    case 'load': case 'const': case 'acc': case 'unary': case 'binary': case 'select': case 'cast': return e.dtype;
  }
}

export type LoadExpr = Extract<Expr, { k: 'load' }>;

/**
 * `e` with every view (a load's, with its mask bounds; an index's; a
 * random's) re-expressed by `f` (a change of iteration space). A load for
 * which `replace` answers is swapped whole, its answer taken as it is.
 */
export function mapExprViews(e: Expr, f: (v: View) => View, replace?: (load: LoadExpr) => Expr | null): Expr {
  if (e.k === 'load') {
    const swapped = replace?.(e);
    if (swapped) return swapped;
  }
  const inner = mapExprChildren(e, (c) => mapExprViews(c, f, replace));
  switch (inner.k) {
    case 'load': return { ...inner, view: f(inner.view), ...(inner.mask ? { mask: { ...inner.mask, bounds: inner.mask.bounds.map((b): Bound => ({ ...b, ...f(b) })) } } : {}) };
    case 'index': case 'random': return { ...inner, view: f(inner.view) };
    case 'const': case 'acc': case 'unary': case 'binary': case 'select': case 'cast': return inner;
  }
}

/** Calls `visit` on every load in `e` (gather index loads included), depth first. */
export function visitLoads(e: Expr, visit: (load: LoadExpr) => void): void {
  if (e.k === 'load') visit(e);
  for (const c of exprChildren(e)) visitLoads(c, visit);
}

/** The expressions a store evaluates: its value, and a scatter store's index. */
export function storeExprs(s: Store): readonly Expr[] {
  return s.scatter ? [s.expr, s.scatter.expr] : [s.expr];
}

/** `s` with its value and scatter index replaced by `f(expression)`. */
export function mapStoreExprs(s: Store, f: (e: Expr) => Expr): Store {
  return s.scatter ? { ...s, expr: f(s.expr), scatter: { ...s.scatter, expr: f(s.scatter.expr) } } : { ...s, expr: f(s.expr) };
}

/** Every expression a kernel evaluates at its top level (reductions, stores and scatter indices, matmul epilogue). */
export function kernelExprs(k: Kernel): readonly Expr[] {
  switch (k.kind) {
    case 'loop': return [...k.reductions.map((r) => r.expr), ...k.stores.flatMap(storeExprs)];
    case 'matmul': return [k.epilogue];
    case 'repeat': return k.body.flatMap(kernelExprs);
  }
}

/** The coordinate of `bound` at `point`. */
export function boundCoordinate(bound: Bound, point: readonly number[]): number {
  let c = bound.offset;
  for (let d = 0; d < point.length; d++) c += point[d] * bound.strides[d];
  return c;
}

/** Whether every bound of `mask` (if any) holds at `point`. */
export function maskHolds(mask: Mask | undefined, point: readonly number[]): boolean {
  if (!mask) return true;
  return mask.bounds.every((b) => {
    const c = boundCoordinate(b, point);
    return c >= 0 && c < b.size;
  });
}

/**
 * The iteration spaces of a matmul: of A, of B, of its epilogue (`out`), and
 * of its output view (`stored`: `out` less the rowReduce dims).
 */
export function matmulSpaces(k: MatmulKernel): { a: number[]; b: number[]; out: number[]; stored: number[] } {
  const m = k.mDims ?? [k.m];
  const kk = k.kDims ?? [k.k];
  const kept = k.rowReduce ? m.slice(0, m.length - k.rowReduce.dims) : m;
  return { a: [...k.batch, ...m, ...kk], b: [...k.batch, ...kk, k.n], out: [...k.batch, ...m, k.n], stored: [...k.batch, ...kept, k.n] };
}

/**
 * The same computation as a loop kernel (outer batch ++ M ++ [n], inner K,
 * one sum reduction): how backends without a multi-dim matmul template run
 * one, and what the kernel interpreter runs. Not for a matmul with a
 * rowReduce (a second reduction over the sum's results).
 */
export function matmulAsLoop(k: MatmulKernel): LoopKernel {
  if (k.rowReduce) throw new Error(`matmulAsLoop: kernel ${k.name} reduces groups of rows after its epilogue; a loop kernel cannot express that`);
  const batch = k.batch.length;
  const m = (k.mDims ?? [k.m]).length;
  const kd = (k.kDims ?? [k.k]).length;
  // Loop space: batch ++ M ++ [n] ++ K. Each operand's strides are placed into it, zeros elsewhere.
  const place = (strides: readonly number[], from: 'a' | 'b' | 'out'): number[] => {
    const zeros = (n: number): number[] => new Array<number>(n).fill(0);
    const bs = strides.slice(0, batch);
    if (from === 'a') return [...bs, ...strides.slice(batch, batch + m), 0, ...strides.slice(batch + m)];
    if (from === 'b') return [...bs, ...zeros(m), strides[batch + kd], ...strides.slice(batch, batch + kd)];
    return [...strides, ...zeros(kd)];
  };
  const operand = (op: MatmulOperand, from: 'a' | 'b'): Expr => {
    const load: Expr = { k: 'load', buf: op.buf, view: { offset: op.view.offset, strides: place(op.view.strides, from) }, dtype: k.dtype };
    if (!op.mask) return load;
    return { ...load, mask: { fill: op.mask.fill, bounds: op.mask.bounds.map((bd) => ({ ...bd, strides: place(bd.strides, from) })) } };
  };
  const widen = (e: Expr): Expr => {
    const inner = mapExprChildren(e, widen);
    switch (inner.k) {
      case 'load': return { ...inner, view: { ...inner.view, strides: place(inner.view.strides, 'out') }, ...(inner.mask ? { mask: { ...inner.mask, bounds: inner.mask.bounds.map((bd) => ({ ...bd, strides: place(bd.strides, 'out') })) } } : {}) };
      case 'index': case 'random': return { ...inner, view: { ...inner.view, strides: place(inner.view.strides, 'out') } };
      case 'const': case 'acc': case 'unary': case 'binary': case 'select': case 'cast': return inner;
    }
  };
  const spaces = matmulSpaces(k);
  const product: Expr = { k: 'binary', op: 'mul', a: operand(k.a, 'a'), b: operand(k.b, 'b'), dtype: k.dtype };
  return {
    kind: 'loop', name: k.name, outer: spaces.out, inner: k.kDims ?? [k.k],
    reductions: [{ id: 0, op: 'sum', dtype: k.dtype, expr: product }],
    stores: [{ buf: k.out.buf, view: { offset: k.out.view.offset, strides: place(k.out.view.strides, 'out') }, expr: widen(k.epilogue), space: 'outer' }],
  };
}
