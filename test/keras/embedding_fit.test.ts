/**
 * An Embedding's training step against Keras 2's update rule worked by hand:
 * the table's gradient is the scatter-add of each use's gradient into its
 * row (repeated ids sum), and Adam (Keras 2: lr_t = lr sqrt(1 - beta2^t) /
 * (1 - beta1^t), m = (1 - beta1) g, v = (1 - beta2) g^2, p -= lr_t m /
 * (sqrt(v) + epsilon)) moves exactly the rows used.
 */
import { describe, expect, it } from 'vitest';
import { Sequential, layers, optimizers, setBackend, tensor } from '../../src/index.js';
import { TEST_BACKEND } from '../helpers/backend.js';

setBackend(TEST_BACKEND);

const V = 50;
const D = 4;
const T = 6;

describe('Embedding fit step', () => {
  it('Adam moves exactly the rows used, by Keras 2\'s rule over the summed gradients of repeated ids', async () => {
    const model = new Sequential([
      new layers.Embedding(V, D, { inputLength: T, name: 'fit_emb' }),
      new layers.Flatten(),
      new layers.Dense(1, { name: 'fit_dense' }),
    ]);
    const table = Float32Array.from({ length: V * D }, (_, i) => Math.sin(i * 0.37) * 0.5);
    const kernel = Float32Array.from({ length: T * D }, (_, i) => Math.cos(i * 0.91) * 0.8);
    model.setWeights([tensor(table, [V, D]), tensor(kernel, [T * D, 1]), tensor([0.1], [1])]);
    // Ids repeat within a sample and across samples; most of the 50 rows are not used.
    const ids = [[3, 7, 3, 49, 0, 7], [7, 7, 12, 3, 0, 21], [49, 12, 3, 3, 3, 8]];
    const y = [0.5, -1, 2];
    const N = ids.length;
    model.compile({ optimizer: new optimizers.Adam(0.01), loss: 'mse' });
    await model.fit(tensor(ids), tensor(y, [N, 1]), { batchSize: N, epochs: 1, shuffle: false, verbose: 0 });

    // By hand: z = flat(table[ids]) . kernel + bias; dL/dz = 2 (z - y) / N; each use adds dL/dz * kernel[pos, j] to its row.
    const g = new Float64Array(V * D);
    ids.forEach((row, n) => {
      let z = 0.1;
      row.forEach((id, pos) => { for (let j = 0; j < D; j++) z += table[id * D + j] * kernel[pos * D + j]; });
      const dz = (2 * (z - y[n])) / N;
      row.forEach((id, pos) => { for (let j = 0; j < D; j++) g[id * D + j] += dz * kernel[pos * D + j]; });
    });
    const lrT = (0.01 * Math.sqrt(1 - 0.999)) / (1 - 0.9);
    const want = Array.from(table, (p, i) => p - (lrT * 0.1 * g[i]) / (Math.sqrt(0.001 * g[i] * g[i]) + 1e-7));
    const after = model.getWeights()[0].data;
    expect(after).toBeAllClose(want, { rtol: 1e-5, atol: 1e-6 });
    const used = new Set(ids.flat());
    for (let r = 0; r < V; r++) {
      if (used.has(r)) continue;
      expect(Array.from(after.slice(r * D, (r + 1) * D)), `row ${r} is not used`).toEqual(Array.from(table.slice(r * D, (r + 1) * D)));
    }
    expect(Array.from(after.slice(3 * D, 4 * D))).not.toEqual(Array.from(table.slice(3 * D, 4 * D)));
    model.dispose();
  });
});
