/**
 * Issue 10, item 3: weight initialization in bulk gives the values that
 * element-by-element Philox gave (the same counter-based generator), across
 * the native threshold and the chunk boundary; and large layers build with
 * the event loop turning (initializeAsync yields between chunks).
 */
import { describe, expect, it } from 'vitest';
import { philoxUniform } from '../../ir/philox.js';
import { initializers } from '../../src/index.js';

/** The reference: the code before the bulk path, one philoxUniform call per element. */
function referenceNormal(seed: number, n: number, mean: number, stddev: number, truncated: boolean, from = 0): Float32Array {
  const at = (stream: number, i: number): number => Math.sqrt(-2 * Math.log(1 - philoxUniform(seed, 2 * stream, i))) * Math.cos(2 * Math.PI * philoxUniform(seed, 2 * stream + 1, i));
  return Float32Array.from({ length: n }, (_, k) => {
    let z = at(0, from + k);
    for (let s = 1; truncated && Math.abs(z) > 2; s++) z = at(s, from + k);
    return mean + stddev * z;
  });
}

function referenceUniform(seed: number, n: number, lo: number, hi: number, from = 0): Float32Array {
  return Float32Array.from({ length: n }, (_, k) => lo + (hi - lo) * philoxUniform(seed, 0, from + k));
}

describe('item 3: bulk initialization keeps every value', () => {
  it.each([[1], [1000], [70_000]])('Philox words for %i elements match philoxUniform, natively and in JavaScript', async (n) => {
    const { philoxWords, philoxWordsJs } = await import('../../runtime/cpu/philox_words.js');
    const native = new Uint32Array(n);
    const js = new Uint32Array(n);
    philoxWords(77, 3, 4_294_960_000, n, native);
    philoxWordsJs(77, 3, 4_294_960_000, n, js);
    for (let i = 0; i < n; i += Math.max(1, Math.floor(n / 500))) expect((native[i] >>> 8) * 2 ** -24).toBe(philoxUniform(77, 3, 4_294_960_000 + i));
    expect(Array.from(js)).toEqual(Array.from(native));
  });

  it('RandomUniform over a chunk boundary equals the element-by-element values', () => {
    const shape = [1030, 1024];
    const got = initializers.randomUniform({ minval: -0.3, maxval: 0.7, seed: 11 }).init(shape);
    const n = got.length;
    // Both sides of the 2^20 chunk boundary, and the ends.
    for (const from of [0, (1 << 20) - 500, n - 500]) expect(Array.from(got.subarray(from, from + 500))).toEqual(Array.from(referenceUniform(11, 500, -0.3, 0.7, from)));
  });

  it.each([
    ['RandomNormal', false],
    ['TruncatedNormal', true],
  ])('%s over the native threshold equals the element-by-element values', (className, truncated) => {
    const got = initializers.get({ className, config: { mean: 0.5, stddev: 2, seed: 5 } }).init([300, 300]);
    expect(Array.from(got)).toEqual(Array.from(referenceNormal(5, 90_000, 0.5, 2, truncated as boolean)));
  });

  it('glorot_normal (truncated, scaled) equals the element-by-element values', () => {
    const got = initializers.glorotNormal({ seed: 9 }).init([400, 200]);
    const sd = Math.sqrt(1 / 300) / 0.87962566103423978;
    expect(Array.from(got)).toEqual(Array.from(referenceNormal(9, 80_000, 0, sd, true)));
  });
});

describe('item 3: large initializations leave the event loop turning', () => {
  it('initializeAsync of 6M elements lets timers run between chunks, with the same values as init', async () => {
    const { initializeAsync } = await import('../../src/initializers.js');
    const init = initializers.glorotUniform({ seed: 3 });
    let ticks = 0;
    const timer = setInterval(() => ticks++, 1);
    const value = await initializeAsync(init, [3072, 2048]);
    clearInterval(timer);
    // Six chunks of 2^20 elements: the timer runs between them (init() alone would let it run 0 times).
    expect(ticks).toBeGreaterThanOrEqual(3);
    const sync = init.init([3072, 2048]);
    let differing = 0;
    for (let i = 0; i < sync.length; i++) if (sync[i] !== value[i]) differing++;
    expect(value.length).toBe(sync.length);
    expect(differing).toBe(0);
  });
});

describe('item 3: a large layer builds at once and draws its weights off the event loop', () => {
  it('Dense(2048) on 2048 inputs: construction draws nothing, the first predict draws with timers running, the values are init()s', async () => {
    const { Sequential, layers, tensor } = await import('../../src/index.js');
    const init = { className: 'RandomUniform', config: { minval: -0.1, maxval: 0.1, seed: 21 } };
    const real = initializers.get(init);
    const calls = { init: 0, draw: 0 };
    const counted = { ...real, init: (shape: readonly number[]) => (calls.init++, real.init(shape)), draw: (shape: readonly number[]) => (calls.draw++, real.draw!(shape)) };
    const m = new Sequential([new layers.Dense(2048, { inputShape: [2048], kernelInitializer: counted, name: 'wide' })]);
    m.compile({ optimizer: 'sgd', loss: 'mse', backend: 'interpreter' });
    expect(m.countParams()).toBe(2048 * 2048 + 2048);
    expect(calls).toEqual({ init: 0, draw: 0 });
    let ticks = 0;
    const timer = setInterval(() => ticks++, 1);
    await m.predict(tensor(new Float32Array(2048), [1, 2048]));
    clearInterval(timer);
    expect(ticks).toBeGreaterThanOrEqual(2);
    expect(calls).toEqual({ init: 0, draw: 1 });
    const kernel = m.getWeights()[0].data;
    const want = initializers.get(init).init([2048, 2048]);
    let differing = 0;
    for (let i = 0; i < want.length; i++) if (kernel[i] !== want[i]) differing++;
    expect(differing).toBe(0);
  });

  it('a synchronous read before any predict draws the same values on the spot', async () => {
    const { layers, Sequential } = await import('../../src/index.js');
    const init = { className: 'TruncatedNormal', config: { stddev: 0.2, seed: 4 } };
    const d = new layers.Dense(1500, { inputShape: [1500], kernelInitializer: init });
    new Sequential([d]);
    const kernel = d.getWeights()[0].data;
    const want = initializers.get(init).init([1500, 1500]);
    let differing = 0;
    for (let i = 0; i < want.length; i++) if (kernel[i] !== want[i]) differing++;
    expect(differing).toBe(0);
  });
});
