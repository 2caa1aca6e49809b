/**
 * compile/fit/evaluate for a model: owns the compiled train and test programs
 * (one per batch size), keeps host copies of the training state, and runs the
 * Keras 2 training loop with callbacks. Weights live in the active train
 * program between steps; they are pulled back to the layers at the end of
 * every epoch and before predict/evaluate.
 */
import type { CompiledGraph, CompileStats } from '../../runtime/executor.js';
import { type BackendName, compileGraph } from '../../runtime/executor.js';
import { BaseLogger, type Callback, CallbackList, History, type Logs, ProgbarLogger } from '../callbacks.js';
import type { Network } from '../models/network.js';
import { type Optimizer, getOptimizer } from '../optimizers.js';
import { Tensor, type TypedArray } from '../tensor.js';
import { checkEvaluateArgs, checkFitArgs, checkGeneratorArgs, checkSplit } from '../validation.js';
import { epochOrder, makeRandom } from './data.js';
import { type ClassWeight, type Dataset, makeDataset, samplesOf, sliceDataset, validationDataset, writeBatch } from './dataset.js';
import { type LossArg, type MetricArg, type OutputArgs, outputSetups } from './compile_setup.js';
import type { DataList } from './standardize.js';
import { type Batch, type BatchSource, Prefetcher, Sequence } from './generators.js';
import { COMPILE_OPTIONS, EVALUATE_OPTIONS, FIT_GENERATOR_OPTIONS, FIT_OPTIONS, GENERATOR_OPTIONS, type KerasOptions, readOptions } from '../options.js';
import { materializeWeights } from '../initializers.js';
import { hasRuntimeSteps, padSteps, readsTimesteps } from '../models/dynamic_time.js';
import { type TrainSetup, globalName, reducesOverBatch, slotName, testGraph, trainGraph, trainableWeights } from './programs.js';

export interface CompileOptions extends OutputArgs {
  readonly optimizer: string | Optimizer;
  /** A loss for every output, a list with one per output, or keyed by output name. */
  readonly loss: LossArg | readonly LossArg[] | Readonly<Record<string, LossArg>>;
  /** Metrics for every output (a flat list), a list of lists (one per output), or keyed by output name. */
  readonly metrics?: readonly MetricArg[] | readonly (readonly MetricArg[])[] | Readonly<Record<string, MetricArg | readonly MetricArg[]>>;
  /** 'temporal': sample weights per timestep, shape [samples, timesteps] (Keras's sample_weight_mode); per output as a list or keyed by name. */
  readonly sampleWeightMode?: 'temporal' | null | readonly ('temporal' | null)[] | Readonly<Record<string, 'temporal' | null>>;
  /** Keras's loss_weights: the total loss is the sum of each output's loss times its weight (a list, or keyed by output name). */
  readonly lossWeights?: number | readonly number[] | Readonly<Record<string, number>>;
  /** Where the model's programs run: 'cpu' (native code), 'webgpu', or 'interpreter'; default: the process-wide default (setBackend, KILN_BACKEND). */
  readonly backend?: BackendName;
}

export interface FitOptions {
  readonly batchSize?: number;
  readonly epochs?: number;
  readonly verbose?: number;
  readonly callbacks?: readonly Callback[];
  readonly validationSplit?: number;
  readonly validationData?: readonly [DataList, DataList] | readonly [DataList, DataList, DataList];
  readonly shuffle?: boolean | 'batch';
  readonly classWeight?: ClassWeight;
  readonly sampleWeight?: DataList;
  readonly initialEpoch?: number;
  readonly stepsPerEpoch?: number;
  /** With stepsPerEpoch: validate on this many batches of the validation data. */
  readonly validationSteps?: number;
}

/** A queued step: its [loss, ...metrics] once read back. */
interface Launched {
  readonly outs: Promise<number[]>;
}

interface LoopConfig {
  readonly epochs: number;
  readonly steps: number;
  readonly samples: number;
  readonly batchSize: number;
  readonly verbose: number;
  readonly callbacks?: readonly Callback[];
  readonly initialEpoch?: number;
  readonly validation: Dataset | null;
}

export interface GeneratorFitOptions {
  readonly stepsPerEpoch: number;
  readonly epochs?: number;
  readonly verbose?: number;
  readonly callbacks?: readonly Callback[];
  readonly validationData?: readonly [DataList, DataList] | readonly [DataList, DataList, DataList];
  readonly maxQueueSize?: number;
  readonly initialEpoch?: number;
  /** With a utils.Sequence source: batches prepared ahead in parallel (Keras's workers). */
  readonly workers?: number;
  /** Accepted for Keras compatibility: a Sequence's workers run concurrently in this process. */
  readonly useMultiprocessing?: boolean;
  /** With a utils.Sequence source: batch order shuffled every epoch. */
  readonly shuffle?: boolean;
}

