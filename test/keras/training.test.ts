/** fit/evaluate: convergence for every loss, Keras's validation split, callback order, errors. */
import { describe, expect, it } from 'vitest';
import { K, type KTensor, Sequential, Tensor, callbacks, layers, losses, setBackend, tensor } from '../../src/index.js';
import { TEST_BACKEND } from '../helpers/backend.js';

setBackend(TEST_BACKEND);

const N = 64;
const inputs = tensor(Array.from({ length: N }, (_, i) => [Math.sin(i), Math.cos(i * 1.3), ((i % 7) - 3) / 3]));
const label = (i: number): number => (Math.sin(i) + Math.cos(i * 1.3) > 0 ? 1 : 0);

/** Targets and output activation that suit each loss. */
function problem(loss: string): { y: Tensor; activation: string; units: number } {
  const cls = Array.from({ length: N }, (_, i) => label(i));
  switch (loss) {
    case 'categorical_crossentropy': case 'categorical_hinge': case 'kullback_leibler_divergence': case 'cosine_proximity':
      return { y: tensor(cls.map((c) => [1 - c, c])), activation: 'softmax', units: 2 };
    case 'sparse_categorical_crossentropy':
      return { y: tensor(cls), activation: 'softmax', units: 2 };
    case 'binary_crossentropy':
      return { y: tensor(cls.map((c) => [c])), activation: 'sigmoid', units: 1 };
    case 'hinge': case 'squared_hinge':
      return { y: tensor(cls.map((c) => [2 * c - 1])), activation: 'tanh', units: 1 };
    case 'poisson': case 'mean_squared_logarithmic_error': case 'mean_absolute_percentage_error':
      return { y: tensor(cls.map((c, i) => [1 + c + (i % 3) / 3])), activation: 'softplus', units: 1 };
    default:
      return { y: tensor(cls.map((c, i) => [c + Math.sin(i) / 2])), activation: 'linear', units: 1 };
  }
}

describe('fit converges for every loss', () => {
  it.each(Object.keys(losses.LOSSES))('%s', async (loss) => {
    const { y, activation, units } = problem(loss);
    const model = new Sequential([new layers.Dense(16, { inputShape: [3], activation: 'tanh', kernelInitializer: { className: 'glorot_uniform', config: { seed: 1 } } }), new layers.Dense(units, { activation, kernelInitializer: { className: 'glorot_uniform', config: { seed: 2 } } })]);
    model.compile({ optimizer: 'adam', loss });
    const before = (await model.evaluate(inputs, y)) as number;
    const history = await model.fit(inputs, y, { epochs: 40, batchSize: 16, verbose: 0 });
    const after = (await model.evaluate(inputs, y)) as number;
    expect(history.history.loss).toHaveLength(40);
    expect(Number.isFinite(after)).toBe(true);
    // Losses bounded below by a negative number (cosine) are compared by their decrease.
    expect(before - after).toBeGreaterThan(Math.abs(before) * 0.2);
  });
});

