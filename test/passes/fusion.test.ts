/** Fusion: which nodes share a kernel, as text. */
import { describe, expect, it } from 'vitest';
import { GraphBuilder } from '../../ir/graph.js';
import { printProgram } from '../../ir/print_kernel.js';
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
    const g = b.build([b.unary('neg', b.reshape(b.transpose(b.unary('exp', x), [1, 0]), [2, 6]))]);
    const p = lower(g, 'r');
    expect(printFusion(p.fused)).toBe(text(`
      loop %2 space=[4,3]: %1:exp %2:transpose
      loop %4 space=[2,6]: %3:reshape %4:neg`));
  });

  it('iterates a map group over the finer space when a reshape splits its axes, instead of materializing', () => {
    const b = new GraphBuilder();
    const x = b.param('x', [3, 4]);
    const g = b.build([b.unary('neg', b.reshape(b.transpose(b.unary('exp', x), [1, 0]), [12]))]);
    const p = lower(g, 'r');
    expect(printFusion(p.fused)).toBe(text(`
      loop %4 space=[4,3]: %1:exp %2:transpose %3:reshape %4:neg`));
    expect(printProgram(p)).toContain('full %4@0+[3,1] = neg(exp(x@0+[1,4]))');
  });
});


describe('relu in a training step', () => {
  it('the matmul epilogues apply the relus: no kernel writes a pre-activation (ReluGrad reads the output)', async () => {
    const { Sequential, layers, optimizers } = await import('../../src/index.js');
    const { Trainer } = await import('../../src/training/trainer.js');
    const { trainGraph } = await import('../../src/training/programs.js');
    const { compileToProgram } = await import('../../passes/pipeline.js');
    const m = new Sequential([
      new layers.Conv2D(8, [3, 3], { inputShape: [7, 6, 2], activation: 'relu' }),
      new layers.Flatten(), new layers.Dense(5, { activation: 'relu' }), new layers.Dense(2, { activation: 'softmax' }),
    ]);
    const setup = new Trainer(m as never, { loss: 'categorical_crossentropy', optimizer: new optimizers.SGD({ lr: 0.1 }) } as never).setup;
    const { program } = compileToProgram(trainGraph(m as never, 3, [[2]], setup), { name: 'relu_epilogue' });
    const forward = program.kernels.filter((k) => k.kind === 'matmul').slice(0, 2);
    expect(forward.map((k) => k.kind === 'matmul' && [k.m, k.k, k.n])).toEqual([[3 * 5 * 4, 18, 8], [3, 160, 5]]);
    for (const k of forward) expect(JSON.stringify(k.kind === 'matmul' && k.epilogue)).toContain('"op":"maximum"');
  });
});
