/** Argument checks and data-format helpers shared by the convolutional, pooling and reshaping layers. */
import { type WindowGeometry, windowOutput } from '../../ir/convolution.js';
import type { GraphBuilder, Value } from '../../ir/graph.js';
import { type KShape, type Layer, shapeText } from './base.js';

export type DataFormat = 'channels_last' | 'channels_first';

/** Validates a Keras identifier, listing the valid ones. */
export function oneOf<T extends string>(where: string, name: string, value: unknown, valid: readonly T[]): T {
  if (typeof value === 'string' && (valid as readonly string[]).includes(value)) return value as T;
  throw new Error(`${where}: unknown ${name} ${JSON.stringify(value)}. Valid values: ${valid.join(', ')}`);
}

export function readDataFormat(where: string, value: unknown): DataFormat {
  return oneOf(where, 'dataFormat', value ?? 'channels_last', ['channels_last', 'channels_first'] as const);
}

/** An int or a list of `rank` ints, each >= min (Keras's normalize_tuple). */
export function intTuple(where: string, name: string, value: unknown, rank: number, min = 1): number[] {
  const list = typeof value === 'number' ? new Array<number>(rank).fill(value) : value;
  const ok = Array.isArray(list) && list.length === rank && list.every((v) => Number.isInteger(v) && v >= min);
  if (!ok) throw new Error(`${where}: ${name} must be an integer >= ${min} or a list of ${rank} of them, got ${JSON.stringify(value)}`);
  return list as number[];
}

/** Pairs per spatial axis from an int, a list of `rank` ints, or a list of `rank` pairs. */
export function pairTuple(where: string, name: string, value: unknown, rank: number): [number, number][] {
  const pair = (v: unknown): [number, number] | null => {
    if (Number.isInteger(v) && (v as number) >= 0) return [v as number, v as number];
    if (Array.isArray(v) && v.length === 2 && v.every((x) => Number.isInteger(x) && x >= 0)) return [v[0], v[1]];
    return null;
  };
  const whole = rank === 1 ? pair(value) : null;
  const list = whole ? [whole] : typeof value === 'number' ? new Array(rank).fill(pair(value)) : Array.isArray(value) && value.length === rank ? value.map(pair) : null;
  if (!list || list.some((p: unknown) => p === null)) throw new Error(`${where}: ${name} must be an integer >= 0, ${rank} of them, or ${rank} pairs of them, got ${JSON.stringify(value)}`);
  return list as [number, number][];
}

/** Spatial axes of a Keras shape (batch first). */
export function spatialOf(shape: KShape, format: DataFormat): (number | null)[] {
  return format === 'channels_last' ? shape.slice(1, -1) : shape.slice(2);
}

export function channelsOf(shape: KShape, format: DataFormat): number | null {
  return format === 'channels_last' ? shape[shape.length - 1] : shape[1];
}

export function withSpatial(shape: KShape, format: DataFormat, spatial: readonly (number | null)[], channels: number | null): KShape {
  return format === 'channels_last' ? [shape[0], ...spatial, channels] : [shape[0], channels, ...spatial];
}

/** The input moved to channels-last (no node when it is already). */
export function toLast(b: GraphBuilder, x: Value, format: DataFormat): Value {
  const r = x.shape.length;
  return format === 'channels_last' ? x : b.transpose(x, [0, ...Array.from({ length: r - 2 }, (_, i) => i + 2), 1]);
}

export function fromLast(b: GraphBuilder, y: Value, format: DataFormat): Value {
  const r = y.shape.length;
  return format === 'channels_last' ? y : b.transpose(y, [0, r - 1, ...Array.from({ length: r - 2 }, (_, i) => i + 1)]);
}

export function checkFilters(where: string, filters: number): void {
  if (!Number.isInteger(filters) || filters < 1) throw new Error(`${where}: filters must be a positive integer, got ${filters}`);
}

/** Checks the input rank: `spatial` axes, a batch and a channel axis. */
export function expectSpatialRank(layer: Layer, shape: KShape, spatial: number): void {
  if (shape.length !== spatial + 2) {
    throw new Error(`Layer ${layer.name} (${layer.className}) expects an input of rank ${spatial + 2} (batch, ${spatial} spatial axes, channels), got shape ${shapeText(shape)}`);
  }
}

/** Output extents of windows over known spatial extents (null stays null); errors name the layer. */
export function windowedSpatial(layer: Layer, shape: KShape, spatial: readonly (number | null)[], geometry: (known: number[]) => WindowGeometry): (number | null)[] {
  if (spatial.some((d) => d === null)) return spatial.map(() => null);
  const known = spatial as number[];
  try {
    return windowOutput(known, geometry(known));
  } catch (e) {
    throw new Error(`Layer ${layer.name} (${layer.className}): input of shape ${shapeText(shape)}: ${(e as Error).message}`);
  }
}
