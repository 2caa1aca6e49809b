/** Dropout-family layers in the training phase, run through the interpreter. */
import { describe, expect, it } from 'vitest';
import { GraphBuilder, type Value } from '../../ir/graph.js';
import { interpret } from '../../ir/interpret.js';
import type { Layer } from '../../src/layers/base.js';
import { layers } from '../../src/index.js';

function trainPhase(layer: Layer, shape: number[], fill: number, step = 0): Float32Array {
  const b = new GraphBuilder();
  const x = b.param('x', shape);
  const counter = b.param('step', [], 'int32');
  const y = layer.lower(b, x, { training: true, weight: () => { throw new Error('no weights'); }, random: (seed, s): Value => b.random(seed, s, counter) });
  return interpret(b.build([y]), { x: new Float32Array(shape.reduce((p, q) => p * q, 1)).fill(fill), step: Int32Array.of(step) })[0] as Float32Array;
}

describe('noise layers in training', () => {
  it('Dropout zeroes about rate of the units and scales the rest; the mask changes with the step', () => {
    const d = new layers.Dropout(0.25, { seed: 3 });
    const a = trainPhase(d, [64, 64], 1, 0);
    const kept = a.filter((v) => v !== 0);
    expect(new Set(kept)).toEqual(new Set([Math.fround(1 / 0.75)]));
    expect(Math.abs(1 - kept.length / a.length - 0.25)).toBeLessThan(0.03);
    expect(Array.from(trainPhase(d, [64, 64], 1, 1))).not.toEqual(Array.from(a));
    expect(Array.from(trainPhase(d, [64, 64], 1, 0))).toEqual(Array.from(a));
  });

  it('SpatialDropout1D drops whole channels across timesteps', () => {
    const out = trainPhase(new layers.SpatialDropout1D(0.5, { seed: 5 }), [4, 6, 8], 1);
    for (let s = 0; s < 4; s++) for (let c = 0; c < 8; c++) {
      const column = Array.from({ length: 6 }, (_, t) => out[(s * 6 + t) * 8 + c]);
      expect(new Set(column).size).toBe(1);
    }
    expect(new Set(out)).toEqual(new Set([0, 2]));
  });

  it('AlphaDropout sends dropped units to the SELU saturation value, then applies the affine fix-up', () => {
    const rate = 0.2;
    const alphaP = -1.6732632423543772848170429916717 * 1.0507009873554804934193349852946;
    const a = ((1 - rate) * (1 + rate * alphaP ** 2)) ** -0.5;
    const out = trainPhase(new layers.AlphaDropout(rate, { seed: 9 }), [32, 32], 0);
    expect([...new Set(out)].sort()).toBeAllClose([-a * alphaP * rate, a * alphaP - a * alphaP * rate].sort(), { rtol: 1e-6, atol: 1e-6 });
  });

  it('GaussianNoise adds noise of the given standard deviation', () => {
    const out = trainPhase(new layers.GaussianNoise(0.5), [100, 100], 1);
    const mean = out.reduce((s, v) => s + v, 0) / out.length;
    const std = Math.sqrt(out.reduce((s, v) => s + (v - mean) ** 2, 0) / out.length);
    expect(Math.abs(mean - 1)).toBeLessThan(0.02);
    expect(Math.abs(std - 0.5)).toBeLessThan(0.02);
  });
});
