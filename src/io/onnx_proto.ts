/**
 * The few ONNX protobuf messages an exported model needs (onnx.proto, IR
 * version 8), encoded by hand: varints, length-delimited fields, and
 * little-endian float32 raw data.
 */

class Writer {
  private readonly parts: Uint8Array[] = [];
  private length = 0;

  private push(b: Uint8Array): void {
    this.parts.push(b);
    this.length += b.length;
  }

  varint(v: number | bigint): this {
    let n = BigInt.asUintN(64, BigInt(v));
    const out: number[] = [];
    do {
      let byte = Number(n & 0x7fn);
      n >>= 7n;
      if (n) byte |= 0x80;
      out.push(byte);
    } while (n);
    this.push(Uint8Array.from(out));
    return this;
  }

  private key(field: number, wire: number): this {
    return this.varint((field << 3) | wire);
  }

  int(field: number, v: number): this {
    return this.key(field, 0).varint(v);
  }

  float(field: number, v: number): this {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, v, true);
    this.key(field, 5).push(b);
    return this;
  }

  bytes(field: number, b: Uint8Array): this {
    this.key(field, 2).varint(b.length).push(b);
    return this;
  }

  string(field: number, s: string): this {
    return this.bytes(field, new TextEncoder().encode(s));
  }

  message(field: number, m: Writer): this {
    return this.bytes(field, m.finish());
  }

  finish(): Uint8Array {
    const out = new Uint8Array(this.length);
    let at = 0;
    for (const p of this.parts) {
      out.set(p, at);
      at += p.length;
    }
    return out;
  }
}

/** onnx.TensorProto.DataType */
export const ONNX_DTYPE = { float32: 1, uint8: 2, int32: 6, int64: 7, bool: 9, float64: 11 } as const;
export type OnnxDType = keyof typeof ONNX_DTYPE;

export interface OnnxTensor {
  readonly name: string;
  readonly dtype: OnnxDType;
  readonly dims: readonly number[];
  /** Little-endian raw bytes. */
  readonly raw: Uint8Array;
}

export type OnnxAttr = { readonly name: string } & ({ readonly i: number } | { readonly f: number } | { readonly ints: readonly number[] } | { readonly t: OnnxTensor });

export interface OnnxNode {
  readonly op: string;
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
  readonly attrs?: readonly OnnxAttr[];
}

export interface OnnxValue {
  readonly name: string;
  readonly dtype: OnnxDType;
  readonly shape: readonly number[];
}

export interface OnnxGraph {
  readonly name: string;
  readonly nodes: readonly OnnxNode[];
  readonly initializers: readonly OnnxTensor[];
  readonly inputs: readonly OnnxValue[];
  readonly outputs: readonly OnnxValue[];
}

function tensor(t: OnnxTensor): Writer {
  const w = new Writer();
  for (const d of t.dims) w.int(1, d);
  return w.int(2, ONNX_DTYPE[t.dtype]).string(8, t.name).bytes(9, t.raw);
}

function attribute(a: OnnxAttr): Writer {
  const w = new Writer().string(1, a.name);
  if ('i' in a) return w.int(3, a.i).int(20, 2);
  if ('f' in a) return w.float(2, a.f).int(20, 1);
  if ('ints' in a) {
    for (const v of a.ints) w.int(8, v);
    return w.int(20, 7);
  }
  return w.message(5, tensor(a.t)).int(20, 4);
}

function valueInfo(v: OnnxValue): Writer {
  const shape = new Writer();
  for (const d of v.shape) shape.message(1, new Writer().int(1, d));
  const tensorType = new Writer().int(1, ONNX_DTYPE[v.dtype]).message(2, shape);
  return new Writer().string(1, v.name).message(2, new Writer().message(1, tensorType));
}

export function encodeModel(g: OnnxGraph, opset: number, producer: string): Uint8Array {
  const graph = new Writer();
  for (const n of g.nodes) {
    const node = new Writer();
    for (const i of n.inputs) node.string(1, i);
    for (const o of n.outputs) node.string(2, o);
    node.string(4, n.op);
    for (const a of n.attrs ?? []) node.message(5, attribute(a));
    graph.message(1, node);
  }
  graph.string(2, g.name);
  for (const t of g.initializers) graph.message(5, tensor(t));
  for (const v of g.inputs) graph.message(11, valueInfo(v));
  for (const v of g.outputs) graph.message(12, valueInfo(v));
  return new Writer().int(1, 8).string(2, producer).message(7, graph).message(8, new Writer().string(1, '').int(2, opset)).finish();
}
