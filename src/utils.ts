/** keras.utils: toCategorical and normalize. */
import { type NestedArray, Tensor, type TypedArray, toTensor } from './tensor.js';

/** One-hot float32 rows for integer class labels (Keras's to_categorical): a Tensor, typed array or (nested) plain array. */
export function toCategorical(labelsIn: Tensor | TypedArray | NestedArray, numClasses?: number): Tensor {
  const y = labelsIn instanceof Tensor ? labelsIn : toTensor(labelsIn);
  const labels = Array.from(y.data, Number);
  const classes = numClasses ?? Math.max(...labels) + 1;
  const out = new Float32Array(labels.length * classes);
  labels.forEach((c, i) => {
    if (!Number.isInteger(c) || c < 0 || c >= classes) throw new Error(`toCategorical: label ${c} at index ${i} is not in [0, ${classes})`);
    out[i * classes + c] = 1;
  });
  // Keras drops a trailing axis of 1 from labels of rank 2 or more only: one label [c] stays one row.
  const rows = y.shape.length > 1 && y.shape[y.shape.length - 1] === 1 ? y.shape.slice(0, -1) : y.shape;
  return new Tensor(out, [...rows, classes]);
}

/** Scales vectors along the last axis to unit L`order` norm (Keras's normalize). */
export function normalize(x: Tensor, order = 2): Tensor {
  const d = x.shape[x.shape.length - 1];
  const out = Float32Array.from(x.data);
  for (let r = 0; r < out.length / d; r++) {
    const row = out.subarray(r * d, (r + 1) * d);
    const norm = order === 1 ? row.reduce((s, v) => s + Math.abs(v), 0) : Math.sqrt(row.reduce((s, v) => s + v * v, 0));
    if (norm > 0) for (let j = 0; j < d; j++) row[j] /= norm;
  }
  return new Tensor(out, x.shape);
}

export { Sequence } from './training/generators.js';
export { getFile, validateFile } from './datasets/get_file.js';
export { modelToDot, plotModel } from '../cli/plot_model.js';
export { historyPng, historySvg, plotHistory } from './plot/index.js';
