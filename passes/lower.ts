/**
 * Lowering: each fusion group becomes one kernel of the loop-level kernel IR.
 * Starting at the group's root with the identity index map, the walk carries
 * an affine map per node down to the group's leaves: movement ops transform
 * the map, elementwise ops become expressions, and leaves (params, other
 * groups' roots) become loads through the map's strides. Nothing here
 * allocates: buffers get arena offsets from memory planning.
 */
import { type DType, type Shape, sameShape, sizeOf, stridesOf } from '../ir/dtype.js';
import type { Graph, Node } from '../ir/graph.js';
import type { BufferDecl, BufferRole, Expr, Kernel, KernelProgram, Reduction, Store, View } from '../ir/kernel.js';
import { type AttrsMap, type OpAttrs, isBinaryOp, isUnaryOp } from '../ir/ops.js';
import type { ReduceOp } from '../ir/scalar.js';
import { type FusedGraph, type FusionGroup, INLINE, fuse } from './fusion.js';
import { lowerScan } from './lower_scan.js';
import { lowerScatter } from './lower_scatter.js';
import { type IndexMap, broadcastMap, identityMap, linearView, padMap, reshapeMap, sliceMap, transposeMap, windowMap } from './index_map.js';

/** Thrown when a node cannot be computed inside its group; lowering re-fuses with it materialized. */
class MaterializeRequest extends Error {
  constructor(readonly node: number, reason: string) {
    super(`node %${node} must be materialized: ${reason}`);
  }
}

const REDUCE_OP: Record<string, ReduceOp> = { reduce_sum: 'sum', reduce_max: 'max', reduce_min: 'min' };

interface Ctx {
  readonly graph: FusedGraph;
  readonly groupOf: Int32Array;
  /** Buffer id of each materialized node (params and group roots), else -1. */
  readonly bufferOf: Int32Array;
}

/** Builds the expressions of one group over a kernel iteration space. */
class GroupLowering {
  readonly reductions: Reduction[] = [];
  private readonly accOf = new Map<number, number>();
  private readonly memo = new Map<string, Expr>();

  constructor(private readonly ctx: Ctx, private readonly group: FusionGroup, private readonly kernelSpace: readonly number[]) {}

  private node(id: number): Node {
    return this.ctx.graph.nodes[id];
  }

  /** Registers the reduction nodes of the group, in topological order, as kernel reductions. */
  addReductions(reduceInputMap: (inShape: Shape) => IndexMap): void {
    for (const id of this.group.nodes) {
      const n = this.node(id);
      const op = REDUCE_OP[n.op];
      if (!op) continue;
      const input = this.node(n.inputs[0]);
      const expr = this.expr(input.id, reduceInputMap(input.type.shape));
      const rid = this.reductions.length;
      this.reductions.push({ id: rid, op, dtype: n.type.dtype, expr });
      this.accOf.set(id, rid);
    }
  }

  expr(id: number, map: IndexMap): Expr {
    const mask = map.mask ? `:${map.mask.fill}:${map.mask.bounds.map((b) => `${b.offset}+${b.strides.join(',')}<${b.size}`).join(';')}` : '';
    const key = `${id}:${map.offset.join(',')}:${map.rows.map((r) => r.join(',')).join(';')}${mask}`;
    let e = this.memo.get(key);
    if (!e) {
      e = this.build(id, map);
      this.memo.set(key, e);
    }
    return e;
  }

  private load(id: number, map: IndexMap): Expr {
    return maskedLoad(this.ctx.bufferOf[id], map, this.node(id).type.dtype);
  }

