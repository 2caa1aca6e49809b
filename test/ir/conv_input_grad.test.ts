/**
 * A convolution's input gradient (and a transposed convolution) is one
 * contraction over (window offset, filter), strided ones with the phase as
 * one more column axis (ir/window_vjp.ts): checked
 * against float64 finite differences, the compiled kernels against the
 * tensor interpreter, and the programs for the absence of any buffer as
 * large as the im2col tensor the scatter used to need.
 */
import { describe, expect, it } from 'vitest';
import { type Graph, GraphBuilder, type Value } from '../../ir/graph.js';
import { type PaddingMode, type WindowGeometry, convolve, depthwiseConvolve, transposedConvolve, windowGeometry, windowOutput } from '../../ir/convolution.js';
import { interpret } from '../../ir/interpret.js';
import { grad } from '../../passes/autodiff.js';
import { compileToProgram } from '../../passes/pipeline.js';
import { Sequential, layers, optimizers } from '../../src/index.js';
import { trainGraph } from '../../src/training/programs.js';
import { Trainer } from '../../src/training/trainer.js';
import { compileKernelInterpreted } from '../helpers/backend.js';
import { expectGradientsMatch } from '../helpers/finite_differences.js';
import { rng } from '../helpers/nd.js';

const draw = rng(1717);
const product = (s: readonly number[]): number => s.reduce((p, q) => p * q, 1);
const values = (n: number): number[] => Array.from({ length: n }, () => draw() * 2 - 1);

interface Case {
  readonly name: string;
  readonly x: number[];
  readonly k: number[];
  readonly mode: PaddingMode;
  readonly dilations: number[];
  readonly kind: 'conv' | 'depthwise' | 'transposed';
  /** Default 1 on every spatial axis. */
  readonly strides?: number[];
}

const CASES: readonly Case[] = [
  { name: 'Conv1D causal, dilation 2', x: [2, 9, 3], k: [3, 3, 4], mode: 'causal', dilations: [2], kind: 'conv' },
  { name: 'Conv2D same, even kernel', x: [2, 7, 6, 2], k: [2, 4, 2, 3], mode: 'same', dilations: [1, 1], kind: 'conv' },
  { name: 'Conv2D valid, dilation (2, 1)', x: [1, 8, 7, 3], k: [3, 2, 3, 2], mode: 'valid', dilations: [2, 1], kind: 'conv' },
  { name: 'Conv2D full, one channel', x: [2, 5, 5, 1], k: [3, 3, 1, 2], mode: 'full', dilations: [1, 1], kind: 'conv' },
  { name: 'Conv3D same', x: [1, 4, 5, 3, 2], k: [2, 3, 2, 2, 3], mode: 'same', dilations: [1, 1, 1], kind: 'conv' },
  { name: 'Conv2D with a 1-wide kernel axis', x: [2, 6, 5, 2], k: [3, 1, 2, 3], mode: 'same', dilations: [1, 1], kind: 'conv' },
  { name: 'DepthwiseConv2D same', x: [1, 6, 5, 3], k: [3, 3, 3, 2], mode: 'same', dilations: [1, 1], kind: 'depthwise' },
  { name: 'Conv2DTranspose valid', x: [2, 4, 3, 3], k: [3, 2, 2, 3], mode: 'valid', dilations: [1, 1], kind: 'transposed' },
  { name: 'Conv2DTranspose same, dilation 2', x: [1, 5, 4, 2], k: [3, 3, 3, 2], mode: 'same', dilations: [2, 2], kind: 'transposed' },
  { name: 'Conv2D same, stride 2, odd input', x: [2, 7, 6, 2], k: [3, 3, 2, 3], mode: 'same', dilations: [1, 1], strides: [2, 2], kind: 'conv' },
  { name: 'Conv1D valid, stride 3 that does not divide', x: [2, 13, 2], k: [4, 2, 3], mode: 'valid', dilations: [1], strides: [3], kind: 'conv' },
  { name: 'Conv2D stride larger than the kernel', x: [1, 9, 8, 2], k: [2, 3, 2, 2], mode: 'valid', dilations: [1, 1], strides: [3, 4], kind: 'conv' },
  { name: 'Conv2D strided along the first axis', x: [2, 9, 7, 2], k: [3, 2, 2, 3], mode: 'same', dilations: [1, 1], strides: [2, 1], kind: 'conv' },
  { name: 'Conv2D strided along the last axis', x: [2, 6, 9, 2], k: [2, 3, 2, 3], mode: 'same', dilations: [1, 1], strides: [1, 2], kind: 'conv' },
  { name: 'Conv3D strides (2, 1, 2), same, even kernel', x: [1, 5, 4, 6, 2], k: [2, 3, 4, 2, 2], mode: 'same', dilations: [1, 1, 1], strides: [2, 1, 2], kind: 'conv' },
  { name: 'DepthwiseConv2D stride 2', x: [1, 7, 7, 2], k: [3, 3, 2, 2], mode: 'same', dilations: [1, 1], strides: [2, 2], kind: 'depthwise' },
  { name: 'Conv2DTranspose same, stride 2', x: [2, 3, 4, 3], k: [3, 3, 2, 3], mode: 'same', dilations: [1, 1], strides: [2, 2], kind: 'transposed' },
  { name: 'Conv2DTranspose valid, strides (2, 3)', x: [1, 3, 2, 2], k: [4, 2, 3, 2], mode: 'valid', dilations: [1, 1], strides: [2, 3], kind: 'transposed' },
  { name: 'Conv1DTranspose-shaped, stride 2', x: [2, 5, 3], k: [3, 2, 3], mode: 'same', dilations: [1], strides: [2], kind: 'transposed' },
];

