/**
 * Every op three ways: the interpreter against the independent model in
 * helpers/nd.ts, and the compiled pipeline (kernel IR run in JS, and the
 * KILN_TEST_BACKEND backend) against the interpreter. All cases go into one
 * graph per compiled check so the native backend compiles once.
 */
import { describe, expect, it } from 'vitest';
import { type TypedArray, allocArray, isFloat } from '../../ir/dtype.js';
import { type Graph, GraphBuilder, type Value } from '../../ir/graph.js';
import { convolve, depthwiseConvolve, pool, transposedConvolve, windowGeometry } from '../../ir/convolution.js';
import { interpret } from '../../ir/interpret.js';
import { compileForTest, compileKernelInterpreted, TEST_BACKEND } from '../helpers/backend.js';
import { at, atBroadcast, broadcastShape, closeTo, indices, make, rng } from '../helpers/nd.js';
import { grad } from '../../passes/autodiff.js';
import { compileToProgram } from '../../passes/pipeline.js';
import { OP_CASES, generate } from '../helpers/op_cases.js';

const feeds = new Map<string, TypedArray>();
const next = rng(1234);
const caseInputs = OP_CASES.map((c, ci) => c.inputs.map((spec, i) => {
  const name = `c${ci}_${i}`;
  const values = generate(spec, next);
  const data = allocArray(spec.dtype, values.length);
  data.set(values);
  feeds.set(name, data);
  return { name, spec };
}));

function caseGraph(ci: number): Graph {
  const b = new GraphBuilder();
  const xs = caseInputs[ci].map(({ name, spec }) => b.param(name, spec.shape, spec.dtype));
  return b.build([OP_CASES[ci].build(b, xs)]);
}

function allCasesGraph(): Graph {
  const b = new GraphBuilder();
  const outs = OP_CASES.map((c, ci) => c.build(b, caseInputs[ci].map(({ name, spec }) => b.param(name, spec.shape, spec.dtype))));
  return b.build(outs);
}

const tolerance = (dtype: string): [number, number] => (isFloat(dtype as never) ? [2e-5, 2e-6] : [0, 0]);

describe('interpreter vs independent reference', () => {
  it.each(OP_CASES.map((c, i) => [c.name, i] as const))('%s', (_name, ci) => {
    const c = OP_CASES[ci];
    const g = caseGraph(ci);
    const [got] = interpret(g, feeds);
    const want = c.ref(caseInputs[ci].map(({ name, spec }) => ({ shape: spec.shape, data: feeds.get(name)! })));
    const [rtol, atol] = c.tol ?? tolerance(g.nodes[g.outputs[0]].type.dtype);
    expect(got).toBeAllClose(want.data, { rtol, atol });
  });
});

async function checkCompiled(compile: (g: Graph) => Promise<{ write: (n: string, d: TypedArray) => void; run: () => Promise<TypedArray[]> }>): Promise<string[]> {
  const g = allCasesGraph();
  const want = interpret(g, feeds);
  const exe = await compile(g);
  for (const [name, data] of feeds) exe.write(name, data);
  const got = await exe.run();
  return OP_CASES.flatMap((c, i) => {
    const [rtol, atol] = c.tol ?? tolerance(g.nodes[g.outputs[i]].type.dtype);
    const err = closeTo(got[i], want[i], rtol, atol);
    return err ? [`${c.name}: ${err}`] : [];
  });
}

describe('compiled pipeline vs interpreter', () => {
  it('kernel IR executed in JS', async () => {
    expect(await checkCompiled((g) => compileKernelInterpreted(g, 'ops'))).toEqual([]);
  });
  it(`backend '${TEST_BACKEND}'`, async () => {
    expect(await checkCompiled((g) => compileForTest(g, 'ops'))).toEqual([]);
  });
});

