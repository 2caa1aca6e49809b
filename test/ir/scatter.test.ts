/**
 * scatter_add (ir/scatter.ts) and its kernel form, the scatter store: the
 * interpreter against an independent reference over random shapes with
 * repeated and out-of-range indices, the compiled pipeline (kernel IR in JS
 * and the KILN_TEST_BACKEND backend) against the interpreter, its vjp and
 * gather's against float64 finite differences, verifier invariant K9 broken
 * rule by rule, and gather's gradient free of any O(rows x indices) work.
 */
import { describe, expect, it } from 'vitest';
import type { TypedArray } from '../../ir/dtype.js';
import { type Graph, GraphBuilder } from '../../ir/graph.js';
import { interpret } from '../../ir/interpret.js';
import type { KernelProgram, LoopKernel, Store } from '../../ir/kernel.js';
import { verifyProgram } from '../../ir/verify.js';
import { grad } from '../../passes/autodiff.js';
import { lower } from '../../passes/lower.js';
import { compileToProgram } from '../../passes/pipeline.js';
import { flatKernels } from '../../ir/repeat.js';
import { compileForTest, compileKernelInterpreted, TEST_BACKEND } from '../helpers/backend.js';
import { rng } from '../helpers/nd.js';

interface Case {
  readonly rows: number;
  readonly indexShape: number[];
  readonly rest: number[];
  readonly indices: Int32Array;
  readonly updates: Float32Array;
}

const draw = rng(2027);
const int = (lo: number, hi: number): number => lo + Math.floor(draw() * (hi - lo + 1));
const size = (s: readonly number[]): number => s.reduce((p, q) => p * q, 1);

// Few rows and many indices, so rows repeat; some indices fall outside [0, rows) and clamp.
const CASES: Case[] = Array.from({ length: 16 }, (_, i) => {
  const rows = int(1, 7);
  const indexShape = Array.from({ length: int(1, 2) }, () => int(1, 9));
  const rest = i === 0 ? [] : i === 1 ? [130] : Array.from({ length: int(1, 2) }, () => int(1, 21));
  const indices = Int32Array.from({ length: size(indexShape) }, () => (draw() < 0.1 ? int(-3, rows + 3) : int(0, rows - 1)));
  const updates = Float32Array.from({ length: size(indexShape) * size(rest) }, () => draw() * 4 - 2);
  return { rows, indexShape, rest, indices, updates };
});
// One case big enough to run on the native thread pool (> 2^15 points), with a row that is not a multiple of a slice.
CASES.push((() => {
  const indexShape = [12, 25];
  const rest = [130];
  const indices = Int32Array.from({ length: 300 }, () => int(0, 49));
  return { rows: 50, indexShape, rest, indices, updates: Float32Array.from({ length: 300 * 130 }, () => draw() * 4 - 2) };
})());

/** out[clamp(i)] += u[i], in float64: a model written from the definition, sharing nothing with ir/scatter.ts. */
function reference(c: Case): Float64Array {
  const row = size(c.rest);
  const out = new Float64Array(c.rows * row);
  c.indices.forEach((raw, i) => {
    const r = raw < 0 ? 0 : raw >= c.rows ? c.rows - 1 : raw;
    for (let k = 0; k < row; k++) out[r * row + k] += c.updates[i * row + k];
  });
  return out;
}

function casesGraph(): { graph: Graph; feeds: Map<string, TypedArray> } {
  const b = new GraphBuilder();
  const feeds = new Map<string, TypedArray>();
  const outs = CASES.map((c, i) => {
    feeds.set(`i${i}`, c.indices);
    feeds.set(`u${i}`, c.updates);
    return b.scatterAdd(b.param(`i${i}`, c.indexShape, 'int32'), b.param(`u${i}`, [...c.indexShape, ...c.rest]), c.rows);
  });
  return { graph: b.build(outs), feeds };
}

