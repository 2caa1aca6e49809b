/**
 * Lambda layers, layers written by users (build/addWeight/call with K,
 * computeOutputShape, computeMask, getConfig, customObjects), K.function
 * with the learning phase, and the K namespace custom layers use, each
 * against values computed here in plain JS.
 */
import { describe, expect, it } from 'vitest';
import { Input, K, KTensor, Model, Sequential, Tensor, layers, modelFromJSON, registerCustomObject, setBackend, tensor } from '../../src/index.js';
import type { KShape, Weight } from '../../src/layers/index.js';
import { TEST_BACKEND } from '../helpers/backend.js';

setBackend(TEST_BACKEND);

const rows = (t: Tensor): number[][] => Array.from({ length: t.shape[0] }, (_, i) => Array.from(t.data.subarray(i * (t.data.length / t.shape[0]), (i + 1) * (t.data.length / t.shape[0]))));

/** A Dense without bias, written as a Keras user would. */
class MyDense extends layers.Layer {
  readonly className = 'MyDense';
  kernel: Weight | null = null;
  counter: Weight | null = null;

  constructor(readonly units: number, args: layers.LayerArgs = {}) {
    super(args);
  }

  override build(inputShape: KShape): void {
    this.kernel = this.addWeight('kernel', [inputShape[1] as number, this.units], { className: 'RandomNormal', config: { seed: 9 } });
    this.counter = this.addWeight('scale', [this.units], 'ones', false);
  }

  override call(x: KTensor | KTensor[]): KTensor {
    return K.mul(K.dot(x as KTensor, this.kernel!), this.counter!);
  }

  override computeOutputShape(s: KShape): KShape {
    return [s[0], this.units];
  }

  override getConfig(): Record<string, unknown> {
    return { ...super.getConfig(), units: this.units };
  }

  static fromConfig(c: Record<string, unknown>): MyDense {
    return new MyDense(c.units as number, c);
  }
}

describe('Lambda layers', () => {
  const double = (x: KTensor | KTensor[]): KTensor => K.mul(x as KTensor, 2);

  it('trace a K function, infer the output shape and round-trip through JSON by registered name', async () => {
    const x = Input({ shape: [3] });
    const y = new layers.Lambda(double, { name: 'times2' }).apply(x);
    expect(y.shape).toEqual([null, 3]);
    const swap = new layers.Lambda((xs) => K.concatenate([(xs as KTensor[])[1], (xs as KTensor[])[0]], -1), { name: 'swap', functionName: 'swap_halves' }).apply([y, x]);
    expect(swap.shape).toEqual([null, 6]);
    const model = new Model({ inputs: x, outputs: swap });
    const xs = tensor([[1, 2, 3]]);
    expect(Array.from((await model.predict(xs)).data)).toEqual([1, 2, 3, 2, 4, 6]);
    const json = model.toJSON();
    expect(JSON.parse(json).config.layers.find((l: { name: string }) => l.name === 'times2').config.function).toBe('double');
    expect(() => modelFromJSON(json)).toThrow("Lambda layer times2 needs the function 'double': pass it in customObjects or registerCustomObject('double', fn)");
    registerCustomObject('double', double);
    const copy = modelFromJSON(json, { customObjects: { swap_halves: (xs: KTensor | KTensor[]) => K.concatenate([(xs as KTensor[])[1], (xs as KTensor[])[0]], -1) } });
    expect(Array.from(((await copy.predict(xs)) as Tensor).data)).toEqual([1, 2, 3, 2, 4, 6]);
    model.dispose();
    copy.dispose();
  });

  it('refuse Python bytecode from a file', () => {
    const config = { class_name: 'Model', config: { name: 'm', layers: [
      { name: 'in', class_name: 'InputLayer', config: { batch_input_shape: [null, 2], name: 'in' }, inbound_nodes: [] },
      { name: 'lam', class_name: 'Lambda', config: { name: 'lam', function: ['4wEAAAAAAAAAAQAAAAIAAABDAAAAcwgAAAB8AGQBFABTACkCTukCAAAAqQApAdoBeHIDAAAAcgMAAAD6HjxpcHl0aG9uLWlucHV0LTItNjY5ZjU4ZDVhNTM2PtoIPGxhbWJkYT4BAAAA8wAAAAA=', null, null], function_type: 'lambda', output_shape: null, arguments: {} }, inbound_nodes: [[['in', 0, 0, {}]]] },
    ], input_layers: [['in', 0, 0]], output_layers: [['lam', 0, 0]] } };
    expect(() => modelFromJSON(config)).toThrow(/Lambda layer '?lam'? holds Python bytecode; Kiln never runs code from a file/);
  });
});

