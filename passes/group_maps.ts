/**
 * The index maps of a fusion group, walked from its root towards its leaves:
 * which map each member is read through, where a member's value is a
 * reduction's accumulator, and where the walk is not affine (a reshape that
 * carries across axes, a computed value read through a pad, an accumulator
 * read off the kernel's point). Fusion walks every group with `visitNode` and
 * materializes the nodes it names; lowering walks the same maps to build the
 * kernel's expressions, so the two cannot disagree.
 */
import { type Shape, stridesOf } from '../ir/dtype.js';
import type { Graph, Node } from '../ir/graph.js';
import { type AttrsMap, type OpName, isBinaryOp, isUnaryOp } from '../ir/ops.js';
import { type IndexMap, broadcastMap, identityMap, padMap, reshapeMap, sliceMap, transposeMap, windowMap } from './index_map.js';

/** The part of a fusion group the walk needs. */
export interface GroupSpace {
  readonly root: number;
  readonly space: Shape;
  readonly reduceAxes: readonly number[];
}

export interface WalkContext {
  readonly graph: Graph;
  readonly group: GroupSpace;
  /** Extents of the kernel's iteration space (kept dims first, then reduced ones). */
  readonly kernelSpace: readonly number[];
  /** Whether node `id` is computed inside this group (a member or an inlined view/constant). */
  readonly inGroup: (id: number) => boolean;
  /** Whether node `id` has a buffer of its own (a param or a group's root). */
  readonly buffered: (id: number) => boolean;
}

/** What a node is, read through one map inside a group. */
export type Visit =
  /** Read from the node's buffer through the map. */
  | { readonly k: 'load' }
  /** The accumulator of a reduction or matmul of the group, at the kernel's point. */
  | { readonly k: 'acc' }
  /** Computed from its inputs, each read through its map (null: read directly from its buffer, as gather's params). */
  | { readonly k: 'compute'; readonly inputs: readonly (IndexMap | null)[] }
  /**
   * Not expressible in this group: `node` must root a group of its own, unless
   * the group may iterate over the finer space `refine` instead (a reshape that
   * splits the group's axes, read at the kernel's point).
   */
  | { readonly k: 'materialize'; readonly node: number; readonly reason: string; readonly refine?: Shape };

/** Ops a masked map passes through: they only re-index (or read a buffer). */
const MASK_PASSES: ReadonlySet<OpName> = new Set<OpName>(['transpose', 'broadcast', 'slice', 'reshape', 'pad', 'window']);

/** Movement ops: a matmul operand may pass through these on its way to a buffer. */
export const VIEW_OPS: ReadonlySet<OpName> = MASK_PASSES;

const materialize = (node: number, reason: string, refine?: Shape): Visit => ({ k: 'materialize', node, reason, ...(refine ? { refine } : {}) });

function shapeText(s: Shape): string {
  return `[${s.join(', ')}]`;
}

/** Memo key of a (node, map) pair: walks visit each once. */
export function mapKey(id: number, map: IndexMap): string {
  const mask = map.mask ? `:${map.mask.fill}:${map.mask.bounds.map((b) => `${b.offset}+${b.strides.join(',')}<${b.size}`).join(';')}` : '';
  return `${id}:${map.offset.join(',')}:${map.rows.map((r) => r.join(',')).join(';')}${mask}`;
}

/** Kernel dim of each group-space axis: kept axes first (in order), then reduced axes. */
export function kernelDims(space: Shape, reduceAxes: readonly number[]): number[] {
  const kept = space.map((_, a) => a).filter((a) => !reduceAxes.includes(a));
  const order = [...kept, ...reduceAxes];
  return space.map((_, a) => order.indexOf(a));
}

/** Map of a reduction result (keepDims or not) onto the kernel's outer dims. */
function reducedMap(shape: Shape, space: Shape, reduceAxes: readonly number[], keepDims: boolean, kernelSpace: readonly number[]): IndexMap {
  const dims = kernelDims(space, reduceAxes);
  const kept = space.map((_, a) => a).filter((a) => keepDims || !reduceAxes.includes(a));
  const tensorDims = kept.map((a) => (reduceAxes.includes(a) ? -1 : dims[a]));
  return identityMap(shape, kernelSpace, tensorDims);
}

/** The map under which a reduction's or matmul's value lines up with the kernel point. */
export function accMap(n: Node, group: GroupSpace, kernelSpace: readonly number[]): IndexMap {
  if (n.op === 'matmul') return identityMap(n.type.shape, kernelSpace);
  return reducedMap(n.type.shape, group.space, group.reduceAxes, (n.attrs as { keepDims: boolean }).keepDims, kernelSpace);
}

