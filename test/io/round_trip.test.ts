/**
 * Round trips through every format Kiln writes: one functional model per
 * registered layer class (followed by a Dense, so every model has weights)
 * saved as Keras 2 HDF5, Keras 3 .keras, TensorFlow.js model.json, and as a
 * JSON or YAML config with a Keras 2 or Keras 3 weights file; the loaded
 * model has the same config and predicts exactly the same values.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Input, K, type KTensor, Model, Sequential, Tensor, layers, loadModel, modelFromJSON, modelFromYAML, modelToJSON, registerCustomObject, setBackend } from '../../src/index.js';
import { LAYER_CLASSES, layerFromConfig } from '../../src/layers/index.js';
import type { AnyNetwork } from '../../src/io/index.js';

// Serialization is backend-independent: the interpreter keeps 150 compiles cheap.
setBackend('interpreter');

const dir = mkdtempSync(join(tmpdir(), 'kiln-round-trip-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Input shapes (batch excluded) and a non-default camelCase config per layer class. */
const CASES: Record<string, { inputs: number[][]; config: Record<string, unknown> }> = {
  InputLayer: { inputs: [[3]], config: { batchInputShape: [null, 3] } },
  Dense: { inputs: [[2, 3]], config: { units: 4, activation: 'selu', kernelInitializer: { className: 'RandomUniform', config: { minval: -1, maxval: 1, seed: 3 } }, biasInitializer: 'ones', kernelRegularizer: { className: 'L1L2', config: { l1: 0, l2: 0.01 } }, kernelConstraint: 'non_neg' } },
  Activation: { inputs: [[5]], config: { activation: 'softplus' } },
  ActivityRegularization: { inputs: [[5]], config: { l1: 0.1, l2: 0.2 } },
  Dropout: { inputs: [[5]], config: { rate: 0.3, noiseShape: [null, 1], seed: 9 } },
  SpatialDropout1D: { inputs: [[2, 3]], config: { rate: 0.2 } },
  SpatialDropout2D: { inputs: [[2, 2, 3]], config: { rate: 0.2, dataFormat: 'channels_first' } },
  SpatialDropout3D: { inputs: [[2, 2, 2, 3]], config: { rate: 0.2 } },
  AlphaDropout: { inputs: [[5]], config: { rate: 0.1 } },
  GaussianDropout: { inputs: [[5]], config: { rate: 0.4 } },
  GaussianNoise: { inputs: [[5]], config: { stddev: 0.5 } },
  Flatten: { inputs: [[2, 3, 2]], config: { dataFormat: 'channels_first' } },
  Reshape: { inputs: [[2, 6]], config: { targetShape: [3, -1] } },
  Permute: { inputs: [[2, 3, 4]], config: { dims: [3, 1, 2] } },
  RepeatVector: { inputs: [[3]], config: { n: 4 } },
  LeakyReLU: { inputs: [[5]], config: { alpha: 0.05 } },
  PReLU: { inputs: [[2, 3]], config: { alphaInitializer: { className: 'Constant', config: { value: 0.25 } }, sharedAxes: [1], alphaConstraint: 'non_neg' } },
  ELU: { inputs: [[5]], config: { alpha: 0.7 } },
  ThresholdedReLU: { inputs: [[5]], config: { theta: 0.4 } },
  ReLU: { inputs: [[5]], config: { maxValue: 1.5, negativeSlope: 0.1, threshold: -0.2 } },
  Softmax: { inputs: [[3, 4]], config: { axis: 1 } },
  Add: { inputs: [[3], [3]], config: {} },
  Subtract: { inputs: [[3], [3]], config: {} },
  Multiply: { inputs: [[2, 3], [2, 3]], config: {} },
  Average: { inputs: [[3], [3], [3]], config: {} },
  Maximum: { inputs: [[3], [3]], config: {} },
  Minimum: { inputs: [[3], [3]], config: {} },
  Concatenate: { inputs: [[2, 3], [2, 5]], config: { axis: -1 } },
  Dot: { inputs: [[3, 4], [3, 4]], config: { axes: [2, 2], normalize: true } },
  Conv1D: { inputs: [[6, 3]], config: { filters: 2, kernelSize: [3], padding: 'same', activation: 'relu' } },
  Conv2D: { inputs: [[5, 5, 2]], config: { filters: 3, kernelSize: [3, 3], strides: [2, 2] } },
  Conv3D: { inputs: [[4, 4, 4, 1]], config: { filters: 2, kernelSize: [2, 2, 2] } },
  Conv2DTranspose: { inputs: [[3, 3, 2]], config: { filters: 2, kernelSize: [3, 3], strides: [2, 2], padding: 'same' } },
  Conv3DTranspose: { inputs: [[2, 2, 2, 1]], config: { filters: 2, kernelSize: [2, 2, 2] } },
  SeparableConv1D: { inputs: [[6, 3]], config: { filters: 2, kernelSize: [3], depthMultiplier: 2 } },
  SeparableConv2D: { inputs: [[5, 5, 2]], config: { filters: 2, kernelSize: [3, 3] } },
  DepthwiseConv2D: { inputs: [[5, 5, 2]], config: { kernelSize: [3, 3], depthMultiplier: 2 } },
  LocallyConnected1D: { inputs: [[6, 3]], config: { filters: 2, kernelSize: [3] } },
  LocallyConnected2D: { inputs: [[4, 4, 2]], config: { filters: 2, kernelSize: [2, 2] } },
  Cropping1D: { inputs: [[6, 2]], config: { cropping: [1, 2] } },
  Cropping2D: { inputs: [[5, 5, 2]], config: { cropping: [[1, 1], [0, 2]] } },
  Cropping3D: { inputs: [[4, 4, 4, 1]], config: { cropping: [[1, 1], [1, 0], [0, 1]] } },
  ZeroPadding1D: { inputs: [[4, 2]], config: { padding: [1, 2] } },
  ZeroPadding2D: { inputs: [[3, 3, 2]], config: { padding: [[1, 0], [2, 1]] } },
  ZeroPadding3D: { inputs: [[2, 2, 2, 1]], config: { padding: [[1, 1], [1, 1], [1, 1]] } },
  UpSampling1D: { inputs: [[3, 2]], config: { size: 2 } },
  UpSampling2D: { inputs: [[3, 3, 2]], config: { size: [2, 2] } },
  UpSampling3D: { inputs: [[2, 2, 2, 1]], config: { size: [2, 2, 2] } },
  MaxPooling1D: { inputs: [[6, 2]], config: {} },
  MaxPooling2D: { inputs: [[4, 4, 2]], config: {} },
  MaxPooling3D: { inputs: [[4, 4, 4, 1]], config: {} },
  AveragePooling1D: { inputs: [[6, 2]], config: {} },
  AveragePooling2D: { inputs: [[4, 4, 2]], config: {} },
  AveragePooling3D: { inputs: [[4, 4, 4, 1]], config: {} },
  GlobalMaxPooling1D: { inputs: [[6, 2]], config: {} },
  GlobalMaxPooling2D: { inputs: [[4, 4, 2]], config: {} },
  GlobalMaxPooling3D: { inputs: [[2, 2, 2, 3]], config: {} },
  GlobalAveragePooling1D: { inputs: [[6, 2]], config: {} },
  GlobalAveragePooling2D: { inputs: [[4, 4, 2]], config: {} },
  GlobalAveragePooling3D: { inputs: [[2, 2, 2, 3]], config: {} },
  BatchNormalization: { inputs: [[3, 4]], config: { epsilon: 0.01, movingMeanInitializer: { className: 'RandomUniform', config: { seed: 2 } } } },
  Lambda: { inputs: [[3]], config: { function: 'roundTripDouble', functionType: 'function' } },
  Embedding: { inputs: [[4]], config: { inputDim: 7, outputDim: 3, maskZero: true } },
  Masking: { inputs: [[3, 2]], config: { maskValue: 0.5 } },
  TimeDistributed: { inputs: [[3, 2]], config: { layer: { className: 'Dense', config: { units: 3, activation: 'tanh' } } } },
  Bidirectional: { inputs: [[3, 2]], config: { layer: { className: 'SimpleRNN', config: { units: 2, returnSequences: true } }, mergeMode: 'ave' } },
  SimpleRNN: { inputs: [[4, 3]], config: { units: 3 } },
  GRU: { inputs: [[4, 3]], config: { units: 3, returnSequences: true } },
  LSTM: { inputs: [[4, 3]], config: { units: 3, goBackwards: true } },
  RNN: { inputs: [[4, 3]], config: { cell: { className: 'LSTMCell', config: { units: 2 } } } },
  CuDNNLSTM: { inputs: [[4, 3]], config: { units: 3, returnSequences: true } },
  CuDNNGRU: { inputs: [[4, 3]], config: { units: 2 } },
  ConvLSTM2D: { inputs: [[3, 4, 4, 2]], config: { filters: 2, kernelSize: [3, 3], strides: [2, 2], recurrentActivation: 'sigmoid', unitForgetBias: false } },
};

