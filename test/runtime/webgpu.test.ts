/**
 * The WebGPU backend (Dawn; Mesa's llvmpipe where there is no GPU) runs the
 * same kernel programs: every op case against the interpreter, the WGSL
 * emitted for a small fused kernel checked as text, and the demo's
 * Fashion-MNIST MLP trained on WebGPU and on CPU (in child processes: the
 * LLVM in llvm-bindings and the one in Mesa cannot share a process) to the
 * same accuracy. The rest of the suite runs on WebGPU through
 * KILN_TEST_BACKEND=webgpu (npm run test:webgpu).
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { type TypedArray, allocArray, isFloat } from '../../ir/dtype.js';
import { GraphBuilder } from '../../ir/graph.js';
import { interpret } from '../../ir/interpret.js';
import { emitKernel } from '../../codegen/wgsl/kernel.js';
import { compileToProgram } from '../../passes/pipeline.js';
import { compileGraph } from '../../runtime/executor.js';
import { rng } from '../helpers/nd.js';
import { OP_CASES, generate } from '../helpers/op_cases.js';

describe('webgpu backend', () => {
  it('emits one WGSL shader per fused kernel, over the arena as words', () => {
    const b = new GraphBuilder();
    const y = b.unary('exp', b.add(b.param('x', [4, 6]), b.param('b', [6])));
    const { program } = compileToProgram(b.build([y]), { name: 'emit', wideBool: true });
    const { code, groups } = emitKernel(program, program.kernels[0]);
    expect(groups).toEqual([1, 1]);
    expect(code).toContain('@group(0) @binding(0) var<storage, read_write> arena: array<u32>;');
    expect(code).toMatch(/let t\d+ = bitcast<f32>\(arena\[u32\(0 \+ \(0 \+ o0 \* 6 \+ o1\)\)\]\);/);
    expect(code).toMatch(/let t\d+ = exp\(t\d+\);/);
    expect(code.match(/arena\[[^\]]+\] = bitcast<u32>/g)).toHaveLength(1);
  });

  it('runs every op case like the interpreter', async () => {
    const next = rng(4321);
    const feeds = new Map<string, TypedArray>();
    const b = new GraphBuilder();
    const outs = OP_CASES.map((c, ci) => c.build(b, c.inputs.map((spec, i) => {
      const values = generate(spec, next);
      const data = allocArray(spec.dtype, values.length);
      data.set(values);
      feeds.set(`c${ci}_${i}`, data);
      return b.param(`c${ci}_${i}`, spec.shape, spec.dtype);
    })));
    const graph = b.build(outs);
    const want = interpret(graph, feeds);
    const exe = await compileGraph(graph, { backend: 'webgpu', name: 'ops_webgpu' });
    for (const [name, data] of feeds) exe.write(name, data);
    const got = await exe.run();
    const failures = OP_CASES.flatMap((c, i) => {
      const float = isFloat(graph.nodes[graph.outputs[i]].type.dtype);
      // GPU transcendentals are not correctly rounded: float32 results get 1e-4 relative slack.
      const [rtol, atol] = c.tol ?? (float ? [1e-4, 1e-5] : [0, 0]);
      try {
        expect(got[i]).toBeAllClose(want[i], { rtol, atol });
        return [];
      } catch (e) {
        return [`${c.name}: ${(e as Error).message}`];
      }
    });
    expect(failures).toEqual([]);
    exe.dispose();
  });

  it('trains the Fashion-MNIST MLP to the accuracy the CPU backend reaches', () => {
    const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
    const demo = join(root, 'dist', 'scripts', 'demo.js');
    expect(existsSync(demo), 'run `npm run build` first').toBe(true);
    const accuracy = (backend: string): number => {
      const r = spawnSync(process.execPath, [demo, '--backend', backend, '--epochs', '2', '--samples', '2048'], { cwd: root, encoding: 'utf8' });
      expect(r.status, `demo on ${backend}: ${r.stderr}`).toBe(0);
      const m = /Test accuracy: ([\d.]+)/.exec(r.stdout);
      expect(m, r.stdout).not.toBeNull();
      return Number(m![1]);
    };
    const cpu = accuracy('cpu');
    const gpu = accuracy('webgpu');
    // 2,048 samples, 2 epochs: about 0.72 on the 10,000 test images; the backends differ only in float rounding.
    expect(cpu).toBeGreaterThan(0.65);
    expect(Math.abs(gpu - cpu)).toBeLessThan(0.01);
  }, 300_000);
});
