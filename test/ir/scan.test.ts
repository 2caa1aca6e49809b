/**
 * The scan op: its reference evaluation against the same step unrolled by
 * hand (slices and concat, no scan), forward and reverse; its type errors;
 * and its vjp (a reverse scan) against float64 central finite differences.
 */
import { describe, expect, it } from 'vitest';
import { GraphBuilder, type Value } from '../../ir/graph.js';
import { interpret } from '../../ir/interpret.js';
import { scan } from '../../ir/scan.js';
import { grad } from '../../passes/autodiff.js';
import { rng } from '../helpers/nd.js';

const T = 4;
const B = 2;
const F = 3;
const H = 3;

/** An Elman step with a mask sequence: masked steps keep the state. */
function elmanStep(b: GraphBuilder, h: Value, x: Value, m: Value, w: Value, u: Value): Value {
  const next = b.unary('tanh', b.add(b.matmul(x, w), b.matmul(h, u)));
  return b.select(b.broadcastTo(b.binary('gt', m, 0), h.shape), next, h);
}

function build(reverse: boolean, unrolled: boolean): { b: GraphBuilder; names: string[]; out: Value } {
  const b = new GraphBuilder();
  const h0 = b.param('h0', [B, H], 'float64');
  const xs = b.param('xs', [T, B, F], 'float64');
  const ms = b.param('ms', [T, B, 1], 'float64');
  const w = b.param('w', [F, H], 'float64');
  const u = b.param('u', [H, H], 'float64');
  let hT: Value;
  let ys: Value;
  if (unrolled) {
    let h = h0;
    const outs: Value[] = new Array<Value>(T);
    for (let i = 0; i < T; i++) {
      const t = reverse ? T - 1 - i : i;
      const x = b.reshape(b.slice(xs, [t, 0, 0], [1, B, F]), [B, F]);
      const m = b.reshape(b.slice(ms, [t, 0, 0], [1, B, 1]), [B, 1]);
      h = elmanStep(b, h, x, m, w, u);
      outs[t] = b.reshape(b.mul(h, 2), [1, B, H]);
    }
    hT = h;
    ys = b.concat(outs, 0);
  } else {
    [hT, ys] = scan(b, { init: [h0], sequences: [xs, ms], invariants: [w, u], reverse }, (sb, [h], [x, m], [wi, ui]) => {
      const next = elmanStep(sb, h, x, m, wi, ui);
      return { carries: [next], outputs: [sb.mul(next, 2)] };
    });
  }
  const out = b.concat([b.reshape(hT, [B * H]), b.reshape(ys, [T * B * H])], 0);
  return { b, names: ['h0', 'xs', 'w', 'u'], out };
}

function feeds(seed: number): Record<string, Float64Array> {
  const next = rng(seed);
  const rand = (n: number): Float64Array => Float64Array.from({ length: n }, () => (next() - 0.5) * 1.5);
  // Step 1 of batch row 0 and step 2 of row 1 are masked (gaps in the middle).
  const ms = new Float64Array(T * B).fill(1);
  ms[1 * B + 0] = 0;
  ms[2 * B + 1] = 0;
  return { h0: rand(B * H), xs: rand(T * B * F), ms, w: rand(F * H), u: rand(H * H) };
}

