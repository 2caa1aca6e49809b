/**
 * The functional API in full: several inputs and outputs, shared layers,
 * models as layers, the node API, per-output training (checked step by step
 * against Keras 2's SGD rule on hand-computed gradients), serialization
 * round trips and the errors Keras gives.
 */
import { describe, expect, it } from 'vitest';
import { Input, Model, Sequential, Tensor, layers, modelFromJSON, optimizers, setBackend, tensor } from '../../src/index.js';
import { TEST_BACKEND } from '../helpers/backend.js';

setBackend(TEST_BACKEND);

type Mat = number[][];
const matOf = (t: Tensor): Mat => Array.from({ length: t.shape[0] }, (_, i) => Array.from(t.data.subarray(i * t.shape[1], (i + 1) * t.shape[1])));
const mul = (a: Mat, b: Mat): Mat => a.map((r) => b[0].map((_, j) => r.reduce((s, v, k) => s + v * b[k][j], 0)));
const T = (a: Mat): Mat => a[0].map((_, j) => a.map((r) => r[j]));
const addBias = (a: Mat, v: number[]): Mat => a.map((r) => r.map((x, j) => x + v[j]));
const colSum = (a: Mat): number[] => a[0].map((_, j) => a.reduce((s, r) => s + r[j], 0));
const plus = (a: Mat, b: Mat): Mat => a.map((r, i) => r.map((x, j) => x + b[i][j]));
const step = (w: Mat, g: Mat, lr: number): number[] => w.flatMap((r, i) => r.map((x, j) => x - lr * g[i][j]));
const stepV = (w: number[], g: number[], lr: number): number[] => w.map((x, j) => x - lr * g[j]);
/** d(mean over batch and units of (y - t)^2)/dy, times a loss weight. */
const mseGrad = (y: Mat, t: Mat, weight: number): Mat => y.map((r, i) => r.map((v, j) => (weight * 2 * (v - t[i][j])) / (y.length * r.length)));

const data = (rows: number, cols: number, seed: number): Tensor => tensor(Array.from({ length: rows }, (_, i) => Array.from({ length: cols }, (_, j) => Math.sin(seed + i * 1.7 + j * 0.9))));

