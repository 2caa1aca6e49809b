/**
 * Keras 2.2 recurrent layers: SimpleRNN, GRU and LSTM, on the IR's scan
 * (ir/scan.ts), so a compiled model does not grow with the sequence length.
 *
 * The input projection of every gate for every step (x W + b) is one matmul
 * over [steps * batch, features], hoisted out of the loop; the scan's step
 * (src/layers/recurrent_cells.ts) does the recurrent matmul and the gates.
 * Masked steps carry the state (and repeat the previous output); dropout and
 * recurrent dropout draw one mask per sequence in training and reuse it at
 * every step, as Keras 2 does.
 */
import type { GraphBuilder, Value } from '../../ir/graph.js';
import { scan } from '../../ir/scan.js';
import { type Activation, type ActivationIdentifier, getActivation } from '../activations.js';
import type { Initializer, InitializerIdentifier } from '../initializers.js';
import { type Constraint, type Regularizer, getConstraint, getRegularizer } from '../regularizers.js';
import { type CallContext, type KShape, Layer, type LayerArgs, type Weight, expectRank, initializerArg, initializerConfig, seedFromName, shapeText } from './base.js';
import { runtimeSteps, sequenceOutput, stepsInOrder } from './recurrent_time.js';
import { type CellDef, LSTM_CELL, SIMPLE_RNN_CELL, type StepOperands, gruCell } from './recurrent_cells.js';

export interface RecurrentArgs extends LayerArgs {
  readonly activation?: ActivationIdentifier;
  readonly recurrentActivation?: ActivationIdentifier;
  readonly useBias?: boolean;
  readonly kernelInitializer?: InitializerIdentifier;
  readonly recurrentInitializer?: InitializerIdentifier;
  readonly biasInitializer?: InitializerIdentifier;
  readonly kernelRegularizer?: unknown;
  readonly recurrentRegularizer?: unknown;
  readonly biasRegularizer?: unknown;
  readonly activityRegularizer?: unknown;
  readonly kernelConstraint?: unknown;
  readonly recurrentConstraint?: unknown;
  readonly biasConstraint?: unknown;
  readonly dropout?: number;
  readonly recurrentDropout?: number;
  readonly returnSequences?: boolean;
  readonly returnState?: boolean;
  readonly goBackwards?: boolean;
  readonly stateful?: boolean;
  /** Accepted for Keras compatibility: the loop is never unrolled (the program does not grow with the steps). */
  readonly unroll?: boolean;
  readonly implementation?: number;
}

export interface LSTMArgs extends RecurrentArgs {
  readonly unitForgetBias?: boolean;
}

export interface GRUArgs extends RecurrentArgs {
  readonly resetAfter?: boolean;
}

function checkFraction(where: string, name: string, v: number): number {
  if (typeof v !== 'number' || !(v >= 0 && v < 1)) throw new Error(`${where}: ${name} must be a number in [0, 1), got ${String(v)}`);
  return v;
}

/** What SimpleRNN, GRU and LSTM share: arguments, weights, the hoisted projection and the scan. */
export abstract class RecurrentLayer extends Layer {
  override supportsMasking = true;
  readonly activation: { name: string; fn: Activation };
  readonly recurrentActivation: { name: string; fn: Activation };
  readonly useBias: boolean;
  readonly dropout: number;
  readonly recurrentDropout: number;
  readonly returnSequences: boolean;
  readonly returnState: boolean;
  readonly goBackwards: boolean;
  readonly stateful: boolean;
  readonly unroll: boolean;
  readonly implementation: number;
  protected readonly initializers: { kernel: Initializer; recurrent: Initializer; bias: Initializer };
  protected readonly regularizers: { kernel: Regularizer | null; recurrent: Regularizer | null; bias: Regularizer | null };
  protected readonly constraints: { kernel: Constraint | null; recurrent: Constraint | null; bias: Constraint | null };
  protected kernel: Weight | null = null;
  protected recurrentKernel: Weight | null = null;
  protected bias: Weight | null = null;
  protected abstract readonly cell: CellDef;

