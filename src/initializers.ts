/**
 * Keras 2 initializers with seeds. Randomness is counter-based (Philox, as ir/philox.ts; see random.ts):
 * the same seed gives the same weights on every run and every backend.
 * Normals use Box-Muller over two Philox streams; truncated normals redraw
 * (on further streams) values beyond two standard deviations, as Keras does.
 */
import { philoxWords } from '../runtime/cpu/philox_words.js';
import { describeValue, ownEntry } from './validation.js';

export type Shape = readonly number[];

export interface Initializer {
  readonly className: string;
  readonly config: Readonly<Record<string, unknown>>;
  init(shape: Shape): Float32Array;
  /** The same values as init, drawn a chunk per step (initializeAsync yields to the event loop between steps). */
  draw?(shape: Shape): Draw;
}

/** A draw in chunks: each `next()` does one chunk; the return value is the weights. */
export type Draw = Generator<void, Float32Array, void>;

/**
 * Weights of at least this many elements are not drawn when a layer builds:
 * the first async entry point (predict, fit, evaluate: materializeWeights)
 * draws them yielding to the event loop, and a synchronous read before that
 * (getWeights, setWeights' check, summary) draws them on the spot. Either
 * way the values are the same.
 */
export const DEFERRED_ELEMENTS = 1 << 21;

interface Deferred {
  readonly init: Initializer;
  readonly shape: Shape;
}

const deferred = new WeakMap<object, Deferred>();

/**
 * Gives `weight` its initial value: drawn now when small, else deferred (a
 * `value` accessor that draws on first read, or materializeWeights).
 */
export function withInitialValue<T extends object>(weight: T, init: Initializer, shape: Shape): T & { value: Float32Array } {
  if (!init.draw || size(shape) < DEFERRED_ELEMENTS) return Object.assign(weight, { value: init.init(shape) });
  let value: Float32Array | null = null;
  deferred.set(weight, { init, shape });
  Object.defineProperty(weight, 'value', {
    enumerable: true,
    configurable: true,
    get: () => {
      if (!value) {
        value = init.init(shape);
        deferred.delete(weight);
      }
      return value;
    },
    set: (v: Float32Array) => {
      value = v;
      deferred.delete(weight);
    },
  });
  return weight as T & { value: Float32Array };
}

/** Draws every deferred weight of `weights`, yielding to the event loop between chunks. */
export async function materializeWeights(weights: Iterable<{ value: Float32Array }>): Promise<void> {
  for (const w of weights) {
    const d = deferred.get(w);
    if (!d) continue;
    const value = await initializeAsync(d.init, d.shape);
    // A synchronous read may have drawn it meanwhile (the same values): keep that one.
    if (deferred.has(w)) w.value = value;
  }
}

/** Runs a draw to the end in one go. */
function drain(draw: Draw): Float32Array {
  for (;;) {
    const step = draw.next();
    if (step.done) return step.value;
  }
}

/**
 * The weights of `init` for `shape`, yielding to the event loop after every
 * chunk of 2^20 elements (a few milliseconds each), so a process building a
 * large layer keeps serving: the same values as init(shape).
 */
export async function initializeAsync(init: Initializer, shape: Shape): Promise<Float32Array> {
  if (!init.draw) return init.init(shape);
  const draw = init.draw(shape);
  for (;;) {
    const step = draw.next();
    if (step.done) return step.value;
    await new Promise((resolve) => setImmediate(resolve));
  }
}

let seedCounter = 0x4b494c4e;
/** Seeds for initializers created without one: distinct, and reproducible from process start. */
function nextSeed(): number {
  seedCounter = (seedCounter + 0x9e3779b9) >>> 0;
  return seedCounter;
}

function size(shape: Shape): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** Words are drawn in chunks of this many elements (4 MiB of scratch per stream). */
const CHUNK = 1 << 20;
const U24 = 2 ** -24;

/** Elements [0, n) in chunks: `fill(start, count, words...)` gets each chunk's first Philox words of `streams`. */
function* inChunks(seed: number, n: number, streams: readonly number[], fill: (start: number, count: number, words: readonly Uint32Array[]) => void): Generator<void, void, void> {
  const words = streams.map(() => new Uint32Array(Math.min(n, CHUNK)));
  for (let start = 0; start < n; start += CHUNK) {
    const count = Math.min(CHUNK, n - start);
    streams.forEach((stream, j) => philoxWords(seed, stream, start, count, words[j]));
    fill(start, count, words);
    yield;
  }
}

