/** Each numbered invariant of ir/verify.ts, broken on purpose, is reported by number. */
import { describe, expect, it } from 'vitest';
import { type Graph, GraphBuilder, type Node } from '../../ir/graph.js';
import type { KernelProgram, LoopKernel, MatmulKernel } from '../../ir/kernel.js';
import { convolve, windowGeometry } from '../../ir/convolution.js';
import { contractions } from '../../passes/contraction.js';
import { verifyGraph, verifyProgram } from '../../ir/verify.js';
import { lower } from '../../passes/lower.js';
import { planMemory } from '../../passes/memory_plan.js';

function graph(): Graph {
  const b = new GraphBuilder();
  const x = b.param('x', [2, 3]);
  const y = b.param('y', [2, 3]);
  return b.build([b.unary('exp', b.add(x, y))]);
}

const edit = (g: Graph, id: number, change: Partial<Node>): Graph => ({ ...g, nodes: g.nodes.map((n) => (n.id === id ? ({ ...n, ...change } as Node) : n)) });

describe('tensor IR invariants', () => {
  it('accepts a well-formed graph', () => expect(() => verifyGraph(graph())).not.toThrow());
  it('G1 ids equal indices', () => expect(() => verifyGraph(edit(graph(), 2, { id: 7 }))).toThrow(/^G1: node at index 2 has id 7/));
  it('G2 topological order', () => expect(() => verifyGraph(edit(graph(), 2, { inputs: [0, 3] }))).toThrow(/^G2: node %2 \(add\) reads %3/));
  it('G3 known ops', () => expect(() => verifyGraph(edit(graph(), 3, { op: 'cosh' as never }))).toThrow(/^G3: node %3 has unknown op 'cosh'/));
  it('G4 types match inference', () => expect(() => verifyGraph(edit(graph(), 3, { type: { shape: [2, 3], dtype: 'int32' } }))).toThrow(/^G4: node %3 \(exp\) is typed int32\[2, 3\] but infers float32\[2, 3\]/));
  it('G5 outputs exist', () => {
    expect(() => verifyGraph({ ...graph(), outputs: [9] })).toThrow(/^G5: output %9 does not exist/);
    expect(() => verifyGraph({ ...graph(), outputs: [] })).toThrow(/^G5: the graph has no outputs/);
  });
  it('G6 unique param names', () => {
    const g = graph();
    expect(() => verifyGraph(edit(g, 1, { attrs: { ...(g.nodes[1].attrs as object), name: 'x' } as never }))).toThrow(/^G6: param name 'x' is used twice/);
  });
});

it('G7 updates target state params with values of their type', () => {
  const b = new GraphBuilder();
  const w = b.param('w', [2], 'float32', 'state');
  const x = b.param('x', [2]);
  const ok = b.build([x], [{ target: w, value: b.add(w, x) }]);
  expect(() => verifyGraph(ok)).not.toThrow();
  expect(() => verifyGraph({ ...ok, updates: [{ target: x.id, value: w.id }] })).toThrow(/^G7: update target %1 is not a state param/);
  expect(() => verifyGraph({ ...ok, updates: [{ target: w.id, value: b.sum(x).id }] })).toThrow(/^G7: update of %0 \(float32\[2\]\) gets %\d+ of another type/);
});

describe('kernel IR invariants', () => {
  const planned = (): KernelProgram => planMemory(lower(graph(), 'p')).program;
  const withKernel = (p: KernelProgram, change: (k: LoopKernel) => LoopKernel): KernelProgram => ({ ...p, kernels: p.kernels.map((k) => change(k as LoopKernel)) });
  it('accepts a planned program', () => expect(() => verifyProgram(planned(), true)).not.toThrow());
  it('K1 buffer sizes match shapes', () => {
    const p = planned();
    expect(() => verifyProgram({ ...p, buffers: p.buffers.map((b, i) => (i === 0 ? { ...b, size: 5 } : b)) })).toThrow(/^K1: buffer x has size 5 but shape \[2, 3\]/);
  });
  it('K2 loads match buffer dtypes', () => {
    const p = withKernel(planned(), (k) => ({ ...k, stores: k.stores.map((s) => ({ ...s, expr: { k: 'load', buf: 0, view: s.view, dtype: 'int32' } })) }));
    expect(() => verifyProgram(p)).toThrow(/^K2: kernel p_k0_exp: load of x as int32, buffer is float32/);
  });
  it('K3 views stay inside buffers', () => {
    const p = withKernel(planned(), (k) => ({ ...k, stores: k.stores.map((s) => ({ ...s, view: { offset: 1, strides: s.view.strides } })) }));
    expect(() => verifyProgram(p)).toThrow(/^K3: kernel p_k0_exp: store of %3 reaches \[1, 6\], buffer has 6 elements/);
  });
  it('K4 params are never written', () => {
    const p = withKernel(planned(), (k) => ({ ...k, stores: k.stores.map((s) => ({ ...s, buf: 1 })) }));
    expect(() => verifyProgram(p)).toThrow(/^K4: kernel p_k0_exp writes y, a input buffer/);
  });
  it('K5 buffers a kernel touches do not share bytes', () => {
    const p = planned();
    expect(() => verifyProgram({ ...p, buffers: p.buffers.map((b) => (b.name === 'y' ? { ...b, offset: 0 } : b)) }, true)).toThrow(/^K5: kernel p_k0_exp touches x and y, which share arena bytes/);
    expect(() => verifyProgram({ ...p, buffers: p.buffers.map((b) => (b.name === 'y' ? { ...b, offset: 8200 } : b)) }, true)).toThrow(/^K5: buffer y has offset 8200/);
  });
});

