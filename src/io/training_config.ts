/**
 * What compile() was given, in and out of files: Keras 2's `training_config`
 * ({optimizer_config, loss, metrics, loss_weights, sample_weight_mode}) and
 * Keras 3's `compile_config` ({optimizer, loss, metrics, loss_weights}), and
 * the optimizer's state (Keras's optimizer weights: the step counter, every
 * slot of every trainable weight, the optimizer's scalar globals), so a
 * loaded model continues training exactly where the saved one stopped.
 */
import type { Weight } from '../layers/base.js';
import { snakeCase } from '../layers/base.js';
import { LOSSES } from '../losses.js';
import { METRICS } from '../metrics.js';
import * as optimizers from '../optimizers.js';
import { camelCase } from '../options.js';
import type { Tensor, TypedArray } from '../tensor.js';
import type { CompileArgs } from '../training/trainer.js';
import { type CustomObjects, resolveFunction } from './custom_objects.js';
import type { AnyNetwork } from './model_config.js';

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => !!v && typeof v === 'object' && !Array.isArray(v);

/** The parts of the trainer (Network.trainingState) this module reads and restores. */
interface TrainerView {
  readonly setup: {
    readonly optimizer: optimizers.Optimizer;
    readonly trainable?: readonly Weight[];
    readonly outputs?: readonly OutputView[];
  } & Partial<OutputView>;
  pull(): Promise<void>;
  optimizerState(): ReadonlyMap<string, TypedArray>;
  restoreOptimizerState(values: ReadonlyMap<string, TypedArray>): void;
}
interface OutputView {
  readonly name?: string;
  readonly loss: { readonly name: string };
  readonly lossWeight: number;
  readonly timesteps: number;
  readonly temporalAtRunTime?: boolean;
  readonly metrics: readonly { readonly name: string }[];
}

export function trainerOf(model: AnyNetwork): TrainerView | null {
  return model.trainingState;
}

function outputsOf(t: TrainerView): readonly OutputView[] {
  return t.setup.outputs ?? [t.setup as OutputView];
}

/** Keras 2 training_config of a compiled model (null if not compiled). */
export function trainingConfigOf(model: AnyNetwork): Obj | null {
  const t = trainerOf(model);
  if (!t) return null;
  const outs = outputsOf(t);
  const opt = t.setup.optimizer;
  const one = outs.length === 1;
  const byOutput = <T>(f: (o: OutputView) => T): T | Obj => (one ? f(outs[0]) : Object.fromEntries(outs.map((o, i) => [o.name ?? `output_${i + 1}`, f(o)])));
  return {
    optimizer_config: { class_name: opt.className, config: opt.getConfig() },
    loss: byOutput((o) => o.loss.name),
    metrics: one ? outs[0].metrics.map((m) => m.name) : byOutput((o) => o.metrics.map((m) => m.name)),
    sample_weight_mode: outs.some((o) => o.timesteps > 0 || o.temporalAtRunTime) ? 'temporal' : null,
    loss_weights: one && outs[0].lossWeight === 1 ? null : outs.map((o) => o.lossWeight),
  };
}

const OPTIMIZER_KEYS = new Set(['lr', 'decay', 'clipnorm', 'clipvalue', 'momentum', 'nesterov', 'rho', 'epsilon', 'beta_1', 'beta_2', 'amsgrad', 'schedule_decay']);
/** Keras 3 and TensorFlow.js spellings of optimizer options. */
const OPTIMIZER_ALIASES: Readonly<Record<string, string>> = { learning_rate: 'lr', learningRate: 'lr', beta1: 'beta_1', beta2: 'beta_2', scheduleDecay: 'schedule_decay' };

/** TensorFlow.js's RMSProp: `decay` is Keras's rho; momentum and centered have no Kiln counterpart. */
function fromTfjsRmsprop(config: Obj, where: string): Obj {
  if (Number(config.momentum ?? 0) !== 0 || config.centered === true) throw new Error(`${where}: TensorFlow.js RMSProp with momentum or centered has no Kiln counterpart`);
  const { decay, momentum: _m, centered: _c, ...rest } = config;
  return decay === undefined ? rest : { ...rest, rho: decay };
}

