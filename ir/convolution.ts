/**
 * Convolution, pooling and transposed convolution composed from the window
 * primitives (`pad`, `window`) and plain arithmetic, channels-last:
 * x is [batch, ...spatial, channels]. Fusion makes each one reduction kernel
 * whose loads are masked where the padding is (passes/lower.ts), so no
 * padded copy and no im2col tensor is materialized; gradients come from the
 * primitives' vjps (ir/vjp.ts).
 */
import type { Shape } from './dtype.js';
import type { GraphBuilder, Value } from './graph.js';
import { windowCount } from './ops.js';
import { scatterWindows } from './window_vjp.js';

export type PaddingMode = 'valid' | 'same' | 'causal' | 'full';

/** Window geometry over the spatial axes. */
export interface WindowGeometry {
  readonly size: readonly number[];
  readonly strides: readonly number[];
  readonly dilations: readonly number[];
  /** [before, after] per spatial axis. */
  readonly padding: readonly (readonly [number, number])[];
}

/** Padding of one spatial axis of extent `n`, as TensorFlow computes it ('same' puts the odd element after). */
export function axisPadding(mode: PaddingMode, n: number, size: number, stride: number, dilation: number): [number, number] {
  const span = (size - 1) * dilation + 1;
  switch (mode) {
    case 'valid': return [0, 0];
    case 'same': {
      const total = Math.max((Math.ceil(n / stride) - 1) * stride + span - n, 0);
      return [Math.floor(total / 2), total - Math.floor(total / 2)];
    }
    case 'causal': return [span - 1, 0];
    case 'full': return [span - 1, span - 1];
  }
}

export function windowGeometry(mode: PaddingMode, spatial: Shape, size: readonly number[], strides: readonly number[], dilations: readonly number[]): WindowGeometry {
  return { size, strides, dilations, padding: spatial.map((n, a) => axisPadding(mode, n, size[a], strides[a], dilations[a])) };
}

/** Output extent per spatial axis; throws naming the spatial axis when a window does not fit. */
export function windowOutput(spatial: Shape, g: WindowGeometry): number[] {
  return spatial.map((n, a) => windowCount(n + g.padding[a][0] + g.padding[a][1], g.size[a], g.strides[a], g.dilations[a], a));
}

const range = (from: number, count: number): number[] => Array.from({ length: count }, (_, i) => from + i);

/** Window attrs over [batch, ...spatial, channels]: windows over the spatial axes only. */
function spatialWindow(g: WindowGeometry): { size: number[]; strides: number[]; dilations: number[] } {
  return { size: [1, ...g.size, 1], strides: [1, ...g.strides, 1], dilations: [1, ...g.dilations, 1] };
}

/** [batch, ...out, ...size, channels]: every window of the padded input. */
export function patches(b: GraphBuilder, x: Value, g: WindowGeometry, fill = 0): Value {
  const s = x.shape.length - 2;
  const padded = b.pad(x, [0, ...g.padding.map((p) => p[0]), 0], [0, ...g.padding.map((p) => p[1]), 0], fill);
  const w = spatialWindow(g);
  // [batch, ...out, channels, 1, ...size, 1] -> [batch, ...out, channels, ...size] -> [batch, ...out, ...size, channels]
  const win = b.window(padded, w.size, w.strides, w.dilations);
  const squeezed = b.reshape(win, [...win.shape.slice(0, s + 2), ...g.size]);
  return b.transpose(squeezed, [...range(0, s + 1), ...range(s + 2, s), s + 1]);
}

/** x [batch, ...spatial, c] with kernel [...size, c, f] -> [batch, ...out, f]. */
export function convolve(b: GraphBuilder, x: Value, kernel: Value, g: WindowGeometry): Value {
  const s = x.shape.length - 2;
  const p = patches(b, x, g);
  const w = b.reshape(kernel, [1, ...range(0, s).map(() => 1), ...kernel.shape]);
  return b.sum(b.mul(b.reshape(p, [...p.shape, 1]), w), range(1 + s, s + 1));
}

/** x [batch, ...spatial, c] with kernel [...size, c, m] -> [batch, ...out, c * m] (channel c's outputs adjacent). */
export function depthwiseConvolve(b: GraphBuilder, x: Value, kernel: Value, g: WindowGeometry): Value {
  const s = x.shape.length - 2;
  const p = patches(b, x, g);
  const w = b.reshape(kernel, [1, ...range(0, s).map(() => 1), ...kernel.shape]);
  const y = b.sum(b.mul(b.reshape(p, [...p.shape, 1]), w), range(1 + s, s));
  return b.reshape(y, [...y.shape.slice(0, -2), y.shape[y.shape.length - 2] * y.shape[y.shape.length - 1]]);
}

