/** The pipeline runner verifies after every pass and names the pass that broke the IR. */
import { describe, expect, it } from 'vitest';
import { verifyGraph } from '../../ir/verify.js';
import { runGraphPasses } from '../../passes/pipeline.js';
import { mlp } from '../helpers/graphs.js';

describe('pipeline runner', () => {
  it('names the broken invariant', () => {
    const g = mlp();
    const broken = { ...g, nodes: g.nodes.map((n) => (n.id === 12 ? { ...n, type: { ...n.type, shape: [4, 15] } } : n)) };
    expect(() => verifyGraph(broken)).toThrow(/^G4: node %12 \(tanh\) is typed float32\[4, 15\] but infers float32\[4, 16\]/);
    expect(() => runGraphPasses(g, [{ name: 'bad', run: () => broken }])).toThrow(/after pass 'bad': G4/);
  });
});
