/** Shared pieces of the bundle tests: Keras's mnist_mlp with fixed weights, inputs, and a bundle built once per process. */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Sequential, layers, tensor } from '../../src/index.js';
import { type BundleOptions, writeBundle } from '../../codegen/bundle/write_bundle.js';

/** A deterministic value in [-scale, scale) (a small LCG: tests must not depend on Math.random). */
export function fill(n: number, seed: number, scale: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = (s / 2 ** 32 * 2 - 1) * scale;
  }
  return out;
}

/** Keras's examples/mnist_mlp.py model, weights set from `fill`. */
export function mnistMlp(): Sequential {
  const model = new Sequential([
    new layers.Dense(512, { activation: 'relu', inputShape: [784], name: 'dense_1' }),
    new layers.Dropout(0.2, { name: 'dropout_1' }),
    new layers.Dense(512, { activation: 'relu', name: 'dense_2' }),
    new layers.Dropout(0.2, { name: 'dropout_2' }),
    new layers.Dense(10, { activation: 'softmax', name: 'dense_3' }),
  ], { name: 'mnist_mlp' });
  model.setWeights(model.getWeights().map((w, i) => tensor(fill(w.data.length, 17 + i, i % 2 ? 0.05 : 0.08), w.shape)));
  return model;
}

/** Pixel-like inputs in [0, 1). */
export function images(rows: number, seed = 5): Float32Array {
  return fill(rows * 784, seed, 0.5).map((v) => v + 0.5);
}

export async function buildBundle(options: Partial<BundleOptions> = {}): Promise<{ dir: string; model: Sequential }> {
  const model = mnistMlp();
  const dir = mkdtempSync(join(tmpdir(), 'kiln-bundle-'));
  await writeBundle(model, { out: dir, targets: ['node-cpu', 'wasm', 'webgpu'], batchSizes: [1, 32], ...options });
  return { dir, model };
}