/** lo + (hi - lo) * u for u = philoxUniform(seed, 0, i), computed in bulk (the same doubles, so the same float32s). */
function* uniform(seed: number, n: number, lo: number, hi: number): Draw {
  const out = new Float32Array(n);
  const span = hi - lo;
  yield* inChunks(seed, n, [0], (start, count, [w]) => {
    for (let i = 0; i < count; i++) out[start + i] = lo + span * ((w[i] >>> 8) * U24);
  });
  return out;
}

function boxMuller(u1: number, u2: number): number {
  return Math.sqrt(-2 * Math.log(1 - u1)) * Math.cos(2 * Math.PI * u2);
}

/**
 * Box-Muller over streams 0 and 1, in bulk. Truncated normals redraw the
 * values beyond 2 on streams (2, 3), (4, 5), ... as philoxUniform would, each
 * pass over the span of the elements still pending.
 */
function* normal(seed: number, n: number, mean: number, stddev: number, truncated: boolean): Draw {
  const out = new Float32Array(n);
  const redraw = truncated ? [new Uint32Array(Math.min(n, CHUNK)), new Uint32Array(Math.min(n, CHUNK))] : [];
  yield* inChunks(seed, n, [0, 1], (start, count, [w1, w2]) => {
    let pending: number[] = [];
    for (let i = 0; i < count; i++) {
      const z = boxMuller((w1[i] >>> 8) * U24, (w2[i] >>> 8) * U24);
      out[start + i] = mean + stddev * z;
      if (truncated && Math.abs(z) > 2) pending.push(i);
    }
    const one = new Uint32Array(2);
    for (let stream = 1; pending.length; stream++) {
      const [first, span] = [pending[0], pending[pending.length - 1] + 1 - pending[0]];
      const [a, b] = redraw;
      // Dense passes draw the whole span in bulk; sparse ones (the later passes) draw only the pending elements.
      const dense = pending.length * 16 > span;
      if (dense) {
        philoxWords(seed, 2 * stream, start + first, span, a);
        philoxWords(seed, 2 * stream + 1, start + first, span, b);
      }
      const still: number[] = [];
      for (const i of pending) {
        if (!dense) {
          philoxWords(seed, 2 * stream, start + i, 1, one);
          philoxWords(seed, 2 * stream + 1, start + i, 1, one.subarray(1));
        }
        const [u1, u2] = dense ? [a[i - first], b[i - first]] : [one[0], one[1]];
        const z = boxMuller((u1 >>> 8) * U24, (u2 >>> 8) * U24);
        if (Math.abs(z) > 2) still.push(i);
        else out[start + i] = mean + stddev * z;
      }
      pending = still;
    }
  });
  return out;
}

/** Keras's _compute_fans: dense kernels [in, out]; conv kernels [...receptive, in, out]. */
export function computeFans(shape: Shape): [number, number] {
  if (shape.length === 2) return [shape[0], shape[1]];
  if (shape.length >= 3) {
    const receptive = size(shape.slice(0, -2));
    return [shape[shape.length - 2] * receptive, shape[shape.length - 1] * receptive];
  }
  const s = Math.sqrt(size(shape));
  return [s, s];
}

function seedOf(config: Record<string, unknown>): number {
  const s = config.seed;
  return typeof s === 'number' ? s >>> 0 : nextSeed();
}

function make(className: string, config: Record<string, unknown>, init: (shape: Shape) => Float32Array): Initializer {
  return { className, config, init };
}

/** An initializer whose values are drawn in chunks (random ones). */
function makeDrawn(className: string, config: Record<string, unknown>, draw: (shape: Shape) => Draw): Initializer {
  return { className, config, init: (shape) => drain(draw(shape)), draw };
}

type Factory = (config: Record<string, unknown>) => Initializer;

function makeVarianceScaling(config: Record<string, unknown>): Initializer {
  const scale = Number(config.scale ?? 1);
  const mode = String(config.mode ?? 'fan_in');
  const distribution = String(config.distribution ?? 'normal');
  if (!(scale > 0)) throw new Error(`VarianceScaling: scale must be positive, got ${scale}`);
  if (!['fan_in', 'fan_out', 'fan_avg'].includes(mode)) throw new Error(`VarianceScaling: unknown mode '${mode}'. Valid modes: fan_in, fan_out, fan_avg`);
  // Keras 2.3 and tf.keras spell Keras 2.2's 'normal' as 'truncated_normal' and add 'untruncated_normal'.
  const distributions = ['normal', 'uniform', 'truncated_normal', 'untruncated_normal'];
  if (!distributions.includes(distribution)) throw new Error(`VarianceScaling: unknown distribution '${distribution}'. Valid distributions: ${distributions.join(', ')}`);
  const seed = seedOf(config);
  return makeDrawn('VarianceScaling', { scale, mode, distribution, seed: config.seed ?? null }, (shape) => {
    const [fanIn, fanOut] = computeFans(shape);
    const fan = mode === 'fan_in' ? fanIn : mode === 'fan_out' ? fanOut : (fanIn + fanOut) / 2;
    const s = scale / Math.max(1, fan);
    if (distribution === 'uniform') {
      const limit = Math.sqrt(3 * s);
      return uniform(seed, size(shape), -limit, limit);
    }
    if (distribution === 'untruncated_normal') return normal(seed, size(shape), 0, Math.sqrt(s), false);
    // The stddev of a unit normal truncated to [-2, 2] is 0.8796...; dividing by it keeps the variance at s (Keras 2.2+).
    return normal(seed, size(shape), 0, Math.sqrt(s) / 0.87962566103423978, true);
  });
}

