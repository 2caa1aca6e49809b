/**
 * Layout selection: IR text before and after, the moves it refuses, and a
 * channels_first model against its channels_last twin (same kernels but for
 * the input's loads, same numbers, for predict and for a training step).
 */
import { describe, expect, it } from 'vitest';
import { type TypedArray, allocArray, sizeOf } from '../../ir/dtype.js';
import { type Graph, GraphBuilder } from '../../ir/graph.js';
import { interpret, interpretRun } from '../../ir/interpret.js';
import type { AttrsMap } from '../../ir/ops.js';
import { differentiate } from '../../passes/autodiff.js';
import { printGraph } from '../../ir/print.js';
import { printProgram } from '../../ir/print_kernel.js';
import { selectLayout } from '../../passes/layout.js';
import { PREDICT_GRAPH, compileToProgram, runPipeline } from '../../passes/pipeline.js';
import { Sequential, layers, optimizers, setBackend, tensor } from '../../src/index.js';
import type { Layer } from '../../src/layers/index.js';
import { trainGraph } from '../../src/training/programs.js';
import { Trainer } from '../../src/training/trainer.js';
import { TEST_BACKEND } from '../helpers/backend.js';
import { text } from '../helpers/graphs.js';
import { rng } from '../helpers/nd.js';

const LAST = { layout: 'channels_last' } as const;
const body = (g: Graph): string => printGraph(g);
const transposes = (g: Graph): number => g.nodes.filter((n) => n.op === 'transpose').length;

