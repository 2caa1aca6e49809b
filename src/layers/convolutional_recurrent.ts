/**
 * Keras 2.2's ConvLSTM2D (keras/layers/convolutional_recurrent.py): an LSTM
 * whose input and recurrent transformations are 2-D convolutions, on the
 * IR's scan (ir/scan.ts) like the other recurrent layers.
 *
 * The input convolution of every gate for every step is one convolution
 * over [steps * batch, rows, cols, channels], hoisted out of the loop (as
 * LSTM's input projection is); the scan's step is the recurrent convolution
 * ('same' padding, stride 1, no dilation, as Keras) plus the gates (i, f, c,
 * o). The layer works channels-last inside; channels_first inputs, states
 * and outputs are transposed at the edges. Masked steps carry the states
 * (and repeat the previous output); dropout and recurrent dropout draw one
 * mask per gate per sequence over the whole step input / state, as Keras 2.
 */
import { type WindowGeometry, convolve, windowGeometry } from '../../ir/convolution.js';
import type { GraphBuilder, Value } from '../../ir/graph.js';
import { scan } from '../../ir/scan.js';
import { type Activation, type ActivationIdentifier, getActivation } from '../activations.js';
import type { Initializer, InitializerIdentifier } from '../initializers.js';
import { type Constraint, type Regularizer, getConstraint, getRegularizer } from '../regularizers.js';
import { type CallContext, type KShape, Layer, type LayerArgs, type Weight, initializerArg, initializerConfig, seedFromName, shapeText } from './base.js';
import { type DataFormat, channelsOf, checkFilters, fromLast, intTuple, oneOf, readDataFormat, windowedSpatial } from './conv_args.js';
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
  /** Keras refuses true: convolutional RNNs cannot be unrolled. */
  readonly unroll?: boolean;
  readonly dropout?: number;
  readonly recurrentDropout?: number;
}

const GATES = 4;

function fraction(where: string, name: string, v: unknown): number {
  if (typeof v !== 'number' || !(v >= 0 && v < 1)) throw new Error(`${where}: ${name} must be a number in [0, 1), got ${String(v)}`);
  return v;
}

/** [batch, time, ...] channels-last of a 5-D input in `format`. */
function sequenceToLast(b: GraphBuilder, x: Value, format: DataFormat): Value {
  return format === 'channels_last' ? x : b.transpose(x, [0, 1, 3, 4, 2]);
}

export class ConvLSTM2D extends Layer {
  readonly className = 'ConvLSTM2D';
  override supportsMasking = true;
  readonly kernelSize: number[];
  readonly strides: number[];
  readonly dilationRate: number[];
  readonly padding: 'valid' | 'same';
  readonly dataFormat: DataFormat;
  readonly activation: { name: string; fn: Activation };
  readonly recurrentActivation: { name: string; fn: Activation };
  readonly useBias: boolean;
  readonly unitForgetBias: boolean;
  readonly dropout: number;
  readonly recurrentDropout: number;
  readonly returnSequences: boolean;
  readonly returnState: boolean;
  readonly goBackwards: boolean;
  readonly stateful: boolean;
  readonly unroll: boolean;
  private readonly initializers: { kernel: Initializer; recurrent: Initializer; bias: Initializer };
  private readonly regularizers: { kernel: Regularizer | null; recurrent: Regularizer | null; bias: Regularizer | null };
  private readonly constraints: { kernel: Constraint | null; recurrent: Constraint | null; bias: Constraint | null };
  private kernel: Weight | null = null;
  private recurrentKernel: Weight | null = null;
  private bias: Weight | null = null;
  /** The input shape at build (its time axis is null for run-time lengths). */
  private inputTimeShape: KShape | null = null;