describe('random shapes with broadcasting', () => {
  const OPS = ['add', 'sub', 'mul', 'div', 'maximum', 'minimum', 'gt', 'pow'] as const;
  const REF: Record<(typeof OPS)[number], (a: number, b: number) => number> = {
    add: (a, b) => a + b, sub: (a, b) => a - b, mul: (a, b) => a * b, div: (a, b) => a / b,
    maximum: Math.max, minimum: Math.min, gt: (a, b) => +(a > b), pow: (a, b) => a ** b,
  };
  const draw = rng(777);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(draw() * xs.length)];
  const cases = Array.from({ length: 24 }, (_, i) => {
    const rank = 1 + Math.floor(draw() * 4);
    const full = Array.from({ length: rank }, () => pick([1, 2, 3, 5, 7, 13]));
    const a = full.map((d) => (draw() < 0.3 ? 1 : d));
    const b = full.slice(Math.floor(draw() * rank)).map((d) => (draw() < 0.3 ? 1 : d));
    const op = OPS[i % OPS.length];
    const gen = (shape: number[]): Float32Array => Float32Array.from({ length: shape.reduce((p, q) => p * q, 1) }, () => (op === 'pow' || op === 'div' ? 0.5 + draw() : draw() * 4 - 2));
    return { op, a, b, da: gen(a), db: gen(b) };
  });
  const b = new GraphBuilder();
  const outs = cases.map((c, i) => b.binary(c.op, b.param(`a${i}`, c.a), b.param(`b${i}`, c.b)));
  const graph = b.build(outs);
  const feeds = new Map<string, TypedArray>(cases.flatMap((c, i) => [[`a${i}`, c.da], [`b${i}`, c.db]] as [string, TypedArray][]));
  const want = interpret(graph, feeds);

  it('interpreter matches the independent reference', () => {
    cases.forEach((c, i) => {
      const shape = broadcastShape(c.a, c.b);
      const ref = make(shape, (idx) => REF[c.op](atBroadcast({ shape: c.a, data: c.da }, idx), atBroadcast({ shape: c.b, data: c.db }, idx)));
      expect(want[i], `${c.op} [${c.a}] [${c.b}]`).toBeAllClose(ref.data, { rtol: 2e-5, atol: 2e-6 });
    });
  });

  it(`backend '${TEST_BACKEND}' matches the interpreter`, async () => {
    const exe = await compileForTest(graph, 'broadcast');
    for (const [name, data] of feeds) exe.write(name, data);
    const got = await exe.run();
    cases.forEach((c, i) => expect(got[i], `${c.op} [${c.a}] [${c.b}]`).toBeAllClose(want[i], { rtol: 2e-5, atol: 2e-6 }));
  });
});

