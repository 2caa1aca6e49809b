/**
 * Fuzzing the loaders: mutated HDF5 (.h5 full models, weights files), zip
 * (.keras), JSON configs and TensorFlow.js model.json files either load or
 * fail with a clear Error (never a TypeError/RangeError from deep inside,
 * never a crash or a hang), each case within a time bound, the process's
 * memory within a stated bound. The bounded run here is KILN_FUZZ_CASES
 * cases per kind (default 150; four times that for JSON); the long run is documented in
 * docs/model_files.md (KILN_FUZZ_CASES=5000).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { strToU8, unzipSync, zipSync } from 'fflate';
import { afterAll, describe, expect, it } from 'vitest';
import { Sequential, layers, loadModel, modelFromJSON } from '../../src/index.js';
import { readTimeoutMs } from '../../src/io/h5_read.js';
import { mutateBytes, mutateConfig, rng } from './fuzz_mutators.js';

const DATA = join(dirname(fileURLToPath(import.meta.url)), 'data');
const CASES = Number(process.env.KILN_FUZZ_CASES ?? 150);
const SEED = Number(process.env.KILN_FUZZ_SEED ?? 12);
/** No single load may take longer: the HDF5 reader's own bound for these small files, plus slack (a hang shows up as a test timeout or this). */
const CASE_MS = readTimeoutMs(64 * 1024) + 3000;
/** Resident memory may not grow beyond this over the run (a weight is capped at 1 GiB; nothing here comes near). */
const RSS_GROWTH = 1.5 * 2 ** 30;

const dir = mkdtempSync(join(tmpdir(), 'kiln-fuzz-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** What went wrong with the loaders, if anything: an error that is not a plain, explained Error. */
function verdict(e: unknown): string | null {
  if (!(e instanceof Error)) return `threw a non-Error: ${String(e)}`;
  if (e instanceof TypeError || e instanceof RangeError || e instanceof ReferenceError || e.name === 'RuntimeError') return `${e.name}: ${e.message}\n${e.stack?.split('\n').slice(1, 4).join('\n')}`;
  if (e.message.length < 12) return `an unclear message: '${e.message}'`;
  return null;
}

interface Tally {
  loaded: number;
  refused: number;
  problems: string[];
}

async function run(kind: string, cases: number, one: (r: () => number, i: number) => Promise<unknown>): Promise<Tally> {
  const tally: Tally = { loaded: 0, refused: 0, problems: [] };
  const base = process.memoryUsage().rss;
  for (let i = 0; i < cases; i++) {
    const r = rng(SEED * 1_000_003 + i);
    const t0 = Date.now();
    try {
      const m = await one(r, i);
      (m as { dispose?: () => void } | undefined)?.dispose?.();
      tally.loaded++;
    } catch (e) {
      tally.refused++;
      const v = verdict(e);
      if (v) tally.problems.push(`${kind} case ${i} (KILN_FUZZ_SEED=${SEED}): ${v}`);
    }
    const ms = Date.now() - t0;
    if (ms > CASE_MS) tally.problems.push(`${kind} case ${i}: took ${ms} ms`);
    const grown = process.memoryUsage().rss - base;
    if (grown > RSS_GROWTH) tally.problems.push(`${kind} case ${i}: resident memory grew by ${Math.round(grown / 2 ** 20)} MiB`);
  }
  console.log(`fuzz ${kind}: ${cases} cases, ${tally.loaded} loaded, ${tally.refused} refused with a clear error, ${tally.problems.length} problems`);
  return tally;
}

const bytesOf = (name: string): Uint8Array => new Uint8Array(readFileSync(join(DATA, name)));

describe('fuzz: mutated files load or fail clearly', () => {
  it.each(['mlp.k2.h5', 'multi_io.h5'])('HDF5 full model %s, bit flips, truncation, huge words', async (name) => {
    const src = bytesOf(name);
    const t = await run(name, CASES, (r) => loadModel(mutateBytes(src, r)));
    expect(t.problems.slice(0, 5)).toEqual([]);
  });

  it('HDF5 weights file (Keras 3 layout) through loadWeights', async () => {
    const src = bytesOf('mlp.weights.h5');
    const model = modelFromJSON(readFileSync(join(DATA, 'mlp.json'), 'utf8'));
    const path = join(dir, 'w.weights.h5');
    const t = await run('mlp.weights.h5', CASES, async (r) => {
      writeFileSync(path, mutateBytes(src, r));
      await model.loadWeights(path);
    });
    expect(t.problems.slice(0, 5)).toEqual([]);
  });

  it.each(['mlp.keras', 'multi_io.keras'])('zip %s, raw bytes and a mutated config.json inside', async (name) => {
    const src = bytesOf(name);
    const files = unzipSync(src);
    const config = JSON.parse(Buffer.from(files['config.json']).toString('utf8'));
    const t = await run(name, CASES, (r, i) => {
      if (i % 2 === 0) return loadModel(mutateBytes(src, r));
      return loadModel(zipSync({ ...files, 'config.json': strToU8(JSON.stringify(mutateConfig(config, r))) }));
    });
    expect(t.problems.slice(0, 5)).toEqual([]);
  });

  it.each(['mlp.json', 'multi_io.json'])('JSON config %s (Keras 3) and its Keras 2 form: wrong types, huge numbers, cycles', async (name) => {
    const k3 = JSON.parse(readFileSync(join(DATA, name), 'utf8'));
    const k2 = (await loadModel(join(DATA, name.replace('.json', '.k2.h5')), { compile: false }));
    const k2config = JSON.parse((k2 as unknown as { toJSON(): string }).toJSON());
    const t = await run(name, CASES * 4, async (r, i) => {
      const mutated = mutateConfig(i % 2 ? k3 : k2config, r);
      return r() < 0.2 ? modelFromJSON(JSON.stringify(mutated).slice(0, Math.floor(r() * 4000))) : modelFromJSON(JSON.stringify(mutated));
    });
    expect(t.problems.slice(0, 5)).toEqual([]);
  });

  it('TensorFlow.js model.json: mutated topology and manifest, damaged shards', async () => {
    const m = new Sequential([new layers.Dense(5, { inputShape: [4], name: 'h' }), new layers.Dense(2, { name: 'o' })]);
    const path = join(dir, 'model.json');
    await m.save(path);
    const json = JSON.parse(readFileSync(path, 'utf8'));
    const shard = join(dir, json.weightsManifest[0].paths[0]);
    const shardBytes = new Uint8Array(readFileSync(shard));
    const t = await run('model.json', CASES, async (r, i) => {
      const target = join(dir, 'fuzzed.json');
      if (i % 3 === 2) {
        writeFileSync(shard, mutateBytes(shardBytes, r));
        writeFileSync(target, JSON.stringify(json));
      } else {
        writeFileSync(shard, shardBytes);
        writeFileSync(target, JSON.stringify(mutateConfig(json, r)));
      }
      return loadModel(target, { compile: false });
    });
    expect(t.problems.slice(0, 5)).toEqual([]);
  });
});
