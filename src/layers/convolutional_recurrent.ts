/**
 * Keras 2.2's ConvLSTM2D (keras/layers/convolutional_recurrent.py): an LSTM
 * whose input and recurrent transformations are 2-D convolutions, on the
 * IR's scan. Input (batch, time, rows, cols, channels) or, channels_first,
 * (batch, time, channels, rows, cols); kernel [kh, kw, channels, 4 filters]
 * and recurrent kernel [kh, kw, filters, 4 filters] in gate order i, f, c, o.
 * The input convolution of every step is one convolution over [steps *
 * batch, rows, cols, channels] hoisted out of the loop (with `strides`,
 * `padding`, `dilation_rate`); each step convolves h with the recurrent
 * kernel (strides 1, padding 'same', as Keras does) and applies the gates.
 * Dropout and recurrent dropout draw one mask per gate per sequence.
 */
import { type WindowGeometry, convolve, windowGeometry } from '../../ir/convolution.js';
import type { GraphBuilder, Value } from '../../ir/graph.js';
import { scan } from '../../ir/scan.js';
import { type Activation, type ActivationIdentifier, getActivation } from '../activations.js';
import type { Initializer, InitializerIdentifier } from '../initializers.js';
import { type Constraint, type Regularizer, getConstraint, getRegularizer } from '../regularizers.js';
import { type CallContext, type KShape, Layer, type LayerArgs, type Weight, initializerArg, initializerConfig, seedFromName, shapeText } from './base.js';
import { type DataFormat, checkFilters, intTuple, oneOf, readDataFormat, windowedSpatial } from './conv_args.js';
import { runtimeSteps, sequenceOutput, stepsInOrder } from './recurrent_time.js';

export interface ConvLSTM2DArgs extends LayerArgs {
  readonly strides?: number | readonly number[];
  readonly padding?: string;
  readonly dataFormat?: string | null;
  readonly dilationRate?: number | readonly number[];
  readonly activation?: ActivationIdentifier;
  readonly recurrentActivation?: ActivationIdentifier;
  readonly useBias?: boolean;
  readonly kernelInitializer?: InitializerIdentifier;
  readonly recurrentInitializer?: InitializerIdentifier;
  readonly biasInitializer?: InitializerIdentifier;
  readonly unitForgetBias?: boolean;
  readonly kernelRegularizer?: unknown;
  readonly recurrentRegularizer?: unknown;
  readonly biasRegularizer?: unknown;
  readonly activityRegularizer?: unknown;
  readonly kernelConstraint?: unknown;
  readonly recurrentConstraint?: unknown;
  readonly biasConstraint?: unknown;
  readonly returnSequences?: boolean;
  readonly returnState?: boolean;
  readonly goBackwards?: boolean;
  readonly stateful?: boolean;
  readonly dropout?: number;
  readonly recurrentDropout?: number;
}

const GATES = 4;

export class ConvLSTM2D extends Layer {
  readonly className = 'ConvLSTM2D';
  readonly kernelSize: number[];
  readonly strides: number[];
  readonly dilationRate: number[];
  readonly padding: 'valid' | 'same';
  readonly dataFormat: DataFormat;
  readonly activation: { name: string; fn: Activation };
  readonly recurrentActivation: { name: string; fn: Activation };
  readonly useBias: boolean;
  readonly unitForgetBias: boolean;
  readonly returnSequences: boolean;
  readonly returnState: boolean;
  readonly goBackwards: boolean;
  readonly stateful: boolean;
  readonly dropout: number;
  readonly recurrentDropout: number;
  private readonly init: { kernel: Initializer; recurrent: Initializer; bias: Initializer };
  private readonly regularizers: { kernel: Regularizer | null; recurrent: Regularizer | null; bias: Regularizer | null };
  private readonly constraints: { kernel: Constraint | null; recurrent: Constraint | null; bias: Constraint | null };
  private kernel: Weight | null = null;
  private recurrentKernel: Weight | null = null;
  private bias: Weight | null = null;
  private builtShape: KShape | null = null;

