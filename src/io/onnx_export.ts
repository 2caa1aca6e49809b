/**
 * ONNX export for inference: the model's predict graph (the same tensor IR
 * the compiler takes) at a fixed batch size, op by op as ONNX opset 17
 * nodes, with the weights as initializers. Serving engines (onnxruntime and
 * others) then run a Kiln-trained model. Sliding windows (convolution,
 * pooling) become a Gather from the flattened input with a precomputed index
 * table; loops and random ops are refused naming the op.
 */
import type { Graph, Node } from '../../ir/graph.js';
import type { OpName } from '../../ir/ops.js';
import { atomicWriteBytes } from './atomic.js';
import type { AnyNetwork } from './model_config.js';
import { type OnnxAttr, type OnnxDType, type OnnxNode, type OnnxTensor, type OnnxValue, encodeModel } from './onnx_proto.js';

export interface OnnxExportOptions {
  /** The batch size the exported graph runs (ONNX shapes here are static), default 1. */
  readonly batchSize?: number;
}

const OPSET = 17;

class Emitter {
  readonly nodes: OnnxNode[] = [];
  readonly initializers: OnnxTensor[] = [];
  readonly inputs: OnnxValue[] = [];
  private readonly names = new Map<number, string>();
  private counter = 0;

  constructor(readonly graph: Graph, readonly weights: ReadonlyMap<string, Float32Array>) {}

  name(id: number): string {
    return this.names.get(id) ?? `v${id}`;
  }

  rename(id: number, name: string): void {
    this.names.set(id, name);
  }

  fresh(): string {
    return `t${this.counter++}`;
  }

  add(op: string, inputs: readonly string[], output: string, attrs?: readonly OnnxAttr[]): string {
    this.nodes.push({ op, inputs, outputs: [output], attrs });
    return output;
  }

  int64(values: readonly number[]): string {
    const name = this.fresh();
    this.initializers.push({ name, dtype: 'int64', dims: [values.length], raw: new Uint8Array(BigInt64Array.from(values.map((v) => BigInt(v))).buffer) });
    return name;
  }

  scalar(value: number, dtype: string, dims: readonly number[] = []): string {
    const name = this.fresh();
    const count = dims.reduce((a, b) => a * b, 1);
    this.initializers.push({ name, dtype: onnxType(dtype), dims, raw: rawOf(dtype, new Array<number>(count).fill(value)) });
    return name;
  }
}

function onnxType(dtype: string): OnnxDType {
  if (dtype === 'float32' || dtype === 'float64' || dtype === 'int32' || dtype === 'bool') return dtype;
  throw new Error(`exportONNX: no ONNX type for dtype ${dtype}`);
}

function rawOf(dtype: string, values: ArrayLike<number>): Uint8Array {
  const typed = dtype === 'float32' ? Float32Array.from(values) : dtype === 'float64' ? Float64Array.from(values) : dtype === 'int32' ? Int32Array.from(values) : Uint8Array.from(values);
  return new Uint8Array(typed.buffer);
}

/** Largest index table a window is exported with (as int64: 512 MiB). */
const MAX_WINDOW_INDICES = 2 ** 26;

/**
 * The window op as a gather from the flattened input: out[o..., k...] reads
 * x at sum over axes a of (o[a] * strides[a] + k[a] * dilations[a]) * stride_of(a).
 */
function windowIndices(shape: readonly number[], attrs: { strides: readonly number[]; dilations: readonly number[] }, outShape: readonly number[]): BigInt64Array {
  const count = outShape.reduce((a, b) => a * b, 1);
  if (count > MAX_WINDOW_INDICES) throw new Error(`exportONNX: a window of ${count} elements is too large to export as an index table (limit ${MAX_WINDOW_INDICES})`);
  const rank = shape.length;
  const st = shape.map((_, a) => shape.slice(a + 1).reduce((p, d) => p * d, 1));
  const steps = [...st.map((s, a) => s * attrs.strides[a]), ...st.map((s, a) => s * attrs.dilations[a])];
  const out = new BigInt64Array(count);
  const pos = new Array<number>(2 * rank).fill(0);
  for (let i = 0; i < count; i++) {
    let flat = 0;
    for (let a = 0; a < 2 * rank; a++) flat += pos[a] * steps[a];
    out[i] = BigInt(flat);
    for (let a = 2 * rank - 1; a >= 0; a--) {
      if (++pos[a] < outShape[a]) break;
      pos[a] = 0;
    }
  }
  return out;
}

