/**
 * Cells written by users inside StackedRNNCells, beside built-in cells (Keras
 * 2.2: any object with state_size and call). A stack runs as its cells'
 * layers one after another with return_sequences (the same weights): masks,
 * go_backwards, return_state, stateful runs, run-time lengths and SGD
 * training against that twin; state order both ways (Keras 2.2.3's cell by
 * cell, and reverseStateOrder's last cell first); gradients against float64
 * finite differences; model JSON and HDF5 round trips through customObjects.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Input, Model, Sequential, type Tensor, layers, loadModel, modelFromJSON, optimizers, setBackend, tensor } from '../../src/index.js';
import type { Layer } from '../../src/layers/index.js';
import { TEST_BACKEND } from '../helpers/backend.js';

import { MinimalRNNCell, TwoStateCell, data, expectLayerGradientsMatch } from '../helpers/user_cells.js';

setBackend(TEST_BACKEND);
const dir = mkdtempSync(join(tmpdir(), 'kiln-stacked-cells-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const B = 3;
const T = 5;
const F = 4;
const close = { rtol: 1e-5, atol: 1e-6 };

/** A user cell, an LSTMCell and a user cell of two states: states [h1], [h2, c2], [a3, s3]. */
const mixedCells = (): [MinimalRNNCell, layers.LSTMCell, TwoStateCell] => [new MinimalRNNCell(3), new layers.LSTMCell(4), new TwoStateCell(2)];

/** The stack's twin: each cell as its own layer with return_sequences, the next one reading its output. */
function twinLayers(goBackwards: boolean, stateful = false): Layer[] {
  const flags = { returnSequences: true, returnState: !stateful, stateful };
  return [new layers.RNN(new MinimalRNNCell(3), { ...flags, goBackwards }), new layers.LSTM(4, flags), new layers.RNN(new TwoStateCell(2), flags)];
}

function maskGaps(x: Tensor): Tensor {
  for (const [b, t] of [[0, 1], [1, 3], [2, 4], [2, 0]]) x.data.fill(0, (b * T + t) * F, (b * T + t + 1) * F);
  return x;
}

