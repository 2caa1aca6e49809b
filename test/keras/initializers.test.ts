/** Keras 2 initializers: scales and statistics, fans, seeds, names and errors. */
import { describe, expect, it } from 'vitest';
import { initializers } from '../../src/index.js';
import { philoxUniform } from '../../ir/philox.js';
import { computeFans } from '../../src/initializers.js';

interface Stats {
  readonly mean: number;
  readonly std: number;
  readonly min: number;
  readonly max: number;
}

function stats(v: Float32Array): Stats {
  let mean = 0;
  for (const x of v) mean += x;
  mean /= v.length;
  let sq = 0;
  let [min, max] = [Infinity, -Infinity];
  for (const x of v) {
    sq += (x - mean) ** 2;
    min = Math.min(min, x);
    max = Math.max(max, x);
  }
  return { mean, std: Math.sqrt(sq / v.length), min, max };
}

const draw = (id: Parameters<typeof initializers.get>[0], shape: number[]): Float32Array => initializers.get(id).init(shape);
/** Standard deviation of a unit normal truncated to [-2, 2]. */
const TRUNCATED_STD = 0.87962566103423978;

describe('initializers', () => {
  it('draw from Philox4x32-10 exactly (checked against a BigInt reference)', () => {
    // Independent reference: 64-bit products in BigInt.
    const mul = (a: number, b: number): [number, number] => {
      const p = BigInt(a >>> 0) * BigInt(b >>> 0);
      return [Number(p >> 32n) >>> 0, Number(p & 0xffffffffn) >>> 0];
    };
    const reference = (seed: number, step: number, index: number): number => {
      let [c0, c1, c2, c3, k0, k1] = [index >>> 0, step >>> 0, 0, 0, seed >>> 0, 0];
      for (let r = 0; r < 10; r++) {
        const [hi0, lo0] = mul(0xd2511f53, c0);
        const [hi1, lo1] = mul(0xcd9e8d57, c2);
        [c0, c1, c2, c3] = [(hi1 ^ c1 ^ k0) >>> 0, lo1, (hi0 ^ c3 ^ k1) >>> 0, lo0];
        k0 = (k0 + 0x9e3779b9) >>> 0;
        k1 = (k1 + 0xbb67ae85) >>> 0;
      }
      return (c0 >>> 8) * 2 ** -24;
    };
    let s = 12345;
    const next = (): number => (s = (Math.imul(s, 1103515245) + 12345) >>> 0);
    for (let i = 0; i < 2000; i++) {
      const [seed, step, index] = [next(), i % 5, next()];
      expect(philoxUniform(seed, step, index)).toBe(reference(seed, step, index));
    }
  });

  it('zeros, ones, constant', () => {
    expect(Array.from(draw('zeros', [2, 2]))).toEqual([0, 0, 0, 0]);
    expect(Array.from(draw('ones', [3]))).toEqual([1, 1, 1]);
    expect(Array.from(draw({ class_name: 'Constant', config: { value: 2.5 } }, [2]))).toEqual([2.5, 2.5]);
    expect(Array.from(initializers.constant({ value: -1 }).init([2]))).toEqual([-1, -1]);
  });

  it('random_normal and random_uniform have the configured moments', () => {
    const n = stats(initializers.randomNormal({ mean: 1, stddev: 2, seed: 3 }).init([200, 200]));
    expect(n.mean).toBeCloseTo(1, 1);
    expect(n.std).toBeCloseTo(2, 1);
    expect(n.max).toBeGreaterThan(1 + 2 * 3.5);
    const u = stats(initializers.randomUniform({ minval: -3, maxval: 1, seed: 3 }).init([200, 200]));
    expect(u.min).toBeGreaterThanOrEqual(-3);
    expect(u.max).toBeLessThan(1);
    expect(u.min).toBeLessThan(-2.99);
    expect(u.max).toBeGreaterThan(0.99);
    expect(u.mean).toBeCloseTo(-1, 1);
    expect(u.std).toBeCloseTo(4 / Math.sqrt(12), 1);
    const d = stats(draw('random_normal', [100, 100]));
    expect(d.std).toBeCloseTo(0.05, 2);
  });

  it('truncated_normal stays within two standard deviations', () => {
    const t = stats(initializers.truncatedNormal({ mean: 0.5, stddev: 0.1, seed: 1 }).init([300, 300]));
    expect(t.min).toBeGreaterThanOrEqual(0.5 - 0.2 - 1e-6);
    expect(t.max).toBeLessThanOrEqual(0.5 + 0.2 + 1e-6);
    expect(t.mean).toBeCloseTo(0.5, 3);
    expect(t.std / 0.1).toBeCloseTo(TRUNCATED_STD, 2);
  });

  it('computes fans as Keras: dense [in, out], conv [...receptive field, in, out]', () => {
    expect(computeFans([3, 5])).toEqual([3, 5]);
    expect(computeFans([3, 3, 4, 8])).toEqual([36, 72]);
    expect(computeFans([5, 2, 7])).toEqual([10, 35]);
  });

  it.each([
    ['fan_in', 200],
    ['fan_out', 500],
    ['fan_avg', 350],
  ])('variance_scaling %s: uniform limit sqrt(3 scale / fan), truncated normal with variance scale / fan', (mode, fan) => {
    const s = 3 / fan;
    const u = stats(draw({ className: 'VarianceScaling', config: { scale: 3, mode, distribution: 'uniform', seed: 5 } }, [200, 500]));
    expect(u.max).toBeLessThanOrEqual(Math.sqrt(3 * s));
    expect(u.max).toBeGreaterThan(0.99 * Math.sqrt(3 * s));
    expect(u.std).toBeCloseTo(Math.sqrt(s), 3);
    const n = stats(draw({ className: 'VarianceScaling', config: { scale: 3, mode, distribution: 'normal', seed: 5 } }, [200, 500]));
    expect(n.std / Math.sqrt(s)).toBeCloseTo(1, 2);
    expect(n.max).toBeLessThanOrEqual((2 * Math.sqrt(s)) / TRUNCATED_STD + 1e-6);
    const plain = stats(draw({ className: 'VarianceScaling', config: { scale: 3, mode, distribution: 'untruncated_normal', seed: 5 } }, [200, 500]));
    expect(plain.std / Math.sqrt(s)).toBeCloseTo(1, 2);
    expect(plain.max).toBeGreaterThan((2 * Math.sqrt(s)) / TRUNCATED_STD);
  });

  it.each([
    ['lecun_uniform', 1, 'fan_in'], ['glorot_uniform', 1, 'fan_avg'], ['he_uniform', 2, 'fan_in'],
    ['lecun_normal', 1, 'fan_in'], ['glorot_normal', 1, 'fan_avg'], ['he_normal', 2, 'fan_in'],
  ] as const)('%s is variance scaling with scale %d over %s', (name, scale, mode) => {
    const [fanIn, fanOut] = [300, 500];
    const fan = mode === 'fan_in' ? fanIn : (fanIn + fanOut) / 2;
    const init = initializers.get(name);
    expect(init.className).toBe('VarianceScaling');
    expect(init.config).toMatchObject({ scale, mode, distribution: name.endsWith('uniform') ? 'uniform' : 'normal' });
    const v = stats(init.init([fanIn, fanOut]));
    expect(v.std / Math.sqrt(scale / fan)).toBeCloseTo(1, 1);
    expect(Math.abs(v.mean)).toBeLessThan(0.002);
    if (name.endsWith('uniform')) expect(v.max).toBeLessThanOrEqual(Math.sqrt((3 * scale) / fan));
  });

  it('orthogonal gives orthonormal columns (tall) or rows (wide), times gain', () => {
    const check = (q: Float32Array, rows: number, cols: number, gain: number): void => {
      const [r, c, at] = rows >= cols ? [rows, cols, (i: number, j: number) => q[i * cols + j]] : [cols, rows, (i: number, j: number) => q[j * cols + i]];
      for (let a = 0; a < c; a++) for (let b = 0; b < c; b++) {
        let dot = 0;
        for (let i = 0; i < r; i++) dot += at(i, a) * at(i, b);
        expect(dot).toBeCloseTo(a === b ? gain * gain : 0, 4);
      }
    };
    check(initializers.orthogonal({ seed: 1 }).init([7, 3]), 7, 3, 1);
    check(initializers.orthogonal({ seed: 1, gain: 2 }).init([3, 7]), 3, 7, 2);
    check(initializers.orthogonal({ seed: 2 }).init([5, 5]), 5, 5, 1);
    // Conv kernels: rows = product of all but the last dimension.
    check(initializers.orthogonal({ seed: 2 }).init([2, 2, 3, 4]), 12, 4, 1);
  });

  it('identity (with gain) writes the diagonal', () => {
    expect(Array.from(initializers.identity({ gain: 3 }).init([2, 2]))).toEqual([3, 0, 0, 3]);
    expect(Array.from(draw('identity', [3, 2]))).toEqual([1, 0, 0, 1, 0, 0]);
    expect(() => draw('identity', [2, 2, 2])).toThrow('Identity initializer needs a 2-d shape, got [2, 2, 2]');
  });

  it('a seed reproduces the values; different seeds or no seed differ', () => {
    for (const name of ['RandomNormal', 'RandomUniform', 'TruncatedNormal', 'VarianceScaling', 'Orthogonal', 'glorot_uniform', 'he_normal', 'lecun_normal']) {
      const a = draw({ className: name, config: { seed: 42 } }, [8, 6]);
      const b = draw({ className: name, config: { seed: 42 } }, [8, 6]);
      const c = draw({ className: name, config: { seed: 43 } }, [8, 6]);
      expect(Array.from(a), name).toEqual(Array.from(b));
      expect(Array.from(a), name).not.toEqual(Array.from(c));
    }
    expect(Array.from(draw('glorot_uniform', [4, 4]))).not.toEqual(Array.from(draw('glorot_uniform', [4, 4])));
  });

  it('accepts Keras class names, snake_case aliases and tf.keras class names', () => {
    const cases: [string, string][] = [
      ['zeros', 'Zeros'], ['zero', 'Zeros'], ['Ones', 'Ones'], ['one', 'Ones'], ['normal', 'RandomNormal'], ['uniform', 'RandomUniform'],
      ['random_normal', 'RandomNormal'], ['random_uniform', 'RandomUniform'], ['truncated_normal', 'TruncatedNormal'],
      ['variance_scaling', 'VarianceScaling'], ['orthogonal', 'Orthogonal'], ['identity', 'Identity'], ['GlorotUniform', 'VarianceScaling'],
      ['HeNormal', 'VarianceScaling'], ['LecunUniform', 'VarianceScaling'],
    ];
    for (const [name, className] of cases) expect(initializers.get(name).className, name).toBe(className);
    expect(initializers.get({ class_name: 'GlorotNormal', config: { seed: null } }).config).toMatchObject({ scale: 1, mode: 'fan_avg', distribution: 'normal' });
  });

  it('unknown names and bad arguments say what was given and what is valid', () => {
    expect(() => initializers.get('xavier')).toThrow(/^Unknown initializer 'xavier'. Valid initializers: .*Constant, .*glorot_uniform, .*zeros$/);
    expect(() => initializers.varianceScaling({ mode: 'fan_mid' })).toThrow("VarianceScaling: unknown mode 'fan_mid'. Valid modes: fan_in, fan_out, fan_avg");
    expect(() => initializers.varianceScaling({ distribution: 'cauchy' })).toThrow("VarianceScaling: unknown distribution 'cauchy'. Valid distributions: normal, uniform, truncated_normal, untruncated_normal");
    expect(() => initializers.varianceScaling({ scale: 0 })).toThrow('VarianceScaling: scale must be positive, got 0');
  });
});
