/**
 * `npm run bench:lstm`: the seeds' imdb_lstm model (Embedding 20000x128,
 * LSTM 128 with dropout 0.2 and recurrent_dropout 0.2, Dense 1 sigmoid;
 * sequences of 80 tokens, synthetic data) on Kiln's CPU backend:
 *   1. compile time and native code size of the predict program and of a
 *      gradient program (forward + backward scans) at 10, 80 and 500 steps,
 *      with a fresh cache, to show both stay flat in the number of steps;
 *   2. fit samples/s at batch 32 and 128 (Adam, binary cross-entropy),
 *      beside TensorFlow.js's fit of the same model (wasm backend; cpu where
 *      wasm lacks a kernel). tfjs runs the LSTM as 80 steps of separate ops
 *      and keeps every step's tensors for its gradient, so its fit is timed
 *      on KILN_BENCH_LSTM_TFJS_STEPS steps (default 1; 0 skips it) of
 *      KILN_BENCH_LSTM_TFJS_BATCH samples (default 2) after a warm-up step;
 *   3. predict samples/s at batch 1, 32 and 128, beside onnxruntime-node (an
 *      ONNX graph of the same model with the same weights: Gather, Transpose,
 *      ONNX LSTM with Keras's hard_sigmoid, Gemm, Sigmoid; outputs checked
 *      against Kiln's) and tfjs wasm, as ratios.
 * KILN_BENCH_LSTM_ONLY=compile|fit|predict runs one part (comma-separated list).
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compileNative } from '../codegen/llvm/toolchain.js';
import { HOST_VECTOR_BITS } from '../codegen/llvm/host.js';
import type { Graph } from '../ir/graph.js';
import { grad } from '../passes/autodiff.js';
import { compileToProgram } from '../passes/pipeline.js';
import { config } from '../runtime/config.js';
import { Sequential, layers, tensor } from '../src/index.js';
import { cpus } from 'node:os';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import * as ort from 'onnxruntime-node';
import { type message, initializer, model as onnxModel, node, valueInfo } from './onnx.js';
import { median, timeIt } from './stats.js';

const VOCAB = 20000;
const STEPS = 80;

function imdbLstm(steps: number): Sequential {
  return new Sequential([
    new layers.Embedding(VOCAB, 128, { inputLength: steps }),
    new layers.LSTM(128, { dropout: 0.2, recurrentDropout: 0.2 }),
    new layers.Dense(1, { activation: 'sigmoid' }),
  ]);
}

/** Forward and the gradient of sum(output) with respect to every weight: the shape of a training step's compute. */
function gradientGraph(model: Sequential, batch: number): Graph {
  const g = model.buildGraph(batch, false);
  const loss = { ...g, outputs: g.outputs };
  const b0 = grad(sumOutput(loss), 0, model.weights.map((w) => w.name));
  return b0.builder.build([b0.outputs[0], ...b0.grads]);
}

function sumOutput(g: Graph): Graph {
  const nodes = [...g.nodes];
  const out = g.outputs[0];
  const id = nodes.length;
  nodes.push({ id, op: 'reduce_sum', inputs: [out], attrs: { axes: nodes[out].type.shape.map((_, i) => i), keepDims: false }, type: { shape: [], dtype: 'float32' } });
  return { nodes, outputs: [id] };
}

