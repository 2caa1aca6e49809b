/**
 * The window op's vjp: overlapping windows add up, each window offset's slab
 * landing on the input shifted by offset * dilation. It is the input gradient
 * of a convolution and the core of transposed convolution, where the
 * cotangent of the windows is itself a contraction (dy times the kernel,
 * summed over filters): an im2col-sized tensor if it were computed before the
 * scatter. The scatter is pushed into that contraction's operands instead
 * (strides as phase axes), so the gradient is one contraction over (window
 * offset, filter) that lowers onto the matmul kernels with no im2col tensor;
 * other cotangents (a pool's) add up slabs of `g`.
 */
import { type Shape, unitAxes } from './dtype.js';
import { forEachIndex } from './eval_kernels.js';
import type { GraphBuilder, Node, Value } from './graph.js';
import { type AttrsMap, normalizeAxis } from './ops.js';

type WindowAttrs = AttrsMap['window'];

const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);

/** The inverse of `window` over an input of `shape`: `g` holds the windows' cotangents. */
export function scatterWindows(b: GraphBuilder, g: Value, shape: Shape, attrs: WindowAttrs): Value {
  const contraction = scatterContraction(b, g, shape, attrs);
  if (contraction) return contraction;
  return attrs.strides.some((s) => s > 1) ? scatterStridedWindows(b, g, shape, attrs) : scatterSlabs(b, g, shape, attrs);
}

/** A value seen through transposes and reshapes that add or drop unit axes: `axisOf[j]` is the axis of `node` that axis j reads (-1: a unit axis). */
interface Traced {
  readonly node: Node;
  readonly axisOf: readonly number[];
}

function traceViews(b: GraphBuilder, g: Value): Traced {
  let axisOf = g.shape.map((_, j) => j);
  let node = b.nodes[g.id];
  for (;;) {
    const input = node.inputs.length ? b.nodes[node.inputs[0]] : null;
    let step: readonly number[] | null = null;
    if (node.op === 'transpose') step = (node.attrs as AttrsMap['transpose']).perm;
    else if (node.op === 'reshape') step = unitAxes(node.type.shape, input!.type.shape);
    if (!step) return { node, axisOf };
    const through = step;
    axisOf = axisOf.map((a) => (a < 0 ? -1 : through[a]));
    node = input!;
  }
}

const valueOf = (n: Node): Value => ({ id: n.id, shape: n.type.shape, dtype: n.type.dtype });

/** A factor of the product, as the tensor broadcasting made it from (rank `rank`, extent 1 where it does not vary). */
function factorBase(b: GraphBuilder, n: Node, rank: number): Value {
  if (n.op !== 'broadcast') return valueOf(n);
  const input = b.nodes[n.inputs[0]];
  return b.reshape(valueOf(input), [...range(rank - input.type.shape.length).map(() => 1), ...input.type.shape]);
}

/** One windowed axis of the scatter: its window, taps per phase, rows (positions per phase), and its axes in the product. */
interface WindowAxis {
  readonly q: number;
  readonly k: number;
  readonly s: number;
  readonly d: number;
  readonly taps: number;
  readonly rows: number;
  readonly pos: number;
  readonly off: number;
  /** Padding of x's positions: taps reach (taps - 1) * d before a row, and the last rows past x's end. */
  readonly low: number;
  readonly high: number;
}

/**
 * Window w at offset o lands on input element i = w * s + o * d, so
 *   dx[i] = sum_{w, o: w * s + o * d = i} g[w, o].
 * When g = sum_F x * y, where x varies along the window positions but not
 * the offsets (dy) and y along the offsets but not the positions (the
 * kernel), that is one contraction with nothing scattered. With stride 1,
 * o' = k - 1 - o:
 *   dx[i] = sum_{o', F} pad(x)[i + o' * d] * y[k - 1 - o']:
 * x read through a window of its padding (a masked view, as a forward
 * convolution reads its input) and y flipped. With stride s (and d = 1),
 * each phase i = q * s + p reads the offsets o = p + t * s:
 *   dx[q, p] = sum_{t', F} pad(x)[q + t'] * y'[p, t']   (t' = T - 1 - t, T = ceil(k / s)),
 * where y'[p, t'] = y[p + t * s] (zero past the kernel): the phase is one
 * more column axis of the same contraction, and merging (q, p) back is a
 * reshape of its row-major result. Null when g is not of that form, or when
 * a stride meets a dilation or a window of one on an axis (the slabs are
 * summed then).
 */
