/**
 * Embedding, Masking and TimeDistributed: lookups, the embedding gradient
 * (only the rows used move, by the summed gradient of their uses), masks
 * that flow through mask-supporting layers into a Keras 2 masked loss, and
 * token ids checked before any kernel reads the table.
 */
import { describe, expect, it } from 'vitest';
import { Input, Model, Sequential, layers, modelFromJSON, optimizers, setBackend, tensor } from '../../src/index.js';
import { TEST_BACKEND } from '../helpers/backend.js';

setBackend(TEST_BACKEND);

describe('Embedding', () => {
  it('looks rows up, and an SGD step moves only the rows used, by the sum of their gradients', async () => {
    const model = new Sequential([new layers.Embedding(5, 2, { inputLength: 3, name: 'emb' }), new layers.Flatten()]);
    expect(model.outputShapes[0]).toEqual([null, 6]);
    const [table] = model.getWeights();
    const ids = [[1, 3, 1], [0, 1, 3]];
    const x = tensor(ids);
    const looked = ids.flatMap((r) => r.flatMap((id) => [table.data[id * 2], table.data[id * 2 + 1]]));
    expect(Array.from((await model.predict(x)).data)).toEqual(looked);
    const target = tensor([[0.5, -1, 0, 2, 1, 0], [1, 1, -1, 0, 0.5, 0.25]]);
    model.compile({ optimizer: new optimizers.SGD({ lr: 0.5 }), loss: 'mse' });
    await model.trainOnBatch(x, target);
    const want = Array.from(table.data);
    ids.forEach((r, n) => r.forEach((id, pos) => {
      for (let j = 0; j < 2; j++) {
        const k = pos * 2 + j;
        want[id * 2 + j] -= (0.5 * 2 * (looked[n * 6 + k] - target.data[n * 6 + k])) / 12;
      }
    }));
    const after = model.getWeights()[0].data;
    expect(after).toBeAllClose(want, { rtol: 1e-5, atol: 1e-6 });
    expect([after[4], after[5], after[8], after[9]]).toEqual([table.data[4], table.data[5], table.data[8], table.data[9]]);
    model.dispose();
  });

  it('refuses token ids outside [0, inputDim) before running, naming the layer and the id', async () => {
    const model = new Sequential([new layers.Embedding(4, 2, { inputLength: 2, name: 'ids' })]);
    await expect(model.predict(tensor([[1, 4]]))).rejects.toThrow('predict: layer ids (Embedding) got token id 4 at flat index 1 of its input (shape (1, 2)); ids must be integers in [0, 4)');
    await expect(model.predict(tensor([[-1, 0]]))).rejects.toThrow('got token id -1');
    model.dispose();
  });

  it('round-trips through Keras 2 JSON', async () => {
    const model = new Sequential([new layers.Embedding(6, 3, { inputLength: 2, maskZero: true, name: 'rt_emb' })]);
    const copy = modelFromJSON(model.toJSON());
    copy.setWeights(model.getWeights());
    const x = tensor([[5, 0]]);
    expect((await copy.predict(x) as { data: Float32Array }).data).toEqual((await model.predict(x)).data);
    expect(JSON.parse(model.toJSON()).config.layers[0].config).toMatchObject({ input_dim: 6, output_dim: 3, mask_zero: true, input_length: 2 });
    model.dispose();
    copy.dispose();
  });
});

