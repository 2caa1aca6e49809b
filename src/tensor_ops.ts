/** Small IR compositions shared by losses, metrics, noise layers and the K namespace. */
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

/** Standard normal values from two uniform [0, 1) streams of one shape (Box-Muller). */
export function normalFromUniforms(b: GraphBuilder, u1: Value, u2: Value): Value {
  const radius = b.unary('sqrt', b.mul(b.unary('log', b.sub(1, u1)), -2));
  return b.mul(radius, cosTwoPi(b, u2));
}

/** cos(2 pi u) for u in [0, 1), from a short even polynomial on the reduced argument. */
function cosTwoPi(b: GraphBuilder, u: Value): Value {
  // Reduce to t = 2 pi (u - 1/2) in [-pi, pi): cos(2 pi u) = -cos(t); then cos(t) by range-halving: cos(t) = 2 cos^2(t/2) - 1.
  const half = b.mul(b.sub(u, 0.5), Math.PI);
  const h2 = b.mul(half, half);
  // Taylor series of cos on [-pi/2, pi/2] to degree 12: error < 3e-9.
  const coeffs = [1, -1 / 2, 1 / 24, -1 / 720, 1 / 40320, -1 / 3628800, 1 / 479001600];
  let c: Value = b.mul(h2, coeffs[coeffs.length - 1]);
  for (let i = coeffs.length - 2; i > 0; i--) c = b.mul(b.add(c, coeffs[i]), h2);
  c = b.add(c, coeffs[0]);
  return b.unary('neg', b.sub(b.mul(b.mul(c, c), 2), 1));
}