  constructor(readonly units: number, args: RecurrentArgs, recurrentActivationDefault: string | null) {
    super(args);
    // Class fields (className) are not set yet while the base constructors run.
    const where = `${new.target.name} ${this.name}`;
    if (!Number.isInteger(units) || units < 1) throw new Error(`${where}: units must be a positive integer, got ${String(units)}`);
    this.activation = getActivation(args.activation === undefined ? 'tanh' : args.activation);
    this.recurrentActivation = getActivation(args.recurrentActivation === undefined ? recurrentActivationDefault : args.recurrentActivation);
    this.useBias = args.useBias ?? true;
    this.initializers = {
      kernel: initializerArg(args.kernelInitializer, 'glorot_uniform'),
      recurrent: initializerArg(args.recurrentInitializer, 'orthogonal'),
      bias: initializerArg(args.biasInitializer, 'zeros'),
    };
    this.regularizers = { kernel: getRegularizer(args.kernelRegularizer as never), recurrent: getRegularizer(args.recurrentRegularizer as never), bias: getRegularizer(args.biasRegularizer as never) };
    this.activityRegularizer = getRegularizer(args.activityRegularizer as never);
    this.constraints = { kernel: getConstraint(args.kernelConstraint as never), recurrent: getConstraint(args.recurrentConstraint as never), bias: getConstraint(args.biasConstraint as never) };
    this.dropout = checkFraction(where, 'dropout', args.dropout ?? 0);
    this.recurrentDropout = checkFraction(where, 'recurrentDropout', args.recurrentDropout ?? 0);
    this.returnSequences = args.returnSequences ?? false;
    this.returnState = args.returnState ?? false;
    this.goBackwards = args.goBackwards ?? false;
    this.stateful = args.stateful ?? false;
    this.unroll = args.unroll ?? false;
    this.implementation = args.implementation ?? 1;
    if (this.implementation !== 1 && this.implementation !== 2) throw new Error(`${where}: implementation must be 1 or 2, got ${String(args.implementation)}`);
    if (this.stateful && this.batchInputShape && this.batchInputShape[0] === null) throw new Error(`${where}: a stateful RNN needs a fixed batch size: give batchInputShape (or batchSize), got input shape ${shapeText(this.batchInputShape)}`);
  }

  /** Bias values at build: zeros-like from the bias initializer; LSTM's unit_forget_bias overrides. */
  protected biasShape(): number[] {
    return [this.cell.gates * this.units];
  }

  protected initBias(w: Weight): void {
    void w;
  }

  override build(inputShape: KShape | readonly KShape[]): void {
    const shape = (Array.isArray(inputShape[0]) ? (inputShape as readonly KShape[])[0] : inputShape) as KShape;
    expectRank(this, shape, 3, 3);
    const features = shape[2];
    if (features === null) throw new Error(`${this.className} ${this.name}: the last dimension of the input must be known, got ${shapeText(shape)}`);
    this.statefulBatch = shape[0];
    if (this.stateful && shape[0] === null) throw new Error(`${this.className} ${this.name}: a stateful RNN needs a fixed batch size: give the first layer batchInputShape (or batchSize), got input shape ${shapeText(shape)}`);
    const width = this.cell.gates * this.units;
    this.kernel = this.addWeight('kernel', [features, width], this.initializers.kernel, true, this.regularizers.kernel, this.constraints.kernel);
    this.recurrentKernel = this.addWeight('recurrent_kernel', [this.units, width], this.initializers.recurrent, true, this.regularizers.recurrent, this.constraints.recurrent);
    if (this.useBias) {
      this.bias = this.addWeight('bias', this.biasShape(), this.initializers.bias, true, this.regularizers.bias, this.constraints.bias);
      this.initBias(this.bias);
    }
    this.built = true;
  }

  private stateShapes(batch: number | null): KShape[] {
    return Array.from({ length: this.cell.states }, () => [batch, this.units]);
  }

  override computeOutputShapes(inputShapes: readonly KShape[]): KShape[] {
    const [x, ...initial] = inputShapes;
    expectRank(this, x, 3, 3);
    if (this.kernel && x[2] !== this.kernel.shape[0]) throw new Error(`${this.className} ${this.name} expects inputs with last dimension ${this.kernel.shape[0]}, got shape ${shapeText(x)}`);
    if (initial.length && initial.length !== this.cell.states) throw new Error(`${this.className} ${this.name}: initial_state needs ${this.cell.states} tensor(s) of shape (batch, ${this.units}), got ${initial.length}`);
    initial.forEach((s, i) => {
      if (s.length !== 2 || s[1] !== this.units) throw new Error(`${this.className} ${this.name}: initial state ${i} must have shape (batch, ${this.units}), got ${shapeText(s)}`);
    });
    const out: KShape = this.returnSequences ? [x[0], x[1], this.units] : [x[0], this.units];
    return this.returnState ? [out, ...this.stateShapes(x[0])] : [out];
  }

