/** Contractions: sum-of-products loop kernels become matmuls, convolutions implicit GEMMs (IR text, then run). */
import { describe, expect, it } from 'vitest';
import { convolve, windowGeometry } from '../../ir/convolution.js';
import { type Graph, GraphBuilder } from '../../ir/graph.js';
import type { MatmulKernel } from '../../ir/kernel.js';
import { printKernel } from '../../ir/print_kernel.js';
import { verifyProgram } from '../../ir/verify.js';
import { grad } from '../../passes/autodiff.js';
import { contractions } from '../../passes/contraction.js';
import { lower } from '../../passes/lower.js';

function convGraph(filters: number): { graph: Graph; b: GraphBuilder } {
  const b = new GraphBuilder();
  const x = b.param('x', [2, 7, 6, 3]);
  const w = b.param('w', [3, 3, 3, filters], 'float32', 'weight');
  const bias = b.param('bias', [filters], 'float32', 'weight');
  const y = convolve(b, x, w, windowGeometry('same', [7, 6], [3, 3], [2, 1], [1, 1]));
  return { graph: b.build([b.maximum(b.add(y, bias), 0)]), b };
}

describe('contractions', () => {
  it('a same-padded strided convolution with bias and relu becomes one masked implicit GEMM', () => {
    const p = lower(convGraph(16).graph, 'p');
    const after = contractions(p);
    verifyProgram(after);
    const names = (id: number): string => after.buffers[id].name;
    expect(after.kernels.map((k) => printKernel(k, names)).join('\n')).toBe([
      'matmul p_k0_maximum batch=[] m=48 n=16 k=27 mDims=[2, 4, 6] kDims=[3, 3, 3] float32',
      '  a = x@-21+[126,36,3,18,3,1] if 0<=-1+[0,2,0,1,0,0]<7 && 0<=-1+[0,0,1,0,1,0]<6 else 0  b = w@0+[144,48,16,1]',
      '  %17@0+[384,96,16,1] = maximum(add(acc0, bias@0+[0,0,0,1]), 0)',
    ].join('\n'));
  });

  it('leaves narrow products as loops (4 filters)', () => {
    const p = contractions(lower(convGraph(4).graph, 'p'));
    expect(p.kernels.map((k) => k.kind)).toEqual(['loop']);
  });

  it('a training graph: the forward product, the kernel gradient (over batch and positions) and the input gradient (over filters) all contract', () => {
    const lb = convGraph(16);
    const loss = lb.b.sum(lb.b.mul({ id: lb.graph.outputs[0], shape: [2, 4, 6, 16], dtype: 'float32' }, lb.b.param('r', [2, 4, 6, 16])));
    const { builder, grads } = grad(lb.b.build([loss]), 0, ['x', 'w']);
    const p = contractions(lower(builder.build(grads), 'g'));
    verifyProgram(p);
    const mm = p.kernels.filter((k): k is MatmulKernel => k.kind === 'matmul');
    expect(mm.map((k) => `m=${k.m} n=${k.n} k=${k.k}${k.mDims ? ` mDims=[${k.mDims}]` : ''}${k.kDims ? ` kDims=[${k.kDims}]` : ''}${k.a.mask ? ' masked A' : ''}${k.b.mask ? ' masked B' : ''}`).sort()).toEqual([
      'm=27 n=16 k=48 mDims=[3,3,3] kDims=[2,4,6] masked A',
      'm=48 n=16 k=27 mDims=[2,4,6] kDims=[3,3,3] masked A',
      'm=48 n=27 k=16 mDims=[2,4,6]',
    ]);
  });
});
