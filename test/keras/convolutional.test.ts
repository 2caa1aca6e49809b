/**
 * Convolutional, pooling and normalization layers through the Keras front
 * end: Keras's summary shapes and parameter counts, Keras 2 JSON round trips,
 * the two data formats agreeing, build-time errors that name the layer, and
 * training (the gradients themselves are checked against finite differences
 * in test/ir/convolution.test.ts).
 */
import { describe, expect, it } from 'vitest';
import { Input, Model, Sequential, type Tensor, layers, modelFromJSON, optimizers, setBackend, tensor } from '../../src/index.js';
import type { Layer } from '../../src/layers/index.js';
import { TEST_BACKEND } from '../helpers/backend.js';
import { type Graph, GraphBuilder } from '../../ir/graph.js';
import { PREDICT_GRAPH, runPipeline } from '../../passes/pipeline.js';
import { contractions } from '../../passes/contraction.js';
import { lower } from '../../passes/lower.js';

setBackend(TEST_BACKEND);

function sample(shape: readonly number[], seed = 0.3): ReturnType<typeof tensor> {
  const n = shape.reduce((a, b) => a * b, 1);
  return tensor(Float32Array.from({ length: n }, (_, i) => Math.sin(1.7 * i + seed) * (1 + (i % 3))), shape);
}

describe('summary: Keras output shapes and parameter counts', () => {
  it('the Keras mnist_cnn example', () => {
    const model = new Sequential([
      new layers.Conv2D(32, [3, 3], { activation: 'relu', inputShape: [28, 28, 1] }),
      new layers.Conv2D(64, [3, 3], { activation: 'relu' }),
      new layers.MaxPooling2D({ poolSize: [2, 2] }),
      new layers.Dropout(0.25),
      new layers.Flatten(),
      new layers.Dense(128, { activation: 'relu' }),
      new layers.Dropout(0.5),
      new layers.Dense(10, { activation: 'softmax' }),
    ]);
    const text = model.summary(() => undefined);
    for (const [shape, params] of [['(None, 26, 26, 32)', '320'], ['(None, 24, 24, 64)', '18496'], ['(None, 12, 12, 64)', '0'], ['(None, 9216)', '0'], ['(None, 128)', '1179776'], ['(None, 10)', '1290']]) {
      expect(text).toMatch(new RegExp(`\\${shape.slice(0, -1)}\\)\\s+${params}\\s`));
    }
    expect(text).toContain('Total params: 1,199,882');
    model.dispose();
  });

  it.each([
    ['Conv1D causal, dilated', [10, 3], () => new layers.Conv1D(4, 3, { padding: 'causal', dilationRate: 2 }), [null, 10, 4], 40],
    ['Conv2D same, strides 2, channels_first', [3, 7, 6], () => new layers.Conv2D(5, [4, 3], { padding: 'same', strides: 2, dataFormat: 'channels_first' }), [null, 5, 4, 3], 185],
    ['Conv3D valid', [5, 6, 4, 2], () => new layers.Conv3D(3, [3, 3, 2], { strides: [1, 2, 1] }), [null, 3, 2, 3, 3], 111],
    ['Conv2DTranspose same, strides 2', [4, 5, 3], () => new layers.Conv2DTranspose(2, 3, { strides: 2, padding: 'same' }), [null, 8, 10, 2], 56],
    ['Conv2DTranspose valid, outputPadding', [4, 5, 3], () => new layers.Conv2DTranspose(2, 3, { strides: 2, outputPadding: 1 }), [null, 10, 12, 2], 56],
    ['Conv3DTranspose', [2, 3, 2, 1], () => new layers.Conv3DTranspose(2, 2, { strides: 2, useBias: false }), [null, 4, 6, 4, 2], 16],
    ['SeparableConv2D', [6, 6, 3], () => new layers.SeparableConv2D(4, 3, { depthMultiplier: 2 }), [null, 4, 4, 4], 54 + 24 + 4],
    ['SeparableConv1D', [8, 2], () => new layers.SeparableConv1D(3, 3, { padding: 'same' }), [null, 8, 3], 6 + 6 + 3],
    ['DepthwiseConv2D', [6, 5, 3], () => new layers.DepthwiseConv2D(3, { depthMultiplier: 2, padding: 'same' }), [null, 6, 5, 6], 54 + 6],
    ['MaxPooling2D same, strides that do not divide', [7, 5, 2], () => new layers.MaxPooling2D({ poolSize: 3, strides: 2, padding: 'same' }), [null, 4, 3, 2], 0],
    ['AveragePooling3D channels_first', [2, 4, 4, 5], () => new layers.AveragePooling3D({ dataFormat: 'channels_first' }), [null, 2, 2, 2, 2], 0],
    ['GlobalAveragePooling2D channels_first', [3, 4, 5], () => new layers.GlobalAveragePooling2D({ dataFormat: 'channels_first' }), [null, 3], 0],
    ['Cropping2D', [6, 7, 2], () => new layers.Cropping2D({ cropping: [[1, 2], [3, 0]] }), [null, 3, 4, 2], 0],
    ['ZeroPadding3D', [2, 2, 2, 1], () => new layers.ZeroPadding3D({ padding: [1, 0, 2] }), [null, 4, 2, 6, 1], 0],
    ['UpSampling2D bilinear', [3, 2, 2], () => new layers.UpSampling2D({ size: [2, 3], interpolation: 'bilinear' }), [null, 6, 6, 2], 0],
    ['BatchNormalization axis 1', [3, 4], () => new layers.BatchNormalization({ axis: 1 }), [null, 3, 4], 12],
  ] as const)('%s', (_name, input, make, shape, params) => {
    const layer = make() as Layer;
    const model = new Sequential([new layers.InputLayer({ inputShape: [...input] }), layer]);
    expect(model.outputShape).toEqual(shape);
    expect(layer.countParams()).toBe(params);
    model.dispose();
  });
});

