/**
 * Pre-packed weights on the CPU (passes/prepack_weights.ts): predict programs
 * keep their Dense and convolution kernels packed between calls and repack
 * only when the weights generation moved. A stale copy would give the old
 * weights' outputs, so after every kind of weight write (setWeights,
 * loadWeights, a fit step, a train step seen through a second model sharing
 * the layers, layer.setWeights, a compiled program's write) predictions are
 * checked against a fresh model on the tensor interpreter holding the same
 * weights.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { GraphBuilder } from '../../ir/graph.js';
import type { MatmulKernel } from '../../ir/kernel.js';
import { flatKernels } from '../../ir/repeat.js';
import { compileToProgram } from '../../passes/pipeline.js';
import { compileWithBackend } from '../../runtime/compile_native.js';
import { compileGraph } from '../../runtime/executor.js';
import { kernelInterpreterBackend } from '../../runtime/kernel_interpreter.js';
import { SharedState } from '../../runtime/shared_state.js';
import type { Network } from '../../src/models/network.js';
import { Input, Model, Sequential, Tensor, layers, tensor } from '../../src/index.js';

const BATCH = 32;
const dir = mkdtempSync(join(tmpdir(), 'kiln-prepack-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const data = (rows: number, shape: readonly number[], seed: number): Tensor => {
  const size = shape.reduce((p, q) => p * q, 1);
  return tensor(Float32Array.from({ length: rows * size }, (_, i) => Math.sin(seed + i * 0.37)), [rows, ...shape]);
};

const init = (seed: number) => ({ kernelInitializer: { className: 'glorot_uniform', config: { seed } } });

/** Dense layers with widths that are not whole panels (48, 40, 7 columns). */
function mlp(): Sequential {
  return new Sequential([
    new layers.Dense(48, { inputShape: [40], activation: 'relu', ...init(1) }),
    new layers.Dense(40, { activation: 'tanh', ...init(2) }),
    new layers.Dense(7, init(3)),
  ]);
}

/** A convolution (its kernel packed through the implicit-GEMM view) and a Dense over its flattened output. */
function cnn(): Sequential {
  return new Sequential([
    new layers.Conv2D(20, [3, 3], { inputShape: [9, 9, 3], activation: 'relu', ...init(4) }),
    new layers.Flatten(),
    new layers.Dense(12, init(5)),
  ]);
}

/** New weights of the same shapes, far from the old ones. */
function otherWeights(model: Network, seed: number): Tensor[] {
  return model.getWeights().map((w, i) => tensor(Float32Array.from(w.data, (_, j) => Math.cos(seed + i * 3.1 + j * 0.73) * 0.3), w.shape));
}

/** What a fresh model with `model`'s weights predicts on the tensor interpreter. */
async function reference(make: () => Sequential, model: Network, x: Tensor): Promise<Tensor> {
  const fresh = make();
  fresh.compile({ optimizer: 'sgd', loss: 'mse', backend: 'interpreter' });
  fresh.setWeights(model.getWeights());
  return (await fresh.predict(x, { batchSize: BATCH })) as Tensor;
}

async function expectCurrent(make: () => Sequential, model: Network, x: Tensor): Promise<void> {
  const got = (await model.predict(x, { batchSize: BATCH })) as Tensor;
  expect(got.data).toBeAllClose((await reference(make, model, x)).data, { rtol: 1e-4, atol: 1e-5 });
}

/** The matmuls of `model`'s batch-`batch` predict program (as the CPU backend compiles it) that read a packed copy of B. */
function packedMatmuls(model: Network, batch: number): MatmulKernel[] {
  const { program } = compileToProgram(model.buildGraph(batch), { backend: 'cpu', shared: model.sharedState().layout });
  return flatKernels(program.kernels).filter((k): k is MatmulKernel => k.kind === 'matmul' && k.b.packed !== undefined);
}

describe.each([['mlp', mlp, [40]], ['cnn', cnn, [9, 9, 3]]] as const)('%s: predict never reads a stale packed copy', (_, make, shape) => {
  const x = data(2 * BATCH, shape, 1);
  const y = (model: Network): Tensor => data(2 * BATCH, model.outputs[0].shape.slice(1) as number[], 2);

  it('packs every kernel of the predict program (and none at batch 1, which streams B)', () => {
    const model = make();
    expect(packedMatmuls(model, BATCH)).toHaveLength(model.layers.filter((l) => l.weights.length).length);
    expect(packedMatmuls(model, 1).filter((k) => k.m <= 8)).toHaveLength(0);
  });

  it('after setWeights and loadWeights', async () => {
    const model = make();
    await expectCurrent(make, model, x);
    model.setWeights(otherWeights(model, 1));
    await expectCurrent(make, model, x);
    const saved = make();
    saved.setWeights(otherWeights(saved, 2));
    await saved.saveWeights(join(dir, `${_}.h5`));
    await model.loadWeights(join(dir, `${_}.h5`));
    expect(model.getWeights()[0].data).toEqual(saved.getWeights()[0].data);
    await expectCurrent(make, model, x);
  });

  it('after a fit step and a train step, at two batch sizes', async () => {
    const model = make();
    model.compile({ optimizer: 'sgd', loss: 'mse' });
    await expectCurrent(make, model, x);
    const before = model.getWeights()[0].data.slice();
    await model.fit(x, y(model), { epochs: 1, batchSize: 2 * BATCH, verbose: 0 });
    expect(model.getWeights()[0].data).not.toEqual(before);
    await expectCurrent(make, model, x);
    await model.trainOnBatch(x, y(model));
    // Another predict program (batch 16) packs for the first time; the batch-32 one repacks.
    const got16 = (await model.predict(x, { batchSize: 16 })) as Tensor;
    expect(got16.data).toBeAllClose((await reference(make, model, x)).data, { rtol: 1e-4, atol: 1e-5 });
    await expectCurrent(make, model, x);
  });

  it('after layer.setWeights', async () => {
    const model = make();
    await expectCurrent(make, model, x);
    const layer = model.layers[model.layers.length - 1];
    layer.setWeights(otherWeights(model, 3).slice(-2));
    await expectCurrent(make, model, x);
    model.layers[0].setWeights(otherWeights(model, 4).slice(0, 2));
    await expectCurrent(make, model, x);
  });
});

