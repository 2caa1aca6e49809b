/**
 * Layout selection: every tensor inside the graph takes the layout the
 * kernels compute in, chosen once for the whole graph. The window compositions
 * (ir/convolution.ts: convolution, pooling, padding) compute channels-last, so
 * a `channels_first` layer reaches the IR as a transpose in, its channels-last
 * computation, and a transpose out. This pass moves each such transpose
 * forward through the layout-free ops after it (elementwise ops, broadcasts,
 * reductions, pads, slices, concatenations; per-channel parameters are
 * re-laid out by a reshape, never a transpose) until it meets the inverse
 * transpose of the next layer and both vanish, or reaches a reshape that only
 * moves axes of extent 1. A move is made only when it removes transposes:
 * what is left is at the graph's boundary (the inputs as the user lays them
 * out, the outputs as the model returns them). So a channels_first model and
 * its channels_last twin compute in the same kernels, and their weights,
 * whose Keras shapes do not depend on the data format, are stored as the
 * kernels read them in both.
 */
import { type Shape, sameShape } from '../ir/dtype.js';
import { type Graph, GraphBuilder, type Node, type Value } from '../ir/graph.js';
import { type AttrsMap, type OpAttrs, type OpName, type ReduceAttrs, isBinaryOp, isUnaryOp } from '../ir/ops.js';
import { dce } from './dce.js';

/** How a value is held inside a moved region: original = transpose(held, perm). */
type Perm = readonly number[];

interface Move {
  /** Nodes computed in the moved layout, by id, with their perm. */
  readonly region: ReadonlyMap<number, Perm>;
  /** Nodes outside the region that read a region value as it is held (a cancelled transpose, a reshape, a reduction). */
  readonly exits: ReadonlySet<number>;
}

const isIdentity = (p: Perm): boolean => p.every((a, i) => a === i);
const samePerm = (p: Perm, q: Perm): boolean => p.length === q.length && p.every((a, i) => a === q[i]);

/** The shape (or per-axis attribute) as held: held[perm[j]] = original[j]. */
function held<T>(original: readonly T[], perm: Perm): T[] {
  const out = new Array<T>(original.length);
  perm.forEach((p, j) => (out[p] = original[j]));
  return out;
}

/** Whether holding `shape` by `perm` only moves axes of extent 1: then the two share their element order (a reshape). */
function movesUnitAxesOnly(shape: Shape, perm: Perm): boolean {
  const order = shape.flatMap((d, j) => (d === 1 ? [] : [perm[j]]));
  return order.every((a, i) => i === 0 || a > order[i - 1]);
}

const REDUCTIONS: ReadonlySet<OpName> = new Set<OpName>(['reduce_sum', 'reduce_max', 'reduce_min']);

/** A reduction's axes as held, and the perm of its result (kept axes only, when keepDims is off). */
function reduceHeld(attrs: ReduceAttrs, rank: number, perm: Perm): { axes: number[]; perm: Perm } {
  const reduced = attrs.axes.map((a) => (a < 0 ? a + rank : a));
  const axes = reduced.map((a) => perm[a]).sort((x, y) => x - y);
  if (attrs.keepDims) return { axes, perm };
  const kept = Array.from({ length: rank }, (_, a) => a).filter((a) => !reduced.includes(a));
  const keptHeld = kept.map((a) => perm[a]).sort((x, y) => x - y);
  return { axes, perm: kept.map((a) => keptHeld.indexOf(perm[a])) };
}

const isElementwise = (op: OpName): boolean => isUnaryOp(op) || isBinaryOp(op) || op === 'select' || op === 'cast';

/**
 * Whether a value from outside the region can be re-laid out by `perm`
 * without a transpose: a constant, elementwise ops over such values (rebuilt
 * in the new layout, as a channels_last graph computes them), a tensor whose
 * moved axes all have extent 1 (a reshape), or a broadcast of one.
 */
function relayable(graph: Graph, id: number, perm: Perm, memo: Map<string, boolean>): boolean {
  const key = `${id}:${perm.join(',')}`;
  let ok = memo.get(key);
  if (ok !== undefined) return ok;
  const n = graph.nodes[id];
  const w = n.op === 'broadcast' ? graph.nodes[n.inputs[0]] : null;
  ok = n.op === 'constant'
    || (isElementwise(n.op) && n.inputs.every((i) => relayable(graph, i, perm, memo)))
    || movesUnitAxesOnly(n.type.shape, perm)
    || (!!w && (w.type.shape.length === n.type.shape.length
      ? relayable(graph, w.id, perm, memo)
      : w.op === 'constant' || movesUnitAxesOnly(padRank(w.type.shape, n.type.shape.length), perm)));
  memo.set(key, ok);
  return ok;
}

