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
    } else if (++this.wait >= this.patience) {
      this.stoppedEpoch = epoch;
      if (this.model) this.model.stopTraining = true;
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
