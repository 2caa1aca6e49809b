/**
 * Issue 10's item 2 on WebGPU: a model dropped without dispose() gives its
 * GPU buffers back (destroyed by a FinalizationRegistry, as the CPU backend
 * unmaps its arenas), and dispose() destroys them at once. Fresh processes
 * with --expose-gc on the built package; WebGPU through llvmpipe.
 */
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

function run(body: string): Record<string, number> {
  const script = `
    import { Sequential, layers, tensor } from './dist/src/index.js';
    import { liveGpuArenaBytes } from './dist/runtime/webgpu/arenas.js';
    const settle = async () => { for (let i = 0; i < 8; i++) { globalThis.gc(); await new Promise((r) => setTimeout(r, 20)); } };
    const x = tensor(new Float32Array(4 * 64), [4, 64]);
    const make = () => {
      const m = new Sequential([new layers.Dense(256, { inputShape: [64] }), new layers.Dense(8)]);
      m.compile({ optimizer: 'sgd', loss: 'mse', backend: 'webgpu' });
      return m;
    };
    ${body}`;
  const r = spawnSync(process.execPath, ['--expose-gc', '--input-type=module', '-e', script], { cwd: root, encoding: 'utf8', timeout: 180_000 });
  expect(r.status, r.stderr).toBe(0);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as Record<string, number>;
}

it('models dropped without dispose() on WebGPU have their arenas destroyed by the finalizer', () => {
  const { held, after } = run(`
    const use = async () => { await make().predict(x, { batchSize: 4 }); };
    for (let i = 0; i < 12; i++) await use();
    const held = liveGpuArenaBytes();
    await settle();
    console.log(JSON.stringify({ held, after: liveGpuArenaBytes() }));`);
  // Each model held a shared-state buffer (about 70 KB of weights) and a program arena.
  expect(held).toBeGreaterThan(12 * 60_000);
  expect(after).toBeLessThan(held / 4);
});

it('dispose() destroys the buffers of a WebGPU model at once', () => {
  const { during, after } = run(`
    const m = make();
    await m.predict(x, { batchSize: 4 });
    const during = liveGpuArenaBytes();
    m.dispose();
    console.log(JSON.stringify({ during, after: liveGpuArenaBytes() }));`);
  expect(during).toBeGreaterThan(60_000);
  expect(after).toBe(0);
});
