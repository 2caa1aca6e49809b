/** What a Keras user trips on (issue 16): one describe per numbered item, each failing on the code before its fix. */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { K, type KTensor, Sequential, Tensor, callbacks, layers, loadModel, optimizers, setBackend, tensor, utils } from '../../src/index.js';
import { optimizerFromConfig } from '../../src/io/training_config.js';
import { TEST_BACKEND } from '../helpers/backend.js';

setBackend(TEST_BACKEND);

const N = 16;
const x8 = tensor(Array.from({ length: N }, (_, i) => Array.from({ length: 8 }, (_, j) => Math.sin(i * 0.7 + j))));
const y1 = tensor(Array.from({ length: N }, (_, i) => [Math.cos(i)]));

describe('item 1: frozen layers under stateful optimizers', () => {
  const frozen = (where: 'constructor' | 'recompile', optimizer: string | optimizers.Optimizer) => async () => {
    const feat = new layers.Dense(4, { inputShape: [8], trainable: where === 'constructor' ? false : undefined, name: 'feat' });
    const m = new Sequential([feat, new layers.Dense(1)]);
    if (where === 'recompile') {
      m.compile({ optimizer, loss: 'mse' });
      await m.fit(x8, y1, { epochs: 1, verbose: 0 });
      feat.trainable = false;
    }
    m.compile({ optimizer, loss: 'mse' });
    const before = feat.getWeights().map((w) => Float32Array.from(w.data));
    const head = m.layers[1].getWeights().map((w) => Float32Array.from(w.data));
    await m.fit(x8, y1, { epochs: 2, batchSize: 4, verbose: 0 });
    feat.getWeights().forEach((w, i) => expect(Array.from(w.data)).toEqual(Array.from(before[i])));
    // The trainable head still learns.
    expect(Array.from(m.layers[1].getWeights()[0].data)).not.toEqual(Array.from(head[0]));
  };
  it('adam, frozen in the constructor', frozen('constructor', 'adam'));
  it('rmsprop, frozen in the constructor', frozen('constructor', 'rmsprop'));
  it('SGD with momentum, frozen in the constructor', frozen('constructor', new optimizers.SGD({ momentum: 0.9 })));
  it('adam, frozen before a recompile', frozen('recompile', 'adam'));
  it('nadam, frozen before a recompile', frozen('recompile', 'nadam'));
});