describe('layout', () => {
  it('moves a channels_first stretch (scale, relu) back to channels-last: both transposes go, the scale is reshaped', () => {
    const b = new GraphBuilder();
    const x = b.param('x', [1, 2, 2, 3]);
    const s = b.param('s', [3], 'float32', 'weight');
    const y = b.maximum(b.mul(b.transpose(x, [0, 3, 1, 2]), b.reshape(s, [1, 3, 1, 1])), 0);
    const g = b.build([b.sum(b.transpose(y, [0, 2, 3, 1]), [1, 2])]);
    expect(body(g)).toBe(text(`
      %0: float32[1, 2, 2, 3] = param{name=x, role=input}()
      %1: float32[3] = param{name=s, role=weight}()
      %2: float32[1, 3, 2, 2] = transpose{perm=[0,3,1,2]}(%0)
      %3: float32[1, 3, 1, 1] = reshape{shape=[1,3,1,1]}(%1)
      %4: float32[1, 3, 2, 2] = broadcast{shape=[1,3,2,2]}(%3)
      %5: float32[1, 3, 2, 2] = mul(%2, %4)
      %6: float32[] = constant{value=0}()
      %7: float32[1, 3, 2, 2] = broadcast{shape=[1,3,2,2]}(%6)
      %8: float32[1, 3, 2, 2] = maximum(%5, %7)
      %9: float32[1, 2, 2, 3] = transpose{perm=[0,2,3,1]}(%8)
      %10: float32[1, 3] = reduce_sum{axes=[1,2], keepDims=false}(%9)
      return %10`));
    const after = selectLayout(g, LAST);
    expect(body(after)).toBe(text(`
      %0: float32[1, 2, 2, 3] = param{name=x, role=input}()
      %1: float32[3] = param{name=s, role=weight}()
      %2: float32[1, 3, 1, 1] = reshape{shape=[1,3,1,1]}(%1)
      %3: float32[1, 1, 1, 3] = reshape{shape=[1,1,1,3]}(%2)
      %4: float32[1, 2, 2, 3] = broadcast{shape=[1,2,2,3]}(%3)
      %5: float32[1, 2, 2, 3] = mul(%0, %4)
      %6: float32[1, 1, 1, 1] = constant{value=0}()
      %7: float32[1, 2, 2, 3] = broadcast{shape=[1,2,2,3]}(%6)
      %8: float32[1, 2, 2, 3] = maximum(%5, %7)
      %9: float32[1, 3] = reduce_sum{axes=[1,2], keepDims=false}(%8)
      return %9`));
    const next = rng(5);
    const feeds = { x: Float32Array.from({ length: 12 }, () => next() - 0.5), s: Float32Array.of(1, -2, 0.5) };
    expect(interpret(after, feeds)[0]).toEqual(interpret(g, feeds)[0]);
  });

  it('carries pads, slices and keepDims reductions across, with their axes renumbered', () => {
    const b = new GraphBuilder();
    const x = b.param('x', [2, 3, 4, 5]);
    const cf = b.transpose(x, [0, 3, 1, 2]);
    const padded = b.slice(b.pad(cf, [0, 1, 0, 2], [0, 0, 1, 0]), [0, 0, 1, 0], [2, 6, 3, 6]);
    const centered = b.sub(padded, b.mean(padded, [0, 2, 3], true));
    const g = b.build([b.transpose(centered, [0, 2, 3, 1]), b.reshape(b.sum(padded, [0, 2, 3], true), [6])]);
    const after = selectLayout(g, LAST);
    expect(transposes(after)).toBe(0);
    expect(after.nodes.filter((n) => n.op === 'pad').map((n) => n.attrs)).toEqual([{ low: [0, 0, 2, 1], high: [0, 1, 0, 0], value: 0 }]);
    const feeds = { x: Float32Array.from({ length: 120 }, (_, i) => Math.sin(i)) };
    interpret(after, feeds).forEach((v, i) => expect(v).toBeAllClose(interpret(g, feeds)[i], { rtol: 1e-6, atol: 1e-6 }));
  });

  it('leaves a transpose that nothing cancels: before a matmul, or alone before an output', () => {
    const b = new GraphBuilder();
    const x = b.param('x', [2, 3, 4]);
    const t = b.unary('exp', b.transpose(x, [0, 2, 1]));
    const mm = b.build([b.matmul(t, b.param('w', [2, 3, 5]))]);
    expect(selectLayout(mm, LAST)).toBe(mm);
    const out = b.build([t]);
    expect(selectLayout(out, LAST)).toBe(out);
  });

  it('takes the gradient\'s transposes of the same perm along (the backward pass of a channels_first stretch)', () => {
    const b = new GraphBuilder();
    const x = b.param('x', [2, 3, 3, 4]);
    const up = b.param('up', [2, 3, 3, 4]);
    // forward in NCHW between two transposes, and a cotangent arriving through the same transposes
    const f = b.unary('tanh', b.transpose(x, [0, 3, 1, 2]));
    const g = b.mul(b.transpose(up, [0, 3, 1, 2]), b.sub(1, b.mul(f, f)));
    const graph = b.build([b.transpose(f, [0, 2, 3, 1]), b.transpose(g, [0, 2, 3, 1])]);
    const after = selectLayout(graph, LAST);
    expect(transposes(after)).toBe(0);
    const next = rng(9);
    const feeds = { x: Float32Array.from({ length: 72 }, () => next() - 0.5), up: Float32Array.from({ length: 72 }, () => next() - 0.5) };
    interpret(after, feeds).forEach((v, i) => expect(v).toEqual(interpret(graph, feeds)[i]));
  });

  it('judges a shared per-channel expression once (a DAG, not a tree: 2^60 paths here)', () => {
    const b = new GraphBuilder();
    let scale = b.reshape(b.param('s', [3]), [1, 3, 1, 1]);
    for (let i = 0; i < 60; i++) scale = b.mul(scale, scale);
    const y = b.mul(b.transpose(b.param('x', [1, 2, 2, 3]), [0, 3, 1, 2]), scale);
    const g = b.build([b.sum(b.transpose(y, [0, 2, 3, 1]), [1, 2])]);
    expect(transposes(selectLayout(g, LAST))).toBe(0);
  });

  it('refuses a layout no kernel computes in', () => {
    expect(() => selectLayout(new GraphBuilder().build([]), { layout: 'channels_first' })).toThrow(/compute channels-last, so no backend can prefer 'channels_first'/);
  });
});

/** Conv2D, BatchNormalization, pools, Flatten, Dense in one data format. */
function twin(format: 'channels_first' | 'channels_last'): Sequential {
  const f = format;
  return new Sequential([
    new layers.Conv2D(4, 3, { inputShape: f === 'channels_first' ? [3, 9, 8] : [9, 8, 3], dataFormat: f, padding: 'same', activation: 'relu' }),
    new layers.BatchNormalization({ axis: f === 'channels_first' ? 1 : -1 }),
    new layers.MaxPooling2D({ poolSize: 2, dataFormat: f }),
    new layers.Conv2D(3, 2, { dataFormat: f }),
    new layers.AveragePooling2D({ poolSize: 2, dataFormat: f, padding: 'same' }),
    new layers.Flatten({ dataFormat: f }),
    new layers.Dense(2, { activation: 'softmax' }),
  ]);
}

