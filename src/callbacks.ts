/**
 * Keras 2 callbacks: the ones fit() installs (BaseLogger, ProgbarLogger,
 * History) plus EarlyStopping, TerminateOnNaN, LambdaCallback,
 * ModelCheckpoint, the learning-rate schedulers and CSVLogger, over the
 * Callback base of src/callback_base.ts.
 */
import { Callback, type CallbackModel, type Logs } from './callback_base.js';
import { type KerasOptions, optionSpec, readOptions } from './options.js';
import { Progbar } from './progbar.js';

export { Callback, type CallbackModel, CallbackList, type Logs, type TrainParams } from './callback_base.js';

/** Averages batch metrics over each epoch, weighted by batch size (Keras's BaseLogger). */
export class BaseLogger extends Callback {
  private seen = 0;
  private totals: Logs = {};

  override async onEpochBegin(): Promise<void> {
    this.seen = 0;
    this.totals = {};
  }

  override async onBatchEnd(_batch: number, logs: Logs = {}): Promise<void> {
    const size = logs.size ?? 1;
    this.seen += size;
    for (const k of this.params?.metrics ?? []) if (k in logs && !k.startsWith('val_')) this.totals[k] = (this.totals[k] ?? 0) + logs[k] * size;
  }

  override async onEpochEnd(_epoch: number, logs: Logs = {}): Promise<void> {
    for (const [k, v] of Object.entries(this.totals)) logs[k] = v / this.seen;
  }
}

/** Records every epoch's logs: `history.history.loss[epoch]`. */
export class History extends Callback {
  readonly epoch: number[] = [];
  readonly history: Record<string, number[]> = {};

  override async onEpochEnd(epoch: number, logs: Logs = {}): Promise<void> {
    this.epoch.push(epoch);
    for (const [k, v] of Object.entries(logs)) (this.history[k] ??= []).push(v);
  }
}

/** Prints `Epoch i/N` and a Progbar (verbose 1) or one line per epoch (verbose 2). */
export class ProgbarLogger extends Callback {
  private bar: Progbar | null = null;
  private seen = 0;
  private epochStart = 0;

  constructor(private readonly write: (s: string) => void = (s) => void process.stdout.write(s)) {
    super();
  }

  override async onEpochBegin(epoch: number): Promise<void> {
    if (!this.params?.verbose) return;
    this.write(`Epoch ${epoch + 1}/${this.params.epochs}\n`);
    this.bar = new Progbar(this.params.samples, this.write);
    this.seen = 0;
    this.epochStart = performance.now();
  }

  override async onBatchEnd(_batch: number, logs: Logs = {}): Promise<void> {
    this.seen += logs.size ?? 0;
    if (this.params?.verbose === 1 && this.seen < this.params.samples) {
      this.bar?.update(this.seen, Object.fromEntries(Object.entries(logs).filter(([k]) => k !== 'batch')));
    }
  }

  override async onEpochEnd(_epoch: number, logs: Logs = {}): Promise<void> {
    if (!this.params?.verbose) return;
    const shown = Object.fromEntries(this.params.metrics.filter((k) => k in logs).map((k) => [k, logs[k]]));
    if (this.params.verbose === 1) this.bar?.finish(this.params.samples, shown);
    else {
      const values = Object.entries(shown).map(([k, v]) => ` - ${k}: ${v.toFixed(4)}`).join('');
      this.write(` - ${Math.round((performance.now() - this.epochStart) / 1000)}s${values}\n`);
    }
  }
}

/** Sets model.stopTraining when the loss becomes NaN or infinite. */
export class TerminateOnNaN extends Callback {
  override async onBatchEnd(batch: number, logs: Logs = {}): Promise<void> {
    if (logs.loss !== undefined && !Number.isFinite(logs.loss)) {
      process.stdout.write(`Batch ${batch}: Invalid loss, terminating training\n`);
      if (this.model) this.model.stopTraining = true;
    }
  }
}

export interface EarlyStoppingArgs {
  readonly monitor?: string;
  readonly minDelta?: number;
  readonly patience?: number;
  readonly verbose?: number;
  readonly mode?: 'auto' | 'min' | 'max';
  readonly baseline?: number | null;
  readonly restoreBestWeights?: boolean;
}

interface WeightsModel extends CallbackModel {
  getWeights(): unknown[];
  setWeights(weights: readonly unknown[]): void;
}

