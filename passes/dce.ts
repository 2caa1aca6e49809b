/**
 * Dead-code elimination, a pure graph -> graph pass: drops nodes no output
 * depends on. Params stay even when unused: they are the program's interface.
 */
import type { Graph } from '../ir/graph.js';
import { rebuild } from './rebuild.js';

export function dce(graph: Graph): Graph {
  const live = new Uint8Array(graph.nodes.length);
  for (const o of graph.outputs) live[o] = 1;
  for (const u of graph.updates ?? []) live[u.value] = 1;
  for (let i = graph.nodes.length - 1; i >= 0; i--) {
    if (live[i]) for (const x of graph.nodes[i].inputs) live[x] = 1;
  }
  return rebuild(graph, () => null, (n) => live[n.id] === 1 || n.op === 'param');
}
