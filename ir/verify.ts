/**
 * The verifier: numbered invariants of the tensor IR (G*) and of the kernel IR
 * (K*). The pipeline runner checks them after every pass, so a pass that
 * breaks one fails where it ran, with the invariant's number.
 *
 * G1  node ids equal their index in `nodes`.
 * G2  every input refers to an earlier node (topological order).
 * G3  every op is in the op table.
 * G4  every node's type equals its op's inference over its inputs.
 * G5  outputs refer to existing nodes; there is at least one.
 * G6  param names are unique.
 * G7  updates target distinct 'state' params with values of the same type.
 *
 * K1  buffer ids equal their index; sizes match shapes.
 * K2  every load/store/operand refers to an existing buffer of the expected dtype.
 * K3  every view stays inside its buffer over the kernel's iteration space.
 * K4  inputs and weights are never written (state is, by its update copy).
 * K5  after memory planning: offsets are aligned and inside their arena (the
 *     program's, or the shared state arena), and no two buffers that a kernel
 *     touches overlap unless they are the same buffer.
 * K6  a mask has one stride per dim of the kernel's space for each bound,
 *     integer bound sizes >= 0, a fill its load's dtype can hold, and no
 *     gather index beside it. (K3 holds a masked load to its valid points.)
 * K7  a matmul's mDims and kDims multiply to its m and k, a masked
 *     operand fills with 0, and a rowReduce keeps at least one dim of M.
 * K8  (ir/verify_repeat.ts) an alias stays inside its root at every step of
 *     the repeats that touch it, and a buffer that moves with a step is
 *     touched only inside repeat bodies.
 * K9  (ir/verify_scatter.ts) a scatter store is its kernel's one full store,
 *     with no reductions, into a float buffer the kernel does not load, and
 *     distinct outer points add into distinct elements whatever the indices.
 * K10 (ir/verify_packed.ts) a matmul B with a packed copy is an unmasked
 *     weight, its copy a 'packed' buffer of the program's own that nothing
 *     else reads or writes, and the program names its weights generation.
 */
import { DTYPE_BYTES, sameShape, shapeStr, sizeOf } from './dtype.js';
import type { Graph } from './graph.js';
import { ARENA_ALIGN, type Bound, type Expr, type Kernel, type KernelProgram, type Mask, type View, matmulSpaces, visitLoads } from './kernel.js';
import { OPS } from './ops.js';

import { type PlainKernel, flatKernels } from './repeat.js';
import { verifyRepeats } from './verify_repeat.js';
import { verifyPacked } from './verify_packed.js';
import { verifyScatter } from './verify_scatter.js';

export class VerifyError extends Error {
  override name = 'VerifyError';
}

function check(cond: unknown, rule: string, message: () => string): void {
  if (!cond) throw new VerifyError(`${rule}: ${message()}`);
}

export function verifyGraph(graph: Graph): void {
  const names = new Set<string>();
  graph.nodes.forEach((n, i) => {
    check(n.id === i, 'G1', () => `node at index ${i} has id ${n.id}`);
    for (const x of n.inputs) check(x >= 0 && x < i, 'G2', () => `node %${i} (${n.op}) reads %${x}, which is not an earlier node`);
    check(n.op in OPS, 'G3', () => `node %${i} has unknown op '${n.op}'`);
    let inferred;
    try {
      inferred = OPS[n.op].infer(n.inputs.map((x) => graph.nodes[x].type), n.attrs as never);
    } catch (e) {
      throw new VerifyError(`G4: node %${i} (${n.op}) no longer type-checks: ${(e as Error).message}`);
    }
    check(sameShape(inferred.shape, n.type.shape) && inferred.dtype === n.type.dtype, 'G4',
      () => `node %${i} (${n.op}) is typed ${n.type.dtype}${shapeStr(n.type.shape)} but infers ${inferred.dtype}${shapeStr(inferred.shape)}`);
    if (n.op === 'param') {
      const name = (n.attrs as { name: string }).name;
      check(!names.has(name), 'G6', () => `param name '${name}' is used twice`);
      names.add(name);
    }
  });
  const targets = new Set<number>();
  for (const u of graph.updates ?? []) {
    const t = graph.nodes[u.target];
    const v = graph.nodes[u.value];
    check(t?.op === 'param' && (t.attrs as { role: string }).role === 'state', 'G7', () => `update target %${u.target} is not a state param`);
    check(v && sameShape(v.type.shape, t.type.shape) && v.type.dtype === t.type.dtype, 'G7', () => `update of %${u.target} (${t.type.dtype}${shapeStr(t.type.shape)}) gets %${u.value} of another type`);
    check(!targets.has(u.target), 'G7', () => `%${u.target} is updated twice`);
    targets.add(u.target);
  }
  check(graph.outputs.length > 0, 'G5', () => 'the graph has no outputs');
  for (const o of graph.outputs) check(o >= 0 && o < graph.nodes.length, 'G5', () => `output %${o} does not exist`);
}