type Emit<P extends OpName> = (e: Emitter, n: Node<P>, x: string[], out: string) => void;

const unsupported = (why: string) => (_e: Emitter, n: Node): void => {
  throw new Error(`exportONNX: op ${n.op} (node ${n.id}) ${why}`);
};

const simple = (op: string) => (e: Emitter, _n: Node, x: string[], out: string): void => void e.add(op, x, out);

function swapLast(e: Emitter, x: string, rank: number): string {
  const perm = Array.from({ length: rank }, (_, i) => i);
  [perm[rank - 2], perm[rank - 1]] = [perm[rank - 1], perm[rank - 2]];
  return e.add('Transpose', [x], e.fresh(), [{ name: 'perm', ints: perm }]);
}

/** Every IR op as ONNX; a new IR op fails `tsc` until it has an entry here. */
const EMIT: { readonly [P in OpName]: Emit<P> } = {
  param: (e, n) => {
    const { name, role, shape, dtype } = n.attrs;
    if (role === 'input') {
      e.inputs.push({ name, dtype: onnxType(dtype), shape });
      e.rename(n.id, name);
      return;
    }
    const value = e.weights.get(name);
    if (!value) throw new Error(`exportONNX: the predict graph reads ${role} '${name}', which is not a weight of the model`);
    e.initializers.push({ name, dtype: 'float32', dims: shape, raw: new Uint8Array(Float32Array.from(value).buffer) });
    e.rename(n.id, name);
  },
  constant: (e, n, _x, out) => void e.add('Expand', [e.scalar(n.attrs.value, n.attrs.dtype), e.int64(n.attrs.shape)], out),
  iota: (e, n, _x, out) => {
    const { shape, axis, dtype } = n.attrs;
    const ax = axis < 0 ? axis + shape.length : axis;
    const inner = shape.slice(ax + 1).reduce((a, b) => a * b, 1);
    const count = shape.reduce((a, b) => a * b, 1);
    const name = e.fresh();
    e.initializers.push({ name, dtype: onnxType(dtype), dims: shape, raw: rawOf(dtype, Array.from({ length: count }, (_, i) => Math.floor(i / inner) % shape[ax])) });
    e.add('Identity', [name], out);
  },
  random: unsupported('draws random numbers, which only training programs do'),
  select: simple('Where'),
  cast: (e, n, x, out) => void e.add('Cast', x, out, [{ name: 'to', i: { float32: 1, float64: 11, int32: 6, bool: 9 }[n.attrs.dtype] }]),
  reduce_sum: (e, n, x, out) => void e.add('ReduceSum', [x[0], e.int64(n.attrs.axes)], out, [{ name: 'keepdims', i: n.attrs.keepDims ? 1 : 0 }]),
  reduce_max: (e, n, x, out) => void e.add('ReduceMax', x, out, [{ name: 'axes', ints: n.attrs.axes }, { name: 'keepdims', i: n.attrs.keepDims ? 1 : 0 }]),
  reduce_min: (e, n, x, out) => void e.add('ReduceMin', x, out, [{ name: 'axes', ints: n.attrs.axes }, { name: 'keepdims', i: n.attrs.keepDims ? 1 : 0 }]),
  reshape: (e, n, x, out) => void e.add('Reshape', [x[0], e.int64(n.attrs.shape)], out),
  transpose: (e, n, x, out) => void e.add('Transpose', x, out, [{ name: 'perm', ints: n.attrs.perm }]),
  broadcast: (e, n, x, out) => void e.add('Expand', [x[0], e.int64(n.attrs.shape)], out),
  slice: (e, n, x, out) => {
    const { begin, size, step } = n.attrs;
    // ONNX ends are exclusive; a negative step that ends before index 0 needs an end below -length.
    const ends = begin.map((b, i) => (step[i] > 0 ? b + (size[i] - 1) * step[i] + 1 : b + (size[i] - 1) * step[i] - 1 < 0 ? -(2 ** 53) : b + (size[i] - 1) * step[i] - 1));
    e.add('Slice', [x[0], e.int64(begin), e.int64(ends), e.int64(begin.map((_, i) => i)), e.int64(step)], out);
  },
  concat: (e, n, x, out) => void e.add('Concat', x, out, [{ name: 'axis', i: n.attrs.axis }]),
  pad: (e, n, x, out) => void e.add('Pad', [x[0], e.int64([...n.attrs.low, ...n.attrs.high]), e.scalar(n.attrs.value, e.graph.nodes[n.inputs[0]].type.dtype)], out, []),
  window: (e, n, x, out) => {
    const indices = e.fresh();
    e.initializers.push({ name: indices, dtype: 'int64', dims: n.type.shape, raw: new Uint8Array(windowIndices(e.graph.nodes[n.inputs[0]].type.shape, n.attrs, n.type.shape).buffer) });
    e.add('Gather', [e.add('Reshape', [x[0], e.int64([-1])], e.fresh()), indices], out, [{ name: 'axis', i: 0 }]);
  },
  gather: (e, n, x, out) => void e.add('Gather', x, out, [{ name: 'axis', i: n.attrs.axis }]),
  scatter_add: unsupported('(an Embedding\'s gradient) appears in training programs only'),
  matmul: (e, n, x, out) => {
    const [a, b] = n.inputs.map((id) => e.graph.nodes[id].type.shape.length);
    e.add('MatMul', [n.attrs.transposeA ? swapLast(e, x[0], a) : x[0], n.attrs.transposeB ? swapLast(e, x[1], b) : x[1]], out);
  },
  scan: unsupported('(a loop: recurrent layers) has no ONNX export yet'),
  neg: simple('Neg'), abs: simple('Abs'), sign: simple('Sign'), exp: simple('Exp'), log: simple('Log'), sqrt: simple('Sqrt'),
  tanh: simple('Tanh'), sigmoid: simple('Sigmoid'), floor: simple('Floor'), ceil: simple('Ceil'), round: simple('Round'), not: simple('Not'),
  expm1: (e, n, x, out) => void e.add('Sub', [e.add('Exp', x, e.fresh()), e.scalar(1, n.type.dtype)], out),
  log1p: (e, n, x, out) => void e.add('Log', [e.add('Add', [x[0], e.scalar(1, n.type.dtype)], e.fresh())], out),
  add: simple('Add'), sub: simple('Sub'), mul: simple('Mul'), div: simple('Div'), pow: simple('Pow'),
  maximum: simple('Max'), minimum: simple('Min'), eq: simple('Equal'), lt: simple('Less'), le: simple('LessOrEqual'),
  gt: simple('Greater'), ge: simple('GreaterOrEqual'), and: simple('And'), or: simple('Or'),
  ne: (e, _n, x, out) => void e.add('Not', [e.add('Equal', x, e.fresh())], out),
};

