/**
 * Loop kernels with reductions on the CPU backend, hand-built as kernel IR:
 * sum/max/min in float32, float64 and int32 (NaN propagates, int32 wraps),
 * reductions over several transposed inner dims and over a whole tensor, and
 * row kernels whose later reductions and stores read earlier accumulators
 * (softmax, layer norm), big enough to be split across threads.
 */
import type { DType, TypedArray } from '../../ir/dtype.js';
import type { Expr } from '../../ir/kernel.js';
import type { ReduceOp } from '../../ir/scalar.js';
import { CheckedProgram, describeChecks, acc, binary, constant, full, load, outer, rowMajor, typed, unary, uniform, view } from '../helpers/llvm_program.js';

const suite = new CheckedProgram('llvm_reduce');
const { pb, checks } = suite;
const input = suite.input.bind(suite);

const IDENTITY: Record<ReduceOp, [number, number]> = { sum: [0, 0], max: [-Infinity, -2147483648], min: [Infinity, 2147483647] };

function fold(op: ReduceOp, dtype: DType, values: Iterable<number>): number {
  let a = IDENTITY[op][dtype === 'int32' ? 1 : 0];
  for (const v of values) {
    if (op === 'sum') a = dtype === 'int32' ? (a + v) | 0 : dtype === 'float32' ? Math.fround(a + v) : a + v;
    else if (Number.isNaN(a) || Number.isNaN(v)) a = NaN;
    else a = op === 'max' ? Math.max(a, v) : Math.min(a, v);
  }
  return a;
}

/** out[outer] = reduce(expr over inner), one 'outer' store. */
function reduction(name: string, op: ReduceOp, dtype: DType, outerDims: readonly number[], innerDims: readonly number[], expr: Expr, want: readonly number[], tol: [number, number] = [0, 0]): void {
  const out = pb.buffer(dtype, outerDims.length ? outerDims : [1], 'output');
  const strides = [...rowMajor(outerDims).strides, ...innerDims.map(() => 0)];
  pb.kernel({ kind: 'loop', name, outer: [...outerDims], inner: [...innerDims], reductions: [{ id: 0, op, dtype, expr }], stores: [outer(out, view(0, strides), acc(0, dtype))] });
  checks.push({ name, buf: out, want, rtol: tol[0], atol: tol[1] });
}

// Row reductions in each dtype; a NaN in row 3 of the float inputs.
{
  const [R, C] = [5, 33];
  const sources: [DType, number[]][] = [
    ['float32', uniform(R * C, 11, -10, 10).map((v, i) => (i === 3 * C + 7 ? NaN : v))],
    ['float64', uniform(R * C, 12, -10, 10).map((v, i) => (i === 3 * C + 30 ? NaN : v))],
    ['int32', uniform(R * C, 13, -(2 ** 30), 2 ** 30).map((v, i) => (i < C ? 2 ** 30 : Math.round(v)))],
  ];
  for (const [dtype, values] of sources) {
    const x = input(dtype, values, [R, C]);
    const row = (i: number): TypedArray => x.data.subarray(i * C, (i + 1) * C);
    for (const op of ['sum', 'max', 'min'] as const) {
      const want = Array.from({ length: R }, (_, i) => fold(op, dtype, row(i)));
      reduction(`${op} ${dtype} rows`, op, dtype, [R], [C], load(x.buf, rowMajor([R, C]), dtype), want);
    }
  }
}

// Over two transposed inner dims: out[c] = sum over (i, j) of x[i, j, c]; and over a whole tensor.
{
  const [I, J, K] = [4, 5, 3];
  const x = input('float64', uniform(I * J * K, 14), [I, J, K]);
  const want = Array.from({ length: K }, (_, c) => {
    const vs: number[] = [];
    for (let i = 0; i < I; i++) for (let j = 0; j < J; j++) vs.push(x.data[(i * J + j) * K + c]);
    return fold('sum', 'float64', vs);
  });
  reduction('sum over transposed inner dims', 'sum', 'float64', [K], [I, J], load(x.buf, view(0, [1, J * K, K]), 'float64'), want, [1e-14, 0]);
  const all = input('float32', uniform(1000, 15), [1000]);
  reduction('max of a whole tensor', 'max', 'float32', [], [1000], load(all.buf, view(0, [1]), 'float32'), [fold('max', 'float32', all.data)]);
  reduction('sum of a whole tensor', 'sum', 'float32', [], [1000], load(all.buf, view(0, [1]), 'float32'), [fold('sum', 'float32', all.data)]);
}

