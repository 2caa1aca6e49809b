/**
 * The Layer base class, nodes and symbolic tensors. A layer owns its weights
 * (host copies, written into compiled programs) and lowers its computation to
 * IR; in the functional API each application of a layer is a Node (Keras's
 * inbound node) linking input tensors to output tensors, so a layer called
 * twice is one set of weights with two nodes. Layers take and return lists of
 * tensors (`lowerList`); the single-tensor `lower` serves the common case.
 */
import { GraphBuilder, type Value } from '../../ir/graph.js';
import { KTensor, withTrace } from '../backend.js';
import { type Initializer, type InitializerIdentifier, getInitializer, withInitialValue } from '../initializers.js';
import type { Constraint, Regularizer } from '../regularizers.js';
import { Tensor } from '../tensor.js';
import { checkLayerArgs, checkSampleSize, checkWeightShape } from '../validation.js';
import { BUILT_IN_LAYERS, checkLayerOptionKeys, isRestoring, spellLayerOptions } from './layer_options.js';

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
  /**
   * Sets a non-trainable weight to `value` after the step (Keras's add_update:
   * BatchNormalization's moving statistics); present in train programs only.
   * A layer using it reduces over the batch, so partial batches run unpadded.
   */
  addUpdate?(w: Weight, value: Value): void;
  /** Says the program computes statistics over the batch axis, so partial batches must run unpadded (train programs). */
  reducesOverBatch?(): void;
  /**
   * State kept between runs of a program (stateful RNNs): its value when the
   * run starts, and `set` gives its value when the run ends. Absent in
   * programs that keep no state between runs.
   */
  state?(name: string, shape: readonly number[]): { readonly value: Value; set(next: Value): void };
  /**
   * The run-time sequence length (int32 scalar param `timesteps`) of a
   * program built for inputs with timesteps=None: their time axis is padded
   * to the program's capacity. Absent in programs of fixed lengths.
   */
  timesteps?(): Value;
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
  readonly inputShape?: readonly (number | null)[];
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

/** One application of a layer: input tensors in, output tensors out (Keras's Node). */
export class Node {
  readonly outputs: readonly SymbolicTensor[];

  constructor(readonly layer: Layer, readonly inputs: readonly SymbolicTensor[], outputShapes: readonly KShape[]) {
    this.outputs = outputShapes.map((s, i) => new SymbolicTensor(s, this, i));
  }
}

/** A tensor of a functional model: output `index` of `node`. */
export class SymbolicTensor {
  constructor(readonly shape: KShape, readonly node: Node, readonly index: number) {}

  get layer(): Layer {
    return this.node.layer;
  }

  /** Position of the producing node among its layer's inbound nodes (Keras's node_index). */
  get nodeIndex(): number {
    return this.node.layer.inboundNodes.indexOf(this.node);
  }

  toString(): string {
    return `SymbolicTensor(${this.layer.name}/${this.nodeIndex}/${this.index}, shape=${shapeText(this.shape)})`;
  }
}

export type Inputs = SymbolicTensor | readonly SymbolicTensor[];

/** The one element of a list a single-tensor layer receives. */
function only<T>(layer: Layer, xs: readonly T[], what: string): T {
  if (xs.length !== 1) throw new Error(`Layer ${layer.name} (${layer.className}) takes a single ${what}, got a list of ${xs.length}`);
  return xs[0];
}

export abstract class Layer {
  abstract readonly className: string;
  readonly name: string;
  trainable: boolean;
  built = false;
  private readonly own: Weight[] = [];
  batchInputShape: KShape | null;
  readonly dtype: string;
  /** Every application of this layer, in call order (Keras's _inbound_nodes). */
  readonly inboundNodes: Node[] = [];
  /** Keras's supports_masking: the layer passes an input mask through unchanged. */
  supportsMasking = false;

  /** Option keys given to the constructor (camelCase), checked at the first application; null once checked or when restored from a config. */
  private optionKeys: string[] | null;

  constructor(args: LayerArgs = {}, className?: string) {
    const given = spellLayerOptions(new.target.name, args);
    this.optionKeys = isRestoring() ? null : given;
    checkLayerArgs(new.target.name, args as Readonly<Record<string, unknown>>);
    if (args.name) reserveName(args.name);
    this.name = args.name ?? uniqueName(snakeCase(className ?? new.target.name));
    this.trainable = args.trainable ?? true;
    this.dtype = args.dtype ?? 'float32';
    this.batchInputShape = args.batchInputShape
      ?? (args.inputShape ? [args.batchSize ?? null, ...args.inputShape] : args.inputDim !== undefined ? [args.batchSize ?? null, args.inputDim] : null);
  }

