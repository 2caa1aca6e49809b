/**
 * Invariant K9 of the kernel IR (see ir/verify.ts): scatter stores. A loop
 * kernel with a scatter store has no reductions and that one full store into
 * a float buffer it does not also load; the store's view ignores the inner
 * dims and maps distinct outer points to distinct elements of one row
 * ([0, stride)), so that whatever rows the indices pick, two outer points
 * never add into the same element: backends may run outer points in
 * parallel and walk the inner dims in order, with no atomics.
 */
import type { KernelProgram, LoopKernel, Store } from './kernel.js';
import { visitLoads } from './kernel.js';
import { VerifyError } from './verify.js';

function check(cond: unknown, message: () => string): void {
  if (!cond) throw new VerifyError(`K9: ${message()}`);
}

/** Whether `view` maps the outer points of `outer` one-to-one into [0, rowSize): strides nest like a mixed radix. */
function outerFitsOneRow(store: Store, outer: readonly number[], rowSize: number): boolean {
  const dims = outer.map((n, d) => ({ n, s: store.view.strides[d] })).filter((x) => x.n > 1);
  if (dims.some((x) => x.s <= 0) || store.view.offset < 0) return false;
  let reach = 1;
  for (const { n, s } of dims.sort((a, b) => a.s - b.s)) {
    if (s < reach) return false;
    reach += s * (n - 1);
  }
  return store.view.offset + reach <= rowSize;
}

export function verifyScatter(p: KernelProgram, k: LoopKernel): void {
  const scatters = k.stores.filter((s) => s.scatter);
  if (scatters.length === 0) return;
  const name = (buf: number): string => p.buffers[buf]?.name ?? String(buf);
  check(k.reductions.length === 0 && k.stores.length === 1, () => `kernel ${k.name}: a scatter store must be its kernel's only store, with no reductions (it has ${k.stores.length} store(s), ${k.reductions.length} reduction(s))`);
  const s = scatters[0];
  const dyn = s.scatter!;
  check(s.space === 'full', () => `kernel ${k.name}: the scatter store into ${name(s.buf)} must be a full store`);
  const dtype = p.buffers[s.buf]?.dtype;
  check(dtype === 'float32' || dtype === 'float64', () => `kernel ${k.name}: scatter store into ${name(s.buf)}, a ${dtype} buffer; it adds, so the buffer must be float`);
  check(Number.isInteger(dyn.limit) && dyn.limit >= 1 && Number.isInteger(dyn.stride) && dyn.stride >= 1, () => `kernel ${k.name}: scatter into ${name(s.buf)} has limit ${dyn.limit} and stride ${dyn.stride}; both must be integers >= 1`);
  const inner = s.view.strides.slice(k.outer.length);
  check(inner.every((x, d) => x === 0 || k.inner[d] === 1), () => `kernel ${k.name}: scatter store into ${name(s.buf)} has inner strides [${inner.join(', ')}]; its rows come from the index alone`);
  check(outerFitsOneRow(s, k.outer, dyn.stride), () => `kernel ${k.name}: scatter store into ${name(s.buf)} (offset ${s.view.offset}, strides [${s.view.strides.join(', ')}]) does not map outer points [${k.outer.join(', ')}] one-to-one into a row of ${dyn.stride} elements`);
  check((dyn.limit - 1) * dyn.stride + dyn.stride <= (p.buffers[s.buf]?.size ?? 0), () => `kernel ${k.name}: scatter into ${name(s.buf)} reaches row ${dyn.limit - 1} of ${dyn.stride} elements, past its ${p.buffers[s.buf]?.size} elements`);
  let readsTarget = false;
  for (const e of [s.expr, dyn.expr]) visitLoads(e, (l) => void (readsTarget ||= l.buf === s.buf));
  check(!readsTarget, () => `kernel ${k.name}: scatter store into ${name(s.buf)} also loads it`);
}
