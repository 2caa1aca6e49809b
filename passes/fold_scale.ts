/**
 * Folding a per-channel scale into the weights before it: y * s, where y is
 * a convolution or Dense product (with or without its bias add) and s depends
 * on weights alone and varies only along the last axis (an inference
 * BatchNormalization's gamma / sqrt(var + eps)), becomes the same product
 * with weights W * s (and bias * s). The folded weights are computed in the
 * program from the weight params, never written back to the user's weights;
 * the product then runs as before (an implicit GEMM), with one fewer
 * multiply per output element. A pure graph -> graph pass.
 */
import type { Graph, GraphBuilder, Node, Value } from '../ir/graph.js';
import { GraphBuilder as Builder } from '../ir/graph.js';
import type { AttrsMap, OpAttrs, OpName } from '../ir/ops.js';

interface Match {
  /** The scaled value: a reduce_sum over mul(patches, weights chain), or a matmul with weights as B. */
  readonly product: number;
  /** Bias add between the product and the scale, and its bias's [.., 1, C] source. */
  readonly bias: { readonly add: number; readonly operand: number } | null;
  /** The scale's [.., 1, C] source. */
  readonly scale: number;
  /** From the weight (first) to the product's weight operand (last): reshapes and broadcasts. */
  readonly chain: readonly number[];
}

function usesOf(graph: Graph): number[] {
  const uses = graph.nodes.map(() => 0);
  for (const n of graph.nodes) for (const i of n.inputs) uses[i]++;
  for (const o of graph.outputs) uses[o]++;
  for (const u of graph.updates ?? []) uses[u.value]++;
  return uses;
}

/** Whether a node's value depends on weight or state params (and constants) alone. */
function weightsOnly(graph: Graph): (id: number) => boolean {
  const memo = new Map<number, boolean>();
  const check = (id: number): boolean => {
    const hit = memo.get(id);
    if (hit !== undefined) return hit;
    const n = graph.nodes[id];
    const role = n.op === 'param' ? (n.attrs as AttrsMap['param']).role : null;
    const ok = n.op === 'param' ? role === 'weight' || role === 'state' : n.op !== 'random' && n.inputs.every(check);
    memo.set(id, ok);
    return ok;
  };
  return check;
}

/** The [.., 1, C] source of `id` when it varies along the last axis only (through reshapes and broadcasts), else -1. */
function lastAxisSource(graph: Graph, id: number): number {
  let n = graph.nodes[id];
  while (n.op === 'broadcast' || n.op === 'reshape') {
    const src = graph.nodes[n.inputs[0]];
    const s = src.type.shape;
    const last = n.type.shape[n.type.shape.length - 1];
    if (s.length === 0 || s[s.length - 1] !== last || s.slice(0, -1).some((d) => d !== 1)) return -1;
    n = src;
  }
  const s = n.type.shape;
  return s.length >= 1 && s.slice(0, -1).every((d) => d === 1) ? n.id : -1;
}

/** The weight chain of a product operand: reshapes and broadcasts that keep the last axis, down to a weights-only node. */
function weightChain(graph: Graph, id: number, only: (id: number) => boolean): number[] | null {
  const chain = [id];
  let n = graph.nodes[id];
  while (n.op === 'broadcast' || n.op === 'reshape') {
    const src = graph.nodes[n.inputs[0]];
    if (src.type.shape[src.type.shape.length - 1] !== n.type.shape[n.type.shape.length - 1]) return null;
    chain.unshift(src.id);
    n = src;
  }
  return only(n.id) ? chain : null;
}

function match(graph: Graph, n: Node, uses: readonly number[], only: (id: number) => boolean): Match | null {
  if (n.op !== 'mul') return null;
  for (const [yi, si] of [[0, 1], [1, 0]]) {
    const scale = lastAxisSource(graph, n.inputs[si]);
    if (scale < 0 || !only(scale)) continue;
    let y = graph.nodes[n.inputs[yi]];
    let bias: Match['bias'] = null;
    if (y.op === 'add' && uses[y.id] === 1) {
      const [p, q] = y.inputs;
      const [qs, ps] = [lastAxisSource(graph, q), lastAxisSource(graph, p)];
      const [operand, inner] = qs >= 0 && only(qs) ? [qs, p] : ps >= 0 && only(ps) ? [ps, q] : [-1, -1];
      if (operand < 0) continue;
      bias = { add: y.id, operand };
      y = graph.nodes[inner];
    }
    if (uses[y.id] !== 1) continue;
    const last = y.type.shape.length - 1;
    if (y.op === 'matmul' && !(y.attrs as AttrsMap['matmul']).transposeB) {
      const chain = weightChain(graph, y.inputs[1], only);
      if (chain && chain.length === 1 && graph.nodes[chain[0]].type.shape.length === 2) return { product: y.id, bias, scale, chain };
    }
    if (y.op === 'reduce_sum' && !(y.attrs as AttrsMap['reduce_sum']).keepDims) {
      const prod = graph.nodes[y.inputs[0]];
      const axes = (y.attrs as AttrsMap['reduce_sum']).axes;
      if (prod.op !== 'mul' || uses[prod.id] !== 1 || axes.includes(prod.type.shape.length - 1) || prod.type.shape.length - axes.length !== last + 1) continue;
      const chain = weightChain(graph, prod.inputs[1], only);
      if (chain) return { product: y.id, bias, scale, chain };
    }
  }
  return null;
}

/** A [.., 1, C] vector broadcast to `shape` along its last axis. */
function alongLast(b: GraphBuilder, v: Value, shape: readonly number[]): Value {
  const c = v.shape[v.shape.length - 1];
  return b.broadcastTo(b.reshape(v, [...shape.slice(0, -1).map(() => 1), c]), shape);
}

export function foldScale(graph: Graph): Graph {
  const uses = usesOf(graph);
  const only = weightsOnly(graph);
  const matches = new Map<number, Match>();
  for (const n of graph.nodes) {
    const m = match(graph, n, uses, only);
    if (m) matches.set(n.id, m);
  }
  if (!matches.size) return graph;
  const b = new Builder();
  const map: Value[] = [];
  const copy = (n: Node, xs: readonly Value[]): Value => b.op(n.op as OpName, xs, n.attrs as OpAttrs[OpName]);
  for (const n of graph.nodes) {
    const m = matches.get(n.id);
    map[n.id] = m ? folded(b, graph, m, map, copy) : copy(n, n.inputs.map((i) => map[i]));
  }
  return b.build(graph.outputs.map((o) => map[o]), (graph.updates ?? []).map((u) => ({ target: map[u.target], value: map[u.value] })));
}

/** product(patches, W * s) (+ bias * s), rebuilt from the already mapped operands. */
function folded(b: GraphBuilder, graph: Graph, m: Match, map: readonly Value[], copy: (n: Node, xs: readonly Value[]) => Value): Value {
  const scale = map[m.scale];
  const [w, ...steps] = m.chain;
  let weights = b.mul(map[w], alongLast(b, scale, map[w].shape));
  for (const id of steps) weights = copy(graph.nodes[id], [weights]);
  const product = graph.nodes[m.product];
  let y: Value;
  if (product.op === 'matmul') {
    y = copy(product, [map[product.inputs[0]], weights]);
  } else {
    const mul = graph.nodes[product.inputs[0]];
    y = copy(product, [copy(mul, [map[mul.inputs[0]], weights])]);
  }
  if (!m.bias) return y;
  const bias = b.mul(map[m.bias.operand], b.reshape(scale, map[m.bias.operand].shape));
  return b.add(y, alongLast(b, bias, y.shape));
}
