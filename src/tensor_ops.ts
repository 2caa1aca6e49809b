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
