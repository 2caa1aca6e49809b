/** simplify + dce: before/after IR text. */
import { describe, expect, it } from 'vitest';
import { GraphBuilder } from '../../ir/graph.js';
import { printGraph } from '../../ir/print.js';
import { dce } from '../../passes/dce.js';
import { simplify } from '../../passes/simplify.js';
import { text } from '../helpers/graphs.js';

describe('simplify and dce', () => {
  it('folds constants, removes identities and dead nodes, merges movement chains and shares common subexpressions', () => {
    const b = new GraphBuilder();
    const x = b.param('x', [2, 3]);
    const y = b.add(b.mul(b.reshape(b.reshape(x, [3, 2]), [2, 3]), 1), b.constant(0, [2, 3]));
    const z = b.unary('exp', b.cast(y, 'float32'));
    const t = b.transpose(b.transpose(z, [1, 0]), [1, 0]);
    b.unary('log', x);
    const c = b.add(b.constant(2), b.constant(3));
    const g = b.build([b.mul(t, b.broadcastTo(c, [2, 3])), b.add(b.unary('tanh', x), b.unary('tanh', x))]);
    expect(printGraph(g).split('\n')).toHaveLength(21);
    expect(printGraph(dce(simplify(g)))).toBe(text(`
      %0: float32[2, 3] = param{name=x, role=input}()
      %1: float32[2, 3] = exp(%0)
      %2: float32[2, 3] = constant{value=5}()
      %3: float32[2, 3] = mul(%1, %2)
      %4: float32[2, 3] = tanh(%0)
      %5: float32[2, 3] = add(%4, %4)
      return %3, %5`));
  });
});


describe('slices sink below reductions', () => {
  it('a slice of a reduction (through a transpose and a unit reshape) slices its input instead', () => {
    const b = new GraphBuilder();
    const x = b.param('x', [4, 6, 3]);
    const s = b.transpose(b.sum(x, [2]), [1, 0]);
    const y = b.slice(b.reshape(s, [6, 1, 4]), [1, 0, 1], [4, 1, 2]);
    expect(printGraph(dce(simplify(b.build([y]))))).toBe(text(`
      %0: float32[4, 6, 3] = param{name=x, role=input}()
      %1: float32[2, 4, 3] = slice{begin=[1,1,0], size=[2,4,3], step=[1,1,1]}(%0)
      %2: float32[2, 4] = reduce_sum{axes=[2], keepDims=false}(%1)
      %3: float32[4, 2] = transpose{perm=[1,0]}(%2)
      %4: float32[4, 1, 2] = reshape{shape=[4,1,2]}(%3)
      return %4`));
  });

  it('stays above a reduction that something else reads', () => {
    const b = new GraphBuilder();
    const x = b.param('x', [4, 6]);
    const s = b.sum(x, [1], true);
    const g = b.build([b.slice(s, [1, 0], [2, 1]), b.unary('exp', s)]);
    expect(printGraph(dce(simplify(g)))).toBe(printGraph(g));
  });
});
