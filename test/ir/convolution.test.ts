/**
 * Convolution, pooling and transposed convolution composed from pad and
 * window (ir/convolution.ts): the interpreter against naive loops written
 * from the definitions over random geometries (odd sizes, strides that do not
 * divide, dilation, 'same' with even kernels, 1 and many channels, 1-3
 * spatial axes), and their gradients against float64 finite differences.
 */
import { describe, expect, it } from 'vitest';
import type { Shape } from '../../ir/dtype.js';
import { type PaddingMode, type WindowGeometry, axisPadding, convolve, depthwiseConvolve, pool, transposedConvolve, windowGeometry, windowOutput } from '../../ir/convolution.js';
import { GraphBuilder, type Value } from '../../ir/graph.js';
import { interpret } from '../../ir/interpret.js';
import { expectGradientsMatch } from '../helpers/finite_differences.js';
import { type Nd, at, indices, make, rng, size } from '../helpers/nd.js';

const draw = rng(2024);
const int = (lo: number, hi: number): number => lo + Math.floor(draw() * (hi - lo + 1));
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(draw() * xs.length)];
const randomNd = (shape: Shape): Nd => ({ shape, data: Float64Array.from({ length: size(shape) }, () => draw() * 2 - 1) });

interface Case {
  readonly x: Nd;
  readonly g: WindowGeometry;
  readonly mode: PaddingMode;
}

function randomCase(channels: number): Case {
  const s = int(1, 3);
  const k = Array.from({ length: s }, () => int(1, s === 3 ? 2 : 4));
  const dilations = k.map(() => (draw() < 0.3 ? 2 : 1));
  const strides = k.map(() => int(1, 3));
  const mode = pick<PaddingMode>(['valid', 'same', 'causal', 'full']);
  const spatial = k.map((kk, a) => (kk - 1) * dilations[a] + 1 + int(0, s === 3 ? 2 : 5));
  return { x: randomNd([int(1, 2), ...spatial, channels]), g: windowGeometry(mode, spatial, k, strides, dilations), mode };
}

/** x's element at padded spatial coordinates, or null in the padding. */
function inside(x: Nd, n: number, spatial: readonly number[], c: number): number | null {
  const ok = spatial.every((v, a) => v >= 0 && v < x.shape[1 + a]);
  return ok ? at(x, [n, ...spatial, c]) : null;
}

function source(o: readonly number[], k: readonly number[], g: WindowGeometry): number[] {
  return o.map((v, a) => v * g.strides[a] + k[a] * g.dilations[a] - g.padding[a][0]);
}

function convRef(x: Nd, w: Nd, g: WindowGeometry): Nd {
  const s = x.shape.length - 2;
  const [c, f] = w.shape.slice(s);
  const out = windowOutput(x.shape.slice(1, 1 + s), g);
  return make([x.shape[0], ...out, f], (idx) => {
    let sum = 0;
    for (const k of indices(g.size)) {
      for (let ci = 0; ci < c; ci++) sum += (inside(x, idx[0], source(idx.slice(1, 1 + s), k, g), ci) ?? 0) * at(w, [...k, ci, idx[1 + s]]);
    }
    return sum;
  });
}

function poolRef(x: Nd, g: WindowGeometry, kind: 'max' | 'avg'): Nd {
  const s = x.shape.length - 2;
  const out = windowOutput(x.shape.slice(1, 1 + s), g);
  return make([x.shape[0], ...out, x.shape[s + 1]], (idx) => {
    const seen = indices(g.size).map((k) => inside(x, idx[0], source(idx.slice(1, 1 + s), k, g), idx[1 + s])).filter((v): v is number => v !== null);
    return kind === 'max' ? Math.max(...seen) : seen.reduce((p, q) => p + q, 0) / seen.length;
  });
}

/** Every input element times every kernel element, added where the forward convolution would have read it. */
function transposedRef(x: Nd, w: Nd, g: WindowGeometry, out: Shape): Nd {
  const s = x.shape.length - 2;
  const [f, c] = w.shape.slice(s);
  const y = new Float64Array(x.shape[0] * size(out) * f);
  const flat = (n: number, sp: readonly number[], fi: number): number => [n, ...sp, fi].reduce((p, v, a) => p * [x.shape[0], ...out, f][a] + v, 0);
  for (const idx of indices(x.shape.slice(0, 1 + s))) {
    for (const k of indices(g.size)) {
      const sp = source(idx.slice(1), k, g);
      if (!sp.every((v, a) => v >= 0 && v < out[a])) continue;
      for (let fi = 0; fi < f; fi++) for (let ci = 0; ci < c; ci++) y[flat(idx[0], sp, fi)] += at(x, [...idx, ci]) * at(w, [...k, fi, ci]);
    }
  }
  return { shape: [x.shape[0], ...out, f], data: y };
}