  /** The layer's weights, trainable and not (Keras's layer.weights). */
  get weights(): readonly Weight[] {
    return this.own;
  }

  /**
   * States kept between runs and batches (a stateful RNN's, Keras's
   * layer.states): float32 values by name that every program of a model
   * shares, zeros until the first run and after resetStates(); not weights.
   */
  get keptStates(): readonly { readonly name: string; readonly size: number }[] {
    return [];
  }

  /** Weights an optimizer updates: none when the layer is frozen (Keras's trainable_weights). */
  get trainableWeights(): readonly Weight[] {
    return this.trainable ? this.weights.filter((w) => w.trainable) : [];
  }

  get nonTrainableWeights(): readonly Weight[] {
    const t = new Set(this.trainableWeights);
    return this.weights.filter((w) => !t.has(w));
  }

  /** Creates the weights for an input of `inputShape` (a list for a layer of several inputs). */
  build(_inputShape: KShape | readonly KShape[]): void {
    this.built = true;
  }

  /** The output shape for one input shape; layers of several inputs or outputs override computeOutputShapes instead. */
  computeOutputShape(inputShape: KShape): KShape {
    throw new Error(`Layer ${this.name} (${this.className}) must define computeOutputShape (input ${shapeText(inputShape)})`);
  }

  computeOutputShapes(inputShapes: readonly KShape[]): KShape[] {
    if (this.defines('call') && !this.defines('computeOutputShape')) return this.traceShapes(inputShapes);
    return [this.computeOutputShape(only(this, inputShapes, 'input'))];
  }

  /** Whether a subclass defines `method` (a custom layer's call, computeOutputShape, computeMask). */
  protected defines(method: 'call' | 'computeOutputShape' | 'computeMask'): boolean {
    return this[method] !== Layer.prototype[method];
  }

  /** Output shapes of a traced call: the layer run once on a scratch program with a batch of 1. */
  private traceShapes(inputShapes: readonly KShape[]): KShape[] {
    const b = new GraphBuilder();
    const xs = inputShapes.map((s, i) => b.param(`shape_probe_${i}`, s.map((d) => d ?? 1)));
    const ctx: CallContext = {
      training: false,
      weight: (w) => b.param(w.name, w.shape),
      random: () => {
        throw new Error(`Layer ${this.name}: random values are only drawn in training programs`);
      },
    };
    return this.lowerList(b, xs, ctx).map((v) => [inputShapes[0][0], ...v.shape.slice(1)]);
  }

  /** Emits IR for one input tensor; layers of several inputs or outputs override lowerList instead. */
  lower(_b: GraphBuilder, _x: Value, _ctx: CallContext): Value {
    throw new Error(`Layer ${this.name} (${this.className}) must define lower or lowerList`);
  }

  /** Emits IR for a list of inputs (with their masks, null where none), returning the list of outputs. */
  lowerList(b: GraphBuilder, xs: readonly Value[], ctx: CallContext, masks?: readonly (Value | null)[]): Value[] {
    if (!this.defines('call')) return [this.lower(b, only(this, xs, 'input'), ctx)];
    let draws = 0;
    const random = (shape: readonly number[], seed: number | undefined): Value => ctx.random(seed ?? (seedFromName(this.name) + draws++) >>> 0, shape);
    const outs = withTrace({ builder: b, weight: (w) => ctx.weight(w as Weight), training: ctx.training, random }, () => {
      const ks = xs.map((x) => new KTensor(b, x));
      const ms = (masks ?? xs.map(() => null)).map((m) => (m ? new KTensor(b, m) : null));
      return this.call(ks.length === 1 ? ks[0] : ks, { training: ctx.training, mask: ms.length === 1 ? ms[0] : ms });
    });
    const list = Array.isArray(outs) ? outs : [outs];
    const bad = list.findIndex((o) => !(o instanceof KTensor));
    if (bad >= 0) throw new Error(`Layer ${this.name} (${this.className}): call() must return K tensors (built with K), output ${bad} is ${typeof list[bad]}`);
    return list.map((o) => o.value);
  }