export interface EvaluateOptions {
  readonly batchSize?: number;
  readonly verbose?: number;
  readonly sampleWeight?: DataList;
  /** Results keyed by metrics name (`{ loss, accuracy }`) instead of a number or a list (Keras's return_dict). */
  readonly returnDict?: boolean;
}

/** Options as a Keras user may spell them: camelCase or snake_case keys (src/options.ts). */
export type CompileArgs = KerasOptions<CompileOptions>;
export type FitArgs = KerasOptions<FitOptions>;
export type GeneratorFitArgs = KerasOptions<GeneratorFitOptions>;
export type EvaluateArgs = KerasOptions<EvaluateOptions>;
export interface GeneratorOptions {
  readonly steps: number;
  readonly maxQueueSize?: number;
}

export class Trainer {
  readonly setup: TrainSetup;
  readonly metricsNames: readonly string[];
  private readonly programs = new Map<string, CompiledGraph>();
  private active: CompiledGraph | null = null;
  private readonly state = new Map<string, TypedArray>();
  /** The active program has optimizer state the host copy lacks. */
  private dirty = false;
  /** Compile statistics of the last train program compiled (ops, kernels, planned arena vs. all intermediates). */
  trainStats: CompileStats | null = null;
  private readonly random = makeRandom(0x6b696c6e);
  lr: number;

  constructor(private readonly net: Network<Tensor | Tensor[]>, args: CompileArgs) {
    args = readOptions('compile', args, COMPILE_OPTIONS);
    const { outputs, metricsNames } = outputSetups(args, net.outputNames, net.outputShapes);
    this.setup = { outputs, optimizer: getOptimizer(args.optimizer), trainable: trainableWeights(net) };
    this.metricsNames = metricsNames;
    this.lr = this.setup.optimizer.lr;
  }

  private dataset(where: string, x: DataList, y: DataList, sampleWeight?: DataList, classWeight?: ClassWeight): Dataset {
    return makeDataset(where, this.net, this.setup.outputs, x, y, sampleWeight, classWeight);
  }

  private async program(kind: 'train' | 'test', batch: number, data: Dataset, capacity: number): Promise<CompiledGraph> {
    const targetShapes = data.ys.map((y) => y.shape.slice(1));
    const key = `${kind}:${batch}:${targetShapes.map((s) => s.join(',')).join(';')}:${capacity}`;
    let p = this.programs.get(key);
    if (!p) {
      await materializeWeights(this.net.allWeights());
      const graph = kind === 'train' ? trainGraph(this.net, batch, targetShapes, this.setup, capacity) : testGraph(this.net, batch, targetShapes, this.setup, capacity);
      p = await compileGraph(graph, { backend: this.net.backend, name: `${this.net.name}_${kind}_b${batch}${capacity ? `_t${capacity}` : ''}`, shared: this.net.sharedState() });
      if (readsTimesteps('kind' in graph ? graph.forward : graph)) this.readsSteps.add(p);
      this.programs.set(key, p);
      if (kind === 'train') this.trainStats = p.stats;
    }
    return p;
  }

  /** Makes `p` the program holding the optimizer state (slots, counter), moving it over if needed. */
  private async activate(p: CompiledGraph): Promise<void> {
    if (this.active !== p) {
      await this.pull();
      const opt = this.setup.optimizer;
      for (const w of this.setup.trainable) {
        for (const s of opt.slotNames) p.write(slotName(w, s), this.state.get(slotName(w, s)) ?? new Float32Array(w.value.length));
      }
      for (const g of opt.globals) p.write(globalName(g.name), this.state.get(globalName(g.name)) ?? Float32Array.of(g.init));
      p.write('iterations', this.state.get('iterations') ?? new Int32Array(1));
      this.active = p;
    }
    p.write('lr', Float32Array.of(this.lr));
  }

  /**
   * Copies the optimizer state out of the active program (to move it to
   * another). Weights need no copy: every program addresses them in the
   * model's shared state arena, which the layers' arrays are views of.
   */
  async pull(): Promise<void> {
    const p = this.active;
    if (!p || !this.dirty) return;
    for (const w of this.setup.trainable) {
      for (const s of this.setup.optimizer.slotNames) this.state.set(slotName(w, s), await p.read(slotName(w, s)));
    }
    for (const g of this.setup.optimizer.globals) this.state.set(globalName(g.name), await p.read(globalName(g.name)));
    this.state.set('iterations', await p.read('iterations'));
    this.dirty = false;
  }

