/**
 * A minimal ONNX model writer for benchmark peers: just enough protobuf to
 * describe a graph of standard ops over float32 tensors, so onnxruntime-node
 * can run the same computation as Kiln in the same process.
 */

function varint(n: number): number[] {
  const out: number[] = [];
  let v = n;
  while (v > 127) {
    out.push((v & 127) | 128);
    v = Math.floor(v / 128);
  }
  out.push(v);
  return out;
}

type Field = [number, number | string | Uint8Array | Field[]];

/** Encodes fields (number: varint; string/bytes/nested: length-delimited). */
export function message(fields: readonly Field[]): Uint8Array {
  const chunks: Uint8Array[] = [];
  for (const [tag, value] of fields) {
    if (typeof value === 'number') {
      chunks.push(Uint8Array.from([...varint(tag << 3), ...varint(value)]));
      continue;
    }
    const bytes = typeof value === 'string' ? new TextEncoder().encode(value) : value instanceof Uint8Array ? value : message(value);
    chunks.push(Uint8Array.from([...varint((tag << 3) | 2), ...varint(bytes.length)]), bytes);
  }
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/** A tensor's name and shape; a string dim is symbolic (dim_param), e.g. the batch. */
export function valueInfo(name: string, shape: readonly (number | string)[]): Field[] {
  const dims: Field[] = shape.map((d) => [1, [typeof d === 'string' ? [2, d] : [1, d]]]);
  return [[1, name], [2, [[1, [[1, 1], [2, dims]]]]]];
}

export function node(op: string, inputs: readonly string[], outputs: readonly string[], attrs: Field[][] = []): Field[] {
  return [...inputs.map((i): Field => [1, i]), ...outputs.map((o): Field => [2, o]), [4, op], ...attrs.map((a): Field => [5, a])];
}

/** A float32 initializer (TensorProto with raw_data). */
export function initializer(name: string, shape: readonly number[], data: Float32Array): Field[] {
  return [...shape.map((d): Field => [1, d]), [2, 1], [8, name], [9, new Uint8Array(data.buffer, data.byteOffset, data.byteLength)]];
}

export function model(nodes: Field[][], inputs: Field[][], outputs: Field[][], inits: Field[][] = []): Uint8Array {
  const graph: Field[] = [...nodes.map((n): Field => [1, n]), [2, 'g'], ...inits.map((t): Field => [5, t]), ...inputs.map((i): Field => [11, i]), ...outputs.map((o): Field => [12, o])];
  return message([[1, 8], [7, graph], [8, [[2, 13]]]]);
}
