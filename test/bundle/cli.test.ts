/** The kiln command, run in-process through main(): each subcommand's output and files, --help, and plain errors with exit code 1. */
import { beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../cli/kiln.js';
import { parseNpy, toNpy } from '../../cli/npy.js';
import { Input, Model, layers, saveModel, tensor, utils } from '../../src/index.js';
import { images, mnistMlp } from './helpers.js';

async function kiln(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(argv, { out: (t) => void (out += t), err: (t) => void (err += t) });
  return { code, out, err };
}

const ROOT = join(import.meta.dirname, '../..');
const dir = mkdtempSync(join(tmpdir(), 'kiln-cli-'));
const json = join(dir, 'mnist_mlp.json');
const weights = join(dir, 'mnist_mlp.h5');
const rows = 3;
let want: Float32Array;

beforeAll(async () => {
  const model = mnistMlp();
  writeFileSync(json, model.toJSON());
  await model.saveWeights(weights);
  writeFileSync(join(dir, 'x.npy'), toNpy(images(rows), [rows, 784]));
  want = (await model.predict(tensor(images(rows), [rows, 784]))).data as Float32Array;
});

describe('kiln command', () => {
  it('summary prints the Keras table of a JSON model', async () => {
    const r = await kiln('summary', json);
    expect(r.code).toBe(0);
    expect(r.out).toContain('dense_1 (Dense)');
    expect(r.out).toContain('Total params: 669,706');
  });

  it('plot writes an SVG through dot, with Keras labels and shape tables', async () => {
    const svg = join(dir, 'model.svg');
    const r = await kiln('plot', json, '--to-file', svg, '--show-shapes');
    expect(r.code).toBe(0);
    const text = readFileSync(svg, 'utf8');
    expect(text).toContain('<svg');
    expect(text).toContain('dense_1: Dense');
    expect(text).toContain('(None, 784)');
    expect(text).not.toContain('dense_1_input');
  });

  it('plot honours rankdir and show_layer_names in the DOT text', async () => {
    const dot = join(dir, 'model.dot');
    expect((await kiln('plot', json, '--to-file', dot, '--rankdir', 'LR', '--no-show-layer-names')).code).toBe(0);
    const text = readFileSync(dot, 'utf8');
    expect(text).toContain('rankdir=LR;');
    expect(text).toContain('layer_0 [label="Dense"]');
    expect(text).toContain('layer_0 -> layer_1;');
    expect(text.match(/->/g)?.length).toBe(4);
  });

  it('utils.plotModel writes a PNG (the default format) from a functional model, input layer included', async () => {
    const x = Input({ shape: [4], name: 'pixels' });
    const y = new layers.Dense(2, { name: 'head' }).apply(x);
    const png = join(dir, 'functional.png');
    const dot = utils.plotModel(new Model({ inputs: x, outputs: y }), { toFile: png, showShapes: true });
    expect([...readFileSync(png).subarray(0, 4)]).toEqual([0x89, 0x50, 0x4e, 0x47]);
    expect(dot).toContain('layer_0 [label="pixels: InputLayer\\n|{input:|output:}|{{(None, 4)}|{(None, 4)}}"]');
    expect(dot).toContain('layer_0 -> layer_1;');
  });

  it('predict runs a model file with weights on a .npy input and writes .npy', async () => {
    const out = join(dir, 'y.npy');
    const r = await kiln('predict', json, '--weights', weights, '--input', join(dir, 'x.npy'), '--out', out);
    expect(r.err).toBe('');
    const y = parseNpy(new Uint8Array(readFileSync(out)));
    expect(y.shape).toEqual([rows, 10]);
    expect(y.data).toBeAllClose(want, { rtol: 1e-5, atol: 1e-6 });
  });

  it('compile writes a bundle that predict runs on JSON inputs (node-cpu and wasm)', async () => {
    const bundle = join(dir, 'bundle');
    const c = await kiln('compile', json, '--weights', weights, '--out', bundle, '--targets', 'node-cpu,wasm', '--batch-sizes', '1,4');
    expect(c.err).toBe('');
    for (const f of ['manifest.json', 'weights.bin', 'index.js', 'index.d.ts', 'predict_b4.avx2.so', 'predict_b4.avx512.so', 'predict_b1.wasm']) expect(existsSync(join(bundle, f)), f).toBe(true);
    expect(readFileSync(join(bundle, 'index.d.ts'), 'utf8')).toMatch(/readonly dense_1_input: Float32Array/);
    writeFileSync(join(dir, 'x.json'), JSON.stringify({ dense_1_input: { data: Array.from(images(rows)), shape: [rows, 784] } }));
    for (const backend of ['node-cpu', 'wasm']) {
      const r = await kiln('predict', bundle, '--input', join(dir, 'x.json'), '--backend', backend);
      expect(r.err).toBe('');
      const y = JSON.parse(r.out) as { dense_3: { shape: number[]; data: number[] } };
      expect(y.dense_3.shape).toEqual([rows, 10]);
      expect(y.dense_3.data).toBeAllClose(want, { rtol: 1e-4, atol: 1e-6 });
    }
  });

  it('reads whole-model files (Keras HDF5 via loadModel) and scripts exporting a model', async () => {
    const h5 = join(dir, 'full.h5');
    await saveModel(mnistMlp(), h5);
    const fromH5 = await kiln('predict', h5, '--input', join(dir, 'x.npy'));
    expect(fromH5.err).toBe('');
    expect((JSON.parse(fromH5.out) as { dense_3: { data: number[] } }).dense_3.data).toBeAllClose(want, { rtol: 1e-5, atol: 1e-6 });
    const script = join(dir, 'model.mjs');
    writeFileSync(script, `import { Sequential, layers } from ${JSON.stringify(join(ROOT, 'src/index.js'))};\nexport default async () => new Sequential([new layers.Dense(3, { inputShape: [5], name: 'only' })], { name: 'scripted' });\n`);
    const summary = await kiln('summary', script);
    expect(summary.err).toBe('');
    expect(summary.out).toContain('Model: "scripted"');
    expect(summary.out).toContain('Total params: 18');
    const noModel = join(dir, 'empty.mjs');
    writeFileSync(noModel, 'export const x = 1;\n');
    const bad = await kiln('summary', noModel);
    expect(bad.code).toBe(1);
    expect(bad.err).toContain("exports no model: export it as 'default' or 'model' (exports found: x)");
  });

  it('compile --train writes the train step; --train without a loss is refused', async () => {
    const bundle = join(dir, 'trainable');
    const c = await kiln('compile', json, '--weights', weights, '--out', bundle, '--targets', 'wasm', '--batch-sizes', '4', '--train', '--loss', 'categorical_crossentropy', '--optimizer', 'sgd', '--metrics', 'accuracy', '--train-batch', '4');
    expect(c.err).toBe('');
    expect(existsSync(join(bundle, 'train_b4.wasm'))).toBe(true);
    expect(JSON.parse(readFileSync(join(bundle, 'manifest.json'), 'utf8')).train).toEqual({ batch: 4, optimizer: 'SGD', metricsNames: ['loss', 'accuracy'] });
    const bad = await kiln('compile', json, '--out', join(dir, 'b3'), '--train');
    expect(bad.code).toBe(1);
    expect(bad.err).toContain('--train needs the loss and the optimizer: --loss NAME --optimizer NAME');
  });

  it('bench times every fused kernel against the measured peaks', async () => {
    const r = await kiln('bench', json, '--batch', '8', '--threads', '1', '--json');
    expect(r.err).toBe('');
    const report = JSON.parse(r.out) as { peakGflops: number; peakGbps: number; kernels: { summary: string; seconds: number; ofPeak: number }[] };
    expect(report.peakGflops).toBeGreaterThan(0);
    expect(report.peakGbps).toBeGreaterThan(0);
    expect(report.kernels.length).toBeGreaterThanOrEqual(3);
    expect(report.kernels[0].summary).toMatch(/^matmul 8x784 @ 784x512/);
    for (const k of report.kernels) expect(k.seconds).toBeGreaterThan(0);
  });

  it('--help describes each command and exits 0', async () => {
    for (const cmd of ['compile', 'summary', 'plot', 'predict', 'bench']) {
      const r = await kiln(cmd, '--help');
      expect(r.code, cmd).toBe(0);
      expect(r.out, cmd).toContain(`Usage: kiln ${cmd}`);
    }
    expect((await kiln('plot', '--help')).out).toContain('--show-shapes');
  });

  it('reports bad input in plain words with exit code 1', async () => {
    const missing = await kiln('summary', join(dir, 'nope.json'));
    expect(missing.code).toBe(1);
    expect(missing.err).toContain(`kiln summary: no such model file: ${join(dir, 'nope.json')}`);
    const target = await kiln('compile', json, '--out', join(dir, 'b2'), '--targets', 'tpu');
    expect(target.code).toBe(1);
    expect(target.err).toContain("Unknown bundle target 'tpu'. Targets: node-cpu, wasm, webgpu");
    const noInput = await kiln('predict', json);
    expect(noInput.code).toBe(1);
    expect(noInput.err).toContain('no inputs given: pass --input FILE');
    const badOption = await kiln('plot', json, '--colour');
    expect(badOption.code).toBe(1);
    expect(badOption.err).toContain("unknown option '--colour'");
  });
});
