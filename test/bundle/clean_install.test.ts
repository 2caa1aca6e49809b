/**
 * The deployment the issue asks for: a clean folder with the bundle and
 * `npm install` of the runtime package alone (offline, from its tarball),
 * LLVM absent from PATH and the library path, predicts what the compiling
 * process predicts, on node-cpu and on wasm.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stageRuntimePackage } from '../../codegen/bundle/runtime_package.js';
import { tensor } from '../../src/index.js';
import { buildBundle, images } from './helpers.js';

const rows = 40;
const root = mkdtempSync(join(tmpdir(), 'kiln-clean-'));
const app = join(root, 'app');
let want: Float32Array;

const SCRIPT = `
import { readFileSync } from 'node:fs';
import { load } from './bundle/index.js';
const raw = readFileSync('x.bin');
const x = new Float32Array(raw.buffer, raw.byteOffset, raw.byteLength / 4);
const result = {};
for (const target of ['node-cpu', 'wasm']) {
  const m = await load({ target });
  const y = await m.predict({ dense_1_input: x });
  result[target] = { backend: m.backend, shape: y.dense_3.shape, data: Array.from(y.dense_3.data) };
}
result.maps = readFileSync('/proc/self/maps', 'utf8').split('\\n').map((l) => l.split(/\\s+/)[5]).filter((p) => p && p.startsWith('/'));
console.log(JSON.stringify(result));
`;

beforeAll(async () => {
  const { dir, model } = await buildBundle({ targets: ['node-cpu', 'wasm'], batchSizes: [1, 32] });
  want = (await model.predict(tensor(images(rows), [rows, 784]), { batchSize: 32 })).data as Float32Array;
  const pkg = stageRuntimePackage(join(root, 'runtime-package'));
  execFileSync('npm', ['pack', '--silent', '--pack-destination', root], { cwd: pkg.dir });
  mkdirSync(app);
  writeFileSync(join(app, 'package.json'), '{ "name": "app", "private": true, "type": "module" }\n');
  execFileSync('npm', ['install', '--offline', '--no-audit', '--no-fund', '--ignore-scripts', join(root, 'kiln-0.1.0.tgz')], { cwd: app, stdio: 'pipe' });
  cpSync(dir, join(app, 'bundle'), { recursive: true });
  writeFileSync(join(app, 'x.bin'), images(rows));
  writeFileSync(join(app, 'predict.mjs'), SCRIPT);
});

describe('a bundle in a clean folder with only the runtime installed', () => {
  it('has nothing installed but the runtime package, which has no dependencies', () => {
    expect(readdirSync(join(app, 'node_modules')).filter((n) => !n.startsWith('.'))).toEqual(['kiln']);
    expect(readdirSync(join(app, 'node_modules', 'kiln')).sort()).toEqual(['package.json', 'runtime']);
  });

  it('predicts the compiling process\'s outputs on node-cpu and wasm with LLVM off PATH and the library path', () => {
    const bin = join(root, 'bin');
    mkdirSync(bin, { recursive: true });
    symlinkSync(process.execPath, join(bin, 'node'));
    const env = { PATH: bin, LD_LIBRARY_PATH: '', HOME: root };
    expect(spawnSync('llc-14', ['--version'], { env }).error).toBeDefined();
    const r = spawnSync(join(bin, 'node'), ['predict.mjs'], { cwd: app, env, encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const result = JSON.parse(r.stdout) as Record<'node-cpu' | 'wasm', { backend: string; shape: number[]; data: number[] }> & { maps: string[] };
    expect(result['node-cpu'].backend).toMatch(/^node-cpu avx(2|512)$/);
    expect(result.wasm.backend).toBe('wasm');
    for (const target of ['node-cpu', 'wasm'] as const) {
      expect(result[target].shape).toEqual([rows, 10]);
      expect(result[target].data).toBeAllClose(want, { rtol: 1e-4, atol: 1e-6 });
    }
    // Nothing of LLVM, llvm-bindings, koffi or TypeScript was mapped into the process.
    expect(result.maps.filter((p) => /LLVM|llvm|koffi|typescript/.test(p))).toEqual([]);
    expect(result.maps.some((p) => p.includes('predict_b32'))).toBe(true);
  });
});
