/**
 * How loop kernels are cut into units for threads: a column reduction (a
 * bias gradient) is never sliced narrower than a cache line of columns, so
 * no two units read lanes of the same lines.
 */
import { describe, expect, it } from 'vitest';
import type { LoopKernel } from '../../ir/kernel.js';
import { lastDimSlices } from '../../codegen/llvm/loop_kernel.js';
import { isColumnReduction } from '../../codegen/llvm/column_reduce.js';

/** out[c] = sum over rows of x[rows..., c]: x row-major [...rows, columns]. */
function columnSum(columns: number, rows: readonly number[]): LoopKernel {
  const strides = [1, ...rows.map((_, i) => rows.slice(i + 1).reduce((p, q) => p * q, columns))];
  return {
    kind: 'loop', name: 'bias_grad', outer: [columns], inner: [...rows],
    reductions: [{ id: 0, op: 'sum', dtype: 'float32', expr: { k: 'load', buf: 0, view: { offset: 0, strides }, dtype: 'float32' } }],
    stores: [{ buf: 1, view: { offset: 0, strides: [1, ...rows.map(() => 0)] }, expr: { k: 'acc', id: 0, dtype: 'float32' }, space: 'outer' }],
  };
}

describe('loop kernel units', () => {
  it('a column reduction over 64 columns runs as 4 slices of 16, not 16 slices of 4', () => {
    const k = columnSum(64, [128, 24, 24]);
    expect(isColumnReduction(k)).toBe(true);
    expect(lastDimSlices(k)).toBe(4);
  });
  it('one of fewer than 16 columns is not sliced; a wide one still gets 16 slices', () => {
    expect(lastDimSlices(columnSum(10, [4096]))).toBe(1);
    expect(lastDimSlices(columnSum(1024, [512]))).toBe(16);
  });
});
