/**
 * Training stateful recurrent models (Keras 2 semantics): fit, evaluate and
 * predict share one set of states per layer; each batch starts from the
 * final states of the batch before it (sample i of a batch continues sample
 * i of the previous one), resetStates() zeros them, states are not weights.
 * The reference is the same layers called with the states as initial_state
 * inputs (checked against the float64 Keras reference in recurrent.test.ts):
 * per batch, the final states from the weights before the step, then one
 * SGD step from those initial states.
 */
import { describe, expect, it } from 'vitest';
import { Input, Model, Sequential, type Tensor, layers, optimizers, setBackend, tensor } from '../../src/index.js';
import type { Layer } from '../../src/layers/index.js';
import { TEST_BACKEND } from '../helpers/backend.js';
import { rng } from '../helpers/nd.js';

setBackend(TEST_BACKEND);

const B = 2;
const T = 3;
const F = 3;
const U = 4;
const close = { rtol: 1e-5, atol: 1e-6 };

function data(seed: number, n: number, shape: number[]): Tensor {
  const next = rng(seed);
  return tensor(Float32Array.from({ length: n * shape.reduce((p, q) => p * q, 1) }, () => next() - 0.5), [n, ...shape]);
}

const rowsOf = (t: Tensor, from: number, to: number): Tensor => {
  const row = t.shape.slice(1).reduce((p, q) => p * q, 1);
  return tensor(t.data.slice(from * row, to * row) as Float32Array, [to - from, ...t.shape.slice(1)]);
};

function makeCell(kind: string, args: Record<string, unknown>): Layer {
  return kind === 'LSTM' ? new layers.LSTM(U, args) : kind === 'GRU' ? new layers.GRU(U, args) : new layers.SimpleRNN(U, args);
}

/**
 * The stateless twin: [x, states...] -> y (trained) and -> final states,
 * sharing one recurrent and one dense layer.
 */
function twin(kind: string, states: number): { train: Model; final: Model; rnn: Layer; dense: Layer } {
  const x = Input({ shape: [T, F] });
  const init = Array.from({ length: states }, () => Input({ shape: [U] }));
  const rnn = makeCell(kind, { returnState: true });
  const [h, ...finals] = rnn.applyMulti([x, ...init]);
  const dense = new layers.Dense(1);
  const train = new Model({ inputs: [x, ...init], outputs: dense.apply(h) });
  const final = new Model({ inputs: [x, ...init], outputs: finals });
  return { train, final, rnn, dense };
}

