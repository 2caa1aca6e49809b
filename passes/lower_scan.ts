/**
 * Lowering of a scan node (ir/scan.ts) to a repeat kernel (ir/kernel.ts):
 * the body graph is fused and lowered once, like any program, and its
 * buffers are bound into the enclosing program:
 *   - each carry lives in its final-carry slot of the scan's packed output
 *     (an alias), filled from the initial value before the loop and
 *     overwritten from the body's new carry at the end of every step;
 *   - each sequence slice and each stacked output is an alias that moves
 *     one slice per step through its buffer;
 *   - invariants (weights) are the enclosing buffers themselves;
 *   - the body's temporaries become the program's, live across the loop.
 * The program's size does not depend on the number of steps.
 */
import { type DType, type Shape, sizeOf, stridesOf } from '../ir/dtype.js';
import type { Node } from '../ir/graph.js';
import { type BufferDecl, type Expr, type Kernel, type LoopKernel, type View, mapExprChildren, mapStoreExprs, visitLoads } from '../ir/kernel.js';
import type { PlainKernel } from '../ir/repeat.js';
import { bodyParams, scanLayout, scanOperands } from '../ir/scan.js';
import { dce } from './dce.js';
import { lower } from './lower.js';
import { kernelAccess } from './memory_plan.js';
import { simplify } from './simplify.js';

function renameExpr(e: Expr, f: (b: number) => number): Expr {
  const inner = mapExprChildren(e, (x) => renameExpr(x, f));
  return inner.k === 'load' ? { ...inner, buf: f(inner.buf) } : inner;
}

function renameKernel(k: Kernel, f: (b: number) => number): PlainKernel {
  switch (k.kind) {
    case 'matmul':
      return { ...k, a: { ...k.a, buf: f(k.a.buf) }, b: { ...k.b, buf: f(k.b.buf) }, epilogue: renameExpr(k.epilogue, f), out: { ...k.out, buf: f(k.out.buf) } };
    case 'loop':
      return { ...k, reductions: k.reductions.map((r) => ({ ...r, expr: renameExpr(r.expr, f) })), stores: k.stores.map((s) => ({ ...mapStoreExprs(s, (e) => renameExpr(e, f)), buf: f(s.buf) })) };
    case 'repeat':
      throw new Error(`lower: ${k.name}: a scan inside a scan's body is not supported by the kernel IR (repeats do not nest)`);
  }
}

function sameView(a: View, b: View): boolean {
  return a.offset === b.offset && a.strides.length === b.strides.length && a.strides.every((x, i) => x === b.strides[i]);
}

/** Whether every load of `buf` in `e` reads exactly `view` (no gather, no mask). */
function loadsOnlyAt(e: Expr, buf: number, view: View): boolean {
  let ok = true;
  visitLoads(e, (l) => {
    if (l.buf === buf && (l.dyn || l.mask || !sameView(l.view, view))) ok = false;
  });
  return ok;
}

/**
 * The kernel that computes a new carry stores it straight into the carry's
 * slot when it reads the old carry only where it writes (elementwise) and no
 * later kernel of the step reads the old carry; the carry's copy at the end
 * of the step then goes.
 */
function inPlaceCarries(kernels: PlainKernel[], carries: readonly number[], next: readonly number[], copies: readonly PlainKernel[]): PlainKernel[] {
  let ks = [...kernels];
  const kept = copies.map(() => true);
  carries.forEach((c, k) => {
    const writers = ks.flatMap((x, i) => (kernelAccess(x).writes.has(next[k]) ? [i] : []));
    if (writers.length !== 1) return;
    const p = writers[0];
    const producer = ks[p];
    if (producer.kind !== 'loop' || producer.inner.length > 0 || producer.reductions.length > 0 || producer.stores.length !== 1) return;
    const store = producer.stores[0];
    if (!loadsOnlyAt(store.expr, c, store.view) || ks.slice(p + 1).some((x) => kernelAccess(x).reads.has(c))) return;
    ks = ks.map((x, i) => (i >= p ? renameKernel(x, (buf) => (buf === next[k] ? c : buf)) : x));
    kept[k] = false;
  });
  return [...ks, ...copies.filter((_, k) => kept[k])];
}

