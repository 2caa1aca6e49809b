/**
 * Every differentiable op's vjp against central finite differences, in
 * float64, through the interpreter: loss = sum(op(inputs) * r) for a fixed
 * random r, differentiated by passes/autodiff.
 */
import { describe, expect, it } from 'vitest';
import type { Shape } from '../../ir/dtype.js';
import { GraphBuilder, type Value } from '../../ir/graph.js';
import { interpret } from '../../ir/interpret.js';
import type { BinaryOp, UnaryOp } from '../../ir/scalar.js';
import { grad } from '../../passes/autodiff.js';
import { rng } from '../helpers/nd.js';

interface GradCase {
  readonly name: string;
  readonly shapes: readonly Shape[];
  readonly positive?: boolean;
  build(b: GraphBuilder, xs: readonly Value[]): Value;
}

const unary = (op: UnaryOp, positive = false): GradCase => ({ name: op, shapes: [[3, 4]], positive, build: (b, [x]) => b.unary(op, x) });
const binary = (op: BinaryOp, positive = false): GradCase => ({ name: op, shapes: [[2, 1, 4], [3, 4]], positive, build: (b, [x, y]) => b.binary(op, x, y) });

const CASES: readonly GradCase[] = [
  ...(['neg', 'exp', 'expm1', 'tanh', 'sigmoid', 'abs'] as const).map((op) => unary(op)),
  ...(['log', 'log1p', 'sqrt'] as const).map((op) => unary(op, true)),
  ...(['add', 'sub', 'mul', 'maximum', 'minimum'] as const).map((op) => binary(op)),
  binary('div', true), binary('pow', true),
  { name: 'select', shapes: [[3, 4], [3, 4], [4]], build: (b, [c, x, y]) => b.select(b.binary('gt', c, 0), x, y) },
  { name: 'reduce_sum', shapes: [[3, 4, 2]], build: (b, [x]) => b.sum(x, [0, 2]) },
  { name: 'reduce_max', shapes: [[3, 5]], build: (b, [x]) => b.max(x, 1, true) },
  { name: 'reduce_min', shapes: [[3, 5]], build: (b, [x]) => b.min(x, 0) },
  { name: 'reshape + transpose', shapes: [[2, 6]], build: (b, [x]) => b.transpose(b.reshape(x, [3, 2, 2]), [2, 0, 1]) },
  { name: 'broadcast', shapes: [[3, 1]], build: (b, [x]) => b.broadcastTo(x, [2, 3, 4]) },
  { name: 'slice with steps', shapes: [[7, 6]], build: (b, [x]) => b.slice(x, [1, 5], [3, 2], [2, -3]) },
  { name: 'pad', shapes: [[3, 2, 4]], build: (b, [x]) => b.pad(x, [1, 0, 2], [2, 0, 1], 0.5) },
  { name: 'slice of an empty axis', shapes: [[3, 4]], build: (b, [x]) => b.slice(x, [0, 0], [0, 4]) },
  { name: 'window 1-d overlapping', shapes: [[7]], build: (b, [x]) => b.window(x, [3]) },
  { name: 'window strided, dilated, with a remainder', shapes: [[2, 9, 8]], build: (b, [x]) => b.window(x, [1, 2, 3], [1, 3, 2], [1, 2, 1]) },
  { name: 'window of a padded tensor (same-padded conv input)', shapes: [[1, 5, 4, 2]], build: (b, [x]) => b.window(b.pad(x, [0, 1, 0, 0], [0, 1, 1, 0]), [1, 3, 2, 2], [1, 2, 1, 1]) },
  { name: 'concat', shapes: [[2, 3], [2, 2]], build: (b, xs) => b.concat(xs, 1) },
  { name: 'gather', shapes: [[5, 3]], build: (b, [x]) => b.gather(x, b.constant(3, [4], 'int32'), 0) },
  { name: 'gather axis 1 repeated', shapes: [[2, 4]], build: (b, [x]) => b.gather(x, b.concat([b.constant(1, [2], 'int32'), b.constant(3, [1], 'int32')], 0), 1) },
  ...[[false, false], [true, false], [false, true], [true, true]].map(([ta, tb]): GradCase => ({
    name: `matmul ta=${ta} tb=${tb}`, shapes: [ta ? [4, 3] : [3, 4], tb ? [5, 4] : [4, 5]], build: (b, [x, y]) => b.matmul(x, y, ta, tb),
  })),
  { name: 'matmul batched', shapes: [[2, 3, 4], [2, 4, 5]], build: (b, [x, y]) => b.matmul(x, y) },
  ...[[false, false], [true, true]].map(([ta, tb]): GradCase => ({
    name: `matmul batched x shared ta=${ta} tb=${tb}`, shapes: [ta ? [2, 4, 3] : [2, 3, 4], tb ? [5, 4] : [4, 5]], build: (b, [x, y]) => b.matmul(x, y, ta, tb),
  })),
];

