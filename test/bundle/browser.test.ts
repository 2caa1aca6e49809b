/**
 * The same bundle in a web page: Debian's headless Chromium, driven by
 * puppeteer-core, loads mnist_mlp's bundle from a server on 127.0.0.1 and
 * predicts with wasm and with WebGPU (SwiftShader, no GPU needed), then runs
 * a train step and predicts again; both give what this Node process computes. Needs Debian's chromium package
 * (scripts/setup.mjs installs it).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import puppeteer, { type Browser } from 'puppeteer-core';
import { stageRuntimePackage } from '../../codegen/bundle/runtime_package.js';
import { tensor } from '../../src/index.js';
import { buildBundle, images } from './helpers.js';
import { type StaticServer, serve } from './static_server.js';

const CHROMIUM = '/usr/bin/chromium';
const rows = 5;

const PAGE = `<!doctype html>
<script type="importmap">{ "imports": { "kiln/runtime": "/runtime/index.js" } }</script>
<script type="module">
import { load } from '/bundle/index.js';
const bin = async (name) => new Float32Array(await (await fetch(name)).arrayBuffer());
const [x, tx, ty] = [await bin('/x.bin'), await bin('/tx.bin'), await bin('/ty.bin')];
const results = {};
for (const target of ['wasm', 'webgpu']) {
  try {
    const m = await load({ target });
    const y = await m.predict({ dense_1_input: x });
    const logs = await m.trainOnBatch({ dense_1_input: tx }, { dense_3: ty });
    const after = await m.predict({ dense_1_input: x });
    results[target] = { backend: m.backend, shape: y.dense_3.shape, data: Array.from(y.dense_3.data), logs: [logs.loss, logs.accuracy], after: Array.from(after.dense_3.data) };
    m.dispose();
  } catch (e) {
    results[target] = { error: String(e && e.stack || e) };
  }
}
window.results = results;
</script>`;

let server: StaticServer;
let browser: Browser | null = null;
let want: Float32Array;
let wantLogs: number[];
let wantAfter: Float32Array;
const trainRows = 8;
const compile = () => ({ loss: 'categorical_crossentropy', optimizer: 'sgd', metrics: ['accuracy'] });
const targets = new Float32Array(trainRows * 10).map((_, i) => (i % 10 === Math.floor(i / 10) % 10 ? 1 : 0));

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`the browser test needs Debian's chromium at ${CHROMIUM}: run scripts/setup.mjs as root, or apt-get install chromium`);
  const { dir, model } = await buildBundle({ targets: ['wasm', 'webgpu'], batchSizes: [1, 32], train: { batch: trainRows, compile: compile() } });
  want = (await model.predict(tensor(images(rows), [rows, 784]))).data as Float32Array;
  model.compile(compile());
  wantLogs = (await model.trainOnBatch(tensor(images(trainRows, 11), [trainRows, 784]), tensor(targets, [trainRows, 10]))) as number[];
  wantAfter = (await model.predict(tensor(images(rows), [rows, 784]))).data as Float32Array;
  const runtime = stageRuntimePackage(mkdtempSync(join(tmpdir(), 'kiln-runtime-')));
  const files = mkdtempSync(join(tmpdir(), 'kiln-page-'));
  writeFileSync(join(files, 'x.bin'), images(rows));
  writeFileSync(join(files, 'tx.bin'), images(trainRows, 11));
  writeFileSync(join(files, 'ty.bin'), targets);
  server = await serve({ '/bundle/': dir, '/runtime/': join(runtime.dir, 'runtime'), '/': files }, { '/': PAGE });
  browser = await puppeteer.launch({ executablePath: CHROMIUM, headless: true, args: ['--headless=new', '--no-sandbox', '--enable-unsafe-webgpu'] });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await server?.close();
});

describe('a bundle in headless Chromium', () => {
  it('predicts Node\'s outputs with wasm and WebGPU, and trains a step as Node does', async () => {
    const page = await browser!.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => void errors.push(String(e)));
    await page.goto(`${server.url}/`);
    await page.waitForFunction('window.results !== undefined', { timeout: 45_000 });
    const results = (await page.evaluate('window.results')) as Record<string, { error?: string; backend: string; shape: number[]; data: number[]; logs: number[]; after: number[] }>;
    expect(errors).toEqual([]);
    for (const target of ['wasm', 'webgpu']) {
      expect(results[target].error, target).toBeUndefined();
      expect(results[target].backend).toBe(target);
      expect(results[target].shape).toEqual([rows, 10]);
      expect(results[target].data, target).toBeAllClose(want, { rtol: 1e-4, atol: 1e-6 });
      expect(results[target].logs, `${target} train step`).toBeAllClose(wantLogs, { rtol: 1e-4, atol: 1e-6 });
      expect(results[target].after, `${target} after training`).toBeAllClose(wantAfter, { rtol: 1e-4, atol: 1e-6 });
    }
  }, 60_000);
});
