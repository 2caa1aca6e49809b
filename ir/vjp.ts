/**
 * Vector-Jacobian products, one per op, written with builder calls so that
 * gradients are IR too and go through the same passes as the forward graph.
 * Keyed by the op table's names: a new op fails `tsc` until it has an entry.
 * An entry returns one cotangent per input, or null where an input is not
 * differentiable (integer, bool, indices).
 */
import type { Shape } from './dtype.js';
import type { GraphBuilder, Value } from './graph.js';
import { type AttrsMap, type OpName, normalizeAxis } from './ops.js';
import { scanVjp } from './scan.js';
import { scatterWindows } from './window_vjp.js';

export interface VjpArgs<A> {
  readonly inputs: readonly Value[];
  readonly out: Value;
  readonly attrs: A;
  /** Cotangent of the output. */
  readonly g: Value;
}

type Vjp<A = unknown> = (b: GraphBuilder, args: VjpArgs<A>) => readonly (Value | null)[];
type AttrsOf<K extends OpName> = K extends keyof AttrsMap ? AttrsMap[K] : Record<string, never>;
export type VjpTable = { readonly [K in OpName]: Vjp<AttrsOf<K>> };

const none: Vjp = (_b, { inputs }) => inputs.map(() => null);
const zero = (b: GraphBuilder, like: Value): Value => b.broadcastTo(b.constant(0, [], like.dtype), like.shape);
const zeroGrad: Vjp = (b, { inputs: [x] }) => [zero(b, x)];

/** Sums `g` over the axes that broadcasting added to reach it from `shape`. */
export function unbroadcast(b: GraphBuilder, g: Value, shape: Shape): Value {
  const lead = g.shape.length - shape.length;
  const axes = g.shape.map((_, i) => i).filter((i) => i < lead || (shape[i - lead] === 1 && g.shape[i] !== 1));
  return axes.length ? b.reshape(b.sum(g, axes), shape) : g;
}

/** Spreads a reduced cotangent back over the reduced axes. */
function expand(b: GraphBuilder, g: Value, inShape: Shape, axes: readonly number[]): Value {
  const kept = inShape.map((d, i) => (axes.includes(i) ? 1 : d));
  return b.broadcastTo(b.reshape(g, kept), inShape);
}

function reduceExtremum(b: GraphBuilder, { inputs: [x], out, attrs, g }: VjpArgs<AttrsMap['reduce_max']>, op: 'ge' | 'le'): Value[] {
  const axes = attrs.axes.map((a) => normalizeAxis(a, x.shape.length));
  const extremum = expand(b, out, x.shape, axes);
  // Ties share the cotangent equally, as TensorFlow does. The share is divided at the reduced shape, and the
  // ties are counted with x >= max (x <= min), which CSE keeps apart from the x == max that routes the share:
  // what spreads over x is then one compare and select that fuses into x's consumer (a max pool's window
  // scatter compares each input point with the windows covering it), not a dense mask over every window.
  const count = b.sum(b.cast(b.binary(op, x, extremum), x.dtype), axes, true);
  const share = b.div(b.reshape(g, count.shape), count);
  return [b.select(b.binary('eq', x, extremum), b.broadcastTo(share, x.shape), 0)];
}

/** The inverse of a strided slice: `g` scattered into zeros of `shape` (edges by one pad, interior steps by interleaving). */
function unslice(b: GraphBuilder, g: Value, shape: Shape, begin: readonly number[], step: readonly number[]): Value {
  let v = g;
  const low = shape.map(() => 0);
  const high = shape.map(() => 0);
  shape.forEach((dim, axis) => {
    const n = v.shape[axis];
    if (n === 0) {
      low[axis] = dim;
      return;
    }
    let lo = begin[axis];
    if (step[axis] < 0) {
      // Reverse, so the step becomes positive and the slice starts at its last element.
      const rev = v.shape.map(() => 0);
      rev[axis] = n - 1;
      v = b.slice(v, rev, v.shape, v.shape.map((_, i) => (i === axis ? -1 : 1)));
      lo = begin[axis] + (n - 1) * step[axis];
    }
    const s = Math.abs(step[axis]);
    if (s > 1) {
      // Interleave s - 1 zeros after each element, then drop the trailing ones.
      const withUnit = [...v.shape.slice(0, axis + 1), 1, ...v.shape.slice(axis + 1)];
      const zeros = b.broadcastTo(b.constant(0, [], v.dtype), withUnit.map((d, i) => (i === axis + 1 ? s - 1 : d)));
      const spread = b.reshape(b.concat([b.reshape(v, withUnit), zeros], axis + 1), v.shape.map((d, i) => (i === axis ? d * s : d)));
      v = b.slice(spread, v.shape.map(() => 0), v.shape.map((d, i) => (i === axis ? (n - 1) * s + 1 : d)));
    }
    low[axis] = lo;
    high[axis] = dim - lo - v.shape[axis];
  });
  return b.pad(v, low, high, 0);
}

function matmulVjp(b: GraphBuilder, { inputs: [x, y], attrs: { transposeA: ta, transposeB: tb }, g }: VjpArgs<AttrsMap['matmul']>): Value[] {
  if (y.shape.length === 2 && x.shape.length > 2) {
    // y is shared by every batch: its cotangent contracts over batch and rows at once.
    const r = x.shape.length;
    const swap = [...x.shape.slice(0, r - 2).map((_, i) => i), r - 1, r - 2];
    const gx = b.matmul(g, y, false, !tb);
    const rows = (v: Value): Value => b.reshape(v, [v.shape.slice(0, -1).reduce((p, q) => p * q, 1), v.shape[v.shape.length - 1]]);
    const x2 = rows(ta ? b.transpose(x, swap) : x);
    const g2 = rows(g);
    return [ta ? b.transpose(gx, swap) : gx, tb ? b.matmul(g2, x2, true, false) : b.matmul(x2, g2, true, false)];
  }
  const dx = ta ? b.matmul(y, g, tb, true) : b.matmul(g, y, false, !tb);
  const dy = tb ? b.matmul(g, x, true, ta) : b.matmul(x, g, !ta, false);
  return [dx, dy];
}

