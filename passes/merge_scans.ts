/**
 * Merge scans, a pure graph -> graph pass. A scan's vjp runs the forward loop
 * again with each step's carries as extra outputs (ir/scan.ts); the forward
 * graph already has that loop without them. Two scans over the same operands
 * whose bodies differ only by extra outputs appended to one of them are one
 * loop: the packed result of the shorter is the head of the longer's (the
 * layout puts results in body-output order), so the shorter becomes a slice
 * of the longer, which moves up to the shorter's place. A training step then
 * runs each forward loop once.
 */
import type { Graph, Node } from '../ir/graph.js';
import type { ScanAttrs } from '../ir/scan.js';
import { rebuild } from './rebuild.js';

const isPrefix = (a: readonly number[], b: readonly number[]): boolean => a.length <= b.length && a.every((x, i) => x === b[i]);

/** Scans that could share a loop: same operands, body nodes and loop attributes. */
function loopKey(n: Node): string {
  const a = n.attrs as ScanAttrs;
  return `${n.inputs.join(',')}|${a.carries}|${a.sequences}|${a.length}|${a.reverse}|${a.dynamic ?? false}|${JSON.stringify(a.body.nodes)}`;
}

export function mergeScans(graph: Graph): Graph {
  const scans = graph.nodes.filter((n) => n.op === 'scan');
  if (scans.length < 2) return graph;
  const groups = new Map<string, Node[]>();
  for (const n of scans) groups.set(loopKey(n), [...(groups.get(loopKey(n)) ?? []), n]);
  // Each scan's host: the scan with the most outputs of its group whose outputs extend its own.
  const host = new Map<number, Node>();
  for (const group of groups.values()) {
    for (const n of group) {
      const outs = (n.attrs as ScanAttrs).body.outputs;
      const best = group.filter((m) => isPrefix(outs, (m.attrs as ScanAttrs).body.outputs))
        .reduce((p, q) => ((q.attrs as ScanAttrs).body.outputs.length > (p.attrs as ScanAttrs).body.outputs.length ? q : p));
      if (best !== n) host.set(n.id, best);
    }
  }
  if (host.size === 0) return graph;
  const emitted = new Map<number, ReturnType<Parameters<Parameters<typeof rebuild>[1]>[0]['op']>>();
  return rebuild(graph, (b, n, xs) => {
    if (n.op !== 'scan') return null;
    const target = host.get(n.id) ?? n;
    let v = emitted.get(target.id);
    if (!v) {
      v = b.op('scan', xs, target.attrs as never);
      emitted.set(target.id, v);
    }
    return target === n ? v : b.slice(v, [0], [n.type.shape[0]]);
  });
}
