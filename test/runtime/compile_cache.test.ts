/**
 * The native compile cache stays correct (issue 11). A model that differs
 * from a cached one in one layer (its units, its activation) gets a program
 * of its own and predicts what that layer computes; the same architecture
 * with other weights reuses the cached program and follows the new weights.
 * An entry whose note says it was written for another CPU, by an older code
 * generator, or by a Kiln that wrote no such note is rebuilt, not loaded:
 * each case plants another program's shared object under the key, so
 * loading it would give wrong numbers, and a control case shows that an
 * entry with a matching note is loaded as it is.
 */
import { copyFileSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';

// Models read the cache folder from the environment once, when runtime/config.ts loads: a fresh one, set before any of Kiln loads.
const cacheDir = mkdtempSync(join(tmpdir(), 'kiln-compile-cache-'));
process.env.KILN_CACHE_DIR = cacheDir;
const { Sequential, layers, tensor } = await import('../../src/index.js');
const { CACHE_IDENTITY, programKey } = await import('../../codegen/llvm/toolchain.js');
const { cpuVectorBits, loadCpu } = await import('../../runtime/cpu/index.js');
const { ProgramBuilder, binary, constant, load, rowMajor } = await import('../helpers/llvm_program.js');
const { config } = await import('../../runtime/config.js');
afterAll(() => rmSync(cacheDir, { recursive: true, force: true }));

type Activation = 'relu' | 'tanh' | 'softmax';

/** x (rows x k) . w (k x n) + b, then the activation, in float64. */
function denseReference(x: number[][], w: number[][], b: number[], activation: Activation): number[][] {
  return x.map((row) => {
    const z = b.map((bj, j) => row.reduce((s, xi, i) => s + xi * w[i][j], bj));
    if (activation === 'relu') return z.map((v) => Math.max(v, 0));
    if (activation === 'tanh') return z.map(Math.tanh);
    const e = z.map((v) => Math.exp(v - Math.max(...z)));
    return e.map((v) => v / e.reduce((s, u) => s + u, 0));
  });
}

/** Deterministic weights that differ with `seed`. */
function matrix(rows: number, cols: number, seed: number): number[][] {
  return Array.from({ length: rows }, (_, i) => Array.from({ length: cols }, (_, j) => Math.sin(seed * 7.1 + i * 1.3 + j * 0.7) * 0.8));
}

const X = matrix(5, 4, 99);

/** A two-layer model with set weights: its predictions on X beside the float64 reference, and its compile stats. */
async function predictTwoLayers(hidden: Activation, units: number, seed: number) {
  const model = new Sequential([new layers.Dense(6, { inputShape: [4], activation: hidden }), new layers.Dense(units, { activation: 'softmax' })]);
  const [w1, b1, w2, b2] = [matrix(4, 6, seed), matrix(1, 6, seed + 1)[0], matrix(6, units, seed + 2), matrix(1, units, seed + 3)[0]];
  model.setWeights([tensor(w1), tensor(b1), tensor(w2), tensor(b2)]);
  const y = await model.predict(tensor(X));
  const want = denseReference(denseReference(X, w1, b1, hidden), w2, b2, 'softmax');
  return { shape: y.shape, got: Array.from(y.data), want: want.flat(), cached: model.compileStats?.cached };
}

it('follows a changed layer and changed weights of a cached model', async () => {
  expect(config.cacheDir).toBe(cacheDir);
  const first = await predictTwoLayers('relu', 3, 1);
  expect(first.cached).toBe(false);
  expect(first.shape).toEqual([5, 3]);
  expect(first.got).toBeAllClose(first.want, { rtol: 1e-5, atol: 1e-6 });

  // Same architecture, other weights: the cached program, the new weights' numbers.
  const reweighted = await predictTwoLayers('relu', 3, 2);
  expect(reweighted.cached).toBe(true);
  expect(reweighted.got).toBeAllClose(reweighted.want, { rtol: 1e-5, atol: 1e-6 });
  expect(reweighted.got).not.toBeAllClose(first.got, { rtol: 1e-3, atol: 1e-4 });

  // One layer wider: a new program, and the new shape.
  const wider = await predictTwoLayers('relu', 5, 1);
  expect(wider.cached).toBe(false);
  expect(wider.shape).toEqual([5, 5]);
  expect(wider.got).toBeAllClose(wider.want, { rtol: 1e-5, atol: 1e-6 });

  // One layer's activation changed, shapes the same: a new program.
  const tanh = await predictTwoLayers('tanh', 3, 1);
  expect(tanh.cached).toBe(false);
  expect(tanh.got).toBeAllClose(tanh.want, { rtol: 1e-5, atol: 1e-6 });
  expect(tanh.got).not.toBeAllClose(first.got, { rtol: 1e-3, atol: 1e-4 });

  // The first architecture again: still cached, still right.
  const again = await predictTwoLayers('relu', 3, 1);
  expect(again.cached).toBe(true);
  expect(again.got).toBeAllClose(first.want, { rtol: 1e-5, atol: 1e-6 });
});

function addProgram(c: number) {
  const pb = new ProgramBuilder('compile_cache');
  const x = pb.buffer('float32', [4], 'input');
  const y = pb.buffer('float32', [4], 'output');
  pb.elementwise([4], y, binary('add', load(x, rowMajor([4]), 'float32'), constant(c, 'float32'), 'float32'));
  return { program: pb.build(), x, y };
}

/** Puts a copy of `from` at `to` as a new file (a rename, as a build does: nothing maps a file while it changes). */
function plant(from: string, to: string): void {
  copyFileSync(from, `${to}.planted`);
  renameSync(`${to}.planted`, to);
}

/** Loads `x + c` from `dir` and runs it on [1, 2, 3, 4]. */
async function runAdd(dir: string, c: number): Promise<{ out: number[]; fromCache: boolean }> {
  const { program, x, y } = addProgram(c);
  const exe = await loadCpu(program, { cacheDir: dir, threads: 1 });
  exe.write(x, Float32Array.of(1, 2, 3, 4));
  await exe.run();
  const out = Array.from(await exe.read(y));
  exe.dispose();
  return { out, fromCache: exe.fromCache ?? false };
}

it('puts the code generator and the host into every key', () => {
  const { program } = addProgram(1);
  const key = programKey(program, 1, 256);
  expect(programKey(program, 1, 256, { ...CACHE_IDENTITY })).toBe(key);
  expect(programKey(program, 1, 256, { ...CACHE_IDENTITY, codegen: 'an older code generator' })).not.toBe(key);
  expect(programKey(program, 1, 256, { ...CACHE_IDENTITY, host: 'x64 Another CPU 0123456789abcdef' })).not.toBe(key);
});

it.each([
  ['written for another CPU', (note: Record<string, unknown>) => ({ ...note, host: 'x64 Another CPU 0123456789abcdef' })],
  ['written by an older code generator', (note: Record<string, unknown>) => ({ ...note, codegen: 'an older code generator' })],
  ['whose note has no identity (an older Kiln)', (note: Record<string, unknown>) => ({ name: note.name, kernels: note.kernels })],
  ['with no note at all', null],
])('does not load an entry %s', async (_, forge) => {
  const dir = mkdtempSync(join(tmpdir(), 'kiln-cache-identity-'));
  try {
    expect((await runAdd(dir, 1)).out).toEqual([2, 3, 4, 5]);
    expect((await runAdd(dir, 2)).out).toEqual([3, 4, 5, 6]);
    const keyOf = (c: number): string => join(dir, programKey(addProgram(c).program, 1, cpuVectorBits()));
    // Under x + 1's key: the object code of x + 2, and the note forged as the case says.
    plant(`${keyOf(2)}.so`, `${keyOf(1)}.so`);
    const note = JSON.parse(readFileSync(`${keyOf(1)}.json`, 'utf8')) as Record<string, unknown>;
    if (forge) writeFileSync(`${keyOf(1)}.json`, JSON.stringify(forge(note)));
    else rmSync(`${keyOf(1)}.json`);
    const rebuilt = await runAdd(dir, 1);
    expect(rebuilt.fromCache).toBe(false);
    expect(rebuilt.out).toEqual([2, 3, 4, 5]);
    // The rebuilt entry is this host's and this generator's: used from now on.
    expect(await runAdd(dir, 1)).toEqual({ out: [2, 3, 4, 5], fromCache: true });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

it('loads an entry whose note matches as it is (the control for the cases above)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'kiln-cache-identity-'));
  try {
    await runAdd(dir, 1);
    await runAdd(dir, 2);
    const keyOf = (c: number): string => join(dir, programKey(addProgram(c).program, 1, cpuVectorBits()));
    plant(`${keyOf(2)}.so`, `${keyOf(1)}.so`);
    expect(await runAdd(dir, 1)).toEqual({ out: [3, 4, 5, 6], fromCache: true });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
