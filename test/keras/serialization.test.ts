/**
 * Keras 2 configs: every layer class survives a JSON round trip (same config,
 * same outputs), Keras's own JSON forms load (Sequential as a list and as
 * {name, layers}, functional with inbound_nodes), and bad configs fail with a
 * message that says what was expected and what was found.
 */
import { describe, expect, it } from 'vitest';
import { Input, K, type KTensor, Model, Sequential, type Tensor, layers, modelFromJSON, modelToJSON, registerCustomObject, setBackend, tensor } from '../../src/index.js';
import type { Layer } from '../../src/layers/index.js';
import { LAYER_CLASSES } from '../../src/layers/index.js';
import { TEST_BACKEND } from '../helpers/backend.js';

setBackend(TEST_BACKEND);

const double = (x: KTensor | KTensor[]): KTensor => K.mul(x as KTensor, 2);
registerCustomObject('double', double);

/** One non-default instance of every layer class, applied to an input of shape `input` (batch excluded); `data` for inputs that are not any floats. */
const LAYERS: Record<string, { input: number[]; make: () => Layer; data?: () => Tensor }> = {
  InputLayer: { input: [3], make: () => new layers.InputLayer({ inputShape: [3] }) },
  Dense: { input: [2, 3], make: () => new layers.Dense(4, { activation: 'selu', useBias: true, kernelInitializer: { className: 'RandomUniform', config: { minval: -1, maxval: 1, seed: 3 } }, biasInitializer: 'ones', kernelRegularizer: { className: 'L1L2', config: { l1: 0, l2: 0.01 } }, kernelConstraint: 'non_neg' }) },
  Activation: { input: [5], make: () => new layers.Activation('softplus') },
  ActivityRegularization: { input: [5], make: () => new layers.ActivityRegularization({ l1: 0.1, l2: 0.2 }) },
  Dropout: { input: [5], make: () => new layers.Dropout(0.3, { noiseShape: [null, 1], seed: 9 }) },
  SpatialDropout1D: { input: [2, 3], make: () => new layers.SpatialDropout1D(0.2) },
  SpatialDropout2D: { input: [2, 2, 3], make: () => new layers.SpatialDropout2D(0.2, { dataFormat: 'channels_first' }) },
  SpatialDropout3D: { input: [2, 2, 2, 3], make: () => new layers.SpatialDropout3D(0.2) },
  AlphaDropout: { input: [5], make: () => new layers.AlphaDropout(0.1) },
  GaussianDropout: { input: [5], make: () => new layers.GaussianDropout(0.4) },
  GaussianNoise: { input: [5], make: () => new layers.GaussianNoise(0.5) },
  Flatten: { input: [2, 3, 2], make: () => new layers.Flatten({ dataFormat: 'channels_first' }) },
  Reshape: { input: [2, 6], make: () => new layers.Reshape([3, -1]) },
  Permute: { input: [2, 3, 4], make: () => new layers.Permute([3, 1, 2]) },
  RepeatVector: { input: [3], make: () => new layers.RepeatVector(4) },
  LeakyReLU: { input: [5], make: () => new layers.LeakyReLU({ alpha: 0.05 }) },
  PReLU: { input: [2, 3], make: () => new layers.PReLU({ alphaInitializer: { className: 'Constant', config: { value: 0.25 } }, sharedAxes: [1], alphaConstraint: 'non_neg' }) },
  ELU: { input: [5], make: () => new layers.ELU({ alpha: 0.7 }) },
  ThresholdedReLU: { input: [5], make: () => new layers.ThresholdedReLU({ theta: 0.4 }) },
  ReLU: { input: [5], make: () => new layers.ReLU({ maxValue: 1.5, negativeSlope: 0.1, threshold: -0.2 }) },
  Softmax: { input: [3, 4], make: () => new layers.Softmax({ axis: 1 }) },
  Lambda: { input: [3], make: () => new layers.Lambda(double, { outputShape: [3] }) },
  Embedding: { input: [3], make: () => new layers.Embedding(7, 2, { maskZero: true, embeddingsInitializer: 'ones' }), data: () => tensor([[1, 6, 0], [5, 2, 3]]) },
  Masking: { input: [3, 2], make: () => new layers.Masking({ maskValue: 0.5 }) },
  TimeDistributed: { input: [3, 2], make: () => new layers.TimeDistributed(new layers.Dense(3, { activation: 'tanh' })) },
  Bidirectional: { input: [3, 2], make: () => new layers.Bidirectional(new layers.SimpleRNN(2, { returnSequences: true }), { mergeMode: 'ave' }) },
  Conv1D: { input: [6, 2], make: () => new layers.Conv1D(3, 2, { padding: 'causal', dilationRate: 2, activation: 'relu' }) },
  Conv2D: { input: [5, 5, 2], make: () => new layers.Conv2D(3, [3, 2], { strides: [2, 1], padding: 'same', dataFormat: 'channels_first' }) },
  Conv3D: { input: [4, 4, 4, 1], make: () => new layers.Conv3D(2, 2, { useBias: false }) },
  Conv2DTranspose: { input: [3, 3, 2], make: () => new layers.Conv2DTranspose(2, 3, { strides: 2, padding: 'same' }) },
  Conv3DTranspose: { input: [2, 2, 2, 1], make: () => new layers.Conv3DTranspose(1, 2, { strides: 2 }) },
  SeparableConv1D: { input: [6, 2], make: () => new layers.SeparableConv1D(3, 3, { depthMultiplier: 2 }) },
  SeparableConv2D: { input: [5, 5, 2], make: () => new layers.SeparableConv2D(3, 3, { padding: 'same' }) },
  DepthwiseConv2D: { input: [5, 5, 2], make: () => new layers.DepthwiseConv2D(3, { depthMultiplier: 2 }) },
  LocallyConnected1D: { input: [6, 2], make: () => new layers.LocallyConnected1D(2, 3) },
  LocallyConnected2D: { input: [4, 4, 2], make: () => new layers.LocallyConnected2D(2, 2) },
  Cropping1D: { input: [6, 2], make: () => new layers.Cropping1D({ cropping: [1, 2] }) },
  Cropping2D: { input: [5, 5, 2], make: () => new layers.Cropping2D({ cropping: [[1, 0], [0, 2]] }) },
  Cropping3D: { input: [4, 4, 4, 1], make: () => new layers.Cropping3D({ cropping: 1 }) },
  ZeroPadding1D: { input: [4, 2], make: () => new layers.ZeroPadding1D({ padding: 2 }) },
  ZeroPadding2D: { input: [3, 3, 2], make: () => new layers.ZeroPadding2D({ padding: [[1, 0], [0, 2]] }) },
  ZeroPadding3D: { input: [2, 2, 2, 1], make: () => new layers.ZeroPadding3D({ padding: 1 }) },
  UpSampling1D: { input: [3, 2], make: () => new layers.UpSampling1D({ size: 3 }) },
  UpSampling2D: { input: [3, 3, 2], make: () => new layers.UpSampling2D({ size: [2, 3], interpolation: 'bilinear' }) },
  UpSampling3D: { input: [2, 2, 2, 1], make: () => new layers.UpSampling3D({ size: 2 }) },
  MaxPooling1D: { input: [6, 2], make: () => new layers.MaxPooling1D({ poolSize: 3, strides: 2, padding: 'same' }) },
  MaxPooling2D: { input: [5, 5, 2], make: () => new layers.MaxPooling2D({ poolSize: [2, 2] }) },
  MaxPooling3D: { input: [4, 4, 4, 1], make: () => new layers.MaxPooling3D({ poolSize: 2 }) },
  AveragePooling1D: { input: [6, 2], make: () => new layers.AveragePooling1D({ poolSize: 2 }) },
  AveragePooling2D: { input: [5, 5, 2], make: () => new layers.AveragePooling2D({ poolSize: [3, 3], strides: [2, 2], padding: 'same' }) },
  AveragePooling3D: { input: [4, 4, 4, 1], make: () => new layers.AveragePooling3D({ poolSize: 2 }) },
  GlobalMaxPooling1D: { input: [6, 2], make: () => new layers.GlobalMaxPooling1D() },
  GlobalMaxPooling2D: { input: [5, 5, 2], make: () => new layers.GlobalMaxPooling2D({ dataFormat: 'channels_first' }) },
  GlobalMaxPooling3D: { input: [4, 4, 4, 1], make: () => new layers.GlobalMaxPooling3D() },
  GlobalAveragePooling1D: { input: [6, 2], make: () => new layers.GlobalAveragePooling1D() },
  GlobalAveragePooling2D: { input: [5, 5, 2], make: () => new layers.GlobalAveragePooling2D() },
  GlobalAveragePooling3D: { input: [4, 4, 4, 1], make: () => new layers.GlobalAveragePooling3D() },
  BatchNormalization: { input: [3, 4], make: () => new layers.BatchNormalization({ axis: 1, momentum: 0.8, center: false }) },
  SimpleRNN: { input: [4, 3], make: () => new layers.SimpleRNN(3, { activation: 'relu', goBackwards: true }) },
  GRU: { input: [4, 3], make: () => new layers.GRU(2, { resetAfter: true, returnSequences: true }) },
  LSTM: { input: [4, 3], make: () => new layers.LSTM(3, { unitForgetBias: false, implementation: 2 }) },
  RNN: { input: [4, 3], make: () => new layers.RNN(new layers.StackedRNNCells([new layers.GRUCell(2), new layers.SimpleRNNCell(3)]), { returnSequences: true }) },
  CuDNNLSTM: { input: [4, 3], make: () => new layers.CuDNNLSTM(2) },
  CuDNNGRU: { input: [4, 3], make: () => new layers.CuDNNGRU(2, { returnSequences: true }) },
  ConvLSTM2D: { input: [3, 2, 5, 4], make: () => new layers.ConvLSTM2D(2, [2, 3], { dataFormat: 'channels_first', padding: 'same', returnSequences: true, goBackwards: true }) },
};

