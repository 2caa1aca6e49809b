/**
 * Issue 10, property test (bounded): random layer configs with random, wrong
 * and hostile values, and random bad option objects for compile, fit,
 * evaluate and predict. Every case either works or throws a plain Error with
 * a message before any weight changes; never a TypeError or RangeError from
 * an internal, never a hang (each case runs under the test timeout, and the
 * whole set in a few seconds on the interpreter backend).
 */
import { describe, expect, it } from 'vitest';
import { Sequential, layers, tensor } from '../../src/index.js';
import { LAYER_CLASSES, layerFromConfig } from '../../src/layers/index.js';
import { makeRandom } from '../../src/training/data.js';
import { features, issueModel, oneHotTargets, snapshot } from './helpers.js';

const HOSTILE: readonly unknown[] = [
  -1, -20, 0, 0.5, 2.5, 1e12, 2 ** 53, NaN, Infinity, -Infinity, '8', 'abc', '', true, false, null, undefined, [], [8], [null, -3], [2.5],
  {}, { valueOf: () => 3 }, '__proto__', 'constructor', 'toString', 'hasOwnProperty', () => 1, Symbol.iterator.toString(),
];

const VALID: Readonly<Record<string, readonly unknown[]>> = {
  units: [1, 3, 8],
  rate: [0, 0.25, 0.5],
  stddev: [0, 0.1],
  n: [1, 3],
  activation: ['relu', 'softmax', 'linear', null],
  targetShape: [[6], [2, 3], [-1, 2]],
  dims: [[1]],
  alpha: [0.1, 0.3],
  theta: [1],
  maxValue: [null, 6],
  axis: [-1, 1],
  l1: [0, 0.01],
  l2: [0, 0.01],
  useBias: [true, false],
  kernelInitializer: ['zeros', 'glorot_uniform', { className: 'RandomUniform', config: { seed: 1 } }],
  batchInputShape: [[null, 6]],
  name: [undefined],
};

function pick<T>(random: () => number, from: readonly T[]): T {
  return from[Math.floor(random() * from.length)];
}

/** A config for `cls`: each known key valid, hostile or absent; sometimes a prototype-named or unknown key too. */
function randomConfig(random: () => number): Record<string, unknown> {
  const config: Record<string, unknown> = {};
  for (const [key, valid] of Object.entries(VALID)) {
    const r = random();
    if (r < 0.45) config[key] = pick(random, valid);
    else if (r < 0.65) config[key] = pick(random, HOSTILE);
  }
  if (random() < 0.1) config[pick(random, ['__proto__', 'constructor', 'toString'])] = pick(random, HOSTILE);
  return config;
}