/** Softmax over the rows of [R, C]: max, then sum of exp(x - max) (reads acc 0), then a full store and a logsumexp 'outer' store. */
function softmax(R: number, C: number, seed: number): void {
  const x = input('float32', uniform(R * C, seed, -5, 5), [R, C]);
  const probs = pb.buffer('float32', [R, C], 'output');
  const lse = pb.buffer('float32', [R], 'output');
  const xv = load(x.buf, rowMajor([R, C]), 'float32');
  const shifted = unary('exp', binary('sub', xv, acc(0, 'float32'), 'float32'), 'float32');
  pb.kernel({
    kind: 'loop', name: `softmax_${R}x${C}`, outer: [R], inner: [C],
    reductions: [{ id: 0, op: 'max', dtype: 'float32', expr: xv }, { id: 1, op: 'sum', dtype: 'float32', expr: shifted }],
    stores: [
      full(probs, rowMajor([R, C]), binary('div', shifted, acc(1, 'float32'), 'float32')),
      outer(lse, view(0, [1, 0]), binary('add', unary('log', acc(1, 'float32'), 'float32'), acc(0, 'float32'), 'float32')),
    ],
  });
  const rows = Array.from({ length: R }, (_, i) => Array.from(x.data.subarray(i * C, (i + 1) * C)));
  const want = rows.flatMap((r) => {
    const m = Math.max(...r);
    const s = r.reduce((a, v) => a + Math.exp(v - m), 0);
    return r.map((v) => Math.exp(v - m) / s);
  });
  checks.push({ name: `softmax ${R}x${C}: probabilities`, buf: probs, want, rtol: 1e-5, atol: 1e-7 });
  checks.push({ name: `softmax ${R}x${C}: logsumexp`, buf: lse, want: rows.map((r) => Math.log(r.reduce((a, v) => a + Math.exp(v), 0))), rtol: 1e-5, atol: 1e-6 });
}
softmax(7, 13, 16);
softmax(40, 1000, 17);

/** Layer norm over the rows of [R, C], three accumulators deep: sum, sum of squared deviations, then the normalized rows. */
function layerNorm(R: number, C: number, seed: number): void {
  const x = input('float64', uniform(R * C, seed, -3, 3), [R, C]);
  const out = pb.buffer('float64', [R, C], 'output');
  const xv = load(x.buf, rowMajor([R, C]), 'float64');
  const dev = binary('sub', xv, binary('div', acc(0, 'float64'), constant(C, 'float64'), 'float64'), 'float64');
  const std = unary('sqrt', binary('add', binary('div', acc(1, 'float64'), constant(C, 'float64'), 'float64'), constant(1e-5, 'float64'), 'float64'), 'float64');
  pb.kernel({
    kind: 'loop', name: `layer_norm_${R}x${C}`, outer: [R], inner: [C],
    reductions: [{ id: 0, op: 'sum', dtype: 'float64', expr: xv }, { id: 1, op: 'sum', dtype: 'float64', expr: binary('mul', dev, dev, 'float64') }],
    stores: [full(out, rowMajor([R, C]), binary('div', dev, std, 'float64'))],
  });
  const want = Array.from({ length: R }, (_, i) => Array.from(x.data.subarray(i * C, (i + 1) * C))).flatMap((r) => {
    const mean = r.reduce((a, v) => a + v, 0) / C;
    const variance = r.reduce((a, v) => a + (v - mean) ** 2, 0) / C;
    return r.map((v) => (v - mean) / Math.sqrt(variance + 1e-5));
  });
  checks.push({ name: `layer norm ${R}x${C}`, buf: out, want, rtol: 1e-12, atol: 1e-12 });
}
layerNorm(300, 200, 18);
layerNorm(3, 5, 19);

// Reductions over a leading outer grid: 40 x 50 rows of 64 (each thread takes whole rows).
{
  const [A, B, C] = [40, 50, 64];
  const x = input('float32', uniform(A * B * C, 20), [A, B, C]);
  const want = Array.from({ length: A * B }, (_, r) => fold('sum', 'float32', x.data.subarray(r * C, (r + 1) * C)));
  reduction('sum, 40 x 50 rows of 64, threaded', 'sum', 'float32', [A, B], [C], load(x.buf, rowMajor([A, B, C]), 'float32'), want);
}

// Column reductions (a bias gradient: sums over the rows of [N, C]), run blockwise down the columns (codegen/llvm/column_reduce.ts):
// in each dtype, with an outer grid, blocks past 256 columns and slices over threads; each column folds its rows in order.
{
  const column = (name: string, op: ReduceOp, dtype: DType, [A, N, C]: [number, number, number], seed: number): void => {
    const x = input(dtype, uniform(A * N * C, seed, -10, 10).map((v) => (dtype === 'int32' ? Math.round(v * 1000) : v)), [A, N, C]);
    const want = Array.from({ length: A * C }, (_, o) => {
      const [a, c] = [Math.floor(o / C), o % C];
      return fold(op, dtype, Array.from({ length: N }, (_, i) => x.data[(a * N + i) * C + c]));
    });
    const outerDims = A === 1 ? [C] : [A, C];
    const strides = A === 1 ? [1, C] : [N * C, 1, C];
    reduction(name, op, dtype, outerDims, [N], load(x.buf, view(0, strides), dtype), want);
  };
  column('column sum float32, [300, 37]', 'sum', 'float32', [1, 300, 37], 21);
  column('column max float64, 3 x [50, 600]', 'max', 'float64', [3, 50, 600], 22);
  column('column min int32, [1000, 20]', 'min', 'int32', [1, 1000, 20], 23);
  column('column sum int32, [1000, 20]', 'sum', 'int32', [1, 1000, 20], 24);
  column('column sum float64, 2 x [70, 45]: vectors and a tail', 'sum', 'float64', [2, 70, 45], 26);
  column('column sum float32, [2048, 512], threaded', 'sum', 'float32', [1, 2048, 512], 25);
}

describeChecks('reduction kernels on the CPU backend', suite);