describe('vjp vs central finite differences (float64)', () => {
  it.each(CASES.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    const next = rng(99);
    const b = new GraphBuilder();
    const xs = c.shapes.map((s, i) => b.param(`x${i}`, s, 'float64'));
    const y = c.build(b, xs);
    const r = b.param('r', y.shape, 'float64');
    const loss = b.sum(b.mul(y, r));
    const graph = b.build([loss]);
    const feeds: Record<string, Float64Array> = {};
    c.shapes.forEach((s, i) => {
      // Values kept apart so that max/min/abs/select are differentiable at the sample.
      feeds[`x${i}`] = Float64Array.from({ length: s.reduce((p, q) => p * q, 1) }, (_, k) => (c.positive ? 0.5 + next() * 2 : (next() - 0.5) * 4 + k * 1e-3));
    });
    feeds.r = Float64Array.from({ length: y.shape.reduce((p, q) => p * q, 1) }, () => next() - 0.5);
    const names = c.shapes.map((_, i) => `x${i}`);
    const { builder, grads } = grad(graph, 0, names);
    const analytic = interpret(builder.build(grads), feeds);
    const f = (fs: Record<string, Float64Array>): number => interpret(graph, fs)[0][0];
    names.forEach((name, i) => {
      const h = 1e-6;
      const numeric = Array.from(feeds[name], (_, k) => {
        const plus = feeds[name].slice();
        const minus = feeds[name].slice();
        plus[k] += h;
        minus[k] -= h;
        return (f({ ...feeds, [name]: plus }) - f({ ...feeds, [name]: minus })) / (2 * h);
      });
      expect(analytic[i], `d/d${name}`).toBeAllClose(numeric, { rtol: 1e-5, atol: 1e-6 });
    });
  });
});

describe('relu as max(x, 0)', () => {
  // At ties tf.maximum passes the cotangent to x (x >= y), while relu (max with a constant 0) follows
  // ReluGrad: the cotangent only where the output is > 0.
  const gradAt = (build: (b: GraphBuilder, x: Value) => Value, xs: readonly number[]): number[] => {
    const b = new GraphBuilder();
    const x = b.param('x', [xs.length], 'float64');
    const graph = b.build([b.sum(build(b, x))]);
    const { builder, grads } = grad(graph, 0, ['x']);
    return Array.from(interpret(builder.build(grads), { x: Float64Array.from(xs) })[0]);
  };
  it('max(x, 0) passes no cotangent where x = 0 (ReluGrad), one where x > 0', () => {
    expect(gradAt((b, x) => b.maximum(x, 0), [-1, 0, 2, -0])).toEqual([0, 0, 1, 0]);
  });
  it('max(x, c) with another constant or a tensor keeps tf.maximum\'s ties (x >= y)', () => {
    expect(gradAt((b, x) => b.maximum(x, 0.5), [0.5, 0, 1])).toEqual([1, 0, 1]);
    expect(gradAt((b, x) => b.maximum(x, b.mul(x, 0)), [0, -1, 1])).toEqual([1, 0, 1]);
  });
});
