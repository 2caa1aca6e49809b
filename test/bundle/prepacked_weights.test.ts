/**
 * Bundles run the CPU's programs, packed weights included: at batch 16 the
 * predict program keeps its Dense kernels packed, and a train step in the
 * same engine advances the generation, so the next predict repacks and sees
 * the trained weights (the model's outputs after the same steps, on the
 * tensor interpreter).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeBundle } from '../../codegen/bundle/write_bundle.js';
import { load } from '../../runtime/bundle/index.js';
import { Sequential, layers, optimizers, tensor } from '../../src/index.js';
import { fill } from './helpers.js';

const batch = 16;
const compile = () => ({ loss: 'mse', optimizer: new optimizers.SGD({ lr: 0.5 }) });

function model(): Sequential {
  const m = new Sequential([
    new layers.Dense(40, { activation: 'tanh', inputShape: [24], name: 'hidden' }),
    new layers.Dense(5, { name: 'out' }),
  ], { name: 'packed' });
  m.setWeights(m.getWeights().map((w, i) => tensor(fill(w.data.length, 7 + i, 0.4), w.shape)));
  return m;
}

const x = fill(batch * 24, 11, 1);
const y = fill(batch * 5, 12, 1);
let dir = '';
const want: Float32Array[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'kiln-prepack-bundle-'));
  await writeBundle(model(), { out: dir, targets: ['node-cpu', 'wasm'], batchSizes: [batch], train: { batch, compile: compile() } });
  // The reference trains on the tensor interpreter: the CPU backend keeps packed copies too.
  const m = model();
  m.compile({ ...compile(), backend: 'interpreter' });
  for (let step = 0; step < 2; step++) {
    want.push((await m.predict(tensor(x, [batch, 24]))).data as Float32Array);
    await m.trainOnBatch(tensor(x, [batch, 24]), tensor(y, [batch, 5]));
  }
  want.push((await m.predict(tensor(x, [batch, 24]))).data as Float32Array);
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('a bundle predicts with the weights its train steps wrote', () => {
  for (const target of ['node-cpu', 'wasm'] as const) {
    it(target, async () => {
      const m = await load(dir, { target });
      for (let step = 0; step < 2; step++) {
        expect((await m.predict({ hidden_input: x })).out.data).toBeAllClose(want[step], { rtol: 1e-4, atol: 1e-5 });
        await m.trainOnBatch({ hidden_input: x }, { out: y });
      }
      expect((await m.predict({ hidden_input: x })).out.data).toBeAllClose(want[2], { rtol: 1e-4, atol: 1e-5 });
      expect(want[2]).not.toEqual(want[0]);
      m.dispose();
    });
  }
});
