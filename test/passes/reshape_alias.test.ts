/**
 * A reshape that only a scan (or a scatter) reads is its input's bytes: no
 * copy kernel, and the producing matmul keeps its bias in the epilogue; the
 * results are the interpreter's.
 */
import { describe, expect, it } from 'vitest';
import { GraphBuilder } from '../../ir/graph.js';
import { interpret } from '../../ir/interpret.js';
import { scan } from '../../ir/scan.js';
import { flatKernels } from '../../ir/repeat.js';
import { compileToProgram } from '../../passes/pipeline.js';
import { compileKernelInterpreted } from '../helpers/backend.js';
import { rng } from '../helpers/nd.js';

function graph(): ReturnType<GraphBuilder['build']> {
  const b = new GraphBuilder();
  const x = b.param('x', [12, 5]);
  const w = b.param('w', [5, 8], 'float32', 'weight');
  const bias = b.param('bias', [8], 'float32', 'weight');
  // The input projection of 4 steps x 3 rows, with its bias, reshaped time-major for the loop.
  const proj = b.reshape(b.add(b.matmul(x, w), bias), [4, 3, 8]);
  const [hT] = scan(b, { init: [b.broadcastTo(b.constant(0), [3, 8])], sequences: [proj], invariants: [] }, (sb, [h], [p]) => ({ carries: [sb.unary('tanh', sb.add(h, p))], outputs: [] }));
  return b.build([hT]);
}

describe('reshape aliases', () => {
  it('lowers the reshape to no kernel and keeps the bias in the matmul epilogue', () => {
    const { program } = compileToProgram(graph(), { name: 'p' });
    const kernels = flatKernels(program.kernels);
    // No kernel copies the [4, 3, 8] projection; the loop's per-step slice moves over the matmul's own output.
    expect(kernels.filter((k) => k.kind === 'loop' && k.outer.join() === '4,3,8').map((k) => k.name)).toEqual([]);
    const matmuls = kernels.filter((k) => k.kind === 'matmul');
    expect(matmuls.length).toBe(1);
    const mm = matmuls[0];
    expect(mm.kind === 'matmul' && mm.epilogue.k).toBe('binary');
    const slices = program.buffers.filter((buf) => buf.alias?.step);
    expect(slices.map((buf) => buf.alias!.of)).toEqual([mm.kind === 'matmul' ? mm.out.buf : -1]);
  });

  it('computes what the interpreter computes', async () => {
    const next = rng(4);
    const feeds = { x: Float32Array.from({ length: 60 }, next), w: Float32Array.from({ length: 40 }, () => next() - 0.5), bias: Float32Array.from({ length: 8 }, next) };
    const [want] = interpret(graph(), feeds);
    const exe = await compileKernelInterpreted(graph(), 'alias');
    for (const [name, data] of Object.entries(feeds)) exe.write(name, data);
    const [got] = await exe.run();
    expect(got).toBeAllClose(want, { rtol: 1e-5, atol: 1e-6 });
  });
});
