/**
 * Keras convolutional layers: Conv1D/2D/3D, Conv2DTranspose/Conv3DTranspose,
 * SeparableConv1D/2D, DepthwiseConv2D, and the reshaping layers Keras keeps
 * beside them (Cropping, ZeroPadding, UpSampling). Each composes the window
 * compositions of ir/convolution.ts, channels-last inside: a
 * `channels_first` layer moves channels last on the way in and back on the
 * way out (passes/layout.ts moves those transposes to the graph's boundary). Kernels keep Keras's
 * shapes and weight order, so getWeights/setWeights match Keras.
 */
import { type PaddingMode, type WindowGeometry, convolve, depthwiseConvolve, patches, transposedConvolve, windowGeometry, windowOutput } from '../../ir/convolution.js';
import type { GraphBuilder, Value } from '../../ir/graph.js';
import { type ActivationIdentifier, getActivation } from '../activations.js';
import type { Initializer, InitializerIdentifier } from '../initializers.js';
import { type Constraint, type Regularizer, getConstraint, getRegularizer } from '../regularizers.js';
import { type CallContext, type KShape, Layer, type LayerArgs, type Weight, initializerArg, initializerConfig, shapeText } from './base.js';

export type DataFormat = 'channels_last' | 'channels_first';

/** Validates a Keras identifier, listing the valid ones. */
export function oneOf<T extends string>(where: string, name: string, value: unknown, valid: readonly T[]): T {
  if (typeof value === 'string' && (valid as readonly string[]).includes(value)) return value as T;
  throw new Error(`${where}: unknown ${name} ${JSON.stringify(value)}. Valid values: ${valid.join(', ')}`);
}

export function readDataFormat(where: string, value: unknown): DataFormat {
  return oneOf(where, 'dataFormat', value ?? 'channels_last', ['channels_last', 'channels_first'] as const);
}

/** An int or a list of `rank` ints, each >= min (Keras's normalize_tuple). */
export function intTuple(where: string, name: string, value: unknown, rank: number, min = 1): number[] {
  const list = typeof value === 'number' ? new Array<number>(rank).fill(value) : value;
  const ok = Array.isArray(list) && list.length === rank && list.every((v) => Number.isInteger(v) && v >= min);
  if (!ok) throw new Error(`${where}: ${name} must be an integer >= ${min} or a list of ${rank} of them, got ${JSON.stringify(value)}`);
  return list as number[];
}

/** Pairs per spatial axis from an int, a list of `rank` ints, or a list of `rank` pairs. */
export function pairTuple(where: string, name: string, value: unknown, rank: number): [number, number][] {
  const pair = (v: unknown): [number, number] | null => {
    if (Number.isInteger(v) && (v as number) >= 0) return [v as number, v as number];
    if (Array.isArray(v) && v.length === 2 && v.every((x) => Number.isInteger(x) && x >= 0)) return [v[0], v[1]];
    return null;
  };
  const whole = rank === 1 ? pair(value) : null;
  const list = whole ? [whole] : typeof value === 'number' ? new Array(rank).fill(pair(value)) : Array.isArray(value) && value.length === rank ? value.map(pair) : null;
  if (!list || list.some((p: unknown) => p === null)) throw new Error(`${where}: ${name} must be an integer >= 0, ${rank} of them, or ${rank} pairs of them, got ${JSON.stringify(value)}`);
  return list as [number, number][];
}

/** Spatial axes of a Keras shape (batch first). */
export function spatialOf(shape: KShape, format: DataFormat): (number | null)[] {
  return format === 'channels_last' ? shape.slice(1, -1) : shape.slice(2);
}

export function channelsOf(shape: KShape, format: DataFormat): number | null {
  return format === 'channels_last' ? shape[shape.length - 1] : shape[1];
}

export function withSpatial(shape: KShape, format: DataFormat, spatial: readonly (number | null)[], channels: number | null): KShape {
  return format === 'channels_last' ? [shape[0], ...spatial, channels] : [shape[0], channels, ...spatial];
}

/** The input moved to channels-last (no node when it is already). */
export function toLast(b: GraphBuilder, x: Value, format: DataFormat): Value {
  const r = x.shape.length;
  return format === 'channels_last' ? x : b.transpose(x, [0, ...Array.from({ length: r - 2 }, (_, i) => i + 2), 1]);
}