/** Max or average over windows of x [batch, ...spatial, c]; averages count only the input's own elements, as TensorFlow does. */
export function pool(b: GraphBuilder, x: Value, kind: 'max' | 'avg', g: WindowGeometry): Value {
  const s = x.shape.length - 2;
  const tiled = g.size.every((k, a) => k === g.strides[a] && g.dilations[a] === 1 && g.padding[a][0] === 0 && g.padding[a][1] === 0 && k <= x.shape[1 + a]);
  if (tiled) return tilePool(b, x, kind, g.size);
  const axes = range(1 + s, s);
  if (kind === 'max') return b.max(patches(b, x, g, -Infinity), axes);
  const sum = b.sum(patches(b, x, g), axes);
  if (g.padding.every(([lo, hi]) => lo === 0 && hi === 0)) return b.mul(sum, 1 / g.size.reduce((p, q) => p * q, 1));
  const ones = b.broadcastTo(b.constant(1, [], x.dtype), [1, ...x.shape.slice(1, 1 + s), 1]);
  return b.div(sum, b.sum(patches(b, ones, g), axes));
}

/**
 * Windows that tile the input (stride = size, no padding, the usual 2x2
 * pool): crop the remainder, split each spatial axis into [positions, size]
 * and reduce. No window op, so the gradient is elementwise (a reshape and a
 * pad back), with no scatter of overlapping windows.
 */
function tilePool(b: GraphBuilder, x: Value, kind: 'max' | 'avg', size: readonly number[]): Value {
  const s = x.shape.length - 2;
  const out = x.shape.slice(1, 1 + s).map((n, a) => Math.floor(n / size[a]));
  const cropped = b.slice(x, x.shape.map(() => 0), [x.shape[0], ...out.map((o, a) => o * size[a]), x.shape[s + 1]]);
  const split = b.reshape(cropped, [x.shape[0], ...out.flatMap((o, a) => [o, size[a]]), x.shape[s + 1]]);
  const axes = range(0, s).map((a) => 2 + 2 * a);
  return kind === 'max' ? b.max(split, axes) : b.mean(split, axes);
}

/**
 * The transpose of `convolve` (the gradient of a convolution with respect to
 * its input): x [batch, ...in, c] with kernel [...size, f, c] -> [batch,
 * ...out, f], where the convolution with geometry `g` maps `out` to `in`.
 */
export function transposedConvolve(b: GraphBuilder, x: Value, kernel: Value, g: WindowGeometry, out: Shape): Value {
  const s = x.shape.length - 2;
  const [batch, filters] = [x.shape[0], kernel.shape[s]];
  const padded = out.map((n, a) => n + g.padding[a][0] + g.padding[a][1]);
  const positions = windowOutput(out, g);
  if (positions.some((n, a) => n !== x.shape[1 + a])) {
    throw new Error(`transposed convolution: an output of [${out.join(', ')}] convolves to [${positions.join(', ')}], not the input's [${x.shape.slice(1, 1 + s).join(', ')}]`);
  }
  // cols[n, ...i, ...k, f] = sum_c x[n, ...i, c] * kernel[...k, f, c]
  const xs = b.reshape(x, [batch, ...x.shape.slice(1, 1 + s), ...range(0, s).map(() => 1), 1, x.shape[s + 1]]);
  const cols = b.sum(b.mul(xs, b.reshape(kernel, [1, ...range(0, s).map(() => 1), ...kernel.shape])), 2 * s + 2);
  // [batch, ...in, ...size, f] -> [batch, ...in, f, 1, ...size, 1]: the shape of `spatialWindow` over the padded output.
  const channelsAfterPositions = b.transpose(cols, [...range(0, s + 1), 2 * s + 1, ...range(s + 1, s)]);
  const windowShaped = b.reshape(channelsAfterPositions, [batch, ...positions, filters, 1, ...g.size, 1]);
  const full = scatterWindows(b, windowShaped, [batch, ...padded, filters], spatialWindow(g));
  return b.slice(full, [0, ...g.padding.map((p) => p[0]), 0], [batch, ...out, filters]);
}
