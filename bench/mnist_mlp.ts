/** The demo's Keras example models (mnist_mlp, mnist_cnn) and synthetic data, shared by the benchmarks and scripts/demo.ts. */
import { Sequential, layers, tensor } from '../src/index.js';
import { median } from './stats.js';

/** Keras's mnist_mlp: Dense 512 relu, Dropout 0.2, Dense 512 relu, Dropout 0.2, Dense 10 softmax. */
export function mnistMlp(): Sequential {
  return new Sequential([
    new layers.Dense(512, { activation: 'relu', inputShape: [784] }),
    new layers.Dropout(0.2),
    new layers.Dense(512, { activation: 'relu' }),
    new layers.Dropout(0.2),
    new layers.Dense(10, { activation: 'softmax' }),
  ]);
}

/** Keras's mnist_cnn: Conv2D 32 3x3 relu, Conv2D 64 3x3 relu, MaxPooling2D 2x2, Dropout 0.25, Flatten, Dense 128 relu, Dropout 0.5, Dense 10 softmax. */
export function mnistCnn(): Sequential {
  return new Sequential([
    new layers.Conv2D(32, [3, 3], { activation: 'relu', inputShape: [28, 28, 1] }),
    new layers.Conv2D(64, [3, 3], { activation: 'relu' }),
    new layers.MaxPooling2D({ poolSize: [2, 2] }),
    new layers.Dropout(0.25),
    new layers.Flatten(),
    new layers.Dense(128, { activation: 'relu' }),
    new layers.Dropout(0.5),
    new layers.Dense(10, { activation: 'softmax' }),
  ]);
}

/** Deterministic pseudo-random pixels in [0, 1) and one-hot labels. */
export function syntheticData(n: number): { x: Float32Array; y: Float32Array } {
  const x = Float32Array.from({ length: n * 784 }, (_, i) => ((i * 2654435761) >>> 0) / 4294967296);
  const y = new Float32Array(n * 10);
  for (let i = 0; i < n; i++) y[i * 10 + (i % 10)] = 1;
  return { x, y };
}

/** Samples/s of `model.fit` over the first n samples: median of 3 one-epoch runs after a one-batch warm-up. */
export async function fitRate(model: Sequential, x: Float32Array, y: Float32Array, n: number, batch: number): Promise<number> {
  const xs = tensor(x.subarray(0, n * 784), [n, 784]);
  const ys = tensor(y.subarray(0, n * 10), [n, 10]);
  await model.fit(tensor(x.subarray(0, batch * 784), [batch, 784]), tensor(y.subarray(0, batch * 10), [batch, 10]), { batchSize: batch, verbose: 0 });
  const times: number[] = [];
  for (let r = 0; r < 3; r++) {
    const t0 = performance.now();
    await model.fit(xs, ys, { batchSize: batch, epochs: 1, verbose: 0 });
    times.push((performance.now() - t0) / 1000);
  }
  return n / median(times);
}