function run(build: (b: GraphBuilder, ps: Value[]) => Value, inputs: readonly Nd[]): Float64Array {
  const b = new GraphBuilder();
  const ps = inputs.map((x, i) => b.param(`p${i}`, x.shape, 'float64'));
  const feeds = Object.fromEntries(inputs.map((x, i) => [`p${i}`, Float64Array.from(x.data)]));
  return interpret(b.build([build(b, ps)]), feeds)[0] as Float64Array;
}

const describeCase = (c: Case): string => `x ${JSON.stringify(c.x.shape)} ${c.mode} ${JSON.stringify(c.g)}`;

describe('compositions against naive loops', () => {
  it.each(Array.from({ length: 24 }, (_, i) => [i]))('convolution %i', (i) => {
    const c = randomCase(pick([1, 2, 5]));
    const w = randomNd([...c.g.size, c.x.shape[c.x.shape.length - 1], i % 3 === 0 ? 1 : int(2, 4)]);
    expect(run((b, [x, k]) => convolve(b, x, k, c.g), [c.x, w]), describeCase(c)).toBeAllClose(convRef(c.x, w, c.g).data, { rtol: 1e-12, atol: 1e-12 });
  });

  it.each(Array.from({ length: 12 }, (_, i) => [i]))('depthwise convolution %i', () => {
    const c = randomCase(int(1, 3));
    const m = int(1, 2);
    const w = randomNd([...c.g.size, c.x.shape[c.x.shape.length - 1], m]);
    // Depthwise = one convolution per channel; output channel ci * m + mi.
    const ch = c.x.shape[c.x.shape.length - 1];
    const s = c.x.shape.length - 2;
    const perChannel = Array.from({ length: ch }, (_, ci) => {
      const xc = make([...c.x.shape.slice(0, -1), 1], (idx) => at(c.x, [...idx.slice(0, -1), ci]));
      const wc = make([...c.g.size, 1, m], (idx) => at(w, [...idx.slice(0, s), ci, idx[s + 1]]));
      return convRef(xc, wc, c.g);
    });
    const want = make([...perChannel[0].shape.slice(0, -1), ch * m], (idx) => at(perChannel[Math.floor(idx[1 + s] / m)], [...idx.slice(0, -1), idx[1 + s] % m]));
    expect(run((b, [x, k]) => depthwiseConvolve(b, x, k, c.g), [c.x, w]), describeCase(c)).toBeAllClose(want.data, { rtol: 1e-12, atol: 1e-12 });
  });

  it.each(Array.from({ length: 16 }, (_, i) => [i % 2 === 0 ? 'max' : 'avg', i] as const))('%s pooling %i', (kind) => {
    const c = randomCase(int(1, 3));
    // Pools pad only with 'valid' and 'same' in Keras.
    const g = c.mode === 'valid' || c.mode === 'same' ? c.g : { ...c.g, padding: c.g.padding.map(() => [0, 0] as const) };
    expect(run((b, [x]) => pool(b, x, kind, g), [c.x]), describeCase(c)).toBeAllClose(poolRef(c.x, g, kind).data, { rtol: 1e-12, atol: 1e-12 });
  });

  /** A transposed convolution's geometry: Keras's deconv_length, with or without output_padding, redrawn until it fits. */
  function transposedCase(): { x: Nd; w: Nd; g: WindowGeometry; out: number[]; mode: PaddingMode } {
    for (;;) {
      const s = int(1, 2);
      const k = Array.from({ length: s }, () => int(1, 4));
      const strides = k.map(() => int(1, 3));
      const dilations = k.map(() => (draw() < 0.3 ? 2 : 1));
      const mode = pick<PaddingMode>(['valid', 'same']);
      const inSpatial = k.map(() => int(1, 4));
      const out = inSpatial.map((n, a) => {
        const span = (k[a] - 1) * dilations[a] + 1;
        const base = mode === 'same' ? n * strides[a] : n * strides[a] + Math.max(span - strides[a], 0);
        return draw() < 0.5 ? base : (n - 1) * strides[a] + span - 2 * (mode === 'same' ? Math.floor(span / 2) : 0) + int(0, strides[a] - 1);
      });
      const g = windowGeometry(mode, out, k, strides, dilations);
      let fits = false;
      try {
        fits = windowOutput(out, g).every((n, a) => n === inSpatial[a]);
      } catch {
        fits = false;
      }
      if (!fits) continue;
      const x = randomNd([int(1, 2), ...inSpatial, int(1, 3)]);
      return { x, w: randomNd([...k, int(1, 3), x.shape[s + 1]]), g, out, mode };
    }
  }

  it.each(Array.from({ length: 16 }, (_, i) => [i]))('transposed convolution %i', () => {
    const { x, w, g, out, mode } = transposedCase();
    expect(run((b, [xv, wv]) => transposedConvolve(b, xv, wv, g, out), [x, w]), `${mode} ${JSON.stringify({ out, g })}`).toBeAllClose(transposedRef(x, w, g, out).data, { rtol: 1e-12, atol: 1e-12 });
  });
});

