/**
 * Saves are atomic: a process killed with SIGKILL at a random moment while
 * saveModel (or ModelCheckpoint) rewrites a file always leaves a file that
 * loads, holding one whole version (every weight of version k equals k).
 * Runs the built package (dist/) in child processes, KILN_KILL_TRIES times
 * per format (default 6).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { Sequential, layers, loadModel } from '../../src/index.js';
import { rng } from './fuzz_mutators.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const TRIES = Number(process.env.KILN_KILL_TRIES ?? 6);
const dir = mkdtempSync(join(tmpdir(), 'kiln-kill-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The child saves versions 0, 1, 2, ... of a model whose every weight equals the version number, forever. */
const SAVER = `
  import { Sequential, layers, tensor } from './dist/src/index.js';
  const [path, mode] = process.argv.slice(1);
  const m = new Sequential([new layers.Dense(256, { inputShape: [256], kernelInitializer: 'zeros' }), new layers.Dense(64, { kernelInitializer: 'zeros' })]);
  for (let k = 0; ; k++) {
    m.setWeights(m.getWeights().map((w) => tensor(new Float32Array(w.data.length).fill(k), w.shape)));
    if (mode === 'weights') await m.saveWeights(path); else await m.save(path);
    if (k === 0) console.log('ready');
  }`;

/** ModelCheckpoint after every epoch of a long fit. */
const CHECKPOINTER = `
  import { Sequential, layers, callbacks, tensor } from './dist/src/index.js';
  const [path, weightsOnly] = process.argv.slice(1);
  const m = new Sequential([new layers.Dense(128, { inputShape: [64] }), new layers.Dense(4)]);
  m.compile({ optimizer: 'sgd', loss: 'mse', backend: 'interpreter' });
  const x = tensor(new Float32Array(64 * 64).fill(0.5), [64, 64]);
  const y = tensor(new Float32Array(64 * 4).fill(1), [64, 4]);
  if (weightsOnly === 'true') await m.saveWeights(path); else await m.save(path);
  console.log('ready');
  await m.fit(x, y, { epochs: 100000, batchSize: 64, verbose: 0, callbacks: [new callbacks.ModelCheckpoint(path, { saveWeightsOnly: weightsOnly === 'true' })] });`;

/** Starts `script`, waits for its first save, kills it `delayMs` later. */
function killAfterFirstSave(script: string, args: string[], delayMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', script, ...args], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d) => (err += String(d)));
    child.stdout.on('data', (d) => {
      if (String(d).includes('ready')) setTimeout(() => child.kill('SIGKILL'), delayMs);
    });
    child.on('exit', (code, signal) => (signal === 'SIGKILL' ? resolve() : reject(new Error(`the saver exited by itself (${code}): ${err}`))));
  });
}

function uniformVersion(weights: { data: ArrayLike<number> }[]): number {
  const k = weights[0].data[0];
  for (const w of weights) for (let i = 0; i < w.data.length; i++) if (w.data[i] !== k) throw new Error(`mixed versions: ${k} and ${w.data[i]}`);
  return k;
}

describe.each([
  ['saveModel to .h5', 'model.h5', 'model'],
  ['saveModel to .keras', 'model.keras', 'model'],
  ['saveModel to tfjs model.json', 'model.json', 'model'],
  ['saveWeights to .h5', 'weights.h5', 'weights'],
])('SIGKILL during %s', (_what, file, mode) => {
  it(`leaves a loadable file holding one whole version (${TRIES} random moments)`, async () => {
    const r = rng(file.length * 7919);
    const sub = mkdtempSync(join(dir, 'case-'));
    const path = join(sub, file);
    const versions: number[] = [];
    for (let t = 0; t < TRIES; t++) {
      await killAfterFirstSave(SAVER, [path, mode], Math.floor(r() * 400));
      let weights;
      if (mode === 'model') weights = (await loadModel(path, { compile: false })).getWeights();
      else {
        const m = new Sequential([new layers.Dense(256, { inputShape: [256] }), new layers.Dense(64)]);
        await m.loadWeights(path);
        weights = m.getWeights();
      }
      versions.push(uniformVersion(weights));
    }
    expect(versions.every((v) => Number.isInteger(v) && v >= 0)).toBe(true);
    // Temporary files of killed saves may remain; the file itself is never one of them.
    expect(readdirSync(sub).filter((f) => !f.startsWith('.'))).toContain(file);
  });
});

it.each([true, false])(`SIGKILL during ModelCheckpoint (saveWeightsOnly: %s) leaves a loadable file (${TRIES} random moments)`, async (weightsOnly) => {
  const r = rng(weightsOnly ? 4242 : 2424);
  const path = join(dir, `checkpoint_${weightsOnly}.h5`);
  for (let t = 0; t < TRIES; t++) {
    await killAfterFirstSave(CHECKPOINTER, [path, String(weightsOnly)], Math.floor(r() * 1500));
    const m = new Sequential([new layers.Dense(128, { inputShape: [64] }), new layers.Dense(4)]);
    if (weightsOnly) await m.loadWeights(path);
    else m.setWeights((await loadModel(path)).getWeights());
    expect(m.getWeights().every((w) => w.data.every((v) => Number.isFinite(v)))).toBe(true);
  }
});
