/** What Conv, its transpose, its separable forms and LocallyConnected share: geometry arguments, activation, bias. */
import { type PaddingMode, type WindowGeometry, windowGeometry } from '../../ir/convolution.js';
import type { GraphBuilder, Value } from '../../ir/graph.js';
import { getActivation } from '../activations.js';
import type { Initializer } from '../initializers.js';
import { type Constraint, type Regularizer, getConstraint, getRegularizer } from '../regularizers.js';
import type { DenseArgs } from './core.js';
import { type CallContext, type KShape, Layer, type LayerArgs, type Weight, initializerArg, initializerConfig, shapeText } from './base.js';
import { type DataFormat, channelsOf, expectSpatialRank, fromLast, intTuple, oneOf, readDataFormat } from './conv_args.js';

/** Dense's weight options (activation, bias, initializers, regularizers, constraints), which convolutions share. */
export type ConvWeightArgs = Omit<DenseArgs, keyof LayerArgs>;

export interface ConvArgs extends LayerArgs, ConvWeightArgs {
  readonly strides?: number | readonly number[];
  readonly padding?: string;
  readonly dataFormat?: string | null;
  readonly dilationRate?: number | readonly number[];
}

/** What Conv, its transpose and its separable forms share: geometry arguments, activation, bias. */
export abstract class BaseConv extends Layer {
  readonly kernelSize: number[];
  readonly strides: number[];
  readonly dilationRate: number[];
  readonly padding: PaddingMode;
  readonly dataFormat: DataFormat;
  readonly activation: ReturnType<typeof getActivation>;
  readonly useBias: boolean;
  protected readonly init: { kernel: Initializer; bias: Initializer };
  protected readonly regularizers: { kernel: Regularizer | null; bias: Regularizer | null };
  protected readonly constraints: { kernel: Constraint | null; bias: Constraint | null };
  protected bias: Weight | null = null;

  constructor(readonly rank: number, kernelSize: unknown, args: ConvArgs, paddings: readonly PaddingMode[]) {
    super(args);
    const where = `${new.target.name} ${this.name}`;
    this.kernelSize = intTuple(where, 'kernelSize', kernelSize, rank);
    this.strides = intTuple(where, 'strides', args.strides ?? 1, rank);
    this.dilationRate = intTuple(where, 'dilationRate', args.dilationRate ?? 1, rank);
    this.padding = oneOf(where, 'padding', args.padding ?? 'valid', paddings);
    this.dataFormat = readDataFormat(where, args.dataFormat);
    if (this.strides.some((s) => s > 1) && this.dilationRate.some((d) => d > 1)) {
      throw new Error(`${where}: strides > 1 together with dilationRate > 1 is not supported (as in TensorFlow), got strides ${JSON.stringify(this.strides)} and dilationRate ${JSON.stringify(this.dilationRate)}`);
    }
    this.activation = getActivation(args.activation);
    this.useBias = args.useBias ?? true;
    this.init = { kernel: initializerArg(args.kernelInitializer, 'glorot_uniform'), bias: initializerArg(args.biasInitializer, 'zeros') };
    this.regularizers = { kernel: getRegularizer(args.kernelRegularizer as never), bias: getRegularizer(args.biasRegularizer as never) };
    this.activityRegularizer = getRegularizer(args.activityRegularizer as never);
    this.constraints = { kernel: getConstraint(args.kernelConstraint as never), bias: getConstraint(args.biasConstraint as never) };
  }

  /** The input's channel count, checked known. */
  protected inputChannels(inputShape: KShape): number {
    expectSpatialRank(this, inputShape, this.rank);
    const c = channelsOf(inputShape, this.dataFormat);
    if (c === null) throw new Error(`Layer ${this.name} (${this.className}): the channel dimension of the input must be known, got ${shapeText(inputShape)} (${this.dataFormat})`);
    return c;
  }

  protected addBias(units: number): void {
    if (this.useBias) this.bias = this.addWeight('bias', [units], this.init.bias, true, this.regularizers.bias, this.constraints.bias);
  }

  protected geometry(spatial: readonly number[]): WindowGeometry {
    return windowGeometry(this.padding, spatial, this.kernelSize, this.strides, this.dilationRate);
  }

  /** Bias, activation and the way back to the layer's data format. */
  protected finish(b: GraphBuilder, y: Value, ctx: CallContext): Value {
    const biased = this.bias ? b.add(y, ctx.weight(this.bias)) : y;
    return fromLast(b, this.activation.fn(b, biased), this.dataFormat);
  }

  protected baseConfig(): Record<string, unknown> {
    return {
      kernelSize: this.kernelSize, strides: this.strides, padding: this.padding, dataFormat: this.dataFormat, dilationRate: this.dilationRate,
      activation: this.activation.name, useBias: this.useBias,
      biasInitializer: initializerConfig(this.init.bias), biasRegularizer: this.regularizers.bias?.config ?? null,
      activityRegularizer: this.activityRegularizer?.config ?? null, biasConstraint: this.constraints.bias?.config ?? null,
    };
  }

  protected kernelConfig(): Record<string, unknown> {
    return { kernelInitializer: initializerConfig(this.init.kernel), kernelRegularizer: this.regularizers.kernel?.config ?? null, kernelConstraint: this.constraints.kernel?.config ?? null };
  }
}