  constructor(readonly filters: number, kernelSize: number | readonly number[], args: ConvLSTM2DArgs = {}) {
    super(args);
    const where = `ConvLSTM2D ${this.name}`;
    checkFilters(where, filters);
    this.kernelSize = intTuple(where, 'kernelSize', kernelSize, 2);
    this.strides = intTuple(where, 'strides', args.strides ?? 1, 2);
    this.dilationRate = intTuple(where, 'dilationRate', args.dilationRate ?? 1, 2);
    this.padding = oneOf(where, 'padding', args.padding ?? 'valid', ['valid', 'same'] as const);
    this.dataFormat = readDataFormat(where, args.dataFormat);
    if (this.strides.some((s) => s > 1) && this.dilationRate.some((d) => d > 1)) {
      throw new Error(`${where}: strides > 1 together with dilationRate > 1 is not supported (as in TensorFlow), got strides ${JSON.stringify(this.strides)} and dilationRate ${JSON.stringify(this.dilationRate)}`);
    }
    this.activation = getActivation(args.activation === undefined ? 'tanh' : args.activation);
    this.recurrentActivation = getActivation(args.recurrentActivation === undefined ? 'hard_sigmoid' : args.recurrentActivation);
    this.useBias = args.useBias ?? true;
    this.unitForgetBias = args.unitForgetBias ?? true;
    this.initializers = {
      kernel: initializerArg(args.kernelInitializer, 'glorot_uniform'),
      recurrent: initializerArg(args.recurrentInitializer, 'orthogonal'),
      bias: initializerArg(args.biasInitializer, 'zeros'),
    };
    this.regularizers = { kernel: getRegularizer(args.kernelRegularizer as never), recurrent: getRegularizer(args.recurrentRegularizer as never), bias: getRegularizer(args.biasRegularizer as never) };
    this.activityRegularizer = getRegularizer(args.activityRegularizer as never);
    this.constraints = { kernel: getConstraint(args.kernelConstraint as never), recurrent: getConstraint(args.recurrentConstraint as never), bias: getConstraint(args.biasConstraint as never) };
    this.dropout = fraction(where, 'dropout', args.dropout ?? 0);
    this.recurrentDropout = fraction(where, 'recurrentDropout', args.recurrentDropout ?? 0);
    this.returnSequences = args.returnSequences ?? false;
    this.returnState = args.returnState ?? false;
    this.goBackwards = args.goBackwards ?? false;
    this.stateful = args.stateful ?? false;
    this.unroll = args.unroll ?? false;
    if (this.unroll) throw new Error(`${where}: unroll is not possible with convolutional RNNs (as in Keras)`);
  }

  /** The 5-D input's [rows, cols] and channels, checked. */
  private stepShape(shape: KShape): { spatial: (number | null)[]; channels: number | null } {
    if (shape.length !== 5) throw new Error(`Layer ${this.name} (ConvLSTM2D) expects an input of rank 5 (batch, time, ${this.dataFormat === 'channels_last' ? 'rows, cols, channels' : 'channels, rows, cols'}), got shape ${shapeText(shape)}`);
    const step = [shape[0], ...shape.slice(2)];
    return { spatial: this.dataFormat === 'channels_last' ? step.slice(1, 3) : step.slice(2, 4), channels: channelsOf(step, this.dataFormat) };
  }

  private inputGeometry(spatial: readonly number[]): WindowGeometry {
    return windowGeometry(this.padding, spatial, this.kernelSize, this.strides, this.dilationRate);
  }

  /** 'same', stride 1, no dilation: Keras's recurrent_conv. */
  private recurrentGeometry(spatial: readonly number[]): WindowGeometry {
    return windowGeometry('same', spatial, this.kernelSize, [1, 1], [1, 1]);
  }

  override build(inputShape: KShape | readonly KShape[]): void {
    const shape = (Array.isArray(inputShape[0]) ? (inputShape as readonly KShape[])[0] : inputShape) as KShape;
    const { channels } = this.stepShape(shape);
    if (channels === null) throw new Error(`Layer ${this.name} (ConvLSTM2D): the channel dimension of the input must be known, got ${shapeText(shape)} (${this.dataFormat})`);
    if (this.stateful && shape[0] === null) throw new Error(`ConvLSTM2D ${this.name}: a stateful RNN needs a fixed batch size: give the first layer batchInputShape (or batchSize), got input shape ${shapeText(shape)}`);
    this.inputTimeShape = shape;
    const width = GATES * this.filters;
    this.kernel = this.addWeight('kernel', [...this.kernelSize, channels, width], this.initializers.kernel, true, this.regularizers.kernel, this.constraints.kernel);
    this.recurrentKernel = this.addWeight('recurrent_kernel', [...this.kernelSize, this.filters, width], this.initializers.recurrent, true, this.regularizers.recurrent, this.constraints.recurrent);
    if (this.useBias) {
      this.bias = this.addWeight('bias', [width], this.initializers.bias, true, this.regularizers.bias, this.constraints.bias);
      // unit_forget_bias: the forget gate's bias starts at one, the others from the bias initializer.
      if (this.unitForgetBias) this.bias.value.fill(1, this.filters, 2 * this.filters);
    }
    this.built = true;
  }

