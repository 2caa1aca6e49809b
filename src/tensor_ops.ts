/** Small IR compositions shared by losses, metrics and the K namespace. */
import type { GraphBuilder, Value } from '../ir/graph.js';

/** Index of the first maximum along the last axis, as float32. */
export function argmax(b: GraphBuilder, x: Value): Value {
  const axis = x.shape.length - 1;
  const isMax = b.binary('eq', x, b.max(x, axis, true));
  const index = b.iota(x.shape, axis, 'float32');
  return b.min(b.select(isMax, index, x.shape[axis]), axis);
}

/** One-hot rows (like `like`) for integer labels of shape [batch] or [batch, 1]. */
export function oneHot(b: GraphBuilder, labels: Value, like: Value): Value {
  const classes = like.shape[like.shape.length - 1];
  const flat = b.reshape(b.cast(labels, 'int32'), [like.shape[0], 1]);
  const hit = b.binary('eq', b.broadcastTo(flat, [like.shape[0], classes]), b.iota([like.shape[0], classes], 1));
  return b.cast(hit, like.dtype);
}

/** x / sqrt(max(sum(x^2, axis), 1e-12)), as Keras's l2_normalize. */
export function l2Normalize(b: GraphBuilder, x: Value, axis: number): Value {
  const norm = b.unary('sqrt', b.maximum(b.sum(b.mul(x, x), axis, true), 1e-12));
  return b.div(x, norm);
}

/**
 * Keras's batch_dot of x and y over axes [ax, ay]: per sample, the
 * contraction of x's axis ax with y's axis ay; the result holds x's other
 * axes then y's, and gains a trailing 1 when nothing but the batch is left.
 */
export function batchDot(b: GraphBuilder, x: Value, y: Value, ax: number, ay: number): Value {
  const batch = x.shape[0];
  const rest = (v: Value, a: number): number[] => v.shape.filter((_, i) => i !== 0 && i !== a);
  const [xr, yr] = [rest(x, ax), rest(y, ay)];
  const size = (s: readonly number[]): number => s.reduce((p, d) => p * d, 1);
  const xm = b.reshape(b.transpose(x, [0, ...x.shape.map((_, i) => i).filter((i) => i !== 0 && i !== ax), ax]), [batch, size(xr), x.shape[ax]]);
  const ym = b.reshape(b.transpose(y, [0, ay, ...y.shape.map((_, i) => i).filter((i) => i !== 0 && i !== ay)]), [batch, y.shape[ay], size(yr)]);
  const out = [...xr, ...yr];
  return b.reshape(b.matmul(xm, ym), [batch, ...(out.length ? out : [1])]);
}