export function fromLast(b: GraphBuilder, y: Value, format: DataFormat): Value {
  const r = y.shape.length;
  return format === 'channels_last' ? y : b.transpose(y, [0, r - 1, ...Array.from({ length: r - 2 }, (_, i) => i + 1)]);
}

function checkFilters(where: string, filters: number): void {
  if (!Number.isInteger(filters) || filters < 1) throw new Error(`${where}: filters must be a positive integer, got ${filters}`);
}

/** Checks the input rank: `spatial` axes, a batch and a channel axis. */
export function expectSpatialRank(layer: Layer, shape: KShape, spatial: number): void {
  if (shape.length !== spatial + 2) {
    throw new Error(`Layer ${layer.name} (${layer.className}) expects an input of rank ${spatial + 2} (batch, ${spatial} spatial axes, channels), got shape ${shapeText(shape)}`);
  }
}

/** Output extents of windows over known spatial extents (null stays null); errors name the layer. */
export function windowedSpatial(layer: Layer, shape: KShape, spatial: readonly (number | null)[], geometry: (known: number[]) => WindowGeometry): (number | null)[] {
  if (spatial.some((d) => d === null)) return spatial.map(() => null);
  const known = spatial as number[];
  try {
    return windowOutput(known, geometry(known));
  } catch (e) {
    throw new Error(`Layer ${layer.name} (${layer.className}): input of shape ${shapeText(shape)}: ${(e as Error).message}`);
  }
}

export interface ConvWeightArgs {
  readonly activation?: ActivationIdentifier;
  readonly useBias?: boolean;
  readonly kernelInitializer?: InitializerIdentifier;
  readonly biasInitializer?: InitializerIdentifier;
  readonly kernelRegularizer?: unknown;
  readonly biasRegularizer?: unknown;
  readonly activityRegularizer?: unknown;
  readonly kernelConstraint?: unknown;
  readonly biasConstraint?: unknown;
}

export interface ConvArgs extends LayerArgs, ConvWeightArgs {
  readonly strides?: number | readonly number[];
  readonly padding?: string;
  readonly dataFormat?: string | null;
  readonly dilationRate?: number | readonly number[];
}

/** What Conv, its transpose and its separable forms share: geometry arguments, activation, bias. */
abstract class BaseConv extends Layer {
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

/** Keras's _Conv: kernel [...kernelSize, inChannels, filters], bias [filters]. */
export class Conv extends BaseConv {
  readonly className: string = 'Conv';
  protected kernel: Weight | null = null;

  constructor(rank: number, readonly filters: number, kernelSize: unknown, args: ConvArgs = {}) {
    super(rank, kernelSize, args, rank === 1 ? ['valid', 'same', 'causal'] : ['valid', 'same']);
    checkFilters(`${new.target.name} ${this.name}`, filters);
  }

  override build(inputShape: KShape): void {
    const c = this.inputChannels(inputShape);
    this.kernel = this.addWeight('kernel', [...this.kernelSize, c, this.filters], this.init.kernel, true, this.regularizers.kernel, this.constraints.kernel);
    this.addBias(this.filters);
    this.built = true;
  }

  override computeOutputShape(s: KShape): KShape {
    const c = this.inputChannels(s);
    if (this.kernel && c !== this.kernel.shape[this.rank]) throw new Error(`Layer ${this.name} (${this.className}) was built for ${this.kernel.shape[this.rank]} input channels, got shape ${shapeText(s)}`);
    return withSpatial(s, this.dataFormat, windowedSpatial(this, s, spatialOf(s, this.dataFormat), (k) => this.geometry(k)), this.filters);
  }

  override lower(b: GraphBuilder, x: Value, ctx: CallContext): Value {
    const xl = toLast(b, x, this.dataFormat);
    return this.finish(b, convolve(b, xl, ctx.weight(this.kernel!), this.geometry(xl.shape.slice(1, -1))), ctx);
  }