  /** The output's [rows, cols] (null where the input's are unknown); a window that does not fit names the layer. */
  private outputSpatial(shape: KShape): (number | null)[] {
    const { spatial } = this.stepShape(shape);
    return windowedSpatial(this, shape, spatial, (known) => this.inputGeometry(known));
  }

  private stateShape(batch: number | null, spatial: readonly (number | null)[]): KShape {
    return this.dataFormat === 'channels_last' ? [batch, ...spatial, this.filters] : [batch, this.filters, ...spatial];
  }

  override computeOutputShapes(inputShapes: readonly KShape[]): KShape[] {
    const [x, ...initial] = inputShapes;
    const { channels } = this.stepShape(x);
    if (this.kernel && channels !== this.kernel.shape[2]) throw new Error(`ConvLSTM2D ${this.name} was built for ${this.kernel.shape[2]} input channels, got shape ${shapeText(x)}`);
    const spatial = this.outputSpatial(x);
    const state = this.stateShape(x[0], spatial);
    if (initial.length && initial.length !== 2) throw new Error(`ConvLSTM2D ${this.name}: initial_state needs 2 tensors (h and c) of shape ${shapeText(state)}, got ${initial.length}`);
    initial.forEach((s, i) => {
      if (s.length !== 4 || s.slice(1).some((d, j) => d !== state[j + 1])) throw new Error(`ConvLSTM2D ${this.name}: initial state ${i} must have shape ${shapeText(state)}, got ${shapeText(s)}`);
    });
    const out: KShape = this.returnSequences ? [state[0], x[1], ...state.slice(1)] : state;
    return this.returnState ? [out, state, state] : [out];
  }

  override maskList(b: GraphBuilder, _xs: readonly Value[], masks: readonly (Value | null)[]): (Value | null)[] {
    const out = this.returnSequences && masks[0] ? stepMask(b, masks[0]) : null;
    return this.returnState ? [out, null, null] : [out];
  }

  /** `count` keep masks of `shape`, scaled by 1 / (1 - rate), drawn once per sequence in training (Keras's _generate_dropout_mask). */
  private dropoutMasks(b: GraphBuilder, ctx: CallContext, rate: number, shape: number[], salt: number): Value[] | null {
    if (!ctx.training || rate === 0) return null;
    const u = ctx.random((seedFromName(this.name) + salt) >>> 0, [GATES, ...shape]);
    const keep = b.select(b.binary('ge', u, rate), 1 / (1 - rate), 0);
    return Array.from({ length: GATES }, (_, g) => b.reshape(b.slice(keep, [g, ...shape.map(() => 0)], [1, ...shape]), shape));
  }

  /** Columns of gate g of a kernel [kh, kw, in, 4 * filters]. */
  private gateKernel(b: GraphBuilder, kernel: Value, g: number): Value {
    const [kh, kw, c] = kernel.shape;
    return b.slice(kernel, [0, 0, 0, g * this.filters], [kh, kw, c, this.filters]);
  }

  /** x [steps, batch, rows, cols, ch] -> [steps, batch, rows', cols', 4 * filters]: one convolution (one per gate under input dropout). */
  private project(b: GraphBuilder, xt: Value, ctx: CallContext): Value {
    const [steps, batch, ...step] = xt.shape;
    const kernel = ctx.weight(this.kernel!);
    const g = this.inputGeometry(step.slice(0, 2));
    const rows = (v: Value): Value => b.reshape(v, [steps * batch, ...step]);
    const masks = this.dropoutMasks(b, ctx, this.dropout, [batch, ...step], 1);
    let proj = masks
      ? b.concat(masks.map((m, i) => convolve(b, rows(b.mul(xt, b.broadcastTo(m, xt.shape))), this.gateKernel(b, kernel, i), g)), 3)
      : convolve(b, rows(xt), kernel, g);
    if (this.bias) proj = b.add(proj, ctx.weight(this.bias));
    return b.reshape(proj, [steps, batch, ...proj.shape.slice(1)]);
  }

