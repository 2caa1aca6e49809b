/**
 * TimeDistributed: one layer applied to every time step of its input (axis
 * 1), with one set of weights. Lowered without a loop: the time axis folds
 * into the batch axis, the inner layer runs once on [batch * steps, ...], and
 * the result unfolds, as Keras 2 does when the shapes are known.
 */
import type { GraphBuilder, Value } from '../../ir/graph.js';
import { type CallContext, type KShape, Layer, type LayerArgs, type Weight, expectRank, shapeText } from './base.js';
import { reverseSteps } from './recurrent_time.js';

export class TimeDistributed extends Layer {
  readonly className = 'TimeDistributed';
  override supportsMasking = true;

  constructor(readonly layer: Layer, args: LayerArgs = {}) {
    super(args);
    if (!(layer instanceof Layer)) throw new Error(`TimeDistributed ${this.name}: the argument must be a layer, got ${typeof layer}`);
  }

  override get weights(): readonly Weight[] {
    return this.layer.weights;
  }

  override get keptStates(): readonly { readonly name: string; readonly size: number }[] {
    return this.layer.keptStates;
  }

  override get trainableWeights(): readonly Weight[] {
    return this.trainable ? this.layer.trainableWeights : [];
  }

  /** The inner layer's input: one time step. */
  private stepShape(s: KShape): KShape {
    return [null, ...s.slice(2)];
  }

  override build(inputShape: KShape): void {
    expectRank(this, inputShape, 3);
    this.layer.shapesFor([this.stepShape(inputShape)]);
  }

  override computeOutputShape(s: KShape): KShape {
    expectRank(this, s, 3);
    const [inner] = this.layer.shapesFor([this.stepShape(s)]);
    return [s[0], s[1], ...inner.slice(1)];
  }

  override lower(b: GraphBuilder, x: Value, ctx: CallContext): Value {
    const [batch, steps, ...rest] = x.shape;
    const folded = b.reshape(x, [batch * steps, ...rest]);
    // The outer time axis is folded into the batch: the wrapped layer's own steps, if any, are all there.
    const [y] = b.scoped(this.layer.name, () => this.layer.lowerList(b, [folded], { ...ctx, timesteps: undefined }));
    return b.reshape(y, [batch, steps, ...y.shape.slice(1)]);
  }

  protected override layerConfig(): Record<string, unknown> {
    return { layer: { className: this.layer.className, config: this.layer.getConfig() } };
  }

  override toString(): string {
    return `TimeDistributed(${this.layer.name}) ${shapeText(this.batchInputShape ?? [])}`;
  }
}

/** A recurrent layer as Bidirectional sees it. */
interface Recurrent extends Layer {
  readonly returnSequences: boolean;
  readonly returnState: boolean;
  readonly goBackwards: boolean;
  /** The run-time sequence length where its input has timesteps=None, else null. */
  runtimeSteps(ctx: CallContext): Value | null;
}

export type MergeMode = 'concat' | 'sum' | 'mul' | 'ave' | null;

export interface BidirectionalArgs extends LayerArgs {
  readonly mergeMode?: MergeMode;
}

const MERGE_MODES: readonly MergeMode[] = ['concat', 'sum', 'mul', 'ave', null];

/**
 * Bidirectional: a recurrent layer run forwards and a copy of it run
 * backwards over the same input (Keras 2: the copy is made from the layer's
 * config with go_backwards flipped, named forward_/backward_), the backward
 * sequence reversed back into time order, then merged.
 */
export class Bidirectional extends Layer {
  readonly className = 'Bidirectional';
  readonly mergeMode: MergeMode;
  readonly forwardLayer: Recurrent;
  readonly backwardLayer: Recurrent;
  override supportsMasking = true;

