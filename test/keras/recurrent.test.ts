/**
 * Recurrent layers against an independent float64 reference written here
 * from Keras 2.2's cell formulas (keras/layers/recurrent.py): each cell type,
 * GRU's reset_after both ways, go_backwards, masks with gaps (masked steps
 * carry the state), return_sequences, return_state, stacked layers, initial
 * states; LSTM/GRU implementation 1 and 2 equal; stateful layers keep their
 * states between predict calls until resetStates(); each layer's gradients
 * against float64 finite differences; training runs (dropout and recurrent
 * dropout on); the errors Keras users hit.
 */
import { describe, expect, it } from 'vitest';
import { GraphBuilder, type Value } from '../../ir/graph.js';
import { Input, Model, Sequential, type Tensor, layers, modelFromJSON, optimizers, setBackend, tensor } from '../../src/index.js';
import type { CallContext, Layer } from '../../src/layers/index.js';
import { TEST_BACKEND } from '../helpers/backend.js';
import { expectGradientsMatch } from '../helpers/finite_differences.js';
import { rng } from '../helpers/nd.js';

setBackend(TEST_BACKEND);

type Vec = number[];
type Cell = 'SimpleRNN' | 'GRU' | 'GRU_after' | 'LSTM';
const sigmoid = (v: number): number => 1 / (1 + Math.exp(-v));
const hardSigmoid = (v: number): number => Math.min(1, Math.max(0, 0.2 * v + 0.5));

/** x [T][F] . W [F][n] + ... : rows of a weight stored row-major. */
function dot(v: Vec, w: Float32Array | number[], cols: number, from: number, n: number): Vec {
  return Array.from({ length: n }, (_, j) => v.reduce((s, x, k) => s + x * w[k * cols + from + j], 0));
}

interface Ref { outputs: Vec[]; states: Vec[] }

/** One sample through a Keras 2.2 cell: weights in get_weights() order, mask per step (true = use the step). */
function reference(cell: Cell, units: number, weights: Float32Array[], xs: Vec[], mask: boolean[] | null, backwards: boolean, init?: Vec[]): Ref {
  const [W, U, bias] = weights;
  const gates = cell === 'LSTM' ? 4 : cell === 'SimpleRNN' ? 1 : 3;
  const width = gates * units;
  const order = xs.map((_, t) => (backwards ? xs.length - 1 - t : t));
  let h = init?.[0] ?? new Array<number>(units).fill(0);
  let c = init?.[1] ?? new Array<number>(units).fill(0);
  const outputs: Vec[] = [];
  const b = (g: number, row = 0): Vec => Array.from({ length: units }, (_, j) => (bias ? bias[row * width + g * units + j] : 0));
  const add = (...vs: Vec[]): Vec => vs[0].map((_, j) => vs.reduce((s, v) => s + v[j], 0));
  for (const t of order) {
    const x = xs[t];
    const xg = (g: number): Vec => add(dot(x, W, width, g * units, units), b(g));
    const hg = (g: number, v: Vec = h): Vec => dot(v, U, width, g * units, units);
    let hNew: Vec;
    let cNew = c;
    if (cell === 'SimpleRNN') hNew = add(xg(0), hg(0)).map(Math.tanh);
    else if (cell === 'LSTM') {
      const i = add(xg(0), hg(0)).map(hardSigmoid);
      const f = add(xg(1), hg(1)).map(hardSigmoid);
      const cc = add(xg(2), hg(2)).map(Math.tanh);
      const o = add(xg(3), hg(3)).map(hardSigmoid);
      cNew = c.map((cv, j) => f[j] * cv + i[j] * cc[j]);
      hNew = o.map((ov, j) => ov * Math.tanh(cNew[j]));
    } else {
      const after = cell === 'GRU_after';
      const xb = (g: number): Vec => add(dot(x, W, width, g * units, units), b(g, 0));
      const rb = (g: number): Vec => (after ? b(g, 1) : new Array<number>(units).fill(0));
      const z = add(xb(0), hg(0), rb(0)).map(hardSigmoid);
      const r = add(xb(1), hg(1), rb(1)).map(hardSigmoid);
      const hh = after
        ? add(xb(2), add(hg(2), rb(2)).map((v, j) => v * r[j])).map(Math.tanh)
        : add(xb(2), hg(2, h.map((v, j) => v * r[j]))).map(Math.tanh);
      hNew = h.map((hv, j) => z[j] * hv + (1 - z[j]) * hh[j]);
    }
    if (mask && !mask[t]) {
      hNew = h;
      cNew = c;
    }
    h = hNew;
    c = cNew;
    outputs.push(h);
  }
  return { outputs, states: cell === 'LSTM' ? [h, c] : [h] };
}