  protected override layerConfig(): Record<string, unknown> {
    return { filters: this.filters, ...this.baseConfig(), ...this.kernelConfig() };
  }
}

export class Conv1D extends Conv {
  override readonly className: string = 'Conv1D';
  constructor(filters: number, kernelSize: number | readonly number[], args: ConvArgs = {}) {
    super(1, filters, kernelSize, args);
  }
}

export class Conv2D extends Conv {
  override readonly className: string = 'Conv2D';
  constructor(filters: number, kernelSize: number | readonly number[], args: ConvArgs = {}) {
    super(2, filters, kernelSize, args);
  }
}

export class Conv3D extends Conv {
  override readonly className: string = 'Conv3D';
  constructor(filters: number, kernelSize: number | readonly number[], args: ConvArgs = {}) {
    super(3, filters, kernelSize, args);
  }
}

export interface ConvTransposeArgs extends ConvArgs {
  readonly outputPadding?: number | readonly number[] | null;
}

/** Keras's deconv_length: a transposed convolution's output extent. */
export function deconvLength(n: number, stride: number, size: number, padding: PaddingMode, outputPadding: number | null, dilation: number): number {
  const span = (size - 1) * dilation + 1;
  if (outputPadding === null) return padding === 'same' ? n * stride : n * stride + Math.max(span - stride, 0);
  const pad = padding === 'same' ? Math.floor(span / 2) : 0;
  return (n - 1) * stride + span - 2 * pad + outputPadding;
}

/** Conv2DTranspose / Conv3DTranspose: kernel [...kernelSize, filters, inChannels]. */
export class ConvTranspose extends BaseConv {
  readonly className: string = 'ConvTranspose';
  readonly outputPadding: number[] | null;
  private kernel: Weight | null = null;

  constructor(rank: number, readonly filters: number, kernelSize: unknown, args: ConvTransposeArgs = {}) {
    super(rank, kernelSize, args, ['valid', 'same']);
    checkFilters(`${new.target.name} ${this.name}`, filters);
    const op = args.outputPadding;
    this.outputPadding = op === undefined || op === null ? null : intTuple(`${new.target.name} ${this.name}`, 'outputPadding', op, rank, 0);
    this.outputPadding?.forEach((p, a) => {
      if (p >= this.strides[a]) throw new Error(`${new.target.name} ${this.name}: outputPadding ${JSON.stringify(this.outputPadding)} must be smaller than strides ${JSON.stringify(this.strides)} on every axis`);
    });
  }

  override build(inputShape: KShape): void {
    const c = this.inputChannels(inputShape);
    this.kernel = this.addWeight('kernel', [...this.kernelSize, this.filters, c], this.init.kernel, true, this.regularizers.kernel, this.constraints.kernel);
    this.addBias(this.filters);
    this.built = true;
  }

  private outSpatial(spatial: readonly (number | null)[]): (number | null)[] {
    return spatial.map((n, a) => (n === null ? null : deconvLength(n, this.strides[a], this.kernelSize[a], this.padding, this.outputPadding?.[a] ?? null, this.dilationRate[a])));
  }

  override computeOutputShape(s: KShape): KShape {
    this.inputChannels(s);
    const out = this.outSpatial(spatialOf(s, this.dataFormat));
    if (out.some((n) => n !== null && n < 1)) throw new Error(`Layer ${this.name} (${this.className}): input of shape ${shapeText(s)} gives an empty output (${JSON.stringify(out)})`);
    return withSpatial(s, this.dataFormat, out, this.filters);
  }

  override lower(b: GraphBuilder, x: Value, ctx: CallContext): Value {
    const xl = toLast(b, x, this.dataFormat);
    const out = this.outSpatial(xl.shape.slice(1, -1)) as number[];
    return this.finish(b, transposedConvolve(b, xl, ctx.weight(this.kernel!), this.geometry(out), out), ctx);
  }

  protected override layerConfig(): Record<string, unknown> {
    return { filters: this.filters, ...this.baseConfig(), ...this.kernelConfig(), outputPadding: this.outputPadding };
  }
}

export class Conv2DTranspose extends ConvTranspose {
  override readonly className: string = 'Conv2DTranspose';
  constructor(filters: number, kernelSize: number | readonly number[], args: ConvTransposeArgs = {}) {
    super(2, filters, kernelSize, args);
  }
}

export class Conv3DTranspose extends ConvTranspose {
  override readonly className: string = 'Conv3DTranspose';
  constructor(filters: number, kernelSize: number | readonly number[], args: ConvTransposeArgs = {}) {
    super(3, filters, kernelSize, args);
  }
}

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

/** Cropping1D/2D/3D: trims [before, after] from each spatial axis. */
export class Cropping extends Layer {
  readonly className: string = 'Cropping';
  readonly cropping: [number, number][];
  readonly dataFormat: DataFormat;

