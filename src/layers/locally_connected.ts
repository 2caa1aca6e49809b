/** LocallyConnected1D/2D: a convolution with a kernel of its own at every output position. */
import { patches } from '../../ir/convolution.js';
import type { GraphBuilder, Value } from '../../ir/graph.js';
import { type CallContext, type KShape, type Weight, shapeText } from './base.js';
import { checkFilters, spatialOf, toLast, windowedSpatial, withSpatial } from './conv_args.js';
import { BaseConv, type ConvArgs } from './conv_base.js';

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
