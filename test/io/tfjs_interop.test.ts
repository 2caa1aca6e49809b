/**
 * TensorFlow.js reads what Kiln writes and Kiln reads what TensorFlow.js
 * writes (its layers format: model.json, weight manifest, binary shards),
 * checked against TensorFlow.js 4.22's own predictions.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Sequential, Tensor, layers, loadModel, setBackend } from '../../src/index.js';

setBackend('interpreter');
const dir = mkdtempSync(join(tmpdir(), 'kiln-tfjs-'));
beforeAll(async () => {
  // tfjs prints a banner suggesting tfjs-node on its first op in Node; it is not what is tested here.
  tf.env().set('IS_NODE', false);
  await tf.setBackend('cpu');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const X = Float32Array.from({ length: 5 * 6 }, (_, i) => Math.cos(i * 0.37) * 1.5);

/** A tfjs IOHandler over the files Kiln wrote. */
function fromFiles(path: string): tf.io.IOHandler {
  return {
    load: async () => {
      const json = JSON.parse(readFileSync(path, 'utf8'));
      const group = json.weightsManifest[0];
      const data = Buffer.concat(group.paths.map((p: string) => readFileSync(join(dir, p))));
      return { modelTopology: json.modelTopology, weightSpecs: group.weights, weightData: data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength), format: json.format };
    },
  };
}

it('tfjs loads a model Kiln saved as model.json and predicts what Kiln predicts', async () => {
  const model = new Sequential([
    new layers.Dense(8, { inputShape: [6], activation: 'relu', name: 'hidden' }),
    new layers.Dropout(0.3),
    new layers.Dense(4, { activation: 'softmax', name: 'out' }),
  ]);
  const want = (await model.predict(new Tensor(X, [5, 6]))) as Tensor;
  const path = join(dir, 'kiln_model.json');
  await model.save(path);
  const loaded = await tf.loadLayersModel(fromFiles(path));
  const got = (loaded.predict(tf.tensor2d(X, [5, 6])) as tf.Tensor).dataSync();
  expect(got).toBeAllClose(want.data, { rtol: 1e-5, atol: 1e-6 });
});

it('Kiln loads a model tfjs saved and predicts what tfjs predicts', async () => {
  const t = tf.sequential({
    layers: [
      tf.layers.dense({ units: 7, inputShape: [6], activation: 'tanh', name: 'a' }),
      tf.layers.dense({ units: 3, activation: 'sigmoid', name: 'b' }),
    ],
  });
  t.compile({ optimizer: 'adam', loss: 'binaryCrossentropy', metrics: ['accuracy'] });
  const want = (t.predict(tf.tensor2d(X, [5, 6])) as tf.Tensor).dataSync();
  await t.save(tf.io.withSaveHandler(async (artifacts) => {
    writeFileSync(join(dir, 'tfjs.bin'), Buffer.from(artifacts.weightData as ArrayBuffer));
    writeFileSync(join(dir, 'tfjs_model.json'), JSON.stringify({
      format: 'layers-model', generatedBy: 'tfjs test', modelTopology: artifacts.modelTopology, trainingConfig: artifacts.trainingConfig,
      weightsManifest: [{ paths: ['tfjs.bin'], weights: artifacts.weightSpecs }],
    }));
    return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
  }), { includeOptimizer: true });
  const model = await loadModel(join(dir, 'tfjs_model.json'));
  const got = (await model.predict(new Tensor(X, [5, 6]))) as Tensor;
  expect(got.data).toBeAllClose(want, { rtol: 1e-5, atol: 1e-6 });
  // The training config comes along: tfjs's camelCase loss and its Adam settings.
  expect(model.metricsNames).toEqual(['loss', 'accuracy']);
  const { trainerOf } = await import('../../src/io/training_config.js');
  const setup = trainerOf(model)!.setup;
  expect(setup.optimizer.className).toBe('Adam');
  expect(setup.optimizer.lr).toBeCloseTo(0.001, 8);
  expect((setup.outputs?.[0] ?? setup).loss?.name).toBe('binary_crossentropy');
});

it('saving over a model.json replaces its shards and removes the old ones', async () => {
  const { readdirSync } = await import('node:fs');
  const path = join(dir, 'resave.json');
  const m = new Sequential([new layers.Dense(2, { inputShape: [3] })]);
  await m.save(path);
  const first = readdirSync(dir).filter((f) => f.startsWith('resave.'));
  m.setWeights(m.getWeights().map((w) => new Tensor(w.data.map((v) => v + 1), w.shape)));
  await m.save(path);
  const second = readdirSync(dir).filter((f) => f.startsWith('resave.'));
  expect(second).toHaveLength(first.length);
  expect(second.filter((f) => f.endsWith('.bin'))).not.toEqual(first.filter((f) => f.endsWith('.bin')));
  const back = await loadModel(path);
  expect(Array.from(back.getWeights()[1].data)).toEqual(Array.from(m.getWeights()[1].data));
});