  /** The optimizer state by key (slots, globals, `iterations`), as of the last pull(). */
  optimizerState(): ReadonlyMap<string, TypedArray> {
    return this.state;
  }

  /** Replaces the optimizer state (a loaded file's); the next step writes it into its program. */
  restoreOptimizerState(values: ReadonlyMap<string, TypedArray>): void {
    for (const [key, v] of values) this.state.set(key, v);
    this.active = null;
    this.dirty = false;
  }

  /**
   * Writes a step's inputs and starts it. Resolves once the step is queued
   * (on WebGPU: submitted), to the promise of its outputs (Keras's
   * metrics_names), so the training loop can queue the next step before
   * reading this one back.
   */
  private async launch(kind: 'train' | 'test', given: Dataset, order: ArrayLike<number>, start: number, end: number, batch: number): Promise<Launched> {
    // Keras runs a last partial batch as it is; a loss or metric over the whole batch must not see padding.
    if (end - start < batch && reducesOverBatch(this.setup)) batch = end - start;
    const { data, steps, capacity } = this.stepsPadded(given);
    const p = await this.program(kind, batch, data, capacity);
    if (this.readsSteps.has(p)) p.write('timesteps', Int32Array.of(steps));
    this.net.syncShared();
    if (kind === 'train') {
      await this.activate(p);
      this.dirty = true;
    }
    writeBatch((name, values) => p.write(name, values), data, order, start, end, batch);
    return { outs: p.run().then((outs) => Array.from(outs, (a) => a[0])) };
  }

  /** Programs that read the run-time sequence length (param `timesteps`). */
  private readonly readsSteps = new WeakSet<CompiledGraph>();
  private readonly padded = new WeakMap<Dataset, { data: Dataset; steps: number; capacity: number }>();

  /** For a model with timesteps=None: the dataset with inputs and sequence targets padded to a capacity of steps (dynamic_time.ts). */
  private stepsPadded(data: Dataset): { data: Dataset; steps: number; capacity: number } {
    if (!this.net.runtimeSteps) return { data, steps: 0, capacity: 0 };
    let p = this.padded.get(data);
    if (!p) {
      const { xs, steps, capacity } = this.net.padInputs(data.xs);
      const ys = data.ys.map((y, i) => {
        if (!hasRuntimeSteps(this.net.outputShapes[i])) return y;
        if (y.shape[1] !== steps) throw new Error(`Output '${this.setup.outputs[i].name}' has timesteps=None: its targets must have the inputs' ${steps} steps, got shape (${y.shape.join(', ')})`);
        return padSteps(y, capacity);
      });
      // Temporal sample weights of such an output: zeros on the padded steps.
      const ws = data.ws.map((w, i) => (this.setup.outputs[i].temporalAtRunTime ? padSteps(new Tensor(w, [samplesOf(data), steps]), capacity).data as Float32Array : w));
      p = { data: { xs, ys, ws }, steps, capacity };
      this.padded.set(data, p);
    }
    return p;
  }

  /** One step on a whole dataset as one batch. */
  private launchAll(kind: 'train' | 'test', data: Dataset): Promise<Launched> {
    const n = samplesOf(data);
    return this.launch(kind, data, Int32Array.from({ length: n }, (_, i) => i), 0, n, n);
  }

  async fit(x: DataList, y: DataList, args: FitArgs = {}): Promise<History> {
    args = readOptions('fit', args, FIT_OPTIONS);
    checkFitArgs(args);
    let data = this.dataset('fit', x, y, args.sampleWeight, args.classWeight);
    const batchSize = args.batchSize ?? 32;
    this.net.checkStatefulSamples('fit', samplesOf(data), batchSize);
    const epochs = args.epochs ?? 1;
    const verbose = args.verbose ?? 1;
    const outputs = this.setup.outputs;
    let validation = args.validationData ? validationDataset('fit', this.net, outputs, args.validationData) : null;
    if (!validation && args.validationSplit) {
      // Keras takes the validation samples from the end, before any shuffling.
      const total = samplesOf(data);
      const split = Math.floor(total * (1 - args.validationSplit));
      checkSplit(total, args.validationSplit, split);
      validation = sliceDataset(data, split, total);
      data = sliceDataset(data, 0, split);
    }
    const n = samplesOf(data);
    const batch = Math.max(1, Math.min(batchSize, n));
    const steps = args.stepsPerEpoch ?? Math.ceil(n / batch);
    if (validation && args.validationSteps) validation = sliceDataset(validation, 0, Math.min(samplesOf(validation), args.validationSteps * batch));
    let order: Int32Array = new Int32Array(0);
    const train = data;
    return this.trainLoop({ epochs, steps, samples: Math.min(n, steps * batch), batchSize: batch, verbose, callbacks: args.callbacks, initialEpoch: args.initialEpoch, validation }, {
      beginEpoch: () => void (order = epochOrder(n, batch, args.shuffle ?? true, this.random)),
      step: async (s) => {
        const start = (s * batch) % n;
        const end = Math.min(start + batch, n);
        return { size: end - start, run: () => this.launch('train', train, order, start, end, batch) };
      },
    });
  }