  private build(id: number, map: IndexMap): Expr {
    const n = this.node(id);
    const dtype = n.type.dtype;
    const inGroup = this.ctx.groupOf[id] === this.group.id || this.ctx.groupOf[id] === INLINE;
    if (!inGroup || (id !== this.group.root && this.ctx.bufferOf[id] >= 0)) return this.load(id, map);
    const input = (i: number, m: IndexMap = { ...map, shape: this.node(n.inputs[i]).type.shape }): Expr => this.expr(n.inputs[i], m);
    const attrs = n.attrs as OpAttrs[keyof OpAttrs];
    // Below a pad only movement ops re-index; a computed value would need the mask too, so it is materialized.
    if (map.mask && !MASK_PASSES.has(n.op)) throw new MaterializeRequest(id, `${n.op} is read through a pad`);
    if (isUnaryOp(n.op)) return { k: 'unary', op: n.op, a: input(0), dtype };
    if (isBinaryOp(n.op)) return { k: 'binary', op: n.op, a: input(0), b: input(1), dtype };
    const inShape = (i: number): Shape => this.node(n.inputs[i]).type.shape;
    switch (n.op) {
      case 'constant': return { k: 'const', value: (attrs as AttrsMap['constant']).value, dtype };
      case 'iota': {
        const { axis } = attrs as AttrsMap['iota'];
        const index: Expr = { k: 'index', view: { offset: map.offset[axis], strides: map.rows[axis] } };
        return dtype === 'int32' ? index : { k: 'cast', a: index, dtype };
      }
      case 'random': {
        const counter = this.expr(n.inputs[0], identityMap([], map.space));
        return { k: 'random', seed: (attrs as AttrsMap['random']).seed, counter, view: linearView(map) };
      }
      case 'select': return { k: 'select', cond: input(0), a: input(1), b: input(2), dtype };
      case 'cast': return { k: 'cast', a: input(0), dtype };
      case 'transpose': return input(0, transposeMap(map, (attrs as AttrsMap['transpose']).perm, inShape(0)));
      case 'broadcast': return input(0, broadcastMap(map, inShape(0)));
      case 'slice': {
        const a = attrs as AttrsMap['slice'];
        return input(0, sliceMap(map, a.begin, a.step, inShape(0)));
      }
      case 'reshape': return this.reshape(n, map);
      case 'pad': {
        const a = attrs as AttrsMap['pad'];
        const m = padMap(map, a.low, a.high, a.value, inShape(0));
        if (!m) throw new MaterializeRequest(id, 'it is read through a pad of another value');
        return input(0, m);
      }
      case 'window': {
        const a = attrs as AttrsMap['window'];
        return input(0, windowMap(map, a.strides, a.dilations, inShape(0)));
      }
      case 'gather': return this.gather(n, map);
      case 'matmul': return this.accAt(n, map, 0);
      case 'reduce_sum': case 'reduce_max': case 'reduce_min': return this.accAt(n, map, this.accOf.get(id)!);
      default: throw new Error(`lower: ${n.op} (%${id}) cannot be computed inside a fused kernel`);
    }
  }

  private reshape(n: Node, map: IndexMap): Expr {
    const src = this.node(n.inputs[0]);
    if (this.ctx.bufferOf[src.id] >= 0) {
      // A materialized tensor is row-major: reading it through a reshape is a linear view.
      return maskedLoad(this.ctx.bufferOf[src.id], map, src.type.dtype);
    }
    const m = reshapeMap(map, src.type.shape);
    if (!m) throw new MaterializeRequest(src.id, `reshape ${shapeText(src.type.shape)} -> ${shapeText(n.type.shape)} is not affine in the fused loop`);
    return this.expr(src.id, m);
  }

  private gather(n: Node, map: IndexMap): Expr {
    const [params, indices] = n.inputs.map((i) => this.node(i));
    const axis = (n.attrs as AttrsMap['gather']).axis < 0 ? (n.attrs as AttrsMap['gather']).axis + params.type.shape.length : (n.attrs as AttrsMap['gather']).axis;
    const q = indices.type.shape.length;
    const zero = map.space.map(() => 0);
    const pick = (lo: number, hi: number): { offset: number[]; rows: number[][] } => ({ offset: map.offset.slice(lo, hi), rows: map.rows.slice(lo, hi).map((r) => [...r]) });
    const before = pick(0, axis);
    const after = pick(axis + q, map.shape.length);
    const idx = pick(axis, axis + q);
    const pMap: IndexMap = {
      shape: params.type.shape,
      offset: [...before.offset, 0, ...after.offset],
      rows: [...before.rows, zero, ...after.rows],
      space: map.space,
    };
    const iMap: IndexMap = { shape: indices.type.shape, offset: idx.offset, rows: idx.rows, space: map.space };
    const dyn = { expr: this.expr(indices.id, iMap), stride: stridesOf(params.type.shape)[axis], limit: params.type.shape[axis] };
    return { k: 'load', buf: this.ctx.bufferOf[params.id], view: linearView(pMap), dtype: n.type.dtype, dyn };
  }