  constructor(readonly rank: number, cropping: unknown, args: LayerArgs & { dataFormat?: string | null } = {}) {
    super(args);
    this.cropping = pairTuple(`${new.target.name} ${this.name}`, 'cropping', cropping, rank);
    this.dataFormat = readDataFormat(`${new.target.name} ${this.name}`, args.dataFormat);
  }

  override computeOutputShape(s: KShape): KShape {
    expectSpatialRank(this, s, this.rank);
    const out = spatialOf(s, this.dataFormat).map((n, a) => (n === null ? null : n - this.cropping[a][0] - this.cropping[a][1]));
    if (out.some((n) => n !== null && n < 1)) {
      throw new Error(`Layer ${this.name} (${this.className}): cropping ${JSON.stringify(this.cropping)} leaves nothing of an input of shape ${shapeText(s)}`);
    }
    return withSpatial(s, this.dataFormat, out, channelsOf(s, this.dataFormat));
  }

  override lower(b: GraphBuilder, x: Value): Value {
    const xl = toLast(b, x, this.dataFormat);
    const begin = [0, ...this.cropping.map((c) => c[0]), 0];
    const size = xl.shape.map((n, a) => (a === 0 || a === xl.shape.length - 1 ? n : n - this.cropping[a - 1][0] - this.cropping[a - 1][1]));
    return fromLast(b, b.slice(xl, begin, size), this.dataFormat);
  }

  protected override layerConfig(): Record<string, unknown> {
    return this.rank === 1 ? { cropping: this.cropping[0] } : { cropping: this.cropping, dataFormat: this.dataFormat };
  }
}

/** ZeroPadding1D/2D/3D: zeros [before, after] each spatial axis. */
export class ZeroPadding extends Layer {
  readonly className: string = 'ZeroPadding';
  readonly padding: [number, number][];
  readonly dataFormat: DataFormat;

  constructor(readonly rank: number, padding: unknown, args: LayerArgs & { dataFormat?: string | null } = {}) {
    super(args);
    this.padding = pairTuple(`${new.target.name} ${this.name}`, 'padding', padding, rank);
    this.dataFormat = readDataFormat(`${new.target.name} ${this.name}`, args.dataFormat);
  }

  override computeOutputShape(s: KShape): KShape {
    expectSpatialRank(this, s, this.rank);
    const out = spatialOf(s, this.dataFormat).map((n, a) => (n === null ? null : n + this.padding[a][0] + this.padding[a][1]));
    return withSpatial(s, this.dataFormat, out, channelsOf(s, this.dataFormat));
  }

  override lower(b: GraphBuilder, x: Value): Value {
    const xl = toLast(b, x, this.dataFormat);
    return fromLast(b, b.pad(xl, [0, ...this.padding.map((p) => p[0]), 0], [0, ...this.padding.map((p) => p[1]), 0]), this.dataFormat);
  }

  protected override layerConfig(): Record<string, unknown> {
    return this.rank === 1 ? { padding: this.padding[0] } : { padding: this.padding, dataFormat: this.dataFormat };
  }
}

/** UpSampling1D/2D/3D: repeats each element `size` times per spatial axis (2-d also bilinear, as TensorFlow 1's resize_bilinear). */
export class UpSampling extends Layer {
  readonly className: string = 'UpSampling';
  readonly size: number[];
  readonly dataFormat: DataFormat;
  readonly interpolation: 'nearest' | 'bilinear';

  constructor(readonly rank: number, size: unknown, args: LayerArgs & { dataFormat?: string | null; interpolation?: string } = {}) {
    super(args);
    const where = `${new.target.name} ${this.name}`;
    this.size = intTuple(where, 'size', size, rank);
    this.dataFormat = readDataFormat(where, args.dataFormat);
    this.interpolation = rank === 2 ? oneOf(where, 'interpolation', args.interpolation ?? 'nearest', ['nearest', 'bilinear'] as const) : 'nearest';
  }