describe('masks', () => {
  it('a mask_zero Embedding masks padded steps out of the loss and metrics (Keras 2 weighted_masked_objective)', async () => {
    const x = Input({ shape: [4] });
    const emb = new layers.Embedding(5, 3, { maskZero: true, name: 'memb' }).apply(x);
    const y = new layers.TimeDistributed(new layers.Dense(1, { name: 'mdense' }), { name: 'td' }).apply(emb);
    const model = new Model({ inputs: x, outputs: y });
    model.compile({ optimizer: 'sgd', loss: 'mse', metrics: ['mae'] });
    const ids = tensor([[1, 2, 0, 0], [3, 0, 0, 0], [4, 1, 2, 3]]);
    const t = tensor([[[1], [0], [9], [9]], [[2], [9], [9], [9]], [[0], [1], [0], [1]]]);
    const pred = await model.predict(ids);
    let se = 0;
    let ae = 0;
    let kept = 0;
    ids.data.forEach((id, i) => {
      if (id === 0) return;
      se += (pred.data[i] - t.data[i]) ** 2;
      ae += Math.abs(pred.data[i] - t.data[i]);
      kept++;
    });
    const [loss, mae] = (await model.evaluate(ids, t)) as number[];
    expect([loss, mae]).toBeAllClose([se / kept, ae / kept], { rtol: 1e-5, atol: 1e-6 });
    model.dispose();
  });

  it.each(['add', 'concatenate'] as const)('merge layers keep a step only where every input mask does (%s)', async (merge) => {
    const a = Input({ shape: [3] });
    const b = Input({ shape: [3] });
    const ea = new layers.Embedding(4, 2, { maskZero: true }).apply(a);
    const eb = new layers.Embedding(4, 2, { maskZero: true }).apply(b);
    const merged = merge === 'add' ? layers.add([ea, eb]) : layers.concatenate([ea, eb]);
    const model = new Model({ inputs: [a, b], outputs: new layers.TimeDistributed(new layers.Dense(1)).apply(merged) });
    model.compile({ optimizer: 'sgd', loss: 'mse' });
    const ia = tensor([[1, 0, 2], [3, 3, 0]]);
    const ib = tensor([[1, 1, 0], [2, 1, 1]]);
    const t = tensor([[[1], [5], [5]], [[0], [1], [5]]]);
    const pred = await model.predict([ia, ib]);
    let se = 0;
    let kept = 0;
    ia.data.forEach((v, i) => {
      if (v === 0 || ib.data[i] === 0) return;
      se += (pred.data[i] - t.data[i]) ** 2;
      kept++;
    });
    expect(kept).toBe(3);
    expect(await model.evaluate([ia, ib], t)).toBeCloseTo(se / kept, 5);
    model.dispose();
  });

  it('Masking zeroes masked steps and a layer that cannot take a mask refuses it', async () => {
    const x = Input({ shape: [3, 2] });
    const masked = new layers.Masking({ maskValue: -1 }).apply(x);
    const model = new Model({ inputs: x, outputs: new layers.Activation('linear').apply(masked) });
    expect((await model.predict(tensor([[[-1, -1], [1, -1], [2, 3]]]))).data).toBeAllClose([0, 0, 1, -1, 2, 3]);
    const flat = new Model({ inputs: x, outputs: new layers.Flatten({ name: 'no_mask' }).apply(masked) });
    await expect(flat.predict(tensor([[[1, 1], [1, 1], [1, 1]]]))).rejects.toThrow('Layer no_mask (Flatten) does not support masking, but was passed an input mask');
    model.dispose();
  });
});

describe('TimeDistributed', () => {
  it('applies one Dense to every step with one set of weights, and round-trips', async () => {
    const model = new Sequential([new layers.TimeDistributed(new layers.Dense(2, { name: 'tdd' }), { inputShape: [3, 4], name: 'td_rt' })]);
    expect(model.outputShapes[0]).toEqual([null, 3, 2]);
    expect(model.getWeights().map((w) => w.shape)).toEqual([[4, 2], [2]]);
    const x = tensor([[[1, 0, 0, 0], [0, 1, 0, 0], [1, 1, 1, 1]]]);
    const [k, bias] = model.getWeights();
    const want = [[1, 0, 0, 0], [0, 1, 0, 0], [1, 1, 1, 1]].flatMap((r) => [0, 1].map((j) => r.reduce((s, v, i) => s + v * k.data[i * 2 + j], bias.data[j])));
    expect((await model.predict(x)).data).toBeAllClose(want, { rtol: 1e-5, atol: 1e-6 });
    const copy = modelFromJSON(model.toJSON());
    copy.setWeights(model.getWeights());
    expect((await copy.predict(x) as { data: Float32Array }).data).toEqual((await model.predict(x)).data);
    expect(() => new Sequential([new layers.TimeDistributed(new layers.Dense(2), { inputShape: [4] })])).toThrow(/expects an input of rank at least 3/);
    model.dispose();
    copy.dispose();
  });
});
