/** Small graphs shared by pass tests. */
import { type Graph, GraphBuilder } from '../../ir/graph.js';

/** IR text written indented in a test, normalized. */
export const text = (lines: string): string => lines.trim().split('\n').map((l) => l.trim()).join('\n');

/** Three dense layers and a softmax, as the front end emits them. */
export function mlp(): Graph {
  const b = new GraphBuilder();
  const x = b.param('x', [4, 8]);
  const w1 = b.param('w1', [8, 16], 'float32', 'weight');
  const b1 = b.param('b1', [16], 'float32', 'weight');
  const w2 = b.param('w2', [16, 16], 'float32', 'weight');
  const w3 = b.param('w3', [16, 10], 'float32', 'weight');
  const h1 = b.maximum(b.add(b.matmul(x, w1), b1), 0);
  const h2 = b.unary('tanh', b.matmul(h1, w2));
  const logits = b.matmul(h2, w3);
  const e = b.unary('exp', b.sub(logits, b.max(logits, -1, true)));
  return b.build([b.div(e, b.sum(e, -1, true))]);
}
