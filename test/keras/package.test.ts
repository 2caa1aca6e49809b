/**
 * The built package works from another directory: `import { Sequential,
 * layers, tensor } from 'kiln'` after `npm run build` (npm test builds first).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

it('imports from the package entry in another directory and predicts', () => {
  expect(existsSync(join(root, 'dist', 'src', 'index.js')), 'run `npm run build` first').toBe(true);
  const dir = mkdtempSync(join(tmpdir(), 'kiln-consumer-'));
  try {
    mkdirSync(join(dir, 'node_modules'));
    symlinkSync(root, join(dir, 'node_modules', 'kiln'), 'dir');
    writeFileSync(join(dir, 'main.mjs'), `
      import { Sequential, layers, tensor, setBackend } from 'kiln';
      setBackend(process.env.KILN_TEST_BACKEND ?? 'cpu');
      const model = new Sequential([new layers.Dense(2, { inputShape: [3], kernelInitializer: 'ones' })]);
      const y = await model.predict(tensor([[1, 2, 3]]));
      console.log(JSON.stringify({ shape: y.shape, data: Array.from(y.data) }));
    `);
    const r = spawnSync(process.execPath, ['main.mjs'], { cwd: dir, encoding: 'utf8' });
    // Dawn's OpenGL ES adapter logs two notes about limits it lowers; nothing else may appear.
    const dawnLimitNote = /^Warning: maxDynamic\w+BuffersPerPipelineLayout artificially reduced from \d+ to \d+ to fit dynamic offset allocation limit\.$/;
    expect(r.stderr.split('\n').filter((line) => line && !dawnLimitNote.test(line))).toEqual([]);
    expect(JSON.parse(r.stdout)).toEqual({ shape: [1, 2], data: [6, 6] });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
