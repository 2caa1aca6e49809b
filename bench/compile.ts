/**
 * `npm run bench:compile` (issue 11): how long a user waits for the first
 * prediction (batch 1) and the first training step (batch 128) of each model
 * the demo trains (mnist_mlp, mnist_cnn with Adadelta, addition_rnn with
 * Adam; mnist_mlp with RMSprop), from `import` in a fresh process, with an
 * empty compile cache (cold) and with the cache a previous process left
 * (warm), beside onnxruntime-node's import + session creation + first run
 * and TensorFlow.js's import + first predict of mnist_mlp, each in a fresh
 * process too. Cold runs also report where native compile time goes
 * (building the thread pool library once per cache, emitting LLVM IR
 * through llvm-bindings, splitting a large module into parts compiled side
 * by side, opt, llc, linking), wall time summed over the programs built; the
 * rest of the first call is the pass pipeline, initializing weights (on a
 * cold cache that builds the native Philox generator once), loading and
 * running. Median of 3 runs each.
 *
 * `node dist/bench/compile.js [--models mnist_mlp,mnist_cnn,addition_rnn] [--runs N] [--no-peers]`
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { median, fmt } from './stats.js';

type Step = 'predict' | 'train';
type Peer = 'ort' | 'tfjs';
type ModelName = keyof typeof MODELS;
interface Sample {
  readonly importMs: number;
  readonly firstMs: number;
  readonly stages: Readonly<Record<string, number>>;
}

/** Each demo model: its input and target shapes per sample, and the optimizer the demo trains it with. */
const MODELS = {
  mnist_mlp: { x: [784], y: [10], optimizer: 'rmsprop' },
  mnist_cnn: { x: [28, 28, 1], y: [10], optimizer: 'adadelta' },
  addition_rnn: { x: [5, 12], y: [3, 12], optimizer: 'adam' },
} as const;

const self = fileURLToPath(import.meta.url);

/** The native build's stages (codegen/llvm/toolchain.ts BUILD_TIMES), as columns. */
const STAGES = ['pool', 'emit', 'split', 'opt', 'llc', 'link'] as const;

/** Deterministic inputs in [0, 1) and one-hot targets (the last axis is the class axis). */
function data(shape: readonly number[], rows: number, oneHot: boolean): Float32Array {
  const size = rows * shape.reduce((a, b) => a * b, 1);
  if (!oneHot) return Float32Array.from({ length: size }, (_, i) => ((i * 2654435761) >>> 0) / 4294967296);
  const classes = shape[shape.length - 1];
  const out = new Float32Array(size);
  for (let r = 0; r < size / classes; r++) out[r * classes + (r % classes)] = 1;
  return out;
}

/** One measurement of Kiln in this (fresh) process: import, build the model, first predict or first training step. */
async function kilnChild(step: Step, name: ModelName): Promise<Sample> {
  const t0 = performance.now();
  const { tensor, optimizers } = await import('../src/index.js');
  const { BUILD_TIMES } = await import('../codegen/llvm/toolchain.js');
  const { mnistMlp, mnistCnn } = await import('./mnist_mlp.js');
  const build = name === 'mnist_mlp' ? mnistMlp : name === 'mnist_cnn' ? mnistCnn : (await import('../scripts/addition_rnn.js')).additionRnnModel;
  const spec = MODELS[name];
  const t1 = performance.now();
  const model = build();
  const rows = step === 'predict' ? 1 : 128;
  const x = tensor(data(spec.x, rows, false), [rows, ...spec.x]);
  if (step === 'predict') {
    await model.predict(x, { batchSize: rows });
  } else {
    // As the demo compiles each model (scripts/demo.ts, scripts/addition_rnn.ts).
    const optimizer = spec.optimizer === 'adadelta' ? new optimizers.Adadelta({ lr: 1.0 }) : spec.optimizer;
    model.compile({ optimizer, loss: 'categorical_crossentropy', metrics: ['accuracy'] });
    await model.trainOnBatch(x, tensor(data(spec.y, rows, true), [rows, ...spec.y]));
  }
  const firstMs = performance.now() - t1;
  const stages: Record<string, number> = {};
  for (const b of BUILD_TIMES) stages[b.stage] = (stages[b.stage] ?? 0) + b.ms;
  return { importMs: t1 - t0, firstMs, stages };
}

