/**
 * Repeat kernels on the CPU backend: a scan compiled through LLVM (a loop in
 * the entry around the body's kernel calls, moving buffers through slots in
 * `bases`) gives the reference interpreter's results, forward, reverse and
 * for its gradient (a reverse scan), small and large enough to run the body's
 * kernels on several threads; the LLVM module does not grow with the steps.
 */
import { describe, expect, it } from 'vitest';
import { GraphBuilder, type Graph } from '../../ir/graph.js';
import { interpret } from '../../ir/interpret.js';
import { scan } from '../../ir/scan.js';
import { grad } from '../../passes/autodiff.js';
import { compileToProgram } from '../../passes/pipeline.js';
import { emitProgram } from '../../codegen/llvm/module.js';
import { compileGraph } from '../../runtime/executor.js';
import { rng } from '../helpers/nd.js';

function elman(steps: number, batch: number, units: number, reverse: boolean, withGrad: boolean): Graph {
  const F = 5;
  const b = new GraphBuilder();
  const h0 = b.param('h0', [batch, units]);
  const xs = b.param('xs', [steps, batch, F]);
  const ms = b.param('ms', [steps, batch, 1]);
  const w = b.param('w', [F, units], 'float32', 'weight');
  const u = b.param('u', [units, units], 'float32', 'weight');
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

function feeds(graph: Graph, seed: number, scale: number): Record<string, Float32Array> {
  const next = rng(seed);
  const out: Record<string, Float32Array> = {};
  for (const n of graph.nodes) {
    if (n.op !== 'param') continue;
    const name = (n.attrs as { name: string }).name;
    const size = n.type.shape.reduce((p, q) => p * q, 1);
    out[name] = Float32Array.from({ length: size }, (_, i) => (name === 'ms' ? (i % 4 === 2 ? 0 : 1) : (next() - 0.5) * (name === 'u' ? scale : 1)));
  }
  return out;
}

async function check(graph: Graph, scale: number, rtol: number): Promise<void> {
  const f = feeds(graph, 17, scale);
  const want = interpret(graph, f);
  const compiled = await compileGraph(graph, { backend: 'cpu', name: 'repeat_test' });
  for (const [name, data] of Object.entries(f)) compiled.write(name, data);
  const got = await compiled.run();
  compiled.dispose();
  got.forEach((g, i) => expect(g, `output ${i}`).toBeAllClose(want[i], { rtol, atol: rtol }));
}

describe('repeat kernels on the cpu backend', () => {
  it.each([[7, false], [7, true], [1, false]])('a scan of %i steps (reverse=%s) equals the interpreter', async (steps, reverse) => {
    await check(elman(steps as number, 3, 4, reverse as boolean, false), 1, 1e-5);
  });

  it('its gradient program (forward, reverse scan) equals the interpreter', async () => {
    await check(elman(6, 3, 4, false, true), 1, 1e-4);
  });

  it('a body with kernels large enough for several threads equals the interpreter', async () => {
    await check(elman(4, 64, 96, false, true), 0.2, 1e-3);
  });

  it('emits one LLVM function per body kernel whatever the number of steps', () => {
    const text = (steps: number): string => emitProgram(compileToProgram(elman(steps, 3, 4, false, true), { name: 'p' }).program, 2).print();
    const defines = (t: string): string[] => t.split('\n').filter((l) => l.startsWith('define'));
    const [ten, many] = [text(10), text(500)];
    expect(defines(ten)).toEqual(defines(many));
    expect(Math.abs(ten.length - many.length)).toBeLessThan(ten.length * 0.01);
  });
});