describe('training stateful recurrent models', () => {
  it.each([['SimpleRNN', 1], ['GRU', 1], ['LSTM', 2]] as const)('%s: fit carries the states from batch to batch, resetStates() zeros them, predict continues them', async (kind, states) => {
    const model = new Sequential([new layers.InputLayer({ batchInputShape: [B, T, F] }), makeCell(kind, { stateful: true }), new layers.Dense(1)]);
    const ref = twin(kind, states);
    const next = rng(5);
    const weights = model.getWeights().map((w) => tensor(Float32Array.from(w.data, () => (next() - 0.5) * 1.2), [...w.shape]));
    model.setWeights(weights);
    ref.train.setWeights(weights);
    expect(model.getWeights().length).toBe(weights.length);
    const xs = data(7, 3 * B, [T, F]);
    const ys = data(8, 3 * B, [1]);
    model.compile({ optimizer: new optimizers.SGD({ lr: 0.3 }), loss: 'mse' });
    ref.train.compile({ optimizer: new optimizers.SGD({ lr: 0.3 }), loss: 'mse' });
    // Epoch 1 carries states over its three batches; states are reset before epoch 2 (as a Keras callback would).
    const h1 = await model.fit(xs, ys, { epochs: 1, batchSize: B, shuffle: false, verbose: 0 });
    model.resetStates();
    const h2 = await model.fit(xs, ys, { epochs: 1, batchSize: B, shuffle: false, verbose: 0 });
    let carried: Tensor[] = [];
    const losses: number[] = [];
    for (let epoch = 0; epoch < 2; epoch++) {
      carried = Array.from({ length: states }, () => tensor(new Float32Array(B * U), [B, U]));
      let sum = 0;
      for (let k = 0; k < 3; k++) {
        const x = rowsOf(xs, k * B, (k + 1) * B);
        const finals = await ref.final.predict([x, ...carried], { batchSize: B });
        sum += (await ref.train.trainOnBatch([x, ...carried], rowsOf(ys, k * B, (k + 1) * B))) as unknown as number;
        carried = Array.isArray(finals) ? finals : [finals];
      }
      losses.push(sum / 3);
    }
    expect([h1.history.loss[0], h2.history.loss[0]]).toBeAllClose(losses, close);
    model.getWeights().forEach((w, i) => expect(w.data, `weight ${i}`).toBeAllClose(ref.train.getWeights()[i].data, { rtol: 1e-4, atol: 1e-6 }));
    // The states were carried: with zeros at every batch the loss differs.
    const zeroStart = await ref.train.evaluate([rowsOf(xs, 2 * B, 3 * B), ...carried.map(() => tensor(new Float32Array(B * U), [B, U]))], rowsOf(ys, 2 * B, 3 * B), { verbose: 0 });
    const carriedEval = await ref.train.evaluate([rowsOf(xs, 2 * B, 3 * B), ...carried], rowsOf(ys, 2 * B, 3 * B), { verbose: 0 });
    expect(Math.abs((zeroStart as number) - (carriedEval as number))).toBeGreaterThan(1e-5);
    // predict starts from the states fit left (one set of states per layer, shared by every program).
    const x4 = data(9, B, [T, F]);
    const got = await model.predict(x4, { batchSize: B });
    const want = await ref.train.predict([x4, ...carried], { batchSize: B });
    expect(got.data).toBeAllClose((want as Tensor).data, close);
    model.dispose();
    ref.train.dispose();
    ref.final.dispose();
  });

  it('stacked cells (RNN over StackedRNNCells) keep every cell\'s states from one call to the next', async () => {
    const cells = (): layers.RNNCell[] => [new layers.LSTMCell(3), new layers.GRUCell(2)];
    const stateful = new Sequential([new layers.InputLayer({ batchInputShape: [B, T, F] }), new layers.RNN(new layers.StackedRNNCells(cells()), { stateful: true })]);
    const x = Input({ shape: [T, F] });
    const init = [Input({ shape: [3] }), Input({ shape: [3] }), Input({ shape: [2] })];
    const twin = new Model({ inputs: [x, ...init], outputs: new layers.RNN(new layers.StackedRNNCells(cells()), { returnState: true }).applyMulti([x, ...init]) });
    twin.setWeights(stateful.getWeights());
    expect(stateful.keptStates.map((k) => k.name)).toEqual([0, 1, 2].map((i) => `${stateful.layers[0].name}/cell_${i < 2 ? 0 : 1}/state_${i < 2 ? i : 0}`));
    const [x1, x2] = [data(21, B, [T, F]), data(22, B, [T, F])];
    const zeros = [3, 3, 2].map((n) => tensor(new Float32Array(B * n), [B, n]));
    const first = (await twin.predict([x1, ...zeros], { batchSize: B })) as Tensor[];
    const second = (await twin.predict([x2, ...first.slice(1)], { batchSize: B })) as Tensor[];
    expect((await stateful.predict(x1, { batchSize: B })).data).toBeAllClose(first[0].data, close);
    expect((await stateful.predict(x2, { batchSize: B })).data).toBeAllClose(second[0].data, close);
    stateful.resetStates();
    expect((await stateful.predict(x2, { batchSize: B })).data).toBeAllClose(((await twin.predict([x2, ...zeros], { batchSize: B })) as Tensor[])[0].data, close);
    stateful.dispose();
    twin.dispose();
  });

  it('evaluate and trainOnBatch advance the states too (Keras\'s state_updates); the states are not weights', async () => {
    const model = new Sequential([new layers.InputLayer({ batchInputShape: [B, T, F] }), new layers.SimpleRNN(U, { stateful: true }), new layers.Dense(1)]);
    model.compile({ optimizer: new optimizers.SGD({ lr: 0 }), loss: 'mse' });
    const x = data(11, B, [T, F]);
    const y = data(12, B, [1]);
    const first = (await model.evaluate(x, y, { batchSize: B, verbose: 0 })) as number;
    const second = (await model.evaluate(x, y, { batchSize: B, verbose: 0 })) as number;
    expect(second).not.toBeCloseTo(first, 6);
    model.resetStates();
    expect((await model.evaluate(x, y, { batchSize: B, verbose: 0 })) as number).toBeCloseTo(first, 6);
    const a = (await model.trainOnBatch(x, y)) as unknown as number;
    expect(a).toBeCloseTo(second, 5);
    expect(model.getWeights().map((w) => w.shape)).toEqual([[F, U], [U, U], [U], [U, 1], [1]]);
    model.dispose();
  });

  it('a sample count that is not a multiple of the batch size is refused, as in Keras', async () => {
    const model = new Sequential([new layers.InputLayer({ batchInputShape: [B, T, F] }), new layers.LSTM(U, { stateful: true }), new layers.Dense(1)]);
    model.compile({ optimizer: 'sgd', loss: 'mse' });
    await expect(model.fit(data(1, 3, [T, F]), data(2, 3, [1]), { batchSize: B, verbose: 0 })).rejects.toThrow(/fit: in a stateful network, you should only pass inputs with a number of samples that can be divided by the batch size. Found: 3 samples. Batch size: 2./);
    await expect(model.evaluate(data(1, 3, [T, F]), data(2, 3, [1]), { batchSize: B, verbose: 0 })).rejects.toThrow(/evaluate: in a stateful network/);
    await expect(model.predict(data(1, 3, [T, F]), { batchSize: B })).rejects.toThrow(/predict: in a stateful network/);
    model.dispose();
  });
});