describe('item 2: Keras spellings accepted, unknown option keys refused', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kiln-tripups-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const small = (): Sequential => new Sequential([new layers.Dense(1, { inputShape: [8] })]);
  const compiled = (): Sequential => {
    const m = small();
    m.compile({ optimizer: 'sgd', loss: 'mse' });
    return m;
  };

  it('optimizers take the learning rate positionally, as learningRate and as learning_rate', () => {
    expect(new optimizers.SGD({ learningRate: 0.5 }).lr).toBe(0.5);
    expect(new optimizers.Adam({ learning_rate: 0.25 }).lr).toBe(0.25);
    expect(new optimizers.SGD(0.1).lr).toBe(0.1);
    const sgd = new optimizers.SGD(0.1, { momentum: 0.9, nesterov: true });
    expect([sgd.lr, sgd.momentum, sgd.nesterov]).toEqual([0.1, 0.9, true]);
    const adam = new optimizers.Adam({ beta_1: 0.8, beta_2: 0.99, amsgrad: true });
    expect([adam.beta1, adam.beta2, adam.amsgrad]).toEqual([0.8, 0.99, true]);
    expect(new optimizers.Nadam({ schedule_decay: 0.01 }).scheduleDecay).toBe(0.01);
  });

  it('optimizers refuse unknown keys, naming the valid ones', () => {
    expect(() => new optimizers.SGD({ rho: 0.9 } as never)).toThrow("optimizers.SGD: unknown option 'rho'. Valid options: lr, decay, clipnorm, clipvalue, momentum, nesterov, learningRate (= lr)");
    expect(() => new optimizers.Adam({ betas: [0.9, 0.99] } as never)).toThrow(/unknown option 'betas'.*beta1, beta2, epsilon, amsgrad/);
    expect(() => new optimizers.SGD(0.1, { lr: 0.2 })).toThrow('given twice');
    expect(() => new optimizers.SGD({ lr: 0.1, learning_rate: 0.2 })).toThrow("option 'lr' is given twice, as 'lr' and as 'learning_rate'");
    expect(() => new optimizers.SGD(0.1, 0.9 as never)).toThrow('options must be an object');
  });

  it("strict optimizer keys still load Keras 3's RMSprop config (momentum 0), and refuse a momentum Kiln's RMSprop lacks", () => {
    const keras3 = { class_name: 'RMSprop', config: { name: 'rmsprop', learning_rate: 0.002, rho: 0.8, momentum: 0.0, epsilon: 1e-7, centered: false, clipnorm: null } };
    const opt = optimizerFromConfig(keras3, 'model.keras') as optimizers.RMSprop;
    expect([opt.lr, opt.rho]).toEqual([0.002, 0.8]);
    expect(() => optimizerFromConfig({ ...keras3, config: { ...keras3.config, momentum: 0.9 } }, 'model.keras')).toThrow("model.keras: RMSprop option momentum = 0.9 has no Kiln counterpart; Kiln's RMSprop takes lr, decay, clipnorm, clipvalue, rho, epsilon");
  });

  it('fit takes batch_size and validation_split', async () => {
    const m = compiled();
    const sizes: number[] = [];
    const h = await m.fit(x8, y1, { batch_size: 7, validation_split: 0.5, epochs: 1, verbose: 0, callbacks: [new callbacks.LambdaCallback({ onBatchEnd: (_b, logs) => void sizes.push(logs.size) })] });
    // 16 samples, half kept for validation: batches of 7 and 1.
    expect(sizes).toEqual([7, 1]);
    expect(Object.keys(h.history).sort()).toEqual(['loss', 'val_loss']);
  });

  it('fit, evaluate and compile refuse unknown keys and positional options', async () => {
    const m = compiled();
    await expect(m.fit(x8, y1, { batchsize: 7 } as never)).rejects.toThrow(/fit: unknown option 'batchsize'. Valid options: batchSize, epochs, .*validationSteps/);
    await expect(m.fit(x8, y1, 32 as never)).rejects.toThrow("fit: options must be an object, got 32 (Keras's positional arguments are options here, e.g. { batchSize: ... })");
    await expect(m.evaluate(x8, y1, { batch: 4 } as never)).rejects.toThrow("evaluate: unknown option 'batch'. Valid options: batchSize, verbose, sampleWeight");
    expect(await m.evaluate(x8, y1, { batch_size: 4, verbose: 0 })).toBeTypeOf('number');
    expect(() => small().compile({ optimizer: 'sgd', loss: 'mse', metric: ['acc'] } as never)).toThrow("compile: unknown option 'metric'");
    const weighted = small();
    weighted.compile({ optimizer: 'sgd', loss: 'mse', loss_weights: [2] });
    const plain = small();
    plain.setWeights(weighted.getWeights());
    plain.compile({ optimizer: 'sgd', loss: 'mse' });
    expect(await weighted.evaluate(x8, y1, { verbose: 0 })).toBeCloseTo(2 * ((await plain.evaluate(x8, y1, { verbose: 0 })) as number), 5);
  });

  it('predict and predictGenerator take batch_size/max_queue_size and refuse unknown keys', async () => {
    const m = small();
    const want = await m.predict(x8);
    expect((await m.predict(x8, { batch_size: 5 })).data).toBeAllClose(want.data, { rtol: 0, atol: 0 });
    await expect(m.predict(x8, { batch: 5 } as never)).rejects.toThrow("predict: unknown option 'batch'. Valid options: batchSize, verbose");
    const got = await m.predictGenerator([x8], { steps: 1, max_queue_size: 2 });
    expect(got.data).toBeAllClose(want.data, { rtol: 0, atol: 0 });
    await expect(m.predictGenerator([x8], { steps: 1, workers: 2 } as never)).rejects.toThrow("predictGenerator: unknown option 'workers'. Valid options: steps, maxQueueSize");
  });

  it('LambdaCallback takes on_epoch_end and refuses unknown hooks', async () => {
    const epochs: number[] = [];
    await compiled().fit(x8, y1, { epochs: 3, verbose: 0, callbacks: [new callbacks.LambdaCallback({ on_epoch_end: (epoch: number) => void epochs.push(epoch) })] });
    expect(epochs).toEqual([0, 1, 2]);
    expect(() => new callbacks.LambdaCallback({ onEpochFinish: () => {} } as never)).toThrow(/unknown option 'onEpochFinish'. Valid options: onTrainBegin, .*onBatchEnd/);
  });

  it("a Callback subclass with Keras's snake_case hook names is refused instead of never called", async () => {
    class Ported extends callbacks.Callback {
      on_epoch_end(): void {}
    }
    await expect(compiled().fit(x8, y1, { verbose: 0, callbacks: [new Ported()] })).rejects.toThrow("Callback Ported defines 'on_epoch_end', which Kiln never calls: name the method 'onEpochEnd'");
  });

  it('EarlyStopping and ReduceLROnPlateau take snake_case keys and refuse unknown ones', () => {
    expect(new callbacks.EarlyStopping({ monitor: 'loss', min_delta: 0.5, restore_best_weights: true }).monitor).toBe('loss');
    expect(() => new callbacks.EarlyStopping({ patient: 2 } as never)).toThrow("callbacks.EarlyStopping: unknown option 'patient'");
    expect(() => new callbacks.ReduceLROnPlateau({ min_lr: 0.001, epsilon: 0.01 })).not.toThrow();
    expect(() => new callbacks.ReduceLROnPlateau({ minLR: 0.001 } as never)).toThrow("unknown option 'minLR'");
  });

  it('ModelCheckpoint writes the whole model by default as Keras does, weights with save_weights_only', async () => {
    const m = compiled();
    await m.fit(x8, y1, { epochs: 1, verbose: 0, callbacks: [new callbacks.ModelCheckpoint(join(dir, 'm.{epoch:02d}.h5')), new callbacks.ModelCheckpoint(join(dir, 'w.{epoch:02d}.h5'), { save_weights_only: true })] });
    const restored = await loadModel(join(dir, 'm.01.h5'));
    expect(((await restored.predict(x8)) as Tensor).data).toBeAllClose((await m.predict(x8)).data, { rtol: 0, atol: 0 });
    const w = small();
    await w.loadWeights(join(dir, 'w.01.h5'));
    expect((await w.predict(x8)).data).toBeAllClose((await m.predict(x8)).data, { rtol: 0, atol: 0 });
    // The weights file holds no model config: loadModel cannot make a model of it.
    await expect(loadModel(join(dir, 'w.01.h5'))).rejects.toThrow();
    const noSave = new callbacks.ModelCheckpoint(join(dir, 'x.h5'));
    expect(() => noSave.setModel({ stopTraining: false })).toThrow("whole-model checkpoints (saveWeightsOnly: false, Keras's default) need model.save, which this model lacks");
    expect(() => new callbacks.ModelCheckpoint(join(dir, 'x.h5'), { save_best: true } as never)).toThrow(/unknown option 'save_best'. Valid options: monitor, verbose, saveBestOnly, saveWeightsOnly, mode, period/);
  });
});

