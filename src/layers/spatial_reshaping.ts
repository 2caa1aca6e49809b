/** The reshaping layers Keras keeps beside the convolutions: Cropping1D/2D/3D, ZeroPadding1D/2D/3D, UpSampling1D/2D/3D. */
import type { GraphBuilder, Value } from '../../ir/graph.js';
import { type KShape, Layer, type LayerArgs, shapeText } from './base.js';
import { withPositional } from './layer_options.js';
import { type DataFormat, channelsOf, expectSpatialRank, fromLast, intTuple, oneOf, pairTuple, readDataFormat, spatialOf, toLast, withSpatial } from './conv_args.js';

/** Cropping1D/2D/3D: trims [before, after] from each spatial axis. */
export class Cropping extends Layer {
  readonly className: string = 'Cropping';
  readonly cropping: [number, number][];
  readonly dataFormat: DataFormat;

  constructor(readonly rank: number, cropping: unknown, args: LayerArgs & { dataFormat?: string | null } = {}) {
    super(args);
    this.cropping = pairTuple(`${new.target.name} ${this.name}`, 'cropping', cropping, rank);
    this.dataFormat = readDataFormat(`${new.target.name} ${this.name}`, args.dataFormat);
  }

  override computeOutputShape(s: KShape): KShape {
    expectSpatialRank(this, s, this.rank);
    const out = spatialOf(s, this.dataFormat).map((n, a) => (n === null ? null : n - this.cropping[a][0] - this.cropping[a][1]));
    if (out.some((n) => n !== null && n < 1)) {
      throw new Error(`Layer ${this.name} (${this.className}): cropping ${JSON.stringify(this.cropping)} leaves nothing of an input of shape ${shapeText(s)}`);
    }
    return withSpatial(s, this.dataFormat, out, channelsOf(s, this.dataFormat));
  }

  override lower(b: GraphBuilder, x: Value): Value {
    const xl = toLast(b, x, this.dataFormat);
    const begin = [0, ...this.cropping.map((c) => c[0]), 0];
    const size = xl.shape.map((n, a) => (a === 0 || a === xl.shape.length - 1 ? n : n - this.cropping[a - 1][0] - this.cropping[a - 1][1]));
    return fromLast(b, b.slice(xl, begin, size), this.dataFormat);
  }

  protected override layerConfig(): Record<string, unknown> {
    return this.rank === 1 ? { cropping: this.cropping[0] } : { cropping: this.cropping, dataFormat: this.dataFormat };
  }
}

/** ZeroPadding1D/2D/3D: zeros [before, after] each spatial axis. */
export class ZeroPadding extends Layer {
  readonly className: string = 'ZeroPadding';
  readonly padding: [number, number][];
  readonly dataFormat: DataFormat;

  constructor(readonly rank: number, padding: unknown, args: LayerArgs & { dataFormat?: string | null } = {}) {
    super(args);
    this.padding = pairTuple(`${new.target.name} ${this.name}`, 'padding', padding, rank);
    this.dataFormat = readDataFormat(`${new.target.name} ${this.name}`, args.dataFormat);
  }

  override computeOutputShape(s: KShape): KShape {
    expectSpatialRank(this, s, this.rank);
    const out = spatialOf(s, this.dataFormat).map((n, a) => (n === null ? null : n + this.padding[a][0] + this.padding[a][1]));
    return withSpatial(s, this.dataFormat, out, channelsOf(s, this.dataFormat));
  }

  override lower(b: GraphBuilder, x: Value): Value {
    const xl = toLast(b, x, this.dataFormat);
    return fromLast(b, b.pad(xl, [0, ...this.padding.map((p) => p[0]), 0], [0, ...this.padding.map((p) => p[1]), 0]), this.dataFormat);
  }

  protected override layerConfig(): Record<string, unknown> {
    return this.rank === 1 ? { padding: this.padding[0] } : { padding: this.padding, dataFormat: this.dataFormat };
  }
}

/** UpSampling1D/2D/3D: repeats each element `size` times per spatial axis (2-d also bilinear, as TensorFlow 1's resize_bilinear). */
export class UpSampling extends Layer {
  readonly className: string = 'UpSampling';
  readonly size: number[];
  readonly dataFormat: DataFormat;
  readonly interpolation: 'nearest' | 'bilinear';

