/**
 * compile({ backend }) picks a model's backend, independently of the
 * process-wide default: the same model trained with fit (several steps per
 * epoch, so weights stay on the backend between steps) on the test backend
 * and on the reference interpreter ends with the same weights and losses.
 */
import { expect, it } from 'vitest';
import { Sequential, getBackend, layers, setBackend, tensor } from '../../src/index.js';
import { TEST_BACKEND } from '../helpers/backend.js';

setBackend(TEST_BACKEND);

const N = 48;
const x = tensor(Array.from({ length: N }, (_, i) => [Math.sin(i), Math.cos(i * 0.7), ((i % 5) - 2) / 2, (i % 3) / 3]));
const y = tensor(Array.from({ length: N }, (_, i) => [Math.sin(i) > 0 ? 1 : 0, Math.sin(i) > 0 ? 0 : 1]));

function model(): Sequential {
  return new Sequential([
    new layers.Dense(12, { inputShape: [4], activation: 'relu', kernelInitializer: { className: 'glorot_uniform', config: { seed: 3 } } }),
    new layers.Dropout(0.25, { seed: 5 }),
    new layers.Dense(2, { activation: 'softmax', kernelInitializer: { className: 'glorot_uniform', config: { seed: 4 } } }),
  ]);
}

it(`fit on ${TEST_BACKEND} matches fit on the interpreter, step for step`, async () => {
  const runs = [];
  for (const backend of [TEST_BACKEND, 'interpreter'] as const) {
    const m = model();
    m.compile({ optimizer: 'rmsprop', loss: 'categorical_crossentropy', backend });
    expect(m.backend).toBe(backend);
    const history = await m.fit(x, y, { batchSize: 8, epochs: 3, shuffle: false, verbose: 0 });
    runs.push({ loss: history.history.loss as number[], weights: m.getWeights().map((w) => w.data), predicted: (await m.predict(x)).data });
  }
  expect(getBackend()).toBe(TEST_BACKEND);
  const [got, want] = runs;
  expect(Float32Array.from(got.loss)).toBeAllClose(Float32Array.from(want.loss), { rtol: 1e-5, atol: 1e-6 });
  got.weights.forEach((w, i) => expect(w).toBeAllClose(want.weights[i], { rtol: 1e-4, atol: 1e-5 }));
  expect(got.predicted).toBeAllClose(want.predicted, { rtol: 1e-4, atol: 1e-5 });
});

it('compiling for another backend moves the weights with the model', async () => {
  const m = model();
  m.compile({ optimizer: 'sgd', loss: 'mse', backend: TEST_BACKEND });
  await m.fit(x, y, { batchSize: 16, epochs: 1, verbose: 0 });
  const before = (await m.predict(x)).data;
  m.compile({ optimizer: 'sgd', loss: 'mse', backend: 'interpreter' });
  expect((await m.predict(x)).data).toBeAllClose(before, { rtol: 1e-4, atol: 1e-5 });
});

it('an unknown backend lists the valid ones', () => {
  expect(() => model().compile({ optimizer: 'sgd', loss: 'mse', backend: 'tpu' as never })).toThrow("Unknown backend 'tpu'. Valid backends: cpu, webgpu, interpreter");
});
