/** The pipeline as data: typed stages, verification after every pass (naming it), numbered dumps, autodiff as TRAIN's first pass. */
import { describe, expect, it } from 'vitest';
import { type Graph, GraphBuilder } from '../../ir/graph.js';
import { interpret, interpretRun } from '../../ir/interpret.js';
import { printProgram } from '../../ir/print_kernel.js';
import { verifyGraph } from '../../ir/verify.js';
import { type TrainSource, differentiate, grad } from '../../passes/autodiff.js';
import { fuse } from '../../passes/fusion.js';
import { lower } from '../../passes/lower.js';
import { type Pass, PREDICT, PREDICT_GRAPH, Pipeline, TRAIN, compileToProgram, passContext, runPipeline } from '../../passes/pipeline.js';
import { compileKernelInterpreted } from '../helpers/backend.js';
import { mlp } from '../helpers/graphs.js';

/** One SGD step on a linear model: w <- w - 0.1 * dloss/dw; outputs the loss. */
function sgdStep(): TrainSource {
  const b = new GraphBuilder();
  const x = b.param('x', [3, 2]);
  const w = b.param('w', [2, 1], 'float32', 'state');
  const y = b.param('y', [3, 1]);
  const err = b.sub(b.matmul(x, w), y);
  const loss = b.mean(b.mul(err, err));
  return {
    kind: 'train',
    forward: b.build([loss]),
    loss: 0,
    wrt: ['w'],
    step: (gb, [g]) => ({ outputs: [loss], updates: [{ target: w, value: gb.sub(w, gb.mul(g, 0.1)) }] }),
  };
}

describe('pipeline', () => {
  it('names the broken invariant and the pass that broke it', () => {
    const g = mlp();
    const broken = { ...g, nodes: g.nodes.map((n) => (n.id === 12 ? { ...n, type: { ...n.type, shape: [4, 15] } } : n)) };
    expect(() => verifyGraph(broken)).toThrow(/^G4: node %12 \(tanh\) is typed float32\[4, 15\] but infers float32\[4, 16\]/);
    const bad: Pass<'graph', 'graph'> = { name: 'bad', from: 'graph', to: 'graph', run: () => broken };
    expect(() => runPipeline(Pipeline.start('t', 'graph').then(bad), g)).toThrow(/after pass 'bad': G4/);
  });

  it('lists autodiff, graph passes, fusion, lowering and memory planning as typed stages', () => {
    const stages = (p: typeof PREDICT | typeof TRAIN): string[] => p.passes.map((x) => `${x.name}:${x.from}->${x.to}`);
    expect(stages(TRAIN)).toEqual([
      'autodiff:train->graph', 'dce:graph->graph', 'simplify:graph->graph', 'layout:graph->graph', 'simplify:graph->graph', 'merge_scans:graph->graph', 'prune_scans:graph->graph', 'dce:graph->graph',
      'fold_scale:graph->graph', 'dce:graph->graph', 'fusion:graph->fused', 'lower:fused->kernels',
      'contractions:kernels->kernels', 'pool_epilogue:kernels->kernels', 'split_reductions:kernels->kernels', 'in_place_updates:kernels->kernels', 'prepack_weights:kernels->kernels', 'memory_plan:kernels->planned',
    ]);
    expect(stages(PREDICT)).toEqual(stages(TRAIN).slice(1));
    expect(PREDICT_GRAPH.passes.map((p) => p.name)).toEqual(['dce', 'simplify', 'layout', 'simplify', 'merge_scans', 'prune_scans', 'dce', 'fold_scale', 'dce']);
  });

  it('refuses a pass that takes another stage than the one before it', () => {
    const kernelsFirst = Pipeline.start('bad', 'graph').then(PREDICT.passes.find((p) => p.name === 'lower') as unknown as Pass<'graph', 'graph'>);
    expect(() => runPipeline(kernelsFirst, mlp())).toThrow(/pipeline 'bad': pass 'lower' takes a fused stage but follows a graph stage/);
  });

  it('dumps the IR after every pass, numbered, each stage in its own printer', () => {
    const seen: string[] = [];
    const texts = new Map<string, string>();
    compileToProgram(sgdStep(), { name: 'p', dump: (stage, text, index) => { seen.push(`${index} ${stage}`); texts.set(stage, text); } });
    expect(seen).toEqual(['0 input', ...TRAIN.passes.map((p, i) => `${i + 1} ${p.name}`)]);
    expect(texts.get('input')).toMatch(/differentiate %\d+ with respect to w$/);
    expect(texts.get('fusion')).toMatch(/^matmul %\d+ space=\[3,1\]/m);
    expect(texts.get('memory_plan')).toMatch(/arena/);
  });

  it('runs autodiff as the first TRAIN pass: the same program as differentiating by hand', () => {
    const source = sgdStep();
    const byHand = (): Graph => {
      const { builder, grads } = grad(source.forward, 0, ['w']);
      const step = source.step(builder, grads);
      return builder.build([...step.outputs], step.updates.map((u) => ({ target: u.target, value: u.value })));
    };
    expect(printProgram(compileToProgram(source, { name: 'p' }).program)).toBe(printProgram(compileToProgram(byHand(), { name: 'p' }).program));
    const feeds = { x: Float32Array.of(1, 2, 3, 4, 5, 6), w: Float32Array.of(0.5, -1), y: Float32Array.of(1, 0, 2) };
    const { outputs, updates } = interpretRun(differentiate(source), new Map(Object.entries(feeds)));
    // loss = mean((x w - y)^2) with x w = [-1.5, -2.5, -3.5]: errors [-2.5, -2.5, -5.5].
    expect(outputs[0][0]).toBeCloseTo((2 * 6.25 + 30.25) / 3, 5);
    // dloss/dw = 2/3 x^T err = 2/3 [-2.5 - 7.5 - 27.5, -5 - 10 - 33] = [-25, -32].
    expect([...updates.get('w')!].map((v) => +v.toFixed(4))).toEqual([3, 2.2]);
  });

  it('passes the context to every pass (the program name reaches the kernels)', () => {
    const p = runPipeline(PREDICT, mlp(), passContext({ name: 'named' }));
    expect(p.program.kernels.every((k) => k.name.startsWith('named_'))).toBe(true);
    expect(passContext({ backend: 'webgpu' })).toMatchObject({ backend: 'webgpu', layout: 'channels_last', verify: true, wideBool: false });
  });

  it('fusion settles materialization itself: lowering never re-fuses', async () => {
    // exp -> transpose -> reshape: the reshape is not affine over the transposed loop, so fusion materializes the transpose.
    const b = new GraphBuilder();
    const x = b.param('x', [3, 4]);
    const g = b.build([b.unary('neg', b.reshape(b.transpose(b.unary('exp', x), [1, 0]), [2, 6]))]);
    const fused = fuse(g);
    expect(fused.groups.map((grp) => fused.nodes[grp.root].op).sort()).toEqual(['neg', 'transpose']);
    const feeds = { x: Float32Array.from({ length: 12 }, (_, i) => i / 10) };
    expect(lower(g, 'p').kernels).toHaveLength(2);
    const compiled = await compileKernelInterpreted(g);
    compiled.write('x', feeds.x);
    const [got] = await compiled.run();
    expect(got).toEqual(interpret(g, feeds)[0]);
  });
});
