/**
 * Invariant K8 of the kernel IR (see ir/verify.ts): aliases and repeats. An
 * alias's bytes lie inside its root's at every step of every repeat whose
 * body touches it; a buffer that moves with a step is touched by no kernel
 * outside a repeat body; counts are integers >= 0, and a repeat's steps
 * buffer (its iterations at run time) is an int32 buffer of one element. After planning, the
 * buffers a body touches keep apart over all of its steps (the planner keeps
 * every buffer a body touches live across the whole loop).
 */
import { DTYPE_BYTES } from './dtype.js';
import type { KernelProgram, RepeatKernel } from './kernel.js';
import { kernelBuffers } from './repeat.js';
import { VerifyError } from './verify.js';

function check(cond: unknown, message: () => string): void {
  if (!cond) throw new VerifyError(`K8: ${message()}`);
}

export function verifyRepeats(p: KernelProgram, planned: boolean): void {
  const maxStep = new Map<number, number>();
  for (const k of p.kernels) {
    if (k.kind !== 'repeat') {
      for (const b of kernelBuffers(k)) check(!p.buffers[b]?.alias?.step, () => `kernel ${k.name} touches ${p.buffers[b].name}, which moves with a repeat's step, outside a repeat`);
      continue;
    }
    check(Number.isInteger(k.count) && k.count >= 0, () => `repeat ${k.name} has count ${k.count}`);
    const steps = k.steps === undefined ? null : p.buffers[k.steps];
    check(k.steps === undefined || (steps && steps.dtype === 'int32' && steps.size === 1 && !steps.alias), () => `repeat ${k.name} reads its iterations from buffer ${k.steps}, which is not an int32 buffer of one element`);
    for (const body of k.body) for (const b of kernelBuffers(body)) maxStep.set(b, Math.max(maxStep.get(b) ?? -1, k.count - 1));
    if (planned) checkDisjoint(p, k);
  }
  for (const b of p.buffers) {
    if (!b.alias) continue;
    const of = p.buffers[b.alias.of];
    check(of && of.id !== b.id, () => `buffer ${b.name} aliases missing buffer ${b.alias!.of}`);
    check(of.dtype === b.dtype, () => `buffer ${b.name} (${b.dtype}) aliases ${of.name} (${of.dtype})`);
    const steps = maxStep.get(b.id) ?? 0;
    // Touched only by repeats of no steps: nothing is ever read or written through it.
    if (steps < 0) continue;
    const lo = b.alias.offset + Math.min(0, b.alias.step * steps);
    const hi = b.alias.offset + Math.max(0, b.alias.step * steps) + b.size;
    check(b.size === 0 || (lo >= 0 && hi <= of.size), () => `buffer ${b.name} reaches elements [${lo}, ${hi}) of ${of.name}, which has ${of.size}`);
  }
}

/** Byte ranges that a body's buffers cover over all steps do not overlap (a buffer with itself aside). */
function checkDisjoint(p: KernelProgram, k: RepeatKernel): void {
  const ids = [...new Set(k.body.flatMap((x) => [...kernelBuffers(x)]))];
  const span = (id: number): [number, number] => {
    const b = p.buffers[id];
    const travel = (b.alias?.stepBytes ?? 0) * Math.max(k.count - 1, 0);
    return [b.offset + Math.min(0, travel), b.offset + Math.max(0, travel) + b.size * DTYPE_BYTES[b.dtype]];
  };
  for (const x of ids) {
    for (const y of ids) {
      const [bx, by] = [p.buffers[x], p.buffers[y]];
      if (x >= y || !!bx.shared !== !!by.shared || bx.size === 0 || by.size === 0) continue;
      const [a0, a1] = span(x);
      const [b0, b1] = span(y);
      check(a1 <= b0 || b1 <= a0, () => `repeat ${k.name}: ${bx.name} (bytes ${a0}..${a1} over its steps) and ${by.name} (${b0}..${b1}) overlap`);
    }
  }
}
