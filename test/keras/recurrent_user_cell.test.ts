/**
 * RNN over cells written by users (Keras 2.2's MinimalRNNCell pattern): a
 * layer with `stateSize` whose `call(inputs, states)` is written with K and
 * weights from addWeight, traced into the scan's body. A tanh cell is
 * SimpleRNN without bias: predictions and SGD training equal that layer's;
 * a two-state cell with return_state, masks and go_backwards against a
 * float64 reference written here; gradients against float64 finite
 * differences; the errors.
 */
import { describe, expect, it } from 'vitest';
import { AbstractRNNCell, Input, K, type KTensor, Model, Sequential, modelFromJSON, type Tensor, layers, optimizers, setBackend } from '../../src/index.js';
import { TEST_BACKEND } from '../helpers/backend.js';

import { MinimalRNNCell, TwoStateCell, data, expectLayerGradientsMatch } from '../helpers/user_cells.js';

setBackend(TEST_BACKEND);

const B = 3;
const T = 5;
const F = 4;
const U = 3;

describe('RNN over a cell written by a user', () => {
  it('a tanh MinimalRNNCell predicts and trains (SGD) exactly as SimpleRNN without bias', async () => {
    const mine = new Sequential([new layers.RNN(new MinimalRNNCell(U), { inputShape: [T, F], returnSequences: true }), new layers.Dense(1)]);
    const ref = new Sequential([new layers.SimpleRNN(U, { inputShape: [T, F], returnSequences: true, useBias: false }), new layers.Dense(1)]);
    expect(mine.getWeights().map((w) => w.shape)).toEqual(ref.getWeights().map((w) => w.shape));
    ref.setWeights(mine.getWeights());
    const x = data(3, [8, T, F]);
    const y = data(4, [8, T, 1]);
    expect((await mine.predict(x)).data).toBeAllClose((await ref.predict(x)).data, { rtol: 1e-5, atol: 1e-6 });
    for (const m of [mine, ref]) m.compile({ optimizer: new optimizers.SGD({ lr: 0.2 }), loss: 'mse' });
    const [hm, hr] = [await mine.fit(x, y, { epochs: 3, batchSize: 4, shuffle: false, verbose: 0 }), await ref.fit(x, y, { epochs: 3, batchSize: 4, shuffle: false, verbose: 0 })];
    expect(hm.history.loss).toBeAllClose(hr.history.loss, { rtol: 1e-5, atol: 1e-6 });
    expect(hm.history.loss[2]).toBeLessThan(hm.history.loss[0]);
    mine.getWeights().forEach((w, i) => expect(w.data, `weight ${i}`).toBeAllClose(ref.getWeights()[i].data, { rtol: 1e-4, atol: 1e-6 }));
    mine.dispose();
    ref.dispose();
  });

  it('a cell of two states: return_state, masks with gaps and go_backwards against a float64 reference', async () => {
    const input = Input({ shape: [T, F] });
    const rnn = new layers.RNN(new TwoStateCell(U), { returnSequences: true, returnState: true, goBackwards: true });
    const outs = rnn.applyMulti(new layers.Masking({ maskValue: 0 }).apply(input));
    const model = new Model({ inputs: input, outputs: outs });
    const x = data(5, [B, T, F]);
    const gaps = [[0, 1], [1, 3], [2, 4]];
    for (const [b, t] of gaps) x.data.fill(0, (b * T + t) * F, (b * T + t + 1) * F);
    const [w, u] = model.getWeights().map((t) => t.data);
    const [ys, aT, sT] = (await model.predict(x)) as Tensor[];
    for (let b = 0; b < B; b++) {
      let a = new Array<number>(U).fill(0);
      let s = new Array<number>(U).fill(0);
      let out = new Array<number>(U).fill(0);
      const want: number[] = [];
      for (let i = 0; i < T; i++) {
        const t = T - 1 - i;
        const xt = Array.from(x.data.subarray((b * T + t) * F, (b * T + t + 1) * F));
        if (!gaps.some(([gb, gt]) => gb === b && gt === t)) {
          a = Array.from({ length: U }, (_, j) => Math.tanh(xt.reduce((p, v, k) => p + v * w[k * U + j], 0) + a.reduce((p, v, k) => p + v * u[k * U + j], 0)));
          s = s.map((v, j) => v + a[j]);
          out = a.map((v) => 2 * v);
        }
        want.push(...out);
      }
      expect(Array.from(ys.data.subarray(b * T * U, (b + 1) * T * U)), `outputs of sample ${b}`).toBeAllClose(want, { rtol: 1e-5, atol: 1e-6 });
      expect(Array.from(aT.data.subarray(b * U, (b + 1) * U))).toBeAllClose(a, { rtol: 1e-5, atol: 1e-6 });
      expect(Array.from(sT.data.subarray(b * U, (b + 1) * U))).toBeAllClose(s, { rtol: 1e-5, atol: 1e-6 });
    }
    model.dispose();
  });

  it('its gradients match float64 central finite differences', () => {
    const rnn = new layers.RNN(new TwoStateCell(U), { returnSequences: true });
    expectLayerGradientsMatch(rnn, [2, T, F], 31);
  });

  it('a model with a user cell saves its config and loads through customObjects', async () => {
    const model = new Sequential([new layers.RNN(new MinimalRNNCell(U, { name: 'minimal' }), { inputShape: [T, F], returnSequences: true, name: 'rnn' })]);
    const json = model.toJSON();
    expect(JSON.parse(json).config.layers[0].config.cell).toMatchObject({ class_name: 'MinimalRNNCell', config: { name: 'minimal', units: U } });
    expect(() => modelFromJSON(json)).toThrow(/unknown cell class "MinimalRNNCell".*pass a cell class of your own in customObjects/);
    const copy = modelFromJSON(json, { customObjects: { MinimalRNNCell } }) as Sequential;
    copy.setWeights(model.getWeights());
    const x = data(9, [2, T, F]);
    expect(((await copy.predict(x)) as Tensor).data).toBeAllClose((await model.predict(x)).data, { rtol: 1e-6, atol: 1e-7 });
    model.dispose();
    copy.dispose();
  });

  it('errors name the cell: a wrong return; StackedRNNCells names what is not a cell', async () => {
    class Bad extends AbstractRNNCell {
      readonly className = 'Bad';
      readonly stateSize = 2;
      override call(x: KTensor, states: KTensor[]): KTensor {
        return K.add(x, states[0]);
      }
    }
    const model = new Sequential([new layers.RNN(new Bad({ name: 'bad' }), { inputShape: [T, 2], name: 'r' })]);
    await expect(model.predict(data(1, [1, T, 2]))).rejects.toThrow(/RNN r: cell bad \(Bad\): call\(inputs, states\) must return \[output, newStates\]/);
    model.dispose();
    expect(() => new layers.StackedRNNCells([new MinimalRNNCell(2), new layers.Dense(2) as never])).toThrow(/StackedRNNCells: cell 1 is not a cell: every cell must be a SimpleRNNCell, GRUCell, LSTMCell or a layer with stateSize/);
  });
});
