/**
 * h5wasm failures become one clear error naming the file and what is wrong,
 * and HDF5's own diagnostic stack never reaches stderr (issue 10, item 7:
 * checked in a fresh process on the built package, where stderr is real).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { loadModel, modelFromJSON } from '../../src/index.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const DATA = join(root, 'test', 'io', 'data');
const dir = mkdtempSync(join(tmpdir(), 'kiln-h5-errors-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function truncated(name: string, keep = 0.5): string {
  const bytes = readFileSync(join(DATA, name));
  const path = join(dir, `truncated_${name}`);
  writeFileSync(path, bytes.subarray(0, Math.floor(bytes.length * keep)));
  return path;
}

describe('issue 10 item 7: HDF5 errors', () => {
  it('issue 10 item 7: a truncated HDF5 file fails with one message naming the file, and nothing on stderr', () => {
    const path = truncated('mlp.k2.h5');
    const script = `
      import { loadModel } from './dist/src/index.js';
      try { await loadModel(process.argv[1]); console.log('loaded'); } catch (e) { console.log(JSON.stringify(e.message)); }`;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script, path], { cwd: root, encoding: 'utf8', timeout: 60_000 });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toBe('');
    const lines = r.stdout.trim().split('\n');
    expect(lines).toHaveLength(1);
    const message = JSON.parse(lines[0]) as string;
    expect(message).toContain(path);
    expect(message).toMatch(/is not a readable HDF5 file: truncated file: eof = \d+, .*stored_eof = 15280/);
    expect(message).not.toMatch(/HDF5-DIAG|#00\d/);
  });

  it('the same in this process: one message, and h5wasm still works after it', async () => {
    const path = truncated('mlp.k2.h5');
    await expect(loadModel(path)).rejects.toThrow(new RegExp(`${path.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} is not a readable HDF5 file: truncated file`));
    const ok = await loadModel(join(DATA, 'mlp.k2.h5'));
    expect(ok.layers.map((l) => l.name)).toEqual(['input_layer', 'dense', 'dropout', 'dense_1']);
  });

  it('a truncated weights file given to loadWeights names the file', async () => {
    const path = truncated('mlp.weights.h5', 0.6);
    const model = modelFromJSON(readFileSync(join(DATA, 'mlp.json'), 'utf8'));
    await expect(model.loadWeights(path)).rejects.toThrow(/truncated_mlp\.weights\.h5 is not a readable HDF5 file: truncated file/);
  });

  it('a file with the HDF5 signature and garbage after it is one clear error', async () => {
    const path = join(dir, 'garbage.h5');
    writeFileSync(path, Buffer.concat([Buffer.from([0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a]), Buffer.alloc(600, 7)]));
    await expect(loadModel(path)).rejects.toThrow(/garbage\.h5 is not a readable HDF5 file: /);
  });
});
