/**
 * Fusion: partitions the graph's compute nodes into groups, each of which
 * becomes one kernel. Visiting nodes from the outputs backwards, a node joins
 * the group of its consumers when all of them sit in one group that can
 * compute it in place:
 *   - elementwise chains fuse into one loop, with transposes, slices and
 *     reshapes as index maps (broadcasts read a buffer or a cheap source, so
 *     nothing is recomputed per copy);
 *   - a matmul takes its elementwise consumers (bias, activation) as epilogue;
 *   - a reduction takes its elementwise producers as prologue and its
 *     elementwise consumers as epilogue;
 *   - a keepDims reduction over trailing axes that is broadcast back into a
 *     loop of its input's shape (softmax, normalization) joins that loop as a
 *     row reduction;
 *   - a movement op (a view) read by several groups belongs to none: each
 *     re-indexes it, as it does constants.
 * Everything else is materialized: it roots a group of its own.
 */
import { type Shape, sameShape } from '../ir/dtype.js';
import type { Graph, Node } from '../ir/graph.js';
import { OPS, type ReduceAttrs } from '../ir/ops.js';
import { VIEW_OPS, type WalkContext, loopPlan, mapKey, matmulPlan, visitNode } from './group_maps.js';
import type { IndexMap } from './index_map.js';

export type GroupKind = 'loop' | 'matmul' | 'concat' | 'scan' | 'scatter';

export interface FusionGroup {
  readonly id: number;
  readonly kind: GroupKind;
  /** The node whose value the group materializes. */
  readonly root: number;
  /** Member nodes in ascending id order (the root included). */
  readonly nodes: readonly number[];
  /** Shape of the iteration space: the root's shape, or a reduction's input shape. */
  readonly space: Shape;
  /** Axes of `space` reduced inside the group (trailing for row groups). */
  readonly reduceAxes: readonly number[];
}

export interface FusedGraph extends Graph {
  readonly groups: readonly FusionGroup[];
}

/** Marks for nodes outside every group. */
export const PARAM = -1;
export const INLINE = -2;

interface Draft {
  kind: GroupKind;
  root: number;
  nodes: number[];
  space: Shape;
  reduceAxes: number[];
  /** Reductions in the group, and whether they are row reductions (space order kept). */
  reduces: number[];
  row: boolean;
}

const VIEWABLE = new Set(['reshape', 'transpose', 'broadcast', 'slice', 'pad', 'window', 'constant', 'iota']);

/** Whether `consumer` must read `operand` from a materialized buffer. */
function needsBuffer(consumer: Node, operand: Node, nodes: readonly Node[]): boolean {
  switch (OPS[consumer.op].fusion) {
    case 'contraction': return !VIEWABLE.has(operand.op) || operand.op === 'constant' || operand.op === 'iota';
    case 'opaque': return true;
    // Transposes, slices and reshapes re-index their producer in place; a
    // broadcast or overlapping windows would recompute it for every copy, and
    // a pad would need its mask on every load inside it, so they read a buffer.
    // Windows over the padding of a computed value (which is materialized
    // anyway) read a padded copy: every element is read by several windows,
    // and a convolution's product then reads its operand in place with the
    // direct micro-kernel instead of packing it through the mask.
    case 'movement': return (consumer.op === 'broadcast' || consumer.op === 'window' || consumer.op === 'pad') && !VIEWABLE.has(operand.op)
      || (consumer.op === 'window' && operand.op === 'pad' && !viewOfParam(nodes, operand.inputs[0]));
    default: return false;
  }
}

/** Whether node `id` is a param seen through movement ops (a load with no copy). */
function viewOfParam(nodes: readonly Node[], id: number): boolean {
  const n = nodes[id];
  return n.op === 'param' || (OPS[n.op].fusion === 'movement' && viewOfParam(nodes, n.inputs[0]));
}

function usersOf(graph: Graph): number[][] {
  const users: number[][] = graph.nodes.map(() => []);
  for (const n of graph.nodes) for (const i of n.inputs) users[i].push(n.id);
  return users;
}

function isSuffix(axes: readonly number[], rank: number): boolean {
  return axes.every((a, i) => a === rank - axes.length + i);
}

function commonGroup(cs: readonly Node[], groupOf: Int32Array, isOutput: boolean): number {
  if (isOutput || cs.length === 0) return -1;
  const g = groupOf[cs[0].id];
  return g >= 0 && cs.every((c) => groupOf[c.id] === g) ? g : -1;
}

/**
 * Partitions the graph, then walks every group's index maps (passes/group_maps.ts)
 * and materializes the first node a walk cannot reach (a reshape that is not
 * affine in the fused loop, a computed value read through a pad, an
 * accumulator read off the kernel's point, a matmul operand that is not a
 * strided view), until every group lowers. `materialize` names nodes that
 * must root a group of their own from the start.
 */