  override computeOutputShape(s: KShape): KShape {
    expectSpatialRank(this, s, this.rank);
    return withSpatial(s, this.dataFormat, spatialOf(s, this.dataFormat).map((n, a) => (n === null ? null : n * this.size[a])), channelsOf(s, this.dataFormat));
  }

  override lower(b: GraphBuilder, x: Value): Value {
    let y = toLast(b, x, this.dataFormat);
    this.size.forEach((s, a) => {
      const axis = a + 1;
      y = this.interpolation === 'nearest' ? repeatAxis(b, y, axis, s) : bilinearAxis(b, y, axis, s);
    });
    return fromLast(b, y, this.dataFormat);
  }

  protected override layerConfig(): Record<string, unknown> {
    if (this.rank === 1) return { size: this.size[0] };
    return this.rank === 2 ? { size: this.size, dataFormat: this.dataFormat, interpolation: this.interpolation } : { size: this.size, dataFormat: this.dataFormat };
  }
}

function repeatAxis(b: GraphBuilder, x: Value, axis: number, times: number): Value {
  if (times === 1) return x;
  const unit = [...x.shape.slice(0, axis + 1), 1, ...x.shape.slice(axis + 1)];
  const spread = b.broadcastTo(b.reshape(x, unit), unit.map((d, i) => (i === axis + 1 ? times : d)));
  return b.reshape(spread, x.shape.map((d, i) => (i === axis ? d * times : d)));
}

/** out[j] = x[lo] * (1 - t) + x[hi] * t with src = j / times, lo = floor(src), hi = min(lo + 1, n - 1), t = src - lo. */
function bilinearAxis(b: GraphBuilder, x: Value, axis: number, times: number): Value {
  if (times === 1) return x;
  const n = x.shape[axis];
  const src = b.div(b.iota([n * times], 0, 'float32'), times);
  const lo = b.unary('floor', src);
  const t = b.sub(src, lo);
  const hi = b.minimum(b.add(lo, 1), n - 1);
  const along = (v: Value): Value => b.reshape(v, x.shape.map((_, i) => (i === axis ? n * times : 1)));
  const at = (idx: Value): Value => b.gather(x, b.cast(idx, 'int32'), axis);
  return b.add(b.mul(at(lo), b.sub(1, along(t))), b.mul(at(hi), along(t)));
}

export class Cropping1D extends Cropping {
  override readonly className: string = 'Cropping1D';
  constructor(args: LayerArgs & { cropping?: number | readonly number[] } = {}) {
    super(1, args.cropping ?? [1, 1], args);
  }
}

export class Cropping2D extends Cropping {
  override readonly className: string = 'Cropping2D';
  constructor(args: LayerArgs & { cropping?: unknown; dataFormat?: string | null } = {}) {
    super(2, args.cropping ?? [[0, 0], [0, 0]], args);
  }
}

export class Cropping3D extends Cropping {
  override readonly className: string = 'Cropping3D';
  constructor(args: LayerArgs & { cropping?: unknown; dataFormat?: string | null } = {}) {
    super(3, args.cropping ?? [[1, 1], [1, 1], [1, 1]], args);
  }
}

export class ZeroPadding1D extends ZeroPadding {
  override readonly className: string = 'ZeroPadding1D';
  constructor(args: LayerArgs & { padding?: number | readonly number[] } = {}) {
    super(1, args.padding ?? 1, args);
  }
}

export class ZeroPadding2D extends ZeroPadding {
  override readonly className: string = 'ZeroPadding2D';
  constructor(args: LayerArgs & { padding?: unknown; dataFormat?: string | null } = {}) {
    super(2, args.padding ?? 1, args);
  }
}

export class ZeroPadding3D extends ZeroPadding {
  override readonly className: string = 'ZeroPadding3D';
  constructor(args: LayerArgs & { padding?: unknown; dataFormat?: string | null } = {}) {
    super(3, args.padding ?? 1, args);
  }
}

export class UpSampling1D extends UpSampling {
  override readonly className: string = 'UpSampling1D';
  constructor(args: LayerArgs & { size?: number } = {}) {
    super(1, args.size ?? 2, args);
  }
}

export class UpSampling2D extends UpSampling {
  override readonly className: string = 'UpSampling2D';
  constructor(args: LayerArgs & { size?: number | readonly number[]; dataFormat?: string | null; interpolation?: string } = {}) {
    super(2, args.size ?? 2, args);
  }
}

export class UpSampling3D extends UpSampling {
  override readonly className: string = 'UpSampling3D';
  constructor(args: LayerArgs & { size?: number | readonly number[]; dataFormat?: string | null } = {}) {
    super(3, args.size ?? 2, args);
  }
}

/**
 * LocallyConnected1D/2D: a convolution whose kernel differs at every output
 * position (Keras's implementation 1, 'valid' padding). Weights as Keras
 * keeps them: kernel [positions, patch features, filters], where a patch's
 * features run (kernel..., channels) in channels_last and (channels,
 * kernel...) in channels_first; bias [...out spatial, filters].
 */
export class LocallyConnected extends BaseConv {
  readonly className: string = 'LocallyConnected';
  private kernel: Weight | null = null;

