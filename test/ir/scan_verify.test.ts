/** Invariant K8 (ir/verify_repeat.ts): each way of breaking it is caught, naming the buffers. */
import { describe, expect, it } from 'vitest';
import { GraphBuilder } from '../../ir/graph.js';
import type { BufferDecl, KernelProgram, RepeatKernel } from '../../ir/kernel.js';
import { scan } from '../../ir/scan.js';
import { verifyProgram } from '../../ir/verify.js';
import { compileToProgram } from '../../passes/pipeline.js';

function planned(): KernelProgram {
  const b = new GraphBuilder();
  const h0 = b.param('h0', [2, 3]);
  const xs = b.param('xs', [5, 2, 3]);
  const u = b.param('u', [3, 3]);
  // The recurrent matmul keeps its own temporary (a matmul never stores into the carry in place).
  const [hT, ys] = scan(b, { init: [h0], sequences: [xs], invariants: [u] }, (sb, [h], [x], [ui]) => {
    const next = sb.unary('tanh', sb.add(sb.matmul(h, ui), x));
    return { carries: [next], outputs: [sb.mul(next, 3)] };
  });
  return compileToProgram(b.build([hT, ys]), { name: 'p' }).program;
}

const byName = (p: KernelProgram, suffix: string): BufferDecl => p.buffers.find((b) => b.name.endsWith(suffix))!;
const withBuffer = (p: KernelProgram, b: BufferDecl): KernelProgram => ({ ...p, buffers: p.buffers.map((x) => (x.id === b.id ? b : x)) });

describe('K8: aliases and repeats', () => {
  it('holds for a planned scan', () => {
    expect(() => verifyProgram(planned(), true)).not.toThrow();
  });

  it('an alias that steps past the end of its root', () => {
    const p = planned();
    const seq = byName(p, '.seq0');
    expect(() => verifyProgram(withBuffer(p, { ...seq, alias: { ...seq.alias!, step: 7 } }))).toThrow(/K8: buffer p_k\d+_scan\.seq0 reaches elements \[0, 34\) of xs, which has 30/);
  });

  it('a body temporary placed inside bytes a moving buffer covers', () => {
    const p = planned();
    const out = byName(p, '.out0');
    const next = byName(p, '.next0');
    expect(() => verifyProgram(withBuffer(p, { ...next, offset: out.offset + 24 }), true)).toThrow(/K8: repeat .* p_k\d+_scan\.next0 .* overlap|K8: repeat .* p_k\d+_scan\.out0 .* overlap/);
  });

  it('a buffer that moves with a step, touched outside a repeat', () => {
    const p = planned();
    const loop = p.kernels.find((k): k is RepeatKernel => k.kind === 'repeat')!;
    const broken = { ...p, kernels: [...p.kernels, ...loop.body.filter((k) => k.kind === 'loop').slice(0, 1)] };
    expect(() => verifyProgram(broken)).toThrow(/K8: kernel .* outside a repeat/);
  });

  it('a repeat with a negative count', () => {
    const p = planned();
    const broken = { ...p, kernels: p.kernels.map((k) => (k.kind === 'repeat' ? { ...k, count: -1 } : k)) };
    expect(() => verifyProgram(broken)).toThrow(/K8: repeat p_k\d+_scan has count -1/);
  });
});