export function fuse(graph: Graph, materialize: ReadonlySet<number> = new Set()): FusedGraph {
  const forced = new Set(materialize);
  // Map groups that iterate over a finer space than their root's, by root: a reshape that splits the
  // group's axes (a tiled pool's gradient, [.., 12, 2, ..] -> [.., 24, ..]) then reads its input in place.
  const refined = new Map<number, Shape>();
  for (;;) {
    const fused = partition(graph, forced, refined);
    const unreachable = firstUnreachable(fused);
    if (!unreachable) return fused;
    if (unreachable.refine && !refined.has(unreachable.root)) {
      refined.set(unreachable.root, unreachable.refine);
      continue;
    }
    if (forced.has(unreachable.node)) throw new Error(`fusion: %${unreachable.node} stays unreachable once materialized: ${unreachable.reason}`);
    forced.add(unreachable.node);
  }
}

function partition(graph: Graph, materialize: ReadonlySet<number>, refined: ReadonlyMap<number, Shape> = new Map()): FusedGraph {
  const { nodes } = graph;
  const users = usersOf(graph);
  const outputs = new Set([...graph.outputs, ...(graph.updates ?? []).map((u) => u.value), ...materialize]);
  const groupOf = new Int32Array(nodes.length).fill(PARAM);
  const drafts: Draft[] = [];

  const newGroup = (n: Node, kind: GroupKind, space: Shape = n.type.shape, reduceAxes: number[] = []): void => {
    groupOf[n.id] = drafts.length;
    drafts.push({ kind, root: n.id, nodes: [n.id], space, reduceAxes, reduces: reduceAxes.length ? [n.id] : [], row: false });
  };
  const join = (n: Node, g: number): void => {
    groupOf[n.id] = g;
    drafts[g].nodes.push(n.id);
  };

  // A reshape that only buffer readers (scans, scatters) read is lowered as its input's own bytes (passes/lower.ts):
  // its producer roots a group of its own, so a matmul keeps its bias epilogue instead of a copy doing the add.
  const lone = new Set(nodes.filter((n) => n.op === 'reshape' && !outputs.has(n.id) && users[n.id].length > 0 && users[n.id].every((c) => needsBuffer(nodes[c], n, nodes))).map((n) => n.id));
  for (let id = nodes.length - 1; id >= 0; id--) {
    const n = nodes[id];
    if (n.op === 'param') continue;
    const cs = users[id].map((c) => nodes[c]);
    const g = commonGroup(cs, groupOf, outputs.has(id));
    const draft = g >= 0 && !cs.some((c) => needsBuffer(c, n, nodes) || lone.has(c.id)) ? drafts[g] : null;
    const cls = OPS[n.op].fusion;
    const viewedByEach = cs.length > 0 && !outputs.has(id) && !cs.some((c) => needsBuffer(c, n, nodes));
    if ((n.op === 'constant' || n.op === 'iota') && viewedByEach) {
      groupOf[id] = INLINE;
    } else if (cls === 'movement' && g < 0 && viewedByEach) {
      // A view read by several groups is re-indexed in each (a convolution's windows by its forward
      // product and by its kernel gradient) instead of being copied out once.
      groupOf[id] = INLINE;
    } else if (cls === 'reduction') {
      const inShape = nodes[n.inputs[0]].type.shape;
      // A row reduction's consumers are broadcasts, which otherwise demand a buffer.
      const d = g >= 0 && drafts[g].kind === 'loop' ? drafts[g] : null;
      if (d && fitsRow(d, n, inShape, cs)) {
        Object.assign(d, { row: true, reduceAxes: [...(n.attrs as ReduceAttrs).axes] });
        d.reduces.push(id);
        join(n, g);
      } else if (d && d === draft && d.reduces.length === 0 && sameShape(d.space, n.type.shape) && cs.every((c) => OPS[c.op].fusion === 'elementwise')) {
        Object.assign(d, { space: inShape, reduceAxes: [...(n.attrs as ReduceAttrs).axes] });
        d.reduces.push(id);
        join(n, g);
      } else newGroup(n, 'loop', inShape, [...(n.attrs as ReduceAttrs).axes]);
    } else if (cls === 'contraction') {
      if (draft?.kind === 'loop' && draft.reduces.length === 0 && sameShape(draft.space, n.type.shape) && cs.every((c) => OPS[c.op].fusion === 'elementwise')) {
        draft.kind = 'matmul';
        join(n, g);
      } else newGroup(n, 'matmul');
    } else if (n.op === 'concat') {
      newGroup(n, 'concat');
    } else if (n.op === 'scan') {
      newGroup(n, 'scan');
    } else if (n.op === 'scatter_add') {
      newGroup(n, 'scatter');
    } else if (draft && draft.kind !== 'concat' && draft.kind !== 'scan' && draft.kind !== 'scatter' && (draft.kind !== 'matmul' || cls === 'movement' || sameShape(n.type.shape, draft.space))) {
      join(n, g);
    } else {
      newGroup(n, 'loop');
    }
  }
  const space = (d: Draft): Shape => (d.kind === 'loop' && d.reduces.length === 0 && refined.get(d.root)) || d.space;
  const groups = drafts.map((d, i): FusionGroup => ({
    id: i, kind: d.kind, root: d.root, nodes: [...d.nodes].sort((a, b) => a - b), space: space(d), reduceAxes: d.reduceAxes,
  }));
  return { ...graph, groups };
}

