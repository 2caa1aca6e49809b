/** In-place updates: the copy after the step disappears only when nothing later needs the old value. */
import { describe, expect, it } from 'vitest';
import { GraphBuilder } from '../../ir/graph.js';
import { printProgram } from '../../ir/print_kernel.js';
import { inPlaceUpdates } from '../../passes/in_place_updates.js';
import { lower } from '../../passes/lower.js';
import { text } from '../helpers/graphs.js';

describe('in-place updates', () => {
  it('an elementwise update stores straight into the state buffer', () => {
    const b = new GraphBuilder();
    const w = b.param('w', [4], 'float32', 'state');
    const g = b.param('g', [4]);
    const graph = b.build([b.sum(w)], [{ target: w, value: b.sub(w, b.mul(g, 0.1)) }]);
    const before = lower(graph, 'p');
    expect(before.kernels.map((k) => k.name)).toEqual(['p_k0_reduce_sum', 'p_k1_sub', 'p_update_w']);
    const after = inPlaceUpdates(before);
    expect(printProgram(after).split('\n').filter((l) => !l.startsWith('buffer')).join('\n')).toBe(text(`
      program p arena=0
      loop p_k0_reduce_sum outer=[] inner=[4]
      acc0 = sum w@0+[1]
      outer %2@0+[0] = acc0
      loop p_k1_sub outer=[4] inner=[]
      full w@0+[1] = sub(w@0+[1], mul(g@0+[1], 0.1))`).replace(/\n(acc0|outer|full)/g, '\n  $1'));
  });

  it('keeps the copy when a later kernel still reads the old value', () => {
    const b = new GraphBuilder();
    const w = b.param('w', [4], 'float32', 'state');
    const next = b.add(w, 1);
    // The reduction over the old w is lowered after the update's kernel.
    const graph = b.build([b.sum(b.mul(w, b.sum(next)))], [{ target: w, value: next }]);
    const after = inPlaceUpdates(lower(graph, 'p'));
    expect(after.kernels.map((k) => k.name)).toContain('p_update_w');
  });
});
