/**
 * Value checks at the public entry points (layer constructors and configs,
 * compile, fit, evaluate, predict, generators): every check runs before any
 * compile or weight change and throws an Error that names where the value came
 * from, the value and what was expected. Unknown option KEYS are src/options.ts's
 * concern; this module checks the VALUES of the keys it knows.
 */
import type { KShape } from './layers/base.js';
import { Tensor, toTensor } from './tensor.js';

/** Keras's shape text, (None, 20); layers/base.ts's shapeText, repeated so registries can import this module without the layers. */
function shapeText(shape: KShape): string {
  return `(${shape.map((d) => (d === null ? 'None' : String(d))).join(', ')}${shape.length === 1 ? ',' : ''})`;
}

/** A value as an error message shows it: strings quoted, arrays bracketed, objects by kind. */
export function describeValue(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (Array.isArray(value)) return value.length > 8 ? `[${value.slice(0, 8).map(describeValue).join(', ')}, ...]` : `[${value.map(describeValue).join(', ')}]`;
  if (value === null) return 'null';
  if (typeof value === 'function') return `a function${value.name ? ` '${value.name}'` : ''}`;
  if (value instanceof Tensor) return `a tensor of shape ${shapeText(value.shape)}`;
  if (ArrayBuffer.isView(value)) return `a ${value.constructor.name}`;
  if (typeof value === 'object') return `an object (${Object.prototype.toString.call(value)})`;
  return String(value);
}

export interface IntRange {
  readonly min?: number;
  readonly max?: number;
}

/** `value` must be a number (not a string, boolean or array) that is an integer in [min, max]. */
export function checkInt(where: string, name: string, value: unknown, { min = -Infinity, max = Infinity }: IntRange = {}): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    const range = min === 1 && max === Infinity ? 'a positive integer' : min === 0 && max === Infinity ? 'a non-negative integer' : max === Infinity ? `an integer >= ${min}` : `an integer in [${min}, ${max}]`;
    throw new Error(`${where}: ${name} must be ${range}, got ${describeValue(value)}`);
  }
  return value;
}

export interface NumberRange {
  readonly min?: number;
  readonly max?: number;
  /** The interval excludes max (e.g. [0, 1)). */
  readonly maxOpen?: boolean;
  /** The interval excludes min (e.g. (0, inf)). */
  readonly minOpen?: boolean;
}

/** `value` must be a finite number in the given interval. */
export function checkNumber(where: string, name: string, value: unknown, { min = -Infinity, max = Infinity, minOpen = false, maxOpen = false }: NumberRange = {}): number {
  const ok = typeof value === 'number' && Number.isFinite(value) && (minOpen ? value > min : value >= min) && (maxOpen ? value < max : value <= max);
  if (!ok) {
    const interval = `${minOpen ? '(' : '['}${min === -Infinity ? '-inf' : min}, ${max === Infinity ? 'inf' : max}${maxOpen || max === Infinity ? ')' : ']'}`;
    throw new Error(`${where}: ${name} must be a finite number in ${interval}, got ${describeValue(value)}`);
  }
  return value;
}

export function checkBoolean(where: string, name: string, value: unknown): boolean {
  if (typeof value !== 'boolean') throw new Error(`${where}: ${name} must be true or false, got ${describeValue(value)}`);
  return value;
}

/**
 * A shape argument (inputShape, batchInputShape, targetShape): an array of
 * positive integers; `nullable` dimensions may be null (unknown, as Keras's None).
 */
export function checkShape(where: string, name: string, value: unknown, nullable: 'none' | 'first' | 'any' = 'none'): KShape {
  if (!Array.isArray(value)) throw new Error(`${where}: ${name} must be an array of positive integers, got ${describeValue(value)}`);
  value.forEach((d, i) => {
    const mayBeNull = nullable === 'any' || (nullable === 'first' && i === 0);
    if (d === null && mayBeNull) return;
    if (typeof d !== 'number' || !Number.isInteger(d) || d < 1) {
      throw new Error(`${where}: ${name} must be an array of positive integers${mayBeNull ? ' (or null for an unknown dimension)' : ''}, got ${describeValue(value)} (dimension ${i} is ${describeValue(d)})`);
    }
  });
  return value as KShape;
}

