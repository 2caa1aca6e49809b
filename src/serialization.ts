/**
 * Keras 2 model configs (the JSON of `model.to_json()`): snake_case on disk,
 * camelCase in Kiln. Loading builds layers through the registry in
 * layers/index.ts and never evaluates anything from the file.
 */
import { type Layer, SymbolicTensor } from './layers/base.js';
import { InputLayer } from './layers/core.js';
import { layerFromConfig } from './layers/index.js';
import { Model } from './models/model.js';
import type { Network } from './models/network.js';
import { Sequential } from './models/sequential.js';

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

const camel = (k: string): string => k.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
const snake = (k: string): string => k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

function mapKeys(v: unknown, f: (k: string) => string): unknown {
  if (Array.isArray(v)) return v.map((x) => mapKeys(x, f));
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [f(k), mapKeys(x, f)]));
  return v;
}

export const toCamelCase = (v: unknown): unknown => mapKeys(v, camel);
export const toSnakeCase = (v: unknown): unknown => mapKeys(v, snake);

type Config = Record<string, unknown>;
interface LayerEntry {
  readonly name?: string;
  readonly className: string;
  readonly config: Config;
  readonly inboundNodes?: unknown[];
}

function fail(message: string): never {
  throw new Error(`modelFromJSON: ${message}`);
}

export function sequentialFromConfig(config: unknown): Sequential {
  const c = config as { name?: string; layers?: LayerEntry[] } | LayerEntry[];
  const entries = Array.isArray(c) ? c : c.layers;
  if (!Array.isArray(entries)) fail('a Sequential config needs a list of layers');
  const layers = entries.map((e) => layerFromConfig(e.className, e.config ?? {}));
  return new Sequential(layers, { name: Array.isArray(c) ? undefined : c.name });
}

export function functionalFromConfig(config: unknown): Model {
  const c = config as { name?: string; layers?: LayerEntry[]; inputLayers?: unknown[][]; outputLayers?: unknown[][] };
  if (!Array.isArray(c.layers) || !Array.isArray(c.inputLayers) || !Array.isArray(c.outputLayers)) fail('a Model config needs layers, input_layers and output_layers');
  const tensors = new Map<string, SymbolicTensor>();
  for (const entry of c.layers) {
    const layer: Layer = layerFromConfig(entry.className, { ...entry.config, name: entry.name ?? (entry.config?.name as string | undefined) });
    const nodes = entry.inboundNodes ?? [];
    if (layer instanceof InputLayer) {
      tensors.set(layer.name, new SymbolicTensor(layer.batchInputShape!, layer, []));
      continue;
    }
    if (nodes.length !== 1) fail(`layer ${layer.name} is called ${nodes.length} times; shared layers are not supported yet`);
    const inputs = (nodes[0] as unknown[][]).map((ref) => {
      const t = tensors.get(String(ref[0]));
      if (!t) fail(`layer ${layer.name} reads '${String(ref[0])}', which is not defined before it`);
      return t;
    });
    if (inputs.length !== 1) fail(`layer ${layer.name} has ${inputs.length} inputs; multi-input layers are not supported yet`);
    tensors.set(layer.name, layer.apply(inputs[0]));
  }
  const pick = (refs: unknown[][], what: string): SymbolicTensor[] => refs.map((r) => tensors.get(String(r[0])) ?? fail(`${what} '${String(r[0])}' is not a layer of the model`));
  return new Model({ inputs: pick(c.inputLayers, 'input layer'), outputs: pick(c.outputLayers, 'output layer'), name: c.name });
}

/** Builds a model from Keras 2 JSON (a string or a parsed object). */
export function modelFromJSON(json: string | object): Network {
  let parsed: unknown;
  try {
    parsed = typeof json === 'string' ? JSON.parse(json) : json;
  } catch (e) {
    fail(`not valid JSON: ${(e as Error).message}`);
  }
  const top = toCamelCase(parsed) as { className?: string; config?: unknown; modelConfig?: unknown };
  const root = (top.modelConfig ?? top) as { className?: string; config?: unknown };
  if (root.className === 'Sequential') return sequentialFromConfig(root.config);
  if (root.className === 'Model' || root.className === 'Functional') return functionalFromConfig(root.config);
  return fail(`unknown model class '${String(root.className)}'. Valid model classes: Sequential, Model`);
}

/** Keras 2 JSON of a model (snake_case), as `model.to_json()` writes it. */
export function modelToJSON(model: Sequential | Model): string {
  const className = model instanceof Sequential ? 'Sequential' : 'Model';
  return JSON.stringify(toSnakeCase({ className, config: model.getConfig(), kerasVersion: '2.2.4', backend: 'kiln' }) as Json);
}
