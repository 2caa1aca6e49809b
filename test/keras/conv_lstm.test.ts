/**
 * ConvLSTM2D against a float64 reference written here from first
 * principles (Keras 2.2's convolutional_recurrent.py: an LSTM whose input
 * transformation is a 2-D convolution with the layer's strides, padding and
 * dilation, and whose recurrent transformation is a convolution of h with
 * strides 1 and padding 'same'; gates i, f, c, o; TensorFlow's 'same'
 * padding puts the odd pixel after): both data formats, valid and same
 * padding, strides, dilation, go_backwards, return_sequences and
 * return_state; its gradients against float64 finite differences; the
 * layer trains; a JSON round trip; the errors.
 */
import { describe, expect, it } from 'vitest';
import { GraphBuilder, type Value } from '../../ir/graph.js';
import { interpret } from '../../ir/interpret.js';
import { grad } from '../../passes/autodiff.js';
import { Input, Model, Sequential, type Tensor, layers, modelFromJSON, optimizers, setBackend, tensor } from '../../src/index.js';
import type { CallContext } from '../../src/layers/index.js';
import { TEST_BACKEND } from '../helpers/backend.js';
import { rng } from '../helpers/nd.js';

setBackend(TEST_BACKEND);

type Img = number[][][]; // [rows][cols][channels]

/** TensorFlow's padding of one axis: 'same' pads (ceil(n / s) - 1) * s + span - n, the odd one after. */
function pads(mode: string, n: number, k: number, s: number, d: number): [number, number, number] {
  const span = (k - 1) * d + 1;
  if (mode === 'valid') return [0, 0, Math.floor((n - span) / s) + 1];
  const total = Math.max((Math.ceil(n / s) - 1) * s + span - n, 0);
  return [Math.floor(total / 2), total - Math.floor(total / 2), Math.ceil(n / s)];
}

/** x [H][W][C] convolved with kernel [kh, kw, C, N] (flat, row-major), columns [from, from + n) of N. */
function conv(x: Img, k: Float32Array, [kh, kw]: number[], N: number, from: number, n: number, mode: string, [sh, sw]: number[], [dh, dw]: number[]): Img {
  const [H, W, C] = [x.length, x[0].length, x[0][0].length];
  const [top, , OH] = pads(mode, H, kh, sh, dh);
  const [left, , OW] = pads(mode, W, kw, sw, dw);
  return Array.from({ length: OH }, (_, i) => Array.from({ length: OW }, (_, j) => Array.from({ length: n }, (_, o) => {
    let s = 0;
    for (let a = 0; a < kh; a++) for (let b = 0; b < kw; b++) {
      const r = i * sh + a * dh - top;
      const c = j * sw + b * dw - left;
      if (r < 0 || r >= H || c < 0 || c >= W) continue;
      for (let ch = 0; ch < C; ch++) s += x[r][c][ch] * k[((a * kw + b) * C + ch) * N + from + o];
    }
    return s;
  })));
}

const map = (a: Img, f: (v: number, i: number, j: number, o: number) => number): Img => a.map((row, i) => row.map((px, j) => px.map((v, o) => f(v, i, j, o))));
const hardSigmoid = (v: number): number => Math.min(1, Math.max(0, 0.2 * v + 0.5));

interface Geometry { kernel: number[]; padding: string; strides: number[]; dilation: number[] }

/** One sample's sequence [T] of [H][W][C] through ConvLSTM2D: outputs per step (in processing order) and final h, c. */
function reference(xs: Img[], F: number, [W, U, bias]: Float32Array[], g: Geometry, backwards: boolean): { outputs: Img[]; h: Img; c: Img } {
  const N = 4 * F;
  const first = conv(xs[0], W, g.kernel, N, 0, F, g.padding, g.strides, g.dilation);
  let h: Img = map(first, () => 0);
  let c: Img = map(first, () => 0);
  const outputs: Img[] = [];
  const order = xs.map((_, t) => (backwards ? xs.length - 1 - t : t));
  for (const t of order) {
    const gate = (q: number): Img => {
      const xi = conv(xs[t], W, g.kernel, N, q * F, F, g.padding, g.strides, g.dilation);
      const hi = conv(h, U, g.kernel, N, q * F, F, 'same', [1, 1], [1, 1]);
      return map(xi, (v, i, j, o) => v + hi[i][j][o] + bias[q * F + o]);
    };
    const [zi, zf, zc, zo] = [0, 1, 2, 3].map(gate);
    c = map(c, (v, i, j, o) => hardSigmoid(zf[i][j][o]) * v + hardSigmoid(zi[i][j][o]) * Math.tanh(zc[i][j][o]));
    h = map(c, (v, i, j, o) => hardSigmoid(zo[i][j][o]) * Math.tanh(v));
    outputs.push(h);
  }
  return { outputs, h, c };
}