  override maskList(_b: GraphBuilder, xs: readonly Value[], masks: readonly (Value | null)[]): (Value | null)[] {
    const out = this.returnSequences ? masks[0] ?? null : null;
    return this.returnState ? [out, ...Array.from({ length: this.cell.states }, () => null)] : [out];
    void xs;
  }

  /** One keep mask per sequence, scaled by 1 / (1 - rate) (Keras's _generate_dropout_mask), `count` of them. */
  private dropoutMasks(b: GraphBuilder, ctx: CallContext, rate: number, shape: number[], count: number, salt: number): Value[] | null {
    if (!ctx.training || rate === 0) return null;
    const u = ctx.random((seedFromName(this.name) + salt) >>> 0, [count, ...shape]);
    const keep = b.select(b.binary('ge', u, rate), 1 / (1 - rate), 0);
    return Array.from({ length: count }, (_, i) => b.reshape(b.slice(keep, [i, ...shape.map(() => 0)], [1, ...shape]), shape));
  }

  /** How many states the cell carries (h, or h and c). */
  get stateCount(): number {
    return this.cell.states;
  }

  /**
   * What one step needs from outside the loop (the recurrent kernel, GRU's
   * recurrent bias, recurrent dropout masks) and the step itself over the
   * projected input, given those invariants as the loop body sees them.
   */
  stepParts(b: GraphBuilder, ctx: CallContext, batch: number): { invariants: Value[]; step: (sb: GraphBuilder, xp: Value, states: readonly Value[], inv: readonly Value[]) => Value[] } {
    const recMasks = this.dropoutMasks(b, ctx, this.recurrentDropout, [batch, this.units], this.implementation === 2 ? 1 : this.cell.gates, 2);
    const recBias = this.recurrentBias(b, this.bias ? ctx.weight(this.bias) : null);
    const invariants = [ctx.weight(this.recurrentKernel!), ...(recBias ? [recBias] : []), ...(recMasks ?? [])];
    return {
      invariants,
      step: (sb, xp, states, inv) => {
        const ops: StepOperands = { recurrentKernel: inv[0], recurrentBias: recBias ? inv[1] : null, recurrentMasks: recMasks ? inv.slice(recBias ? 2 : 1, invariants.length) : null };
        return this.cell.step(sb, xp, states, ops, this.activation.fn, this.recurrentActivation.fn);
      },
    };
  }

  /**
   * Inside a loop (a stacked cell's input is the cell below's new h): x W + b
   * for one step; the kernel, bias and input dropout masks as invariants.
   * The masks are this cell's own (Keras 2: each cell of StackedRNNCells
   * draws its masks from its own input), one per gate with implementation 1.
   */
  inputParts(b: GraphBuilder, ctx: CallContext, batch: number): { invariants: Value[]; project: (sb: GraphBuilder, x: Value, inv: readonly Value[]) => Value } {
    const bias = this.bias ? this.inputBias(b, ctx.weight(this.bias)) : null;
    const features = this.kernel!.shape[0];
    const masks = this.dropoutMasks(b, ctx, this.dropout, [batch, features], this.implementation === 2 ? 1 : this.cell.gates, 1) ?? [];
    return {
      invariants: [ctx.weight(this.kernel!), ...(bias ? [bias] : []), ...masks],
      project: (sb, x, inv) => {
        const [kernel, ms] = [inv[0], inv.slice(bias ? 2 : 1)];
        const proj = ms.length === 0 ? sb.matmul(x, kernel)
          : ms.length === 1 ? sb.matmul(sb.mul(x, ms[0]), kernel)
          : sb.concat(ms.map((m, g) => sb.matmul(sb.mul(x, m), sb.slice(kernel, [0, g * this.units], [features, this.units]))), 1);
        return bias ? sb.add(proj, sb.broadcastTo(inv[1], proj.shape)) : proj;
      },
    };
  }