function makeLayer(cell: Cell, units: number, args: Record<string, unknown>): Layer {
  if (cell === 'SimpleRNN') return new layers.SimpleRNN(units, args);
  if (cell === 'LSTM') return new layers.LSTM(units, args);
  return new layers.GRU(units, { ...args, resetAfter: cell === 'GRU_after' });
}

function randomWeights(layer: Layer, seed: number): Tensor[] {
  const next = rng(seed);
  return layer.weights.map((w) => tensor(Array.from({ length: w.shape.reduce((p, q) => p * q, 1) }, () => (next() - 0.5) * 1.2), [...w.shape]));
}

const B = 3;
const T = 5;
const F = 4;
const U = 3;

function inputs(seed: number): number[][][] {
  const next = rng(seed);
  return Array.from({ length: B }, () => Array.from({ length: T }, () => Array.from({ length: F }, () => (next() - 0.5) * 2)));
}

/** Sample b's mask: a gap in the middle, masked steps at the ends; all zero features there (Masking(0)). */
const MASKS = [[true, false, true, true, false], [false, true, true, false, true], [true, true, true, true, true]];

const rows = (t: Tensor, b: number, n: number): number[] => Array.from(t.data.subarray(b * n, (b + 1) * n));

describe('recurrent layers against the float64 reference', () => {
  const cells: Cell[] = ['SimpleRNN', 'GRU', 'GRU_after', 'LSTM'];
  const variants = [
    { returnSequences: false, goBackwards: false, masked: false },
    { returnSequences: true, goBackwards: false, masked: true },
    { returnSequences: true, goBackwards: true, masked: false },
    { returnSequences: false, goBackwards: true, masked: true },
  ];
  it.each(cells.flatMap((c) => variants.map((v) => [c, v] as const)))('%s %o', async (cell, v) => {
    const xs = inputs(3).map((seq, b) => seq.map((step, t) => (v.masked && !MASKS[b][t] ? step.map(() => 0) : step)));
    const input = Input({ shape: [T, F] });
    const layer = makeLayer(cell, U, { returnSequences: v.returnSequences, goBackwards: v.goBackwards, returnState: true });
    const seq = v.masked ? new layers.Masking({ maskValue: 0 }).apply(input) : input;
    const outs = layer.applyMulti(seq);
    const model = new Model({ inputs: input, outputs: outs });
    const weights = randomWeights(layer, 7);
    layer.setWeights(weights);
    const got = (await model.predict(tensor(xs))) as Tensor[];
    expect(got.length).toBe(cell === 'LSTM' ? 3 : 2);
    for (let b = 0; b < B; b++) {
      const ref = reference(cell, U, weights.map((w) => w.data as Float32Array), xs[b], v.masked ? MASKS[b] : null, v.goBackwards);
      const want = v.returnSequences ? ref.outputs.flat() : ref.outputs[T - 1];
      expect(rows(got[0], b, want.length), `output of sample ${b}`).toBeAllClose(want, { rtol: 1e-5, atol: 1e-5 });
      ref.states.forEach((s, i) => expect(rows(got[1 + i], b, U), `state ${i} of sample ${b}`).toBeAllClose(s, { rtol: 1e-5, atol: 1e-5 }));
    }
    model.dispose();
  });

  it('stacked layers with initial states given as inputs', async () => {
    const x = Input({ shape: [T, F] });
    const h0 = Input({ shape: [U] });
    const c0 = Input({ shape: [U] });
    const lstm = new layers.LSTM(U, { returnSequences: true });
    const gru = new layers.GRU(2);
    const y = gru.apply(lstm.apply([x, h0, c0]));
    const model = new Model({ inputs: [x, h0, c0], outputs: y });
    const wl = randomWeights(lstm, 1);
    const wg = randomWeights(gru, 2);
    lstm.setWeights(wl);
    gru.setWeights(wg);
    const xs = inputs(5);
    const init = [[[0.1, -0.2, 0.3], [0, 0.5, -0.5], [1, 1, -1]], [[0.2, 0.2, 0.2], [-0.3, 0, 0.1], [0.4, -0.4, 0]]];
    const got = (await model.predict([tensor(xs), tensor(init[0]), tensor(init[1])])) as Tensor;
    for (let b = 0; b < B; b++) {
      const first = reference('LSTM', U, wl.map((w) => w.data as Float32Array), xs[b], null, false, [init[0][b], init[1][b]]);
      const second = reference('GRU', 2, wg.map((w) => w.data as Float32Array), first.outputs, null, false);
      expect(rows(got, b, 2)).toBeAllClose(second.states[0], { rtol: 1e-5, atol: 1e-5 });
    }
    model.dispose();
  });

  it.each(['LSTM', 'GRU'] as const)('%s implementation 1 and 2 give the same numbers', async (cell) => {
    const xs = tensor(inputs(9));
    const results: Float32Array[] = [];
    for (const implementation of [1, 2]) {
      const layer = makeLayer(cell, U, { implementation, returnSequences: true });
      const model = new Sequential([new layers.InputLayer({ inputShape: [T, F] }), layer]);
      layer.setWeights(randomWeights(layer, 4));
      results.push((await model.predict(xs)).data as Float32Array);
      model.dispose();
    }
    expect(results[1]).toEqual(results[0]);
  });
});