describe('item 4: custom activation callables, traced with K', () => {
  const swishRef = (v: number): number => v / (1 + Math.exp(-v));

  it('Dense takes x => K.mul(x, K.sigmoid(x)) and computes it', async () => {
    const swish = new Sequential([new layers.Dense(4, { inputShape: [8], activation: (x: KTensor) => K.mul(x, K.sigmoid(x)) })]);
    const linear = new Sequential([new layers.Dense(4, { inputShape: [8] })]);
    linear.setWeights(swish.getWeights());
    const [got, pre] = [await swish.predict(x8), await linear.predict(x8)];
    expect(got.data).toBeAllClose(Float32Array.from(pre.data, swishRef), { rtol: 1e-5, atol: 1e-6 });
    expect(swish.layers[0].getConfig().activation).toBe('custom_activation');
  });

  it('an Activation layer takes a named function, keeps its name, and trains through it', async () => {
    function softClip(x: KTensor): KTensor {
      return K.tanh(K.div(x, 2));
    }
    const m = new Sequential([new layers.Dense(4, { inputShape: [8] }), new layers.Activation(softClip), new layers.Dense(1)]);
    expect(m.layers[1].getConfig().activation).toBe('softClip');
    const inner = new Sequential([new layers.Dense(4, { inputShape: [8] })]);
    inner.setWeights(m.getWeights().slice(0, 2));
    const pre = await inner.predict(x8);
    const head = m.getWeights().slice(2);
    const out = await m.predict(x8);
    const want = Array.from({ length: N }, (_, r) => head[1].data[0] + Array.from({ length: 4 }, (_, j) => Math.tanh(pre.data[r * 4 + j] / 2) * head[0].data[j]).reduce((a, b) => a + b, 0));
    expect(out.data).toBeAllClose(Float32Array.from(want), { rtol: 1e-5, atol: 1e-6 });
    m.compile({ optimizer: 'adam', loss: 'mse' });
    const h = await m.fit(x8, y1, { epochs: 20, batchSize: 4, verbose: 0 });
    expect(h.history.loss[19]).toBeLessThan(h.history.loss[0]);
  });

  it('a custom activation that changes the shape or returns no tensor is refused by name', async () => {
    const m = new Sequential([new layers.Dense(4, { inputShape: [8], activation: function squash(x: KTensor) { return K.sum(x, -1, true); } })]);
    await expect(m.predict(x8)).rejects.toThrow("Custom activation 'squash' must keep its input's shape [16, 4], got [16, 1]");
    expect(() => new layers.Dense(4, { activation: (a: KTensor, b: KTensor, c: KTensor) => K.add(a, K.add(b, c)) } as never)).toThrow("Custom activation 'custom_activation' must take one tensor (x => K.relu(x)) or (b, x) over the IR builder; it takes 3 arguments");
  });
});

