/**
 * Model configs from files, Keras 2 or Keras 3, into models: guarded
 * (config_guard), translated to Keras 2 (keras3_dialect), sized
 * (size_check), class names checked against the registries, then built by
 * the front end's deserializer with any custom objects in scope.
 */
import type { Network } from '../models/network.js';
import type { Tensor } from '../tensor.js';
import { modelFromJSON as buildFromKeras2, modelToJSON } from '../serialization.js';
import { guardConfig, parseConfigText } from './config_guard.js';
import { type CustomObjects, MODEL_CLASSES, knownLayerClass, validLayerClasses, withCustomObjects } from './custom_objects.js';
import { toKeras2 } from './keras3_dialect.js';
import { checkModelSizes } from './size_check.js';

type Obj = Record<string, unknown>;

export interface ConfigOptions {
  readonly customObjects?: CustomObjects;
}

/** Any model, single or multi output. */
export type AnyNetwork = Network<Tensor | Tensor[]>;

/** The {class_name, config} of a model inside a parsed file (top level, or under model_config). */
function modelRoot(k2: unknown, where: string): Obj {
  if (!k2 || typeof k2 !== 'object' || Array.isArray(k2)) throw new Error(`${where}: a model config must be a JSON object, got ${Array.isArray(k2) ? 'a list' : JSON.stringify(k2)}`);
  const top = k2 as Obj;
  const root = (top.model_config ?? top) as Obj;
  if (!root || typeof root !== 'object') throw new Error(`${where}: model_config is ${JSON.stringify(root)}, expected an object`);
  if (!MODEL_CLASSES.has(root.class_name as string)) throw new Error(`${where}: unknown model class ${JSON.stringify(root.class_name)}. Valid model classes: Sequential, Model, Functional`);
  return root;
}

function checkLayerClasses(root: Obj, where: string, objects: CustomObjects | undefined): void {
  const config = root.config as Obj | Obj[] | undefined;
  const layers = Array.isArray(config) ? config : config?.layers;
  if (!Array.isArray(layers)) throw new Error(`${where}: the ${String(root.class_name)} config has no list of layers`);
  for (const l of layers as Obj[]) {
    const cls = l?.class_name;
    if (typeof cls !== 'string' || !knownLayerClass(cls, objects)) {
      const name = (l?.config as Obj | undefined)?.name ?? l?.name;
      throw new Error(`${where}: layer ${name === undefined ? '' : `'${String(name)}' `}has unknown class ${JSON.stringify(cls)}. Valid layer classes: ${validLayerClasses(objects)} (pass others in customObjects)`);
    }
    if (!l.config || typeof l.config !== 'object' || Array.isArray(l.config)) throw new Error(`${where}: layer of class ${cls} has config ${JSON.stringify(l.config)}, expected an object`);
  }
}

/** A model from a parsed Keras 2 or Keras 3 config; `where` names the file in errors. */
export function modelFromConfigObject(parsed: unknown, where: string, options: ConfigOptions = {}): AnyNetwork {
  guardConfig(parsed, where);
  let root: Obj;
  try {
    root = modelRoot(toKeras2(parsed), where);
  } catch (e) {
    throw new Error((e as Error).message.startsWith(where) ? (e as Error).message : `${where}: ${(e as Error).message}`);
  }
  checkLayerClasses(root, where, options.customObjects);
  checkModelSizes(root, where);
  try {
    return withCustomObjects(options.customObjects, () => buildFromKeras2(root, options.customObjects ?? {}));
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    throw new Error(`${where}: ${msg}`);
  }
}

/** Builds a model from Keras 2 or Keras 3 JSON (a string or a parsed object); loading never runs code from it. */
export function modelFromJSON(json: string | object, options: ConfigOptions = {}): AnyNetwork {
  const parsed = typeof json === 'string' ? parseConfigText(json, 'modelFromJSON') : json;
  return modelFromConfigObject(parsed, 'modelFromJSON', options);
}

/** The Keras 2 {class_name, config} of a model, snake_case. */
export function keras2ConfigOf(model: AnyNetwork): Obj {
  const { class_name: cls, config } = JSON.parse(modelToJSON(model)) as Obj;
  return { class_name: cls, config };
}
