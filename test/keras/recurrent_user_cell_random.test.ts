/**
 * K's random ops inside a user cell's call (and a custom layer's): in
 * training every time step of every training step draws anew (different
 * masks per step, per sample and per training step, as Keras's draws inside
 * its loop); at inference K.dropout is the identity and other draws are
 * refused unless K.inTrainPhase traces them in training only. Statistics
 * of the draws, the compiled backend against the interpreter, gradients
 * through dropout against finite differences, and fit.
 */
import { describe, expect, it } from 'vitest';
import { GraphBuilder, type Graph, type Value } from '../../ir/graph.js';
import { interpret } from '../../ir/interpret.js';
import { AbstractRNNCell, K, type KTensor, Sequential, type Tensor, layers, optimizers, setBackend, tensor } from '../../src/index.js';
import type { CallContext, KShape, Layer, Weight } from '../../src/layers/index.js';
import { TEST_BACKEND, compileForTest } from '../helpers/backend.js';

import { MinimalRNNCell, data, expectLayerGradientsMatch } from '../helpers/user_cells.js';

setBackend(TEST_BACKEND);

const B = 8;
const T = 10;
const F = 16;
const RATE = 0.3;

/** Output K.dropout(x); new state K.dropout(x) again (a second draw): the masks show in the outputs of an input of ones. */
class DropoutProbeCell extends AbstractRNNCell {
  readonly className = 'DropoutProbeCell';
  readonly stateSize = F;

  override call(x: KTensor): [KTensor, KTensor[]] {
    return [K.dropout(x, RATE), [K.dropout(x, RATE)]];
  }
}

/** Draws of each kind, side by side: uniform in [-1, 3), normal (2, 0.5), binomial (0.25). */
class DrawsCell extends AbstractRNNCell {
  readonly className = 'DrawsCell';
  readonly stateSize = 1;
  override readonly outputSize = 3 * F;

  override call(x: KTensor, states: KTensor[]): [KTensor, KTensor[]] {
    const shape = [x.shape[0], F];
    const draws = [K.randomUniform(shape, -1, 3), K.randomNormal(shape, 2, 0.5), K.randomBinomial(shape, 0.25)];
    return [K.concatenate(draws, 1), states];
  }
}

/** MinimalRNNCell with Keras's dropout idioms: on the input (eager K.inTrainPhase) and on the state. */
class NoisyCell extends MinimalRNNCell {
  override readonly className = 'NoisyCell';

  override call(inputs: KTensor, states: KTensor[]): [KTensor, KTensor[]] {
    const x = K.inTrainPhase(K.dropout(inputs, 0.2), inputs) as KTensor;
    return super.call(x, [K.dropout(states[0], 0.1)]);
  }
}

/** `rnn` lowered in a training program whose random values are keyed by the int32 param `step`; the draws' shapes by seed. */
function trainingGraph(rnn: Layer, shape: number[]): { graph: Graph; draws: Map<number, number[]> } {
  rnn.shapesFor([[null, ...shape.slice(1)]]);
  const b = new GraphBuilder();
  const x = b.param('x', shape);
  const step = b.param('step', [], 'int32');
  const draws = new Map<number, number[]>();
  const weights = new Map<string, Value>();
  const ctx: CallContext = {
    training: true,
    weight: (w) => weights.get(w.name) ?? weights.set(w.name, b.param(w.name, w.shape)).get(w.name)!,
    random: (seed, s) => {
      draws.set(seed, [...s]);
      return b.random(seed, s, step);
    },
  };
  return { graph: b.build(rnn.lowerList(b, [x], ctx)), draws };
}

const ones = (n: number): Float32Array => new Float32Array(n).fill(1);
/** Row (sample b, step t) of outputs [B, T, F]. */
const row = (y: ArrayLike<number>, b: number, t: number): number[] => Array.from({ length: F }, (_, j) => y[(b * T + t) * F + j]);