describe('stateful recurrent layers', () => {
  it('carry their states from one predict call to the next until resetStates()', async () => {
    const layer = new layers.SimpleRNN(U, { stateful: true, returnSequences: true });
    const model = new Sequential([new layers.InputLayer({ batchInputShape: [B, T, F] }), layer]);
    const weights = randomWeights(layer, 11);
    layer.setWeights(weights);
    const xs = inputs(12);
    const first = await model.predict(tensor(xs), { batchSize: B });
    const second = await model.predict(tensor(xs), { batchSize: B });
    model.resetStates();
    const third = await model.predict(tensor(xs), { batchSize: B });
    expect(third.data).toEqual(first.data);
    for (let b = 0; b < B; b++) {
      const w = weights.map((t) => t.data as Float32Array);
      const once = reference('SimpleRNN', U, w, xs[b], null, false);
      const twice = reference('SimpleRNN', U, w, xs[b], null, false, once.states);
      expect(rows(second, b, T * U)).toBeAllClose(twice.outputs.flat(), { rtol: 1e-5, atol: 1e-5 });
    }
    model.dispose();
  });
});

describe('recurrent layer gradients (float64 finite differences)', () => {
  const cases: [Cell, Record<string, unknown>][] = [
    ['SimpleRNN', { returnSequences: true }], ['GRU', {}], ['GRU_after', { goBackwards: true }], ['LSTM', { returnSequences: true }],
  ];
  it.each(cases)('%s %o', (cell, args) => {
    const layer = makeLayer(cell, U, args);
    layer.shapesFor([[null, T, F]]);
    const b = new GraphBuilder();
    const x = b.param('x', [2, T, F], 'float64');
    const m = b.param('m', [2, T], 'float64');
    const params = new Map<string, Value>();
    const weight = (w: { name: string; shape: readonly number[] }): Value => params.get(w.name) ?? params.set(w.name, b.param(w.name, w.shape, 'float64')).get(w.name)!;
    const ctx: CallContext = { training: false, weight, random: () => { throw new Error('no randomness'); } };
    const [y] = layer.lowerList(b, [x], ctx, [b.binary('gt', m, 0)]);
    const r = b.param('r', y.shape, 'float64');
    const graph = b.build([b.sum(b.mul(y, r))]);
    const next = rng(31);
    const rand = (n: number, s = 1): Float64Array => Float64Array.from({ length: n }, () => (next() - 0.5) * s);
    const feeds: Record<string, Float64Array> = { x: rand(2 * T * F, 2), m: Float64Array.from({ length: 2 * T }, (_, i) => (i === 2 || i === 7 ? 0 : 1)), r: rand(y.shape.reduce((p, q) => p * q, 1)) };
    for (const w of layer.weights) feeds[w.name] = rand(w.shape.reduce((p, q) => p * q, 1), 1.2);
    // hard_sigmoid has kinks; samples sit away from them, so the tolerance stays tight.
    expectGradientsMatch(graph, feeds, ['x', ...layer.weights.map((w) => w.name)], { rtol: 1e-5, atol: 1e-7 });
  });
});

