/** DepthwiseConv2D and SeparableConv1D/2D: a depthwise convolution, then (separable) a 1x1 pointwise one. */
import { convolve, depthwiseConvolve, windowGeometry } from '../../ir/convolution.js';
import type { GraphBuilder, Value } from '../../ir/graph.js';
import type { Initializer, InitializerIdentifier } from '../initializers.js';
import { type Constraint, type Regularizer, getConstraint, getRegularizer } from '../regularizers.js';
import { type CallContext, type KShape, type Weight, initializerArg, initializerConfig } from './base.js';
import { checkFilters, intTuple, spatialOf, toLast, windowedSpatial, withSpatial } from './conv_args.js';
import { BaseConv, type ConvArgs } from './conv_base.js';

export interface DepthwiseArgs extends ConvArgs {
  readonly depthMultiplier?: number;
  readonly depthwiseInitializer?: InitializerIdentifier;
  readonly depthwiseRegularizer?: unknown;
  readonly depthwiseConstraint?: unknown;
}

export interface SeparableArgs extends DepthwiseArgs {
  readonly pointwiseInitializer?: InitializerIdentifier;
  readonly pointwiseRegularizer?: unknown;
  readonly pointwiseConstraint?: unknown;
}

/**
 * Depthwise convolution, and with `filters` a separable one (a depthwise
 * convolution then a 1x1 pointwise one). Weights in Keras's order:
 * depthwise_kernel [...kernelSize, c, depthMultiplier], pointwise_kernel
 * [...ones, c * depthMultiplier, filters], bias.
 */
export class Depthwise extends BaseConv {
  /** Keras's separable and depthwise convolutions take kernel_* options (their base class's) and leave them unused. */
  static readonly optionsBeyondConfig: readonly string[] = ['kernelInitializer', 'kernelRegularizer', 'kernelConstraint'];
  readonly className: string = 'Depthwise';
  readonly depthMultiplier: number;
  private readonly depthwise: { init: Initializer; regularizer: Regularizer | null; constraint: Constraint | null };
  private readonly pointwise: { init: Initializer; regularizer: Regularizer | null; constraint: Constraint | null };
  private kernels: { depthwise: Weight; pointwise: Weight | null } | null = null;

  constructor(rank: number, readonly filters: number | null, kernelSize: unknown, args: SeparableArgs = {}) {
    super(rank, kernelSize, args, ['valid', 'same']);
    const where = `${new.target.name} ${this.name}`;
    if (filters !== null) checkFilters(where, filters);
    this.depthMultiplier = intTuple(where, 'depthMultiplier', args.depthMultiplier ?? 1, 1)[0];
    this.depthwise = { init: initializerArg(args.depthwiseInitializer, 'glorot_uniform'), regularizer: getRegularizer(args.depthwiseRegularizer as never), constraint: getConstraint(args.depthwiseConstraint as never) };
    this.pointwise = { init: initializerArg(args.pointwiseInitializer, 'glorot_uniform'), regularizer: getRegularizer(args.pointwiseRegularizer as never), constraint: getConstraint(args.pointwiseConstraint as never) };
  }

  private get outChannels(): (c: number) => number {
    return (c) => this.filters ?? c * this.depthMultiplier;
  }

  override build(inputShape: KShape): void {
    const c = this.inputChannels(inputShape);
    const d = this.depthwise;
    const depthwise = this.addWeight('depthwise_kernel', [...this.kernelSize, c, this.depthMultiplier], d.init, true, d.regularizer, d.constraint);
    const p = this.pointwise;
    const pointwise = this.filters === null ? null : this.addWeight('pointwise_kernel', [...this.kernelSize.map(() => 1), c * this.depthMultiplier, this.filters], p.init, true, p.regularizer, p.constraint);
    this.kernels = { depthwise, pointwise };
    this.addBias(this.outChannels(c));
    this.built = true;
  }

  override computeOutputShape(s: KShape): KShape {
    const c = this.inputChannels(s);
    return withSpatial(s, this.dataFormat, windowedSpatial(this, s, spatialOf(s, this.dataFormat), (k) => this.geometry(k)), this.outChannels(c));
  }

  override lower(b: GraphBuilder, x: Value, ctx: CallContext): Value {
    const xl = toLast(b, x, this.dataFormat);
    let y = depthwiseConvolve(b, xl, ctx.weight(this.kernels!.depthwise), this.geometry(xl.shape.slice(1, -1)));
    if (this.kernels!.pointwise) {
      const ones = this.kernelSize.map(() => 1);
      y = convolve(b, y, ctx.weight(this.kernels!.pointwise), windowGeometry('valid', y.shape.slice(1, -1), ones, ones, ones));
    }
    return this.finish(b, y, ctx);
  }

  protected override layerConfig(): Record<string, unknown> {
    const base = this.baseConfig();
    const depthwise = {
      depthMultiplier: this.depthMultiplier, depthwiseInitializer: initializerConfig(this.depthwise.init),
      depthwiseRegularizer: this.depthwise.regularizer?.config ?? null, depthwiseConstraint: this.depthwise.constraint?.config ?? null,
    };
    if (this.filters === null) return { ...base, ...depthwise };
    return {
      filters: this.filters, ...base, ...depthwise, pointwiseInitializer: initializerConfig(this.pointwise.init),
      pointwiseRegularizer: this.pointwise.regularizer?.config ?? null, pointwiseConstraint: this.pointwise.constraint?.config ?? null,
    };
  }
}

export class SeparableConv1D extends Depthwise {
  override readonly className: string = 'SeparableConv1D';
  constructor(filters: number, kernelSize: number | readonly number[], args: SeparableArgs = {}) {
    super(1, filters, kernelSize, args);
  }
}

export class SeparableConv2D extends Depthwise {
  override readonly className: string = 'SeparableConv2D';
  constructor(filters: number, kernelSize: number | readonly number[], args: SeparableArgs = {}) {
    super(2, filters, kernelSize, args);
  }
}

export class DepthwiseConv2D extends Depthwise {
  override readonly className: string = 'DepthwiseConv2D';
  constructor(kernelSize: number | readonly number[], args: DepthwiseArgs = {}) {
    super(2, null, kernelSize, args);
  }
}
