/** A bundle of mnist_mlp, loaded in this process by kiln/runtime, predicts what the compiling model predicts. */
import { beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { load } from '../../runtime/bundle/index.js';
import type { Manifest } from '../../runtime/bundle/manifest.js';
import { buildBundle, images } from './helpers.js';
import { type Sequential, tensor } from '../../src/index.js';

let dir = '';
let model: Sequential;
let want: Float32Array;
const rows = 37; // one batch of 32, then five rows through the batch-1 program

beforeAll(async () => {
  ({ dir, model } = await buildBundle());
  want = (await model.predict(tensor(images(rows), [rows, 784]), { batchSize: 32 })).data as Float32Array;
});

describe('bundle of mnist_mlp', () => {
  it('writes a manifest naming inputs, outputs, batch sizes, targets and CPU levels', () => {
    const m = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as Manifest;
    expect(m.inputs).toEqual([{ name: 'dense_1_input', shape: [null, 784], dtype: 'float32' }]);
    expect(m.outputs).toEqual([{ name: 'dense_3', shape: [null, 10], dtype: 'float32' }]);
    expect(m.batchSizes).toEqual([1, 32]);
    expect(m.targets).toEqual(['node-cpu', 'wasm', 'webgpu']);
    const native = m.programs.find((p) => p.target === 'node-cpu');
    expect(native && 'levels' in native ? native.levels.map((l) => l.level) : []).toEqual(['avx512', 'avx2']);
    expect(m.weights.bytes).toBe(readFileSync(join(dir, 'weights.bin')).byteLength);
  });

  for (const target of ['node-cpu', 'wasm'] as const) {
    it(`predicts the compiling process's outputs on ${target}`, async () => {
      const m = await load(dir, { target });
      const out = await m.predict({ dense_1_input: images(rows) });
      expect(out.dense_3.shape).toEqual([rows, 10]);
      expect(out.dense_3.data).toBeAllClose(want, { rtol: 1e-4, atol: 1e-6 });
      m.dispose();
    });
  }

  it('keeps concurrent predict calls apart (a service answering requests at once)', async () => {
    const other = images(rows, 99);
    const wantOther = (await model.predict(tensor(other, [rows, 784]), { batchSize: 32 })).data as Float32Array;
    for (const target of ['node-cpu', 'wasm'] as const) {
      const m = await load(dir, { target });
      const [a, b, c] = await Promise.all([m.predict({ dense_1_input: images(rows) }), m.predict({ dense_1_input: other }), m.predict({ dense_1_input: images(rows) })]);
      expect(a.dense_3.data).toBeAllClose(want, { rtol: 1e-4, atol: 1e-6 });
      expect(b.dense_3.data).toBeAllClose(wantOther, { rtol: 1e-4, atol: 1e-6 });
      expect(c.dense_3.data).toBeAllClose(want, { rtol: 1e-4, atol: 1e-6 });
      m.dispose();
    }
  });

  it('runs wasm on one thread and on a team of workers alike', async () => {
    const m = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as Manifest;
    const wasm = m.programs.find((p) => p.target === 'wasm' && p.batch === 32);
    expect(wasm && 'threaded' in wasm ? wasm.threaded : null).toEqual({ file: 'predict_b32.mt.wasm', threads: 8 });
    for (const threads of [1, 3]) {
      const b = await load(dir, { target: 'wasm', threads });
      expect((await b.predict({ dense_1_input: images(rows) })).dense_3.data).toBeAllClose(want, { rtol: 1e-4, atol: 1e-6 });
      b.dispose();
    }
  });

  it('runs the AVX2 object where a CPU has no AVX-512 (falls back a level)', async () => {
    const flags = readFileSync('/proc/cpuinfo', 'utf8').split('\n').find((l) => l.startsWith('flags'))!.split(':')[1].trim().split(/\s+/).filter((f) => !f.startsWith('avx512'));
    const m = await load(dir, { target: 'node-cpu', cpuFlags: flags });
    expect(m.backend).toBe('node-cpu avx2');
    const out = await m.predict({ dense_1_input: images(rows) });
    expect(out.dense_3.data).toBeAllClose(want, { rtol: 1e-4, atol: 1e-6 });
    m.dispose();
  });
});
