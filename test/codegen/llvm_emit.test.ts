/** The LLVM IR emitted for a small fused kernel, checked as text (before optimization). */
import { expect, it } from 'vitest';
import { GraphBuilder } from '../../ir/graph.js';
import { emitProgram } from '../../codegen/llvm/module.js';
import { compileToProgram } from '../../passes/pipeline.js';

it('one kernel function per fused group, one entry point, big kernels shared across threads in dynamic chunks', () => {
  const b = new GraphBuilder();
  const x = b.param('x', [4, 6]);
  const y = b.param('y', [6]);
  const small = b.unary('exp', b.add(x, y));
  const big = b.unary('tanh', b.param('z', [512, 512]));
  const { program } = compileToProgram(b.build([small, big]), { name: 'emit' });
  const ir = emitProgram(program, 2).print();
  expect(ir).toContain('define void @kiln_run(i8* %0)');
  expect(ir.match(/^define internal void @k\d+_emit_k\d+_\w+\(i8\* %0, i64 %1, i64 %2\)/gm)).toHaveLength(2);
  // The small kernel runs on the calling thread; the big one through kiln_parallel, Kiln's pool (linked
  // from outside the module), in chunks of rows (about 4 per thread).
  expect(ir).toMatch(/call void @kiln_parallel\(void \(i8\*, i64, i64\)\* @k1_emit_k1_tanh, i8\* %0, i64 (\d+), i64 (\d+), i32 2\)/);
  const [, rows, chunk] = /@kiln_parallel\(void \(i8\*, i64, i64\)\* @k1_emit_k1_tanh, i8\* %0, i64 (\d+), i64 (\d+)/.exec(ir)!;
  expect(Number(chunk)).toBe(Math.ceil(Number(rows) / 8));
  expect(ir).toContain('declare void @kiln_parallel(void (i8*, i64, i64)*, i8*, i64, i64, i32)');
  expect(ir).not.toContain('GOMP_parallel');
  // For WebAssembly, kiln_parallel is IR over the runtime's GOMP_parallel team, taking chunks from a shared counter.
  const wasm = emitProgram(program, 2, 256, 'openmp').print();
  expect(wasm).toMatch(/define hidden void @kiln_parallel\(/);
  expect(wasm).toMatch(/atomicrmw add i64\* %next, i64 %chunk monotonic/);
  expect(wasm.match(/call void @GOMP_parallel\(/g)).toHaveLength(1);
  expect(ir).toMatch(/call void @k0_emit_k0_exp\(i8\* %0, i64 0, i64 4\)/);
  // x + broadcast(y), then exp, fused: one add, one exp call, one store per element.
  const k0 = ir.slice(ir.indexOf('@k0_emit_k0_exp('), ir.indexOf('\n}\n', ir.indexOf('@k0_emit_k0_exp(')));
  expect(k0.match(/fadd float/g)).toHaveLength(1);
  expect(k0.match(/call float @llvm\.exp\.f32/g)).toHaveLength(1);
  expect(k0.match(/store float/g)).toHaveLength(1);
  expect(ir).toContain('target triple');
});