  /** A reduction's (or matmul's) accumulator: valid only where the map follows the kernel's outer point. */
  private accAt(n: Node, map: IndexMap, id: number): Expr {
    // Axes of extent 1 always read coordinate 0, and dims of extent 1 never move: neither can differ.
    const expected = this.accMap(n);
    const same = n.type.shape.every((size, a) => size === 1
      || (map.offset[a] === expected.offset[a] && map.rows[a].every((c, d) => this.kernelSpace[d] === 1 || c === expected.rows[a][d])));
    if (!same) throw new MaterializeRequest(n.id, 'its value is read at points other than the kernel\'s current one');
    return { k: 'acc', id, dtype: n.type.dtype };
  }

  /** The map under which a reduction/matmul value lines up with the kernel point. */
  accMap(n: Node): IndexMap {
    if (n.op === 'matmul') return identityMap(n.type.shape, this.kernelSpace);
    return reducedMap(n.type.shape, this.group.space, this.group.reduceAxes, (n.attrs as { keepDims: boolean }).keepDims, this.kernelSpace);
  }
}

/** Ops a masked map passes through: they only re-index (or read a buffer). */
const MASK_PASSES: ReadonlySet<string> = new Set(['transpose', 'broadcast', 'slice', 'reshape', 'pad', 'window']);

function maskedLoad(buf: number, map: IndexMap, dtype: DType): Expr {
  const load: Expr = { k: 'load', buf, view: linearView(map), dtype };
  return map.mask ? { ...load, mask: map.mask } : load;
}

function shapeText(s: Shape): string {
  return `[${s.join(', ')}]`;
}

