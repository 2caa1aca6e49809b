/**
 * Model weights in Keras 2's HDF5 layout (`model.save_weights`), through
 * h5wasm: root attribute `layer_names`; one group per layer with attribute
 * `weight_names` (`dense_1/kernel:0`, ...), each weight a float32 dataset at
 * `<layer>/<weight name>`. Files are written to a temporary name and renamed,
 * so a reader never sees half a file. Loading reads data only.
 */
import { closeSync, existsSync, openSync, readSync, renameSync, rmSync } from 'node:fs';
import type { Layer } from './layers/base.js';
import { Tensor } from './tensor.js';

const HDF5_SIGNATURE = Buffer.from([0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a]);

type H5Module = typeof import('h5wasm/node').default;

/** Loaded on first use: most programs never touch HDF5. */
async function h5wasm(): Promise<H5Module> {
  const lib = (await import('h5wasm/node')).default;
  await lib.ready;
  return lib;
}

export async function saveWeightsFile(path: string, layers: readonly Layer[]): Promise<void> {
  const lib = await h5wasm();
  const tmp = `${path}.tmp-${process.pid}-${Date.now()}`;
  try {
    const f = new lib.File(tmp, 'w');
    try {
      f.create_attribute('layer_names', layers.map((l) => l.name));
      f.create_attribute('backend', 'kiln');
      f.create_attribute('keras_version', '2.2.4');
      for (const layer of layers) {
        const g = f.create_group(layer.name);
        g.create_attribute('weight_names', layer.weights.length ? layer.weights.map((w) => w.name) : ['']);
        const groups = new Map<string, typeof g>([['', g]]);
        for (const w of layer.weights) {
          const parts = w.name.split('/');
          let group = g;
          for (let i = 1; i < parts.length; i++) {
            const key = parts.slice(0, i).join('/');
            group = groups.get(key) ?? groups.set(key, group.create_group(parts[i - 1])).get(key)!;
          }
          group.create_dataset({ name: parts[parts.length - 1], data: w.value, shape: [...w.shape], dtype: '<f' });
        }
      }
    } finally {
      f.close();
    }
    renameSync(tmp, path);
  } finally {
    if (existsSync(tmp)) rmSync(tmp, { force: true });
  }
}

/** Reads weights saved by saveWeightsFile or Keras, matched to `layers` by layer name. */
export async function loadWeightsFile(path: string, layers: readonly Layer[]): Promise<void> {
  if (!existsSync(path)) throw new Error(`loadWeights: no file at ${path}`);
  const head = Buffer.alloc(8);
  const fd = openSync(path, 'r');
  readSync(fd, head, 0, 8, 0);
  closeSync(fd);
  if (!head.equals(HDF5_SIGNATURE)) throw new Error(`loadWeights: ${path} is not an HDF5 file (it does not start with the HDF5 signature)`);
  const lib = await h5wasm();
  const f = new lib.File(path, 'r');
  try {
    const root = (f.attrs as Record<string, { value: unknown }>)['layer_names'];
    if (!root) throw new Error(`loadWeights: ${path} has no 'layer_names' attribute; it is not a Keras weights file`);
    const names = (root.value as string[]).map(String);
    const updates: [Layer, Tensor[]][] = [];
    for (const layer of layers.filter((l) => l.weights.length > 0)) {
      if (!names.includes(layer.name)) throw new Error(`loadWeights: layer '${layer.name}' is not in ${path}. Layers in the file: ${names.join(', ')}`);
      const tensors = layer.weights.map((w) => {
        const ds = f.get(`${layer.name}/${w.name}`) as { value: ArrayLike<number>; shape: number[] } | null;
        if (!ds) throw new Error(`loadWeights: ${path} has no dataset ${layer.name}/${w.name}`);
        return new Tensor(Float32Array.from(ds.value), ds.shape);
      });
      updates.push([layer, tensors]);
    }
    // Shapes are checked for every layer before any is changed: a bad file loses nothing.
    for (const [layer, tensors] of updates) {
      tensors.forEach((t, i) => {
        const w = layer.weights[i];
        if (t.shape.join() !== w.shape.join()) throw new Error(`loadWeights: ${layer.name}/${w.name} has shape [${t.shape.join(', ')}] in ${path}, the model expects [${w.shape.join(', ')}]`);
      });
    }
    for (const [layer, tensors] of updates) layer.setWeights(tensors);
  } finally {
    f.close();
  }
}
