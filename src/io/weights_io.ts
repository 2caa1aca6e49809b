/**
 * loadWeights / saveWeights files: Keras 2's layout (at the root, as
 * `save_weights` writes it, or under `model_weights` in a full-model file)
 * and Keras 3's `.weights.h5` layout, told apart by content; saves pick the
 * layout by extension (`.weights.h5` is Keras 3) and are atomic.
 */
import { existsSync } from 'node:fs';
import type { Layer } from '../layers/base.js';
import { atomicWrite } from './atomic.js';
import { closeQuietly, openForWrite } from './h5.js';
import { type H5Group as SnapGroup, child, isGroup, names, readH5 } from './h5_read.js';
import { type LoadWeightsOptions, assignKeras2, assignKeras3 } from './weight_match.js';
import { readKeras2Layout, readKeras3Layout, writeKeras2Layout, writeKeras3Layout } from './weights_h5.js';

/** Reads the weights under `root` in whichever layout it holds and gives them to `layers`. */
export function assignFromGroup(root: SnapGroup, layers: readonly Layer[], options: LoadWeightsOptions, label: string): void {
  if (names(root, 'layer_names', label)) {
    assignKeras2(readKeras2Layout(root, label), layers, options, label);
    return;
  }
  const nested = child(root, 'model_weights');
  if (isGroup(nested)) {
    assignKeras2(readKeras2Layout(nested, `${label} (model_weights)`), layers, options, label);
    return;
  }
  if (child(root, 'layers')) {
    assignKeras3(readKeras3Layout(root, label), layers, options, label);
    return;
  }
  throw new Error(`${label} holds no Keras weights: no 'layer_names' attribute (Keras 2), no 'model_weights' group (full model) and no 'layers' group (Keras 3)`);
}

export async function loadWeightsFromFile(path: string, layers: readonly Layer[], options: LoadWeightsOptions = {}): Promise<void> {
  if (!existsSync(path)) throw new Error(`loadWeights: no file at ${path}`);
  assignFromGroup(await readH5(path, `loadWeights: ${path}`), layers, options, path);
}

export async function saveWeightsToFile(path: string, layers: readonly Layer[], modelName: string): Promise<void> {
  const keras3 = path.endsWith('.weights.h5');
  await atomicWrite(path, async (tmp) => {
    const { lib, file } = await openForWrite(tmp, `saveWeights: ${path}`);
    try {
      if (keras3) writeKeras3Layout(lib, file, layers, modelName, `saveWeights: ${path}`);
      else writeKeras2Layout(lib, file, layers, `saveWeights: ${path}`);
    } finally {
      closeQuietly(lib, file);
    }
  });
}
