/**
 * The data of fit/evaluate/trainOnBatch as the programs take it: one tensor
 * per model input and per output target, and one sample-weight vector per
 * output (Keras's standardize_input_data, standardize_sample_weights and
 * check_loss_and_target_compatibility), checked before anything compiles.
 */
import { sizeOf } from '../../ir/dtype.js';
import { type Tensor, expandVector } from '../tensor.js';
import { checkSparseLabels } from '../validation.js';
import type { Network } from '../models/network.js';
import { gatherRows, sampleWeights, sliceRows } from './data.js';
import type { OutputSetup } from './programs.js';
import { type DataList, paramNames, standardize } from './standardize.js';

export interface Dataset {
  readonly xs: readonly Tensor[];
  readonly ys: readonly Tensor[];
  /** Per output: one weight per sample (or per sample and timestep in temporal mode). */
  readonly ws: readonly Float32Array[];
}

export const samplesOf = (d: Dataset): number => d.xs[0].shape[0];

/** Keras's class_weight: one table for a single output, else one per output (a list, or keyed by output name). */
export type ClassWeight = Readonly<Record<number, number>> | readonly Readonly<Record<number, number>>[] | Readonly<Record<string, Readonly<Record<number, number>>>>;

function classWeightFor(cw: ClassWeight | undefined, names: readonly string[], i: number): Readonly<Record<number, number>> | undefined {
  if (!cw) return undefined;
  if (names.length === 1) return cw as Readonly<Record<number, number>>;
  if (Array.isArray(cw)) return cw[i];
  const keyed = cw as Readonly<Record<string, Readonly<Record<number, number>>>>;
  return Object.hasOwn(keyed, names[i]) ? keyed[names[i]] : undefined;
}

function checkTarget(where: string, out: OutputSetup, shape: readonly (number | null)[], y: Tensor, several: boolean): void {
  const want = shape.slice(1);
  const given = y.shape.slice(1);
  const sparse = out.loss.name === 'sparse_categorical_crossentropy';
  const ok = sparse ? given.length === want.length - 1 || (given.length === want.length && given[given.length - 1] === 1) : given.length === want.length && given.every((d, i) => want[i] === null || d === want[i]);
  if (!ok) {
    const expect = sparse ? 'integer class labels of shape (N,) or (N, 1)' : 'targets of the same shape as the output';
    const which = several ? ` for output '${out.name}'` : '';
    throw new Error(`A target array with shape (${y.shape.join(', ')}) was passed${which} for an output of shape (None, ${want.map((d) => d ?? 'None').join(', ')}) while using as loss \`${out.loss.name}\`. This loss expects ${expect}.`);
  }
  if (sparse) checkSparseLabels(where, y, Number(want[want.length - 1]));
}

/** Inputs, targets and sample weights standardized and checked against the model and its compiled outputs. */
export function makeDataset(where: string, net: Network<Tensor | Tensor[]>, outputs: readonly OutputSetup[], x: DataList, y: DataList, sampleWeight?: DataList, classWeight?: ClassWeight): Dataset {
  const xs = net.standardizeInputs(where, x);
  const names = outputs.map((o) => o.name);
  // Keras 2 reads a 1-D target array as a column: targets of shape (N,) for an output of shape (None, 1).
  const ys = standardize(where, 'target', y, names).map(expandVector);
  const n = xs[0].shape[0];
  const bad = ys.findIndex((t) => t.shape[0] !== n);
  if (bad >= 0) throw new Error(`Input arrays should have the same number of samples as target arrays. Found ${n} input samples and ${ys[bad].shape[0]} target samples.`);
  ys.forEach((t, i) => checkTarget(where, outputs[i], net.outputShapes[i], t, outputs.length > 1));
  const given = sampleWeight === undefined || sampleWeight === null ? names.map(() => undefined) : standardize(where, 'sample weight', sampleWeight, names);
  const ws = ys.map((t, i) => sampleWeights(t, given[i], classWeightFor(classWeight, names, i), outputs[i].temporalAtRunTime ? t.shape[1] : outputs[i].timesteps));
  return { xs, ys, ws };
}

/** Rows [from, to) of every array of a dataset. */
export function sliceDataset(d: Dataset, from: number, to: number): Dataset {
  return {
    xs: d.xs.map((t) => sliceRows(t, from, to)),
    ys: d.ys.map((t) => sliceRows(t, from, to)),
    ws: d.ws.map((w) => {
      // Weights per sample: 1, or its timesteps in temporal mode (those of the data where they are known at run time only).
      const per = w.length / samplesOf(d);
      return w.slice(from * per, to * per);
    }),
  };
}

/** Writes the rows order[start..end) of a dataset into a program's params, zero-padding up to `batch` rows. */
export function writeBatch(write: (name: string, data: Float32Array) => void, d: Dataset, order: ArrayLike<number>, start: number, end: number, batch: number): void {
  const gather = (names: readonly string[], ts: readonly Tensor[]): void => ts.forEach((t, i) => {
    const out = new Float32Array(batch * sizeOf(t.shape.slice(1)));
    gatherRows(t, order, start, end, out);
    write(names[i], out);
  });
  gather(paramNames('input', d.xs.length), d.xs);
  gather(paramNames('target', d.ys.length), d.ys);
  const weightNames = paramNames('sample_weight', d.ws.length);
  d.ws.forEach((w, k) => {
    const per = w.length / samplesOf(d);
    const ws = new Float32Array(batch * per);
    for (let i = start; i < end; i++) ws.set(w.subarray(order[i] * per, (order[i] + 1) * per), (i - start) * per);
    write(weightNames[k], ws);
  });
}

/** A validationData tuple [x, y] or [x, y, sampleWeight] as a dataset. */
export function validationDataset(where: string, net: Network<Tensor | Tensor[]>, outputs: readonly OutputSetup[], v: readonly unknown[]): Dataset {
  if (!Array.isArray(v) || v.length < 2 || v.length > 3) throw new Error(`${where}: validationData must be [x, y] or [x, y, sampleWeight], got ${Array.isArray(v) ? `a list of ${v.length}` : typeof v}`);
  return makeDataset(`${where} (validationData)`, net, outputs, v[0] as DataList, v[1] as DataList, v[2] as DataList | undefined);
}

