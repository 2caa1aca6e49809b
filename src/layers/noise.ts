/**
 * Regularization layers that are the identity at inference: Dropout and its
 * spatial variants, GaussianNoise, GaussianDropout, AlphaDropout. Their
 * training-time behaviour (counter-based random masks) belongs to the
 * training programs.
 */
import type { GraphBuilder, Value } from '../../ir/graph.js';
import { type CallContext, type KShape, Layer, type LayerArgs, seedFromName } from './base.js';
import { normalFromUniforms } from '../tensor_ops.js';
import { describeValue } from '../validation.js';

abstract class InferenceIdentity extends Layer {
  override supportsMasking = true;

  override computeOutputShape(s: KShape): KShape {
    return s;
  }

  override lower(_b: GraphBuilder, x: Value, _ctx: CallContext): Value {
    return x;
  }
}

/** Standard normal values from two uniform streams (Box-Muller). */
function normal(b: GraphBuilder, ctx: CallContext, seed: number, shape: readonly number[]): Value {
  return normalFromUniforms(b, ctx.random(seed, shape), ctx.random((seed ^ 0x5bd1e995) >>> 0, shape));
}

/** `className` is the constructed class's: subclass fields are not set yet while a base constructor runs. */
function checkRate(className: string, layer: Layer, rate: number): void {
  if (typeof rate !== 'number' || !(rate >= 0 && rate < 1)) throw new Error(`${className} ${layer.name}: rate must be in [0, 1), got ${describeValue(rate)}`);
}

export interface DropoutArgs extends LayerArgs {
  readonly noiseShape?: readonly (number | null)[] | null;
  readonly seed?: number | null;
  /** SpatialDropout2D/3D: where the channels are (default channels_last). */
  readonly dataFormat?: string;
}

export class Dropout extends InferenceIdentity {
  readonly className: string = 'Dropout';

  readonly args: DropoutArgs;

  /** Keras's Dropout has no data_format: only SpatialDropout2D/3D take one. */
  constructor(readonly rate: number, args: Omit<DropoutArgs, 'dataFormat'> = {}) {
    super(args);
    this.args = args;
    checkRate(new.target.name, this, rate);
  }

  /** Shape of the random mask: noiseShape with nulls taken from the input (Keras's _get_noise_shape). */
  protected noiseShape(x: Value): number[] {
    const ns = this.args.noiseShape;
    if (!ns) return [...x.shape];
    if (ns.length !== x.shape.length) throw new Error(`${this.className} ${this.name}: noiseShape (${ns.join(', ')}) does not match the input rank ${x.shape.length}`);
    return ns.map((d, i) => d ?? x.shape[i]);
  }

  /** Keep mask (as a bool tensor of the input's shape), drawn fresh every training step. */
  protected keep(b: GraphBuilder, x: Value, ctx: CallContext): Value {
    const u = ctx.random(this.args.seed ?? seedFromName(this.name), this.noiseShape(x));
    return b.broadcastTo(b.binary('ge', u, this.rate), x.shape);
  }

  /** Training: inverted dropout, keep with probability 1 - rate and scale by 1 / (1 - rate). */
  override lower(b: GraphBuilder, x: Value, ctx: CallContext): Value {
    if (!ctx.training || this.rate === 0) return x;
    return b.select(this.keep(b, x, ctx), b.mul(x, 1 / (1 - this.rate)), 0);
  }

  protected override layerConfig(): Record<string, unknown> {
    return { rate: this.rate, noiseShape: this.args.noiseShape ?? null, seed: this.args.seed ?? null };
  }
}

/** Drops whole feature maps: one draw per (sample, channel), channels last (or first with dataFormat). */
abstract class SpatialDropout extends Dropout {
  protected override noiseShape(x: Value): number[] {
    const channelsFirst = this.args.dataFormat === 'channels_first';
    return x.shape.map((d, i) => (i === 0 || (channelsFirst ? i === 1 : i === x.shape.length - 1) ? d : 1));
  }
}

export class SpatialDropout1D extends SpatialDropout {
  override readonly className: string = 'SpatialDropout1D';
}

/** SpatialDropout2D/3D take a dataFormat, kept in the config (Keras 2 drops it there; keeping it makes the round trip exact). */
abstract class SpatialDropoutWithFormat extends SpatialDropout {
  constructor(rate: number, args: DropoutArgs = {}) {
    super(rate, args);
    const format = args.dataFormat ?? 'channels_last';
    if (format !== 'channels_last' && format !== 'channels_first') {
      throw new Error(`${new.target.name} ${this.name}: unknown dataFormat '${format}'. Valid formats: channels_last, channels_first`);
    }
  }

  protected override layerConfig(): Record<string, unknown> {
    return { ...super.layerConfig(), dataFormat: this.args.dataFormat ?? 'channels_last' };
  }
}

export class SpatialDropout2D extends SpatialDropoutWithFormat {
  override readonly className: string = 'SpatialDropout2D';
}

export class SpatialDropout3D extends SpatialDropoutWithFormat {
  override readonly className: string = 'SpatialDropout3D';
}

/** Dropout that keeps SELU's self-normalization: dropped units take SELU's negative saturation, then an affine fix-up. */
export class AlphaDropout extends Dropout {
  override readonly className: string = 'AlphaDropout';

  override lower(b: GraphBuilder, x: Value, ctx: CallContext): Value {
    if (!ctx.training || this.rate === 0) return x;
    const alphaP = -1.6732632423543772848170429916717 * 1.0507009873554804934193349852946;
    const a = ((1 - this.rate) * (1 + this.rate * alphaP ** 2)) ** -0.5;
    const shift = -a * alphaP * this.rate;
    return b.add(b.mul(b.select(this.keep(b, x, ctx), x, alphaP), a), shift);
  }
}

export class GaussianDropout extends InferenceIdentity {
  readonly className = 'GaussianDropout';

  constructor(readonly rate: number, args: LayerArgs = {}) {
    super(args);
    checkRate(new.target.name, this, rate);
  }

  /** Training: multiplies by N(1, sqrt(rate / (1 - rate))) noise. */
  override lower(b: GraphBuilder, x: Value, ctx: CallContext): Value {
    if (!ctx.training || this.rate === 0) return x;
    const stddev = Math.sqrt(this.rate / (1 - this.rate));
    return b.mul(x, b.add(b.mul(normal(b, ctx, seedFromName(this.name), x.shape), stddev), 1));
  }

  protected override layerConfig(): Record<string, unknown> {
    return { rate: this.rate };
  }
}

export class GaussianNoise extends InferenceIdentity {
  readonly className = 'GaussianNoise';

  constructor(readonly stddev: number, args: LayerArgs = {}) {
    super(args);
  }

  /** Training: adds N(0, stddev) noise (Box-Muller over two uniforms). */
  override lower(b: GraphBuilder, x: Value, ctx: CallContext): Value {
    if (!ctx.training || this.stddev === 0) return x;
    return b.add(x, b.mul(normal(b, ctx, seedFromName(this.name), x.shape), this.stddev));
  }

  protected override layerConfig(): Record<string, unknown> {
    return { stddev: this.stddev };
  }
}
