/** Kiln's public entry: the Keras 2 API over an ahead-of-time compiler. */
import * as activations from './activations.js';
import * as initializers from './initializers.js';
import * as layers from './layers/index.js';

export { Tensor, tensor } from './tensor.js';
export type { DType, NestedArray, TypedArray } from './tensor.js';
export { Sequential } from './models/sequential.js';
export { Input, Model } from './models/model.js';
export type { PredictOptions } from './models/network.js';
export { modelToJSON, registerCustomObject } from './serialization.js';
export { exportONNX, loadModel, modelFromJSON, modelFromYAML, modelToYAML, saveModel, saveONNX } from './io/index.js';
export type { CustomObjects, LoadModelOptions, LoadWeightsOptions, OnnxExportOptions, SaveModelOptions } from './io/index.js';
export { getBackend, setBackend } from '../runtime/executor.js';
export type { CompileStats } from '../runtime/executor.js';
import { K as backendK } from './backend.js';
import { kFunction } from './models/k_function.js';
export { KTensor } from './backend.js';
/** Base for recurrent cells written by users: RNN(cell) with stateSize and call(inputs, states) in K. */
export { AbstractRNNCell } from './layers/recurrent_user_cell.js';
export type { KerasFunction } from './models/k_function.js';
/** The Keras backend namespace: K operations for losses, metrics, Lambda and custom layers, and K.function. */
export const K = { ...backendK, function: kFunction };
export * as callbacks from './callbacks.js';
export * as losses from './losses.js';
export * as metrics from './metrics.js';
export * as optimizers from './optimizers.js';
export * as regularizers from './regularizers.js';
export { maxNorm as max_norm, minMaxNorm as min_max_norm, nonNeg as non_neg, unitNorm as unit_norm } from './regularizers.js';
export type { CompileArgs, EvaluateArgs, FitArgs } from './training/trainer.js';
export * as utils from './utils.js';
export { datasets } from './datasets/index.js';
export * as preprocessing from './preprocessing/index.js';
export * as wrappers from './wrappers/index.js';
export { activations, initializers, layers };