describe('item 3: scalar losses and metrics, as Keras takes them', () => {
  // The Keras documentation's example metric.
  const meanPred = function mean_pred(_yTrue: KTensor, yPred: KTensor): KTensor {
    return K.mean(yPred);
  };
  const model = (): Sequential => new Sequential([new layers.Dense(1, { inputShape: [8], kernelInitializer: { className: 'glorot_uniform', config: { seed: 5 } } })]);

  it('a scalar metric is reported per batch and averaged over batches weighted by their size (partial batches unpadded)', async () => {
    const m = model();
    m.compile({ optimizer: 'sgd', loss: 'mse', metrics: [meanPred] });
    expect(m.metricsNames).toEqual(['loss', 'mean_pred']);
    const pred = await m.predict(x8);
    const mean = Array.from(pred.data).reduce((a, b) => a + b, 0) / N;
    // Batches of 6, 6 and 4: the size-weighted mean of the batch means is the mean over all samples.
    const [, got] = (await m.evaluate(x8, y1, { batchSize: 6, verbose: 0 })) as number[];
    expect(got).toBeCloseTo(mean, 5);
    const sizes: number[] = [];
    const seen: number[] = [];
    await m.fit(x8, y1, { epochs: 1, batchSize: 6, shuffle: false, verbose: 0, callbacks: [new callbacks.LambdaCallback({ onBatchEnd: (_b, logs) => void (sizes.push(logs.size), seen.push(logs.mean_pred)) })] });
    expect(sizes).toEqual([6, 6, 4]);
    // The first batch's value comes before any update: the mean of the first 6 predictions.
    expect(seen[0]).toBeCloseTo(Array.from(pred.data.slice(0, 6)).reduce((a, b) => a + b, 0) / 6, 5);
  });

  it('a scalar loss trains and evaluates like the per-sample one it averages', async () => {
    const scalarMse = (yTrue: KTensor, yPred: KTensor): KTensor => K.mean(K.square(K.sub(yPred, yTrue)));
    const a = model();
    const b = model();
    b.setWeights(a.getWeights());
    a.compile({ optimizer: new optimizers.SGD(0.1), loss: scalarMse });
    b.compile({ optimizer: new optimizers.SGD(0.1), loss: 'mse' });
    expect((await a.evaluate(x8, y1, { batchSize: 5, verbose: 0 })) as number).toBeCloseTo((await b.evaluate(x8, y1, { batchSize: 5, verbose: 0 })) as number, 5);
    await a.fit(x8, y1, { epochs: 2, batchSize: 5, shuffle: false, verbose: 0 });
    await b.fit(x8, y1, { epochs: 2, batchSize: 5, shuffle: false, verbose: 0 });
    expect(a.getWeights()[0].data).toBeAllClose(b.getWeights()[0].data, { rtol: 1e-5, atol: 1e-6 });
  });

  it('a metric of another shape is refused, naming it', async () => {
    const m = model();
    m.compile({ optimizer: 'sgd', loss: 'mse', metrics: [function per_feature(_t: KTensor, p: KTensor) { return K.mean(p, 0); }] });
    await expect(m.evaluate(x8, y1, { verbose: 0 })).rejects.toThrow('The metric per_feature must give one value per sample (shape [16, ...]) or one scalar for the batch, got shape [1]');
  });
});

