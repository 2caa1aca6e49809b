/**
 * The tensor IR graph and its builder. Nodes are stored in topological order
 * (a node's id is its index; inputs have smaller ids), and every node's type is
 * inferred and checked when it is created, so a malformed model fails where it
 * is built, naming the layer.
 */
import { type DType, type Shape, type TensorType, shapeStr } from './dtype.js';
import { type AttrsMap, type OpAttrs, type OpName, type ParamRole, OPS } from './ops.js';
import type { BinaryOp, UnaryOp } from './scalar.js';

export interface Node<K extends OpName = OpName> {
  readonly id: number;
  readonly op: K;
  readonly inputs: readonly number[];
  readonly attrs: OpAttrs[K];
  readonly type: TensorType;
}

/** A state param (target) that takes a new value at the end of every run: weights, optimizer slots, counters. */
export interface Update {
  readonly target: number;
  readonly value: number;
}

export interface Graph {
  readonly nodes: readonly Node[];
  readonly outputs: readonly number[];
  readonly updates?: readonly Update[];
}

/** A handle on a node being built. */
export interface Value {
  readonly id: number;
  readonly shape: Shape;
  readonly dtype: DType;
}

export class ShapeError extends Error {
  override name = 'ShapeError';
}

export function broadcastShapes(a: Shape, b: Shape): Shape | null {
  const rank = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < rank; i++) {
    const x = a[a.length - rank + i] ?? 1;
    const y = b[b.length - rank + i] ?? 1;
    if (x !== y && x !== 1 && y !== 1) return null;
    out.push(x === 1 ? y : x);
  }
  return out;
}

export class GraphBuilder {
  readonly nodes: Node[] = [];
  private readonly scopes: string[] = [];

  /** Runs `fn` with `name` (a layer name) prefixed to every shape error. */
  scoped<T>(name: string, fn: () => T): T {
    this.scopes.push(name);
    try {
      return fn();
    } finally {
      this.scopes.pop();
    }
  }

  op<K extends OpName>(op: K, inputs: readonly Value[], attrs: OpAttrs[K]): Value {
    let type: TensorType;
    try {
      type = OPS[op].infer(inputs.map((v) => this.nodes[v.id].type), attrs as never);
    } catch (e) {
      const where = this.scopes.length ? `${this.scopes.join('/')}: ` : '';
      const given = inputs.map((v) => `${shapeStr(v.shape)} ${v.dtype}`).join(', ');
      throw new ShapeError(`${where}${op}(${given}): ${(e as Error).message}`);
    }
    const node: Node = { id: this.nodes.length, op, inputs: inputs.map((v) => v.id), attrs, type };
    this.nodes.push(node);
    return { id: node.id, shape: type.shape, dtype: type.dtype };
  }

  build(outputs: readonly Value[], updates: readonly { target: Value; value: Value }[] = []): Graph {
    const graph: Graph = { nodes: [...this.nodes], outputs: outputs.map((v) => v.id) };
    return updates.length ? { ...graph, updates: updates.map((u) => ({ target: u.target.id, value: u.value.id })) } : graph;
  }

  param(name: string, shape: Shape, dtype: DType = 'float32', role: ParamRole = 'input'): Value {
    return this.op('param', [], { name, role, shape, dtype });
  }

  constant(value: number, shape: Shape = [], dtype: DType = 'float32'): Value {
    return this.op('constant', [], { value, shape, dtype });
  }

  /** The value of `v` when it is one number everywhere (a constant, possibly broadcast); else null. */
  uniformValue(v: Value): number | null {
    const n = this.nodes[v.id];
    if (n.op === 'constant') return (n.attrs as AttrsMap['constant']).value;
    return n.op === 'broadcast' ? this.uniformValue({ id: n.inputs[0], shape: [], dtype: v.dtype }) : null;
  }

  iota(shape: Shape, axis: number, dtype: DType = 'int32'): Value {
    return this.op('iota', [], { shape, axis, dtype });
  }

  random(seed: number, shape: Shape, counter: Value): Value {
    return this.op('random', [counter], { seed, shape });
  }

  /** Broadcasts `x` to `shape` (numpy rules); no node when the shape already matches. */
  broadcastTo(x: Value, shape: Shape): Value {
    if (shapeStr(x.shape) === shapeStr(shape)) return x;
    return this.op('broadcast', [x], { shape });
  }

  private lift(x: Value | number, like: Value): Value {
    return typeof x === 'number' ? this.constant(x, [], like.dtype) : x;
  }

  unary(op: UnaryOp, x: Value): Value {
    return this.op(op, [x], {});
  }

