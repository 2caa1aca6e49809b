/**
 * The webgpu target of the runtime in Node, on Dawn's binding (npm `webgpu`;
 * Mesa's llvmpipe through OpenGL ES where there is no GPU): predict and the
 * train step against the compiling model, as in a browser (browser.test.ts).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeBundle } from '../../codegen/bundle/write_bundle.js';
import { load } from '../../runtime/bundle/index.js';
import { Sequential, layers, optimizers, tensor } from '../../src/index.js';
import { fill } from './helpers.js';

const batch = 8;
const compile = () => ({ loss: 'categorical_crossentropy', optimizer: new optimizers.RMSprop({ lr: 0.01 }), metrics: ['accuracy'] });

function small(): Sequential {
  const m = new Sequential([
    new layers.Dense(32, { activation: 'tanh', inputShape: [12], name: 'hidden' }),
    new layers.Dense(4, { activation: 'softmax', name: 'probs' }),
  ], { name: 'small_gpu' });
  m.setWeights(m.getWeights().map((w, i) => tensor(fill(w.data.length, 9 + i, 0.3), w.shape)));
  return m;
}

const x = fill(batch * 12, 77, 1);
const y = new Float32Array(batch * 4).map((_, i) => (i % 4 === (Math.floor(i / 4) % 4) ? 1 : 0));

/** Dawn's GPU object: the default backend with a GPU, else OpenGL ES on llvmpipe; one instance for the file. */
let instance: Promise<{ gpu: GPU; adapter: GPURequestAdapterOptions }> | null = null;
const dawn = (): Promise<{ gpu: GPU; adapter: GPURequestAdapterOptions }> => (instance ??= createDawn());

async function createDawn(): Promise<{ gpu: GPU; adapter: GPURequestAdapterOptions }> {
  const hasGpu = existsSync('/dev/dri') && readdirSync('/dev/dri').some((f) => f.startsWith('renderD'));
  if (!hasGpu) process.env.EGL_PLATFORM ??= 'surfaceless';
  const { create } = await import('webgpu');
  return hasGpu ? { gpu: create([]), adapter: {} } : { gpu: create(['backend=opengles']), adapter: { featureLevel: 'compatibility' } as GPURequestAdapterOptions };
}

let dir = '';
let wantPredict: Float32Array;
let wantLogs: number[];
let wantAfter: Float32Array;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'kiln-gpu-bundle-'));
  await writeBundle(small(), { out: dir, targets: ['webgpu'], batchSizes: [1, batch], train: { batch, compile: compile() } });
  const model = small();
  wantPredict = (await model.predict(tensor(x, [batch, 12]))).data as Float32Array;
  model.compile(compile());
  wantLogs = (await model.trainOnBatch(tensor(x, [batch, 12]), tensor(y, [batch, 4]))) as number[];
  wantAfter = (await model.predict(tensor(x, [batch, 12]))).data as Float32Array;
});

describe('the webgpu target in Node (Dawn)', () => {
  it('predicts, trains one step and predicts with the trained weights as the compiling model does', async () => {
    const m = await load(dir, { target: 'webgpu', ...(await dawn()) });
    expect(m.backend).toBe('webgpu');
    expect((await m.predict({ hidden_input: x })).probs.data).toBeAllClose(wantPredict, { rtol: 1e-4, atol: 1e-6 });
    const logs = await m.trainOnBatch({ hidden_input: x }, { probs: y });
    expect([logs.loss, logs.accuracy]).toBeAllClose(wantLogs, { rtol: 1e-4, atol: 1e-6 });
    expect((await m.predict({ hidden_input: x })).probs.data).toBeAllClose(wantAfter, { rtol: 1e-4, atol: 1e-6 });
    const w = await m.getWeights();
    expect(w['probs/bias:0'].shape).toEqual([4]);
    m.dispose();
  });
});

describe('the webgpu target with recurrent loops', () => {
  const steps = 5;
  const n = 4;
  function recurrent(): Sequential {
    const m = new Sequential([
      new layers.Bidirectional(new layers.GRU(4, { returnSequences: true, goBackwards: true }), { inputShape: [steps, 3], name: 'rec' }),
      new layers.LSTM(3, { name: 'enc' }),
      new layers.Dense(2, { activation: 'softmax', name: 'out' }),
    ], { name: 'rnn_gpu' });
    m.setWeights(m.getWeights().map((w, i) => tensor(fill(w.data.length, 31 + i, 0.5), w.shape)));
    return m;
  }
  const xs = fill(n * steps * 3, 5, 1);
  const ys = new Float32Array(n * 2).map((_, i) => (i % 2 === Math.floor(i / 2) % 2 ? 1 : 0));

  it('a bundle of a GRU/LSTM model runs its loops (step counters, the body once per step): predict and a train step as the compiling model does', async () => {
    const out = mkdtempSync(join(tmpdir(), 'kiln-gpu-rnn-'));
    await writeBundle(recurrent(), { out, targets: ['webgpu'], batchSizes: [n], train: { batch: n, compile: compile() } });
    const model = recurrent();
    const want = (await model.predict(tensor(xs, [n, steps, 3]))).data;
    model.compile(compile());
    const logs = (await model.trainOnBatch(tensor(xs, [n, steps, 3]), tensor(ys, [n, 2]))) as number[];
    const after = (await model.predict(tensor(xs, [n, steps, 3]))).data;
    const m = await load(out, { target: 'webgpu', ...(await dawn()) });
    expect((await m.predict({ rec_input: xs })).out.data).toBeAllClose(want, { rtol: 1e-4, atol: 1e-6 });
    const got = await m.trainOnBatch({ rec_input: xs }, { out: ys });
    expect([got.loss, got.accuracy]).toBeAllClose(logs, { rtol: 1e-4, atol: 1e-6 });
    expect((await m.predict({ rec_input: xs })).out.data).toBeAllClose(after, { rtol: 1e-4, atol: 1e-6 });
    m.dispose();
  });
});
