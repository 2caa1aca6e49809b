/**
 * A compiled model saved with its optimizer comes back compiled with the
 * same optimizer, loss, metrics and loss weights, and training it continues
 * exactly where the saved one stopped: the same weights after more epochs as
 * the model that was never saved, for every optimizer, through .h5 and
 * .keras (the slots, the step counter and Nadam's schedule are in the file).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Input, Model, Sequential, Tensor, layers, loadModel, optimizers, setBackend } from '../../src/index.js';
import type { AnyNetwork } from '../../src/io/index.js';
import { trainerOf } from '../../src/io/training_config.js';
import { LOSSES } from '../../src/losses.js';
import { METRICS } from '../../src/metrics.js';
import { TEST_BACKEND } from '../helpers/backend.js';

const dir = mkdtempSync(join(tmpdir(), 'kiln-training-state-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const OPTIMIZERS: [string, () => optimizers.Optimizer][] = [
  ['SGD (Nesterov momentum)', () => new optimizers.SGD({ lr: 0.05, momentum: 0.9, nesterov: true })],
  ['RMSprop', () => new optimizers.RMSprop({ lr: 0.01 })],
  ['Adagrad', () => new optimizers.Adagrad({ lr: 0.05 })],
  ['Adadelta', () => new optimizers.Adadelta()],
  ['Adam (amsgrad)', () => new optimizers.Adam({ lr: 0.01, amsgrad: true })],
  ['Adamax', () => new optimizers.Adamax({ lr: 0.01 })],
  ['Nadam', () => new optimizers.Nadam({ lr: 0.01 })],
];

function data(): [Tensor, Tensor] {
  const n = 24;
  const x = Float32Array.from({ length: n * 5 }, (_, i) => Math.sin(i * 0.7));
  const y = new Float32Array(n * 3);
  for (let r = 0; r < n; r++) y[r * 3 + (r % 3)] = 1;
  return [new Tensor(x, [n, 5]), new Tensor(y, [n, 3])];
}

function build(opt: optimizers.Optimizer): AnyNetwork {
  const m = new Sequential([
    new layers.Dense(6, { inputShape: [5], activation: 'tanh', kernelInitializer: { className: 'RandomUniform', config: { seed: 1 } } }),
    new layers.Dropout(0.2, { seed: 4 }),
    new layers.Dense(3, { activation: 'softmax', kernelInitializer: { className: 'RandomUniform', config: { seed: 2 } } }),
  ]);
  m.compile({ optimizer: opt, loss: 'categorical_crossentropy', metrics: ['accuracy'], lossWeights: [0.5] });
  return m as unknown as AnyNetwork;
}

const fit = (m: AnyNetwork, epochs: number): Promise<unknown> => {
  const [x, y] = data();
  return m.fit(x, y, { epochs, batchSize: 8, shuffle: false, verbose: 0 });
};

describe.each(['h5', 'keras'])('.%s with the optimizer', (ext) => {
  it.each(OPTIMIZERS)('%s: training continues exactly where it stopped', async (name, make) => {
    setBackend(name.startsWith('Adam ') ? TEST_BACKEND : 'interpreter');
    const model = build(make());
    await fit(model, 2);
    const path = join(dir, `${name.replace(/\W+/g, '_')}.${ext}`);
    await model.save(path);
    const loaded = await loadModel(path);
    expect(loaded.metricsNames).toEqual(['loss', 'accuracy']);
    await fit(model, 3);
    await fit(loaded, 3);
    const want = model.getWeights();
    const got = loaded.getWeights();
    expect(got.length).toBe(want.length);
    got.forEach((w, i) => expect(Array.from(w.data)).toEqual(Array.from(want[i].data)));
    // And the continued training moved the weights (the check above is not comparing two frozen models).
    const fresh = build(make());
    expect(Array.from(fresh.getWeights()[0].data)).not.toEqual(Array.from(got[0].data));
    model.dispose();
    loaded.dispose();
    fresh.dispose();
  });
});

describe('without the optimizer', () => {
  it('includeOptimizer: false saves a compiled model whose optimizer starts fresh', async () => {
    setBackend('interpreter');
    const model = build(new optimizers.Adam({ lr: 0.01 }));
    await fit(model, 2);
    const path = join(dir, 'no_optimizer.h5');
    await model.save(path, { includeOptimizer: false });
    const loaded = await loadModel(path);
    const fresh = await loadModel(path);
    await fit(model, 1);
    await fit(loaded, 1);
    await fit(fresh, 1);
    // Loaded twice from the same file, both start the optimizer from zero: equal to each other, not to the original.
    expect(Array.from(loaded.getWeights()[0].data)).toEqual(Array.from(fresh.getWeights()[0].data));
    expect(Array.from(loaded.getWeights()[0].data)).not.toEqual(Array.from(model.getWeights()[0].data));
  });

  it('the optimizer config survives: class, learning rate and its options', async () => {
    setBackend('interpreter');
    const model = build(new optimizers.Adam({ lr: 0.0123, beta_1: 0.8, amsgrad: true }));
    const path = join(dir, 'adam_config.keras');
    await model.save(path);
    const loaded = await loadModel(path);
    expect(trainerOf(loaded)!.setup.optimizer.getConfig()).toEqual(trainerOf(model)!.setup.optimizer.getConfig());
  });
});

describe('every loss and metric survives a save', () => {
  const model = (loss: string, metrics: string[]): AnyNetwork => {
    const m = new Sequential([new layers.Dense(3, { inputShape: [5], activation: 'softmax', kernelInitializer: { className: 'RandomUniform', config: { seed: 5 } } })]);
    m.compile({ optimizer: 'adam', loss, metrics });
    return m as unknown as AnyNetwork;
  };

  it.each(['h5', 'keras', 'json'])('.%s: each loss, and every metric, come back and evaluate the same', async (ext) => {
    setBackend('interpreter');
    const [x, y] = data();
    const sparseY = new Tensor(Float32Array.from({ length: 24 }, (_, r) => r % 3), [24]);
    const metricNames = Object.keys(METRICS).filter((m) => !m.startsWith('sparse_'));
    for (const loss of Object.keys(LOSSES)) {
      const sparse = loss === 'sparse_categorical_crossentropy';
      const m = model(loss, sparse ? ['sparse_categorical_accuracy', 'sparse_top_k_categorical_accuracy'] : metricNames);
      const path = join(dir, `loss_${loss}.${ext}`);
      await m.save(path);
      const loaded = await loadModel(path);
      const outputs = (t: AnyNetwork): unknown => {
        const setup = trainerOf(t)!.setup;
        return (setup.outputs ?? [setup as never]).map((o: { loss: { name: string }; metrics: readonly { name: string }[] }) => [o.loss.name, o.metrics.map((k) => k.name)]);
      };
      expect(outputs(loaded)).toEqual(outputs(m));
      const target = sparse ? sparseY : y;
      expect(await loaded.evaluate(x, target, { verbose: 0 })).toEqual(await m.evaluate(x, target, { verbose: 0 }));
      m.dispose();
      loaded.dispose();
    }
  });
});

describe('multi-output models', () => {
  it.each(['h5', 'keras'])('.%s: per-output losses, metrics and loss weights come back, and training continues exactly', async (ext) => {
    setBackend('interpreter');
    const build = (): AnyNetwork => {
      const a = Input({ shape: [4], name: 'a' });
      const b = Input({ shape: [3], name: 'b' });
      const h = new layers.Concatenate().apply([new layers.Dense(5, { activation: 'tanh', kernelInitializer: { className: 'RandomUniform', config: { seed: 7 } } }).apply(a), b]);
      const cls = new layers.Dense(2, { activation: 'softmax', name: 'cls', kernelInitializer: { className: 'RandomUniform', config: { seed: 8 } } }).apply(h);
      const reg = new layers.Dense(1, { name: 'reg', kernelInitializer: { className: 'RandomUniform', config: { seed: 9 } } }).apply(h);
      const m = new Model({ inputs: [a, b], outputs: [cls, reg] }) as AnyNetwork;
      m.compile({ optimizer: new optimizers.Adam({ lr: 0.01 }), loss: { cls: 'categorical_crossentropy', reg: 'mse' }, metrics: { cls: ['accuracy'], reg: ['mae'] }, lossWeights: [1, 0.3] });
      return m;
    };
    const n = 16;
    const xa = new Tensor(Float32Array.from({ length: n * 4 }, (_, i) => Math.sin(i)), [n, 4]);
    const xb = new Tensor(Float32Array.from({ length: n * 3 }, (_, i) => Math.cos(i)), [n, 3]);
    const yc = new Tensor(Float32Array.from({ length: n * 2 }, (_, i) => (i % 2 === Math.floor(i / 2) % 2 ? 1 : 0)), [n, 2]);
    const yr = new Tensor(Float32Array.from({ length: n }, (_, i) => i / n), [n, 1]);
    const train = (m: AnyNetwork, epochs: number): Promise<unknown> => m.fit([xa, xb], [yc, yr], { epochs, batchSize: 4, shuffle: false, verbose: 0 });
    const model = build();
    await train(model, 2);
    const path = join(dir, `multi.${ext}`);
    await model.save(path);
    const loaded = await loadModel(path);
    expect(loaded.metricsNames).toEqual(model.metricsNames);
    await train(model, 2);
    await train(loaded, 2);
    expect(loaded.getWeights().map((w) => Array.from(w.data))).toEqual(model.getWeights().map((w) => Array.from(w.data)));
  });
});
