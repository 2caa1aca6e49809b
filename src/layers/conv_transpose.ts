/** Conv2DTranspose/Conv3DTranspose, with Keras's output extents (deconv_length) and outputPadding. */
import { type PaddingMode, transposedConvolve } from '../../ir/convolution.js';
import type { GraphBuilder, Value } from '../../ir/graph.js';
import { type CallContext, type KShape, type Weight, shapeText } from './base.js';
import { checkFilters, intTuple, spatialOf, toLast, withSpatial } from './conv_args.js';
import { BaseConv, type ConvArgs } from './conv_base.js';

export interface ConvTransposeArgs extends ConvArgs {
  readonly outputPadding?: number | readonly number[] | null;
}

/** Keras's deconv_length: a transposed convolution's output extent. */
export function deconvLength(n: number, stride: number, size: number, padding: PaddingMode, outputPadding: number | null, dilation: number): number {
  const span = (size - 1) * dilation + 1;
  if (outputPadding === null) return padding === 'same' ? n * stride : n * stride + Math.max(span - stride, 0);
  const pad = padding === 'same' ? Math.floor(span / 2) : 0;
  return (n - 1) * stride + span - 2 * pad + outputPadding;
}

/** Conv2DTranspose / Conv3DTranspose: kernel [...kernelSize, filters, inChannels]. */
export class ConvTranspose extends BaseConv {
  readonly className: string = 'ConvTranspose';
  readonly outputPadding: number[] | null;
  private kernel: Weight | null = null;

  constructor(rank: number, readonly filters: number, kernelSize: unknown, args: ConvTransposeArgs = {}) {
    super(rank, kernelSize, args, ['valid', 'same']);
    checkFilters(`${new.target.name} ${this.name}`, filters);
    const op = args.outputPadding;
    this.outputPadding = op === undefined || op === null ? null : intTuple(`${new.target.name} ${this.name}`, 'outputPadding', op, rank, 0);
    this.outputPadding?.forEach((p, a) => {
      if (p >= this.strides[a]) throw new Error(`${new.target.name} ${this.name}: outputPadding ${JSON.stringify(this.outputPadding)} must be smaller than strides ${JSON.stringify(this.strides)} on every axis`);
    });
  }

  override build(inputShape: KShape): void {
    const c = this.inputChannels(inputShape);
    this.kernel = this.addWeight('kernel', [...this.kernelSize, this.filters, c], this.init.kernel, true, this.regularizers.kernel, this.constraints.kernel);
    this.addBias(this.filters);
    this.built = true;
  }

  private outSpatial(spatial: readonly (number | null)[]): (number | null)[] {
    return spatial.map((n, a) => (n === null ? null : deconvLength(n, this.strides[a], this.kernelSize[a], this.padding, this.outputPadding?.[a] ?? null, this.dilationRate[a])));
  }

  override computeOutputShape(s: KShape): KShape {
    this.inputChannels(s);
    const out = this.outSpatial(spatialOf(s, this.dataFormat));
    if (out.some((n) => n !== null && n < 1)) throw new Error(`Layer ${this.name} (${this.className}): input of shape ${shapeText(s)} gives an empty output (${JSON.stringify(out)})`);
    return withSpatial(s, this.dataFormat, out, this.filters);
  }

  override lower(b: GraphBuilder, x: Value, ctx: CallContext): Value {
    const xl = toLast(b, x, this.dataFormat);
    const out = this.outSpatial(xl.shape.slice(1, -1)) as number[];
    return this.finish(b, transposedConvolve(b, xl, ctx.weight(this.kernel!), this.geometry(out), out), ctx);
  }

  protected override layerConfig(): Record<string, unknown> {
    return { filters: this.filters, ...this.baseConfig(), ...this.kernelConfig(), outputPadding: this.outputPadding };
  }
}

export class Conv2DTranspose extends ConvTranspose {
  override readonly className: string = 'Conv2DTranspose';
  constructor(filters: number, kernelSize: number | readonly number[], args: ConvTransposeArgs = {}) {
    super(2, filters, kernelSize, args);
  }
}

export class Conv3DTranspose extends ConvTranspose {
  override readonly className: string = 'Conv3DTranspose';
  constructor(filters: number, kernelSize: number | readonly number[], args: ConvTransposeArgs = {}) {
    super(3, filters, kernelSize, args);
  }
}
