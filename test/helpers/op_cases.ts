/**
 * Op test cases: each builds a small graph over random inputs and states the
 * expected result with the naive model of ./nd.ts. Shapes are odd on purpose
 * and include broadcasting, size-1 dims and rank changes.
 */
import type { DType } from '../../ir/dtype.js';
import type { GraphBuilder, Value } from '../../ir/graph.js';
import type { BinaryOp, UnaryOp } from '../../ir/scalar.js';
import { philoxUniform } from '../../ir/philox.js';
import { type Nd, type Shape, at, atBroadcast, broadcastShape, indices, make, size } from './nd.js';

export type Gen = 'any' | 'pos' | 'int' | 'bool' | { index: number };

export interface InputSpec {
  readonly shape: Shape;
  readonly dtype: DType;
  readonly gen: Gen;
}

export interface OpCase {
  readonly name: string;
  readonly inputs: readonly InputSpec[];
  build(b: GraphBuilder, xs: readonly Value[]): Value;
  ref(xs: readonly Nd[]): Nd;
  /**
   * [rtol, atol] for float32 results when the default is too tight: long
   * float32 sums (matmul over k in the hundreds) differ from a float64
   * reference by about k * eps * |terms| through rounding order alone.
   */
  readonly tol?: readonly [number, number];
}

const f32 = (shape: Shape, gen: Gen = 'any'): InputSpec => ({ shape, dtype: 'float32', gen });

const UNARY_REF: Record<Exclude<UnaryOp, 'not'>, (a: number) => number> = {
  neg: (a) => -a, abs: Math.abs, sign: Math.sign, exp: Math.exp, expm1: Math.expm1, log: Math.log, log1p: Math.log1p,
  sqrt: Math.sqrt, tanh: Math.tanh, sigmoid: (a) => 1 / (1 + Math.exp(-a)), floor: Math.floor, ceil: Math.ceil,
  round: (a) => (Math.abs(a - Math.trunc(a)) === 0.5 ? 2 * Math.round(a / 2) : Math.round(a)),
};
const POSITIVE = new Set(['log', 'sqrt']);

const BINARY_REF: Record<Exclude<BinaryOp, 'and' | 'or'>, (a: number, b: number) => number> = {
  add: (a, b) => a + b, sub: (a, b) => a - b, mul: (a, b) => a * b, div: (a, b) => a / b, pow: (a, b) => a ** b,
  maximum: Math.max, minimum: Math.min, eq: (a, b) => +(a === b), ne: (a, b) => +(a !== b), lt: (a, b) => +(a < b),
  le: (a, b) => +(a <= b), gt: (a, b) => +(a > b), ge: (a, b) => +(a >= b),
};

function binaryRef(f: (a: number, b: number) => number): (xs: readonly Nd[]) => Nd {
  return ([x, y]) => make(broadcastShape(x.shape, y.shape), (i) => f(atBroadcast(x, i), atBroadcast(y, i)));
}

function reduceRef(axes: number[], keep: boolean, f: (a: number, b: number) => number, init: number, scale = false) {
  return ([x]: readonly Nd[]): Nd => {
    const outShape = x.shape.flatMap((d, i) => (axes.includes(i) ? (keep ? [1] : []) : [d]));
    const count = axes.reduce((n, a) => n * x.shape[a], 1);
    return make(outShape, (o) => {
      let acc = init;
      for (const idx of indices(x.shape)) {
        const kept = idx.flatMap((v, i) => (axes.includes(i) ? (keep ? [0] : []) : [v]));
        if (kept.every((v, i) => v === o[i])) acc = f(acc, at(x, idx));
      }
      return scale ? acc / count : acc;
    });
  };
}