/** Whether `map` reads an accumulator at the kernel's current point (axes and dims of extent 1 never differ). */
function atKernelPoint(ctx: WalkContext, n: Node, map: IndexMap): boolean {
  const expected = accMap(n, ctx.group, ctx.kernelSpace);
  return n.type.shape.every((size, a) => size === 1
    || (map.offset[a] === expected.offset[a] && map.rows[a].every((c, d) => ctx.kernelSpace[d] === 1 || c === expected.rows[a][d])));
}

/** Whether `fine` splits each axis of `coarse` into consecutive row-major axes (merging them back is a reshape). */
export function refines(fine: Shape, coarse: Shape): boolean {
  let at = 0;
  for (const n of coarse) {
    let product = 1;
    while (at < fine.length && product < n) product *= fine[at++];
    while (at < fine.length && fine[at] === 1 && n === 1 && product === 1) at++;
    if (product !== n) return false;
  }
  return at === fine.length || fine.slice(at).every((d) => d === 1);
}

/** A reshape read at the kernel's point of a map group (no reductions) whose input splits the group's axes. */
function splitsSpace(ctx: WalkContext, map: IndexMap, fine: Shape): boolean {
  const { space, reduceAxes } = ctx.group;
  const atPoint = map.shape.length === space.length && map.shape.every((d, j) => d === space[j])
    && map.offset.every((o) => o === 0) && map.rows.every((r, j) => r.every((c, d) => c === (d === j ? 1 : 0))) && !map.mask;
  return reduceAxes.length === 0 && atPoint && refines(fine, space);
}

/** Gather's maps: its params (read from their buffer with a dynamic index on `axis`) and its indices. */
export function gatherMaps(n: Node<'gather'>, params: Shape, indices: Shape, map: IndexMap): { params: IndexMap; indices: IndexMap; axis: number; stride: number } {
  const axis = n.attrs.axis < 0 ? n.attrs.axis + params.length : n.attrs.axis;
  const q = indices.length;
  const zero = map.space.map(() => 0);
  const pick = (lo: number, hi: number): { offset: number[]; rows: number[][] } => ({ offset: map.offset.slice(lo, hi), rows: map.rows.slice(lo, hi).map((r) => [...r]) });
  const before = pick(0, axis);
  const after = pick(axis + q, map.shape.length);
  const idx = pick(axis, axis + q);
  return {
    params: { shape: params, offset: [...before.offset, 0, ...after.offset], rows: [...before.rows, zero, ...after.rows], space: map.space },
    indices: { shape: indices, offset: idx.offset, rows: idx.rows, space: map.space },
    axis,
    stride: stridesOf(params)[axis],
  };
}

/** What node `id` is when the group reads it through `map`. */
export function visitNode(ctx: WalkContext, id: number, map: IndexMap): Visit {
  const n = ctx.graph.nodes[id];
  if (!ctx.inGroup(id) || (id !== ctx.group.root && ctx.buffered(id))) return { k: 'load' };
  // Below a pad only movement ops re-index; a computed value would need the mask too, so it is materialized.
  if (map.mask && !MASK_PASSES.has(n.op)) return materialize(id, `${n.op} is read through a pad`);
  const inShape = (i: number): Shape => ctx.graph.nodes[n.inputs[i]].type.shape;
  const same = (): Visit => ({ k: 'compute', inputs: n.inputs.map((_, i) => ({ ...map, shape: inShape(i) })) });
  const through = (m: IndexMap): Visit => ({ k: 'compute', inputs: [m] });
  const op = n.op;
  if (isUnaryOp(op) || isBinaryOp(op)) return same();
  switch (op) {
    case 'constant': case 'iota': return { k: 'compute', inputs: [] };
    case 'random': return through(identityMap([], map.space));
    case 'select': case 'cast': return same();
    case 'transpose': return through(transposeMap(map, (n.attrs as AttrsMap['transpose']).perm, inShape(0)));
    case 'broadcast': return through(broadcastMap(map, inShape(0)));
    case 'slice': {
      const a = n.attrs as AttrsMap['slice'];
      return through(sliceMap(map, a.begin, a.step, inShape(0)));
    }
    case 'reshape': {
      // A materialized tensor is row-major: reading it through a reshape is the same linear view.
      if (ctx.buffered(n.inputs[0])) return through(map);
      const m = reshapeMap(map, inShape(0));
      if (m) return through(m);
      const refine = splitsSpace(ctx, map, inShape(0)) ? inShape(0) : undefined;
      return materialize(n.inputs[0], `reshape ${shapeText(inShape(0))} -> ${shapeText(n.type.shape)} is not affine in the fused loop`, refine);
    }
    case 'pad': {
      const a = n.attrs as AttrsMap['pad'];
      const m = padMap(map, a.low, a.high, a.value, inShape(0));
      return m ? through(m) : materialize(id, 'it is read through a pad of another value');
    }
    case 'window': {
      const a = n.attrs as AttrsMap['window'];
      return through(windowMap(map, a.strides, a.dilations, inShape(0)));
    }
    case 'gather': return { k: 'compute', inputs: [null, gatherMaps(n as Node<'gather'>, inShape(0), inShape(1), map).indices] };
    case 'matmul': case 'reduce_sum': case 'reduce_max': case 'reduce_min':
      return atKernelPoint(ctx, n, map) ? { k: 'acc' } : materialize(id, 'its value is read at points other than the kernel\'s current one');
    case 'param': case 'concat': case 'scan': case 'scatter_add':
      throw new Error(`group walk: ${op} (%${id}) cannot be computed inside a fused kernel`);
  }
}

