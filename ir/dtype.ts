/** Element types of the tensor IR. `bool` is stored as one byte (0 or 1). */
export type DType = 'float32' | 'float64' | 'int32' | 'bool';

export const DTYPES: readonly DType[] = ['float32', 'float64', 'int32', 'bool'];

export const DTYPE_BYTES: Record<DType, number> = { float32: 4, float64: 8, int32: 4, bool: 1 };

export type TypedArray = Float32Array | Float64Array | Int32Array | Uint8Array;

export type Shape = readonly number[];

export interface TensorType {
  readonly shape: Shape;
  readonly dtype: DType;
}

export function isFloat(dtype: DType): boolean {
  return dtype === 'float32' || dtype === 'float64';
}

export function sizeOf(shape: Shape): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function allocArray(dtype: DType, n: number): TypedArray {
  switch (dtype) {
    case 'float32': return new Float32Array(n);
    case 'float64': return new Float64Array(n);
    case 'int32': return new Int32Array(n);
    case 'bool': return new Uint8Array(n);
  }
}

/** A typed-array view of `n` elements of `dtype` at byte `offset` of `buffer`. */
export function viewArray(buffer: ArrayBufferLike, dtype: DType, offset: number, n: number): TypedArray {
  switch (dtype) {
    case 'float32': return new Float32Array(buffer, offset, n);
    case 'float64': return new Float64Array(buffer, offset, n);
    case 'int32': return new Int32Array(buffer, offset, n);
    case 'bool': return new Uint8Array(buffer, offset, n);
  }
}

/** Row-major strides (in elements) of a shape. */
export function stridesOf(shape: Shape): number[] {
  const strides = new Array<number>(shape.length);
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    strides[i] = s;
    s *= shape[i];
  }
  return strides;
}

export function shapeStr(shape: Shape): string {
  return `[${shape.join(', ')}]`;
}

export function sameShape(a: Shape, b: Shape): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** Each output axis's input axis for a reshape that only adds or drops unit axes (-1 for added ones); null for any other reshape. */
export function unitAxes(out: Shape, input: Shape): number[] | null {
  const real = input.flatMap((d, j) => (d === 1 ? [] : [j]));
  let next = 0;
  const axes = out.map((d) => (d === 1 ? -1 : next < real.length && input[real[next]] === d ? real[next++] : -2));
  return next === real.length && !axes.includes(-2) ? axes : null;
}
