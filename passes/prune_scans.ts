/**
 * Prune scans, a pure graph -> graph pass: dead-code elimination across a
 * loop's boundary. A scan's result packs its final carries and stacked
 * per-step outputs (ir/scan.ts); consumers cut them out with slices. A
 * per-step output that no slice reads goes, and so does a carry whose final
 * value no slice reads and whose running value no live part of the body
 * needs (a scan's vjp carries the cotangent of every float invariant, such
 * as a dropout mask's, whose sum nobody reads). The body loses those
 * outputs, params and the nodes only they used; the slices of what remains
 * move to the new offsets. Runs after merge_scans, which matches loops by
 * their full bodies.
 */
import { sizeOf } from '../ir/dtype.js';
import { type Graph, GraphBuilder, type Node, type Value } from '../ir/graph.js';
import type { AttrsMap, OpAttrs, OpName } from '../ir/ops.js';
import { type ScanAttrs, bodyParams, scanLayout } from '../ir/scan.js';
import { rebuild } from './rebuild.js';

interface Pruned {
  readonly attrs: ScanAttrs;
  /** Operand indices kept (carries kept, then every sequence and invariant). */
  readonly operands: readonly number[];
  /** Old result index -> new offset in the packed result (kept results only). */
  readonly offsets: ReadonlyMap<number, number>;
}

/**
 * The results a scan's consumers read, following slices of slices (merge_scans
 * leaves a slice of its host): each slice node reached, by its begin in the
 * packed result; null when some consumer reads anything but whole results.
 */
function readsOf(graph: Graph, scan: Node<'scan'>, users: readonly (readonly number[])[]): { used: Set<number>; begins: Map<number, number> } | null {
  const layout = scanLayout(scan.attrs);
  const used = new Set<number>();
  const begins = new Map<number, number>();
  const visit = (consumers: readonly number[], base: number): boolean => consumers.every((u) => {
    const n = graph.nodes[u];
    if (n.op !== 'slice' || (n.attrs as AttrsMap['slice']).step[0] !== 1) return false;
    const a = n.attrs as AttrsMap['slice'];
    const begin = base + a.begin[0];
    begins.set(u, begin);
    const j = layout.findIndex((l) => l.offset === begin && sizeOf(l.shape) === a.size[0]);
    if (j >= 0) return used.add(j), true;
    return users[u].length > 0 && visit(users[u], begin);
  });
  return visit(users[scan.id], 0) ? { used, begins } : null;
}

/** Body nodes the given outputs need (params included). */
function liveNodes(body: Graph, outputs: readonly number[]): Uint8Array {
  const live = new Uint8Array(body.nodes.length);
  for (const o of outputs) live[o] = 1;
  for (let i = body.nodes.length - 1; i >= 0; i--) if (live[i]) for (const x of body.nodes[i].inputs) live[x] = 1;
  return live;
}

function prune(scan: Node<'scan'>, used: ReadonlySet<number>): Pruned | null {
  const a = scan.attrs;
  const params = bodyParams(a.body);
  // A carry lives if its final value is read or the live body reads its running value; grow to a fixpoint.
  const keep = a.body.outputs.map((_, j) => used.has(j));
  for (let changed = true; changed;) {
    changed = false;
    const live = liveNodes(a.body, a.body.outputs.filter((_, j) => keep[j]));
    for (let i = 0; i < a.carries; i++) {
      if (!keep[i] && live[params[i].id]) {
        keep[i] = true;
        changed = true;
      }
    }
  }
  if (keep.every(Boolean)) return null;
  const outputs = a.body.outputs.filter((_, j) => keep[j]);
  const live = liveNodes(a.body, outputs);
  const keptCarries = params.slice(0, a.carries).map((_, i) => keep[i]);
  const operands = params.map((_, i) => i).filter((i) => i >= a.carries || keptCarries[i]);
  // The new body: kept params (in order) and the live nodes, each rebuilt in order.
  const b = new GraphBuilder();
  const map: Value[] = [];
  for (const n of a.body.nodes) {
    const isKeptParam = n.op === 'param' && operands.includes(params.findIndex((p) => p.id === n.id));
    if (n.op === 'param' ? !isKeptParam : !live[n.id]) continue;
    map[n.id] = b.op(n.op as OpName, n.inputs.map((i) => map[i]), n.attrs as OpAttrs[OpName]);
  }
  const body = b.build(outputs.map((o) => map[o]));
  const attrs: ScanAttrs = { ...a, body, carries: keptCarries.filter(Boolean).length };
  const layout = scanLayout(attrs);
  const kept = a.body.outputs.map((_, j) => j).filter((j) => keep[j]);
  return { attrs, operands, offsets: new Map(kept.map((j, k) => [j, layout[k].offset])) };
}

export function pruneScans(graph: Graph): Graph {
  const users: number[][] = graph.nodes.map(() => []);
  for (const n of graph.nodes) for (const x of n.inputs) users[x].push(n.id);
  const boundary = new Set([...graph.outputs, ...(graph.updates ?? []).flatMap((u) => [u.value, u.target])]);
  const plans = new Map<number, Pruned>();
  const begins = new Map<number, { scan: number; begin: number }>();
  for (const n of graph.nodes) {
    if (n.op !== 'scan' || boundary.has(n.id)) continue;
    const reads = readsOf(graph, n as Node<'scan'>, users);
    const plan = reads && prune(n as Node<'scan'>, reads.used);
    if (!plan) continue;
    plans.set(n.id, plan);
    for (const [slice, begin] of reads.begins) begins.set(slice, { scan: n.id, begin });
  }
  if (plans.size === 0) return graph;
  const layouts = new Map([...plans.keys()].map((id) => [id, scanLayout((graph.nodes[id] as Node<'scan'>).attrs)]));
  return rebuild(graph, (b, n, xs) => {
    const plan = plans.get(n.id);
    // A dynamic scan's steps operand (its last, past the body's params) stays.
    if (plan) return b.op('scan', [...plan.operands.map((i) => xs[i]), ...(plan.attrs.dynamic ? [xs[xs.length - 1]] : [])], plan.attrs as OpAttrs['scan']);
    const at = begins.get(n.id);
    if (!at) return null;
    // xs[0] is the new scan (a slice between stands for it); a slice that cuts one result moves to its new offset.
    const j = layouts.get(at.scan)!.findIndex((l) => l.offset === at.begin && sizeOf(l.shape) === n.type.shape[0]);
    return j < 0 ? xs[0] : b.slice(xs[0], [plans.get(at.scan)!.offsets.get(j)!], n.type.shape);
  });
}
