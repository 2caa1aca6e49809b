/**
 * Keras 2 model configs (the JSON of `model.to_json()`): snake_case on disk,
 * camelCase in Kiln. Functional configs carry every layer's inbound nodes as
 * [layer name, node index, tensor index, kwargs], so shared layers, layers
 * of several inputs and nested models round-trip. Loading builds layers
 * through the registry in layers/index.ts (or `customObjects`) and never
 * evaluates anything from the file.
 */
import { type Layer, type Node, type SymbolicTensor } from './layers/base.js';
import { InputLayer } from './layers/core.js';
import { layerFromConfig } from './layers/index.js';
import { restoringLayer } from './layers/layer_options.js';
import { Model } from './models/model.js';
import { Network } from './models/network.js';
import { Sequential } from './models/sequential.js';
import type { Tensor } from './tensor.js';
import { type CustomObjects, customObject } from './custom_objects.js';
import { Lambda } from './layers/lambda.js';
import { TimeDistributed } from './layers/wrappers.js';
import { RNN, cellFromConfig } from './layers/recurrent_rnn.js';
import type { UserCell } from './layers/recurrent_user_cell.js';

export { type CustomObjects, customObject, registerCustomObject } from './custom_objects.js';

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

const MODEL_CLASSES = ['Sequential', 'Model', 'Functional'];

/** A layer (or nested model) from its class name and camelCase config. */
function makeLayer(className: string, config: Config, customObjects: CustomObjects): Layer {
  return restoringLayer(() => makeLayerFromConfig(className, config, customObjects));
}

function makeLayerFromConfig(className: string, config: Config, customObjects: CustomObjects): Layer {
  if (className === 'Sequential') return sequentialFromConfig(config, customObjects);
  if (className === 'Model' || className === 'Functional') return functionalFromConfig(config, customObjects);
  if (className === 'Lambda') return Lambda.fromConfig(config, customObjects);
  if (className === 'TimeDistributed') {
    const inner = config.layer as LayerEntry | undefined;
    if (!inner || typeof inner.className !== 'string') fail(`TimeDistributed ${String(config.name)} needs layer: {class_name, config}`);
    return new TimeDistributed(makeLayer(inner.className, inner.config ?? {}, customObjects), config);
  }
  if (className === 'RNN' && !customObject(className, customObjects)) {
    // Cells written by users (recurrent_user_cell.ts), alone or stacked, are made by their classes from customObjects.
    const custom = (name: string, c: Config): UserCell | null => (typeof customObject(name, customObjects) === 'function' ? makeLayerFromConfig(name, c, customObjects) as UserCell : null);
    return new RNN(cellFromConfig(config.cell, custom), config);
  }
  const custom = customObject(className, customObjects) as { fromConfig?: (c: Config) => Layer; new (c: Config): Layer } | undefined;
  if (typeof custom === 'function') {
    const layer = typeof custom.fromConfig === 'function' ? custom.fromConfig(config) : new custom(config);
    if (!layer || typeof (layer as Layer).lowerList !== 'function') fail(`custom object '${className}' did not make a layer`);
    return layer;
  }
  return layerFromConfig(className, config);
}

export function sequentialFromConfig(config: unknown, customObjects: CustomObjects = {}): Sequential {
  const c = config as { name?: string; layers?: LayerEntry[] } | LayerEntry[];
  const entries = Array.isArray(c) ? c : c?.layers;
  if (!Array.isArray(entries)) fail('a Sequential config needs a list of layers');
  const layers = entries.map((e, i) => {
    if (!e || typeof e !== 'object' || typeof e.className !== 'string') fail(`layer ${i} of the Sequential config has no class_name`);
    return makeLayer(e.className, e.config ?? {}, customObjects);
  });
  return new Sequential(layers, { name: Array.isArray(c) ? undefined : c.name });
}

type NodeRef = readonly [string, number, number, unknown?];

function nodeRef(raw: unknown, where: string): NodeRef {
  if (!Array.isArray(raw) || raw.length < 3 || typeof raw[0] !== 'string' || !Number.isInteger(raw[1]) || !Number.isInteger(raw[2]) || raw[1] < 0 || raw[2] < 0) {
    fail(`${where}: a node reference must be [layer name, node index, tensor index], got ${JSON.stringify(raw)}`);
  }
  return raw as unknown as NodeRef;
}

/**
 * The Keras node index of `node` in a config: the position among the nodes
 * a file keeps, counted from 1 for a nested model, whose node 0 in Keras
 * links its own inputs to its outputs.
 */
const firstNodeIndex = (layer: Layer): number => (layer instanceof Network ? 1 : 0);

/** The output tensors of node `index` (a config's numbering) of `layer`, or null if that node is not made yet. */
function nodeOutputs(layer: Layer, index: number): readonly SymbolicTensor[] | null {
  const at = index - firstNodeIndex(layer);
  if (at < 0) fail(`a reference to node ${index} of model ${layer.name} names the model's own node, not a call of it`);
  return layer.inboundNodes[at]?.outputs ?? null;
}

