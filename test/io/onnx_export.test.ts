/**
 * ONNX export: onnxruntime (onnxruntime-node, the CPU build) runs the
 * exported predict graph and gives what Kiln's predict gives, for dense
 * stacks with every activation, the advanced activations, softmax,
 * convolution and pooling, the Keras-written cnn model, and multi-input /
 * multi-output functional models with merge layers.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import { afterAll, describe, expect, it } from 'vitest';
import { Input, Model, Sequential, Tensor, layers, loadModel, setBackend } from '../../src/index.js';
import { LAYER_CLASSES, layerFromConfig } from '../../src/layers/index.js';
import { exportONNX, saveONNX } from '../../src/io/onnx_export.js';
import type { AnyNetwork } from '../../src/io/index.js';

setBackend('interpreter');
const dir = mkdtempSync(join(tmpdir(), 'kiln-onnx-'));
const DATA = join(dirname(fileURLToPath(import.meta.url)), 'data');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const data = (shape: number[], k = 0): Tensor => new Tensor(Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, i) => Math.sin(0.9 * i + k) * 2), shape);

async function runOnnx(bytes: Uint8Array, xs: Tensor[]): Promise<Float32Array[]> {
  const session = await ort.InferenceSession.create(bytes);
  const feeds = Object.fromEntries(session.inputNames.map((n, i) => [n, new ort.Tensor('float32', Float32Array.from(xs[i].data), [...xs[i].shape])]));
  const out = await session.run(feeds);
  return session.outputNames.map((n) => out[n].data as Float32Array);
}

async function expectSame(model: AnyNetwork, xs: Tensor[]): Promise<void> {
  const want = await model.predict(xs.length === 1 ? xs[0] : xs);
  const wants = want instanceof Tensor ? [want] : want;
  const got = await runOnnx(exportONNX(model, { batchSize: xs[0].shape[0] }), xs);
  expect(got.length).toBe(wants.length);
  got.forEach((g, i) => expect(g).toBeAllClose(wants[i].data, { rtol: 1e-5, atol: 1e-6 }));
}

describe('onnxruntime runs the export with Kiln\'s outputs', () => {
  it.each(['linear', 'relu', 'elu', 'selu', 'softmax', 'softplus', 'softsign', 'tanh', 'sigmoid', 'hard_sigmoid', 'exponential'])('Dense with %s', async (activation) => {
    const model = new Sequential([new layers.Dense(6, { inputShape: [5], activation }), new layers.Dropout(0.5), new layers.Dense(3)]);
    await expectSame(model as unknown as AnyNetwork, [data([4, 5])]);
  });

  it.each(['LeakyReLU', 'PReLU', 'ELU', 'ThresholdedReLU', 'ReLU', 'Softmax'].filter((c) => Object.hasOwn(LAYER_CLASSES, c)))('%s', async (cls) => {
    const x = Input({ shape: [3, 4] });
    const y = layerFromConfig(cls, cls === 'ReLU' ? { maxValue: 1.2, negativeSlope: 0.1, threshold: -0.3 } : {}).apply(x);
    await expectSame(new Model({ inputs: x, outputs: y }) as AnyNetwork, [data([2, 3, 4])]);
  });

  it('Flatten, Reshape, Permute, RepeatVector', async () => {
    const x = Input({ shape: [2, 3, 4] });
    let y = new layers.Permute([3, 1, 2]).apply(x);
    y = new layers.Flatten().apply(y);
    y = new layers.RepeatVector(2).apply(y);
    y = new layers.Reshape([4, -1]).apply(y);
    await expectSame(new Model({ inputs: x, outputs: new layers.Dense(2).apply(y) }) as AnyNetwork, [data([3, 2, 3, 4])]);
  });

  it('Conv2D, MaxPooling2D, AveragePooling2D, BatchNormalization, ZeroPadding2D, Conv1D (windows as gathers)', async () => {
    const x = Input({ shape: [8, 8, 2] });
    let y = layerFromConfig('ZeroPadding2D', { padding: [[1, 0], [0, 1]] }).apply(x);
    y = layerFromConfig('Conv2D', { filters: 3, kernelSize: [3, 3], activation: 'relu', dilationRate: [1, 1] }).apply(y);
    y = layerFromConfig('MaxPooling2D', {}).apply(y);
    y = layerFromConfig('BatchNormalization', { movingMeanInitializer: { className: 'RandomUniform', config: { seed: 3 } } }).apply(y);
    y = layerFromConfig('AveragePooling2D', { poolSize: [2, 2], strides: [1, 1], padding: 'same' }).apply(y);
    y = layerFromConfig('Reshape', { targetShape: [-1, 3] }).apply(y);
    y = layerFromConfig('Conv1D', { filters: 2, kernelSize: [2], strides: [2] }).apply(y);
    y = new layers.Flatten().apply(y);
    await expectSame(new Model({ inputs: x, outputs: new layers.Dense(3, { activation: 'softmax' }).apply(y) }) as AnyNetwork, [data([2, 8, 8, 2])]);
  });

  it("the Keras-written cnn interop model exports and onnxruntime gives Keras's outputs", async () => {
    const io = JSON.parse(readFileSync(join(DATA, 'cnn.io.json'), 'utf8'));
    const model = await loadModel(join(DATA, 'cnn.keras'), { compile: false });
    const x = new Tensor(Float32Array.from(io.inputs[0].data), io.inputs[0].shape);
    const [got] = await runOnnx(exportONNX(model, { batchSize: x.shape[0] }), [x]);
    expect(got).toBeAllClose(io.expected[0].data, { rtol: 1e-4, atol: 1e-5 });
  });

  it('a recurrent model is refused naming the op', async () => {
    const model = await loadModel(join(DATA, 'lstm.keras'), { compile: false });
    expect(() => exportONNX(model)).toThrow(/exportONNX: op scan .* \(a loop: recurrent layers\) has no ONNX export yet/);
  });

  it('two inputs, merge layers, two outputs', async () => {
    const merges = ['Concatenate', 'Add', 'Multiply', 'Maximum', 'Subtract', 'Average'].filter((c) => Object.hasOwn(LAYER_CLASSES, c));
    const a = Input({ shape: [6], name: 'a' });
    const b = Input({ shape: [6], name: 'b' });
    const outs = merges.slice(0, 2).map((cls) => new layers.Dense(2, { activation: 'softmax' }).apply(layerFromConfig(cls, {}).apply([a, b])));
    const model = new Model({ inputs: [a, b], outputs: outs.length ? outs : [new layers.Dense(2).apply(a)] }) as AnyNetwork;
    await expectSame(model, [data([5, 6]), data([5, 6], 1)]);
  });
});

describe('files', () => {
  it('saveModel to .onnx writes the same bytes as exportONNX, and loadModel refuses it clearly', async () => {
    const model = new Sequential([new layers.Dense(3, { inputShape: [2] })]) as unknown as AnyNetwork;
    const path = join(dir, 'm.onnx');
    await model.save(path, { batchSize: 2 });
    expect(new Uint8Array(readFileSync(path))).toEqual(exportONNX(model, { batchSize: 2 }));
    await saveONNX(model, join(dir, 'n.onnx'));
    await expect(loadModel(path)).rejects.toThrow(/is not a model file Kiln knows/);
  });

  it('a batch size that is not a positive integer is an error', () => {
    const model = new Sequential([new layers.Dense(3, { inputShape: [2] })]) as unknown as AnyNetwork;
    expect(() => exportONNX(model, { batchSize: 0 })).toThrow(/batchSize must be a positive integer, got 0/);
  });
});