export function copyKernel(name: string, from: number, to: number, shape: Shape, dtype: DType): LoopKernel {
  const view = { offset: 0, strides: stridesOf(shape) };
  return { kind: 'loop', name, outer: [...shape], inner: [], reductions: [], stores: [{ buf: to, view, space: 'full', expr: { k: 'load', buf: from, view, dtype } }] };
}

function fillKernel(name: string, to: number, size: number, dtype: DType): LoopKernel {
  return { kind: 'loop', name, outer: [size], inner: [], reductions: [], stores: [{ buf: to, view: { offset: 0, strides: [1] }, space: 'full', expr: { k: 'const', value: 0, dtype } }] };
}

/**
 * Kernels of one scan node: carry initialization, then the repeat. Appends
 * the buffers it needs to `buffers`. A dynamic scan's repeat reads its
 * iterations from the steps operand's buffer, and its stacked outputs are
 * zeroed first (the steps it does not run leave zeros, as the interpreter's).
 */
export function lowerScan(node: Node<'scan'>, bufferOf: Int32Array, buffers: BufferDecl[], label: string): Kernel[] {
  const a = node.attrs;
  const { operands, steps } = scanOperands(node.inputs, a);
  // dce again after simplify: folding broadcasts of constants leaves the scalar constants dead.
  const body = dce(simplify(dce(a.body)));
  const step = lower(body, `${label}_step`);
  const params = bodyParams(body);
  const layout = scanLayout(a);
  const out = bufferOf[node.id];
  const ins = operands.map((i) => bufferOf[i]);
  const nc = a.carries;
  const ns = a.sequences;
  const add = (name: string, like: BufferDecl | { dtype: DType; shape: Shape }, role: BufferDecl['role'], alias?: BufferDecl['alias']): number => {
    const decl: BufferDecl = { id: buffers.length, name, role, dtype: like.dtype, size: sizeOf(like.shape), shape: like.shape, offset: -1 };
    buffers.push(alias ? { ...decl, alias } : decl);
    return decl.id;
  };
  const outer = new Map<number, number>();
  const carries: number[] = [];
  params.forEach((p, k) => {
    const local = step.params.get(p.attrs.name)!;
    const t = p.type;
    if (k < nc) carries.push(outer.set(local, add(`${label}.carry${k}`, t, buffers[out].role, { of: out, offset: layout[k].offset, step: 0 })).get(local)!);
    else if (k < nc + ns) outer.set(local, add(`${label}.seq${k - nc}`, t, buffers[ins[k]].role, { of: ins[k], offset: 0, step: sizeOf(t.shape) }));
    else outer.set(local, ins[k]);
  });
  const next: number[] = [];
  step.outputs.forEach((local, j) => {
    const decl = step.buffers[local];
    if (j < nc) next.push(outer.set(local, add(`${label}.next${j}`, decl, 'temp')).get(local)!);
    else outer.set(local, add(`${label}.out${j - nc}`, decl, buffers[out].role, { of: out, offset: layout[j].offset, step: decl.size }));
  });
  for (const decl of step.buffers) if (!outer.has(decl.id)) outer.set(decl.id, add(`${label}.${decl.name}`, decl, 'temp'));
  const rename = (b: number): number => outer.get(b)!;
  const carryShape = (k: number): { shape: Shape; dtype: DType } => params[k].type;
  const init = carries.map((c, k) => copyKernel(`${label}_init${k}`, ins[k], c, carryShape(k).shape, carryShape(k).dtype));
  const update = carries.map((c, k) => copyKernel(`${label}_carry${k}`, next[k], c, carryShape(k).shape, carryShape(k).dtype));
  const bodyKernels = inPlaceCarries(step.kernels.map((k) => renameKernel(k, rename)), carries, next, update);
  const zeros = steps === null ? [] : layout.slice(nc).map((l, j) => {
    const size = sizeOf(l.shape);
    return fillKernel(`${label}_zero${j}`, add(`${label}.stacked${j}`, { dtype: buffers[out].dtype, shape: [size] }, buffers[out].role, { of: out, offset: l.offset, step: 0 }), size, buffers[out].dtype);
  });
  const repeat: Kernel = { kind: 'repeat', name: label, count: a.length, reverse: a.reverse, ...(steps === null ? {} : { steps: bufferOf[steps] }), body: bodyKernels };
  return [...init, ...zeros, repeat];
}