const B = 2;
const T = 3;

function data(seed: number, n: number): Float32Array {
  const next = rng(seed);
  return Float32Array.from({ length: n }, () => next() - 0.5);
}

/** Sample b, step t of x [B, T, ...] as [H][W][C], from channels_last or channels_first storage. */
function image(x: Float32Array, b: number, t: number, [H, W, C]: number[], format: string): Img {
  const base = (b * T + t) * H * W * C;
  return Array.from({ length: H }, (_, i) => Array.from({ length: W }, (_, j) => Array.from({ length: C }, (_, ch) => x[base + (format === 'channels_last' ? (i * W + j) * C + ch : (ch * H + i) * W + j)])));
}

/** An [H][W][F] image in the layer's format, flat. */
function flat(img: Img, format: string): number[] {
  if (format === 'channels_last') return img.flat(2);
  const [H, W, F] = [img.length, img[0].length, img[0][0].length];
  return Array.from({ length: F * H * W }, (_, k) => img[Math.floor(k / W) % H][k % W][Math.floor(k / (H * W))]);
}

describe('ConvLSTM2D against the float64 reference', () => {
  const cases = [
    { format: 'channels_last', size: [4, 4, 2], F: 2, g: { kernel: [3, 3], padding: 'same', strides: [1, 1], dilation: [1, 1] }, returnSequences: true, goBackwards: false },
    { format: 'channels_first', size: [5, 6, 2], F: 3, g: { kernel: [2, 3], padding: 'valid', strides: [2, 2], dilation: [1, 1] }, returnSequences: false, goBackwards: true },
    { format: 'channels_last', size: [5, 5, 1], F: 2, g: { kernel: [2, 2], padding: 'same', strides: [1, 1], dilation: [2, 2] }, returnSequences: true, goBackwards: true },
  ];
  it.each(cases)('%o', async (c) => {
    const [H, W, C] = c.size;
    const inShape = c.format === 'channels_last' ? [T, H, W, C] : [T, C, H, W];
    const layer = new layers.ConvLSTM2D(c.F, c.g.kernel, { padding: c.g.padding, strides: c.g.strides, dilationRate: c.g.dilation, dataFormat: c.format, returnSequences: c.returnSequences, goBackwards: c.goBackwards, returnState: true });
    const input = Input({ shape: inShape });
    const model = new Model({ inputs: input, outputs: layer.applyMulti(input) });
    const next = rng(11);
    const weights = layer.getWeights().map((w) => tensor(Float32Array.from(w.data, () => (next() - 0.5) * 0.8), [...w.shape]));
    layer.setWeights(weights);
    const x = data(5, B * T * H * W * C);
    const [out, hT, cT] = (await model.predict(tensor(x, [B, ...inShape]))) as Tensor[];
    for (let b = 0; b < B; b++) {
      const ref = reference(Array.from({ length: T }, (_, t) => image(x, b, t, c.size, c.format)), c.F, weights.map((w) => w.data as Float32Array), c.g, c.goBackwards);
      const want = c.returnSequences ? ref.outputs.flatMap((o) => flat(o, c.format)) : flat(ref.h, c.format);
      const rows = (t: Tensor, n: number): number[] => Array.from(t.data.subarray(b * n, (b + 1) * n));
      expect(rows(out, want.length), `output of sample ${b}`).toBeAllClose(want, { rtol: 1e-5, atol: 1e-6 });
      expect(rows(hT, flat(ref.h, c.format).length)).toBeAllClose(flat(ref.h, c.format), { rtol: 1e-5, atol: 1e-6 });
      expect(rows(cT, flat(ref.c, c.format).length)).toBeAllClose(flat(ref.c, c.format), { rtol: 1e-5, atol: 1e-6 });
    }
    expect(out.shape).toEqual(c.returnSequences ? [B, T, ...hT.shape.slice(1)] : hT.shape);
    model.dispose();
  });
});