describe('multi-input, multi-output models', () => {
  it('build, predict lists, take inputs keyed by name, and name losses and metrics per output (Keras seeds: auxiliary output)', async () => {
    const main = Input({ shape: [6], name: 'main_input' });
    const aux = Input({ shape: [3], name: 'aux_input' });
    const h = new layers.Dense(8, { activation: 'relu', name: 'trunk' }).apply(main);
    const auxOut = new layers.Dense(1, { activation: 'sigmoid', name: 'aux_output' }).apply(h);
    const merged = layers.concatenate([h, aux]);
    const mainOut = new layers.Dense(1, { activation: 'sigmoid', name: 'main_output' }).apply(new layers.Dense(8, { activation: 'relu' }).apply(merged));
    const model = new Model({ inputs: [main, aux], outputs: [mainOut, auxOut] });
    expect(model.inputNames).toEqual(['main_input', 'aux_input']);
    expect(model.outputNames).toEqual(['main_output', 'aux_output']);
    model.compile({ optimizer: 'rmsprop', loss: 'binary_crossentropy', lossWeights: { main_output: 1.0, aux_output: 0.2 }, metrics: ['accuracy'] });
    expect(model.metricsNames).toEqual(['loss', 'main_output_loss', 'aux_output_loss', 'main_output_accuracy', 'aux_output_accuracy']);
    const x1 = data(40, 6, 1);
    const x2 = data(40, 3, 2);
    const y = tensor(Array.from({ length: 40 }, (_, i) => [i % 2]));
    const history = await model.fit({ main_input: x1, aux_input: x2 }, { main_output: y, aux_output: y }, { epochs: 2, batchSize: 16, verbose: 0, validationSplit: 0.25 });
    expect(Object.keys(history.history).sort()).toEqual(['aux_output_accuracy', 'aux_output_loss', 'loss', 'main_output_accuracy', 'main_output_loss',
      'val_aux_output_accuracy', 'val_aux_output_loss', 'val_loss', 'val_main_output_accuracy', 'val_main_output_loss']);
    const [loss, mainLoss, auxLoss] = (await model.evaluate([x1, x2], [y, y])) as number[];
    expect(loss).toBeCloseTo(mainLoss + 0.2 * auxLoss, 4);
    const out = await model.predict([x1, x2]);
    expect(out.map((t) => t.shape)).toEqual([[40, 1], [40, 1]]);
    const keyed = await model.predict({ aux_input: x2, main_input: x1 });
    expect(keyed[0].data).toEqual(out[0].data);
    model.dispose();
  });

  it('a two-output model takes one SGD step on the sum of its weighted losses, as Keras 2 does', async () => {
    const x = Input({ shape: [4] });
    const trunk = new layers.Dense(3, { name: 'trunk', kernelInitializer: { className: 'RandomNormal', config: { seed: 3 } }, biasInitializer: 'ones' });
    const h = trunk.apply(x);
    const head1 = new layers.Dense(1, { name: 'head1', kernelInitializer: { className: 'RandomNormal', config: { seed: 4 } } });
    const head2 = new layers.Dense(2, { name: 'head2', kernelInitializer: { className: 'RandomNormal', config: { seed: 5 } } });
    const model = new Model({ inputs: x, outputs: [head1.apply(h), head2.apply(h)] });
    const [W, c, A, a, B, bb] = model.getWeights();
    const lr = 0.1;
    model.compile({ optimizer: new optimizers.SGD({ lr }), loss: ['mse', 'mse'], lossWeights: [0.7, 1.3] });
    const xs = data(5, 4, 7);
    const t1 = data(5, 1, 8);
    const t2 = data(5, 2, 9);
    const [total, l1, l2] = (await model.trainOnBatch(xs, [t1, t2])) as number[];
    // Forward and backward by hand in float64.
    const hv = addBias(mul(matOf(xs), matOf(W)), Array.from(c.data));
    const y1 = addBias(mul(hv, matOf(A)), Array.from(a.data));
    const y2 = addBias(mul(hv, matOf(B)), Array.from(bb.data));
    const mse = (y: Mat, t: Mat): number => y.flat().reduce((s, v, i) => s + (v - t.flat()[i]) ** 2, 0) / y.flat().length;
    expect([l1, l2, total]).toBeAllClose([mse(y1, matOf(t1)), mse(y2, matOf(t2)), 0.7 * mse(y1, matOf(t1)) + 1.3 * mse(y2, matOf(t2))], { rtol: 1e-5, atol: 1e-6 });
    const g1 = mseGrad(y1, matOf(t1), 0.7);
    const g2 = mseGrad(y2, matOf(t2), 1.3);
    const dh = plus(mul(g1, T(matOf(A))), mul(g2, T(matOf(B))));
    const want = [step(matOf(W), mul(T(matOf(xs)), dh), lr), stepV(Array.from(c.data), colSum(dh), lr), step(matOf(A), mul(T(hv), g1), lr), stepV(Array.from(a.data), colSum(g1), lr), step(matOf(B), mul(T(hv), g2), lr), stepV(Array.from(bb.data), colSum(g2), lr)];
    model.getWeights().forEach((w, i) => expect(w.data).toBeAllClose(want[i], { rtol: 1e-5, atol: 1e-6 }));
    model.dispose();
  });

  it('a layer shared over two inputs is one set of weights whose gradient sums both uses', async () => {
    const a = Input({ shape: [3] });
    const b = Input({ shape: [3] });
    const shared = new layers.Dense(2, { name: 'shared', kernelInitializer: { className: 'RandomNormal', config: { seed: 11 } }, biasInitializer: 'ones' });
    const out = layers.add([shared.apply(a), shared.apply(b)]);
    const model = new Model({ inputs: [a, b], outputs: out });
    expect(model.getWeights()).toHaveLength(2);
    expect(shared.inboundNodes).toHaveLength(2);
    expect(() => shared.output).toThrow('Layer shared has multiple inbound nodes, hence the notion of "layer output" is ill-defined. Use `getOutputAt(nodeIndex)` instead.');
    expect(shared.getInputAt(1)).toBe(b);
    expect(shared.getOutputShapeAt(0)).toEqual([null, 2]);
    expect(shared.inputShape).toEqual([null, 3]);
    const [W, c] = model.getWeights();
    model.compile({ optimizer: new optimizers.SGD({ lr: 0.05 }), loss: 'mse' });
    const xa = data(4, 3, 1);
    const xb = data(4, 3, 2);
    const t = data(4, 2, 3);
    await model.trainOnBatch([xa, xb], t);
    const y = plus(addBias(mul(matOf(xa), matOf(W)), Array.from(c.data)), addBias(mul(matOf(xb), matOf(W)), Array.from(c.data)));
    const g = mseGrad(y, matOf(t), 1);
    const dW = plus(mul(T(matOf(xa)), g), mul(T(matOf(xb)), g));
    const [W2, c2] = model.getWeights();
    expect(W2.data).toBeAllClose(step(matOf(W), dW, 0.05), { rtol: 1e-5, atol: 1e-6 });
    expect(c2.data).toBeAllClose(stepV(Array.from(c.data), colSum(g).map((v) => 2 * v), 0.05), { rtol: 1e-5, atol: 1e-6 });
    model.dispose();
  });
});

