/**
 * The Keras 2 conformance set (./data/keras2-layers.jsonl, a copy of
 * ../shared/conformance; provenance and MIT notice in ./data/README.md):
 * every record whose layers Kiln implements is loaded from its Keras config,
 * given its weights, run, and compared with what real Keras produced at
 * rtol = atol = 1e-4. Records needing layers not built yet are listed as not
 * covered, by family, never skipped silently.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { LAYER_CLASSES } from '../../src/layers/index.js';
import { modelFromJSON, setBackend, tensor } from '../../src/index.js';
import { TEST_BACKEND } from '../helpers/backend.js';

interface Record_ {
  id: string;
  model: { config: { layers: { class_name: string; config?: { layer?: unknown } }[] } };
  inputs: { shape: number[]; data: number[] }[];
  weights: { shape: number[]; data: number[] }[];
  expected: { shape: number[]; data: number[] }[];
  tags?: string[];
}

const file = process.env.KILN_CONFORMANCE ?? join(dirname(fileURLToPath(import.meta.url)), 'data', 'keras2-layers.jsonl');
if (!existsSync(file)) throw new Error(`conformance set not found at ${file}; set KILN_CONFORMANCE to its path`);
const records: Record_[] = readFileSync(file, 'utf8').split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l));

/** Every class a record needs, wrapped layers' included (TimeDistributed(Conv2D) needs Conv2D). */
const classesOf = (l: { class_name: string; config?: { layer?: unknown } }): string[] => [l.class_name, ...(l.config?.layer ? classesOf(l.config.layer as { class_name: string }) : [])];
const missing = (r: Record_): string[] => [...new Set(r.model.config.layers.flatMap(classesOf).filter((c) => !Object.hasOwn(LAYER_CLASSES, c)))];
const covered = records.filter((r) => missing(r).length === 0);
const family = (r: Record_): string => r.id.split('.')[0];

const passed = new Map<string, number>();
const total = new Map<string, number>();
setBackend(TEST_BACKEND);

describe(`Keras 2 conformance (${TEST_BACKEND} backend)`, () => {
  it('covers every record of the families issue 2 owns', () => {
    const owned = ['core', 'activations', 'advanced_activations', 'noise', 'merge'];
    expect(records.filter((r) => owned.includes(family(r)) && missing(r).length > 0).map((r) => `${r.id}: ${missing(r).join(', ')}`)).toEqual([]);
  });

  it.each(covered.map((r) => [r.id, r] as const))('%s', async (_id, r) => {
    total.set(family(r), (total.get(family(r)) ?? 0) + 1);
    const model = modelFromJSON(r.model);
    model.setWeights(r.weights.map((w) => tensor(w.data, w.shape)));
    const inputs = r.inputs.map((input) => tensor(input.data, [1, ...input.shape]));
    // Stateful records: Keras predicted twice without reset_states(), and kept the second output.
    if (r.tags?.includes('stateful')) await model.predict(inputs);
    const out = await model.predict(inputs);
    const ys = Array.isArray(out) ? out : [out];
    expect(ys.length).toBe(r.expected.length);
    r.expected.forEach((want, i) => {
      expect(ys[i].shape).toEqual([1, ...want.shape]);
      expect(ys[i].data).toBeAllClose(want.data, { rtol: 1e-4, atol: 1e-4 });
    });
    model.dispose();
    passed.set(family(r), (passed.get(family(r)) ?? 0) + 1);
  });

  afterAll(() => {
    const families = [...new Set(records.map(family))].sort();
    const lines = families.map((f) => {
      const all = records.filter((r) => family(r) === f);
      const notCovered = all.filter((r) => missing(r).length > 0);
      const miss = [...new Set(notCovered.flatMap(missing))].sort();
      return `  ${f.padEnd(22)} ${String(passed.get(f) ?? 0).padStart(3)}/${String(total.get(f) ?? 0).padEnd(3)} passed` +
        (notCovered.length ? `; ${notCovered.length} not covered (needs ${miss.join(', ')})` : '');
    });
    console.log(`Keras 2 conformance on ${TEST_BACKEND}: ${[...passed.values()].reduce((a, b) => a + b, 0)}/${covered.length} covered records passed, ${records.length - covered.length} of ${records.length} not covered\n${lines.join('\n')}`);
  });
});
