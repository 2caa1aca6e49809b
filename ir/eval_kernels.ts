/** Typed-array implementations behind the reference interpreter (ir/ops.ts). */
import { type DType, type Shape, type TensorType, type TypedArray, allocArray, sizeOf, stridesOf } from './dtype.js';
import { philoxUniform } from './philox.js';

type Fn = (a: number, b: number) => number;

function alloc(out: TensorType): TypedArray {
  return allocArray(out.dtype, sizeOf(out.shape));
}

export function map1(x: TypedArray, out: TensorType, f: Fn): TypedArray {
  const r = alloc(out);
  for (let i = 0; i < r.length; i++) r[i] = f(x[i], 0);
  return r;
}

export function map2(a: TypedArray, b: TypedArray, out: TensorType, f: Fn): TypedArray {
  const r = alloc(out);
  for (let i = 0; i < r.length; i++) r[i] = f(a[i], b[i]);
  return r;
}

export function select(c: TypedArray, a: TypedArray, b: TypedArray, out: TensorType): TypedArray {
  const r = alloc(out);
  for (let i = 0; i < r.length; i++) r[i] = c[i] ? a[i] : b[i];
  return r;
}

export function cast(x: TypedArray, from: DType, out: TensorType): TypedArray {
  const r = alloc(out);
  for (let i = 0; i < r.length; i++) {
    const v = x[i];
    r[i] = out.dtype === 'bool' ? +(v !== 0) : out.dtype === 'int32' && from !== 'int32' ? Math.trunc(v) : v;
  }
  return r;
}

/** Calls `visit(flatIndex, multiIndex)` for every point of `shape`, row-major. */
export function forEachIndex(shape: Shape, visit: (flat: number, idx: number[]) => void): void {
  const n = sizeOf(shape);
  const idx = new Array<number>(shape.length).fill(0);
  for (let flat = 0; flat < n; flat++) {
    visit(flat, idx);
    for (let d = shape.length - 1; d >= 0; d--) {
      if (++idx[d] < shape[d]) break;
      idx[d] = 0;
    }
  }
}

export function iota(out: TensorType, axis: number): TypedArray {
  const r = alloc(out);
  forEachIndex(out.shape, (f, idx) => (r[f] = idx[axis]));
  return r;
}

export function random(out: TensorType, seed: number, step: number): TypedArray {
  const r = alloc(out);
  for (let i = 0; i < r.length; i++) r[i] = philoxUniform(seed, step, i);
  return r;
}

/** Reads `x` (of `shape`) through per-output-axis strides. */
function gatherStrided(x: TypedArray, out: TensorType, offset: number, strides: readonly number[]): TypedArray {
  const r = alloc(out);
  forEachIndex(out.shape, (f, idx) => {
    let s = offset;
    for (let d = 0; d < idx.length; d++) s += idx[d] * strides[d];
    r[f] = x[s];
  });
  return r;
}

export function transpose(x: TypedArray, shape: Shape, perm: readonly number[], out: TensorType): TypedArray {
  const st = stridesOf(shape);
  return gatherStrided(x, out, 0, perm.map((p) => st[p]));
}

export function broadcast(x: TypedArray, shape: Shape, out: TensorType): TypedArray {
  const st = stridesOf(shape);
  const off = out.shape.length - shape.length;
  const strides = out.shape.map((_, i) => (i < off || shape[i - off] === 1 ? 0 : st[i - off]));
  return gatherStrided(x, out, 0, strides);
}

export function slice(x: TypedArray, shape: Shape, begin: readonly number[], step: readonly number[], out: TensorType): TypedArray {
  const st = stridesOf(shape);
  const offset = begin.reduce((s, b, i) => s + b * st[i], 0);
  return gatherStrided(x, out, offset, st.map((s, i) => s * step[i]));
}

export function pad(x: TypedArray, shape: Shape, low: readonly number[], value: number, out: TensorType): TypedArray {
  const r = alloc(out).fill(value);
  const st = stridesOf(out.shape);
  forEachIndex(shape, (f, idx) => {
    let o = 0;
    for (let d = 0; d < idx.length; d++) o += (idx[d] + low[d]) * st[d];
    r[o] = x[f];
  });
  return r;
}

/** out[o..., k...] = x[o * strides + k * dilations] (out has rank 2 * rank(x)). */
export function window(x: TypedArray, shape: Shape, strides: readonly number[], dilations: readonly number[], out: TensorType): TypedArray {
  const st = stridesOf(shape);
  return gatherStrided(x, out, 0, [...st.map((s, a) => s * strides[a]), ...st.map((s, a) => s * dilations[a])]);
}

export function concat(xs: readonly TypedArray[], shapes: readonly Shape[], axis: number, out: TensorType): TypedArray {
  const r = alloc(out);
  const outer = sizeOf(out.shape.slice(0, axis));
  const rowOut = sizeOf(out.shape.slice(axis));
  let col = 0;
  xs.forEach((x, j) => {
    const row = sizeOf(shapes[j].slice(axis));
    for (let o = 0; o < outer; o++) r.set(x.subarray(o * row, (o + 1) * row), o * rowOut + col);
    col += row;
  });
  return r;
}

export function gather(p: TypedArray, shape: Shape, indices: TypedArray, count: number, axis: number, out: TensorType): TypedArray {
  const r = alloc(out);
  const outer = sizeOf(shape.slice(0, axis));
  const inner = sizeOf(shape.slice(axis + 1));
  const v = shape[axis];
  for (let o = 0; o < outer; o++) {
    for (let j = 0; j < count; j++) {
      const i = Math.min(Math.max(indices[j], 0), v - 1);
      r.set(p.subarray((o * v + i) * inner, (o * v + i + 1) * inner), (o * count + j) * inner);
    }
  }
  return r;
}

export function reduce(x: TypedArray, shape: Shape, axes: readonly number[], kind: 'sum' | 'max' | 'min', out: TensorType): TypedArray {
  const r = alloc(out).fill(kind === 'sum' ? 0 : kind === 'max' ? -Infinity : Infinity);
  const keep = shape.map((_, i) => !axes.includes(i));
  const outStrides = stridesOf(shape.filter((_, i) => keep[i]));
  const acc = new Float64Array(r.length).fill(r[0] ?? 0);
  forEachIndex(shape, (f, idx) => {
    let o = 0;
    for (let d = 0, k = 0; d < idx.length; d++) if (keep[d]) o += idx[d] * outStrides[k++];
    const v = x[f];
    acc[o] = kind === 'sum' ? acc[o] + v : kind === 'max' ? (v > acc[o] || Number.isNaN(v) ? v : acc[o]) : v < acc[o] || Number.isNaN(v) ? v : acc[o];
  });
  r.set(acc);
  return r;
}

export function matmul(a: TypedArray, sa: Shape, b: TypedArray, sb: Shape, ta: boolean, tb: boolean, out: TensorType): TypedArray {
  const r = alloc(out);
  const [m, n] = out.shape.slice(-2);
  const k = ta ? sa[sa.length - 2] : sa[sa.length - 1];
  const batch = sizeOf(out.shape.slice(0, -2));
  const bShared = sb.length === 2;
  for (let p = 0; p < batch; p++) {
    const ao = p * m * k;
    const bo = bShared ? 0 : p * k * n;
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let q = 0; q < k; q++) s += a[ao + (ta ? q * m + i : i * k + q)] * b[bo + (tb ? j * k + q : q * n + j)];
        r[p * m * n + i * n + j] = s;
      }
    }
  }
  return r;
}
