/**
 * Dynamic scans: the steps to run are an int32 operand read at run time
 * (timesteps=None). One compiled program runs any length up to its
 * capacity; its results equal a static scan over the first n steps, its
 * stacked outputs are zeros past n, and its vjp matches float64 finite
 * differences. Checked on the reference interpreter, the kernel interpreter
 * and the test backend (KILN_TEST_BACKEND), each program compiled once.
 */
import { describe, expect, it } from 'vitest';
import { type Graph, GraphBuilder, type Value } from '../../ir/graph.js';
import { interpret } from '../../ir/interpret.js';
import { scan } from '../../ir/scan.js';
import { grad } from '../../passes/autodiff.js';
import { compileToProgram } from '../../passes/pipeline.js';
import type { CompiledGraph } from '../../runtime/executor.js';
import { TEST_BACKEND, compileForTest, compileKernelInterpreted } from '../helpers/backend.js';
import { rng } from '../helpers/nd.js';

const CAP = 6;
const B = 2;
const F = 3;
const H = 4;

/** An Elman RNN over xs [length, B, F]; with `dynamic`, only the first `steps` (a param) run. */
function elman(length: number, reverse: boolean, dynamic: boolean, dtype: 'float32' | 'float64' = 'float32'): { b: GraphBuilder; hT: Value; ys: Value } {
  const b = new GraphBuilder();
  const h0 = b.param('h0', [B, H], dtype);
  const xs = b.param('xs', [length, B, F], dtype);
  const w = b.param('w', [F, H], dtype, 'weight');
  const u = b.param('u', [H, H], dtype, 'weight');
  const steps = dynamic ? b.param('steps', [], 'int32') : null;
  const [hT, ys] = scan(b, { init: [h0], sequences: [xs], invariants: [w, u], reverse, steps }, (sb, [h], [x], [wi, ui]) => {
    const next = sb.unary('tanh', sb.add(sb.matmul(x, wi), sb.matmul(h, ui)));
    return { carries: [next], outputs: [sb.mul(next, 2)] };
  });
  return { b, hT, ys };
}

function feeds(seed: number, length: number): Record<string, Float32Array> {
  const next = rng(seed);
  const rand = (n: number): Float32Array => Float32Array.from({ length: n }, () => next() - 0.5);
  return { h0: rand(B * H), xs: rand(length * B * F), w: rand(F * H), u: rand(H * H) };
}

/** What a static scan over the first n steps gives: its final h and its outputs, zero-padded to CAP steps. */
function expected(f: Record<string, Float32Array>, n: number, reverse: boolean): Float32Array[] {
  const s = elman(n, reverse, false);
  const [hT, ys] = interpret(s.b.build([s.hT, s.ys]), { ...f, xs: f.xs.slice(0, n * B * F) });
  const padded = new Float32Array(CAP * B * H);
  padded.set(ys);
  return [hT as Float32Array, padded];
}

