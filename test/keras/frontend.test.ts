/** The Keras front end: tensors, layers, models, weights, configs and the errors users see. */
import { describe, expect, it } from 'vitest';
import { Input, Model, Sequential, type Tensor, layers, modelFromJSON, modelToJSON, setBackend, tensor } from '../../src/index.js';
import { TEST_BACKEND } from '../helpers/backend.js';

setBackend(TEST_BACKEND);

const near = (got: ArrayLike<number>, want: readonly number[], tol = 1e-5): void => {
  expect(got).toBeAllClose(want, { rtol: tol, atol: tol });
};

describe('tensor()', () => {
  it('infers shapes from nested arrays and checks sizes', () => {
    const t = tensor([[1, 2, 3], [4, 5, 6]]);
    expect(t.shape).toEqual([2, 3]);
    expect(Array.from(t.data)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(t.dtype).toBe('float32');
    expect(tensor(Int32Array.of(1, 2), [2, 1]).dtype).toBe('int32');
    expect(() => tensor([[1, 2], [3]])).toThrow(/ragged nested array: element\[1\] has length 1, expected length 2/);
    expect(() => tensor([1, 2, 3], [2, 2])).toThrow(/shape \[2, 2\] needs 4 values, got 3/);
  });

  it('takes typed arrays, flat arrays with a shape, scalars and every dtype', () => {
    const f64 = tensor(Float64Array.of(1.5, 2.5, 3.5, 4.5), [2, 2]);
    expect([f64.dtype, f64.shape, f64.data instanceof Float64Array]).toEqual(['float64', [2, 2], true]);
    expect(tensor(Float32Array.of(1, 2, 3)).shape).toEqual([3]);
    const i32 = tensor([1.9, -2, 3, 4, 5, 6], [3, 2], 'int32');
    expect([i32.dtype, Array.from(i32.data)]).toEqual(['int32', [1, -2, 3, 4, 5, 6]]);
    const bools = tensor([[true, false], [false, true]], undefined, 'bool');
    expect([bools.dtype, bools.shape, Array.from(bools.data)]).toEqual(['bool', [2, 2], [1, 0, 0, 1]]);
    const scalar = tensor(7);
    expect([scalar.shape, Array.from(scalar.data)]).toEqual([[], [7]]);
    expect(tensor([[[1], [2]], [[3], [4]]]).toArray()).toEqual([[[1], [2]], [[3], [4]]]);
    expect(() => tensor([[1, 2], [3, [4]]] as never)).toThrow(/ragged nested array: element\[1\]\[1\] is an array, expected a number/);
    expect(() => tensor(Float32Array.of(1, 2, 3), [2, 2])).toThrow('tensor(): shape [2, 2] needs 4 values, got 3');
    expect(() => tensor([1, 2], [2, -1])).toThrow('tensor(): invalid shape [2, -1]');
  });
});

describe('layer names and shapes', () => {
  it('are numbered per class in Keras snake_case', () => {
    const a = new layers.Dense(1);
    const b = new layers.Dense(1);
    const [na, nb] = [a.name, b.name].map((n) => Number(/^dense_(\d+)$/.exec(n)?.[1]));
    expect(nb).toBe(na + 1);
    expect(new layers.LeakyReLU().name).toMatch(/^leaky_re_lu_\d+$/);
    expect(new layers.SpatialDropout1D(0.1).name).toMatch(/^spatial_dropout1d_\d+$/);
    expect(new layers.PReLU().name).toMatch(/^p_re_lu_\d+$/);
  });

  it('Dense takes inputDim or batchInputShape for the first layer', () => {
    expect(new Sequential([new layers.Dense(2, { inputDim: 5 })]).inputShape).toEqual([null, 5]);
    const fixed = new Sequential([new layers.Dense(2, { batchInputShape: [4, 3] })]);
    expect([fixed.inputShape, fixed.outputShape]).toEqual([[4, 3], [4, 2]]);
    expect(() => new Sequential([new layers.Dense(2)])).toThrow(/needs an inputShape/);
  });

  it('Flatten with channels_first moves channels last first (Keras 2.2)', async () => {
    const x = tensor([Array.from({ length: 8 }, (_, i) => i)], [1, 2, 2, 2]);
    const first = new Sequential([new layers.Flatten({ inputShape: [2, 2, 2], dataFormat: 'channels_first' })]);
    near((await first.predict(x)).data, [0, 4, 1, 5, 2, 6, 3, 7]);
    const last = new Sequential([new layers.Flatten({ inputShape: [2, 2, 2] })]);
    near((await last.predict(x)).data, [0, 1, 2, 3, 4, 5, 6, 7]);
  });
});

describe('layers', () => {
  it('Dense computes x @ kernel + bias, then the activation', async () => {
    const model = new Sequential([new layers.Dense(2, { inputShape: [3], activation: 'relu' })]);
    model.setWeights([tensor([[1, -1], [2, 0], [0, 3]]), tensor([0.5, -4])]);
    const y = await model.predict(tensor([[1, 1, 1], [0, 1, -1]]));
    near(y.data, [3.5, 0, 2.5, 0]);
  });

  it('Dense on rank-3 input applies to the last axis', async () => {
    const model = new Sequential([new layers.Dense(1, { inputShape: [2, 2], useBias: false, kernelInitializer: 'ones' })]);
    expect(model.outputShape).toEqual([null, 2, 1]);
    near((await model.predict(tensor([[[1, 2], [3, 4]]]))).data, [3, 7]);
  });

  it('Flatten, Reshape with -1, Permute and RepeatVector move data as Keras does', async () => {
    const x = tensor([[[1, 2, 3], [4, 5, 6]]]);
    const permute = new Sequential([new layers.Permute([2, 1], { inputShape: [2, 3] })]);
    near((await permute.predict(x)).data, [1, 4, 2, 5, 3, 6]);
    const reshape = new Sequential([new layers.Reshape([-1, 2], { inputShape: [2, 3] }), new layers.Flatten()]);
    expect(reshape.layers[0].outputShape).toEqual([null, 3, 2]);
    near((await reshape.predict(x)).data, [1, 2, 3, 4, 5, 6]);
    const repeat = new Sequential([new layers.RepeatVector(2, { inputShape: [3] })]);
    const r = await repeat.predict(tensor([[1, 2, 3]]));
    expect(r.shape).toEqual([1, 2, 3]);
    near(r.data, [1, 2, 3, 1, 2, 3]);
  });

  it('advanced activations match their Keras definitions', async () => {
    const x = tensor([[-2, -0.5, 0, 0.5, 2, 7]]);
    const run = async (layer: InstanceType<typeof layers.Layer>): Promise<Float32Array> => (await new Sequential([layer]).predict(x)).data as Float32Array;
    near(await run(new layers.ReLU({ inputShape: [6], maxValue: 6, negativeSlope: 0.1, threshold: 0.5 })), [-0.25, -0.1, -0.05, 0, 2, 6]);
    near(await run(new layers.LeakyReLU({ inputShape: [6] })), [-0.6, -0.15, 0, 0.5, 2, 7]);
    near(await run(new layers.ELU({ inputShape: [6], alpha: 2 })), [2 * Math.expm1(-2), 2 * Math.expm1(-0.5), 0, 0.5, 2, 7]);
    near(await run(new layers.ThresholdedReLU({ inputShape: [6], theta: 0.5 })), [0, 0, 0, 0, 2, 7]);
    const prelu = new layers.PReLU({ inputShape: [6], alphaInitializer: 'ones' });
    near(await run(prelu), [-2, -0.5, 0, 0.5, 2, 7]);
    const e = [-2, -0.5, 0, 0.5, 2, 7].map(Math.exp);
    near(await run(new layers.Softmax({ inputShape: [6] })), e.map((v) => v / e.reduce((a, b) => a + b)));
  });

  it('PReLU shares alpha over sharedAxes', () => {
    const layer = new layers.PReLU({ inputShape: [4, 3], sharedAxes: [1] });
    new Sequential([layer]);
    expect(layer.getWeights()[0].shape).toEqual([1, 3]);
  });

  it('Dropout and noise layers are the identity at inference', async () => {
    const model = new Sequential([
      new layers.Dropout(0.5, { inputShape: [4] }), new layers.GaussianNoise(1), new layers.GaussianDropout(0.3),
      new layers.AlphaDropout(0.2), new layers.SpatialDropout1D(0.1),
    ]);
    near((await model.predict(tensor([[1, 2, 3, 4]]))).data, [1, 2, 3, 4]);
  });
});

describe('initializers', () => {
  const values = (init: string | object, shape: number[]): Float32Array => {
    const layer = new layers.Dense(shape[1], { inputShape: [shape[0]], kernelInitializer: init as string, useBias: false });
    new Sequential([layer]);
    return layer.getWeights()[0].data as Float32Array;
  };
  const stats = (v: Float32Array): { mean: number; std: number; max: number } => {
    const mean = v.reduce((a, b) => a + b, 0) / v.length;
    return { mean, std: Math.sqrt(v.reduce((a, b) => a + (b - mean) ** 2, 0) / v.length), max: Math.max(...v.map(Math.abs)) };
  };

  it('follow Keras 2 scales', () => {
    const limit = Math.sqrt(6 / (200 + 300));
    const g = stats(values('glorot_uniform', [200, 300]));
    expect(g.max).toBeLessThanOrEqual(limit);
    expect(g.std).toBeCloseTo(limit / Math.sqrt(3), 2);
    const he = stats(values('he_normal', [400, 300]));
    expect(Math.abs(he.mean)).toBeLessThan(0.005);
    expect(he.std).toBeCloseTo(Math.sqrt(2 / 400), 2);
    expect(he.max).toBeLessThanOrEqual((2 * Math.sqrt(2 / 400)) / 0.87962566103423978 + 1e-6);
    const t = stats(values({ className: 'TruncatedNormal', config: { stddev: 1 } }, [100, 100]));
    expect(t.max).toBeLessThanOrEqual(2);
    expect(Array.from(values('ones', [2, 2]))).toEqual([1, 1, 1, 1]);
    expect(Array.from(values({ className: 'Identity', config: { gain: 2 } }, [2, 3]))).toEqual([2, 0, 0, 0, 2, 0]);
  });

  it('orthogonal gives orthonormal columns', () => {
    const q = values('orthogonal', [6, 4]);
    for (let a = 0; a < 4; a++) for (let b = 0; b < 4; b++) {
      let dot = 0;
      for (let i = 0; i < 6; i++) dot += q[i * 4 + a] * q[i * 4 + b];
      expect(dot).toBeCloseTo(a === b ? 1 : 0, 5);
    }
  });

  it('are reproducible for a seed and differ across seeds', () => {
    const a = values({ className: 'RandomNormal', config: { seed: 7 } }, [10, 10]);
    const b = values({ className: 'RandomNormal', config: { seed: 7 } }, [10, 10]);
    const c = values({ className: 'RandomNormal', config: { seed: 8 } }, [10, 10]);
    expect(Array.from(a)).toEqual(Array.from(b));
    expect(Array.from(a)).not.toEqual(Array.from(c));
  });
});

describe('models', () => {
  it('summary prints Keras 2 table', () => {
    const model = new Sequential([new layers.Dense(4, { inputShape: [3], name: 'hidden' }), new layers.Activation('tanh', { name: 'act' })], { name: 'tiny' });
    const lines: string[] = [];
    const text = model.summary((l) => lines.push(l));
    expect(lines.join('\n')).toBe(text);
    expect(lines).toHaveLength(12);
    expect(text).toBe([
      'Model: "tiny"',
      '_'.repeat(65),
      'Layer (type)                 Output Shape              Param #   ',
      '='.repeat(65),
      'hidden (Dense)               (None, 4)                 16        ',
      '_'.repeat(65),
      'act (Activation)             (None, 4)                 0         ',
      '='.repeat(65),
      'Total params: 16',
      'Trainable params: 16',
      'Non-trainable params: 0',
      '_'.repeat(65),
    ].join('\n'));
  });

  it('summary of a functional model lists the InputLayer and counts a shared layer once', () => {
    const input = Input({ shape: [3], name: 'x_in' });
    const shared = new layers.Dense(3, { name: 'shared' });
    const model = new Model({ inputs: input, outputs: shared.apply(shared.apply(input)), name: 'twice' });
    const text = model.summary(() => undefined);
    // A layer with two nodes makes the graph not sequential-like for Keras 2: the "Connected to" table.
    expect(text.split('\n').slice(0, 9)).toEqual([
      'Model: "twice"',
      '_'.repeat(98),
      `${'Layer (type)'.padEnd(32)}${'Output Shape'.padEnd(21)}${'Param #'.padEnd(12)}${'Connected to'.padEnd(33)}`,
      '='.repeat(98),
      `${'x_in (InputLayer)'.padEnd(32)}${'(None, 3)'.padEnd(21)}${'0'.padEnd(12)}${''.padEnd(33)}`,
      '_'.repeat(98),
      `${'shared (Dense)'.padEnd(32)}${'(None, 3)'.padEnd(21)}${'12'.padEnd(12)}${'x_in[0][0]'.padEnd(33)}`,
      `${''.padEnd(65)}${'shared[0][0]'.padEnd(33)}`,
      '='.repeat(98),
    ]);
    expect(text).toContain('Total params: 12\nTrainable params: 12\nNon-trainable params: 0');
    expect(model.countParams()).toBe(12);
  });

  it('summary groups thousands and counts frozen layers as non-trainable', () => {
    const big = new layers.Dense(512, { inputShape: [784] });
    const model = new Sequential([big, new layers.Dense(10)]);
    big.trainable = false;
    const lines: string[] = [];
    model.summary((l) => lines.push(l));
    expect(lines.slice(-4, -1)).toEqual(['Total params: 407,050', 'Trainable params: 5,130', 'Non-trainable params: 401,920']);
  });

  it('functional and Sequential models of the same layers agree; getLayer finds layers', async () => {
    const dense = new layers.Dense(3, { activation: 'sigmoid' });
    const input = Input({ shape: [5] });
    const model = new Model({ inputs: input, outputs: dense.apply(input) });
    const seq = new Sequential([new layers.Dense(3, { inputShape: [5], activation: 'sigmoid' })]);
    seq.setWeights(model.getWeights());
    const x = tensor(Array.from({ length: 10 }, (_, i) => [i, -i, 0.5, 1, 2].map((v) => v / 10)));
    near((await model.predict(x)).data, Array.from((await seq.predict(x)).data));
    expect(model.getLayer(dense.name)).toBe(dense);
    expect(model.getLayer(1)).toBe(dense);
    expect(() => model.getLayer('nope')).toThrow(/No layer named 'nope'/);
  });

  it('predict batches with a padded last batch; predictOnBatch, predictClasses and predictProba', async () => {
    const model = new Sequential([new layers.Dense(3, { inputShape: [2], activation: 'softmax' })]);
    const x = tensor([[1, 2], [3, 4], [5, 6], [-1, 0], [0, 0]]);
    const whole = await model.predictOnBatch(x);
    const batched = await model.predict(x, { batchSize: 2 });
    near(batched.data, Array.from(whole.data));
    const classes = await model.predictClasses(x);
    expect(classes.shape).toEqual([5]);
    for (let r = 0; r < 5; r++) {
      const row = Array.from(whole.data.subarray(r * 3, r * 3 + 3));
      expect(classes.data[r]).toBe(row.indexOf(Math.max(...row)));
    }
    near((await model.predictProba(x)).data, Array.from(whole.data));
  });

  it('predict compiles one program per batch size and pads partial batches into it', async () => {
    const model = new Sequential([new layers.Dense(2, { inputShape: [3], kernelInitializer: 'ones' })]);
    const rows = (n: number): ReturnType<typeof tensor> => tensor(Array.from({ length: n }, (_, i) => [i, 1, 0]));
    const sums = (n: number): number[] => Array.from({ length: n }, (_, i) => [i + 1, i + 1]).flat();
    near((await model.predict(rows(7), { batchSize: 4 })).data, sums(7));
    const four = model.compileStats;
    expect(four).not.toBeNull();
    near((await model.predict(rows(9), { batchSize: 4 })).data, sums(9));
    near((await model.predict(rows(3), { batchSize: 4 })).data, sums(3));
    expect(model.compileStats, 'same batch-4 program').toBe(four);
    // Small inputs share power-of-two programs: 5, 6, 7 and 8 rows all run in the batch-8 program.
    await model.predict(rows(5));
    const eight = model.compileStats;
    expect(eight).not.toBe(four);
    for (const n of [6, 7, 8]) near((await model.predict(rows(n))).data, sums(n));
    near((await model.predictOnBatch(rows(6))).data, sums(6));
    expect(model.compileStats).toBe(eight);
  });

  it('pop and add rebuild the model', async () => {
    const model = new Sequential([new layers.Dense(2, { inputShape: [2], kernelInitializer: 'identity' }), new layers.Activation('exponential')]);
    near((await model.predict(tensor([[0, 1]]))).data, [1, Math.E], 1e-5);
    model.pop();
    near((await model.predict(tensor([[0, 1]]))).data, [0, 1]);
    model.add(new layers.Activation('softsign'));
    near((await model.predict(tensor([[0, 1]]))).data, [0, 0.5]);
  });

  it('weights: get, set on models and layers, with shape checks naming the layer', async () => {
    const model = new Sequential([new layers.Dense(2, { inputShape: [2], name: 'd' })]);
    expect(model.getWeights().map((w) => w.shape)).toEqual([[2, 2], [2]]);
    model.getLayer('d').setWeights([tensor([[1, 0], [0, 1]]), tensor([1, 1])]);
    near((await model.predict(tensor([[2, 3]]))).data, [3, 4]);
    model.setWeights([tensor([[2, 0], [0, 2]]), tensor([0, 0])]);
    near((await model.predict(tensor([[2, 3]]))).data, [4, 6]);
    expect(() => model.getLayer('d').setWeights([tensor([[1, 2, 3]]), tensor([1, 1])])).toThrow(/Layer d: weight d\/kernel:0 has shape \[2, 2\], got \[1, 3\]/);
    expect(() => model.setWeights([tensor([1])])).toThrow(/expects 2 weight arrays/);
  });

  it('round-trips through Keras 2 JSON', async () => {
    const model = new Sequential([
      new layers.Dense(4, { inputShape: [3], activation: 'elu', kernelInitializer: 'he_uniform' }),
      new layers.Reshape([2, 2]), new layers.Permute([2, 1]), new layers.Flatten(), new layers.LeakyReLU({ alpha: 0.2 }),
    ]);
    const json = modelToJSON(model);
    expect(JSON.parse(json).config.layers[0].config.kernel_initializer.class_name).toBe('VarianceScaling');
    const copy = modelFromJSON(json);
    copy.setWeights(model.getWeights());
    const x = tensor([[0.1, -0.7, 2]]);
    near(((await copy.predict(x)) as Tensor).data, Array.from(((await model.predict(x)) as Tensor).data));
    expect(copy.layers.map((l) => l.className)).toEqual(['Dense', 'Reshape', 'Permute', 'Flatten', 'LeakyReLU']);
  });
});

describe('bad input gets a clear error', () => {
  it('predict with a wrong input shape names expected and given shapes', async () => {
    const model = new Sequential([new layers.Dense(2, { inputShape: [4] })], { name: 'm' });
    await expect(model.predict(tensor([[1, 2, 3]]))).rejects.toThrow('Error when checking input of model m: expected input to have shape (None, 4) but got array with shape (1, 3)');
  });

  it('predict with the wrong rank names both shapes', async () => {
    const model = new Sequential([new layers.Dense(2, { inputShape: [2, 4] })], { name: 'r' });
    await expect(model.predict(tensor([1, 2, 3, 4]))).rejects.toThrow('Error when checking input of model r: expected input to have 3 dimensions (shape (None, 2, 4)), but got array with shape (4,)');
  });

  it('noise layers reject rates outside [0, 1), naming the class', () => {
    expect(() => new layers.SpatialDropout2D(1.5, { name: 'sd' })).toThrow('SpatialDropout2D sd: rate must be in [0, 1), got 1.5');
    expect(() => new layers.GaussianDropout(-0.1, { name: 'gd' })).toThrow('GaussianDropout gd: rate must be in [0, 1), got -0.1');
  });

  it('unknown activation and initializer names list the valid ones', () => {
    expect(() => new layers.Dense(2, { activation: 'relu6' })).toThrow(/Unknown activation 'relu6'. Valid activations: linear, relu, elu, selu, softmax/);
    expect(() => new layers.Dense(2, { kernelInitializer: 'glorot' })).toThrow(/Unknown initializer 'glorot'. Valid initializers: .*glorot_uniform/);
  });

  it('a config with an unknown layer class names it and lists the valid ones', () => {
    const json = { class_name: 'Sequential', config: [{ class_name: 'Dense', config: { units: 2, batch_input_shape: [null, 3] } }, { class_name: 'Conv9D', config: {} }] };
    expect(() => modelFromJSON(json)).toThrow(/unknown class "Conv9D". Valid layer classes: Activation, ActivityRegularization, Add, AlphaDropout/);
    expect(() => modelFromJSON('{"class_name": "Sequential"')).toThrow(/modelFromJSON: not valid JSON/);
  });

  it('layers applied to incompatible shapes name the layer and both shapes', () => {
    const input = Input({ shape: [2, 3] });
    expect(() => new layers.Permute([1, 2, 3]).apply(input)).toThrow(/Permute permute_\d+ with dims \[1, 2, 3\] expects an input of rank 4, got shape \(None, 2, 3\)/);
    expect(() => new layers.Reshape([4], { inputShape: [2, 3] }).computeOutputShape([null, 2, 3])).toThrow(/cannot reshape input of shape \(None, 2, 3\) \(6 values per sample\) to target shape \(4\)/);
  });
});