  constructor(readonly filters: number, kernelSize: number | readonly number[], args: ConvLSTM2DArgs = {}) {
    super(args);
    const where = `ConvLSTM2D ${this.name}`;
    checkFilters(where, filters);
    this.kernelSize = intTuple(where, 'kernelSize', kernelSize, 2);
    this.strides = intTuple(where, 'strides', args.strides ?? 1, 2);
    this.dilationRate = intTuple(where, 'dilationRate', args.dilationRate ?? 1, 2);
    this.padding = oneOf(where, 'padding', args.padding ?? 'valid', ['valid', 'same'] as const);
    this.dataFormat = readDataFormat(where, args.dataFormat);
    if (this.strides.some((s) => s > 1) && this.dilationRate.some((d) => d > 1)) throw new Error(`${where}: strides > 1 together with dilationRate > 1 is not supported (as in Keras), got strides ${JSON.stringify(this.strides)} and dilationRate ${JSON.stringify(this.dilationRate)}`);
    this.activation = getActivation(args.activation === undefined ? 'tanh' : args.activation);
    this.recurrentActivation = getActivation(args.recurrentActivation === undefined ? 'hard_sigmoid' : args.recurrentActivation);
    this.useBias = args.useBias ?? true;
    this.unitForgetBias = args.unitForgetBias ?? true;
    this.init = { kernel: initializerArg(args.kernelInitializer, 'glorot_uniform'), recurrent: initializerArg(args.recurrentInitializer, 'orthogonal'), bias: initializerArg(args.biasInitializer, 'zeros') };
    this.regularizers = { kernel: getRegularizer(args.kernelRegularizer as never), recurrent: getRegularizer(args.recurrentRegularizer as never), bias: getRegularizer(args.biasRegularizer as never) };
    this.activityRegularizer = getRegularizer(args.activityRegularizer as never);
    this.constraints = { kernel: getConstraint(args.kernelConstraint as never), recurrent: getConstraint(args.recurrentConstraint as never), bias: getConstraint(args.biasConstraint as never) };
    this.returnSequences = args.returnSequences ?? false;
    this.returnState = args.returnState ?? false;
    this.goBackwards = args.goBackwards ?? false;
    this.stateful = args.stateful ?? false;
    const fraction = (name: string, v: number): number => {
      if (typeof v !== 'number' || !(v >= 0 && v < 1)) throw new Error(`${where}: ${name} must be a number in [0, 1), got ${String(v)}`);
      return v;
    };
    this.dropout = fraction('dropout', args.dropout ?? 0);
    this.recurrentDropout = fraction('recurrentDropout', args.recurrentDropout ?? 0);
  }

  /** (rows, cols, channels) of one step's input, whatever the data format. */
  private stepDims(shape: KShape): [number | null, number | null, number | null] {
    if (shape.length !== 5) throw new Error(`ConvLSTM2D ${this.name} expects an input of rank 5 (batch, time, ${this.dataFormat === 'channels_last' ? 'rows, cols, channels' : 'channels, rows, cols'}), got shape ${shapeText(shape)}`);
    return this.dataFormat === 'channels_last' ? [shape[2], shape[3], shape[4]] : [shape[3], shape[4], shape[2]];
  }

  private geometry(spatial: readonly number[]): WindowGeometry {
    return windowGeometry(this.padding, spatial, this.kernelSize, this.strides, this.dilationRate);
  }

  /** The states' spatial extents (rows', cols') for an input's. */
  private outSpatial(shape: KShape): (number | null)[] {
    const [rows, cols] = this.stepDims(shape);
    return windowedSpatial(this, shape, [rows, cols], (k) => this.geometry(k));
  }

  private stateShape(batch: number | null, spatial: readonly (number | null)[]): KShape {
    return this.dataFormat === 'channels_last' ? [batch, ...spatial, this.filters] : [batch, this.filters, ...spatial];
  }

  override build(inputShape: KShape | readonly KShape[]): void {
    const shape = (Array.isArray(inputShape[0]) ? (inputShape as readonly KShape[])[0] : inputShape) as KShape;
    const [, , channels] = this.stepDims(shape);
    if (channels === null) throw new Error(`ConvLSTM2D ${this.name}: the channel dimension of the input must be known, got ${shapeText(shape)} (${this.dataFormat})`);
    if (this.stateful && shape[0] === null) throw new Error(`ConvLSTM2D ${this.name}: a stateful RNN needs a fixed batch size: give the first layer batchInputShape (or batchSize), got input shape ${shapeText(shape)}`);
    this.builtShape = shape;
    const width = GATES * this.filters;
    this.kernel = this.addWeight('kernel', [...this.kernelSize, channels, width], this.init.kernel, true, this.regularizers.kernel, this.constraints.kernel);
    this.recurrentKernel = this.addWeight('recurrent_kernel', [...this.kernelSize, this.filters, width], this.init.recurrent, true, this.regularizers.recurrent, this.constraints.recurrent);
    if (this.useBias) {
      this.bias = this.addWeight('bias', [width], this.init.bias, true, this.regularizers.bias, this.constraints.bias);
      if (this.unitForgetBias) this.bias.value.fill(1, this.filters, 2 * this.filters);
    }
    this.built = true;
  }