describe('item 5: Keras conveniences', () => {
  const model = (): Sequential => {
    const m = new Sequential([new layers.Dense(1, { inputShape: [8], kernelInitializer: { className: 'glorot_uniform', config: { seed: 7 } } })]);
    m.compile({ optimizer: 'sgd', loss: 'mse' });
    return m;
  };
  const flat = Array.from(y1.data);

  it('evaluate with returnDict is typed as an object keyed by metrics name: no cast for score.mae', async () => {
    const m = new Sequential([new layers.Dense(1, { inputShape: [8] })]);
    m.compile({ optimizer: 'sgd', loss: 'mse', metrics: ['mae'] });
    const list = (await m.evaluate(x8, y1, { verbose: 0 })) as number[];
    const score = await m.evaluate(x8, y1, { verbose: 0, returnDict: true });
    const mae: number = score.mae;
    expect(Object.keys(score)).toEqual(['loss', 'mae']);
    expect([score.loss, mae]).toEqual(list);
    expect(await m.evaluate(x8, y1, { verbose: 0, return_dict: true })).toEqual(score);
    m.dispose();
  });

  it('1-D targets for a single-unit output are read as a column, as Keras 2 expands them', async () => {
    const m = model();
    const column = (await m.evaluate(x8, y1, { verbose: 0 })) as number;
    expect((await m.evaluate(x8, flat, { verbose: 0 })) as number).toBeCloseTo(column, 6);
    expect((await m.evaluate(x8, tensor(flat), { verbose: 0 })) as number).toBeCloseTo(column, 6);
    const h = await m.fit(x8, new Float32Array(flat), { epochs: 2, verbose: 0, validationData: [x8, flat] });
    expect(h.history.val_loss).toHaveLength(2);
  });

  it('1-D inputs for an input of shape (None, 1) are read as a column too', async () => {
    const m = new Sequential([new layers.Dense(1, { inputShape: [1], kernelInitializer: 'ones', biasInitializer: 'ones' })]);
    expect(Array.from((await m.predict([1, 2, 3])).data)).toEqual([2, 3, 4]);
    m.compile({ optimizer: 'sgd', loss: 'mse' });
    expect(await m.evaluate(new Float32Array([1, 2]), [2, 3], { verbose: 0 })).toBe(0);
  });

  it('sampleWeight as a typed array or a plain array', async () => {
    const m = model();
    const half = Array.from({ length: N }, (_, i) => (i < N / 2 ? 1 : 0));
    const first = (await m.evaluate(tensor(Array.from(x8.data).slice(0, 8 * N / 2), [N / 2, 8]), tensor(flat.slice(0, N / 2), [N / 2, 1]), { verbose: 0 })) as number;
    expect((await m.evaluate(x8, y1, { sampleWeight: half, verbose: 0 })) as number).toBeCloseTo(first, 6);
    expect((await m.evaluate(x8, y1, { sampleWeight: Float32Array.from(half), verbose: 0 })) as number).toBeCloseTo(first, 6);
    await m.fit(x8, y1, { sampleWeight: Float32Array.from(half), verbose: 0 });
  });

  it('utils.toCategorical takes a plain array', () => {
    const t = utils.toCategorical([0, 2], 3);
    expect(t.shape).toEqual([2, 3]);
    expect(Array.from(t.data)).toEqual([1, 0, 0, 0, 0, 1]);
    expect(Array.from(utils.toCategorical(new Int32Array([1])).data)).toEqual([0, 1]);
  });

  it('tensor() keeps a Uint8Array as uint8 (not bool), and fit reads it as numbers', async () => {
    const t = tensor(new Uint8Array([200, 3]));
    expect(t.dtype).toBe('uint8');
    expect(Array.from(t.data)).toEqual([200, 3]);
    const m = model();
    const bytes = new Tensor(Uint8Array.from(x8.data, (v) => Math.round((v + 1) * 100)), x8.shape, 'uint8');
    const floats = tensor(Array.from(bytes.data), bytes.shape);
    expect((await m.predict(bytes)).data).toBeAllClose((await m.predict(floats)).data, { rtol: 0, atol: 0 });
  });

  it('strings in nested arrays are refused, naming the element', () => {
    expect(() => tensor([[1, 2], [3, '4' as never]])).toThrow('tensor(): element[1][1] is the string "4"; nested arrays must hold numbers or booleans');
    expect(() => tensor([1, undefined as never])).toThrow('tensor(): element[1] is undefined');
  });

  it("fit with the wrong feature width gives Keras's input message, as predict does", async () => {
    const m = model();
    const narrow = tensor([[1, 2, 3]]);
    await expect(m.predict(narrow)).rejects.toThrow('Error when checking input of model');
    await expect(m.fit(narrow, [[1]], { verbose: 0 })).rejects.toThrow(/Error when checking input of model .*: expected input to have shape \(None, 8\) but got array with shape \(1, 3\)/);
  });
});

