/** RNN cells written as a user would (Keras 2.2's MinimalRNNCell pattern), for the recurrent tests. */
import { AbstractRNNCell, K, type KTensor, type Tensor, layers, tensor } from '../../src/index.js';
import type { KShape, Weight } from '../../src/layers/index.js';
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
