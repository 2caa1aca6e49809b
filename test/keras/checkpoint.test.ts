/** ModelCheckpoint and weights files in Keras's HDF5 layout. */
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Sequential, callbacks, layers, optimizers, setBackend, tensor } from '../../src/index.js';
import { TEST_BACKEND } from '../helpers/backend.js';

setBackend(TEST_BACKEND);

const dir = mkdtempSync(join(tmpdir(), 'kiln-ckpt-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const x = tensor(Array.from({ length: 16 }, (_, i) => [Math.sin(i), Math.cos(i)]));
const y = tensor(Array.from({ length: 16 }, (_, i) => [Math.sin(i) * Math.cos(i)]));
const model = (): Sequential => new Sequential([new layers.Dense(8, { inputShape: [2], activation: 'tanh', name: 'hidden' }), new layers.Dropout(0.1, { name: 'drop' }), new layers.Dense(1, { name: 'out' })]);

describe('weights files', () => {
  it('round-trip through saveWeights/loadWeights', async () => {
    const a = model();
    const b = model();
    await a.saveWeights(join(dir, 'w.h5'));
    await b.loadWeights(join(dir, 'w.h5'));
    expect((await b.predict(x)).data).toBeAllClose((await a.predict(x)).data, { rtol: 0, atol: 0 });
    expect(readdirSync(dir).filter((f) => f.includes('.tmp-'))).toEqual([]);
  });

  it('a file with other shapes is refused and changes nothing', async () => {
    const other = new Sequential([new layers.Dense(4, { inputShape: [2], name: 'hidden' }), new layers.Dense(1, { name: 'out' })]);
    await other.saveWeights(join(dir, 'other.h5'));
    const m = model();
    const before = m.getWeights().map((w) => Array.from(w.data));
    await expect(m.loadWeights(join(dir, 'other.h5'))).rejects.toThrow(/loadWeights: .*other.h5: weight hidden\/kernel:0 has shape \[2, 8\], the file's hidden\/hidden\/kernel:0 has \[2, 4\]/);
    expect(m.getWeights().map((w) => Array.from(w.data))).toEqual(before);
    writeFileSync(join(dir, 'junk.h5'), 'not hdf5');
    await expect(m.loadWeights(join(dir, 'junk.h5'))).rejects.toThrow(/junk.h5 is not an HDF5 file/);
    await expect(m.loadWeights(join(dir, 'missing.h5'))).rejects.toThrow(/no file at/);
  });
});

describe('ModelCheckpoint', () => {
  it('fills the path template and saves only improvements with saveBestOnly', async () => {
    const m = model();
    m.compile({ optimizer: new optimizers.SGD({ lr: 0.05 }), loss: 'mse' });
    const ckpt = new callbacks.ModelCheckpoint(join(dir, 'weights.{epoch:02d}-{loss:.2f}.h5'), { monitor: 'loss', saveBestOnly: true });
    const h = await m.fit(x, y, { epochs: 3, batchSize: 16, verbose: 0, callbacks: [ckpt] });
    const files = readdirSync(dir).filter((f) => f.startsWith('weights.')).sort();
    const improved = h.history.loss.map((l, i) => i === 0 || l < Math.min(...h.history.loss.slice(0, i)));
    expect(files).toEqual(h.history.loss.flatMap((l, i) => (improved[i] ? [`weights.${String(i + 1).padStart(2, '0')}-${l.toFixed(2)}.h5`] : [])));
    const restored = model();
    await restored.loadWeights(join(dir, files[files.length - 1]));
    expect(existsSync(join(dir, files[0]))).toBe(true);
  });

  it('EarlyStopping can restore the best weights', async () => {
    const m = model();
    m.compile({ optimizer: new optimizers.SGD({ lr: 0 }), loss: 'mse' });
    const stop = new callbacks.EarlyStopping({ monitor: 'loss', patience: 1, restoreBestWeights: true });
    const before = m.getWeights().map((w) => Array.from(w.data));
    await m.fit(x, y, { epochs: 5, batchSize: 16, verbose: 0, callbacks: [stop] });
    expect(m.getWeights().map((w) => Array.from(w.data))).toEqual(before);
  });
});
