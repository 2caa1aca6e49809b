/** The LLVM IR of pre-packed weights (codegen/llvm/prepack.ts), checked as text: who packs, when, and who advances. */
import { expect, it } from 'vitest';
import { GraphBuilder } from '../../ir/graph.js';
import { emitProgram } from '../../codegen/llvm/module.js';
import { compileToProgram } from '../../passes/pipeline.js';
import { SharedState } from '../../runtime/shared_state.js';

const state = new SharedState([{ name: 'w', dtype: 'float32', size: 96 * 80 }]);

function dense(rows: number) {
  const b = new GraphBuilder();
  const x = b.param('x', [rows, 96]);
  const w = b.param('w', [96, 80], 'float32', 'weight');
  return compileToProgram(b.build([b.maximum(b.matmul(x, w), 0)]), { name: 'dense', shared: state.layout }).program;
}

it('a predict program packs B at entry when the generation moved, and its matmul reads the copy instead of packing', () => {
  const ir = emitProgram(dense(32), 2, 512).print();
  expect(ir).toMatch(/^define internal void @pack0_dense_k0_maximum\(i8\* %0, i64 %1, i64 %2\)/m);
  // Entry: compare the record with generation + 1, pack on a mismatch, record, then the kernels.
  const entry = ir.slice(ir.indexOf('define void @kiln_run'));
  expect(entry).toMatch(/icmp ne i64 %\d+, %\d+\n\s+br i1 %\d+, label %repack, label %packed/);
  expect(entry).toMatch(/repack:.*\n\s+call void @pack0_dense_k0_maximum\(i8\* %0, i64 0, i64 1\)\n\s+store i64 %\d+, i64\* %\d+/);
  expect(entry.indexOf('@pack0_dense_k0_maximum')).toBeLessThan(entry.indexOf('@k0_dense_k0_maximum'));
  // The matmul packs A only (element by element): B's panels come from the copy, not from its row copies.
  const matmul = ir.slice(ir.indexOf('define internal void @k0_dense_k0_maximum'), ir.indexOf('define internal void @pack0_'));
  expect(matmul).not.toContain('@kiln_pack_f32');
});

it('few rows stream B: no copy, no check', () => {
  const ir = emitProgram(dense(4), 2, 512).print();
  expect(ir).not.toContain('@pack0_');
  expect(ir).not.toContain('repack');
});

it('a train program advances the generation after its kernels', () => {
  const b = new GraphBuilder();
  const w = b.param('w', [96, 80], 'float32', 'state');
  const { program } = compileToProgram(b.build([b.sum(w)], [{ target: w, value: b.mul(w, 0.5) }]), { name: 'step', shared: state.layout });
  const entry = emitProgram(program, 2, 512).print().split('define void @kiln_run')[1];
  expect(entry).toMatch(/load i64, i64\* %\d+.*\n\s+%\d+ = add i64 %\d+, 1\n\s+store i64 %\d+, i64\* %\d+.*\n\s+ret void/);
  expect(entry).not.toContain('repack');
});