describe('scan', () => {
  it.each([false, true])('evaluates like the unrolled loop (reverse=%s)', (reverse) => {
    const f = feeds(3);
    const a = build(reverse, false);
    const want = build(reverse, true);
    const got = interpret(a.b.build([a.out]), f)[0];
    expect(got).toBeAllClose(interpret(want.b.build([want.out]), f)[0], { rtol: 1e-12, atol: 1e-12 });
    // The masked step really kept the state: row 0's output at step 1 equals step 0's (forward).
    if (!reverse) {
      const ys = got.slice(B * H);
      expect(Array.from(ys.slice(1 * B * H, 1 * B * H + H))).toEqual(Array.from(ys.slice(0, H)));
    }
  });

  it('names the operand whose type does not fit the body', () => {
    const b = new GraphBuilder();
    const h0 = b.param('h0', [B, H]);
    const xs = b.param('xs', [T, B, F]);
    const [, ys] = scan(b, { init: [h0], sequences: [xs], invariants: [] }, (sb, [h], [x]) => ({ carries: [h], outputs: [x] }));
    expect(ys.shape).toEqual([T, B, F]);
    const node = b.nodes.find((n) => n.op === 'scan')!;
    const attrs = node.attrs as { body: unknown };
    expect(() => b.op('scan', [h0, b.param('short', [T, B, F + 1])], attrs as never)).toThrow(/sequence 0 must be float32\[4, 2, 3\], got float32\[4, 2, 4\]/);
    expect(() => scan(b, { init: [h0], sequences: [xs], invariants: [] }, (sb, [h]) => ({ carries: [sb.reshape(h, [H, B])], outputs: [] }))).toThrow(/new carry 0 is float32\[3, 2\]/);
  });

  it.each([false, true])('vjp matches central finite differences in float64 (reverse=%s)', (reverse) => {
    const f = feeds(11);
    const { b, names, out } = build(reverse, false);
    const next = rng(5);
    const r = b.param('r', out.shape, 'float64');
    f.r = Float64Array.from({ length: out.shape[0] }, () => next() - 0.5);
    const graph = b.build([b.sum(b.mul(out, r))]);
    const g = grad(graph, 0, names);
    const analytic = interpret(g.builder.build(g.grads), f);
    const loss = (fs: Record<string, Float64Array>): number => interpret(graph, fs)[0][0];
    names.forEach((name, i) => {
      const h = 1e-6;
      const numeric = Array.from(f[name], (_, k) => {
        const plus = f[name].slice();
        const minus = f[name].slice();
        plus[k] += h;
        minus[k] -= h;
        return (loss({ ...f, [name]: plus }) - loss({ ...f, [name]: minus })) / (2 * h);
      });
      expect(analytic[i], name).toBeAllClose(numeric, { rtol: 1e-6, atol: 1e-8 });
      expect(numeric.some((v) => Math.abs(v) > 1e-3), `${name} has a gradient to check`).toBe(true);
    });
  });

  it('sums the weights\' step cotangents (a^T c) with one matmul after the reverse loop instead of carrying them', () => {
    const { b, names, out } = build(false, false);
    const g = grad(b.build([b.sum(out)]), 0, names);
    const graph = g.builder.build(g.grads);
    const reverse = graph.nodes.filter((n) => n.op === 'scan' && (n.attrs as { reverse: boolean }).reverse);
    expect(reverse.length).toBe(1);
    // Only the state's cotangent is carried; w and u get theirs from matmuls over all steps ([T * B, F]^T [T * B, H]).
    expect((reverse[0].attrs as { carries: number }).carries).toBe(1);
    const after = graph.nodes.filter((n) => n.id > reverse[0].id && n.op === 'matmul').map((n) => graph.nodes[n.inputs[0]].type.shape);
    expect(after).toEqual(expect.arrayContaining([[T * B, F], [T * B, H]]));
  });

  it('differentiates two carries that feed each other (an LSTM-like cell)', () => {
    const b = new GraphBuilder();
    const h0 = b.param('h0', [B, H], 'float64');
    const c0 = b.param('c0', [B, H], 'float64');
    const xs = b.param('xs', [T, B, F], 'float64');
    const w = b.param('w', [F, H], 'float64');
    const [hT, cT, ys] = scan(b, { init: [h0, c0], sequences: [xs], invariants: [w] }, (sb, [h, c], [x], [wi]) => {
      const gate = sb.unary('sigmoid', sb.add(sb.matmul(x, wi), h));
      const cn = sb.add(sb.mul(gate, c), sb.unary('tanh', sb.matmul(x, wi)));
      const hn = sb.mul(gate, sb.unary('tanh', cn));
      return { carries: [hn, cn], outputs: [hn] };
    });
    const loss = b.add(b.add(b.sum(b.mul(hT, cT)), b.sum(b.mul(ys, ys))), b.sum(cT));
    const graph = b.build([loss]);
    const next = rng(21);
    const rand = (n: number): Float64Array => Float64Array.from({ length: n }, () => next() - 0.5);
    const f: Record<string, Float64Array> = { h0: rand(B * H), c0: rand(B * H), xs: rand(T * B * F), w: rand(F * H) };
    const names = ['h0', 'c0', 'xs', 'w'];
    const g = grad(graph, 0, names);
    const analytic = interpret(g.builder.build(g.grads), f);
    const value = (fs: Record<string, Float64Array>): number => interpret(graph, fs)[0][0];
    names.forEach((name, i) => {
      const numeric = Array.from(f[name], (_, k) => {
        const plus = f[name].slice();
        const minus = f[name].slice();
        plus[k] += 1e-6;
        minus[k] -= 1e-6;
        return (value({ ...f, [name]: plus }) - value({ ...f, [name]: minus })) / 2e-6;
      });
      expect(analytic[i], name).toBeAllClose(numeric, { rtol: 1e-6, atol: 1e-8 });
    });
  });
});