  constructor(readonly rank: number, size: unknown, args: LayerArgs & { dataFormat?: string | null; interpolation?: string } = {}) {
    super(args);
    const where = `${new.target.name} ${this.name}`;
    this.size = intTuple(where, 'size', size, rank);
    this.dataFormat = readDataFormat(where, args.dataFormat);
    this.interpolation = rank === 2 ? oneOf(where, 'interpolation', args.interpolation ?? 'nearest', ['nearest', 'bilinear'] as const) : 'nearest';
  }

  override computeOutputShape(s: KShape): KShape {
    expectSpatialRank(this, s, this.rank);
    return withSpatial(s, this.dataFormat, spatialOf(s, this.dataFormat).map((n, a) => (n === null ? null : n * this.size[a])), channelsOf(s, this.dataFormat));
  }

  override lower(b: GraphBuilder, x: Value): Value {
    let y = toLast(b, x, this.dataFormat);
    this.size.forEach((s, a) => {
      const axis = a + 1;
      y = this.interpolation === 'nearest' ? repeatAxis(b, y, axis, s) : bilinearAxis(b, y, axis, s);
    });
    return fromLast(b, y, this.dataFormat);
  }

  protected override layerConfig(): Record<string, unknown> {
    if (this.rank === 1) return { size: this.size[0] };
    return this.rank === 2 ? { size: this.size, dataFormat: this.dataFormat, interpolation: this.interpolation } : { size: this.size, dataFormat: this.dataFormat };
  }
}

function repeatAxis(b: GraphBuilder, x: Value, axis: number, times: number): Value {
  if (times === 1) return x;
  const unit = [...x.shape.slice(0, axis + 1), 1, ...x.shape.slice(axis + 1)];
  const spread = b.broadcastTo(b.reshape(x, unit), unit.map((d, i) => (i === axis + 1 ? times : d)));
  return b.reshape(spread, x.shape.map((d, i) => (i === axis ? d * times : d)));
}

/** out[j] = x[lo] * (1 - t) + x[hi] * t with src = j / times, lo = floor(src), hi = min(lo + 1, n - 1), t = src - lo. */
function bilinearAxis(b: GraphBuilder, x: Value, axis: number, times: number): Value {
  if (times === 1) return x;
  const n = x.shape[axis];
  const src = b.div(b.iota([n * times], 0, 'float32'), times);
  const lo = b.unary('floor', src);
  const t = b.sub(src, lo);
  const hi = b.minimum(b.add(lo, 1), n - 1);
  const along = (v: Value): Value => b.reshape(v, x.shape.map((_, i) => (i === axis ? n * times : 1)));
  const at = (idx: Value): Value => b.gather(x, b.cast(idx, 'int32'), axis);
  return b.add(b.mul(at(lo), b.sub(1, along(t))), b.mul(at(hi), along(t)));
}

export type Cropping1DArgs = LayerArgs & { cropping?: number | readonly number[] };

export class Cropping1D extends Cropping {
  override readonly className: string = 'Cropping1D';
  /** `new Cropping1D(cropping)`, `new Cropping1D(cropping, options)` or `new Cropping1D(options)`. */
  constructor(croppingOrArgs?: Cropping1DArgs['cropping'] | Cropping1DArgs, options?: Cropping1DArgs) {
    const args = withPositional<Cropping1DArgs>('Cropping1D', 'cropping', croppingOrArgs, options);
    super(1, args.cropping ?? [1, 1], args);
  }
}

export type Cropping2DArgs = LayerArgs & { cropping?: unknown; dataFormat?: string | null };

export class Cropping2D extends Cropping {
  override readonly className: string = 'Cropping2D';
  /** `new Cropping2D(cropping)`, `new Cropping2D(cropping, options)` or `new Cropping2D(options)`. */
  constructor(croppingOrArgs?: Cropping2DArgs['cropping'] | Cropping2DArgs, options?: Cropping2DArgs) {
    const args = withPositional<Cropping2DArgs>('Cropping2D', 'cropping', croppingOrArgs, options);
    super(2, args.cropping ?? [[0, 0], [0, 0]], args);
  }
}

export type Cropping3DArgs = LayerArgs & { cropping?: unknown; dataFormat?: string | null };

