/**
 * Loop kernels whose masked loads do not move along a row (codegen/llvm/
 * loop_kernel.ts rowInvariantMasks): each row runs a copy of its loop
 * without those masks where they all hold, and the masked loop in the
 * padding. A padded copy (dy's padding before a convolution's input
 * gradient), a mask that does move along the row beside one that does not,
 * rows sliced over threads (few rows, long ones), and a reduction.
 */
import type { Bound, Expr } from '../../ir/kernel.js';
import { CheckedProgram, binary, describeChecks, load, outer, rowMajor, uniform, view } from '../helpers/llvm_program.js';

const masked = (buf: number, offset: number, strides: number[], bounds: Bound[], fill = 0): Expr => ({ ...(load(buf, view(offset, strides), 'float32') as Extract<Expr, { k: 'load' }>), mask: { bounds, fill } });

const suite = new CheckedProgram('padded_rows');
const { pb } = suite;

// Pad [3, 5, 40] to [3, 9, 40] along axis 1 (2 before, 2 after): rows 0-1 and 7-8 of each are padding.
{
  const x = suite.input('float32', uniform(3 * 5 * 40, 1), [3, 5, 40]);
  const out = pb.buffer('float32', [3, 9, 40]);
  pb.elementwise([3, 9, 40], out, masked(x.buf, -80, [200, 40, 1], [{ offset: -2, strides: [0, 1, 0], size: 5 }]));
  const want = Array.from({ length: 3 * 9 * 40 }, (_, i) => {
    const [a, r, c] = [Math.floor(i / 360), Math.floor(i / 40) % 9, i % 40];
    return r >= 2 && r < 7 ? x.data[a * 200 + (r - 2) * 40 + c] : 0;
  });
  suite.checks.push({ name: 'pad along rows: interior rows copied, padding rows 0', buf: out, want, rtol: 0, atol: 0 });
}

// The same rows plus a load shifted by 3 along the row (its mask moves with j): only the row mask is hoisted.
{
  const x = suite.input('float32', uniform(4 * 30, 2), [4, 30]);
  const out = pb.buffer('float32', [6, 30]);
  const rows = masked(x.buf, -30, [30, 1], [{ offset: -1, strides: [1, 0], size: 4 }]);
  const shifted = masked(x.buf, 3, [0, 1], [{ offset: 3, strides: [0, 1], size: 30 }], -1);
  pb.elementwise([6, 30], out, binary('add', rows, shifted, 'float32'));
  const want = Array.from({ length: 6 * 30 }, (_, i) => {
    const [r, c] = [Math.floor(i / 30), i % 30];
    const a = r >= 1 && r < 5 ? x.data[(r - 1) * 30 + c] : 0;
    const b = c + 3 < 30 ? x.data[c + 3] : -1;
    return Math.fround(a + b);
  });
  suite.checks.push({ name: 'a row mask beside a mask that moves along the row', buf: out, want, rtol: 0, atol: 0 });
}

// Two rows of 3000: the rows are cut into slices over threads; only row 1 is inside.
{
  const x = suite.input('float32', uniform(3000, 3), [1, 3000]);
  const out = pb.buffer('float32', [2, 3000]);
  pb.elementwise([2, 3000], out, masked(x.buf, -3000, [3000, 1], [{ offset: -1, strides: [1, 0], size: 1 }], 7));
  const want = Array.from({ length: 6000 }, (_, i) => (i < 3000 ? 7 : x.data[i - 3000]));
  suite.checks.push({ name: 'rows sliced over threads: the fill, then the copy', buf: out, want, rtol: 0, atol: 0 });
}

// A reduction over an inner dim whose mask depends on the first outer dim alone.
{
  const x = suite.input('float32', uniform(3 * 6 * 5, 4), [3, 6, 5]);
  const out = pb.buffer('float32', [4, 6]);
  pb.kernel({
    kind: 'loop', name: 'reduce_rows', outer: [4, 6], inner: [5],
    reductions: [{ id: 0, op: 'sum', dtype: 'float32', expr: masked(x.buf, -30, [30, 5, 1], [{ offset: -1, strides: [1, 0, 0], size: 3 }], 0.5) }],
    stores: [outer(out, { offset: 0, strides: [...rowMajor([4, 6]).strides, 0] }, { k: 'acc', id: 0, dtype: 'float32' })],
  });
  const want = Array.from({ length: 24 }, (_, i) => {
    const [r, c] = [Math.floor(i / 6), i % 6];
    let s = 0;
    for (let q = 0; q < 5; q++) s = Math.fround(s + (r >= 1 ? x.data[(r - 1) * 30 + c * 5 + q] : 0.5));
    return s;
  });
  suite.checks.push({ name: 'a reduction whose mask holds for whole rows', buf: out, want, rtol: 1e-6, atol: 1e-6 });
}

describeChecks('loop kernels with masks that hold for whole rows', suite);
