/** Conv1D/2D/3D (Keras's _Conv): windows of the channels-last input times the kernel, summed (ir/convolution.ts). */
import { convolve } from '../../ir/convolution.js';
import type { GraphBuilder, Value } from '../../ir/graph.js';
import { type CallContext, type KShape, type Weight, shapeText } from './base.js';
import { checkFilters, spatialOf, toLast, windowedSpatial, withSpatial } from './conv_args.js';
import { BaseConv, type ConvArgs } from './conv_base.js';

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
