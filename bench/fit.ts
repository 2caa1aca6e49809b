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
import { optimizers } from '../src/index.js';
import { fitRate, mnistMlp, syntheticData } from './mnist_mlp.js';

const SAMPLES = 60000;
const BATCHES = [32, 128];

async function kiln(batch: number, n: number, x: Float32Array, y: Float32Array): Promise<number> {
  const model = mnistMlp();
  model.compile({ optimizer: new optimizers.RMSprop(), loss: 'categorical_crossentropy', metrics: ['accuracy'] });
  const rate = await fitRate(model, x, y, n, batch);
  model.dispose();
  return rate;
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
  const { x, y } = syntheticData(SAMPLES);
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
