/** Batching for fit/evaluate: row gathers, shuffles, splits and sample weights. */
import { sizeOf } from '../../ir/dtype.js';
import { Tensor } from '../tensor.js';

/** Copies rows `indices[start, end)` of `t` into `out` (zero-filling rows past the end). */
export function gatherRows(t: Tensor, indices: ArrayLike<number>, start: number, end: number, out: Float32Array): void {
  const row = sizeOf(t.shape.slice(1));
  out.fill(0);
  for (let i = start; i < end; i++) out.set(t.data.subarray(indices[i] * row, (indices[i] + 1) * row), (i - start) * row);
}

/** Rows [from, to) of a tensor, as a new tensor. */
export function sliceRows(t: Tensor, from: number, to: number): Tensor {
  const row = sizeOf(t.shape.slice(1));
  return new Tensor(t.data.slice(from * row, to * row), [to - from, ...t.shape.slice(1)], t.dtype);
}

/** A seeded shuffle generator (mulberry32), so runs are reproducible. */
export function makeRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Sample order for one epoch: true shuffles samples, 'batch' shuffles whole batches, false keeps order. */
export function epochOrder(n: number, batchSize: number, shuffle: boolean | 'batch', random: () => number): Int32Array {
  const order = Int32Array.from({ length: n }, (_, i) => i);
  if (shuffle === true) {
    for (let i = n - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [order[i], order[j]] = [order[j], order[i]];
    }
  } else if (shuffle === 'batch') {
    const batches = Array.from({ length: Math.ceil(n / batchSize) }, (_, b) => b);
    for (let i = batches.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [batches[i], batches[j]] = [batches[j], batches[i]];
    }
    let k = 0;
    for (const b of batches) for (let i = b * batchSize; i < Math.min(n, (b + 1) * batchSize); i++) order[k++] = i;
  }
  return order;
}

/**
 * Per-sample weights from sampleWeight and classWeight (keyed by class index),
 * as Keras combines them; `timesteps` > 0 is sampleWeightMode 'temporal': one
 * weight per sample and timestep, shape [n, timesteps].
 */
export function sampleWeights(y: Tensor, sampleWeight?: Tensor, classWeight?: Readonly<Record<number, number>>, timesteps = 0): Float32Array {
  const n = y.shape[0];
  const per = Math.max(timesteps, 1);
  const w = sampleWeight ? Float32Array.from(sampleWeight.data) : new Float32Array(n * per).fill(1);
  if (sampleWeight && sampleWeight.data.length !== n * per) {
    const want = timesteps ? `shape (${n}, ${timesteps}) with sampleWeightMode 'temporal'` : `${n} values, one per sample`;
    throw new Error(`sampleWeight has shape (${sampleWeight.shape.join(', ')}); expected ${want}`);
  }
  if (classWeight && timesteps) throw new Error("classWeight is not supported with sampleWeightMode 'temporal'; pass per-timestep sampleWeight instead");
  if (classWeight) {
    const row = sizeOf(y.shape.slice(1));
    for (let i = 0; i < n; i++) {
      let cls = y.data[i * row];
      if (row > 1) {
        let best = 0;
        for (let j = 1; j < row; j++) if (y.data[i * row + j] > y.data[i * row + best]) best = j;
        cls = best;
      } else if (row === 1 && y.dtype === 'float32' && cls !== Math.round(cls)) cls = cls > 0.5 ? 1 : 0;
      w[i] *= classWeight[cls] ?? 1;
    }
  }
  return w;
}