describe('dynamic scan (steps read at run time)', () => {
  it.each([false, true])('evaluates like a static scan over the first n steps, zeros after (reverse=%s)', (reverse) => {
    const d = elman(CAP, reverse, true);
    const graph = d.b.build([d.hT, d.ys]);
    const f = feeds(3, CAP);
    for (const n of [0, 1, 4, CAP]) {
      const got = interpret(graph, { ...f, steps: Int32Array.of(n) });
      const want = expected(f, n, reverse);
      expect(got[0], `h at n=${n}`).toBeAllClose(want[0], { rtol: 1e-6, atol: 1e-6 });
      expect(got[1], `ys at n=${n}`).toBeAllClose(want[1], { rtol: 1e-6, atol: 1e-6 });
    }
    // Steps past the capacity are clamped to it.
    expect(interpret(graph, { ...f, steps: Int32Array.of(CAP + 5) })[0]).toBeAllClose(expected(f, CAP, reverse)[0], { rtol: 1e-6, atol: 1e-6 });
  });

  it('refuses a steps operand that is not an int32 scalar', () => {
    const b = new GraphBuilder();
    const xs = b.param('xs', [CAP, B, F]);
    expect(() => scan(b, { init: [b.param('h', [B, F])], sequences: [xs], invariants: [], steps: b.param('n', [1], 'int32') }, (sb, [h], [x]) => ({ carries: [sb.add(h, x)], outputs: [] })))
      .toThrow(/steps operand of a dynamic scan must be an int32 scalar, got int32\[1\]/);
  });

  it.each([false, true])('vjp matches central finite differences in float64, nothing flowing past n (reverse=%s)', (reverse) => {
    const d = elman(CAP, reverse, true, 'float64');
    const next = rng(9);
    const r = d.b.param('r', [CAP, B, H], 'float64');
    const graph = d.b.build([d.b.add(d.b.sum(d.b.mul(d.ys, r)), d.b.sum(d.b.mul(d.hT, d.hT)))]);
    const names = ['h0', 'xs', 'w', 'u'];
    const f32 = feeds(5, CAP);
    const f: Record<string, Float64Array | Int32Array> = { ...Object.fromEntries(Object.entries(f32).map(([k, v]) => [k, Float64Array.from(v)])), r: Float64Array.from({ length: CAP * B * H }, () => next() - 0.5), steps: Int32Array.of(4) };
    const g = grad(graph, 0, names);
    const analytic = interpret(g.builder.build(g.grads), f);
    const loss = (fs: typeof f): number => interpret(graph, fs)[0][0];
    names.forEach((name, i) => {
      const base = f[name] as Float64Array;
      const numeric = Array.from(base, (_, k) => {
        const plus = base.slice();
        const minus = base.slice();
        plus[k] += 1e-6;
        minus[k] -= 1e-6;
        return (loss({ ...f, [name]: plus }) - loss({ ...f, [name]: minus })) / 2e-6;
      });
      expect(analytic[i], name).toBeAllClose(numeric, { rtol: 1e-6, atol: 1e-8 });
      expect(numeric.some((v) => Math.abs(v) > 1e-3), `${name} has a gradient to check`).toBe(true);
    });
    // The steps not run get no cotangent.
    expect(Array.from((analytic[1] as Float64Array).slice(4 * B * F)).every((v) => v === 0)).toBe(true);
  });

  it('lowers to one repeat that reads its iterations from the steps param', () => {
    const d = elman(CAP, false, true);
    const { program } = compileToProgram(d.b.build([d.hT, d.ys]), { name: 'p' });
    const repeats = program.kernels.filter((k) => k.kind === 'repeat');
    expect(repeats.length).toBe(1);
    const steps = repeats[0].kind === 'repeat' ? repeats[0].steps : undefined;
    expect(steps).toBeDefined();
    expect(program.buffers[steps!].name).toBe('steps');
    expect(repeats[0].kind === 'repeat' && repeats[0].count).toBe(CAP);
  });

  it('keeps its steps operand when prune_scans drops a per-step output nobody reads', async () => {
    const d = elman(CAP, false, true);
    const graph = d.b.build([d.hT]);
    const compiled = await compileForTest(graph, 'dyn_pruned');
    const f = feeds(13, CAP);
    for (const n of [3, CAP]) {
      const got = await runAll(compiled, f, n);
      expect(got[0], `h at n=${n}`).toBeAllClose(expected(f, n, false)[0], { rtol: 1e-5, atol: 1e-5 });
    }
    compiled.dispose();
  });

  async function runAll(compiled: CompiledGraph, f: Record<string, Float32Array>, n: number): Promise<Float32Array[]> {
    for (const [name, data] of Object.entries(f)) compiled.write(name, data);
    compiled.write('steps', Int32Array.of(n));
    return (await compiled.run()) as Float32Array[];
  }

  const backends: [string, (g: Graph) => Promise<CompiledGraph>][] = [['kernel interpreter', (g) => compileKernelInterpreted(g, 'dyn')], [TEST_BACKEND, (g) => compileForTest(g, 'dyn')]];

  it.each(backends)('one program compiled once runs every length on the %s (forward and reverse, and the gradient program)', async (_, compile) => {
    for (const reverse of [false, true]) {
      const d = elman(CAP, reverse, true);
      const loss = d.b.add(d.b.sum(d.b.mul(d.ys, d.ys)), d.b.sum(d.hT));
      const forward = d.b.build([d.hT, d.ys]);
      const g = grad(d.b.build([loss]), 0, ['h0', 'xs', 'w', 'u']);
      const backward = g.builder.build([g.outputs[0], ...g.grads]);
      const [pf, pb] = [await compile(forward), await compile(backward)];
      const f = feeds(7, CAP);
      // Longer, then shorter, then longer again: nothing left over from a previous run shows.
      for (const n of [CAP, 2, 0, 5, 1]) {
        const feedsN = { ...f, steps: Int32Array.of(n) };
        const want = interpret(forward, feedsN);
        const got = await runAll(pf, f, n);
        got.forEach((v, i) => expect(v, `forward output ${i} at n=${n} reverse=${reverse}`).toBeAllClose(want[i], { rtol: 1e-5, atol: 1e-5 }));
        const wantG = interpret(backward, feedsN);
        const gotG = await runAll(pb, f, n);
        gotG.forEach((v, i) => expect(v, `gradient output ${i} at n=${n} reverse=${reverse}`).toBeAllClose(wantG[i], { rtol: 1e-4, atol: 1e-5 }));
      }
      pf.dispose();
      pb.dispose();
    }
  });
});
