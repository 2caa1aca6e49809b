/**
 * Gives a model the weights read from a file, as Keras's load_weights does:
 * by default layer by layer in order (Keras 2: the file's layers that have
 * weights against the model's; Keras 3: by saving_lib key), or `byName`.
 * `skipMismatch` skips a layer whose weight count or shapes differ (with a
 * warning) instead of failing. Every layer is checked before any changes: a
 * bad file leaves the model as it was.
 */
import type { Layer } from '../layers/base.js';
import type { Tensor } from '../tensor.js';
import { type FileLayer, keras3Keys } from './weights_h5.js';

export interface LoadWeightsOptions {
  /** Match layers by name (layers absent from the file keep their weights). */
  readonly byName?: boolean;
  /** Skip layers whose weights do not fit, with a warning, instead of failing. */
  readonly skipMismatch?: boolean;
  /** Where warnings go (default console.warn). */
  readonly warn?: (message: string) => void;
}

const shapeOf = (s: readonly number[]): string => `[${s.join(', ')}]`;

/** Null if `file` fits `layer`, else what is wrong. */
function mismatch(layer: Layer, file: FileLayer): string | null {
  if (file.weights.length !== layer.weights.length) {
    return `layer '${layer.name}' has ${layer.weights.length} weight(s) (${layer.weights.map((w) => shapeOf(w.shape)).join(', ')}), the file has ${file.weights.length} for '${file.name}' (${file.weights.map((t) => shapeOf(t.shape)).join(', ')})`;
  }
  for (let i = 0; i < file.weights.length; i++) {
    const want = layer.weights[i].shape;
    const got = file.weights[i].shape;
    if (want.length !== got.length || want.some((d, j) => d !== got[j])) return `weight ${layer.weights[i].name} has shape ${shapeOf(want)}, the file's ${file.paths[i]} has ${shapeOf(got)}`;
  }
  return null;
}

function assign(pairs: [Layer, FileLayer][], options: LoadWeightsOptions, label: string): void {
  const warn = options.warn ?? ((m: string) => console.warn(m));
  const ok: [Layer, Tensor[]][] = [];
  for (const [layer, file] of pairs) {
    const wrong = mismatch(layer, file);
    if (!wrong) ok.push([layer, file.weights]);
    else if (options.skipMismatch) warn(`loadWeights: skipping layer '${layer.name}' of ${label}: ${wrong}`);
    else throw new Error(`loadWeights: ${label}: ${wrong}`);
  }
  for (const [layer, weights] of ok) layer.setWeights(weights);
}

/** Keras 2 layout (layer_names order). */
export function assignKeras2(fileLayers: readonly FileLayer[], layers: readonly Layer[], options: LoadWeightsOptions, label: string): void {
  if (options.byName) {
    const byName = new Map(fileLayers.map((f) => [f.name, f]));
    assign(layers.filter((l) => byName.has(l.name)).map((l) => [l, byName.get(l.name)!]), options, label);
    return;
  }
  const want = layers.filter((l) => l.weights.length > 0);
  const have = fileLayers.filter((f) => f.weights.length > 0);
  if (want.length !== have.length) {
    throw new Error(`loadWeights: ${label} holds weights for ${have.length} layer(s) (${have.map((f) => f.name).join(', ')}), the model has ${want.length} layer(s) with weights (${want.map((l) => l.name).join(', ')}); pass { byName: true } to match by name`);
  }
  assign(want.map((l, i) => [l, have[i]]), options, label);
}

/** Keras 3 layout (layers/<key>/vars). */
export function assignKeras3(fileLayers: ReadonlyMap<string, FileLayer>, layers: readonly Layer[], options: LoadWeightsOptions, label: string): void {
  if (options.byName) {
    const byName = new Map([...fileLayers.values()].map((f) => [f.name, f]));
    assign(layers.filter((l) => byName.has(l.name)).map((l) => [l, byName.get(l.name)!]), options, label);
    return;
  }
  const keys = keras3Keys(layers);
  const pairs: [Layer, FileLayer][] = [];
  layers.forEach((l, i) => {
    const f = fileLayers.get(keys[i]);
    if (f) pairs.push([l, f]);
    else if (l.weights.length > 0) throw new Error(`loadWeights: ${label} has no group layers/${keys[i]} for layer '${l.name}' (${l.className}). Groups in the file: ${[...fileLayers.keys()].join(', ')}`);
  });
  assign(pairs, options, label);
}