/** Layers of several inputs: functional models only, each input of the given shape. */
const MULTI: Record<string, { inputs: number[][]; make: () => Layer }> = {
  Add: { inputs: [[3], [3]], make: () => new layers.Add() },
  Subtract: { inputs: [[3], [3]], make: () => new layers.Subtract() },
  Multiply: { inputs: [[2, 3], [3]], make: () => new layers.Multiply() },
  Average: { inputs: [[3], [3], [3]], make: () => new layers.Average() },
  Maximum: { inputs: [[3], [3]], make: () => new layers.Maximum() },
  Minimum: { inputs: [[3], [3]], make: () => new layers.Minimum() },
  Concatenate: { inputs: [[2, 3], [4, 3]], make: () => new layers.Concatenate({ axis: 1 }) },
  Dot: { inputs: [[2, 3], [4, 3]], make: () => new layers.Dot([2, 2], { normalize: true }) },
};

/** Deterministic inputs with both signs and a spread of magnitudes. */
function sample(shape: readonly number[]): ReturnType<typeof tensor> {
  const n = shape.reduce((a, b) => a * b, 1);
  return tensor(Float32Array.from({ length: n }, (_, i) => Math.sin(1.7 * i + 0.3) * (1 + (i % 3))), shape);
}

describe('every layer class round-trips through Keras 2 JSON', () => {
  it('the table covers the registry', () => {
    expect([...Object.keys(LAYERS), ...Object.keys(MULTI)].sort()).toEqual(Object.keys(LAYER_CLASSES).sort());
  });

  it.each(Object.keys(MULTI))('%s (functional)', async (className) => {
    const { inputs, make } = MULTI[className];
    const ins = inputs.map((shape) => Input({ shape }));
    const fn = new Model({ inputs: ins, outputs: make().apply(ins) });
    const copy = modelFromJSON(fn.toJSON()) as Model;
    expect(copy.getConfig()).toEqual(fn.getConfig());
    const xs = inputs.map((shape) => sample([2, ...shape]));
    expect(((await copy.predict(xs)) as Tensor).data).toBeAllClose((await fn.predict(xs)).data, { rtol: 1e-6, atol: 1e-7 });
    fn.dispose();
    copy.dispose();
  });

  it.each(Object.keys(LAYERS).filter((c) => c !== 'InputLayer'))('%s (Sequential and functional)', async (className) => {
    const { input, make, data } = LAYERS[className];
    const x = data ? data() : sample([2, ...input]);
    const seq = new Sequential([new layers.InputLayer({ inputShape: input }), make()]);
    expect(seq.layers[0].className).toBe(className);
    const json = seq.toJSON();
    expect(json).toBe(modelToJSON(seq));
    expect(json, 'Keras JSON keys are snake_case').not.toMatch(/"[a-z0-9]+[A-Z][A-Za-z0-9]*":/);
    const copy = modelFromJSON(json);
    expect(copy.getConfig()).toEqual(seq.getConfig());
    copy.setWeights(seq.getWeights());
    expect(((await copy.predict(x)) as Tensor).data).toBeAllClose(((await seq.predict(x)) as Tensor).data, { rtol: 1e-6, atol: 1e-7 });

    const inp = Input({ shape: input });
    const fn = new Model({ inputs: inp, outputs: make().apply(inp) });
    const fnCopy = Model.fromConfig(JSON.parse(fn.toJSON()).config);
    expect(fnCopy.getConfig()).toEqual(fn.getConfig());
    expect(fnCopy.outputShape).toEqual(fn.outputShape);
    [seq, copy, fn, fnCopy].forEach((m) => m.dispose());
  });

  it('InputLayer keeps its batch shape and dtype', () => {
    const layer = LAYERS.InputLayer.make();
    expect(layer.getConfig()).toMatchObject({ batchInputShape: [null, 3], dtype: 'float32', sparse: false });
  });
});

