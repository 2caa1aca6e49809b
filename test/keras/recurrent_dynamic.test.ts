/**
 * Recurrent models with timesteps=None (input shape [null, features]): one
 * program, compiled once for a capacity of steps, runs every shorter length
 * (the scan's step count is read at run time). Each result is checked
 * against a model of the same weights built for that fixed length (those are
 * checked against the float64 Keras reference in recurrent.test.ts): predict
 * for each cell type with go_backwards, masks, return_state, Bidirectional,
 * Embedding with padded batches (pad_sequences, mask_zero); fit and evaluate
 * with different lengths on one model (weights after SGD equal the fixed
 * models'); and the errors.
 */
import { describe, expect, it } from 'vitest';
import { Input, Model, Sequential, type Tensor, layers, optimizers, setBackend, tensor } from '../../src/index.js';
import type { Layer } from '../../src/layers/index.js';
import { TEST_BACKEND } from '../helpers/backend.js';
import { rng } from '../helpers/nd.js';

setBackend(TEST_BACKEND);

const B = 3;
const F = 4;
const U = 3;
const NONE = null as unknown as number;

function sequences(seed: number, n: number, steps: number, features = F): Tensor {
  const next = rng(seed);
  return tensor(Float32Array.from({ length: n * steps * features }, () => (next() - 0.5) * 2), [n, steps, features]);
}

/** Steps [from, to) of every sample of x [n, steps, ...]. */
function stepsOf(x: Tensor, to: number): Tensor {
  const [n, steps, ...rest] = x.shape;
  const row = rest.reduce((p, q) => p * q, 1);
  const out = new Float32Array(n * to * row);
  for (let i = 0; i < n; i++) out.set(x.data.subarray(i * steps * row, (i * steps + to) * row) as Float32Array, i * to * row);
  return tensor(out, [n, to, ...rest]);
}

function makeRecurrent(cell: string, args: Record<string, unknown>): Layer {
  if (cell === 'SimpleRNN') return new layers.SimpleRNN(U, args);
  if (cell === 'LSTM') return new layers.LSTM(U, args);
  return new layers.GRU(U, { ...args, resetAfter: cell === 'GRU_after' });
}

function randomize(model: { getWeights(): Tensor[]; setWeights(w: Tensor[]): void }, seed: number): Tensor[] {
  const next = rng(seed);
  const ws = model.getWeights().map((w) => tensor(Float32Array.from(w.data, () => (next() - 0.5) * 1.2), [...w.shape]));
  model.setWeights(ws);
  return ws;
}

const close = { rtol: 1e-5, atol: 1e-5 };

function expectSame(got: Tensor | Tensor[], want: Tensor | Tensor[], what: string): void {
  const [g, w] = [Array.isArray(got) ? got : [got], Array.isArray(want) ? want : [want]];
  expect(g.length).toBe(w.length);
  g.forEach((t, i) => {
    expect(t.shape, `${what}: shape of output ${i}`).toEqual(w[i].shape);
    expect(t.data, `${what}: output ${i}`).toBeAllClose(w[i].data, close);
  });
}