describe('training recurrent models', () => {
  it('an LSTM with dropout and recurrent dropout learns to tell rising from falling sequences', async () => {
    const n = 64;
    const next = rng(41);
    const xs: number[][][] = [];
    const ys: number[][] = [];
    for (let i = 0; i < n; i++) {
      const up = i % 2 === 0;
      const start = next();
      xs.push(Array.from({ length: 6 }, (_, t) => [start + (up ? 0.15 : -0.15) * t + (next() - 0.5) * 0.05]));
      ys.push([up ? 1 : 0]);
    }
    const model = new Sequential([new layers.LSTM(8, { inputShape: [6, 1], dropout: 0.1, recurrentDropout: 0.1 }), new layers.Dense(1, { activation: 'sigmoid' })]);
    model.compile({ optimizer: new optimizers.Adam(0.02), loss: 'binary_crossentropy', metrics: ['accuracy'] });
    const history = await model.fit(tensor(xs), tensor(ys), { epochs: 30, batchSize: 16, verbose: 0 });
    const loss = history.history.loss as number[];
    expect(loss[loss.length - 1]).toBeLessThan(loss[0] * 0.6);
    const [, acc] = (await model.evaluate(tensor(xs), tensor(ys), { verbose: 0 })) as number[];
    expect(acc).toBeGreaterThan(0.9);
    model.dispose();
  });
});

describe('recurrent layer errors', () => {
  it('a 2-D input names the layer and the shape', () => {
    expect(() => new Sequential([new layers.InputLayer({ inputShape: [4] }), new layers.LSTM(3, { name: 'enc' })])).toThrow(/enc \(LSTM\) expects an input of rank 3 .*got shape \(None, 4\)/);
  });

  it('stateful without a fixed batch size', () => {
    expect(() => new layers.GRU(3, { stateful: true, inputShape: [T, F] })).toThrow(/GRU gru_\d+: a stateful RNN needs a fixed batch size/);
    const x = Input({ shape: [T, F] });
    expect(() => new layers.SimpleRNN(2, { stateful: true }).apply(x)).toThrow(/a stateful RNN needs a fixed batch size.*\(None, 5, 4\)/);
  });

  it('a batch whose size differs from a stateful model\'s', async () => {
    const model = new Sequential([new layers.InputLayer({ batchInputShape: [4, T, F] }), new layers.LSTM(2, { stateful: true, name: 'keeper' })]);
    await expect(model.predict(tensor(inputs(1).slice(0, 2)))).rejects.toThrow(/keeper: this stateful layer was built for batches of 4 samples, got a batch of 2/);
    model.dispose();
  });

  it('initial_state of the wrong shape or count', () => {
    const x = Input({ shape: [T, F] });
    expect(() => new layers.LSTM(U, { name: 'l' }).apply([x, Input({ shape: [U + 1] }), Input({ shape: [U] })])).toThrow(/LSTM l: initial state 0 must have shape \(batch, 3\), got \(None, 4\)/);
    expect(() => new layers.LSTM(U, { name: 'm' }).apply([x, Input({ shape: [U] })])).toThrow(/LSTM m: initial_state needs 2 tensor\(s\)/);
  });

  it('rates outside [0, 1) and an unknown implementation', () => {
    expect(() => new layers.LSTM(2, { dropout: 1 })).toThrow(/LSTM lstm_\d+: dropout must be a number in \[0, 1\), got 1/);
    expect(() => new layers.GRU(2, { implementation: 3 })).toThrow(/implementation must be 1 or 2, got 3/);
  });
});

