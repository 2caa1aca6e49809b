/**
 * `npm run bench:conv_lstm`: ConvLSTM2D(16, 3x3, same) over 10 frames of
 * 16x16x4, Flatten, Dense 1 (synthetic data), on Kiln's CPU backend beside
 * tfjs with the same weights in the same run (wasm for predict; cpu for
 * fit, as tfjs-wasm has no Conv2DBackpropFilter):
 *   1. kernels of the predict and gradient programs at 5, 40 and 200 steps
 *      (flat: the step is a loop);
 *   2. predict samples/s at batch 1 and 16, fit samples/s at batch 16 (SGD,
 *      mse), and the largest difference between the two libraries' outputs.
 * CLSTM_RUNS sets the timed runs per figure (default 5; median), except
 * tfjs-cpu's fit: one step after a warm-up step.
 */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import type { Graph } from '../ir/graph.js';
import { grad } from '../passes/autodiff.js';
import { compileToProgram } from '../passes/pipeline.js';
import { Sequential, type Tensor, layers, optimizers, tensor } from '../src/index.js';
import { timeIt } from './stats.js';

const [T, H, W, C, F] = [10, 16, 16, 4, 16];
const RUNS = Number(process.env.CLSTM_RUNS ?? 5);

function kilnModel(steps: number): Sequential {
  return new Sequential([
    new layers.ConvLSTM2D(F, 3, { padding: 'same', inputShape: [steps, H, W, C] }),
    new layers.Flatten(),
    new layers.Dense(1),
  ]);
}

function tfModel(): tf.Sequential {
  return tf.sequential({
    layers: [
      tf.layers.convLstm2d({ filters: F, kernelSize: 3, padding: 'same', inputShape: [T, H, W, C], recurrentActivation: 'hardSigmoid' }),
      tf.layers.flatten(),
      tf.layers.dense({ units: 1 }),
    ],
  });
}

/** Kernels of the predict program and of forward + gradient of sum(output) with respect to every weight. */
function kernelCounts(steps: number): [number, number] {
  const model = kilnModel(steps);
  model.build([null, steps, H, W, C]);
  const predict = compileToProgram(model.buildGraph(8), { name: `clstm_t${steps}` }).program.kernels.length;
  const g = model.buildGraph(8, false);
  const b = grad(sumOutput(g), 0, model.weights.map((w) => w.name));
  const gradient = compileToProgram(b.builder.build([b.outputs[0], ...b.grads]), { name: `clstm_grad_t${steps}` }).program.kernels.length;
  model.dispose();
  return [predict, gradient];
}

function sumOutput(g: Graph): Graph {
  const nodes = [...g.nodes];
  const out = g.outputs[0];
  nodes.push({ id: nodes.length, op: 'reduce_sum', inputs: [out], attrs: { axes: nodes[out].type.shape.map((_, i) => i), keepDims: false }, type: { shape: [], dtype: 'float32' } });
  return { nodes, outputs: [nodes.length - 1] };
}

function frames(n: number): Float32Array {
  return Float32Array.from({ length: n * T * H * W * C }, (_, i) => ((((i + 1) * 2654435761) >>> 0) % 1000) / 500 - 1);
}

async function main(): Promise<void> {
  console.log('kernels (predict / gradient), batch 8:');
  for (const steps of [5, 40, 200]) console.log(`  ${String(steps).padStart(3)} steps: ${kernelCounts(steps).join(' / ')}`);
  await tf.setBackend('wasm');
  const kiln = kilnModel(T);
  const peer = tfModel();
  peer.setWeights(kiln.getWeights().map((w) => tf.tensor(w.data as Float32Array, w.shape as number[])));
  const x = frames(16);
  const kx = tensor(x, [16, T, H, W, C]);
  const tx = tf.tensor(x, [16, T, H, W, C]);
  const kOut = (await kiln.predict(kx)) as Tensor;
  const tOut = (peer.predict(tx) as tf.Tensor).dataSync();
  console.log(`largest |kiln - tfjs| over 16 outputs: ${Math.max(...Array.from(kOut.data, (v, i) => Math.abs(v - tOut[i]))).toExponential(2)}`);
  console.log('samples/s          kiln   tfjs-wasm  kiln/tfjs');
  for (const batch of [1, 16]) {
    const kb = tensor(x.subarray(0, batch * T * H * W * C), [batch, T, H, W, C]);
    const tb = tf.tensor(x.subarray(0, batch * T * H * W * C), [batch, T, H, W, C]);
    const k = batch / (await timeIt(() => kiln.predict(kb), batch === 1 ? 8 : 2, RUNS));
    const t = batch / (await timeIt(() => tf.tidy(() => (peer.predict(tb) as tf.Tensor).dataSync()), batch === 1 ? 8 : 2, RUNS));
    console.log(`predict batch ${String(batch).padStart(2)} ${k.toFixed(1).padStart(8)} ${t.toFixed(1).padStart(10)} ${(k / t).toFixed(2).padStart(10)}`);
  }
  const y = Float32Array.from({ length: 16 }, (_, i) => (i % 3) - 1);
  kiln.compile({ optimizer: new optimizers.SGD({ lr: 0.001 }), loss: 'mse' });
  peer.compile({ optimizer: tf.train.sgd(0.001), loss: 'meanSquaredError' });
  const ky = tensor(y, [16, 1]);
  const ty = tf.tensor(y, [16, 1]);
  const k = 16 / (await timeIt(() => kiln.fit(kx, ky, { batchSize: 16, epochs: 1, verbose: 0 }), 1, RUNS));
  await tf.setBackend('cpu');
  // tfjs-cpu takes about a minute per step here: one timed step after the warm-up.
  const t = 16 / (await timeIt(() => peer.fit(tx, ty, { batchSize: 16, epochs: 1, verbose: 0 }), 1, 1));
  console.log(`fit batch 16 (tfjs-cpu) ${k.toFixed(1).padStart(8)} ${t.toFixed(1).padStart(10)} ${(k / t).toFixed(2).padStart(10)}`);
  kiln.dispose();
  tf.dispose([tx, ty]);
}

await main();