describe('timesteps=None: predict', () => {
  const variants = [
    { returnSequences: true, goBackwards: true, masked: true },
    { returnSequences: false, goBackwards: false, masked: false },
  ];
  it.each(['SimpleRNN', 'GRU', 'GRU_after', 'LSTM'].flatMap((c) => variants.map((v) => [c, v] as const)))('%s %o: one program runs lengths 5, 3 and 8 as fixed-length models do', async (cell, v) => {
    const build = (steps: number): { model: Model; layer: Layer } => {
      const input = Input({ shape: [steps, F] });
      const layer = makeRecurrent(cell, { returnSequences: v.returnSequences, goBackwards: v.goBackwards, returnState: true });
      const seq = v.masked ? new layers.Masking({ maskValue: 0 }).apply(input) : input;
      return { model: new Model({ inputs: input, outputs: layer.applyMulti(seq) }), layer };
    };
    const open = build(NONE);
    const weights = randomize(open.model, 7);
    const x = sequences(3, B, 8);
    // Masked steps (a gap) where Masking(0) sees all-zero features.
    if (v.masked) for (const [b, t] of [[0, 1], [1, 0], [1, 2]]) x.data.fill(0, (b * 8 + t) * F, (b * 8 + t + 1) * F);
    for (const steps of [5, 3, 8]) {
      const fixed = build(steps);
      fixed.model.setWeights(weights);
      const xs = stepsOf(x, steps);
      expectSame(await open.model.predict(xs), await fixed.model.predict(xs), `${steps} steps`);
      fixed.model.dispose();
    }
    expect([...open.model.stepCapacities]).toEqual([8]);
    open.model.dispose();
  });

  it('stacked layers (RNN over StackedRNNCells, LSTM into GRU) and Bidirectional merge modes', async () => {
    const build = (steps: number): Model => {
      const input = Input({ shape: [steps, F] });
      const stacked = new layers.RNN(new layers.StackedRNNCells([new layers.LSTMCell(U), new layers.GRUCell(2)]), { returnSequences: true, goBackwards: true }).apply(input);
      const bi = new layers.Bidirectional(new layers.LSTM(2, { returnSequences: true }), { mergeMode: 'concat' }).apply(stacked);
      const sum = new layers.Bidirectional(new layers.GRU(2, { goBackwards: true }), { mergeMode: 'sum' }).apply(bi);
      return new Model({ inputs: input, outputs: [bi, sum] });
    };
    const open = build(NONE);
    const weights = randomize(open, 11);
    const x = sequences(5, B, 6);
    for (const steps of [6, 2]) {
      const fixed = build(steps);
      fixed.setWeights(weights);
      expectSame(await open.predict(stepsOf(x, steps)), await fixed.predict(stepsOf(x, steps)), `${steps} steps`);
      fixed.dispose();
    }
    open.dispose();
  });

  it('padded batches as pad_sequences makes them: Embedding(maskZero) into LSTM, batches of different lengths', async () => {
    const build = (steps: number | null): Sequential => new Sequential([
      new layers.Embedding(10, 3, { maskZero: true, inputShape: [steps as number] }),
      new layers.LSTM(U, { returnSequences: true }),
      new layers.TimeDistributed(new layers.Dense(2, { activation: 'softmax' })),
    ]);
    const open = build(null);
    const weights = randomize(open, 13);
    // pad_sequences pads at the front ('pre') with 0, which mask_zero leaves out.
    const batches = [[[0, 0, 3, 4, 5], [1, 2, 3, 4, 9], [0, 0, 0, 0, 7]], [[0, 6, 2], [8, 1, 1], [0, 0, 0]]];
    for (const ids of batches) {
      const x = tensor(Int32Array.from(ids.flat()), [ids.length, ids[0].length], 'int32');
      const fixed = build(ids[0].length);
      fixed.setWeights(weights);
      expectSame(await open.predict(x), await fixed.predict(x), `${ids[0].length} steps`);
      fixed.dispose();
    }
    open.dispose();
  });
});