describe('masked loads (K3, K6)', () => {
  // y = pad(x, 1 before, 1 after) + 1 over x of 4 elements: the load is x@-1+[1] if 0<=-1+[1]<4.
  const padded = (): KernelProgram => {
    const b = new GraphBuilder();
    return lower(b.build([b.add(b.pad(b.param('x', [4]), [1], [1]), 1)]), 'p');
  };
  const withLoad = (p: KernelProgram, change: (l: Record<string, unknown>) => Record<string, unknown>): KernelProgram => ({
    ...p,
    kernels: p.kernels.map((k) => {
      const loop = k as LoopKernel;
      return { ...loop, stores: loop.stores.map((s) => ({ ...s, expr: { ...s.expr, a: change((s.expr as { a: Record<string, unknown> }).a) } as never })) };
    }),
  });
  const mask = (l: Record<string, unknown>): { bounds: { offset: number; strides: number[]; size: number }[]; fill: number } => l.mask as never;
  it('accepts a load that leaves its buffer only where the mask fails', () => expect(() => verifyProgram(padded())).not.toThrow());
  it('K3 a masked view must stay inside its buffer where the mask holds', () => {
    const p = withLoad(padded(), (l) => ({ ...l, mask: { ...mask(l), bounds: [{ ...mask(l).bounds[0], size: 5 }] } }));
    expect(() => verifyProgram(p)).toThrow(/^K3: kernel p_k0_add: load of x reaches \[0, 4\] where its mask holds, buffer has 4 elements/);
  });
  it('K6 one stride per dim for each bound', () => {
    const p = withLoad(padded(), (l) => ({ ...l, mask: { ...mask(l), bounds: [{ ...mask(l).bounds[0], strides: [1, 0] }] } }));
    expect(() => verifyProgram(p)).toThrow(/^K6: kernel p_k0_add: masked load of x: a bound has 2 strides for a rank-1 space/);
  });
  it('K6 bound sizes are counts', () => {
    const p = withLoad(padded(), (l) => ({ ...l, mask: { ...mask(l), bounds: [{ ...mask(l).bounds[0], size: -2 }] } }));
    expect(() => verifyProgram(p)).toThrow(/^K6: kernel p_k0_add: masked load of x: bound size -2 is not a count/);
  });
  it('K6 the fill fits the load\'s dtype', () => {
    const p = withLoad(padded(), (l) => ({ ...l, dtype: 'int32', mask: { ...mask(l), fill: 0.5 } }));
    const typed = { ...p, buffers: p.buffers.map((b) => (b.name === 'x' ? { ...b, dtype: 'int32' as const } : b)) };
    expect(() => verifyProgram(typed)).toThrow(/^K6: kernel p_k0_add: masked load of x: fill 0.5 is not a int32 value/);
  });
  it('K6 no gather beside a mask', () => {
    const p = withLoad(padded(), (l) => ({ ...l, dyn: { expr: { k: 'const', value: 0, dtype: 'int32' }, stride: 1, limit: 1 } }));
    expect(() => verifyProgram(p)).toThrow(/^K6: kernel p_k0_add: masked load of x: a masked load cannot also gather/);
  });
  it('an empty valid range reads nothing, wherever its view points', () => {
    const p = withLoad(padded(), (l) => ({ ...l, view: { offset: 99, strides: [1] }, mask: { ...mask(l), bounds: [{ ...mask(l).bounds[0], size: 0 }] } }));
    expect(() => verifyProgram(p)).not.toThrow();
  });
});

describe('matmuls over several dims (K7)', () => {
  // A 16-filter same-padded convolution: contraction makes it a matmul with mDims, kDims and a masked A.
  const gemm = (): { p: KernelProgram; k: MatmulKernel } => {
    const b = new GraphBuilder();
    const x = b.param('x', [2, 5, 5, 3]);
    const w = b.param('w', [3, 3, 3, 16], 'float32', 'weight');
    const p = contractions(lower(b.build([convolve(b, x, w, windowGeometry('same', [5, 5], [3, 3], [1, 1], [1, 1]))]), 'p'));
    return { p, k: p.kernels[0] as MatmulKernel };
  };
  const withMatmul = (p: KernelProgram, k: MatmulKernel): KernelProgram => ({ ...p, kernels: [k] });
  it('accepts the implicit GEMM of a convolution', () => {
    const { p, k } = gemm();
    expect(k.mDims).toEqual([2, 5, 5]);
    expect(() => verifyProgram(p)).not.toThrow();
  });
  it('K7 mDims and kDims multiply to m and k', () => {
    const { p, k } = gemm();
    expect(() => verifyProgram(withMatmul(p, { ...k, mDims: [2, 5, 4] }))).toThrow(/^K7: kernel p_k0_reduce_sum: mDims \[2,5,4\] and kDims \[3,3,3\] must multiply to m = 50 and k = 27/);
  });
  it('K7 a masked operand pads with 0', () => {
    const { p, k } = gemm();
    expect(() => verifyProgram(withMatmul(p, { ...k, a: { ...k.a, mask: { ...k.a.mask!, fill: 1 } } }))).toThrow(/^K7: kernel p_k0_reduce_sum: matmul A is masked with fill 1; a matmul operand pads with 0/);
  });
  it('K3 holds a masked operand inside its buffer where the mask holds', () => {
    const { p, k } = gemm();
    const bounds = k.a.mask!.bounds.map((bd, i) => (i === 0 ? { ...bd, size: bd.size + 1 } : bd));
    expect(() => verifyProgram(withMatmul(p, { ...k, a: { ...k.a, mask: { ...k.a.mask!, bounds } } }))).toThrow(/^K3: kernel p_k0_reduce_sum: matmul A of x reaches .* where its mask holds, buffer has 150 elements/);
  });
});