describe('multi-output data paths', () => {
  it('sample weights per output (keyed by name) and generators of keyed batches', async () => {
    const x = Input({ shape: [2], name: 'gx' });
    const h = new layers.Dense(3, { name: 'gh' }).apply(x);
    const model = new Model({ inputs: x, outputs: [new layers.Dense(1, { name: 'g1' }).apply(h), new layers.Dense(1, { name: 'g2' }).apply(h)] });
    model.compile({ optimizer: 'sgd', loss: 'mse' });
    const xs = data(4, 2, 1);
    const y1 = data(4, 1, 2);
    const y2 = data(4, 1, 3);
    const [, l1, l2] = (await model.evaluate(xs, [y1, y2])) as number[];
    const [p1, p2] = await model.predict(xs);
    const w = tensor([1, 0, 0, 0]);
    const [total, w1, w2] = (await model.evaluate(xs, { g1: y1, g2: y2 }, { sampleWeight: { g1: w, g2: tensor([1, 1, 1, 1]) } })) as number[];
    expect(w1).toBeCloseTo((p1.data[0] - y1.data[0]) ** 2, 5);
    expect(w2).toBeCloseTo(l2, 5);
    expect(total).toBeCloseTo(w1 + w2, 5);
    expect(l1).not.toBeCloseTo(w1, 3);
    expect(p2.shape).toEqual([4, 1]);
    function* batches(): Generator<readonly [Record<string, Tensor>, Record<string, Tensor>]> {
      for (;;) yield [{ gx: xs }, { g1: y1, g2: y2 }];
    }
    const history = await model.fitGenerator(batches(), { stepsPerEpoch: 2, epochs: 2, verbose: 0 });
    expect(history.history.g1_loss).toHaveLength(2);
    expect((await model.evaluateGenerator(batches(), { steps: 2 }) as number[]).length).toBe(3);
    const out = await model.predictGenerator([{ gx: xs }, { gx: xs }], { steps: 2 });
    expect(out.map((t) => t.shape)).toEqual([[8, 1], [8, 1]]);
    model.dispose();
  });
});

describe('summary', () => {
  it('prints Keras 2\'s "Connected to" table for a graph that is not a chain', () => {
    const a = Input({ shape: [3], name: 'in_a' });
    const b = Input({ shape: [3], name: 'in_b' });
    const shared = new layers.Dense(2, { name: 'shared' });
    const model = new Model({ inputs: [a, b], outputs: layers.add([shared.apply(a), shared.apply(b)], { name: 'sum' }), name: 'two' });
    const lines = model.summary(() => undefined).split('\n');
    expect(lines.slice(0, 4)).toEqual(['Model: "two"', '_'.repeat(98), `${'Layer (type)'.padEnd(32)}${'Output Shape'.padEnd(21)}${'Param #'.padEnd(12)}${'Connected to'.padEnd(33)}`, '='.repeat(98)]);
    expect(lines).toContain(`${'shared (Dense)'.padEnd(32)}${'(None, 2)'.padEnd(21)}${'8'.padEnd(12)}${'in_a[0][0]'.padEnd(33)}`);
    expect(lines).toContain(`${''.padEnd(65)}${'shared[1][0]'.padEnd(33)}`);
    expect(lines.slice(-4)).toEqual(['Total params: 8', 'Trainable params: 8', 'Non-trainable params: 0', '_'.repeat(98)]);
  });
});