const INTERNAL = /Cannot read properties|is not a function|is not iterable|Invalid typed array length|undefined \(reading|Maximum call stack/;

/** Runs `f`; a throw must be a plain Error whose message names something (not an internal TypeError/RangeError); others go to `bad`. */
async function worksOrRefuses(what: string, f: () => unknown, bad: string[]): Promise<'worked' | 'refused'> {
  try {
    await f();
    return 'worked';
  } catch (e) {
    const ok = e instanceof Error && e.constructor === Error && e.message.length > 10 && !INTERNAL.test(e.message);
    if (!ok) bad.push(`${what}: ${e instanceof Error ? `${e.constructor.name}: ${e.message}` : String(e)}`);
    return 'refused';
  }
}

const describeCase = (cls: string, c: Record<string, unknown>): string => `${cls} ${JSON.stringify(c, (_k, v) => (typeof v === 'function' ? 'fn' : v === undefined ? 'undefined' : typeof v === 'number' && !Number.isFinite(v) ? String(v) : v))}`;

describe('property: hostile layer configs', () => {
  it('300 random configs over every registered layer class work or are refused clearly', async () => {
    const random = makeRandom(20261202);
    const classes = Object.keys(LAYER_CLASSES).filter((c) => c !== 'InputLayer');
    const outcomes = { worked: 0, refused: 0 };
    const bad: string[] = [];
    for (let i = 0; i < 300; i++) {
      const cls = pick(random, classes);
      const config = randomConfig(random);
      const what = describeCase(cls, config);
      let layer: layers.Layer | null = null;
      const made = await worksOrRefuses(what, () => {
        layer = layerFromConfig(cls, config);
      }, bad);
      outcomes[made]++;
      if (made === 'worked' && layer) {
        // Applied to a model input: shape checks or a working model, never an internal error.
        await worksOrRefuses(`${what} in a model`, async () => {
          const m = new Sequential([new layers.InputLayer({ batchInputShape: [null, 6] }), layer!]);
          m.compile({ optimizer: 'sgd', loss: 'mse', backend: 'interpreter' });
          await m.predict(tensor(new Float32Array(12), [2, 6]));
        }, bad);
      }
    }
    expect(bad).toEqual([]);
    // The generator exercises both sides (most classes need keys it draws only sometimes, so fewer work).
    expect(outcomes.worked).toBeGreaterThan(5);
    expect(outcomes.refused).toBeGreaterThan(20);
  });
});

describe('property: hostile option objects', () => {
  const KEYS: Readonly<Record<string, readonly string[]>> = {
    fit: ['batchSize', 'epochs', 'verbose', 'validationSplit', 'shuffle', 'initialEpoch', 'stepsPerEpoch', 'validationSteps', 'callbacks', 'classWeight', 'validationData'],
    evaluate: ['batchSize', 'verbose'],
    predict: ['batchSize', 'verbose'],
    compile: ['optimizer', 'loss', 'metrics', 'lossWeights', 'sampleWeightMode'],
  };
  const GOOD: Readonly<Record<string, readonly unknown[]>> = {
    batchSize: [4, 16], epochs: [1], verbose: [0], validationSplit: [0.25], shuffle: [true, false, 'batch'], initialEpoch: [0], stepsPerEpoch: [2], validationSteps: [1],
    callbacks: [[]], classWeight: [{ 0: 1, 1: 2 }], validationData: [[features(4), oneHotTargets(4)]],
    optimizer: ['sgd', 'adam'], loss: ['mse', 'categorical_crossentropy'], metrics: [['accuracy'], []], lossWeights: [1], sampleWeightMode: [null],
  };

  it('200 random option objects for compile/fit/evaluate/predict work or are refused before any weight changes', async () => {
    const random = makeRandom(7);
    const x = features(8);
    const y = oneHotTargets(8);
    const outcomes = { worked: 0, refused: 0 };
    const bad: string[] = [];
    for (let i = 0; i < 200; i++) {
      const method = pick(random, Object.keys(KEYS));
      const options: Record<string, unknown> = {};
      for (const key of KEYS[method]) {
        const r = random();
        if (r < 0.4) options[key] = pick(random, GOOD[key]);
        else if (r < 0.6) options[key] = pick(random, HOSTILE);
      }
      if (method === 'fit') options.epochs = typeof options.epochs === 'number' && options.epochs > 2 ? 1 : options.epochs;
      if (method === 'compile') options.optimizer ??= 'sgd';
      if (method === 'compile') options.loss ??= 'mse';
      const m = issueModel();
      const before = snapshot(m);
      const what = `${method} ${describeCase('', options)}`;
      const outcome = await worksOrRefuses(what, async () => {
        if (method === 'compile') m.compile({ ...options, backend: 'interpreter' } as never);
        else if (method === 'fit') await m.fit(x, y, { verbose: 0, ...options } as never);
        else if (method === 'evaluate') await m.evaluate(x, y, options as never);
        else await m.predict(x, options as never);
      }, bad);
      outcomes[outcome]++;
      if (outcome === 'refused') expect(snapshot(m), `${what} changed the weights before refusing`).toEqual(before);
    }
    expect(bad).toEqual([]);
    expect(outcomes.worked).toBeGreaterThan(10);
    expect(outcomes.refused).toBeGreaterThan(10);
  });
});