/** A Sequential model as Keras 2.2.4's model.to_json() writes it. */
const KERAS_SEQUENTIAL = {
  class_name: 'Sequential',
  config: {
    name: 'sequential_7',
    layers: [
      {
        class_name: 'Dense',
        config: {
          name: 'dense_21', trainable: true, batch_input_shape: [null, 3], dtype: 'float32', units: 2, activation: 'tanh', use_bias: true,
          kernel_initializer: { class_name: 'VarianceScaling', config: { scale: 1.0, mode: 'fan_avg', distribution: 'uniform', seed: null } },
          bias_initializer: { class_name: 'Zeros', config: {} },
          kernel_regularizer: { class_name: 'L1L2', config: { l1: 0.0, l2: 0.01 } }, bias_regularizer: null, activity_regularizer: null,
          kernel_constraint: { class_name: 'MaxNorm', config: { max_value: 2, axis: 0 } }, bias_constraint: null,
        },
      },
      { class_name: 'Dropout', config: { name: 'dropout_4', trainable: true, rate: 0.5, noise_shape: null, seed: null } },
      { class_name: 'RepeatVector', config: { name: 'repeat_vector_1', trainable: true, n: 2 } },
      { class_name: 'Reshape', config: { name: 'reshape_2', trainable: true, target_shape: [-1] } },
      { class_name: 'ReLU', config: { name: 're_lu_1', trainable: true, max_value: 0.5, negative_slope: 0.0, threshold: 0.0 } },
    ],
  },
  keras_version: '2.2.4',
  backend: 'tensorflow',
};