export class Cropping3D extends Cropping {
  override readonly className: string = 'Cropping3D';
  /** `new Cropping3D(cropping)`, `new Cropping3D(cropping, options)` or `new Cropping3D(options)`. */
  constructor(croppingOrArgs?: Cropping3DArgs['cropping'] | Cropping3DArgs, options?: Cropping3DArgs) {
    const args = withPositional<Cropping3DArgs>('Cropping3D', 'cropping', croppingOrArgs, options);
    super(3, args.cropping ?? [[1, 1], [1, 1], [1, 1]], args);
  }
}

export type ZeroPadding1DArgs = LayerArgs & { padding?: number | readonly number[] };

export class ZeroPadding1D extends ZeroPadding {
  override readonly className: string = 'ZeroPadding1D';
  /** `new ZeroPadding1D(padding)`, `new ZeroPadding1D(padding, options)` or `new ZeroPadding1D(options)`. */
  constructor(paddingOrArgs?: ZeroPadding1DArgs['padding'] | ZeroPadding1DArgs, options?: ZeroPadding1DArgs) {
    const args = withPositional<ZeroPadding1DArgs>('ZeroPadding1D', 'padding', paddingOrArgs, options);
    super(1, args.padding ?? 1, args);
  }
}

export type ZeroPadding2DArgs = LayerArgs & { padding?: unknown; dataFormat?: string | null };

export class ZeroPadding2D extends ZeroPadding {
  override readonly className: string = 'ZeroPadding2D';
  /** `new ZeroPadding2D(padding)`, `new ZeroPadding2D(padding, options)` or `new ZeroPadding2D(options)`. */
  constructor(paddingOrArgs?: ZeroPadding2DArgs['padding'] | ZeroPadding2DArgs, options?: ZeroPadding2DArgs) {
    const args = withPositional<ZeroPadding2DArgs>('ZeroPadding2D', 'padding', paddingOrArgs, options);
    super(2, args.padding ?? 1, args);
  }
}

export type ZeroPadding3DArgs = LayerArgs & { padding?: unknown; dataFormat?: string | null };

export class ZeroPadding3D extends ZeroPadding {
  override readonly className: string = 'ZeroPadding3D';
  /** `new ZeroPadding3D(padding)`, `new ZeroPadding3D(padding, options)` or `new ZeroPadding3D(options)`. */
  constructor(paddingOrArgs?: ZeroPadding3DArgs['padding'] | ZeroPadding3DArgs, options?: ZeroPadding3DArgs) {
    const args = withPositional<ZeroPadding3DArgs>('ZeroPadding3D', 'padding', paddingOrArgs, options);
    super(3, args.padding ?? 1, args);
  }
}

export type UpSampling1DArgs = LayerArgs & { size?: number };

export class UpSampling1D extends UpSampling {
  override readonly className: string = 'UpSampling1D';
  /** `new UpSampling1D(size)`, `new UpSampling1D(size, options)` or `new UpSampling1D(options)`. */
  constructor(sizeOrArgs?: UpSampling1DArgs['size'] | UpSampling1DArgs, options?: UpSampling1DArgs) {
    const args = withPositional<UpSampling1DArgs>('UpSampling1D', 'size', sizeOrArgs, options);
    super(1, args.size ?? 2, args);
  }
}

export type UpSampling2DArgs = LayerArgs & { size?: number | readonly number[]; dataFormat?: string | null; interpolation?: string };

export class UpSampling2D extends UpSampling {
  override readonly className: string = 'UpSampling2D';
  /** `new UpSampling2D(size)`, `new UpSampling2D(size, options)` or `new UpSampling2D(options)`. */
  constructor(sizeOrArgs?: UpSampling2DArgs['size'] | UpSampling2DArgs, options?: UpSampling2DArgs) {
    const args = withPositional<UpSampling2DArgs>('UpSampling2D', 'size', sizeOrArgs, options);
    super(2, args.size ?? 2, args);
  }
}

export type UpSampling3DArgs = LayerArgs & { size?: number | readonly number[]; dataFormat?: string | null };

export class UpSampling3D extends UpSampling {
  override readonly className: string = 'UpSampling3D';
  /** `new UpSampling3D(size)`, `new UpSampling3D(size, options)` or `new UpSampling3D(options)`. */
  constructor(sizeOrArgs?: UpSampling3DArgs['size'] | UpSampling3DArgs, options?: UpSampling3DArgs) {
    const args = withPositional<UpSampling3DArgs>('UpSampling3D', 'size', sizeOrArgs, options);
    super(3, args.size ?? 2, args);
  }
}