describe('training loop', () => {
  const model = (): Sequential => new Sequential([new layers.Dense(2, { inputShape: [3], activation: 'softmax', kernelInitializer: { className: 'glorot_uniform', config: { seed: 3 } } })]);
  const y = tensor(Array.from({ length: N }, (_, i) => [1 - label(i), label(i)]));

  it('reaches high accuracy and names metrics as Keras', async () => {
    const m = new Sequential([new layers.Dense(16, { inputShape: [3], activation: 'relu' }), new layers.Dropout(0.1), new layers.Dense(2, { activation: 'softmax' })]);
    m.compile({ optimizer: 'rmsprop', loss: 'categorical_crossentropy', metrics: ['acc'] });
    expect(m.metricsNames).toEqual(['loss', 'acc']);
    const h = await m.fit(inputs, y, { epochs: 60, batchSize: 8, verbose: 0, validationSplit: 0.25 });
    expect(Object.keys(h.history).sort()).toEqual(['acc', 'loss', 'val_acc', 'val_loss']);
    expect(h.history.acc[59]).toBeGreaterThan(0.85);
  });

  it('takes validation samples from the end, before shuffling', async () => {
    const m = model();
    m.compile({ optimizer: 'sgd', loss: 'categorical_crossentropy', metrics: ['accuracy'] });
    const h = await m.fit(inputs, y, { epochs: 1, batchSize: 8, verbose: 0, validationSplit: 0.25 });
    const tail = (t: Tensor): Tensor => new Tensor(t.data.slice((N * 3 / 4) * (t.data.length / N)), [N / 4, ...t.shape.slice(1)]);
    const [valLoss, valAcc] = (await m.evaluate(tail(inputs), tail(y))) as number[];
    expect(h.history.val_loss[0]).toBeCloseTo(valLoss, 5);
    expect(h.history.val_accuracy[0]).toBeCloseTo(valAcc, 5);
  });

  it('without shuffle, batches follow the data order and a partial last batch is padded', async () => {
    const seen: number[] = [];
    const m = model();
    m.compile({ optimizer: 'sgd', loss: 'mse' });
    await m.fit(inputs, y, { epochs: 1, batchSize: 24, shuffle: false, verbose: 0, callbacks: [new callbacks.LambdaCallback({ onBatchEnd: async (_b, logs) => void seen.push(logs?.size ?? -1) })] });
    expect(seen).toEqual([24, 24, 16]);
  });

  it('calls callbacks in Keras order', async () => {
    const events: string[] = [];
    const log = new callbacks.LambdaCallback({
      onTrainBegin: async () => void events.push('train_begin'),
      onEpochBegin: async (e) => void events.push(`epoch_begin ${e}`),
      onBatchBegin: async (b) => void events.push(`batch_begin ${b}`),
      onBatchEnd: async (b) => void events.push(`batch_end ${b}`),
      onEpochEnd: async (e, logs) => void events.push(`epoch_end ${e} ${Object.keys(logs ?? {}).sort().join(',')}`),
      onTrainEnd: async () => void events.push('train_end'),
    });
    const m = model();
    m.compile({ optimizer: 'sgd', loss: 'mse' });
    await m.fit(inputs, y, { epochs: 2, batchSize: 32, verbose: 0, callbacks: [log], validationData: [inputs, y] });
    expect(events).toEqual([
      'train_begin',
      'epoch_begin 0', 'batch_begin 0', 'batch_end 0', 'batch_begin 1', 'batch_end 1', 'epoch_end 0 loss,val_loss',
      'epoch_begin 1', 'batch_begin 0', 'batch_end 0', 'batch_begin 1', 'batch_end 1', 'epoch_end 1 loss,val_loss',
      'train_end',
    ]);
  });

  it('EarlyStopping stops when the monitored value stops improving', async () => {
    const m = model();
    // With a zero learning rate the loss never improves after the first epoch.
    m.compile({ optimizer: new (await import('../../src/optimizers.js')).SGD({ lr: 0 }), loss: 'mse' });
    const stop = new callbacks.EarlyStopping({ monitor: 'loss', patience: 2 });
    const h = await m.fit(inputs, y, { epochs: 10, batchSize: 32, verbose: 0, shuffle: false, callbacks: [stop] });
    expect(h.history.loss).toHaveLength(3);
    expect(stop.stoppedEpoch).toBe(2);
    await expect(m.fit(inputs, y, { epochs: 1, verbose: 0, callbacks: [new callbacks.EarlyStopping({ monitor: 'val_acc' })] })).rejects.toThrow(/EarlyStopping monitors 'val_acc', which is not in the logs. Available: loss/);
  });

  it('dropout is active in training, reproducible, and off in evaluation', async () => {
    const make = (): Sequential => new Sequential([new layers.Dropout(0.5, { inputShape: [3], seed: 7 }), new layers.Dense(2, { kernelInitializer: 'ones', biasInitializer: 'zeros' })]);
    const a = make();
    const b = make();
    for (const m of [a, b]) m.compile({ optimizer: new (await import('../../src/optimizers.js')).SGD({ lr: 0 }), loss: 'mse' });
    const trainA = await a.trainOnBatch(inputs, y);
    const trainB = await b.trainOnBatch(inputs, y);
    expect(trainA).toBe(trainB);
    expect(trainA).not.toBeCloseTo((await a.evaluate(inputs, y)) as number, 3);
  });
});

