/**
 * Matmul kernels on the CPU backend, hand-built as kernel IR: odd m, n, k
 * (1, 7, 33, 130 and sizes that cross the cache blocks), the streaming form
 * (few rows) and the packed form with 6- and 4-row tiles (m = 20 and 28 take
 * the 4-row one), transposed operands given as strides, batches with a
 * broadcast operand, a bias + relu epilogue, float64. The reference is a
 * plain triple loop in float64.
 */
import type { DType, TypedArray } from '../../ir/dtype.js';
import type { Expr } from '../../ir/kernel.js';
import { CheckedProgram, describeChecks, acc, binary, constant, load, rowMajor, typed, uniform, view } from '../helpers/llvm_program.js';

interface Case {
  readonly dtype: 'float32' | 'float64';
  readonly batch?: readonly number[];
  readonly m: number;
  readonly n: number;
  readonly k: number;
  /** A stored as [batch, k, m]. */
  readonly transA?: boolean;
  /** B stored as [batch, n, k]. */
  readonly transB?: boolean;
  /** One B for every batch entry (batch strides 0). */
  readonly sharedB?: boolean;
  readonly biasRelu?: boolean;
}

const CASES: Case[] = [
  { dtype: 'float32', m: 1, n: 1, k: 1 },
  { dtype: 'float32', m: 1, n: 130, k: 33, biasRelu: true },
  { dtype: 'float32', m: 7, n: 33, k: 130 },
  { dtype: 'float32', m: 33, n: 7, k: 1 },
  { dtype: 'float32', m: 130, n: 130, k: 7 },
  { dtype: 'float32', m: 130, n: 33, k: 130, biasRelu: true },
  { dtype: 'float32', m: 150, n: 140, k: 400 },
  { dtype: 'float32', m: 33, n: 17, k: 130, transA: true },
  { dtype: 'float32', m: 5, n: 33, k: 17, transB: true },
  { dtype: 'float32', m: 130, n: 7, k: 33, transA: true, transB: true, biasRelu: true },
  { dtype: 'float32', batch: [3], m: 7, n: 9, k: 33, sharedB: true, biasRelu: true },
  { dtype: 'float32', batch: [2, 3], m: 33, n: 20, k: 17, transB: true },
  { dtype: 'float32', batch: [2], m: 20, n: 40, k: 9, sharedB: true, biasRelu: true },
  { dtype: 'float32', batch: [3], m: 9, n: 300, k: 33 },
  { dtype: 'float64', m: 33, n: 130, k: 7, biasRelu: true },
  { dtype: 'float64', m: 7, n: 9, k: 130 },
  { dtype: 'float64', batch: [2], m: 150, n: 70, k: 400, transA: true },
  { dtype: 'float64', batch: [2], m: 28, n: 21, k: 50 },
  // Transposed packing copies (codegen/llvm/pack_kernels.ts): several full panels each way, two k slices of A.
  { dtype: 'float32', m: 150, n: 100, k: 300, transA: true, transB: true },
  { dtype: 'float64', m: 20, n: 70, k: 300, transB: true },
];

function describeCase(c: Case): string {
  const flags = [c.transA && 'A transposed', c.transB && 'B transposed', c.sharedB && 'shared B', c.biasRelu && 'bias + relu'].filter(Boolean);
  return `${c.dtype} ${c.batch?.length ? `[${c.batch.join(', ')}] x ` : ''}${c.m}x${c.k} @ ${c.k}x${c.n}${flags.length ? `, ${flags.join(', ')}` : ''}`;
}

const suite = new CheckedProgram('llvm_matmul');
const { pb, checks } = suite;

function input(dtype: DType, shape: readonly number[], seed: number): { buf: number; data: TypedArray } {
  return suite.input(dtype, uniform(shape.reduce((p, q) => p * q, 1), seed), shape);
}

CASES.forEach((c, ci) => {
  const batch = c.batch ?? [];
  const nb = batch.reduce((p, q) => p * q, 1);
  const { m, n, k, dtype } = c;
  const a = input(dtype, [...batch, ...(c.transA ? [k, m] : [m, k])], 100 + ci);
  const bBatch = c.sharedB ? [] : batch;
  const b = input(dtype, [...bBatch, ...(c.transB ? [n, k] : [k, n])], 200 + ci);
  const bias = input(dtype, [n], 300 + ci);
  const out = pb.buffer(dtype, [...batch, m, n], 'output');
  const batchStrides = (inner: number): number[] => rowMajor(batch).strides.map((s) => s * inner);
  const aView = view(0, [...batchStrides(m * k), ...(c.transA ? [1, m] : [k, 1])]);
  const bView = view(0, [...(c.sharedB ? batch.map(() => 0) : batchStrides(k * n)), ...(c.transB ? [1, k] : [n, 1])]);
  const product = acc(0, dtype);
  const epilogue: Expr = c.biasRelu ? binary('maximum', binary('add', product, load(bias.buf, view(0, [...batch.map(() => 0), 0, 1]), dtype), dtype), constant(0, dtype), dtype) : product;
  pb.kernel({ kind: 'matmul', name: `mm${ci}`, batch: [...batch], m, n, k, dtype, a: { buf: a.buf, view: aView }, b: { buf: b.buf, view: bView }, epilogue, out: { buf: out, view: rowMajor([...batch, m, n]) } });

  const at = (v: { strides: readonly number[] }, data: TypedArray, idx: number[]): number => data[idx.reduce((s, x, d) => s + x * v.strides[d], 0)];
  const want: number[] = [];
  for (let t = 0; t < nb; t++) {
    const bi = rowMajor(batch).strides.map((s, d) => Math.floor(t / s) % batch[d]);
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let sum = 0;
        for (let p = 0; p < k; p++) sum += at(aView, a.data, [...bi, i, p]) * at(bView, b.data, [...bi, p, j]);
        want.push(c.biasRelu ? Math.max(sum + bias.data[j], 0) : sum);
      }
    }
  }
  const tol = dtype === 'float32' ? { rtol: 1e-5, atol: 2e-6 * k } : { rtol: 1e-12, atol: 1e-13 * k };
  checks.push({ name: describeCase(c), buf: out, want, ...tol });
});

describeChecks('matmul kernels on the CPU backend', suite);
