/** Keras core layers: InputLayer, Dense, Activation, Flatten, Reshape, Permute, RepeatVector. */
import type { GraphBuilder, Value } from '../../ir/graph.js';
import { type Activation as ActivationFn, type ActivationIdentifier, getActivation } from '../activations.js';
import type { Initializer, InitializerIdentifier } from '../initializers.js';
import { type Constraint, type Regularizer, getConstraint, getRegularizer } from '../regularizers.js';
import { type CallContext, type KShape, Layer, type LayerArgs, Node, type Weight, expectRank, initializerArg, initializerConfig, shapeText } from './base.js';
import { checkInt, checkShape, checkTargetShape } from '../validation.js';

export interface InputLayerArgs extends LayerArgs {
  readonly sparse?: boolean;
}

export class InputLayer extends Layer {
  readonly className = 'InputLayer';

  constructor(args: InputLayerArgs) {
    super({ ...args, name: args.name ?? undefined }, 'input');
    if (!this.batchInputShape) throw new Error(`InputLayer ${this.name} needs inputShape or batchInputShape`);
    this.built = true;
    // As in Keras, an input layer is born with its node: the model input tensor.
    this.inboundNodes.push(new Node(this, [], [this.batchInputShape]));
  }

  override computeOutputShape(): KShape {
    return this.batchInputShape!;
  }

  override lower(_b: GraphBuilder, x: Value): Value {
    return x;
  }

  protected override layerConfig(): Record<string, unknown> {
    return { sparse: false };
  }
}

export interface DenseArgs extends LayerArgs {
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

export class Dense extends Layer {
  readonly className = 'Dense';
  override supportsMasking = true;
  readonly activation: { name: string; fn: ActivationFn };
  readonly useBias: boolean;
  private readonly kernelInitializer: Initializer;
  private readonly biasInitializer: Initializer;
  private readonly regularizers: { kernel: Regularizer | null; bias: Regularizer | null };
  private readonly constraints: { kernel: Constraint | null; bias: Constraint | null };
  private kernel: Weight | null = null;
  private bias: Weight | null = null;

  constructor(readonly units: number, args: DenseArgs = {}) {
    super(args);
    if (!Number.isInteger(units) || units < 1) throw new Error(`Dense ${this.name}: units must be a positive integer, got ${units}`);
    this.activation = getActivation(args.activation);
    this.useBias = args.useBias ?? true;
    this.kernelInitializer = initializerArg(args.kernelInitializer, 'glorot_uniform');
    this.biasInitializer = initializerArg(args.biasInitializer, 'zeros');
    this.regularizers = { kernel: getRegularizer(args.kernelRegularizer as never), bias: getRegularizer(args.biasRegularizer as never) };
    this.activityRegularizer = getRegularizer(args.activityRegularizer as never);
    this.constraints = { kernel: getConstraint(args.kernelConstraint as never), bias: getConstraint(args.biasConstraint as never) };
  }

  override build(inputShape: KShape): void {
    expectRank(this, inputShape, 2);
    const inDim = inputShape[inputShape.length - 1];
    if (inDim === null) throw new Error(`Dense ${this.name}: the last dimension of the input must be known, got ${shapeText(inputShape)}`);
    this.kernel = this.addWeight('kernel', [inDim, this.units], this.kernelInitializer, true, this.regularizers.kernel, this.constraints.kernel);
    if (this.useBias) this.bias = this.addWeight('bias', [this.units], this.biasInitializer, true, this.regularizers.bias, this.constraints.bias);
    this.built = true;
  }

  override computeOutputShape(inputShape: KShape): KShape {
    const inDim = inputShape[inputShape.length - 1];
    if (this.kernel && inDim !== this.kernel.shape[0]) {
      throw new Error(`Dense ${this.name} expects inputs with last dimension ${this.kernel.shape[0]}, got shape ${shapeText(inputShape)}`);
    }
    return [...inputShape.slice(0, -1), this.units];
  }

  override lower(b: GraphBuilder, x: Value, ctx: CallContext): Value {
    const inDim = x.shape[x.shape.length - 1];
    const flat = x.shape.length === 2 ? x : b.reshape(x, [x.shape.slice(0, -1).reduce((p, q) => p * q, 1), inDim]);
    let y = b.matmul(flat, ctx.weight(this.kernel!));
    if (this.bias) y = b.add(y, ctx.weight(this.bias));
    if (x.shape.length !== 2) y = b.reshape(y, [...x.shape.slice(0, -1), this.units]);
    return this.activation.fn(b, y);
  }

  protected override layerConfig(): Record<string, unknown> {
    return {
      units: this.units, activation: this.activation.name, useBias: this.useBias,
      kernelInitializer: initializerConfig(this.kernelInitializer), biasInitializer: initializerConfig(this.biasInitializer),
      kernelRegularizer: this.regularizers.kernel?.config ?? null, biasRegularizer: this.regularizers.bias?.config ?? null,
      activityRegularizer: this.activityRegularizer?.config ?? null,
      kernelConstraint: this.constraints.kernel?.config ?? null, biasConstraint: this.constraints.bias?.config ?? null,
    };
  }
}

/** Identity that adds l1 * sum|x| + l2 * sum x^2 of its input to the training loss. */
export class ActivityRegularization extends Layer {
  readonly className = 'ActivityRegularization';
  override supportsMasking = true;

  constructor(private readonly args: LayerArgs & { l1?: number; l2?: number } = {}) {
    super(args);
    this.activityRegularizer = getRegularizer({ className: 'L1L2', config: { l1: args.l1 ?? 0, l2: args.l2 ?? 0 } });
  }

  override computeOutputShape(s: KShape): KShape {
    return s;
  }