/** Kernel dim of each group-space axis: kept axes first (in order), then reduced axes. */
function kernelDims(space: Shape, reduceAxes: readonly number[]): number[] {
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

function lowerLoop(ctx: Ctx, g: FusionGroup, name: string): Kernel {
  const root = ctx.graph.nodes[g.root];
  const dims = kernelDims(g.space, g.reduceAxes);
  const kernelSpace = g.space.map((_, a) => g.space[dims.indexOf(a)]);
  const outerRank = g.space.length - g.reduceAxes.length;
  const lw = new GroupLowering(ctx, g, kernelSpace);
  const spaceMap = (shape: Shape): IndexMap => identityMap(shape, kernelSpace, dims);
  lw.addReductions(spaceMap);
  const rowGroup = sameShape(root.type.shape, g.space);
  const rootMap = rowGroup ? spaceMap(root.type.shape) : lw.accMap(reduceOf(ctx.graph, g));
  const store: Store = { buf: ctx.bufferOf[g.root], view: linearView(rootMap), expr: lw.expr(g.root, rootMap), space: rowGroup || g.reduceAxes.length === 0 ? 'full' : 'outer' };
  return { kind: 'loop', name, outer: kernelSpace.slice(0, outerRank), inner: kernelSpace.slice(outerRank), reductions: lw.reductions, stores: [store] };
}

function reduceOf(graph: Graph, g: FusionGroup): Node {
  const id = g.nodes.find((i) => REDUCE_OP[graph.nodes[i].op]);
  if (id === undefined) throw new Error(`lower: group ${g.id} reduces but has no reduction node`);
  return graph.nodes[id];
}

/** Walks movement ops from a matmul operand down to a materialized buffer. */
function operandView(lw: GroupLowering, id: number, map: IndexMap): { buf: number; view: View } {
  const e = lw.expr(id, map);
  if (e.k !== 'load' || e.dyn || e.mask) throw new MaterializeRequest(id, 'a matmul operand must be a strided view of a buffer');
  return { buf: e.buf, view: e.view };
}

function lowerMatmul(ctx: Ctx, g: FusionGroup, name: string): Kernel {
  const mmId = g.nodes.find((i) => ctx.graph.nodes[i].op === 'matmul')!;
  const mm = ctx.graph.nodes[mmId] as Node<'matmul'>;
  const [a, b] = mm.inputs.map((i) => ctx.graph.nodes[i]);
  const out = mm.type.shape;
  const r = out.length;
  const batch = out.slice(0, -2);
  const [m, n] = out.slice(-2);
  const k = mm.attrs.transposeA ? a.type.shape[a.type.shape.length - 2] : a.type.shape[a.type.shape.length - 1];
  const opSpace = [...batch, m, k];
  const lw = new GroupLowering(ctx, g, [...batch, m, n]);
  const bDims = batch.map((_, i) => i);
  const aMap = identityMap(a.type.shape, opSpace, [...bDims, ...(mm.attrs.transposeA ? [r - 1, r - 2] : [r - 2, r - 1])]);
  const bBatch = b.type.shape.length > 2 ? bDims : [];
  const bMap = identityMap(b.type.shape, [...batch, k, n], [...bBatch, ...(mm.attrs.transposeB ? [r - 1, r - 2] : [r - 2, r - 1])]);
  const outMap = identityMap(ctx.graph.nodes[g.root].type.shape, [...batch, m, n]);
  return {
    kind: 'matmul', name, batch, m, n, k, dtype: mm.type.dtype,
    a: operandView(new GroupLowering(ctx, g, opSpace), a.id, aMap),
    b: operandView(new GroupLowering(ctx, g, [...batch, k, n]), b.id, bMap),
    epilogue: lw.expr(g.root, outMap),
    out: { buf: ctx.bufferOf[g.root], view: linearView(outMap) },
  };
}

/** Concat: one copy kernel per operand into its slab of the output. */
function lowerConcat(ctx: Ctx, g: FusionGroup, name: string): Kernel[] {
  const root = ctx.graph.nodes[g.root] as Node<'concat'>;
  const axis = root.attrs.axis < 0 ? root.attrs.axis + root.type.shape.length : root.attrs.axis;
  const outStrides = stridesOf(root.type.shape);
  let start = 0;
  return root.inputs.map((id, i) => {
    const shape = ctx.graph.nodes[id].type.shape;
    const view: View = { offset: start * outStrides[axis], strides: outStrides };
    start += shape[axis];
    const src = ctx.graph.nodes[id];
    const load: Expr = { k: 'load', buf: ctx.bufferOf[id], view: { offset: 0, strides: stridesOf(shape) }, dtype: src.type.dtype };
    return { kind: 'loop', name: `${name}_${i}`, outer: [...shape], inner: [], reductions: [], stores: [{ buf: ctx.bufferOf[g.root], view, expr: load, space: 'full' }] };
  });
}

export interface LoweredProgram extends KernelProgram {
  /** Buffer id of each graph param, by name. */
  readonly params: ReadonlyMap<string, number>;
  /** Buffer id of each graph output, in order. */
  readonly outputs: readonly number[];
  /** The fusion the program was lowered from. */
  readonly fused: FusedGraph;
  /** The copy kernel of each state update: kernel index, source and target buffers. */
  readonly updateCopies: readonly { readonly kernel: number; readonly from: number; readonly to: number }[];
}

function roleOf(n: Node, outputs: ReadonlySet<number>): BufferRole {
  if (n.op === 'param') return (n.attrs as AttrsMap['param']).role;
  return outputs.has(n.id) ? 'output' : 'temp';
}

function tryLower(graph: Graph, fused: FusedGraph, name: string): LoweredProgram {
  const buffers: BufferDecl[] = [];
  const bufferOf = new Int32Array(graph.nodes.length).fill(-1);
  const groupOf = new Int32Array(graph.nodes.length).fill(-1);
  const addBuffer = (label: string, role: BufferRole, dtype: DType, shape: Shape): number => {
    buffers.push({ id: buffers.length, name: label, role, dtype, size: sizeOf(shape), shape, offset: -1 });
    return buffers.length - 1;
  };
  const outputSet = new Set(graph.outputs);
  const params = new Map<string, number>();
  for (const n of graph.nodes) {
    if (n.op !== 'param') continue;
    const a = n.attrs as AttrsMap['param'];
    bufferOf[n.id] = addBuffer(a.name, a.role, a.dtype, a.shape);
    params.set(a.name, bufferOf[n.id]);
  }
  for (const g of fused.groups) {
    for (const id of g.nodes) groupOf[id] = g.id;
    const root = graph.nodes[g.root];
    bufferOf[g.root] = addBuffer(`%${g.root}`, roleOf(root, outputSet), root.type.dtype, root.type.shape);
  }
  for (const n of graph.nodes) if (groupOf[n.id] < 0 && n.op !== 'param') groupOf[n.id] = INLINE;
  const ctx: Ctx = { graph: fused, groupOf, bufferOf };
  const kernels: Kernel[] = [];
  for (const g of fused.groups.slice().sort((p, q) => p.root - q.root)) {
    const label = `${name}_k${kernels.length}_${graph.nodes[g.root].op}`;
    if (g.kind === 'concat') kernels.push(...lowerConcat(ctx, g, label));
    else if (g.kind === 'scan') kernels.push(...lowerScan(graph.nodes[g.root] as Node<'scan'>, bufferOf, buffers, label));
    else if (g.kind === 'scatter') kernels.push(...lowerScatter(graph, graph.nodes[g.root] as Node<'scatter_add'>, bufferOf, label));
    else if (g.kind === 'matmul') kernels.push(lowerMatmul(ctx, g, label));
    else kernels.push(lowerLoop(ctx, g, label));
  }
  // Outputs that are params, or that repeat, are copied into buffers of their own.
  const seen = new Set<number>();
  const outputs = graph.outputs.map((id) => {
    const n = graph.nodes[id];
    if (n.op !== 'param' && !seen.has(id)) {
      seen.add(id);
      return bufferOf[id];
    }
    const buf = addBuffer(`out%${id}`, 'output', n.type.dtype, n.type.shape);
    const view = { offset: 0, strides: stridesOf(n.type.shape) };
    kernels.push({ kind: 'loop', name: `${name}_copy${buf}`, outer: [...n.type.shape], inner: [], reductions: [], stores: [{ buf, view, space: 'full', expr: { k: 'load', buf: bufferOf[id], view, dtype: n.type.dtype } }] });
    return buf;
  });
  // State updates run last, once every kernel has read the old values.
  const updateCopies: { kernel: number; from: number; to: number }[] = [];
  for (const u of graph.updates ?? []) {
    updateCopies.push({ kernel: kernels.length, from: bufferOf[u.value], to: bufferOf[u.target] });
    const n = graph.nodes[u.target];
    const view = { offset: 0, strides: stridesOf(n.type.shape) };
    const load: Expr = { k: 'load', buf: bufferOf[u.value], view, dtype: n.type.dtype };
    kernels.push({ kind: 'loop', name: `${name}_update_${buffers[bufferOf[u.target]].name.replace(/[^A-Za-z0-9_]/g, '_')}`, outer: [...n.type.shape], inner: [], reductions: [], stores: [{ buf: bufferOf[u.target], view, space: 'full', expr: load }] });
  }
  return { name, buffers, kernels, arenaBytes: 0, params, outputs, fused, updateCopies };
}

/** Fuses and lowers a graph; re-fuses with more materialized nodes until every group lowers. */
export function lower(graph: Graph, name = 'program'): LoweredProgram {
  const materialize = new Set<number>();
  for (;;) {
    try {
      return tryLower(graph, fuse(graph, materialize), name);
    } catch (e) {
      if (!(e instanceof MaterializeRequest) || materialize.has(e.node)) throw e;
      materialize.add(e.node);
    }
  }
}
