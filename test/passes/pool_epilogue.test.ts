/**
 * passes/pool_epilogue.ts: a non-overlapping max pooling after a convolution
 * becomes the convolution's rowReduce. The IR before and after; which
 * poolings fuse and which stay apart (overlapping windows, padded pooling,
 * a convolution output read twice, the webgpu backend); and the fused
 * kernels' outputs on the CPU backend and on the kernel interpreter against
 * the graph interpreter, over 1-3D geometries with floor-dropped rows,
 * strides wider than the pool, partial column panels and float64.
 */
import { describe, expect, it } from 'vitest';
import { convolve, pool, windowGeometry } from '../../ir/convolution.js';
import type { DType, TypedArray } from '../../ir/dtype.js';
import { type Graph, GraphBuilder } from '../../ir/graph.js';
import { interpret } from '../../ir/interpret.js';
import type { MatmulKernel } from '../../ir/kernel.js';
import { printProgram } from '../../ir/print_kernel.js';
import { PREDICT, compileToProgram, passContext, runPipeline } from '../../passes/pipeline.js';
import { compileGraph } from '../../runtime/executor.js';
import { loadInterpreted } from '../../runtime/kernel_interpreter.js';
import { rng } from '../helpers/nd.js';

interface Case {
  readonly name: string;
  /** Input with channels last: [batch, ...spatial, channels]. */
  readonly x: readonly number[];
  readonly kernel: readonly number[];
  readonly filters: number;
  readonly pool: readonly number[];
  readonly poolStrides?: readonly number[];
  readonly poolPadding?: 'valid' | 'same';
  readonly relu?: boolean;
  readonly dtype?: DType;
  /** Whether the pass fuses the pooling. */
  readonly fuses: boolean;
}

function caseGraph(c: Case, extraOutput = false): { graph: Graph; data: Map<string, TypedArray> } {
  const dtype = c.dtype ?? 'float32';
  const draw = rng(5);
  const data = new Map<string, TypedArray>();
  const b = new GraphBuilder();
  const param = (name: string, shape: readonly number[]) => {
    const values = Array.from({ length: shape.reduce((p, q) => p * q, 1) }, () => draw() * 2 - 1);
    data.set(name, dtype === 'float64' ? Float64Array.from(values) : Float32Array.from(values));
    return b.param(name, shape, dtype);
  };
  const spatial = c.x.slice(1, -1);
  const x = param('x', c.x);
  const w = param('w', [...c.kernel, c.x[c.x.length - 1], c.filters]);
  const bias = param('bias', [c.filters]);
  const ones = spatial.map(() => 1);
  const conv = b.add(convolve(b, x, w, windowGeometry('valid', spatial, c.kernel, ones, ones)), bias);
  const y = c.relu === false ? conv : b.maximum(conv, 0);
  const pooled = pool(b, y, 'max', windowGeometry(c.poolPadding ?? 'valid', y.shape.slice(1, -1), c.pool, c.poolStrides ?? c.pool, ones));
  return { graph: b.build(extraOutput ? [pooled, y] : [pooled]), data };
}

const CASES: Case[] = [
  { name: '2x2 pool over 24x24, 64 filters (mnist_cnn)', x: [3, 26, 26, 5], kernel: [3, 3], filters: 64, pool: [2, 2], fuses: true },
  { name: '2x2 pool over odd 7x9 (last row and column dropped), 20 filters', x: [2, 9, 11, 3], kernel: [3, 3], filters: 20, pool: [2, 2], fuses: true },
  { name: '3x3 pool, stride 3, no relu', x: [2, 11, 12, 4], kernel: [2, 3], filters: 16, pool: [3, 3], relu: false, fuses: true },
  { name: '2x3 pool, strides 3x4 (gaps between windows)', x: [2, 12, 14, 2], kernel: [3, 3], filters: 12, pool: [2, 3], poolStrides: [3, 4], fuses: true },
  { name: '1D: pool 4 over 37 positions', x: [3, 40, 6], kernel: [4], filters: 32, pool: [4], fuses: true },
  { name: '1D: pool 5 (row blocks of 140, strips of 30) over 1,580 rows', x: [4, 400, 3], kernel: [3], filters: 24, pool: [5], fuses: true },
  { name: '3D: 2x2x2 pool (8 rows a group)', x: [2, 7, 6, 7, 2], kernel: [2, 2, 2], filters: 8, pool: [2, 2, 2], fuses: true },
  { name: 'float64', x: [2, 8, 8, 3], kernel: [3, 3], filters: 10, pool: [2, 2], dtype: 'float64', fuses: true },
  { name: 'overlapping windows (3x3, stride 2) stay apart', x: [2, 10, 10, 3], kernel: [3, 3], filters: 8, pool: [3, 3], poolStrides: [2, 2], fuses: false },
  { name: "padded pooling ('same' over 7x7) stays apart", x: [2, 9, 9, 3], kernel: [3, 3], filters: 8, pool: [2, 2], poolPadding: 'same', fuses: false },
];