describe("item 6: threads under load run on Kiln's own pool (the throughput figures are bench:contention)", () => {
  // A fresh process on the built package (npm test builds it first), so that this process's own pool and libraries do not count.
  const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

  it('a model fit with two threads runs its parallel kernels through the pool, not libgomp, and sets no OpenMP variable', () => {
    const script = `import koffi from 'koffi';
import { readFileSync } from 'node:fs';
import { Sequential, layers, tensor } from './dist/src/index.js';
const m = new Sequential([new layers.Dense(256, { inputShape: [784], activation: 'relu' }), new layers.Dense(10, { activation: 'softmax' })]);
m.compile({ optimizer: 'rmsprop', loss: 'categorical_crossentropy', backend: 'cpu' });
const x = tensor(new Float32Array(256 * 784).map((_, i) => Math.sin(i)), [256, 784]);
const y = tensor(new Float32Array(256 * 10).map((_, i) => (i % 10 === 3 ? 1 : 0)), [256, 10]);
await m.fit(x, y, { batchSize: 128, epochs: 2, verbose: 0 });
const maps = readFileSync('/proc/self/maps', 'utf8').split('\\n').map((l) => l.trim().split(/\\s+/)[5] ?? '');
const pool = maps.find((p) => /kiln_pool\\.[0-9a-f]{32}\\.so$/.test(p));
const out = new BigUint64Array(6);
koffi.load(pool).func('void kiln_pool_stats(_Out_ uint64_t *out)')(out);
console.log(JSON.stringify({ gomp: maps.some((p) => p.includes('libgomp')), regions: Number(out[0] + out[1] + out[5]), env: ['GOMP_SPINCOUNT', 'OMP_WAIT_POLICY', 'OMP_THREAD_LIMIT'].filter((k) => process.env[k] !== undefined) }));`;
    const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('OMP_') && !k.startsWith('GOMP_')));
    const run = spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd: root, encoding: 'utf8', env: { ...base, KILN_NUM_THREADS: '2' } });
    expect(run.status, run.stderr).toBe(0);
    const r = JSON.parse(run.stdout.trim().split('\n').pop()!) as { gomp: boolean; regions: number; env: string[] };
    expect(r.gomp).toBe(false);
    // Every step runs the Dense kernels (256 x 784 weights) as parallel regions, on the team or, under load, on the caller alone.
    expect(r.regions).toBeGreaterThanOrEqual(4);
    expect(r.env).toEqual([]);
  });
});