/** Program text with layer numbers, node ids and arena offsets taken out. */
function normalized(p: Parameters<typeof printProgram>[0]): string[] {
  return printProgram(p).split('\n').map((l) => l.replace(/%\d+/g, '%').replace(/_k\d+_/g, '_k_').replace(/_\d+(\/|_)/g, '$1').replace(/ @\d+$/, ''));
}

/** The lines of two programs that differ. */
function differing(a: string[], b: string[]): [string, string][] {
  expect(a.length).toBe(b.length);
  return a.flatMap((l, i) => (l === b[i] ? [] : [[l, b[i]] as [string, string]]));
}

const SGD = (): Trainer['setup']['optimizer'] => new optimizers.SGD({ lr: 0.1 }) as never;

describe('a channels_first model and its channels_last twin', () => {
  const first = twin('channels_first');
  const last = twin('channels_last');
  last.setWeights(first.getWeights());

  it('compile to the same kernels but for the loads of the input (predict and training step)', () => {
    const predict = differing(normalized(compileToProgram(first.buildGraph(2), { name: 'p' }).program), normalized(compileToProgram(last.buildGraph(2), { name: 'p' }).program));
    expect(predict.map(([a]) => a.trim().split(' ')[0])).toEqual(['buffer', 'acc0']);
    expect(predict[0]).toEqual(['buffer input: input float32[2, 3, 9, 8]', 'buffer input: input float32[2, 9, 8, 3]']);
    const step = (m: Sequential): string[] => {
      const setup = new Trainer(m as never, { loss: 'categorical_crossentropy', optimizer: SGD() } as never).setup;
      const { program, graph } = compileToProgram(trainGraph(m as never, 2, [[2]], setup), { name: 't' });
      // Inside the graph only the window compositions' own transposes remain (the same in both); channels_first adds the input's.
      expect(transposes(graph)).toBe(m === first ? 6 : 5);
      return normalized(program);
    };
    const train = differing(step(first), step(last));
    // The input shape, the forward convolution's loads, and the kernel gradient's loads of the input.
    expect(train.map(([a]) => a.trim().split(' ')[0])).toEqual(['buffer', 'acc0', 'acc0']);
    expect(train.slice(1).every(([a, b]) => a.includes('input@') && b.includes('input@'))).toBe(true);
  });

  it('predict and train to the same numbers', async () => {
    setBackend(TEST_BACKEND);
    const next = rng(21);
    const nchw = Float32Array.from({ length: 4 * 3 * 9 * 8 }, () => next() - 0.5);
    const nhwc = new Float32Array(nchw.length);
    for (let n = 0; n < 4; n++) for (let c = 0; c < 3; c++) for (let h = 0; h < 9; h++) for (let w = 0; w < 8; w++) nhwc[((n * 9 + h) * 8 + w) * 3 + c] = nchw[((n * 3 + c) * 9 + h) * 8 + w];
    const xFirst = tensor(nchw, [4, 3, 9, 8]);
    const xLast = tensor(nhwc, [4, 9, 8, 3]);
    const y = tensor(Float32Array.of(1, 0, 0, 1, 1, 0, 0, 1), [4, 2]);
    expect((await first.predict(xFirst)).data).toBeAllClose((await last.predict(xLast)).data, { rtol: 1e-5, atol: 1e-6 });
    for (const m of [first, last]) m.compile({ loss: 'categorical_crossentropy', optimizer: new optimizers.SGD({ lr: 0.1 }) });
    const h1 = await first.fit(xFirst, y, { epochs: 2, batchSize: 4, verbose: 0, shuffle: false });
    const h2 = await last.fit(xLast, y, { epochs: 2, batchSize: 4, verbose: 0, shuffle: false });
    expect(h1.history.loss).toBeAllClose(h2.history.loss, { rtol: 1e-5, atol: 1e-6 });
    // Weights keep Keras's shapes (which do not depend on the data format) and train alike.
    const w1 = first.getWeights();
    const w2 = last.getWeights();
    expect(w1.map((w) => w.shape)).toEqual(w2.map((w) => w.shape));
    w1.forEach((w, i) => expect(w.data).toBeAllClose(w2[i].data, { rtol: 1e-4, atol: 1e-5 }));
  });
});

