/**
 * Dropout and recurrent dropout on every cell of StackedRNNCells, as Keras
 * 2 does: each cell draws its own masks (input masks from its own input,
 * the h of the cell below, one per gate with implementation 1), once per
 * sequence, reused at every step. Checked against a float64 reference of
 * the stacked SimpleRNN / LSTM cells written here from Keras 2.2's cell
 * code, fed the same uniform draws; and a model with dropout on every
 * cell trains.
 */
import { describe, expect, it } from 'vitest';
import { GraphBuilder, type Value } from '../../ir/graph.js';
import { interpret } from '../../ir/interpret.js';
import { Sequential, layers, setBackend, tensor } from '../../src/index.js';
import { type CallContext, type Layer, seedFromName } from '../../src/layers/base.js';
import { TEST_BACKEND } from '../helpers/backend.js';
import { rng } from '../helpers/nd.js';

setBackend(TEST_BACKEND);

const B = 2;
const T = 4;
const F = 3;
type Vec = number[];

const hardSigmoid = (v: number): number => Math.min(1, Math.max(0, 0.2 * v + 0.5));
/** v . w[:, from:from+n] for w [rows, cols] row-major. */
const dot = (v: Vec, w: Float32Array, cols: number, from: number, n: number): Vec => Array.from({ length: n }, (_, j) => v.reduce((s, x, k) => s + x * w[k * cols + from + j], 0));
const add = (...vs: Vec[]): Vec => vs[0].map((_, j) => vs.reduce((s, v) => s + v[j], 0));
const times = (v: Vec, m: Vec): Vec => v.map((x, j) => x * m[j]);

interface CellRef { kind: 'SimpleRNN' | 'LSTM'; units: number; w: Float32Array[]; inMasks: Vec[]; recMasks: Vec[] }

/** One step of a Keras 2.2 cell with its masks (implementation 1: one mask per gate, in gate order i, f, c, o). */
function cellStep(c: CellRef, x: Vec, states: Vec[]): Vec[] {
  const [W, U, bias] = c.w;
  const n = c.units;
  const gates = c.kind === 'LSTM' ? 4 : 1;
  const width = gates * n;
  const inM = (g: number): Vec => c.inMasks[Math.min(g, c.inMasks.length - 1)] ?? x.map(() => 1);
  const recM = (g: number): Vec => c.recMasks[Math.min(g, c.recMasks.length - 1)] ?? states[0].map(() => 1);
  const pre = (g: number): Vec => add(dot(times(x, inM(g)), W, width, g * n, n), Array.from(bias.subarray(g * n, (g + 1) * n)), dot(times(states[0], recM(g)), U, width, g * n, n));
  if (c.kind === 'SimpleRNN') return [pre(0).map(Math.tanh)];
  const [i, f, cc, o] = [pre(0).map(hardSigmoid), pre(1).map(hardSigmoid), pre(2).map(Math.tanh), pre(3).map(hardSigmoid)];
  const cNew = states[1].map((v, j) => f[j] * v + i[j] * cc[j]);
  return [o.map((v, j) => v * Math.tanh(cNew[j])), cNew];
}

