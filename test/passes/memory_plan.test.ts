/** Lowering and memory planning: the planned kernel program as text. */
import { describe, expect, it } from 'vitest';
import { printProgram } from '../../ir/print_kernel.js';
import { verifyProgram } from '../../ir/verify.js';
import { lower } from '../../passes/lower.js';
import { planMemory } from '../../passes/memory_plan.js';
import { mlp, text } from '../helpers/graphs.js';

describe('lowering and memory planning', () => {
  it('lowers groups to kernels and lets temporaries with disjoint lifetimes share arena bytes', () => {
    const lowered = lower(mlp(), 'mlp');
    verifyProgram(lowered);
    const { program, stats } = planMemory(lowered);
    verifyProgram(program, true);
    expect(printProgram(program)).toBe(text(`
      program mlp arena=3072
      buffer x: input float32[4, 8] @0
      buffer w1: weight float32[8, 16] @128
      buffer b1: weight float32[16] @640
      buffer w2: weight float32[16, 16] @704
      buffer w3: weight float32[16, 10] @1728
      buffer %20: output float32[4, 10] @2368
      buffer %13: temp float32[4, 10] @2816
      buffer %12: temp float32[4, 16] @2560
      buffer %10: temp float32[4, 16] @2816
      matmul mlp_k0_maximum batch=[] m=4 n=16 k=8 float32
      a = x@0+[8,1]  b = w1@0+[16,1]
      %10@0+[16,1] = maximum(add(acc0, b1@0+[0,1]), 0)
      matmul mlp_k1_tanh batch=[] m=4 n=16 k=16 float32
      a = %10@0+[16,1]  b = w2@0+[16,1]
      %12@0+[16,1] = tanh(acc0)
      matmul mlp_k2_matmul batch=[] m=4 n=10 k=16 float32
      a = %12@0+[16,1]  b = w3@0+[10,1]
      %13@0+[10,1] = acc0
      loop mlp_k3_div outer=[4] inner=[10]
      acc0 = max %13@0+[10,1]
      acc1 = sum exp(sub(%13@0+[10,1], acc0))
      full %20@0+[10,1] = div(exp(sub(%13@0+[10,1], acc0)), acc1)`).replace(/\n(a = |%1\d@|acc\d = |full )/g, '\n  $1'));
    expect(stats.tempBytes).toBeLessThan(stats.tempBytesUnplanned);
  });
});

