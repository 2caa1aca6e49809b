/**
 * Keras 2 metrics as IR builder functions: each maps (yTrue, yPred) to a
 * per-sample value of shape [batch]; the train and test programs average
 * them over the batch. Loss functions double as metrics, as in Keras.
 */
import type { GraphBuilder, Value } from '../ir/graph.js';
import { type KFunction, traceK } from './backend.js';
import { LOSSES, LOSS_ALIASES, type Loss } from './losses.js';
import { argmax, oneHot } from './tensor_ops.js';
import { describeValue, ownEntry } from './validation.js';

export type Metric = Loss;

const asFloat = (b: GraphBuilder, x: Value): Value => b.cast(x, 'float32');
const labels = (b: GraphBuilder, t: Value): Value => asFloat(b, b.reshape(t, [t.shape[0]]));

function inTopK(b: GraphBuilder, onehot: Value, p: Value, k: number): Value {
  const axis = p.shape.length - 1;
  const target = b.sum(b.mul(onehot, p), axis, true);
  const above = b.sum(asFloat(b, b.binary('gt', p, target)), axis);
  return asFloat(b, b.binary('lt', above, k));
}

export const METRICS: Readonly<Record<string, Metric>> = {
  binary_accuracy: (b, t, p) => b.mean(asFloat(b, b.binary('eq', t, b.unary('round', p))), p.shape.length - 1),
  categorical_accuracy: (b, t, p) => asFloat(b, b.binary('eq', argmax(b, t), argmax(b, p))),
  sparse_categorical_accuracy: (b, t, p) => asFloat(b, b.binary('eq', labels(b, t), argmax(b, p))),
  top_k_categorical_accuracy: (b, t, p) => inTopK(b, oneHot(b, argmax(b, t), p), p, 5),
  sparse_top_k_categorical_accuracy: (b, t, p) => inTopK(b, oneHot(b, t, p), p, 5),
  ...LOSSES,
};

/**
 * Resolves a metric as Keras 2 does: 'accuracy'/'acc' become binary,
 * categorical or sparse accuracy from the loss and output shape, and keep the
 * name the user gave (Keras reports 'acc' for 'acc').
 */
export function getMetric(id: string | Metric | KFunction, lossName: string, outputShape: readonly (number | null)[]): { name: string; fn: Metric } {
  if (typeof id === 'function') return { name: id.name || 'custom_metric', fn: id.length === 2 ? traceK(id as KFunction) : (id as Metric) };
  if (id === 'accuracy' || id === 'acc') {
    const kind = lossName === 'binary_crossentropy' || outputShape[outputShape.length - 1] === 1 ? 'binary_accuracy'
      : lossName === 'sparse_categorical_crossentropy' ? 'sparse_categorical_accuracy' : 'categorical_accuracy';
    return { name: id, fn: METRICS[kind] };
  }
  const name = ownEntry(LOSS_ALIASES, id) ?? id;
  const fn = ownEntry(METRICS, name);
  if (!fn) throw new Error(`Unknown metric ${typeof id === 'string' ? `'${id}'` : describeValue(id)}. Valid metrics: accuracy, acc, ${Object.keys(METRICS).join(', ')}, ${Object.keys(LOSS_ALIASES).join(', ')}`);
  return { name: id, fn };
}