const EARLY_STOPPING_OPTIONS = optionSpec<EarlyStoppingArgs>({ monitor: true, minDelta: true, patience: true, verbose: true, mode: true, baseline: true, restoreBestWeights: true });

/** Stops when `monitor` has not improved by `minDelta` for `patience` epochs. */
export class EarlyStopping extends Callback {
  readonly monitor: string;
  private readonly minDelta: number;
  private readonly patience: number;
  private readonly sign: number;
  private readonly baseline: number | null;
  private best = Infinity;
  private wait = 0;
  private bestWeights: unknown[] | null = null;
  private readonly restore: boolean;
  stoppedEpoch = 0;

  constructor(options: KerasOptions<EarlyStoppingArgs> = {}) {
    super();
    const args = readOptions('callbacks.EarlyStopping', options, EARLY_STOPPING_OPTIONS);
    this.monitor = args.monitor ?? 'val_loss';
    this.patience = args.patience ?? 0;
    const mode = args.mode ?? 'auto';
    const maximize = mode === 'max' || (mode === 'auto' && /acc/.test(this.monitor));
    this.sign = maximize ? -1 : 1;
    this.minDelta = Math.abs(args.minDelta ?? 0);
    this.baseline = args.baseline ?? null;
    this.restore = args.restoreBestWeights ?? false;
  }

  override async onTrainBegin(): Promise<void> {
    this.wait = 0;
    this.stoppedEpoch = 0;
    this.best = this.baseline === null ? Infinity : this.sign * this.baseline;
  }

  override async onEpochEnd(epoch: number, logs: Logs = {}): Promise<void> {
    const value = logs[this.monitor];
    if (value === undefined) {
      throw new Error(`EarlyStopping monitors '${this.monitor}', which is not in the logs. Available: ${Object.keys(logs).join(', ')}`);
    }
    if (this.sign * value < this.best - this.minDelta) {
      this.best = this.sign * value;
      this.wait = 0;
      if (this.restore) this.bestWeights = (this.model as WeightsModel).getWeights();
    } else if (++this.wait >= this.patience) {
      this.stoppedEpoch = epoch;
      if (this.model) this.model.stopTraining = true;
      if (this.restore && this.bestWeights) (this.model as WeightsModel).setWeights(this.bestWeights);
    }
  }
}

/** LambdaCallback's hooks: each may return a promise or nothing (Keras's plain functions). */
export interface LambdaHooks {
  readonly onTrainBegin?: (logs: Logs) => unknown;
  readonly onTrainEnd?: (logs: Logs) => unknown;
  readonly onEpochBegin?: (epoch: number, logs: Logs) => unknown;
  readonly onEpochEnd?: (epoch: number, logs: Logs) => unknown;
  readonly onBatchBegin?: (batch: number, logs: Logs) => unknown;
  readonly onBatchEnd?: (batch: number, logs: Logs) => unknown;
}

const LAMBDA_OPTIONS = optionSpec<LambdaHooks>({ onTrainBegin: true, onTrainEnd: true, onEpochBegin: true, onEpochEnd: true, onBatchBegin: true, onBatchEnd: true });

/** A callback from functions: `new LambdaCallback({ onEpochEnd: (epoch, logs) => ... })`; Keras's `on_epoch_end` spelling works too. */
export class LambdaCallback extends Callback {
  constructor(hooks: KerasOptions<LambdaHooks>) {
    super();
    const read = readOptions('callbacks.LambdaCallback', hooks, LAMBDA_OPTIONS);
    for (const [hook, fn] of Object.entries(read)) {
      if (typeof fn !== 'function') throw new Error(`callbacks.LambdaCallback: '${hook}' must be a function, got ${typeof fn}`);
      (this as unknown as Record<string, (a?: unknown, b?: unknown) => Promise<void>>)[hook] = async (a, b) => void (await fn(a, b));
    }
  }
}

export interface ModelCheckpointArgs {
  readonly monitor?: string;
  readonly verbose?: number;
  readonly saveBestOnly?: boolean;
  /** true: weights only (Keras's HDF5 layout, read back with loadWeights); false (Keras's default): the whole model with `model.save`, read back with loadModel. */
  readonly saveWeightsOnly?: boolean;
  readonly mode?: 'auto' | 'min' | 'max';
  readonly period?: number;
}