describe('scatter_add over random shapes, repeated and clamped indices', () => {
  const { graph, feeds } = casesGraph();
  const want = interpret(graph, feeds);

  it('the interpreter matches the definition', () => {
    CASES.forEach((c, i) => {
      expect(Array.from(graph.nodes[graph.outputs[i]].type.shape), `case ${i}`).toEqual([c.rows, ...c.rest]);
      expect(want[i], `case ${i} rows ${c.rows} indices [${c.indexShape}] rest [${c.rest}]`).toBeAllClose(reference(c), { rtol: 1e-5, atol: 1e-5 });
    });
  });

  // Each element sums its updates in index order on every backend, so float32 results agree exactly.
  for (const [label, compile] of [['kernel IR in JS', compileKernelInterpreted], [`backend '${TEST_BACKEND}'`, compileForTest]] as const) {
    it(`${label} matches the interpreter exactly`, async () => {
      const exe = await compile(graph, 'scatter');
      for (const [name, data] of feeds) exe.write(name, data);
      const got = await exe.run();
      CASES.forEach((c, i) => expect(got[i], `case ${i} rows ${c.rows} indices [${c.indexShape}] rest [${c.rest}]`).toBeAllClose(want[i], { rtol: 0, atol: 0 }));
    });
  }
});

describe('vjps against central finite differences (float64)', () => {
  const check = (build: (b: GraphBuilder, x: ReturnType<GraphBuilder['param']>) => ReturnType<GraphBuilder['param']>, shape: number[]): void => {
    const next = rng(5);
    const b = new GraphBuilder();
    const x = b.param('x', shape, 'float64');
    const y = build(b, x);
    const r = b.param('r', y.shape, 'float64');
    const graph = b.build([b.sum(b.mul(y, r))]);
    const feeds: Record<string, Float64Array> = {
      x: Float64Array.from({ length: size(shape) }, () => next() * 4 - 2),
      r: Float64Array.from({ length: size(y.shape) }, () => next() - 0.5),
    };
    const { builder, grads } = grad(graph, 0, ['x']);
    const [analytic] = interpret(builder.build(grads), feeds);
    const f = (xs: Float64Array): number => interpret(graph, { ...feeds, x: xs })[0][0];
    const h = 1e-6;
    const numeric = Array.from(feeds.x, (_, k) => {
      const plus = feeds.x.slice();
      const minus = feeds.x.slice();
      plus[k] += h;
      minus[k] -= h;
      return (f(plus) - f(minus)) / (2 * h);
    });
    expect(analytic).toBeAllClose(numeric, { rtol: 1e-5, atol: 1e-6 });
  };
  const ids = (b: GraphBuilder, values: number[], shape: number[]): ReturnType<GraphBuilder['param']> => {
    const parts = values.map((v) => b.constant(v, [1], 'int32'));
    return b.reshape(b.concat(parts, 0), shape);
  };

  it('scatter_add: the updates\' cotangent gathers the rows they went to (clamped ones too)', () => {
    check((b, x) => b.scatterAdd(ids(b, [2, 0, 2, 9, -1, 1], [2, 3]), x, 4), [2, 3, 5]);
  });
  it('gather on axis 0 with repeated rows (an Embedding lookup)', () => {
    check((b, x) => b.gather(x, ids(b, [3, 1, 3, 3, 0, 1], [3, 2]), 0), [5, 4]);
  });
  it('gather on a middle axis with repeated and clamped indices', () => {
    check((b, x) => b.gather(x, ids(b, [1, 4, 1, 7], [2, 2]), 1), [2, 5, 3]);
  });
});

