/**
 * Keras BatchNormalization (any axis). Weights in Keras's order: gamma (with
 * `scale`), beta (with `center`), moving_mean, moving_variance (the last two
 * not trainable). In training it normalizes with the batch's statistics
 * and updates the moving ones in place (Keras 2 momentum); in inference, and
 * whenever the layer is frozen (`trainable: false`), it normalizes with the
 * moving statistics (folded into the preceding kernel by passes/fold_scale).
 */
import type { GraphBuilder, Value } from '../../ir/graph.js';
import type { Initializer, InitializerIdentifier } from '../initializers.js';
import { type Constraint, type Regularizer, getConstraint, getRegularizer } from '../regularizers.js';
import { type CallContext, type KShape, Layer, type LayerArgs, type Weight, initializerArg, initializerConfig, shapeText } from './base.js';

export interface BatchNormalizationArgs extends LayerArgs {
  readonly axis?: number;
  readonly momentum?: number;
  readonly epsilon?: number;
  readonly center?: boolean;
  readonly scale?: boolean;
  readonly betaInitializer?: InitializerIdentifier;
  readonly gammaInitializer?: InitializerIdentifier;
  readonly movingMeanInitializer?: InitializerIdentifier;
  readonly movingVarianceInitializer?: InitializerIdentifier;
  readonly betaRegularizer?: unknown;
  readonly gammaRegularizer?: unknown;
  readonly betaConstraint?: unknown;
  readonly gammaConstraint?: unknown;
}

interface Param {
  readonly init: Initializer;
  readonly regularizer: Regularizer | null;
  readonly constraint: Constraint | null;
}

export class BatchNormalization extends Layer {
  readonly className = 'BatchNormalization';
  readonly axis: number;
  readonly momentum: number;
  readonly epsilon: number;
  readonly center: boolean;
  readonly scale: boolean;
  private readonly params: { gamma: Param; beta: Param; mean: Initializer; variance: Initializer };
  private w: { gamma: Weight | null; beta: Weight | null; mean: Weight; variance: Weight } | null = null;

  constructor(args: BatchNormalizationArgs = {}) {
    super(args);
    const where = `BatchNormalization ${this.name}`;
    this.axis = args.axis ?? -1;
    if (!Number.isInteger(this.axis)) throw new Error(`${where}: axis must be an integer, got ${JSON.stringify(args.axis)}`);
    this.momentum = args.momentum ?? 0.99;
    this.epsilon = args.epsilon ?? 1e-3;
    if (!(this.epsilon > 0)) throw new Error(`${where}: epsilon must be positive, got ${args.epsilon}`);
    this.center = args.center ?? true;
    this.scale = args.scale ?? true;
    this.params = {
      gamma: { init: initializerArg(args.gammaInitializer, 'ones'), regularizer: getRegularizer(args.gammaRegularizer as never), constraint: getConstraint(args.gammaConstraint as never) },
      beta: { init: initializerArg(args.betaInitializer, 'zeros'), regularizer: getRegularizer(args.betaRegularizer as never), constraint: getConstraint(args.betaConstraint as never) },
      mean: initializerArg(args.movingMeanInitializer, 'zeros'),
      variance: initializerArg(args.movingVarianceInitializer, 'ones'),
    };
  }

  /** The normalized axis as an index of `shape`; axis 0 (the batch) is refused, as in Keras. */
  private axisOf(shape: KShape): number {
    const a = this.axis < 0 ? this.axis + shape.length : this.axis;
    if (a < 1 || a >= shape.length) throw new Error(`Layer ${this.name} (BatchNormalization): axis ${this.axis} is out of range for an input of shape ${shapeText(shape)} (the batch axis cannot be normalized)`);
    return a;
  }

  override build(inputShape: KShape): void {
    const dim = inputShape[this.axisOf(inputShape)];
    if (dim === null) throw new Error(`Layer ${this.name} (BatchNormalization): axis ${this.axis} of the input must be known, got ${shapeText(inputShape)}`);
    const { gamma, beta } = this.params;
    this.w = {
      gamma: this.scale ? this.addWeight('gamma', [dim], gamma.init, true, gamma.regularizer, gamma.constraint) : null,
      beta: this.center ? this.addWeight('beta', [dim], beta.init, true, beta.regularizer, beta.constraint) : null,
      mean: this.addWeight('moving_mean', [dim], this.params.mean, false),
      variance: this.addWeight('moving_variance', [dim], this.params.variance, false),
    };
    this.built = true;
  }

