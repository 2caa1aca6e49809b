/**
 * Helpers for repeat kernels and aliased buffers (ir/kernel.ts): where an
 * alias's bytes are, which buffers move with a repeat's step, and the plain
 * kernels of a list with repeat bodies spliced in.
 */
import type { BufferDecl, Kernel, KernelProgram, LoopKernel, MatmulKernel, RepeatKernel } from './kernel.js';
import { exprChildren, kernelExprs } from './kernel.js';

export type PlainKernel = LoopKernel | MatmulKernel;

/** The buffer whose own bytes `id` lives in (itself when it is no alias). */
export function aliasRoot(buffers: readonly BufferDecl[], id: number): number {
  let b = buffers[id];
  for (let hops = 0; b.alias; hops++) {
    if (hops > buffers.length) throw new Error(`buffer ${b.name}: its aliases form a cycle`);
    b = buffers[b.alias.of];
  }
  return b.id;
}

/** Kernels with every repeat's body in its place (each body kernel once). */
export function flatKernels(kernels: readonly Kernel[]): PlainKernel[] {
  return kernels.flatMap((k) => (k.kind === 'repeat' ? k.body : [k]));
}

/** Buffers a kernel names (loads, stores, matmul operands). */
export function kernelBuffers(k: PlainKernel): Set<number> {
  const bufs = new Set<number>();
  const visit = (e: Parameters<typeof exprChildren>[0]): void => {
    if (e.k === 'load') bufs.add(e.buf);
    exprChildren(e).forEach(visit);
  };
  kernelExprs(k).forEach(visit);
  if (k.kind === 'matmul') [k.a.buf, k.b.buf, k.out.buf].forEach((b) => bufs.add(b));
  else k.stores.forEach((s) => bufs.add(s.buf));
  return bufs;
}

/** The buffers of a repeat's body that move with its step, in id order. */
export function stepBuffers(program: KernelProgram, k: RepeatKernel): number[] {
  const ids = new Set<number>();
  for (const body of k.body) for (const b of kernelBuffers(body)) if (program.buffers[b].alias?.step) ids.add(b);
  return [...ids].sort((a, b) => a - b);
}

/** Step of iteration i of a repeat that runs n iterations. */
export function stepOf(k: RepeatKernel, i: number, n = k.count): number {
  return k.reverse ? n - 1 - i : i;
}

/** The iterations a repeat runs, given its steps buffer's value (a dynamic repeat) or none: clamped to [0, count]. */
export function iterationsOf(k: RepeatKernel, steps: number | undefined): number {
  return k.steps === undefined || steps === undefined ? k.count : Math.min(Math.max(Math.trunc(steps), 0), k.count);
}
