/**
 * `npm run bench:cnn`: the Keras mnist_cnn example (Conv2D 32 3x3 relu,
 * Conv2D 64 3x3 relu, MaxPooling2D 2x2, Dropout 0.25, Flatten, Dense 128
 * relu, Dropout 0.5, Dense 10 softmax; Adadelta lr=1.0) on Kiln's CPU
 * backend: fit samples/s at batch 128, predict samples/s at batch 1, 32 and
 * 128, and the GFLOP/s of its two forward convolutions alone. Peers
 * (onnxruntime-node, tfjs wasm) and the FMA peak are not in this run yet.
 */
import { cpus } from 'node:os';
import { Sequential, layers, optimizers, tensor } from '../src/index.js';
import { median, timeIt } from './stats.js';

const FIT_SAMPLES = Number(process.env.KILN_BENCH_CNN_SAMPLES ?? 2048);

function mnistCnn(): Sequential {
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

function images(n: number): { x: ReturnType<typeof tensor>; y: ReturnType<typeof tensor> } {
  const x = Float32Array.from({ length: n * 784 }, (_, i) => ((i * 2654435761) >>> 0) / 4294967296);
  const y = new Float32Array(n * 10);
  for (let i = 0; i < n; i++) y[i * 10 + (i % 10)] = 1;
  return { x: tensor(x, [n, 28, 28, 1]), y: tensor(y, [n, 10]) };
}

async function fitRate(): Promise<number> {
  const model = mnistCnn();
  model.compile({ optimizer: new optimizers.Adadelta({ lr: 1.0 }), loss: 'categorical_crossentropy', metrics: ['accuracy'] });
  const { x, y } = images(FIT_SAMPLES);
  const warm = images(128);
  await model.fit(warm.x, warm.y, { batchSize: 128, verbose: 0 });
  const times: number[] = [];
  for (let r = 0; r < 3; r++) {
    const t0 = performance.now();
    await model.fit(x, y, { batchSize: 128, epochs: 1, verbose: 0 });
    times.push((performance.now() - t0) / 1000);
  }
  model.dispose();
  return FIT_SAMPLES / median(times);
}

async function predictRate(batch: number): Promise<number> {
  const model = mnistCnn();
  const { x } = images(batch);
  const s = await timeIt(() => model.predict(x, { batchSize: batch }), batch === 1 ? 50 : 5);
  model.dispose();
  return batch / s;
}

/** GFLOP/s of the two forward convolutions alone (2 FLOPs per multiply-add), at batch 128. */
async function convRate(): Promise<number> {
  const model = new Sequential([new layers.Conv2D(32, [3, 3], { inputShape: [28, 28, 1] }), new layers.Conv2D(64, [3, 3])]);
  const { x } = images(128);
  const s = await timeIt(() => model.predict(x, { batchSize: 128 }), 3);
  model.dispose();
  const flops = 128 * 2 * (26 * 26 * 32 * 9 + 24 * 24 * 64 * 288);
  return flops / s / 1e9;
}

async function main(): Promise<void> {
  console.log(`mnist_cnn on Kiln's cpu backend; ${cpus()[0]?.model ?? 'cpu'}, ${cpus().length} cores`);
  console.log(`fit, batch 128 (median of 3 epochs of ${FIT_SAMPLES} samples): ${Math.round(await fitRate()).toLocaleString('en-US')} samples/s`);
  for (const batch of [1, 32, 128]) console.log(`predict, batch ${String(batch).padStart(3)}: ${Math.round(await predictRate(batch)).toLocaleString('en-US')} samples/s`);
  console.log(`forward convolutions (3x3, 1->32 and 32->64 channels), batch 128: ${(await convRate()).toFixed(1)} GFLOP/s`);
}

await main();