function padRank(shape: Shape, rank: number): Shape {
  return [...new Array<number>(rank - shape.length).fill(1), ...shape];
}

/**
 * Plans moving the transposes `seeds` (all of one perm) forward: sweeps the
 * nodes after the first in order, putting in the region every layout-free
 * op that reads the region, and gives up at any other reader. An op that
 * meets the region and another transpose of the same perm (a gradient
 * program's cotangent beside the forward value) asks for that transpose as
 * a seed too. Null when the move fails or removes no transpose.
 */
function planMove(graph: Graph, seeds: ReadonlySet<number>, memo: Map<string, boolean>): Move | number | null {
  const region = new Map<number, Perm>();
  const exits = new Set<number>();
  let removed = 0;
  const first = Math.min(...seeds);
  const seedPerm = (graph.nodes[first].attrs as AttrsMap['transpose']).perm;
  for (let id = first; id < graph.nodes.length; id++) {
    const n = graph.nodes[id];
    const inside = n.inputs.filter((i) => region.has(i));
    if (seeds.has(id) && inside.length === 0) {
      region.set(id, seedPerm);
      removed++;
      continue;
    }
    if (inside.length === 0) continue;
    const perm = region.get(inside[0])!;
    if (inside.some((i) => !samePerm(region.get(i)!, perm))) return null;
    const op = n.op;
    if (op === 'transpose') {
      const composed = (n.attrs as AttrsMap['transpose']).perm.map((q) => perm[q]);
      removed++;
      if (isIdentity(composed)) exits.add(id);
      else region.set(id, composed);
    } else if (isElementwise(op) || op === 'concat') {
      const stranger = n.inputs.find((i) => !region.has(i) && !relayable(graph, i, perm, memo));
      if (stranger !== undefined) return isSeedLike(graph, stranger, perm) && !seeds.has(stranger) ? stranger : null;
      region.set(id, perm);
    } else if (op === 'broadcast' || op === 'pad' || op === 'slice') {
      if (graph.nodes[n.inputs[0]].type.shape.length !== n.type.shape.length) return null;
      region.set(id, perm);
    } else if (REDUCTIONS.has(op)) {
      const r = reduceHeld(n.attrs as ReduceAttrs, perm.length, perm);
      if (isIdentity(r.perm)) exits.add(id);
      else region.set(id, r.perm);
    } else if (op === 'reshape' && movesUnitAxesOnly(graph.nodes[n.inputs[0]].type.shape, perm)) {
      exits.add(id);
    } else {
      return null;
    }
  }
  // Region values the graph returns or stores go back to their layout at the boundary.
  const boundary = new Set([...graph.outputs, ...(graph.updates ?? []).map((u) => u.value)].filter((id) => region.has(id)));
  return removed > boundary.size ? { region, exits } : null;
}

/** A transpose by `perm` (of a value outside the region): it can join the move as a seed. */
function isSeedLike(graph: Graph, id: number, perm: Perm): boolean {
  const n = graph.nodes[id];
  return n.op === 'transpose' && samePerm((n.attrs as AttrsMap['transpose']).perm, perm);
}

/** Rebuilds the graph with the move applied. */
function applyMove(graph: Graph, move: Move, memo: Map<string, boolean>): Graph {
  const b = new GraphBuilder();
  const v: Value[] = [];
  const relaid = new Map<string, Value>();
  const relayout = (id: number, perm: Perm): Value => {
    const key = `${id}:${perm.join(',')}`;
    let r = relaid.get(key);
    if (r) return r;
    const n = graph.nodes[id];
    const shape = held(n.type.shape, perm);
    if (n.op === 'constant') r = b.constant((n.attrs as AttrsMap['constant']).value, shape, n.type.dtype);
    else if (isElementwise(n.op) && n.inputs.every((i) => relayable(graph, i, perm, memo))) r = b.op(n.op, n.inputs.map((i) => relayout(i, perm)), n.attrs as OpAttrs[OpName]);
    else if (movesUnitAxesOnly(n.type.shape, perm)) r = b.reshape(v[id], shape);
    else {
      const w = graph.nodes[n.inputs[0]];
      const padded = padRank(w.type.shape, shape.length);
      const source = w.type.shape.length === shape.length ? relayout(w.id, perm) : w.op === 'constant' ? b.constant((w.attrs as AttrsMap['constant']).value, held(padded, perm), w.type.dtype) : b.reshape(v[w.id], held(padded, perm));
      r = b.op('broadcast', [source], { shape });
    }
    relaid.set(key, r);
    return r;
  };
  for (const n of graph.nodes) {
    const perm = move.region.get(n.id);
    if (perm) v[n.id] = inRegion(b, graph, n, move, v, relayout);
    else if (move.exits.has(n.id)) v[n.id] = atExit(b, graph, n, move, v);
    else v[n.id] = b.op(n.op as OpName, n.inputs.map((i) => v[i]), n.attrs as OpAttrs[OpName]);
  }
  const back = new Map<number, Value>();
  const original = (id: number): Value => {
    const perm = move.region.get(id);
    if (!perm) return v[id];
    if (!back.has(id)) back.set(id, b.transpose(v[id], perm));
    return back.get(id)!;
  };
  return b.build(graph.outputs.map(original), (graph.updates ?? []).map((u) => ({ target: v[u.target], value: original(u.value) })));
}

