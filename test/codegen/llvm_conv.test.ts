/**
 * Convolutions as implicit GEMMs on the CPU backend, with A (the input's
 * windows) read in place by the direct micro-kernel: which convolutions take
 * that path (and with which depth runs), and their outputs against the
 * interpreter for row counts that leave partial tiles and blocks, runs
 * longer than one slice, strides and dilations that keep the runs apart,
 * float64, and a deep input that is packed instead; then kernel gradients,
 * whose A (the input's windows, transposed) is read with a step of the
 * channel count.
 */
import { describe, expect, it } from 'vitest';
import { convolve, windowGeometry } from '../../ir/convolution.js';
import type { DType, TypedArray } from '../../ir/dtype.js';
import { type Graph, GraphBuilder } from '../../ir/graph.js';
import { interpret } from '../../ir/interpret.js';
import type { MatmulKernel } from '../../ir/kernel.js';
import { bIsPanel, directA } from '../../codegen/llvm/matmul_plan.js';
import { grad } from '../../passes/autodiff.js';
import { compileToProgram } from '../../passes/pipeline.js';
import { compileGraph } from '../../runtime/executor.js';
import { rng } from '../helpers/nd.js';

interface Case {
  readonly name: string;
  readonly x: [number, number, number, number];
  readonly kernel: [number, number];
  readonly filters: number;
  readonly strides?: [number, number];
  readonly dilations?: [number, number];
  readonly dtype?: 'float32' | 'float64';
  /** The panel width at which B is read in place (bIsPanel). */
  readonly panel?: number;
  /** The direct path's run length and run offsets; null: A is packed. */
  readonly runs: { seglen: number; step: number; segs: number[] } | null;
}

const CASES: Case[] = [
  // 105 rows: 17 full 6-row tiles and a partial one; runs of kernel width x channels.
  { name: '3x3 over 5 channels, 105 rows', x: [3, 9, 7, 5], kernel: [3, 3], filters: 16, runs: { seglen: 15, step: 1, segs: [0, 35, 70] } },
  // Runs of 300: one run per slice, three slices into one tile; 20 filters leave a partial column panel.
  { name: '3x3 over 100 channels', x: [2, 6, 5, 100], kernel: [3, 3], filters: 20, runs: { seglen: 300, step: 1, segs: [0, 500, 1000] } },
  // Dilation 2 keeps the kernel's columns apart: one run per tap; stride 2 leaves a remainder.
  { name: 'stride 2, dilation 2', x: [2, 12, 11, 4], kernel: [3, 2], filters: 24, strides: [2, 2], dilations: [2, 2], runs: { seglen: 4, step: 1, segs: [0, 8, 88, 96, 176, 184] } },
  // 1 channel (mnist_cnn's first layer): runs of the kernel's width; 576 rows cross the 144-row blocks and both threads.
  { name: '1 channel, 576 rows, 40 filters', x: [4, 14, 14, 1], kernel: [3, 3], filters: 40, runs: { seglen: 3, step: 1, segs: [0, 14, 28] } },
  { name: 'float64', x: [2, 7, 8, 6], kernel: [2, 3], filters: 12, dtype: 'float64', runs: { seglen: 18, step: 1, segs: [0, 48] } },
  // 64 and 32 filters: B (the kernel) is one 64- or 32-wide panel as it lies, read in place where the tile is that wide.
  { name: '3x3 over 8 channels, 64 filters', x: [2, 8, 9, 8], kernel: [3, 3], filters: 64, panel: 64, runs: { seglen: 24, step: 1, segs: [0, 72, 144] } },
  { name: '3x3 over 2 channels, 32 filters', x: [3, 7, 7, 2], kernel: [3, 3], filters: 32, panel: 32, runs: { seglen: 6, step: 1, segs: [0, 14, 28] } },
  // A channel run longer than a slice (400 > 320): A is packed.
  { name: '400 channels (packed)', x: [1, 5, 5, 400], kernel: [2, 2], filters: 9, runs: null },
];

