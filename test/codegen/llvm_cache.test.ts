/**
 * The CPU backend's compile cache and executable lifecycle: a second load of
 * the same program reuses the shared object (fromCache), a different program
 * or thread count does not, nothing half-written is left behind; write at an
 * element offset, read returns a copy, a disposed executable refuses use.
 */
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { loadCpu } from '../../runtime/cpu/index.js';
import { ProgramBuilder, binary, constant, load, rowMajor } from '../helpers/llvm_program.js';

const cacheDir = mkdtempSync(join(tmpdir(), 'kiln-cache-test-'));
afterAll(() => rmSync(cacheDir, { recursive: true, force: true }));

function addProgram(c: number) {
  const pb = new ProgramBuilder('llvm_cache');
  const x = pb.buffer('float32', [5], 'input');
  const y = pb.buffer('float32', [5], 'output');
  pb.elementwise([5], y, binary('add', load(x, rowMajor([5]), 'float32'), constant(c, 'float32'), 'float32'));
  return { program: pb.build(), x, y };
}

it('compiles once, then loads from the cache', async () => {
  const { program, x, y } = addProgram(1);
  const first = await loadCpu(program, { cacheDir, threads: 1 });
  const second = await loadCpu(program, { cacheDir, threads: 1 });
  expect(first.fromCache).toBe(false);
  expect(second.fromCache).toBe(true);
  for (const exe of [first, second]) {
    exe.write(x, Float32Array.of(1, 2, 3, 4, 5));
    await exe.run();
    expect(Array.from(await exe.read(y))).toEqual([2, 3, 4, 5, 6]);
  }
  first.dispose();
  second.dispose();
  const files = readdirSync(cacheDir);
  expect(files.filter((f) => f.endsWith('.so'))).toHaveLength(1);
  // Temporaries are written as <key>.<pid>.<time>.* and renamed into place.
  expect(files.filter((f) => f.split('.').length > 2)).toEqual([]);
});

it('prunes the least recently used entries past the size limit, keeping what was just used', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'kiln-cache-prune-'));
  try {
    const sizeOf = (name: string): number => statSync(join(dir, name)).size;
    const load = async (c: number, maxCacheBytes: number) => (await loadCpu(addProgram(c).program, { cacheDir: dir, threads: 1, maxCacheBytes })).dispose();
    const sos = (): string[] => readdirSync(dir).filter((f) => f.endsWith('.so'));
    await load(10, 1 << 30);
    const [first] = sos();
    await load(11, 1 << 30);
    const second = sos().find((f) => f !== first)!;
    // Room for two entries: touching the first (a cache hit) makes the second the oldest.
    const limit = sizeOf(first) + sizeOf(second) + 100;
    await new Promise((r) => setTimeout(r, 20));
    await load(10, limit);
    await new Promise((r) => setTimeout(r, 20));
    await load(12, limit);
    const left = sos();
    expect(left).toHaveLength(2);
    expect(left).toContain(first);
    expect(left).not.toContain(second);
    expect(readdirSync(dir).filter((f) => f.endsWith('.json'))).toHaveLength(2);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

it('keys the cache by program and thread count', async () => {
  const changed = await loadCpu(addProgram(2).program, { cacheDir, threads: 1 });
  const threaded = await loadCpu(addProgram(1).program, { cacheDir, threads: 2 });
  expect(changed.fromCache).toBe(false);
  expect(threaded.fromCache).toBe(false);
  changed.dispose();
  threaded.dispose();
});

it('writes at an element offset, reads copies, and refuses use after dispose', async () => {
  const { program, x, y } = addProgram(1);
  const exe = await loadCpu(program, { cacheDir, threads: 1 });
  exe.write(x, Float32Array.of(10, 20, 30, 40, 50));
  exe.write(x, Float32Array.of(-1, -2), 3);
  await exe.run();
  const out = await exe.read(y);
  expect(Array.from(out)).toEqual([11, 21, 31, 0, -1]);
  out[0] = 99;
  expect((await exe.read(y))[0]).toBe(11);
  exe.dispose();
  await expect(exe.run()).rejects.toThrow(/disposed/);
});
