/**
 * The Layer base class and symbolic tensors. A layer owns its weights (host
 * copies, written into compiled programs) and emits IR for its computation
 * with `call`; shapes are checked when a layer is applied, naming the layer.
 */
import type { GraphBuilder, Value } from '../../ir/graph.js';
import { type Initializer, type InitializerIdentifier, getInitializer } from '../initializers.js';
import type { Constraint, Regularizer } from '../regularizers.js';
import { Tensor } from '../tensor.js';

/** A Keras shape: the batch dimension (first) is null. */
export type KShape = readonly (number | null)[];

export function shapeText(shape: KShape): string {
  return `(${shape.map((d) => (d === null ? 'None' : String(d))).join(', ')}${shape.length === 1 ? ',' : ''})`;
}

export interface Weight {
  readonly name: string;
  readonly shape: readonly number[];
  value: Float32Array;
  readonly trainable: boolean;
  /** Penalty added to the training loss. */
  readonly regularizer?: Regularizer | null;
  /** Applied to the weight after every optimizer step. */
  readonly constraint?: Constraint | null;
}

export interface CallContext {
  /** The IR value of a weight in the program being built. */
  weight(w: Weight): Value;
  /** Learning phase: 1 in training programs (dropout and noise active), 0 otherwise. */
  readonly training: boolean;
  /** Uniform [0, 1) values of `shape`, new at every training step, reproducible for `seed`. */
  random(seed: number, shape: readonly number[]): Value;
  /** Adds a scalar to the training loss (activity regularization); absent outside loss programs. */
  addLoss?(penalty: Value): void;
}

