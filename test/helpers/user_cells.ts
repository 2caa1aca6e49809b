/** RNN cells written as a user would (Keras 2.2's MinimalRNNCell pattern), for the recurrent tests. */
import { GraphBuilder, type Value } from '../../ir/graph.js';
import { AbstractRNNCell, K, type KTensor, type Tensor, layers, tensor } from '../../src/index.js';
import type { CallContext, KShape, Layer, Weight } from '../../src/layers/index.js';
import { expectGradientsMatch } from './finite_differences.js';
import { rng } from './nd.js';

/** Keras's MinimalRNNCell with a tanh: h' = tanh(x W + h U). */
export class MinimalRNNCell extends AbstractRNNCell {
  readonly className: string = 'MinimalRNNCell';
  readonly stateSize: number;
  kernel: Weight | null = null;
  recurrentKernel: Weight | null = null;

  constructor(readonly units: number, args: layers.LayerArgs = {}) {
    super(args);
    this.stateSize = units;
  }

  override build(inputShape: KShape): void {
    this.kernel = this.addWeight('kernel', [inputShape[1] as number, this.units], 'glorot_uniform');
    this.recurrentKernel = this.addWeight('recurrent_kernel', [this.units, this.units], 'orthogonal');
  }

  override call(inputs: KTensor, states: KTensor[]): [KTensor, KTensor[]] {
    const output = K.tanh(K.add(K.dot(inputs, this.kernel!), K.dot(states[0], this.recurrentKernel!)));
    return [output, [output]];
  }

  override getConfig(): Record<string, unknown> {
    return { ...super.getConfig(), units: this.units };
  }

  static fromConfig(c: Record<string, unknown>): MinimalRNNCell {
    return new MinimalRNNCell(c.units as number, { name: c.name as string });
  }
}

/** Two states (a, s) of `units`: a' = tanh(x W + a U), s' = s + a'; output 2 a' (outputSize given). */
export class TwoStateCell extends AbstractRNNCell {
  readonly className = 'TwoStateCell';
  readonly stateSize: readonly number[];
  override readonly outputSize: number;
  w: Weight | null = null;
  u: Weight | null = null;

  constructor(readonly units: number, args: layers.LayerArgs = {}) {
    super(args);
    this.stateSize = [units, units];
    this.outputSize = units;
  }

  override build(inputShape: KShape): void {
    this.w = this.addWeight('w', [inputShape[1] as number, this.units]);
    this.u = this.addWeight('u', [this.units, this.units]);
  }

  override call(x: KTensor, [a, s]: KTensor[]): [KTensor, KTensor[]] {
    const next = K.tanh(K.add(K.dot(x, this.w!), K.dot(a, this.u!)));
    return [K.mul(next, 2), [next, K.add(s, next)]];
  }

  override getConfig(): Record<string, unknown> {
    return { ...super.getConfig(), units: this.units };
  }

  static fromConfig(c: Record<string, unknown>): TwoStateCell {
    return new TwoStateCell(c.units as number, { name: c.name as string });
  }
}

/** Uniform values in [-scale, scale), reproducible for `seed`. */
export function data(seed: number, shape: number[], scale = 1): Tensor {
  const next = rng(seed);
  return tensor(Float32Array.from({ length: shape.reduce((p, q) => p * q, 1) }, () => (next() - 0.5) * 2 * scale), shape);
}

/**
 * Gradients of sum(layer(x) * r) in float64, for x and every weight, against
 * central finite differences. In the training phase each random draw is a
 * param of uniform values (held fixed); returns the draws' shapes by seed.
 */
export function expectLayerGradientsMatch(layer: Layer, shape: number[], seed: number, training = false): Map<number, number[]> {
  layer.shapesFor([[null, ...shape.slice(1)]]);
  const b = new GraphBuilder();
  const x = b.param('x', shape, 'float64');
  const params = new Map<string, Value>();
  const draws = new Map<number, number[]>();
  const ctx: CallContext = {
    training,
    weight: (w) => params.get(w.name) ?? params.set(w.name, b.param(w.name, w.shape, 'float64')).get(w.name)!,
    random: (s, drawShape) => {
      draws.set(s, [...drawShape]);
      return b.param(`u${s}`, drawShape, 'float64');
    },
  };
  const [y] = layer.lowerList(b, [x], ctx);
  const graph = b.build([b.sum(b.mul(y, b.param('r', y.shape, 'float64')))]);
  const next = rng(seed);
  const size = (s: readonly number[]): number => s.reduce((p, q) => p * q, 1);
  const rand = (n: number, scale: number): Float64Array => Float64Array.from({ length: n }, () => (next() - 0.5) * scale);
  const feeds: Record<string, Float64Array> = { x: rand(size(shape), 2), r: rand(size(y.shape), 1) };
  for (const w of layer.weights) feeds[w.name] = rand(size(w.shape), 1.2);
  for (const [s, drawShape] of draws) feeds[`u${s}`] = Float64Array.from({ length: size(drawShape) }, () => next());
  expectGradientsMatch(graph, feeds, ['x', ...layer.weights.map((w) => w.name)], { rtol: 1e-6, atol: 1e-8, nonTrivial: true });
  return draws;
}