  /** `copy` makes a layer from a class name and config (the registry); given by layers/index.ts. */
  constructor(readonly layer: Layer, args: BidirectionalArgs = {}, copy: (className: string, config: Record<string, unknown>) => Layer = Bidirectional.registry) {
    super(args);
    const mode = args.mergeMode === undefined ? 'concat' : args.mergeMode;
    if (!MERGE_MODES.includes(mode)) throw new Error(`Bidirectional ${this.name}: invalid merge mode ${JSON.stringify(args.mergeMode)}. Merge mode should be one of "sum", "mul", "ave", "concat", null`);
    this.mergeMode = mode;
    if (!(layer instanceof Layer) || typeof (layer as Recurrent).goBackwards !== 'boolean') throw new Error(`Bidirectional ${this.name}: the wrapped layer must be a recurrent layer (with goBackwards), got ${layer?.constructor?.name ?? typeof layer}`);
    const config = layer.getConfig();
    this.forwardLayer = copy(layer.className, { ...config, name: `forward_${layer.name}` }) as Recurrent;
    this.backwardLayer = copy(layer.className, { ...config, name: `backward_${layer.name}`, goBackwards: !(layer as Recurrent).goBackwards }) as Recurrent;
  }

  /** Set by layers/index.ts: builds the forward and backward copies from the wrapped layer's config. */
  static registry: (className: string, config: Record<string, unknown>) => Layer = () => {
    throw new Error('Bidirectional: the layer registry is not loaded');
  };

  override get weights(): readonly Weight[] {
    return [...this.forwardLayer.weights, ...this.backwardLayer.weights];
  }

  override get keptStates(): readonly { readonly name: string; readonly size: number }[] {
    return [...this.forwardLayer.keptStates, ...this.backwardLayer.keptStates];
  }

  override get trainableWeights(): readonly Weight[] {
    return this.trainable ? [...this.forwardLayer.trainableWeights, ...this.backwardLayer.trainableWeights] : [];
  }

  override build(inputShape: KShape): void {
    this.forwardLayer.shapesFor([inputShape]);
    this.backwardLayer.shapesFor([inputShape]);
  }

  override computeOutputShapes(shapes: readonly KShape[]): KShape[] {
    const [out, ...states] = this.forwardLayer.shapesFor(shapes);
    this.backwardLayer.shapesFor(shapes);
    const outs = this.mergeMode === 'concat' ? [[...out.slice(0, -1), (out[out.length - 1] as number) * 2]] : this.mergeMode === null ? [out, out] : [out];
    return this.forwardLayer.returnState ? [...outs, ...states, ...states] : outs;
  }

  override lowerList(b: GraphBuilder, xs: readonly Value[], ctx: CallContext, masks?: readonly (Value | null)[]): Value[] {
    const [y, ...fwStates] = b.scoped(this.forwardLayer.name, () => this.forwardLayer.lowerList(b, xs, ctx, masks));
    const [yr, ...bwStates] = b.scoped(this.backwardLayer.name, () => this.backwardLayer.lowerList(b, xs, ctx, masks));
    const yRev = this.forwardLayer.returnSequences ? reverseSteps(b, yr, 1, this.backwardLayer.runtimeSteps(ctx)) : yr;
    const merged = this.mergeMode === 'concat' ? [b.concat([y, yRev], y.shape.length - 1)]
      : this.mergeMode === 'sum' ? [b.add(y, yRev)]
      : this.mergeMode === 'mul' ? [b.mul(y, yRev)]
      : this.mergeMode === 'ave' ? [b.div(b.add(y, yRev), 2)]
      : [y, yRev];
    return this.forwardLayer.returnState ? [...merged, ...fwStates, ...bwStates] : merged;
  }

  /** Keras 2: the input mask carries to sequence outputs (to both with merge mode null); states and single vectors get none. */
  override maskList(_b: GraphBuilder, xs: readonly Value[], masks: readonly (Value | null)[]): (Value | null)[] {
    const mask = this.forwardLayer.returnSequences ? masks[0] ?? null : null;
    const outs = this.mergeMode === null ? [mask, mask] : [mask];
    const total = this.computeOutputShapes([xs[0].shape]).length;
    return [...outs, ...Array.from({ length: total - outs.length }, () => null)];
  }

  protected override layerConfig(): Record<string, unknown> {
    return { layer: { className: this.layer.className, config: this.layer.getConfig() }, mergeMode: this.mergeMode };
  }
}