registerCustomObject('roundTripDouble', function roundTripDouble(x: KTensor | KTensor[]): KTensor {
  return K.mul(x as KTensor, 2);
});

function modelFor(cls: string): AnyNetwork {
  const c = CASES[cls];
  const inputs = c.inputs.map((shape, i) => Input({ shape, name: `${cls.toLowerCase()}_in_${i}` }));
  if (cls === 'InputLayer') return new Model({ inputs, outputs: new layers.Dense(2).apply(inputs[0]) }) as AnyNetwork;
  const layer = layerFromConfig(cls, { ...c.config });
  const y = layer.apply(inputs.length === 1 ? inputs[0] : inputs);
  return new Model({ inputs, outputs: new layers.Dense(2, { biasInitializer: 'ones' }).apply(y) }) as AnyNetwork;
}

const flat = (ts: readonly Tensor[]): number[][] => ts.map((t) => Array.from(t.data));

function inputsFor(cls: string): Tensor[] {
  return CASES[cls].inputs.map((shape, k) => {
    const n = 3 * shape.reduce((a, b) => a * b, 1);
    // Embedding reads token ids (0 is masked with maskZero).
    if (cls === 'Embedding') return new Tensor(Float32Array.from({ length: n }, (_, i) => (i * 3) % 7), [3, ...shape]);
    return new Tensor(Float32Array.from({ length: n }, (_, i) => Math.sin(1.3 * i + k) * 2), [3, ...shape]);
  });
}

