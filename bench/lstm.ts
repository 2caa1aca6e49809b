/**
 * `npm run bench:lstm`: the seeds' imdb_lstm model (Embedding 20000x128,
 * LSTM 128 with dropout 0.2 and recurrent_dropout 0.2, Dense 1 sigmoid;
 * sequences of 80 tokens, synthetic data) on Kiln's CPU backend:
 *   1. compile time and native code size of the predict program and of a
 *      gradient program (forward + backward scans) at 10, 80 and 500 steps,
 *      with a fresh cache, to show both stay flat in the number of steps;
 *   2. fit samples/s at batch 32 and 128, predict samples/s at batch 1, 32, 128.
 * Peers (onnxruntime-node's ONNX LSTM, tfjs wasm, Keras) are not in this run yet.
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
import { timeIt } from './stats.js';

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

async function main(): Promise<void> {
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
  const model = imdbLstm(STEPS);
  model.compile({ optimizer: 'adam', loss: 'binary_crossentropy', metrics: ['accuracy'] });
  for (const batch of [32, 128]) {
    const { x, y } = tokens(batch * 8, STEPS);
    const seconds = await timeIt(() => model.fit(x, y, { batchSize: batch, epochs: 1, verbose: 0 }), 1, 3);
    console.log(`fit batch ${batch}: ${((batch * 8) / seconds).toFixed(0)} samples/s`);
  }
  for (const batch of [1, 32, 128]) {
    const { x } = tokens(Math.max(batch * 4, 64), STEPS);
    const seconds = await timeIt(() => model.predict(x, { batchSize: batch }), 1, 3);
    console.log(`predict batch ${batch}: ${(x.shape[0] / seconds).toFixed(0)} samples/s`);
  }
  model.dispose();
}

await main();
