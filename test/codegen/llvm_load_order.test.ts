/**
 * llvm-bindings is initialised once, whichever part of Kiln (or the user)
 * loads it first: the code generator goes through codegen/llvm/llvm.ts,
 * which preloads the addon with deep binding unless it is already loaded.
 * Each order runs in a fresh process on the built package.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

function predictAfter(first: string): { status: number | null; stdout: string; stderr: string } {
  const script = `
    ${first}
    import { Sequential, layers, tensor } from './dist/src/index.js';
    const m = new Sequential([new layers.Dense(2, { inputShape: [3], kernelInitializer: 'ones' })]);
    m.compile({ optimizer: 'sgd', loss: 'mse', backend: 'cpu' });
    console.log(JSON.stringify(Array.from((await m.predict(tensor([[1, 2, 3]]))).data)));`;
  // A fresh cache, so the program is really emitted through llvm-bindings.
  const cache = mkdtempSync(join(tmpdir(), 'kiln-load-order-'));
  try {
    return spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd: root, encoding: 'utf8', env: { ...process.env, KILN_CACHE_DIR: cache } });
  } finally {
    rmSync(cache, { recursive: true, force: true });
  }
}

it.each([
  ['the code generator', "import './dist/codegen/llvm/context.js';"],
  ['a bare llvm-bindings import', "import 'llvm-bindings';"],
  ['nothing', ''],
])('compiles and runs on the CPU after %s loaded LLVM first', (_what, first) => {
  const r = predictAfter(first);
  expect(r.status, r.stderr).toBe(0);
  expect(JSON.parse(r.stdout)).toEqual([6, 6]);
});