describe('timesteps=None: training', () => {
  const seq2seq = (steps: number): Sequential => new Sequential([
    new layers.LSTM(U, { inputShape: [steps, F], returnSequences: true, dropout: 0 }),
    new layers.TimeDistributed(new layers.Dense(2)),
  ]);

  it('fit with lengths 5 then 3 on one model gives the weights of fixed-length models trained alike (loss over the real steps only)', async () => {
    const open = seq2seq(NONE);
    const weights = randomize(open, 17);
    const x5 = sequences(19, 4, 5);
    const y5 = sequences(23, 4, 5, 2);
    const x3 = sequences(29, 4, 3);
    const y3 = sequences(31, 4, 3, 2);
    open.compile({ optimizer: new optimizers.SGD({ lr: 0.5 }), loss: 'mse' });
    const h5 = await open.fit(x5, y5, { epochs: 2, batchSize: 2, shuffle: false, verbose: 0 });
    const h3 = await open.fit(x3, y3, { epochs: 2, batchSize: 2, shuffle: false, verbose: 0 });
    const fixed5 = seq2seq(5);
    fixed5.setWeights(weights);
    fixed5.compile({ optimizer: new optimizers.SGD({ lr: 0.5 }), loss: 'mse' });
    const w5 = await fixed5.fit(x5, y5, { epochs: 2, batchSize: 2, shuffle: false, verbose: 0 });
    const fixed3 = seq2seq(3);
    fixed3.setWeights(fixed5.getWeights());
    fixed3.compile({ optimizer: new optimizers.SGD({ lr: 0.5 }), loss: 'mse' });
    const w3 = await fixed3.fit(x3, y3, { epochs: 2, batchSize: 2, shuffle: false, verbose: 0 });
    expect(h5.history.loss).toBeAllClose(w5.history.loss, close);
    expect(h3.history.loss).toBeAllClose(w3.history.loss, close);
    open.getWeights().forEach((w, i) => expect(w.data, `weight ${i}`).toBeAllClose(fixed3.getWeights()[i].data, { rtol: 1e-4, atol: 1e-5 }));
    // The weights moved: the check compares trained weights, not the initial ones.
    expect(Math.abs(open.getWeights()[0].data[0] - weights[0].data[0])).toBeGreaterThan(1e-4);
    // Both lengths ran padded in one program of 8 steps (and one evaluate program).
    expect([...open.stepCapacities]).toEqual([8]);
    const [evalOpen, evalFixed] = [await open.evaluate(x3, y3, { verbose: 0 }), await fixed3.evaluate(x3, y3, { verbose: 0 })];
    expect([evalOpen as number]).toBeAllClose([evalFixed as number], close);
    for (const m of [open, fixed5, fixed3]) m.dispose();
  });

  it('fit through Bidirectional and go_backwards sequences (reversed by a gather over the first n steps) equals a fixed-length model', async () => {
    const build = (steps: number): Sequential => new Sequential([
      new layers.Bidirectional(new layers.SimpleRNN(U, { returnSequences: true, goBackwards: true }), { inputShape: [steps, F], mergeMode: 'sum' }),
      new layers.TimeDistributed(new layers.Dense(2)),
    ]);
    const open = build(NONE);
    const weights = randomize(open, 43);
    const fixed = build(3);
    fixed.setWeights(weights);
    const x = sequences(47, 4, 3);
    const y = sequences(53, 4, 3, 2);
    for (const m of [open, fixed]) m.compile({ optimizer: new optimizers.SGD({ lr: 0.5 }), loss: 'mse' });
    const [ho, hf] = [await open.fit(x, y, { epochs: 2, batchSize: 4, shuffle: false, verbose: 0 }), await fixed.fit(x, y, { epochs: 2, batchSize: 4, shuffle: false, verbose: 0 })];
    expect(ho.history.loss).toBeAllClose(hf.history.loss, close);
    open.getWeights().forEach((w, i) => expect(w.data, `weight ${i}`).toBeAllClose(fixed.getWeights()[i].data, { rtol: 1e-4, atol: 1e-5 }));
    expect([...open.stepCapacities]).toEqual([4]);
    for (const m of [open, fixed]) m.dispose();
  });

  it('fitGenerator over batches of different lengths (each its own padded length) trains as fixed-length models sharing the layers', async () => {
    const [lstm, dense] = [new layers.LSTM(U), new layers.Dense(1)];
    const open = new Sequential([new layers.InputLayer({ inputShape: [NONE, F] }), lstm, dense]);
    const weights = randomize(open, 59);
    // Fixed-length twins over the same layer objects share one set of weights.
    const twins = [3, 6].map((steps) => {
      const input = Input({ shape: [steps, F] });
      return new Model({ inputs: input, outputs: dense.apply(lstm.apply(input)) });
    });
    const batches: [Tensor, Tensor][] = [[sequences(61, 4, 3), sequences(62, 4, 1, 1)], [sequences(63, 4, 6), sequences(64, 4, 1, 1)], [sequences(65, 4, 3), sequences(66, 4, 1, 1)]];
    const targets = batches.map(([, y]) => tensor(y.data as Float32Array, [4, 1]));
    open.compile({ optimizer: new optimizers.SGD({ lr: 0.5 }), loss: 'mse' });
    function* source(): Generator<[Tensor, Tensor]> {
      for (;;) for (let i = 0; i < batches.length; i++) yield [batches[i][0], targets[i]];
    }
    const h = await open.fitGenerator(source(), { stepsPerEpoch: 3, epochs: 1, verbose: 0 });
    const trained = open.getWeights();
    open.setWeights(weights);
    for (const t of twins) t.compile({ optimizer: new optimizers.SGD({ lr: 0.5 }), loss: 'mse' });
    let sum = 0;
    for (let i = 0; i < batches.length; i++) sum += (await twins[batches[i][0].shape[1] === 3 ? 0 : 1].trainOnBatch(batches[i][0], targets[i])) as unknown as number;
    expect(h.history.loss).toBeAllClose([sum / 3], close);
    trained.forEach((w, i) => expect(w.data, `weight ${i}`).toBeAllClose(open.getWeights()[i].data, { rtol: 1e-4, atol: 1e-5 }));
    expect([...open.stepCapacities].sort((a, b) => a - b)).toEqual([4, 8]);
    for (const m of [open, ...twins]) m.dispose();
  });

  it('sampleWeightMode temporal: per-step weights of the data\'s length, as in a fixed-length model', async () => {
    const open = seq2seq(NONE);
    const weights = randomize(open, 71);
    const fixed = seq2seq(3);
    fixed.setWeights(weights);
    const x = sequences(73, 4, 3);
    const y = sequences(79, 4, 3, 2);
    const w = tensor(Float32Array.of(1, 0.5, 0, 2, 1, 1, 0, 0, 3, 1, 0.25, 1), [4, 3]);
    for (const m of [open, fixed]) m.compile({ optimizer: new optimizers.SGD({ lr: 0.5 }), loss: 'mse', sampleWeightMode: 'temporal' });
    const [ho, hf] = [await open.fit(x, y, { sampleWeight: w, epochs: 2, batchSize: 2, shuffle: false, verbose: 0 }), await fixed.fit(x, y, { sampleWeight: w, epochs: 2, batchSize: 2, shuffle: false, verbose: 0 })];
    expect(ho.history.loss).toBeAllClose(hf.history.loss, close);
    open.getWeights().forEach((v, i) => expect(v.data, `weight ${i}`).toBeAllClose(fixed.getWeights()[i].data, { rtol: 1e-4, atol: 1e-5 }));
    for (const m of [open, fixed]) m.dispose();
  });

  it('sampleWeightMode temporal with the layers\' own mask (Embedding maskZero): the masked mean over the real steps, as in a fixed-length model', async () => {
    const build = (steps: number): Sequential => new Sequential([
      new layers.Embedding(7, 3, { maskZero: true, inputShape: [steps] }),
      new layers.LSTM(U, { returnSequences: true }),
      new layers.TimeDistributed(new layers.Dense(2)),
    ]);
    const open = build(NONE);
    const weights = randomize(open, 83);
    const fixed = build(5);
    fixed.setWeights(weights);
    const x = tensor(Int32Array.of(0, 0, 3, 4, 5, 1, 2, 3, 4, 6, 0, 5, 5, 2, 1, 0, 0, 0, 1, 2), [4, 5], 'int32');
    const y = sequences(89, 4, 5, 2);
    const w = tensor(Float32Array.from({ length: 20 }, (_, i) => (i % 3) * 0.5 + 0.25), [4, 5]);
    for (const m of [open, fixed]) m.compile({ optimizer: new optimizers.SGD({ lr: 0.5 }), loss: 'mse', sampleWeightMode: 'temporal' });
    const [ho, hf] = [await open.fit(x, y, { sampleWeight: w, epochs: 2, batchSize: 2, shuffle: false, verbose: 0 }), await fixed.fit(x, y, { sampleWeight: w, epochs: 2, batchSize: 2, shuffle: false, verbose: 0 })];
    expect(ho.history.loss).toBeAllClose(hf.history.loss, close);
    open.getWeights().forEach((v, i) => expect(v.data, `weight ${i}`).toBeAllClose(fixed.getWeights()[i].data, { rtol: 1e-4, atol: 1e-5 }));
    expect([...open.stepCapacities]).toEqual([8]);
    for (const m of [open, fixed]) m.dispose();
  });

  it('a many-to-one classifier (Embedding maskZero, GRU, Dense sigmoid) fit on lengths 6 then 9 (a second capacity) equals fixed-length models', async () => {
    const build = (steps: number): Sequential => new Sequential([new layers.Embedding(6, 4, { maskZero: true, inputShape: [steps] }), new layers.GRU(5), new layers.Dense(1, { activation: 'sigmoid' })]);
    const next = rng(37);
    const data = (n: number, steps: number): [Tensor, Tensor] => {
      const ids = Int32Array.from({ length: n * steps }, (_, i) => (i % steps < 2 && next() < 0.5 ? 0 : 1 + Math.floor(next() * 5)));
      const ys = Float32Array.from({ length: n }, (_, i) => (ids.subarray(i * steps, (i + 1) * steps).includes(5) ? 1 : 0));
      return [tensor(ids, [n, steps], 'int32'), tensor(ys, [n, 1])];
    };
    const [xa, ya] = data(12, 6);
    const [xb, yb] = data(12, 9);
    const sgd = { optimizer: new optimizers.SGD({ lr: 1 }), loss: 'binary_crossentropy', metrics: ['acc'] };
    const open = build(NONE);
    const weights = randomize(open, 41);
    open.compile({ ...sgd, optimizer: new optimizers.SGD({ lr: 1 }) });
    const ha = await open.fit(xa, ya, { epochs: 2, batchSize: 4, shuffle: false, verbose: 0 });
    const hb = await open.fit(xb, yb, { epochs: 2, batchSize: 4, shuffle: false, verbose: 0 });
    const fa = build(6);
    fa.setWeights(weights);
    fa.compile({ ...sgd, optimizer: new optimizers.SGD({ lr: 1 }) });
    const wa = await fa.fit(xa, ya, { epochs: 2, batchSize: 4, shuffle: false, verbose: 0 });
    const fb = build(9);
    fb.setWeights(fa.getWeights());
    fb.compile({ ...sgd, optimizer: new optimizers.SGD({ lr: 1 }) });
    const wb = await fb.fit(xb, yb, { epochs: 2, batchSize: 4, shuffle: false, verbose: 0 });
    expect(ha.history.loss).toBeAllClose(wa.history.loss, close);
    expect(hb.history.loss).toBeAllClose(wb.history.loss, close);
    expect(hb.history.acc).toBeAllClose(wb.history.acc, close);
    open.getWeights().forEach((w, i) => expect(w.data, `weight ${i}`).toBeAllClose(fb.getWeights()[i].data, { rtol: 1e-4, atol: 1e-5 }));
    expect(Math.abs(open.getWeights()[0].data[5] - weights[0].data[5])).toBeGreaterThan(1e-4);
    expect([...open.stepCapacities].sort((a, b) => a - b)).toEqual([8, 16]);
    for (const m of [open, fa, fb]) m.dispose();
  });
});