type Format = 'channels_first' | 'channels_last';

/** Layers between two convolutions, by family, in one data format. */
const FAMILIES: Record<string, (f: Format) => Layer[]> = {
  'ZeroPadding2D, Cropping2D': (f) => [new layers.ZeroPadding2D({ padding: [1, 2], dataFormat: f }), new layers.Cropping2D({ cropping: [[1, 0], [0, 2]], dataFormat: f })],
  'UpSampling2D nearest': (f) => [new layers.UpSampling2D({ size: 2, dataFormat: f })],
  'UpSampling2D bilinear': (f) => [new layers.UpSampling2D({ size: 2, dataFormat: f, interpolation: 'bilinear' })],
  SeparableConv2D: (f) => [new layers.SeparableConv2D(4, 3, { dataFormat: f, padding: 'same' })],
  DepthwiseConv2D: (f) => [new layers.DepthwiseConv2D(3, { dataFormat: f, depthMultiplier: 2 })],
  Conv2DTranspose: (f) => [new layers.Conv2DTranspose(3, 3, { strides: 2, dataFormat: f })],
  LocallyConnected2D: (f) => [new layers.LocallyConnected2D(2, 3, { dataFormat: f })],
  'AveragePooling2D same, odd': (f) => [new layers.AveragePooling2D({ poolSize: 3, strides: 2, padding: 'same', dataFormat: f })],
};

function familyModel(f: Format, family: (f: Format) => Layer[]): Sequential {
  return new Sequential([
    new layers.Conv2D(3, 3, { inputShape: f === 'channels_first' ? [2, 9, 8] : [9, 8, 2], dataFormat: f, activation: 'relu' }),
    new layers.BatchNormalization({ axis: f === 'channels_first' ? 1 : -1 }),
    ...family(f),
    new layers.Conv2D(2, 2, { dataFormat: f }),
    new layers.Flatten({ dataFormat: f }),
    new layers.Dense(2),
  ]);
}

/** Random values for every param of the graph (sample weights 1, the step counter 0). */
function feedsFor(g: Graph, seed: number): Map<string, TypedArray> {
  const next = rng(seed);
  const feeds = new Map<string, TypedArray>();
  for (const n of g.nodes) {
    if (n.op !== 'param') continue;
    const a = n.attrs as AttrsMap['param'];
    const v = allocArray(a.dtype, sizeOf(a.shape));
    if (a.dtype === 'float32') v.forEach((_, i) => (v[i] = a.name.startsWith('sample_weight') ? 1 : next() - 0.5));
    feeds.set(a.name, v);
  }
  return feeds;
}

describe('layout across the convolutional families (channels_first against channels_last)', () => {
  for (const [name, family] of Object.entries(FAMILIES)) {
    it(`${name}: only the input's transpose is added, and the pass changes no value`, () => {
      const count: Record<string, number[]> = {};
      for (const f of ['channels_first', 'channels_last'] as const) {
        const m = familyModel(f, family);
        const setup = new Trainer(m as never, { loss: 'mse', optimizer: SGD() } as never).setup;
        const sources = [m.buildGraph(2), differentiate(trainGraph(m as never, 2, [[2]], setup))];
        count[f] = sources.map((g) => {
          const after = runPipeline(PREDICT_GRAPH, g);
          const before = runPipeline(PREDICT_GRAPH.without('layout'), g);
          const feeds = feedsFor(g, 3);
          const [want, got] = [before, after].map((x) => interpretRun(x, feeds));
          got.outputs.forEach((v, i) => expect(v).toBeAllClose(want.outputs[i], { rtol: 1e-5, atol: 1e-6 }));
          for (const [k, v] of want.updates) expect(got.updates.get(k)!).toBeAllClose(v, { rtol: 1e-5, atol: 1e-6 });
          return transposes(after);
        });
      }
      // LocallyConnected's channels_first patches are reordered to Keras's feature order (a transpose of their own,
      // which the input's transpose folds into), so that family keeps no more than its twin; the others keep one more.
      const extra = name === 'LocallyConnected2D' ? [0, -1] : [1, 1];
      expect(count.channels_first).toEqual(count.channels_last.map((n, i) => n + extra[i]));
    });
  }
});