describe('pads and windows over random shapes, empty valid ranges included', () => {
  const draw = rng(4242);
  const int = (lo: number, hi: number): number => lo + Math.floor(draw() * (hi - lo + 1));
  const cases = Array.from({ length: 30 }, (_, i) => {
    const rank = int(1, 3);
    // An extent of 0 leaves nothing valid; pads up to 4 leave windows that see only padding.
    const shape = Array.from({ length: rank }, () => (i % 10 === 9 ? int(0, 1) : int(1, 6)));
    const low = shape.map(() => int(0, 4));
    const high = shape.map(() => int(0, 4));
    const padded = shape.map((d, a) => d + low[a] + high[a]);
    const dilations = padded.map(() => int(1, 2));
    const size = padded.map((n, a) => Math.max(1, Math.min(int(1, 3), Math.floor((n - 1) / dilations[a]) + 1)));
    const strides = padded.map(() => int(1, 3));
    const value = [0, -1.5, 2][i % 3];
    const data = Float32Array.from({ length: shape.reduce((p, q) => p * q, 1) }, () => draw() * 4 - 2);
    return { shape, low, high, size, strides, dilations, value, data };
  });
  const b = new GraphBuilder();
  const windows = cases.map((c, i) => b.window(b.pad(b.param(`x${i}`, c.shape), c.low, c.high, c.value), c.size, c.strides, c.dilations));
  // Each window's offsets summed (a convolution with a kernel of ones), and the windows themselves.
  const sums = windows.map((w) => b.sum(w, w.shape.map((_, a) => a).slice(w.shape.length / 2)));
  const graph = b.build([...windows, ...sums]);
  const feeds = new Map<string, TypedArray>(cases.map((c, i) => [`x${i}`, c.data]));
  const want = interpret(graph, feeds);

  it('the interpreter matches the definition x[o * stride + k * dilation - low], else the pad value', () => {
    cases.forEach((c, i) => {
      const r = c.shape.length;
      const ref = make(windows[i].shape, (idx) => {
        const src = c.shape.map((_, a) => idx[a] * c.strides[a] + idx[r + a] * c.dilations[a] - c.low[a]);
        return src.every((v, a) => v >= 0 && v < c.shape[a]) ? at({ shape: c.shape, data: c.data }, src) : c.value;
      });
      expect(want[i], JSON.stringify({ ...c, data: undefined })).toBeAllClose(ref.data, { rtol: 0, atol: 0 });
    });
  });

  const check = async (compile: (g: Graph) => Promise<{ write: (n: string, d: TypedArray) => void; run: () => Promise<TypedArray[]> }>, g: Graph, expected: TypedArray[]): Promise<void> => {
    const exe = await compile(g);
    for (const [name, data] of feeds) exe.write(name, data);
    if (g !== graph) for (const [name, data] of gradFeeds) exe.write(name, data);
    const got = await exe.run();
    expected.forEach((w, i) => expect(got[i], `output ${i}`).toBeAllClose(w, { rtol: 2e-5, atol: 2e-6 }));
  };
  it('the kernel IR run in JS matches the interpreter', () => check((g) => compileKernelInterpreted(g, 'windows'), graph, want));
  it(`backend '${TEST_BACKEND}' matches the interpreter`, () => check((g) => compileForTest(g, 'windows'), graph, want));

  // Gradients: loss = sum(window(pad(x)) * r) for every case, differentiated by autodiff (window's vjp scatters with pads).
  const gb = new GraphBuilder();
  const terms = cases.map((c, i) => {
    const w = gb.window(gb.pad(gb.param(`x${i}`, c.shape), c.low, c.high, c.value), c.size, c.strides, c.dilations);
    return gb.sum(gb.mul(w, gb.param(`r${i}`, w.shape)));
  });
  const lossGraph = gb.build([terms.reduce((s, t) => gb.add(s, t))]);
  const gradFeeds = new Map<string, TypedArray>(cases.map((_, i) => [`r${i}`, Float32Array.from({ length: windows[i].shape.reduce((p, q) => p * q, 1) }, () => draw() - 0.5)]));
  const { builder, grads } = grad(lossGraph, 0, cases.map((_, i) => `x${i}`));
  const gradGraph = builder.build(grads);
  const gradWant = interpret(gradGraph, new Map([...feeds, ...gradFeeds]));
  it('window gradients: each input element gets the cotangents of the window slots that read it', () => {
    cases.forEach((c, i) => {
      const r = c.shape.length;
      const ref = new Float64Array(c.data.length);
      const cot = gradFeeds.get(`r${i}`)!;
      indices(windows[i].shape).forEach((idx, flat) => {
        const src = c.shape.map((_, a) => idx[a] * c.strides[a] + idx[r + a] * c.dilations[a] - c.low[a]);
        if (src.every((v, a) => v >= 0 && v < c.shape[a])) ref[src.reduce((f, v, a) => f * c.shape[a] + v, 0)] += cot[flat];
      });
      expect(gradWant[i], `case ${i}`).toBeAllClose(ref, { rtol: 1e-5, atol: 1e-6 });
    });
  });
  it(`window gradients on backend '${TEST_BACKEND}' match the interpreter`, () => check((g) => compileForTest(g, 'window_grads'), gradGraph, gradWant));
});

