/**
 * Simplify and CSE, a pure graph -> graph pass.
 *
 * simplify: folds splat constants through elementwise ops, removes identities
 *   (x + 0, x * 1, x / 1, casts and reshapes/transposes/broadcasts to the same
 *   type), merges chains of reshapes, transposes and broadcasts, and turns
 *   broadcasts of constants into constants; common subexpressions share one node.
 */
import { sameShape } from '../ir/dtype.js';
import type { Graph, GraphBuilder, Node, Value } from '../ir/graph.js';
import { type AttrsMap, isBinaryOp, isUnaryOp } from '../ir/ops.js';
import { rebuild } from './rebuild.js';
import { scalarOp } from '../ir/scalar_eval.js';

type Rewrite = (b: GraphBuilder, n: Node, xs: readonly Value[]) => Value | null;

function constValue(b: GraphBuilder, v: Value): number | null {
  const n = b.nodes[v.id];
  return n.op === 'constant' ? (n.attrs as AttrsMap['constant']).value : null;
}

function fold(b: GraphBuilder, n: Node, xs: readonly Value[]): Value | null {
  const values = xs.map((x) => constValue(b, x));
  if (values.some((v) => v === null) || xs.length === 0) return null;
  const [a, c, d] = values as number[];
  let value: number;
  if (isUnaryOp(n.op)) value = scalarOp(n.op, n.type.dtype, a);
  else if (isBinaryOp(n.op)) value = scalarOp(n.op, xs[0].dtype, a, c);
  else if (n.op === 'select') value = a ? c : d;
  else if (n.op === 'cast') value = n.type.dtype === 'bool' ? +(a !== 0) : n.type.dtype === 'int32' ? Math.trunc(a) | 0 : a;
  else return null;
  if (n.type.dtype === 'float32') value = Math.fround(value);
  return b.constant(value, n.type.shape, n.type.dtype);
}

function identity(b: GraphBuilder, n: Node, xs: readonly Value[]): Value | null {
  const [x, y] = xs;
  const c = (v: Value | undefined): number | null => (v ? constValue(b, v) : null);
  switch (n.op) {
    case 'add': return c(y) === 0 ? x : c(x) === 0 ? y : null;
    case 'sub': return c(y) === 0 ? x : null;
    case 'mul': return c(y) === 1 ? x : c(x) === 1 ? y : null;
    case 'div': return c(y) === 1 ? x : null;
    case 'select': {
      const cond = c(x);
      return cond === null ? null : cond ? xs[1] : xs[2];
    }
    case 'cast': return x.dtype === n.type.dtype ? x : null;
    default: return null;
  }
}

function movement(b: GraphBuilder, n: Node, xs: readonly Value[]): Value | null {
  const [x] = xs;
  if (!x || !['reshape', 'transpose', 'broadcast'].includes(n.op)) return null;
  if (sameShape(x.shape, n.type.shape) && (n.op !== 'transpose' || (n.attrs as AttrsMap['transpose']).perm.every((p, i) => p === i))) return x;
  const src = b.nodes[x.id];
  const inner = { id: src.inputs[0], shape: src.inputs.length ? b.nodes[src.inputs[0]].type.shape : [], dtype: x.dtype };
  if (n.op === 'reshape' && src.op === 'reshape') return b.reshape(inner, n.type.shape);
  if (n.op === 'transpose' && src.op === 'transpose') {
    const p1 = (src.attrs as AttrsMap['transpose']).perm;
    return b.transpose(inner, (n.attrs as AttrsMap['transpose']).perm.map((p) => p1[p]));
  }
  if (n.op === 'broadcast' && src.op === 'broadcast') return b.broadcastTo(inner, n.type.shape);
  if ((n.op === 'broadcast' || n.op === 'reshape') && src.op === 'constant') return b.constant((src.attrs as AttrsMap['constant']).value, n.type.shape, n.type.dtype);
  return null;
}

const RULES: readonly Rewrite[] = [fold, identity, movement];

export function simplify(graph: Graph): Graph {
  return rebuild(graph, (b, n, xs) => {
    for (const rule of RULES) {
      const v = rule(b, n, xs);
      if (v) return v;
    }
    return null;
  });
}