  override computeOutputShapes(inputShapes: readonly KShape[]): KShape[] {
    const [x, ...initial] = inputShapes;
    const [, , channels] = this.stepDims(x);
    if (this.kernel && channels !== this.kernel.shape[2]) throw new Error(`ConvLSTM2D ${this.name} was built for ${this.kernel.shape[2]} input channels, got shape ${shapeText(x)}`);
    const state = this.stateShape(x[0], this.outSpatial(x));
    if (initial.length && initial.length !== 2) throw new Error(`ConvLSTM2D ${this.name}: initial_state needs 2 tensors (h and c) of shape ${shapeText(state)}, got ${initial.length}`);
    initial.forEach((s, i) => {
      if (s.length !== 4 || s.some((d, j) => j > 0 && d !== state[j])) throw new Error(`ConvLSTM2D ${this.name}: initial state ${i} must have shape ${shapeText(state)}, got ${shapeText(s)}`);
    });
    const out: KShape = this.returnSequences ? [x[0], x[1], ...state.slice(1)] : state;
    return this.returnState ? [out, state, state] : [out];
  }

  override get keptStates(): readonly { readonly name: string; readonly size: number }[] {
    const shape = this.builtShape;
    if (!this.stateful || !shape || shape[0] === null) return [];
    const spatial = this.outSpatial(shape);
    if (spatial.some((d) => d === null)) return [];
    const size = shape[0] * (spatial as number[]).reduce((p, q) => p * q, 1) * this.filters;
    return [0, 1].map((i) => ({ name: `${this.name}/state_${i}`, size }));
  }

  override maskList(_b: GraphBuilder, _xs: readonly Value[], masks: readonly (Value | null)[]): (Value | null)[] {
    if (masks.some((m) => m !== null)) throw new Error(`ConvLSTM2D ${this.name} does not support masking, but was passed an input mask`);
    return this.returnState ? [null, null, null] : [null];
  }

  /** Keep masks [count] of `shape`, scaled by 1 / (1 - rate), one per sequence (Keras's _generate_dropout_mask). */
  private dropoutMasks(b: GraphBuilder, ctx: CallContext, rate: number, shape: number[], salt: number): Value[] | null {
    if (!ctx.training || rate === 0) return null;
    const u = ctx.random((seedFromName(this.name) + salt) >>> 0, [GATES, ...shape]);
    const keep = b.select(b.binary('ge', u, rate), 1 / (1 - rate), 0);
    return Array.from({ length: GATES }, (_, g) => b.reshape(b.slice(keep, [g, ...shape.map(() => 0)], [1, ...shape]), shape));
  }

  /** `x` (channels-last) convolved with the gates' kernel columns, each gate's input dropped out by its own mask when given. */
  private gateConv(b: GraphBuilder, x: Value, kernel: Value, g: WindowGeometry, masks: readonly Value[] | null): Value {
    if (!masks) return convolve(b, x, kernel, g);
    const [kh, kw, c] = kernel.shape;
    return b.concat(masks.map((m, i) => convolve(b, b.mul(x, b.broadcastTo(m, x.shape)), b.slice(kernel, [0, 0, 0, i * this.filters], [kh, kw, c, this.filters]), g)), 3);
  }

