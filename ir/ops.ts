/**
 * The op vocabulary, defined once (DESIGN.md contract 1). Each entry holds the
 * op's fusion class, type inference and reference evaluation; vector-Jacobian
 * products live beside them in ./vjp.ts, keyed by the same names.
 *
 * Elementwise ops take operands of identical shape: the builder inserts
 * explicit `broadcast` nodes, so passes never reason about implicit broadcasting.
 */
import { type DType, type Shape, type TensorType, type TypedArray, allocArray, isFloat, shapeStr, sameShape, sizeOf } from './dtype.js';
import { BINARY_OPS, type BinaryOp, COMPARE_OPS, LOGIC_OPS, UNARY_OPS, type UnaryOp } from './scalar.js';
import { scalarOp } from './scalar_eval.js';
import * as E from './eval_kernels.js';
import { SCAN_DEF, type ScanAttrs } from './scan.js';
import { SCATTER_ADD_DEF, type ScatterAddAttrs } from './scatter.js';

export type FusionClass = 'source' | 'elementwise' | 'movement' | 'reduction' | 'contraction' | 'opaque';

export type ParamRole = 'input' | 'weight' | 'state';

export interface ReduceAttrs { readonly axes: readonly number[]; readonly keepDims: boolean }
type NoAttrs = Record<string, never>;
export interface WindowAttrs { readonly size: readonly number[]; readonly strides: readonly number[]; readonly dilations: readonly number[] }

export interface AttrsMap {
  param: { readonly name: string; readonly role: ParamRole; readonly shape: Shape; readonly dtype: DType };
  constant: { readonly value: number; readonly shape: Shape; readonly dtype: DType };
  iota: { readonly axis: number; readonly shape: Shape; readonly dtype: DType };
  random: { readonly seed: number; readonly shape: Shape };
  select: NoAttrs;
  cast: { readonly dtype: DType };
  reduce_sum: ReduceAttrs;
  reduce_max: ReduceAttrs;
  reduce_min: ReduceAttrs;
  reshape: { readonly shape: Shape };
  transpose: { readonly perm: readonly number[] };
  broadcast: { readonly shape: Shape };
  slice: { readonly begin: readonly number[]; readonly size: readonly number[]; readonly step: readonly number[] };
  concat: { readonly axis: number };
  /** Adds `low[a]` elements before and `high[a]` after each axis, all equal to `value`. */
  pad: { readonly low: readonly number[]; readonly high: readonly number[]; readonly value: number };
  /**
   * Sliding windows: out[o..., k...] = x[o * strides + k * dilations] per axis; the
   * result has the input's rank twice (window positions, then offsets in the window).
   */
  window: WindowAttrs;
  gather: { readonly axis: number };
  /** Rows of updates added into zeros at clamped indices: gather's transpose (ir/scatter.ts). */
  scatter_add: ScatterAddAttrs;
  matmul: { readonly transposeA: boolean; readonly transposeB: boolean };
  /** A loop over sequences with carries and a sub-graph body (ir/scan.ts). */
  scan: ScanAttrs;
}
type ElementwiseAttrs = { [P in UnaryOp | BinaryOp]: NoAttrs };
export type OpAttrs = AttrsMap & ElementwiseAttrs;
export type OpName = keyof OpAttrs;

export interface OpDef<A> {
  readonly fusion: FusionClass;
  /** Result type; throws an Error whose message says what was expected and what was given. */
  infer(inputs: readonly TensorType[], attrs: A): TensorType;
  /** Reference semantics; the interpreter is the definition of the op. */
  evaluate(inputs: readonly TypedArray[], types: readonly TensorType[], attrs: A, out: TensorType): TypedArray;
}

export type OpTable = { readonly [P in OpName]: OpDef<OpAttrs[P]> };

function fail(message: string): never {
  throw new Error(message);
}

function arity(inputs: readonly TensorType[], n: number): void {
  if (inputs.length !== n) fail(`expected ${n} operand(s), got ${inputs.length}`);
}

function sameShapes(inputs: readonly TensorType[]): void {
  for (const t of inputs.slice(1)) {
    if (!sameShape(t.shape, inputs[0].shape)) fail(`operand shapes differ: ${shapeStr(inputs[0].shape)} vs ${shapeStr(t.shape)}`);
  }
}

function normalizeAxis(axis: number, rank: number): number {
  const a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank) fail(`axis ${axis} is out of range for rank ${rank}`);
  return a;
}