describe('bad input', () => {
  const m = new Sequential([new layers.Dense(2, { inputShape: [3], activation: 'softmax' })]);
  it('unknown loss, optimizer and metric names list the valid ones', () => {
    expect(() => m.compile({ optimizer: 'adam', loss: 'cross_entropy' })).toThrow(/Unknown loss 'cross_entropy'. Valid losses: mean_squared_error/);
    expect(() => m.compile({ optimizer: 'adamw', loss: 'mse' })).toThrow(/Unknown optimizer 'adamw'. Valid optimizers: sgd, rmsprop/);
    expect(() => m.compile({ optimizer: 'adam', loss: 'mse', metrics: ['f1'] })).toThrow(/Unknown metric 'f1'. Valid metrics: accuracy/);
  });

  it('x/y length mismatch and wrong label shapes are named', async () => {
    m.compile({ optimizer: 'adam', loss: 'categorical_crossentropy' });
    await expect(m.fit(tensor([[1, 2, 3], [4, 5, 6]]), tensor([[1, 0]]), { verbose: 0 })).rejects.toThrow('Input arrays should have the same number of samples as target arrays. Found 2 input samples and 1 target samples.');
    await expect(m.fit(tensor([[1, 2, 3]]), tensor([[1]]), { verbose: 0 })).rejects.toThrow(/A target array with shape \(1, 1\) was passed for an output of shape \(None, 2\) while using as loss `categorical_crossentropy`/);
  });

  it('training before compile says so', async () => {
    const fresh = new Sequential([new layers.Dense(1, { inputShape: [1] })]);
    await expect(fresh.fit(tensor([[1]]), tensor([[1]]))).rejects.toThrow(/must be compiled before training/);
  });

  it('TerminateOnNaN stops at a NaN loss and leaves the model usable', async () => {
    const model = new Sequential([new layers.Dense(1, { inputShape: [3] })]);
    model.compile({ optimizer: new (await import('../../src/optimizers.js')).SGD({ lr: 1e30 }), loss: 'mse' });
    const seen: number[] = [];
    const out: string[] = [];
    const write = process.stdout.write;
    process.stdout.write = ((s: string) => (out.push(s), true)) as typeof process.stdout.write;
    try {
      await model.fit(inputs, tensor(Array.from({ length: N }, () => [1e20])), {
        epochs: 5, batchSize: 8, verbose: 0,
        callbacks: [new callbacks.TerminateOnNaN(), new callbacks.LambdaCallback({ onBatchEnd: async (b) => void seen.push(b) })],
      });
    } finally {
      process.stdout.write = write;
    }
    expect(out.join('')).toMatch(/Invalid loss, terminating training/);
    expect(seen.length).toBeLessThan(40);
    expect(model.stopTraining).toBe(true);
    expect((await model.predict(inputs)).shape).toEqual([N, 1]);
  });
});

