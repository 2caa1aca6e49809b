/**
 * Elementwise loop kernels on the CPU backend, hand-built as kernel IR: every
 * unary and binary scalar op in every dtype it is defined for, casts, select,
 * views (broadcast, transposed, reversed), gather, iota and Philox random
 * numbers. Expected values are computed here in JS (ir/scalar_eval.ts defines
 * the scalar ops). All kernels go into one program, so it compiles once.
 */
import { type DType, isFloat } from '../../ir/dtype.js';
import type { Expr } from '../../ir/kernel.js';
import { philoxUniform } from '../../ir/philox.js';
import { BINARY_OPS, type BinaryOp, COMPARE_OPS, LOGIC_OPS, UNARY_OPS, type UnaryOp } from '../../ir/scalar.js';
import { scalarOp } from '../../ir/scalar_eval.js';
import { CheckedProgram, describeChecks, binary, cast, constant, full, load, rowMajor, select, typed, uniform, unary, view } from '../helpers/llvm_program.js';

const N = 37;
const F_X = [-3.5, -2.5, -1.5, -1, -0.5, -0, 0, 0.5, 1.5, 2.5, 3.5, 1e-3, -1e-3, 20, -20, NaN, Infinity, -Infinity, ...uniform(N - 18, 1, -4, 4)];
const F_Y = [2, 0.5, -2, 0, 3, 1, -1, 0.5, 2, -3, 0.25, 1e-3, NaN, 1, 2, 1, 2, Infinity, ...uniform(N - 18, 2, -4, 4)];
const I_X = [-2147483648, 2147483647, -7, -3, -1, 0, 1, 2, 3, 7, 100, 65536, 123456789, -5, 9, 4];
const I_Y = [-1, 2, 2, -2, 0, 0, 5, -1, 2, 3, -7, 65536, 17, 5, -9, 4];
/** Operands of the int32 ops that go through double (exp, log, pow, ...): results stay in range. */
const I_MATH_X = [-5, -2, 1, 2, 3, 5, 10, 15, 20, 0, 7, 4];
const I_MATH_Y = [2, 3, 0, 1, 5, 2, 3, 1, 0, 3, -1, 2];
const B_X = [0, 0, 1, 1];
const B_Y = [0, 1, 0, 1];

const TRANSCENDENTAL: ReadonlySet<UnaryOp | BinaryOp> = new Set(['exp', 'expm1', 'log', 'log1p', 'tanh', 'sigmoid', 'pow']);

const suite = new CheckedProgram('llvm_elementwise');
const { pb, checks } = suite;
const input = suite.input.bind(suite);

function tolerance(dtype: DType, op?: UnaryOp | BinaryOp): [number, number] {
  if (!isFloat(dtype)) return [0, 0];
  if (dtype === 'float64') return [1e-13, 1e-300];
  return op && TRANSCENDENTAL.has(op) ? [1e-5, 1e-7] : [1e-7, 0];
}

/** An elementwise kernel over [n] storing `expr` into a fresh buffer, checked against `want`. */
function check(name: string, dtype: DType, shape: readonly number[], expr: Expr, want: readonly number[], tol = tolerance(dtype)): void {
  const buf = pb.buffer(dtype, shape, 'output');
  pb.elementwise(shape, buf, expr);
  checks.push({ name, buf, want, rtol: tol[0], atol: tol[1] });
}

const flat = view(0, [1]);

// Unary ops.
const unaryCases: [DType, readonly number[], readonly UnaryOp[]][] = [
  ['float32', F_X, UNARY_OPS.filter((op) => op !== 'not')],
  ['float64', F_X, UNARY_OPS.filter((op) => op !== 'not')],
  ['int32', I_X, ['neg', 'abs', 'sign', 'floor', 'ceil', 'round']],
  ['int32', I_MATH_X, ['exp', 'expm1', 'log', 'log1p', 'sqrt', 'tanh', 'sigmoid']],
  ['bool', B_X, ['not']],
];
for (const [dtype, values, ops] of unaryCases) {
  const x = input(dtype, values);
  for (const op of ops) {
    const want = Array.from(x.data, (a) => scalarOp(op, dtype, a));
    check(`${op} ${dtype}`, dtype, [values.length], unary(op, load(x.buf, flat, dtype), dtype), want, tolerance(dtype, op));
  }
}

