/** Reference scalar semantics, shared by the tensor interpreter and the kernel-IR executor. */
import type { BinaryOp, UnaryOp } from './scalar.js';

type Fn = (a: number, b: number) => number;

function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

export const SCALAR_EVAL: { readonly [P in UnaryOp | BinaryOp]: Fn } = {
  neg: (a) => -a,
  abs: (a) => Math.abs(a),
  sign: (a) => (a > 0 ? 1 : a < 0 ? -1 : a),
  exp: (a) => Math.exp(a),
  expm1: (a) => Math.expm1(a),
  log: (a) => Math.log(a),
  log1p: (a) => Math.log1p(a),
  sqrt: (a) => Math.sqrt(a),
  tanh: (a) => Math.tanh(a),
  sigmoid: (a) => 1 / (1 + Math.exp(-a)),
  floor: (a) => Math.floor(a),
  ceil: (a) => Math.ceil(a),
  round: roundHalfEven,
  not: (a) => (a ? 0 : 1),
  add: (a, b) => a + b,
  sub: (a, b) => a - b,
  mul: (a, b) => a * b,
  div: (a, b) => a / b,
  pow: (a, b) => Math.pow(a, b),
  maximum: (a, b) => (Number.isNaN(a) || Number.isNaN(b) ? NaN : Math.max(a, b)),
  minimum: (a, b) => (Number.isNaN(a) || Number.isNaN(b) ? NaN : Math.min(a, b)),
  eq: (a, b) => +(a === b),
  ne: (a, b) => +(a !== b),
  lt: (a, b) => +(a < b),
  le: (a, b) => +(a <= b),
  gt: (a, b) => +(a > b),
  ge: (a, b) => +(a >= b),
  and: (a, b) => +(a !== 0 && b !== 0),
  or: (a, b) => +(a !== 0 || b !== 0),
};

/** int32 division truncates toward zero; division by zero gives 0. */
export function intDiv(a: number, b: number): number {
  return b === 0 ? 0 : Math.trunc(a / b) | 0;
}

/** Applies `op` in the domain of `dtype` (int32 wraps, float32 rounds). */
export function scalarOp(op: UnaryOp | BinaryOp, dtype: string, a: number, b = 0): number {
  if (dtype === 'int32') {
    if (op === 'div') return intDiv(a, b);
    if (op === 'mul') return Math.imul(a, b);
    return SCALAR_EVAL[op](a, b) | 0;
  }
  const r = SCALAR_EVAL[op](a, b);
  return dtype === 'float32' ? Math.fround(r) : r;
}