function matmulRef(ta: boolean, tb: boolean) {
  return ([a, b]: readonly Nd[]): Nd => {
    const r = a.shape.length;
    const m = ta ? a.shape[r - 1] : a.shape[r - 2];
    const k = ta ? a.shape[r - 2] : a.shape[r - 1];
    const n = tb ? b.shape[b.shape.length - 2] : b.shape[b.shape.length - 1];
    return make([...a.shape.slice(0, -2), m, n], (idx) => {
      const batch = idx.slice(0, -2);
      const [i, j] = idx.slice(-2);
      const bBatch = b.shape.length > 2 ? batch : [];
      let s = 0;
      for (let p = 0; p < k; p++) s += at(a, [...batch, ...(ta ? [p, i] : [i, p])]) * at(b, [...bBatch, ...(tb ? [j, p] : [p, j])]);
      return s;
    });
  };
}

/** Softmax over the rows of a [rows, cols] input, built from max, exp, sum and div as the front end does. */
function softmaxCase(name: string, rows: number, cols: number, tol?: readonly [number, number]): OpCase {
  return {
    name, inputs: [f32([rows, cols])], ...(tol ? { tol } : {}),
    build: (b, [x]) => {
      const e = b.unary('exp', b.sub(x, b.max(x, -1, true)));
      return b.div(e, b.sum(e, -1, true));
    },
    ref: ([x]) => make(x.shape, ([i, j]) => {
      const row = Array.from({ length: cols }, (_, c) => at(x, [i, c]));
      const m = Math.max(...row);
      return Math.exp(at(x, [i, j]) - m) / row.reduce((s, v) => s + Math.exp(v - m), 0);
    }),
  };
}