/** A loop group's iteration space and the maps its walk starts from. */
export interface LoopPlan {
  readonly kernelSpace: readonly number[];
  readonly outerRank: number;
  /** The group's reductions in node order, each with the map its input is read through. */
  readonly reductions: readonly { readonly node: Node; readonly input: number; readonly map: IndexMap }[];
  /** The root is stored over the full space (row groups, maps) or over the kept dims (reductions). */
  readonly full: boolean;
  readonly rootMap: IndexMap;
}

const REDUCE_OPS: ReadonlySet<OpName> = new Set<OpName>(['reduce_sum', 'reduce_max', 'reduce_min']);

export function loopPlan(graph: Graph, g: GroupSpace & { readonly id: number; readonly nodes: readonly number[] }): LoopPlan {
  const root = graph.nodes[g.root];
  const dims = kernelDims(g.space, g.reduceAxes);
  const kernelSpace = g.space.map((_, a) => g.space[dims.indexOf(a)]);
  const spaceMap = (shape: Shape): IndexMap => identityMap(shape, kernelSpace, dims);
  const reduces = g.nodes.map((id) => graph.nodes[id]).filter((n) => REDUCE_OPS.has(n.op));
  const rowGroup = root.type.shape.length === g.space.length && root.type.shape.every((d, i) => d === g.space[i]);
  // A map group over a finer space than its root's (fusion refined it so that a split reads in place).
  const refined = !rowGroup && reduces.length === 0 && g.reduceAxes.length === 0 && refines(g.space, root.type.shape);
  if (!rowGroup && !refined && reduces.length === 0) throw new Error(`lower: group ${g.id} reduces but has no reduction node`);
  return {
    kernelSpace,
    outerRank: g.space.length - g.reduceAxes.length,
    reductions: reduces.map((n) => ({ node: n, input: n.inputs[0], map: spaceMap(graph.nodes[n.inputs[0]].type.shape) })),
    full: rowGroup || g.reduceAxes.length === 0,
    rootMap: rowGroup ? spaceMap(root.type.shape) : refined ? reshapeMap(identityMap(kernelSpace, kernelSpace), root.type.shape)! : accMap(reduces[0], g, kernelSpace),
  };
}

/** A matmul group's sizes and the maps of its operands (over [batch, m, k] and [batch, k, n]) and its output. */
export interface MatmulPlan {
  readonly node: Node<'matmul'>;
  readonly batch: readonly number[];
  readonly m: number;
  readonly n: number;
  readonly k: number;
  readonly a: { readonly id: number; readonly space: readonly number[]; readonly map: IndexMap };
  readonly b: { readonly id: number; readonly space: readonly number[]; readonly map: IndexMap };
  readonly out: { readonly space: readonly number[]; readonly map: IndexMap };
}

export function matmulPlan(graph: Graph, g: GroupSpace & { readonly nodes: readonly number[] }): MatmulPlan {
  const mm = graph.nodes[g.nodes.find((i) => graph.nodes[i].op === 'matmul')!] as Node<'matmul'>;
  const [a, b] = mm.inputs.map((i) => graph.nodes[i]);
  const out = mm.type.shape;
  const r = out.length;
  const batch = out.slice(0, -2);
  const [m, n] = out.slice(-2);
  const k = mm.attrs.transposeA ? a.type.shape[a.type.shape.length - 2] : a.type.shape[a.type.shape.length - 1];
  const bDims = batch.map((_, i) => i);
  const aSpace = [...batch, m, k];
  const bSpace = [...batch, k, n];
  const outSpace = [...batch, m, n];
  const bBatch = b.type.shape.length > 2 ? bDims : [];
  return {
    node: mm, batch, m, n, k,
    a: { id: a.id, space: aSpace, map: identityMap(a.type.shape, aSpace, [...bDims, ...(mm.attrs.transposeA ? [r - 1, r - 2] : [r - 2, r - 1])]) },
    b: { id: b.id, space: bSpace, map: identityMap(b.type.shape, bSpace, [...bBatch, ...(mm.attrs.transposeB ? [r - 1, r - 2] : [r - 2, r - 1])]) },
    out: { space: outSpace, map: identityMap(graph.nodes[g.root].type.shape, outSpace) },
  };
}
