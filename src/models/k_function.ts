/**
 * Keras's K.function(inputs, outputs): a compiled program from symbolic
 * inputs to any symbolic tensors of a model (intermediate layers included),
 * run in the inference phase (0) or the training phase (1: dropout and noise
 * active), sharing the layers' weights.
 */
import type { SymbolicTensor } from '../layers/base.js';
import type { Tensor } from '../tensor.js';
import type { DataList } from '../training/standardize.js';
import { Model } from './model.js';

export type KerasFunction = ((inputs: DataList, learningPhase?: 0 | 1) => Promise<Tensor[]>) & { readonly model: Model; dispose(): void };

export function kFunction(inputs: SymbolicTensor | readonly SymbolicTensor[], outputs: SymbolicTensor | readonly SymbolicTensor[]): KerasFunction {
  const model = new Model({ inputs, outputs: Array.isArray(outputs) ? outputs : [outputs as SymbolicTensor] });
  const fn = async (values: DataList, learningPhase: 0 | 1 = 0): Promise<Tensor[]> => {
    if (learningPhase !== 0 && learningPhase !== 1) throw new Error(`K.function: the learning phase must be 0 or 1, got ${String(learningPhase)}`);
    const xs = model.standardizeInputs('K.function', values);
    return model.run(xs, Math.max(1, xs[0].shape[0]), learningPhase === 1);
  };
  return Object.assign(fn, { model, dispose: () => model.dispose() });
}