function unaryDef(op: UnaryOp): OpDef<NoAttrs> {
  return {
    fusion: 'elementwise',
    infer(inputs) {
      arity(inputs, 1);
      const logic = LOGIC_OPS.has(op);
      if (logic !== (inputs[0].dtype === 'bool')) fail(`${op} takes ${logic ? 'bool' : 'numbers'}, got ${inputs[0].dtype}`);
      return inputs[0];
    },
    evaluate: ([x], _t, _a, out) => E.map1(x, out, (a) => scalarOp(op, out.dtype, a)),
  };
}

function binaryDef(op: BinaryOp): OpDef<NoAttrs> {
  return {
    fusion: 'elementwise',
    infer(inputs) {
      arity(inputs, 2);
      sameShapes(inputs);
      if (inputs[0].dtype !== inputs[1].dtype) fail(`operand dtypes differ: ${inputs[0].dtype} vs ${inputs[1].dtype}`);
      const logic = LOGIC_OPS.has(op);
      if (logic !== (inputs[0].dtype === 'bool') && !COMPARE_OPS.has(op)) fail(`${op} takes ${logic ? 'bool' : 'numbers'}, got ${inputs[0].dtype}`);
      return { shape: inputs[0].shape, dtype: COMPARE_OPS.has(op) ? 'bool' : inputs[0].dtype };
    },
    evaluate: ([a, b], [t], _a, out) => E.map2(a, b, out, (x, y) => scalarOp(op, t.dtype, x, y)),
  };
}

function reduceDef(kind: 'sum' | 'max' | 'min'): OpDef<ReduceAttrs> {
  return {
    fusion: 'reduction',
    infer([x, ...rest], { axes, keepDims }) {
      if (rest.length) fail('expected 1 operand');
      if (x.dtype === 'bool') fail('cannot reduce bool');
      const set = new Set(axes.map((a) => normalizeAxis(a, x.shape.length)));
      if (set.size !== axes.length) fail(`repeated reduction axes ${shapeStr(axes)}`);
      const shape = x.shape.flatMap((d, i) => (set.has(i) ? (keepDims ? [1] : []) : [d]));
      return { shape, dtype: x.dtype };
    },
    evaluate: ([x], [t], { axes }, out) => E.reduce(x, t.shape, axes.map((a) => normalizeAxis(a, t.shape.length)), kind, out),
  };
}

const SOURCE_OPS = {
  param: {
    fusion: 'source',
    infer: (inputs, a) => (arity(inputs, 0), { shape: a.shape, dtype: a.dtype }),
    evaluate: () => fail('param has no value: the interpreter feeds it'),
  } satisfies OpDef<AttrsMap['param']>,
  constant: {
    fusion: 'source',
    infer: (inputs, a) => (arity(inputs, 0), { shape: a.shape, dtype: a.dtype }),
    evaluate: (_i, _t, a, out) => allocArray(out.dtype, sizeOf(out.shape)).fill(a.value),
  } satisfies OpDef<AttrsMap['constant']>,
  iota: {
    fusion: 'source',
    infer(inputs, a) {
      arity(inputs, 0);
      normalizeAxis(a.axis, a.shape.length);
      return { shape: a.shape, dtype: a.dtype };
    },
    evaluate: (_i, _t, a, out) => E.iota(out, normalizeAxis(a.axis, a.shape.length)),
  } satisfies OpDef<AttrsMap['iota']>,
  random: {
    fusion: 'source',
    infer([counter, ...rest], a) {
      if (!counter || rest.length || counter.dtype !== 'int32' || counter.shape.length !== 0) fail('random takes one int32 scalar counter');
      return { shape: a.shape, dtype: 'float32' };
    },
    evaluate: ([counter], _t, a, out) => E.random(out, a.seed, counter[0]),
  } satisfies OpDef<AttrsMap['random']>,
};