/** Smallest and largest element index a view reaches over `space`. */
export function viewRange(view: View, space: readonly number[]): [number, number] {
  let lo = view.offset;
  let hi = view.offset;
  space.forEach((d, i) => {
    const s = view.strides[i] ?? 0;
    if (s > 0) hi += s * (d - 1);
    else lo += s * (d - 1);
  });
  return [lo, hi];
}

/**
 * Bounds on the element index a masked view reaches at the points where its
 * mask holds, or null when no point can be valid. The index is written as
 * sum(lambda_t * coordinate_t) + residual, each bound's coordinate confined to
 * [0, size) and the residual ranging over the whole space: sound for any
 * lambda, and exact for the views lowering makes (the coordinates of a pad's
 * or a window's input, carried into the buffer by movement ops).
 */
export function maskedViewRange(view: View, mask: Mask | undefined, space: readonly number[]): [number, number] | null {
  if (!mask) return viewRange(view, space);
  // Each coordinate lies in its valid range and in what the space can reach; an empty one means no valid point.
  const coords = mask.bounds.map((b): [number, number] => {
    const [lo, hi] = viewRange({ offset: b.offset, strides: b.strides }, space);
    return [Math.max(0, lo), Math.min(b.size - 1, hi)];
  });
  if (coords.some(([lo, hi]) => lo > hi)) return null;
  // Any order of bounds is sound, so two orders (outer pads first, inner pads first) are intersected.
  const order = mask.bounds.map((_, i) => i);
  const [a, b] = [order, [...order].reverse()].map((o) => rangeThroughBounds(view, o.map((i) => mask.bounds[i]), o.map((i) => coords[i]), space));
  return [Math.max(a[0], b[0]), Math.min(a[1], b[1])];
}

function rangeThroughBounds(view: View, bounds: readonly Bound[], coords: readonly (readonly [number, number])[], space: readonly number[]): [number, number] {
  let offset = view.offset;
  let residual = [...view.strides];
  let lo = 0;
  let hi = 0;
  bounds.forEach((b, t) => {
    let pivot = -1;
    space.forEach((n, d) => {
      if (n > 1 && b.strides[d] !== 0 && residual[d] !== 0 && (pivot < 0 || Math.abs(b.strides[d]) > Math.abs(b.strides[pivot]))) pivot = d;
    });
    if (pivot < 0) return;
    const lambda = residual[pivot] / b.strides[pivot];
    residual = residual.map((r, d) => r - lambda * b.strides[d]);
    offset -= lambda * b.offset;
    lo += Math.min(lambda * coords[t][0], lambda * coords[t][1]);
    hi += Math.max(lambda * coords[t][0], lambda * coords[t][1]);
  });
  const [rlo, rhi] = viewRange({ offset, strides: residual }, space);
  return [Math.ceil(rlo + lo - 1e-6), Math.floor(rhi + hi + 1e-6)];
}

function checkMask(mask: Mask, dtype: string, space: readonly number[], gather: boolean, where: () => string): void {
  check(!gather, 'K6', () => `${where()}: a masked load cannot also gather`);
  for (const b of mask.bounds) {
    check(b.strides.length === space.length, 'K6', () => `${where()}: a bound has ${b.strides.length} strides for a rank-${space.length} space`);
    check(Number.isInteger(b.size) && b.size >= 0, 'K6', () => `${where()}: bound size ${b.size} is not a count`);
  }
  const fits = dtype === 'bool' ? mask.fill === 0 || mask.fill === 1 : dtype === 'int32' ? Number.isInteger(mask.fill) : true;
  check(fits, 'K6', () => `${where()}: fill ${mask.fill} is not a ${dtype} value`);
}

function kernelSpace(k: PlainKernel): { space: number[]; spaceA: number[]; spaceB: number[] } {
  if (k.kind === 'loop') {
    const space = [...k.outer, ...k.inner];
    return { space, spaceA: space, spaceB: space };
  }
  const spaces = matmulSpaces(k);
  return { space: spaces.out, spaceA: spaces.a, spaceB: spaces.b };
}

