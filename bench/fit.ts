/**
 * `npm run bench:fit`: training throughput (samples/s) of the demo model
 * (mnist_mlp: Dense 512 relu, Dropout 0.2, Dense 512 relu, Dropout 0.2,
 * Dense 10 softmax; RMSprop; categorical crossentropy) at batch 32 and 128,
 * Kiln's CPU backend beside TensorFlow.js's cpu and wasm backends in the same
 * run. (@tensorflow/tfjs-node is not installed: its installer downloads
 * libtensorflow from outside the registries.)
 */
import { cpus } from 'node:os';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { Sequential, layers, optimizers, tensor } from '../src/index.js';
import { median } from './stats.js';

const SAMPLES = 60000;
const BATCHES = [32, 128];

function data(n: number): { x: Float32Array; y: Float32Array } {
  const x = Float32Array.from({ length: n * 784 }, (_, i) => ((i * 2654435761) >>> 0) / 4294967296);
  const y = new Float32Array(n * 10);
  for (let i = 0; i < n; i++) y[i * 10 + (i % 10)] = 1;
  return { x, y };
}

async function kiln(batch: number, n: number, x: Float32Array, y: Float32Array): Promise<number> {
  const model = new Sequential([
    new layers.Dense(512, { activation: 'relu', inputShape: [784] }), new layers.Dropout(0.2),
    new layers.Dense(512, { activation: 'relu' }), new layers.Dropout(0.2),
    new layers.Dense(10, { activation: 'softmax' }),
  ]);
  model.compile({ optimizer: new optimizers.RMSprop(), loss: 'categorical_crossentropy', metrics: ['accuracy'] });
  const xs = tensor(x, [n, 784]);
  const ys = tensor(y, [n, 10]);
  await model.fit(tensor(x.subarray(0, batch * 784), [batch, 784]), tensor(y.subarray(0, batch * 10), [batch, 10]), { batchSize: batch, verbose: 0 });
  const times: number[] = [];
  for (let r = 0; r < 3; r++) {
    const t0 = performance.now();
    await model.fit(xs, ys, { batchSize: batch, epochs: 1, verbose: 0 });
    times.push((performance.now() - t0) / 1000);
  }
  model.dispose();
  return n / median(times);
}

async function tfjs(backend: string, batch: number, n: number, x: Float32Array, y: Float32Array): Promise<number> {
  await tf.setBackend(backend);
  const model = tf.sequential({
    layers: [
      tf.layers.dense({ units: 512, activation: 'relu', inputShape: [784] }), tf.layers.dropout({ rate: 0.2 }),
      tf.layers.dense({ units: 512, activation: 'relu' }), tf.layers.dropout({ rate: 0.2 }),
      tf.layers.dense({ units: 10, activation: 'softmax' }),
    ],
  });
  model.compile({ optimizer: tf.train.rmsprop(0.001), loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
  const xs = tf.tensor2d(x.subarray(0, n * 784), [n, 784]);
  const ys = tf.tensor2d(y.subarray(0, n * 10), [n, 10]);
  await model.fit(xs.slice(0, batch), ys.slice(0, batch), { batchSize: batch, epochs: 1, verbose: 0 });
  const t0 = performance.now();
  await model.fit(xs, ys, { batchSize: batch, epochs: 1, verbose: 0 });
  const rate = n / ((performance.now() - t0) / 1000);
  tf.dispose([xs, ys]);
  model.dispose();
  return rate;
}

async function main(): Promise<void> {
  const { x, y } = data(SAMPLES);
  console.log(`mnist_mlp training throughput, samples/s; ${cpus()[0]?.model ?? 'cpu'}, ${cpus().length} cores`);
  console.log(`Kiln: median of 3 epochs of ${SAMPLES} samples; tfjs: one epoch of the sample count below (it is slow)\n`);
  console.log('   batch       kiln  tfjs-wasm   tfjs-cpu  kiln/wasm   kiln/cpu');
  for (const batch of BATCHES) {
    const k = await kiln(batch, SAMPLES, x, y);
    const w = await tfjs('wasm', batch, 4096, x, y);
    const c = await tfjs('cpu', batch, 1024, x, y);
    const f = (v: number): string => Math.round(v).toLocaleString('en-US').padStart(10);
    console.log(`${String(batch).padStart(8)} ${f(k)} ${f(w)} ${f(c)} ${(k / w).toFixed(1).padStart(10)} ${(k / c).toFixed(1).padStart(10)}`);
  }
}

await main();
