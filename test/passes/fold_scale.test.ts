/** Folding a per-channel scale (inference BatchNormalization) into the weights before it: IR text, then values. */
import { describe, expect, it } from 'vitest';
import { type Graph, GraphBuilder } from '../../ir/graph.js';
import { interpret } from '../../ir/interpret.js';
import { printGraph } from '../../ir/print.js';
import { dce } from '../../passes/dce.js';
import { foldScale } from '../../passes/fold_scale.js';
import { PREDICT_GRAPH, runPipeline } from '../../passes/pipeline.js';
import { layers } from '../../src/index.js';
import type { Layer } from '../../src/layers/index.js';

describe('foldScale', () => {
  it('Dense then a scale and shift: the scale moves into the kernel and the bias', () => {
    const b = new GraphBuilder();
    const x = b.param('x', [2, 3]);
    const w = b.param('w', [3, 4], 'float32', 'weight');
    const bias = b.param('bias', [4], 'float32', 'weight');
    const gamma = b.param('gamma', [4], 'float32', 'weight');
    const shift = b.param('beta', [4], 'float32', 'weight');
    const y = b.add(b.mul(b.add(b.matmul(x, w), bias), gamma), shift);
    const g = b.build([y]);
    expect(printGraph(g).split('\n').slice(5)).toEqual([
      '%5: float32[2, 4] = matmul{transposeA=false, transposeB=false}(%0, %1)',
      '%6: float32[2, 4] = broadcast{shape=[2,4]}(%2)',
      '%7: float32[2, 4] = add(%5, %6)',
      '%8: float32[2, 4] = broadcast{shape=[2,4]}(%3)',
      '%9: float32[2, 4] = mul(%7, %8)',
      '%10: float32[2, 4] = broadcast{shape=[2,4]}(%4)',
      '%11: float32[2, 4] = add(%9, %10)',
      'return %11',
    ]);
    expect(printGraph(dce(foldScale(g))).split('\n').slice(5)).toEqual([
      '%5: float32[1, 4] = reshape{shape=[1,4]}(%3)',
      '%6: float32[3, 4] = broadcast{shape=[3,4]}(%5)',
      '%7: float32[3, 4] = mul(%1, %6)',
      '%8: float32[2, 4] = matmul{transposeA=false, transposeB=false}(%0, %7)',
      '%9: float32[4] = mul(%2, %3)',
      '%10: float32[1, 4] = reshape{shape=[1,4]}(%9)',
      '%11: float32[2, 4] = broadcast{shape=[2,4]}(%10)',
      '%12: float32[2, 4] = add(%8, %11)',
      '%13: float32[2, 4] = broadcast{shape=[2,4]}(%4)',
      '%14: float32[2, 4] = add(%12, %13)',
      'return %14',
    ]);
  });

  it('leaves a scale that depends on the input alone', () => {
    const b = new GraphBuilder();
    const x = b.param('x', [2, 3]);
    const s = b.param('s', [4]);
    const g = b.build([b.mul(b.matmul(x, b.param('w', [3, 4], 'float32', 'weight')), s)]);
    expect(foldScale(g)).toBe(g);
  });

  /** The predict graph of Conv2D (bias) then an inference BatchNormalization, through the predict passes. */
  function convBn(format: string): { graph: Graph; folded: Graph; feeds: Map<string, Float32Array> } {
    const b = new GraphBuilder();
    const shape = format === 'channels_last' ? [2, 7, 6, 3] : [2, 3, 7, 6];
    let x = b.param('x', shape);
    const feeds = new Map<string, Float32Array>([['x', Float32Array.from({ length: 252 }, (_, i) => Math.sin(i))]]);
    const ctx = {
      weight: (w: { name: string; shape: readonly number[]; value: Float32Array }) => {
        feeds.set(w.name, Float32Array.from(w.value, (v, i) => v + 0.1 * Math.cos(i)));
        return b.param(w.name, w.shape, 'float32', 'weight');
      },
      training: false,
      random: () => { throw new Error('no randomness'); },
    };
    const stack: Layer[] = [new layers.Conv2D(16, 3, { padding: 'same', strides: 2, dataFormat: format }), new layers.BatchNormalization({ axis: format === 'channels_last' ? -1 : 1 })];
    let s: (number | null)[] = [null, ...shape.slice(1)];
    for (const layer of stack) {
      layer.build(s);
      s = [...layer.computeOutputShape(s)];
      x = layer.lower(b, x, ctx as never);
    }
    const built = b.build([x]);
    return { graph: runPipeline(PREDICT_GRAPH.without('fold_scale'), built), folded: runPipeline(PREDICT_GRAPH, built), feeds };
  }

  it('Conv2D then BatchNormalization: the predict passes fold the scale into the kernel; same values', () => {
    const { graph, folded, feeds } = convBn('channels_last');
    // No multiply over the convolution's output shape is left: the scale acts on the [3, 3, 3, 16] kernel.
    const outputMuls = (g: typeof graph): number => g.nodes.filter((n) => n.op === 'mul' && n.type.shape.join() === '2,4,3,16').length;
    expect(outputMuls(graph)).toBe(1);
    expect(outputMuls(folded)).toBe(0);
    expect(folded.nodes.some((n) => n.op === 'mul' && n.type.shape.join() === '3,3,3,16')).toBe(true);
    expect(interpret(folded, feeds)[0]).toBeAllClose(interpret(graph, feeds)[0], { rtol: 1e-5, atol: 1e-5 });
  });
});
