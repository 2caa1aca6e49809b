/**
 * Lowering: each fusion group becomes one kernel of the loop-level kernel IR.
 * Starting at the group's root with the identity index map, the walk carries
 * an affine map per node down to the group's leaves: movement ops transform
 * the map, elementwise ops become expressions, and leaves (params, other
 * groups' roots) become loads through the map's strides. Nothing here
 * allocates: buffers get arena offsets from memory planning.
 */
import { type DType, type Shape, sizeOf, stridesOf } from '../ir/dtype.js';
import type { Graph, Node } from '../ir/graph.js';
import type { BufferDecl, BufferRole, Expr, Kernel, KernelProgram, Reduction, Store, View } from '../ir/kernel.js';
import { type AttrsMap, isBinaryOp, isUnaryOp } from '../ir/ops.js';
import type { ReduceOp } from '../ir/scalar.js';
import { type FusedGraph, type FusionGroup, INLINE, fuse } from './fusion.js';
import { type LoopPlan, type MatmulPlan, type WalkContext, gatherMaps, loopPlan, mapKey, matmulPlan, visitNode } from './group_maps.js';
import { lowerScan } from './lower_scan.js';
import { lowerScatter } from './lower_scatter.js';
import { type IndexMap, linearView } from './index_map.js';

const REDUCE_OP: Record<string, ReduceOp> = { reduce_sum: 'sum', reduce_max: 'max', reduce_min: 'min' };

interface Ctx {
  readonly graph: FusedGraph;
  readonly groupOf: Int32Array;
  /** Buffer id of each materialized node (params and group roots), else -1. */
  readonly bufferOf: Int32Array;
}

/** Builds the expressions of one group over a kernel iteration space, along the maps of passes/group_maps.ts. */
class GroupLowering {
  readonly reductions: Reduction[] = [];
  private readonly accOf = new Map<number, number>();
  private readonly memo = new Map<string, Expr>();
  private readonly walk: WalkContext;

  constructor(private readonly ctx: Ctx, group: FusionGroup, kernelSpace: readonly number[]) {
    this.walk = {
      graph: ctx.graph, group, kernelSpace,
      inGroup: (id) => ctx.groupOf[id] === group.id || ctx.groupOf[id] === INLINE,
      buffered: (id) => ctx.bufferOf[id] >= 0,
    };
  }

  private node(id: number): Node {
    return this.ctx.graph.nodes[id];
  }

  /** Registers the group's reductions, in topological order, as kernel reductions. */
  addReductions(plan: LoopPlan): void {
    for (const r of plan.reductions) {
      const expr = this.expr(r.input, r.map);
      this.accOf.set(r.node.id, this.reductions.length);
      this.reductions.push({ id: this.reductions.length, op: REDUCE_OP[r.node.op], dtype: r.node.type.dtype, expr });
    }
  }

  expr(id: number, map: IndexMap): Expr {
    const key = mapKey(id, map);
    let e = this.memo.get(key);
    if (!e) {
      e = this.build(id, map);
      this.memo.set(key, e);
    }
    return e;
  }

  private build(id: number, map: IndexMap): Expr {
    const n = this.node(id);
    const v = visitNode(this.walk, id, map);
    switch (v.k) {
      case 'load': return maskedLoad(this.ctx.bufferOf[id], map, n.type.dtype);
      case 'acc': return { k: 'acc', id: n.op === 'matmul' ? 0 : this.accOf.get(id)!, dtype: n.type.dtype };
      // Fusion walked the same maps and materialized what they could not reach.
      case 'materialize': throw new Error(`lower: fusion left %${v.node} inside group ${this.walk.group.root}: ${v.reason}`);
      case 'compute': return this.compute(n, map, v.inputs.map((m, i) => (m ? this.expr(n.inputs[i], m) : null)));
    }
  }

  /** A member's expression from its inputs' (null where the input is not read through a map). */
  private compute(n: Node, map: IndexMap, xs: readonly (Expr | null)[]): Expr {
    const dtype = n.type.dtype;
    const x = (i: number): Expr => xs[i]!;
    const op = n.op;
    if (isUnaryOp(op)) return { k: 'unary', op, a: x(0), dtype };
    if (isBinaryOp(op)) return { k: 'binary', op, a: x(0), b: x(1), dtype };
    switch (op) {
      case 'constant': return { k: 'const', value: (n.attrs as AttrsMap['constant']).value, dtype };
      case 'iota': {
        const { axis } = n.attrs as AttrsMap['iota'];
        const index: Expr = { k: 'index', view: { offset: map.offset[axis], strides: map.rows[axis] } };
        return dtype === 'int32' ? index : { k: 'cast', a: index, dtype };
      }
      case 'random': return { k: 'random', seed: (n.attrs as AttrsMap['random']).seed, counter: x(0), view: linearView(map) };
      case 'select': return { k: 'select', cond: x(0), a: x(1), b: x(2), dtype };
      case 'cast': return { k: 'cast', a: x(0), dtype };
      case 'transpose': case 'broadcast': case 'slice': case 'reshape': case 'pad': case 'window': return x(0);
      case 'gather': {
        const [params, indices] = n.inputs.map((i) => this.node(i).type.shape);
        const g = gatherMaps(n as Node<'gather'>, params, indices, map);
        const dyn = { expr: x(1), stride: g.stride, limit: params[g.axis] };
        return { k: 'load', buf: this.ctx.bufferOf[n.inputs[0]], view: linearView(g.params), dtype, dyn };
      }
      case 'matmul': case 'reduce_sum': case 'reduce_max': case 'reduce_min': case 'param': case 'concat': case 'scan': case 'scatter_add':
        throw new Error(`lower: ${op} (%${n.id}) is not computed from its inputs inside a fused kernel`);
    }
  }
}