export function functionalFromConfig(config: unknown, customObjects: CustomObjects = {}): Model {
  const c = config as { name?: string; layers?: LayerEntry[]; inputLayers?: unknown[]; outputLayers?: unknown[] };
  if (!c || !Array.isArray(c.layers) || !Array.isArray(c.inputLayers) || !Array.isArray(c.outputLayers)) fail('a Model config needs layers, input_layers and output_layers');
  const created = new Map<string, Layer>();
  const pending = new Map<Layer, NodeRef[][]>();
  for (const entry of c.layers) {
    if (!entry || typeof entry !== 'object' || typeof entry.className !== 'string') fail('every layer of a Model config needs a class_name and a config');
    const name = entry.name ?? (entry.config?.name as string | undefined);
    if (typeof name !== 'string') fail(`a layer of class ${entry.className} has no name`);
    if (created.has(name)) fail(`two layers are named '${name}'`);
    const layer = makeLayer(entry.className, { ...entry.config, name }, customObjects);
    created.set(name, layer);
    const nodes = entry.inboundNodes ?? [];
    if (!Array.isArray(nodes)) fail(`inbound_nodes of layer ${name} must be a list`);
    pending.set(layer, nodes.map((n, k) => {
      if (!Array.isArray(n)) fail(`node ${k} of layer ${name} must be a list of node references`);
      return n.map((r) => nodeRef(r, `layer ${name}`));
    }));
  }
  // Keras's from_config: apply each layer to its inbound nodes once their inputs exist, in passes over the layer list.
  const resolve = (ref: NodeRef, who: string): SymbolicTensor | null => {
    const from = created.get(ref[0]);
    if (!from) fail(`layer ${who} reads '${ref[0]}', which is not a layer of the model`);
    const outs = nodeOutputs(from, ref[1]);
    if (!outs) return null;
    return outs[ref[2]] ?? fail(`layer ${who} reads output ${ref[2]} of node ${ref[1]} of ${ref[0]}, which has ${outs.length} output(s)`);
  };
  let left = [...pending.values()].reduce((n, nodes) => n + nodes.length, 0);
  while (left > 0) {
    let progress = false;
    for (const [layer, nodes] of pending) {
      while (nodes.length) {
        const inputs = nodes[0].map((ref) => resolve(ref, layer.name));
        if (inputs.some((t) => t === null)) break;
        nodes.shift();
        left--;
        progress = true;
        if (inputs.length) layer.applyMulti(inputs as SymbolicTensor[]);
      }
    }
    if (!progress) {
      const [stuck] = [...pending].filter(([, nodes]) => nodes.length);
      fail(`the inbound nodes of layer ${stuck[0].name} read nodes that never exist (a cycle or a dangling reference): ${JSON.stringify(stuck[1][0])}`);
    }
  }
  const pick = (refs: unknown[], what: string): SymbolicTensor[] => refs.map((raw) => {
    const ref = nodeRef(raw, what);
    return resolve(ref, what) ?? fail(`${what} '${ref[0]}' has no node ${ref[1]}`);
  });
  return new Model({ inputs: pick(c.inputLayers, 'input layer'), outputs: pick(c.outputLayers, 'output layer'), name: c.name });
}

/** A Keras 2 functional config (camelCase): layers in Keras's order with their inbound nodes renumbered to those the model keeps. */
export function functionalConfig(model: Model): Record<string, unknown> {
  const kept = new Set<Node>(model.graphNodes);
  const index = new Map<Node, number>();
  for (const layer of model.layers) {
    let k = firstNodeIndex(layer);
    for (const n of layer.inboundNodes) if (kept.has(n)) index.set(n, k++);
  }
  const ref = (t: SymbolicTensor): unknown[] => [t.layer.name, index.get(t.node) ?? 0, t.index];
  const layers = model.layers.map((layer) => ({
    name: layer.name,
    className: layer.className,
    config: layer.getConfig(),
    inboundNodes: layer.inboundNodes.filter((n) => kept.has(n) && n.inputs.length).map((n) => n.inputs.map((t) => [...ref(t), {}])),
  }));
  return { name: model.name, layers, inputLayers: model.inputs.map(ref), outputLayers: model.outputs.map(ref) };
}

/** Builds a model from Keras 2 JSON (a string or a parsed object); custom layers resolve through `customObjects` or registerCustomObject. */
export function modelFromJSON(json: string | object, customObjects: CustomObjects = {}): Network<Tensor | Tensor[]> {
  let parsed: unknown;
  try {
    parsed = typeof json === 'string' ? JSON.parse(json) : json;
  } catch (e) {
    fail(`not valid JSON: ${(e as Error).message}`);
  }
  const top = toCamelCase(parsed) as { className?: string; config?: unknown; modelConfig?: unknown } | null;
  if (!top || typeof top !== 'object') fail(`expected a model config object, got ${JSON.stringify(parsed)?.slice(0, 80)}`);
  const root = (top.modelConfig ?? top) as { className?: string; config?: unknown };
  if (typeof root.className === 'string' && MODEL_CLASSES.includes(root.className)) return makeLayer(root.className, root.config as Config, customObjects) as Network<Tensor | Tensor[]>;
  return fail(`unknown model class '${String(root.className)}'. Valid model classes: ${MODEL_CLASSES.join(', ')}`);
}

/** Keras 2 JSON of a model (snake_case), as `model.to_json()` writes it. */
export function modelToJSON(model: Network<Tensor | Tensor[]>): string {
  return JSON.stringify(toSnakeCase({ className: model.className, config: model.getConfig(), kerasVersion: '2.2.4', backend: 'kiln' }) as Json);
}

export { InputLayer };