async function peerChild(peer: Peer): Promise<Sample> {
  const t0 = performance.now();
  const { mnistMlpOnnx, mnistMlpTfjs } = await import('./compile_peers.js');
  const run = peer === 'ort' ? await mnistMlpOnnx() : await mnistMlpTfjs();
  const t1 = performance.now();
  await run();
  return { importMs: t1 - t0, firstMs: performance.now() - t1, stages: {} };
}

function spawn(args: readonly string[], cacheDir: string): Sample {
  const out = execFileSync(process.execPath, [self, '--child', ...args], { env: { ...process.env, KILN_CACHE_DIR: cacheDir }, encoding: 'utf8', maxBuffer: 16 << 20 });
  return JSON.parse(out.trim().split('\n').pop()!) as Sample;
}

function summarize(label: string, samples: readonly Sample[]): string {
  const total = median(samples.map((s) => s.importMs + s.firstMs));
  const stages = STAGES.map((k) => median(samples.map((s) => s.stages[k] ?? 0)));
  const rest = median(samples.map((s) => s.firstMs - Object.values(s.stages).reduce((a, b) => a + b, 0)));
  return `| ${label} | ${fmt(total / 1000, 2)} | ${fmt(median(samples.map((s) => s.importMs)) / 1000, 2)} | ${stages.map((v) => fmt(v / 1000, 2)).join(' | ')} | ${fmt(rest / 1000, 2)} |`;
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { models: { type: 'string', default: Object.keys(MODELS).join(',') }, runs: { type: 'string', default: '3' }, 'no-peers': { type: 'boolean', default: false } } });
  const runs = Number(values.runs);
  if (!Number.isInteger(runs) || runs < 1) throw new Error(`--runs takes a positive integer, got '${values.runs}'`);
  const models = values.models.split(',').map((m) => {
    if (!(m in MODELS)) throw new Error(`--models: unknown model '${m}'; the models are ${Object.keys(MODELS).join(', ')}`);
    return m as ModelName;
  });
  console.log(`| step | total s | import s | ${STAGES.map((k) => `${k} s`).join(' | ')} | rest s (passes, load, run) |`);
  console.log(`|---|---|---|${STAGES.map(() => '---|').join('')}---|`);
  for (const name of models) {
    for (const step of ['predict', 'train'] as const) {
      const cold: Sample[] = [];
      const warm: Sample[] = [];
      for (let r = 0; r < runs; r++) {
        const dir = mkdtempSync(join(tmpdir(), 'kiln-bench-cache-'));
        cold.push(spawn([step, name], dir));
        warm.push(spawn([step, name], dir));
        rmSync(dir, { recursive: true, force: true });
      }
      const what = step === 'predict' ? 'first predict, batch 1' : 'first trainOnBatch, batch 128';
      console.log(summarize(`${name}: Kiln ${what}, cold cache`, cold));
      console.log(summarize(`${name}: Kiln ${what}, warm cache`, warm));
    }
  }
  if (values['no-peers']) return;
  const scratch = mkdtempSync(join(tmpdir(), 'kiln-bench-cache-'));
  for (const peer of ['ort', 'tfjs'] as const) {
    const samples = Array.from({ length: runs }, () => spawn([peer], scratch));
    console.log(summarize(peer === 'ort' ? 'mnist_mlp: onnxruntime-node: import, session, first run (batch 1)' : 'mnist_mlp: tfjs (cpu): import, model, first predict (batch 1)', samples));
  }
  rmSync(scratch, { recursive: true, force: true });
}

if (process.argv[2] === '--child') {
  const [what, model] = process.argv.slice(3);
  const sample = what === 'ort' || what === 'tfjs' ? await peerChild(what) : await kilnChild(what as Step, model as ModelName);
  console.log(JSON.stringify(sample));
} else {
  await main();
}
