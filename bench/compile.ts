/**
 * `npm run bench:compile` (issue 11): how long a user waits for the first
 * prediction (batch 1) and the first training step (batch 128) of the Keras
 * mnist_mlp model, from `import` in a fresh process, with an empty compile
 * cache (cold) and with the cache a previous process left (warm), beside
 * onnxruntime-node's import + session creation + first run and TensorFlow.js's
 * import + first predict, each in a fresh process too. Cold runs also report
 * where native compile time goes (emitting LLVM IR through llvm-bindings,
 * opt, llc, linking), summed over the programs built; the rest of the first
 * call is the pass pipeline, loading and running. Median of 3 runs each.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { median, fmt } from './stats.js';

type Scenario = 'predict' | 'train' | 'ort' | 'tfjs';
interface Sample {
  readonly importMs: number;
  readonly firstMs: number;
  readonly stages: Readonly<Record<string, number>>;
}

const RUNS = 3;
const self = fileURLToPath(import.meta.url);

/** One measurement in this (fresh) process. */
async function child(scenario: Scenario): Promise<Sample> {
  const t0 = performance.now();
  if (scenario === 'ort' || scenario === 'tfjs') {
    const { mnistMlpOnnx, mnistMlpTfjs } = await import('./compile_peers.js');
    const run = scenario === 'ort' ? await mnistMlpOnnx() : await mnistMlpTfjs();
    const t1 = performance.now();
    await run();
    return { importMs: t1 - t0, firstMs: performance.now() - t1, stages: {} };
  }
  const { tensor } = await import('../src/index.js');
  const { BUILD_TIMES } = await import('../codegen/llvm/toolchain.js');
  const { mnistMlp, syntheticData } = await import('./mnist_mlp.js');
  const t1 = performance.now();
  const model = mnistMlp();
  if (scenario === 'predict') {
    await model.predict(tensor(syntheticData(1).x, [1, 784]), { batchSize: 1 });
  } else {
    const { x, y } = syntheticData(128);
    model.compile({ optimizer: 'rmsprop', loss: 'categorical_crossentropy', metrics: ['accuracy'] });
    await model.trainOnBatch(tensor(x, [128, 784]), tensor(y, [128, 10]));
  }
  const firstMs = performance.now() - t1;
  const stages: Record<string, number> = {};
  for (const b of BUILD_TIMES) stages[b.stage] = (stages[b.stage] ?? 0) + b.ms;
  return { importMs: t1 - t0, firstMs, stages };
}

function spawn(scenario: Scenario, cacheDir: string): Sample {
  const out = execFileSync(process.execPath, [self, '--child', scenario], { env: { ...process.env, KILN_CACHE_DIR: cacheDir }, encoding: 'utf8', maxBuffer: 16 << 20 });
  return JSON.parse(out.trim().split('\n').pop()!) as Sample;
}

function summarize(label: string, samples: readonly Sample[]): string {
  const total = median(samples.map((s) => s.importMs + s.firstMs));
  const stages = ['emit', 'opt', 'llc', 'link'].map((k) => median(samples.map((s) => s.stages[k] ?? 0)));
  const rest = median(samples.map((s) => s.firstMs - Object.values(s.stages).reduce((a, b) => a + b, 0)));
  return `| ${label} | ${fmt(total / 1000, 2)} | ${fmt(median(samples.map((s) => s.importMs)) / 1000, 2)} | ${stages.map((v) => fmt(v / 1000, 2)).join(' | ')} | ${fmt(rest / 1000, 2)} |`;
}

async function main(): Promise<void> {
  const rows: string[] = [];
  for (const scenario of ['predict', 'train'] as const) {
    const cold: Sample[] = [];
    const warm: Sample[] = [];
    for (let r = 0; r < RUNS; r++) {
      const dir = mkdtempSync(join(tmpdir(), 'kiln-bench-cache-'));
      cold.push(spawn(scenario, dir));
      warm.push(spawn(scenario, dir));
      rmSync(dir, { recursive: true, force: true });
    }
    const what = scenario === 'predict' ? 'first predict, batch 1' : 'first trainOnBatch, batch 128';
    rows.push(summarize(`Kiln ${what}, cold cache`, cold), summarize(`Kiln ${what}, warm cache`, warm));
  }
  const scratch = mkdtempSync(join(tmpdir(), 'kiln-bench-cache-'));
  for (const peer of ['ort', 'tfjs'] as const) {
    const samples = Array.from({ length: RUNS }, () => spawn(peer, scratch));
    rows.push(summarize(peer === 'ort' ? 'onnxruntime-node: import, session, first run (batch 1)' : 'tfjs (cpu): import, model, first predict (batch 1)', samples));
  }
  rmSync(scratch, { recursive: true, force: true });
  console.log('| step | total s | import s | emit s | opt s | llc s | link s | rest s (passes, load, run) |');
  console.log('|---|---|---|---|---|---|---|---|');
  rows.forEach((r) => console.log(r));
}

if (process.argv[2] === '--child') {
  const sample = await child(process.argv[3] as Scenario);
  console.log(JSON.stringify(sample));
} else {
  await main();
}