/** A stable 32-bit seed from a layer name, for layers created without one. */
export function seedFromName(name: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

export interface LayerArgs {
  readonly name?: string;
  readonly trainable?: boolean;
  readonly inputShape?: readonly number[];
  readonly batchInputShape?: KShape;
  readonly batchSize?: number;
  readonly inputDim?: number;
  readonly dtype?: string;
}

/** Keras's to_snake_case, used for automatic layer names (LeakyReLU -> leaky_re_lu, Conv2D -> conv2d). */
export function snakeCase(name: string): string {
  return name.replace(/(.)([A-Z][a-z0-9]+)/g, '$1_$2').replace(/([a-z])([A-Z])/g, '$1_$2').toLowerCase();
}

const nameCounts = new Map<string, number>();

export function uniqueName(prefix: string): string {
  const n = (nameCounts.get(prefix) ?? 0) + 1;
  nameCounts.set(prefix, n);
  return `${prefix}_${n}`;
}

/**
 * Records an explicit name of the automatic form (`dense_3`) so later
 * automatic names do not repeat it: a model loaded from a file can then grow
 * new layers without a name clash.
 */
export function reserveName(name: string): void {
  const m = /^(.*)_(\d+)$/.exec(name);
  if (m) nameCounts.set(m[1], Math.max(nameCounts.get(m[1]) ?? 0, Number(m[2])));
}

/** The output of a layer applied to symbolic inputs, in a functional model. */
export class SymbolicTensor {
  constructor(readonly shape: KShape, readonly layer: Layer, readonly inputs: readonly SymbolicTensor[]) {}
}

export abstract class Layer {
  abstract readonly className: string;
  readonly name: string;
  trainable: boolean;
  built = false;
  readonly weights: Weight[] = [];
  batchInputShape: KShape | null;
  readonly dtype: string;
  /** Shapes seen when last applied, for summary(). */
  inputShape: KShape | null = null;
  outputShape: KShape | null = null;

  constructor(args: LayerArgs = {}, className?: string) {
    if (args.name) reserveName(args.name);
    this.name = args.name ?? uniqueName(snakeCase(className ?? new.target.name));
    this.trainable = args.trainable ?? true;
    this.dtype = args.dtype ?? 'float32';
    this.batchInputShape = args.batchInputShape
      ?? (args.inputShape ? [args.batchSize ?? null, ...args.inputShape] : args.inputDim !== undefined ? [args.batchSize ?? null, args.inputDim] : null);
  }

  /** Creates the weights for an input of `inputShape`. */
  build(_inputShape: KShape): void {
    this.built = true;
  }

  abstract computeOutputShape(inputShape: KShape): KShape;

  abstract call(b: GraphBuilder, x: Value, ctx: CallContext): Value;

  /** Penalty on this layer's output, added to the training loss (Keras's activity_regularizer). */
  activityRegularizer: Regularizer | null = null;

  protected addWeight(name: string, shape: readonly number[], initializer: Initializer, trainable = true, regularizer: Regularizer | null = null, constraint: Constraint | null = null): Weight {
    const w: Weight = { name: `${this.name}/${name}:0`, shape, value: initializer.init(shape), trainable, regularizer, constraint };
    this.weights.push(w);
    return w;
  }

  /** Layer-specific config (camelCase); the Keras config adds name and trainable. */
  protected layerConfig(): Record<string, unknown> {
    return {};
  }

  getConfig(): Record<string, unknown> {
    const base: Record<string, unknown> = { name: this.name, trainable: this.trainable };
    if (this.batchInputShape) Object.assign(base, { batchInputShape: this.batchInputShape, dtype: this.dtype });
    return { ...base, ...this.layerConfig() };
  }

  countParams(): number {
    return this.weights.reduce((s, w) => s + w.value.length, 0);
  }

  getWeights(): Tensor[] {
    return this.weights.map((w) => new Tensor(w.value.slice(), w.shape));
  }

  setWeights(weights: readonly Tensor[]): void {
    if (weights.length !== this.weights.length) {
      throw new Error(`Layer ${this.name} expects ${this.weights.length} weight(s) (${this.weights.map((w) => `[${w.shape.join(', ')}]`).join(', ')}), got ${weights.length}`);
    }
    weights.forEach((t, i) => {
      const w = this.weights[i];
      const same = t.shape.length === w.shape.length && t.shape.every((d, j) => d === w.shape[j]);
      if (!same) throw new Error(`Layer ${this.name}: weight ${w.name} has shape [${w.shape.join(', ')}], got [${t.shape.join(', ')}]`);
    });
    // New arrays, never in-place writes: models detect changed weights by identity.
    weights.forEach((t, i) => (this.weights[i].value = Float32Array.from(t.data)));
  }

  /** Builds if needed, checks the input and records shapes; returns the output shape. */
  shapeFor(inputShape: KShape): KShape {
    if (!this.built) this.build(inputShape);
    this.inputShape = inputShape;
    this.outputShape = this.computeOutputShape(inputShape);
    return this.outputShape;
  }

  /** Functional use: `dense.apply(x)`. */
  apply(x: SymbolicTensor): SymbolicTensor {
    if (!(x instanceof SymbolicTensor)) throw new Error(`Layer ${this.name}.apply() takes the output of Input() or of another layer`);
    return new SymbolicTensor(this.shapeFor(x.shape), this, [x]);
  }
}

/** Resolves an initializer argument, with a Keras default. */
export function initializerArg(id: InitializerIdentifier | undefined, fallback: string): Initializer {
  return getInitializer(id ?? fallback);
}

/** The serialized form of an initializer: {class_name, config}. */
export function initializerConfig(init: Initializer): { className: string; config: Readonly<Record<string, unknown>> } {
  return { className: init.className, config: init.config };
}

/** Checks that an input's rank (batch included) is one a layer accepts. */
export function expectRank(layer: Layer, shape: KShape, min: number, max = Infinity): void {
  if (shape.length < min || shape.length > max) {
    const want = max === Infinity ? `at least ${min}` : min === max ? `${min}` : `${min} to ${max}`;
    throw new Error(`Layer ${layer.name} (${layer.className}) expects an input of rank ${want} (batch included), got shape ${shapeText(shape)}`);
  }
}
