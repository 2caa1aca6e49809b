/**
 * Weights in HDF5, in the two layouts Keras writes:
 * - Keras 2 (`save_weights`, and `model_weights` in full-model files, also
 *   Keras 3's legacy .h5): attribute `layer_names`; a group per layer with
 *   attribute `weight_names`, each a dataset path inside that group.
 * - Keras 3 (`.weights.h5`, and model.weights.h5 inside `.keras`):
 *   `layers/<key>/vars/<i>`, where <key> is the snake_case class name with a
 *   counter (Keras 3's saving_lib naming); recurrent layers keep theirs
 *   under `cell/vars`.
 * Readers return the file's layers in order; matching them to a model is
 * weight_match.ts's job.
 */
import type { Layer } from '../layers/base.js';
import { snakeCase } from '../layers/base.js';
import type { Tensor } from '../tensor.js';
import { type H5Group, ensureGroup, quietly, writeTensor } from './h5.js';
import { type H5Group as SnapGroup, attr, child, isDataset, isGroup, names, tensorOf } from './h5_read.js';

type H5Lib = typeof import('h5wasm/node');

export interface FileLayer {
  readonly name: string;
  readonly weights: Tensor[];
  /** Where each weight sits in the file, for messages. */
  readonly paths: string[];
}

/** Keras 2 layout under `group` (the file root or `model_weights`). */
export function readKeras2Layout(group: SnapGroup, label: string): FileLayer[] {
  const layerNames = names(group, 'layer_names', label);
  if (!layerNames) throw new Error(`${label} has no 'layer_names' attribute; it is not a Keras weights file`);
  return layerNames.map((name) => {
    const g = child(group, name);
    if (!isGroup(g)) throw new Error(`${label} lists layer '${name}' in layer_names but has no group for it`);
    const paths = (names(g, 'weight_names', `${label}, layer '${name}'`) ?? []).filter((w) => w.length > 0);
    const weights = paths.map((w) => {
      const ds = child(g, w);
      if (!isDataset(ds)) throw new Error(`${label} has no dataset '${name}/${w}' (named in weight_names of layer '${name}')`);
      return tensorOf(ds, `${label}: weight ${name}/${w}`);
    });
    return { name, weights, paths: paths.map((w) => `${name}/${w}`) };
  });
}

/** Tensors under `vars` groups of `g`, its own first, then its sublayers' (a recurrent layer's cell). */
function collectVars(g: SnapGroup, path: string, label: string): { weights: Tensor[]; paths: string[] } {
  const out = { weights: [] as Tensor[], paths: [] as string[] };
  const vars = child(g, 'vars');
  if (isGroup(vars)) {
    const idx = Object.keys(vars.children);
    const odd = idx.find((k) => !/^\d+$/.test(k));
    if (odd !== undefined) throw new Error(`${label}: ${path}/vars holds '${odd}', expected numbered variables`);
    for (const k of idx.sort((a, b) => Number(a) - Number(b))) {
      const ds = vars.children[k];
      if (!isDataset(ds)) throw new Error(`${label}: ${path}/vars/${k} is not a dataset`);
      out.weights.push(tensorOf(ds, `${label}: ${path}/vars/${k}`));
      out.paths.push(`${path}/vars/${k}`);
    }
  }
  for (const k of Object.keys(g.children).filter((x) => x !== 'vars').sort()) {
    const sub = g.children[k];
    if (!isGroup(sub)) continue;
    const inner = collectVars(sub, `${path}/${k}`, label);
    out.weights.push(...inner.weights);
    out.paths.push(...inner.paths);
  }
  return out;
}

/** Keras 3 layout: layers by their key; `name` is the layer's own name (vars attribute 'name'). */
export function readKeras3Layout(root: SnapGroup, label: string): Map<string, FileLayer> {
  const layers = child(root, 'layers');
  if (!isGroup(layers)) throw new Error(`${label} has no 'layers' group; it is not a Keras 3 weights file`);
  const out = new Map<string, FileLayer>();
  for (const [key, g] of Object.entries(layers.children)) {
    if (!isGroup(g)) continue;
    const vars = child(g, 'vars');
    const name = vars ? attr(vars, 'name', label) : undefined;
    const { weights, paths } = collectVars(g, `layers/${key}`, label);
    out.set(key, { name: typeof name === 'string' ? name : key, weights, paths });
  }
  return out;
}

/** Keras 3's saving_lib keys for a list of layers: snake_case class name, then _1, _2, ... */
export function keras3Keys(layers: readonly Layer[]): string[] {
  const used = new Map<string, number>();
  return layers.map((l) => {
    const base = snakeCase(l.className);
    const n = used.get(base);
    used.set(base, n === undefined ? 0 : n + 1);
    return n === undefined ? base : `${base}_${n + 1}`;
  });
}

const CELL_LAYERS = new Set(['LSTM', 'GRU', 'SimpleRNN']);

export function writeKeras3Layout(lib: H5Lib, root: H5Group, layers: readonly Layer[], modelName: string, label: string): void {
  const keys = keras3Keys(layers);
  layers.forEach((layer, i) => {
    const g = ensureGroup(lib, root, `layers/${keys[i]}`, label);
    const own = ensureGroup(lib, g, 'vars', label);
    quietly(lib, label, () => own.create_attribute('name', layer.name));
    const vars = CELL_LAYERS.has(layer.className) ? ensureGroup(lib, g, 'cell/vars', label) : own;
    layer.weights.forEach((w, j) => writeTensor(lib, vars, String(j), w, label));
  });
  const top = ensureGroup(lib, root, 'vars', label);
  quietly(lib, label, () => top.create_attribute('name', modelName));
}

/** Keras 2 layout under `group`. Weight names are the layer's (`dense_1/kernel:0`). */
export function writeKeras2Layout(lib: H5Lib, group: H5Group, layers: readonly Layer[], label: string): void {
  quietly(lib, label, () => {
    group.create_attribute('layer_names', layers.map((l) => l.name));
    group.create_attribute('backend', 'kiln');
    group.create_attribute('keras_version', '2.2.4');
  });
  for (const layer of layers) {
    const g = ensureGroup(lib, group, layer.name, label);
    quietly(lib, label, () => g.create_attribute('weight_names', layer.weights.length ? layer.weights.map((w) => w.name) : new Float64Array(0)));
    for (const w of layer.weights) {
      const parts = w.name.split('/');
      const parent = ensureGroup(lib, g, parts.slice(0, -1).join('/'), label);
      writeTensor(lib, parent, parts[parts.length - 1], w, label);
    }
  }
}
