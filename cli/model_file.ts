/**
 * The MODEL argument of `kiln compile`, `summary`, `plot` and `bench`: a
 * Keras 2 / Kiln JSON model file (with --weights FILE.h5 in Keras's HDF5
 * weights layout), or a JavaScript module that exports a model (as `default`
 * or `model`, or a function, possibly async, returning one). JSON files never
 * execute code; scripts are the user's own code.
 */
import { existsSync, readFileSync } from 'node:fs';
import { extname, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { modelFromJSON } from '../src/serialization.js';
import { Network } from '../src/models/network.js';

const SCRIPT = ['.js', '.mjs', '.cjs'];

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
  if (ext === '.json') model = modelFromJSON(readFileSync(path, 'utf8')) as Network;
  else if (SCRIPT.includes(ext)) model = await fromScript(path);
  else throw new Error(`cannot read model file ${file}: expected a Keras/Kiln JSON model (.json) or a script exporting a model (${SCRIPT.join(', ')})`);
  if (options.weights) {
    if (!existsSync(options.weights)) throw new Error(`no such weights file: ${options.weights}`);
    await model.loadWeights(resolve(options.weights));
  }
  return model;
}
