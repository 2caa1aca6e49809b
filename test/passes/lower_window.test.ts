/** Lowering through pads and windows: masked loads, as IR text. */
import { describe, expect, it } from 'vitest';
import { GraphBuilder } from '../../ir/graph.js';
import { printProgram } from '../../ir/print_kernel.js';
import { lower } from '../../passes/lower.js';
import { convolve, pool, windowGeometry } from '../../ir/convolution.js';
import { grad } from '../../passes/autodiff.js';
import { PREDICT_GRAPH, runPipeline } from '../../passes/pipeline.js';
import { text } from '../helpers/graphs.js';

const kernelsOf = (p: ReturnType<typeof lower>): string => printProgram(p).split('\n').filter((l) => !l.startsWith('buffer') && !l.startsWith('program')).join('\n');
const indented = (s: string): string => text(s).replace(/\n(acc\d|outer|full)/g, '\n  $1');

describe('lowering pads and windows', () => {
  it('a strided 1-d convolution with same padding is one reduction over masked loads', () => {
    const b = new GraphBuilder();
    const x = b.param('x', [5, 4]);
    const w = b.param('w', [3]);
    const win = b.window(b.pad(x, [1, 0], [1, 0]), [3, 1], [2, 1]);
    const y = b.sum(b.mul(b.reshape(win, [3, 4, 3]), b.reshape(w, [1, 1, 3])), 2);
    expect(kernelsOf(lower(b.build([y]), 'p'))).toBe(indented(`
      loop p_k0_reduce_sum outer=[3, 4] inner=[3]
      acc0 = sum mul(x@-4+[8,1,4] if 0<=-1+[2,0,1]<5 else 0, w@0+[0,0,1])
      outer %8@0+[4,1,0] = acc0`));
  });

  it('a pad of a computed value reads it from a buffer; the pad\'s own loads are masked', () => {
    const b = new GraphBuilder();
    const x = b.param('x', [2, 3]);
    const y = b.pad(b.unary('exp', x), [1, 0], [0, 2], 7);
    expect(kernelsOf(lower(b.build([b.add(y, 1)]), 'p'))).toBe(indented(`
      loop p_k0_exp outer=[2, 3] inner=[]
      full %1@0+[3,1] = exp(x@0+[3,1])
      loop p_k1_add outer=[3, 5] inner=[]
      full %5@0+[5,1] = add(%1@-3+[3,1] if 0<=-1+[1,0]<2 && 0<=0+[0,1]<3 else 7, 1)`));
  });

  it('nested pads with one value share a mask; different values materialize the inner pad', () => {
    const b = new GraphBuilder();
    const x = b.param('x', [2]);
    const same = b.pad(b.pad(x, [1], [0]), [0], [2]);
    const other = b.pad(b.pad(x, [1], [0]), [0], [2], 1);
    const p = lower(b.build([b.unary('neg', same), b.unary('neg', other)]), 'p');
    expect(kernelsOf(p)).toBe(indented(`
      loop p_k0_pad outer=[3] inner=[]
      full %3@0+[1] = x@-1+[1] if 0<=-1+[1]<2 else 0
      loop p_k1_neg outer=[5] inner=[]
      full %5@0+[1] = neg(x@-1+[1] if 0<=0+[1]<3 && 0<=-1+[1]<2 else 0)
      loop p_k2_neg outer=[5] inner=[]
      full %6@0+[1] = neg(%3@0+[1] if 0<=0+[1]<3 else 1)`));
  });

  it('a same-padded, strided 2-d convolution is one kernel: no padded copy, no im2col tensor', () => {
    const b = new GraphBuilder();
    const x = b.param('x', [2, 7, 6, 3]);
    const w = b.param('w', [3, 3, 3, 4], 'float32', 'weight');
    const y = convolve(b, x, w, windowGeometry('same', [7, 6], [3, 3], [2, 2], [1, 1]));
    const p = lower(b.build([b.maximum(y, 0)]), 'p');
    expect(p.kernels.map((k) => (k.kind === 'loop' ? `${k.name} outer=[${k.outer}] inner=[${k.inner}]` : k.name))).toEqual(['p_k0_maximum outer=[2,4,3,4] inner=[3,3,3]']);
    // Height pads 1 before (total 2), width 0 before and 1 after (total 1), as TensorFlow does.
    expect(printProgram(p)).toContain('acc0 = sum mul(x@-18+[126,36,6,0,18,3,1] if 0<=-1+[0,2,0,0,1,0,0]<7 && 0<=0+[0,0,2,0,0,1,0]<6 else 0, w@0+[0,0,0,1,36,12,4])');
  });

  it('a 2x2 max pool and its gradient need no window scatter: no concat, no copy of overlapping windows', () => {
    const b = new GraphBuilder();
    const x = b.param('x', [2, 6, 5, 3]);
    const y = pool(b, x, 'max', windowGeometry('valid', [6, 5], [2, 2], [2, 2], [1, 1]));
    const loss = b.sum(b.mul(y, b.param('r', [...y.shape])));
    const { builder, grads } = grad(b.build([loss]), 0, ['x']);
    const p = lower(runPipeline(PREDICT_GRAPH, builder.build(grads)), 'g');
    // The max, the ties counted and the cotangent's share divided at the pooled shape, the share selected where x equals the max, and a pad back over the cropped remainder.
    expect(p.kernels.map((k) => k.name)).toEqual(['g_k0_reduce_max', 'g_k1_div', 'g_k2_select', 'g_k3_pad']);
  });

  it("a 2x2 max pool's gradient and the relu's before it are one pass over the pooled windows, writing dx once", () => {
    const b = new GraphBuilder();
    const x = b.param('x', [2, 6, 4, 3]);
    const y = pool(b, b.maximum(x, 0), 'max', windowGeometry('valid', [6, 4], [2, 2], [2, 2], [1, 1]));
    const loss = b.sum(b.mul(y, b.param('r', [...y.shape])));
    const { builder, grads } = grad(b.build([loss]), 0, ['x']);
    const p = lower(runPipeline(PREDICT_GRAPH, builder.build(grads)), 'g');
    // The full-size kernels: the relu, then dx over [batch, 3, 2, 2, 2, c] (the pool's windows split out of [6, 4]).
    const full = p.kernels.flatMap((k) => (k.kind === 'loop' && k.outer.reduce((q, n) => q * n, 1) === 2 * 6 * 4 * 3 ? [`${k.name} outer=[${k.outer}]`] : []));
    expect(full).toEqual(['g_k0_maximum outer=[2,6,4,3]', 'g_k3_select outer=[2,3,2,2,2,3]']);
  });

  it("an overlapping max pool's gradient: no tie mask over the windows, the share divided at the pooled shape", () => {
    const b = new GraphBuilder();
    const x = b.param('x', [2, 9, 9, 3]);
    const y = pool(b, x, 'max', windowGeometry('valid', [9, 9], [3, 3], [1, 1], [1, 1]));
    const loss = b.sum(b.mul(y, b.param('r', [...y.shape])));
    const { builder, grads } = grad(b.build([loss]), 0, ['x']);
    const p = lower(runPipeline(PREDICT_GRAPH, builder.build(grads)), 'g');
    expect(p.kernels.map((k) => k.name)).toEqual(['g_k0_reduce_max', 'g_k1_div', 'g_k2_select', 'g_k3_add']);
    // Ties are counted with x >= max inside the reduction; the routing compares x == max.
    expect(printProgram(p)).toContain('acc0 = sum float32(ge(x@0+[243,27,3,1,27,3], %3@0+[147,21,3,1,0,0]))');
    expect(printProgram(p)).toContain('select(eq(x@0+[243,27,3,1,27,3], %3@0+[147,21,3,1,0,0]), %11@0+[147,21,3,1,0,0], 0)');
  });

  it("a strided average pool's input gradient scatters through masked views: no interleaved zeros, no concatenation", () => {
    const b = new GraphBuilder();
    const x = b.param('x', [2, 9, 8, 3]);
    const y = pool(b, x, 'avg', windowGeometry('valid', [9, 8], [3, 3], [2, 2], [1, 1]));
    const loss = b.sum(b.mul(y, b.param('r', [...y.shape])));
    const { builder, grads } = grad(b.build([loss]), 0, ['x']);
    const p = lower(runPipeline(PREDICT_GRAPH, builder.build(grads)), 'g');
    // The windows' cotangent (r over the window's size), its nine slabs summed where they land on [batch, 5 x 2, 4 x 2, c], the cut to [9, 8].
    expect(p.kernels.map((k) => (k.kind === 'loop' ? `${k.name} outer=[${k.outer}] inner=[${k.inner}]` : k.name))).toEqual([
      'g_k0_mul outer=[2,4,3,3] inner=[]',
      'g_k1_add outer=[2,1,5,2,4,2,3,1] inner=[]',
      'g_k2_slice outer=[2,9,8,3] inner=[]',
    ]);
    // The slab at offset (1, 2): height 1 = block 0 + remainder 1; width 2 = block 1 + remainder 0.
    expect(printProgram(p)).toContain(' if 0<=0+[0,0,1,0,0,0,0,0]<4 && 0<=-1+[0,0,0,1,0,0,0,0]<1 && 0<=-1+[0,0,0,0,1,0,0,0]<3 && 0<=0+[0,0,0,0,0,1,0,0]<1 else 0');
  });

  it("a strided convolution's input gradient is one contraction, the phases columns beside the channels", () => {
    const b = new GraphBuilder();
    const x = b.param('x', [2, 9, 8, 3]);
    const y = convolve(b, x, b.param('w', [3, 3, 3, 4], 'float32', 'weight'), windowGeometry('valid', [9, 8], [3, 3], [2, 2], [1, 1]));
    const loss = b.sum(b.mul(y, b.param('r', [...y.shape])));
    const { builder, grads } = grad(b.build([loss]), 0, ['x']);
    const p = lower(runPipeline(PREDICT_GRAPH, builder.build(grads)), 'g');
    // Over [batch, 5 row pairs, 4 column pairs, 2 x 2 phases, 3 channels] with depth [2 x 2 taps, 4 filters]; the phases' interleaving, the cut.
    const names = p.kernels.map((k) => (k.kind === 'loop' ? `${k.name} outer=[${k.outer}] inner=[${k.inner}]` : k.name));
    expect(names.filter((n) => !n.includes('slice outer=[1') && !n.includes('concat'))).toEqual([
      'g_k10_reduce_sum outer=[2,5,4,2,2,3] inner=[2,2,4]',
      'g_k11_transpose outer=[2,5,2,4,2,3] inner=[]',
      'g_k12_slice outer=[2,9,8,3] inner=[]',
    ]);
    expect(names.some((n) => n.endsWith('_add'))).toBe(false);
  });
});
