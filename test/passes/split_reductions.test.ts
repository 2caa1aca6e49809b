/**
 * passes/split_reductions.ts: a long reduction over few outer points runs as
 * partial reductions over fixed row ranges, then a reduction of the
 * partials. The IR before and after for a bias gradient; which reductions
 * split; and results on the CPU backend against the graph interpreter for
 * sums, max and min, a global sum (no outer dims), two reductions and a
 * store that reads another buffer.
 */
import { describe, expect, it } from 'vitest';
import type { TypedArray } from '../../ir/dtype.js';
import { type Graph, GraphBuilder } from '../../ir/graph.js';
import { interpret } from '../../ir/interpret.js';
import type { LoopKernel } from '../../ir/kernel.js';
import { printProgram } from '../../ir/print_kernel.js';
import { PREDICT, compileToProgram, passContext, runPipeline } from '../../passes/pipeline.js';
import { compileGraph } from '../../runtime/executor.js';
import { rng } from '../helpers/nd.js';

function graphOf(shape: number[], build: (b: GraphBuilder, x: ReturnType<GraphBuilder['param']>, y: ReturnType<GraphBuilder['param']>) => ReturnType<GraphBuilder['param']>[]): { graph: Graph; data: Map<string, TypedArray> } {
  const draw = rng(3);
  const b = new GraphBuilder();
  const x = b.param('x', shape);
  const last = shape[shape.length - 1];
  const y = b.param('y', [last]);
  const data = new Map<string, TypedArray>([
    ['x', Float32Array.from({ length: shape.reduce((p, q) => p * q, 1) }, () => draw() * 2 - 1)],
    ['y', Float32Array.from({ length: last }, () => draw() + 0.5)],
  ]);
  return { graph: b.build(build(b, x, y)), data };
}

const loops = (g: Graph): LoopKernel[] => compileToProgram(g, { name: 'split' }).program.kernels.filter((k): k is LoopKernel => k.kind === 'loop');

describe('split_reductions', () => {
  it('a bias gradient over [18432, 64] becomes 8 row ranges of partial sums, then their sum', () => {
    const { graph } = graphOf([32, 24, 24, 64], (b, x) => [b.sum(x, [0, 1, 2])]);
    const ctx = passContext({ name: 'sr' });
    const before = printProgram(runPipeline(PREDICT.without('split_reductions'), graph, ctx).program);
    const after = printProgram(runPipeline(PREDICT, graph, ctx).program);
    expect(before).toMatch(/loop sr_k0_\w+ outer=\[64\] inner=\[32, 24, 24\]\n {2}acc0 = sum x@0\+\[1,36864,1536,64\]/);
    expect(after).toMatch(/loop sr_k0_\w+_part outer=\[8, 64\] inner=\[4, 24, 24\]\n {2}acc0 = sum x@0\+\[147456,1,36864,1536,64\]\n {2}outer sr_k0_\w+:partial0@0\+\[64,1,0,0,0\] = acc0/);
    expect(after).toMatch(/loop sr_k0_\w+ outer=\[64\] inner=\[8\]\n {2}acc0 = sum sr_k0_\w+:partial0@0\+\[1,64\]/);
  });

  it('not short reductions, nor many outer points, nor the webgpu backend', () => {
    expect(loops(graphOf([16, 64], (b, x) => [b.sum(x, [0])]).graph)).toHaveLength(1);
    expect(loops(graphOf([64, 512, 8], (b, x) => [b.sum(x, [1])]).graph)).toHaveLength(1);
    const { graph } = graphOf([32, 24, 24, 64], (b, x) => [b.sum(x, [0, 1, 2])]);
    expect(compileToProgram(graph, { name: 'split', backend: 'webgpu' }).program.kernels).toHaveLength(1);
    expect(loops(graph)).toHaveLength(2);
  });

  const cases: { name: string; shape: number[]; build: Parameters<typeof graphOf>[1]; kernels: number }[] = [
    { name: 'bias gradient: sum over [7 x 50 x 50, 20], first dim not divisible by 8 (7 ranges)', shape: [7, 50, 50, 20], build: (b, x) => [b.sum(x, [0, 1, 2])], kernels: 2 },
    { name: 'max and min down the rows', shape: [12, 40, 40, 16], build: (b, x) => [b.max(x, [0, 1, 2]), b.min(x, [0, 1, 2])], kernels: 4 },
    { name: 'a global sum (no outer dims)', shape: [8, 64, 64], build: (b, x) => [b.sum(x)], kernels: 2 },
    { name: 'a mean divided by another buffer after the reduction', shape: [16, 32, 32, 8], build: (b, x, y) => [b.div(b.mean(x, [0, 1, 2]), y)], kernels: 2 },
    { name: 'a prime first dim stays whole', shape: [13, 37, 41, 3], build: (b, x) => [b.sum(x, [0, 1, 2])], kernels: 1 },
  ];
  for (const c of cases) {
    it(`${c.name}: CPU matches the interpreter`, async () => {
      const { graph, data } = graphOf(c.shape, c.build);
      expect(loops(graph)).toHaveLength(c.kernels);
      const exe = await compileGraph(graph, { backend: 'cpu', name: `split_${c.shape.join('_')}_${c.kernels}` });
      for (const [n, d] of data) exe.write(n, d);
      const got = await exe.run();
      const want = interpret(graph, data);
      got.forEach((g, i) => expect(g).toBeAllClose(want[i], { rtol: 1e-4, atol: 1e-4 }));
    });
  }
});
