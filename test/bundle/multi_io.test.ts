/** A functional model with two inputs and two outputs as a bundle: inputs and outputs by their Keras names, on node-cpu and wasm. */
import { describe, expect, it } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeBundle } from '../../codegen/bundle/write_bundle.js';
import { load } from '../../runtime/bundle/index.js';
import { Input, Model, type Tensor, layers, tensor } from '../../src/index.js';
import { fill } from './helpers.js';

function twoByTwo(): Model {
  const image = Input({ shape: [8], name: 'image' });
  const meta = Input({ shape: [3], name: 'meta' });
  const joined = new layers.Concatenate({ name: 'joined' }).apply([new layers.Dense(5, { activation: 'relu', name: 'seen' }).apply(image), meta]);
  const label = new layers.Dense(4, { activation: 'softmax', name: 'label' }).apply(joined);
  const score = new layers.Dense(1, { name: 'score' }).apply(joined);
  const m = new Model({ inputs: [image, meta], outputs: [label, score], name: 'two_by_two' });
  m.setWeights(m.getWeights().map((w, i) => tensor(fill(w.data.length, 40 + i, 0.5), w.shape)));
  return m;
}

describe('a two-input, two-output bundle', () => {
  it('predicts each output by name as the compiling model does', async () => {
    const model = twoByTwo();
    const dir = mkdtempSync(join(tmpdir(), 'kiln-multi-'));
    const { manifest } = await writeBundle(model, { out: dir, targets: ['node-cpu', 'wasm'], batchSizes: [1, 4] });
    expect(manifest.inputs.map((i) => i.name)).toEqual(['image', 'meta']);
    expect(manifest.outputs.map((o) => [o.name, o.shape])).toEqual([['label', [null, 4]], ['score', [null, 1]]]);
    const rows = 6;
    const image = fill(rows * 8, 1, 1);
    const meta = fill(rows * 3, 2, 1);
    const want = (await model.predict([tensor(image, [rows, 8]), tensor(meta, [rows, 3])])) as Tensor[];
    for (const target of ['node-cpu', 'wasm'] as const) {
      const m = await load(dir, { target });
      const got = await m.predict({ image, meta });
      expect(got.label.shape).toEqual([rows, 4]);
      expect(got.label.data).toBeAllClose(want[0].data, { rtol: 1e-4, atol: 1e-6 });
      expect(got.score.data).toBeAllClose(want[1].data, { rtol: 1e-4, atol: 1e-6 });
      await expect(m.predict({ image, meta: fill(5 * 3, 2, 1) })).rejects.toThrow("input 'meta' has 5 samples, 'image' has 6");
      m.dispose();
    }
  });
});
