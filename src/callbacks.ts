/**
 * Keras 2 callbacks: the Callback base with the six hooks, and the ones fit()
 * installs (BaseLogger, ProgbarLogger, History) plus EarlyStopping,
 * TerminateOnNaN and LambdaCallback. Logs are plain objects of numbers keyed
 * by Keras's metric names (loss, acc, val_loss, ...).
 */
export type Logs = Record<string, number>;

export interface CallbackModel {
  stopTraining: boolean;
}

export interface TrainParams {
  readonly epochs: number;
  readonly steps: number;
  readonly samples: number;
  readonly batchSize: number;
  readonly verbose: number;
  readonly doValidation: boolean;
  readonly metrics: readonly string[];
}

export class Callback {
  params: TrainParams | null = null;
  model: CallbackModel | null = null;

  setParams(params: TrainParams): void {
    this.params = params;
  }

  setModel(model: CallbackModel): void {
    this.model = model;
  }

  async onTrainBegin(_logs: Logs = {}): Promise<void> {}
  async onTrainEnd(_logs: Logs = {}): Promise<void> {}
  async onEpochBegin(_epoch: number, _logs: Logs = {}): Promise<void> {}
  async onEpochEnd(_epoch: number, _logs: Logs = {}): Promise<void> {}
  async onBatchBegin(_batch: number, _logs: Logs = {}): Promise<void> {}
  async onBatchEnd(_batch: number, _logs: Logs = {}): Promise<void> {}
}

/** Runs hooks in order. */
export class CallbackList {
  constructor(readonly callbacks: readonly Callback[]) {}

  async call<K extends 'onTrainBegin' | 'onTrainEnd'>(hook: K, logs?: Logs): Promise<void>;
  async call<K extends 'onEpochBegin' | 'onEpochEnd' | 'onBatchBegin' | 'onBatchEnd'>(hook: K, index: number, logs?: Logs): Promise<void>;
  async call(hook: keyof Callback, a?: number | Logs, b?: Logs): Promise<void> {
    for (const c of this.callbacks) await (c[hook] as (x?: unknown, y?: unknown) => Promise<void>).call(c, a, b);
  }
}

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

function formatTime(seconds: number): string {
  const s = Math.round(seconds);
  if (s >= 3600) return `${Math.floor(s / 3600)}:${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}`;
  if (s >= 60) return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
  return `${s}s`;
}

/**
 * Keras's progress bar: `n/N [=====>....] - ETA: 3s - loss: 0.4321`. On a
 * terminal it redraws at most every 50 ms; elsewhere (logs, CI) it prints only
 * the closing line, as Keras does for non-interactive output.
 */
export class Progbar {
  private readonly start = performance.now();
  private lastDraw = 0;
  private lastWidth = 0;
  private readonly sums = new Map<string, [number, number]>();

  constructor(private readonly target: number, private readonly write: (s: string) => void = (s) => void process.stdout.write(s), private readonly interactive = Boolean(process.stdout.isTTY), private readonly width = 30) {}

  update(current: number, values: Logs, last = false): void {
    for (const [k, v] of Object.entries(values)) {
      const [sum, n] = this.sums.get(k) ?? [0, 0];
      this.sums.set(k, [sum + v * (values.size ?? 1), n + (values.size ?? 1)]);
    }
    const now = performance.now();
    if (!last && (!this.interactive || now - this.lastDraw < 50)) return;
    this.lastDraw = now;
    const digits = String(this.target).length;
    const fraction = current / this.target;
    const filled = Math.floor(this.width * fraction);
    const bar = `${'='.repeat(Math.max(filled - 1, 0))}${filled > 0 ? (current < this.target ? '>' : '=') : ''}${'.'.repeat(this.width - filled)}`;
    const elapsed = (performance.now() - this.start) / 1000;
    const perUnit = current ? elapsed / current : 0;
    let line = `${String(current).padStart(digits)}/${this.target} [${bar}]`;
    line += current < this.target ? ` - ETA: ${formatTime(perUnit * (this.target - current))}` : ` - ${Math.round(elapsed)}s ${perUnit >= 1e-3 ? `${Math.round(perUnit * 1e3)}ms` : `${Math.round(perUnit * 1e6)}us`}/step`;
    for (const [k, [sum, n]] of this.sums) if (k !== 'size' && k !== 'batch') line += ` - ${k}: ${(sum / n).toFixed(4)}`;
    const pad = Math.max(this.lastWidth - line.length, 0);
    this.lastWidth = line.length;
    this.write(`${this.interactive ? '\r' : ''}${line}${' '.repeat(pad)}${last ? '\n' : ''}`);
  }

  /** Appends final values (validation metrics) to the epoch's closing line. */
  finish(current: number, values: Logs): void {
    this.sums.clear();
    this.update(current, { ...values, size: 1 }, true);
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

  constructor(args: EarlyStoppingArgs = {}) {
    super();
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

export type LambdaHooks = Partial<Pick<Callback, 'onTrainBegin' | 'onTrainEnd' | 'onEpochBegin' | 'onEpochEnd' | 'onBatchBegin' | 'onBatchEnd'>>;

/** A callback from functions: `new LambdaCallback({ onEpochEnd: async (epoch, logs) => ... })`. */
export class LambdaCallback extends Callback {
  constructor(hooks: LambdaHooks) {
    super();
    Object.assign(this, hooks);
  }
}

export interface ModelCheckpointArgs {
  readonly monitor?: string;
  readonly verbose?: number;
  readonly saveBestOnly?: boolean;
  readonly mode?: 'auto' | 'min' | 'max';
  readonly period?: number;
}

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
}

/** Saves the weights after an epoch (weights only for now), optionally only when `monitor` improves. */
export class ModelCheckpoint extends Callback {
  private readonly args: Required<ModelCheckpointArgs>;
  private readonly sign: number;
  private best = Infinity;
  private sinceSave = 0;

  constructor(private readonly filepath: string, args: ModelCheckpointArgs = {}) {
    super();
    this.args = { monitor: 'val_loss', verbose: 0, saveBestOnly: false, mode: 'auto', period: 1, ...args };
    this.sign = this.args.mode === 'max' || (this.args.mode === 'auto' && /acc/.test(this.args.monitor)) ? -1 : 1;
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
    await (this.model as SavingModel).saveWeights(path);
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

/** Multiplies the learning rate by `factor` when `monitor` stalls for `patience` epochs. */
export class ReduceLROnPlateau extends Callback {
  private readonly args: Required<ReduceLROnPlateauArgs>;
  private readonly sign: number;
  private best = Infinity;
  private wait = 0;
  private cooldownLeft = 0;

  constructor(args: ReduceLROnPlateauArgs = {}) {
    super();
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
