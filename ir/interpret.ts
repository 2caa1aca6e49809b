/**
 * The reference interpreter: evaluates a graph node by node with each op's
 * `evaluate` from ir/ops.ts. It is the oracle every backend is tested against;
 * float64 graphs evaluate in float64.
 */
import { type TypedArray, sizeOf } from './dtype.js';
import type { Graph } from './graph.js';
import { OPS } from './ops.js';

/** Feeds are keyed by param name. Returns one array per graph output. */
export function interpret(graph: Graph, feeds: ReadonlyMap<string, TypedArray> | Record<string, TypedArray>): TypedArray[] {
  return interpretRun(graph, feeds).outputs;
}

/** One run: the outputs, and the new value of every updated state param (by name). */
export function interpretRun(graph: Graph, feeds: ReadonlyMap<string, TypedArray> | Record<string, TypedArray>): { outputs: TypedArray[]; updates: Map<string, TypedArray> } {
  const values = evaluateAll(graph, feeds);
  const updates = new Map((graph.updates ?? []).map((u) => [(graph.nodes[u.target].attrs as { name: string }).name, values[u.value]]));
  return { outputs: graph.outputs.map((o) => values[o]), updates };
}

function evaluateAll(graph: Graph, feeds: ReadonlyMap<string, TypedArray> | Record<string, TypedArray>): TypedArray[] {
  const get = (name: string): TypedArray | undefined => (feeds instanceof Map ? feeds.get(name) : (feeds as Record<string, TypedArray>)[name]);
  const values: TypedArray[] = [];
  for (const node of graph.nodes) {
    if (node.op === 'param') {
      const { name } = node.attrs as { name: string };
      const fed = get(name);
      if (!fed) throw new Error(`interpret: no value fed for param '${name}'`);
      if (fed.length !== sizeOf(node.type.shape)) throw new Error(`interpret: param '${name}' needs ${sizeOf(node.type.shape)} elements, got ${fed.length}`);
      values.push(fed);
      continue;
    }
    const inputs = node.inputs.map((i) => values[i]);
    const types = node.inputs.map((i) => graph.nodes[i].type);
    values.push(OPS[node.op].evaluate(inputs, types, node.attrs as never, node.type));
  }
  return values;
}