/** A region node, computed in the held layout. */
function inRegion(b: GraphBuilder, graph: Graph, n: Node, move: Move, v: readonly Value[], relayout: (id: number, perm: Perm) => Value): Value {
  const perm = move.region.get(n.id)!;
  const inputPerm = move.region.get(n.inputs[0]) ?? perm;
  const ins = (): Value[] => n.inputs.map((i) => (move.region.has(i) ? v[i] : relayout(i, perm)));
  const op = n.op;
  if (isElementwise(op)) return b.op(op, ins(), n.attrs as OpAttrs[OpName]);
  switch (op) {
    case 'transpose': return v[n.inputs[0]];
    case 'concat': return b.op('concat', ins(), { axis: perm[normalize((n.attrs as AttrsMap['concat']).axis, perm.length)] });
    case 'broadcast': return b.op('broadcast', [v[n.inputs[0]]], { shape: held(n.type.shape, perm) });
    case 'pad': {
      const a = n.attrs as AttrsMap['pad'];
      return b.op('pad', [v[n.inputs[0]]], { low: held(a.low, perm), high: held(a.high, perm), value: a.value });
    }
    case 'slice': {
      const a = n.attrs as AttrsMap['slice'];
      return b.op('slice', [v[n.inputs[0]]], { begin: held(a.begin, perm), size: held(a.size, perm), step: held(a.step, perm) });
    }
    case 'reduce_sum': case 'reduce_max': case 'reduce_min': {
      const a = n.attrs as ReduceAttrs;
      return b.op(op, [v[n.inputs[0]]], { axes: reduceHeld(a, inputPerm.length, inputPerm).axes, keepDims: a.keepDims });
    }
    default: throw new Error(`layout: ${op} (%${n.id}) was planned into a moved region but cannot be computed there`);
  }
}

/** A reader of the region outside it: it reads the held value directly. */
function atExit(b: GraphBuilder, graph: Graph, n: Node, move: Move, v: readonly Value[]): Value {
  const x = v[n.inputs[0]];
  const perm = move.region.get(n.inputs[0])!;
  if (n.op === 'transpose') return x;
  if (n.op === 'reshape') return b.reshape(x, n.type.shape);
  const a = n.attrs as ReduceAttrs;
  const out = b.op(n.op as 'reduce_sum', [x], { axes: reduceHeld(a, perm.length, perm).axes, keepDims: false });
  if (!sameShape(out.shape, n.type.shape)) throw new Error(`layout: reduction %${n.id} left the moved region as ${out.shape}, expected ${n.type.shape}`);
  return out;
}

function normalize(axis: number, rank: number): number {
  return axis < 0 ? axis + rank : axis;
}

/** Whether `t` changes the layout at all (a transpose of axes of extent 1 is a reshape already). */
function movesData(graph: Graph, t: number): boolean {
  const n = graph.nodes[t];
  return !movesUnitAxesOnly(n.type.shape, (n.attrs as AttrsMap['transpose']).perm);
}

/** The layout pass: moves transposes forward while that removes some; returns the graph itself when none moves. */
export function selectLayout(graph: Graph, ctx: { readonly layout: 'channels_first' | 'channels_last' }): Graph {
  if (ctx.layout !== 'channels_last') {
    throw new Error(`layout: the window compositions (ir/convolution.ts) compute channels-last, so no backend can prefer '${ctx.layout}' yet`);
  }
  let g = graph;
  // Whether a node can be re-laid out by a perm, per graph: shared subexpressions are judged once.
  let memo = new Map<string, boolean>();
  for (let id = 0; id < g.nodes.length; id++) {
    if (g.nodes[id].op !== 'transpose' || !movesData(g, id)) continue;
    const seeds = new Set([id]);
    let move = planMove(g, seeds, memo);
    while (typeof move === 'number') {
      seeds.add(move);
      move = planMove(g, seeds, memo);
    }
    if (!move) continue;
    g = dce(applyMove(g, move, memo));
    memo = new Map();
    id = -1;
  }
  return g;
}
