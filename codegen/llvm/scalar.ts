/**
 * Scalar op emitters: one entry per unary and binary op of ir/scalar.ts, so a
 * new op fails `tsc` until it is handled here. Semantics follow
 * ir/scalar_eval.ts (int32 division truncates and x / 0 = 0; max/min
 * propagate NaN; round is half-to-even).
 */
import llvm from './llvm.js';
import type { DType } from '../../ir/dtype.js';
import type { BinaryOp, UnaryOp } from '../../ir/scalar.js';
import type { Emitter } from './context.js';

type V = llvm.Value;
type UnaryEmit = (e: Emitter, x: V, dtype: DType) => V;
type BinaryEmit = (e: Emitter, x: V, y: V, dtype: DType) => V;

const isFloat = (d: DType): boolean => d === 'float32' || d === 'float64';

/** Integer operands of a float function go through double and back (saturating), as the interpreter does. */
const viaDoubleForInt = (f: UnaryEmit): UnaryEmit => (e, x, dtype) => {
  if (isFloat(dtype)) return f(e, x, dtype);
  return toInt(e, f(e, e.b.CreateSIToFP(x, e.f64), 'float64'));
};

function toInt(e: Emitter, x: V): V {
  return floatToInt32(e, x, e.f64);
}

/**
 * float -> int32 truncating toward zero, as the interpreter does for every
 * value it can (NaN and the infinities give 0); beyond the int32 range it
 * saturates where the interpreter wraps.
 */
export function floatToInt32(e: Emitter, x: V, ty: llvm.Type): V {
  const b = e.b;
  const sat = b.CreateCall(e.intrinsic(llvm.Intrinsic.fptosi_sat, [e.i32, ty]), [x]);
  const inf = b.CreateFCmpOEQ(b.CreateCall(e.intrinsic(llvm.Intrinsic.fabs, [ty]), [x]), llvm.ConstantFP.get(ty, Infinity));
  return b.CreateSelect(inf, e.int32(0), sat);
}

function intrinsic1(id: number): UnaryEmit {
  return viaDoubleForInt((e, x, dtype) => e.b.CreateCall(e.intrinsic(id, [e.typeOf(dtype)]), [x]));
}

/** A libm function (`expm1f` for float32, `expm1` for float64). */
function libm(name: string): UnaryEmit {
  return viaDoubleForInt((e, x, dtype) => {
    const ty = e.typeOf(dtype);
    return e.b.CreateCall(e.external(dtype === 'float32' ? `${name}f` : name, ty, [ty]), [x]);
  });
}

const identityForInt = (f: UnaryEmit): UnaryEmit => (e, x, dtype) => (isFloat(dtype) ? f(e, x, dtype) : x);

/** Horner: c[0] + c[1] t + c[2] t^2 + ... */
function horner(e: Emitter, t: V, coeffs: readonly number[]): V {
  let acc = e.constant(coeffs[coeffs.length - 1], 'float32');
  for (let i = coeffs.length - 2; i >= 0; i--) acc = e.b.CreateFAdd(e.b.CreateFMul(acc, t), e.constant(coeffs[i], 'float32'));
  return acc;
}

const TANH_CLAMP = 7.90531110763549805;
const TANH_NUM = [4.89352455891786e-3, 6.37261928875436e-4, 1.48572235717979e-5, 5.12229709037114e-8, -8.60467152213735e-11, 2.00018790482477e-13, -2.76076847742355e-16];
const TANH_DEN = [4.89352518554385e-3, 2.2684346324390e-3, 1.18534705686654e-4, 1.19825839466702e-6];

/**
 * float32 tanh as a 13/6 rational function of x on [-7.9, 7.9] (Eigen's
 * coefficients; within 4e-7 relative of Math.tanh): no libm call, so loops
 * over it vectorize. Below 4e-4, tanh(x) is x to float32 precision.
 */
function tanhFloat32(e: Emitter, x: V): V {
  const b = e.b;
  const c = e.constant(TANH_CLAMP, 'float32');
  const neg = e.constant(-TANH_CLAMP, 'float32');
  const clamped = b.CreateSelect(b.CreateFCmpOGT(x, c), c, b.CreateSelect(b.CreateFCmpOLT(x, neg), neg, x));
  const x2 = b.CreateFMul(clamped, clamped);
  const ratio = b.CreateFDiv(b.CreateFMul(horner(e, x2, TANH_NUM), clamped), horner(e, x2, TANH_DEN));
  const tiny = b.CreateFCmpOLT(b.CreateCall(e.intrinsic(llvm.Intrinsic.fabs, [e.f32]), [x]), e.constant(4e-4, 'float32'));
  return b.CreateSelect(tiny, x, ratio);
}

function sign(e: Emitter, x: V, dtype: DType): V {
  const b = e.b;
  const zero = e.constant(0, dtype);
  const gt = isFloat(dtype) ? b.CreateFCmpOGT(x, zero) : b.CreateICmpSGT(x, zero);
  const lt = isFloat(dtype) ? b.CreateFCmpOLT(x, zero) : b.CreateICmpSLT(x, zero);
  return b.CreateSelect(gt, e.constant(1, dtype), b.CreateSelect(lt, e.constant(-1, dtype), x));
}