  override lower(_b: GraphBuilder, x: Value): Value {
    return x;
  }

  protected override layerConfig(): Record<string, unknown> {
    return { l1: this.args.l1 ?? 0, l2: this.args.l2 ?? 0 };
  }
}

export class Activation extends Layer {
  readonly className = 'Activation';
  override supportsMasking = true;
  private readonly fn: { name: string; fn: ActivationFn };

  constructor(activation: ActivationIdentifier, args: LayerArgs = {}) {
    super(args);
    this.fn = getActivation(activation);
  }

  override computeOutputShape(s: KShape): KShape {
    return s;
  }

  override lower(b: GraphBuilder, x: Value): Value {
    return this.fn.fn(b, x);
  }

  protected override layerConfig(): Record<string, unknown> {
    return { activation: this.fn.name };
  }
}

function product(dims: readonly (number | null)[]): number | null {
  return dims.some((d) => d === null) ? null : (dims as number[]).reduce((p, q) => p * q, 1);
}

export class Flatten extends Layer {
  readonly className = 'Flatten';
  readonly dataFormat: 'channels_last' | 'channels_first';

  constructor(args: LayerArgs & { dataFormat?: string | null } = {}) {
    super(args);
    const format = args.dataFormat ?? 'channels_last';
    if (format !== 'channels_last' && format !== 'channels_first') {
      throw new Error(`Flatten ${this.name}: unknown dataFormat '${format}'. Valid formats: channels_last, channels_first`);
    }
    this.dataFormat = format;
  }

  override computeOutputShape(s: KShape): KShape {
    expectRank(this, s, 2);
    const rest = product(s.slice(1));
    if (rest === null) throw new Error(`Flatten ${this.name}: the input shape must be fully known (besides the batch), got ${shapeText(s)}`);
    return [s[0], rest];
  }

  override lower(b: GraphBuilder, x: Value): Value {
    // Keras 2.2: channels_first inputs are moved to channels_last before flattening.
    const rank = x.shape.length;
    const y = this.dataFormat === 'channels_first' && rank > 2 ? b.transpose(x, [0, ...Array.from({ length: rank - 2 }, (_, i) => i + 2), 1]) : x;
    return b.reshape(y, [y.shape[0], y.shape.slice(1).reduce((p, q) => p * q, 1)]);
  }

  protected override layerConfig(): Record<string, unknown> {
    return { dataFormat: this.dataFormat };
  }
}

export class Reshape extends Layer {
  readonly className = 'Reshape';

  constructor(readonly targetShape: readonly number[], args: LayerArgs = {}) {
    super(args);
    checkTargetShape(`Reshape ${this.name}`, targetShape);
    if (targetShape.filter((d) => d === -1).length > 1) throw new Error(`Reshape ${this.name}: at most one -1 in the target shape, got [${targetShape.join(', ')}]`);
  }

  override computeOutputShape(s: KShape): KShape {
    const total = product(s.slice(1));
    if (total === null) throw new Error(`Reshape ${this.name}: the input shape must be known, got ${shapeText(s)}`);
    const known = this.targetShape.filter((d) => d !== -1).reduce((p, q) => p * q, 1);
    const resolved = this.targetShape.map((d) => (d === -1 ? total / known : d));
    if (resolved.some((d) => !Number.isInteger(d)) || resolved.reduce((p, q) => p * q, 1) !== total) {
      throw new Error(`Reshape ${this.name}: cannot reshape input of shape ${shapeText(s)} (${total} values per sample) to target shape (${this.targetShape.join(', ')})`);
    }
    return [s[0], ...resolved];
  }

  override lower(b: GraphBuilder, x: Value): Value {
    const out = this.computeOutputShape([null, ...x.shape.slice(1)]);
    return b.reshape(x, [x.shape[0], ...(out.slice(1) as number[])]);
  }

  protected override layerConfig(): Record<string, unknown> {
    return { targetShape: this.targetShape };
  }
}

export class Permute extends Layer {
  readonly className = 'Permute';

  /** `dims` are 1-based, as in Keras (the batch axis is not permuted). */
  constructor(readonly dims: readonly number[], args: LayerArgs = {}) {
    super(args);
    checkShape(`Permute ${this.name}`, 'dims', dims);
    const sorted = [...dims].sort((a, c) => a - c);
    if (!sorted.every((d, i) => d === i + 1)) throw new Error(`Permute ${this.name}: dims must be a permutation of 1..${dims.length}, got [${dims.join(', ')}]`);
  }

  override computeOutputShape(s: KShape): KShape {
    if (s.length !== this.dims.length + 1) throw new Error(`Permute ${this.name} with dims [${this.dims.join(', ')}] expects an input of rank ${this.dims.length + 1}, got shape ${shapeText(s)}`);
    return [s[0], ...this.dims.map((d) => s[d])];
  }

  override lower(b: GraphBuilder, x: Value): Value {
    return b.transpose(x, [0, ...this.dims]);
  }

  protected override layerConfig(): Record<string, unknown> {
    return { dims: this.dims };
  }
}

export class RepeatVector extends Layer {
  readonly className = 'RepeatVector';

  constructor(readonly n: number, args: LayerArgs = {}) {
    super(args);
    checkInt(`RepeatVector ${this.name}`, 'n', n, { min: 1 });
  }

  override computeOutputShape(s: KShape): KShape {
    expectRank(this, s, 2, 2);
    return [s[0], this.n, s[1]];
  }

  override lower(b: GraphBuilder, x: Value): Value {
    return b.broadcastTo(b.reshape(x, [x.shape[0], 1, x.shape[1]]), [x.shape[0], this.n, x.shape[1]]);
  }

  protected override layerConfig(): Record<string, unknown> {
    return { n: this.n };
  }
}