/** An optimizer from {class_name, config} (Keras 2, Keras 3 or TensorFlow.js spelling); keys Kiln has no use for are dropped. */
export function optimizerFromConfig(raw: unknown, where: string): optimizers.Optimizer {
  if (typeof raw === 'string') return optimizers.getOptimizer(raw);
  if (!isObj(raw) || typeof raw.class_name !== 'string') throw new Error(`${where}: the optimizer config is ${JSON.stringify(raw)}, expected {class_name, config}`);
  const tfjsRmsprop = raw.class_name === 'RMSProp';
  const className = tfjsRmsprop ? 'RMSprop' : raw.class_name;
  const table = optimizers as unknown as Record<string, unknown>;
  const make = Object.hasOwn(table, className) ? table[className] : undefined;
  if (typeof make !== 'function' || !(make.prototype instanceof optimizers.Optimizer)) {
    throw new Error(`${where}: unknown optimizer class '${raw.class_name}'. Valid optimizers: SGD, RMSprop, Adagrad, Adadelta, Adam, Adamax, Nadam`);
  }
  const given = isObj(raw.config) ? (tfjsRmsprop ? fromTfjsRmsprop(raw.config, where) : raw.config) : {};
  const config: Obj = {};
  const takes = optimizers.optimizerOptionKeys(className);
  for (const [key, v] of Object.entries(given)) {
    const k = OPTIMIZER_ALIASES[key] ?? key;
    if (!OPTIMIZER_KEYS.has(k) || v === null || v === undefined) continue;
    if (typeof v !== 'number' && typeof v !== 'boolean') throw new Error(`${where}: optimizer option ${key} is ${JSON.stringify(v)}, expected a number (schedules are not supported)`);
    // An option of another Keras version's class (Keras 3's RMSprop momentum): dropped at its neutral value, else refused.
    if (!takes.includes(camelCase(k))) {
      if (v === 0 || v === false) continue;
      throw new Error(`${where}: ${className} option ${key} = ${v} has no Kiln counterpart; Kiln's ${className} takes ${takes.join(', ')}`);
    }
    config[k] = v;
  }
  if (config.decay === 0) delete config.decay;
  return new (make as new (c: Obj) => optimizers.Optimizer)(config);
}

/** A Keras 3 serialized loss or metric ({class_name, config}) or a name, as the Keras 2 name. */
function keras3Name(v: unknown): unknown {
  if (!isObj(v)) return v;
  const config = isObj(v.config) ? v.config : {};
  if (typeof config.fn === 'string') return config.fn;
  if (typeof config.name === 'string') return config.name;
  return snakeCase(String(v.class_name));
}

/** TensorFlow.js names built-in losses and metrics in camelCase (binaryCrossentropy), Keras in snake_case; other names stay as they are. */
function snakeName(v: unknown): unknown {
  if (typeof v !== 'string' || !/^[a-z]+[A-Z]/.test(v)) return v;
  const snake = v.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
  return Object.hasOwn(LOSSES, snake) || Object.hasOwn(METRICS, snake) ? snake : v;
}

function mapNames(v: unknown, objects: CustomObjects | undefined): unknown {
  if (Array.isArray(v)) return v.map((x) => mapNames(x, objects));
  if (isObj(v) && !('class_name' in v)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, mapNames(x, objects)]));
  const name = keras3Name(v);
  const custom = resolveFunction(name, objects);
  return custom === name ? snakeName(name) : custom;
}

/** compile() arguments from a Keras 2 training_config or Keras 3 compile_config. */
export function compileArgsFrom(raw: unknown, where: string, objects?: CustomObjects): CompileArgs | null {
  if (!isObj(raw) || Object.keys(raw).length === 0) return null;
  const optimizer = optimizerFromConfig(raw.optimizer_config ?? raw.optimizer, `${where} (optimizer)`);
  if (raw.loss === undefined || raw.loss === null) return null;
  const args: Obj = { optimizer, loss: mapNames(raw.loss, objects) };
  if (raw.metrics !== undefined && raw.metrics !== null) args.metrics = mapNames(raw.metrics, objects);
  if (raw.loss_weights !== undefined && raw.loss_weights !== null) args.lossWeights = raw.loss_weights;
  if (raw.sample_weight_mode === 'temporal') args.sampleWeightMode = 'temporal';
  return args as unknown as CompileArgs;
}