/** The case's op on x and kernel, and the number of elements its im2col tensor would have. */
function build(c: Case, b: GraphBuilder, x: Value, k: Value): { y: Value; im2col: number } {
  const s = c.x.length - 2;
  const size = c.k.slice(0, s);
  const spatial = c.x.slice(1, 1 + s);
  const strides = c.strides ?? size.map(() => 1);
  if (c.kind === 'transposed') {
    // Keras's deconv_length: the input times the stride (same), plus what the kernel's span reaches past it (valid).
    const out = spatial.map((n, a) => n * strides[a] + (c.mode === 'same' ? 0 : Math.max((size[a] - 1) * c.dilations[a] + 1 - strides[a], 0)));
    const g = windowGeometry(c.mode, out, size, strides, c.dilations);
    return { y: transposedConvolve(b, x, k, g, out), im2col: c.x[0] * product(spatial) * product(size) * c.k[s] };
  }
  const g: WindowGeometry = windowGeometry(c.mode, spatial, size, strides, c.dilations);
  const im2col = c.x[0] * product(windowOutput(spatial, g)) * product(size) * c.x[s + 1];
  return { y: c.kind === 'conv' ? convolve(b, x, k, g) : depthwiseConvolve(b, x, k, g), im2col };
}

/** sum(act(op(x, k)) * r): with `relu`, the cotangent reaching the op is computed (a select), as in a network. */
function lossGraph(c: Case, dtype: 'float32' | 'float64', relu: boolean): { graph: Graph; feeds: Record<string, number[]>; im2col: number; ySize: number } {
  const b = new GraphBuilder();
  const x = b.param('x', c.x, dtype);
  const k = b.param('k', c.k, dtype);
  const { y, im2col } = build(c, b, x, k);
  const r = b.param('r', y.shape, dtype);
  const graph = b.build([b.sum(b.mul(relu ? b.maximum(y, 0) : y, r))]);
  const feeds = { x: values(product(c.x)), k: values(product(c.k)), r: values(product(y.shape)) };
  return { graph, feeds, im2col, ySize: product(y.shape) };
}

