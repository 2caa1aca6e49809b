/** Fusion: which nodes share a kernel, as text. */
import { describe, expect, it } from 'vitest';
import { GraphBuilder } from '../../ir/graph.js';
import { fuse, printFusion } from '../../passes/fusion.js';
import { lower } from '../../passes/lower.js';
import { mlp, text } from '../helpers/graphs.js';

describe('fusion', () => {
  it('puts bias and activation in matmul epilogues and softmax in one row kernel', () => {
    expect(printFusion(fuse(mlp()))).toBe(text(`
      matmul %10 space=[4,16]: %5:matmul %6:broadcast %7:add %9:broadcast %10:maximum
      matmul %12 space=[4,16]: %11:matmul %12:tanh
      matmul %13 space=[4,10]: %13:matmul
      loop %20 space=[4,10] reduce=[1]: %14:reduce_max %15:broadcast %16:sub %17:exp %18:reduce_sum %19:broadcast %20:div`));
  });

  it('materializes a tensor whose reshape is not affine inside the fused loop', () => {
    const b = new GraphBuilder();
    const x = b.param('x', [3, 4]);
    const g = b.build([b.unary('neg', b.reshape(b.transpose(b.unary('exp', x), [1, 0]), [12]))]);
    const p = lower(g, 'r');
    expect(printFusion(p.fused)).toBe(text(`
      loop %2 space=[4,3]: %1:exp %2:transpose
      loop %4 space=[12]: %3:reshape %4:neg`));
  });
});

