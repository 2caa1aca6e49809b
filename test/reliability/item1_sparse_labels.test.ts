/** Issue 10, item 1: out-of-range sparse labels are refused, naming the first bad label, before any weight changes. */
import { describe, expect, it } from 'vitest';
import { features, issueModel, snapshot, sparseTargets } from './helpers.js';

describe('item 1: sparse labels range-checked', () => {
  it.each([[7], [-1], [1e9], [2.5], [NaN]])('label %s among 4 classes is refused by fit, naming it', async (bad) => {
    const m = issueModel('sparse_categorical_crossentropy');
    const before = snapshot(m);
    const labels = [0, 1, 2, 3, 1, bad, 2, 0];
    await expect(m.fit(features(8), sparseTargets(labels), { verbose: 0, batchSize: 4 })).rejects.toThrow(new RegExp(`label ${bad} at sample 5; labels must be integers in \\[0, 4\\)`));
    expect(snapshot(m)).toEqual(before);
  });

  it('evaluate, trainOnBatch and validationData refuse them too', async () => {
    const m = issueModel('sparse_categorical_crossentropy');
    const before = snapshot(m);
    await expect(m.evaluate(features(4), sparseTargets([0, 4, 1, 1]))).rejects.toThrow(/evaluate: .*label 4 at sample 1/);
    await expect(m.trainOnBatch(features(4), sparseTargets([0, 1, -1, 1]))).rejects.toThrow(/trainOnBatch: .*label -1 at sample 2/);
    await expect(m.fit(features(4), sparseTargets([0, 1, 2, 3]), { verbose: 0, validationData: [features(2), sparseTargets([3, 9])] })).rejects.toThrow(/validationData.*label 9 at sample 1/);
    expect(snapshot(m)).toEqual(before);
  });

  it('labels in range train, and labels of shape (N, 1) are checked the same way', async () => {
    const m = issueModel('sparse_categorical_crossentropy');
    const h = await m.fit(features(8), sparseTargets([0, 1, 2, 3, 3, 2, 1, 0]), { verbose: 0, epochs: 2 });
    expect(h.history.loss[1]).toBeLessThan(h.history.loss[0]);
    const { tensor } = await import('../../src/index.js');
    await expect(m.evaluate(features(2), tensor([[1], [5]]))).rejects.toThrow(/label 5 at sample 1/);
  });
});