describe('K random ops in a user cell', () => {
  it('K.dropout draws a new mask at every time step, for every sample and every training step; each call its own', async () => {
    const rnn = new layers.RNN(new DropoutProbeCell(), { returnSequences: true, returnState: true });
    const { graph, draws } = trainingGraph(rnn, [B, T, F]);
    // Two draws, each one uniform tensor over all the steps.
    expect([...draws.values()]).toEqual([[T, B, F], [T, B, F]]);
    const run = (step: number): Float32Array[] => interpret(graph, { x: ones(B * T * F), step: Int32Array.of(step) }) as Float32Array[];
    const [y, state] = run(0);
    expect(new Set(y)).toEqual(new Set([0, Math.fround(1 / (1 - RATE))]));
    const dropped = y.filter((v) => v === 0).length / y.length;
    expect(Math.abs(dropped - RATE)).toBeLessThan(0.05);
    const stepMask = (t: number): number[] => Array.from({ length: B }, (_, b) => row(y, b, t)).flat();
    const sampleMask = (b: number): number[] => Array.from({ length: T }, (_, t) => row(y, b, t)).flat();
    for (let t = 1; t < T; t++) expect(stepMask(t), `step ${t}`).not.toEqual(stepMask(t - 1));
    for (let b = 1; b < B; b++) expect(sampleMask(b), `sample ${b}`).not.toEqual(sampleMask(b - 1));
    expect(Array.from(state)).not.toEqual(stepMask(T - 1));
    expect(Array.from(run(1)[0])).not.toEqual(Array.from(y));
    expect(Array.from(run(0)[0])).toEqual(Array.from(y));
    // The compiled backend draws the same values inside its loop.
    const program = await compileForTest(graph, 'dropout_cell');
    program.write('x', ones(B * T * F));
    program.write('step', Int32Array.of(1));
    expect((await program.run())[0]).toBeAllClose(run(1)[0], { rtol: 1e-6, atol: 0 });
    program.dispose();
  });

  it('K.randomUniform, K.randomNormal and K.randomBinomial have their distributions', () => {
    const { graph } = trainingGraph(new layers.RNN(new DrawsCell(), { returnSequences: true }), [B, T, 2]);
    const y = interpret(graph, { x: ones(B * T * 2), step: Int32Array.of(3) })[0];
    const kind = (k: number): number[] => Array.from(y).filter((_, i) => Math.floor((i % (3 * F)) / F) === k);
    const mean = (v: number[]): number => v.reduce((p, q) => p + q, 0) / v.length;
    const std = (v: number[]): number => Math.sqrt(mean(v.map((q) => (q - mean(v)) ** 2)));
    const [u, n, bin] = [kind(0), kind(1), kind(2)];
    expect(Math.min(...u)).toBeGreaterThanOrEqual(-1);
    expect(Math.max(...u)).toBeLessThan(3);
    expect(Math.abs(mean(u) - 1)).toBeLessThan(0.15);
    expect(Math.abs(mean(n) - 2)).toBeLessThan(0.06);
    expect(Math.abs(std(n) - 0.5)).toBeLessThan(0.05);
    expect(new Set(bin)).toEqual(new Set([0, 1]));
    expect(Math.abs(mean(bin) - 0.25)).toBeLessThan(0.05);
  });

  it('gradients through dropout in the loop match float64 finite differences (the draws held fixed)', () => {
    const rnn = new layers.RNN(new NoisyCell(3), { returnSequences: true, goBackwards: true });
    expect(expectLayerGradientsMatch(rnn, [2, 4, 3], 51, true).size).toBe(2);
  });

  it('inference: dropout is the identity, predictions are deterministic; fit draws new masks every step and trains', async () => {
    const noisy = new Sequential([new layers.RNN(new NoisyCell(4), { inputShape: [5, 3] }), new layers.Dense(1)]);
    const plain = new Sequential([new layers.RNN(new MinimalRNNCell(4), { inputShape: [5, 3] }), new layers.Dense(1)]);
    plain.setWeights(noisy.getWeights());
    const x = data(61, [16, 5, 3]);
    const y = tensor(Float32Array.from({ length: 16 }, (_, i) => Math.sin(x.data[i * 15]) * 0.5), [16, 1]);
    const p1 = (await noisy.predict(x)).data;
    expect(Array.from((await noisy.predict(x)).data)).toEqual(Array.from(p1));
    expect(p1).toBeAllClose((await plain.predict(x)).data, { rtol: 1e-6, atol: 1e-7 });
    // With lr 0 the weights stay, so the epochs' losses differ only by their masks.
    for (const m of [noisy, plain]) m.compile({ optimizer: new optimizers.SGD({ lr: 0 }), loss: 'mse' });
    const still = (await noisy.fit(x, y, { epochs: 2, batchSize: 16, shuffle: false, verbose: 0 })).history.loss;
    const clean = (await plain.fit(x, y, { epochs: 1, batchSize: 16, verbose: 0 })).history.loss[0];
    expect(Math.abs(still[0] - still[1])).toBeGreaterThan(1e-6);
    expect(Math.abs(still[0] - clean)).toBeGreaterThan(1e-6);
    noisy.compile({ optimizer: new optimizers.SGD({ lr: 0.5 }), loss: 'mse' });
    const loss = (await noisy.fit(x, y, { epochs: 30, batchSize: 8, shuffle: false, verbose: 0 })).history.loss;
    expect(loss.every(Number.isFinite)).toBe(true);
    expect(loss[29]).toBeLessThan(0.6 * loss[0]);
    noisy.dispose();
    plain.dispose();
  });

  it('a noisy user cell in a stack beside an LSTMCell with dropout (and a mask) trains, and predicts as without dropout', async () => {
    const build = (rate: number): Sequential => new Sequential([
      new layers.Masking({ maskValue: 0, inputShape: [5, 3] }),
      new layers.RNN([rate ? new NoisyCell(4) : new MinimalRNNCell(4), new layers.LSTMCell(3, { dropout: rate, recurrentDropout: rate }), rate ? new NoisyCell(2) : new MinimalRNNCell(2)]),
      new layers.Dense(1),
    ]);
    const [noisy, plain] = [build(0.3), build(0)];
    plain.setWeights(noisy.getWeights());
    const x = data(71, [16, 5, 3]);
    x.data.fill(0, 3, 9);
    const y = tensor(Float32Array.from({ length: 16 }, (_, i) => Math.cos(x.data[i * 15 + 2]) * 0.5), [16, 1]);
    expect((await noisy.predict(x)).data).toBeAllClose((await plain.predict(x)).data, { rtol: 1e-6, atol: 1e-7 });
    noisy.compile({ optimizer: new optimizers.SGD({ lr: 0.5 }), loss: 'mse' });
    const loss = (await noisy.fit(x, y, { epochs: 30, batchSize: 8, shuffle: false, verbose: 0 })).history.loss;
    expect(loss[29]).toBeLessThan(0.6 * loss[0]);
    noisy.dispose();
    plain.dispose();
  });

  it('a draw other than dropout is refused at inference unless K.inTrainPhase traces it in training only', async () => {
    class Eager extends AbstractRNNCell {
      readonly className: string = 'Eager';
      readonly stateSize = 2;
      override call(x: KTensor, [h]: KTensor[]): [KTensor, KTensor[]] {
        const noisy = K.add(K.add(h, K.sum(x, -1, true)), K.randomNormal([x.shape[0], 2]));
        return [noisy, [noisy]];
      }
    }
    class Lazy extends Eager {
      override readonly className: string = 'Lazy';
      override call(x: KTensor, [h]: KTensor[]): [KTensor, KTensor[]] {
        const next = K.add(h, K.sum(x, -1, true));
        const out = K.inTrainPhase(() => K.add(next, K.randomNormal([x.shape[0], 2])), next) as KTensor;
        return [out, [out]];
      }
    }
    const x = data(81, [2, 3, 2]);
    const eager = new Sequential([new layers.RNN(new Eager({ name: 'eager' }), { inputShape: [3, 2], name: 'r' })]);
    await expect(eager.predict(x)).rejects.toThrow(/K.randomNormal: random values are only drawn in training programs.*K.inTrainPhase\(\(\) => \.\.\., alt\)/);
    const lazy = new Sequential([new layers.RNN(new Lazy(), { inputShape: [3, 2] })]);
    const sums = Array.from({ length: 2 }, (_, b) => Array.from({ length: 3 }, (_, t) => x.data[(b * 3 + t) * 2] + x.data[(b * 3 + t) * 2 + 1]).reduce((p, q) => p + q, 0));
    expect(((await lazy.predict(x)) as Tensor).data).toBeAllClose(sums.flatMap((s) => [s, s]), { rtol: 1e-5, atol: 1e-6 });
    eager.dispose();
    lazy.dispose();
  });
});

