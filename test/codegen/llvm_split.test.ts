/**
 * A program of many kernels is compiled as several modules side by side
 * (codegen/llvm/toolchain.ts: llvm-split, then opt and llc per part, one
 * shared object): it computes what the unsplit build does, only the entry
 * point leaves the shared object, and a small program is not split.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import type { TypedArray } from '../../ir/dtype.js';

// Models take the number of compile jobs and the cache from the environment when runtime/config.ts loads: three jobs whatever the host's cores, and a fresh cache, so the training program is built here.
const modelCache = mkdtempSync(join(tmpdir(), 'kiln-split-models-'));
process.env.KILN_COMPILE_JOBS = '3';
process.env.KILN_CACHE_DIR = modelCache;
const { BUILD_TIMES, helpersShareState } = await import('../../codegen/llvm/toolchain.js');
const { Sequential, layers, tensor } = await import('../../src/index.js');
const { loadCpu } = await import('../../runtime/cpu/index.js');
const { ProgramBuilder, binary, constant, load, rowMajor, unary } = await import('../helpers/llvm_program.js');

const cacheDir = mkdtempSync(join(tmpdir(), 'kiln-split-test-'));
afterAll(() => {
  rmSync(cacheDir, { recursive: true, force: true });
  rmSync(modelCache, { recursive: true, force: true });
});

/** `kernels` elementwise kernels in a chain: t <- sqrt(t * t + k) for k = 1.. (each its own kernel), over 40 elements. */
function chain(name: string, kernels: number) {
  const pb = new ProgramBuilder(name);
  const x = pb.buffer('float32', [40], 'input');
  let prev = x;
  for (let k = 1; k <= kernels; k++) {
    const next = pb.buffer('float32', [40], k === kernels ? 'output' : 'temp');
    const t = load(prev, rowMajor([40]), 'float32');
    pb.elementwise([40], next, unary('sqrt', binary('add', binary('mul', t, t, 'float32'), constant(k, 'float32'), 'float32'), 'float32'));
    prev = next;
  }
  return { program: pb.build(), x, y: prev };
}

/** Runs the chain on 0..39 with `jobs` compile jobs: its outputs and the stages its build went through. */
async function build(name: string, kernels: number, jobs: number): Promise<{ out: TypedArray; stages: string[] }> {
  const { program, x, y } = chain(name, kernels);
  const exe = await loadCpu(program, { cacheDir: mkdtempSync(join(cacheDir, 'c-')), threads: 1, compileJobs: jobs });
  exe.write(x, Float32Array.from({ length: 40 }, (_, i) => i));
  await exe.run();
  const out = await exe.read(y);
  exe.dispose();
  return { out, stages: BUILD_TIMES.filter((b) => b.program === name).map((b) => b.stage) };
}

it('splits a program of many kernels, computes what the whole module does, and exports only the entry point', async () => {
  const kernels = 40;
  const whole = await build('chain_whole', kernels, 1);
  const split = await build('chain_split', kernels, 3);
  expect(whole.stages).not.toContain('split');
  expect(split.stages).toContain('split');
  // sqrt(t^2 + k) k = 1..K from x: sqrt(x^2 + K(K+1)/2).
  const want = Array.from({ length: 40 }, (_, i) => Math.sqrt(i * i + (kernels * (kernels + 1)) / 2));
  expect(Array.from(split.out)).toBeAllClose(want, { rtol: 1e-5 });
  expect(Array.from(split.out)).toEqual(Array.from(whole.out));
  const dirs = readdirSync(cacheDir).map((d) => join(cacheDir, d));
  const so = dirs.flatMap((d) => readdirSync(d).filter((f) => f.endsWith('.so') && !f.startsWith('philox')).map((f) => join(d, f)));
  expect(so).toHaveLength(2);
  for (const path of so) {
    const exported = execFileSync('nm', ['-D', '--defined-only', path], { encoding: 'utf8' }).split('\n').filter(Boolean).map((l) => l.split(' ').pop());
    expect(exported.filter((s) => !s!.startsWith('_'))).toEqual(['kiln_run']);
    // Nothing of the build is left beside the entry.
    expect(readdirSync(join(path, '..')).filter((f) => f.split('.').length > 2)).toEqual([]);
  }
});

it('does not split a small program', async () => {
  const small = await build('chain_small', 6, 4);
  expect(small.stages).not.toContain('split');
  expect(Array.from(small.out)).toBeAllClose(Array.from({ length: 40 }, (_, i) => Math.sqrt(i * i + 21)), { rtol: 1e-5 });
});

it('trains a split program (matmul kernels in every part, each with its own helpers) as the interpreter does', async () => {
  const build = () => {
    const m = new Sequential([new layers.Dense(24, { inputShape: [10], activation: 'relu' }), new layers.Dense(16, { activation: 'tanh' }), new layers.Dense(3, { activation: 'softmax' })]);
    m.setWeights(m.getWeights().map((w, i) => tensor(Float32Array.from(w.data, (_, j) => Math.sin(i * 3.1 + j * 0.37) * 0.4), w.shape)));
    return m;
  };
  const x = tensor(Float32Array.from({ length: 8 * 10 }, (_, i) => Math.cos(i * 0.61)), [8, 10]);
  const y = tensor(Float32Array.from({ length: 8 * 3 }, (_, i) => (i % 3 === Math.floor(i / 3) % 3 ? 1 : 0)), [8, 3]);
  const results = [];
  for (const backend of ['cpu', 'interpreter'] as const) {
    const m = build();
    m.compile({ optimizer: 'adam', loss: 'categorical_crossentropy', backend });
    const losses = [];
    for (let step = 0; step < 3; step++) losses.push((await m.trainOnBatch(x, y)) as number);
    results.push({ losses, weights: m.getWeights().flatMap((w) => Array.from(w.data)) });
  }
  expect(BUILD_TIMES.some((b) => b.stage === 'split' && b.program.includes('train'))).toBe(true);
  expect(results[0].losses).toBeAllClose(results[1].losses, { rtol: 1e-4, atol: 1e-5 });
  expect(results[0].weights).toBeAllClose(results[1].weights, { rtol: 1e-4, atol: 1e-5 });
});

it('keeps the module whole when a helper uses a mutable global (copies would not share it)', () => {
  const ir = (helperBody: string): string => `@state = internal global i32 0
@table = internal constant [2 x i32] [i32 1, i32 2]
@kiln_pack_a_float32 = hidden global [4 x float] zeroinitializer
@kiln_pack_a_float32.1 = hidden global [4 x float] zeroinitializer
@elsewhere = external global i32
define void @helper() {
${helperBody}
  ret void
}
`;
  expect(helpersShareState(ir('  store i32 1, i32* @state'))).toBe(true);
  expect(helpersShareState(ir('  %v = load i32, i32* @elsewhere'))).toBe(false);
  expect(helpersShareState(ir('  %p = getelementptr [2 x i32], [2 x i32]* @table, i64 0, i64 1'))).toBe(false);
  expect(helpersShareState(ir('  %p = getelementptr [4 x float], [4 x float]* @kiln_pack_a_float32.1, i64 0, i64 1'))).toBe(true);
  expect(helpersShareState(ir(''))).toBe(false);
});