describe('Keras 2 JSON round trips, same outputs', () => {
  const CASES: Record<string, { input: number[]; make: () => Layer }> = {
    Conv1D: { input: [9, 2], make: () => new layers.Conv1D(3, 4, { padding: 'causal', dilationRate: 2, activation: 'tanh', biasInitializer: 'ones' }) },
    Conv2D: { input: [2, 7, 6], make: () => new layers.Conv2D(3, [2, 3], { strides: [2, 1], padding: 'same', dataFormat: 'channels_first', kernelRegularizer: { className: 'L1L2', config: { l1: 0, l2: 0.01 } } }) },
    Conv3D: { input: [4, 4, 3, 1], make: () => new layers.Conv3D(2, 2, { useBias: false }) },
    Conv2DTranspose: { input: [3, 4, 2], make: () => new layers.Conv2DTranspose(3, [3, 2], { strides: 2, padding: 'same', activation: 'relu' }) },
    Conv3DTranspose: { input: [2, 2, 2, 2], make: () => new layers.Conv3DTranspose(2, 2, { strides: [2, 1, 2], outputPadding: [1, 0, 0] }) },
    SeparableConv1D: { input: [8, 3], make: () => new layers.SeparableConv1D(2, 3, { depthMultiplier: 2 }) },
    SeparableConv2D: { input: [5, 6, 2], make: () => new layers.SeparableConv2D(3, 3, { padding: 'same', strides: 2 }) },
    DepthwiseConv2D: { input: [2, 5, 5], make: () => new layers.DepthwiseConv2D(3, { dataFormat: 'channels_first', depthMultiplier: 2 }) },
    Cropping1D: { input: [7, 2], make: () => new layers.Cropping1D({ cropping: [2, 1] }) },
    Cropping2D: { input: [2, 6, 5], make: () => new layers.Cropping2D({ cropping: [[1, 0], [2, 2]], dataFormat: 'channels_first' }) },
    Cropping3D: { input: [4, 4, 5, 1], make: () => new layers.Cropping3D() },
    ZeroPadding1D: { input: [4, 2], make: () => new layers.ZeroPadding1D({ padding: [2, 1] }) },
    ZeroPadding2D: { input: [3, 3, 2], make: () => new layers.ZeroPadding2D({ padding: [[1, 2], [0, 1]] }) },
    ZeroPadding3D: { input: [2, 2, 2, 2], make: () => new layers.ZeroPadding3D({ dataFormat: 'channels_first' }) },
    UpSampling1D: { input: [3, 2], make: () => new layers.UpSampling1D({ size: 3 }) },
    UpSampling2D: { input: [2, 3, 2], make: () => new layers.UpSampling2D({ size: [2, 1], interpolation: 'bilinear' }) },
    UpSampling3D: { input: [2, 2, 1, 2], make: () => new layers.UpSampling3D({ size: [1, 2, 3], dataFormat: 'channels_first' }) },
    MaxPooling1D: { input: [7, 2], make: () => new layers.MaxPooling1D({ poolSize: 3, strides: 2, padding: 'same' }) },
    MaxPooling2D: { input: [2, 5, 5], make: () => new layers.MaxPooling2D({ dataFormat: 'channels_first' }) },
    MaxPooling3D: { input: [3, 4, 5, 1], make: () => new layers.MaxPooling3D({ poolSize: [2, 2, 3], padding: 'same' }) },
    AveragePooling1D: { input: [7, 2], make: () => new layers.AveragePooling1D({ poolSize: 3, padding: 'same' }) },
    AveragePooling2D: { input: [5, 4, 2], make: () => new layers.AveragePooling2D({ poolSize: [3, 2], strides: 1, padding: 'same' }) },
    AveragePooling3D: { input: [4, 4, 4, 1], make: () => new layers.AveragePooling3D() },
    GlobalMaxPooling1D: { input: [5, 3], make: () => new layers.GlobalMaxPooling1D() },
    GlobalMaxPooling2D: { input: [3, 4, 2], make: () => new layers.GlobalMaxPooling2D({ dataFormat: 'channels_first' }) },
    GlobalMaxPooling3D: { input: [2, 3, 2, 2], make: () => new layers.GlobalMaxPooling3D() },
    GlobalAveragePooling1D: { input: [5, 3], make: () => new layers.GlobalAveragePooling1D() },
    GlobalAveragePooling2D: { input: [3, 4, 2], make: () => new layers.GlobalAveragePooling2D() },
    GlobalAveragePooling3D: { input: [2, 2, 3, 2], make: () => new layers.GlobalAveragePooling3D({ dataFormat: 'channels_first' }) },
    BatchNormalization: { input: [3, 4], make: () => new layers.BatchNormalization({ axis: 1, epsilon: 0.01, center: false, gammaInitializer: { className: 'Constant', config: { value: 2 } }, movingVarianceInitializer: { className: 'Constant', config: { value: 3 } } }) },
  };

  it.each(Object.keys(CASES))('%s (Sequential and functional)', async (className) => {
    const { input, make } = CASES[className];
    const x = sample([2, ...input]);
    const seq = new Sequential([new layers.InputLayer({ inputShape: input }), make()]);
    expect(seq.layers[0].className).toBe(className);
    const json = seq.toJSON();
    expect(json, 'Keras JSON keys are snake_case').not.toMatch(/"[a-z0-9]+[A-Z][A-Za-z0-9]*":/);
    const copy = modelFromJSON(json);
    expect(copy.getConfig()).toEqual(seq.getConfig());
    copy.setWeights(seq.getWeights());
    const [a, b] = [await seq.predict(x), (await copy.predict(x)) as Tensor];
    expect(b.data).toBeAllClose(a.data, { rtol: 1e-6, atol: 1e-7 });
    expect(Array.from(a.data).every(Number.isFinite)).toBe(true);
    const inp = Input({ shape: input });
    const fn = new Model({ inputs: inp, outputs: make().apply(inp) });
    expect(Model.fromConfig(JSON.parse(fn.toJSON()).config).getConfig()).toEqual(fn.getConfig());
    [seq, copy, fn].forEach((m) => m.dispose());
  });
});