/** The layer arguments every layer takes (name, trainable, inputShape, batchInputShape, batchSize, inputDim, dtype). */
export function checkLayerArgs(className: string, args: Readonly<Record<string, unknown>>): void {
  const where = `${className}${typeof args.name === 'string' ? ` ${args.name}` : ''}`;
  if (args.name !== undefined && args.name !== null && (typeof args.name !== 'string' || args.name === '')) throw new Error(`${className}: name must be a non-empty string, got ${describeValue(args.name)}`);
  if (args.trainable !== undefined) checkBoolean(where, 'trainable', args.trainable);
  if (args.inputShape !== undefined && args.inputShape !== null) checkShape(where, 'inputShape', args.inputShape, 'any');
  if (args.batchInputShape !== undefined && args.batchInputShape !== null) checkShape(where, 'batchInputShape', args.batchInputShape, 'any');
  if (args.batchSize !== undefined && args.batchSize !== null) checkInt(where, 'batchSize', args.batchSize, { min: 1 });
  if (args.inputDim !== undefined && args.inputDim !== null) checkInt(where, 'inputDim', args.inputDim, { min: 1 });
  if (args.dtype !== undefined && args.dtype !== null && typeof args.dtype !== 'string') throw new Error(`${where}: dtype must be a dtype name such as 'float32', got ${describeValue(args.dtype)}`);
}

/** A registry lookup that answers only the table's own keys (never `constructor`, `__proto__`, `toString`). */
export function ownEntry<T>(table: Readonly<Record<string, T>>, key: unknown): T | undefined {
  return typeof key === 'string' && Object.hasOwn(table, key) ? table[key] : undefined;
}

/** Nested-array data holds only numbers and booleans, at every depth (strings or undefined would become NaN). */
export function checkData(where: string, name: string, x: unknown): void {
  if (x instanceof Tensor) return;
  if (ArrayBuffer.isView(x)) {
    if (x instanceof DataView || x instanceof BigInt64Array || x instanceof BigUint64Array) throw new Error(`${where}: ${name} must be a Tensor, a numeric typed array or nested arrays of numbers, got ${describeValue(x)}`);
    return;
  }
  if (!Array.isArray(x)) throw new Error(`${where}: ${name} must be a Tensor, a typed array or nested arrays of numbers, got ${describeValue(x)}`);
  const walk = (v: unknown, path: string): void => {
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) walk(v[i], `${path}[${i}]`);
    } else if (typeof v !== 'number' && typeof v !== 'boolean') {
      throw new Error(`${where}: ${name}${path} is ${describeValue(v)}; data must hold only numbers`);
    }
  };
  walk(x, '');
}

/**
 * The whole batch against the model's input spec: the rank and every known
 * dimension (Keras's "Error when checking input"), and at least one sample.
 */
export function checkInputShape(modelName: string, spec: KShape, shape: readonly number[], what = 'input'): void {
  if (shape.length !== spec.length) {
    throw new Error(`Error when checking ${what} of model ${modelName}: expected ${what} to have ${spec.length} dimensions (shape ${shapeText(spec)}), but got array with shape ${shapeText(shape)}`);
  }
  const bad = spec.findIndex((d, i) => i > 0 && d !== null && d !== shape[i]);
  if (bad >= 0) {
    throw new Error(`Error when checking ${what} of model ${modelName}: expected ${what} to have shape ${shapeText(spec)} but got array with shape ${shapeText(shape)} (dimension ${bad} is ${shape[bad]}, expected ${spec[bad]})`);
  }
  if (shape[0] === 0) throw new Error(`Error when checking ${what} of model ${modelName}: got an array with 0 samples (shape ${shapeText(shape)}); pass at least one sample`);
}

/** Sparse class labels: integers in [0, classes). Names the first bad label and its index. */
export function checkSparseLabels(where: string, labels: Tensor, classes: number): void {
  const data = labels.data;
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    if (!(Number.isInteger(v) && v >= 0 && v < classes)) {
      throw new Error(`${where}: sparse_categorical_crossentropy received label ${v} at sample ${i}; labels must be integers in [0, ${classes}) for an output of ${classes} classes`);
    }
  }
}

const VERBOSE = { min: 0, max: 2 } as const;

function checkOptional(where: string, args: Readonly<Record<string, unknown>>, key: string, check: (where: string, name: string, v: unknown) => unknown): void {
  if (args[key] !== undefined) check(where, key, args[key]);
}

function checkOptionsObject(where: string, args: unknown): Readonly<Record<string, unknown>> {
  if (args === undefined) return {};
  if (args === null || typeof args !== 'object' || Array.isArray(args)) throw new Error(`${where}: options must be an object, got ${describeValue(args)}`);
  return args as Readonly<Record<string, unknown>>;
}

const positiveInt = (w: string, n: string, v: unknown): number => checkInt(w, n, v, { min: 1 });
const nonNegativeInt = (w: string, n: string, v: unknown): number => checkInt(w, n, v, { min: 0 });
const verbose = (w: string, n: string, v: unknown): number => checkInt(w, n, v, VERBOSE);