/** The model's predict graph as an ONNX model (bytes). */
export function exportONNX(model: AnyNetwork, options: OnnxExportOptions = {}): Uint8Array {
  const batch = options.batchSize ?? 1;
  if (!Number.isInteger(batch) || batch < 1) throw new Error(`exportONNX: batchSize must be a positive integer, got ${batch}`);
  const graph = model.buildGraph(batch);
  const weights = new Map(model.allWeights().map((w) => [w.name, w.value]));
  const e = new Emitter(graph, weights);
  for (const n of graph.nodes) {
    const inputs = n.inputs.map((id) => e.name(id));
    (EMIT[n.op] as Emit<OpName>)(e, n, inputs, e.name(n.id));
  }
  const outputNames = graph.outputs.map((_, i) => (graph.outputs.length === 1 ? 'output' : `output_${i + 1}`));
  graph.outputs.forEach((id, i) => e.add('Identity', [e.name(id)], outputNames[i]));
  const outputs = graph.outputs.map((id, i) => ({ name: outputNames[i], dtype: onnxType(graph.nodes[id].type.dtype), shape: graph.nodes[id].type.shape }));
  return encodeModel({ name: model.name, nodes: e.nodes, initializers: e.initializers, inputs: e.inputs, outputs }, OPSET, 'kiln');
}

/** Writes exportONNX's bytes to `path`, atomically. */
export async function saveONNX(model: AnyNetwork, path: string, options: OnnxExportOptions = {}): Promise<void> {
  await atomicWriteBytes(path, exportONNX(model, options));
}