function scatterContraction(b: GraphBuilder, g: Value, shape: Shape, attrs: WindowAttrs): Value | null {
  const r = shape.length;
  const { node: sum, axisOf } = traceViews(b, g);
  if (sum.op !== 'reduce_sum' || (sum.attrs as AttrsMap['reduce_sum']).keepDims) return null;
  const prod = b.nodes[sum.inputs[0]];
  if (prod.op !== 'mul') return null;
  const rank = prod.type.shape.length;
  const reduced = (sum.attrs as AttrsMap['reduce_sum']).axes.map((a) => normalizeAxis(a, rank));
  const kept = range(rank).filter((a) => !reduced.includes(a));
  const productAxis = (j: number): number => (axisOf[j] < 0 ? -1 : kept[axisOf[j]]);
  const windowed = range(r).filter((q) => attrs.size[q] > 1);
  if (range(r).some((q) => attrs.strides[q] > 1 && (attrs.size[q] === 1 || attrs.dilations[q] > 1))) return null;
  const pos = windowed.map(productAxis);
  const off = windowed.map((q) => productAxis(r + q));
  if (!windowed.length || [...pos, ...off].some((a) => a < 0)) return null;
  const factors = prod.inputs.map((id) => factorBase(b, b.nodes[id], rank));
  const varies = (v: Value, a: number): boolean => v.shape[a] > 1;
  const at = factors.findIndex((v) => varies(v, pos[0]));
  if (at < 0) return null;
  const [x, y] = [factors[at], factors[1 - at]];
  // x carries the valid range, so it must vary along every position axis; y must vary along none, x along no offset axis.
  if (!pos.every((a) => varies(x, a)) || pos.some((a) => varies(y, a)) || off.some((a) => varies(x, a))) return null;

  const axis = windowed.map((q, i): WindowAxis => {
    const [k, s, d] = [attrs.size[q], attrs.strides[q], attrs.dilations[q]];
    const taps = Math.ceil(k / s);
    const rows = s === 1 ? shape[q] : Math.ceil(shape[q] / s);
    return { q, k, s, d, taps, rows, pos: pos[i], off: off[i], low: (taps - 1) * d, high: rows - g.shape[q] };
  });
  const strided = axis.filter((w) => w.s > 1);
  // The phases are columns of the contraction (only y reads them): the product's axes with the phase axes just
  // before its first other column axis (the channels of dx), so that the columns are adjacent in dx and in y'
  // and the contraction lowers onto the matmul kernels.
  const summed = [...reduced, ...off];
  const columns = range(rank).find((a) => !summed.includes(a) && varies(y, a) && !varies(x, a)) ?? rank;
  const slot = (a: number): number => (a < columns ? a : a + strided.length);
  const phaseSlot = (w: WindowAxis): number => columns + strided.indexOf(w);
  const wide = rank + strided.length;
  const byPos = (a: number): WindowAxis | undefined => axis.find((w) => w.pos === a);

  const padded = b.pad(x, range(rank).map((a) => byPos(a)?.low ?? 0), range(rank).map((a) => byPos(a)?.high ?? 0), 0);
  const win = b.window(padded, range(rank).map((a) => byPos(a)?.taps ?? 1), range(rank).map(() => 1), range(rank).map((a) => byPos(a)?.d ?? 1));
  // [...positions, ...offsets]: each windowed axis's offset takes the place of the product's offset axis (extent 1 in x); the rest are unit axes.
  const perm = range(rank).map((a) => (off.includes(a) ? rank + pos[off.indexOf(a)] : a));
  const moved = b.transpose(win, [...perm, ...range(2 * rank).filter((a) => !perm.includes(a))]);
  const xs = b.reshape(moved, range(wide).map((j) => {
    const a = range(rank).find((c) => slot(c) === j);
    return a === undefined ? 1 : moved.shape[a];
  }));

  const ys = flipped(b, y, axis, slot, phaseSlot, wide);
  const full = xs.shape.map((n, a) => Math.max(n, ys.shape[a]));
  const [first, second] = at === 0 ? [xs, ys] : [ys, xs];
  const axes = [...reduced, ...off].map(slot).sort((p, q) => p - q);
  const dx = b.sum(b.mul(b.broadcastTo(first, full), b.broadcastTo(second, full)), axes);
  // dx's axes are the product's kept axes; order them as the window's input axes (phases after positions; the rest have extent 1).
  const left = range(wide).filter((a) => !axes.includes(a));
  const lead = range(r).flatMap((q) => {
    const a = productAxis(q);
    const w = byPos(a);
    return a < 0 ? [] : [left.indexOf(slot(a)), ...(w && w.s > 1 ? [left.indexOf(phaseSlot(w))] : [])];
  });
  const rest = range(left.length).filter((i) => !lead.includes(i));
  if (rest.some((i) => dx.shape[i] !== 1)) return null;
  const merged = range(r).map((q) => {
    const w = axis.find((v) => v.q === q);
    return w ? w.rows * w.s : productAxis(q) < 0 ? 1 : g.shape[q];
  });
  const joined = b.reshape(b.transpose(dx, [...lead, ...rest]), merged);
  // Rows past the input (its remainder when the stride does not divide it) are cut.
  return merged.some((n, q) => n !== shape[q]) ? b.slice(joined, shape.map(() => 0), shape) : joined;
}