describe('timesteps=None: errors', () => {
  it('a layer that mixes time steps (Conv1D) names itself and the shape', async () => {
    const model = new Sequential([new layers.SimpleRNN(2, { inputShape: [NONE, F], returnSequences: true }), new layers.Conv1D(2, 2, { name: 'mixer' })]);
    await expect(model.predict(sequences(1, 2, 4))).rejects.toThrow(/Conv1D mixer: its input \(None, None, 2\) has an unknown number of time steps \(timesteps=None\)/);
    // A graph without a capacity (bundles, ONNX export) is refused with the reason.
    expect(() => model.buildGraph(1)).toThrow(/has inputs with timesteps=None \(None, None, 4\).*bundles and ONNX export need a fixed length/);
    model.dispose();
  });

  it('inputs of different lengths in one call, targets of another length', async () => {
    const a = Input({ shape: [NONE, F] });
    const c = Input({ shape: [NONE, F] });
    const model = new Model({ inputs: [a, c], outputs: layers.concatenate([new layers.LSTM(2, { returnSequences: true }).apply(a), new layers.LSTM(2, { returnSequences: true }).apply(c)]) });
    await expect(model.predict([sequences(1, 2, 4), sequences(2, 2, 5)])).rejects.toThrow(/inputs with timesteps=None must share one sequence length per call, got lengths 4, 5/);
    model.compile({ optimizer: 'sgd', loss: 'mse' });
    await expect(model.fit([sequences(1, 2, 4), sequences(2, 2, 4)], sequences(3, 2, 3, 4), { verbose: 0 })).rejects.toThrow(/its targets must have the inputs' 4 steps, got shape \(2, 3, 4\)/);
    model.dispose();
  });
});
