/**
 * Keras 2 activations as IR builder functions (keras/activations.py and the
 * TensorFlow backend's K.relu/K.elu/K.softmax), looked up by name.
 */
import type { GraphBuilder, Value } from '../ir/graph.js';
import { KTensor } from './backend.js';
import { ownEntry } from './validation.js';

export type Activation = (b: GraphBuilder, x: Value) => Value;

export interface ReluOptions {
  readonly alpha?: number;
  readonly maxValue?: number | null;
  readonly threshold?: number;
}

/** K.relu(x, alpha, max_value, threshold) of Keras 2.2. */
export function relu(b: GraphBuilder, x: Value, { alpha = 0, maxValue = null, threshold = 0 }: ReluOptions = {}): Value {
  if (alpha !== 0 && maxValue === null && threshold === 0) {
    // tf.nn.leaky_relu
    return alpha <= 1 ? b.maximum(b.mul(x, alpha), x) : b.select(b.binary('gt', x, 0), x, b.mul(x, alpha));
  }
  const negative = alpha !== 0 ? b.maximum(b.add(b.unary('neg', x), threshold), 0) : null;
  let y = threshold !== 0 ? b.mul(x, b.cast(b.binary('gt', x, threshold), x.dtype)) : b.maximum(x, 0);
  if (maxValue !== null) y = b.minimum(b.maximum(y, 0), maxValue);
  return negative ? b.sub(y, b.mul(negative, alpha)) : y;
}

export function elu(b: GraphBuilder, x: Value, alpha = 1): Value {
  const neg = b.unary('expm1', b.minimum(x, 0));
  return b.select(b.binary('gt', x, 0), x, alpha === 1 ? neg : b.mul(neg, alpha));
}

export function softmax(b: GraphBuilder, x: Value, axis = -1): Value {
  const e = b.unary('exp', b.sub(x, b.max(x, axis, true)));
  return b.div(e, b.sum(e, axis, true));
}

const SELU_ALPHA = 1.6732632423543772848170429916717;
const SELU_SCALE = 1.0507009873554804934193349852946;

export const linear = (_b: GraphBuilder, x: Value): Value => x;
export const selu = (b: GraphBuilder, x: Value): Value => b.mul(elu(b, x, SELU_ALPHA), SELU_SCALE);
/** log(1 + exp(x)) in the form that neither overflows nor loses small values. */
export const softplus = (b: GraphBuilder, x: Value): Value => b.add(b.unary('log1p', b.unary('exp', b.unary('neg', b.unary('abs', x)))), b.maximum(x, 0));
export const softsign = (b: GraphBuilder, x: Value): Value => b.div(x, b.add(b.unary('abs', x), 1));
export const tanh = (b: GraphBuilder, x: Value): Value => b.unary('tanh', x);
export const sigmoid = (b: GraphBuilder, x: Value): Value => b.unary('sigmoid', x);
/** Keras 2's piecewise-linear sigmoid: clip(0.2 x + 0.5, 0, 1). */
export const hardSigmoid = (b: GraphBuilder, x: Value): Value => b.minimum(b.maximum(b.add(b.mul(x, 0.2), 0.5), 0), 1);
export const exponential = (b: GraphBuilder, x: Value): Value => b.unary('exp', x);

/** Every activation by its Keras name, with Keras's defaults. */
export const ACTIVATIONS: Readonly<Record<string, Activation>> = {
  linear,
  relu: (b, x) => relu(b, x),
  elu: (b, x) => elu(b, x),
  selu,
  softmax: (b, x) => softmax(b, x),
  softplus,
  softsign,
  tanh,
  sigmoid,
  hard_sigmoid: hardSigmoid,
  exponential,
};

/**
 * A custom activation, as Keras takes any callable: `x => K.mul(x, K.sigmoid(x))`
 * over the K namespace (traced into the program), or `(b, x) => Value` over the IR builder.
 */
export type CustomActivation = ((x: KTensor) => KTensor) | Activation;

export type ActivationIdentifier = string | null | undefined | CustomActivation | { className?: string; class_name?: string };

/** A custom activation's name: the function's own, except the one an object key lends an arrow (`activation: x => ...`). */
function customName(fn: CustomActivation): string {
  return fn.name && fn.name !== 'activation' ? fn.name : 'custom_activation';
}

function customActivation(fn: CustomActivation): { name: string; fn: Activation } {
  const name = customName(fn);
  if (fn.length === 2) return { name, fn: fn as Activation };
  if (fn.length !== 1) throw new Error(`Custom activation '${name}' must take one tensor (x => K.relu(x)) or (b, x) over the IR builder; it takes ${fn.length} arguments`);
  const traced: Activation = (b, x) => {
    const out = (fn as (x: KTensor) => KTensor)(new KTensor(b, x));
    if (!(out instanceof KTensor)) throw new Error(`Custom activation '${name}' must return a K tensor, got ${typeof out}`);
    if (out.shape.length !== x.shape.length || out.shape.some((d, i) => d !== x.shape[i])) {
      throw new Error(`Custom activation '${name}' must keep its input's shape [${x.shape.join(', ')}], got [${out.shape.join(', ')}]`);
    }
    return out.value;
  };
  return { name, fn: traced };
}

/** Resolves an activation name (or Keras config, or a custom function); unknown names list the valid ones. */
export function getActivation(id: ActivationIdentifier): { name: string; fn: Activation } {
  if (typeof id === 'function') return customActivation(id);
  const name = id === null || id === undefined ? 'linear' : typeof id === 'string' ? id : (id.className ?? id.class_name ?? '');
  const fn = ownEntry(ACTIVATIONS, name);
  if (!fn) throw new Error(`Unknown activation '${name}'. Valid activations: ${Object.keys(ACTIVATIONS).join(', ')}`);
  return { name, fn };
}

/** Keras's `activations.get(name)`: the builder function of a named activation. */
export function get(id: ActivationIdentifier): Activation {
  return getActivation(id).fn;
}