describe('channels_first and channels_last compute the same', () => {
  /** NHWC -> NCHW of a [n, ...spatial, c] tensor. */
  function toFirst(t: ReturnType<typeof tensor>): ReturnType<typeof tensor> {
    const [n, ...rest] = t.shape;
    const c = rest[rest.length - 1];
    const spatial = rest.slice(0, -1);
    const inner = spatial.reduce((p, q) => p * q, 1);
    const out = new Float32Array(t.data.length);
    for (let b = 0; b < n; b++) for (let s = 0; s < inner; s++) for (let k = 0; k < c; k++) out[(b * c + k) * inner + s] = t.data[(b * inner + s) * c + k];
    return tensor(out, [n, c, ...spatial]);
  }

  it.each([
    ['Conv2D', (f: string) => new layers.Conv2D(3, [3, 2], { padding: 'same', strides: [2, 1], dataFormat: f })],
    ['DepthwiseConv2D', (f: string) => new layers.DepthwiseConv2D(2, { dataFormat: f, depthMultiplier: 2 })],
    ['MaxPooling2D', (f: string) => new layers.MaxPooling2D({ poolSize: 3, strides: 2, padding: 'same', dataFormat: f })],
    ['UpSampling2D', (f: string) => new layers.UpSampling2D({ size: [2, 3], dataFormat: f })],
  ] as const)('%s', async (_name, make) => {
    const x = sample([2, 5, 6, 2]);
    const last = new Sequential([new layers.InputLayer({ inputShape: [5, 6, 2] }), make('channels_last')]);
    const first = new Sequential([new layers.InputLayer({ inputShape: [2, 5, 6] }), make('channels_first')]);
    // Kernels have one layout in both formats (as in Keras), so the weights carry over unchanged.
    first.setWeights(last.getWeights());
    const want = toFirst(await last.predict(x));
    const got = await first.predict(toFirst(x));
    expect(got.shape).toEqual(want.shape);
    expect(got.data).toBeAllClose(want.data, { rtol: 1e-5, atol: 1e-6 });
    [first, last].forEach((m) => m.dispose());
  });
});