const SHAPE_OPS = {
  reshape: {
    fusion: 'movement',
    infer([x], { shape }) {
      if (shape.some((d) => !Number.isInteger(d) || d < 0)) fail(`invalid target shape ${shapeStr(shape)}`);
      if (sizeOf(shape) !== sizeOf(x.shape)) fail(`cannot reshape ${shapeStr(x.shape)} (${sizeOf(x.shape)} elements) to ${shapeStr(shape)} (${sizeOf(shape)} elements)`);
      return { shape, dtype: x.dtype };
    },
    evaluate: ([x]) => x.slice(),
  } satisfies OpDef<AttrsMap['reshape']>,
  transpose: {
    fusion: 'movement',
    infer([x], { perm }) {
      const ok = perm.length === x.shape.length && [...perm].sort((a, b) => a - b).every((p, i) => p === i);
      if (!ok) fail(`permutation ${shapeStr(perm)} does not fit rank ${x.shape.length}`);
      return { shape: perm.map((p) => x.shape[p]), dtype: x.dtype };
    },
    evaluate: ([x], [t], { perm }, out) => E.transpose(x, t.shape, perm, out),
  } satisfies OpDef<AttrsMap['transpose']>,
  broadcast: {
    fusion: 'movement',
    infer([x], { shape }) {
      const off = shape.length - x.shape.length;
      const ok = off >= 0 && x.shape.every((d, i) => d === 1 || d === shape[off + i]);
      if (!ok) fail(`cannot broadcast ${shapeStr(x.shape)} to ${shapeStr(shape)}`);
      return { shape, dtype: x.dtype };
    },
    evaluate: ([x], [t], _a, out) => E.broadcast(x, t.shape, out),
  } satisfies OpDef<AttrsMap['broadcast']>,
  slice: {
    fusion: 'movement',
    infer([x], { begin, size, step }) {
      const r = x.shape.length;
      if (begin.length !== r || size.length !== r || step.length !== r) fail(`slice needs begin/size/step of rank ${r}`);
      x.shape.forEach((d, i) => {
        const last = begin[i] + (size[i] - 1) * step[i];
        const ok = step[i] !== 0 && size[i] >= 0 && (size[i] === 0 || (begin[i] >= 0 && begin[i] < d && last >= 0 && last < d));
        if (!ok) fail(`slice begin ${begin[i]} size ${size[i]} step ${step[i]} is out of bounds for axis ${i} of ${shapeStr(x.shape)}`);
      });
      return { shape: size, dtype: x.dtype };
    },
    evaluate: ([x], [t], a, out) => E.slice(x, t.shape, a.begin, a.step, out),
  } satisfies OpDef<AttrsMap['slice']>,
  concat: {
    fusion: 'opaque',
    infer(inputs, { axis }) {
      if (inputs.length === 0) fail('concat needs at least one operand');
      const ax = normalizeAxis(axis, inputs[0].shape.length);
      for (const t of inputs) {
        const ok = t.dtype === inputs[0].dtype && t.shape.length === inputs[0].shape.length && t.shape.every((d, i) => i === ax || d === inputs[0].shape[i]);
        if (!ok) fail(`concat on axis ${axis}: ${shapeStr(t.shape)} ${t.dtype} does not fit ${shapeStr(inputs[0].shape)} ${inputs[0].dtype}`);
      }
      const shape = [...inputs[0].shape];
      shape[ax] = inputs.reduce((s, t) => s + t.shape[ax], 0);
      return { shape, dtype: inputs[0].dtype };
    },
    evaluate: (xs, ts, { axis }, out) => E.concat(xs, ts.map((t) => t.shape), normalizeAxis(axis, out.shape.length), out),
  } satisfies OpDef<AttrsMap['concat']>,
  gather: {
    fusion: 'opaque',
    infer([params, indices], { axis }) {
      if (!indices || indices.dtype !== 'int32') fail(`gather indices must be int32, got ${indices?.dtype}`);
      const ax = normalizeAxis(axis, params.shape.length);
      return { shape: [...params.shape.slice(0, ax), ...indices.shape, ...params.shape.slice(ax + 1)], dtype: params.dtype };
    },
    evaluate: ([p, i], [tp, ti], { axis }, out) => E.gather(p, tp.shape, i, sizeOf(ti.shape), normalizeAxis(axis, tp.shape.length), out),
  } satisfies OpDef<AttrsMap['gather']>,
};

/** Window positions along one axis of extent `n`, or an error naming the axis. */
export function windowCount(n: number, size: number, stride: number, dilation: number, axis: number): number {
  const positive = (v: number): boolean => Number.isInteger(v) && v > 0;
  if (!positive(size) || !positive(stride) || !positive(dilation)) fail(`window on axis ${axis} needs positive integer size, stride and dilation, got ${size}, ${stride}, ${dilation}`);
  const span = (size - 1) * dilation + 1;
  if (span > n) fail(`window of size ${size} (dilation ${dilation}, span ${span}) is larger than axis ${axis} of extent ${n}`);
  return Math.floor((n - span) / stride) + 1;
}