describe('custom losses and metrics with K', () => {
  it('are traced into the program and agree with the built-in equivalents', async () => {
    const x = tensor(Array.from({ length: 12 }, (_, i) => [Math.sin(i), Math.cos(i)]));
    const y = tensor(Array.from({ length: 12 }, (_, i) => [Math.sin(2 * i)]));
    const myMse = (yTrue: KTensor, yPred: KTensor): KTensor => K.mean(K.square(K.sub(yPred, yTrue)), -1);
    const maxError = function max_error(yTrue: KTensor, yPred: KTensor): KTensor {
      return K.max(K.abs(K.sub(yPred, yTrue)), -1);
    };
    const build = (): Sequential => new Sequential([new layers.Dense(1, { inputShape: [2], kernelInitializer: 'ones' })]);
    const custom = build();
    custom.compile({ optimizer: 'sgd', loss: myMse, metrics: [maxError] });
    const builtin = build();
    builtin.compile({ optimizer: 'sgd', loss: 'mse', metrics: ['mae'] });
    expect(custom.metricsNames).toEqual(['loss', 'max_error']);
    const [a, ma] = (await custom.evaluate(x, y)) as number[];
    const [b, mb] = (await builtin.evaluate(x, y)) as number[];
    expect([a, ma]).toBeAllClose([b, mb], { rtol: 1e-6, atol: 1e-7 });
    await custom.fit(x, y, { epochs: 2, batchSize: 4, verbose: 0, shuffle: false });
    await builtin.fit(x, y, { epochs: 2, batchSize: 4, verbose: 0, shuffle: false });
    expect(custom.getWeights()[0].data).toBeAllClose(builtin.getWeights()[0].data, { rtol: 1e-5, atol: 1e-6 });
  });
});

describe('loss weights and per-timestep losses', () => {
  it('lossWeights scales the loss; losses over sequences average over timesteps', async () => {
    const x = tensor(Array.from({ length: 8 }, (_, i) => [[i / 8, 1], [1 - i / 8, 0.5], [0.25, i / 4]]));
    const y = tensor(Array.from({ length: 8 }, (_, i) => [[i / 4], [0], [1]]));
    const make = (): Sequential => new Sequential([new layers.Dense(1, { inputShape: [3, 2], kernelInitializer: 'ones' })]);
    const plain = make();
    plain.compile({ optimizer: 'sgd', loss: 'mse' });
    const weighted = make();
    weighted.compile({ optimizer: 'sgd', loss: 'mse', lossWeights: [0.5] });
    const l = (await plain.evaluate(x, y)) as number;
    expect([(await weighted.evaluate(x, y)) as number]).toBeAllClose([0.5 * l], { rtol: 1e-6, atol: 1e-7 });
    const p = Array.from((await plain.predict(x)).data);
    expect([l]).toBeAllClose([p.reduce((s, v, i) => s + (v - y.data[i]) ** 2, 0) / p.length], { rtol: 1e-5, atol: 1e-6 });
    expect(() => plain.compile({ optimizer: 'sgd', loss: 'mse', lossWeights: [1, 2] })).toThrow(/when passing a list as lossWeights, it should have one entry per model output/);
  });
});

describe('shuffling', () => {
  it("true permutes samples, 'batch' permutes whole batches, false keeps the order", async () => {
    const { epochOrder, makeRandom } = await import('../../src/training/data.js');
    const ident = Array.from({ length: 10 }, (_, i) => i);
    const shuffled = Array.from(epochOrder(10, 4, true, makeRandom(1)));
    expect([...shuffled].sort((a, b) => a - b)).toEqual(ident);
    expect(shuffled).not.toEqual(ident);
    expect(Array.from(epochOrder(10, 4, true, makeRandom(1)))).toEqual(shuffled);
    const byBatch = Array.from(epochOrder(10, 4, 'batch', makeRandom(2)));
    const chunks = [byBatch.slice(0, 4), byBatch.slice(4, 8), byBatch.slice(8)].filter((c) => c.length);
    const starts = new Set([0, 4, 8]);
    expect(byBatch.join()).not.toBe(ident.join());
    // Every original batch survives as one contiguous run.
    let i = 0;
    while (i < byBatch.length) {
      const s = byBatch[i];
      expect(starts.has(s)).toBe(true);
      const len = Math.min(4, 10 - s);
      expect(byBatch.slice(i, i + len)).toEqual(Array.from({ length: len }, (_, k) => s + k));
      i += len;
    }
    expect(chunks.length).toBe(3);
    expect(Array.from(epochOrder(10, 4, false, makeRandom(3)))).toEqual(ident);
  });
});