describe('user cells in StackedRNNCells', () => {
  it.each([{ masked: true, goBackwards: false }, { masked: false, goBackwards: true }])('a user cell, an LSTMCell and a two-state user cell run as their layers in turn (%o), return_state cell by cell', async ({ masked, goBackwards }) => {
    const input = Input({ shape: [T, F] });
    const x0 = masked ? new layers.Masking({ maskValue: 0 }).apply(input) : input;
    const stack = new Model({ inputs: input, outputs: new layers.RNN(new layers.StackedRNNCells(mixedCells()), { returnSequences: true, returnState: true, goBackwards }).applyMulti(x0) });
    const [l1, l2, l3] = twinLayers(goBackwards);
    const [y1, h1] = l1.applyMulti(x0);
    const [y2, h2, c2] = l2.applyMulti(y1);
    const [y3, a3, s3] = l3.applyMulti(y2);
    const twin = new Model({ inputs: input, outputs: [y3, h1, h2, c2, a3, s3] });
    expect(stack.getWeights().map((w) => w.shape)).toEqual(twin.getWeights().map((w) => w.shape));
    twin.setWeights(stack.getWeights());
    const x = masked ? maskGaps(data(5, [B, T, F])) : data(5, [B, T, F]);
    const got = (await stack.predict(x)) as Tensor[];
    const want = (await twin.predict(x)) as Tensor[];
    expect(got.map((t) => t.shape)).toEqual([[B, T, 2], [B, 3], [B, 4], [B, 4], [B, 2], [B, 2]]);
    got.forEach((t, i) => expect(t.data, `output ${i}`).toBeAllClose(want[i].data, close));
    stack.dispose();
    twin.dispose();
  });

  it('reverseStateOrder (Keras 2.2.0-2.2.2): initial_state and return_state list the last cell first', async () => {
    const x = Input({ shape: [T, F] });
    const sizes = [3, 4, 4, 2, 2];
    const init = sizes.map((n) => Input({ shape: [n] }));
    const reversedInit = [init[3], init[4], init[1], init[2], init[0]];
    const natural = new layers.RNN(new layers.StackedRNNCells(mixedCells()), { returnState: true });
    const reversed = new layers.RNN(new layers.StackedRNNCells(mixedCells(), { reverseStateOrder: true }), { returnState: true });
    const model = new Model({ inputs: [x, ...init], outputs: [...natural.applyMulti([x, ...init]), ...reversed.applyMulti([x, ...reversedInit])] });
    reversed.setWeights(natural.getWeights());
    const feeds = [data(6, [B, T, F]), ...sizes.map((n, i) => data(10 + i, [B, n]))];
    const [y, ...rest] = (await model.predict(feeds)) as Tensor[];
    const states = rest.slice(0, 5);
    const [yr, ...statesR] = rest.slice(5);
    expect(yr.data).toBeAllClose(y.data, close);
    expect(statesR.map((t) => t.shape[1])).toEqual([2, 2, 4, 4, 3]);
    [3, 4, 1, 2, 0].forEach((j, i) => expect(statesR[i].data, `state ${i}`).toBeAllClose(states[j].data, close));
    // The initial states really are read: zeros give another output.
    const zeros = sizes.map((n) => tensor(new Float32Array(B * n), [B, n]));
    expect(Math.max(...((await model.predict([feeds[0], ...zeros])) as Tensor[])[0].data.map((v, i) => Math.abs(v - y.data[i])))).toBeGreaterThan(1e-3);
    expect(() => reversed.applyMulti([x, ...init])).toThrow(/initial state 0 must have shape \(batch, 2\), got \(None, 3\)/);
    model.dispose();
  });

  it('RNN over a list of cells trains (SGD) as its layers in turn', async () => {
    const stack = new Sequential([new layers.RNN([new MinimalRNNCell(3), new layers.SimpleRNNCell(2)], { inputShape: [T, F] }), new layers.Dense(1)]);
    const twin = new Sequential([new layers.RNN(new MinimalRNNCell(3), { inputShape: [T, F], returnSequences: true }), new layers.SimpleRNN(2), new layers.Dense(1)]);
    twin.setWeights(stack.getWeights());
    const x = data(7, [8, T, F]);
    const y = data(8, [8, 1]);
    for (const m of [stack, twin]) m.compile({ optimizer: new optimizers.SGD({ lr: 0.3 }), loss: 'mse' });
    const [hs, ht] = [await stack.fit(x, y, { epochs: 3, batchSize: 4, shuffle: false, verbose: 0 }), await twin.fit(x, y, { epochs: 3, batchSize: 4, shuffle: false, verbose: 0 })];
    expect(hs.history.loss).toBeAllClose(ht.history.loss, close);
    expect(hs.history.loss[2]).toBeLessThan(hs.history.loss[0]);
    stack.getWeights().forEach((w, i) => expect(w.data, `weight ${i}`).toBeAllClose(twin.getWeights()[i].data, { rtol: 1e-4, atol: 1e-6 }));
    stack.dispose();
    twin.dispose();
  });

  it('its gradients (go_backwards, a GRUCell between two user cells) match float64 central finite differences', () => {
    const rnn = new layers.RNN(new layers.StackedRNNCells([new TwoStateCell(2), new layers.GRUCell(3, { resetAfter: true }), new MinimalRNNCell(2)]), { returnSequences: true, goBackwards: true });
    expectLayerGradientsMatch(rnn, [2, T, F], 41);
  });

  it('stateful: every cell keeps its states from one batch to the next, as its stateful layers in turn do', async () => {
    const stack = new Sequential([new layers.InputLayer({ batchInputShape: [B, T, F] }), new layers.RNN(new layers.StackedRNNCells(mixedCells()), { stateful: true, returnSequences: true, name: 'stack' })]);
    const twin = new Sequential([new layers.InputLayer({ batchInputShape: [B, T, F] }), ...twinLayers(false, true)]);
    twin.setWeights(stack.getWeights());
    expect(stack.keptStates.map((k) => k.name)).toEqual(['stack/cell_0/state_0', 'stack/cell_1/state_0', 'stack/cell_1/state_1', 'stack/cell_2/state_0', 'stack/cell_2/state_1']);
    // The same batch twice: the second run starts from the states the first left.
    const first = await stack.predict(data(21, [B, T, F]), { batchSize: B });
    const again = await stack.predict(data(21, [B, T, F]), { batchSize: B });
    expect(Math.max(...again.data.map((v, i) => Math.abs(v - first.data[i])))).toBeGreaterThan(1e-3);
    stack.resetStates();
    for (const seed of [21, 22, 23]) {
      const x = data(seed, [B, T, F]);
      expect((await stack.predict(x, { batchSize: B })).data, `batch ${seed}`).toBeAllClose((await twin.predict(x, { batchSize: B })).data, close);
    }
    stack.dispose();
    twin.dispose();
  });

  it('timesteps=None: one program runs lengths 5 and 3 as fixed-length models do', async () => {
    const build = (steps: number | null): Model => {
      const input = Input({ shape: [steps as number, F] });
      return new Model({ inputs: input, outputs: new layers.RNN(new layers.StackedRNNCells(mixedCells()), { returnSequences: true }).apply(new layers.Masking({ maskValue: 0 }).apply(input)) });
    };
    const dynamic = build(null);
    for (const steps of [5, 3]) {
      const fixed = build(steps);
      fixed.setWeights(dynamic.getWeights());
      const x = data(30 + steps, [B, steps, F]);
      x.data.fill(0, F, 2 * F);
      expect(((await dynamic.predict(x)) as Tensor).data, `${steps} steps`).toBeAllClose(((await fixed.predict(x)) as Tensor).data, close);
      fixed.dispose();
    }
    dynamic.dispose();
  });

  it('a saved model (JSON, HDF5) with user cells in a stack loads through customObjects and predicts the same', async () => {
    const cells = [new MinimalRNNCell(3, { name: 'minimal' }), new layers.GRUCell(2), new TwoStateCell(2, { name: 'two' })];
    const model = new Sequential([new layers.RNN(new layers.StackedRNNCells(cells, { reverseStateOrder: true }), { inputShape: [T, F], name: 'rnn' }), new layers.Dense(1)]);
    const json = model.toJSON();
    const cell = JSON.parse(json).config.layers[0].config.cell;
    expect(cell.class_name).toBe('StackedRNNCells');
    expect(cell.config.reverse_state_order).toBe(true);
    expect(cell.config.cells.map((c: { class_name: string }) => c.class_name)).toEqual(['MinimalRNNCell', 'GRUCell', 'TwoStateCell']);
    expect(cell.config.cells[0].config).toMatchObject({ name: 'minimal', units: 3 });
    expect(() => modelFromJSON(json, { customObjects: { MinimalRNNCell } })).toThrow(/unknown cell class "TwoStateCell". Valid cells: SimpleRNNCell, GRUCell, LSTMCell, StackedRNNCells; pass a cell class of your own in customObjects/);
    const customObjects = { MinimalRNNCell, TwoStateCell };
    const x = data(9, [2, T, F]);
    const want = (await model.predict(x)).data;
    const copy = modelFromJSON(json, { customObjects }) as Sequential;
    copy.setWeights(model.getWeights());
    expect(JSON.parse(copy.toJSON()).config.layers[0].config.cell).toEqual(cell);
    expect(((await copy.predict(x)) as Tensor).data).toBeAllClose(want, close);
    const path = join(dir, 'stacked_user_cells.h5');
    await model.save(path);
    await expect(loadModel(path)).rejects.toThrow(/unknown cell class "MinimalRNNCell"/);
    const loaded = await loadModel(path, { customObjects });
    expect(((await loaded.predict(x)) as Tensor).data).toBeAllClose(want, close);
    for (const m of [model, copy, loaded]) m.dispose();
  });
});