function makeOrthogonal(config: Record<string, unknown>): Initializer {
  const gain = Number(config.gain ?? 1);
  const seed = seedOf(config);
  return make('Orthogonal', { gain, seed: config.seed ?? null }, (shape) => {
    const rows = size(shape.slice(0, -1));
    const cols = shape[shape.length - 1] ?? 1;
    // Orthonormalize the columns of a tall normal matrix (modified Gram-Schmidt), transposing when wide.
    const [r, c] = rows >= cols ? [rows, cols] : [cols, rows];
    const a = drain(normal(seed, r * c, 0, 1, false));
    const col = (j: number): Float64Array => Float64Array.from({ length: r }, (_, i) => a[i * c + j]);
    const q: Float64Array[] = [];
    for (let j = 0; j < c; j++) {
      const v = col(j);
      for (const u of q) {
        const dot = v.reduce((s, x, i) => s + x * u[i], 0);
        for (let i = 0; i < r; i++) v[i] -= dot * u[i];
      }
      const norm = Math.sqrt(v.reduce((s, x) => s + x * x, 0)) || 1;
      q.push(v.map((x) => x / norm));
    }
    const out = new Float32Array(rows * cols);
    for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) out[i * cols + j] = gain * (rows >= cols ? q[j][i] : q[i][j]);
    return out;
  });
}

const FACTORIES: Readonly<Record<string, Factory>> = {
  Zeros: () => make('Zeros', {}, (shape) => new Float32Array(size(shape))),
  Ones: () => make('Ones', {}, (shape) => new Float32Array(size(shape)).fill(1)),
  Constant: (c) => make('Constant', { value: Number(c.value ?? 0) }, (shape) => new Float32Array(size(shape)).fill(Number(c.value ?? 0))),
  RandomNormal: (c) => {
    const [mean, stddev, seed] = [Number(c.mean ?? 0), Number(c.stddev ?? 0.05), seedOf(c)];
    return makeDrawn('RandomNormal', { mean, stddev, seed: c.seed ?? null }, (shape) => normal(seed, size(shape), mean, stddev, false));
  },
  RandomUniform: (c) => {
    const [minval, maxval, seed] = [Number(c.minval ?? -0.05), Number(c.maxval ?? 0.05), seedOf(c)];
    return makeDrawn('RandomUniform', { minval, maxval, seed: c.seed ?? null }, (shape) => uniform(seed, size(shape), minval, maxval));
  },
  TruncatedNormal: (c) => {
    const [mean, stddev, seed] = [Number(c.mean ?? 0), Number(c.stddev ?? 0.05), seedOf(c)];
    return makeDrawn('TruncatedNormal', { mean, stddev, seed: c.seed ?? null }, (shape) => normal(seed, size(shape), mean, stddev, true));
  },
  VarianceScaling: makeVarianceScaling,
  Orthogonal: makeOrthogonal,
  Identity: (c) => {
    const gain = Number(c.gain ?? 1);
    return make('Identity', { gain }, (shape) => {
      if (shape.length !== 2) throw new Error(`Identity initializer needs a 2-d shape, got [${shape.join(', ')}]`);
      const out = new Float32Array(size(shape));
      for (let i = 0; i < Math.min(shape[0], shape[1]); i++) out[i * shape[1] + i] = gain;
      return out;
    });
  },
  lecun_uniform: (c) => makeVarianceScaling({ scale: 1, mode: 'fan_in', distribution: 'uniform', seed: c.seed }),
  lecun_normal: (c) => makeVarianceScaling({ scale: 1, mode: 'fan_in', distribution: 'normal', seed: c.seed }),
  glorot_uniform: (c) => makeVarianceScaling({ scale: 1, mode: 'fan_avg', distribution: 'uniform', seed: c.seed }),
  glorot_normal: (c) => makeVarianceScaling({ scale: 1, mode: 'fan_avg', distribution: 'normal', seed: c.seed }),
  he_uniform: (c) => makeVarianceScaling({ scale: 2, mode: 'fan_in', distribution: 'uniform', seed: c.seed }),
  he_normal: (c) => makeVarianceScaling({ scale: 2, mode: 'fan_in', distribution: 'normal', seed: c.seed }),
};

