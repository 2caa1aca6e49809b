/**
 * Keras 3 on TensorFlow and on JAX as peers in `npm run bench:cnn`: bench/peers/keras_cnn.py
 * run in one child process per backend (after Kiln's timings, one at a time), with the Python
 * of the virtualenv that bench/peers/setup-keras.sh makes. Optional: where that Python is
 * absent the bench prints how to make it and carries on; the project never needs Python.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const KERAS_BACKENDS = ['tensorflow', 'jax'] as const;
export type KerasBackend = (typeof KERAS_BACKENDS)[number];
export const KERAS_BATCHES = [1, 32, 128] as const;
type Batch = (typeof KERAS_BATCHES)[number];

/** What keras_cnn.py measures, in samples/s. */
export interface KerasFigures {
  backend: KerasBackend;
  versions: Record<string, string>;
  /** The CPUs the child could run on (its thread pools size themselves to them). */
  cpus: number;
  jitCompile: boolean;
  /** null under KILN_BENCH_CNN_ONLY=predict. */
  fit: number | null;
  /** model.predict(x, batch_size=batch). */
  predict: Record<Batch, number>;
  /** model.predict_on_batch(x): the same compiled function without predict's per-call data adapter and callbacks. */
  predictOnBatch: Record<Batch, number>;
}

/** Kiln's figures from the same run, to rate Keras against. */
export interface KilnFigures {
  fit?: number;
  predict: Record<Batch, number>;
}

const SETUP = 'bash bench/peers/setup-keras.sh';
/** A child that runs longer than this is killed (the TensorFlow one takes about a minute here). */
const CHILD_TIMEOUT_MS = 20 * 60_000;

export function defaultKerasPython(env: NodeJS.ProcessEnv = process.env): string {
  return join(env.HOME || homedir(), '.cache', 'kiln-keras-venv', 'bin', 'python');
}

/** The Python to run Keras with (KILN_BENCH_KERAS_PYTHON, else the setup script's default venv), or the line to print instead. */
export function findKerasPython(env: NodeJS.ProcessEnv = process.env): { python: string } | { hint: string } {
  const chosen = env.KILN_BENCH_KERAS_PYTHON;
  const python = chosen || defaultKerasPython(env);
  if (existsSync(python)) return { python };
  const why = chosen ? `KILN_BENCH_KERAS_PYTHON=${chosen} does not exist` : `no Keras virtualenv at ${dirname(dirname(python))}`;
  return { hint: `keras: skipped (${why}); to run Keras 3 on TensorFlow and JAX beside Kiln: ${SETUP}${chosen ? ' DIR, then KILN_BENCH_KERAS_PYTHON=DIR/bin/python' : ''}` };
}

function rate(value: unknown, what: string, backend: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) throw new Error(`keras-${backend}: ${what} should be a positive number of samples/s, got ${JSON.stringify(value)}`);
  return value;
}

function rates(value: unknown, what: string, backend: string): Record<Batch, number> {
  const table = (typeof value === 'object' && value !== null ? value : {}) as Record<string, unknown>;
  const out = {} as Record<Batch, number>;
  for (const b of KERAS_BATCHES) out[b] = rate(table[String(b)], `${what} at batch ${b}`, backend);
  return out;
}

/** The figures in the last line of keras_cnn.py's stdout that is a JSON object (Python libraries may print above it). */
export function parseKerasLine(stdout: string, backend: KerasBackend): KerasFigures {
  const line = stdout.split('\n').map((l) => l.trim()).reverse().find((l) => l.startsWith('{'));
  if (!line) throw new Error(`keras-${backend}: printed no JSON line; stdout ended: ${JSON.stringify(stdout.slice(-300))}`);
  let j: Record<string, unknown>;
  try {
    j = JSON.parse(line) as Record<string, unknown>;
  } catch (e) {
    throw new Error(`keras-${backend}: its last line is not JSON (${(e as Error).message}): ${line.slice(0, 300)}`);
  }
  if (j.backend !== backend) throw new Error(`keras-${backend}: the child ran backend ${JSON.stringify(j.backend)}, expected ${backend}`);
  const cpus = j.cpus;
  if (typeof cpus !== 'number' || !Number.isInteger(cpus) || cpus < 1) throw new Error(`keras-${backend}: cpus should be a positive integer, got ${JSON.stringify(cpus)}`);
  return {
    backend,
    versions: (typeof j.versions === 'object' && j.versions !== null ? j.versions : {}) as Record<string, string>,
    cpus,
    jitCompile: j.jit_compile === true,
    fit: j.fit === null ? null : rate(j.fit, 'fit', backend),
    predict: rates(j.predict, 'predict', backend),
    predictOnBatch: rates(j.predict_on_batch, 'predict_on_batch', backend),
  };
}

