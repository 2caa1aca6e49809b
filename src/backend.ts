/**
 * `K`, the Keras backend namespace for custom losses and metrics:
 * `(yTrue, yPred) => K.mean(K.square(K.sub(yPred, yTrue)), -1)`. The
 * function is traced once into the train/test program's IR (never run per
 * step): K functions build IR nodes on the symbolic tensors they receive.
 */
import type { GraphBuilder, Value } from '../ir/graph.js';
import { softmax as softmaxIr } from './activations.js';
import { argmax as argmaxIr, batchDot as batchDotIr, l2Normalize as l2NormalizeIr, normalFromUniforms } from './tensor_ops.js';

/** A symbolic tensor inside a traced K function. */
export class KTensor {
  constructor(readonly builder: GraphBuilder, readonly value: Value) {}

  get shape(): readonly number[] {
    return this.value.shape;
  }
}

/** A weight of the layer being traced: K operations read it as the program's value of that weight. */
export interface WeightLike {
  readonly name: string;
  readonly shape: readonly number[];
  value: Float32Array;
}

type Operand = KTensor | number | WeightLike;

/** The program a custom layer or Lambda is being traced into: its builder, weights and learning phase. */
export interface Trace {
  readonly builder: GraphBuilder;
  weight(w: WeightLike): Value;
  readonly training: boolean;
  /**
   * Uniform [0, 1) values of `shape` in the builder, new at every training
   * step (and at every step of a loop for an RNN cell's call); absent
   * where the program draws none (inference, losses).
   */
  random?(shape: readonly number[], seed: number | undefined): Value;
}

let active: Trace | null = null;

/** Runs `fn` with `trace` as the program K operations on weights and the learning phase refer to. */
export function withTrace<T>(trace: Trace, fn: () => T): T {
  const outer = active;
  active = trace;
  try {
    return fn();
  } finally {
    active = outer;
  }
}

const isWeight = (x: unknown): x is WeightLike => typeof x === 'object' && x !== null && !(x instanceof KTensor) && x.constructor === Object && 'value' in x && (x as WeightLike).value instanceof Float32Array;

function tracing(what: string): Trace {
  if (!active) throw new Error(`K.${what}: weights and the learning phase are only available while a layer is traced (inside call())`);
  return active;
}

function builderOf(...xs: Operand[]): GraphBuilder {
  const t = xs.find((x): x is KTensor => x instanceof KTensor);
  if (t) return t.builder;
  if (xs.some(isWeight)) return tracing('op').builder;
  throw new Error('K: at least one operand must be a tensor');
}

const raw = (x: Operand): Value | number => (x instanceof KTensor ? x.value : isWeight(x) ? tracing('op').weight(x) : x);
/** An operand as a K tensor (weights read through the active trace). */
const tensorOf = (x: KTensor | WeightLike): KTensor => (x instanceof KTensor ? x : new KTensor(tracing('op').builder, raw(x) as Value));
const wrap = (b: GraphBuilder, v: Value): KTensor => new KTensor(b, v);
const unary = (op: Parameters<GraphBuilder['unary']>[0]) => (x: KTensor): KTensor => wrap(x.builder, x.builder.unary(op, x.value));
const binary = (op: Parameters<GraphBuilder['binary']>[0]) => (x: Operand, y: Operand): KTensor => {
  const b = builderOf(x, y);
  return wrap(b, b.binary(op, raw(x), raw(y)));
};
const reduce = (kind: 'sum' | 'max' | 'min' | 'mean') => (x: KTensor, axis?: number | number[] | null, keepdims = false): KTensor =>
  wrap(x.builder, x.builder[kind](x.value, axis ?? undefined, keepdims));

/** Keras's -1 in a target shape: the one dimension that makes the sizes match. */
function resolveShape(from: readonly number[], shape: readonly number[]): number[] {
  const size = from.reduce((p, d) => p * d, 1);
  const known = shape.filter((d) => d !== -1).reduce((p, d) => p * d, 1);
  return shape.map((d) => (d === -1 ? size / known : d));
}

const axisOf = (x: KTensor, axis: number): number => (axis < 0 ? axis + x.shape.length : axis);

