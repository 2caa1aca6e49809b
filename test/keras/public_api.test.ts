/**
 * The public entry's surface, and what importing it costs (issue 11): every
 * export and the members of each namespace stay as they were recorded in
 * public_api.json when the import graph was trimmed; and a process that
 * imports 'kiln' and predicts with a cached program loads neither the code
 * generator (llvm-bindings) nor the packages only file formats and images
 * need (yaml, pngjs, jpeg-js, fflate).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { expect, it } from 'vitest';
import * as kiln from '../../src/index.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');

/** Each export's kind; for objects (namespaces), each member's kind or, one level down, its member names. */
function surfaceOf(module: Record<string, unknown>): Record<string, unknown> {
  const kindOf = (v: unknown): string => (typeof v === 'object' && v !== null ? Object.keys(v).sort().join(' ') : typeof v);
  return Object.fromEntries(Object.keys(module).sort().map((k) => {
    const v = module[k];
    return [k, typeof v === 'object' && v !== null ? Object.fromEntries(Object.keys(v).sort().map((m) => [m, kindOf((v as Record<string, unknown>)[m])])) : typeof v];
  }));
}

it('exports what it always did', () => {
  expect(surfaceOf(kiln as unknown as Record<string, unknown>)).toEqual(JSON.parse(readFileSync(join(here, 'public_api.json'), 'utf8')));
});

it('loads neither the code generator nor the optional packages to predict with a cached program', () => {
  expect(existsSync(join(root, 'dist', 'src', 'index.js')), 'run `npm run build` first').toBe(true);
  const dir = mkdtempSync(join(tmpdir(), 'kiln-import-graph-'));
  try {
    // Every URL the ESM loader loads, and after the run every CommonJS module required.
    writeFileSync(join(dir, 'hooks.mjs'), `export async function load(url, context, next) { process.stderr.write('LOADED ' + url + '\\n'); return next(url, context); }`);
    writeFileSync(join(dir, 'main.mjs'), `
      import { register, createRequire } from 'node:module';
      register(${JSON.stringify(pathToFileURL(join(dir, 'hooks.mjs')).href)});
      const { Sequential, layers, tensor } = await import(${JSON.stringify(pathToFileURL(join(root, 'dist', 'src', 'index.js')).href)});
      const model = () => new Sequential([new layers.Dense(3, { inputShape: [4], activation: 'relu' }), new layers.Dense(2, { activation: 'softmax' })]);
      const x = tensor([[1, 2, 3, 4]]);
      await model().predict(x);
      await model().predict(x);
      process.stderr.write(Object.keys(createRequire(import.meta.url).cache).map((f) => 'LOADED ' + f + '\\n').join(''));
    `);
    const run = (): { loaded: string[] } => {
      const r = spawnSync(process.execPath, [join(dir, 'main.mjs')], { encoding: 'utf8', env: { ...process.env, KILN_CACHE_DIR: join(dir, 'cache') } });
      expect(r.status, r.stderr).toBe(0);
      return { loaded: r.stderr.split('\n').filter((l) => l.startsWith('LOADED ')) };
    };
    const cold = run();
    // The cold run compiled, so it loaded the code generator: the check below can fail.
    expect(cold.loaded.some((l) => l.includes('llvm-bindings'))).toBe(true);
    const warm = run();
    expect(warm.loaded.length).toBeGreaterThan(20);
    const heavy = warm.loaded.filter((l) => /node_modules\/(llvm-bindings|yaml|pngjs|jpeg-js|fflate|h5wasm)\/|codegen\/llvm\/(module|llvm|context)\.js/.test(l));
    expect(heavy).toEqual([]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