function caseGraph(c: Case): { graph: Graph; data: Map<string, TypedArray> } {
  const dtype: DType = c.dtype ?? 'float32';
  const draw = rng(7);
  const data = new Map<string, TypedArray>();
  const b = new GraphBuilder();
  const param = (name: string, shape: number[]) => {
    const n = shape.reduce((p, q) => p * q, 1);
    const values = Array.from({ length: n }, () => draw() * 2 - 1);
    data.set(name, dtype === 'float64' ? Float64Array.from(values) : Float32Array.from(values));
    return b.param(name, shape, dtype);
  };
  const x = param('x', c.x);
  const w = param('w', [...c.kernel, c.x[3], c.filters]);
  const bias = param('bias', [c.filters]);
  const g = windowGeometry('valid', c.x.slice(1, 3), c.kernel, c.strides ?? [1, 1], c.dilations ?? [1, 1]);
  return { graph: b.build([b.maximum(b.add(convolve(b, x, w, g), bias), 0)]), data };
}

describe('implicit-GEMM convolutions with A read in place', () => {
  for (const c of CASES) {
    it(`${c.name}: ${c.runs ? `runs of ${c.runs.seglen}` : 'packed'}, outputs match the interpreter`, async () => {
      const { graph, data } = caseGraph(c);
      const matmuls = compileToProgram(graph, { name: 'conv_direct' }).program.kernels.filter((k): k is MatmulKernel => k.kind === 'matmul');
      expect(matmuls).toHaveLength(1);
      expect(directA(matmuls[0])).toEqual(c.runs);
      expect(bIsPanel(matmuls[0], c.panel ?? 64)).toBe(c.panel !== undefined);
      const exe = await compileGraph(graph, { backend: 'cpu', name: `conv_direct_${c.x.join('_')}_${c.filters}` });
      for (const [n, d] of data) exe.write(n, d);
      const [got] = await exe.run();
      const [want] = interpret(graph, data);
      expect(got).toBeAllClose(want, c.dtype === 'float64' ? { rtol: 1e-12, atol: 1e-12 } : { rtol: 1e-4, atol: 1e-5 });
    });
  }
});

describe('kernel gradients with A read in place, a step apart', () => {
  // d(sum(conv(x, w) * r))/dw: rows (window offset, channel), depth (batch, positions); x's rows of positions are runs.
  const cases = [
    { name: '3x3 over 4 channels, 16 filters', x: [3, 9, 8, 4], kernel: [3, 3], filters: 16, runs: { seglen: 6, step: 4, count: 3 * 7 } },
    { name: '3x3 over 4 channels, 64 filters: the cotangent is one 64-wide panel', x: [2, 8, 8, 4], kernel: [3, 3], filters: 64, runs: { seglen: 6, step: 4, count: 2 * 6 } },
    { name: '1 channel, 9 rows, 32 filters (deep: 8 x 26 x 26)', x: [8, 28, 28, 1], kernel: [3, 3], filters: 32, runs: { seglen: 26, step: 1, count: 8 * 26 } },
  ];
  for (const c of cases) {
    it(`${c.name}: runs of ${c.runs.seglen} a step of ${c.runs.step} apart, gradient matches the interpreter`, async () => {
      const draw = rng(11);
      const data = new Map<string, TypedArray>();
      const b = new GraphBuilder();
      const param = (name: string, shape: number[]) => {
        data.set(name, Float32Array.from({ length: shape.reduce((p, q) => p * q, 1) }, () => draw() * 2 - 1));
        return b.param(name, shape);
      };
      const x = param('x', c.x);
      const w = param('w', [...c.kernel, c.x[3], c.filters]);
      const y = convolve(b, x, w, windowGeometry('valid', c.x.slice(1, 3), c.kernel, [1, 1], [1, 1]));
      const loss = b.build([b.sum(b.mul(y, param('r', [...y.shape])))]);
      const { builder, grads } = grad(loss, 0, ['w']);
      const graph = builder.build(grads);
      const matmuls = compileToProgram(graph, { name: 'conv_dw' }).program.kernels.filter((k): k is MatmulKernel => k.kind === 'matmul');
      expect(matmuls).toHaveLength(1);
      const runs = directA(matmuls[0]);
      expect(runs && { seglen: runs.seglen, step: runs.step, count: runs.segs.length }).toEqual(c.runs);
      expect(bIsPanel(matmuls[0], c.filters)).toBe(true);
      const exe = await compileGraph(graph, { backend: 'cpu', name: `conv_dw_${c.x.join('_')}_${c.filters}` });
      for (const [n, d] of data) exe.write(n, d);
      const [got] = await exe.run();
      const [want] = interpret(graph, data);
      // Sums of up to a few thousand products of magnitude <= 1.
      expect(got).toBeAllClose(want, { rtol: 1e-4, atol: 1e-4 });
    });
  }
});
