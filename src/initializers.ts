/**
 * Keras 2 initializers with seeds. Randomness is counter-based (Philox, as ir/philox.ts; see random.ts):
 * the same seed gives the same weights on every run and every backend.
 * Normals use Box-Muller over two Philox streams; truncated normals redraw
 * (on further streams) values beyond two standard deviations, as Keras does.
 */
import { philoxUniform } from '../ir/philox.js';
import { describeValue, ownEntry } from './validation.js';

export type Shape = readonly number[];

export interface Initializer {
  readonly className: string;
  readonly config: Readonly<Record<string, unknown>>;
  init(shape: Shape): Float32Array;
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

function uniform(seed: number, n: number, lo: number, hi: number): Float32Array {
  return Float32Array.from({ length: n }, (_, i) => lo + (hi - lo) * philoxUniform(seed, 0, i));
}

function normalAt(seed: number, stream: number, i: number): number {
  const u1 = philoxUniform(seed, 2 * stream, i);
  const u2 = philoxUniform(seed, 2 * stream + 1, i);
  return Math.sqrt(-2 * Math.log(1 - u1)) * Math.cos(2 * Math.PI * u2);
}

function normal(seed: number, n: number, mean: number, stddev: number, truncated: boolean): Float32Array {
  return Float32Array.from({ length: n }, (_, i) => {
    let z = normalAt(seed, 0, i);
    for (let stream = 1; truncated && Math.abs(z) > 2; stream++) z = normalAt(seed, stream, i);
    return mean + stddev * z;
  });
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
  return make('VarianceScaling', { scale, mode, distribution, seed: config.seed ?? null }, (shape) => {
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
    const a = normal(seed, r * c, 0, 1, false);
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
    return make('RandomNormal', { mean, stddev, seed: c.seed ?? null }, (shape) => normal(seed, size(shape), mean, stddev, false));
  },
  RandomUniform: (c) => {
    const [minval, maxval, seed] = [Number(c.minval ?? -0.05), Number(c.maxval ?? 0.05), seedOf(c)];
    return make('RandomUniform', { minval, maxval, seed: c.seed ?? null }, (shape) => uniform(seed, size(shape), minval, maxval));
  },
  TruncatedNormal: (c) => {
    const [mean, stddev, seed] = [Number(c.mean ?? 0), Number(c.stddev ?? 0.05), seedOf(c)];
    return make('TruncatedNormal', { mean, stddev, seed: c.seed ?? null }, (shape) => normal(seed, size(shape), mean, stddev, true));
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
  const config = typeof id === 'string' ? defaults : { ...(id.config ?? {}) };
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