  /** No dilationRate: Keras's locally connected layers have none. */
  constructor(rank: number, readonly filters: number, kernelSize: unknown, args: Omit<ConvArgs, 'dilationRate'> = {}) {
    super(rank, kernelSize, args, ['valid']);
    checkFilters(`${new.target.name} ${this.name}`, filters);
  }

  private outSpatial(s: KShape): number[] {
    const out = windowedSpatial(this, s, spatialOf(s, this.dataFormat), (k) => this.geometry(k));
    if (out.some((n) => n === null)) throw new Error(`Layer ${this.name} (${this.className}): the spatial dimensions of the input must be known, got ${shapeText(s)}`);
    return out as number[];
  }

  override build(inputShape: KShape): void {
    const c = this.inputChannels(inputShape);
    const out = this.outSpatial(inputShape);
    const positions = out.reduce((p, q) => p * q, 1);
    const features = this.kernelSize.reduce((p, q) => p * q, 1) * c;
    this.kernel = this.addWeight('kernel', [positions, features, this.filters], this.init.kernel, true, this.regularizers.kernel, this.constraints.kernel);
    if (this.useBias) this.bias = this.addWeight('bias', [...out, this.filters], this.init.bias, true, this.regularizers.bias, this.constraints.bias);
    this.built = true;
  }

  override computeOutputShape(s: KShape): KShape {
    this.inputChannels(s);
    return withSpatial(s, this.dataFormat, this.outSpatial(s), this.filters);
  }

  override lower(b: GraphBuilder, x: Value, ctx: CallContext): Value {
    const xl = toLast(b, x, this.dataFormat);
    const r = this.rank;
    const batch = xl.shape[0];
    let p = patches(b, xl, this.geometry(xl.shape.slice(1, -1)));
    const out = p.shape.slice(1, 1 + r);
    // channels_first patches flatten channels first, as Keras slices them from the channels-first input.
    if (this.dataFormat === 'channels_first') p = b.transpose(p, [...Array.from({ length: r + 1 }, (_, i) => i), 2 * r + 1, ...Array.from({ length: r }, (_, i) => r + 1 + i)]);
    const positions = out.reduce((q, n) => q * n, 1);
    const rows = b.transpose(b.reshape(p, [batch, positions, this.kernel!.shape[1]]), [1, 0, 2]);
    const y = b.reshape(b.transpose(b.matmul(rows, ctx.weight(this.kernel!)), [1, 0, 2]), [batch, ...out, this.filters]);
    return this.finish(b, y, ctx);
  }

  protected override layerConfig(): Record<string, unknown> {
    const { dilationRate: _d, ...base } = this.baseConfig();
    return { filters: this.filters, ...base, ...this.kernelConfig() };
  }
}

export class LocallyConnected1D extends LocallyConnected {
  override readonly className: string = 'LocallyConnected1D';
  constructor(filters: number, kernelSize: number | readonly number[], args: Omit<ConvArgs, 'dilationRate'> = {}) {
    super(1, filters, kernelSize, args);
  }
}

export class LocallyConnected2D extends LocallyConnected {
  override readonly className: string = 'LocallyConnected2D';
  constructor(filters: number, kernelSize: number | readonly number[], args: Omit<ConvArgs, 'dilationRate'> = {}) {
    super(2, filters, kernelSize, args);
  }
}
