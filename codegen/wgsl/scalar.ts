/**
 * Scalar op emitters for WGSL: one entry per unary and binary op of
 * ir/scalar.ts (a new op fails `tsc` until it is here). Semantics follow
 * ir/scalar_eval.ts where WGSL leaves room: int32 division by zero gives 0,
 * round is WGSL's round-half-to-even.
 */
import type { DType } from '../../ir/dtype.js';
import type { BinaryOp, UnaryOp } from '../../ir/scalar.js';

const isFloat = (d: DType): boolean => d === 'float32' || d === 'float64';

export const UNARY: { readonly [P in UnaryOp]: (x: string, d: DType) => string } = {
  neg: (x) => `(-${x})`,
  abs: (x) => `abs(${x})`,
  sign: (x) => `sign(${x})`,
  exp: (x) => `exp(${x})`,
  // exp(x) - 1 loses digits near 0; the series keeps them.
  expm1: (x) => `select(exp(${x}) - 1.0, ${x} * (1.0 + ${x} * (0.5 + ${x} / 6.0)), abs(${x}) < 1e-3)`,
  log: (x) => `log(${x})`,
  log1p: (x) => `select(log(1.0 + ${x}), ${x} * (1.0 - ${x} * (0.5 - ${x} / 3.0)), abs(${x}) < 1e-3)`,
  sqrt: (x) => `sqrt(${x})`,
  tanh: (x) => `tanh(clamp(${x}, -20.0, 20.0))`,
  sigmoid: (x) => `(1.0 / (1.0 + exp(-${x})))`,
  floor: (x, d) => (isFloat(d) ? `floor(${x})` : x),
  ceil: (x, d) => (isFloat(d) ? `ceil(${x})` : x),
  round: (x, d) => (isFloat(d) ? `round(${x})` : x),
  not: (x) => `(!${x})`,
};

const infix = (op: string) => (a: string, b: string): string => `(${a} ${op} ${b})`;

export const BINARY: { readonly [P in BinaryOp]: (a: string, b: string, d: DType) => string } = {
  add: infix('+'),
  sub: infix('-'),
  mul: infix('*'),
  div: (a, b, d) => (isFloat(d) ? `(${a} / ${b})` : `select(${a} / select(${b}, 1, ${b} == 0), 0, ${b} == 0)`),
  pow: (a, b, d) => (isFloat(d) ? `pow_signed(${a}, ${b})` : `i32(round(pow_signed(f32(${a}), f32(${b}))))`),
  maximum: (a, b) => `max(${a}, ${b})`,
  minimum: (a, b) => `min(${a}, ${b})`,
  eq: infix('=='),
  ne: infix('!='),
  lt: infix('<'),
  le: infix('<='),
  gt: infix('>'),
  ge: infix('>='),
  and: infix('&&'),
  or: infix('||'),
};

/** Helpers every kernel module includes: pow for negative bases with integer exponents, Philox4x32-10. */
export const PRELUDE = `
// Infinity and NaN from private variables: WGSL rejects them as constant expressions.
var<private> kiln_inf_bits: u32 = 0x7f800000u;
var<private> kiln_nan_bits: u32 = 0x7fc00000u;
fn kiln_inf() -> f32 { return bitcast<f32>(kiln_inf_bits); }
fn kiln_nan() -> f32 { return bitcast<f32>(kiln_nan_bits); }

fn pow_signed(a: f32, b: f32) -> f32 {
  if (a >= 0.0) { return pow(a, b); }
  let m = pow(-a, b);
  if (b == round(b)) { return select(m, -m, (i32(b) & 1) == 1); }
  return kiln_nan();
}

fn mul_hi_lo(a: u32, b: u32) -> vec2<u32> {
  let a_lo = a & 0xffffu; let a_hi = a >> 16u;
  let b_lo = b & 0xffffu; let b_hi = b >> 16u;
  let ll = a_lo * b_lo; let lh = a_lo * b_hi; let hl = a_hi * b_lo; let hh = a_hi * b_hi;
  let mid = (ll >> 16u) + (lh & 0xffffu) + (hl & 0xffffu);
  let hi = hh + (lh >> 16u) + (hl >> 16u) + (mid >> 16u);
  return vec2<u32>(hi, a * b);
}

fn philox_uniform(seed: u32, step: u32, index: u32) -> f32 {
  var c0 = index; var c1 = step; var c2 = 0u; var c3 = 0u;
  var k0 = seed; var k1 = 0u;
  for (var r = 0; r < 10; r++) {
    let p0 = mul_hi_lo(0xd2511f53u, c0);
    let p1 = mul_hi_lo(0xcd9e8d57u, c2);
    let n0 = p1.x ^ c1 ^ k0; let n2 = p0.x ^ c3 ^ k1;
    c1 = p1.y; c3 = p0.y; c0 = n0; c2 = n2;
    k0 = k0 + 0x9e3779b9u; k1 = k1 + 0xbb67ae85u;
  }
  return f32(c0 >> 8u) * (1.0 / 16777216.0);
}
`;