// float32 tanh is a rational approximation (no libm call): checked densely, across the 4e-4 switch and the clamp at 7.9.
{
  const xs = [...Array.from({ length: 2001 }, (_, i) => (i - 1000) / 100), 3.9e-4, 4e-4, 4.1e-4, -4.1e-4, 1e-6, 7.9, 7.91, 1e3];
  const x = input('float32', xs);
  check('tanh float32, 2009 points', 'float32', [xs.length], unary('tanh', load(x.buf, flat, 'float32'), 'float32'), Array.from(x.data, (a) => Math.tanh(a)), [1e-6, 0]);
}

// Binary ops.
const ARITH: readonly BinaryOp[] = BINARY_OPS.filter((op) => !LOGIC_OPS.has(op));
const binaryCases: [DType, readonly number[], readonly number[], readonly BinaryOp[]][] = [
  ['float32', F_X, F_Y, ARITH],
  ['float64', F_X, F_Y, ARITH],
  ['int32', I_X, I_Y, ARITH.filter((op) => op !== 'pow')],
  ['int32', I_MATH_X, I_MATH_Y, ['pow']],
  ['bool', B_X, B_Y, ['and', 'or', 'eq', 'ne', 'lt', 'le', 'gt', 'ge', 'maximum', 'minimum']],
];
for (const [dtype, xs, ys, ops] of binaryCases) {
  const x = input(dtype, xs);
  const y = input(dtype, ys);
  for (const op of ops) {
    const out: DType = COMPARE_OPS.has(op) ? 'bool' : dtype;
    const want = Array.from(x.data, (a, i) => {
      const r = scalarOp(op, dtype, a, y.data[i]);
      return out === 'bool' ? +(r !== 0) : r;
    });
    const expr = binary(op, load(x.buf, flat, dtype), load(y.buf, flat, dtype), out);
    check(`${op} ${dtype}`, out, [xs.length], expr, want, tolerance(out, op));
  }
}

// Casts between every pair of dtypes (float -> int truncates toward zero; anything -> bool is != 0).
const CAST_SOURCES: [DType, readonly number[]][] = [['float32', F_X], ['float64', F_X], ['int32', I_X], ['bool', B_X]];
for (const [from, values] of CAST_SOURCES) {
  const x = input(from, values);
  for (const to of ['float32', 'float64', 'int32', 'bool'] as const) {
    if (to === from) continue;
    const want = Array.from(x.data, (v) => (to === 'bool' ? +(v !== 0) : to === 'int32' ? Math.trunc(v) | 0 : to === 'float32' ? Math.fround(v) : v));
    check(`cast ${from} -> ${to}`, to, [values.length], cast(load(x.buf, flat, from), to), want);
  }
}

// Select, and several stores in one kernel sharing their loads.
{
  const x = input('float32', F_X);
  const y = input('float32', F_Y);
  const lx = load(x.buf, flat, 'float32');
  const ly = load(y.buf, flat, 'float32');
  check('select(x > y, x, y)', 'float32', [N], select(binary('gt', lx, ly, 'bool'), lx, ly, 'float32'), Array.from(x.data, (a, i) => (a > y.data[i] ? a : y.data[i])));
  const sum = pb.buffer('float32', [N], 'output');
  const prod = pb.buffer('int32', [N], 'output');
  pb.kernel({ kind: 'loop', name: 'two_stores', outer: [N], inner: [], reductions: [], stores: [full(sum, flat, binary('add', lx, ly, 'float32')), full(prod, view(N - 1, [-1]), cast(binary('mul', lx, ly, 'float32'), 'int32'))] });
  checks.push({ name: 'two stores: x + y', buf: sum, want: Array.from(x.data, (a, i) => Math.fround(a + y.data[i])), rtol: 0, atol: 0 });
  checks.push({ name: 'two stores: reversed int(x * y)', buf: prod, want: Array.from(x.data, (_, i) => Math.trunc(Math.fround(x.data[N - 1 - i] * y.data[N - 1 - i])) | 0), rtol: 0, atol: 0 });
}