/** What a walk cannot reach in the group rooted at `root`; `refine`: the finer space that group may take instead. */
type Unreachable = { readonly node: number; readonly reason: string; readonly root: number; readonly refine?: Shape };

/** The first node, in the order lowering meets them, that some group's maps cannot reach; null when every group lowers. */
function firstUnreachable(fused: FusedGraph): Unreachable | null {
  const groupOf = new Int32Array(fused.nodes.length).fill(INLINE);
  const buffered = new Uint8Array(fused.nodes.length);
  for (const n of fused.nodes) if (n.op === 'param') (groupOf[n.id] = PARAM), (buffered[n.id] = 1);
  for (const g of fused.groups) {
    for (const id of g.nodes) groupOf[id] = g.id;
    buffered[g.root] = 1;
  }
  for (const g of fused.groups.slice().sort((p, q) => p.root - q.root)) {
    const walker = (kernelSpace: readonly number[]): Walker => new Walker({
      graph: fused, group: g, kernelSpace,
      inGroup: (id) => groupOf[id] === g.id || groupOf[id] === INLINE,
      buffered: (id) => buffered[id] === 1,
    });
    let found: Unreachable | null = null;
    switch (g.kind) {
      case 'concat': case 'scan': case 'scatter': break;
      case 'loop': {
        const plan = loopPlan(fused, g);
        const w = walker(plan.kernelSpace);
        for (const r of plan.reductions) found ??= w.walk(r.input, r.map);
        found ??= w.walk(g.root, plan.rootMap);
        break;
      }
      case 'matmul': {
        const plan = matmulPlan(fused, g);
        found = walker(plan.a.space).operand(plan.a.id, plan.a.map) ?? walker(plan.b.space).operand(plan.b.id, plan.b.map) ?? walker(plan.out.space).walk(g.root, plan.out.map);
        break;
      }
    }
    if (found) return found;
  }
  return null;
}

/** Walks a group's maps depth first, inputs in order, each (node, map) once: the order lowering builds expressions in. */
class Walker {
  private readonly seen = new Set<string>();

  constructor(private readonly ctx: WalkContext) {}

  walk(id: number, map: IndexMap): Unreachable | null {
    const key = mapKey(id, map);
    if (this.seen.has(key)) return null;
    this.seen.add(key);
    const v = visitNode(this.ctx, id, map);
    if (v.k === 'materialize') return { node: v.node, reason: v.reason, root: this.ctx.group.root, ...(v.refine ? { refine: v.refine } : {}) };
    if (v.k !== 'compute') return null;
    const inputs = this.ctx.graph.nodes[id].inputs;
    for (let i = 0; i < v.inputs.length; i++) {
      const m = v.inputs[i];
      const found = m ? this.walk(inputs[i], m) : null;
      if (found) return found;
    }
    return null;
  }

  /** A matmul operand must reach an unmasked buffer through movement ops alone. */
  operand(id: number, map: IndexMap): Unreachable | null {
    return this.walk(id, map) ?? (this.isView(id, map) ? null : { node: id, reason: 'a matmul operand must be a strided view of a buffer', root: this.ctx.group.root });
  }

  private isView(id: number, map: IndexMap): boolean {
    const v = visitNode(this.ctx, id, map);
    if (v.k === 'load') return !map.mask;
    const n = this.ctx.graph.nodes[id];
    return v.k === 'compute' && VIEW_OPS.has(n.op) && this.isView(n.inputs[0], v.inputs[0]!);
  }
}

/** A keepDims reduction over trailing axes, broadcast back into the group's space. */
function fitsRow(d: Draft, n: Node, inShape: Shape, cs: readonly Node[]): boolean {
  const { axes, keepDims } = n.attrs as ReduceAttrs;
  const sameAxes = d.reduces.length === 0 ? true : d.row && d.reduceAxes.join() === axes.join();
  return keepDims && sameAxes && axes.length > 0 && sameShape(inShape, d.space) && isSuffix(axes, d.space.length)
    && cs.every((c) => c.op === 'broadcast' && sameShape(c.type.shape, d.space));
}

/** Stable text of a fusion: one line per group with its kind, root, space and members. */
export function printFusion(fused: FusedGraph): string {
  return fused.groups
    .slice()
    .sort((a, b) => a.root - b.root)
    .map((g) => {
      const red = g.reduceAxes.length ? ` reduce=[${g.reduceAxes.join(',')}]` : '';
      const members = g.nodes.map((id) => `%${id}:${fused.nodes[id].op}`).join(' ');
      return `${g.kind} %${g.root} space=[${g.space.join(',')}]${red}: ${members}`;
    })
    .join('\n');
}
