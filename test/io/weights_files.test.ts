/**
 * loadWeights / saveWeights across layouts: Keras 2's at the root or under
 * model_weights (a full-model file serves as a weights file), Keras 3's
 * .weights.h5; in order (Keras's default) or byName, with skipMismatch.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { Sequential, Tensor, layers, loadModel, modelFromJSON, setBackend } from '../../src/index.js';

setBackend('interpreter');
const DATA = join(dirname(fileURLToPath(import.meta.url)), 'data');
const dir = mkdtempSync(join(tmpdir(), 'kiln-weights-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const flat = (ts: readonly Tensor[]): number[][] => ts.map((t) => Array.from(t.data));

function mlp(names: [string, string], units = 4): Sequential {
  return new Sequential([new layers.Dense(units, { inputShape: [3], name: names[0] }), new layers.Dropout(0.1), new layers.Dense(2, { name: names[1] })]);
}

describe('layouts', () => {
  it('a Keras 2 full-model file serves as a weights file (layer_names under model_weights)', async () => {
    const model = modelFromJSON(readFileSync(join(DATA, 'mlp.json'), 'utf8'));
    await model.loadWeights(join(DATA, 'mlp.k2.h5'));
    const reference = await loadModel(join(DATA, 'mlp.k2.h5'));
    expect(flat(model.getWeights())).toEqual(flat(reference.getWeights()));
  });

  it.each(['weights.h5', 'h5'])('saveWeights to .%s and back, into a model with other initial weights', async (ext) => {
    const a = mlp(['first', 'second']);
    const path = join(dir, `mlp.${ext}`);
    await a.saveWeights(path);
    const b = mlp(['first', 'second']);
    expect(flat(b.getWeights())).not.toEqual(flat(a.getWeights()));
    await b.loadWeights(path);
    expect(flat(b.getWeights())).toEqual(flat(a.getWeights()));
  });

  it('Keras 3 .weights.h5 is matched by saving_lib key, so layer names need not agree', async () => {
    const a = mlp(['p', 'q']);
    await a.saveWeights(join(dir, 'keys.weights.h5'));
    const b = mlp(['x', 'y']);
    await b.loadWeights(join(dir, 'keys.weights.h5'));
    expect(flat(b.getWeights())).toEqual(flat(a.getWeights()));
  });
});

describe('matching', () => {
  it('in order (the default), layer names need not agree', async () => {
    const a = mlp(['a1', 'a2']);
    await a.saveWeights(join(dir, 'order.h5'));
    const b = mlp(['b1', 'b2']);
    await b.loadWeights(join(dir, 'order.h5'));
    expect(flat(b.getWeights())).toEqual(flat(a.getWeights()));
  });

  it('in order, a different number of layers with weights is an error that suggests byName', async () => {
    const a = mlp(['a1', 'a2']);
    await a.saveWeights(join(dir, 'count.h5'));
    const b = new Sequential([new layers.Dense(2, { inputShape: [3] })]);
    await expect(b.loadWeights(join(dir, 'count.h5'))).rejects.toThrow(/holds weights for 2 layer\(s\) \(a1, a2\), the model has 1 layer\(s\) with weights .* pass \{ byName: true \}/);
  });

  it('byName loads the layers whose names match and leaves the others', async () => {
    const a = mlp(['shared', 'head_a']);
    await a.saveWeights(join(dir, 'byname.h5'));
    const b = mlp(['shared', 'head_b']);
    const before = flat(b.getWeights());
    await b.loadWeights(join(dir, 'byname.h5'), { byName: true });
    const after = flat(b.getWeights());
    expect(after.slice(0, 2)).toEqual(flat(a.getWeights()).slice(0, 2));
    expect(after.slice(2)).toEqual(before.slice(2));
  });

  it('a shape mismatch is an error naming the weight and both shapes; nothing changes', async () => {
    const a = mlp(['l1', 'l2']);
    await a.saveWeights(join(dir, 'shape.h5'));
    const b = mlp(['l1', 'l2'], 5);
    const before = flat(b.getWeights());
    await expect(b.loadWeights(join(dir, 'shape.h5'), { byName: true })).rejects.toThrow(/weight l1\/kernel:0 has shape \[3, 5\], the file's l1\/l1\/kernel:0 has \[3, 4\]/);
    expect(flat(b.getWeights())).toEqual(before);
  });

  it('skipMismatch skips the layers that do not fit, with a warning, and loads the rest', async () => {
    const a = new Sequential([new layers.Dense(4, { inputShape: [3], name: 'k1' }), new layers.Dense(2, { name: 'k2' })]);
    await a.saveWeights(join(dir, 'skip.h5'));
    const b = new Sequential([new layers.Dense(4, { inputShape: [3], name: 'k1' }), new layers.Dense(7, { name: 'k2' })]);
    const warnings: string[] = [];
    const { loadWeightsFile } = await import('../../src/weights_file.js');
    await loadWeightsFile(join(dir, 'skip.h5'), b.layers, { byName: true, skipMismatch: true, warn: (m) => warnings.push(m) });
    expect(flat(b.getWeights()).slice(0, 2)).toEqual(flat(a.getWeights()).slice(0, 2));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/skipping layer 'k2'.*shape \[4, 7\].*\[4, 2\]/);
  });
});