describe('ConvLSTM2D training and serialization', () => {
  it('its gradients match float64 central finite differences', () => {
    const layer = new layers.ConvLSTM2D(2, [2, 2], { padding: 'same', recurrentActivation: 'sigmoid', returnSequences: true });
    layer.shapesFor([[null, T, 3, 3, 1]]);
    const b = new GraphBuilder();
    const x = b.param('x', [1, T, 3, 3, 1], 'float64');
    const params = new Map<string, Value>();
    const weight = (w: { name: string; shape: readonly number[] }): Value => params.get(w.name) ?? params.set(w.name, b.param(w.name, w.shape, 'float64')).get(w.name)!;
    const ctx: CallContext = { training: false, weight, random: () => { throw new Error('no randomness'); } };
    const [y] = layer.lowerList(b, [x], ctx);
    const r = b.param('r', y.shape, 'float64');
    const graph = b.build([b.sum(b.mul(y, r))]);
    const next = rng(31);
    const rand = (n: number, s = 1): Float64Array => Float64Array.from({ length: n }, () => (next() - 0.5) * s);
    const feeds: Record<string, Float64Array> = { x: rand(T * 9, 2), r: rand(y.shape.reduce((p, q) => p * q, 1)) };
    for (const w of layer.weights) feeds[w.name] = rand(w.shape.reduce((p, q) => p * q, 1), 1.2);
    const names = ['x', ...layer.weights.map((w) => w.name)];
    const g = grad(graph, 0, names);
    const analytic = interpret(g.builder.build(g.grads as Value[]), feeds);
    const loss = (fs: Record<string, Float64Array>): number => interpret(graph, fs)[0][0];
    names.forEach((name, i) => {
      const numeric = Array.from(feeds[name], (_, k) => {
        const plus = feeds[name].slice();
        const minus = feeds[name].slice();
        plus[k] += 1e-6;
        minus[k] -= 1e-6;
        return (loss({ ...feeds, [name]: plus }) - loss({ ...feeds, [name]: minus })) / 2e-6;
      });
      expect(analytic[i], name).toBeAllClose(numeric, { rtol: 1e-6, atol: 1e-8 });
    });
  });

  it('trains (dropout and recurrent dropout on) and survives a JSON round trip', async () => {
    const model = new Sequential([
      new layers.ConvLSTM2D(2, 3, { inputShape: [T, 4, 4, 1], padding: 'same', dropout: 0.2, recurrentDropout: 0.2, name: 'clstm' }),
      new layers.Flatten(),
      new layers.Dense(1),
    ]);
    const x = tensor(data(7, 8 * T * 16), [8, T, 4, 4, 1]);
    const y = tensor(data(8, 8), [8, 1]);
    model.compile({ optimizer: new optimizers.SGD({ lr: 0.05 }), loss: 'mse' });
    const before = model.getWeights()[0].data.slice();
    const h = await model.fit(x, y, { epochs: 4, batchSize: 8, verbose: 0 });
    expect(h.history.loss.every(Number.isFinite)).toBe(true);
    expect(model.getWeights()[0].data.some((v, i) => v !== before[i])).toBe(true);
    const json = JSON.parse(model.toJSON());
    expect(json.config.layers[0].config).toMatchObject({ filters: 2, kernel_size: [3, 3], padding: 'same', data_format: 'channels_last', unit_forget_bias: true, recurrent_activation: 'hard_sigmoid', dropout: 0.2 });
    const copy = modelFromJSON(model.toJSON()) as Sequential;
    copy.setWeights(model.getWeights());
    expect(((await copy.predict(x)) as Tensor).data).toBeAllClose((await model.predict(x)).data, { rtol: 1e-6, atol: 1e-7 });
    model.dispose();
    copy.dispose();
  });

  it('errors name the layer: rank, masks, stateful without a batch size', () => {
    expect(() => new Sequential([new layers.ConvLSTM2D(2, 3, { inputShape: [4, 4, 1], name: 'c' })])).toThrow(/ConvLSTM2D c expects an input of rank 5 \(batch, time, rows, cols, channels\), got shape \(None, 4, 4, 1\)/);
    expect(() => new Sequential([new layers.ConvLSTM2D(2, 3, { inputShape: [T, 4, 4, 1], stateful: true, name: 'd' })])).toThrow(/ConvLSTM2D d: a stateful RNN needs a fixed batch size/);
    expect(() => new layers.ConvLSTM2D(2, 3, { strides: 2, dilationRate: 2 })).toThrow(/strides > 1 together with dilationRate > 1/);
  });
});
