/** Every Keras 2 activation against a plain JS definition of Keras 2's formula. */
import { describe, expect, it } from 'vitest';
import { GraphBuilder } from '../../ir/graph.js';
import { Sequential, activations, layers, setBackend, tensor } from '../../src/index.js';
import { compileForTest, TEST_BACKEND } from '../helpers/backend.js';

setBackend(TEST_BACKEND);

const X = [-30, -5, -2, -1, -0.5, -1e-3, 0, 1e-3, 0.3, 0.5, 1, 2, 2.5, 5, 30];
const SELU_ALPHA = 1.6732632423543772848170429916717;
const SELU_SCALE = 1.0507009873554804934193349852946;
const elu = (x: number, a = 1): number => (x > 0 ? x : a * Math.expm1(x));

const REFERENCE: Record<string, (x: number) => number> = {
  linear: (x) => x,
  relu: (x) => Math.max(x, 0),
  elu: (x) => elu(x),
  selu: (x) => SELU_SCALE * elu(x, SELU_ALPHA),
  softplus: (x) => Math.log1p(Math.exp(x)),
  softsign: (x) => x / (1 + Math.abs(x)),
  tanh: Math.tanh,
  sigmoid: (x) => 1 / (1 + Math.exp(-x)),
  hard_sigmoid: (x) => Math.min(1, Math.max(0, 0.2 * x + 0.5)),
  exponential: Math.exp,
};

async function runActivation(name: string, x: readonly number[]): Promise<Float32Array> {
  const model = new Sequential([new layers.Activation(name, { inputShape: [x.length] })]);
  const y = await model.predict(tensor([x]));
  model.dispose();
  return y.data as Float32Array;
}

/** Runs an activation builder on a [1, n] input through the test backend. */
async function runBuilder(fn: (b: GraphBuilder, x: ReturnType<GraphBuilder['param']>) => ReturnType<GraphBuilder['param']>, x: readonly number[]): Promise<Float32Array> {
  const b = new GraphBuilder();
  const input = b.param('x', [1, x.length]);
  const program = await compileForTest(b.build([fn(b, input)]), 'activation');
  program.write('x', Float32Array.from(x));
  const [y] = await program.run();
  program.dispose();
  return y as Float32Array;
}

describe('activations', () => {
  it.each(Object.keys(REFERENCE))('%s matches Keras 2', async (name) => {
    const want = X.map(REFERENCE[name]);
    expect(await runActivation(name, X)).toBeAllClose(want, { rtol: 1e-5, atol: 1e-6 });
  });

  it('softmax normalizes the last axis and survives large inputs', async () => {
    const x = [1000, 1001, 1002, -1000];
    const e = x.map((v) => Math.exp(v - 1002));
    const s = e.reduce((a, c) => a + c, 0);
    expect(await runActivation('softmax', x)).toBeAllClose(e.map((v) => v / s), { rtol: 1e-5, atol: 1e-7 });
  });

  it('softmax over another axis (the Softmax layer)', async () => {
    const model = new Sequential([new layers.Softmax({ inputShape: [2, 3], axis: 1 })]);
    const x = [[0, 1, 2], [2, 1, 0]];
    const y = await model.predict(tensor([x]));
    const col = (a: number, c: number): number => Math.exp(a) / (Math.exp(a) + Math.exp(c));
    expect(y.data).toBeAllClose([col(0, 2), col(1, 1), col(2, 0), col(2, 0), col(1, 1), col(0, 2)], { rtol: 1e-5, atol: 1e-7 });
  });

  it('relu takes alpha, maxValue and threshold as K.relu of Keras 2.2', async () => {
    const kRelu = (x: number, alpha: number, maxValue: number | null, threshold: number): number => {
      let y = threshold !== 0 ? (x > threshold ? x : 0) : Math.max(x, 0);
      if (maxValue !== null) y = Math.min(Math.max(y, 0), maxValue);
      return alpha !== 0 ? y - alpha * Math.max(threshold - x, 0) : y;
    };
    const cases: [number, number | null, number][] = [[0, null, 0], [0.1, null, 0], [2, null, 0], [0, 1.5, 0], [0, null, 0.5], [0.2, 1.5, 0.5], [0.3, 6, 0], [0, 0, 0]];
    for (const [alpha, maxValue, threshold] of cases) {
      const got = await runBuilder((b, x) => activations.relu(b, x, { alpha, maxValue, threshold }), X);
      expect(got, `alpha=${alpha} maxValue=${maxValue} threshold=${threshold}`).toBeAllClose(X.map((v) => kRelu(v, alpha, maxValue, threshold)), { rtol: 1e-6, atol: 1e-6 });
    }
  });

  it('elu takes alpha', async () => {
    expect(await runBuilder((b, x) => activations.elu(b, x, 0.5), X)).toBeAllClose(X.map((v) => elu(v, 0.5)), { rtol: 1e-6, atol: 1e-7 });
  });

  it('get() returns the builder and lists the valid names for an unknown one', async () => {
    expect(await runBuilder(activations.get('hard_sigmoid'), [-3, 0, 1])).toBeAllClose([0, 0.5, 0.7], { rtol: 1e-6, atol: 1e-7 });
    expect(activations.get(null)).toBe(activations.linear);
    expect(() => activations.get('swish')).toThrow("Unknown activation 'swish'. Valid activations: linear, relu, elu, selu, softmax, softplus, softsign, tanh, sigmoid, hard_sigmoid, exponential");
  });
});