describe('models as layers', () => {
  it('a model called on new inputs shares its weights; trainable=false freezes it after recompiling', async () => {
    const inner = new Sequential([new layers.Dense(4, { inputShape: [3], activation: 'tanh', name: 'inner_dense' })], { name: 'inner' });
    const x = Input({ shape: [3] });
    const outer = new Model({ inputs: x, outputs: new layers.Dense(1, { name: 'outer_head' }).apply(inner.apply(x)) });
    expect(outer.layers.map((l) => l.name)).toContain('inner');
    expect(outer.getLayer('inner')).toBe(inner);
    expect(outer.countParams()).toBe(3 * 4 + 4 + 4 + 1);
    const xs = data(6, 3, 4);
    const viaOuter = await outer.predict(xs);
    expect(viaOuter.shape).toEqual([6, 1]);
    inner.trainable = false;
    outer.compile({ optimizer: 'sgd', loss: 'mse' });
    const before = inner.getWeights().map((w) => Array.from(w.data));
    await outer.fit(xs, data(6, 1, 5), { epochs: 2, verbose: 0 });
    expect(inner.getWeights().map((w) => Array.from(w.data))).toEqual(before);
    inner.trainable = true;
    outer.compile({ optimizer: 'sgd', loss: 'mse' });
    await outer.fit(xs, data(6, 1, 5), { epochs: 1, verbose: 0 });
    expect(inner.getWeights().map((w) => Array.from(w.data))).not.toEqual(before);
    // The inner model sees the trained weights too.
    const h = await inner.predict(xs);
    const direct = await new Model({ inputs: outer.input, outputs: (outer.getLayer('inner') as Sequential).getOutputAt(0) }).predict(xs) as Tensor;
    expect(direct.data).toBeAllClose(h.data);
    outer.dispose();
    inner.dispose();
  });

  it('feature extraction reuses the same weights: Model({ inputs: m.input, outputs: m.getLayer(x).output })', async () => {
    const x = Input({ shape: [5] });
    const hidden = new layers.Dense(3, { name: 'hidden', activation: 'relu' }).apply(x);
    const m = new Model({ inputs: x, outputs: new layers.Dense(2, { name: 'top' }).apply(hidden) });
    const features = new Model({ inputs: m.input, outputs: m.getLayer('hidden').output });
    const xs = data(4, 5, 6);
    const f = (await features.predict(xs)) as Tensor;
    const kernel = m.getLayer('hidden').getWeights();
    const want = addBias(mul(matOf(xs), matOf(kernel[0])), Array.from(kernel[1].data)).flat().map((v) => Math.max(v, 0));
    expect(f.data).toBeAllClose(want, { rtol: 1e-5, atol: 1e-6 });
    m.dispose();
    features.dispose();
  });

  it('a residual connection: add([x, f(x)])', async () => {
    const x = Input({ shape: [4] });
    const y = layers.add([x, new layers.Dense(4, { name: 'res', biasInitializer: 'ones' }).apply(x)]);
    const model = new Model({ inputs: x, outputs: y });
    const xs = data(3, 4, 1);
    const [W, c] = model.getWeights();
    const want = plus(matOf(xs), addBias(mul(matOf(xs), matOf(W)), Array.from(c.data)));
    expect((await model.predict(xs)).data).toBeAllClose(want.flat(), { rtol: 1e-5, atol: 1e-6 });
    model.dispose();
  });
});