describe('bad arguments fail when the model is built, naming the layer', () => {
  const build = (input: number[], layer: () => Layer) => () => new Sequential([new layers.InputLayer({ inputShape: input }), layer()]);
  it('a kernel larger than its input', () => {
    expect(build([4, 5, 1], () => new layers.Conv2D(2, [3, 6], { name: 'big' }))).toThrow(/Layer big \(Conv2D\): input of shape \(None, 4, 5, 1\): window of size 6 \(dilation 1, span 6\) is larger than axis 1 of extent 5/);
  });
  it('a pool larger than its padded input', () => {
    expect(build([2, 2, 3], () => new layers.MaxPooling2D({ poolSize: 3, name: 'pool' }))).toThrow(/Layer pool \(MaxPooling2D\): input of shape \(None, 2, 2, 3\): window of size 3/);
  });
  it('a cropping that leaves nothing', () => {
    expect(build([4, 2], () => new layers.Cropping1D({ cropping: [2, 2], name: 'crop' }))).toThrow(/Layer crop \(Cropping1D\): cropping \[\[2,2\]\] leaves nothing of an input of shape \(None, 4, 2\)/);
  });
  it('strides of 0, an unknown padding or data format', () => {
    expect(() => new layers.Conv2D(2, 3, { strides: 0, name: 'c' })).toThrow(/Conv2D c: strides must be an integer >= 1 or a list of 2 of them, got 0/);
    expect(() => new layers.Conv1D(2, 3, { padding: 'full', name: 'c1' })).toThrow(/Conv1D c1: unknown padding "full". Valid values: valid, same, causal/);
    expect(() => new layers.Conv2D(2, 3, { padding: 'causal', name: 'c2' })).toThrow(/Conv2D c2: unknown padding "causal". Valid values: valid, same/);
    expect(() => new layers.MaxPooling2D({ dataFormat: 'NHWC', name: 'p' })).toThrow(/MaxPooling2D p: unknown dataFormat "NHWC". Valid values: channels_last, channels_first/);
  });
  it('a 4-D input to Conv1D', () => {
    expect(build([5, 5, 2], () => new layers.Conv1D(2, 3, { name: 'c1d' }))).toThrow(/Layer c1d \(Conv1D\) expects an input of rank 3 \(batch, 1 spatial axes, channels\), got shape \(None, 5, 5, 2\)/);
  });
  it('strides and dilation above 1 together', () => {
    expect(() => new layers.Conv2D(2, 3, { strides: 2, dilationRate: 2, name: 'sd' })).toThrow(/Conv2D sd: strides > 1 together with dilationRate > 1 is not supported/);
  });
  it('a transposed convolution\'s outputPadding must be below its strides', () => {
    expect(() => new layers.Conv2DTranspose(2, 3, { strides: 2, outputPadding: 2, name: 't' })).toThrow(/Conv2DTranspose t: outputPadding \[2,2\] must be smaller than strides \[2,2\]/);
  });
});