describe('convolutions and pools compiled, with their gradients', () => {
  // The interpreter is checked against naive loops in test/ir/convolution.test.ts; here the backends follow it.
  const draw = rng(99);
  const b = new GraphBuilder();
  const data = new Map<string, TypedArray>();
  const param = (name: string, shape: number[]): Value => {
    data.set(name, Float32Array.from({ length: shape.reduce((p, q) => p * q, 1) }, () => draw() * 2 - 1));
    return b.param(name, shape);
  };
  const x = param('x', [2, 9, 8, 3]);
  const x1 = param('x1', [3, 11, 2]);
  const outs = [
    convolve(b, x, param('k_same', [4, 3, 3, 5]), windowGeometry('same', [9, 8], [4, 3], [2, 3], [1, 1])),
    convolve(b, x, param('k_dil', [3, 3, 3, 2]), windowGeometry('valid', [9, 8], [3, 3], [1, 1], [2, 2])),
    convolve(b, x1, param('k_causal', [3, 2, 4]), windowGeometry('causal', [11], [3], [1], [2])),
    depthwiseConvolve(b, x, param('k_dw', [3, 3, 3, 2]), windowGeometry('same', [9, 8], [3, 3], [2, 2], [1, 1])),
    pool(b, x, 'max', windowGeometry('same', [9, 8], [3, 3], [2, 2], [1, 1])),
    pool(b, x, 'avg', windowGeometry('same', [9, 8], [2, 3], [2, 2], [1, 1])),
    transposedConvolve(b, param('xt', [2, 5, 4, 3]), param('k_t', [3, 3, 2, 3]), windowGeometry('same', [10, 8], [3, 3], [2, 2], [1, 1]), [10, 8]),
    // Wide enough to run as implicit GEMMs on the micro-kernel (passes/contraction.ts), gradients included.
    convolve(b, x, param('k_gemm', [3, 3, 3, 16]), windowGeometry('same', [9, 8], [3, 3], [2, 1], [1, 1])),
    convolve(b, param('x_deep', [3, 7, 6, 9]), param('k_deep', [2, 3, 9, 12]), windowGeometry('valid', [7, 6], [2, 3], [1, 1], [2, 1])),
    transposedConvolve(b, param('xt_deep', [2, 4, 3, 10]), param('k_t_deep', [3, 3, 4, 10]), windowGeometry('valid', [9, 7], [3, 3], [2, 2], [1, 1]), [9, 7]),
  ];
  const forward = b.build(outs);
  const loss = b.build([outs.map((o, i) => b.sum(b.mul(o, param(`r${i}`, [...o.shape])))).reduce((p, q) => b.add(p, q))]);
  const wrt = ['x', 'x1', 'k_same', 'k_dil', 'k_causal', 'k_dw', 'xt', 'k_t', 'k_gemm', 'x_deep', 'k_deep', 'xt_deep', 'k_t_deep'];
  const { builder, grads } = grad(loss, 0, wrt);
  const backward = builder.build(grads);

  const check = async (compile: (g: Graph, name: string) => Promise<{ write: (n: string, d: TypedArray) => void; run: () => Promise<TypedArray[]> }>, g: Graph, name: string): Promise<void> => {
    const want = interpret(g, data);
    const exe = await compile(g, name);
    const params = new Set(g.nodes.flatMap((n) => (n.op === 'param' ? [(n.attrs as { name: string }).name] : [])));
    for (const [n, d] of data) if (params.has(n)) exe.write(n, d);
    const got = await exe.run();
    // Sums of up to a few hundred float32 products of magnitude <= 1.
    want.forEach((w, i) => expect(got[i], `${name} output ${i}`).toBeAllClose(w, { rtol: 1e-4, atol: 1e-5 }));
  };
  it('the wide ones compile to matmuls with several row and depth dims, some with masked operands', async () => {
    const matmuls = compileToProgram(backward, { name: 'conv_grad_kinds' }).program.kernels.filter((k) => k.kind === 'matmul');
    expect(matmuls.filter((k) => k.kind === 'matmul' && k.mDims && k.kDims).length).toBeGreaterThanOrEqual(3);
    // Strided scatters read their cotangent through plain strided views (ir/vjp.ts); same padding still masks.
    expect(matmuls.some((k) => k.kind === 'matmul' && k.mDims && k.kDims && k.a.mask)).toBe(true);
  });
  it('forward: the kernel IR run in JS', () => check(compileKernelInterpreted, forward, 'conv_fwd'));
  it(`forward: backend '${TEST_BACKEND}'`, () => check(compileForTest, forward, 'conv_fwd'));
  it('gradients: the kernel IR run in JS', () => check(compileKernelInterpreted, backward, 'conv_grad'));
  it(`gradients: backend '${TEST_BACKEND}'`, () => check(compileForTest, backward, 'conv_grad'));
});

it('toBeAllClose rejects values outside the tolerance', () => {
  expect([1, 2]).not.toBeAllClose([1, 2.001], { rtol: 1e-5, atol: 1e-6 });
  expect([1, NaN]).toBeAllClose([1, NaN]);
});
