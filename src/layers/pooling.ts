/**
 * Keras pooling layers: MaxPooling1D/2D/3D, AveragePooling1D/2D/3D and the
 * global poolings. Windowed pools are ir/convolution.ts's `pool` (max pads
 * with -inf, averages count only the input's own elements, as TensorFlow);
 * global pools reduce the spatial axes.
 */
import { type PaddingMode, pool, windowGeometry } from '../../ir/convolution.js';
import type { GraphBuilder, Value } from '../../ir/graph.js';
import { type KShape, Layer, type LayerArgs } from './base.js';
import { withPositional } from './layer_options.js';
import { type DataFormat, channelsOf, expectSpatialRank, fromLast, intTuple, oneOf, readDataFormat, spatialOf, toLast, windowedSpatial, withSpatial } from './conv_args.js';

export interface PoolingArgs extends LayerArgs {
  readonly poolSize?: number | readonly number[];
  readonly strides?: number | readonly number[] | null;
  readonly padding?: string;
  readonly dataFormat?: string | null;
}

export class Pooling extends Layer {
  /** A 1-d pool's config omits the default dataFormat (Keras 2.2.0), but the option is taken. */
  static readonly optionsBeyondConfig: readonly string[] = ['dataFormat'];
  readonly className: string = 'Pooling';
  readonly poolSize: number[];
  readonly strides: number[];
  readonly padding: PaddingMode;
  readonly dataFormat: DataFormat;

  constructor(readonly rank: number, readonly kind: 'max' | 'avg', args: PoolingArgs = {}) {
    super(args);
    const where = `${new.target.name} ${this.name}`;
    this.poolSize = intTuple(where, 'poolSize', args.poolSize ?? 2, rank);
    this.strides = intTuple(where, 'strides', args.strides ?? this.poolSize, rank);
    this.padding = oneOf(where, 'padding', args.padding ?? 'valid', ['valid', 'same'] as const);
    this.dataFormat = readDataFormat(where, args.dataFormat);
  }

  private geometry(spatial: readonly number[]) {
    return windowGeometry(this.padding, spatial, this.poolSize, this.strides, this.poolSize.map(() => 1));
  }

  override computeOutputShape(s: KShape): KShape {
    expectSpatialRank(this, s, this.rank);
    return withSpatial(s, this.dataFormat, windowedSpatial(this, s, spatialOf(s, this.dataFormat), (k) => this.geometry(k)), channelsOf(s, this.dataFormat));
  }

  override lower(b: GraphBuilder, x: Value): Value {
    const xl = toLast(b, x, this.dataFormat);
    return fromLast(b, pool(b, xl, this.kind, this.geometry(xl.shape.slice(1, -1))), this.dataFormat);
  }

  protected override layerConfig(): Record<string, unknown> {
    const config = { poolSize: this.poolSize, padding: this.padding, strides: this.strides };
    // Keras 2.2.0's 1-d pools have no data_format (2.2.3 added it): written only when it is not the default, so a round trip keeps it.
    return this.rank === 1 && this.dataFormat === 'channels_last' ? config : { ...config, dataFormat: this.dataFormat };
  }
}

export class MaxPooling1D extends Pooling {
  override readonly className: string = 'MaxPooling1D';
  /** `new MaxPooling1D(poolSize)`, `new MaxPooling1D(poolSize, options)` or `new MaxPooling1D(options)`. */
  constructor(poolSize?: number | readonly number[] | PoolingArgs, args?: PoolingArgs) {
    super(1, 'max', withPositional('MaxPooling1D', 'poolSize', poolSize, args));
  }
}

export class MaxPooling2D extends Pooling {
  override readonly className: string = 'MaxPooling2D';
  /** `new MaxPooling2D(poolSize)`, `new MaxPooling2D(poolSize, options)` or `new MaxPooling2D(options)`. */
  constructor(poolSize?: number | readonly number[] | PoolingArgs, args?: PoolingArgs) {
    super(2, 'max', withPositional('MaxPooling2D', 'poolSize', poolSize, args));
  }
}

