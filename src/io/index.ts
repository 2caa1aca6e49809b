/** Model files: the public entry points (loadModel, saveModel, configs, weights, YAML). */
export { loadModel, saveModel } from './load_model.js';
export type { LoadModelOptions, SaveModelOptions } from './options.js';
export { modelFromJSON } from './model_config.js';
export type { AnyNetwork, ConfigOptions } from './model_config.js';
export { modelFromYAML, modelToYAML } from './yaml.js';
export type { CustomObjects } from './custom_objects.js';
export type { LoadWeightsOptions } from './weight_match.js';
export { kerasZipBytes } from './keras_zip.js';
export { exportONNX, saveONNX } from './onnx_export.js';
export type { OnnxExportOptions } from './onnx_export.js';
