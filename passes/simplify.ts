/**
 * Simplify and CSE, a pure graph -> graph pass.
 *
 * simplify: folds splat constants through elementwise ops, removes identities
 *   (x + 0, x * 1, x / 1, casts and reshapes/transposes/broadcasts to the same
 *   type), merges chains of reshapes, transposes and broadcasts, and turns
 *   broadcasts of constants into constants; common subexpressions share one node;
 *   a slice of a reduction that nothing else reads becomes a reduction of a
 *   slice, so only the kept elements are computed.
 */
import { sameShape, unitAxes } from '../ir/dtype.js';
import type { Graph, GraphBuilder, Node, Value } from '../ir/graph.js';
import { type AttrsMap, isBinaryOp, isUnaryOp } from '../ir/ops.js';
import { rebuild } from './rebuild.js';
import { scalarOp } from '../ir/scalar_eval.js';

type Rewrite = (b: GraphBuilder, n: Node, xs: readonly Value[]) => Value | null;

function constValue(b: GraphBuilder, v: Value): number | null {
  const n = b.nodes[v.id];
  return n.op === 'constant' ? (n.attrs as AttrsMap['constant']).value : null;
}

function fold(b: GraphBuilder, n: Node, xs: readonly Value[]): Value | null {
  const values = xs.map((x) => constValue(b, x));
  if (values.some((v) => v === null) || xs.length === 0) return null;
  const [a, c, d] = values as number[];
  let value: number;
  if (isUnaryOp(n.op)) value = scalarOp(n.op, n.type.dtype, a);
  else if (isBinaryOp(n.op)) value = scalarOp(n.op, xs[0].dtype, a, c);
  else if (n.op === 'select') value = a ? c : d;
  else if (n.op === 'cast') value = n.type.dtype === 'bool' ? +(a !== 0) : n.type.dtype === 'int32' ? Math.trunc(a) | 0 : a;
  else return null;
  if (n.type.dtype === 'float32') value = Math.fround(value);
  return b.constant(value, n.type.shape, n.type.dtype);
}

function identity(b: GraphBuilder, n: Node, xs: readonly Value[]): Value | null {
  const [x, y] = xs;
  const c = (v: Value | undefined): number | null => (v ? constValue(b, v) : null);
  switch (n.op) {
    case 'add': return c(y) === 0 ? x : c(x) === 0 ? y : null;
    case 'sub': return c(y) === 0 ? x : null;
    case 'mul': return c(y) === 1 ? x : c(x) === 1 ? y : null;
    case 'div': return c(y) === 1 ? x : null;
    case 'select': {
      const cond = c(x);
      return cond === null ? null : cond ? xs[1] : xs[2];
    }
    case 'cast': return x.dtype === n.type.dtype ? x : null;
    default: return null;
  }
}

function movement(b: GraphBuilder, n: Node, xs: readonly Value[]): Value | null {
  const [x] = xs;
  if (!x || !['reshape', 'transpose', 'broadcast'].includes(n.op)) return null;
  if (sameShape(x.shape, n.type.shape) && (n.op !== 'transpose' || (n.attrs as AttrsMap['transpose']).perm.every((p, i) => p === i))) return x;
  const src = b.nodes[x.id];
  const inner = { id: src.inputs[0], shape: src.inputs.length ? b.nodes[src.inputs[0]].type.shape : [], dtype: x.dtype };
  if (n.op === 'reshape' && src.op === 'reshape') return b.reshape(inner, n.type.shape);
  if (n.op === 'transpose' && src.op === 'transpose') {
    const p1 = (src.attrs as AttrsMap['transpose']).perm;
    return b.transpose(inner, (n.attrs as AttrsMap['transpose']).perm.map((p) => p1[p]));
  }
  if (n.op === 'broadcast' && src.op === 'broadcast') return b.broadcastTo(inner, n.type.shape);
  if ((n.op === 'broadcast' || n.op === 'reshape') && src.op === 'constant') return b.constant((src.attrs as AttrsMap['constant']).value, n.type.shape, n.type.dtype);
  return null;
}