describe('dropout on every cell of StackedRNNCells', () => {
  it.each([['SimpleRNN', 0.4, 0.3], ['LSTM', 0.5, 0.25]] as const)('%s cells: each cell\'s own input and recurrent masks, reused at every step, match the float64 reference', (kind, rate, recRate) => {
    const make = (units: number): Layer => (kind === 'LSTM' ? new layers.LSTMCell(units, { dropout: rate, recurrentDropout: recRate }) : new layers.SimpleRNNCell(units, { dropout: rate, recurrentDropout: recRate })) as unknown as Layer;
    const rnn = new layers.RNN(new layers.StackedRNNCells([make(3), make(2), make(2)] as never), { returnSequences: true, name: 'stack' });
    rnn.shapesFor([[null, T, F]]);
    const next = rng(3);
    const b = new GraphBuilder();
    const x = b.param('x', [B, T, F]);
    const feeds: Record<string, Float32Array> = { x: Float32Array.from({ length: B * T * F }, () => next() - 0.5) };
    const params = new Map<string, Value>();
    const weight = (w: { name: string; shape: readonly number[] }): Value => params.get(w.name) ?? params.set(w.name, b.param(w.name, w.shape)).get(w.name)!;
    const draws = new Map<number, number[]>();
    const ctx: CallContext = {
      training: true,
      weight,
      random: (seed, shape) => {
        draws.set(seed, [...shape]);
        return b.param(`u${seed}`, shape);
      },
    };
    const [y] = rnn.lowerList(b, [x], ctx);
    for (const w of rnn.weights) feeds[w.name] = Float32Array.from({ length: w.shape.reduce((p, q) => p * q, 1) }, () => (next() - 0.5) * 1.4);
    for (const [seed, shape] of draws) feeds[`u${seed}`] = Float32Array.from({ length: shape.reduce((p, q) => p * q, 1) }, () => next());
    const got = interpret(b.build([y]), feeds)[0];
    // Each of the three cells drew input and recurrent masks of its own (6 draws, distinct seeds).
    expect(draws.size).toBe(6);
    const cells = [0, 1, 2].map((i): CellRef => {
      const name = `stack/cell_${i}`;
      const units = i === 0 ? 3 : 2;
      const features = i === 0 ? F : i === 1 ? 3 : 2;
      const masksOf = (salt: number, r: number, width: number): (b: number) => Vec[] => (s) => {
        const u = feeds[`u${(seedFromName(name) + salt) >>> 0}`];
        const shape = draws.get((seedFromName(name) + salt) >>> 0)!;
        expect(shape).toEqual([kind === 'LSTM' ? 4 : 1, B, width]);
        return Array.from({ length: shape[0] }, (_, g) => Array.from({ length: width }, (_, j) => (u[(g * B + s) * width + j] >= r ? 1 / (1 - r) : 0)));
      };
      const w = rnn.weights.filter((q) => q.name.startsWith(`${name}/`)).map((q) => feeds[q.name]);
      return { kind, units, w, inMasks: [], recMasks: [], ...{ inOf: masksOf(1, rate, features), recOf: masksOf(2, recRate, units) } } as CellRef & { inOf: (s: number) => Vec[]; recOf: (s: number) => Vec[] };
    });
    const want: number[] = [];
    for (let s = 0; s < B; s++) {
      const own = cells.map((c) => ({ ...c, inMasks: (c as unknown as { inOf: (s: number) => Vec[] }).inOf(s), recMasks: (c as unknown as { recOf: (s: number) => Vec[] }).recOf(s) }));
      let states = own.map((c) => Array.from({ length: kind === 'LSTM' ? 2 : 1 }, () => new Array<number>(c.units).fill(0)));
      for (let t = 0; t < T; t++) {
        let input = Array.from(feeds.x.subarray((s * T + t) * F, (s * T + t + 1) * F));
        states = own.map((c, i) => {
          const next2 = cellStep(c, input, states[i]);
          input = next2[0];
          return next2;
        });
        want.push(...input);
      }
    }
    expect(got).toBeAllClose(want, { rtol: 1e-5, atol: 1e-6 });
    // Dropout really is on in the upper cells: their masks hold zeros.
    expect(cells.slice(1).some((c) => (c as unknown as { inOf: (s: number) => Vec[] }).inOf(0).flat().includes(0))).toBe(true);
  });

  it('fit runs with dropout on every stacked cell (active in training only) and moves the upper cells\' weights', async () => {
    const build = (rate: number): Sequential => new Sequential([
      new layers.RNN(new layers.StackedRNNCells([new layers.LSTMCell(4, { dropout: rate, recurrentDropout: rate }), new layers.GRUCell(3, { dropout: rate, recurrentDropout: rate, implementation: 2 })]), { inputShape: [5, 2] }),
      new layers.Dense(1),
    ]);
    const [dropped, plain] = [build(0.5), build(0)];
    plain.setWeights(dropped.getWeights());
    const before = dropped.getWeights().map((w) => w.data.slice());
    const next = rng(17);
    const x = tensor(Float32Array.from({ length: 8 * 5 * 2 }, () => next() - 0.5), [8, 5, 2]);
    const y = tensor(Float32Array.from({ length: 8 }, () => next()), [8, 1]);
    // Inference runs without dropout: both give the same predictions.
    expect((await dropped.predict(x)).data).toBeAllClose((await plain.predict(x)).data, { rtol: 1e-6, atol: 1e-7 });
    for (const m of [dropped, plain]) m.compile({ optimizer: 'sgd', loss: 'mse' });
    const [hd, hp] = [await dropped.fit(x, y, { epochs: 2, batchSize: 8, shuffle: false, verbose: 0 }), await plain.fit(x, y, { epochs: 2, batchSize: 8, shuffle: false, verbose: 0 })];
    expect(hd.history.loss.every(Number.isFinite)).toBe(true);
    // Training draws masks: the losses differ from the model without dropout.
    expect(Math.abs(hd.history.loss[0] - hp.history.loss[0])).toBeGreaterThan(1e-6);
    // The GRU cell's kernel (weights 3) moved.
    const moved = dropped.getWeights()[3].data.some((v, i) => Math.abs(v - before[3][i]) > 1e-7);
    expect(moved).toBe(true);
    for (const m of [dropped, plain]) m.dispose();
  });
});