describe('RNN over cells', () => {
  it('RNN(LSTMCell) is LSTM, and StackedRNNCells runs its cells in one loop (masks, return_state), and both survive a JSON round trip', async () => {
    const xs = inputs(13).map((seq, b) => seq.map((step, t) => (MASKS[b][t] ? step : step.map(() => 0))));
    const input = Input({ shape: [T, F] });
    const single = new layers.RNN(new layers.LSTMCell(U), { returnSequences: true });
    const stacked = new layers.RNN(new layers.StackedRNNCells([new layers.LSTMCell(U), new layers.GRUCell(2, { resetAfter: true })]), { returnState: true });
    const masked = new layers.Masking({ maskValue: 0 }).apply(input);
    const outs = [single.apply(masked), ...stacked.applyMulti(masked)];
    const model = new Model({ inputs: input, outputs: outs });
    const w1 = randomWeights(single, 21);
    const w2 = randomWeights(stacked, 22);
    single.setWeights(w1);
    stacked.setWeights(w2);
    expect(stacked.weights.map((w) => w.shape)).toEqual([[F, 4 * U], [U, 4 * U], [4 * U], [U, 6], [2, 6], [2, 6]]);
    const got = (await model.predict(tensor(xs))) as Tensor[];
    const f32 = (ts: Tensor[]): Float32Array[] => ts.map((t) => t.data as Float32Array);
    for (let b = 0; b < B; b++) {
      const one = reference('LSTM', U, f32(w1), xs[b], MASKS[b], false);
      expect(rows(got[0], b, T * U)).toBeAllClose(one.outputs.flat(), { rtol: 1e-5, atol: 1e-5 });
      // The stack: LSTM states carried over masked steps, the GRU fed the LSTM's h at each step.
      const lower = reference('LSTM', U, f32(w2.slice(0, 3)), xs[b], MASKS[b], false);
      const upper = reference('GRU_after', 2, f32(w2.slice(3)), lower.outputs, MASKS[b], false);
      expect(rows(got[1], b, 2)).toBeAllClose(upper.states[0], { rtol: 1e-5, atol: 1e-5 });
      [...lower.states, ...upper.states].forEach((s, i) => expect(rows(got[2 + i], b, s.length), `state ${i}`).toBeAllClose(s, { rtol: 1e-5, atol: 1e-5 }));
    }
    const again = modelFromJSON(model.toJSON());
    again.setWeights(model.getWeights());
    const copy = (await again.predict(tensor(xs))) as Tensor[];
    copy.forEach((t, i) => expect(t.data).toEqual(got[i].data));
    expect(JSON.parse(model.toJSON()).config.layers[3].config.cell.class_name).toBe('StackedRNNCells');
    model.dispose();
    again.dispose();
  });
});

describe('CuDNNLSTM and CuDNNGRU', () => {
  it('load from a Keras config and run as LSTM / GRU(reset_after) with sigmoid gates and the cuDNN bias layout', async () => {
    const json = (cls: string, units: number): string => JSON.stringify({
      class_name: 'Sequential',
      config: { name: 'seq', layers: [{ class_name: cls, config: { name: `cudnn_${cls}`, trainable: true, batch_input_shape: [null, T, F], dtype: 'float32', units, return_sequences: true, return_state: false, go_backwards: false, stateful: false, kernel_initializer: { class_name: 'VarianceScaling', config: { scale: 1, mode: 'fan_avg', distribution: 'uniform', seed: null } }, recurrent_initializer: { class_name: 'Orthogonal', config: { gain: 1, seed: null } }, bias_initializer: { class_name: 'Zeros', config: {} }, ...(cls === 'CuDNNLSTM' ? { unit_forget_bias: true } : {}), kernel_regularizer: null, recurrent_regularizer: null, bias_regularizer: null, activity_regularizer: null, kernel_constraint: null, recurrent_constraint: null, bias_constraint: null } }] },
    });
    const xs = tensor(inputs(17));
    for (const cls of ['CuDNNLSTM', 'CuDNNGRU'] as const) {
      const cudnn = modelFromJSON(json(cls, U));
      const gates = cls === 'CuDNNLSTM' ? 4 : 3;
      expect(cudnn.getWeights().map((w) => w.shape)).toEqual([[F, gates * U], [U, gates * U], [2 * gates * U]]);
      const weights = randomWeights(cudnn.layers[0], 3);
      cudnn.setWeights(weights);
      const b = weights[2].data;
      const plain = cls === 'CuDNNLSTM'
        ? new layers.LSTM(U, { returnSequences: true, recurrentActivation: 'sigmoid', inputShape: [T, F] })
        : new layers.GRU(U, { returnSequences: true, recurrentActivation: 'sigmoid', resetAfter: true, inputShape: [T, F] });
      const model = new Sequential([plain]);
      const n = gates * U;
      const bias = cls === 'CuDNNLSTM' ? tensor(Array.from({ length: n }, (_, i) => b[i] + b[n + i])) : tensor(Array.from(b), [2, n]);
      model.setWeights([weights[0], weights[1], bias]);
      expect(((await cudnn.predict(xs)) as Tensor).data, cls).toBeAllClose(((await model.predict(xs)) as Tensor).data, { rtol: 1e-6, atol: 1e-6 });
      cudnn.dispose();
      model.dispose();
    }
  });
});