// Views: broadcasting (0 strides), transposed and reversed reads, transposed stores.
{
  const [R, C] = [5, 7];
  const m = input('float32', uniform(R * C, 3), [R, C]);
  const row = input('float32', uniform(C, 4));
  const col = input('float32', uniform(R, 5));
  const at = (i: number, j: number): number => m.data[i * C + j];
  const grid = (rows: number, cols: number, f: (i: number, j: number) => number): number[] => Array.from({ length: rows * cols }, (_, t) => f(Math.floor(t / cols), t % cols));
  check('broadcast row + col', 'float32', [R, C], binary('add', load(row.buf, view(0, [0, 1]), 'float32'), load(col.buf, view(0, [1, 0]), 'float32'), 'float32'), grid(R, C, (i, j) => Math.fround(row.data[j] + col.data[i])), [0, 0]);
  const scale = input('float32', [0.5, 3]);
  check('times a scalar from a buffer (a row-invariant load)', 'float32', [R, C], binary('mul', load(m.buf, rowMajor([R, C]), 'float32'), load(scale.buf, view(1, [0, 0]), 'float32'), 'float32'), grid(R, C, (i, j) => Math.fround(at(i, j) * 3)), [0, 0]);
  check('transposed read', 'float32', [C, R], load(m.buf, view(0, [1, C]), 'float32'), grid(C, R, (i, j) => at(j, i)), [0, 0]);
  check('reversed rows and columns', 'float32', [R, C], load(m.buf, view(R * C - 1, [-C, -1]), 'float32'), grid(R, C, (i, j) => at(R - 1 - i, C - 1 - j)), [0, 0]);
  const t = pb.buffer('float32', [C, R], 'output');
  pb.kernel({ kind: 'loop', name: 'transposed_store', outer: [R, C], inner: [], reductions: [], stores: [full(t, view(0, [1, R]), binary('mul', load(m.buf, rowMajor([R, C]), 'float32'), constant(2, 'float32'), 'float32'))] });
  checks.push({ name: 'transposed store', buf: t, want: grid(C, R, (i, j) => 2 * at(j, i)), rtol: 0, atol: 0 });
}

// Gather: an int32 index per row, clamped to the table.
{
  const table = input('float32', uniform(40, 6), [10, 4]);
  const idx = input('int32', [0, 9, 3, -3, 12, 5]);
  const dyn = { expr: load(idx.buf, view(0, [1, 0]), 'int32'), stride: 4, limit: 10 };
  const want = Array.from({ length: 24 }, (_, t) => table.data[Math.min(Math.max(idx.data[Math.floor(t / 4)], 0), 9) * 4 + (t % 4)]);
  check('gather rows (clamped)', 'float32', [6, 4], load(table.buf, view(0, [0, 1]), 'float32', dyn), want, [0, 0]);
}

// Iota and Philox random numbers.
{
  check('index 3 + 7i + j', 'int32', [5, 7], { k: 'index', view: view(3, [7, 1]) }, Array.from({ length: 35 }, (_, t) => 3 + t));
  const step = input('int32', [3]);
  const seeds = [1234, 0xdeadbeef];
  check('random, constant counter', 'float32', [40, 25], { k: 'random', seed: seeds[0], counter: constant(7, 'int32'), view: rowMajor([40, 25]) }, Array.from({ length: 1000 }, (_, t) => philoxUniform(seeds[0], 7, t)), [0, 0]);
  const counter = load(step.buf, view(0, [0, 0]), 'int32');
  check('random, counter from a buffer, strided view', 'float32', [8, 9], { k: 'random', seed: seeds[1], counter, view: view(5, [50, 2]) }, Array.from({ length: 72 }, (_, t) => philoxUniform(seeds[1], 3, 5 + 50 * Math.floor(t / 9) + 2 * (t % 9))), [0, 0]);
}

// Big enough to be split across threads: a 1-d tensor and a 3-row tensor are cut into slices of their last dim.
{
  const long = input('float32', uniform(100_003, 7));
  check('1-d, 100003 elements, threaded', 'float32', [100_003], binary('add', binary('mul', load(long.buf, flat, 'float32'), constant(2, 'float32'), 'float32'), constant(1, 'float32'), 'float32'), Array.from(long.data, (a) => Math.fround(Math.fround(a * 2) + 1)), [0, 0]);
  const wide = input('float64', uniform(3 * 40_001, 8), [3, 40_001]);
  check('3 x 40001, threaded', 'float64', [3, 40_001], unary('neg', load(wide.buf, rowMajor([3, 40_001]), 'float64'), 'float64'), Array.from(wide.data, (a) => -a), [0, 0]);
}

describeChecks('elementwise kernels on the CPU backend', suite);
