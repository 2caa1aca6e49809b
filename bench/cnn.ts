/**
 * `npm run bench:cnn`: the Keras mnist_cnn example (Conv2D 32 3x3 relu,
 * Conv2D 64 3x3 relu, MaxPooling2D 2x2, Dropout 0.25, Flatten, Dense 128
 * relu, Dropout 0.5, Dense 10 softmax; Adadelta lr=1.0) on Kiln's CPU
 * backend: fit samples/s at batch 128, predict samples/s at batch 1, 32 and
 * 128, and the GFLOP/s of its two forward convolutions (the predict
 * program's two convolution kernels, each timed alone; and, for contrast,
 * end to end through predict of a two-convolution model); beside them in
 * the same run, onnxruntime-node (predict; an ONNX graph of the same model
 * with the same weights) and TensorFlow.js (predict on its wasm backend; fit
 * on its cpu backend, since wasm has no Conv2DBackpropFilter kernel). The
 * convolutions' GFLOP/s are rated against the float32 FMA peak measured in
 * the same run (runtime/cpu/peak.ts) on the same number of threads.
 * tfjs-cpu trains at about one sample/s (minutes per step of 128), so its
 * fit is timed on KILN_BENCH_CNN_TFJS_STEPS steps (default 1) of
 * KILN_BENCH_CNN_TFJS_BATCH samples (default 32; its kernels are
 * single-threaded loops whose cost per sample does not depend on the batch)
 * after a warm-up step of 8 samples. Where bench/peers/setup-keras.sh has made
 * its virtualenv, Keras 3 on TensorFlow and on JAX follow in child processes
 * (bench/keras_peer.ts), rated against Kiln's figures from this run.
 */
import { cpus } from 'node:os';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import * as ort from 'onnxruntime-node';
import { kernelWork } from '../codegen/bundle/programs.js';
import { vectorWidth } from '../codegen/llvm/microkernel.js';
import type { MatmulKernel } from '../ir/kernel.js';
import { compileToProgram } from '../passes/pipeline.js';
import { config } from '../runtime/config.js';
import { cpuVectorBits, loadCpu } from '../runtime/cpu/index.js';
import { fmaPeakGflops } from '../runtime/cpu/peak.js';
import { Sequential, layers, optimizers, tensor } from '../src/index.js';
import { printKerasPeers, type KilnFigures } from './keras_peer.js';
import { initializer, type message, model as onnxModel, node, valueInfo } from './onnx.js';
import { mnistCnn } from './mnist_mlp.js';
import { median, timeIt } from './stats.js';

const FIT_SAMPLES = Number(process.env.KILN_BENCH_CNN_SAMPLES ?? 2048);
const TFJS_STEPS = Number(process.env.KILN_BENCH_CNN_TFJS_STEPS ?? 1);
const TFJS_BATCH = Number(process.env.KILN_BENCH_CNN_TFJS_BATCH ?? 32);

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

/**
 * GFLOP/s of mnist_cnn's two forward convolutions (2 FLOPs per multiply-add)
 * at batch 128: its predict program's implicit-GEMM kernels (the gathered
 * matmuls, each with its fused bias and relu), each loaded as a program of
 * its own and timed in wall time on the default thread count.
 */
async function convKernelRate(): Promise<number> {
  const p = compileToProgram(mnistCnn().buildGraph(128), { name: 'bench_cnn_convs' }).program;
  const convs = p.kernels.filter((k): k is MatmulKernel => k.kind === 'matmul' && !!(k.mDims || k.kDims));
  if (convs.length !== 2) throw new Error(`bench:cnn: expected mnist_cnn's predict program to hold 2 convolution kernels, found ${convs.length}`);
  let [flops, seconds] = [0, 0];
  for (const [i, k] of convs.entries()) {
    const exe = await loadCpu({ ...p, name: `${p.name}_conv${i}`, kernels: [k] }, { threads: config.numThreads });
    seconds += await timeIt(() => exe.run(), 10);
    flops += kernelWork(p, k).flops;
    exe.dispose();
  }
  const expected = 128 * 2 * (26 * 26 * 32 * 9 + 24 * 24 * 64 * 288);
  if (flops !== expected) throw new Error(`bench:cnn: the convolution kernels do ${flops} FLOPs, expected ${expected}`);
  return flops / seconds / 1e9;
}