/** Keras's snake_case aliases of the class names. */
const ALIASES: Readonly<Record<string, string>> = {
  zeros: 'Zeros', zero: 'Zeros', ones: 'Ones', one: 'Ones', constant: 'Constant', random_normal: 'RandomNormal',
  normal: 'RandomNormal', random_uniform: 'RandomUniform', uniform: 'RandomUniform', truncated_normal: 'TruncatedNormal',
  variance_scaling: 'VarianceScaling', orthogonal: 'Orthogonal', identity: 'Identity',
  lecun_uniform: 'lecun_uniform', lecun_normal: 'lecun_normal', glorot_uniform: 'glorot_uniform',
  glorot_normal: 'glorot_normal', he_uniform: 'he_uniform', he_normal: 'he_normal',
  // Class names that tf.keras and TensorFlow.js write in configs.
  LecunUniform: 'lecun_uniform', LecunNormal: 'lecun_normal', GlorotUniform: 'glorot_uniform',
  GlorotNormal: 'glorot_normal', HeUniform: 'he_uniform', HeNormal: 'he_normal',
};

export type InitializerIdentifier = string | Initializer | { className?: string; class_name?: string; config?: Record<string, unknown> };

/** Resolves a name, a Keras config ({class_name, config}) or an initializer. */
export function getInitializer(id: InitializerIdentifier, defaults: Record<string, unknown> = {}): Initializer {
  if (id !== null && typeof id === 'object' && 'init' in id) return id;
  const name = typeof id === 'string' ? id : id !== null && typeof id === 'object' ? (id.className ?? id.class_name ?? '') : id;
  const config = typeof id === 'string' ? defaults : id !== null && typeof id === 'object' ? { ...(id.config ?? {}) } : {};
  const key = ownEntry(FACTORIES, name) ? (name as string) : ownEntry(ALIASES, name);
  if (key === undefined) {
    const valid = [...new Set([...Object.keys(FACTORIES), ...Object.keys(ALIASES)])].sort();
    throw new Error(`Unknown initializer ${typeof name === 'string' ? `'${name}'` : describeValue(name)}. Valid initializers: ${valid.join(', ')}`);
  }
  return FACTORIES[key](config);
}

/** Keras's `initializers.get`: a name, a {class_name, config} object or an initializer. */
export const get = (id: InitializerIdentifier): Initializer => getInitializer(id);

/** Constructors in Keras style: `initializers.glorotUniform({ seed: 1 })`. */
export const zeros = (): Initializer => getInitializer('Zeros');
export const ones = (): Initializer => getInitializer('Ones');
export const constant = (c: { value?: number } = {}): Initializer => getInitializer({ className: 'Constant', config: c });
export const randomNormal = (c: { mean?: number; stddev?: number; seed?: number } = {}): Initializer => getInitializer({ className: 'RandomNormal', config: c });
export const randomUniform = (c: { minval?: number; maxval?: number; seed?: number } = {}): Initializer => getInitializer({ className: 'RandomUniform', config: c });
export const truncatedNormal = (c: { mean?: number; stddev?: number; seed?: number } = {}): Initializer => getInitializer({ className: 'TruncatedNormal', config: c });
export const varianceScaling = (c: { scale?: number; mode?: string; distribution?: string; seed?: number } = {}): Initializer => getInitializer({ className: 'VarianceScaling', config: c });
export const orthogonal = (c: { gain?: number; seed?: number } = {}): Initializer => getInitializer({ className: 'Orthogonal', config: c });
export const identity = (c: { gain?: number } = {}): Initializer => getInitializer({ className: 'Identity', config: c });
export const lecunUniform = (c: { seed?: number } = {}): Initializer => getInitializer({ className: 'lecun_uniform', config: c });
export const lecunNormal = (c: { seed?: number } = {}): Initializer => getInitializer({ className: 'lecun_normal', config: c });
export const glorotUniform = (c: { seed?: number } = {}): Initializer => getInitializer({ className: 'glorot_uniform', config: c });
export const glorotNormal = (c: { seed?: number } = {}): Initializer => getInitializer({ className: 'glorot_normal', config: c });
export const heUniform = (c: { seed?: number } = {}): Initializer => getInitializer({ className: 'he_uniform', config: c });
export const heNormal = (c: { seed?: number } = {}): Initializer => getInitializer({ className: 'he_normal', config: c });