function checkCallbacks(where: string, value: unknown): void {
  if (value === undefined) return;
  if (!Array.isArray(value)) throw new Error(`${where}: callbacks must be an array of Callback objects, got ${describeValue(value)}`);
  value.forEach((c, i) => {
    if (c === null || typeof c !== 'object' || typeof (c as { setParams?: unknown }).setParams !== 'function' || typeof (c as { setModel?: unknown }).setModel !== 'function') {
      throw new Error(`${where}: callbacks[${i}] must be a Callback (with setParams and setModel), got ${describeValue(c)}`);
    }
  });
}

function checkPair(where: string, name: string, value: unknown): void {
  if (!Array.isArray(value) || value.length !== 2) throw new Error(`${where}: ${name} must be a pair [x, y], got ${describeValue(value)}`);
  checkData(where, `${name}[0]`, value[0]);
  checkData(where, `${name}[1]`, value[1]);
}

/** fit's options: Keras's integer and range rules, before any compile. */
export function checkFitArgs(args: unknown): void {
  const where = 'fit';
  const a = checkOptionsObject(where, args);
  checkOptional(where, a, 'batchSize', positiveInt);
  checkOptional(where, a, 'epochs', nonNegativeInt);
  checkOptional(where, a, 'verbose', verbose);
  checkOptional(where, a, 'initialEpoch', nonNegativeInt);
  checkOptional(where, a, 'stepsPerEpoch', positiveInt);
  checkOptional(where, a, 'validationSteps', positiveInt);
  checkOptional(where, a, 'validationSplit', (w, n, v) => checkNumber(w, n, v, { min: 0, max: 1, maxOpen: true }));
  if (a.shuffle !== undefined && a.shuffle !== 'batch' && typeof a.shuffle !== 'boolean') throw new Error(`fit: shuffle must be true, false or 'batch', got ${describeValue(a.shuffle)}`);
  checkCallbacks(where, a.callbacks);
  if (a.validationData !== undefined && a.validationData !== null) checkPair(where, 'validationData', a.validationData);
  // sampleWeight may be a Tensor, a typed array or a plain array: its contents are checked where it is read (standardize).
  if (a.classWeight !== undefined) {
    if (a.classWeight === null || typeof a.classWeight !== 'object' || Array.isArray(a.classWeight)) throw new Error(`fit: classWeight must be an object {classIndex: weight}, got ${describeValue(a.classWeight)}`);
    for (const [k, v] of Object.entries(a.classWeight)) {
      if (!/^\d+$/.test(k)) throw new Error(`fit: classWeight keys must be class indices, got '${k}'`);
      checkNumber(where, `classWeight[${k}]`, v, { min: 0 });
    }
  }
}

/** evaluate's options. */
export function checkEvaluateArgs(args: unknown): void {
  const a = checkOptionsObject('evaluate', args);
  checkOptional('evaluate', a, 'batchSize', positiveInt);
  checkOptional('evaluate', a, 'verbose', verbose);
}

/** predict's options. */
export function checkPredictArgs(args: unknown): void {
  const a = checkOptionsObject('predict', args);
  checkOptional('predict', a, 'batchSize', positiveInt);
  checkOptional('predict', a, 'verbose', verbose);
}

/** fitGenerator / evaluateGenerator / predictGenerator options. */
export function checkGeneratorArgs(where: string, args: unknown, stepsKey: 'stepsPerEpoch' | 'steps'): void {
  const a = checkOptionsObject(where, args);
  positiveInt(where, stepsKey, a[stepsKey]);
  checkOptional(where, a, 'epochs', nonNegativeInt);
  checkOptional(where, a, 'verbose', verbose);
  checkOptional(where, a, 'initialEpoch', nonNegativeInt);
  checkOptional(where, a, 'maxQueueSize', positiveInt);
  checkCallbacks(where, a.callbacks);
  if (a.validationData !== undefined && a.validationData !== null) checkPair(where, 'validationData', a.validationData);
}

/** checkData, then the tensor (float32 unless it is one already). */
export function dataTensor(where: string, name: string, x: unknown): Tensor {
  checkData(where, name, x);
  return toTensor(x as Tensor);
}

/** validationSplit leaves samples on both sides: Keras takes the last floor-complement rows for validation. */
export function checkSplit(samples: number, split: number, at: number): void {
  if (split > 0 && (at < 1 || at >= samples)) {
    throw new Error(`fit: validationSplit ${split} of ${samples} samples leaves ${at} for training and ${samples - at} for validation; both need at least one`);
  }
}

/** A positive integer or a list of them (kernelSize, strides, poolSize, size). */
function checkIntOrTuple(where: string, name: string, value: unknown): void {
  if (Array.isArray(value)) value.forEach((v, i) => checkInt(where, `${name}[${i}]`, v, { min: 1 }));
  else checkInt(where, name, value, { min: 1 });
}