  override lowerList(b: GraphBuilder, xs: readonly Value[], ctx: CallContext, masks?: readonly (Value | null)[]): Value[] {
    if (masks?.some((m) => m)) throw new Error(`ConvLSTM2D ${this.name} does not support masking, but was passed an input mask`);
    const [given, ...initial] = xs;
    const last = (v: Value, from: number): Value => (this.dataFormat === 'channels_last' ? v : b.transpose(v, [...Array.from({ length: from }, (_, i) => i), from + 1, from + 2, from]));
    const back = (v: Value, from: number): Value => (this.dataFormat === 'channels_last' ? v : b.transpose(v, [...Array.from({ length: from }, (_, i) => i), from + 2, from, from + 1]));
    const x = last(given, 2);
    const [batch, steps, rows, cols, channels] = x.shape;
    const n = runtimeSteps(this, this.builtShape, ctx);
    const { xt, reverse } = stepsInOrder(b, x, this.goBackwards, n);
    // The input convolution of every step at once: [steps * batch, rows, cols, channels].
    const geometry = this.geometry([rows, cols]);
    const inMasks = this.dropoutMasks(b, ctx, this.dropout, [batch, rows, cols, channels], 1);
    const folded = b.reshape(xt, [steps * batch, rows, cols, channels]);
    const tiled = inMasks?.map((m) => b.reshape(b.broadcastTo(b.reshape(m, [1, batch, rows, cols, channels]), [steps, batch, rows, cols, channels]), folded.shape)) ?? null;
    let proj = this.gateConv(b, folded, ctx.weight(this.kernel!), geometry, tiled);
    if (this.bias) proj = b.add(proj, ctx.weight(this.bias));
    const [, oh, ow, width] = proj.shape;
    const projT = b.reshape(proj, [steps, batch, oh, ow, width]);
    const state = [batch, oh, ow, this.filters];
    const recMasks = this.dropoutMasks(b, ctx, this.recurrentDropout, state, 2);
    const kept = this.stateful ? [0, 1].map((i) => {
      if (!ctx.state) throw new Error(`ConvLSTM2D ${this.name}: this program keeps no states between runs, so a stateful layer cannot run in it`);
      return ctx.state(`${this.name}/state_${i}`, state);
    }) : null;
    const init = initial.length ? initial.map((s) => last(s, 1)) : kept ? kept.map((s) => s.value) : [0, 1].map(() => b.broadcastTo(b.constant(0, [], x.dtype), state));
    const recGeometry = windowGeometry('same', [oh, ow], this.kernelSize, [1, 1], [1, 1]);
    const act = this.activation.fn;
    const recAct = this.recurrentActivation.fn;
    const results = scan(b, { init, sequences: [projT], invariants: [ctx.weight(this.recurrentKernel!), ...(recMasks ?? [])], reverse, steps: n }, (sb, [h, c], [xp], [u, ...rm]) => {
      const z = sb.add(xp, this.gateConv(sb, h, u, recGeometry, rm.length ? rm : null));
      const gate = (g: number): Value => sb.slice(z, [0, 0, 0, g * this.filters], state);
      const i = recAct(sb, gate(0));
      const f = recAct(sb, gate(1));
      const cNew = sb.add(sb.mul(f, c), sb.mul(i, act(sb, gate(2))));
      const hNew = sb.mul(recAct(sb, gate(3)), act(sb, cNew));
      return { carries: [hNew, cNew], outputs: this.returnSequences ? [hNew] : [] };
    });
    const [hT, cT] = results;
    kept?.forEach((s, i) => s.set(results[i]));
    const output = this.returnSequences ? back(sequenceOutput(b, results[2], this.goBackwards, n), 2) : back(hT, 1);
    return this.returnState ? [output, back(hT, 1), back(cT, 1)] : [output];
  }

  protected override layerConfig(): Record<string, unknown> {
    return {
      filters: this.filters, kernelSize: this.kernelSize, strides: this.strides, padding: this.padding, dataFormat: this.dataFormat, dilationRate: this.dilationRate,
      activation: this.activation.name, recurrentActivation: this.recurrentActivation.name, useBias: this.useBias,
      kernelInitializer: initializerConfig(this.init.kernel), recurrentInitializer: initializerConfig(this.init.recurrent), biasInitializer: initializerConfig(this.init.bias),
      unitForgetBias: this.unitForgetBias,
      kernelRegularizer: this.regularizers.kernel?.config ?? null, recurrentRegularizer: this.regularizers.recurrent?.config ?? null, biasRegularizer: this.regularizers.bias?.config ?? null,
      activityRegularizer: this.activityRegularizer?.config ?? null,
      kernelConstraint: this.constraints.kernel?.config ?? null, recurrentConstraint: this.constraints.recurrent?.config ?? null, biasConstraint: this.constraints.bias?.config ?? null,
      returnSequences: this.returnSequences, returnState: this.returnState, goBackwards: this.goBackwards, stateful: this.stateful,
      dropout: this.dropout, recurrentDropout: this.recurrentDropout,
    };
  }
}