export function verifyProgram(p: KernelProgram, planned = false): void {
  p.buffers.forEach((b, i) => {
    check(b.id === i, 'K1', () => `buffer at index ${i} has id ${b.id}`);
    check(b.size === sizeOf(b.shape), 'K1', () => `buffer ${b.name} has size ${b.size} but shape ${shapeStr(b.shape)}`);
  });
  verifyRepeats(p, planned);
  verifyPacked(p, planned, check);
  for (const k of flatKernels(p.kernels)) {
    const { space, spaceA, spaceB } = kernelSpace(k);
    if (space.some((d) => d === 0)) continue;
    const touched = new Set<number>();
    const access = (buf: number, view: View, over: readonly number[], what: string, dtype?: string, mask?: Mask): void => {
      const b = p.buffers[buf];
      check(b, 'K2', () => `kernel ${k.name}: ${what} refers to missing buffer ${buf}`);
      check(dtype === undefined || b.dtype === dtype, 'K2', () => `kernel ${k.name}: ${what} of ${b.name} as ${dtype}, buffer is ${b.dtype}`);
      check(view.strides.length === over.length, 'K3', () => `kernel ${k.name}: ${what} of ${b.name} has ${view.strides.length} strides for a rank-${over.length} space`);
      touched.add(buf);
      const range = maskedViewRange(view, mask, over);
      if (!range) return;
      const [lo, hi] = range;
      check(lo >= 0 && hi < b.size, 'K3', () => `kernel ${k.name}: ${what} of ${b.name} reaches [${lo}, ${hi}]${mask ? ' where its mask holds' : ''}, buffer has ${b.size} elements`);
    };
    const exprs = (e: Expr): void => visitLoads(e, (l) => {
      if (l.mask) checkMask(l.mask, l.dtype, space, !!l.dyn, () => `kernel ${k.name}: masked load of ${p.buffers[l.buf]?.name ?? l.buf}`);
      if (!l.dyn) return access(l.buf, l.view, space, 'load', l.dtype, l.mask);
      const [lo, hi] = viewRange(l.view, space);
      access(l.buf, { offset: lo, strides: space.map(() => 0) }, space, 'gather base', l.dtype);
      check(hi + l.dyn.stride * (l.dyn.limit - 1) < p.buffers[l.buf].size, 'K3', () => `kernel ${k.name}: gather from ${p.buffers[l.buf].name} can pass its end`);
    });
    const stored = (buf: number): void => {
      const role = p.buffers[buf]?.role;
      check(role === 'temp' || role === 'output' || role === 'state', 'K4', () => `kernel ${k.name} writes ${p.buffers[buf]?.name}, a ${role} buffer`);
    };
    if (k.kind === 'matmul') {
      const product = (dims: readonly number[] | undefined, n: number): boolean => !dims || dims.reduce((p, q) => p * q, 1) === n;
      check(product(k.mDims, k.m) && product(k.kDims, k.k), 'K7', () => `kernel ${k.name}: mDims ${JSON.stringify(k.mDims)} and kDims ${JSON.stringify(k.kDims)} must multiply to m = ${k.m} and k = ${k.k}`);
      for (const [op, over, what] of [[k.a, spaceA, 'matmul A'], [k.b, spaceB, 'matmul B']] as const) {
        if (op.mask) checkMask(op.mask, k.dtype, over, false, () => `kernel ${k.name}: ${what}`);
        check(!op.mask || op.mask.fill === 0, 'K7', () => `kernel ${k.name}: ${what} is masked with fill ${op.mask!.fill}; a matmul operand pads with 0`);
        access(op.buf, op.view, over, what, k.dtype, op.mask);
      }
      exprs(k.epilogue);
      if (k.rowReduce) {
        const { dims, op } = k.rowReduce;
        check(Number.isInteger(dims) && dims >= 1 && !!k.mDims && dims < k.mDims.length, 'K7', () => `kernel ${k.name}: rowReduce over ${dims} dims of mDims ${JSON.stringify(k.mDims)}; it needs 1 to mDims.length - 1`);
        check(op === 'sum' || op === 'max' || op === 'min', 'K7', () => `kernel ${k.name}: rowReduce op '${op}'`);
      }
      access(k.out.buf, k.out.view, matmulSpaces(k).stored, 'matmul out');
      stored(k.out.buf);
    } else {
      verifyScatter(p, k);
      for (const r of k.reductions) exprs(r.expr);
      for (const s of k.stores) {
        exprs(s.expr);
        if (s.scatter) exprs(s.scatter.expr);
        access(s.buf, s.view, space, s.scatter ? 'scatter store' : 'store');
        stored(s.buf);
      }
    }
    if (!planned) continue;
    const list = [...touched].map((b) => p.buffers[b]);
    for (const b of list) {
      const limit = b.shared ? (p.sharedBytes ?? 0) : p.arenaBytes;
      check(b.offset >= 0 && (b.alias || b.offset % ARENA_ALIGN === 0), 'K5', () => `buffer ${b.name} has offset ${b.offset}`);
      check(b.offset + b.size * DTYPE_BYTES[b.dtype] <= limit, 'K5', () => `buffer ${b.name} ends past the ${b.shared ? 'shared ' : ''}arena (${limit} bytes)`);
      for (const o of list) {
        if (o.id <= b.id || !!o.shared !== !!b.shared) continue;
        const overlap = b.offset < o.offset + o.size * DTYPE_BYTES[o.dtype] && o.offset < b.offset + b.size * DTYPE_BYTES[b.dtype];
        check(!overlap || b.size === 0 || o.size === 0, 'K5', () => `kernel ${k.name} touches ${b.name} and ${o.name}, which share arena bytes`);
      }
    }
  }
}
