/**
 * `npm run bench:bundle`: Keras's mnist_mlp as a deployable bundle beside
 * the same model and weights in TensorFlow.js (core + layers + the wasm
 * backend, model.json) and onnxruntime-node, all in the same run: what an app
 * installs (runtime and model files), cold start (a fresh Node process, from
 * its first line through the imports and the load to the first prediction;
 * median of 5), and predict throughput at batch 1 and 32 in this process
 * (Kiln's wasm on worker threads and on one).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import * as ort from 'onnxruntime-node';
import { writeBundle } from '../codegen/bundle/write_bundle.js';
import { stageRuntimePackage } from '../codegen/bundle/runtime_package.js';
import { load } from '../runtime/bundle/index.js';
import { mnistMlp } from './mnist_mlp.js';
import { initializer, model as onnxModel, node, valueInfo } from './onnx.js';
import { median, timeIt } from './stats.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const BATCHES = [1, 32];

/** Bytes of a file or everything under a folder. */
function sizeOf(path: string): number {
  const st = statSync(path);
  if (!st.isDirectory()) return st.size;
  return readdirSync(path).reduce((s, f) => s + sizeOf(join(path, f)), 0);
}

const mb = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(2)} MiB`.padStart(11);

function onnxMlp(weights: Float32Array[]): Uint8Array {
  const dims = [[784, 512], [512], [512, 512], [512], [512, 10], [10]];
  const names = ['w1', 'b1', 'w2', 'b2', 'w3', 'b3'];
  const layer = (i: number, x: string, act: string, y: string) => [node('MatMul', [x, names[2 * i]], [`m${i}`]), node('Add', [`m${i}`, names[2 * i + 1]], [`a${i}`]), node(act, [`a${i}`], [y])];
  const nodes = [...layer(0, 'x', 'Relu', 'h0'), ...layer(1, 'h0', 'Relu', 'h1'), ...layer(2, 'h1', 'Softmax', 'y')];
  return onnxModel(nodes, [valueInfo('x', ['batch', 784])], [valueInfo('y', ['batch', 10])], names.map((n, i) => initializer(n, dims[i], weights[i])));
}

function tfjsModel(weights: readonly { data: Float32Array; shape: number[] }[]): tf.Sequential {
  const m = tf.sequential({
    layers: [
      tf.layers.dense({ units: 512, activation: 'relu', inputShape: [784] }),
      tf.layers.dense({ units: 512, activation: 'relu' }),
      tf.layers.dense({ units: 10, activation: 'softmax' }),
    ],
  });
  m.setWeights(weights.map((w) => tf.tensor(w.data, w.shape)));
  return m;
}

/** model.json and its weights file, as tf.io would write them. */
async function saveTfjs(m: tf.Sequential, dir: string): Promise<void> {
  mkdirSync(dir, { recursive: true });
  await m.save(tf.io.withSaveHandler(async (a) => {
    writeFileSync(join(dir, 'weights.bin'), new Uint8Array(a.weightData as ArrayBuffer));
    writeFileSync(join(dir, 'model.json'), JSON.stringify({ modelTopology: a.modelTopology, weightsManifest: [{ paths: ['weights.bin'], weights: a.weightSpecs }], format: 'layers-model' }));
    return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
  }));
}

/** Milliseconds from a fresh process's first line to its first prediction: median of 5 processes. */
function coldStart(cwd: string, body: string): number {
  const script = `const t0 = performance.now();\n${body}\nprocess.stdout.write(String(performance.now() - t0));\n`;
  const times = Array.from({ length: 5 }, () => Number(execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd, encoding: 'utf8' })));
  return median(times);
}

/** The same model and weights written for every runtime under `work`. */
interface Written {
  readonly work: string;
  readonly bundle: string;
  readonly files: ReadonlyMap<string, number>;
  readonly runtimeBytes: number;
  readonly weights: readonly { data: Float32Array; shape: number[] }[];
  readonly tfModel: tf.Sequential;
}

async function writeModels(threads: number): Promise<Written> {
  const work = mkdtempSync(join(tmpdir(), 'kiln-bench-bundle-'));
  const kiln = mnistMlp();
  const weights = kiln.getWeights().map((w) => ({ data: w.data as Float32Array, shape: [...w.shape] as number[] }));
  const bundle = join(work, 'app', 'bundle');
  const { files } = await writeBundle(kiln, { out: bundle, targets: ['node-cpu', 'wasm'], batchSizes: BATCHES, threads });
  const runtime = stageRuntimePackage(join(work, 'app', 'node_modules', 'kiln'));
  await tf.setBackend('wasm');
  const tfModel = tfjsModel(weights);
  await saveTfjs(tfModel, join(work, 'tfjs'));
  writeFileSync(join(work, 'model.onnx'), onnxMlp(weights.map((w) => w.data)));
  return { work, bundle, files, runtimeBytes: runtime.bytes, weights, tfModel };
}

function printSizes(m: Written): void {
  const files = [...m.files.entries()];
  const bytes = (match: (f: string) => boolean): number => files.filter(([f]) => match(f)).reduce((s, [, b]) => s + b, 0);
  const common = bytes((f) => ['manifest.json', 'weights.bin', 'index.js', 'index.d.ts'].includes(f));
  const tfRuntime = ['tfjs-core', 'tfjs-layers', 'tfjs-backend-wasm'].reduce((s, p) => s + sizeOf(join(ROOT, 'node_modules/@tensorflow', p)), 0);
  const ortRuntime = sizeOf(join(ROOT, 'node_modules/onnxruntime-node')) + sizeOf(join(ROOT, 'node_modules/onnxruntime-common'));
  console.log('installed                         runtime   model files');
  console.log(`kiln node-cpu (avx2 only)     ${mb(m.runtimeBytes)} ${mb(common + bytes((f) => f.endsWith('.avx2.so')))}`);
  console.log(`kiln node-cpu (avx2 + avx512) ${mb(m.runtimeBytes)} ${mb(common + bytes((f) => f.endsWith('.so')))}`);
  console.log(`kiln wasm (both modules)      ${mb(m.runtimeBytes)} ${mb(common + bytes((f) => f.endsWith('.wasm')))}`);
  console.log(`tfjs core+layers+wasm         ${mb(tfRuntime)} ${mb(sizeOf(join(m.work, 'tfjs')))}`);
  console.log(`onnxruntime-node              ${mb(ortRuntime)} ${mb(sizeOf(join(m.work, 'model.onnx')))}`);
}

function printColdStart(m: Written, threads: number): void {
  const one = JSON.stringify(Array.from({ length: 784 }, (_, i) => (i % 97) / 97));
  const app = join(m.work, 'app');
  const kilnCold = (options: string): string => `const { load } = await import('kiln/runtime');\nconst m = await load('./bundle', ${options});\nawait m.predict({ dense_1_input: ${one} });`;
  const cold = [
    ['kiln node-cpu', coldStart(app, kilnCold("{ target: 'node-cpu' }"))],
    [`kiln wasm, ${threads} threads`, coldStart(app, kilnCold("{ target: 'wasm' }"))],
    ['kiln wasm, 1 thread', coldStart(app, kilnCold("{ target: 'wasm', threads: 1 }"))],
    ['tfjs-wasm', coldStart(ROOT, [
      "const tf = await import('@tensorflow/tfjs-core'); const tfl = await import('@tensorflow/tfjs-layers'); await import('@tensorflow/tfjs-backend-wasm');",
      "const { readFileSync } = await import('node:fs'); await tf.setBackend('wasm');",
      `const dir = ${JSON.stringify(join(m.work, 'tfjs'))}; const j = JSON.parse(readFileSync(dir + '/model.json', 'utf8'));`,
      "const w = readFileSync(dir + '/weights.bin'); const m = await tfl.loadLayersModel(tf.io.fromMemory({ modelTopology: j.modelTopology, weightSpecs: j.weightsManifest[0].weights, weightData: w.buffer.slice(w.byteOffset, w.byteOffset + w.byteLength) }));",
      `m.predict(tf.tensor(${one}, [1, 784])).dataSync();`,
    ].join('\n'))],
    ['onnxruntime-node', coldStart(ROOT, [
      "const ort = await import('onnxruntime-node');",
      `const s = await ort.InferenceSession.create(${JSON.stringify(join(m.work, 'model.onnx'))});`,
      `await s.run({ x: new ort.Tensor('float32', Float32Array.from(${one}), [1, 784]) });`,
    ].join('\n'))],
  ] as const;
  console.log('\ncold start (fresh process: imports, load, first prediction), ms, median of 5');
  for (const [name, ms] of cold) console.log(`${name.padEnd(29)} ${ms.toFixed(1).padStart(8)}`);
}

async function printThroughput(m: Written, threads: number): Promise<void> {
  const native = await load(m.bundle, { target: 'node-cpu' });
  const portable = await load(m.bundle, { target: 'wasm' });
  const portableOne = await load(m.bundle, { target: 'wasm', threads: 1 });
  const session = await ort.InferenceSession.create(onnxMlp(m.weights.map((w) => w.data)), { intraOpNumThreads: threads, interOpNumThreads: 1 });
  console.log(`\npredict, samples/s (median of 7 runs); node-cpu, onnxruntime and kiln wasm (workers) on ${threads} threads, tfjs-wasm on one`);
  console.log('   batch  kiln node-cpu  kiln wasm  wasm 1 thread  tfjs-wasm  onnxruntime  wasm/tfjs-wasm  (1 thread)');
  for (const batch of BATCHES) {
    const data = Float32Array.from({ length: batch * 784 }, (_, i) => (i % 97) / 97);
    const reps = Math.max(3, Math.round(1000 / batch));
    const rate = async (f: () => unknown): Promise<number> => batch / (await timeIt(f, reps));
    const k = await rate(() => native.predict({ dense_1_input: data }));
    const w = await rate(() => portable.predict({ dense_1_input: data }));
    const w1 = await rate(() => portableOne.predict({ dense_1_input: data }));
    const tx = tf.tensor(data, [batch, 784]);
    const t = await rate(() => tf.tidy(() => (m.tfModel.predict(tx) as tf.Tensor).dataSync()));
    tx.dispose();
    const feeds = { x: new ort.Tensor('float32', data, [batch, 784]) };
    const o = await rate(() => session.run(feeds));
    const f = (v: number, width: number): string => Math.round(v).toLocaleString('en-US').padStart(width);
    console.log(`${String(batch).padStart(8)} ${f(k, 14)} ${f(w, 10)} ${f(w1, 14)} ${f(t, 10)} ${f(o, 12)} ${(w / t).toFixed(2).padStart(15)} ${(w1 / t).toFixed(2).padStart(11)}`);
  }
  native.dispose();
  portable.dispose();
  portableOne.dispose();
  await session.release();
}

async function main(): Promise<void> {
  const threads = cpus().length;
  const written = await writeModels(threads);
  const busy = loadavg()[0];
  console.log(`mnist_mlp (784-512-512-10) deployed; ${cpus()[0]?.model ?? 'cpu'}, ${threads} cores; Node ${process.version}; load average ${busy.toFixed(1)}`);
  if (busy > threads / 2) console.log(`warning: other processes keep the cores busy (load ${busy.toFixed(1)} on ${threads} cores): every figure, the multi-threaded ones most, is below what this machine does when quiet`);
  console.log('');
  printSizes(written);
  printColdStart(written, threads);
  await printThroughput(written, threads);
  console.log(`\n(bundle and peers' files in ${written.work})`);
}

await main();