async function nativeStats(graph: Graph, name: string): Promise<{ seconds: number; bytes: number; kernels: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'kiln-bench-lstm-'));
  try {
    const t0 = performance.now();
    const { program } = compileToProgram(graph, { name });
    const lib = await compileNative(program, { threads: config.numThreads, cacheDir: dir, maxCacheBytes: 1 << 30, vectorBits: HOST_VECTOR_BITS });
    const seconds = (performance.now() - t0) / 1000;
    return { seconds, bytes: statSync(lib.path).size, kernels: program.kernels.length };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function tokens(n: number, steps: number): { x: ReturnType<typeof tensor>; y: ReturnType<typeof tensor> } {
  const x = Float32Array.from({ length: n * steps }, (_, i) => (((i + 1) * 2654435761) >>> 0) % VOCAB);
  const y = Float32Array.from({ length: n }, (_, i) => i % 2);
  return { x: tensor(x, [n, steps]), y: tensor(y, [n, 1]) };
}

type Field = Parameters<typeof message>[0][number];
type Weights = readonly { data: Float32Array; shape: readonly number[] }[];

const ONLY = new Set((process.env.KILN_BENCH_LSTM_ONLY ?? 'compile,fit,predict').split(','));
const TFJS_STEPS = Number(process.env.KILN_BENCH_LSTM_TFJS_STEPS ?? 1);
const TFJS_BATCH = Number(process.env.KILN_BENCH_LSTM_TFJS_BATCH ?? 2);
const FIT_BATCHES = Number(process.env.KILN_BENCH_LSTM_FIT_BATCHES ?? 8);
const UNITS = 128;

/** An int64 initializer (shapes for Reshape). */
function int64s(name: string, values: readonly number[]): Field[] {
  return [[1, values.length], [2, 7], [8, name], [9, new Uint8Array(BigInt64Array.from(values.map(BigInt)).buffer)]];
}

/** Keras's gate blocks (i, f, c, o along the last axis of [rows, 4H]) as ONNX's (i, o, f, c along the first axis of [4H, rows]). */
function onnxGates(w: { data: Float32Array; shape: readonly number[] }): Float32Array {
  const [rows, width] = w.shape;
  const out = new Float32Array(rows * width);
  const keras = [0, 3, 1, 2];
  for (let g = 0; g < 4; g++) {
    for (let j = 0; j < UNITS; j++) for (let r = 0; r < rows; r++) out[(g * UNITS + j) * rows + r] = w.data[r * width + keras[g] * UNITS + j];
  }
  return out;
}

/** The same model as ONNX: Gather, Transpose to time-major, LSTM (hard_sigmoid 0.2x + 0.5, tanh), Gemm, Sigmoid. */
function onnxLstm([emb, kernel, recurrent, bias, dense, denseBias]: Weights, steps: number): Uint8Array {
  const features = emb.shape[1];
  const b = onnxGates({ data: bias.data, shape: [1, 4 * UNITS] });
  const attr = (name: string, field: Field): Field[] => [[1, name], field];
  const nodes = [
    node('Gather', ['emb', 'x'], ['e']),
    node('Transpose', ['e'], ['et'], [[[1, 'perm'], [8, 1], [8, 0], [8, 2], [20, 7]]]),
    node('LSTM', ['et', 'W', 'R', 'B'], ['', 'h'], [
      attr('hidden_size', [3, UNITS]), [[1, 'activations'], [9, 'HardSigmoid'], [9, 'Tanh'], [9, 'Tanh'], [20, 8]],
      [[1, 'activation_alpha'], [7, new Uint8Array(Float32Array.of(0.2).buffer)], [20, 6]], [[1, 'activation_beta'], [7, new Uint8Array(Float32Array.of(0.5).buffer)], [20, 6]],
    ].map((f) => ((f as Field[])[1]?.[0] === 3 ? [...(f as Field[]), [20, 2]] : f) as Field[])),
    node('Reshape', ['h', 'hshape'], ['h2']),
    node('Gemm', ['h2', 'wd', 'bd'], ['z']),
    node('Sigmoid', ['z'], ['y']),
  ];
  const inits = [
    initializer('emb', emb.shape, emb.data), initializer('W', [1, 4 * UNITS, features], onnxGates(kernel)), initializer('R', [1, 4 * UNITS, UNITS], onnxGates(recurrent)),
    initializer('B', [1, 8 * UNITS], Float32Array.from({ length: 8 * UNITS }, (_, i) => (i < 4 * UNITS ? b[i] : 0))),
    initializer('wd', dense.shape, dense.data), initializer('bd', denseBias.shape, denseBias.data), int64s('hshape', [-1, UNITS]),
  ];
  const x: Field[] = [[1, 'x'], [2, [[1, [[1, 6], [2, [[1, [[2, 'batch']]], [1, [[1, steps]]]]]]]]]];
  return onnxModel(nodes, [x], [valueInfo('y', ['batch', 1])], inits);
}

function tfLstm(steps: number): tf.Sequential {
  const m = tf.sequential({
    layers: [
      tf.layers.embedding({ inputDim: VOCAB, outputDim: UNITS, inputLength: steps }),
      tf.layers.lstm({ units: UNITS, dropout: 0.2, recurrentDropout: 0.2 }),
      tf.layers.dense({ units: 1, activation: 'sigmoid' }),
    ],
  });
  m.compile({ optimizer: 'adam', loss: 'binaryCrossentropy', metrics: ['accuracy'] });
  return m;
}

/** Samples/s of tfjs fit at `batch` over TFJS_STEPS steps after a warm-up step; the backend it ran on (wasm, else cpu where wasm lacks a kernel). */
async function tfFitRate(batch: number): Promise<{ rate: number; backend: string }> {
  for (const backend of ['wasm', 'cpu']) {
    await tf.setBackend(backend);
    const m = tfLstm(STEPS);
    const n = batch * TFJS_STEPS;
    const { x, y } = tokens(n + batch, STEPS);
    const [xs, ys] = [tf.tensor(x.data as Float32Array, [n + batch, STEPS]), tf.tensor(y.data as Float32Array, [n + batch, 1])];
    try {
      await m.fit(xs.slice(0, batch), ys.slice(0, batch), { batchSize: batch, epochs: 1, verbose: 0 });
      const t0 = performance.now();
      await m.fit(xs.slice(batch), ys.slice(batch), { batchSize: batch, epochs: 1, verbose: 0 });
      return { rate: n / ((performance.now() - t0) / 1000), backend };
    } catch (e) {
      if (backend === 'cpu') throw e;
      console.log(`  (tfjs wasm cannot fit this model: ${(e as Error).message.split('\n')[0]}; timing tfjs cpu)`);
    } finally {
      tf.dispose([xs, ys]);
      m.dispose();
    }
  }
  throw new Error('unreachable');
}

async function compileStats(): Promise<void> {
  console.log('compile (passes + LLVM, fresh cache) and native code size, batch 32:');
  console.log('steps  predict s  predict bytes  gradient s  gradient bytes  kernels (predict/gradient)');
  for (const steps of [10, 80, 500]) {
    const model = imdbLstm(steps);
    model.build([null, steps]);
    const p = await nativeStats(model.buildGraph(32), `imdb_lstm_t${steps}`);
    const g = await nativeStats(gradientGraph(model, 32), `imdb_lstm_grad_t${steps}`);
    console.log(`${String(steps).padStart(5)}  ${p.seconds.toFixed(2).padStart(9)}  ${String(p.bytes).padStart(13)}  ${g.seconds.toFixed(2).padStart(10)}  ${String(g.bytes).padStart(14)}  ${p.kernels}/${g.kernels}`);
    model.dispose();
  }
}

/** Kiln's fit samples/s at `batch`: the median of 3 epochs of FIT_BATCHES batches, after a warm-up epoch. */
async function kilnFitRate(batch: number): Promise<number> {
  const model = imdbLstm(STEPS);
  model.compile({ optimizer: 'adam', loss: 'binary_crossentropy', metrics: ['accuracy'] });
  const { x, y } = tokens(batch * FIT_BATCHES, STEPS);
  await model.fit(x, y, { batchSize: batch, epochs: 1, verbose: 0 });
  const times: number[] = [];
  for (let r = 0; r < 3; r++) {
    const t0 = performance.now();
    await model.fit(x, y, { batchSize: batch, epochs: 1, verbose: 0 });
    times.push((performance.now() - t0) / 1000);
  }
  model.dispose();
  return (batch * FIT_BATCHES) / median(times);
}

async function predictRates(): Promise<void> {
  await tf.setBackend('wasm');
  const kiln = imdbLstm(STEPS);
  const weights = kiln.getWeights().map((w) => ({ data: w.data as Float32Array, shape: w.shape }));
  const session = await ort.InferenceSession.create(onnxLstm(weights, STEPS), { intraOpNumThreads: cpus().length, interOpNumThreads: 1 });
  const tfModel = tfLstm(STEPS);
  tfModel.setWeights(weights.map((w) => tf.tensor(w.data, w.shape as number[])));
  // The peers compute the same function: outputs checked against Kiln's on 32 sequences.
  const check = tokens(32, STEPS);
  const ids = Int32Array.from(check.x.data as Float32Array);
  const [want, got, tfGot] = [(await kiln.predict(check.x)).data, (await session.run({ x: new ort.Tensor('int32', ids, [32, STEPS]) })).y.data as Float32Array,
    tf.tidy(() => (tfModel.predict(tf.tensor(ids, [32, STEPS], 'int32')) as tf.Tensor).dataSync())];
  const maxDiff = (a: ArrayLike<number>): number => Array.from(want).reduce((m, v, i) => Math.max(m, Math.abs(v - a[i])), 0);
  console.log(`predict outputs vs kiln: onnxruntime max |diff| ${maxDiff(got).toExponential(1)}, tfjs ${maxDiff(tfGot).toExponential(1)}`);
  const f = (v: number): string => Math.round(v).toLocaleString('en-US').padStart(9);
  console.log('predict  batch      kiln  onnxrt  tfjs-wasm  kiln/ort  kiln/tfjs');
  for (const batch of [1, 32, 128]) {
    const { x } = tokens(Math.max(batch * 4, 64), STEPS);
    const n = x.shape[0];
    const k = n / (await timeIt(() => kiln.predict(x, { batchSize: batch }), 1, 5));
    const xi = Int32Array.from(x.data as Float32Array);
    const feed = { x: new ort.Tensor('int32', xi.subarray(0, batch * STEPS), [batch, STEPS]) };
    const o = batch / (await timeIt(() => session.run(feed), batch === 1 ? 20 : 3, 5));
    const tx = tf.tensor(xi.subarray(0, batch * STEPS), [batch, STEPS], 'int32');
    const t = batch / (await timeIt(() => tf.tidy(() => (tfModel.predict(tx) as tf.Tensor).dataSync()), 1, 3));
    tx.dispose();
    console.log(`${String(batch).padStart(14)} ${f(k)} ${f(o).slice(1)} ${f(t).padStart(10)} ${(k / o).toFixed(2).padStart(9)} ${(k / t).toFixed(2).padStart(10)}`);
  }
  kiln.dispose();
  tfModel.dispose();
}

async function main(): Promise<void> {
  console.log(`imdb_lstm (Embedding 20000x128, LSTM 128, Dense 1; 80 steps), samples/s; ${cpus()[0]?.model ?? 'cpu'}, ${cpus().length} cores; kiln on its cpu backend\n`);
  if (ONLY.has('compile')) await compileStats();
  if (ONLY.has('fit')) {
    const tfjs = TFJS_STEPS > 0 ? await tfFitRate(TFJS_BATCH) : null;
    for (const batch of [32, 128]) {
      const k = await kilnFitRate(batch);
      const peer = tfjs ? `  tfjs-${tfjs.backend} ${tfjs.rate.toPrecision(2)} (batch ${TFJS_BATCH}, ${TFJS_STEPS} step${TFJS_STEPS === 1 ? '' : 's'})  kiln/tfjs ${(k / tfjs.rate).toFixed(0)}` : '';
      console.log(`fit batch ${String(batch).padStart(3)}: kiln ${Math.round(k)}${peer}`);
    }
  }
  if (ONLY.has('predict')) await predictRates();
}

await main();