const W = [tensor([[1, 0], [0, -1], [0.5, 0.5]]), tensor([0.1, -0.1])];
const X = [[0.2, 0.4, -1]];
/** tanh(x W + b) repeated twice, flattened, relu-clipped at 0.5. */
const WANT = (() => {
  const h = [Math.tanh(0.2 - 0.5 + 0.1), Math.tanh(-0.4 - 0.5 - 0.1)].map((v) => Math.min(Math.max(v, 0), 0.5));
  return [...h, ...h];
})();

describe('Keras 2 JSON', () => {
  it('loads a Keras 2.2 Sequential config ({name, layers})', async () => {
    const model = modelFromJSON(JSON.stringify(KERAS_SEQUENTIAL)) as Sequential;
    expect(model).toBeInstanceOf(Sequential);
    expect(model.name).toBe('sequential_7');
    expect(model.layers.map((l) => l.name)).toEqual(['dense_21', 'dropout_4', 'repeat_vector_1', 'reshape_2', 're_lu_1']);
    const dense = model.getLayer('dense_21').getConfig();
    expect(dense).toMatchObject({ units: 2, activation: 'tanh', kernelRegularizer: { className: 'L1L2', config: { l1: 0, l2: 0.01 } }, kernelConstraint: { className: 'MaxNorm' } });
    expect(dense.kernelInitializer).toEqual({ className: 'VarianceScaling', config: { scale: 1, mode: 'fan_avg', distribution: 'uniform', seed: null } });
    model.setWeights(W);
    const y = await model.predict(X);
    expect(y.shape).toEqual([1, 4]);
    expect(y.data).toBeAllClose(WANT, { rtol: 1e-6, atol: 1e-7 });
  });

  it('loads a Keras 2.0/2.1 Sequential config (a list of layers), and Sequential.fromConfig takes either', async () => {
    const list = KERAS_SEQUENTIAL.config.layers;
    const fromList = modelFromJSON({ class_name: 'Sequential', config: list });
    fromList.setWeights(W);
    expect(((await fromList.predict(X)) as Tensor).data).toBeAllClose(WANT, { rtol: 1e-6, atol: 1e-7 });
    expect(Sequential.fromConfig(list).layers).toHaveLength(5);
    expect(Sequential.fromConfig(KERAS_SEQUENTIAL.config).name).toBe('sequential_7');
  });

  it('loads a functional config with inbound_nodes; Model.fromConfig takes snake_case and camelCase', async () => {
    const config = {
      name: 'model_3',
      layers: [
        { name: 'input_9', class_name: 'InputLayer', config: { batch_input_shape: [null, 3], dtype: 'float32', sparse: false, name: 'input_9' }, inbound_nodes: [] },
        { name: 'dense_22', class_name: 'Dense', config: { name: 'dense_22', trainable: true, units: 2, activation: 'tanh', use_bias: true }, inbound_nodes: [[['input_9', 0, 0, {}]]] },
        { name: 'repeat_vector_2', class_name: 'RepeatVector', config: { name: 'repeat_vector_2', trainable: true, n: 2 }, inbound_nodes: [[['dense_22', 0, 0, {}]]] },
        { name: 'flatten_3', class_name: 'Flatten', config: { name: 'flatten_3', trainable: true, data_format: 'channels_last' }, inbound_nodes: [[['repeat_vector_2', 0, 0, {}]]] },
        { name: 'relu_out', class_name: 'ReLU', config: { name: 'relu_out', max_value: 0.5 }, inbound_nodes: [[['flatten_3', 0, 0, {}]]] },
      ],
      input_layers: [['input_9', 0, 0]],
      output_layers: [['relu_out', 0, 0]],
    };
    const model = modelFromJSON({ class_name: 'Model', config, keras_version: '2.1.2', backend: 'tensorflow' });
    expect(model).toBeInstanceOf(Model);
    expect(model.layers.map((l) => l.className)).toEqual(['InputLayer', 'Dense', 'RepeatVector', 'Flatten', 'ReLU']);
    model.setWeights(W);
    expect(((await model.predict(X)) as Tensor).data).toBeAllClose(WANT, { rtol: 1e-6, atol: 1e-7 });
    const again = Model.fromConfig(model.getConfig());
    expect(again.getConfig()).toEqual(model.getConfig());
    expect(Model.fromConfig(config).getConfig()).toEqual(model.getConfig());
  });

  it('models loaded from files can grow new layers without name clashes', () => {
    const model = modelFromJSON(KERAS_SEQUENTIAL) as Sequential;
    const extra = new layers.Dense(1);
    expect(Number(/^dense_(\d+)$/.exec(extra.name)?.[1])).toBeGreaterThan(21);
    model.add(extra);
    expect(model.outputShape).toEqual([null, 1]);
  });

  it('reads nothing but data: a config never runs code', () => {
    const json = JSON.stringify({ class_name: 'Sequential', config: [{ class_name: 'Activation', config: { activation: 'function () { throw 1 }', batch_input_shape: [null, 1] } }] });
    expect(() => modelFromJSON(json)).toThrow(/Unknown activation 'function \(\) \{ throw 1 \}'. Valid activations: linear/);
  });
});