describe('custom layers', () => {
  it('build with addWeight (trainable and not), call with K, train, and load through customObjects', async () => {
    const model = new Sequential([new MyDense(2, { inputShape: [3], name: 'mine' })]);
    const layer = model.getLayer('mine') as MyDense;
    expect(layer.trainableWeights.map((w) => w.name)).toEqual(['mine/kernel:0']);
    expect(layer.nonTrainableWeights.map((w) => w.name)).toEqual(['mine/scale:0']);
    const xs = tensor([[1, 0, 2], [0, 1, -1]]);
    const [kernel] = layer.getWeights();
    const want = rows(xs).map((r) => [0, 1].map((j) => r.reduce((s, v, k) => s + v * kernel.data[k * 2 + j], 0)));
    expect((await model.predict(xs)).data).toBeAllClose(want.flat(), { rtol: 1e-5, atol: 1e-6 });
    model.compile({ optimizer: 'sgd', loss: 'mse' });
    await model.fit(xs, tensor([[1, 1], [0, 0]]), { epochs: 3, verbose: 0 });
    expect(layer.getWeights()[0].data).not.toEqual(kernel.data);
    expect(Array.from(layer.getWeights()[1].data)).toEqual([1, 1]);
    const copy = modelFromJSON(model.toJSON(), { customObjects: { MyDense } });
    copy.setWeights(model.getWeights());
    expect(((await copy.predict(xs)) as Tensor).data).toEqual((await model.predict(xs)).data);
    expect(() => modelFromJSON(model.toJSON())).toThrow(/MyDense.*pass others in customObjects|Unknown layer class 'MyDense'/);
    model.dispose();
    copy.dispose();
  });

  it('a custom layer without computeOutputShape gets its shape by tracing; computeMask is traced too', async () => {
    class Halve extends layers.Layer {
      readonly className = 'Halve';
      override call(x: KTensor | KTensor[]): KTensor {
        return K.reshape(x as KTensor, [-1, (x as KTensor).shape[1] / 2, 2]);
      }
      override computeMask(x: KTensor | KTensor[]): KTensor {
        return K.greater(K.sum(x as KTensor, -1), 0);
      }
    }
    const x = Input({ shape: [4] });
    const y = new Halve().apply(x);
    expect(y.shape).toEqual([null, 2, 2]);
    const model = new Model({ inputs: x, outputs: y });
    expect(Array.from((await model.predict(tensor([[1, 2, 3, 4]]))).data)).toEqual([1, 2, 3, 4]);
    model.dispose();
  });
});

describe('K.function', () => {
  it('reads an intermediate output, in the inference and the training phase', async () => {
    const x = Input({ shape: [8] });
    const hidden = new layers.Dense(16, { activation: 'relu', name: 'kf_hidden', biasInitializer: 'ones' }).apply(x);
    const dropped = new layers.Dropout(0.5).apply(hidden);
    const model = new Model({ inputs: x, outputs: new layers.Dense(1).apply(dropped) });
    const f = K.function([model.input as never], [hidden, dropped]);
    const xs = tensor([Array.from({ length: 8 }, (_, i) => i / 8)]);
    const [h0, d0] = await f([xs], 0);
    expect(d0.data).toEqual(h0.data);
    const [h1, d1] = await f([xs], 1);
    expect(h1.data).toEqual(h0.data);
    const kept = Array.from(d1.data).filter((v, i) => v !== 0 && Math.abs(v - 2 * h1.data[i]) < 1e-5).length;
    const zeros = Array.from(d1.data).filter((v) => v === 0).length;
    expect(kept + zeros).toBe(16);
    expect(zeros).toBeGreaterThan(0);
    f.dispose();
    model.dispose();
  });
});

