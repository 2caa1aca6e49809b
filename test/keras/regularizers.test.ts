/** Regularization penalties join the loss; constraints hold after every step. */
import { describe, expect, it } from 'vitest';
import { Sequential, layers, optimizers, regularizers, setBackend, tensor } from '../../src/index.js';
import { TEST_BACKEND } from '../helpers/backend.js';

setBackend(TEST_BACKEND);

const x = tensor([[1, -2], [0.5, 3], [-1, 1]]);
const y = tensor([[1], [0], [2]]);

async function mse(m: Sequential): Promise<number> {
  const p = (await m.predict(x)).data;
  return Array.from(p).reduce((s, v, i) => s + (v - y.data[i]) ** 2, 0) / 3;
}

describe('regularizers', () => {
  it('kernel and bias penalties are added to the loss', async () => {
    const m = new Sequential([new layers.Dense(1, { inputShape: [2], kernelRegularizer: regularizers.l2(0.5), biasRegularizer: regularizers.l1(0.25), biasInitializer: 'ones' })]);
    m.compile({ optimizer: 'sgd', loss: 'mse' });
    const [k, b] = m.getWeights();
    const penalty = 0.5 * Array.from(k.data).reduce((s, v) => s + v * v, 0) + 0.25 * Math.abs(b.data[0]);
    expect([(await m.evaluate(x, y)) as number]).toBeAllClose([(await mse(m)) + penalty], { rtol: 1e-5, atol: 1e-6 });
  });

  it('activity regularization penalizes a layer output', async () => {
    const m = new Sequential([new layers.Dense(1, { inputShape: [2], kernelInitializer: 'ones' }), new layers.ActivityRegularization({ l1: 0.1 })]);
    m.compile({ optimizer: 'sgd', loss: 'mse' });
    const out = Array.from((await m.predict(x)).data);
    expect([(await m.evaluate(x, y)) as number]).toBeAllClose([(await mse(m)) + 0.1 * out.reduce((s, v) => s + Math.abs(v), 0)], { rtol: 1e-5, atol: 1e-6 });
  });

  it('unknown regularizer names list the valid ones', () => {
    expect(() => new layers.Dense(1, { kernelRegularizer: 'l3' })).toThrow(/Unknown regularizer 'l3'. Valid regularizers: l1, l2, l1_l2/);
  });
});

describe('constraints', () => {
  it('non_neg and max_norm hold after each update', async () => {
    const m = new Sequential([
      new layers.Dense(3, { inputShape: [2], kernelConstraint: 'non_neg' }),
      new layers.Dense(1, { kernelConstraint: { className: 'MaxNorm', config: { max_value: 0.5 } } }),
    ]);
    m.compile({ optimizer: new optimizers.SGD({ lr: 1 }), loss: 'mse' });
    await m.fit(x, y, { epochs: 3, batchSize: 3, verbose: 0 });
    const [k1, , k2] = m.getWeights();
    expect(Math.min(...k1.data)).toBeGreaterThanOrEqual(0);
    expect(Math.sqrt(Array.from(k2.data).reduce((s, v) => s + v * v, 0))).toBeLessThanOrEqual(0.5 + 1e-6);
  });
});