/** Keras 3 compile_config of a compiled model, for `.keras` files. */
export function compileConfigOf(model: AnyNetwork): Obj | null {
  const c = trainingConfigOf(model);
  if (!c) return null;
  const opt = c.optimizer_config as Obj;
  const { lr, ...rest } = opt.config as Obj;
  return {
    optimizer: { module: 'keras.optimizers', class_name: opt.class_name, config: { name: String(opt.class_name).toLowerCase(), learning_rate: lr, ...rest }, registered_name: null },
    loss: c.loss, metrics: c.metrics, loss_weights: c.loss_weights, weighted_metrics: null, run_eagerly: false, steps_per_execution: 1, jit_compile: false,
  };
}

export interface OptimizerWeight {
  /** Kiln's state key (slotName / globalName / 'iterations'). */
  readonly key: string;
  /** The name written to files. */
  readonly fileName: string;
  readonly shape: readonly number[];
}

/** The optimizer's state in file order: iterations, each slot over all trainable weights (Keras's order), then globals. */
export function optimizerWeightList(model: AnyNetwork): OptimizerWeight[] {
  const t = trainerOf(model);
  if (!t) return [];
  const opt = t.setup.optimizer;
  const trainable = t.setup.trainable ?? model.allWeights().filter((w) => w.trainable);
  const list: OptimizerWeight[] = [{ key: 'iterations', fileName: `${opt.className}/iterations:0`, shape: [] }];
  for (const s of opt.slotNames) for (const w of trainable) list.push({ key: `${w.name}/${s}`, fileName: `${opt.className}/${w.name.replace(/:0$/, '')}/${s}:0`, shape: w.shape });
  for (const g of opt.globals) list.push({ key: `optimizer/${g.name}`, fileName: `${opt.className}/${g.name}:0`, shape: [] });
  return list;
}

/** The optimizer state values (after pulling them off the device), in optimizerWeightList order. */
export async function readOptimizerState(model: AnyNetwork): Promise<{ weight: OptimizerWeight; value: Float32Array }[]> {
  const t = trainerOf(model);
  if (!t) return [];
  await t.pull();
  const state = t.optimizerState();
  const opt = t.setup.optimizer;
  return optimizerWeightList(model).map((weight) => {
    const v = state.get(weight.key);
    const size = weight.shape.reduce((a, b) => a * b, 1);
    const init = weight.key.startsWith('optimizer/') ? (opt.globals.find((g) => `optimizer/${g.name}` === weight.key)?.init ?? 0) : 0;
    return { weight, value: v ? Float32Array.from(v) : new Float32Array(size).fill(init) };
  });
}

/** Restores optimizer state read from a file; a count or shape that does not fit is reported, and nothing changes. */
export function restoreOptimizerState(model: AnyNetwork, values: readonly Tensor[], where: string): string | null {
  const t = trainerOf(model);
  if (!t) return `${where}: the model is not compiled; optimizer weights ignored`;
  const list = optimizerWeightList(model);
  if (values.length !== list.length) return `${where}: the file has ${values.length} optimizer weights, ${t.setup.optimizer.className} here has ${list.length}; the optimizer starts fresh`;
  for (let i = 0; i < list.length; i++) {
    const want = list[i].shape.reduce((a, b) => a * b, 1);
    if (values[i].data.length !== want) return `${where}: optimizer weight ${list[i].fileName} has ${values[i].data.length} values in the file, ${want} expected; the optimizer starts fresh`;
  }
  t.restoreOptimizerState(new Map(list.map((w, i) => [w.key, w.key === 'iterations' ? Int32Array.from(values[i].data) : Float32Array.from(values[i].data)])));
  return null;
}