describe('K namespace', () => {
  async function run(fn: (x: KTensor) => KTensor, input: Tensor): Promise<Tensor> {
    const x = Input({ shape: input.shape.slice(1) });
    const model = new Model({ inputs: x, outputs: new layers.Lambda((v) => fn(v as KTensor)).apply(x) });
    const out = await model.predict(input);
    model.dispose();
    return out;
  }
  const m = tensor([[[1, -2, 3], [4, 5, -6]]]);

  it.each([
    ['cumsum', (x: KTensor) => K.cumsum(x, 2), [1, -1, 2, 4, 9, 3]],
    ['cumprod', (x: KTensor) => K.cumprod(x, 2), [1, -2, -6, 4, 20, -120]],
    ['repeatElements', (x: KTensor) => K.repeatElements(x, 2, 1), [1, -2, 3, 1, -2, 3, 4, 5, -6, 4, 5, -6]],
    ['tile', (x: KTensor) => K.tile(x, [1, 1, 2]), [1, -2, 3, 1, -2, 3, 4, 5, -6, 4, 5, -6]],
    ['permuteDimensions', (x: KTensor) => K.permuteDimensions(x, [0, 2, 1]), [1, 4, -2, 5, 3, -6]],
    ['stack + squeeze', (x: KTensor) => K.squeeze(K.stack([x], 1), 1), [1, -2, 3, 4, 5, -6]],
    ['expandDims + sum keepdims', (x: KTensor) => K.sum(K.expandDims(x, -1), [2, 3], true), [2, 3]],
    ['argmaxAxis / argmin', (x: KTensor) => K.concatenate([K.argmaxAxis(x, -1), K.argmin(x, -1)], -1), [2, 1, 1, 2]],
    ['l2Normalize', (x: KTensor) => K.l2Normalize(x, -1), [1, -2, 3, 4, 5, -6].map((v, i) => v / Math.sqrt(i < 3 ? 14 : 77))],
    ['clip + switch', (x: KTensor) => K.switch(K.greater(x, 0), K.clip(x, 0, 4), K.neg(x)), [1, 2, 3, 4, 4, 6]],
    ['oneHot', (x: KTensor) => K.oneHot(K.cast(K.argmaxAxis(x, -1), 'int32'), 3), [0, 0, 1, 0, 1, 0]],
    ['batchDot', (x: KTensor) => K.batchDot(x, x, [2, 2]), [14, -24, -24, 77]],
    ['std', (x: KTensor) => K.std(x, -1), [Math.sqrt(((1 - 2 / 3) ** 2 + (-2 - 2 / 3) ** 2 + (3 - 2 / 3) ** 2) / 3), Math.sqrt(((4 - 1) ** 2 + (5 - 1) ** 2 + (-6 - 1) ** 2) / 3)]],
  ] as const)('%s', async (_name, fn, want) => {
    expect((await run(fn, m)).data).toBeAllClose(want, { rtol: 1e-5, atol: 1e-5 });
  });

  it('gather rows of a weight-free table and inTrainPhase picks by program phase', async () => {
    const ids = tensor([[2, 0]]);
    const out = await run((x) => K.gather(K.reshape(K.cast(K.greater(x, -1), 'float32'), [-1]), K.cast(x, 'int32')), ids);
    expect(Array.from(out.data)).toEqual([1, 1]);
    expect((await run((x) => K.inTrainPhase(K.mul(x, 0), x) as KTensor, ids)).data).toEqual(ids.data);
  });
});