describe('bad configs', () => {
  it('name the unknown layer class and list the valid ones', () => {
    const json = { class_name: 'Model', config: { name: 'm', layers: [{ name: 'c', class_name: 'Conv9D', config: {}, inbound_nodes: [] }], input_layers: [['c', 0, 0]], output_layers: [['c', 0, 0]] } };
    for (const name of Object.keys(LAYER_CLASSES)) expect(() => modelFromJSON(json)).toThrow(new RegExp(`Valid layer classes: .*\\b${name}\\b`));
    expect(() => modelFromJSON(json)).toThrow(/Conv9D/);
  });

  it('name an unknown model class, a missing layer and a malformed config', () => {
    expect(() => modelFromJSON({ class_name: 'Graph', config: {} })).toThrow(/modelFromJSON: unknown model class .Graph.\. Valid model classes: Sequential, Model/);
    const dangling = {
      class_name: 'Model',
      config: {
        name: 'm',
        layers: [
          { name: 'in', class_name: 'InputLayer', config: { batch_input_shape: [null, 2] }, inbound_nodes: [] },
          { name: 'd', class_name: 'Dense', config: { units: 1 }, inbound_nodes: [[['nowhere', 0, 0, {}]]] },
        ],
        input_layers: [['in', 0, 0]],
        output_layers: [['d', 0, 0]],
      },
    };
    expect(() => modelFromJSON(dangling)).toThrow("modelFromJSON: layer d reads 'nowhere', which is not a layer of the model");
    expect(() => modelFromJSON({ class_name: 'Model', config: { name: 'm', layers: [] } })).toThrow('modelFromJSON: a Model config needs layers, input_layers and output_layers');
    expect(() => modelFromJSON({ class_name: 'Sequential', config: { name: 's' } })).toThrow('modelFromJSON: the Sequential config has no list of layers');
  });

  it('name a layer whose config does not fit its input', () => {
    const json = { class_name: 'Sequential', config: [{ class_name: 'Dense', config: { units: 4, batch_input_shape: [null, 3] } }, { class_name: 'Reshape', config: { name: 'bad_reshape', target_shape: [3, -1] } }] };
    expect(() => modelFromJSON(json)).toThrow('Reshape bad_reshape: cannot reshape input of shape (None, 4) (4 values per sample) to target shape (3, -1)');
  });
});
