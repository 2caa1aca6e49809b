/** Pre-packed weights: which matmuls keep a packed copy of B, which programs advance the generation, and K10. */
import { describe, expect, it } from 'vitest';
import { GraphBuilder } from '../../ir/graph.js';
import type { KernelProgram, MatmulKernel } from '../../ir/kernel.js';
import { printProgram } from '../../ir/print_kernel.js';
import { verifyProgram } from '../../ir/verify.js';
import { type LoweredProgram, lower } from '../../passes/lower.js';
import { planMemory } from '../../passes/memory_plan.js';
import { passContext } from '../../passes/pipeline.js';
import { prepackWeights } from '../../passes/prepack_weights.js';
import { SharedState } from '../../runtime/shared_state.js';
import { text } from '../helpers/graphs.js';

const layout = new SharedState([{ name: 'w', dtype: 'float32', size: 8 * 24 }, { name: 'h', dtype: 'float32', size: 16 * 8, state: true }]).layout;
const cpu = passContext({ shared: layout });

/** relu(x @ w) over `rows` rows, w a weight of the layout. */
function dense(rows: number): LoweredProgram {
  const b = new GraphBuilder();
  const x = b.param('x', [rows, 8]);
  const w = b.param('w', [8, 24], 'float32', 'weight');
  return lower(b.build([b.maximum(b.matmul(x, w), 0)]), 'p');
}

describe('prepack_weights', () => {
  it('gives a weight B of a predict program a packed copy and the program its generation (before/after)', () => {
    const before = dense(16);
    const after = prepackWeights(before, cpu);
    expect(printProgram(after)).toBe(text(`
      program p arena=0 weights=kiln:weights_generation packed_at=kiln:packed_at
      buffer x: input float32[16, 8] @-1
      buffer w: weight float32[8, 24] @-1
      buffer %5: output float32[16, 24] @-1
      buffer w:packed:p_k0_maximum: packed float32[512] @-1
      buffer kiln:weights_generation: state int32[2] @-1
      buffer kiln:packed_at: packed int32[2] @-1
      matmul p_k0_maximum batch=[] m=16 n=24 k=8 float32
      a = x@0+[8,1]  b = w@0+[24,1] packed w:packed:p_k0_maximum
      %5@0+[24,1] = maximum(acc0, 0)`).replace(/\n(a =|%5@)/g, '\n  $1'));
    expect(printProgram(before)).not.toContain('packed');
    // Planned: the generation in the shared arena, the copy and the record in the program's own.
    const { program } = planMemory(after, layout);
    const byName = (name: string) => program.buffers.find((x) => x.name === name)!;
    expect([byName('kiln:weights_generation').shared, byName('w:packed:p_k0_maximum').shared, byName('kiln:packed_at').shared]).toEqual([true, undefined, undefined]);
    verifyProgram(program, true);
  });

  it('a program that writes a weight advances the generation and packs nothing', () => {
    const b = new GraphBuilder();
    const x = b.param('x', [16, 8]);
    const w = b.param('w', [8, 24], 'float32', 'state');
    const p = prepackWeights(lower(b.build([b.sum(b.matmul(x, w))], [{ target: w, value: b.mul(w, 0.5) }]), 't'), cpu);
    expect(p.weights).toEqual({ generation: p.buffers.length - 1, packedAt: undefined, advances: true });
    expect(printProgram(p)).not.toContain(' packed ');
  });

  it('leaves alone: few rows (B streams), WebGPU, a layout without weights, a private weight, a kept state written', () => {
    expect(prepackWeights(dense(8), cpu)).toEqual(dense(8));
    expect(prepackWeights(dense(16), passContext({ shared: layout, backend: 'webgpu' }))).toEqual(dense(16));
    expect(prepackWeights(dense(16), passContext({ shared: { ...layout, weights: undefined } }))).toEqual(dense(16));
    expect(prepackWeights(dense(16), passContext({ shared: new SharedState([{ name: 'v', dtype: 'float32', size: 4 }]).layout }))).toEqual(dense(16));
    const b = new GraphBuilder();
    const h = b.param('h', [16, 8], 'float32', 'state');
    const stateful = lower(b.build([b.sum(h)], [{ target: h, value: b.mul(h, 0.5) }]), 's');
    expect(prepackWeights(stateful, cpu)).toEqual(stateful);
  });
});

describe('K10: packed copies', () => {
  const packed = prepackWeights(dense(16), cpu);
  const matmul = packed.kernels[0] as MatmulKernel;
  const withB = (b: MatmulKernel['b'], p: KernelProgram = packed): KernelProgram => ({ ...p, kernels: [{ ...matmul, b }] });
  const copy = matmul.b.packed!;

  it('only a weight B may have one', () => {
    const input = { ...packed, buffers: packed.buffers.map((x) => (x.name === 'w' ? { ...x, role: 'input' as const } : x)) };
    expect(() => verifyProgram(input)).toThrow(/^K10: kernel p_k0_maximum: only an unmasked weight read the same for every batch index may have a packed copy, B is input w/);
  });

  it("the copy is a 'packed' buffer of the matmul's dtype with room for every panel", () => {
    const small = { ...packed, buffers: packed.buffers.map((x) => (x.id === copy ? { ...x, size: 24 * 8, shape: [24 * 8] } : x)) };
    expect(() => verifyProgram(small)).toThrow(/^K10: kernel p_k0_maximum: B's packed copy must be a 'packed' float32 buffer of its own with 512 elements, got w:packed:p_k0_maximum: packed float32\[192\]/);
    expect(() => verifyProgram(withB({ ...matmul.b, packed: 0 }))).toThrow(/^K10: .* got x: input float32\[128\]/);
  });

  it('the program names its generation and packedAt record', () => {
    expect(() => verifyProgram({ ...packed, weights: undefined })).toThrow(/^K10: kernel p_k0_maximum: B has a packed copy but program p names no weights generation/);
    expect(() => verifyProgram({ ...packed, weights: { ...packed.weights!, generation: copy } })).toThrow(/^K10: program p: its weights generation must be a state int32 buffer of 2 elements, got w:packed:p_k0_maximum: packed float32\[512\]/);
  });

  it('nothing else reads a packed buffer', () => {
    const reader = { ...packed, kernels: [{ ...matmul, epilogue: { k: 'load' as const, buf: copy, view: { offset: 0, strides: [0, 1] }, dtype: 'float32' as const } }] };
    expect(() => verifyProgram(reader)).toThrow(/^K10: kernel p_k0_maximum: a load reads w:packed:p_k0_maximum, a packed copy/);
  });

  it('once planned, the copy is not in the shared arena', () => {
    const { program } = planMemory(packed, layout);
    const shared = { ...program, buffers: program.buffers.map((x) => (x.id === copy ? { ...x, shared: true, offset: 0 } : x)) };
    expect(() => verifyProgram(shared, true)).toThrow(/^K10: kernel p_k0_maximum: B's packed copy w:packed:p_k0_maximum lives in the shared state arena/);
  });
});
