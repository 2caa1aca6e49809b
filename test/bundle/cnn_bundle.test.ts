/**
 * A bundle of a small CNN (two convolutions on the direct micro-kernel, one
 * with 64 filters: the 6x64 tile where the host has AVX-512; a max pool; a
 * dense layer) predicts what the compiling model predicts, on node-cpu (each
 * CPU level the host runs) and on wasm, whose 128-bit vectors take the same
 * micro-kernels.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, expect, it } from 'vitest';
import { writeBundle } from '../../codegen/bundle/write_bundle.js';
import { load } from '../../runtime/bundle/index.js';
import type { Manifest } from '../../runtime/bundle/manifest.js';
import { Sequential, layers, tensor } from '../../src/index.js';
import { fill } from './helpers.js';

const rows = 9; // one batch of 8, then one row through the batch-1 program
let dir = '';
let manifest: Manifest;
let want: Float32Array;
const x = fill(rows * 12 * 11 * 3, 3, 1);

beforeAll(async () => {
  const model = new Sequential([
    new layers.Conv2D(16, [3, 3], { activation: 'relu', inputShape: [12, 11, 3] }),
    new layers.Conv2D(64, [3, 3], { activation: 'relu' }),
    new layers.MaxPooling2D({ poolSize: [2, 2] }),
    new layers.Flatten(),
    new layers.Dense(10, { activation: 'softmax' }),
  ]);
  dir = mkdtempSync(join(tmpdir(), 'kiln-cnn-bundle-'));
  await writeBundle(model, { out: dir, targets: ['node-cpu', 'wasm'], batchSizes: [1, 8] });
  manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as Manifest;
  want = (await model.predict(tensor(x, [rows, 12, 11, 3]), { batchSize: 8 })).data as Float32Array;
}, 300_000);

for (const target of ['node-cpu', 'wasm'] as const) {
  it(`predicts the compiling process's outputs on ${target}`, async () => {
    const m = await load(dir, { target });
    const out = await m.predict({ [manifest.inputs[0].name]: x });
    const got = out[manifest.outputs[0].name];
    expect(got.shape).toEqual([rows, 10]);
    expect(got.data).toBeAllClose(want, { rtol: 1e-4, atol: 1e-6 });
    m.dispose();
  });
}
