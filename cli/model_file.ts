/**
 * The MODEL argument of `kiln compile`, `summary`, `plot` and `bench`: a
 * model file loadModel reads (Keras 2 HDF5 .h5, Keras 3 .keras, TensorFlow.js
 * model.json), a Keras 2 / Kiln JSON config (model.to_json(); weights from
 * --weights FILE.h5 in Keras's HDF5 weights layout), or a JavaScript module
 * that exports a model (as `default` or `model`, or a function, possibly
 * async, returning one). Model files never execute code; scripts are the
 * user's own code.
 */
import { existsSync, readFileSync } from 'node:fs';
import { extname, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { loadModel } from '../src/io/index.js';
import { modelFromJSON } from '../src/serialization.js';
import { Network } from '../src/models/network.js';

const SCRIPT = ['.js', '.mjs', '.cjs'];
const MODEL_FILES = ['.h5', '.hdf5', '.keras'];

function isModel(x: unknown): x is Network {
  return x instanceof Network || (!!x && typeof x === 'object' && typeof (x as Network).buildGraph === 'function' && typeof (x as Network).summary === 'function');
}

async function fromScript(path: string): Promise<Network> {
  const mod = (await import(pathToFileURL(path).href)) as Record<string, unknown>;
  const candidate = mod.default ?? mod.model;
  if (candidate === undefined) throw new Error(`${path} exports no model: export it as 'default' or 'model' (exports found: ${Object.keys(mod).join(', ') || 'none'})`);
  const value = typeof candidate === 'function' && !isModel(candidate) ? await (candidate as () => unknown)() : candidate;
  if (!isModel(value)) throw new Error(`${path}: the exported ${mod.default !== undefined ? 'default' : 'model'} is not a Kiln model (got ${value === null ? 'null' : typeof value})`);
  return value;
}

export interface ModelFileOptions {
  /** Weights in Keras's HDF5 layout (save_weights / saveWeights), matched by layer name. */
  readonly weights?: string;
}

export async function loadModelFile(file: string, options: ModelFileOptions = {}): Promise<Network> {
  const path = resolve(file);
  if (!existsSync(path)) throw new Error(`no such model file: ${file}`);
  const ext = extname(path).toLowerCase();
  let model: Network;
  if (MODEL_FILES.includes(ext)) model = (await loadModel(path)) as Network;
  else if (ext === '.json') {
    const text = readFileSync(path, 'utf8');
    // TensorFlow.js's model.json wraps the config in modelTopology and names its weight shards.
    model = (/"modelTopology"\s*:/.test(text) ? await loadModel(path) : modelFromJSON(text)) as Network;
  } else if (SCRIPT.includes(ext)) model = await fromScript(path);
  else throw new Error(`cannot read model file ${file}: expected a model file (${MODEL_FILES.join(', ')}, TensorFlow.js model.json), a Keras/Kiln JSON config (.json) or a script exporting a model (${SCRIPT.join(', ')})`);
  if (options.weights) {
    if (!existsSync(options.weights)) throw new Error(`no such weights file: ${options.weights}`);
    await model.loadWeights(resolve(options.weights));
  }
  return model;
}
