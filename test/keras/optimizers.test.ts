/**
 * Each optimizer's first three updates on a tiny linear regression equal an
 * independent float64 implementation of Keras 2's update rule.
 */
import { describe, expect, it } from 'vitest';
import { Sequential, layers, optimizers, setBackend, tensor } from '../../src/index.js';
import type { Optimizer } from '../../src/optimizers.js';
import { TEST_BACKEND } from '../helpers/backend.js';

setBackend(TEST_BACKEND);

const X = [[1, 2, -1], [0.5, -1, 2], [3, 0, 1], [-2, 1, 0.5]];
const Y = [1, -1, 2, 0.5];
const W0 = [0.1, -0.3, 0.2];
const B0 = 0.05;
const EPS = 1e-7;

/** Gradient of mean((xW + b - y)^2) for the current parameters [w0, w1, w2, b]. */
function gradient(p: number[]): number[] {
  const g = [0, 0, 0, 0];
  X.forEach((x, i) => {
    const e = x[0] * p[0] + x[1] * p[1] + x[2] * p[2] + p[3] - Y[i];
    for (let j = 0; j < 3; j++) g[j] += (2 / X.length) * e * x[j];
    g[3] += (2 / X.length) * e;
  });
  return g;
}

type Rule = (p: number[], g: number[], s: Record<string, number[]>, t: number, lr: number) => number[];
const zeros = (): number[] => [0, 0, 0, 0];
const map = (f: (i: number) => number): number[] => [0, 1, 2, 3].map(f);

const RULES: Record<string, { make: () => Optimizer; lr: number; decay?: number; rule: Rule; clipnorm?: number }> = {
  'SGD momentum nesterov': {
    make: () => new optimizers.SGD({ lr: 0.1, momentum: 0.9, nesterov: true }), lr: 0.1,
    rule: (p, g, s, _t, lr) => {
      const v = map((i) => 0.9 * (s.m ??= zeros())[i] - lr * g[i]);
      s.m = v;
      return map((i) => p[i] + 0.9 * v[i] - lr * g[i]);
    },
  },
  'SGD decay clipnorm': {
    make: () => new optimizers.SGD({ lr: 0.1, decay: 0.5, clipnorm: 1 }), lr: 0.1, decay: 0.5, clipnorm: 1,
    rule: (p, g, _s, _t, lr) => map((i) => p[i] - lr * g[i]),
  },
  RMSprop: {
    make: () => new optimizers.RMSprop({ lr: 0.01 }), lr: 0.01,
    rule: (p, g, s, _t, lr) => {
      const a = map((i) => 0.9 * (s.a ??= zeros())[i] + 0.1 * g[i] ** 2);
      s.a = a;
      return map((i) => p[i] - (lr * g[i]) / (Math.sqrt(a[i]) + EPS));
    },
  },
  Adagrad: {
    make: () => new optimizers.Adagrad(), lr: 0.01,
    rule: (p, g, s, _t, lr) => {
      const a = map((i) => (s.a ??= zeros())[i] + g[i] ** 2);
      s.a = a;
      return map((i) => p[i] - (lr * g[i]) / (Math.sqrt(a[i]) + EPS));
    },
  },
  Adadelta: {
    make: () => new optimizers.Adadelta(), lr: 1,
    rule: (p, g, s, _t, lr) => {
      const a = map((i) => 0.95 * (s.a ??= zeros())[i] + 0.05 * g[i] ** 2);
      const u = map((i) => (g[i] * Math.sqrt((s.d ??= zeros())[i] + EPS)) / Math.sqrt(a[i] + EPS));
      s.d = map((i) => 0.95 * s.d[i] + 0.05 * u[i] ** 2);
      s.a = a;
      return map((i) => p[i] - lr * u[i]);
    },
  },
  'Adam amsgrad': {
    make: () => new optimizers.Adam({ lr: 0.01, amsgrad: true }), lr: 0.01,
    rule: (p, g, s, t, lr) => {
      const lrT = (lr * Math.sqrt(1 - 0.999 ** t)) / (1 - 0.9 ** t);
      s.m = map((i) => 0.9 * (s.m ??= zeros())[i] + 0.1 * g[i]);
      s.v = map((i) => 0.999 * (s.v ??= zeros())[i] + 0.001 * g[i] ** 2);
      s.vh = map((i) => Math.max((s.vh ??= zeros())[i], s.v[i]));
      return map((i) => p[i] - (lrT * s.m[i]) / (Math.sqrt(s.vh[i]) + EPS));
    },
  },
  Adamax: {
    make: () => new optimizers.Adamax(), lr: 0.002,
    rule: (p, g, s, t, lr) => {
      const lrT = lr / (1 - 0.9 ** t);
      s.m = map((i) => 0.9 * (s.m ??= zeros())[i] + 0.1 * g[i]);
      s.u = map((i) => Math.max(0.999 * (s.u ??= zeros())[i], Math.abs(g[i])));
      return map((i) => p[i] - (lrT * s.m[i]) / (s.u[i] + EPS));
    },
  },
  Nadam: {
    make: () => new optimizers.Nadam(), lr: 0.002,
    rule: (p, g, s, t, lr) => {
      const cache = (k: number): number => 0.9 * (1 - 0.5 * 0.96 ** (k * 0.004));
      const sched = (s.sched ??= [1])[0] * cache(t);
      const schedNext = sched * cache(t + 1);
      s.sched = [sched];
      s.m = map((i) => 0.9 * (s.m ??= zeros())[i] + 0.1 * g[i]);
      s.v = map((i) => 0.999 * (s.v ??= zeros())[i] + 0.001 * g[i] ** 2);
      return map((i) => {
        const gPrime = g[i] / (1 - sched);
        const mBar = (1 - cache(t)) * gPrime + cache(t + 1) * (s.m[i] / (1 - schedNext));
        return p[i] - (lr * mBar) / (Math.sqrt(s.v[i] / (1 - 0.999 ** t)) + EPS);
      });
    },
  },
};

describe('optimizers: first three updates vs a float64 reference of Keras 2', () => {
  it.each(Object.keys(RULES))('%s', async (name) => {
    const { make, lr, decay = 0, rule, clipnorm = 0 } = RULES[name];
    const model = new Sequential([new layers.Dense(1, { inputShape: [3] })]);
    model.setWeights([tensor(W0.map((w) => [w])), tensor([B0])]);
    model.compile({ optimizer: make(), loss: 'mse' });
    let p = [...W0, B0];
    const state: Record<string, number[]> = {};
    for (let t = 1; t <= 3; t++) {
      let g = gradient(p);
      if (clipnorm) {
        const norm = Math.sqrt(g.reduce((a, v) => a + v * v, 0));
        g = g.map((v) => (v * clipnorm) / Math.max(norm, clipnorm));
      }
      p = rule(p, g, state, t, lr / (1 + decay * (t - 1)));
      await model.trainOnBatch(tensor(X), tensor(Y.map((y) => [y])));
      const [w, b] = model.getWeights();
      expect([...w.data, ...b.data], `${name} step ${t}`).toBeAllClose(p, { rtol: 1e-5, atol: 1e-6 });
    }
  });
});