const CHECKPOINT_OPTIONS = optionSpec<ModelCheckpointArgs>({ monitor: true, verbose: true, saveBestOnly: true, saveWeightsOnly: true, mode: true, period: true });

/** Fills Keras-style path templates: `weights.{epoch:02d}-{val_loss:.2f}.h5` (epoch counts from 1). */
export function formatPath(template: string, epoch: number, logs: Logs): string {
  return template.replace(/\{(\w+)(?::(\d*)([d.])(\d*)f?)?\}/g, (match, key: string, width: string, kind: string, digits: string) => {
    const value = key === 'epoch' ? epoch + 1 : logs[key];
    if (value === undefined) throw new Error(`ModelCheckpoint: '${key}' in '${template}' is not in the logs. Available: epoch, ${Object.keys(logs).join(', ')}`);
    if (kind === 'd') return String(Math.round(value)).padStart(Number(width || 0), '0');
    if (kind === '.') return value.toFixed(Number(digits));
    return String(value);
  });
}

interface SavingModel extends CallbackModel {
  saveWeights(path: string): Promise<void>;
  save?: (path: string) => Promise<void>;
}

/**
 * Keras's ModelCheckpoint: saves after an epoch, optionally only when
 * `monitor` improves: the whole model (model.save) by default as in Keras,
 * or only the weights with `saveWeightsOnly`. A model without `save` is
 * refused before training starts rather than at the first epoch's end.
 */
export class ModelCheckpoint extends Callback {
  private readonly args: Required<ModelCheckpointArgs>;
  private readonly sign: number;
  private best = Infinity;
  private sinceSave = 0;

  constructor(private readonly filepath: string, options: KerasOptions<ModelCheckpointArgs> = {}) {
    super();
    const args = readOptions('callbacks.ModelCheckpoint', options, CHECKPOINT_OPTIONS);
    this.args = { monitor: 'val_loss', verbose: 0, saveBestOnly: false, saveWeightsOnly: false, mode: 'auto', period: 1, ...args };
    this.sign = this.args.mode === 'max' || (this.args.mode === 'auto' && /acc/.test(this.args.monitor)) ? -1 : 1;
  }

  /** Refuses a whole-model checkpoint before the first epoch where the model cannot write one. */
  override setModel(model: CallbackModel): void {
    if (!this.args.saveWeightsOnly && typeof (model as SavingModel).save !== 'function') {
      throw new Error(`callbacks.ModelCheckpoint('${this.filepath}'): whole-model checkpoints (saveWeightsOnly: false, Keras's default) need model.save, which this model lacks; pass saveWeightsOnly: true to save its weights`);
    }
    super.setModel(model);
  }

  override async onEpochEnd(epoch: number, logs: Logs = {}): Promise<void> {
    if (++this.sinceSave < this.args.period) return;
    this.sinceSave = 0;
    const path = formatPath(this.filepath, epoch, logs);
    if (this.args.saveBestOnly) {
      const value = logs[this.args.monitor];
      if (value === undefined) throw new Error(`ModelCheckpoint monitors '${this.args.monitor}', which is not in the logs. Available: ${Object.keys(logs).join(', ')}`);
      if (!(this.sign * value < this.best)) return;
      this.best = this.sign * value;
    }
    if (this.args.verbose) process.stdout.write(`\nEpoch ${String(epoch + 1).padStart(5, '0')}: saving model to ${path}\n`);
    const model = this.model as SavingModel;
    if (this.args.saveWeightsOnly) await model.saveWeights(path);
    else await model.save!(path);
  }
}

/** What scheduling callbacks need from the model: its learning rate. */
interface LrModel extends CallbackModel {
  lr: number;
}

/** Sets the learning rate at the start of every epoch from `schedule(epoch, lr)`. */
export class LearningRateScheduler extends Callback {
  constructor(private readonly schedule: (epoch: number, lr: number) => number, private readonly verbose = 0) {
    super();
  }

  override async onEpochBegin(epoch: number): Promise<void> {
    const model = this.model as LrModel;
    const lr = this.schedule(epoch, model.lr);
    if (!Number.isFinite(lr)) throw new Error(`LearningRateScheduler: the schedule returned ${lr} for epoch ${epoch}; it must return a finite number`);
    model.lr = lr;
    if (this.verbose) process.stdout.write(`\nEpoch ${String(epoch + 1).padStart(5, '0')}: LearningRateScheduler setting learning rate to ${lr}.\n`);
  }
}