describe('the seeds\' convolutional functional examples', () => {
  const images = (n: number, h: number, w: number, c: number, seed: number): Tensor => tensor(Float32Array.from({ length: n * h * w * c }, (_, i) => Math.sin(seed + i * 0.37)), [n, h, w, c]);

  it('an inception module: three towers concatenated on the channel axis', async () => {
    const input = Input({ shape: [8, 8, 3] });
    const t1 = new layers.Conv2D(4, [3, 3], { padding: 'same', activation: 'relu' }).apply(new layers.Conv2D(4, [1, 1], { padding: 'same', activation: 'relu' }).apply(input));
    const t2 = new layers.Conv2D(4, [5, 5], { padding: 'same', activation: 'relu' }).apply(new layers.Conv2D(4, [1, 1], { padding: 'same', activation: 'relu' }).apply(input));
    const t3 = new layers.Conv2D(4, [1, 1], { padding: 'same', activation: 'relu' }).apply(new layers.MaxPooling2D({ poolSize: [3, 3], strides: [1, 1], padding: 'same' }).apply(input));
    const model = new Model({ inputs: input, outputs: layers.concatenate([t1, t2, t3], { axis: 3 }) });
    expect(model.outputShapes[0]).toEqual([null, 8, 8, 12]);
    const out = await model.predict(images(2, 8, 8, 3, 1));
    expect(out.shape).toEqual([2, 8, 8, 12]);
    const roundTrip = modelFromJSON(model.toJSON());
    roundTrip.setWeights(model.getWeights());
    expect(((await roundTrip.predict(images(2, 8, 8, 3, 1))) as Tensor).data).toEqual(out.data);
    model.dispose();
    roundTrip.dispose();
  });

  it('a shared vision model over two digits, and a conv applied to two image sizes', async () => {
    const digit = Input({ shape: [9, 9, 1] });
    let x = new layers.Conv2D(4, [3, 3]).apply(digit);
    x = new layers.MaxPooling2D({ poolSize: [2, 2] }).apply(x);
    const vision = new Model({ inputs: digit, outputs: new layers.Flatten().apply(x) });
    const a = Input({ shape: [9, 9, 1] });
    const b = Input({ shape: [9, 9, 1] });
    const out = new layers.Dense(1, { activation: 'sigmoid' }).apply(layers.concatenate([vision.apply(a), vision.apply(b)]));
    const model = new Model({ inputs: [a, b], outputs: out });
    expect(model.getWeights()).toHaveLength(4);
    model.compile({ optimizer: 'adam', loss: 'binary_crossentropy', metrics: ['accuracy'] });
    const history = await model.fit([images(8, 9, 9, 1, 1), images(8, 9, 9, 1, 2)], tensor(Array.from({ length: 8 }, (_, i) => [i % 2])), { epochs: 2, batchSize: 4, verbose: 0 });
    expect(history.history.loss).toHaveLength(2);
    const conv = new layers.Conv2D(2, [3, 3], { padding: 'same' });
    conv.apply(Input({ shape: [6, 6, 3] }));
    expect(conv.inputShape).toEqual([null, 6, 6, 3]);
    conv.apply(Input({ shape: [10, 10, 3] }));
    expect(() => conv.inputShape).toThrow('has multiple inbound nodes, with different input shapes');
    expect(conv.getInputShapeAt(0)).toEqual([null, 6, 6, 3]);
    expect(conv.getInputShapeAt(1)).toEqual([null, 10, 10, 3]);
    model.dispose();
  });
});

