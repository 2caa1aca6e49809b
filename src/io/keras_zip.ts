/**
 * Keras 3's native `.keras` zip: config.json (the model in Keras 3's config
 * dialect, with compile_config), metadata.json and model.weights.h5 (Keras
 * 3's weights layout; the optimizer's variables under optimizer/vars).
 * Entry sizes are checked before anything is inflated.
 */
import type { Unzipped } from 'fflate';
import { zipPackage } from '../optional_packages.js';
import { atomicWriteBytes } from './atomic.js';
import { parseConfigText } from './config_guard.js';
import { closeQuietly, ensureGroup, openForWrite, quietly, writeTensor } from './h5.js';
import { type H5Group as SnapGroup, attr, child, isDataset, isGroup, readH5, tensorOf } from './h5_read.js';
import { toKeras3 } from './keras3_dialect.js';
import { MAX_CONFIG_CHARS } from './limits.js';
import { type AnyNetwork, keras2ConfigOf, modelFromConfigObject } from './model_config.js';
import type { LoadModelOptions, SaveModelOptions } from './options.js';
import { bytesWrittenBy, withBytesAsFile } from './temp_file.js';
import { compileArgsFrom, compileConfigOf, readOptimizerState, restoreOptimizerState } from './training_config.js';
import { assignKeras3 } from './weight_match.js';
import { readKeras3Layout, writeKeras3Layout } from './weights_h5.js';

/** Largest model.weights.h5 inflated from a .keras file (2 GiB). */
const MAX_WEIGHTS_BYTES = 2 ** 31 - 1;
const LIMITS: Readonly<Record<string, number>> = { 'config.json': MAX_CONFIG_CHARS, 'metadata.json': 1 << 20, 'model.weights.h5': MAX_WEIGHTS_BYTES };
/** Marks optimizer variables written in Kiln's order (iterations, slots by slot name, globals). */
const KILN_OPTIMIZER_LAYOUT = 'kiln-1';

function unzip(bytes: Uint8Array, label: string): Unzipped {
  try {
    return zipPackage().unzipSync(bytes, {
      filter: (f) => {
        if (!Object.hasOwn(LIMITS, f.name)) return false;
        if (f.originalSize > LIMITS[f.name]) throw new Error(`${f.name} says it inflates to ${f.originalSize} bytes, more than the limit of ${LIMITS[f.name]}`);
        return true;
      },
    });
  } catch (e) {
    throw new Error(`${label} is not a readable .keras zip: ${(e as Error).message}`);
  }
}

export async function loadKerasZip(bytes: Uint8Array, label: string, options: LoadModelOptions = {}): Promise<AnyNetwork> {
  const files = unzip(bytes, label);
  for (const name of ['config.json', 'model.weights.h5']) if (!files[name]) throw new Error(`${label} has no ${name}; a .keras file holds config.json, metadata.json and model.weights.h5`);
  const config = parseConfigText(Buffer.from(files['config.json']).toString('utf8'), `${label} (config.json)`) as Record<string, unknown>;
  const model = modelFromConfigObject(config, `${label} (config.json)`, options);
  const compileArgs = options.compile === false ? null : compileArgsFrom(config.compile_config, `${label} (compile_config)`, options.customObjects);
  if (compileArgs) model.compile(compileArgs);
  const where = `${label} (model.weights.h5)`;
  const weights = await withBytesAsFile(files['model.weights.h5'], '.weights.h5', (tmp) => readH5(tmp, where));
  assignKeras3(readKeras3Layout(weights, where), model.layers, {}, where);
  if (compileArgs) restoreOptimizer(weights, model, where, options);
  return model;
}

function restoreOptimizer(file: SnapGroup, model: AnyNetwork, where: string, options: LoadModelOptions): void {
  const vars = child(file, 'optimizer/vars');
  if (!isGroup(vars)) return;
  const warn = options.warn ?? ((m: string) => console.warn(m));
  if (attr(vars, 'kiln_layout', where) !== KILN_OPTIMIZER_LAYOUT) {
    warn(`loadModel: ${where} holds optimizer variables in Keras 3's own order, which Kiln does not map; the optimizer starts fresh`);
    return;
  }
  const keys = Object.keys(vars.children).filter((k) => /^\d+$/.test(k)).sort((a, b) => Number(a) - Number(b));
  const values = keys.map((k) => {
    const ds = vars.children[k];
    if (!isDataset(ds)) throw new Error(`${where}: optimizer/vars/${k} is not a dataset`);
    return tensorOf(ds, `${where}: optimizer/vars/${k}`);
  });
  const problem = restoreOptimizerState(model, values, where);
  if (problem) warn(`loadModel: ${problem}`);
}

function shapeLookup(model: AnyNetwork): (name: string) => readonly (number | null)[] {
  return (name) => {
    const shape = model.layers.find((l) => l.name === name)?.outputShape ?? [];
    // A layer of several outputs lists one shape per output; the record holds the first.
    return (Array.isArray(shape[0]) ? shape[0] : shape) as readonly (number | null)[];
  };
}

export async function kerasZipBytes(model: AnyNetwork, options: SaveModelOptions = {}): Promise<Uint8Array> {
  const label = `saveModel: ${model.name}`;
  const compileConfig = compileConfigOf(model);
  const state = compileConfig && options.includeOptimizer !== false ? await readOptimizerState(model) : [];
  const config = toKeras3(keras2ConfigOf(model), { shapeOf: shapeLookup(model), compileConfig });
  const weights = await bytesWrittenBy('.weights.h5', async (tmp) => {
    const { lib, file } = await openForWrite(tmp, label);
    try {
      writeKeras3Layout(lib, file, model.layers, model.name, label);
      if (state.length) {
        const vars = ensureGroup(lib, file, 'optimizer/vars', label);
        quietly(lib, label, () => vars.create_attribute('kiln_layout', KILN_OPTIMIZER_LAYOUT));
        state.forEach(({ weight, value }, i) => writeTensor(lib, vars, String(i), { value, shape: weight.shape }, label));
      }
    } finally {
      closeQuietly(lib, file);
    }
  });
  const metadata = { keras_version: '3.0.0', date_saved: new Date().toISOString(), saved_by: 'kiln' };
  return zipPackage().zipSync({
    'metadata.json': [zipPackage().strToU8(JSON.stringify(metadata)), { level: 0 }],
    'config.json': [zipPackage().strToU8(JSON.stringify(config)), { level: 0 }],
    'model.weights.h5': [weights, { level: 0 }],
  });
}

export async function saveKerasZip(model: AnyNetwork, path: string, options: SaveModelOptions = {}): Promise<void> {
  await atomicWriteBytes(path, await kerasZipBytes(model, options));
}