function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json')) && dirname(dir) !== dir) dir = dirname(dir);
  return dir;
}

/** Runs keras_cnn.py on `backend` in a child process; rejects with the child's error output when it fails. */
export function runKerasPeer(python: string, backend: KerasBackend, threads: number): Promise<KerasFigures> {
  const script = join(packageRoot(), 'bench', 'peers', 'keras_cnn.py');
  const env = { ...process.env, KERAS_BACKEND: backend, KILN_BENCH_KERAS_THREADS: String(threads), TF_CPP_MIN_LOG_LEVEL: '2' };
  return new Promise((resolve, reject) => {
    const child = spawn(python, [script], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    const [out, err]: string[][] = [[], []];
    child.stdout.on('data', (d: Buffer) => out.push(d.toString()));
    child.stderr.on('data', (d: Buffer) => err.push(d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), CHILD_TIMEOUT_MS);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(new Error(`keras-${backend}: could not start ${python}: ${e.message}`));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code !== 0) {
        const tail = err.join('').trim().split('\n').slice(-6).join('\n  ');
        reject(new Error(`keras-${backend}: ${python} ${script} ${signal ? `was killed (${signal})` : `exited with code ${code}`}${tail ? `:\n  ${tail}` : ''}`));
        return;
      }
      try {
        resolve(parseKerasLine(out.join(''), backend));
      } catch (e) {
        reject(e as Error);
      }
    });
  });
}

const LABEL = 32;
const f = (v: number): string => Math.round(v).toLocaleString('en-US').padStart(8);
/** kiln/keras in 5 characters: 2 decimals below 10, 1 below 100, none above. */
const ratio = (r: number): string => r.toFixed(r < 10 ? 2 : r < 100 ? 1 : 0).padStart(5);
const cell = (keras: number, kiln: number | undefined): string => `${f(keras)} ${kiln === undefined ? '     ' : ratio(kiln / keras)}`;
const row = (label: string, fit: string, batches: readonly string[]): string => `${label.padEnd(LABEL)} ${fit}  ${batches.join('  ')}`;

/** The column heads over kerasRows. */
export function kerasHeader(): string {
  const head = (name: string): string => `${name.padStart(8)} ${'k/ks'.padStart(5)}`;
  return row('', head('fit 128'), KERAS_BATCHES.map((b) => head(`pred ${b}`)));
}

/** Table rows for one backend: its samples/s, each followed by Kiln's ratio against it (k/ks: kiln/keras). */
export function kerasRows(kiln: KilnFigures, k: KerasFigures): string[] {
  const fit = k.fit === null ? ' '.repeat(14) : cell(k.fit, kiln.fit);
  return [
    row(`keras ${k.versions.keras ?? ''} ${k.backend} ${k.versions[k.backend] ?? ''}`, fit, KERAS_BATCHES.map((b) => cell(k.predict[b], kiln.predict[b]))),
    row(`  xla ${k.jitCompile ? 'on' : 'off'}; predict_on_batch`, ' '.repeat(14), KERAS_BATCHES.map((b) => cell(k.predictOnBatch[b], kiln.predict[b]))),
  ];
}

/** Runs both backends one after the other and prints their figures beside Kiln's; a failing child prints its error and the rest carries on. */
export async function printKerasPeers(kiln: KilnFigures, threads: number): Promise<void> {
  const found = findKerasPython();
  if ('hint' in found) {
    console.log(`\n${found.hint}`);
    return;
  }
  console.log(`\nkeras in child processes (${found.python}), samples/s, each with kiln/keras (k/ks); fit at batch 128, predict (pred) at batch 1, 32 and 128`);
  console.log('by model.predict(x, batch_size) (first row of each backend) and model.predict_on_batch(x) (second row)');
  console.log(kerasHeader());
  for (const backend of KERAS_BACKENDS) {
    try {
      const k = await runKerasPeer(found.python, backend, threads);
      for (const row of kerasRows(kiln, k)) console.log(row);
      if (k.cpus !== threads) console.log(`  (keras-${backend} ran on ${k.cpus} CPUs, kiln on ${threads} threads)`);
    } catch (e) {
      console.log((e as Error).message);
    }
  }
}