  /**
   * Keras's call, for layers written by users: K tensors in (one, or a list
   * for several inputs), K tensors out, traced once into each program with
   * `K` (weights from addWeight are K operands). Built-in layers lower to IR
   * directly instead.
   */
  call(_inputs: KTensor | KTensor[], _kwargs: { readonly training: boolean; readonly mask: KTensor | null | (KTensor | null)[] }): KTensor | KTensor[] {
    throw new Error(`Layer ${this.name} (${this.className}) must define call (or lower)`);
  }

  /** Keras's compute_mask for user layers, traced like call: the output mask(s) from the inputs and input masks. */
  computeMask(_inputs: KTensor | KTensor[], _mask: KTensor | null | (KTensor | null)[]): KTensor | null | (KTensor | null)[] {
    return null;
  }

  /**
   * The masks of the outputs given those of the inputs (null where none). A
   * layer that supports masking passes its one input mask through; any other
   * layer refuses a mask, as Keras does.
   */
  maskList(b: GraphBuilder, xs: readonly Value[], masks: readonly (Value | null)[]): (Value | null)[] {
    if (this.defines('computeMask')) {
      const out = this.computeMask(xs.length === 1 ? new KTensor(b, xs[0]) : xs.map((x) => new KTensor(b, x)), masks.length === 1 ? (masks[0] ? new KTensor(b, masks[0]) : null) : masks.map((m) => (m ? new KTensor(b, m) : null)));
      return (Array.isArray(out) ? out : [out]).map((m) => m?.value ?? null);
    }
    const given = masks.some((m) => m !== null);
    if (!given) return xs.map(() => null);
    if (!this.supportsMasking) throw new Error(`Layer ${this.name} (${this.className}) does not support masking, but was passed an input mask`);
    return [masks[0]];
  }

  /** Checks data fed straight from a model input to this layer before anything runs (Embedding's token ids); a no-op by default. */
  checkInputData(_where: string, _x: Tensor): void {}

  /** Penalty on this layer's output, added to the training loss (Keras's activity_regularizer). */
  activityRegularizer: Regularizer | null = null;