describe('input gradients as one contraction', () => {
  it.each(CASES.map((c) => [c.name, c] as const))('%s: gradients match finite differences', (_name, c) => {
    const { graph, feeds } = lossGraph(c, 'float64', false);
    expectGradientsMatch(graph, Object.fromEntries(Object.entries(feeds).map(([n, v]) => [n, Float64Array.from(v)])), ['x', 'k'], { rtol: 1e-6, atol: 1e-8, nonTrivial: true });
  });

  it.each(CASES.map((c) => [c.name, c] as const))('%s: no temporary is im2col-sized, no slabs are added; the compiled gradients match the interpreter', async (_name, c) => {
    const { graph, feeds, im2col, ySize } = lossGraph(c, 'float32', true);
    const { builder, grads } = grad(graph, 0, ['x', 'k']);
    const backward = builder.build(grads);
    // A transposed convolution's own input gradient is a forward convolution (computed here over its padded
    // extent, then cut): its forward program is the one the scatter used to fill an im2col tensor for.
    const { program } = compileToProgram(c.kind === 'transposed' ? graph : backward, { name: 'g' });
    // With strides as large as the kernel the im2col tensor is no larger than x or y: then no slabs are added up either.
    const largest = Math.max(0, ...program.buffers.filter((buf) => buf.role === 'temp').map((buf) => buf.size));
    if (im2col > Math.max(product(c.x), ySize)) expect(largest, `largest temporary ${largest} elements, im2col ${im2col}`).toBeLessThan(im2col);
    expect(program.kernels.map((k) => k.name).filter((name) => name.endsWith('_add'))).toEqual([]);
    const data = Object.fromEntries(Object.entries(feeds).map(([n, v]) => [n, Float32Array.from(v)]));
    const want = interpret(backward, data);
    const exe = await compileKernelInterpreted(backward, 'conv_input_grad');
    for (const [name, d] of Object.entries(data)) exe.write(name, d);
    const got = await exe.run();
    want.forEach((w, i) => expect(got[i], `gradient ${i}`).toBeAllClose(w, { rtol: 1e-4, atol: 1e-5 }));
  });

  it('a wide one lowers onto the matmul kernels: dy padded once, read in place, the kernel flipped', () => {
    const c: Case = { name: 'wide', x: [4, 12, 12, 16], k: [3, 3, 16, 32], mode: 'valid', dilations: [1, 1], kind: 'conv' };
    const { graph } = lossGraph(c, 'float32', true);
    const { builder, grads } = grad(graph, 0, ['x']);
    const { program } = compileToProgram(builder.build(grads), { name: 'g' });
    const matmuls = program.kernels.filter((k) => k.kind === 'matmul');
    // Rows (batch, 12, 12), columns the 16 input channels, depth (3, 3, 32 filters).
    // The forward convolution (the relu's mask needs it), then the input gradient.
    expect(matmuls.map((k) => k.kind === 'matmul' && `${k.m}x${k.k} @ ${k.k}x${k.n} mDims=[${k.mDims}] kDims=[${k.kDims}] masked=${!!k.a.mask}`)).toEqual([
      '400x144 @ 144x32 mDims=[4,10,10] kDims=[3,3,16] masked=false',
      '576x288 @ 288x16 mDims=[4,12,12] kDims=[3,3,32] masked=false',
    ]);
    expect(program.kernels.some((k) => k.kind === 'loop' && k.outer.join() === '4,14,14,1,1,1,32')).toBe(true);
    const mm = matmuls[1];
    // The flipped kernel: window offsets walk the weights backwards.
    expect(mm.kind === 'matmul' && mm.b.view.strides.slice(0, 2).every((st) => st < 0)).toBe(true);
  });

  it('a strided one (stride 2 along the last axis) lowers onto the matmul kernels, the phase a column axis beside the channels', () => {
    const c: Case = { name: 'strided', x: [4, 9, 12, 16], k: [3, 3, 16, 32], mode: 'same', dilations: [1, 1], strides: [1, 2], kind: 'conv' };
    const { graph } = lossGraph(c, 'float32', true);
    const { builder, grads } = grad(graph, 0, ['x']);
    const { program } = compileToProgram(builder.build(grads), { name: 'g' });
    const last = program.kernels[program.kernels.length - 1];
    // Rows (batch, 11 rows: 9 and the 'same' padding, which the merge of phases keeps the cut from sinking into; 7 column pairs,
    // the last one cut); columns (2 phases, 16 channels); depth (3, 2 taps, 32 filters). Then the cut, a copy into the output.
    const mm = program.kernels.find((k) => k.kind === 'matmul' && k.name.includes('reduce_sum'));
    expect(mm?.kind === 'matmul' && `${mm.m}x${mm.k} @ ${mm.k}x${mm.n} mDims=[${mm.mDims}] kDims=[${mm.kDims}]`).toBe('308x192 @ 192x32 mDims=[4,11,7] kDims=[3,2,32]');
    expect(last.kind === 'loop' && last.name).toContain('slice');
  });

  it("a 'same' one is computed over the input, not over the padded extent its pad's vjp cuts (passes/simplify.ts)", () => {
    const c: Case = { name: 'same', x: [4, 12, 12, 16], k: [3, 3, 16, 32], mode: 'same', dilations: [1, 1], kind: 'conv' };
    const { graph } = lossGraph(c, 'float32', true);
    const { builder, grads } = grad(graph, 0, ['x']);
    const { program } = compileToProgram(builder.build(grads), { name: 'g' });
    const last = program.kernels[program.kernels.length - 1];
    expect(last.kind === 'matmul' && `${last.m}x${last.k} @ ${last.k}x${last.n} mDims=[${last.mDims}] masked=${!!last.a.mask}`).toBe('576x288 @ 288x16 mDims=[4,12,12] masked=false');
  });
});

describe('a training step of a convolutional network', () => {
  it('has no buffer as large as the im2col tensor of its convolution\'s input gradient', () => {
    const net = new Sequential([
      new layers.Conv2D(8, 3, { inputShape: [10, 10, 2], activation: 'relu' }),
      new layers.Conv2D(16, 3, { padding: 'same', activation: 'relu' }),
      new layers.Flatten(),
      new layers.Dense(3, { activation: 'softmax' }),
    ]);
    const setup = new Trainer(net as never, { loss: 'categorical_crossentropy', optimizer: new optimizers.SGD({ lr: 0.1 }) as never } as never).setup;
    const batch = 4;
    const { program } = compileToProgram(trainGraph(net as never, batch, [[3]], setup), { name: 't' });
    // The second convolution's input gradient once scattered from [4, 8, 8, 3, 3, 8] (the first's is not needed).
    const im2col = batch * 8 * 8 * 3 * 3 * 8;
    const largest = program.buffers.reduce((m, buf) => (buf.size > m.size ? buf : m));
    expect(largest.size, `${largest.name} [${largest.shape.join(', ')}]`).toBeLessThan(im2col);
    expect(program.kernels.filter((k) => k.kind === 'matmul').length).toBeGreaterThanOrEqual(5);
  });
});