export interface ReduceLROnPlateauArgs {
  readonly monitor?: string;
  readonly factor?: number;
  readonly patience?: number;
  readonly verbose?: number;
  readonly mode?: 'auto' | 'min' | 'max';
  readonly minDelta?: number;
  readonly cooldown?: number;
  readonly minLr?: number;
}

// Keras 2.2 still takes `epsilon`, its old name for min_delta.
const REDUCE_LR_OPTIONS = optionSpec<ReduceLROnPlateauArgs>({ monitor: true, factor: true, patience: true, verbose: true, mode: true, minDelta: true, cooldown: true, minLr: true }, { epsilon: 'minDelta' });

/** Multiplies the learning rate by `factor` when `monitor` stalls for `patience` epochs. */
export class ReduceLROnPlateau extends Callback {
  private readonly args: Required<ReduceLROnPlateauArgs>;
  private readonly sign: number;
  private best = Infinity;
  private wait = 0;
  private cooldownLeft = 0;

  /** `epsilon` is Keras 2.2's old name for minDelta, still accepted. */
  constructor(options: KerasOptions<ReduceLROnPlateauArgs> & { readonly epsilon?: number } = {}) {
    super();
    const args = readOptions('callbacks.ReduceLROnPlateau', options, REDUCE_LR_OPTIONS);
    this.args = { monitor: 'val_loss', factor: 0.1, patience: 10, verbose: 0, mode: 'auto', minDelta: 1e-4, cooldown: 0, minLr: 0, ...args };
    if (this.args.factor >= 1) throw new Error(`ReduceLROnPlateau does not support a factor >= 1.0, got ${this.args.factor}`);
    this.sign = this.args.mode === 'max' || (this.args.mode === 'auto' && /acc/.test(this.args.monitor)) ? -1 : 1;
  }

  override async onTrainBegin(): Promise<void> {
    this.best = Infinity;
    this.wait = 0;
    this.cooldownLeft = 0;
  }

  override async onEpochEnd(epoch: number, logs: Logs = {}): Promise<void> {
    const value = logs[this.args.monitor];
    if (value === undefined) throw new Error(`ReduceLROnPlateau monitors '${this.args.monitor}', which is not in the logs. Available: ${Object.keys(logs).join(', ')}`);
    const model = this.model as LrModel;
    logs.lr = model.lr;
    if (this.cooldownLeft > 0) {
      this.cooldownLeft--;
      this.wait = 0;
    }
    if (this.sign * value < this.best - this.args.minDelta) {
      this.best = this.sign * value;
      this.wait = 0;
    } else if (this.cooldownLeft === 0 && ++this.wait >= this.args.patience) {
      const lr = Math.max(model.lr * this.args.factor, this.args.minLr);
      if (lr < model.lr) {
        model.lr = lr;
        if (this.args.verbose) process.stdout.write(`\nEpoch ${String(epoch + 1).padStart(5, '0')}: ReduceLROnPlateau reducing learning rate to ${lr}.\n`);
        this.cooldownLeft = this.args.cooldown;
        this.wait = 0;
      }
    }
  }
}

/** Streams epoch results to a CSV file (epoch, then the logs' keys sorted), as Keras's CSVLogger. */
export class CSVLogger extends Callback {
  private keys: string[] | null = null;

  constructor(private readonly filename: string, private readonly separator = ',', private readonly append = false) {
    super();
  }

  override async onTrainBegin(): Promise<void> {
    const { existsSync, writeFileSync } = await import('node:fs');
    this.keys = null;
    if (!this.append || !existsSync(this.filename)) writeFileSync(this.filename, '');
  }

  override async onEpochEnd(epoch: number, logs: Logs = {}): Promise<void> {
    const { appendFileSync } = await import('node:fs');
    if (!this.keys) {
      this.keys = Object.keys(logs).sort();
      appendFileSync(this.filename, `${['epoch', ...this.keys].join(this.separator)}\n`);
    }
    appendFileSync(this.filename, `${[epoch, ...this.keys.map((k) => logs[k] ?? 'NA')].join(this.separator)}\n`);
  }
}
export { RemoteMonitor, TensorBoard } from './monitoring/index.js';
export { Progbar } from './progbar.js';
