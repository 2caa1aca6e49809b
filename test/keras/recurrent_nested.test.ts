/**
 * A recurrent layer inside TimeDistributed (sequences of sequences, as in
 * Keras's hierarchical RNN example): TimeDistributed folds its time axis into
 * the batch, so the inner LSTM is one scan over [batch * outer, inner, ...]
 * and no loop nests in another. Predictions and SGD training equal the same
 * LSTM run on the folded input by hand.
 */
import { describe, expect, it } from 'vitest';
import { Input, Model, Sequential, type Tensor, layers, optimizers, setBackend, tensor } from '../../src/index.js';
import { TEST_BACKEND } from '../helpers/backend.js';
import { rng } from '../helpers/nd.js';

setBackend(TEST_BACKEND);

const [B, OUTER, INNER, F, U] = [3, 2, 4, 3, 2];

describe('RNN inside TimeDistributed', () => {
  it('TimeDistributed(LSTM) then LSTM (a hierarchical RNN) predicts and trains as the LSTM on the folded input', async () => {
    const next = rng(3);
    const x = tensor(Float32Array.from({ length: B * OUTER * INNER * F }, () => next() - 0.5), [B, OUTER, INNER, F]);
    const y = tensor(Float32Array.from({ length: B * OUTER * U }, () => next() - 0.5), [B, OUTER, U]);
    const nested = new Sequential([new layers.TimeDistributed(new layers.LSTM(U, { goBackwards: true }), { inputShape: [OUTER, INNER, F] })]);
    const flat = new Sequential([new layers.LSTM(U, { inputShape: [INNER, F], goBackwards: true })]);
    flat.setWeights(nested.getWeights());
    const folded = tensor(x.data as Float32Array, [B * OUTER, INNER, F]);
    const got = await nested.predict(x);
    expect(got.shape).toEqual([B, OUTER, U]);
    expect(got.data).toBeAllClose((await flat.predict(folded)).data, { rtol: 1e-5, atol: 1e-6 });
    for (const m of [nested, flat]) m.compile({ optimizer: new optimizers.SGD({ lr: 0.5 }), loss: 'mse' });
    const hn = await nested.fit(x, y, { epochs: 2, batchSize: B, shuffle: false, verbose: 0 });
    const hf = await flat.fit(folded, tensor(y.data as Float32Array, [B * OUTER, U]), { epochs: 2, batchSize: B * OUTER, shuffle: false, verbose: 0 });
    expect(hn.history.loss).toBeAllClose(hf.history.loss, { rtol: 1e-5, atol: 1e-6 });
    nested.getWeights().forEach((w, i) => expect(w.data).toBeAllClose(flat.getWeights()[i].data, { rtol: 1e-4, atol: 1e-6 }));
    // And a hierarchical model: an outer LSTM over the inner LSTM's summaries.
    const input = Input({ shape: [OUTER, INNER, F] });
    const outer = new layers.LSTM(2).apply(new layers.TimeDistributed(new layers.GRU(3)).apply(input));
    const model = new Model({ inputs: input, outputs: outer });
    expect(((await model.predict(x)) as Tensor).shape).toEqual([B, 2]);
    for (const m of [nested, flat, model]) m.dispose();
  });

  it('with timesteps=None on the outer axis, the wrapped LSTM runs its own steps in full', async () => {
    const open = new Sequential([new layers.TimeDistributed(new layers.LSTM(U), { inputShape: [null as unknown as number, INNER, F] }), new layers.LSTM(2)]);
    const next = rng(5);
    const x = tensor(Float32Array.from({ length: B * 3 * INNER * F }, () => next() - 0.5), [B, 3, INNER, F]);
    const fixed = new Sequential([new layers.TimeDistributed(new layers.LSTM(U), { inputShape: [3, INNER, F] }), new layers.LSTM(2)]);
    fixed.setWeights(open.getWeights());
    expect((await open.predict(x)).data).toBeAllClose((await fixed.predict(x)).data, { rtol: 1e-5, atol: 1e-6 });
    expect([...open.stepCapacities]).toEqual([4]);
    for (const m of [open, fixed]) m.dispose();
  });
});
