/**
 * `npm run bench:predict`: predict throughput (samples/s) of the Keras
 * mnist_mlp model (784-512-512-10, relu, relu, softmax) at batch 1, 32 and
 * 128: Kiln's CPU backend beside onnxruntime-node and TensorFlow.js (cpu
 * backend) running the same weights in the same process.
 */
import { cpus } from 'node:os';
import * as tf from '@tensorflow/tfjs';
import * as ort from 'onnxruntime-node';
import { tensor } from '../src/index.js';
import { mnistMlp } from './mnist_mlp.js';
import { initializer, model as onnxModel, node, valueInfo } from './onnx.js';
import { timeIt } from './stats.js';

const BATCHES = [1, 32, 128];

const settle = (): Promise<void> => new Promise((r) => setTimeout(r, 200));

function onnxMlp(weights: Float32Array[]): Uint8Array {
  const dims = [[784, 512], [512], [512, 512], [512], [512, 10], [10]];
  const names = ['w1', 'b1', 'w2', 'b2', 'w3', 'b3'];
  const nodes = [
    node('MatMul', ['x', 'w1'], ['m1']), node('Add', ['m1', 'b1'], ['a1']), node('Relu', ['a1'], ['h1']),
    node('MatMul', ['h1', 'w2'], ['m2']), node('Add', ['m2', 'b2'], ['a2']), node('Relu', ['a2'], ['h2']),
    node('MatMul', ['h2', 'w3'], ['m3']), node('Add', ['m3', 'b3'], ['a3']), node('Softmax', ['a3'], ['y']),
  ];
  return onnxModel(nodes, [valueInfo('x', ['batch', 784])], [valueInfo('y', ['batch', 10])], names.map((n, i) => initializer(n, dims[i], weights[i])));
}

async function main(): Promise<void> {
  await tf.setBackend('cpu');
  const kiln = mnistMlp();
  const weights = kiln.getWeights().map((w) => w.data as Float32Array);
  const session = await ort.InferenceSession.create(onnxMlp(weights), { intraOpNumThreads: cpus().length, interOpNumThreads: 1 });
  const tfModel = tf.sequential({
    layers: [
      tf.layers.dense({ units: 512, activation: 'relu', inputShape: [784] }),
      tf.layers.dense({ units: 512, activation: 'relu' }),
      tf.layers.dense({ units: 10, activation: 'softmax' }),
    ],
  });
  tfModel.setWeights(kiln.getWeights().map((w) => tf.tensor(w.data as Float32Array, w.shape as number[])));

  console.log(`mnist_mlp predict, samples/s (median of 7 runs); ${cpus()[0]?.model ?? 'cpu'}, ${cpus().length} cores\n`);
  console.log('   batch       kiln onnxruntime  tfjs(cpu)   kiln/ort  kiln/tfjs');
  for (const batch of BATCHES) {
    const data = Float32Array.from({ length: batch * 784 }, (_, i) => (i % 97) / 97);
    const x = tensor(data, [batch, 784]);
    const reps = Math.max(3, Math.round(2000 / batch));
    // Each runtime's idle threads spin for a while after a run; let them settle before timing the next one.
    await settle();
    const k = batch / (await timeIt(() => kiln.predict(x, { batchSize: batch }), reps));
    const feeds = { x: new ort.Tensor('float32', data, [batch, 784]) };
    await settle();
    const o = batch / (await timeIt(() => session.run(feeds), reps));
    const tx = tf.tensor(data, [batch, 784]);
    const t = batch / (await timeIt(() => tf.tidy(() => (tfModel.predict(tx) as tf.Tensor).dataSync()), Math.max(1, Math.round(reps / 20)), 5));
    tx.dispose();
    const f = (v: number): string => Math.round(v).toLocaleString('en-US').padStart(10);
    console.log(`${String(batch).padStart(8)} ${f(k)} ${f(o).padStart(11)} ${f(t)} ${(k / o).toFixed(2).padStart(10)} ${(k / t).toFixed(1).padStart(10)}`);
  }
  await session.release();
}

await main();