interface Range {
  readonly begin: number;
  readonly size: number;
  readonly step: number;
}

const REDUCTIONS = new Set(['reduce_sum', 'reduce_max', 'reduce_min']);
const whole = (d: number): Range => ({ begin: 0, size: d, step: 1 });

/**
 * slice(views(reduce(x))) -> views(reduce(slice(x))), where the views are
 * transposes and reshapes that add or drop unit axes and each node between
 * has no other reader (`uses` counts the original graph's). A 'same'
 * convolution's input gradient is then computed over the input, not over the
 * padded extent its pad's vjp cuts from it.
 */
function sinkSlice(b: GraphBuilder, n: Node, xs: readonly Value[], graph: Graph, uses: Int32Array): Value | null {
  if (n.op !== 'slice') return null;
  const a = n.attrs as AttrsMap['slice'];
  let ranges: Range[] = a.begin.map((begin, i) => ({ begin, size: a.size[i], step: a.step[i] }));
  const chain: Node[] = [];
  let [orig, cur] = [graph.nodes[n.inputs[0]], b.nodes[xs[0].id]];
  while (!REDUCTIONS.has(cur.op)) {
    const input = b.nodes[cur.inputs[0]];
    if (uses[orig.id] !== 1 || cur.op !== orig.op) return null;
    if (cur.op === 'transpose') {
      const inRanges = [...ranges];
      (cur.attrs as AttrsMap['transpose']).perm.forEach((p, j) => (inRanges[p] = ranges[j]));
      ranges = inRanges;
    } else if (cur.op === 'reshape' && unitAxes(cur.type.shape, input.type.shape)) {
      const axes = unitAxes(cur.type.shape, input.type.shape)!;
      const inRanges = input.type.shape.map(whole);
      axes.forEach((j, o) => j >= 0 && (inRanges[j] = ranges[o]));
      ranges = inRanges;
    } else return null;
    chain.push(cur);
    [orig, cur] = [graph.nodes[orig.inputs[0]], input];
  }
  if (uses[orig.id] !== 1 || cur.op !== orig.op) return null;
  const { axes, keepDims } = cur.attrs as AttrsMap['reduce_sum'];
  const x = b.nodes[cur.inputs[0]];
  const kept = [...ranges];
  const inRanges = x.type.shape.map((d, i) => (axes.includes(i) ? whole(d) : keepDims ? kept[i] : kept.shift()!));
  if (inRanges.every((r, i) => r.begin === 0 && r.step === 1 && r.size === x.type.shape[i])) return null;
  const sliced = b.slice({ id: x.id, shape: x.type.shape, dtype: x.type.dtype }, inRanges.map((r) => r.begin), inRanges.map((r) => r.size), inRanges.map((r) => r.step));
  let v = b.op(cur.op, [sliced], cur.attrs as never);
  for (const view of chain.reverse()) {
    if (view.op === 'transpose') v = b.transpose(v, (view.attrs as AttrsMap['transpose']).perm);
    else {
      const from = v;
      v = b.reshape(v, unitAxes(view.type.shape, b.nodes[view.inputs[0]].type.shape)!.map((j) => (j < 0 ? 1 : from.shape[j])));
    }
  }
  return v;
}

/** How many times each node is read (an output or a state update counts as a read). */
function useCounts(graph: Graph): Int32Array {
  const uses = new Int32Array(graph.nodes.length);
  for (const node of graph.nodes) for (const i of node.inputs) uses[i]++;
  for (const o of graph.outputs) uses[o]++;
  for (const u of graph.updates ?? []) uses[u.value]++;
  return uses;
}

const RULES: readonly Rewrite[] = [fold, identity, movement];

export function simplify(graph: Graph): Graph {
  const uses = useCounts(graph);
  return rebuild(graph, (b, n, xs) => {
    for (const rule of RULES) {
      const v = rule(b, n, xs);
      if (v) return v;
    }
    return sinkSlice(b, n, xs, graph, uses);
  });
}
