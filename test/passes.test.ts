/** Pass tests: the IR text before and after simplify, fusion, lowering and memory planning. */
import { describe, expect, it } from 'vitest';
import { type Graph, GraphBuilder } from '../ir/graph.js';
import { printGraph } from '../ir/print.js';
import { printProgram } from '../ir/print_kernel.js';
import { verifyGraph, verifyProgram } from '../ir/verify.js';
import { fuse, printFusion } from '../passes/fusion.js';
import { lower } from '../passes/lower.js';
import { planMemory } from '../passes/memory_plan.js';
import { runGraphPasses } from '../passes/pipeline.js';
import { dce, simplify } from '../passes/simplify.js';

const text = (lines: string): string => lines.trim().split('\n').map((l) => l.trim()).join('\n');

/** Three dense layers and a softmax, as the front end emits them. */
function mlp(): Graph {
  const b = new GraphBuilder();
  const x = b.param('x', [4, 8]);
  const w1 = b.param('w1', [8, 16], 'float32', 'weight');
  const b1 = b.param('b1', [16], 'float32', 'weight');
  const w2 = b.param('w2', [16, 16], 'float32', 'weight');
  const w3 = b.param('w3', [16, 10], 'float32', 'weight');
  const h1 = b.maximum(b.add(b.matmul(x, w1), b1), 0);
  const h2 = b.unary('tanh', b.matmul(h1, w2));
  const logits = b.matmul(h2, w3);
  const e = b.unary('exp', b.sub(logits, b.max(logits, -1, true)));
  return b.build([b.div(e, b.sum(e, -1, true))]);
}

describe('simplify and dce', () => {
  it('folds constants, removes identities and dead nodes, merges movement chains and shares common subexpressions', () => {
    const b = new GraphBuilder();
    const x = b.param('x', [2, 3]);
    const y = b.add(b.mul(b.reshape(b.reshape(x, [3, 2]), [2, 3]), 1), b.constant(0, [2, 3]));
    const z = b.unary('exp', b.cast(y, 'float32'));
    const t = b.transpose(b.transpose(z, [1, 0]), [1, 0]);
    b.unary('log', x);
    const c = b.add(b.constant(2), b.constant(3));
    const g = b.build([b.mul(t, b.broadcastTo(c, [2, 3])), b.add(b.unary('tanh', x), b.unary('tanh', x))]);
    expect(printGraph(g).split('\n')).toHaveLength(21);
    expect(printGraph(dce(simplify(g)))).toBe(text(`
      %0: float32[2, 3] = param{name=x, role=input}()
      %1: float32[2, 3] = exp(%0)
      %2: float32[2, 3] = constant{value=5}()
      %3: float32[2, 3] = mul(%1, %2)
      %4: float32[2, 3] = tanh(%0)
      %5: float32[2, 3] = add(%4, %4)
      return %3, %5`));
  });
});

describe('fusion', () => {
  it('puts bias and activation in matmul epilogues and softmax in one row kernel', () => {
    expect(printFusion(fuse(mlp()))).toBe(text(`
      matmul %10 space=[4,16]: %5:matmul %6:broadcast %7:add %9:broadcast %10:maximum
      matmul %12 space=[4,16]: %11:matmul %12:tanh
      matmul %13 space=[4,10]: %13:matmul
      loop %20 space=[4,10] reduce=[1]: %14:reduce_max %15:broadcast %16:sub %17:exp %18:reduce_sum %19:broadcast %20:div`));
  });

  it('materializes a tensor whose reshape is not affine inside the fused loop', () => {
    const b = new GraphBuilder();
    const x = b.param('x', [3, 4]);
    const g = b.build([b.unary('neg', b.reshape(b.transpose(b.unary('exp', x), [1, 0]), [12]))]);
    const p = lower(g, 'r');
    expect(printFusion(p.fused)).toBe(text(`
      loop %2 space=[4,3]: %1:exp %2:transpose
      loop %4 space=[12]: %3:reshape %4:neg`));
  });
});

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

describe('verifier', () => {
  it('names the broken invariant', () => {
    const g = mlp();
    const broken = { ...g, nodes: g.nodes.map((n) => (n.id === 12 ? { ...n, type: { ...n.type, shape: [4, 15] } } : n)) };
    expect(() => verifyGraph(broken)).toThrow(/^G4: node %12 \(tanh\) is typed float32\[4, 15\] but infers float32\[4, 16\]/);
    expect(() => runGraphPasses(g, [{ name: 'bad', run: () => broken }])).toThrow(/after pass 'bad': G4/);
  });
});