describe("sampleWeightMode 'temporal'", () => {
  it('weights each timestep; zero weights drop timesteps from the loss', async () => {
    const x = tensor(Array.from({ length: 4 }, (_, i) => [[i, 1], [1, i], [0.5, 0.5]]));
    const y = tensor(Array.from({ length: 4 }, (_, i) => [[i], [0], [1]]));
    const m = new Sequential([new layers.Dense(1, { inputShape: [3, 2], kernelInitializer: 'ones' })]);
    m.compile({ optimizer: 'sgd', loss: 'mse', sampleWeightMode: 'temporal' });
    const sw = tensor(Array.from({ length: 4 }, () => [1, 0, 2]));
    const p = Array.from((await m.predict(x)).data);
    let num = 0;
    let den = 0;
    p.forEach((v, k) => {
      const w = sw.data[k];
      num += w * (v - y.data[k]) ** 2;
      den += w !== 0 ? 1 : 0;
    });
    expect([(await m.evaluate(x, y, { sampleWeight: sw })) as number]).toBeAllClose([num / den], { rtol: 1e-5, atol: 1e-6 });
    await expect(m.evaluate(x, y, { sampleWeight: tensor([1, 1, 1, 1]) })).rejects.toThrow(/sampleWeight has shape \(4\); expected shape \(4, 3\) with sampleWeightMode 'temporal'/);
    const flat = new Sequential([new layers.Dense(1, { inputShape: [2] })]);
    expect(() => flat.compile({ optimizer: 'sgd', loss: 'mse', sampleWeightMode: 'temporal' })).toThrow(/needs the value 'temporal' and an output of rank 3/);
  });
});

describe('shared weight storage', () => {
  it('predict, evaluate and train programs address one copy of the weights', async () => {
    const m = new Sequential([new layers.Dense(3, { inputShape: [3], activation: 'tanh' }), new layers.Dense(2, { activation: 'softmax' })]);
    m.compile({ optimizer: 'adam', loss: 'categorical_crossentropy' });
    const y = tensor(Array.from({ length: N }, (_, i) => [1 - label(i), label(i)]));
    const before = Array.from((await m.predict(inputs, { batchSize: N })).data);
    await m.trainOnBatch(inputs, y);
    const stats = m.compileStats;
    const after = Array.from((await m.predict(inputs, { batchSize: N })).data);
    // Same predict program (no recompile), new weights seen without any copy.
    expect(m.compileStats).toBe(stats);
    expect(after).not.toEqual(before);
    const host = m.getWeights();
    const fresh = new Sequential([new layers.Dense(3, { inputShape: [3], activation: 'tanh' }), new layers.Dense(2, { activation: 'softmax' })]);
    fresh.setWeights(host);
    expect((await fresh.predict(inputs, { batchSize: N })).data).toBeAllClose(after, { rtol: 1e-6, atol: 1e-7 });
    m.dispose();
    expect(m.getWeights().map((w) => Array.from(w.data))).toEqual(host.map((w) => Array.from(w.data)));
  });

  it('validationSteps limits validation to that many batches', async () => {
    const m = new Sequential([new layers.Dense(2, { inputShape: [3], activation: 'softmax' })]);
    m.compile({ optimizer: 'sgd', loss: 'categorical_crossentropy' });
    const y = tensor(Array.from({ length: N }, (_, i) => [1 - label(i), label(i)]));
    const h = await m.fit(inputs, y, { epochs: 1, batchSize: 8, verbose: 0, stepsPerEpoch: 2, validationData: [inputs, y], validationSteps: 1 });
    const head = (t: Tensor): Tensor => new Tensor(t.data.slice(0, 8 * (t.data.length / N)), [8, ...t.shape.slice(1)]);
    expect(h.history.val_loss[0]).toBeCloseTo((await m.evaluate(head(inputs), head(y))) as number, 5);
  });
});