describe('training', () => {
  it('a small CNN (conv, pool, conv transpose, separable, dense) lowers its loss', async () => {
    const model = new Sequential([
      new layers.Conv2D(4, 3, { padding: 'same', activation: 'relu', inputShape: [6, 6, 1] }),
      new layers.MaxPooling2D(),
      new layers.Conv2DTranspose(3, 2, { strides: 2 }),
      new layers.SeparableConv2D(4, 3, { activation: 'relu' }),
      new layers.GlobalAveragePooling2D(),
      new layers.Dense(2, { activation: 'softmax' }),
    ]);
    model.compile({ optimizer: new optimizers.Adam({ lr: 0.01 }), loss: 'categorical_crossentropy' });
    // Class 1 images are brighter in the top half.
    const n = 32;
    const xs = new Float32Array(n * 36);
    const ys = new Float32Array(n * 2);
    for (let i = 0; i < n; i++) {
      const cls = i % 2;
      for (let p = 0; p < 36; p++) xs[i * 36 + p] = Math.sin(i * 7.1 + p) * 0.3 + (cls && p < 18 ? 1 : 0);
      ys[i * 2 + cls] = 1;
    }
    const h = await model.fit(tensor(xs, [n, 6, 6, 1]), tensor(ys, [n, 2]), { epochs: 20, batchSize: 8, verbose: 0 });
    const loss = h.history.loss as number[];
    expect(loss[loss.length - 1]).toBeLessThan(loss[0] * 0.5);
    model.dispose();
  });

  it('a trainable BatchNormalization trains its weights and moving statistics after a Dense; a frozen one keeps them', async () => {
    const make = (trainable: boolean) => new Sequential([new layers.Dense(3, { inputShape: [4] }), new layers.BatchNormalization({ trainable, name: 'bn' }), new layers.Dense(1)]);
    const x = sample([8, 4]);
    const y = sample([8, 1], 1.1);
    const live = make(true);
    live.compile({ optimizer: 'sgd', loss: 'mse' });
    const liveBefore = live.getWeights().slice(2, 6).map((t) => Array.from(t.data));
    await live.fit(x, y, { epochs: 1, verbose: 0 });
    live.getWeights().slice(2, 6).forEach((t, i) => expect(Array.from(t.data)).not.toEqual(liveBefore[i]));
    const frozen = make(false);
    frozen.compile({ optimizer: 'sgd', loss: 'mse' });
    const before = frozen.getWeights().slice(2, 6).map((t) => Array.from(t.data));
    await frozen.fit(x, y, { epochs: 2, verbose: 0 });
    expect(frozen.getWeights().slice(2, 6).map((t) => Array.from(t.data))).toEqual(before);
    [live, frozen].forEach((m) => m.dispose());
  });
});

