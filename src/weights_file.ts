/**
 * Model weights files (Keras's save_weights / load_weights), for
 * Network.saveWeights and loadWeights. The layouts, their detection and the
 * atomic write live in io/weights_io.ts.
 */
import type { Layer } from './layers/base.js';
import type { LoadWeightsOptions } from './io/weight_match.js';
import { loadWeightsFromFile, saveWeightsToFile } from './io/weights_io.js';

export type { LoadWeightsOptions };

/** Keras 2's layout, or Keras 3's for a `.weights.h5` path; written to a temporary file and renamed. */
export function saveWeightsFile(path: string, layers: readonly Layer[], modelName = 'model'): Promise<void> {
  return saveWeightsToFile(path, layers, modelName);
}

/** Reads weights saved by Kiln or Keras (2 or 3), in order or `byName`. */
export function loadWeightsFile(path: string, layers: readonly Layer[], options: LoadWeightsOptions = {}): Promise<void> {
  return loadWeightsFromFile(path, layers, options);
}
