/**
 * K10 (pre-packed weights, passes/prepack_weights.ts): a packed copy must
 * never go stale, so only what the generation covers may have one.
 *  - a matmul B with a packed copy is unmasked, reads a 'weight' buffer (which
 *    no kernel writes, K4) the same for every batch index, and its copy is a
 *    'packed' buffer of the matmul's dtype with room for packedElements;
 *  - such a program names its weights generation (a 'state' int32 buffer of
 *    GENERATION_WORDS elements, in the shared arena once planned) and its own
 *    packedAt record (a 'packed' int32 buffer of as many, not shared);
 *  - a 'packed' buffer is read by nothing else: no load, no operand, no store.
 */
import { GENERATION_WORDS, type KernelProgram, kernelExprs, packedElements, visitLoads } from './kernel.js';
import { flatKernels } from './repeat.js';

export function verifyPacked(p: KernelProgram, planned: boolean, check: (cond: unknown, rule: string, message: () => string) => void): void {
  const buf = (id: number | undefined) => (id === undefined ? undefined : p.buffers[id]);
  const counter = (id: number | undefined, role: string, what: string): void => {
    const b = buf(id);
    check(b && b.role === role && b.dtype === 'int32' && b.size === GENERATION_WORDS, 'K10', () => `program ${p.name}: its ${what} must be a ${role} int32 buffer of ${GENERATION_WORDS} elements, got ${b ? `${b.name}: ${b.role} ${b.dtype}[${b.size}]` : 'none'}`);
    if (planned && b) check(!!b.shared === (role === 'state'), 'K10', () => `program ${p.name}: its ${what} ${b.name} must ${role === 'state' ? '' : 'not '}live in the shared state arena`);
  };
  if (p.weights) counter(p.weights.generation, 'state', 'weights generation');
  const copies = new Set<number>();
  for (const k of flatKernels(p.kernels)) {
    const reads = (id: number, what: string): void => check(buf(id)?.role !== 'packed', 'K10', () => `kernel ${k.name}: ${what} reads ${buf(id)!.name}, a packed copy`);
    for (const e of kernelExprs(k)) visitLoads(e, (l) => reads(l.buf, 'a load'));
    if (k.kind === 'loop') {
      for (const s of k.stores) reads(s.buf, 'a store');
      continue;
    }
    reads(k.a.buf, 'A');
    reads(k.b.buf, 'B');
    reads(k.out.buf, 'its output');
    if (k.b.packed === undefined) continue;
    const copy = buf(k.b.packed);
    const weight = p.buffers[k.b.buf];
    check(!k.b.mask && weight?.role === 'weight' && k.b.view.strides.slice(0, k.batch.length).every((s) => s === 0), 'K10', () => `kernel ${k.name}: only an unmasked weight read the same for every batch index may have a packed copy, B is ${weight?.role} ${weight?.name}${k.b.mask ? ', masked' : ''}`);
    check(copy && copy.role === 'packed' && copy.dtype === k.dtype && copy.size >= packedElements(k) && !copies.has(copy.id), 'K10', () => `kernel ${k.name}: B's packed copy must be a 'packed' ${k.dtype} buffer of its own with ${packedElements(k)} elements, got ${copy ? `${copy.name}: ${copy.role} ${copy.dtype}[${copy.size}]` : 'none'}`);
    if (planned && copy) check(!copy.shared, 'K10', () => `kernel ${k.name}: B's packed copy ${copy.name} lives in the shared state arena, where other programs' copies would clash`);
    copies.add(k.b.packed);
    check(p.weights?.packedAt !== undefined, 'K10', () => `kernel ${k.name}: B has a packed copy but program ${p.name} names no weights generation and packedAt record`);
  }
  if (p.weights?.packedAt !== undefined) counter(p.weights.packedAt, 'packed', 'packedAt record');
}