export class MaxPooling3D extends Pooling {
  override readonly className: string = 'MaxPooling3D';
  /** `new MaxPooling3D(poolSize)`, `new MaxPooling3D(poolSize, options)` or `new MaxPooling3D(options)`. */
  constructor(poolSize?: number | readonly number[] | PoolingArgs, args?: PoolingArgs) {
    super(3, 'max', withPositional('MaxPooling3D', 'poolSize', poolSize, args));
  }
}

export class AveragePooling1D extends Pooling {
  override readonly className: string = 'AveragePooling1D';
  /** `new AveragePooling1D(poolSize)`, `new AveragePooling1D(poolSize, options)` or `new AveragePooling1D(options)`. */
  constructor(poolSize?: number | readonly number[] | PoolingArgs, args?: PoolingArgs) {
    super(1, 'avg', withPositional('AveragePooling1D', 'poolSize', poolSize, args));
  }
}

export class AveragePooling2D extends Pooling {
  override readonly className: string = 'AveragePooling2D';
  /** `new AveragePooling2D(poolSize)`, `new AveragePooling2D(poolSize, options)` or `new AveragePooling2D(options)`. */
  constructor(poolSize?: number | readonly number[] | PoolingArgs, args?: PoolingArgs) {
    super(2, 'avg', withPositional('AveragePooling2D', 'poolSize', poolSize, args));
  }
}

export class AveragePooling3D extends Pooling {
  override readonly className: string = 'AveragePooling3D';
  /** `new AveragePooling3D(poolSize)`, `new AveragePooling3D(poolSize, options)` or `new AveragePooling3D(options)`. */
  constructor(poolSize?: number | readonly number[] | PoolingArgs, args?: PoolingArgs) {
    super(3, 'avg', withPositional('AveragePooling3D', 'poolSize', poolSize, args));
  }
}

export interface GlobalPoolingArgs extends LayerArgs {
  readonly dataFormat?: string | null;
}

export class GlobalPooling extends Layer {
  static readonly optionsBeyondConfig: readonly string[] = ['dataFormat'];
  readonly className: string = 'GlobalPooling';
  readonly dataFormat: DataFormat;

  constructor(readonly rank: number, readonly kind: 'max' | 'avg', args: GlobalPoolingArgs = {}) {
    super(args);
    this.dataFormat = readDataFormat(`${new.target.name} ${this.name}`, args.dataFormat);
  }

  override computeOutputShape(s: KShape): KShape {
    expectSpatialRank(this, s, this.rank);
    return [s[0], channelsOf(s, this.dataFormat)];
  }

  override lower(b: GraphBuilder, x: Value): Value {
    const axes = this.dataFormat === 'channels_last' ? Array.from({ length: this.rank }, (_, i) => i + 1) : Array.from({ length: this.rank }, (_, i) => i + 2);
    return this.kind === 'max' ? b.max(x, axes) : b.mean(x, axes);
  }

  protected override layerConfig(): Record<string, unknown> {
    return this.rank === 1 && this.dataFormat === 'channels_last' ? {} : { dataFormat: this.dataFormat };
  }
}

export class GlobalMaxPooling1D extends GlobalPooling {
  override readonly className: string = 'GlobalMaxPooling1D';
  constructor(args: GlobalPoolingArgs = {}) {
    super(1, 'max', args);
  }
}

export class GlobalMaxPooling2D extends GlobalPooling {
  override readonly className: string = 'GlobalMaxPooling2D';
  constructor(args: GlobalPoolingArgs = {}) {
    super(2, 'max', args);
  }
}

export class GlobalMaxPooling3D extends GlobalPooling {
  override readonly className: string = 'GlobalMaxPooling3D';
  constructor(args: GlobalPoolingArgs = {}) {
    super(3, 'max', args);
  }
}

export class GlobalAveragePooling1D extends GlobalPooling {
  override readonly className: string = 'GlobalAveragePooling1D';
  constructor(args: GlobalPoolingArgs = {}) {
    super(1, 'avg', args);
  }
}

export class GlobalAveragePooling2D extends GlobalPooling {
  override readonly className: string = 'GlobalAveragePooling2D';
  constructor(args: GlobalPoolingArgs = {}) {
    super(2, 'avg', args);
  }
}

export class GlobalAveragePooling3D extends GlobalPooling {
  override readonly className: string = 'GlobalAveragePooling3D';
  constructor(args: GlobalPoolingArgs = {}) {
    super(3, 'avg', args);
  }
}
