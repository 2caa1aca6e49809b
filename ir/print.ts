/** A stable text form of the tensor IR, used in dumps and in pass tests. */
import { shapeStr } from './dtype.js';
import type { Graph, Node } from './graph.js';

function attrText(node: Node): string {
  const entries = Object.entries(node.attrs as Record<string, unknown>).filter(([k]) => k !== 'shape' || node.op === 'reshape' || node.op === 'broadcast');
  if (entries.length === 0) return '';
  const fmt = (v: unknown): string => {
    if (Array.isArray(v)) return `[${v.join(',')}]`;
    // A scan's body prints as its size; KILN_DUMP_IR shows the loop, not every step's graph inline.
    if (v && typeof v === 'object' && 'nodes' in v) return `<graph of ${(v as Graph).nodes.length} nodes>`;
    return typeof v === 'string' ? v : String(v);
  };
  return `{${entries.filter(([k]) => k !== 'dtype').map(([k, v]) => `${k}=${fmt(v)}`).join(', ')}}`;
}

export function printNode(node: Node): string {
  const args = node.inputs.map((i) => `%${i}`).join(', ');
  return `%${node.id}: ${node.type.dtype}${shapeStr(node.type.shape)} = ${node.op}${attrText(node)}(${args})`;
}

export function printGraph(graph: Graph): string {
  const lines = graph.nodes.map(printNode);
  for (const u of graph.updates ?? []) lines.push(`update %${u.target} <- %${u.value}`);
  lines.push(`return ${graph.outputs.map((o) => `%${o}`).join(', ')}`);
  return lines.join('\n');
}