/** Running sums along `axis`: a product with the upper-triangular ones matrix. */
function cumsumIr(x: KTensor, axis: number): KTensor {
  const b = x.builder;
  const a = axisOf(x, axis);
  const n = x.shape[a];
  const last = wrap(b, b.transpose(x.value, [...x.shape.map((_, i) => i).filter((i) => i !== a), a]));
  const upper = b.cast(b.binary('le', b.iota([n, n], 0), b.iota([n, n], 1)), x.value.dtype);
  const rows = b.reshape(last.value, [last.shape.slice(0, -1).reduce((p, d) => p * d, 1), n]);
  const summed = b.reshape(b.matmul(rows, upper), last.shape);
  const inverse = x.shape.map((_, i) => i);
  const order = [...x.shape.map((_, i) => i).filter((i) => i !== a), a];
  order.forEach((src, dst) => (inverse[src] = dst));
  return wrap(b, b.transpose(summed, inverse));
}

const K_SHAPE_OPS = {
  /** Keras's dot: a matrix product over x's last axis and y's first (x may have more axes). */
  dot: (x: KTensor | WeightLike, y: KTensor | WeightLike): KTensor => {
    const [a, c] = [tensorOf(x), tensorOf(y)];
    const b = a.builder;
    if (c.shape.length !== 2) throw new Error(`K.dot: the second operand must be a matrix, got shape [${c.shape.join(', ')}]`);
    if (a.shape.length === 2) return wrap(b, b.matmul(a.value, c.value));
    const rows = b.reshape(a.value, [a.shape.slice(0, -1).reduce((p, d) => p * d, 1), a.shape[a.shape.length - 1]]);
    return wrap(b, b.reshape(b.matmul(rows, c.value), [...a.shape.slice(0, -1), c.shape[1]]));
  },
  /** Keras's batch_dot over `axes` (one for both operands or a pair). */
  batchDot: (x: KTensor, y: KTensor, axes: number | readonly [number, number]): KTensor => {
    const [ax, ay] = typeof axes === 'number' ? [axes, axes] : axes;
    return wrap(x.builder, batchDotIr(x.builder, x.value, y.value, axisOf(x, ax), axisOf(y, ay)));
  },
  concatenate: (xs: readonly KTensor[], axis = -1): KTensor => wrap(xs[0].builder, xs[0].builder.concat(xs.map((x) => x.value), axisOf(xs[0], axis))),
  stack: (xs: readonly KTensor[], axis = 0): KTensor => {
    const b = xs[0].builder;
    const a = axis < 0 ? axis + xs[0].shape.length + 1 : axis;
    return wrap(b, b.concat(xs.map((x) => b.reshape(x.value, [...x.shape.slice(0, a), 1, ...x.shape.slice(a)])), a));
  },
  reshape: (x: KTensor, shape: readonly number[]): KTensor => wrap(x.builder, x.builder.reshape(x.value, resolveShape(x.shape, shape))),
  permuteDimensions: (x: KTensor, pattern: readonly number[]): KTensor => wrap(x.builder, x.builder.transpose(x.value, pattern)),
  transpose: (x: KTensor): KTensor => wrap(x.builder, x.builder.transpose(x.value, x.shape.map((_, i) => x.shape.length - 1 - i))),
  expandDims: (x: KTensor, axis = -1): KTensor => {
    const a = axis < 0 ? axis + x.shape.length + 1 : axis;
    return wrap(x.builder, x.builder.reshape(x.value, [...x.shape.slice(0, a), 1, ...x.shape.slice(a)]));
  },
  squeeze: (x: KTensor, axis: number): KTensor => {
    const a = axisOf(x, axis);
    if (x.shape[a] !== 1) throw new Error(`K.squeeze: axis ${axis} has size ${x.shape[a]}, not 1`);
    return wrap(x.builder, x.builder.reshape(x.value, x.shape.filter((_, i) => i !== a)));
  },
  /** Each element repeated `rep` times along `axis` (Keras's repeat_elements). */
  repeatElements: (x: KTensor, rep: number, axis: number): KTensor => {
    const b = x.builder;
    const a = axisOf(x, axis);
    const widened = b.broadcastTo(b.reshape(x.value, [...x.shape.slice(0, a + 1), 1, ...x.shape.slice(a + 1)]), [...x.shape.slice(0, a + 1), rep, ...x.shape.slice(a + 1)]);
    return wrap(b, b.reshape(widened, x.shape.map((d, i) => (i === a ? d * rep : d))));
  },
  /** The whole tensor repeated n[i] times along axis i (Keras's tile). */
  tile: (x: KTensor, n: number | readonly number[]): KTensor => {
    const b = x.builder;
    const reps = typeof n === 'number' ? [n] : n;
    let v = x.value;
    reps.forEach((r, i) => {
      if (r !== 1) v = b.concat(Array(r).fill(v), i);
    });
    return wrap(b, v);
  },
  /** Rows of `reference` picked by integer `indices` (Keras's gather). */
  gather: (reference: KTensor | WeightLike, indices: KTensor): KTensor => {
    const r = tensorOf(reference);
    return wrap(r.builder, r.builder.gather(r.value, indices.value, 0));
  },
  oneHot: (indices: KTensor, numClasses: number): KTensor => {
    const b = indices.builder;
    const shape = [...indices.shape, numClasses];
    const hit = b.binary('eq', b.broadcastTo(b.reshape(b.cast(indices.value, 'int32'), [...indices.shape, 1]), shape), b.iota(shape, shape.length - 1));
    return wrap(b, b.cast(hit, 'float32'));
  },
  argmin: (x: KTensor, axis = -1): KTensor => K_SHAPE_OPS.argmaxAxis(wrap(x.builder, x.builder.unary('neg', x.value)), axis),
  /** Index of the first maximum along `axis`. */
  argmaxAxis: (x: KTensor, axis = -1): KTensor => {
    const b = x.builder;
    const a = axisOf(x, axis);
    const isMax = b.binary('eq', x.value, b.max(x.value, a, true));
    return wrap(b, b.min(b.select(isMax, b.iota(x.shape, a, 'float32'), x.shape[a]), a));
  },
  cumsum: (x: KTensor, axis = 0): KTensor => cumsumIr(x, axis),
  /** Running products: signs and zeros counted, magnitudes through running sums of logs. */
  cumprod: (x: KTensor, axis = 0): KTensor => {
    const b = x.builder;
    const f = (v: Value): KTensor => wrap(b, v);
    const zero = b.cast(b.binary('eq', x.value, 0), 'float32');
    const negative = b.cast(b.binary('lt', x.value, 0), 'float32');
    const logs = b.unary('log', b.add(b.unary('abs', x.value), zero));
    const magnitude = b.unary('exp', cumsumIr(f(logs), axis).value);
    const negatives = cumsumIr(f(negative), axis).value;
    const odd = b.sub(negatives, b.mul(b.unary('floor', b.div(negatives, 2)), 2));
    const signed = b.mul(magnitude, b.sub(1, b.mul(odd, 2)));
    return f(b.select(b.binary('gt', cumsumIr(f(zero), axis).value, 0), 0, signed));
  },
  prod: (x: KTensor, axis?: number, keepdims = false): KTensor => {
    const a = axis ?? -1;
    const all = axis === undefined ? K_SHAPE_OPS.reshape(x, [-1]) : x;
    const running = K_SHAPE_OPS.cumprod(all, a);
    const at = axisOf(all, a);
    const last = running.builder.slice(running.value, all.shape.map(() => 0).map((z, i) => (i === at ? all.shape[i] - 1 : z)), all.shape.map((d, i) => (i === at ? 1 : d)));
    const out = wrap(x.builder, last);
    return keepdims && axis !== undefined ? out : wrap(x.builder, x.builder.reshape(last, axis === undefined ? [] : all.shape.filter((_, i) => i !== at)));
  },
  var: (x: KTensor, axis?: number | number[], keepdims = false): KTensor => {
    const b = x.builder;
    const centered = b.sub(x.value, b.mean(x.value, axis, true));
    return wrap(b, b.mean(b.mul(centered, centered), axis, keepdims));
  },
  std: (x: KTensor, axis?: number | number[], keepdims = false): KTensor => wrap(x.builder, x.builder.unary('sqrt', K_SHAPE_OPS.var(x, axis, keepdims).value)),
  any: (x: KTensor, axis?: number | number[], keepdims = false): KTensor => wrap(x.builder, x.builder.cast(x.builder.max(x.builder.cast(x.builder.binary('ne', x.value, 0), 'float32'), axis, keepdims), 'bool')),
  all: (x: KTensor, axis?: number | number[], keepdims = false): KTensor => wrap(x.builder, x.builder.cast(x.builder.min(x.builder.cast(x.builder.binary('ne', x.value, 0), 'float32'), axis, keepdims), 'bool')),
  l2Normalize: (x: KTensor, axis = -1): KTensor => wrap(x.builder, l2NormalizeIr(x.builder, x.value, axisOf(x, axis))),
  zerosLike: (x: KTensor): KTensor => wrap(x.builder, x.builder.broadcastTo(x.builder.constant(0, [], x.value.dtype), x.shape)),
  onesLike: (x: KTensor): KTensor => wrap(x.builder, x.builder.broadcastTo(x.builder.constant(1, [], x.value.dtype), x.shape)),
  intShape: (x: KTensor): readonly number[] => x.shape,
  ndim: (x: KTensor): number => x.shape.length,
  softplus: (x: KTensor): KTensor => wrap(x.builder, x.builder.unary('log1p', x.builder.unary('exp', x.value))),
};