  /** Keras's add_weight: a new weight of this layer, initialized now. */
  addWeight(name: string, shape: readonly number[], initializer: Initializer | InitializerIdentifier = 'glorot_uniform', trainable = true, regularizer: Regularizer | null = null, constraint: Constraint | null = null): Weight {
    checkWeightShape(`${this.className} ${this.name}`, name, shape);
    const w: Weight = withInitialValue({ name: `${this.name}/${name}:0`, shape, trainable, regularizer, constraint }, getInitializer(initializer), shape);
    this.own.push(w);
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

  /** The config, or null while the layer cannot write one (a Lambda whose function has no name to save it under). */
  private configIfWritable(): Record<string, unknown> | null {
    try {
      return this.getConfig();
    } catch {
      return null;
    }
  }

  countParams(): number {
    return this.weights.reduce((s, w) => s + w.shape.reduce((a, b) => a * b, 1), 0);
  }

  getWeights(): Tensor[] {
    return this.weights.map((w) => new Tensor(w.value.slice(), w.shape));
  }

  setWeights(weights: readonly Tensor[]): void {
    const own = this.weights;
    if (weights.length !== own.length) {
      throw new Error(`Layer ${this.name} expects ${own.length} weight(s) (${own.map((w) => `[${w.shape.join(', ')}]`).join(', ')}), got ${weights.length}`);
    }
    weights.forEach((t, i) => {
      const w = own[i];
      const same = t.shape.length === w.shape.length && t.shape.every((d, j) => d === w.shape[j]);
      if (!same) throw new Error(`Layer ${this.name}: weight ${w.name} has shape [${w.shape.join(', ')}], got [${t.shape.join(', ')}]`);
    });
    // New arrays, never in-place writes: models detect changed weights by identity.
    weights.forEach((t, i) => (own[i].value = Float32Array.from(t.data)));
  }

  /** Builds if needed and returns the output shapes for `inputShapes`. */
  shapesFor(inputShapes: readonly KShape[]): KShape[] {
    if (!this.built) {
      this.build(inputShapes.length === 1 ? inputShapes[0] : inputShapes);
      this.built = true;
    }
    const outputs = this.computeOutputShapes(inputShapes);
    outputs.forEach((shape) => checkSampleSize(`Layer ${this.name} (${this.className})`, shape));
    return outputs;
  }

  /** Functional use: `dense.apply(x)`, `add.apply([a, b])`; a layer of several outputs answers applyMulti. */
  apply(inputs: Inputs): SymbolicTensor {
    const outs = this.applyMulti(inputs);
    if (outs.length !== 1) throw new Error(`Layer ${this.name} (${this.className}) has ${outs.length} outputs: call applyMulti() to get them as a list`);
    return outs[0];
  }

  /** Applies the layer to symbolic inputs, recording a new inbound node; returns every output. */
  applyMulti(inputs: Inputs): SymbolicTensor[] {
    if (this.optionKeys) {
      const keys = this.optionKeys;
      this.optionKeys = null;
      if (BUILT_IN_LAYERS.has(this.constructor)) checkLayerOptionKeys(`${this.className} ${this.name}`, keys, this.constructor, this.configIfWritable());
    }
    const list: readonly SymbolicTensor[] = Array.isArray(inputs) ? inputs : [inputs as SymbolicTensor];
    const bad = list.findIndex((x) => !(x instanceof SymbolicTensor));
    if (bad >= 0) throw new Error(`Layer ${this.name}.apply() takes the output of Input() or of another layer (input ${bad} is ${describe(list[bad])})`);
    const node = new Node(this, list, this.shapesFor(list.map((x) => x.shape)));
    this.inboundNodes.push(node);
    return [...node.outputs];
  }

  private node(index: number, what: string): Node {
    const node = this.inboundNodes[index];
    if (!node) throw new Error(`Asked to get ${what} at node ${index}, but the layer ${this.name} has only ${this.inboundNodes.length} inbound nodes.`);
    return node;
  }

  private static unwrap<T>(xs: readonly T[]): T | T[] {
    return xs.length === 1 ? xs[0] : [...xs];
  }

  getInputAt(index: number): SymbolicTensor | SymbolicTensor[] {
    return Layer.unwrap(this.node(index, 'input').inputs);
  }

  getOutputAt(index: number): SymbolicTensor | SymbolicTensor[] {
    return Layer.unwrap(this.node(index, 'output').outputs);
  }

  getInputShapeAt(index: number): KShape | KShape[] {
    return Layer.unwrap(this.node(index, 'input shape').inputs.map((t) => t.shape));
  }

  getOutputShapeAt(index: number): KShape | KShape[] {
    return Layer.unwrap(this.node(index, 'output shape').outputs.map((t) => t.shape));
  }

  private single(what: 'input' | 'output'): Node {
    if (this.inboundNodes.length === 0) throw new Error(`Layer ${this.name} is not connected, no ${what} to return.`);
    if (this.inboundNodes.length > 1) {
      throw new Error(`Layer ${this.name} has multiple inbound nodes, hence the notion of "layer ${what}" is ill-defined. Use \`get${what === 'input' ? 'Input' : 'Output'}At(nodeIndex)\` instead.`);
    }
    return this.inboundNodes[0];
  }

  /** The layer's input tensor(s); only defined for a layer applied once (Keras's layer.input). */
  get input(): SymbolicTensor | SymbolicTensor[] {
    return Layer.unwrap(this.single('input').inputs);
  }

  get output(): SymbolicTensor | SymbolicTensor[] {
    return Layer.unwrap(this.single('output').outputs);
  }

  private sharedShape(what: 'input' | 'output'): KShape | KShape[] {
    if (this.inboundNodes.length === 0) throw new Error(`The layer ${this.name} has never been called and thus has no defined ${what} shape.`);
    const texts = new Set(this.inboundNodes.map((n) => JSON.stringify((what === 'input' ? n.inputs : n.outputs).map((t) => t.shape))));
    if (texts.size > 1) {
      throw new Error(`The layer "${this.name}" has multiple inbound nodes, with different ${what} shapes. Hence the notion of "${what} shape" is ill-defined for the layer. Use \`get${what === 'input' ? 'Input' : 'Output'}ShapeAt(nodeIndex)\` instead.`);
    }
    const n = this.inboundNodes[0];
    return Layer.unwrap((what === 'input' ? n.inputs : n.outputs).map((t) => t.shape));
  }

  /** Keras's layer.input_shape: the same for every node, or an error naming getInputShapeAt. */
  get inputShape(): KShape | KShape[] {
    return this.sharedShape('input');
  }

  get outputShape(): KShape | KShape[] {
    return this.sharedShape('output');
  }
}

function describe(x: unknown): string {
  if (x === null || x === undefined) return String(x);
  if (Array.isArray(x)) return 'a nested list';
  return typeof x === 'object' ? (x as object).constructor?.name ?? 'an object' : typeof x;
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