  /** An elementwise binary op with numpy broadcasting; numbers become constants of the other operand's dtype. */
  binary(op: BinaryOp, x: Value | number, y: Value | number): Value {
    if (typeof x === 'number' && typeof y === 'number') throw new ShapeError(`${op}: at least one operand must be a tensor`);
    const a = this.lift(x, y as Value);
    const b = this.lift(y, a);
    const shape = broadcastShapes(a.shape, b.shape);
    if (!shape) return this.op(op, [a, b], {});
    return this.op(op, [this.broadcastTo(a, shape), this.broadcastTo(b, shape)], {});
  }

  add = (x: Value | number, y: Value | number): Value => this.binary('add', x, y);
  sub = (x: Value | number, y: Value | number): Value => this.binary('sub', x, y);
  mul = (x: Value | number, y: Value | number): Value => this.binary('mul', x, y);
  div = (x: Value | number, y: Value | number): Value => this.binary('div', x, y);
  pow = (x: Value | number, y: Value | number): Value => this.binary('pow', x, y);
  maximum = (x: Value | number, y: Value | number): Value => this.binary('maximum', x, y);
  minimum = (x: Value | number, y: Value | number): Value => this.binary('minimum', x, y);

  select(cond: Value, x: Value | number, y: Value | number): Value {
    const a = typeof x === 'number' ? this.constant(x, [], typeof y === 'number' ? 'float32' : y.dtype) : x;
    const b = this.lift(y, a);
    const shape = broadcastShapes(broadcastShapes(cond.shape, a.shape) ?? a.shape, b.shape) ?? a.shape;
    return this.op('select', [this.broadcastTo(cond, shape), this.broadcastTo(a, shape), this.broadcastTo(b, shape)], {});
  }

  cast(x: Value, dtype: DType): Value {
    return x.dtype === dtype ? x : this.op('cast', [x], { dtype });
  }

  private axesOf(x: Value, axes?: number | readonly number[]): number[] {
    const list = axes === undefined ? x.shape.map((_, i) => i) : typeof axes === 'number' ? [axes] : [...axes];
    return list.map((a) => (a < 0 ? a + x.shape.length : a)).sort((p, q) => p - q);
  }

  sum(x: Value, axes?: number | readonly number[], keepDims = false): Value {
    return this.op('reduce_sum', [x], { axes: this.axesOf(x, axes), keepDims });
  }

  max(x: Value, axes?: number | readonly number[], keepDims = false): Value {
    return this.op('reduce_max', [x], { axes: this.axesOf(x, axes), keepDims });
  }

  min(x: Value, axes?: number | readonly number[], keepDims = false): Value {
    return this.op('reduce_min', [x], { axes: this.axesOf(x, axes), keepDims });
  }

  mean(x: Value, axes?: number | readonly number[], keepDims = false): Value {
    const list = this.axesOf(x, axes);
    const count = list.reduce((n, a) => n * x.shape[a], 1);
    return this.mul(this.sum(x, list, keepDims), 1 / count);
  }

  reshape(x: Value, shape: Shape): Value {
    return shapeStr(x.shape) === shapeStr(shape) ? x : this.op('reshape', [x], { shape });
  }

  transpose(x: Value, perm: readonly number[]): Value {
    return perm.every((p, i) => p === i) && perm.length === x.shape.length ? x : this.op('transpose', [x], { perm });
  }

  slice(x: Value, begin: readonly number[], size: readonly number[], step?: readonly number[]): Value {
    return this.op('slice', [x], { begin, size, step: step ?? begin.map(() => 1) });
  }

  /** Pads every axis with `low[a]` leading and `high[a]` trailing elements of `value`; no node when nothing is added. */
  pad(x: Value, low: readonly number[], high: readonly number[], value = 0): Value {
    return [...low, ...high].every((p) => p === 0) ? x : this.op('pad', [x], { low, high, value });
  }

  /** Sliding windows over every axis (size 1, stride 1 leaves an axis as it is): shape [...positions, ...size]. */
  window(x: Value, size: readonly number[], strides?: readonly number[], dilations?: readonly number[]): Value {
    return this.op('window', [x], { size, strides: strides ?? size.map(() => 1), dilations: dilations ?? size.map(() => 1) });
  }

  concat(xs: readonly Value[], axis: number): Value {
    return xs.length === 1 ? xs[0] : this.op('concat', xs, { axis });
  }

  gather(params: Value, indices: Value, axis = 0): Value {
    return this.op('gather', [params, this.cast(indices, 'int32')], { axis });
  }

  /** Zeros of [rows, ...rest] with each row of `updates` ([...indices.shape, ...rest]) added at its index. */
  scatterAdd(indices: Value, updates: Value, rows: number): Value {
    return this.op('scatter_add', [this.cast(indices, 'int32'), updates], { rows });
  }

  matmul(a: Value, b: Value, transposeA = false, transposeB = false): Value {
    return this.op('matmul', [a, b], { transposeA, transposeB });
  }
}