const matmuls = (g: Graph, backend: 'cpu' | 'webgpu' = 'cpu'): MatmulKernel[] =>
  compileToProgram(g, { name: 'pool_epilogue', backend }).program.kernels.filter((k): k is MatmulKernel => k.kind === 'matmul');

describe('pool_epilogue: the IR before and after', () => {
  it('mnist_cnn-sized: the pooling loop becomes the convolution rowReduce over its window dims', () => {
    const { graph } = caseGraph(CASES[0]);
    const ctx = passContext({ name: 'pe' });
    const before = printProgram(runPipeline(PREDICT.without('pool_epilogue'), graph, ctx).program);
    const after = printProgram(runPipeline(PREDICT, graph, ctx).program);
    expect(before).toMatch(/matmul pe_k\d+_\w+ batch=\[\] m=1728 n=64 k=45 mDims=\[3, 24, 24\] kDims=\[3, 3, 5\] float32/);
    expect(before).toMatch(/loop pe_k\d+_reduce_max outer=\[3, 12, 12, 64\] inner=\[2, 2\]/);
    // Rows in window order (batch, y / 2, x / 2, y % 2, x % 2): A reads x at 2 * y / 2 + y % 2.
    expect(after).toMatch(/matmul pe_k\d+_\w+_max batch=\[\] m=1728 n=64 k=45 mDims=\[3, 12, 12, 2, 2\] kDims=\[3, 3, 5\] rowReduce=max\/2 float32/);
    expect(after).toContain('a = x@0+[3380,260,10,130,5,130,5,1]');
    expect(after).not.toMatch(/^loop /m);
    expect(after).toMatch(/@0\+\[9216,768,64,1\] = maximum\(add\(acc0, bias@0\+\[0,0,0,0,0,1\]\), 0\)/);
  });

  it('not when the convolution output is read again, nor for webgpu', () => {
    expect(matmuls(caseGraph(CASES[0], true).graph).some((k) => k.rowReduce)).toBe(false);
    expect(matmuls(caseGraph(CASES[0]).graph, 'webgpu').some((k) => k.rowReduce)).toBe(false);
  });
});

describe('pool_epilogue: outputs against the graph interpreter', () => {
  for (const c of CASES) {
    it(`${c.name}: ${c.fuses ? 'fused' : 'not fused'}, CPU and kernel interpreter match`, async () => {
      const { graph, data } = caseGraph(c);
      expect(matmuls(graph).some((k) => k.rowReduce)).toBe(c.fuses);
      const [want] = interpret(graph, data);
      const tol = c.dtype === 'float64' ? { rtol: 1e-12, atol: 1e-12 } : { rtol: 1e-5, atol: 1e-5 };
      // The fused program (compiled for cpu) on the kernel interpreter: rowReduce's reference semantics.
      const program = compileToProgram(graph, { name: 'pool_epilogue_interp' }).program;
      const interp = loadInterpreted(program);
      for (const [n, d] of data) interp.write(program.buffers.find((bf) => bf.name === n)!.id, d);
      await interp.run();
      const out = program.buffers.find((bf) => bf.role === 'output')!.id;
      expect(await interp.read(out)).toBeAllClose(want, tol);
      const exe = await compileGraph(graph, { backend: 'cpu', name: `pool_epilogue_${c.x.join('_')}_${c.pool.join('_')}` });
      for (const [n, d] of data) exe.write(n, d);
      const [got] = await exe.run();
      expect(got).toBeAllClose(want, tol);
    });
  }
});