  /** x [steps, batch, features] -> [steps, batch, gates * units]: one matmul (one per gate under input dropout). */
  project(b: GraphBuilder, xt: Value, ctx: CallContext): Value {
    const [steps, batch, features] = xt.shape;
    const width = this.cell.gates * this.units;
    const kernel = ctx.weight(this.kernel!);
    const masks = this.dropoutMasks(b, ctx, this.dropout, [batch, features], this.implementation === 2 ? 1 : this.cell.gates, 1);
    const rows = (v: Value): Value => b.reshape(v, [steps * batch, features]);
    let proj: Value;
    if (!masks) proj = b.matmul(rows(xt), kernel);
    else {
      const dropped = (m: Value): Value => rows(b.mul(xt, b.broadcastTo(m, xt.shape)));
      proj = masks.length === 1
        ? b.matmul(dropped(masks[0]), kernel)
        : b.concat(masks.map((m, g) => b.matmul(dropped(m), b.slice(kernel, [0, g * this.units], [features, this.units]))), 1);
    }
    if (this.bias) proj = b.add(proj, this.inputBias(b, ctx.weight(this.bias)));
    return b.reshape(proj, [steps, batch, width]);
  }

  /** The bias added to the input projection (GRU reset_after keeps a second row for the recurrent side). */
  protected inputBias(_b: GraphBuilder, bias: Value): Value {
    return bias;
  }

  protected recurrentBias(_b: GraphBuilder, _bias: Value | null): Value | null {
    return null;
  }

  override lowerList(b: GraphBuilder, xs: readonly Value[], ctx: CallContext, masks?: readonly (Value | null)[]): Value[] {
    const [x, ...initial] = xs;
    if (x.shape.length !== 3) throw new Error(`${this.className} ${this.name} expects an input of rank 3 (batch, timesteps, features), got shape (${x.shape.join(', ')})`);
    const [batch, steps] = x.shape;
    const n = this.runtimeSteps(ctx);
    initial.forEach((s, i) => {
      if (s.shape.length !== 2 || s.shape[0] !== batch || s.shape[1] !== this.units) throw new Error(`${this.className} ${this.name}: initial state ${i} must have shape (${batch}, ${this.units}), got (${s.shape.join(', ')})`);
    });
    const { xt, reverse, order } = stepsInOrder(b, x, this.goBackwards, n);
    const proj = this.project(b, xt, ctx);
    const mask = masks?.[0] ?? null;
    const maskT = mask ? order(b.reshape(b.transpose(b.cast(mask, 'bool'), [1, 0]), [steps, batch, 1])) : null;
    const kept = this.stateful ? this.stateValues(batch, ctx) : null;
    const init = initial.length ? [...initial] : kept ? kept.map((s) => s.value) : Array.from({ length: this.cell.states }, () => b.broadcastTo(b.constant(0, [], x.dtype), [batch, this.units]));
    const step = this.stepParts(b, ctx, batch);
    const results = scan(b, { init, sequences: [proj, ...(maskT ? [maskT] : [])], invariants: step.invariants, reverse, steps: n }, (sb, states, [xp, m], inv) => {
      let next = step.step(sb, xp, states, inv);
      if (m) next = next.map((v, i) => sb.select(sb.broadcastTo(m, v.shape), v, states[i]));
      return { carries: next, outputs: this.returnSequences ? [next[0]] : [] };
    });
    const finals = results.slice(0, this.cell.states);
    kept?.forEach((s, i) => s.set(finals[i]));
    const output = this.returnSequences ? sequenceOutput(b, results[this.cell.states], this.goBackwards, n) : finals[0];
    return this.returnState ? [output, ...finals] : [output];
  }

  /** The run-time sequence length where this call's input has timesteps=None, else null. */
  runtimeSteps(ctx: CallContext): Value | null {
    return runtimeSteps(ctx);
  }

  /** The batch size a stateful layer was built for (its states are [batch, units]). */
  private statefulBatch: number | null = null;

  /** Its states [batch, units] where stateful, named `<layer>/state_<i>`. */
  override get keptStates(): readonly { readonly name: string; readonly size: number }[] {
    if (!this.stateful || this.statefulBatch === null) return [];
    return Array.from({ length: this.cell.states }, (_, i) => ({ name: `${this.name}/state_${i}`, size: this.statefulBatch! * this.units }));
  }