  /**
   * The Keras 2 training loop shared by fit and fitGenerator: callbacks in
   * Keras's order (BaseLogger, ProgbarLogger, the user's, History), epochs of
   * `steps` batches, validation at each epoch end, weights pulled to the host
   * after every epoch.
   */
  private async trainLoop(cfg: LoopConfig, source: { beginEpoch?: (epoch: number) => void; step: (s: number, epoch: number) => Promise<{ size: number; run: () => Promise<Launched> }> }): Promise<History> {
    const metrics = [...this.metricsNames, ...(cfg.validation ? this.metricsNames.map((m) => `val_${m}`) : [])];
    const history = new History();
    const list = [new BaseLogger(), ...(cfg.verbose ? [new ProgbarLogger()] : []), ...(cfg.callbacks ?? []), history];
    const model = this.net as unknown as { stopTraining: boolean };
    for (const c of list) {
      c.setParams({ epochs: cfg.epochs, steps: cfg.steps, samples: cfg.samples, batchSize: cfg.batchSize, verbose: cfg.verbose, doValidation: !!cfg.validation, metrics });
      c.setModel(model);
    }
    const callbacks = new CallbackList(list);
    model.stopTraining = false;
    await callbacks.call('onTrainBegin');
    for (let epoch = cfg.initialEpoch ?? 0; epoch < cfg.epochs && !model.stopTraining; epoch++) {
      await callbacks.call('onEpochBegin', epoch);
      source.beginEpoch?.(epoch);
      // On WebGPU the next step is queued before this one is read back (and before its callbacks run), so
      // the device never waits on the host; a stopTraining set in onBatchEnd then takes effect one step later.
      const pipelined = this.net.backend === 'webgpu';
      const launch = async (s: number): Promise<Launched & { size: number }> => {
        const { size, run } = await source.step(s, epoch);
        return { size, outs: (await run()).outs };
      };
      let ahead: (Launched & { size: number }) | null = null;
      for (let s = 0; s < cfg.steps && !model.stopTraining; s++) {
        let current: Launched & { size: number };
        const logs: Logs = { batch: s };
        if (pipelined) {
          current = ahead ?? (await launch(s));
          ahead = s + 1 < cfg.steps ? await launch(s + 1) : null;
          logs.size = current.size;
          await callbacks.call('onBatchBegin', s, logs);
        } else {
          const { size, run } = await source.step(s, epoch);
          logs.size = size;
          await callbacks.call('onBatchBegin', s, logs);
          current = { size, outs: (await run()).outs };
        }
        const outs = await current.outs;
        this.metricsNames.forEach((m, i) => (logs[m] = outs[i]));
        await callbacks.call('onBatchEnd', s, logs);
      }
      // A step queued ahead of a stop still runs: wait for it before touching the weights.
      await ahead?.outs;
      const epochLogs: Logs = {};
      await this.net.refreshShared();
      if (cfg.validation) {
        const val = await this.evaluateData(cfg.validation, cfg.batchSize || 32);
        this.metricsNames.forEach((m, i) => (epochLogs[`val_${m}`] = val[i]));
      }
      await callbacks.call('onEpochEnd', epoch, epochLogs);
    }
    await callbacks.call('onTrainEnd');
    return history;
  }

  /** Loss and metrics over (x, y), in batches, weighted by batch size as Keras does. */
  async evaluate(x: DataList, y: DataList, args: EvaluateArgs = {}): Promise<number[]> {
    args = readOptions('evaluate', args, EVALUATE_OPTIONS);
    checkEvaluateArgs(args);
    const data = this.dataset('evaluate', x, y, args.sampleWeight);
    this.net.checkStatefulSamples('evaluate', samplesOf(data), args.batchSize ?? 32);
    return this.evaluateData(data, args.batchSize ?? 32);
  }