  /** h [batch, rows, cols, filters] convolved with the recurrent kernel ('same'), each gate over its own dropped-out h under recurrent dropout. */
  private recurrentConv(b: GraphBuilder, h: Value, kernel: Value, masks: readonly Value[]): Value {
    const g = this.recurrentGeometry(h.shape.slice(1, 3));
    if (masks.length === 0) return convolve(b, h, kernel, g);
    return b.concat(masks.map((m, i) => convolve(b, b.mul(h, m), this.gateKernel(b, kernel, i), g)), 3);
  }

  /** One step: the projected input xp and states [h, c], channels-last -> [h, c]. */
  private step(b: GraphBuilder, xp: Value, [h, c]: readonly Value[], kernel: Value, masks: readonly Value[]): Value[] {
    const z = b.add(xp, this.recurrentConv(b, h, kernel, masks));
    const f = this.filters;
    const gate = (i: number): Value => b.slice(z, [0, 0, 0, i * f], [...z.shape.slice(0, 3), f]);
    const act = this.activation.fn;
    const recAct = this.recurrentActivation.fn;
    const cNew = b.add(b.mul(recAct(b, gate(1)), c), b.mul(recAct(b, gate(0)), act(b, gate(2))));
    return [b.mul(recAct(b, gate(3)), act(b, cNew)), cNew];
  }

  override lowerList(b: GraphBuilder, xs: readonly Value[], ctx: CallContext, masks?: readonly (Value | null)[]): Value[] {
    const [x, ...initial] = xs;
    if (x.shape.length !== 5) throw new Error(`Layer ${this.name} (ConvLSTM2D) expects an input of rank 5, got shape (${x.shape.join(', ')})`);
    const xl = sequenceToLast(b, x, this.dataFormat);
    const [batch, steps] = xl.shape;
    const n = runtimeSteps(ctx);
    const { xt, reverse, order } = stepsInOrder(b, xl, this.goBackwards, n);
    const proj = this.project(b, xt, ctx);
    const stateShape = [batch, ...proj.shape.slice(2, 4), this.filters];
    const mask = masks?.[0] ? stepMask(b, masks[0]) : null;
    const maskT = mask ? order(b.reshape(b.transpose(b.cast(mask, 'bool'), [1, 0]), [steps, batch, 1, 1, 1])) : null;
    const kept = this.stateful ? this.stateValues(stateShape, ctx) : null;
    const init = initial.length ? initial.map((s) => this.toLastState(b, s, stateShape))
      : kept ? kept.map((s) => s.value)
      : [0, 1].map(() => b.broadcastTo(b.constant(0, [], x.dtype), stateShape));
    const recMasks = this.dropoutMasks(b, ctx, this.recurrentDropout, stateShape, 2) ?? [];
    const invariants = [ctx.weight(this.recurrentKernel!), ...recMasks];
    const results = scan(b, { init, sequences: [proj, ...(maskT ? [maskT] : [])], invariants, reverse, steps: n }, (sb, states, [xp, m], inv) => {
      let next = this.step(sb, xp, states, inv[0], inv.slice(1));
      if (m) next = next.map((v, i) => sb.select(sb.broadcastTo(m, v.shape), v, states[i]));
      return { carries: next, outputs: this.returnSequences ? [next[0]] : [] };
    });
    const finals = results.slice(0, 2);
    kept?.forEach((s, i) => s.set(finals[i]));
    const output = this.returnSequences
      ? sequenceToFormat(b, sequenceOutput(b, results[2], this.goBackwards, n), this.dataFormat)
      : fromLast(b, finals[0], this.dataFormat);
    return this.returnState ? [output, ...finals.map((s) => fromLast(b, s, this.dataFormat))] : [output];
  }