const WINDOW_OPS = {
  pad: {
    fusion: 'movement',
    infer([x], { low, high }) {
      const r = x.shape.length;
      if (low.length !== r || high.length !== r) fail(`pad needs low/high of rank ${r}, got ${shapeStr(low)} and ${shapeStr(high)}`);
      if ([...low, ...high].some((p) => !Number.isInteger(p) || p < 0)) fail(`pad amounts must be integers >= 0, got low ${shapeStr(low)} high ${shapeStr(high)}`);
      return { shape: x.shape.map((d, i) => d + low[i] + high[i]), dtype: x.dtype };
    },
    evaluate: ([x], [t], a, out) => E.pad(x, t.shape, a.low, a.value, out),
  } satisfies OpDef<AttrsMap['pad']>,
  window: {
    fusion: 'movement',
    infer([x], { size, strides, dilations }) {
      const r = x.shape.length;
      if (size.length !== r || strides.length !== r || dilations.length !== r) fail(`window needs size/strides/dilations of rank ${r}`);
      return { shape: [...x.shape.map((n, a) => windowCount(n, size[a], strides[a], dilations[a], a)), ...size], dtype: x.dtype };
    },
    evaluate: ([x], [t], a, out) => E.window(x, t.shape, a.strides, a.dilations, out),
  } satisfies OpDef<AttrsMap['window']>,
};

/** Shape of matmul's result, or an error message. */
export function matmulShape(a: Shape, b: Shape, transposeA: boolean, transposeB: boolean): Shape {
  if (a.length < 2 || b.length < 2) fail(`matmul needs rank >= 2 operands, got ${shapeStr(a)} and ${shapeStr(b)}`);
  const [m, ka] = transposeA ? [a[a.length - 1], a[a.length - 2]] : [a[a.length - 2], a[a.length - 1]];
  const [kb, n] = transposeB ? [b[b.length - 1], b[b.length - 2]] : [b[b.length - 2], b[b.length - 1]];
  if (ka !== kb) fail(`matmul inner dimensions differ: ${shapeStr(a)} and ${shapeStr(b)}`);
  const batchA = a.slice(0, -2);
  const batchB = b.slice(0, -2);
  if (batchB.length > 0 && !sameShape(batchA, batchB)) fail(`matmul batch dimensions differ: ${shapeStr(a)} and ${shapeStr(b)}`);
  return [...batchA, m, n];
}

const COMPUTE_OPS = {
  select: {
    fusion: 'elementwise',
    infer(inputs) {
      arity(inputs, 3);
      sameShapes(inputs);
      if (inputs[0].dtype !== 'bool') fail(`select condition must be bool, got ${inputs[0].dtype}`);
      if (inputs[1].dtype !== inputs[2].dtype) fail(`select branches differ: ${inputs[1].dtype} vs ${inputs[2].dtype}`);
      return inputs[1];
    },
    evaluate: ([c, a, b], _t, _a, out) => E.select(c, a, b, out),
  } satisfies OpDef<NoAttrs>,
  cast: {
    fusion: 'elementwise',
    infer: ([x], { dtype }) => ({ shape: x.shape, dtype }),
    evaluate: ([x], [t], _a, out) => E.cast(x, t.dtype, out),
  } satisfies OpDef<AttrsMap['cast']>,
  reduce_sum: reduceDef('sum'),
  reduce_max: reduceDef('max'),
  reduce_min: reduceDef('min'),
  matmul: {
    fusion: 'contraction',
    infer([a, b], { transposeA, transposeB }) {
      if (a.dtype !== b.dtype || !isFloat(a.dtype)) fail(`matmul needs float operands of one dtype, got ${a.dtype} and ${b.dtype}`);
      return { shape: matmulShape(a.shape, b.shape, transposeA, transposeB), dtype: a.dtype };
    },
    evaluate: ([a, b], [ta, tb], attrs, out) => E.matmul(a, ta.shape, b, tb.shape, attrs.transposeA, attrs.transposeB, out),
  } satisfies OpDef<AttrsMap['matmul']>,
};

const ELEMENTWISE_OPS = Object.fromEntries([
  ...UNARY_OPS.map((op) => [op, unaryDef(op)]),
  ...BINARY_OPS.map((op) => [op, binaryDef(op)]),
]) as { [P in UnaryOp | BinaryOp]: OpDef<NoAttrs> };

export const OPS: OpTable = { ...SOURCE_OPS, ...SHAPE_OPS, ...WINDOW_OPS, ...COMPUTE_OPS, scan: SCAN_DEF, scatter_add: SCATTER_ADD_DEF, ...ELEMENTWISE_OPS };

export const OP_NAMES = Object.keys(OPS) as OpName[];

export function isUnaryOp(op: OpName): op is UnaryOp {
  return (UNARY_OPS as readonly string[]).includes(op);
}

export function isBinaryOp(op: OpName): op is BinaryOp {
  return (BINARY_OPS as readonly string[]).includes(op);
}

export { normalizeAxis };