describe('padding as TensorFlow computes it', () => {
  it('same: out = ceil(n / stride), the odd element after', () => {
    expect(axisPadding('same', 7, 4, 1, 1)).toEqual([1, 2]);
    expect(axisPadding('same', 7, 3, 2, 1)).toEqual([1, 1]);
    expect(axisPadding('same', 6, 3, 2, 1)).toEqual([0, 1]);
    expect(axisPadding('same', 5, 3, 1, 2)).toEqual([2, 2]);
  });
  it('causal and full', () => {
    expect(axisPadding('causal', 9, 3, 1, 2)).toEqual([4, 0]);
    expect(axisPadding('full', 9, 2, 1, 1)).toEqual([1, 1]);
  });
  it('a window larger than its padded input is an error naming the axis', () => {
    expect(() => windowOutput([4, 2], windowGeometry('valid', [4, 2], [3, 3], [1, 1], [1, 1]))).toThrow(/window of size 3 \(dilation 1, span 3\) is larger than axis 1 of extent 2/);
  });
});

describe('gradients against float64 finite differences', () => {
  function checkGrad(build: (b: GraphBuilder, ps: Value[]) => Value, inputs: readonly Nd[]): void {
    const b = new GraphBuilder();
    const ps = inputs.map((x, i) => b.param(`p${i}`, x.shape, 'float64'));
    const y = build(b, ps);
    const r = b.param('r', y.shape, 'float64');
    const graph = b.build([b.sum(b.mul(y, r))]);
    const feeds: Record<string, Float64Array> = Object.fromEntries(inputs.map((x, i) => [`p${i}`, Float64Array.from(x.data)]));
    feeds.r = Float64Array.from({ length: size(y.shape) }, () => draw() - 0.5);
    const names = inputs.map((_, i) => `p${i}`);
    expectGradientsMatch(graph, feeds, names, { rtol: 1e-5, atol: 1e-7 });
  }
  const g2 = (mode: PaddingMode, spatial: number[], k: number[], s: number[], d: number[]): WindowGeometry => windowGeometry(mode, spatial, k, s, d);

  it('2-d convolution, same padding, even kernel, stride 2 (input and kernel)', () => {
    checkGrad((b, [x, w]) => convolve(b, x, w, g2('same', [5, 6], [2, 3], [2, 2], [1, 1])), [randomNd([2, 5, 6, 2]), randomNd([2, 3, 2, 3])]);
  });
  it('1-d causal dilated convolution', () => {
    checkGrad((b, [x, w]) => convolve(b, x, w, g2('causal', [7], [3], [1], [2])), [randomNd([1, 7, 2]), randomNd([3, 2, 2])]);
  });
  it('3-d valid convolution with strides that do not divide', () => {
    checkGrad((b, [x, w]) => convolve(b, x, w, g2('valid', [4, 5, 3], [2, 2, 2], [2, 3, 1], [1, 1, 1])), [randomNd([1, 4, 5, 3, 1]), randomNd([2, 2, 2, 1, 2])]);
  });
  it('depthwise convolution', () => {
    checkGrad((b, [x, w]) => depthwiseConvolve(b, x, w, g2('same', [4, 5], [3, 2], [1, 2], [1, 1])), [randomNd([1, 4, 5, 2]), randomNd([3, 2, 2, 2])]);
  });
  it('max pooling (distinct values) and average pooling with same padding', () => {
    const x = { shape: [1, 5, 4, 2], data: Float64Array.from({ length: 40 }, (_, i) => ((i * 37) % 41) / 7 - 3) };
    checkGrad((b, [v]) => pool(b, v, 'max', g2('same', [5, 4], [2, 2], [2, 2], [1, 1])), [x]);
    checkGrad((b, [v]) => pool(b, v, 'avg', g2('same', [5, 4], [3, 2], [2, 1], [1, 1])), [x]);
  });
  it('tiling pools (stride = size, valid, a remainder cropped): max and average', () => {
    const x = { shape: [2, 5, 4, 3], data: Float64Array.from({ length: 120 }, (_, i) => ((i * 53) % 121) / 9 - 6) };
    checkGrad((b, [v]) => pool(b, v, 'max', g2('valid', [5, 4], [2, 2], [2, 2], [1, 1])), [x]);
    checkGrad((b, [v]) => pool(b, v, 'avg', g2('valid', [5, 4], [2, 3], [2, 3], [1, 1])), [x]);
  });
  it('transposed convolution, stride 2, same padding', () => {
    checkGrad((b, [x, w]) => transposedConvolve(b, x, w, g2('same', [6, 4], [3, 2], [2, 2], [1, 1]), [6, 4]), [randomNd([1, 3, 2, 2]), randomNd([3, 2, 3, 2])]);
  });
});