function maskedLoad(buf: number, map: IndexMap, dtype: DType): Expr {
  const load: Expr = { k: 'load', buf, view: linearView(map), dtype };
  return map.mask ? { ...load, mask: map.mask } : load;
}

function lowerLoop(ctx: Ctx, g: FusionGroup, name: string): Kernel {
  const plan = loopPlan(ctx.graph, g);
  const lw = new GroupLowering(ctx, g, plan.kernelSpace);
  lw.addReductions(plan);
  const store: Store = { buf: ctx.bufferOf[g.root], view: linearView(plan.rootMap), expr: lw.expr(g.root, plan.rootMap), space: plan.full ? 'full' : 'outer' };
  return { kind: 'loop', name, outer: plan.kernelSpace.slice(0, plan.outerRank), inner: plan.kernelSpace.slice(plan.outerRank), reductions: lw.reductions, stores: [store] };
}

/** A matmul operand: movement ops down to a materialized buffer, as one strided view (fusion checked it is one). */
function operandView(ctx: Ctx, g: FusionGroup, operand: MatmulPlan['a']): { buf: number; view: View } {
  const e = new GroupLowering(ctx, g, operand.space).expr(operand.id, operand.map);
  if (e.k !== 'load' || e.dyn || e.mask) throw new Error(`lower: matmul operand %${operand.id} of group ${g.root} is not a strided view of a buffer`);
  return { buf: e.buf, view: e.view };
}

function lowerMatmul(ctx: Ctx, g: FusionGroup, name: string): Kernel {
  const plan = matmulPlan(ctx.graph, g);
  const { batch, m, n, k } = plan;
  return {
    kind: 'matmul', name, batch, m, n, k, dtype: plan.node.type.dtype,
    a: operandView(ctx, g, plan.a),
    b: operandView(ctx, g, plan.b),
    epilogue: new GroupLowering(ctx, g, plan.out.space).expr(g.root, plan.out.map),
    out: { buf: ctx.bufferOf[g.root], view: linearView(plan.out.map) },
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

/** Lowers each fusion group to a kernel, in the order of their roots. */
export function lowerFused(fused: FusedGraph, name = 'program'): LoweredProgram {
  const graph = fused;
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
  const reshapes = reshapeAliases(graph, fused);
  for (const g of fused.groups) {
    for (const id of g.nodes) groupOf[id] = g.id;
    const root = graph.nodes[g.root];
    if (!reshapes.has(g.id)) bufferOf[g.root] = addBuffer(`%${g.root}`, roleOf(root, outputSet), root.type.dtype, root.type.shape);
  }
  // A lone reshape of a materialized tensor (a scan's or a scatter's operand) is that tensor's row-major bytes: it reads them, with no copy.
  for (const g of fused.groups.filter((x) => reshapes.has(x.id)).sort((p, q) => p.root - q.root)) {
    const src = bufferOf[graph.nodes[g.root].inputs[0]];
    if (src >= 0) bufferOf[g.root] = src;
    else {
      reshapes.delete(g.id);
      bufferOf[g.root] = addBuffer(`%${g.root}`, 'temp', graph.nodes[g.root].type.dtype, graph.nodes[g.root].type.shape);
    }
  }
  for (const n of graph.nodes) if (groupOf[n.id] < 0 && n.op !== 'param') groupOf[n.id] = INLINE;
  const ctx: Ctx = { graph: fused, groupOf, bufferOf };
  const kernels: Kernel[] = [];
  for (const g of fused.groups.slice().sort((p, q) => p.root - q.root)) {
    if (reshapes.has(g.id)) continue;
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

/** Groups that are one reshape, of a value that is neither an output nor a state update's. */
function reshapeAliases(graph: Graph, fused: FusedGraph): Set<number> {
  const boundary = new Set([...graph.outputs, ...(graph.updates ?? []).map((u) => u.value)]);
  return new Set(fused.groups.filter((g) => g.kind === 'loop' && g.nodes.length === 1 && graph.nodes[g.root].op === 'reshape' && !boundary.has(g.root)).map((g) => g.id));
}

/** Fuses and lowers a graph (the pipeline runs the two as separate stages). */
export function lower(graph: Graph, name = 'program'): LoweredProgram {
  return lowerFused(fuse(graph), name);
}
