/**
 * `npm run bench:contention`: mnist_mlp fit and predict throughput (batch
 * 128, samples/s) while 0 or 1 cores are kept busy by a spinning child
 * process, with the default thread count beside KILN_NUM_THREADS=1. Each
 * configuration runs in a fresh process (the thread count is read once per
 * process). The goal (issue 16): with one core busy, the default stays at or
 * above 90% of the single-thread figure, and nothing changes when no other
 * process runs. `-- --samples N` sets the samples per timed epoch (default
 * 8192), `-- --threads N` the default-threads row's KILN_NUM_THREADS,
 * `-- --rounds N` repeats the four configurations N times, interleaved, and
 * reports each one's median (default 1).
 * The last column is the share of parallel regions Kiln's thread pool ran on
 * the calling thread alone (codegen/llvm/pool_source.ts: it does so while
 * the team is slower than the caller would be alone).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import koffi from 'koffi';
import { fileURLToPath } from 'node:url';
import { optimizers, tensor } from '../src/index.js';
import { fitRate, mnistMlp, syntheticData } from './mnist_mlp.js';
import { median } from './stats.js';

const BATCH = 128;

function argValue(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  const v = i >= 0 ? Number(process.argv[i + 1]) : fallback;
  if (!Number.isInteger(v) || v < 1) throw new Error(`bench:contention: ${name} needs a positive integer, got ${process.argv[i + 1]}`);
  return v;
}

/** Share of this process's parallel regions that the pool ran on the caller alone (null: no pool loaded). */
function aloneShare(): number | null {
  const pool = readFileSync('/proc/self/maps', 'utf8').split('\n').map((l) => l.trim().split(/\s+/)[5] ?? '').find((p) => /kiln_pool\.[0-9a-f]{32}\.so$/.test(p));
  if (!pool) return null;
  const out = new BigUint64Array(6);
  koffi.load(pool).func('void kiln_pool_stats(_Out_ uint64_t *out)')(out);
  const [team, alone, , , , busy] = Array.from(out, Number);
  return team + alone + busy > 0 ? (alone + busy) / (team + alone + busy) : null;
}

/** In a child: fit and predict rates for this process's KILN_NUM_THREADS, printed as one JSON line. */
async function measure(samples: number): Promise<void> {
  const { x, y } = syntheticData(samples);
  const model = mnistMlp();
  model.compile({ optimizer: new optimizers.RMSprop(), loss: 'categorical_crossentropy', metrics: ['accuracy'] });
  const fit = await fitRate(model, x, y, samples, BATCH);
  const xs = tensor(x, [samples, 784]);
  await model.predict(xs, { batchSize: BATCH });
  const times: number[] = [];
  for (let r = 0; r < 3; r++) {
    const t0 = performance.now();
    await model.predict(xs, { batchSize: BATCH });
    times.push((performance.now() - t0) / 1000);
  }
  model.dispose();
  process.stdout.write(`${JSON.stringify({ fit, predict: samples / median(times), alone: aloneShare() })}\n`);
}

/** A process that keeps one core busy until killed. */
function spinner(): ChildProcess {
  return spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' });
}

function runChild(samples: number, threads: number | null): Promise<{ fit: number; predict: number; alone: number | null }> {
  const env = { ...process.env };
  if (threads === null) delete env.KILN_NUM_THREADS;
  else env.KILN_NUM_THREADS = String(threads);
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url), '--measure', '--samples', String(samples)], { env, stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out.trim().split('\n').pop()!)) : reject(new Error(`bench:contention: the measuring process exited with ${code}`))));
  });
}

async function main(): Promise<void> {
  const samples = argValue('--samples', 8192);
  if (process.argv.includes('--measure')) return measure(samples);
  const defaultThreads = process.argv.includes('--threads') ? argValue('--threads', 1) : null;
  console.log(`mnist_mlp at batch ${BATCH}, samples/s (median of 3 epochs of ${samples}, and of rounds); ${cpus()[0]?.model ?? 'cpu'}, ${cpus().length} cores`);
  console.log(`busy cores: spinning child processes started before each measuring process\n`);
  console.log('busy  threads         fit     predict  run alone');
  const rounds = argValue('--rounds', 1);
  const configs = [0, 1].flatMap((busy) => [defaultThreads, 1].map((threads) => ({ busy, threads, runs: [] as { fit: number; predict: number; alone: number | null }[] })));
  for (let round = 0; round < rounds; round++) {
    for (const c of configs) {
      const spinners = Array.from({ length: c.busy }, spinner);
      try {
        c.runs.push(await runChild(samples, c.threads));
      } finally {
        for (const s of spinners) s.kill('SIGKILL');
      }
    }
  }
  const rows = configs.map((c) => {
    const alone = c.runs.map((r) => r.alone).filter((a): a is number => a !== null);
    const r = { busy: c.busy, label: c.threads === null ? `default (${cpus().length})` : String(c.threads), fit: median(c.runs.map((x) => x.fit)), predict: median(c.runs.map((x) => x.predict)), alone: alone.length ? median(alone) : null };
    const f = (v: number): string => Math.round(v).toLocaleString('en-US').padStart(11);
    const share = r.alone === null ? '' : `${(r.alone * 100).toFixed(0)}%`;
    console.log(`${String(r.busy).padStart(4)}  ${r.label.padEnd(11)} ${f(r.fit)} ${f(r.predict)} ${share.padStart(10)}`);
    return r;
  });
  const [busyDefault, busyOne] = rows.filter((r) => r.busy === 1);
  console.log(`\nwith 1 core busy, the default thread count as a share of 1 thread: fit ${(busyDefault.fit / busyOne.fit * 100).toFixed(0)}%, predict ${(busyDefault.predict / busyOne.predict * 100).toFixed(0)}%`);
}

await main();
