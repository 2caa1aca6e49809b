/**
 * Keras 2 losses as IR builder functions (keras/losses.py with the
 * TensorFlow backend): each maps (yTrue, yPred) of shape [batch, ...] to a
 * per-sample loss of shape [batch]. Probabilities are clipped to
 * [epsilon, 1 - epsilon] as Keras does, so crossentropies stay finite at
 * extreme predictions.
 */
import type { GraphBuilder, Value } from '../ir/graph.js';
import { type KFunction, traceK } from './backend.js';
import { oneHot } from './tensor_ops.js';
import { describeValue, ownEntry } from './validation.js';

export type Loss = (b: GraphBuilder, yTrue: Value, yPred: Value) => Value;

export const EPSILON = 1e-7;

const lastAxis = (x: Value): number => x.shape.length - 1;
const mean = (b: GraphBuilder, x: Value): Value => (x.shape.length > 1 ? b.mean(x, lastAxis(x)) : x);
const sum = (b: GraphBuilder, x: Value): Value => (x.shape.length > 1 ? b.sum(x, lastAxis(x)) : x);
const clip = (b: GraphBuilder, x: Value, lo: number, hi: number): Value => b.minimum(b.maximum(x, lo), hi);
const square = (b: GraphBuilder, x: Value): Value => b.mul(x, x);

function categoricalCrossentropy(b: GraphBuilder, yTrue: Value, yPred: Value): Value {
  const p = clip(b, b.div(yPred, b.sum(yPred, lastAxis(yPred), true)), EPSILON, 1 - EPSILON);
  return b.unary('neg', sum(b, b.mul(yTrue, b.unary('log', p))));
}

/** Integer class labels ([batch] or [batch, 1]) against probabilities [batch, classes]. */
function sparseCategoricalCrossentropy(b: GraphBuilder, yTrue: Value, yPred: Value): Value {
  return categoricalCrossentropy(b, oneHot(b, yTrue, yPred), yPred);
}

function binaryCrossentropy(b: GraphBuilder, yTrue: Value, yPred: Value): Value {
  const p = clip(b, yPred, EPSILON, 1 - EPSILON);
  const terms = b.add(b.mul(yTrue, b.unary('log', p)), b.mul(b.sub(1, yTrue), b.unary('log', b.sub(1, p))));
  return mean(b, b.unary('neg', terms));
}

function l2Normalize(b: GraphBuilder, x: Value): Value {
  const norm = b.unary('sqrt', b.maximum(b.sum(square(b, x), lastAxis(x), true), 1e-12));
  return b.div(x, norm);
}

export const LOSSES: Readonly<Record<string, Loss>> = {
  mean_squared_error: (b, t, p) => mean(b, square(b, b.sub(p, t))),
  mean_absolute_error: (b, t, p) => mean(b, b.unary('abs', b.sub(p, t))),
  mean_absolute_percentage_error: (b, t, p) => b.mul(mean(b, b.unary('abs', b.div(b.sub(t, p), clip(b, b.unary('abs', t), EPSILON, Infinity)))), 100),
  mean_squared_logarithmic_error: (b, t, p) => {
    const lp = b.unary('log1p', b.maximum(p, EPSILON));
    const lt = b.unary('log1p', b.maximum(t, EPSILON));
    return mean(b, square(b, b.sub(lp, lt)));
  },
  squared_hinge: (b, t, p) => mean(b, square(b, b.maximum(b.sub(1, b.mul(t, p)), 0))),
  hinge: (b, t, p) => mean(b, b.maximum(b.sub(1, b.mul(t, p)), 0)),
  categorical_hinge: (b, t, p) => {
    const pos = sum(b, b.mul(t, p));
    const neg = b.max(b.mul(b.sub(1, t), p), lastAxis(p));
    return b.maximum(b.add(b.sub(neg, pos), 1), 0);
  },
  logcosh: (b, t, p) => {
    // log(cosh(x)) = x + softplus(-2x) - log(2), stable for large |x|
    const x = b.sub(p, t);
    const m2x = b.mul(x, -2);
    const softplus = b.add(b.unary('log1p', b.unary('exp', b.unary('neg', b.unary('abs', m2x)))), b.maximum(m2x, 0));
    return mean(b, b.sub(b.add(x, softplus), Math.LN2));
  },
  categorical_crossentropy: categoricalCrossentropy,
  sparse_categorical_crossentropy: sparseCategoricalCrossentropy,
  binary_crossentropy: binaryCrossentropy,
  kullback_leibler_divergence: (b, t, p) => {
    const tc = clip(b, t, EPSILON, 1);
    const pc = clip(b, p, EPSILON, 1);
    return sum(b, b.mul(tc, b.unary('log', b.div(tc, pc))));
  },
  poisson: (b, t, p) => mean(b, b.sub(p, b.mul(t, b.unary('log', b.add(p, EPSILON))))),
  cosine_proximity: (b, t, p) => b.unary('neg', sum(b, b.mul(l2Normalize(b, t), l2Normalize(b, p)))),
};

export const LOSS_ALIASES: Readonly<Record<string, string>> = {
  mse: 'mean_squared_error', mae: 'mean_absolute_error', mape: 'mean_absolute_percentage_error',
  msle: 'mean_squared_logarithmic_error', kld: 'kullback_leibler_divergence', cosine: 'cosine_proximity',
};

/**
 * Resolves a loss name or alias (unknown names list the valid ones), or a
 * custom function: `(yTrue, yPred) => K...` over the K namespace, or
 * `(b, yTrue, yPred) => Value` over the IR builder.
 */
export function getLoss(id: string | Loss | KFunction): { name: string; fn: Loss } {
  if (typeof id === 'function') return { name: id.name || 'custom_loss', fn: id.length === 2 ? traceK(id as KFunction) : (id as Loss) };
  const name = ownEntry(LOSS_ALIASES, id) ?? id;
  const fn = ownEntry(LOSSES, name);
  if (!fn) throw new Error(`Unknown loss ${typeof id === 'string' ? `'${id}'` : describeValue(id)}. Valid losses: ${[...Object.keys(LOSSES), ...Object.keys(LOSS_ALIASES)].join(', ')}`);
  return { name, fn };
}