/** Uniform [0, 1) values of `shape` from the active trace's random stream. */
function uniform(what: string, shape: readonly number[], seed: number | undefined): KTensor {
  const t = tracing(what);
  if (!Array.isArray(shape) || shape.some((d) => !Number.isInteger(d) || d < 1)) throw new Error(`K.${what}: shape must be a list of positive integers, got ${JSON.stringify(shape)}`);
  if (!t.training || !t.random) {
    throw new Error(`K.${what}: random values are only drawn in training programs (a layer's or an RNN cell's call traced for fit); write K.inTrainPhase(() => ..., alt) so the draw is traced in training only, or use K.dropout, which is the identity outside training`);
  }
  return wrap(t.builder, t.random(shape, seed));
}

/**
 * Keras's random ops, for a layer's or RNN cell's call: drawn fresh at every
 * training step (in a cell, at every time step), from Philox streams keyed
 * by `seed` (default: one per draw, from the layer's name).
 */
const K_RANDOM_OPS = {
  randomUniform: (shape: readonly number[], minval = 0, maxval = 1, _dtype?: string, seed?: number): KTensor => {
    const u = uniform('randomUniform', shape, seed);
    return wrap(u.builder, u.builder.add(u.builder.mul(u.value, maxval - minval), minval));
  },
  randomNormal: (shape: readonly number[], mean = 0, stddev = 1, _dtype?: string, seed?: number): KTensor => {
    const u = uniform('randomNormal', [2, ...shape], seed);
    const b = u.builder;
    const half = (i: number): Value => b.reshape(b.slice(u.value, [i, ...shape.map(() => 0)], [1, ...shape]), [...shape]);
    return wrap(b, b.add(b.mul(normalFromUniforms(b, half(0), half(1)), stddev), mean));
  },
  /** 1 with probability p, else 0 (Keras's random_binomial). */
  randomBinomial: (shape: readonly number[], p = 0, _dtype?: string, seed?: number): KTensor => {
    const u = uniform('randomBinomial', shape, seed);
    return wrap(u.builder, u.builder.select(u.builder.binary('lt', u.value, p), 1, 0));
  },
  /**
   * Keras's dropout: x zeroed with probability `level`, the rest scaled by
   * 1 / (1 - level); one draw per element of `noiseShape` (default x's
   * shape, broadcast over axes of size 1). The identity outside training.
   */
  dropout: (x: KTensor, level: number, noiseShape?: readonly number[] | null, seed?: number): KTensor => {
    if (typeof level !== 'number' || !(level >= 0 && level < 1)) throw new Error(`K.dropout: level must be in [0, 1), got ${String(level)}`);
    if (!tracing('dropout').training || level === 0) return x;
    const shape = noiseShape ?? x.shape;
    if (shape.length !== x.shape.length || shape.some((d, i) => d !== 1 && d !== x.shape[i])) throw new Error(`K.dropout: noiseShape [${shape.join(', ')}] does not broadcast to the input's shape [${x.shape.join(', ')}]`);
    const b = x.builder;
    const keep = b.broadcastTo(b.binary('ge', uniform('dropout', shape, seed).value, level), x.shape);
    return wrap(b, b.select(keep, b.mul(x.value, 1 / (1 - level)), 0));
  },
};

