/**
 * Issue 10, item 6: configs are not trusted. Registries answer only their own
 * keys, config values are not coerced, shapes and counts are integers, and
 * nested-array data holds only numbers.
 */
import { describe, expect, it } from 'vitest';
import { activations, initializers, layers, losses, metrics, modelFromJSON, optimizers } from '../../src/index.js';
import { layerFromConfig } from '../../src/layers/index.js';
import { features, issueModel } from './helpers.js';

const PROTOTYPE_NAMES = ['constructor', 'toString', '__proto__', 'hasOwnProperty', 'valueOf', '__defineGetter__'];

/** Runs `f`, which must throw an Error (not a TypeError or RangeError from inside) whose message matches. */
function refused(f: () => unknown, message: RegExp): void {
  let thrown: unknown = null;
  try {
    f();
  } catch (e) {
    thrown = e;
  }
  expect(thrown).toBeInstanceOf(Error);
  expect((thrown as Error).constructor).toBe(Error);
  expect((thrown as Error).message).toMatch(message);
}

describe('item 6: registries answer only their own keys', () => {
  it.each(PROTOTYPE_NAMES)('activation %s is unknown', (name) => {
    refused(() => new layers.Dense(4, { activation: name }), new RegExp(`Unknown activation '${name}'`));
    refused(() => activations.get(name), /Unknown activation/);
  });

  it.each(PROTOTYPE_NAMES)('layer class %s is unknown', (name) => {
    refused(() => layerFromConfig(name, {}), new RegExp(`Unknown layer class '${name}'`));
  });

  it.each(PROTOTYPE_NAMES)('loss, metric, optimizer and initializer %s are unknown', (name) => {
    refused(() => losses.getLoss(name), new RegExp(`Unknown loss '${name}'`));
    refused(() => metrics.getMetric(name, 'mse', [null, 4]), new RegExp(`Unknown metric '${name}'`));
    refused(() => optimizers.getOptimizer(name), /Unknown optimizer/);
    refused(() => initializers.get(name), new RegExp(`Unknown initializer '${name}'`));
    refused(() => new layers.Dense(4, { kernelInitializer: { className: name, config: {} } }), /Unknown initializer/);
  });

  it('compile with a prototype-named loss fails clearly', () => {
    const m = issueModel();
    refused(() => m.compile({ optimizer: 'sgd', loss: 'constructor' }), /Unknown loss 'constructor'/);
  });
});

describe('item 6: config values are checked, not coerced', () => {
  it.each([['8'], [true], [[8]], [2.5], [-20], ['abc'], [NaN], [0]])('Dense units %j is refused from a config', (units) => {
    refused(() => layerFromConfig('Dense', { units }), /Dense: units must be a positive integer/);
  });

  it.each([['8'], [true], [[8]], [2.5], [-20]])('Dense units %j is refused by the constructor', (units) => {
    refused(() => new layers.Dense(units as never), /units must be a positive integer/);
  });

  it.each([['abc'], [[null, -20]], [[null, 2.5]], [[null, '20']], [true]])('batch_input_shape %j is refused', (shape) => {
    refused(() => layerFromConfig('Dense', { units: 4, batchInputShape: shape }), /batchInputShape must be an array of positive integers/);
    const json = JSON.stringify({ class_name: 'Sequential', config: { name: 's', layers: [{ class_name: 'Dense', config: { units: 4, batch_input_shape: shape } }] } });
    refused(() => modelFromJSON(json), /batch_input_shape.*is not an integer|batchInputShape must be an array of positive integers/);
  });

  it.each([[2.5], ['2'], [0], [-1]])('RepeatVector n = %j is refused from a config', (n) => {
    refused(() => layerFromConfig('RepeatVector', { n }), /RepeatVector: n must be a positive integer/);
  });

  it.each([['0.5'], [1], [-0.1], [NaN], [true]])('Dropout rate %j is refused from a config', (rate) => {
    refused(() => layerFromConfig('Dropout', { rate }), /rate must be a finite number in \[0, 1\)/);
  });

  it('a valid config still builds, with its values', () => {
    const d = layerFromConfig('Dense', { units: 3, batchInputShape: [null, 5], name: 'ok_dense' }) as layers.Dense;
    expect(d.units).toBe(3);
    expect(d.batchInputShape).toEqual([null, 5]);
  });
});

describe('item 6: nested-array data holds only numbers', () => {
  it.each([
    ['a string', [[...Array(19).fill(0), 'x']], /x\[0\]\[19\] is "x"; data must hold only numbers/],
    ['undefined', [[...Array(19).fill(0), undefined]], /x\[0\]\[19\] is undefined/],
    ['null', [[null, ...Array(19).fill(0)]], /x\[0\]\[0\] is null/],
    ['an object', [[{}, ...Array(19).fill(0)]], /x\[0\]\[0\] is an object/],
  ])('predict refuses %s inside the data', async (_what, data, message) => {
    const m = issueModel();
    await expect(m.predict(data as never)).rejects.toThrow(message);
  });

  it('fit refuses a string label, and data that is not an array at all', async () => {
    const m = issueModel();
    const y = [[0, 0, 0, '1']];
    await expect(m.fit(features(1), y as never, { verbose: 0 })).rejects.toThrow(/fit: y\[0\]\[3\] is "1"/);
    await expect(m.predict('abc' as never)).rejects.toThrow(/predict: x must be a Tensor, a typed array or nested arrays of numbers, got "abc"/);
    await expect(m.predict(undefined as never)).rejects.toThrow(/predict: x must be .* got undefined/);
  });
});

describe('item 6: constructors check what configs check', () => {
  it.each([[2.5], ['2'], [0], [-1], [true]])('new RepeatVector(%j) is refused', (n) => {
    refused(() => new layers.RepeatVector(n as never), /RepeatVector .*: n must be a positive integer/);
  });

  it.each([['0.5'], [1], [-0.1], [NaN], [true], [[0.5]]])('new Dropout(%j) is refused', (rate) => {
    refused(() => new layers.Dropout(rate as never), /Dropout .*: rate must be in \[0, 1\), got/);
  });

  it.each([['abc'], [[null, -20]], [[null, 2.5]], [[20, '4']]])('inputShape / batchInputShape %j given to a constructor is refused', (shape) => {
    refused(() => new layers.Dense(4, { batchInputShape: shape as never }), /Dense: batchInputShape must be an array of positive integers/);
    refused(() => new layers.Dense(4, { inputShape: shape as never }), /Dense: inputShape must be an array of positive integers/);
  });

  it('batchSize, inputDim, trainable and name are checked too', () => {
    refused(() => new layers.Dense(4, { inputDim: 2.5 }), /Dense: inputDim must be a positive integer, got 2.5/);
    refused(() => new layers.Dense(4, { inputShape: [3], batchSize: 0 }), /batchSize must be a positive integer, got 0/);
    refused(() => new layers.Dense(4, { trainable: 'yes' as never }), /trainable must be true or false, got "yes"/);
    refused(() => new layers.Dense(4, { name: 42 as never }), /Dense: name must be a non-empty string, got 42/);
  });
});

describe('item 6: identifiers of the wrong type', () => {
  it.each([[null], [5], [true], [[1]]])('initializers.get(%j) names the value', (id) => {
    refused(() => initializers.get(id as never), /Unknown initializer/);
  });

  it.each([[5], [true], [{}]])('an optimizer or loss of %j is refused clearly', (id) => {
    refused(() => optimizers.getOptimizer(id as never), /Unknown optimizer/);
    refused(() => losses.getLoss(id as never), /Unknown loss/);
  });
});
