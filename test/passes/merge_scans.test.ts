/**
 * merge_scans: the vjp's forward loop (with saved carries) absorbs the
 * forward graph's own loop, so a gradient program runs each forward loop once;
 * results are unchanged.
 */
import { describe, expect, it } from 'vitest';
import { GraphBuilder, type Value } from '../../ir/graph.js';
import { interpret } from '../../ir/interpret.js';
import { scan } from '../../ir/scan.js';
import { grad } from '../../passes/autodiff.js';
import { mergeScans } from '../../passes/merge_scans.js';
import { compileToProgram } from '../../passes/pipeline.js';
import { simplify } from '../../passes/simplify.js';
import { rng } from '../helpers/nd.js';

function gradientGraph(): ReturnType<GraphBuilder['build']> {
  const b = new GraphBuilder();
  const h0 = b.param('h0', [2, 3]);
  const xs = b.param('xs', [4, 2, 3]);
  const u = b.param('u', [3, 3]);
  const [hT, ys] = scan(b, { init: [h0], sequences: [xs], invariants: [u] }, (sb, [h], [x], [ui]) => {
    const next = sb.unary('tanh', sb.add(x, sb.matmul(h, ui)));
    return { carries: [next], outputs: [next] };
  });
  const loss = b.add(b.sum(b.mul(hT, hT)), b.sum(ys));
  const g = grad(b.build([loss]), 0, ['h0', 'xs', 'u']);
  return g.builder.build([g.outputs[0], ...g.grads]);
}

const scans = (g: { nodes: readonly { op: string }[] }): number => g.nodes.filter((n) => n.op === 'scan').length;

describe('merge_scans', () => {
  it('leaves one forward loop and one reverse loop, with the same results', () => {
    const g = simplify(gradientGraph());
    expect(scans(g)).toBe(3);
    const merged = mergeScans(g);
    expect(scans(merged)).toBe(2);
    const next = rng(3);
    const feeds = { h0: Float32Array.from({ length: 6 }, next), xs: Float32Array.from({ length: 24 }, next), u: Float32Array.from({ length: 9 }, () => next() - 0.5) };
    const want = interpret(g, feeds);
    interpret(merged, feeds).forEach((v, i) => expect(v).toEqual(want[i]));
    const program = compileToProgram(gradientGraph(), { name: 'p' }).program;
    expect(program.kernels.filter((k) => k.kind === 'repeat').map((k) => (k.kind === 'repeat' ? k.reverse : null))).toEqual([false, true]);
  });

  it('keeps scans over different operands apart', () => {
    const b = new GraphBuilder();
    const h0 = b.param('h0', [2]);
    const xs = b.param('xs', [3, 2]);
    const ys = b.param('ys', [3, 2]);
    const step = (sb: GraphBuilder, [h]: readonly Value[], [x]: readonly Value[]): { carries: Value[]; outputs: Value[] } => ({ carries: [sb.add(h, x)], outputs: [] });
    const [a] = scan(b, { init: [h0], sequences: [xs], invariants: [] }, step);
    const [c] = scan(b, { init: [h0], sequences: [ys], invariants: [] }, step);
    const g = b.build([b.add(a, c)]);
    expect(scans(mergeScans(g))).toBe(2);
  });
});
