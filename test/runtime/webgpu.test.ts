/**
 * The WebGPU backend (Dawn; Mesa's llvmpipe where there is no GPU) runs the
 * same kernel programs: every op case against the interpreter, the WGSL
 * emitted for a small fused kernel checked as text, and the demo's
 * Fashion-MNIST MLP trained on WebGPU and on CPU (through the demo command)
 * to the same accuracy, and both backends in one process. The rest of the suite runs on WebGPU through
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
import { loadWebgpu } from '../../runtime/webgpu/index.js';
import { MIN_TARGET } from '../../codegen/wgsl/target.js';
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

  it('tiles matmuls in workgroup memory, sized by the adapter limits; tiny ones stay per element', () => {
    const b = new GraphBuilder();
    const y = b.maximum(b.add(b.matmul(b.param('x', [100, 784]), b.param('w', [784, 512])), b.param('c', [512])), 0);
    const { program } = compileToProgram(b.build([y]), { name: 'mm', wideBool: true });
    const mm = program.kernels.find((k) => k.kind === 'matmul')!;
    const core = emitKernel(program, mm, { ...MIN_TARGET, maxInvocationsPerWorkgroup: 256, maxWorkgroupSizeX: 256, maxWorkgroupSizeY: 256 });
    expect(core.workgroupSize).toEqual([16, 8]);
    expect(core.groups).toEqual([2 * 8, 1]);
    expect(core.code).toContain('var<workgroup> tile_a: array<f32, 1024>;');
    // x is contiguous along k and w along n, both multiples of 4: staged four words at a time.
    expect(core.code).toMatch(/var<storage, read_write> arena: array<vec4<u32>>;/);
    expect(core.code.match(/v = bitcast<vec4<f32>>\((shared_)?arena\[/g)).toHaveLength(2);
    expect(core.code.match(/workgroupBarrier\(\);/g)).toHaveLength(2);
    expect(core.code).toMatch(/acc_7 = fma\(vec4<f32>\(tile_a\[pp \* 64 \+ ty \* 8 \+ 7\]\), bv, acc_7\);/);
    // The bias add and relu are fused into each element's store.
    expect(core.code).toMatch(/let t\d+ = max\(t\d+, t\d+\);/);
    const small = { ...MIN_TARGET, maxInvocationsPerWorkgroup: 64, maxWorkgroupSizeY: 64 };
    const narrow = emitKernel(program, mm, small);
    expect(narrow.workgroupSize).toEqual([16, 4]);
    expect(narrow.code).toContain('acc_15 = fma(');
    const mv = new GraphBuilder();
    const v = mv.matmul(mv.param('x', [1, 784]), mv.param('w', [784, 10]));
    const one = compileToProgram(mv.build([v]), { name: 'mv', wideBool: true }).program;
    const simple = emitKernel(one, one.kernels[0], MIN_TARGET);
    expect(simple.code).not.toContain('workgroupBarrier');
    expect(simple.code).toContain('for (var p = 0; p < 784; p++) {');
  });

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

  it('folds long reductions over few points in one workgroup per point; short ones stay serial', () => {
    const b = new GraphBuilder();
    const x = b.param('x', [3, 1500]);
    const e = b.unary('exp', b.sub(x, b.max(x, -1, true)));
    const { program } = compileToProgram(b.build([b.div(e, b.sum(e, -1, true))]), { name: 'softmax', wideBool: true });
    const codes = program.kernels.map((k) => emitKernel(program, k, MIN_TARGET));
    const grouped = codes.filter((c) => c.code.includes('var<workgroup> partial_f32: array<f32, 64>;'));
    expect(grouped.length).toBeGreaterThan(0);
    for (const c of grouped) {
      expect(c.groups).toEqual([3, 1]);
      expect(c.code).toContain('for (var q = lin; q < 1500; q += 64) {');
      expect(c.code).toMatch(/if \(lin < w\) \{ partial_f32\[lin\] = (max\()?partial_f32\[lin\]/);
    }
    const small = new GraphBuilder();
    const { program: rows } = compileToProgram(small.build([small.sum(small.param('y', [128, 10]), 1)]), { name: 'rows', wideBool: true });
    expect(emitKernel(rows, rows.kernels[0], MIN_TARGET).code).not.toContain('workgroupBarrier');
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