describe('layout: channels_first costs a transpose at the boundary only', () => {
  /** The predict graph of `stack` on an input of `shape` (batch 2), after the predict passes. */
  function predictGraph(stack: readonly Layer[], shape: readonly number[]): Graph {
    const b = new GraphBuilder();
    let x = b.param('x', [2, ...shape]);
    let s: (number | null)[] = [null, ...shape];
    const ctx = { weight: (w: { name: string; shape: readonly number[] }) => b.param(w.name, w.shape, 'float32', 'weight'), training: false, random: () => { throw new Error('no randomness in predict'); } };
    for (const layer of stack) {
      layer.build(s);
      s = [...layer.computeOutputShape(s)];
      x = layer.lower(b, x, ctx as never);
    }
    return runPipeline(PREDICT_GRAPH, b.build([x]));
  }
  const stack = (f: string): Layer[] => [
    new layers.Conv2D(8, 3, { dataFormat: f, activation: 'relu' }), new layers.MaxPooling2D({ dataFormat: f }),
    new layers.Conv2D(4, 3, { dataFormat: f, padding: 'same' }), new layers.Flatten({ dataFormat: f }), new layers.Dense(3),
  ];
  it('mnist_cnn-like stacks: channels_first adds one transpose (the input), and both compile to the same kernels', () => {
    const first = predictGraph(stack('channels_first'), [1, 10, 10]);
    const last = predictGraph(stack('channels_last'), [10, 10, 1]);
    // Windows are read through transposed views in both formats; channels_first adds only the input's.
    const transposes = (g: typeof first): number => g.nodes.filter((n) => n.op === 'transpose').length;
    expect(transposes(first) - transposes(last)).toBe(1);
    const ops = (g: typeof first): string[] => g.nodes.map((n) => n.op).filter((op) => op !== 'transpose');
    expect(ops(first)).toEqual(ops(last));
    // The input's transpose is a view of the first convolution's loads: no kernel of its own.
    const kernels = (g: typeof first): string[] => contractions(lower(g, 'p')).kernels.map((k) => (k.kind === 'loop' ? `loop ${k.outer}|${k.inner}` : `${k.kind} ${k.kind === 'matmul' ? `${k.m}x${k.n}x${k.k}` : ''}`));
    expect(kernels(first)).toEqual(kernels(last));
  });
});

