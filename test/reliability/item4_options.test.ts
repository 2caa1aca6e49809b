/**
 * Issue 10, item 4: fit/evaluate/predict options and data are validated before
 * any compile or weight change, with messages that name the option and value.
 */
import { describe, expect, it } from 'vitest';
import { tensor } from '../../src/index.js';
import { features, issueModel, oneHotTargets, snapshot } from './helpers.js';

const x = features(16);
const y = oneHotTargets(16);

describe('item 4: fit options', () => {
  it.each([
    ['batchSize', 0, /fit: batchSize must be a positive integer, got 0/],
    ['batchSize', -1, /batchSize must be a positive integer, got -1/],
    ['batchSize', 1.5, /batchSize must be a positive integer, got 1.5/],
    ['batchSize', NaN, /batchSize must be a positive integer, got NaN/],
    ['batchSize', '8', /batchSize must be a positive integer, got "8"/],
    ['epochs', NaN, /epochs must be a non-negative integer, got NaN/],
    ['epochs', -2, /epochs must be a non-negative integer/],
    ['epochs', 2.5, /epochs must be a non-negative integer/],
    ['verbose', 7, /verbose must be an integer in \[0, 2\], got 7/],
    ['validationSplit', 1, /validationSplit must be a finite number in \[0, 1\)/],
    ['validationSplit', -0.1, /validationSplit must be a finite number in \[0, 1\)/],
    ['validationSplit', NaN, /validationSplit must be a finite number/],
    ['stepsPerEpoch', 0, /stepsPerEpoch must be a positive integer/],
    ['initialEpoch', -1, /initialEpoch must be a non-negative integer/],
    ['shuffle', 'yes', /shuffle must be true, false or 'batch'/],
    ['callbacks', [{}], /callbacks\[0\] must be a Callback/],
    ['classWeight', { 0: 'x' }, /classWeight\[0\] must be a finite number/],
  ])('%s = %s is refused before any weight changes', async (key, value, message) => {
    const m = issueModel();
    const before = snapshot(m);
    await expect(m.fit(x, y, { verbose: 0, [key]: value } as never)).rejects.toThrow(message);
    expect(snapshot(m)).toEqual(before);
    expect(m.trainCompileStats).toBeNull();
  });

  it('a validationSplit that leaves no training samples is refused', async () => {
    const m = issueModel();
    await expect(m.fit(features(1), oneHotTargets(1), { validationSplit: 0.5, verbose: 0 })).rejects.toThrow(/leaves 0 for training and 1 for validation/);
  });

  it('validationData of the wrong shape is refused before the first epoch changes the weights', async () => {
    const m = issueModel();
    const before = snapshot(m);
    await expect(m.fit(x, y, { epochs: 1, verbose: 0, validationData: [features(8, 19), oneHotTargets(8)] })).rejects.toThrow(/fit \(validationData\)|expected input to have shape \(None, 20\)/);
    expect(snapshot(m)).toEqual(before);
  });

  it('an input of shape [64, 4, 5] is refused for (None, 20), naming both shapes', async () => {
    const m = issueModel();
    const bad = tensor(new Float32Array(64 * 20), [64, 4, 5]);
    await expect(m.fit(bad, oneHotTargets(64), { verbose: 0 })).rejects.toThrow(/expected input to have 2 dimensions \(shape \(None, 20\)\), but got array with shape \(64, 4, 5\)/);
    await expect(m.predict(bad)).rejects.toThrow(/shape \(64, 4, 5\)/);
  });

  it('a wrong feature count is refused before compiling', async () => {
    const m = issueModel('categorical_crossentropy', 'cpu');
    const t0 = performance.now();
    await expect(m.fit(features(8, 19), oneHotTargets(8), { verbose: 0 })).rejects.toThrow(/expected input to have shape \(None, 20\) but got array with shape \(8, 19\)/);
    expect(m.trainCompileStats).toBeNull();
    expect(performance.now() - t0).toBeLessThan(1000);
  });
});

describe('item 4: evaluate and predict options', () => {
  it('evaluate with batchSize 2.5 names the option', async () => {
    const m = issueModel();
    await expect(m.evaluate(x, y, { batchSize: 2.5 })).rejects.toThrow(/evaluate: batchSize must be a positive integer, got 2.5/);
  });

  it('evaluate on 0 samples is an error, not [NaN, NaN]', async () => {
    const m = issueModel();
    await expect(m.evaluate(tensor(new Float32Array(0), [0, 20]), tensor(new Float32Array(0), [0, 4]))).rejects.toThrow(/0 samples/);
  });

  it.each([[0], [-3], [1.5], ['32']])('predict with batchSize %s is refused', async (batchSize) => {
    const m = issueModel();
    await expect(m.predict(x, { batchSize } as never)).rejects.toThrow(/predict: batchSize must be a positive integer/);
  });

  it('options that are not an object are refused', async () => {
    const m = issueModel();
    await expect(m.predict(x, 5 as never)).rejects.toThrow(/predict: options must be an object, got 5/);
    await expect(m.fit(x, y, 'fast' as never)).rejects.toThrow(/fit: options must be an object, got "fast"/);
  });

  it('generator steps are checked before the source is read', async () => {
    const m = issueModel();
    let pulled = 0;
    const source = { *[Symbol.iterator]() { pulled++; yield [x, y] as const; } };
    await expect(m.fitGenerator(source, { stepsPerEpoch: 0 })).rejects.toThrow(/fitGenerator: stepsPerEpoch must be a positive integer, got 0/);
    await expect(m.evaluateGenerator(source, { steps: 1.5 })).rejects.toThrow(/evaluateGenerator: steps must be a positive integer, got 1.5/);
    await expect(m.predictGenerator(source, { steps: -1 })).rejects.toThrow(/predictGenerator: steps must be a positive integer/);
    expect(pulled).toBe(0);
  });

  it('valid options still train and evaluate', async () => {
    const m = issueModel();
    const before = snapshot(m);
    const h = await m.fit(x, y, { batchSize: 4, epochs: 2, verbose: 0, validationSplit: 0.25 });
    expect(h.history.loss).toHaveLength(2);
    expect(h.history.val_loss).toHaveLength(2);
    expect(snapshot(m)).not.toEqual(before);
    const [loss] = (await m.evaluate(x, y, { batchSize: 5 })) as number[];
    expect(Number.isFinite(loss)).toBe(true);
  });
});
