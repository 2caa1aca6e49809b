/**
 * Issue 10, item 2: what a model held comes back. Fresh processes (with
 * --expose-gc) on the built package: models dropped without dispose() have
 * their native libraries unloaded and arenas unmapped by the finalizer; with
 * dispose() a large arena goes back to the system at once.
 */
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

function inFreshProcess(script: string): { status: number | null; stdout: string; stderr: string } {
  return spawnSync(process.execPath, ['--expose-gc', '--input-type=module', '-e', script], { cwd: root, encoding: 'utf8', timeout: 120_000 });
}

const PRELUDE = `
  import { readFileSync } from 'node:fs';
  const MB = 1 << 20;
  const rss = () => process.memoryUsage().rss / MB;
  // Finalizers run as tasks after a collection: collect until the resident size stops falling (at most about 2 s).
  const settle = async () => {
    let last = Infinity;
    for (let i = 0; i < 80; i++) {
      globalThis.gc();
      await new Promise((r) => setTimeout(r, 25));
      const now = rss();
      if (i >= 8 && last - now < 0.25) break;
      last = now;
    }
  };
  // Shared objects of compiled programs currently mapped into this process.
  const loaded = () => new Set(readFileSync('/proc/self/maps', 'utf8').split('\\n').map((l) => l.trim().split(/\\s+/)[5] ?? '').filter((p) => /[0-9a-f]{32}\\.so$/.test(p))).size;
`;

it('30 models of 4 MB weights dropped without dispose() give back their libraries and memory', () => {
  const r = inFreshProcess(`${PRELUDE}
    import { Sequential, layers, tensor } from './dist/src/index.js';
    const x = tensor(new Float32Array(8 * 1000), [8, 1000]);
    const use = async () => {
      const m = new Sequential([new layers.Dense(1000, { inputShape: [1000], kernelInitializer: 'zeros' }), new layers.Dense(10, { kernelInitializer: 'zeros' })]);
      m.compile({ optimizer: 'sgd', loss: 'mse', backend: 'cpu' });
      await m.predict(x, { batchSize: 8 });
    };
    // A warm-up as long as the measured run: the heap and allocator grow to their working size first (after only 3
    // models, the measured run's own growth read 1-9 MB; after 30, -4 to +3 MB).
    for (let i = 0; i < 30; i++) await use();
    await settle();
    const before = { rss: rss(), libs: loaded() };
    for (let i = 0; i < 30; i++) await use();
    const held = loaded();
    await settle();
    console.log(JSON.stringify({ before, after: { rss: rss(), libs: loaded() }, held }));`);
  expect(r.status, r.stderr).toBe(0);
  const { before, after, held } = JSON.parse(r.stdout) as { before: { rss: number; libs: number }; after: { rss: number; libs: number }; held: number };
  expect(held).toBeGreaterThan(0);
  expect(after.libs).toBeLessThanOrEqual(before.libs);
  // 30 models held 120 MB of weights: within a few MB of where it started.
  expect(after.rss - before.rss).toBeLessThan(8);
});

it('100 allocate/dispose cycles of a 16 MB arena return it to the system each time', () => {
  const r = inFreshProcess(`${PRELUDE}
    import { allocSharedCpu } from './dist/runtime/cpu/index.js';
    import { mappedArenaBytes } from './dist/runtime/cpu/pages.js';
    const cycle = () => {
      const m = allocSharedCpu(16 * MB);
      new Uint8Array(m.buffer).fill(1);
      m.dispose();
    };
    cycle();
    await settle();
    const before = rss();
    let peak = 0;
    for (let i = 0; i < 100; i++) {
      cycle();
      peak = Math.max(peak, rss());
    }
    await settle();
    console.log(JSON.stringify({ before, peak, after: rss(), mapped: mappedArenaBytes() }));`);
  expect(r.status, r.stderr).toBe(0);
  const { before, peak, after, mapped } = JSON.parse(r.stdout) as Record<string, number>;
  expect(mapped).toBe(0);
  expect(peak - before).toBeLessThan(24);
  expect(after - before).toBeLessThan(4);
});

it('an executable dropped without dispose() unmaps its arena', () => {
  const r = inFreshProcess(`${PRELUDE}
    import { Sequential, layers } from './dist/src/index.js';
    import { compileToProgram } from './dist/passes/pipeline.js';
    import { loadCpu } from './dist/runtime/cpu/index.js';
    import { mappedArenaBytes } from './dist/runtime/cpu/pages.js';
    const m = new Sequential([new layers.Dense(64, { inputShape: [64], kernelInitializer: 'zeros' })]);
    const { program } = compileToProgram(m.buildGraph(4096), { name: 'dropped' });
    const load = async () => { const exe = await loadCpu(program); await exe.run(); return mappedArenaBytes(); };
    const whileHeld = await load();
    await settle();
    console.log(JSON.stringify({ whileHeld, after: mappedArenaBytes(), arena: program.arenaBytes }));`);
  expect(r.status, r.stderr).toBe(0);
  const { whileHeld, after, arena } = JSON.parse(r.stdout) as Record<string, number>;
  expect(whileHeld).toBeGreaterThanOrEqual(arena);
  expect(after).toBe(0);
});

it('a layer kept after its model is dropped still reads its weights (the arena stays mapped while a view lives)', () => {
  const r = inFreshProcess(`${PRELUDE}
    import { Sequential, layers, tensor } from './dist/src/index.js';
    import { mappedArenaBytes } from './dist/runtime/cpu/pages.js';
    // In a function, so nothing but the returned layer outlives it (an async body keeps its locals across awaits).
    const make = async () => {
      const layer = new layers.Dense(64, { inputShape: [64], kernelInitializer: { className: 'RandomUniform', config: { seed: 2 } } });
      const m = new Sequential([layer]);
      m.compile({ optimizer: 'sgd', loss: 'mse', backend: 'cpu' });
      await m.predict(tensor(new Float32Array(64), [1, 64]));
      return { layer, expected: Array.from(layer.weights[0].value.slice(0, 8)) };
    };
    let { layer: kept, expected } = await make();
    await settle();
    const whileKept = mappedArenaBytes();
    const read = Array.from(kept.getWeights()[0].data.slice(0, 8));
    kept = null;
    await settle();
    console.log(JSON.stringify({ same: JSON.stringify(read) === JSON.stringify(expected), whileKept, after: mappedArenaBytes() }));`);
  expect(r.status, r.stderr).toBe(0);
  const { same, whileKept, after } = JSON.parse(r.stdout) as { same: boolean; whileKept: number; after: number };
  expect(same).toBe(true);
  expect(whileKept).toBeGreaterThan(0);
  expect(after).toBe(0);
});
