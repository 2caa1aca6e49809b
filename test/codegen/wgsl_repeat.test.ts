/**
 * Repeat kernels on WebGPU (Dawn; llvmpipe without a GPU): the body's
 * kernels are dispatched once per step with the step counter on the device;
 * a scan and its gradient equal the reference interpreter, and the shaders
 * are the same whatever the number of steps.
 */
import { describe, expect, it } from 'vitest';
import { GraphBuilder, type Graph } from '../../ir/graph.js';
import { interpret } from '../../ir/interpret.js';
import { scan } from '../../ir/scan.js';
import { emitKernel } from '../../codegen/wgsl/kernel.js';
import { grad } from '../../passes/autodiff.js';
import { compileToProgram } from '../../passes/pipeline.js';
import { compileGraph } from '../../runtime/executor.js';
import { rng } from '../helpers/nd.js';

function elman(steps: number, reverse: boolean, withGrad: boolean): Graph {
  const b = new GraphBuilder();
  const h0 = b.param('h0', [3, 4]);
  const xs = b.param('xs', [steps, 3, 5]);
  const ms = b.param('ms', [steps, 3, 1]);
  const w = b.param('w', [5, 4], 'float32', 'weight');
  const u = b.param('u', [4, 4], 'float32', 'weight');
  const [hT, ys] = scan(b, { init: [h0], sequences: [xs, ms], invariants: [w, u], reverse }, (sb, [h], [x, m], [wi, ui]) => {
    const next = sb.unary('tanh', sb.add(sb.matmul(x, wi), sb.matmul(h, ui)));
    const kept = sb.select(sb.broadcastTo(sb.binary('gt', m, 0), h.shape), next, h);
    return { carries: [kept], outputs: [sb.mul(kept, 2)] };
  });
  if (!withGrad) return b.build([hT, ys]);
  const loss = b.add(b.sum(b.mul(hT, hT)), b.sum(b.mul(ys, ys)));
  const g = grad(b.build([loss]), 0, ['h0', 'xs', 'w', 'u']);
  return g.builder.build([g.outputs[0], ...g.grads]);
}

async function check(graph: Graph): Promise<void> {
  const next = rng(23);
  const feeds: Record<string, Float32Array> = {};
  for (const n of graph.nodes) {
    if (n.op !== 'param') continue;
    const name = (n.attrs as { name: string }).name;
    feeds[name] = Float32Array.from({ length: n.type.shape.reduce((p, q) => p * q, 1) }, (_, i) => (name === 'ms' ? (i % 4 === 1 ? 0 : 1) : next() - 0.5));
  }
  const want = interpret(graph, feeds);
  const compiled = await compileGraph(graph, { backend: 'webgpu', name: 'repeat_webgpu' });
  for (const [name, data] of Object.entries(feeds)) compiled.write(name, data);
  const got = await compiled.run();
  compiled.dispose();
  got.forEach((g, i) => expect(g, `output ${i}`).toBeAllClose(want[i], { rtol: 1e-4, atol: 1e-5 }));
}

describe('repeat kernels on the webgpu backend', () => {
  it.each([false, true])('a scan (reverse=%s) equals the interpreter', async (reverse) => {
    await check(elman(6, reverse, false));
  });

  it('its gradient program equals the interpreter', async () => {
    await check(elman(5, false, true));
  });

  it('emits the same shaders for 10 and 500 steps, up to arena offsets', () => {
    const shaders = (steps: number): string[] => {
      const { program } = compileToProgram(elman(steps, false, false), { name: 'p', wideBool: true });
      // Arena word offsets move with the sizes of the stacked buffers; the code does not.
      return program.kernels.flatMap((k) => (k.kind === 'repeat' ? k.body.map((x) => emitKernel(program, x, undefined, 0).code.replace(/\d+/g, 'N')) : [k.kind]));
    };
    const ten = shaders(10);
    expect(ten.join('\n')).toContain('kiln_step[N]');
    expect(ten).toEqual(shaders(500));
  });
});
