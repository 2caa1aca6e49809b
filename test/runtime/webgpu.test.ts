/**
 * The WebGPU backend (Dawn; Mesa's llvmpipe where there is no GPU) on a
 * device: every op case against the interpreter, binding windows, the
 * KILN_PRINT_KERNEL and KILN_PROFILE outputs, its errors, sharing a process
 * with the CPU backend, and the demo's Fashion-MNIST MLP trained on WebGPU
 * and on CPU (through the demo command) to the same accuracy. The emitted
 * WGSL is checked as text in test/codegen/wgsl_emit.test.ts; the rest of the
 * suite runs on WebGPU through KILN_TEST_BACKEND=webgpu (npm run test:webgpu).
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
import { loadWebgpu } from '../../runtime/webgpu/index.js';
import { MIN_TARGET } from '../../codegen/wgsl/target.js';
import { rng } from '../helpers/nd.js';
import { OP_CASES, generate } from '../helpers/op_cases.js';

describe('webgpu backend', () => {
  it('prints the WGSL of matching programs under KILN_PRINT_KERNEL', () => {
    const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
    const script = `
      import { Sequential, layers, tensor } from './dist/src/index.js';
      const m = new Sequential([new layers.Dense(4, { inputShape: [3], activation: 'relu' })]);
      m.compile({ optimizer: 'sgd', loss: 'mse', backend: 'webgpu' });
      await m.predict(tensor([[1, 2, 3]]));
      process.exit(0);`;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd: root, encoding: 'utf8', env: { ...process.env, KILN_PRINT_KERNEL: 'sequential' } });
    expect(r.status, r.stderr).toBe(0);
    const dumps = r.stderr.split('--- KILN_PRINT_KERNEL: ').slice(1);
    expect(dumps.length).toBeGreaterThan(0);
    for (const d of dumps) {
      expect(d).toMatch(/^sequential_\d+_b1_k\d+_\w+ ---\n/);
      expect(d).toContain('@compute @workgroup_size(');
    }
  });

  it('times every kernel under KILN_PROFILE=1', () => {
    const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
    const script = `
      import { Sequential, layers, tensor } from './dist/src/index.js';
      import { kernelTimes } from './dist/runtime/webgpu/profile.js';
      const m = new Sequential([new layers.Dense(8, { inputShape: [3], activation: 'relu' }), new layers.Dense(2, { activation: 'softmax' })]);
      m.compile({ optimizer: 'sgd', loss: 'mse', backend: 'webgpu' });
      const y = await m.predict(tensor([[1, 2, 3], [4, 5, 6]]), { batchSize: 2 });
      await m.predict(tensor([[1, 2, 3], [4, 5, 6]]), { batchSize: 2 });
      console.log(JSON.stringify({ rows: y.shape[0], ...kernelTimes() }));
      process.exit(0);`;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd: root, encoding: 'utf8', env: { ...process.env, KILN_PROFILE: '1' } });
    expect(r.status, r.stderr).toBe(0);
    const { rows, source, kernels } = JSON.parse(r.stdout) as { rows: number; source: string; kernels: { kernel: string; runs: number; totalMs: number }[] };
    expect(rows).toBe(2);
    expect(['timestamp-query', 'wall-clock per submit']).toContain(source);
    expect(kernels.length).toBeGreaterThan(1);
    for (const k of kernels) {
      expect(k.kernel).toMatch(/^sequential_\d+_b2_k\d+_/);
      expect(k.runs).toBe(2);
      expect(k.totalMs).toBeGreaterThanOrEqual(0);
    }
  });

  it('explains what is missing when no adapter can be had, and names a backend Dawn does not know', () => {
    const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
    const script = `
      import { getGpu } from './dist/runtime/webgpu/device.js';
      try { await getGpu(); console.log('adapter'); } catch (e) { console.log(e.message); }
      process.exit(0);`;
    const run = (backend: string): string => spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd: root, encoding: 'utf8', env: { ...process.env, KILN_WEBGPU_BACKEND: backend } }).stdout;
    expect(run('d3d12')).toContain("webgpu backend: no adapter from Dawn's 'd3d12' backend. Without a GPU, Kiln uses Mesa's llvmpipe: install libegl1 libegl-mesa0 libgl1-mesa-dri libgles2");
    expect(run('bogus')).toMatch(/^webgpu backend: Dawn refused backend 'bogus' \(from KILN_WEBGPU_BACKEND\): unrecognised backend 'bogus'\nPossible backends : 'null', .*'opengles'/);
  });

  it('shares a process with the CPU backend (each LLVM binds to its own symbols)', async () => {
    const { Sequential, layers, tensor } = await import('../../src/index.js');
    const x = tensor(Float32Array.from({ length: 40 * 12 }, (_, i) => Math.sin(i)), [40, 12]);
    const y = tensor(Float32Array.from({ length: 40 * 3 }, (_, i) => (i % 3 === 1 ? 1 : 0)), [40, 3]);
    const predictions = [];
    for (const backend of ['webgpu', 'cpu', 'webgpu'] as const) {
      const m = new Sequential([
        new layers.Dense(16, { inputShape: [12], activation: 'tanh', kernelInitializer: { className: 'glorot_uniform', config: { seed: 8 } } }),
        new layers.Dense(3, { activation: 'softmax', kernelInitializer: { className: 'glorot_uniform', config: { seed: 9 } } }),
      ]);
      m.compile({ optimizer: 'adam', loss: 'categorical_crossentropy', backend });
      await m.fit(x, y, { epochs: 2, batchSize: 8, verbose: 0 });
      predictions.push((await m.predict(x)).data);
    }
    expect(predictions[1]).toBeAllClose(predictions[0], { rtol: 1e-4, atol: 1e-6 });
    expect(predictions[2]).toEqual(predictions[0]);
  });

  it('refuses float64 with an error that names the kernel and the way out', async () => {
    const b = new GraphBuilder();
    const y = b.unary('exp', b.param('x', [4], 'float64'));
    await expect(compileGraph(b.build([y]), { backend: 'webgpu', name: 'f64' })).rejects.toThrow(/WebGPU has no float64: kernel f64_k0_exp of 'f64' cannot run on the webgpu backend \(use float32 or the cpu backend\)/);
  });

  it('binds arenas over maxStorageBufferBindingSize as aligned windows', async () => {
    const b = new GraphBuilder();
    const x = b.param('x', [64, 300]);
    const y = b.unary('exp', b.add(x, b.param('c', [300])));
    const z = b.sum(b.mul(y, y), 1);
    const { program } = compileToProgram(b.build([y, z]), { name: 'windows', wideBool: true });
    const limit = 80_000;
    expect(program.arenaBytes).toBeGreaterThan(limit);
    const target = { ...MIN_TARGET, maxStorageBufferBindingSize: limit, maxStorageBuffersPerShaderStage: 8 };
    const emitted = program.kernels.map((k) => emitKernel(program, k, target));
    for (const k of emitted) {
      for (const w of k.bindings) {
        expect(w.size).not.toBeNull();
        expect(w.offset % target.minStorageBufferOffsetAlignment).toBe(0);
        expect(w.size!).toBeLessThanOrEqual(limit);
      }
    }
    expect(emitted.some((k) => k.bindings.length > 1)).toBe(true);
    const xs = Float32Array.from({ length: 64 * 300 }, (_, i) => Math.sin(i) / 2);
    const cs = Float32Array.from({ length: 300 }, (_, i) => Math.cos(i) / 4);
    const exe = await loadWebgpu(program, undefined, { maxStorageBufferBindingSize: limit });
    exe.write(program.params.get('x')!, xs);
    exe.write(program.params.get('c')!, cs);
    await exe.run();
    const want = interpret(b.build([y, z]), new Map([['x', xs], ['c', cs]]));
    expect(await exe.read(program.outputs[0])).toBeAllClose(want[0], { rtol: 1e-5, atol: 1e-6 });
    expect(await exe.read(program.outputs[1])).toBeAllClose(want[1], { rtol: 1e-5, atol: 1e-5 });
    exe.dispose();
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
