/**
 * Full-model HDF5 files: Keras 2's `model.save('x.h5')` and Keras 3's legacy
 * `.h5`. Root attributes `model_config` (JSON, Keras 2 or 3 dialect) and
 * `training_config`; weights under `model_weights` in Keras 2's layout; the
 * optimizer's state under `optimizer_weights` (attribute `weight_names`).
 * Kiln writes Keras 2.2.4's form, atomically.
 */
import type { LoadModelOptions, SaveModelOptions } from './options.js';
import { atomicWrite } from './atomic.js';
import { parseConfigText } from './config_guard.js';
import { closeQuietly, ensureGroup, openForWrite, quietly, writeTensor } from './h5.js';
import { type H5Group as SnapGroup, attr, child, isDataset, isGroup, names, readH5, tensorOf } from './h5_read.js';
import { type AnyNetwork, keras2ConfigOf, modelFromConfigObject } from './model_config.js';
import { compileArgsFrom, readOptimizerState, restoreOptimizerState, trainingConfigOf } from './training_config.js';
import { assignKeras2 } from './weight_match.js';
import { readKeras2Layout, writeKeras2Layout } from './weights_h5.js';

function textAttr(file: SnapGroup, name: string, label: string): string | null {
  const v = attr(file, name, label);
  if (v === null || v === undefined) return null;
  if (typeof v !== 'string') throw new Error(`${label}: attribute '${name}' should be JSON text, got ${Array.isArray(v) ? 'a list' : typeof v}`);
  return v;
}

export async function loadKerasH5(path: string, label: string, options: LoadModelOptions = {}): Promise<AnyNetwork> {
  const file = await readH5(path, label);
  const configText = textAttr(file, 'model_config', label);
  if (configText === null) throw new Error(`${label} has no 'model_config' attribute: it holds weights only (load them with model.loadWeights)`);
  const model = modelFromConfigObject(parseConfigText(configText, `${label} (model_config)`), label, options);
  const weights = child(file, 'model_weights');
  if (!isGroup(weights)) throw new Error(`${label} has no 'model_weights' group`);
  assignKeras2(readKeras2Layout(weights, `${label} (model_weights)`), model.layers, {}, label);
  const trainingText = options.compile === false ? null : textAttr(file, 'training_config', label);
  if (trainingText !== null) {
    const args = compileArgsFrom(parseConfigText(trainingText, `${label} (training_config)`), `${label} (training_config)`, options.customObjects);
    if (args) {
      model.compile(args);
      restoreOptimizer(file, model, label, options);
    }
  }
  return model;
}

function restoreOptimizer(file: SnapGroup, model: AnyNetwork, label: string, options: LoadModelOptions): void {
  const group = child(file, 'optimizer_weights');
  if (!isGroup(group)) return;
  const values = (names(group, 'weight_names', `${label} (optimizer_weights)`) ?? []).filter((n) => n.length > 0).map((n) => {
    const ds = child(group, n);
    if (!isDataset(ds)) throw new Error(`${label}: optimizer_weights lists '${n}' but holds no such dataset`);
    return tensorOf(ds, `${label}: optimizer weight ${n}`);
  });
  const problem = restoreOptimizerState(model, values, label);
  if (problem) (options.warn ?? ((m: string) => console.warn(m)))(`loadModel: ${problem}`);
}

export async function saveKerasH5(model: AnyNetwork, path: string, options: SaveModelOptions = {}): Promise<void> {
  const label = `saveModel: ${path}`;
  const training = trainingConfigOf(model);
  const state = training && options.includeOptimizer !== false ? await readOptimizerState(model) : [];
  await atomicWrite(path, async (tmp) => {
    const { lib, file } = await openForWrite(tmp, label);
    try {
      quietly(lib, label, () => {
        file.create_attribute('keras_version', '2.2.4');
        file.create_attribute('backend', 'kiln');
        file.create_attribute('model_config', JSON.stringify(keras2ConfigOf(model)));
        if (training) file.create_attribute('training_config', JSON.stringify(training));
      });
      writeKeras2Layout(lib, ensureGroup(lib, file, 'model_weights', label), model.layers, label);
      if (state.length) {
        const group = ensureGroup(lib, file, 'optimizer_weights', label);
        quietly(lib, label, () => group.create_attribute('weight_names', state.map((s) => s.weight.fileName)));
        for (const { weight, value } of state) {
          const parts = weight.fileName.split('/');
          writeTensor(lib, ensureGroup(lib, group, parts.slice(0, -1).join('/'), label), parts[parts.length - 1], { value, shape: weight.shape }, label);
        }
      }
    } finally {
      closeQuietly(lib, file);
    }
  });
}
