/** The rewrite driver shared by graph passes: a node-by-node rebuild with structural sharing (CSE). */
import { type Graph, GraphBuilder, type Node, type Value } from '../ir/graph.js';
import type { AttrsMap, OpAttrs, OpName } from '../ir/ops.js';

/** Rebuilds `graph` node by node through `rewrite`, sharing structurally equal nodes. */
export function rebuild(graph: Graph, rewrite: (b: GraphBuilder, n: Node, xs: readonly Value[]) => Value | null, keep: (n: Node) => boolean = () => true): Graph {
  const b = new GraphBuilder();
  const map: Value[] = [];
  const seen = new Map<string, Value>();
  for (const n of graph.nodes) {
    if (!keep(n)) continue;
    const xs = n.inputs.map((i) => map[i]);
    const replaced = rewrite(b, n, xs);
    if (replaced) {
      map[n.id] = replaced;
      continue;
    }
    const key = n.op === 'param' ? `param:${(n.attrs as AttrsMap['param']).name}` : `${n.op}(${xs.map((x) => x.id).join(',')})${JSON.stringify(n.attrs)}`;
    let v = seen.get(key);
    if (!v) {
      v = b.op(n.op as OpName, xs, n.attrs as OpAttrs[OpName]);
      seen.set(key, v);
    }
    map[n.id] = v;
  }
  return b.build(graph.outputs.map((o) => map[o]), (graph.updates ?? []).map((u) => ({ target: map[u.target], value: map[u.value] })));
}