  /** An initial state in the layer's data format, channels-last and checked against the states' shape. */
  private toLastState(b: GraphBuilder, s: Value, shape: readonly number[]): Value {
    const last = this.dataFormat === 'channels_last' ? s : b.transpose(s, [0, 2, 3, 1]);
    if (last.shape.length !== 4 || last.shape.some((d, i) => d !== shape[i])) throw new Error(`ConvLSTM2D ${this.name}: an initial state must have shape ${shapeText(this.stateShape(shape[0], shape.slice(1, 3)))}, got (${s.shape.join(', ')})`);
    return last;
  }

  /** The run-time sequence length where the input has timesteps=None, else null. */
  runtimeSteps(ctx: CallContext): Value | null {
    return runtimeSteps(ctx);
  }

  /** A stateful layer's states h and c (channels-last), `<layer>/state_<i>`, kept between runs and batches. */
  override get keptStates(): readonly { readonly name: string; readonly size: number }[] {
    const shape = this.stateful && this.inputTimeShape ? this.keptShape(this.inputTimeShape) : null;
    if (!shape) return [];
    return [0, 1].map((i) => ({ name: `${this.name}/state_${i}`, size: shape.reduce((p, q) => p * q, 1) }));
  }

  private keptShape(input: KShape): number[] | null {
    const spatial = this.outputSpatial(input);
    if (input[0] === null || spatial.some((d) => d === null)) return null;
    return [input[0], ...(spatial as number[]), this.filters];
  }

  private stateValues(shape: readonly number[], ctx: CallContext): { value: Value; set(next: Value): void }[] {
    if (!ctx.state) throw new Error(`ConvLSTM2D ${this.name}: this program keeps no states between runs, so a stateful layer cannot run in it`);
    const built = this.inputTimeShape ? this.keptShape(this.inputTimeShape) : null;
    if (built && built.some((d, i) => d !== shape[i])) throw new Error(`ConvLSTM2D ${this.name}: this stateful layer was built for states of shape [${built.join(', ')}], got [${shape.join(', ')}] (use batchSize: ${built[0]} and a sample count that is a multiple of it)`);
    return [0, 1].map((i) => ctx.state!(`${this.name}/state_${i}`, shape));
  }

  protected override layerConfig(): Record<string, unknown> {
    return {
      returnSequences: this.returnSequences, returnState: this.returnState, goBackwards: this.goBackwards, stateful: this.stateful, unroll: this.unroll,
      filters: this.filters, kernelSize: this.kernelSize, strides: this.strides, padding: this.padding, dataFormat: this.dataFormat, dilationRate: this.dilationRate,
      activation: this.activation.name, recurrentActivation: this.recurrentActivation.name, useBias: this.useBias,
      kernelInitializer: initializerConfig(this.initializers.kernel), recurrentInitializer: initializerConfig(this.initializers.recurrent),
      biasInitializer: initializerConfig(this.initializers.bias), unitForgetBias: this.unitForgetBias,
      kernelRegularizer: this.regularizers.kernel?.config ?? null, recurrentRegularizer: this.regularizers.recurrent?.config ?? null,
      biasRegularizer: this.regularizers.bias?.config ?? null, activityRegularizer: this.activityRegularizer?.config ?? null,
      kernelConstraint: this.constraints.kernel?.config ?? null, recurrentConstraint: this.constraints.recurrent?.config ?? null,
      biasConstraint: this.constraints.bias?.config ?? null,
      dropout: this.dropout, recurrentDropout: this.recurrentDropout,
    };
  }
}

/**
 * A mask per step [batch, time]. Masking over frames gives one per position
 * [batch, time, rows, cols] (Keras 2.2's TensorFlow rnn cannot take it); a
 * step counts where any of its positions does, so an all-masked frame is a
 * masked step.
 */
function stepMask(b: GraphBuilder, mask: Value): Value {
  if (mask.shape.length === 2) return mask;
  const axes = mask.shape.slice(2).map((_, i) => i + 2);
  return b.binary('gt', b.max(b.cast(mask, 'float32'), axes), 0);
}

/** A sequence [batch, time, rows, cols, filters] in the layer's data format. */
function sequenceToFormat(b: GraphBuilder, y: Value, format: DataFormat): Value {
  return format === 'channels_last' ? y : b.transpose(y, [0, 1, 4, 2, 3]);
}