export const UNARY: { readonly [P in UnaryOp]: UnaryEmit } = {
  neg: (e, x, d) => (isFloat(d) ? e.b.CreateFNeg(x) : e.b.CreateNeg(x)),
  abs: (e, x, d) => (isFloat(d) ? e.b.CreateCall(e.intrinsic(llvm.Intrinsic.fabs, [e.typeOf(d)]), [x]) : e.b.CreateSelect(e.b.CreateICmpSLT(x, e.int32(0)), e.b.CreateNeg(x), x)),
  sign,
  exp: intrinsic1(llvm.Intrinsic.exp),
  expm1: libm('expm1'),
  log: intrinsic1(llvm.Intrinsic.log),
  log1p: libm('log1p'),
  sqrt: intrinsic1(llvm.Intrinsic.sqrt),
  tanh: (e, x, d) => (d === 'float32' ? tanhFloat32(e, x) : libm('tanh')(e, x, d)),
  sigmoid: viaDoubleForInt((e, x, d) => e.b.CreateFDiv(e.constant(1, d), e.b.CreateFAdd(e.constant(1, d), UNARY.exp(e, e.b.CreateFNeg(x), d)))),
  floor: identityForInt(intrinsic1(llvm.Intrinsic.floor)),
  ceil: identityForInt(intrinsic1(llvm.Intrinsic.ceil)),
  round: identityForInt(intrinsic1(llvm.Intrinsic.rint)),
  not: (e, x) => e.b.CreateXor(x, e.b.getTrue()),
};

function intDiv(e: Emitter, x: V, y: V): V {
  const b = e.b;
  const isZero = b.CreateICmpEQ(y, e.int32(0));
  const isMinusOne = b.CreateICmpEQ(y, e.int32(-1));
  const safe = b.CreateSelect(b.CreateOr(isZero, isMinusOne), e.int32(1), y);
  return b.CreateSelect(isZero, e.int32(0), b.CreateSelect(isMinusOne, b.CreateNeg(x), b.CreateSDiv(x, safe)));
}

/** max/min that propagate NaN (llvm.maximum has no x86 lowering in LLVM 14). */
export function floatMinMax(e: Emitter, max: boolean, x: V, y: V): V {
  const pick = max ? e.b.CreateFCmpOGT(x, y) : e.b.CreateFCmpOLT(x, y);
  return e.b.CreateSelect(e.b.CreateOr(e.b.CreateFCmpUNE(x, x), e.b.CreateFCmpUNE(y, y)), e.b.CreateFAdd(x, y), e.b.CreateSelect(pick, x, y));
}

function minMax(max: boolean): BinaryEmit {
  return (e, x, y, d) => {
    if (isFloat(d)) return floatMinMax(e, max, x, y);
    // bool is i1: true is 1, not -1, so it compares unsigned.
    const pick = d === 'bool' ? (max ? e.b.CreateICmpUGT(x, y) : e.b.CreateICmpULT(x, y)) : max ? e.b.CreateICmpSGT(x, y) : e.b.CreateICmpSLT(x, y);
    return e.b.CreateSelect(pick, x, y);
  };
}

type Cmp = (b: llvm.IRBuilder, x: V, y: V) => V;

/** Float, int32 and bool (unsigned i1) forms of a comparison. */
function compare(f: Cmp, i: Cmp, u: Cmp = i): BinaryEmit {
  return (e, x, y, d) => (isFloat(d) ? f(e.b, x, y) : d === 'bool' ? u(e.b, x, y) : i(e.b, x, y));
}

export const BINARY: { readonly [P in BinaryOp]: BinaryEmit } = {
  add: (e, x, y, d) => (isFloat(d) ? e.b.CreateFAdd(x, y) : e.b.CreateAdd(x, y)),
  sub: (e, x, y, d) => (isFloat(d) ? e.b.CreateFSub(x, y) : e.b.CreateSub(x, y)),
  mul: (e, x, y, d) => (isFloat(d) ? e.b.CreateFMul(x, y) : e.b.CreateMul(x, y)),
  div: (e, x, y, d) => (isFloat(d) ? e.b.CreateFDiv(x, y) : intDiv(e, x, y)),
  pow: (e, x, y, d) => {
    if (isFloat(d)) return e.b.CreateCall(e.intrinsic(llvm.Intrinsic.pow, [e.typeOf(d)]), [x, y]);
    return toInt(e, e.b.CreateCall(e.intrinsic(llvm.Intrinsic.pow, [e.f64]), [e.b.CreateSIToFP(x, e.f64), e.b.CreateSIToFP(y, e.f64)]));
  },
  maximum: minMax(true),
  minimum: minMax(false),
  eq: compare((b, x, y) => b.CreateFCmpOEQ(x, y), (b, x, y) => b.CreateICmpEQ(x, y)),
  ne: compare((b, x, y) => b.CreateFCmpUNE(x, y), (b, x, y) => b.CreateICmpNE(x, y)),
  lt: compare((b, x, y) => b.CreateFCmpOLT(x, y), (b, x, y) => b.CreateICmpSLT(x, y), (b, x, y) => b.CreateICmpULT(x, y)),
  le: compare((b, x, y) => b.CreateFCmpOLE(x, y), (b, x, y) => b.CreateICmpSLE(x, y), (b, x, y) => b.CreateICmpULE(x, y)),
  gt: compare((b, x, y) => b.CreateFCmpOGT(x, y), (b, x, y) => b.CreateICmpSGT(x, y), (b, x, y) => b.CreateICmpUGT(x, y)),
  ge: compare((b, x, y) => b.CreateFCmpOGE(x, y), (b, x, y) => b.CreateICmpSGE(x, y), (b, x, y) => b.CreateICmpUGE(x, y)),
  and: (e, x, y) => e.b.CreateAnd(x, y),
  or: (e, x, y) => e.b.CreateOr(x, y),
};