/**
 * The same two convolutions end to end: predict of a Conv2D -> Conv2D model
 * (no activation) at batch 128, so this also counts writing the input and
 * returning the 18.9 MB output to JavaScript.
 */
async function convModelRate(): Promise<number> {
  const model = new Sequential([new layers.Conv2D(32, [3, 3], { inputShape: [28, 28, 1] }), new layers.Conv2D(64, [3, 3])]);
  const { x } = images(128);
  const s = await timeIt(() => model.predict(x, { batchSize: 128 }), 3);
  model.dispose();
  const flops = 128 * 2 * (26 * 26 * 32 * 9 + 24 * 24 * 64 * 288);
  return flops / s / 1e9;
}

type Field = Parameters<typeof message>[0][number];

const ints = (name: string, values: readonly number[]): Field[] => [[1, name], ...values.map((v): Field => [8, v]), [20, 7]];

/** The same model as ONNX (NCHW inside, Keras's channels-last flatten order kept by transposing back). */
function onnxCnn(weights: readonly { data: Float32Array; shape: readonly number[] }[]): Uint8Array {
  const [k1, b1, k2, b2, w3, b3, w4, b4] = weights;
  // Keras kernels are [kh, kw, in, out]; ONNX wants [out, in, kh, kw].
  const oihw = (w: { data: Float32Array; shape: readonly number[] }): { data: Float32Array; shape: number[] } => {
    const [kh, kw, ci, co] = w.shape;
    const out = new Float32Array(w.data.length);
    for (let a = 0; a < kh; a++) for (let b = 0; b < kw; b++) for (let c = 0; c < ci; c++) for (let o = 0; o < co; o++) out[((o * ci + c) * kh + a) * kw + b] = w.data[((a * kw + b) * ci + c) * co + o];
    return { data: out, shape: [co, ci, kh, kw] };
  };
  const [c1, c2] = [oihw(k1), oihw(k2)];
  const nodes = [
    node('Transpose', ['x'], ['xc'], [ints('perm', [0, 3, 1, 2])]),
    node('Conv', ['xc', 'k1', 'b1'], ['c1'], [ints('kernel_shape', [3, 3])]), node('Relu', ['c1'], ['r1']),
    node('Conv', ['r1', 'k2', 'b2'], ['c2'], [ints('kernel_shape', [3, 3])]), node('Relu', ['c2'], ['r2']),
    node('MaxPool', ['r2'], ['p'], [ints('kernel_shape', [2, 2]), ints('strides', [2, 2])]),
    node('Transpose', ['p'], ['pl'], [ints('perm', [0, 2, 3, 1])]), node('Flatten', ['pl'], ['f']),
    node('MatMul', ['f', 'w3'], ['m3']), node('Add', ['m3', 'b3'], ['a3']), node('Relu', ['a3'], ['h']),
    node('MatMul', ['h', 'w4'], ['m4']), node('Add', ['m4', 'b4'], ['a4']), node('Softmax', ['a4'], ['y']),
  ];
  const inits = [initializer('k1', c1.shape, c1.data), initializer('b1', b1.shape, b1.data), initializer('k2', c2.shape, c2.data), initializer('b2', b2.shape, b2.data),
    initializer('w3', w3.shape, w3.data), initializer('b3', b3.shape, b3.data), initializer('w4', w4.shape, w4.data), initializer('b4', b4.shape, b4.data)];
  return onnxModel(nodes, [valueInfo('x', ['batch', 28, 28, 1])], [valueInfo('y', ['batch', 10])], inits);
}

