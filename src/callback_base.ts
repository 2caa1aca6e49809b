/**
 * The Keras 2 Callback base with its six hooks, and CallbackList, which runs
 * them in order. Logs are plain objects of numbers keyed by Keras's metric
 * names (loss, acc, val_loss, ...). Its own module so that callbacks defined
 * elsewhere (src/monitoring) extend it without an import cycle.
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

const HOOKS = ['onTrainBegin', 'onTrainEnd', 'onEpochBegin', 'onEpochEnd', 'onBatchBegin', 'onBatchEnd'] as const;

/**
 * A Keras callback ported as is defines `on_epoch_end`; Kiln calls
 * `onEpochEnd`, so such a method would never run: refuse it by name.
 */
function checkHookNames(c: Callback): void {
  for (const hook of HOOKS) {
    const snake = hook.replace(/[A-Z]/g, (ch) => `_${ch.toLowerCase()}`);
    if (typeof (c as unknown as Record<string, unknown>)[snake] === 'function') {
      throw new Error(`Callback ${c.constructor.name} defines '${snake}', which Kiln never calls: name the method '${hook}' (hooks are camelCase and may be async)`);
    }
  }
}

/** Runs hooks in order. */
export class CallbackList {
  constructor(readonly callbacks: readonly Callback[]) {
    callbacks.forEach(checkHookNames);
  }

  async call<K extends 'onTrainBegin' | 'onTrainEnd'>(hook: K, logs?: Logs): Promise<void>;
  async call<K extends 'onEpochBegin' | 'onEpochEnd' | 'onBatchBegin' | 'onBatchEnd'>(hook: K, index: number, logs?: Logs): Promise<void>;
  async call(hook: keyof Callback, a?: number | Logs, b?: Logs): Promise<void> {
    for (const c of this.callbacks) await (c[hook] as (x?: unknown, y?: unknown) => Promise<void>).call(c, a, b);
  }
}