  override computeOutputShape(s: KShape): KShape {
    const a = this.axisOf(s);
    if (this.w && s[a] !== this.w.mean.shape[0]) throw new Error(`Layer ${this.name} (BatchNormalization) was built for ${this.w.mean.shape[0]} features on axis ${this.axis}, got shape ${shapeText(s)}`);
    return s;
  }

  override lower(b: GraphBuilder, x: Value, ctx: CallContext): Value {
    const w = this.w!;
    const a = this.axisOf([null, ...x.shape.slice(1)]);
    const along = (v: Value): Value => b.reshape(v, x.shape.map((d, i) => (i === a ? d : 1)));
    if (ctx.training) return this.lowerTraining(b, x, ctx, a, along);
    // y = (x - mean) * gamma / sqrt(var + eps) + beta, as one scale and one shift per feature.
    let factor = b.div(1, b.unary('sqrt', b.add(ctx.weight(w.variance), this.epsilon)));
    if (w.gamma) factor = b.mul(factor, ctx.weight(w.gamma));
    let shift = b.mul(b.unary('neg', ctx.weight(w.mean)), factor);
    if (w.beta) shift = b.add(shift, ctx.weight(w.beta));
    return b.add(b.mul(x, along(factor)), along(shift));
  }

  /**
   * Keras 2's training phase: normalized with the batch's mean and (biased)
   * variance over every axis but `a`; the moving statistics move toward the
   * batch's mean and unbiased variance (n / (n - 1 - epsilon)) with
   * `momentum`, in place in the train program. As in Keras 2, a frozen layer
   * (or one inside a frozen model) still normalizes with the batch's
   * statistics in the training phase; only its moving statistics stay put.
   */
  private lowerTraining(b: GraphBuilder, x: Value, ctx: CallContext, a: number, along: (v: Value) => Value): Value {
    const w = this.w!;
    const axes = x.shape.map((_, i) => i).filter((i) => i !== a);
    const n = axes.reduce((p, i) => p * x.shape[i], 1);
    const mean = b.mean(x, axes, true);
    const centered = b.sub(x, mean);
    const variance = b.mean(b.mul(centered, centered), axes, true);
    let factor = b.div(1, b.unary('sqrt', b.add(variance, this.epsilon)));
    if (w.gamma) factor = b.mul(factor, along(ctx.weight(w.gamma)));
    let y = b.mul(centered, factor);
    if (w.beta) y = b.add(y, along(ctx.weight(w.beta)));
    const flat = (v: Value): Value => b.reshape(v, [x.shape[a]]);
    const unbiased = b.mul(flat(variance), n / Math.max(n - (1 + this.epsilon), 1e-12));
    const moving = (stat: Weight, value: Value): Value => b.add(b.mul(ctx.weight(stat), this.momentum), b.mul(value, 1 - this.momentum));
    ctx.reducesOverBatch?.();
    if (this.trainable && ctx.addUpdate) {
      ctx.addUpdate(w.mean, moving(w.mean, flat(mean)));
      ctx.addUpdate(w.variance, moving(w.variance, unbiased));
    }
    return y;
  }

  protected override layerConfig(): Record<string, unknown> {
    const { gamma, beta } = this.params;
    return {
      axis: this.axis, momentum: this.momentum, epsilon: this.epsilon, center: this.center, scale: this.scale,
      betaInitializer: initializerConfig(beta.init), gammaInitializer: initializerConfig(gamma.init),
      movingMeanInitializer: initializerConfig(this.params.mean), movingVarianceInitializer: initializerConfig(this.params.variance),
      betaRegularizer: beta.regularizer?.config ?? null, gammaRegularizer: gamma.regularizer?.config ?? null,
      betaConstraint: beta.constraint?.config ?? null, gammaConstraint: gamma.constraint?.config ?? null,
    };
  }
}
