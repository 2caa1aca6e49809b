/**
 * Option keys as a Keras user spells them. Every options object of the public
 * API (optimizers, compile, fit, evaluate, predict, the generator methods,
 * callbacks) goes through `readOptions`: a key is taken in its camelCase
 * spelling, in Keras's snake_case spelling (`batch_size`, `validation_split`,
 * `on_epoch_end`), or under a listed alias (`learning_rate` for `lr`, as in
 * Keras 2.3+); any other key is an error that lists the valid ones, so a
 * misspelt option never passes silently. Values are checked elsewhere
 * (src/validation.ts); this module is about names only.
 */
import { describeValue } from './validation.js';
import type { CompileOptions, EvaluateOptions, FitOptions, GeneratorFitOptions, GeneratorOptions } from './training/trainer.js';

/** `batch_size` -> `batchSize`, `beta_1` -> `beta1`. */
export function camelCase(key: string): string {
  return key.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

type SnakeCase<S extends string> = S extends `${infer H}${infer T}`
  ? `${H extends Lowercase<H> ? H : `_${Lowercase<H>}`}${SnakeCase<T>}`
  : S;

/** An options type that also takes each key in Keras's snake_case spelling (`batch_size` beside `batchSize`). */
export type KerasOptions<T> = T & { readonly [K in keyof T as K extends string ? SnakeCase<K> : never]?: T[K] };

/** The keys an entry point takes, and extra spellings of them (alias -> key). */
export interface OptionSpec<T> {
  readonly keys: Readonly<Record<keyof T & string, true>>;
  readonly aliases?: Readonly<Record<string, keyof T & string>>;
}

/**
 * Returns `given` with every key in its camelCase spelling. `where` names the
 * entry point in errors (`fit`, `optimizers.SGD`). Throws on a key that is
 * neither valid nor a spelling of one, on two spellings of one key, and on a
 * non-object (a Keras positional argument passed where Kiln takes options).
 */
export function readOptions<T>(where: string, given: unknown, spec: OptionSpec<T>): T {
  if (given === undefined || given === null) return {} as T;
  if (typeof given !== 'object' || Array.isArray(given) || ArrayBuffer.isView(given)) {
    throw new Error(`${where}: options must be an object, got ${describeValue(given)} (Keras's positional arguments are options here, e.g. { ${Object.keys(spec.keys)[0]}: ... }). Valid options: ${validList(spec)}`);
  }
  const out: Record<string, unknown> = {};
  const spelledAs: Record<string, string> = {};
  for (const [key, value] of Object.entries(given)) {
    const name = resolveKey(key, spec);
    if (name === null) throw new Error(`${where}: unknown option '${key}'. Valid options: ${validList(spec)}`);
    if (name in out) throw new Error(`${where}: option '${name}' is given twice, as '${spelledAs[name]}' and as '${key}'`);
    out[name] = value;
    spelledAs[name] = key;
  }
  return out as T;
}

function resolveKey<T>(key: string, spec: OptionSpec<T>): string | null {
  const keys = spec.keys as Readonly<Record<string, true>>;
  if (Object.hasOwn(keys, key)) return key;
  const camel = camelCase(key);
  if (Object.hasOwn(keys, camel)) return camel;
  const aliases = (spec.aliases ?? {}) as Readonly<Record<string, string>>;
  if (Object.hasOwn(aliases, key)) return aliases[key];
  if (Object.hasOwn(aliases, camel)) return aliases[camel];
  return null;
}

function validList<T>(spec: OptionSpec<T>): string {
  const aliases = Object.entries((spec.aliases ?? {}) as Readonly<Record<string, string>>).map(([a, k]) => `${a} (= ${k})`);
  return [...Object.keys(spec.keys), ...aliases].join(', ') + ' (each also in snake_case)';
}

/** A spec from its keys: `keys` must list every key of T (tsc checks), so a new option cannot be forgotten here. */
export function optionSpec<T>(keys: Readonly<Record<keyof T & string, true>>, aliases?: Readonly<Record<string, keyof T & string>>): OptionSpec<T> {
  return { keys, aliases };
}

/** The options of compile, fit, evaluate, predict and the generator methods (tsc checks that every key is listed). */
export const COMPILE_OPTIONS = optionSpec<CompileOptions>({ optimizer: true, loss: true, metrics: true, sampleWeightMode: true, lossWeights: true, backend: true });
export const FIT_OPTIONS = optionSpec<FitOptions>({
  batchSize: true, epochs: true, verbose: true, callbacks: true, validationSplit: true, validationData: true, shuffle: true,
  classWeight: true, sampleWeight: true, initialEpoch: true, stepsPerEpoch: true, validationSteps: true,
});
export const EVALUATE_OPTIONS = optionSpec<EvaluateOptions>({ batchSize: true, verbose: true, sampleWeight: true, returnDict: true });
export const PREDICT_OPTIONS = optionSpec<{ readonly batchSize?: number; readonly verbose?: number }>({ batchSize: true, verbose: true });
export const FIT_GENERATOR_OPTIONS = optionSpec<GeneratorFitOptions>({ stepsPerEpoch: true, epochs: true, verbose: true, callbacks: true, validationData: true, maxQueueSize: true, initialEpoch: true, workers: true, useMultiprocessing: true, shuffle: true });
export const GENERATOR_OPTIONS = optionSpec<GeneratorOptions>({ steps: true, maxQueueSize: true });