  /** A stateful layer's states, kept between runs and batches in the model's shared state (zeros until the first run and after resetStates). */
  stateValues(batch: number, ctx: CallContext): { value: Value; set(next: Value): void }[] {
    if (!ctx.state) throw new Error(`${this.className} ${this.name}: this program keeps no states between runs, so a stateful layer cannot run in it`);
    if (this.statefulBatch !== null && batch !== this.statefulBatch) throw new Error(`${this.className} ${this.name}: this stateful layer was built for batches of ${this.statefulBatch} samples, got a batch of ${batch} (use batchSize: ${this.statefulBatch} and a sample count that is a multiple of it)`);
    return Array.from({ length: this.cell.states }, (_, i) => ctx.state!(`${this.name}/state_${i}`, [batch, this.units]));
  }

  protected baseConfig(): Record<string, unknown> {
    return {
      returnSequences: this.returnSequences, returnState: this.returnState, goBackwards: this.goBackwards, stateful: this.stateful, unroll: this.unroll,
      units: this.units, activation: this.activation.name, useBias: this.useBias,
      kernelInitializer: initializerConfig(this.initializers.kernel), recurrentInitializer: initializerConfig(this.initializers.recurrent),
      biasInitializer: initializerConfig(this.initializers.bias),
      kernelRegularizer: this.regularizers.kernel?.config ?? null, recurrentRegularizer: this.regularizers.recurrent?.config ?? null,
      biasRegularizer: this.regularizers.bias?.config ?? null, activityRegularizer: this.activityRegularizer?.config ?? null,
      kernelConstraint: this.constraints.kernel?.config ?? null, recurrentConstraint: this.constraints.recurrent?.config ?? null,
      biasConstraint: this.constraints.bias?.config ?? null,
      dropout: this.dropout, recurrentDropout: this.recurrentDropout,
    };
  }
}

export class SimpleRNN extends RecurrentLayer {
  readonly className = 'SimpleRNN';
  protected readonly cell = SIMPLE_RNN_CELL;

  /** Keras 2's SimpleRNN takes `implementation` and drops it (a deprecation warning there). */
  static readonly optionsBeyondConfig: readonly string[] = ['implementation'];

  /** No recurrentActivation: a SimpleRNN has no gates. */
  constructor(units: number, args: Omit<RecurrentArgs, 'recurrentActivation'> = {}) {
    super(units, args, null);
  }

  protected override layerConfig(): Record<string, unknown> {
    return this.baseConfig();
  }
}

export class LSTM extends RecurrentLayer {
  readonly className: string = 'LSTM';
  protected readonly cell = LSTM_CELL;
  readonly unitForgetBias: boolean;

  constructor(units: number, args: LSTMArgs = {}) {
    super(units, args, 'hard_sigmoid');
    this.unitForgetBias = args.unitForgetBias ?? true;
  }

  /** unit_forget_bias: the forget gate's bias starts at one, the others from the bias initializer. */
  protected override initBias(w: Weight): void {
    if (this.unitForgetBias) w.value.fill(1, this.units, 2 * this.units);
  }

  protected override layerConfig(): Record<string, unknown> {
    const c = this.baseConfig();
    return { ...c, recurrentActivation: this.recurrentActivation.name, unitForgetBias: this.unitForgetBias, implementation: this.implementation };
  }
}

export class GRU extends RecurrentLayer {
  readonly className: string = 'GRU';
  protected readonly cell;
  readonly resetAfter: boolean;

  constructor(units: number, args: GRUArgs = {}) {
    super(units, args, 'hard_sigmoid');
    this.resetAfter = args.resetAfter ?? false;
    this.cell = gruCell(this.resetAfter);
  }

  protected override biasShape(): number[] {
    return this.resetAfter ? [2, 3 * this.units] : [3 * this.units];
  }

  protected override inputBias(b: GraphBuilder, bias: Value): Value {
    return this.resetAfter ? b.reshape(b.slice(bias, [0, 0], [1, 3 * this.units]), [3 * this.units]) : bias;
  }

  protected override recurrentBias(b: GraphBuilder, bias: Value | null): Value | null {
    return this.resetAfter && bias ? b.reshape(b.slice(bias, [1, 0], [1, 3 * this.units]), [3 * this.units]) : null;
  }

  protected override layerConfig(): Record<string, unknown> {
    return { ...this.baseConfig(), recurrentActivation: this.recurrentActivation.name, implementation: this.implementation, resetAfter: this.resetAfter };
  }
}
