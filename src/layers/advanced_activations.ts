/** Keras advanced activation layers: LeakyReLU, PReLU, ELU, ThresholdedReLU, ReLU, Softmax. */
import type { GraphBuilder, Value } from '../../ir/graph.js';
import { elu, relu, softmax } from '../activations.js';
import type { Initializer, InitializerIdentifier } from '../initializers.js';
import { type Constraint, type Regularizer, getConstraint, getRegularizer } from '../regularizers.js';
import { type CallContext, type KShape, Layer, type LayerArgs, type Weight, initializerArg, initializerConfig, shapeText } from './base.js';

abstract class ElementwiseLayer extends Layer {
  override supportsMasking = true;

  override computeOutputShape(s: KShape): KShape {
    return s;
  }
}

export class LeakyReLU extends ElementwiseLayer {
  readonly className = 'LeakyReLU';
  readonly alpha: number;

  constructor(args: LayerArgs & { alpha?: number } = {}) {
    super(args);
    this.alpha = args.alpha ?? 0.3;
  }

  override lower(b: GraphBuilder, x: Value): Value {
    return relu(b, x, { alpha: this.alpha });
  }

  protected override layerConfig(): Record<string, unknown> {
    return { alpha: this.alpha };
  }
}

export interface PReLUArgs extends LayerArgs {
  readonly alphaInitializer?: InitializerIdentifier;
  readonly alphaRegularizer?: unknown;
  readonly alphaConstraint?: unknown;
  readonly sharedAxes?: number | readonly number[] | null;
}

export class PReLU extends ElementwiseLayer {
  readonly className = 'PReLU';
  private readonly alphaInitializer: Initializer;
  private readonly alphaRegularizer: Regularizer | null;
  private readonly alphaConstraint: Constraint | null;
  private readonly sharedAxes: readonly number[] | null;
  private alpha: Weight | null = null;

  constructor(args: PReLUArgs = {}) {
    super(args);
    this.alphaInitializer = initializerArg(args.alphaInitializer, 'zeros');
    this.alphaRegularizer = getRegularizer(args.alphaRegularizer as never);
    this.alphaConstraint = getConstraint(args.alphaConstraint as never);
    const s = args.sharedAxes;
    this.sharedAxes = s === null || s === undefined ? null : typeof s === 'number' ? [s] : s;
  }

  override build(inputShape: KShape): void {
    const shape = inputShape.slice(1).map((d, i) => (this.sharedAxes?.includes(i + 1) ? 1 : d));
    if (shape.some((d) => d === null)) throw new Error(`PReLU ${this.name}: non-shared input dimensions must be known, got ${shapeText(inputShape)}`);
    this.alpha = this.addWeight('alpha', shape as number[], this.alphaInitializer, true, this.alphaRegularizer, this.alphaConstraint);
    this.built = true;
  }

  override lower(b: GraphBuilder, x: Value, ctx: CallContext): Value {
    // Keras: relu(x) - alpha * relu(-x)
    const alpha = ctx.weight(this.alpha!);
    return b.sub(b.maximum(x, 0), b.mul(alpha, b.maximum(b.unary('neg', x), 0)));
  }

  protected override layerConfig(): Record<string, unknown> {
    return {
      alphaInitializer: initializerConfig(this.alphaInitializer), alphaRegularizer: this.alphaRegularizer?.config ?? null,
      alphaConstraint: this.alphaConstraint?.config ?? null, sharedAxes: this.sharedAxes,
    };
  }
}

export class ELU extends ElementwiseLayer {
  readonly className = 'ELU';
  readonly alpha: number;

  constructor(args: LayerArgs & { alpha?: number } = {}) {
    super(args);
    this.alpha = args.alpha ?? 1;
  }

  override lower(b: GraphBuilder, x: Value): Value {
    return elu(b, x, this.alpha);
  }

  protected override layerConfig(): Record<string, unknown> {
    return { alpha: this.alpha };
  }
}

export class ThresholdedReLU extends ElementwiseLayer {
  readonly className = 'ThresholdedReLU';
  readonly theta: number;

  constructor(args: LayerArgs & { theta?: number } = {}) {
    super(args);
    this.theta = args.theta ?? 1;
  }

  override lower(b: GraphBuilder, x: Value): Value {
    return b.mul(x, b.cast(b.binary('gt', x, this.theta), x.dtype));
  }

  protected override layerConfig(): Record<string, unknown> {
    return { theta: this.theta };
  }
}

export interface ReLUArgs extends LayerArgs {
  readonly maxValue?: number | null;
  readonly negativeSlope?: number;
  readonly threshold?: number;
}

export class ReLU extends ElementwiseLayer {
  readonly className = 'ReLU';
  readonly maxValue: number | null;
  readonly negativeSlope: number;
  readonly threshold: number;

  constructor(args: ReLUArgs = {}) {
    super(args);
    this.maxValue = args.maxValue ?? null;
    this.negativeSlope = args.negativeSlope ?? 0;
    this.threshold = args.threshold ?? 0;
    if (this.maxValue !== null && this.maxValue < 0) throw new Error(`ReLU ${this.name}: maxValue must be non-negative, got ${this.maxValue}`);
  }

  override lower(b: GraphBuilder, x: Value): Value {
    return relu(b, x, { alpha: this.negativeSlope, maxValue: this.maxValue, threshold: this.threshold });
  }

  protected override layerConfig(): Record<string, unknown> {
    return { maxValue: this.maxValue, negativeSlope: this.negativeSlope, threshold: this.threshold };
  }
}

export class Softmax extends ElementwiseLayer {
  readonly className = 'Softmax';
  readonly axis: number;

  constructor(args: LayerArgs & { axis?: number } = {}) {
    super(args);
    this.axis = args.axis ?? -1;
  }

  override lower(b: GraphBuilder, x: Value): Value {
    return softmax(b, x, this.axis);
  }

  protected override layerConfig(): Record<string, unknown> {
    return { axis: this.axis };
  }
}