describe('serialization round trips', () => {
  async function roundTrip(model: Model, inputs: Tensor[]): Promise<void> {
    const copy = modelFromJSON(model.toJSON());
    copy.setWeights(model.getWeights());
    expect(JSON.parse(copy.toJSON()).config).toEqual(JSON.parse(model.toJSON()).config);
    const [a, b] = [await model.predict(inputs), await copy.predict(inputs)];
    const [la, lb] = [Array.isArray(a) ? a : [a], Array.isArray(b) ? b : [b]];
    la.forEach((t, i) => expect(lb[i].data).toEqual(t.data));
    model.dispose();
    copy.dispose();
  }

  it('multi-input/multi-output', async () => {
    const a = Input({ shape: [3], name: 'in_a' });
    const b = Input({ shape: [2], name: 'in_b' });
    const h = layers.concatenate([a, b], { name: 'cat' });
    const model = new Model({ inputs: [a, b], outputs: [new layers.Dense(2, { name: 'o1' }).apply(h), new layers.Dense(1, { name: 'o2' }).apply(h)] });
    const json = JSON.parse(model.toJSON());
    expect(json.config.input_layers).toEqual([['in_a', 0, 0], ['in_b', 0, 0]]);
    expect(json.config.layers.find((l: { name: string }) => l.name === 'cat').inbound_nodes).toEqual([[['in_a', 0, 0, {}], ['in_b', 0, 0, {}]]]);
    await roundTrip(model, [data(3, 3, 1), data(3, 2, 2)]);
  });

  it('shared layers keep one set of weights and their node indices', async () => {
    const a = Input({ shape: [3], name: 'sa' });
    const b = Input({ shape: [3], name: 'sb' });
    const shared = new layers.Dense(2, { name: 'shared_dense' });
    const model = new Model({ inputs: [a, b], outputs: layers.subtract([shared.apply(a), shared.apply(b)], { name: 'diff' }) });
    const json = JSON.parse(model.toJSON());
    expect(json.config.layers.find((l: { name: string }) => l.name === 'diff').inbound_nodes).toEqual([[['shared_dense', 0, 0, {}], ['shared_dense', 1, 0, {}]]]);
    await roundTrip(model, [data(2, 3, 1), data(2, 3, 2)]);
  });

  it('nested models (Keras numbers a nested model\'s calls from 1)', async () => {
    const inner = new Sequential([new layers.Dense(3, { inputShape: [4], name: 'n_dense' })], { name: 'n_inner' });
    const x = Input({ shape: [4], name: 'n_in' });
    const model = new Model({ inputs: x, outputs: new layers.Dense(1, { name: 'n_top' }).apply(inner.apply(x)) });
    const json = JSON.parse(model.toJSON());
    expect(json.config.layers.find((l: { name: string }) => l.name === 'n_top').inbound_nodes).toEqual([[['n_inner', 1, 0, {}]]]);
    await roundTrip(model, [data(2, 4, 3)]);
  });
});

describe('bad input gets the error Keras gives', () => {
  it('a disconnected graph', () => {
    const a = Input({ shape: [2], name: 'used' });
    const b = Input({ shape: [2], name: 'forgotten' });
    const y = layers.add([a, b]);
    expect(() => new Model({ inputs: a, outputs: y })).toThrow(/Graph disconnected: cannot obtain value for tensor .* at layer "forgotten"/);
  });

  it('two layers with the same name', () => {
    const x = Input({ shape: [2] });
    const y = new layers.Dense(2, { name: 'twin' }).apply(new layers.Dense(2, { name: 'twin' }).apply(x));
    expect(() => new Model({ inputs: x, outputs: y })).toThrow('the name "twin" is used 2 times in the model');
  });

  it('merge inputs whose shapes cannot combine name both shapes', () => {
    const a = Input({ shape: [3] });
    const b = Input({ shape: [4] });
    expect(() => layers.add([a, b])).toThrow(/operands could not be broadcast together with shapes \(3,\) \(4,\)/);
    expect(() => layers.concatenate([Input({ shape: [2, 3] }), Input({ shape: [4, 3] })])).toThrow('A `Concatenate` layer requires inputs with matching shapes except for the concat axis. Got inputs shapes: [(None, 2, 3), (None, 4, 3)]');
    expect(() => layers.add([a])).toThrow('A merge layer should be called on a list of at least 2 inputs. Got 1 input(s)');
  });

  it('the wrong number of inputs or targets, and names that match nothing', async () => {
    const a = Input({ shape: [2], name: 'p' });
    const b = Input({ shape: [2], name: 'q' });
    const model = new Model({ inputs: [a, b], outputs: [new layers.Dense(1, { name: 'r' }).apply(layers.add([a, b])), new layers.Dense(1, { name: 's' }).apply(a)] });
    const x = data(2, 2, 1);
    await expect(model.predict([x])).rejects.toThrow('Expected to see 2 array(s) (p, q), but instead got 1');
    await expect(model.predict({ p: x, z: x })).rejects.toThrow("no model input is named 'z'; the model's inputs are: p, q");
    model.compile({ optimizer: 'sgd', loss: 'mse' });
    await expect(model.fit([x, x], [data(2, 1, 2)])).rejects.toThrow('Expected to see 2 array(s) (r, s), but instead got 1');
    await expect(model.fit([x, x], { r: data(2, 1, 2), t: data(2, 1, 2) })).rejects.toThrow("no model target is named 't'; the model's targets are: r, s");
    expect(() => model.compile({ optimizer: 'sgd', loss: { r: 'mse', nope: 'mse' } })).toThrow("unknown entry in loss dictionary: 'nope'. Only expected the output names: r, s");
    model.dispose();
  });
});