describe('a second model sharing the layers', () => {
  it('predicts with the weights a train step of the first one wrote', async () => {
    const input = Input({ shape: [40] });
    const hidden = new layers.Dense(48, { activation: 'relu', ...init(6) });
    const head = new layers.Dense(7, init(7));
    const out = head.apply(hidden.apply(input));
    const first = new Model({ inputs: input, outputs: out });
    const second = new Model({ inputs: input, outputs: out });
    first.compile({ optimizer: 'sgd', loss: 'mse' });
    const make = (): Sequential => new Sequential([new layers.Dense(48, { inputShape: [40], activation: 'relu' }), new layers.Dense(7)]);
    const x = data(BATCH, [40], 3);
    await expectCurrent(make, first, x);
    await expectCurrent(make, second, x);
    for (let step = 0; step < 2; step++) {
      await first.trainOnBatch(x, data(BATCH, [7], 4));
      await expectCurrent(make, second, x);
      await expectCurrent(make, first, x);
    }
  });
});

describe('the compiled program level', () => {
  it("repacks after a program's write of a shared weight, and a train program advances the generation", async () => {
    const build = (b: GraphBuilder) => {
      const x = b.param('x', [BATCH, 24]);
      const w = b.param('w', [24, 40], 'float32', 'weight');
      return { x, w, y: b.matmul(x, w) };
    };
    const b = new GraphBuilder();
    const { y } = build(b);
    const state = new SharedState([{ name: 'w', dtype: 'float32', size: 24 * 40 }]);
    const predict = await compileGraph(b.build([y]), { backend: 'cpu', name: 'prepack_write', shared: state });
    const xs = Float32Array.from({ length: BATCH * 24 }, (_, i) => Math.sin(i));
    const product = (w: Float32Array): number[] => Array.from({ length: BATCH * 40 }, (_, i) => {
      const [r, c] = [Math.floor(i / 40), i % 40];
      let s = 0;
      for (let k = 0; k < 24; k++) s += xs[r * 24 + k] * w[k * 40 + c];
      return s;
    });
    predict.write('x', xs);
    for (const seed of [1, 2]) {
      const w = Float32Array.from({ length: 24 * 40 }, (_, i) => Math.cos(seed * i));
      predict.write('w', w);
      expect((await predict.run())[0]).toBeAllClose(product(w), { rtol: 1e-5, atol: 1e-5 });
    }
    // A program that writes w (as a train step does) advances the generation; the predict program then repacks.
    const t = new GraphBuilder();
    const tw = t.param('w', [24, 40], 'float32', 'state');
    const step = await compileGraph(t.build([t.sum(tw)], [{ target: tw, value: t.mul(tw, 2) }]), { backend: 'cpu', name: 'prepack_double', shared: state });
    const generation = state.view('kiln:weights_generation') as Int32Array;
    const was = generation[0];
    await step.run();
    expect(generation[0]).toBe(was + 1);
    const doubled = (state.view('w') as Float32Array).slice();
    expect((await predict.run())[0]).toBeAllClose(product(doubled), { rtol: 1e-5, atol: 1e-5 });
    predict.dispose();
    step.dispose();
    state.dispose();
  });

  it('the kernel interpreter runs a program with packed copies by reading the weights themselves', async () => {
    const b = new GraphBuilder();
    const x = b.param('x', [BATCH, 3]);
    const w = b.param('w', [3, 2], 'float32', 'weight');
    const graph = b.build([b.matmul(x, w)]);
    const state = new SharedState([{ name: 'w', dtype: 'float32', size: 6 }]);
    const { program } = compileToProgram(graph, { backend: 'cpu', shared: state.layout });
    expect(flatKernels(program.kernels).some((k) => k.kind === 'matmul' && k.b.packed !== undefined)).toBe(true);
    const run = await compileWithBackend(graph, 'prepack_interpreted', kernelInterpreterBackend, 'interpreter', state);
    run.write('x', Float32Array.from({ length: BATCH * 3 }, (_, i) => i % 5));
    for (const scale of [1, -2]) {
      run.write('w', Float32Array.of(1, 2, 3, 4, 5, 6).map((v) => v * scale));
      const got = (await run.run())[0];
      expect(Array.from(got.subarray(0, 4))).toEqual([0 * 1 + 1 * 3 + 2 * 5, 0 * 2 + 1 * 4 + 2 * 6, 3 * 1 + 4 * 3 + 0 * 5, 3 * 2 + 4 * 4 + 0 * 6].map((v) => v * scale));
    }
    run.dispose();
    state.dispose();
  });
});
