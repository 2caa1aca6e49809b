/**
 * `K`, the Keras backend namespace for custom losses and metrics:
 * `(yTrue, yPred) => K.mean(K.square(K.sub(yPred, yTrue)), -1)`. The
 * function is traced once into the train/test program's IR (never run per
 * step): K functions build IR nodes on the symbolic tensors they receive.
 */
import type { GraphBuilder, Value } from '../ir/graph.js';
import { softmax as softmaxIr } from './activations.js';
import { argmax as argmaxIr } from './tensor_ops.js';

/** A symbolic tensor inside a traced K function. */
export class KTensor {
  constructor(readonly builder: GraphBuilder, readonly value: Value) {}

  get shape(): readonly number[] {
    return this.value.shape;
  }
}

type Operand = KTensor | number;

function builderOf(...xs: Operand[]): GraphBuilder {
  const t = xs.find((x): x is KTensor => x instanceof KTensor);
  if (!t) throw new Error('K: at least one operand must be a tensor');
  return t.builder;
}

const raw = (x: Operand): Value | number => (x instanceof KTensor ? x.value : x);
const wrap = (b: GraphBuilder, v: Value): KTensor => new KTensor(b, v);
const unary = (op: Parameters<GraphBuilder['unary']>[0]) => (x: KTensor): KTensor => wrap(x.builder, x.builder.unary(op, x.value));
const binary = (op: Parameters<GraphBuilder['binary']>[0]) => (x: Operand, y: Operand): KTensor => {
  const b = builderOf(x, y);
  return wrap(b, b.binary(op, raw(x), raw(y)));
};
const reduce = (kind: 'sum' | 'max' | 'min' | 'mean') => (x: KTensor, axis?: number | number[] | null, keepdims = false): KTensor =>
  wrap(x.builder, x.builder[kind](x.value, axis ?? undefined, keepdims));

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