function gatherVjp(b: GraphBuilder, { inputs: [params, indices], attrs, g }: VjpArgs<AttrsMap['gather']>): (Value | null)[] {
  // A scatter-add of g's rows into the rows used (never a one-hot contraction over the table), with the gathered axes moved to the front.
  const axis = normalizeAxis(attrs.axis, params.shape.length);
  const q = indices.shape.length;
  const perm = [...Array.from({ length: q }, (_, i) => axis + i), ...g.shape.map((_, i) => i).filter((i) => i < axis || i >= axis + q)];
  const scattered = b.scatterAdd(indices, b.transpose(g, perm), params.shape[axis]);
  const back = params.shape.map((_, i) => (i === axis ? 0 : i < axis ? i + 1 : i));
  return [b.transpose(scattered, back), null];
}

export const VJP: VjpTable = {
  param: none, constant: none, iota: none, random: none,
  neg: (b, { g }) => [b.unary('neg', g)],
  abs: (b, { inputs: [x], g }) => [b.mul(g, b.unary('sign', x))],
  sign: zeroGrad, floor: zeroGrad, ceil: zeroGrad, round: zeroGrad,
  exp: (b, { out, g }) => [b.mul(g, out)],
  expm1: (b, { out, g }) => [b.mul(g, b.add(out, 1))],
  log: (b, { inputs: [x], g }) => [b.div(g, x)],
  log1p: (b, { inputs: [x], g }) => [b.div(g, b.add(x, 1))],
  sqrt: (b, { out, g }) => [b.div(b.mul(g, 0.5), out)],
  tanh: (b, { out, g }) => [b.mul(g, b.sub(1, b.mul(out, out)))],
  sigmoid: (b, { out, g }) => [b.mul(g, b.mul(out, b.sub(1, out)))],
  not: none,
  add: (_b, { g }) => [g, g],
  sub: (b, { g }) => [g, b.unary('neg', g)],
  mul: (b, { inputs: [x, y], g }) => [b.mul(g, y), b.mul(g, x)],
  div: (b, { inputs: [x, y], g }) => [b.div(g, y), b.unary('neg', b.div(b.mul(g, x), b.mul(y, y)))],
  pow: (b, { inputs: [x, y], out, g }) => {
    const positive = b.binary('gt', x, 0);
    const logX = b.unary('log', b.select(positive, x, 1));
    return [b.mul(g, b.mul(y, b.pow(x, b.sub(y, 1)))), b.select(positive, b.mul(g, b.mul(out, logX)), 0)];
  },
  maximum: (b, { inputs: [x, y], out, g }) => {
    // max(x, 0) is relu: differentiated as TensorFlow's ReluGrad (g where the output is > 0, so none at x = 0),
    // from the output, which lets the pre-activation die in the forward pass (a matmul's epilogue applies the relu).
    if (b.uniformValue(y) === 0) return [b.select(b.binary('gt', out, 0), g, 0), null];
    const pick = b.binary('ge', x, y);
    return [b.select(pick, g, 0), b.select(pick, 0, g)];
  },
  minimum: (b, { inputs: [x, y], g }) => {
    const pick = b.binary('le', x, y);
    return [b.select(pick, g, 0), b.select(pick, 0, g)];
  },
  eq: none, ne: none, lt: none, le: none, gt: none, ge: none, and: none, or: none,
  select: (b, { inputs: [c], g }) => [null, b.select(c, g, 0), b.select(c, 0, g)],
  cast: (b, { inputs: [x], g }) => [x.dtype === 'float32' || x.dtype === 'float64' ? b.cast(g, x.dtype) : null],
  reduce_sum: (b, { inputs: [x], attrs, g }) => [expand(b, g, x.shape, attrs.axes.map((a) => normalizeAxis(a, x.shape.length)))],
  reduce_max: (b, args) => reduceExtremum(b, args, 'ge'),
  reduce_min: (b, args) => reduceExtremum(b, args, 'le'),
  reshape: (b, { inputs: [x], g }) => [b.reshape(g, x.shape)],
  transpose: (b, { inputs: [x], attrs, g }) => {
    const inverse = attrs.perm.map(() => 0);
    attrs.perm.forEach((p, i) => (inverse[p] = i));
    return [b.transpose(g, inverse)];
  },
  broadcast: (b, { inputs: [x], g }) => [unbroadcast(b, g, x.shape)],
  slice: (b, { inputs: [x], attrs, g }) => [unslice(b, g, x.shape, attrs.begin, attrs.step)],
  concat: (b, { inputs, attrs, g }) => {
    const axis = normalizeAxis(attrs.axis, g.shape.length);
    let start = 0;
    return inputs.map((x) => {
      const begin = g.shape.map((_, i) => (i === axis ? start : 0));
      start += x.shape[axis];
      return b.slice(g, begin, x.shape);
    });
  },
  gather: gatherVjp,
  scatter_add: (b, { inputs: [indices], g }) => [null, b.gather(g, indices, 0)],
  pad: (b, { inputs: [x], attrs, g }) => [b.slice(g, attrs.low, x.shape)],
  window: (b, { inputs: [x], attrs, g }) => [scatterWindows(b, g, x.shape, attrs)],
  matmul: matmulVjp,
  scan: (b, { inputs, attrs, g }) => scanVjp(b, { inputs, attrs, g }),
};