describe('gather\'s gradient scatters into the rows used', () => {
  // An Embedding of 20000 x 16 read at 2 x 40 ids: the gradient lowers to a zero fill of the table and a scatter over the ids.
  const V = 20000;
  const D = 16;
  const b = new GraphBuilder();
  const table = b.param('table', [V, D], 'float32', 'weight');
  const ids = b.param('ids', [2, 40], 'int32');
  const graph = b.build([b.sum(b.unary('tanh', b.gather(table, ids, 0)))]);
  const { builder, grads } = grad(graph, 0, ['table']);
  const { program } = compileToProgram(builder.build(grads), { name: 'embedding_grad' });

  it('no kernel does O(rows x ids) work, and one scatter store does the sums', () => {
    const kernels = flatKernels(program.kernels);
    const points = (k: (typeof kernels)[number]): number => (k.kind === 'matmul' ? k.m * k.n * k.k * size(k.batch) : size([...k.outer, ...k.inner]));
    expect(Math.max(...kernels.map(points))).toBeLessThanOrEqual(V * D);
    expect(kernels.some((k) => k.kind === 'matmul')).toBe(false);
    const scatters = kernels.filter((k): k is LoopKernel => k.kind === 'loop' && k.stores.some((s) => s.scatter));
    expect(scatters.map((k) => [k.outer, k.inner])).toEqual([[[D], [80]]]);
  });
});

describe('K9 scatter stores', () => {
  const program = (): KernelProgram => {
    const b = new GraphBuilder();
    return lower(b.build([b.scatterAdd(b.param('i', [6], 'int32'), b.param('u', [6, 4]), 3)]), 'p');
  };
  const withScatter = (change: (s: Store, k: LoopKernel) => Partial<LoopKernel>): KernelProgram => {
    const p = program();
    return { ...p, kernels: p.kernels.map((k) => (k.kind === 'loop' && k.stores[0].scatter ? { ...k, ...change(k.stores[0], k) } : k)) };
  };
  const store = (s: Store, change: Partial<Store>): { stores: Store[] } => ({ stores: [{ ...s, ...change }] });

  it('accepts the lowered form', () => expect(() => verifyProgram(program())).not.toThrow());
  it('is the kernel\'s only store, with no reductions', () => {
    const p = withScatter((s) => ({ stores: [s, { ...s, scatter: undefined }] }));
    expect(() => verifyProgram(p)).toThrow(/^K9: kernel p_k\d+_scatter_add_scatter: a scatter store must be its kernel's only store/);
  });
  it('is a full store', () => {
    expect(() => verifyProgram(withScatter((s) => store(s, { space: 'outer' })))).toThrow(/^K9: .* must be a full store/);
  });
  it('ignores the inner dims (its rows come from the index)', () => {
    expect(() => verifyProgram(withScatter((s) => store(s, { view: { offset: 0, strides: [1, 1] } })))).toThrow(/^K9: .* has inner strides \[1\]; its rows come from the index alone/);
  });
  it('maps outer points one-to-one into one row', () => {
    expect(() => verifyProgram(withScatter((s) => store(s, { view: { offset: 1, strides: [1, 0] } })))).toThrow(/^K9: .* does not map outer points \[4\] one-to-one into a row of 4 elements/);
    expect(() => verifyProgram(withScatter((s, k) => ({ ...store(s, { view: { offset: 0, strides: [1, 1, 0] } }), outer: [2, 2] })))).toThrow(/^K9: .* does not map outer points \[2, 2\] one-to-one/);
  });
  it('stays inside its buffer for every index', () => {
    expect(() => verifyProgram(withScatter((s) => store(s, { scatter: { ...s.scatter!, limit: 4 } })))).toThrow(/^K9: .* reaches row 3 of 4 elements, past its 12 elements/);
  });
  it('adds into a float buffer it does not load', () => {
    expect(() => verifyProgram(withScatter((s) => store(s, { expr: { k: 'load', buf: s.buf, view: { offset: 0, strides: [1, 0] }, dtype: 'float32' } })))).toThrow(/^K9: .* also loads it/);
    const p = program();
    const typed = { ...p, buffers: p.buffers.map((x, i) => (i === (p.kernels[1] as LoopKernel).stores[0].buf ? { ...x, dtype: 'int32' as const } : x)) };
    expect(() => verifyProgram(typed)).toThrow(/^K9: .* a int32 buffer; it adds, so the buffer must be float/);
  });
});
