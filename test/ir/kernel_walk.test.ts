/** The kernel-IR expression walks of ir/kernel.ts: operands, rebuilding, dtype and loads. */
import { describe, expect, it } from 'vitest';
import { type Expr, exprChildren, exprDType, kernelExprs, mapExprChildren, visitLoads } from '../../ir/kernel.js';

const view = { offset: 0, strides: [1] };
const idx: Expr = { k: 'load', buf: 3, view, dtype: 'int32' };
const gather: Expr = { k: 'load', buf: 1, view, dtype: 'float32', dyn: { expr: idx, stride: 4, limit: 5 } };
const x: Expr = { k: 'load', buf: 0, view, dtype: 'float32' };
const sum: Expr = { k: 'binary', op: 'add', a: x, b: gather, dtype: 'float32' };
const cond: Expr = { k: 'binary', op: 'gt', a: sum, b: { k: 'const', value: 0, dtype: 'float32' }, dtype: 'bool' };
const top: Expr = { k: 'select', cond, a: sum, b: { k: 'random', seed: 7, counter: { k: 'const', value: 1, dtype: 'int32' }, view }, dtype: 'float32' };

describe('kernel expression walks', () => {
  it('lists operands in evaluation order, including a gather index', () => {
    expect(exprChildren(top)).toEqual([cond, sum, (top as { b: Expr }).b]);
    expect(exprChildren(gather)).toEqual([idx]);
    expect(exprChildren(x)).toEqual([]);
  });
  it('visits every load, gather indices too', () => {
    const bufs: number[] = [];
    visitLoads(top, (l) => bufs.push(l.buf));
    expect(bufs).toEqual([0, 1, 3, 0, 1, 3]);
  });
  it('rebuilds one level with mapped operands', () => {
    const renamed = mapExprChildren(gather, () => ({ k: 'const', value: 2, dtype: 'int32' }));
    expect(renamed).toMatchObject({ k: 'load', buf: 1, dyn: { expr: { k: 'const', value: 2 }, stride: 4 } });
    expect(mapExprChildren(x, () => { throw new Error('a leaf has no operands'); })).toBe(x);
  });
  it('types index as int32, random as float32, the rest by their dtype', () => {
    expect(exprDType({ k: 'index', view })).toBe('int32');
    expect(exprDType((top as { b: Expr }).b)).toBe('float32');
    expect(exprDType(cond)).toBe('bool');
  });
  it('lists a kernel\'s top-level expressions', () => {
    expect(kernelExprs({ kind: 'loop', name: 'k', outer: [4], inner: [], reductions: [{ id: 0, op: 'sum', dtype: 'float32', expr: x }], stores: [{ buf: 2, view, expr: sum, space: 'full' }] })).toEqual([x, sum]);
  });
});