/** Checks of config values that mean the same in every layer class that has them. */
const CONFIG_VALUE_CHECKS: Readonly<Record<string, (where: string, name: string, value: unknown) => void>> = {
  units: (w, n, v) => checkInt(w, n, v, { min: 1 }),
  filters: (w, n, v) => checkInt(w, n, v, { min: 1 }),
  n: (w, n, v) => checkInt(w, n, v, { min: 1 }),
  rate: (w, n, v) => checkNumber(w, n, v, { min: 0, max: 1, maxOpen: true }),
  stddev: (w, n, v) => checkNumber(w, n, v, { min: 0 }),
  kernelSize: checkIntOrTuple,
  strides: checkIntOrTuple,
  poolSize: checkIntOrTuple,
  dims: (w, n, v) => checkShape(w, n, v),
  targetShape: (w, n, v) => checkTargetShape(w, v),
  alpha: (w, n, v) => checkNumber(w, n, v),
  theta: (w, n, v) => checkNumber(w, n, v),
  threshold: (w, n, v) => checkNumber(w, n, v),
  negativeSlope: (w, n, v) => checkNumber(w, n, v),
  maxValue: (w, n, v) => v === null || checkNumber(w, n, v, { min: 0 }),
  l1: (w, n, v) => checkNumber(w, n, v, { min: 0 }),
  l2: (w, n, v) => checkNumber(w, n, v, { min: 0 }),
  momentum: (w, n, v) => checkNumber(w, n, v),
  epsilon: (w, n, v) => checkNumber(w, n, v, { min: 0 }),
  axis: (w, n, v) => {
    if (Array.isArray(v)) v.forEach((a, i) => checkInt(w, `${n}[${i}]`, a));
    else checkInt(w, n, v);
  },
};

/** Reshape's target: positive integers, at most one -1 (inferred). */
export function checkTargetShape(where: string, value: unknown): readonly number[] {
  if (!Array.isArray(value) || value.some((d) => d !== -1 && (typeof d !== 'number' || !Number.isInteger(d) || d < 1))) {
    throw new Error(`${where}: targetShape must be an array of positive integers (one may be -1), got ${describeValue(value)}`);
  }
  return value as readonly number[];
}

/**
 * A layer config read from a file or given to layerFromConfig: the common
 * layer arguments and every value the table above knows, before the layer is
 * constructed (no coercion: "8", true and [8] are not 8).
 */
export function checkLayerConfig(className: string, config: Readonly<Record<string, unknown>>): void {
  if (config === null || typeof config !== 'object' || Array.isArray(config)) throw new Error(`${className}: config must be an object, got ${describeValue(config)}`);
  checkLayerArgs(className, config);
  const where = `${className}${typeof config.name === 'string' ? ` ${config.name}` : ''}`;
  for (const key of Object.keys(config)) {
    const check = ownEntry(CONFIG_VALUE_CHECKS, key);
    if (check && config[key] !== undefined) check(where, key, config[key]);
  }
}

/** Elements one weight may hold when a layer builds it in memory (2^30 float32 values = 4 GiB). */
export const MAX_WEIGHT_ELEMENTS = 2 ** 30;

/** A weight's shape before anything is allocated: non-negative integer dimensions, at most MAX_WEIGHT_ELEMENTS elements. */
export function checkWeightShape(where: string, name: string, shape: readonly unknown[]): void {
  let n = 1;
  for (const d of shape) {
    if (typeof d !== 'number' || !Number.isInteger(d) || d < 0) throw new Error(`${where}: weight '${name}' would have shape ${describeValue(shape)}; dimensions must be non-negative integers`);
    n *= d;
  }
  if (n > MAX_WEIGHT_ELEMENTS) {
    throw new Error(`${where}: weight '${name}' of shape [${shape.join(', ')}] would hold ${n} elements (${(n * 4 / 2 ** 30).toFixed(1)} GiB of float32), more than the ${MAX_WEIGHT_ELEMENTS} (4 GiB) a layer may build`);
  }
}

/** Elements one sample of a layer's output may hold (2^28 float32 values = 1 GiB): beyond it no batch fits in memory. */
export const MAX_SAMPLE_ELEMENTS = 2 ** 28;

/** A layer's output shape, checked when the layer is applied: one sample must fit in memory. */
export function checkSampleSize(where: string, shape: KShape): void {
  const n = shape.slice(1).reduce<number>((p, d) => p * (d ?? 1), 1);
  if (n > MAX_SAMPLE_ELEMENTS) {
    throw new Error(`${where} would output shape ${shapeText(shape)}: ${n} elements per sample, more than the ${MAX_SAMPLE_ELEMENTS} (1 GiB of float32) a sample may hold`);
  }
}