export const K = {
  epsilon: (): number => 1e-7,
  add: binary('add'), sub: binary('sub'), mul: binary('mul'), div: binary('div'), pow: binary('pow'),
  maximum: binary('maximum'), minimum: binary('minimum'),
  equal: binary('eq'), notEqual: binary('ne'), greater: binary('gt'), greaterEqual: binary('ge'), less: binary('lt'), lessEqual: binary('le'),
  abs: unary('abs'), exp: unary('exp'), log: unary('log'), sqrt: unary('sqrt'), sign: unary('sign'), round: unary('round'),
  tanh: unary('tanh'), sigmoid: unary('sigmoid'), neg: unary('neg'),
  square: (x: KTensor): KTensor => wrap(x.builder, x.builder.mul(x.value, x.value)),
  sum: reduce('sum'), max: reduce('max'), min: reduce('min'), mean: reduce('mean'),
  clip: (x: KTensor, lo: number, hi: number): KTensor => wrap(x.builder, x.builder.minimum(x.builder.maximum(x.value, lo), hi)),
  relu: (x: KTensor): KTensor => wrap(x.builder, x.builder.maximum(x.value, 0)),
  softmax: (x: KTensor, axis = -1): KTensor => wrap(x.builder, softmaxIr(x.builder, x.value, axis)),
  argmax: (x: KTensor): KTensor => wrap(x.builder, argmaxIr(x.builder, x.value)),
  cast: (x: KTensor, dtype: 'float32' | 'int32' | 'bool'): KTensor => wrap(x.builder, x.builder.cast(x.value, dtype)),
  switch: (cond: KTensor, a: Operand, c: Operand): KTensor => wrap(cond.builder, cond.builder.select(cond.value, raw(a), raw(c))),
  /** The learning phase of the program being traced: `x` in training, `alt` otherwise (Keras's in_train_phase). */
  inTrainPhase: (x: Operand | (() => Operand), alt: Operand | (() => Operand), training?: boolean): Operand => {
    const pick = (training ?? tracing('inTrainPhase').training) ? x : alt;
    return typeof pick === 'function' ? pick() : pick;
  },
  inTestPhase: (x: Operand | (() => Operand), alt: Operand | (() => Operand), training?: boolean): Operand => {
    const pick = (training ?? tracing('inTestPhase').training) ? alt : x;
    return typeof pick === 'function' ? pick() : pick;
  },
  /** 1 in training programs, 0 otherwise (Keras's learning_phase(), fixed per compiled program). */
  learningPhase: (): number => (tracing('learningPhase').training ? 1 : 0),
  ...K_SHAPE_OPS,
  ...K_RANDOM_OPS,
};

export type KFunction = (yTrue: KTensor, yPred: KTensor) => KTensor;

/** Traces a K function into IR builder form (b, yTrue, yPred) => Value. */
export function traceK(fn: KFunction): (b: GraphBuilder, yTrue: Value, yPred: Value) => Value {
  const traced = (b: GraphBuilder, yTrue: Value, yPred: Value): Value => {
    const out = fn(new KTensor(b, yTrue), new KTensor(b, yPred));
    if (!(out instanceof KTensor)) throw new Error(`custom function ${fn.name || '(anonymous)'} must return a K tensor, got ${typeof out}`);
    return out.value;
  };
  Object.defineProperty(traced, 'name', { value: fn.name });
  return traced;
}
