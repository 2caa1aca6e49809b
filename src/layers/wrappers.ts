/**
 * TimeDistributed: one layer applied to every time step of its input (axis
 * 1), with one set of weights. Lowered without a loop: the time axis folds
 * into the batch axis, the inner layer runs once on [batch * steps, ...], and
 * the result unfolds, as Keras 2 does when the shapes are known.
 */
import type { GraphBuilder, Value } from '../../ir/graph.js';
import { type CallContext, type KShape, Layer, type LayerArgs, type Weight, expectRank, shapeText } from './base.js';

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
    const [y] = b.scoped(this.layer.name, () => this.layer.lowerList(b, [folded], ctx));
    return b.reshape(y, [batch, steps, ...y.shape.slice(1)]);
  }

  protected override layerConfig(): Record<string, unknown> {
    return { layer: { className: this.layer.className, config: this.layer.getConfig() } };
  }

  override toString(): string {
    return `TimeDistributed(${this.layer.name}) ${shapeText(this.batchInputShape ?? [])}`;
  }
}
