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

/** A batched matmul C = epilogue(A @ B); the epilogue sees the product as acc 0. */
export interface MatmulKernel {
  readonly kind: 'matmul';
  readonly name: string;
  readonly batch: readonly number[];
  readonly m: number;
  readonly n: number;
  readonly k: number;
  readonly dtype: DType;
  /** Strides over batch ++ [m, k]. */
  readonly a: { readonly buf: number; readonly view: View };
  /** Strides over batch ++ [k, n]. */
  readonly b: { readonly buf: number; readonly view: View };
  /** Loads in the epilogue are over batch ++ [m, n]. */
  readonly epilogue: Expr;
  /** View over batch ++ [m, n]. */
  readonly out: { readonly buf: number; readonly view: View };
}

export type Kernel = LoopKernel | MatmulKernel;

export type BufferRole = 'input' | 'output' | 'weight' | 'state' | 'temp';

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
}

export interface KernelProgram {
  readonly name: string;
  readonly buffers: readonly BufferDecl[];
  readonly kernels: readonly Kernel[];
  /** Total arena bytes (set by memory planning). */
  readonly arenaBytes: number;
  /** Bytes of the shared state arena the program expects (0 when it has none). */
  readonly sharedBytes?: number;
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

/** Calls `visit` on every load in `e` (gather index loads included), depth first. */
export function visitLoads(e: Expr, visit: (load: LoadExpr) => void): void {
  if (e.k === 'load') visit(e);
  for (const c of exprChildren(e)) visitLoads(c, visit);
}

/** Every expression a kernel evaluates at its top level (reductions, stores, matmul epilogue). */
export function kernelExprs(k: Kernel): readonly Expr[] {
  switch (k.kind) {
    case 'loop': return [...k.reductions.map((r) => r.expr), ...k.stores.map((s) => s.expr)];
    case 'matmul': return [k.epilogue];
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
