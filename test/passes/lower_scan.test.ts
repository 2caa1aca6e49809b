/**
 * Lowering scans to repeat kernels: the program's kernels and buffers do not
 * grow with the number of steps, and the lowered, memory-planned program run
 * on the kernel interpreter equals the reference interpreter, forward,
 * reverse, with a mask sequence and for a scan's gradient (a reverse scan).
 */
import { describe, expect, it } from 'vitest';
import { GraphBuilder, type Value } from '../../ir/graph.js';
import type { Graph } from '../../ir/graph.js';
import { interpret } from '../../ir/interpret.js';
import { printProgram } from '../../ir/print_kernel.js';
import { scan } from '../../ir/scan.js';
import { grad } from '../../passes/autodiff.js';
import { compileToProgram } from '../../passes/pipeline.js';
import { loadInterpreted } from '../../runtime/kernel_interpreter.js';
import { rng } from '../helpers/nd.js';

const B = 2;
const F = 3;
const H = 4;

function elman(steps: number, reverse: boolean): { graph: Graph; inputs: Record<string, [number[], 'input' | 'weight']> } {
  const b = new GraphBuilder();
  const h0 = b.param('h0', [B, H]);
  const xs = b.param('xs', [steps, B, F]);
  const ms = b.param('ms', [steps, B, 1]);
  const w = b.param('w', [F, H], 'float32', 'weight');
  const u = b.param('u', [H, H], 'float32', 'weight');
  const [hT, ys] = scan(b, { init: [h0], sequences: [xs, ms], invariants: [w, u], reverse }, (sb, [h], [x, m], [wi, ui]) => {
    const next = sb.unary('tanh', sb.add(sb.matmul(x, wi), sb.matmul(h, ui)));
    const kept = sb.select(sb.broadcastTo(sb.binary('gt', m, 0), h.shape), next, h);
    return { carries: [kept], outputs: [sb.mul(kept, 2)] };
  });
  const graph = b.build([b.add(hT, 1), ys]);
  return { graph, inputs: { h0: [[B, H], 'input'], xs: [[steps, B, F], 'input'], ms: [[steps, B, 1], 'input'], w: [[F, H], 'weight'], u: [[H, H], 'weight'] } };
}

function feedsFor(graph: Graph, seed: number): Record<string, Float32Array> {
  const next = rng(seed);
  const feeds: Record<string, Float32Array> = {};
  for (const n of graph.nodes) {
    if (n.op !== 'param') continue;
    const name = (n.attrs as { name: string }).name;
    const size = n.type.shape.reduce((p, q) => p * q, 1);
    feeds[name] = Float32Array.from({ length: size }, (_, i) => (name === 'ms' ? (i % 3 === 1 ? 0 : 1) : next() - 0.5));
  }
  return feeds;
}

async function runLowered(graph: Graph, feeds: Record<string, Float32Array>): Promise<Float32Array[]> {
  const { program } = compileToProgram(graph, { name: 'p' });
  const exe = loadInterpreted(program);
  for (const [name, data] of Object.entries(feeds)) exe.write(program.params.get(name)!, data);
  await exe.run();
  return Promise.all(program.outputs.map(async (o) => (await exe.read(o)) as Float32Array));
}

describe('lowering scan', () => {
  it('emits one repeat whose body does not grow with the steps', () => {
    const text = (steps: number): string => printProgram(compileToProgram(elman(steps, false).graph, { name: 'p' }).program);
    // Only the loop count and the copy of the stacked outputs out of the scan's result name the steps.
    const kernels = (t: string): string[] => t.split('\n').filter((l) => /^\s*(loop|matmul|repeat)/.test(l)).map((l) => l.replace(/count=\d+/, 'count=T').replace(/outer=\[(10|500),/, 'outer=[T,'));
    const ten = text(10);
    expect(ten).toMatch(/repeat p_k\d+_scan count=10\n {2}(matmul|loop)/);
    expect(kernels(ten)).toEqual(kernels(text(500)));
    expect(ten.split('\n').filter((l) => l.startsWith('buffer')).length).toBe(text(500).split('\n').filter((l) => l.startsWith('buffer')).length);
    expect(ten).toMatch(/buffer p_k\d+_scan\.seq0: input float32\[2, 3\] @\d+ = xs\[0 \+ 6\*t\]/);
  });

  it.each([[1, false], [5, false], [5, true], [0, false]])('runs %i steps (reverse=%s) like the reference interpreter', async (steps, reverse) => {
    const { graph } = elman(steps, reverse as boolean);
    const feeds = feedsFor(graph, 7);
    const want = interpret(graph, feeds);
    const got = await runLowered(graph, feeds);
    got.forEach((g, i) => expect(g).toBeAllClose(want[i], { rtol: 1e-5, atol: 1e-6 }));
    if (steps === 0) expect(Array.from(got[0])).toEqual(Array.from(feeds.h0, (v) => Math.fround(v + 1)));
  });

  it('stores an elementwise new carry straight into its slot (no copy at the end of the step), with the same results', async () => {
    const b = new GraphBuilder();
    const h0 = b.param('h0', [B, H]);
    const c0 = b.param('c0', [B, H]);
    const xs = b.param('xs', [4, B, H]);
    const u = b.param('u', [H, H], 'float32', 'weight');
    const [hT, cT, ys] = scan(b, { init: [h0, c0], sequences: [xs], invariants: [u] }, (sb, [h, c], [x], [ui]) => {
      const cn = sb.add(sb.mul(c, sb.unary('sigmoid', x)), x);
      const hn = sb.add(sb.unary('tanh', sb.matmul(h, ui)), cn);
      return { carries: [hn, cn], outputs: [hn] };
    });
    const graph = b.build([hT, cT, ys]);
    const { program } = compileToProgram(graph, { name: 'p' });
    const body = program.kernels.flatMap((k) => (k.kind === 'repeat' ? k.body.map((x) => x.name) : []));
    // The cell state's kernel reads the old c only where it writes the new one: in place. h comes from a matmul: copied.
    expect(body.filter((n) => /_carry\d$/.test(n))).toEqual(['p_k0_scan_carry0']);
    const feeds = feedsFor(graph, 5);
    const want = interpret(graph, feeds);
    (await runLowered(graph, feeds)).forEach((g, i) => expect(g).toBeAllClose(want[i], { rtol: 1e-5, atol: 1e-6 }));
  });

  it('runs the gradient program (forward scan, then a reverse scan) like the reference interpreter', async () => {
    const { graph } = elman(6, false);
    const b = new GraphBuilder();
    const values: Value[] = [];
    for (const n of graph.nodes) values.push(b.op(n.op, n.inputs.map((i) => values[i]), n.attrs as never));
    const loss = b.add(b.sum(b.mul(values[graph.outputs[0]], values[graph.outputs[0]])), b.sum(values[graph.outputs[1]]));
    const g = grad(b.build([loss]), 0, ['h0', 'xs', 'w', 'u']);
    const gradGraph = g.builder.build([g.outputs[0], ...g.grads]);
    const feeds = feedsFor(gradGraph, 9);
    const want = interpret(gradGraph, feeds);
    const got = await runLowered(gradGraph, feeds);
    got.forEach((v, i) => expect(v, `output ${i}`).toBeAllClose(want[i], { rtol: 1e-4, atol: 1e-5 }));
    expect(printProgram(compileToProgram(gradGraph, { name: 'p' }).program)).toMatch(/repeat .* reverse/);
  });
});
