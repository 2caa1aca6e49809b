/**
 * Keras's custom_objects: user layers, activations, losses and metrics that
 * a file names. Layers go to the deserializer (serialization.ts, which also
 * knows registerCustomObject); activations are made visible to the
 * activation registry only while one model is being built (Keras's
 * custom_object_scope) and taken away after, even on error; losses and
 * metrics are handed to compile() directly.
 */
import { ACTIVATIONS, type Activation } from '../activations.js';
import { Layer } from '../layers/base.js';
import { LAYER_CLASSES } from '../layers/index.js';
import type { AbstractRNNCell } from '../layers/recurrent_user_cell.js';
import { customObject } from '../custom_objects.js';

/** A user layer or RNN cell: built by its static fromConfig (any constructor then), else by `new` with the config. */
type LayerClass =
  | ((abstract new (...args: never[]) => Layer | AbstractRNNCell) & { fromConfig(config: Record<string, unknown>): Layer | AbstractRNNCell })
  | (new (config: Record<string, unknown>) => Layer | AbstractRNNCell);

/** By the name a file uses: a Layer subclass, or a function (activation `(b, x) => Value`, loss or metric). */
export type CustomObjects = Readonly<Record<string, LayerClass | ((...args: never[]) => unknown)>>;

const FORBIDDEN: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype']);

function isLayerClass(v: unknown): v is LayerClass {
  return typeof v === 'function' && v.prototype instanceof Layer;
}

/**
 * Runs `fn` (synchronous) with the custom activations registered; custom
 * layers reach the deserializer through its own customObjects argument.
 */
export function withCustomObjects<T>(objects: CustomObjects | undefined, fn: () => T): T {
  if (!objects) return fn();
  const activations = ACTIVATIONS as Record<string, Activation>;
  const added: string[] = [];
  try {
    for (const [name, v] of Object.entries(objects)) {
      if (FORBIDDEN.has(name)) throw new Error(`customObjects: the name '${name}' is not allowed`);
      if (typeof v === 'function' && !isLayerClass(v) && v.length === 2 && !Object.hasOwn(activations, name)) {
        activations[name] = v as unknown as Activation;
        added.push(name);
      }
    }
    return fn();
  } finally {
    for (const name of added) delete activations[name];
  }
}

/** A loss or metric named in a training config: the custom object of that name, else the name itself. */
export function resolveFunction<T>(name: unknown, objects: CustomObjects | undefined): T | string {
  if (typeof name !== 'string') throw new Error(`a loss or metric in the training config is ${JSON.stringify(name)}, expected a name`);
  if (objects && Object.hasOwn(objects, name) && typeof objects[name] === 'function' && !isLayerClass(objects[name])) return objects[name] as unknown as T;
  return name;
}

/** Whether `className` can be built: a front-end layer or a custom layer. */
export function knownLayerClass(className: string, objects: CustomObjects | undefined): boolean {
  if (FORBIDDEN.has(className)) return false;
  return Object.hasOwn(LAYER_CLASSES, className) || MODEL_CLASSES.has(className) || typeof customObject(className, objects ?? {}) === 'function';
}

export const MODEL_CLASSES: ReadonlySet<string> = new Set(['Sequential', 'Model', 'Functional']);

export function validLayerClasses(objects: CustomObjects | undefined): string {
  return [...Object.keys(LAYER_CLASSES), ...MODEL_CLASSES, ...Object.keys(objects ?? {}).filter((k) => isLayerClass(objects![k]))].sort().join(', ');
}
