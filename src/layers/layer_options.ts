/**
 * A layer's options as a Keras user spells them. A snake_case key
 * (`kernel_initializer`, `input_shape`) is read as its camelCase spelling:
 * the options object gains the camelCase key (not enumerable) before the
 * layer reads it; one option in both spellings is an error. A built-in layer
 * checks, when it is first applied, that every key it was given is one of its
 * options (its Keras config's keys and the common ones), so a misspelt option
 * is an error that lists the valid ones, never a silent default. Layers
 * restored from a config and subclasses written by users are not checked.
 */
import { camelCase } from '../options.js';

/** Options every layer takes, beside those of its Keras config. */
export const COMMON_LAYER_OPTIONS: readonly string[] = ['name', 'trainable', 'inputShape', 'batchInputShape', 'batchSize', 'inputDim', 'dtype'];

/** Adds the camelCase spelling of each snake_case key of `args`; returns the keys as given. */
function spell(className: string, args: object): string[] {
  if (typeof args !== 'object' || args === null || Array.isArray(args)) {
    throw new Error(`${className}: options must be an object of named options, got ${Array.isArray(args) ? `the list [${String(args)}]` : String(args)} (see the layer's typings for its positional arguments)`);
  }
  const given = args as Record<string, unknown>;
  const keys = Object.keys(given);
  for (const key of keys) {
    const camel = camelCase(key);
    if (camel === key) continue;
    if (Object.hasOwn(given, camel)) throw new Error(`${className}: option '${camel}' is given twice, as '${camel}' and as '${key}'`);
    try {
      Object.defineProperty(given, camel, { value: given[key], enumerable: false, configurable: true, writable: true });
    } catch {
      throw new Error(`${className}: option '${key}' is Keras's spelling of '${camel}', and the options object is frozen: write '${camel}'`);
    }
  }
  return keys;
}

let early: string[] | null = null;

/**
 * For a constructor that hands super() a copy of its options (Embedding,
 * CuDNNLSTM): spells the user's object before it reads or copies it, and
 * keeps the user's keys for the check.
 */
export function spellOptionsEarly(className: string, args: object): void {
  early = spell(className, args);
}

/** Called by Layer's constructor: spells `args` and returns the keys the user gave. */
export function spellLayerOptions(className: string, args: object): string[] {
  const keys = spell(className, args);
  const given = early ?? keys;
  early = null;
  return given;
}

/** Classes whose options are checked (every layer class Kiln exports; filled by src/layers/index.ts). */
export const BUILT_IN_LAYERS = new WeakSet<object>();

let restoring = 0;

/** Runs `make` (a layer built from a saved config) without the option check: files may carry keys of other Keras versions. */
export function restoringLayer<T>(make: () => T): T {
  restoring++;
  try {
    return make();
  } finally {
    restoring--;
  }
}

/** Whether layers constructed now are being restored from a config. */
export const isRestoring = (): boolean => restoring > 0;

/**
 * The options a layer takes: the common ones, its config's keys, and those a
 * class lists in a static `optionsBeyondConfig` (taken, but not in its Keras
 * config: a 1-d pool's default dataFormat, the kernel options Keras's
 * separable convolutions accept and ignore).
 */
export function layerOptionKeys(layerClass: object, config: Readonly<Record<string, unknown>> | null): Set<string> {
  const extra = (layerClass as { optionsBeyondConfig?: readonly string[] }).optionsBeyondConfig ?? [];
  return new Set([...COMMON_LAYER_OPTIONS, ...Object.keys(config ?? {}).map(camelCase), ...extra]);
}

/** Throws if a key of `given` is not one of `layer`'s options, naming the layer and the valid keys. */
export function checkLayerOptionKeys(where: string, given: readonly string[], layerClass: object, config: Readonly<Record<string, unknown>> | null): void {
  const valid = layerOptionKeys(layerClass, config);
  const unknown = given.filter((k) => !valid.has(camelCase(k)));
  if (unknown.length) throw new Error(`${where}: unknown option${unknown.length > 1 ? 's' : ''} ${unknown.map((k) => `'${k}'`).join(', ')}. Valid options: ${[...valid].sort().join(', ')}`);
}

/**
 * Keras's first positional argument (pool_size, padding, cropping, size)
 * where Kiln takes options: `new MaxPooling2D([2, 2])`, `new
 * ZeroPadding2D(1, { dataFormat })` mean `{ poolSize: [2, 2] }` and `{
 * padding: 1, dataFormat }`; an options object alone is taken as it is.
 */
export function withPositional<T extends object>(className: string, key: string, first: unknown, rest: T | undefined): T {
  if (typeof first === 'number' || Array.isArray(first)) {
    if (rest && (Object.hasOwn(rest, key) || Object.hasOwn(rest, snakeCase(key)))) throw new Error(`${className}: ${key} is given twice, as the first argument and in the options`);
    return { ...rest, [key]: first } as T;
  }
  if (rest !== undefined) throw new Error(`${className}: the first argument is the ${key} (a number or a list) or the options object, got ${first === null ? 'null' : typeof first} and a second argument`);
  return (first ?? {}) as T;
}

const snakeCase = (key: string): string => key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
