/** `--train`: a bundle's train step gives Keras's train_on_batch results of the compiling model, and predict sees the trained weights. */
import { beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeBundle } from '../../codegen/bundle/write_bundle.js';
import { load } from '../../runtime/bundle/index.js';
import { Sequential, layers, optimizers, tensor } from '../../src/index.js';
import { fill } from './helpers.js';

const batch = 8;
const steps = 3;
const compile = () => ({ loss: 'categorical_crossentropy', optimizer: new optimizers.Adam({ lr: 0.01 }), metrics: ['accuracy'] });

function small(): Sequential {
  const m = new Sequential([
    new layers.Dense(16, { activation: 'relu', inputShape: [6], name: 'hidden' }),
    new layers.Dense(3, { activation: 'softmax', name: 'probs' }),
  ], { name: 'small' });
  m.setWeights(m.getWeights().map((w, i) => tensor(fill(w.data.length, 3 + i, 0.4), w.shape)));
  return m;
}

const xs = Array.from({ length: steps }, (_, s) => fill(batch * 6, 100 + s, 1));
const ys = Array.from({ length: steps }, (_, s) => {
  const y = new Float32Array(batch * 3);
  for (let r = 0; r < batch; r++) y[r * 3 + ((r + s) % 3)] = 1;
  return y;
});

let dir = '';
let wantLogs: number[][] = [];
let wantPredict: Float32Array;
let wantKernel: Float32Array;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'kiln-train-bundle-'));
  await writeBundle(small(), { out: dir, targets: ['node-cpu', 'wasm'], batchSizes: [batch], train: { batch, compile: compile() } });
  const model = small();
  model.compile(compile());
  for (let s = 0; s < steps; s++) wantLogs.push((await model.trainOnBatch(tensor(xs[s], [batch, 6]), tensor(ys[s], [batch, 3]))) as number[]);
  wantPredict = (await model.predict(tensor(xs[0], [batch, 6]))).data as Float32Array;
  wantKernel = model.getWeights()[0].data as Float32Array;
});

describe('bundle train step', () => {
  for (const target of ['node-cpu', 'wasm'] as const) {
    it(`matches the compiling model's trainOnBatch on ${target}, then predicts with the trained weights`, async () => {
      const m = await load(dir, { target });
      expect(m.manifest.train?.metricsNames).toEqual(['loss', 'accuracy']);
      for (let s = 0; s < steps; s++) {
        const logs = await m.trainOnBatch({ hidden_input: xs[s] }, { probs: ys[s] });
        expect([logs.loss, logs.accuracy]).toBeAllClose(wantLogs[s], { rtol: 1e-4, atol: 1e-6 });
      }
      const y = await m.predict({ hidden_input: xs[0] });
      expect(y.probs.data).toBeAllClose(wantPredict, { rtol: 1e-4, atol: 1e-6 });
      const w = await m.getWeights();
      expect(Object.keys(w)).toEqual(['hidden/kernel:0', 'hidden/bias:0', 'probs/kernel:0', 'probs/bias:0']);
      expect(w['hidden/kernel:0'].shape).toEqual([6, 16]);
      expect(w['hidden/kernel:0'].data).toBeAllClose(wantKernel, { rtol: 1e-4, atol: 1e-6 });
      m.dispose();
    });
  }

  it('refuses training where the bundle has no train step, and batches over its train batch', async () => {
    const plain = mkdtempSync(join(tmpdir(), 'kiln-no-train-'));
    await writeBundle(small(), { out: plain, targets: ['wasm'], batchSizes: [2] });
    const p = await load(plain);
    await expect(p.trainOnBatch({ hidden_input: xs[0] }, { probs: ys[0] })).rejects.toThrow('has no train step: compile it with kiln compile --train');
    const m = await load(dir, { target: 'wasm' });
    await expect(m.trainOnBatch({ hidden_input: fill(9 * 6, 1, 1) }, { probs: new Float32Array(27) })).rejects.toThrow(`trainOnBatch takes at most ${batch} samples (the bundle's train batch), got 9`);
    await expect(m.trainOnBatch({ hidden_input: xs[0] }, { labels: ys[0] })).rejects.toThrow("unknown target 'labels'; the model's targets are 'probs'");
  });
});