/**
 * y over the product's axes (`wide` of them), offsets reversed. Along a
 * strided axis, phase p reads the offsets p, p + s, ...: each phase's taps,
 * padded to the same count, are one slice of the phase axis. The phases are
 * joined by a concat, so y' is written once in the product's order (the
 * layout the matmul kernels read its columns in).
 */
function flipped(b: GraphBuilder, y: Value, axis: readonly WindowAxis[], slot: (a: number) => number, phaseSlot: (w: WindowAxis) => number, wide: number): Value {
  const strided = axis.filter((w) => w.s > 1);
  // A y constant along a strided axis's offsets still has phases without taps: give it its offsets.
  const spread = b.broadcastTo(y, y.shape.map((n, a) => strided.find((w) => w.off === a)?.k ?? n));
  const phase = (start: readonly number[]): Value => {
    const at = (a: number): number => strided.findIndex((w) => w.off === a);
    const taps = spread.shape.map((n, a) => (at(a) < 0 ? n : Math.ceil((n - start[at(a)]) / strided[at(a)].s)));
    const picked = b.slice(spread, spread.shape.map((_, a) => (at(a) < 0 ? 0 : start[at(a)])), taps, spread.shape.map((_, a) => (at(a) < 0 ? 1 : strided[at(a)].s)));
    const whole = b.pad(picked, taps.map(() => 0), taps.map((n, a) => (at(a) < 0 ? 0 : strided[at(a)].taps - n)), 0);
    const reversed = axis.filter((w) => whole.shape[w.off] > 1).map((w) => w.off);
    const flippedTaps = reversed.length ? b.slice(whole, whole.shape.map((n, a) => (reversed.includes(a) ? n - 1 : 0)), whole.shape, whole.shape.map((_, a) => (reversed.includes(a) ? -1 : 1))) : whole;
    return b.reshape(flippedTaps, range(wide).map((j) => {
      const a = range(flippedTaps.shape.length).find((c) => slot(c) === j);
      return a === undefined ? 1 : flippedTaps.shape[a];
    }));
  };
  // Phases in row-major order, joined along the last strided axis's phase first.
  const join = (i: number, start: readonly number[]): Value => i === strided.length
    ? phase(start)
    : b.concat(range(strided[i].s).map((p) => join(i + 1, [...start, p])), phaseSlot(strided[i]));
  return join(0, []);
}

/** Each window offset's slab of `g` is a pad (a masked view), so the sum fuses into one kernel. */
function scatterSlabs(b: GraphBuilder, g: Value, shape: Shape, attrs: WindowAttrs): Value {
  const r = shape.length;
  const positions = g.shape.slice(0, r);
  const parts: Value[] = [];
  forEachIndex(attrs.size, (_f, k) => {
    const at = b.slice(g, [...positions.map(() => 0), ...k], [...positions, ...k.map(() => 1)]);
    const low = k.map((o, a) => o * attrs.dilations[a]);
    parts.push(b.pad(b.reshape(at, positions), low, shape.map((n, a) => n - low[a] - positions[a]), 0));
  });
  return parts.reduce((sum, p) => b.add(sum, p));
}

/**
 * Strided windows, with no zeros interleaved: window w at offset o (offset x
 * dilation) lands on input element w * s + o, which splits each axis of the
 * input as (block, remainder) = (w + floor(o / s), o mod s) over [ceil(n / s),
 * s]. There every slab is a pad of `g` (a masked view: no concatenation, no
 * dilated copy), the sum fuses into one kernel over the split axes, and
 * merging them back is a reshape of its row-major result; the remainder past
 * `shape` is cut.
 */
function scatterStridedWindows(b: GraphBuilder, g: Value, shape: Shape, attrs: WindowAttrs): Value {
  const r = shape.length;
  const positions = g.shape.slice(0, r);
  const s = attrs.strides;
  const blocks = shape.map((n, a) => Math.ceil(n / s[a]));
  const parts: Value[] = [];
  forEachIndex(attrs.size, (_f, k) => {
    const at = b.reshape(b.slice(g, [...positions.map(() => 0), ...k], [...positions, ...k.map(() => 1)]), positions.flatMap((p) => [p, 1]));
    const o = k.map((x, a) => x * attrs.dilations[a]);
    const low = o.flatMap((x, a) => [Math.floor(x / s[a]), x % s[a]]);
    const high = o.flatMap((x, a) => [blocks[a] - Math.floor(x / s[a]) - positions[a], s[a] - 1 - (x % s[a])]);
    parts.push(b.pad(at, low, high, 0));
  });
  const merged = b.reshape(parts.reduce((sum, p) => b.add(sum, p)), blocks.map((q, a) => q * s[a]));
  return b.slice(merged, shape.map(() => 0), shape);
}
