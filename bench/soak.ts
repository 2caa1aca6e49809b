/**
 * `npm run bench:soak`: does a long-running process stay flat? Three phases
 * on Keras's mnist_mlp (CPU backend): 10,000 training steps (batch 32),
 * 100,000 predicts (batch 8), and 200 models created, used once and
 * disposed. RSS and V8 heap are printed at intervals; each phase reports its
 * last reading against its first (after warm-up). Run with --expose-gc (the
 * npm script does) so readings follow a collection and measure what is held,
 * not what is waiting for the collector.
 */
import { cpus } from 'node:os';
import { tensor } from '../src/index.js';
import { mnistMlp, syntheticData } from './mnist_mlp.js';

const MB = 2 ** 20;
const TRAIN_STEPS = 10_000;
const PREDICTS = 100_000;
const MODELS = 200;
const READINGS = 10;

interface Reading {
  readonly rss: number;
  readonly heap: number;
}

function read(): Reading {
  (globalThis as { gc?: () => void }).gc?.();
  const m = process.memoryUsage();
  return { rss: m.rss / MB, heap: m.heapUsed / MB };
}

function line(phase: string, done: string, r: Reading, seconds: number): void {
  console.log(`${phase.padEnd(8)} ${done.padStart(16)}  rss ${r.rss.toFixed(1).padStart(7)} MB  heap ${r.heap.toFixed(1).padStart(6)} MB  ${seconds.toFixed(1).padStart(6)} s`);
}

/** Runs `work(i)` for i < total, printing a reading every total/READINGS; returns the first and last readings. */
async function phase(name: string, total: number, unit: string, work: (i: number) => Promise<void>, per = 1): Promise<[Reading, Reading]> {
  const t0 = performance.now();
  const first = read();
  line(name, `0 ${unit}`, first, 0);
  let last = first;
  for (let i = 0; i < total; i++) {
    await work(i);
    if ((i + 1) % (total / READINGS) === 0) {
      last = read();
      line(name, `${(i + 1) * per} ${unit}`, last, (performance.now() - t0) / 1000);
    }
  }
  return [first, last];
}

function drift(name: string, [first, last]: [Reading, Reading]): string {
  const pct = (a: number, b: number): string => `${(((b - a) / a) * 100).toFixed(1)}%`;
  return `${name}: rss ${first.rss.toFixed(1)} -> ${last.rss.toFixed(1)} MB (${pct(first.rss, last.rss)}), heap ${first.heap.toFixed(1)} -> ${last.heap.toFixed(1)} MB (${pct(first.heap, last.heap)})`;
}

async function main(): Promise<void> {
  console.log(`bench:soak, mnist_mlp on the CPU backend; ${cpus()[0]?.model ?? 'cpu'}, ${cpus().length} cores; Node ${process.version}; gc ${typeof (globalThis as { gc?: unknown }).gc === 'function' ? 'exposed' : 'NOT exposed (readings include garbage)'}`);
  const batch = 32;
  const samples = 100 * batch;
  const { x, y } = syntheticData(samples);
  const xs = tensor(x, [samples, 784]);
  const ys = tensor(y, [samples, 10]);
  const model = mnistMlp();
  model.compile({ optimizer: 'rmsprop', loss: 'categorical_crossentropy', metrics: ['accuracy'], backend: 'cpu' });
  // Warm-up: compile the train, test and predict programs once.
  await model.fit(xs, ys, { batchSize: batch, epochs: 1, verbose: 0 });
  const probe = tensor(x.subarray(0, 8 * 784), [8, 784]);
  await model.predict(probe, { batchSize: 8 });

  const epochs = TRAIN_STEPS / (samples / batch);
  const train = await phase('train', epochs, 'steps', async () => {
    await model.fit(xs, ys, { batchSize: batch, epochs: 1, verbose: 0 });
  }, samples / batch);
  const predict = await phase('predict', PREDICTS, 'predicts', async () => {
    await model.predict(probe, { batchSize: 8 });
  });
  model.dispose();

  const warm = mnistMlp();
  warm.compile({ optimizer: 'rmsprop', loss: 'categorical_crossentropy', backend: 'cpu' });
  await warm.predict(probe, { batchSize: 8 });
  warm.dispose();
  const models = await phase('models', MODELS, 'models', async () => {
    const m = mnistMlp();
    m.compile({ optimizer: 'rmsprop', loss: 'categorical_crossentropy', backend: 'cpu' });
    await m.predict(probe, { batchSize: 8 });
    m.dispose();
  });
  console.log(`\n${drift(`train (${TRAIN_STEPS} steps)`, train)}\n${drift(`predict (${PREDICTS})`, predict)}\n${drift(`models (${MODELS} created and disposed)`, models)}`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
