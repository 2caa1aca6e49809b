/** Gradients of a scalar graph against float64 central finite differences, one param at a time. */
import { expect } from 'vitest';
import type { Graph, Value } from '../../ir/graph.js';
import { interpret } from '../../ir/interpret.js';
import { grad } from '../../passes/autodiff.js';

export interface GradientCheck {
  readonly rtol: number;
  readonly atol: number;
  /** Also require some component of each gradient to exceed 1e-3 (the check has something to check). */
  readonly nonTrivial?: boolean;
}

/** Differentiates `graph` (output 0, a scalar) with respect to `names` and compares with (f(x + h) - f(x - h)) / 2h, h = 1e-6. */
export function expectGradientsMatch(graph: Graph, feeds: Readonly<Record<string, Float64Array>>, names: readonly string[], tol: GradientCheck): void {
  const g = grad(graph, 0, [...names]);
  const analytic = interpret(g.builder.build(g.grads as Value[]), feeds);
  const loss = (fs: Record<string, Float64Array>): number => interpret(graph, fs)[0][0];
  names.forEach((name, i) => {
    const numeric = Array.from(feeds[name], (_, k) => {
      const plus = feeds[name].slice();
      const minus = feeds[name].slice();
      plus[k] += 1e-6;
      minus[k] -= 1e-6;
      return (loss({ ...feeds, [name]: plus }) - loss({ ...feeds, [name]: minus })) / 2e-6;
    });
    expect(analytic[i], name).toBeAllClose(numeric, { rtol: tol.rtol, atol: tol.atol });
    if (tol.nonTrivial) expect(numeric.some((v) => Math.abs(v) > 1e-3), `${name} has a gradient to check`).toBe(true);
  });
}