function tfCnn(): tf.Sequential {
  const m = tf.sequential({
    layers: [
      tf.layers.conv2d({ filters: 32, kernelSize: 3, activation: 'relu', inputShape: [28, 28, 1] }),
      tf.layers.conv2d({ filters: 64, kernelSize: 3, activation: 'relu' }),
      tf.layers.maxPooling2d({ poolSize: 2 }), tf.layers.dropout({ rate: 0.25 }), tf.layers.flatten(),
      tf.layers.dense({ units: 128, activation: 'relu' }), tf.layers.dropout({ rate: 0.5 }),
      tf.layers.dense({ units: 10, activation: 'softmax' }),
    ],
  });
  m.compile({ optimizer: tf.train.adadelta(1.0), loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
  return m;
}

/** Samples/s of tfjs fit at batch `batch` over `steps` steps, after a warm-up step of 8 samples (which builds the optimizer's slots). */
async function tfFitRate(batch: number, steps: number): Promise<number> {
  const m = tfCnn();
  const n = batch * steps;
  const { x, y } = images(n);
  const [xs, ys] = [tf.tensor(x.data as Float32Array, [n, 28, 28, 1]), tf.tensor(y.data as Float32Array, [n, 10])];
  await m.fit(xs.slice(0, 8), ys.slice(0, 8), { batchSize: 8, epochs: 1, verbose: 0 });
  const t0 = performance.now();
  await m.fit(xs, ys, { batchSize: batch, epochs: 1, verbose: 0 });
  const rate = n / ((performance.now() - t0) / 1000);
  tf.dispose([xs, ys]);
  m.dispose();
  return rate;
}

async function peersPredict(batch: number, session: ort.InferenceSession, tfModel: tf.Sequential): Promise<{ ort: number; tfjs: number }> {
  const { x } = images(batch);
  const data = x.data as Float32Array;
  const o = batch / (await timeIt(() => session.run({ x: new ort.Tensor('float32', data, [batch, 28, 28, 1]) }), batch === 1 ? 50 : 5));
  const tx = tf.tensor(data, [batch, 28, 28, 1]);
  const t = batch / (await timeIt(() => tf.tidy(() => (tfModel.predict(tx) as tf.Tensor).dataSync()), batch === 1 ? 10 : 2, 5));
  tx.dispose();
  return { ort: o, tfjs: t };
}

/** KILN_BENCH_CNN_ONLY=predict skips the fits (slow on a busy machine). */
const ONLY = process.env.KILN_BENCH_CNN_ONLY;

async function main(): Promise<void> {
  const f = (v: number): string => Math.round(v).toLocaleString('en-US').padStart(8);
  console.log(`mnist_cnn, samples/s; ${cpus()[0]?.model ?? 'cpu'}, ${cpus().length} cores; kiln on its cpu backend\n`);
  const kilnFigures: KilnFigures = { predict: { 1: 0, 32: 0, 128: 0 } };
  if (ONLY !== 'predict') {
    await tf.setBackend('cpu');
    const [kFit, tFit] = [await fitRate(), await tfFitRate(TFJS_BATCH, TFJS_STEPS)];
    kilnFigures.fit = kFit;
    console.log(`fit: kiln ${f(kFit)} (batch 128)  tfjs-cpu ${f(tFit)} (batch ${TFJS_BATCH}, ${TFJS_STEPS} step${TFJS_STEPS === 1 ? '' : 's'})  kiln/tfjs ${(kFit / tFit).toFixed(2)}`);
  }
  await tf.setBackend('wasm');
  const kiln = mnistCnn();
  const session = await ort.InferenceSession.create(onnxCnn(kiln.getWeights().map((w) => ({ data: w.data as Float32Array, shape: w.shape }))), { intraOpNumThreads: cpus().length, interOpNumThreads: 1 });
  const tfModel = tfCnn();
  tfModel.setWeights(kiln.getWeights().map((w) => tf.tensor(w.data as Float32Array, w.shape as number[])));
  console.log('predict   batch     kiln  onnxrt  tfjs-wasm  kiln/ort  kiln/tfjs');
  for (const batch of [1, 32, 128] as const) {
    const k = (kilnFigures.predict[batch] = await predictRate(batch));
    const p = await peersPredict(batch, session, tfModel);
    console.log(`${String(batch).padStart(15)} ${f(k)} ${f(p.ort)} ${f(p.tfjs).padStart(10)} ${(k / p.ort).toFixed(2).padStart(9)} ${(k / p.tfjs).toFixed(2).padStart(10)}`);
  }
  const [conv, convModel] = [await convKernelRate(), await convModelRate()];
  const peak = await fmaPeakGflops(config.numThreads, vectorWidth('float32', cpuVectorBits()));
  const share = (g: number): string => `${g.toFixed(1)} GFLOP/s = ${((100 * g) / peak).toFixed(0)}% of the FMA peak`;
  console.log(`forward convolutions (3x3, 1->32 and 32->64 channels, bias and relu fused), batch 128: ${share(conv)} measured in this run (${peak.toFixed(1)} GFLOP/s on ${config.numThreads} threads)`);
  console.log(`  end to end, predict of a Conv2D -> Conv2D model (with writing its input and returning its 18.9 MB output): ${share(convModel)}`);
  await printKerasPeers(kilnFigures, config.numThreads);
}

await main();