describe('LocallyConnected1D/2D against their definition', () => {
  it('1-d: out[n, o, f] = sum_k,c x[n, o * s + k, c] * kernel[o, k * C + c, f] + bias[o, f]', async () => {
    const layer = new layers.LocallyConnected1D(3, 3, { strides: 2, biasInitializer: { className: 'RandomUniform', config: { seed: 4 } } });
    const model = new Sequential([new layers.InputLayer({ inputShape: [8, 2] }), layer]);
    expect(model.outputShape).toEqual([null, 3, 3]);
    const [kernel, bias] = model.getWeights();
    expect(kernel.shape).toEqual([3, 6, 3]);
    const x = sample([2, 8, 2]);
    const got = await model.predict(x);
    const want: number[] = [];
    for (let n = 0; n < 2; n++) for (let o = 0; o < 3; o++) for (let f = 0; f < 3; f++) {
      let s = bias.data[o * 3 + f];
      for (let k = 0; k < 3; k++) for (let c = 0; c < 2; c++) s += x.data[(n * 8 + o * 2 + k) * 2 + c] * kernel.data[(o * 6 + k * 2 + c) * 3 + f];
      want.push(s);
    }
    expect(got.data).toBeAllClose(want, { rtol: 1e-5, atol: 1e-6 });
    model.dispose();
  });

  it.each(['channels_last', 'channels_first'])('2-d, %s (patch features ordered as Keras slices them)', async (format) => {
    const first = format === 'channels_first';
    const layer = new layers.LocallyConnected2D(2, [2, 3], { dataFormat: format, biasInitializer: 'ones' });
    const model = new Sequential([new layers.InputLayer({ inputShape: first ? [3, 4, 5] : [4, 5, 3] }), layer]);
    expect(model.outputShape).toEqual(first ? [null, 2, 3, 3] : [null, 3, 3, 2]);
    const [kernel] = model.getWeights();
    expect(kernel.shape).toEqual([9, 18, 2]);
    const x = sample(first ? [1, 3, 4, 5] : [1, 4, 5, 3]);
    const at = (c: number, i: number, j: number): number => x.data[first ? (c * 4 + i) * 5 + j : (i * 5 + j) * 3 + c];
    const got = await model.predict(x);
    for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) for (let f = 0; f < 2; f++) {
      let s = 1;
      for (let a = 0; a < 2; a++) for (let d = 0; d < 3; d++) for (let c = 0; c < 3; c++) {
        const feature = first ? (c * 2 + a) * 3 + d : (a * 3 + d) * 3 + c;
        s += at(c, i + a, j + d) * kernel.data[((i * 3 + j) * 18 + feature) * 2 + f];
      }
      const index = first ? (f * 3 + i) * 3 + j : (i * 3 + j) * 2 + f;
      expect(got.data[index]).toBeCloseTo(s, 4);
    }
    const copy = modelFromJSON(model.toJSON());
    expect(copy.getConfig()).toEqual(model.getConfig());
    [model, copy].forEach((m) => m.dispose());
  });
});

describe('UpSampling2D bilinear as TensorFlow 1 resize_bilinear (align_corners=False, no half-pixel centers)', () => {
  it('src = dst / size; the last row and column repeat', async () => {
    const model = new Sequential([new layers.InputLayer({ inputShape: [2, 2, 1] }), new layers.UpSampling2D({ size: [2, 2], interpolation: 'bilinear' })]);
    const y = await model.predict(tensor([0, 10, 20, 30], [1, 2, 2, 1]));
    expect(Array.from(y.data)).toEqual([0, 5, 10, 10, 10, 15, 20, 20, 20, 25, 30, 30, 20, 25, 30, 30]);
    model.dispose();
  });
});

describe('BatchNormalization after a convolution (folded into its kernel at compile time)', () => {
  it('predicts (x conv W + b - mean) * gamma / sqrt(var + eps) + beta, the user\'s weights untouched', async () => {
    const conv = new layers.Conv2D(16, 3, { padding: 'same', strides: 2, inputShape: [7, 6, 3] });
    const bn = new layers.BatchNormalization({ epsilon: 0.01 });
    const model = new Sequential([conv, bn]);
    const alone = new Sequential([new layers.Conv2D(16, 3, { padding: 'same', strides: 2, inputShape: [7, 6, 3] })]);
    alone.setWeights(model.getWeights().slice(0, 2));
    const stats = [1, 2, 3, 4].map((k) => Float32Array.from({ length: 16 }, (_, c) => (k === 4 ? 0.5 + c / 8 : Math.sin(k * 3 + c))));
    model.setWeights([...model.getWeights().slice(0, 2), ...stats.map((s) => tensor(s, [16]))]);
    const before = model.getWeights().map((w) => Array.from(w.data));
    const x = sample([2, 7, 6, 3]);
    const [got, y] = [await model.predict(x), await alone.predict(x)];
    const [gamma, beta, mean, variance] = stats;
    const want = Array.from(y.data, (v, i) => ((v - mean[i % 16]) * gamma[i % 16]) / Math.sqrt(variance[i % 16] + 0.01) + beta[i % 16]);
    expect(got.data).toBeAllClose(want, { rtol: 1e-4, atol: 1e-5 });
    expect(model.getWeights().map((w) => Array.from(w.data))).toEqual(before);
    [model, alone].forEach((m) => m.dispose());
  });
});
