/**
 * In-place state updates: lowering writes every updated weight, optimizer
 * slot and counter into a temporary and copies it into the state buffer after
 * the last kernel. When nothing after the kernel that computes the new value
 * still needs the old one, that kernel stores straight into the state buffer
 * and the copy disappears (two fewer passes over each weight per training
 * step). The kernel may itself read the old value only elementwise, at the
 * very index it writes.
 */
import { type Expr, type Kernel, type View, mapExprChildren, mapStoreExprs, visitLoads } from '../ir/kernel.js';
import type { LoweredProgram } from './lower.js';
import { kernelAccess } from './memory_plan.js';

function sameView(a: View, b: View): boolean {
  return a.offset === b.offset && a.strides.length === b.strides.length && a.strides.every((s, i) => s === b.strides[i]);
}

/** Whether every load of `buf` in `e` reads exactly `view` (no gathers, no masks). */
function loadsOnlyAt(e: Expr, buf: number, view: View): boolean {
  let ok = true;
  visitLoads(e, (l) => {
    if (l.buf === buf && (l.dyn || l.mask || !sameView(l.view, view))) ok = false;
  });
  return ok;
}

function renameExpr(e: Expr, from: number, to: number): Expr {
  const inner = mapExprChildren(e, (x) => renameExpr(x, from, to));
  return inner.k === 'load' && inner.buf === from ? { ...inner, buf: to } : inner;
}

function renameKernel(k: Kernel, from: number, to: number): Kernel {
  const pick = (b: number): number => (b === from ? to : b);
  if (k.kind === 'repeat') return { ...k, body: k.body.map((x) => renameKernel(x, from, to) as typeof x) };
  if (k.kind === 'matmul') {
    return { ...k, a: { ...k.a, buf: pick(k.a.buf) }, b: { ...k.b, buf: pick(k.b.buf) }, epilogue: renameExpr(k.epilogue, from, to), out: { ...k.out, buf: pick(k.out.buf) } };
  }
  return {
    ...k,
    reductions: k.reductions.map((r) => ({ ...r, expr: renameExpr(r.expr, from, to) })),
    stores: k.stores.map((s) => ({ ...mapStoreExprs(s, (e) => renameExpr(e, from, to)), buf: pick(s.buf) })),
  };
}

/** The producing kernel may write `to` in place of `from`: it reads `to` only where it writes. */
function canWriteInPlace(k: Kernel, from: number, to: number): boolean {
  const { reads } = kernelAccess(k);
  if (!reads.has(to)) return true;
  if (k.kind !== 'loop' || k.inner.length > 0 || k.reductions.length > 0) return false;
  const store = k.stores.find((s) => s.buf === from);
  return !!store && k.stores.every((s) => loadsOnlyAt(s.expr, to, store.view));
}

export function inPlaceUpdates(program: LoweredProgram): LoweredProgram {
  let kernels: (Kernel | null)[] = [...program.kernels];
  const copies = new Set(program.updateCopies.map((c) => c.kernel));
  const outputs = new Set(program.outputs);
  for (const copy of program.updateCopies) {
    const { from, to } = copy;
    if (program.buffers[from].role !== 'temp' || outputs.has(from)) continue;
    const writers = kernels.flatMap((k, i) => (k && !copies.has(i) && kernelAccess(k).writes.has(from) ? [i] : []));
    if (writers.length !== 1) continue;
    const [producer] = writers;
    const laterReadsOld = kernels.some((k, i) => k && i > producer && !copies.has(i) && kernelAccess(k).reads.has(to));
    const otherCopiesRead = program.updateCopies.some((c) => c !== copy && c.from === from);
    if (laterReadsOld || otherCopiesRead || !canWriteInPlace(kernels[producer]!, from, to)) continue;
    kernels = kernels.map((k, i) => (k === null || i === copy.kernel ? (i === copy.kernel ? null : k) : i >= producer ? renameKernel(k, from, to) : k));
  }
  const kept = kernels.flatMap((k, i) => (k ? [{ k, i }] : []));
  const index = new Map(kept.map(({ i }, j) => [i, j]));
  return {
    ...program,
    kernels: kept.map(({ k }) => k),
    updateCopies: program.updateCopies.filter((c) => index.has(c.kernel)).map((c) => ({ ...c, kernel: index.get(c.kernel)! })),
  };
}
