/**
 * prune_scans: dead-code elimination across a loop's boundary. A gradient
 * loop carries the cotangent of every float invariant (here a dropout-like
 * mask nobody differentiates); nothing reads that sum, so its carry, its
 * body outputs and the nodes only they use go, and the results stay the same.
 */
import { describe, expect, it } from 'vitest';
import { type Graph, GraphBuilder, type Node } from '../../ir/graph.js';
import { interpret } from '../../ir/interpret.js';
import { type ScanAttrs, scan } from '../../ir/scan.js';
import { grad } from '../../passes/autodiff.js';
import { dce } from '../../passes/dce.js';
import { mergeScans } from '../../passes/merge_scans.js';
import { pruneScans } from '../../passes/prune_scans.js';
import { simplify } from '../../passes/simplify.js';
import { verifyGraph } from '../../ir/verify.js';
import { rng } from '../helpers/nd.js';

function gradientGraph(): Graph {
  const b = new GraphBuilder();
  const h0 = b.param('h0', [2, 3]);
  const xs = b.param('xs', [4, 2, 3]);
  const u = b.param('u', [3, 3]);
  const mask = b.param('mask', [2, 3]);
  const [hT] = scan(b, { init: [h0], sequences: [xs], invariants: [u, mask] }, (sb, [h], [x], [ui, m]) => {
    const next = sb.unary('tanh', sb.add(x, sb.matmul(sb.mul(h, m), ui)));
    return { carries: [next], outputs: [next] };
  });
  const g = grad(b.build([b.sum(b.mul(hT, hT))]), 0, ['xs', 'u']);
  return dce(mergeScans(simplify(g.builder.build([g.outputs[0], ...g.grads]))));
}

const scanNodes = (g: Graph): Node<'scan'>[] => g.nodes.filter((n): n is Node<'scan'> => n.op === 'scan');

describe('prune_scans', () => {
  const before = gradientGraph();
  const after = dce(pruneScans(before));
  const next = rng(8);
  const feeds = {
    h0: Float32Array.from({ length: 6 }, next), xs: Float32Array.from({ length: 24 }, next),
    u: Float32Array.from({ length: 9 }, () => next() - 0.5), mask: Float32Array.from({ length: 6 }, () => (next() < 0.3 ? 0 : 1.25)),
  };

  it('drops the mask cotangent\'s carry and the forward loop\'s unread per-step output', () => {
    verifyGraph(after);
    const [fwdBefore, bwdBefore] = scanNodes(before).map((n) => n.attrs as ScanAttrs);
    const [fwdAfter, bwdAfter] = scanNodes(after).map((n) => n.attrs as ScanAttrs);
    expect(bwdAfter.reverse).toBe(true);
    // The reverse loop carried dh and the running sum of dmask (du's is hoisted out of the loop); dmask's goes.
    expect([bwdBefore.carries, bwdAfter.carries]).toEqual([2, 1]);
    expect(bwdAfter.body.outputs.length).toBe(bwdBefore.body.outputs.length - 1);
    // The forward loop's stacked h (the step output) is read by nobody; the saved carries stay.
    expect([fwdBefore.body.outputs.length - fwdAfter.body.outputs.length, fwdAfter.carries]).toEqual([1, 1]);
    expect(bwdAfter.body.nodes.length).toBeLessThan(bwdBefore.body.nodes.length);
  });

  it('leaves the results unchanged', () => {
    const want = interpret(before, feeds);
    interpret(after, feeds).forEach((v, i) => expect(v).toEqual(want[i]));
  });

  it('leaves a scan alone when every result is read', () => {
    const b = new GraphBuilder();
    const [hT, ys] = scan(b, { init: [b.param('h0', [2])], sequences: [b.param('xs', [3, 2])], invariants: [] }, (sb, [h], [x]) => {
      const n = sb.add(h, x);
      return { carries: [n], outputs: [sb.mul(n, 2)] };
    });
    const g = b.build([b.add(b.sum(hT), b.sum(ys))]);
    expect(pruneScans(g)).toBe(g);
  });
});
