/**
 * The scalar operations: what an elementwise tensor op does to one element.
 * Every emitter (interpreter, LLVM, WGSL) is a table typed over these names,
 * so adding a scalar op fails `tsc` until every emitter handles it.
 */
export const UNARY_OPS = [
  'neg', 'abs', 'sign', 'exp', 'expm1', 'log', 'log1p', 'sqrt', 'tanh', 'sigmoid',
  'floor', 'ceil', 'round', 'not',
] as const;
export type UnaryOp = (typeof UNARY_OPS)[number];

export const BINARY_OPS = [
  'add', 'sub', 'mul', 'div', 'pow', 'maximum', 'minimum',
  'eq', 'ne', 'lt', 'le', 'gt', 'ge', 'and', 'or',
] as const;
export type BinaryOp = (typeof BINARY_OPS)[number];

/** Binary ops whose result is `bool` whatever the operand dtype. */
export const COMPARE_OPS: ReadonlySet<BinaryOp> = new Set(['eq', 'ne', 'lt', 'le', 'gt', 'ge']);
/** Ops that take and give `bool`. */
export const LOGIC_OPS: ReadonlySet<UnaryOp | BinaryOp> = new Set(['not', 'and', 'or']);

export type ScalarOp = UnaryOp | BinaryOp | 'select' | 'cast';

export const REDUCE_OPS = ['sum', 'max', 'min'] as const;
export type ReduceOp = (typeof REDUCE_OPS)[number];

/** Identity element of a reduction in a given float/int domain. */
export function reduceIdentity(op: ReduceOp): number {
  return op === 'sum' ? 0 : op === 'max' ? -Infinity : Infinity;
}