export const OP_CASES: readonly OpCase[] = [
  ...Object.entries(UNARY_REF).map(([op, f]): OpCase => ({
    name: op,
    inputs: [f32([3, 7], POSITIVE.has(op) ? 'pos' : 'any')],
    build: (b, [x]) => b.unary(op as UnaryOp, x),
    ref: ([x]) => make(x.shape, (i) => f(at(x, i))),
  })),
  {
    name: 'not', inputs: [{ shape: [5, 3], dtype: 'bool', gen: 'bool' }],
    build: (b, [x]) => b.unary('not', x), ref: ([x]) => make(x.shape, (i) => +!at(x, i)),
  },
  ...Object.entries(BINARY_REF).map(([op, f]): OpCase => ({
    name: `${op} broadcast`,
    inputs: [f32([3, 1, 5], op === 'pow' ? 'pos' : 'any'), f32([4, 5], op === 'div' ? 'pos' : 'any')],
    build: (b, [x, y]) => b.binary(op as BinaryOp, x, y),
    ref: binaryRef(f),
  })),
  ...(['and', 'or'] as const).map((op): OpCase => ({
    name: op,
    inputs: [{ shape: [6, 1], dtype: 'bool', gen: 'bool' }, { shape: [6, 9], dtype: 'bool', gen: 'bool' }],
    build: (b, [x, y]) => b.binary(op, x, y),
    ref: binaryRef(op === 'and' ? (a, c) => +(a && c) : (a, c) => +(a || c)),
  })),
  ...(['add', 'mul', 'div', 'maximum'] as const).map((op): OpCase => ({
    name: `int32 ${op}`,
    inputs: [{ shape: [11], dtype: 'int32', gen: 'int' }, { shape: [11], dtype: 'int32', gen: 'int' }],
    build: (b, [x, y]) => b.binary(op, x, y),
    ref: binaryRef({ add: (a: number, c: number) => (a + c) | 0, mul: Math.imul, div: (a: number, c: number) => (c === 0 ? 0 : Math.trunc(a / c)), maximum: Math.max }[op]),
  })),
  {
    name: 'select', inputs: [f32([4, 6]), f32([6]), f32([4, 1])],
    build: (b, [x, y, z]) => b.select(b.binary('gt', x, 0), y, z),
    ref: ([x, y, z]) => make([4, 6], (i) => (at(x, i) > 0 ? atBroadcast(y, i) : atBroadcast(z, i))),
  },
  {
    name: 'cast float32->int32->float32', inputs: [f32([13])],
    build: (b, [x]) => b.cast(b.cast(b.mul(x, 5), 'int32'), 'float32'),
    ref: ([x]) => make(x.shape, (i) => Math.trunc(Math.fround(at(x, i) * 5))),
  },
  {
    name: 'cast float32->bool->float32', inputs: [f32([9], 'int')],
    build: (b, [x]) => b.cast(b.cast(x, 'bool'), 'float32'),
    ref: ([x]) => make(x.shape, (i) => +(at(x, i) !== 0)),
  },
  { name: 'reduce_sum axis 1', inputs: [f32([3, 5, 2])], build: (b, [x]) => b.sum(x, 1), ref: reduceRef([1], false, (a, c) => a + c, 0) },
  { name: 'reduce_sum all', inputs: [f32([7, 3])], build: (b, [x]) => b.sum(x), ref: reduceRef([0, 1], false, (a, c) => a + c, 0) },
  { name: 'reduce_max last keepDims', inputs: [f32([4, 9])], build: (b, [x]) => b.max(x, -1, true), ref: reduceRef([1], true, Math.max, -Infinity) },
  { name: 'reduce_min axes 0,2', inputs: [f32([3, 2, 5])], build: (b, [x]) => b.min(x, [0, 2]), ref: reduceRef([0, 2], false, Math.min, Infinity) },
  { name: 'mean axis 0', inputs: [f32([6, 5])], build: (b, [x]) => b.mean(x, 0), ref: reduceRef([0], false, (a, c) => a + c, 0, true) },
  softmaxCase('softmax rows', 5, 7),
  { name: 'reshape', inputs: [f32([4, 6])], build: (b, [x]) => b.reshape(b.unary('neg', x), [2, 3, 4]), ref: ([x]) => ({ shape: [2, 3, 4], data: Array.from(x.data, (v) => -v) }) },
  {
    name: 'transpose', inputs: [f32([2, 3, 5])], build: (b, [x]) => b.transpose(x, [2, 0, 1]),
    ref: ([x]) => make([5, 2, 3], ([i, j, k]) => at(x, [j, k, i])),
  },
  {
    name: 'transpose then add', inputs: [f32([3, 4]), f32([4, 3])], build: (b, [x, y]) => b.add(b.transpose(x, [1, 0]), y),
    ref: ([x, y]) => make([4, 3], ([i, j]) => at(x, [j, i]) + at(y, [i, j])),
  },
  { name: 'broadcast', inputs: [f32([3, 1])], build: (b, [x]) => b.broadcastTo(x, [2, 3, 4]), ref: ([x]) => make([2, 3, 4], (i) => atBroadcast(x, i)) },
  {
    name: 'slice with steps', inputs: [f32([7, 6])], build: (b, [x]) => b.slice(x, [1, 5], [3, 3], [2, -2]),
    ref: ([x]) => make([3, 3], ([i, j]) => at(x, [1 + 2 * i, 5 - 2 * j])),
  },
  {
    name: 'pad', inputs: [f32([3, 2, 4])], build: (b, [x]) => b.pad(x, [1, 0, 2], [0, 2, 1], -1.5),
    ref: ([x]) => make([4, 4, 7], ([i, j, k]) => (i >= 1 && j < 2 && k >= 2 && k < 6 ? at(x, [i - 1, j, k - 2]) : -1.5)),
  },
  {
    name: 'pad of a pad (same value) under exp', inputs: [f32([2, 3])], build: (b, [x]) => b.unary('exp', b.pad(b.pad(x, [1, 0], [0, 0]), [0, 2], [1, 1])),
    ref: ([x]) => make([4, 6], ([i, j]) => Math.exp(i >= 1 && i < 3 && j >= 2 && j < 5 ? at(x, [i - 1, j - 2]) : 0)),
  },
  {
    name: 'pad of a computed value', inputs: [f32([3, 3])], build: (b, [x]) => b.pad(b.unary('tanh', x), [2, 1], [1, 0], 1),
    ref: ([x]) => make([6, 4], ([i, j]) => (i >= 2 && i < 5 && j >= 1 ? Math.tanh(at(x, [i - 2, j - 1])) : 1)),
  },
  {
    name: 'window strided and dilated', inputs: [f32([2, 9, 7])], build: (b, [x]) => b.window(x, [1, 3, 2], [1, 2, 3], [1, 2, 1]),
    ref: ([x]) => make([2, 3, 2, 1, 3, 2], ([n, p, q, , k, l]) => at(x, [n, 2 * p + 2 * k, 3 * q + l])),
  },
  {
    name: 'conv: pad + window + mul + reduce_sum', inputs: [f32([2, 5, 4, 3]), f32([3, 2, 3, 4])],
    build: (b, [x, w]) => {
      // NHWC input, kernel [kh, kw, c, f], stride 2 by 1, padding 1 each side of h, 0/1 on w.
      const win = b.window(b.pad(x, [0, 1, 0, 0], [0, 1, 1, 0]), [1, 3, 2, 3], [1, 2, 1, 1]);
      const patches = b.reshape(b.transpose(win, [0, 1, 2, 5, 6, 7, 3, 4]), [2, 3, 4, 3, 2, 3, 1]);
      return b.sum(b.mul(patches, b.reshape(w, [1, 1, 1, 3, 2, 3, 4])), [3, 4, 5]);
    },
    ref: ([x, w]) => make([2, 3, 4, 4], ([n, i, j, f]) => {
      let s = 0;
      for (let p = 0; p < 3; p++) for (let q = 0; q < 2; q++) for (let c = 0; c < 3; c++) {
        const h = 2 * i + p - 1;
        const v = j + q;
        if (h >= 0 && h < 5 && v < 4) s += at(x, [n, h, v, c]) * at(w, [p, q, c, f]);
      }
      return s;
    }),
  },
  {
    name: 'concat axis 1', inputs: [f32([2, 3]), f32([2, 1]), f32([2, 4])], build: (b, xs) => b.concat(xs, 1),
    ref: (xs) => make([2, 8], ([i, j]) => (j < 3 ? at(xs[0], [i, j]) : j < 4 ? at(xs[1], [i, j - 3]) : at(xs[2], [i, j - 4]))),
  },
  {
    name: 'gather axis 0', inputs: [f32([5, 3]), { shape: [2, 4], dtype: 'int32', gen: { index: 5 } }], build: (b, [p, i]) => b.gather(p, i, 0),
    ref: ([p, i]) => make([2, 4, 3], ([a, c, d]) => at(p, [at(i, [a, c]), d])),
  },
  {
    name: 'gather axis 1', inputs: [f32([2, 6]), { shape: [3], dtype: 'int32', gen: { index: 6 } }], build: (b, [p, i]) => b.gather(p, i, 1),
    ref: ([p, i]) => make([2, 3], ([a, c]) => at(p, [a, at(i, [c])])),
  },
  { name: 'matmul', inputs: [f32([5, 7]), f32([7, 3])], build: (b, [x, y]) => b.matmul(x, y), ref: matmulRef(false, false) },
  { name: 'matmul transposed', inputs: [f32([7, 5]), f32([3, 7])], build: (b, [x, y]) => b.matmul(x, y, true, true), ref: matmulRef(true, true) },
  { name: 'matmul batched', inputs: [f32([2, 4, 6]), f32([2, 6, 3])], build: (b, [x, y]) => b.matmul(x, y), ref: matmulRef(false, false) },
  { name: 'matmul batched x 2-d', inputs: [f32([3, 2, 5]), f32([5, 4])], build: (b, [x, y]) => b.matmul(x, y), ref: matmulRef(false, false) },
  {
    name: 'matmul + bias + relu', inputs: [f32([9, 33]), f32([33, 17]), f32([17])],
    build: (b, [x, w, c]) => b.maximum(b.add(b.matmul(x, w), c), 0),
    ref: ([x, w, c]) => { const p = matmulRef(false, false)([x, w]); return make(p.shape, (i) => Math.max(at(p, i) + at(c, [i[1]]), 0)); },
  },
  {
    name: 'matmul across cache blocks (odd m, n, k) + bias', inputs: [f32([151, 263]), f32([263, 137]), f32([137])],
    build: (b, [x, w, c]) => b.add(b.matmul(x, w), c),
    tol: [1e-4, 5e-4],
    ref: ([x, w, c]) => { const p = matmulRef(false, false)([x, w]); return make(p.shape, (i) => at(p, i) + at(c, [i[1]])); },
  },
  // k = 36..40 terms of up to 9: k * eps * |terms| is about 1e-4 (the k = 263 cases above allow 5e-4).
  { name: 'matmul, tiles staged as vec4', inputs: [f32([24, 36]), f32([36, 20])], build: (b, [x, y]) => b.matmul(x, y), ref: matmulRef(false, false), tol: [1e-4, 1e-4] },
  { name: 'matmul, A transposed, tiles staged as vec4', inputs: [f32([36, 24]), f32([36, 20])], build: (b, [x, y]) => b.matmul(x, y, true, false), ref: matmulRef(true, false), tol: [1e-4, 1e-4] },
  { name: 'matmul batched, both transposed, in several tiles', inputs: [f32([2, 40, 70]), f32([2, 37, 40])], build: (b, [x, y]) => b.matmul(x, y, true, true), ref: matmulRef(true, true), tol: [1e-4, 1e-4] },
  { name: 'matmul batched transposed across blocks', inputs: [f32([2, 270, 7]), f32([2, 131, 270])], build: (b, [x, y]) => b.matmul(x, y, true, true), ref: matmulRef(true, true), tol: [1e-4, 5e-4] },
  {
    name: 'iota', inputs: [f32([3, 4])], build: (b, [x]) => b.add(x, b.iota([3, 4], 1, 'float32')),
    ref: ([x]) => make([3, 4], (i) => at(x, i) + i[1]),
  },
  {
    name: 'random', inputs: [{ shape: [], dtype: 'int32', gen: 'int' }],
    build: (b, [c]) => b.random(42, [3, 5], c),
    ref: ([c]) => make([3, 5], ([i, j]) => philoxUniform(42, at(c, []), i * 5 + j)),
  },
  {
    name: 'constant', inputs: [f32([2, 2])], build: (b, [x]) => b.mul(x, b.constant(2.5, [2, 2])),
    ref: ([x]) => make([2, 2], (i) => at(x, i) * 2.5),
  },
  // Long reductions over few points (one workgroup per point on WebGPU, summed as a tree). Rounding differs from a
  // sequential float32 sum by about sqrt(n) * eps relative for positive terms: 20,000 terms, 1e-5; allowed 1e-4.
  { name: 'reduce_sum of 20,000 positive terms', inputs: [f32([20_000], 'pos')], build: (b, [x]) => b.sum(x), ref: reduceRef([0], false, (a, c) => a + c, 0), tol: [1e-4, 0] },
  { name: 'reduce_max over rows of 3,000', inputs: [f32([4, 3_000])], build: (b, [x]) => b.max(x, 1), ref: reduceRef([1], false, Math.max, -Infinity) },
  softmaxCase('softmax over rows of 1,500', 3, 1_500, [1e-4, 1e-9]),
];

export function generate(spec: InputSpec, next: () => number): number[] {
  return Array.from({ length: size(spec.shape) }, () => {
    const u = next();
    if (spec.gen === 'pos') return 0.1 + 3 * u;
    if (spec.gen === 'int') return Math.floor(u * 9) - 4;
    if (spec.gen === 'bool') return u < 0.5 ? 1 : 0;
    if (typeof spec.gen === 'object') return Math.floor(u * spec.gen.index);
    return 6 * u - 3;
  });
}
