/**
 * loadModel / saveModel: one entry for every model file, told apart by
 * content when loading (HDF5 signature, zip signature, JSON) and by
 * extension when saving (`.h5`/`.hdf5`: Keras 2 HDF5; `.keras`: Keras 3 zip;
 * `.json`: TensorFlow.js layers format with binary weight shards beside it;
 * `.onnx`: the predict graph for serving engines, written only).
 */
import { closeSync, existsSync, openSync, readFileSync, readSync } from 'node:fs';
import { isHdf5 } from './h5.js';
import { loadKerasH5, saveKerasH5 } from './keras_h5.js';
import { loadKerasZip, saveKerasZip } from './keras_zip.js';
import type { AnyNetwork } from './model_config.js';
import type { LoadModelOptions, SaveModelOptions } from './options.js';
import { withBytesAsFile } from './temp_file.js';
import { saveONNX } from './onnx_export.js';
import { loadTfjs, loadTfjsArtifacts, saveTfjs } from './tfjs.js';

const ZIP_SIGNATURE = [0x50, 0x4b, 0x03, 0x04];

function head(path: string): Uint8Array {
  const buf = Buffer.alloc(8);
  const fd = openSync(path, 'r');
  try {
    const n = readSync(fd, buf, 0, 8, 0);
    return buf.subarray(0, n);
  } finally {
    closeSync(fd);
  }
}

const isZip = (h: Uint8Array): boolean => ZIP_SIGNATURE.every((b, i) => h[i] === b);
const isJson = (h: Uint8Array): boolean => {
  const first = Buffer.from(h).toString('utf8').trimStart()[0];
  return first === '{';
};

/** Loads a model saved by Kiln, Keras 2, Keras 3 or TensorFlow.js, from a path or the file's bytes. Never runs code from the file. */
export async function loadModel(source: string | Uint8Array, options: LoadModelOptions = {}): Promise<AnyNetwork> {
  if (typeof source === 'string') {
    if (!existsSync(source)) throw new Error(`loadModel: no file at ${source}`);
    const label = `loadModel: ${source}`;
    const h = head(source);
    if (isHdf5(h)) return loadKerasH5(source, label, options);
    if (isZip(h)) return loadKerasZip(readFileSync(source), label, options);
    if (isJson(h)) return loadTfjs(source, label, options);
    throw new Error(`${label} is not a model file Kiln knows: not HDF5 (.h5), not a zip (.keras) and not JSON (TensorFlow.js model.json)`);
  }
  if (!(source instanceof Uint8Array)) throw new Error(`loadModel: expected a path or a Uint8Array of the file's bytes, got ${typeof source}`);
  const label = `loadModel: the given ${source.length} bytes`;
  if (isZip(source)) return loadKerasZip(source, label, options);
  if (isJson(source.subarray(0, 8))) return loadTfjsArtifacts(Buffer.from(source).toString('utf8'), null, label, options);
  if (!isHdf5(source)) throw new Error(`${label} are not a model file Kiln knows: not HDF5, not a zip (.keras) and not JSON`);
  return withBytesAsFile(source, '.h5', (tmp) => loadKerasH5(tmp, label, options));
}

/** Saves `model` in the format its extension names; atomic (a temporary file renamed into place). */
export async function saveModel(model: AnyNetwork, path: string, options: SaveModelOptions = {}): Promise<void> {
  if (typeof path !== 'string' || path.length === 0) throw new Error(`saveModel: the path must be a non-empty string, got ${JSON.stringify(path)}`);
  if (options.overwrite === false && existsSync(path)) throw new Error(`saveModel: ${path} exists and overwrite is false`);
  if (/\.(h5|hdf5)$/i.test(path)) return saveKerasH5(model, path, options);
  if (/\.keras$/i.test(path)) return saveKerasZip(model, path, options);
  if (/\.json$/i.test(path)) return saveTfjs(model, path, options);
  if (/\.onnx$/i.test(path)) return saveONNX(model, path, options);
  throw new Error(`saveModel: cannot tell the format of ${path} from its extension. Use .h5 or .hdf5 (Keras 2 HDF5), .keras (Keras 3 zip), .json (TensorFlow.js layers format) or .onnx (ONNX, inference only)`);
}
