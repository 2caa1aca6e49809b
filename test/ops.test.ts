/**
 * Every op three ways: the interpreter against the independent model in
 * helpers/nd.ts, and the compiled pipeline (kernel IR run in JS, and the
 * KILN_TEST_BACKEND backend) against the interpreter. All cases go into one
 * graph per compiled check so the native backend compiles once.
 */
import { describe, expect, it } from 'vitest';
import { type TypedArray, allocArray, isFloat } from '../ir/dtype.js';
import { type Graph, GraphBuilder } from '../ir/graph.js';
import { interpret } from '../ir/interpret.js';
import { compileForTest, compileKernelInterpreted, TEST_BACKEND } from './helpers/backend.js';
import { closeTo, rng } from './helpers/nd.js';
import { OP_CASES, generate } from './helpers/op_cases.js';

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
    expect(closeTo(got, want.data, rtol, atol)).toBeNull();
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