describe('K random ops in a custom layer', () => {
  class Noise extends layers.Layer {
    readonly className: string = 'Noise';

    override computeOutputShape(s: KShape): KShape {
      return s;
    }

    override call(x: KTensor | KTensor[]): KTensor {
      return K.dropout(x as KTensor, 0.5);
    }
  }

  it('K.dropout drops about half in training, new every training step, and is the identity at inference', async () => {
    const b = new GraphBuilder();
    const x = b.param('x', [64, 32]);
    const step = b.param('step', [], 'int32');
    const layer = new Noise();
    const ctx = (training: boolean): CallContext => ({ training, weight: (w: Weight) => b.param(w.name, w.shape), random: (seed, s) => b.random(seed, s, step) });
    const [train] = layer.lowerList(b, [x], ctx(true));
    const [infer] = layer.lowerList(b, [x], ctx(false));
    const graph = b.build([train, infer]);
    const run = (s: number): Float32Array[] => interpret(graph, { x: ones(64 * 32), step: Int32Array.of(s) }) as Float32Array[];
    const [y, same] = run(0);
    expect(new Set(y)).toEqual(new Set([0, 2]));
    expect(Math.abs(y.filter((v) => v === 0).length / y.length - 0.5)).toBeLessThan(0.05);
    expect(Array.from(run(1)[0])).not.toEqual(Array.from(y));
    expect(Array.from(same)).toEqual(Array.from(ones(64 * 32)));
    const certain = new (class extends Noise {
      override call(v: KTensor | KTensor[]): KTensor {
        return K.dropout(v as KTensor, 1);
      }
    })({ name: 'certain' });
    expect(() => certain.lowerList(b, [x], ctx(true))).toThrow(/K.dropout: level must be in \[0, 1\), got 1/);
  });
});
