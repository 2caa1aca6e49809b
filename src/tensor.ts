/** Tensors of the Keras front end: a typed array, a shape and a dtype. */
import { type DType, type TypedArray, allocArray, shapeStr, sizeOf } from '../ir/dtype.js';

export type { DType, TypedArray };

/** Element types of front-end tensors: the IR's, plus uint8 for datasets. */
export type TensorDType = DType | 'uint8';

export type NestedArray = number | boolean | readonly NestedArray[];

export class Tensor {
  constructor(readonly data: TypedArray, readonly shape: readonly number[], readonly dtype: TensorDType = 'float32') {
    if (data.length !== sizeOf(shape)) throw new Error(`Tensor of shape ${shapeStr(shape)} needs ${sizeOf(shape)} values, got ${data.length}`);
  }

  get size(): number {
    return this.data.length;
  }

  /** Nested arrays, as Keras/numpy `tolist()`. */
  toArray(): NestedArray {
    const go = (dim: number, offset: number): NestedArray => {
      if (dim === this.shape.length) return this.data[offset];
      const stride = sizeOf(this.shape.slice(dim + 1));
      return Array.from({ length: this.shape[dim] }, (_, i) => go(dim + 1, offset + i * stride));
    };
    return go(0, 0);
  }

  toString(): string {
    return `Tensor(${this.dtype}${shapeStr(this.shape)})`;
  }
}

function inferShape(data: NestedArray): number[] {
  const shape: number[] = [];
  let level: NestedArray = data;
  while (Array.isArray(level)) {
    shape.push(level.length);
    level = (level as readonly NestedArray[])[0];
  }
  return shape;
}

function flatten(data: NestedArray, shape: readonly number[], out: number[], dim = 0, path = ''): void {
  if (dim === shape.length) {
    if (Array.isArray(data)) throw new Error(`tensor(): ragged nested array: element${path} is an array, expected a number`);
    if (typeof data !== 'number' && typeof data !== 'boolean') {
      throw new Error(`tensor(): element${path} is ${typeof data === 'string' ? `the string ${JSON.stringify(data)}` : String(data)}; nested arrays must hold numbers or booleans (convert strings with Number() first)`);
    }
    out.push(Number(data));
    return;
  }
  if (!Array.isArray(data) || data.length !== shape[dim]) {
    throw new Error(`tensor(): ragged nested array: element${path} has ${Array.isArray(data) ? `length ${data.length}` : 'a number'}, expected length ${shape[dim]}`);
  }
  data.forEach((d, i) => flatten(d, shape, out, dim + 1, `${path}[${i}]`));
}

/**
 * Makes a tensor from a typed array, a flat array with a shape, or nested
 * arrays (shape inferred). `dtype` defaults to the typed array's (a
 * Uint8Array stays uint8, as numpy keeps it; fit and predict read it as
 * float32), else float32.
 */
export function tensor(data: TypedArray | NestedArray, shape?: readonly number[], dtype?: DType): Tensor {
  const isTyped = ArrayBuffer.isView(data);
  const kind: TensorDType = dtype ?? (data instanceof Int32Array ? 'int32' : data instanceof Float64Array ? 'float64' : data instanceof Uint8Array ? 'uint8' : 'float32');
  let values: ArrayLike<number>;
  let finalShape: readonly number[];
  if (isTyped) {
    values = data as TypedArray;
    finalShape = shape ?? [values.length];
  } else {
    const nestedShape = inferShape(data as NestedArray);
    const flat: number[] = [];
    flatten(data as NestedArray, nestedShape, flat);
    values = flat;
    finalShape = shape ?? nestedShape;
  }
  if (finalShape.some((d) => !Number.isInteger(d) || d < 0)) throw new Error(`tensor(): invalid shape ${shapeStr(finalShape)}`);
  if (sizeOf(finalShape) !== values.length) {
    throw new Error(`tensor(): shape ${shapeStr(finalShape)} needs ${sizeOf(finalShape)} values, got ${values.length}`);
  }
  const array = kind === 'uint8' ? new Uint8Array(values.length) : allocArray(kind, values.length);
  array.set(values as ArrayLike<number>);
  return new Tensor(array, finalShape, kind);
}

/** Accepts a Tensor or anything `tensor()` accepts. */
export function toTensor(x: Tensor | TypedArray | NestedArray, dtype: DType = 'float32'): Tensor {
  if (x instanceof Tensor) return x;
  return tensor(x, undefined, dtype);
}

/** Keras 2's standardize_input_data: a 1-D array of N values is the column (N, 1). */
export function expandVector(t: Tensor): Tensor {
  return t.shape.length === 1 ? new Tensor(t.data, [t.shape[0], 1], t.dtype) : t;
}
