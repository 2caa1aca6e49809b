/**
 * Fresh processes on the built package, each with a fresh compile cache:
 * llvm-bindings is initialised once whichever part of Kiln (or the user)
 * loads it first (codegen/llvm/llvm.ts preloads the addon with deep binding
 * unless it is already loaded); and on an AVX-512 host the AVX2-width
 * micro-kernel (KILN_VECTOR_BITS=256, what hosts without AVX-512 run) still
 * computes what the interpreter does.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

function inFreshProcess(script: string, env: Record<string, string> = {}): { status: number | null; stdout: string; stderr: string } {
  // A fresh cache, so programs are really emitted through llvm-bindings.
  const cache = mkdtempSync(join(tmpdir(), 'kiln-load-order-'));
  try {
    return spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd: root, encoding: 'utf8', env: { ...process.env, ...env, KILN_CACHE_DIR: cache } });
  } finally {
    rmSync(cache, { recursive: true, force: true });
  }
}

function predictAfter(first: string): { status: number | null; stdout: string; stderr: string } {
  return inFreshProcess(`
    ${first}
    import { Sequential, layers, tensor } from './dist/src/index.js';
    const m = new Sequential([new layers.Dense(2, { inputShape: [3], kernelInitializer: 'ones' })]);
    m.compile({ optimizer: 'sgd', loss: 'mse', backend: 'cpu' });
    console.log(JSON.stringify(Array.from((await m.predict(tensor([[1, 2, 3]]))).data)));`);
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

it.each(['256', '512'])('packed matmuls with KILN_VECTOR_BITS=%s match the interpreter', (bits) => {
  const r = inFreshProcess(`
    import { GraphBuilder } from './dist/ir/graph.js';
    import { interpret } from './dist/ir/interpret.js';
    import { compileGraph } from './dist/runtime/executor.js';
    const b = new GraphBuilder();
    const y = b.add(b.matmul(b.param('x', [45, 300]), b.param('w', [300, 97])), b.param('c', [97]));
    const graph = b.build([y]);
    const feeds = new Map([['x', 45 * 300], ['w', 300 * 97], ['c', 97]].map(([n, len], s) => [n, Float32Array.from({ length: len }, (_, i) => Math.sin(i * (s + 1.7)))]));
    const exe = await compileGraph(graph, { backend: 'cpu', name: 'vector_bits' });
    for (const [n, d] of feeds) exe.write(n, d);
    const [got] = await exe.run();
    const [want] = interpret(graph, feeds);
    console.log(Math.max(...got.map((v, i) => Math.abs(v - want[i]))));`, { KILN_VECTOR_BITS: bits });
  expect(r.status, r.stderr).toBe(0);
  // 300 products of terms up to 1 in float32, summed in another order: well under 1e-4.
  expect(Number(r.stdout)).toBeLessThan(1e-4);
});

it('rejects a KILN_VECTOR_BITS that is neither 256 nor 512, saying which are valid', () => {
  const r = inFreshProcess("await import('./dist/runtime/config.js');", { KILN_VECTOR_BITS: '300' });
  expect(r.status).not.toBe(0);
  expect(r.stderr).toContain("KILN_VECTOR_BITS must be 256 or 512, got '300'");
});