  private async evaluateData(data: Dataset, batchSize: number): Promise<number[]> {
    const n = samplesOf(data);
    const batch = Math.max(1, Math.min(batchSize, n));
    const order = Int32Array.from({ length: n }, (_, i) => i);
    const totals = this.metricsNames.map(() => 0);
    // One batch in flight while the next is written and started.
    let inFlight: { rows: number; outs: Promise<number[]> } | null = null;
    const collect = async (f: { rows: number; outs: Promise<number[]> }): Promise<void> => (await f.outs).forEach((v, i) => (totals[i] += v * f.rows));
    for (let start = 0; start < n; start += batch) {
      const end = Math.min(start + batch, n);
      const started = { rows: end - start, outs: (await this.launch('test', data, order, start, end, batch)).outs };
      if (inFlight) await collect(inFlight);
      inFlight = started;
    }
    if (inFlight) await collect(inFlight);
    return totals.map((t) => t / n);
  }

  async trainOnBatch(x: DataList, y: DataList, sampleWeight?: DataList): Promise<number[]> {
    const outs = await (await this.launchAll('train', this.dataset('trainOnBatch', x, y, sampleWeight))).outs;
    await this.net.refreshShared();
    return outs;
  }

  async testOnBatch(x: DataList, y: DataList, sampleWeight?: DataList): Promise<number[]> {
    return (await this.launchAll('test', this.dataset('testOnBatch', x, y, sampleWeight))).outs;
  }

  /** Keras's fit_generator: `stepsPerEpoch` batches from `source` per epoch, prefetched. */
  async fitGenerator(source: BatchSource<Batch>, args: GeneratorFitArgs): Promise<History> {
    args = readOptions('fitGenerator', args, FIT_GENERATOR_OPTIONS);
    checkGeneratorArgs('fitGenerator', args, 'stepsPerEpoch');
    const { stepsPerEpoch, epochs = 1, verbose = 1, maxQueueSize = 10 } = args;
    if (!(stepsPerEpoch > 0)) throw new Error(`fitGenerator needs stepsPerEpoch > 0, got ${stepsPerEpoch}`);
    const batches = source instanceof Sequence ? source.iterate({ workers: args.workers ?? 1, shuffle: args.shuffle ?? false }) : source;
    const queue = new Prefetcher(batches, maxQueueSize);
    const validation = args.validationData ? validationDataset('fitGenerator', this.net, this.setup.outputs, args.validationData) : null;
    return this.trainLoop({ epochs, steps: stepsPerEpoch, samples: stepsPerEpoch, batchSize: 0, verbose, callbacks: args.callbacks, initialEpoch: args.initialEpoch, validation }, {
      step: async (s, epoch) => {
        const batch = await queue.next();
        if (!batch) throw new Error(`fitGenerator: the source ran out after ${s} batches of epoch ${epoch + 1}; it must yield stepsPerEpoch (${stepsPerEpoch}) batches per epoch`);
        const data = this.dataset('fitGenerator', batch[0], batch[1], batch[2]);
        return { size: 1, run: () => this.launchAll('train', data) };
      },
    });
  }

  /** Keras's evaluate_generator: loss and metrics over `steps` batches, weighted by batch size. */
  async evaluateGenerator(source: BatchSource<Batch>, args: KerasOptions<GeneratorOptions>): Promise<number[]> {
    args = readOptions('evaluateGenerator', args, GENERATOR_OPTIONS);
    checkGeneratorArgs('evaluateGenerator', args, 'steps');
    const queue = new Prefetcher(source, args.maxQueueSize ?? 10);
    const totals = this.metricsNames.map(() => 0);
    let seen = 0;
    for (let s = 0; s < args.steps; s++) {
      const batch = await queue.next();
      if (!batch) throw new Error(`evaluateGenerator: the source ran out after ${s} of ${args.steps} batches`);
      const data = this.dataset('evaluateGenerator', batch[0], batch[1], batch[2]);
      const outs = await (await this.launchAll('test', data)).outs;
      const rows = samplesOf(data);
      outs.forEach((v, i) => (totals[i] += v * rows));
      seen += rows;
    }
    return totals.map((t) => t / seen);
  }

  dispose(): void {
    for (const p of this.programs.values()) p.dispose();
    this.programs.clear();
    this.active = null;
  }
}
