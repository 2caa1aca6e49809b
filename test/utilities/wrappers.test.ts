/** KerasClassifier / KerasRegressor (Keras 2's scikit-learn wrappers) and the GridSearchCV-style helper. */
import { describe, expect, it } from 'vitest';
import { Sequential, Tensor, layers, optimizers, setBackend, tensor } from '../../src/index.js';
import { NumpyRandomState } from '../../src/datasets/numpy_random.js';
import { GridSearchCV, KerasClassifier, KerasRegressor, type Params, kFold, parameterGrid } from '../../src/wrappers/index.js';
import { TEST_BACKEND } from '../helpers/backend.js';

setBackend(TEST_BACKEND);

const r = new NumpyRandomState(1);
const CENTRES = [[0, 0], [4, 4], [0, 4]];
const LABELS = [10, 20, 30];
const X = tensor(Array.from({ length: 60 }, (_, i) => CENTRES[i % 3].map((c) => c + r.uniform(-1, 1))));
const Y = tensor(Array.from({ length: 60 }, (_, i) => LABELS[i % 3]));

describe('KerasClassifier', () => {
  it('maps any label values to classes, one-hot for a softmax model; predict, predictProba, score', async () => {
    const seen: Params[] = [];
    const build = (p: Params): Sequential => {
      seen.push(p);
      const m = new Sequential([new layers.Dense(p.hidden as number, { inputShape: [2], activation: 'relu' }), new layers.Dense(3, { activation: 'softmax' })]);
      m.compile({ optimizer: new optimizers.Adam({ lr: 0.05 }), loss: 'categorical_crossentropy', metrics: ['accuracy'] });
      return m;
    };
    const clf = new KerasClassifier(build, { hidden: 16, epochs: 40, batchSize: 20, verbose: 0 });
    const h = await clf.fit(X, Y);
    expect(seen).toEqual([{ hidden: 16 }]);
    expect(h.history.loss.length).toBe(40);
    expect(clf.classes).toEqual([10, 20, 30]);
    expect(clf.nClasses).toBe(3);
    const pred = await clf.predict(X);
    expect(new Set(pred.data)).toEqual(new Set([10, 20, 30]));
    const proba = await clf.predictProba(X);
    expect(proba.shape).toEqual([60, 3]);
    for (let i = 0; i < 60; i++) expect(proba.data[i * 3] + proba.data[i * 3 + 1] + proba.data[i * 3 + 2]).toBeCloseTo(1, 5);
    const score = await clf.score(X, Y);
    expect(score).toBeGreaterThan(0.9);
    const agree = Array.from(pred.data).filter((v, i) => v === Y.data[i]).length / 60;
    expect(score).toBeCloseTo(agree, 5);
    expect((await clf.fit(X, Y, { epochs: 2 })).history.loss.length).toBe(2);
    expect(clf.getParams()).toEqual({ hidden: 16, epochs: 40, batchSize: 20, verbose: 0, buildFn: build });
    clf.setParams({ hidden: 4 });
    await clf.fit(X, Y, { epochs: 1 });
    expect(seen.at(-1)).toEqual({ hidden: 4 });
    await expect(clf.score(X, tensor([99, ...Array.from(Y.data).slice(1)]))).rejects.toThrow(/label 99 at 0 was not seen by fit \(classes: 10, 20, 30\)/);
  });

  it('a single sigmoid unit: probabilities as two columns; score needs the accuracy metric', async () => {
    const yb = tensor(Array.from({ length: 60 }, (_, i) => (i % 3 === 1 ? 1 : 0)));
    const clf = new KerasClassifier(() => {
      const m = new Sequential([new layers.Dense(1, { inputShape: [2], activation: 'sigmoid' })]);
      m.compile({ optimizer: 'sgd', loss: 'binary_crossentropy' });
      return m;
    }, { epochs: 1, verbose: 0 });
    await clf.fit(X, yb);
    const p = await clf.predictProba(X);
    expect(p.shape).toEqual([60, 2]);
    expect(p.data[0] + p.data[1]).toBeCloseTo(1, 6);
    await expect(clf.score(X, yb)).rejects.toThrow(/not configured to compute accuracy; pass metrics: \['accuracy'\]/);
    await expect(new KerasClassifier(() => null as never).predict(X)).rejects.toThrow(/KerasClassifier\.predictProba: call fit\(\) first/);
    expect(() => new KerasClassifier('model' as never)).toThrow(/buildFn must be a function/);
  });
});

const XR = tensor(Array.from({ length: 30 }, (_, i) => [i / 30]));
const YR = tensor(Array.from({ length: 30 }, (_, i) => [2 * (i / 30) + 1]));
const linear = (p: Params): Sequential => {
  const m = new Sequential([new layers.Dense(1, { inputShape: [1] })]);
  m.compile({ optimizer: new optimizers.SGD({ lr: (p.lr as number) ?? 0.1 }), loss: 'mse' });
  return m;
};

describe('KerasRegressor and GridSearchCV', () => {
  it('predict squeezes, score is minus the loss', async () => {
    const reg = new KerasRegressor(linear, { lr: 0.3, epochs: 150, batchSize: 10, verbose: 0 });
    await reg.fit(XR, YR);
    const p = await reg.predict(XR);
    expect(p.shape).toEqual([30]);
    expect(p.data[15]).toBeCloseTo(2, 1);
    const score = await reg.score(XR, YR);
    expect(score).toBeLessThanOrEqual(0);
    expect(score).toBeGreaterThan(-0.01);
  });

  it('kFold and parameterGrid follow scikit-learn', () => {
    expect(kFold(10, 3).map(([, test]) => test)).toEqual([[0, 1, 2, 3], [4, 5, 6], [7, 8, 9]]);
    expect(kFold(10, 3)[1][0]).toEqual([0, 1, 2, 3, 7, 8, 9]);
    const shuffled = kFold(10, 5, { shuffle: true, seed: 0 }).flatMap(([, t]) => t);
    expect([...shuffled].sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(shuffled).toEqual(new NumpyRandomState(0).permutation(10));
    expect(parameterGrid({ lr: [0.1, 0.2], epochs: [1, 2] })).toEqual([{ epochs: 1, lr: 0.1 }, { epochs: 1, lr: 0.2 }, { epochs: 2, lr: 0.1 }, { epochs: 2, lr: 0.2 }]);
    expect(() => kFold(3, 1)).toThrow(/at least 2/);
    expect(() => parameterGrid({ lr: [] })).toThrow(/'lr' must list at least one value/);
  });

  it('GridSearchCV scores every combination by k-fold and refits the best', async () => {
    const search = new GridSearchCV(new KerasRegressor(linear, { batchSize: 10, verbose: 0, lr: 0.3 }), { epochs: [1, 60] }, { cv: 3, shuffle: true, seed: 2 });
    await search.fit(XR, YR);
    expect(search.cvResults.map((c) => c.params)).toEqual([{ epochs: 1 }, { epochs: 60 }]);
    search.cvResults.forEach((c) => expect(c.splitScores.length).toBe(3));
    expect(search.bestParams).toEqual({ epochs: 60 });
    expect(search.cvResults.map((c) => c.rankTestScore)).toEqual([2, 1]);
    expect(search.bestScore).toBe(search.cvResults[1].meanTestScore);
    expect(search.bestScore).toBeGreaterThan(search.cvResults[0].meanTestScore);
    expect(((await (search.bestEstimator as KerasRegressor).predict(XR)) as Tensor).shape).toEqual([30]);
  });
});
