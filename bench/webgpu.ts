/**
 * `npm run bench:webgpu`: predict and fit throughput (samples/s) of the demo
 * model (mnist_mlp) on the WebGPU backend, beside Kiln's CPU backend measured
 * in the same run, then the slowest kernels of a train step and of predict
 * (KILN_PROFILE=1: GPU timestamps where the adapter has `timestamp-query`,
 * else wall-clock per submit).
 *
 * Each backend runs in a child process of its own, so neither's threads or
 * memory disturb the other's figures. Options: --samples N
 * (fit samples per epoch, default 8192), --predict N (default 10000).
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { type Sequential, optimizers, tensor } from '../src/index.js';
import { fitRate, mnistMlp, syntheticData } from './mnist_mlp.js';
import type { BackendName } from '../runtime/executor.js';
import { median } from './stats.js';

const { values: opts } = parseArgs({
  options: { samples: { type: 'string', default: '8192' }, predict: { type: 'string', default: '10000' }, child: { type: 'string' }, profile: { type: 'boolean', default: false } },
});
const SAMPLES = Number(opts.samples);
const PREDICT = Number(opts.predict);
const BATCHES = [32, 128];

function mlp(backend: BackendName): Sequential {
  const model = mnistMlp();
  model.compile({ optimizer: new optimizers.RMSprop(), loss: 'categorical_crossentropy', metrics: ['accuracy'], backend });
  return model;
}

interface Rates {
  readonly fit: Record<number, number>;
  readonly predict: Record<number, number>;
  readonly adapter?: string;
}

/** In a child: median of 3 runs for fit (one epoch) and predict at each batch size. */
async function measure(backend: BackendName): Promise<Rates> {
  const n = Math.max(SAMPLES, PREDICT);
  const { x, y } = syntheticData(n);
  const fit: Record<number, number> = {};
  const predict: Record<number, number> = {};
  for (const batch of BATCHES) {
    const model = mlp(backend);
    fit[batch] = await fitRate(model, x, y, SAMPLES, batch);
    const xp = tensor(x.subarray(0, PREDICT * 784), [PREDICT, 784]);
    await model.predict(tensor(x.subarray(0, batch * 784), [batch, 784]), { batchSize: batch });
    const ptimes: number[] = [];
    for (let r = 0; r < 3; r++) {
      const t0 = performance.now();
      await model.predict(xp, { batchSize: batch });
      ptimes.push((performance.now() - t0) / 1000);
    }
    predict[batch] = PREDICT / median(ptimes);
    model.dispose();
  }
  const adapter = backend === 'webgpu' ? (await (await import('../runtime/webgpu/device.js')).getGpu()).adapterName : undefined;
  return { fit, predict, adapter };
}

/** In a child with KILN_PROFILE=1: 5 train steps and 5 predict batches at batch 128, slowest kernels first. */
async function profile(): Promise<void> {
  const { kernelTimes } = await import('../runtime/webgpu/profile.js');
  const { x, y } = syntheticData(128 * 5);
  const model = mlp('webgpu');
  await model.fit(tensor(x, [640, 784]), tensor(y, [640, 10]), { batchSize: 128, epochs: 1, verbose: 0 });
  await model.predict(tensor(x, [640, 784]), { batchSize: 128 });
  const { source, kernels } = kernelTimes();
  const total = kernels.reduce((s, k) => s + k.totalMs, 0);
  console.log(`per-kernel times (${source}), batch 128, 5 runs each of the train step and predict; ${kernels.length} kernels, top 12:`);
  console.log('  ms/run   share  kernel');
  for (const k of kernels.slice(0, 12)) console.log(`${(k.totalMs / k.runs).toFixed(3).padStart(8)} ${((100 * k.totalMs) / total).toFixed(1).padStart(6)}%  ${k.kernel}`);
}

function child(args: string[], env: NodeJS.ProcessEnv = {}): string {
  const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), ...args, '--samples', String(SAMPLES), '--predict', String(PREDICT)], { encoding: 'utf8', env: { ...process.env, ...env }, maxBuffer: 1 << 24 });
  if (r.status !== 0) throw new Error(`bench child ${args.join(' ')} failed:\n${r.stderr}`);
  return r.stdout;
}

async function main(): Promise<void> {
  if (opts.child) {
    console.log(JSON.stringify(await measure(opts.child as BackendName)));
    return;
  }
  if (opts.profile) return profile();
  const gpu = JSON.parse(child(['--child', 'webgpu']).trim().split('\n').pop()!) as Rates;
  const cpu = JSON.parse(child(['--child', 'cpu']).trim().split('\n').pop()!) as Rates;
  console.log(`mnist_mlp on WebGPU (${gpu.adapter}) vs Kiln's CPU backend, samples/s, median of 3`);
  console.log(`fit: one epoch of ${SAMPLES} samples; predict: ${PREDICT} samples\n`);
  console.log('            batch     webgpu        cpu  webgpu/cpu');
  const f = (v: number): string => Math.round(v).toLocaleString('en-US').padStart(10);
  for (const [what, g, c] of [['fit', gpu.fit, cpu.fit], ['predict', gpu.predict, cpu.predict]] as const) {
    for (const b of BATCHES) console.log(`${what.padEnd(8)} ${String(b).padStart(8)} ${f(g[b])} ${f(c[b])} ${(g[b] / c[b]).toFixed(2).padStart(11)}`);
  }
  console.log();
  process.stdout.write(child(['--profile'], { KILN_PROFILE: '1' }));
}

await main();