const FORMATS: [string, (m: AnyNetwork, base: string) => Promise<AnyNetwork>][] = [
  ['Keras 2 HDF5 (.h5)', async (m, base) => (await m.save(`${base}.h5`), loadModel(`${base}.h5`))],
  ['Keras 3 zip (.keras)', async (m, base) => (await m.save(`${base}.keras`), loadModel(`${base}.keras`))],
  ['TensorFlow.js (model.json + shards)', async (m, base) => (await m.save(`${base}.json`), loadModel(`${base}.json`))],
  ['JSON config + Keras 2 weights', async (m, base) => {
    await m.saveWeights(`${base}.h5`);
    const loaded = modelFromJSON(modelToJSON(m));
    await loaded.loadWeights(`${base}.h5`);
    return loaded;
  }],
  ['YAML config + Keras 3 .weights.h5', async (m, base) => {
    await m.saveWeights(`${base}.weights.h5`);
    const loaded = modelFromYAML(m.toYAML());
    await loaded.loadWeights(`${base}.weights.h5`);
    return loaded;
  }],
];

it('every registered layer class has a round-trip case', () => {
  expect(Object.keys(LAYER_CLASSES).filter((c) => !Object.hasOwn(CASES, c))).toEqual([]);
});

const registered = Object.keys(CASES).filter((c) => Object.hasOwn(LAYER_CLASSES, c));

describe.each(FORMATS)('%s', (format, roundTrip) => {
  it.each(registered)('%s: same config, same predictions', async (cls) => {
    const model = modelFor(cls);
    const xs = inputsFor(cls);
    const want = await model.predict(xs.length === 1 ? xs[0] : xs);
    const loaded = await roundTrip(model, join(dir, `${cls}_${format.replace(/\W+/g, '_')}`));
    expect(JSON.parse(modelToJSON(loaded))).toEqual(JSON.parse(modelToJSON(model)));
    const got = await loaded.predict(xs.length === 1 ? xs[0] : xs);
    expect(Array.from((got as Tensor).data)).toEqual(Array.from((want as Tensor).data));
    expect(flat(loaded.getWeights())).toEqual(flat(model.getWeights()));
    model.dispose();
    loaded.dispose();
  });
});

describe.each(FORMATS)('a model nested in a model, %s', (format, roundTrip) => {
  it('same config, same predictions', async () => {
    const inner = new Sequential([new layers.Dense(4, { inputShape: [3], activation: 'relu' }), new layers.Dense(2)], { name: 'inner' });
    const x = Input({ shape: [3], name: 'outer_in' });
    const model = new Model({ inputs: x, outputs: new layers.Dense(2, { name: 'head' }).apply(inner.apply(x)) }) as AnyNetwork;
    const xs = new Tensor(Float32Array.from({ length: 6 }, (_, i) => i - 2.5), [2, 3]);
    const loaded = await roundTrip(model, join(dir, `nested_${format.replace(/\W+/g, '_')}`));
    expect(JSON.parse(modelToJSON(loaded))).toEqual(JSON.parse(modelToJSON(model)));
    expect(Array.from(((await loaded.predict(xs)) as Tensor).data)).toEqual(Array.from(((await model.predict(xs)) as Tensor).data));
  });
});