describe("README: From Keras to Kiln's naming rules", () => {
  const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

  it('positional arguments: the ones Keras requires, and an optimizer\'s learning rate', () => {
    expect(new layers.Dense(64).getConfig().units).toBe(64);
    expect(new layers.Dropout(0.5).rate).toBe(0.5);
    expect(new layers.Activation('relu').getConfig().activation).toBe('relu');
    expect(new callbacks.LearningRateScheduler((epoch) => 0.1 / (epoch + 1))).toBeInstanceOf(callbacks.Callback);
    expect(utils.toCategorical([1], 10).shape).toEqual([1, 10]);
    expect(new optimizers.RMSprop(0.01, { rho: 0.8 }).lr).toBe(0.01);
    // Keras's Sequential(layers=None, name=None): the name positionally, or as an option; other keys refused.
    expect(new Sequential([new layers.Dense(1, { inputShape: [2] })], 'stack').name).toBe('stack');
    expect(new Sequential([], { name: 'named' }).name).toBe('named');
    expect(() => new Sequential([], { nme: 'x' } as never)).toThrow("Sequential: unknown option 'nme'");
  });

  it('snake_case option keys type-check against the built typings, and unknown keys do not', async () => {
    const ts = (await import('typescript')).default;
    const dir = mkdtempSync(join(tmpdir(), 'kiln-types-'));
    try {
      const file = join(dir, 'use.ts');
      writeFileSync(file, `
        import { Sequential, Tensor, callbacks, optimizers } from ${JSON.stringify(join(root, 'dist', 'src', 'index.js'))};
        declare const m: Sequential;
        declare const x: Tensor;
        new optimizers.SGD(0.1, { momentum: 0.9 });
        new optimizers.SGD({ learning_rate: 0.1 });
        new optimizers.Adam({ learningRate: 0.1, beta_1: 0.9, beta_2: 0.99 });
        m.compile({ optimizer: 'sgd', loss: 'mse', loss_weights: [1] });
        void m.fit(x, x, { batch_size: 7, validation_split: 0.5, initial_epoch: 0 });
        void m.evaluate(x, x, { batch_size: 4 });
        void m.predict(x, { batch_size: 4 });
        new callbacks.LambdaCallback({ on_epoch_end: (epoch: number) => void epoch });
        new callbacks.ModelCheckpoint('m.h5', { save_weights_only: true, save_best_only: true });
        new callbacks.EarlyStopping({ min_delta: 0.1, restore_best_weights: true });
        new callbacks.ReduceLROnPlateau({ min_lr: 0.001 });
        // @ts-expect-error a misspelt key
        void m.fit(x, x, { batchsize: 7 });
        // @ts-expect-error an option of another optimizer
        new optimizers.SGD({ rho: 0.9 });
      `);
      const program = ts.createProgram([file], { strict: true, noEmit: true, target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext, skipLibCheck: true, types: [] });
      const messages = ts.getPreEmitDiagnostics(program).map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
      expect(messages).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("layer options take Keras's snake_case spelling too, and an unknown key is refused (test/keras/layer_options.test.ts has more)", () => {
    expect(new layers.Dense(4, { useBias: false }).getConfig().useBias).toBe(false);
    expect(new layers.Dense(4, { use_bias: false } as never).getConfig().useBias).toBe(false);
    expect(() => new Sequential([new layers.Dense(4, { inputShape: [2], use_bais: false } as never)])).toThrow(/unknown option 'use_bais'/);
  });

  it('callback hooks are camelCase methods and may be async: fit waits for each', async () => {
    const order: string[] = [];
    class Slow extends callbacks.Callback {
      override async onEpochEnd(epoch: number): Promise<void> {
        await new Promise((r) => setTimeout(r, 20));
        order.push(`end ${epoch}`);
      }
      override async onEpochBegin(epoch: number): Promise<void> {
        order.push(`begin ${epoch}`);
      }
    }
    const m = new Sequential([new layers.Dense(1, { inputShape: [8] })]);
    m.compile({ optimizer: 'sgd', loss: 'mse' });
    await m.fit(x8, y1, { epochs: 2, verbose: 0, callbacks: [new Slow()] });
    expect(order).toEqual(['begin 0', 'end 0', 'begin 1', 'end 1']);
  });

  it('identifiers keep their Keras names; optimizer names in any case', async () => {
    const m = new Sequential([new layers.Dense(2, { inputShape: [8], activation: 'softmax' })]);
    m.compile({ optimizer: 'RMSprop', loss: 'categorical_crossentropy', metrics: ['acc'] });
    const y = tensor(Array.from({ length: N }, (_, i) => (i % 2 ? [0, 1] : [1, 0])));
    const h = await m.fit(x8, y, { epochs: 1, verbose: 0, validationSplit: 0.25 });
    expect(Object.keys(h.history).sort()).toEqual(['acc', 'loss', 'val_acc', 'val_loss']);
    expect(m.metricsNames).toEqual(['loss', 'acc']);
  });

  it('what runs a program or touches a file is async; constructors, compile and configs are not', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kiln-async-'));
    try {
      const m = new Sequential([new layers.Dense(1, { inputShape: [8] })]);
      expect(m.compile({ optimizer: 'sgd', loss: 'mse' })).toBeUndefined();
      expect(m.getConfig()).not.toBeInstanceOf(Promise);
      expect(m.getWeights()).toBeInstanceOf(Array);
      const calls: Promise<unknown>[] = [
        m.predict(x8), m.predictOnBatch(x8), m.predictClasses(x8), m.predictProba(x8), m.evaluate(x8, y1, { verbose: 0 }),
        m.trainOnBatch(x8, y1), m.testOnBatch(x8, y1), m.fit(x8, y1, { verbose: 0 }), m.saveWeights(join(dir, 'w.h5')),
      ];
      for (const c of calls) expect(c).toBeInstanceOf(Promise);
      await Promise.all(calls);
      const more = [m.loadWeights(join(dir, 'w.h5')), m.save(join(dir, 'm.h5'))];
      for (const c of more) expect(c).toBeInstanceOf(Promise);
      await Promise.all(more);
      const loaded = loadModel(join(dir, 'm.h5'));
      expect(loaded).toBeInstanceOf(Promise);
      await loaded;
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('evaluate returns the loss alone without metrics, [loss, ...metrics] with them', async () => {
    const plain = new Sequential([new layers.Dense(1, { inputShape: [8] })]);
    plain.compile({ optimizer: 'sgd', loss: 'mse' });
    expect(typeof (await plain.evaluate(x8, y1, { verbose: 0 }))).toBe('number');
    plain.compile({ optimizer: 'sgd', loss: 'mse', metrics: ['mae'] });
    const score = await plain.evaluate(x8, y1, { verbose: 0 });
    expect(Array.isArray(score) && score.length === 2).toBe(true);
  });

  it('getConfig is camelCase and fromConfig reads it back; the files are Keras\'s snake_case', () => {
    const m = new Sequential([new layers.Dense(3, { inputShape: [8], useBias: false, activation: 'tanh' })]);
    const config = m.getConfig() as { layers: { config: Record<string, unknown> }[] };
    expect(config.layers[0].config.useBias).toBe(false);
    expect('use_bias' in config.layers[0].config).toBe(false);
    const again = Sequential.fromConfig(m.getConfig());
    expect((again.getConfig() as typeof config).layers[0].config.useBias).toBe(false);
    const file = JSON.parse(m.toJSON()) as { config: { layers: { config: Record<string, unknown> }[] } };
    expect(file.config.layers[0].config.use_bias).toBe(false);
    expect('useBias' in file.config.layers[0].config).toBe(false);
  });

  it('trainable = false takes effect at the next compile(), as in Keras', async () => {
    const feat = new layers.Dense(4, { inputShape: [8] });
    const m = new Sequential([feat, new layers.Dense(1)]);
    m.compile({ optimizer: 'adam', loss: 'mse' });
    feat.trainable = false;
    const before = Array.from(feat.getWeights()[0].data);
    await m.fit(x8, y1, { verbose: 0 });
    expect(Array.from(feat.getWeights()[0].data)).not.toEqual(before);
    m.compile({ optimizer: 'adam', loss: 'mse' });
    const frozen = Array.from(feat.getWeights()[0].data);
    await m.fit(x8, y1, { verbose: 0 });
    expect(Array.from(feat.getWeights()[0].data)).toEqual(frozen);
  });
});
