/** BatchNormalization in training: batch statistics, moving statistics updated with Keras 2's momentum rule, inference with the moving ones. */
import { describe, expect, it } from 'vitest';
import { Sequential, layers, optimizers, setBackend, tensor } from '../../src/index.js';
import { TEST_BACKEND } from '../helpers/backend.js';

setBackend(TEST_BACKEND);

describe('BatchNormalization training', () => {
  it('normalizes with the batch, moves the moving statistics by momentum, and evaluates with them', async () => {
    const rows = [[1, 2, -1], [3, 0, -2], [2, 5, 0], [0, 1, 4]];
    const x = tensor(rows);
    const t = tensor([[0, 1, 0], [1, 0, 0], [0, 0, 1], [1, 1, 1]]);
    const model = new Sequential([new layers.BatchNormalization({ inputShape: [3], momentum: 0.9, epsilon: 1e-3, name: 'bn' })]);
    model.compile({ optimizer: new optimizers.SGD({ lr: 0.1 }), loss: 'mse' });
    const n = rows.length;
    const mean = [0, 1, 2].map((j) => rows.reduce((s, r) => s + r[j], 0) / n);
    const variance = [0, 1, 2].map((j) => rows.reduce((s, r) => s + (r[j] - mean[j]) ** 2, 0) / n);
    const normed = rows.map((r) => r.map((v, j) => (v - mean[j]) / Math.sqrt(variance[j] + 1e-3)));
    const mse = normed.flat().reduce((s, v, i) => s + (v - t.data[i]) ** 2, 0) / 12;
    const loss = (await model.trainOnBatch(x, t)) as number;
    expect(loss).toBeCloseTo(mse, 5);
    const [gamma, beta, movingMean, movingVar] = model.getWeights();
    expect(movingMean.data).toBeAllClose(mean.map((m) => 0.1 * m), { rtol: 1e-5, atol: 1e-6 });
    expect(movingVar.data).toBeAllClose(variance.map((v) => 0.9 + 0.1 * v * (n / (n - 1.001))), { rtol: 1e-5, atol: 1e-6 });
    // d(mse)/d(beta_j) = sum_i 2 (y_ij - t_ij) / 12; SGD moved beta by -lr times that.
    const dBeta = [0, 1, 2].map((j) => normed.reduce((s, r, i) => s + (2 * (r[j] - t.data[i * 3 + j])) / 12, 0));
    expect(beta.data).toBeAllClose(dBeta.map((g) => -0.1 * g), { rtol: 1e-4, atol: 1e-6 });
    expect(gamma.data).not.toEqual(Float32Array.of(1, 1, 1));
    const out = await model.predict(x);
    const want = rows.flatMap((r) => r.map((v, j) => ((v - movingMean.data[j]) / Math.sqrt(movingVar.data[j] + 1e-3)) * gamma.data[j] + beta.data[j]));
    expect(out.data).toBeAllClose(want, { rtol: 1e-4, atol: 1e-5 });
    model.dispose();
  });

  it('a frozen layer keeps its moving statistics but, as in Keras 2, normalizes with the batch in training', async () => {
    const rows = [[1, 2], [3, 4], [5, 7]];
    const model = new Sequential([new layers.BatchNormalization({ inputShape: [2], trainable: false, epsilon: 1e-3 }), new layers.Dense(1, { kernelInitializer: 'ones', useBias: false })]);
    model.compile({ optimizer: new optimizers.SGD({ lr: 0 }), loss: 'mse' });
    const before = model.getWeights().slice(0, 4).map((w) => Array.from(w.data));
    // Keras 2.2's BatchNormalization.call returns K.in_train_phase(batch-normalized, moving-normalized): the loss sees the batch statistics.
    const mean = [0, 1].map((j) => rows.reduce((s, r) => s + r[j], 0) / 3);
    const variance = [0, 1].map((j) => rows.reduce((s, r) => s + (r[j] - mean[j]) ** 2, 0) / 3);
    const y = rows.map((r) => r.reduce((s, v, j) => s + (v - mean[j]) / Math.sqrt(variance[j] + 1e-3), 0));
    const targets = [1, 0, 1];
    const mse = y.reduce((s, v, i) => s + (v - targets[i]) ** 2, 0) / 3;
    expect((await model.trainOnBatch(tensor(rows), tensor(targets.map((t) => [t])))) as number).toBeCloseTo(mse, 4);
    model.compile({ optimizer: 'adam', loss: 'mse' });
    await model.fit(tensor(rows), tensor(targets.map((t) => [t])), { epochs: 2, batchSize: 2, verbose: 0 });
    expect(model.getWeights().slice(0, 4).map((w) => Array.from(w.data))).toEqual(before);
    model.dispose();
  });

  it('a BatchNormalization inside a frozen nested model keeps its moving statistics (Keras 2: a frozen network has no updates)', async () => {
    const inner = new Sequential([new layers.BatchNormalization({ inputShape: [2], name: 'inner_bn' })], 'inner');
    inner.trainable = false;
    const model = new Sequential([inner, new layers.Dense(1)]);
    model.compile({ optimizer: 'sgd', loss: 'mse' });
    const before = inner.getWeights().map((w) => Array.from(w.data));
    await model.fit(tensor([[1, 2], [3, 4], [5, 7], [2, 2]]), tensor([[1], [0], [1], [0]]), { epochs: 2, batchSize: 2, verbose: 0 });
    expect(inner.getWeights().map((w) => Array.from(w.data))).toEqual(before);
    inner.trainable = true;
    model.compile({ optimizer: 'sgd', loss: 'mse' });
    await model.fit(tensor([[1, 2], [3, 4], [5, 7], [2, 2]]), tensor([[1], [0], [1], [0]]), { epochs: 1, batchSize: 2, verbose: 0 });
    expect(inner.getWeights()[2].data).not.toEqual(Float32Array.from(before[2]));
    model.dispose();
  });
});
