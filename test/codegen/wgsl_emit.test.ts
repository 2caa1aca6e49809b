/**
 * The WGSL emitted for small kernels, checked as text (no device needed): a
 * fused elementwise kernel over the arena as words, tiled matmuls sized by
 * the adapter's limits, and workgroup reductions.
 */
import { expect, it } from 'vitest';
import { GraphBuilder } from '../../ir/graph.js';
import { emitKernel } from '../../codegen/wgsl/kernel.js';
import { MIN_TARGET } from '../../codegen/wgsl/target.js';
import { compileToProgram } from '../../passes/pipeline.js';

it('emits one WGSL shader per fused kernel, over the arena as words', () => {
  const b = new GraphBuilder();
  const y = b.unary('exp', b.add(b.param('x', [4, 6]), b.param('b', [6])));
  const { program } = compileToProgram(b.build([y]), { name: 'emit', wideBool: true });
  const { code, groups } = emitKernel(program, program.kernels[0]);
  expect(groups).toEqual([1, 1]);
  expect(code).toContain('@group(0) @binding(0) var<storage, read_write> arena: array<u32>;');
  expect(code).toMatch(/let t\d+ = bitcast<f32>\(arena\[u32\(0 \+ \(0 \+ o0 \* 6 \+ o1\)\)\]\);/);
  expect(code).toMatch(/let t\d+ = exp\(t\d+\);/);
  expect(code.match(/arena\[[^\]]+\] = bitcast<u32>/g)).toHaveLength(1);
});

it('tiles matmuls in workgroup memory, sized by the adapter limits; tiny ones stay per element', () => {
  const b = new GraphBuilder();
  const y = b.maximum(b.add(b.matmul(b.param('x', [100, 784]), b.param('w', [784, 512])), b.param('c', [512])), 0);
  const { program } = compileToProgram(b.build([y]), { name: 'mm', wideBool: true });
  const mm = program.kernels.find((k) => k.kind === 'matmul')!;
  const core = emitKernel(program, mm, { ...MIN_TARGET, maxInvocationsPerWorkgroup: 256, maxWorkgroupSizeX: 256, maxWorkgroupSizeY: 256 });
  expect(core.workgroupSize).toEqual([16, 8]);
  expect(core.groups).toEqual([2 * 8, 1]);
  expect(core.code).toContain('var<workgroup> tile_a: array<f32, 1024>;');
  // x is contiguous along k and w along n, both multiples of 4: staged four words at a time.
  expect(core.code).toMatch(/var<storage, read_write> arena: array<vec4<u32>>;/);
  expect(core.code.match(/v = bitcast<vec4<f32>>\((shared_)?arena\[/g)).toHaveLength(2);
  expect(core.code.match(/workgroupBarrier\(\);/g)).toHaveLength(2);
  expect(core.code).toMatch(/acc_7 = fma\(vec4<f32>\(tile_a\[pp \* 64 \+ ty \* 8 \+ 7\]\), bv, acc_7\);/);
  // The bias add and relu are fused into each element's store.
  expect(core.code).toMatch(/let t\d+ = max\(t\d+, t\d+\);/);
  const small = { ...MIN_TARGET, maxInvocationsPerWorkgroup: 64, maxWorkgroupSizeY: 64 };
  const narrow = emitKernel(program, mm, small);
  expect(narrow.workgroupSize).toEqual([16, 4]);
  expect(narrow.code).toContain('acc_15 = fma(');
  const mv = new GraphBuilder();
  const v = mv.matmul(mv.param('x', [1, 784]), mv.param('w', [784, 10]));
  const one = compileToProgram(mv.build([v]), { name: 'mv', wideBool: true }).program;
  const simple = emitKernel(one, one.kernels[0], MIN_TARGET);
  expect(simple.code).not.toContain('workgroupBarrier');
  expect(simple.code).toContain('for (var p = 0; p < 784; p++) {');
});

it('folds long reductions over few points in one workgroup per point; short ones stay serial', () => {
  const b = new GraphBuilder();
  const x = b.param('x', [3, 1500]);
  const e = b.unary('exp', b.sub(x, b.max(x, -1, true)));
  const { program } = compileToProgram(b.build([b.div(e, b.sum(e, -1, true))]), { name: 'softmax', wideBool: true });
  const codes = program.kernels.map((k) => emitKernel(program, k, MIN_TARGET));
  const grouped = codes.filter((c) => c.code.includes('var<workgroup> partial_f32: array<f32, 64>;'));
  expect(grouped.length).toBeGreaterThan(0);
  for (const c of grouped) {
    expect(c.groups).toEqual([3, 1]);
    expect(c.code).toContain('for (var q = lin; q < 1500; q += 64) {');
    expect(c.code).toMatch(/if \(lin < w\) \{ partial_f32\[lin\] = (max\()?partial_f32\[lin\]/);
  }
  const small = new GraphBuilder();
  const { program: rows } = compileToProgram(small.build([small.sum(small.param('y', [128, 10]), 1)]), { name: 'rows', wideBool: true });
  expect(emitKernel(rows, rows.kernels[0], MIN_TARGET).code).not.toContain('workgroupBarrier');
});
