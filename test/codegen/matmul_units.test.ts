/**
 * How a packed matmul is cut into units (codegen/llvm/matmul_plan.ts `split`):
 * the same for every thread count, so that a program built for two threads
 * runs alone as the one-thread program does; column blocks of at most 256,
 * and strips of rows only where there are too few blocks and the strips stay
 * large enough to reuse the packed B panels (or B is read in place), except
 * that a matmul is never left in one unit when it can be cut in two. The
 * strips' edges are checked numerically on two threads and on one, whole
 * (extents that are constants) and ragged (extents clipped per unit).
 */
import { describe, expect, it } from 'vitest';
import type { Expr, MatmulKernel } from '../../ir/kernel.js';
import { matmulRows, split } from '../../codegen/llvm/matmul_plan.js';
import { CheckedProgram, acc, runOnCpu, rowMajor, uniform, view } from '../helpers/llvm_program.js';

/** A float32 row-major matmul kernel of m x k @ k x n (buffers 0, 1 and 2). */
function kernel(m: number, n: number, k: number, batch: number[] = []): MatmulKernel {
  const product: Expr = acc(0, 'float32');
  return { kind: 'matmul', name: 'mm', batch, m, n, k, dtype: 'float32', a: { buf: 0, view: rowMajor([...batch, m, k]) }, b: { buf: 1, view: rowMajor([...batch, k, n]) }, epilogue: product, out: { buf: 2, view: rowMajor([...batch, m, n]) } };
}

describe('matmul units', () => {
  it("keep mnist_mlp's layers in column blocks of 256, strips only for its 784-row gradient", () => {
    expect(split(kernel(128, 512, 784))).toEqual({ nc: 256, rows: 128 });
    expect(matmulRows(kernel(128, 512, 784))).toBe(2);
    // The weight gradient (784 rows) in two strips of 396, each above the 288 rows that keep B's reuse.
    expect(split(kernel(784, 512, 128))).toEqual({ nc: 256, rows: 396 });
    expect(matmulRows(kernel(784, 512, 128))).toBe(2 * 2);
  });

  it('cut a matmul that would be one unit in two: columns where there are 128, else rows', () => {
    // mnist_cnn's first dense layer: A and B are 4.7 MB each, and two threads share it.
    expect(split(kernel(128, 128, 9216))).toEqual({ nc: 64, rows: 128 });
    // With its weights packed once (passes/prepack_weights.ts), rows first: each column block would pack all of A.
    const packed = kernel(128, 128, 9216);
    expect(split({ ...packed, b: { ...packed.b, packed: 3 } })).toEqual({ nc: 128, rows: 64 });
    // The softmax layer's 10 columns: two strips of 64 rows.
    expect(split(kernel(128, 10, 512))).toEqual({ nc: 32, rows: 64 });
    expect(matmulRows(kernel(500, 64, 288))).toBe(2);
    // Too small to cut.
    expect(matmulRows(kernel(100, 64, 288))).toBe(1);
  });

  it('keep the row groups of a rowReduce whole: strips are whole tiles and whole groups', () => {
    // A 1D pool of 5 over 316 windows x 5 rows, A and B read in place: 8 strips of 198 rows become strips of 210
    // (a multiple of 6-row tiles and of 5-row groups); without the pool, 198.
    const pooled: MatmulKernel = { ...kernel(1580, 64, 288), mDims: [316, 5], rowReduce: { dims: 1, op: 'max' } };
    expect(split(pooled)).toEqual({ nc: 64, rows: 210 });
    expect(split({ ...pooled, rowReduce: undefined })).toEqual({ nc: 64, rows: 198 });
  });

  it('cut tall matmuls with few columns into up to 8 strips of at least 288 rows', () => {
    expect(split(kernel(86528, 64, 288))).toEqual({ nc: 64, rows: 10818 });
    expect(matmulRows(kernel(86528, 64, 288))).toBe(8);
    expect(matmulRows(kernel(600, 64, 288))).toBe(2);
    // A batch supplies units of its own.
    expect(matmulRows(kernel(4096, 64, 32, [8]))).toBe(8);
  });
});

/** m x k @ k x n against a float64 triple loop, on `threads` threads. */
async function checkMatmul(m: number, n: number, k: number, threads: number): Promise<void> {
  const suite = new CheckedProgram(`matmul_units_${m}x${n}x${k}_t${threads}`);
  const a = suite.input('float32', uniform(m * k, 11), [m, k]);
  const b = suite.input('float32', uniform(k * n, 12), [k, n]);
  const out = suite.pb.buffer('float32', [m, n], 'output');
  suite.pb.kernel({ ...kernel(m, n, k), a: { buf: a.buf, view: view(0, [k, 1]) }, b: { buf: b.buf, view: view(0, [n, 1]) }, out: { buf: out, view: rowMajor([m, n]) } });
  const want: number[] = [];
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let sum = 0;
      for (let p = 0; p < k; p++) sum += a.data[i * k + p] * b.data[p * n + j];
      want.push(sum);
    }
  }
  const exe = await runOnCpu(suite.pb.build(), suite.inputs, { threads });
  try {
    expect(await exe.read(out)).toBeAllClose(want, { rtol: 1e-5, atol: 2e-6 * k });
  } finally {
    exe.dispose();
  }
}

describe('matmul strips on the CPU backend', () => {
  // 864 = 3 strips of 288 rows, 512 = 2 blocks of 256: every extent a constant.
  it.each([2, 1])('whole strips and blocks (864x512 @ k = 20) on %i thread(s)', (threads) => checkMatmul(864, 512, 20, threads));
  // 1000 rows in 3 strips of 336 (the last 328), 300 columns in blocks of 160 (the last 140): extents clipped per unit.
  it.each([2, 1])('ragged strips and blocks (1000x300 @ k = 50) on %i thread(s)', (threads) => checkMatmul(1000, 300, 50, threads));
});
