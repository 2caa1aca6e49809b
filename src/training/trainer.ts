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
import type { KFunction } from '../backend.js';
import type { Weight } from '../layers/base.js';
import { type Loss, getLoss } from '../losses.js';
import { type Metric, getMetric } from '../metrics.js';
import type { Network } from '../models/network.js';
import { type Optimizer, getOptimizer } from '../optimizers.js';
import { type NestedArray, Tensor, type TypedArray, toTensor } from '../tensor.js';
import { checkEvaluateArgs, checkFitArgs, checkGeneratorArgs, checkInputShape, checkSparseLabels, checkSplit, dataTensor } from '../validation.js';
import { epochOrder, gatherRows, makeRandom, sampleWeights, sliceRows } from './data.js';
import { type Batch, type BatchSource, Prefetcher } from './generators.js';
import { type TrainSetup, globalName, slotName, testGraph, trainGraph, trainableWeights } from './programs.js';

export interface CompileArgs {
  readonly optimizer: string | Optimizer;
  readonly loss: string | Loss | KFunction;
  readonly metrics?: readonly (string | Metric | KFunction)[];
  /** 'temporal': sample weights per timestep, shape [samples, timesteps] (Keras's sample_weight_mode). */
  readonly sampleWeightMode?: 'temporal' | null;
  /** Keras's loss_weights: one number (or a one-element list or {outputName: weight}) for the model's output. */
  readonly lossWeights?: number | readonly number[] | Readonly<Record<string, number>>;
  /** Where the model's programs run: 'cpu' (native code), 'webgpu', or 'interpreter'; default: the process-wide default (setBackend, KILN_BACKEND). */
  readonly backend?: BackendName;
}

type Data = Tensor | TypedArray | NestedArray;

export interface FitArgs {
  readonly batchSize?: number;
  readonly epochs?: number;
  readonly verbose?: number;
  readonly callbacks?: readonly Callback[];
  readonly validationSplit?: number;
  readonly validationData?: readonly [Data, Data];
  readonly shuffle?: boolean | 'batch';
  readonly classWeight?: Readonly<Record<number, number>>;
  readonly sampleWeight?: Tensor;
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
  readonly validation: [Tensor, Tensor] | null;
}

export interface GeneratorFitArgs {
  readonly stepsPerEpoch: number;
  readonly epochs?: number;
  readonly verbose?: number;
  readonly callbacks?: readonly Callback[];
  readonly validationData?: readonly [Data, Data];
  readonly maxQueueSize?: number;
  readonly initialEpoch?: number;
}

export interface EvaluateArgs {
  readonly batchSize?: number;
  readonly verbose?: number;
  readonly sampleWeight?: Tensor;
}

function lossWeightOf(w: CompileArgs['lossWeights']): number {
  if (w === undefined) return 1;
  const list = typeof w === 'number' ? [w] : Array.isArray(w) ? w : Object.values(w);
  if (list.length !== 1 || !Number.isFinite(list[0])) throw new Error(`lossWeights must give one finite weight for the model's one output, got ${JSON.stringify(w)}`);
  return list[0];
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

  constructor(private readonly net: Network, args: CompileArgs) {
    const loss = getLoss(args.loss);
    const metrics = (args.metrics ?? []).map((m) => getMetric(m, loss.name, net.outputShape));
    const timesteps = args.sampleWeightMode === 'temporal' ? Number(net.outputShape[1]) : 0;
    if (args.sampleWeightMode && (args.sampleWeightMode !== 'temporal' || net.outputShape.length < 3)) {
      throw new Error(`sampleWeightMode '${args.sampleWeightMode}' needs the value 'temporal' and an output of rank 3 or more (batch, timesteps, ...); the output is (None, ${net.outputShape.slice(1).join(', ')})`);
    }
    this.setup = { loss, lossWeight: lossWeightOf(args.lossWeights), timesteps, metrics, optimizer: getOptimizer(args.optimizer), trainable: trainableWeights(net) };
    this.metricsNames = ['loss', ...metrics.map((m) => m.name)];
    this.lr = this.setup.optimizer.lr;
  }

  private checkData(x: Tensor, y: Tensor, where = 'fit'): void {
    checkInputShape(this.net.name, this.net.inputShape, x.shape);
    if (x.shape[0] !== y.shape[0]) {
      throw new Error(`Input arrays should have the same number of samples as target arrays. Found ${x.shape[0]} input samples and ${y.shape[0]} target samples.`);
    }
    const out = this.net.outputShape.slice(1);
    const given = y.shape.slice(1);
    const sparse = this.setup.loss.name === 'sparse_categorical_crossentropy';
    const ok = sparse ? given.length === 0 || (given.length === 1 && given[0] === 1) : given.length === out.length && given.every((d, i) => d === out[i]);
    if (!ok) {
      const expect = sparse ? 'integer class labels of shape (N,) or (N, 1)' : 'targets of the same shape as the output';
      throw new Error(`A target array with shape (${y.shape.join(', ')}) was passed for an output of shape (None, ${out.join(', ')}) while using as loss \`${this.setup.loss.name}\`. This loss expects ${expect}.`);
    }
    if (sparse) checkSparseLabels(where, y, Number(out[out.length - 1]));
  }

  private async program(kind: 'train' | 'test', batch: number, targetShape: readonly number[]): Promise<CompiledGraph> {
    const key = `${kind}:${batch}:${targetShape.join(',')}`;
    let p = this.programs.get(key);
    if (!p) {
      const graph = kind === 'train' ? trainGraph(this.net, batch, targetShape, this.setup) : testGraph(this.net, batch, targetShape, this.setup);
      p = await compileGraph(graph, { backend: this.net.backend, name: `${this.net.name}_${kind}_b${batch}`, shared: this.net.sharedState() });
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

  /** One step on rows [start, end) of `order`; returns [loss, ...metrics]. */
  private async step(kind: 'train' | 'test', x: Tensor, y: Tensor, w: Float32Array, order: ArrayLike<number>, start: number, end: number, batch: number): Promise<number[]> {
    return (await this.launch(kind, x, y, w, order, start, end, batch)).outs;
  }

  /**
   * Writes a step's inputs and starts it. Resolves once the step is queued
   * (on WebGPU: submitted), to the promise of its [loss, ...metrics], so the
   * training loop can queue the next step before reading this one back.
   */
  private async launch(kind: 'train' | 'test', x: Tensor, y: Tensor, w: Float32Array, order: ArrayLike<number>, start: number, end: number, batch: number): Promise<Launched> {
    const p = await this.program(kind, batch, y.shape.slice(1));
    this.net.syncShared();
    if (kind === 'train') {
      await this.activate(p);
      this.dirty = true;
    }
    const xs = new Float32Array(batch * (x.data.length / x.shape[0]));
    const ys = new Float32Array(batch * (y.data.length / y.shape[0]));
    gatherRows(x, order, start, end, xs);
    gatherRows(y, order, start, end, ys);
    const per = Math.max(this.setup.timesteps, 1);
    const ws = new Float32Array(batch * per);
    for (let i = start; i < end; i++) ws.set(w.subarray(order[i] * per, (order[i] + 1) * per), (i - start) * per);
    p.write('input', xs);
    p.write('target', ys);
    p.write('sample_weight', ws);
    return { outs: p.run().then((outs) => Array.from(outs, (a) => a[0])) };
  }

  async fit(xIn: Data, yIn: Data, args: FitArgs = {}): Promise<History> {
    checkFitArgs(args);
    let x = dataTensor('fit', 'x', xIn);
    let y = dataTensor('fit', 'y', yIn);
    this.checkData(x, y);
    const batchSize = args.batchSize ?? 32;
    const epochs = args.epochs ?? 1;
    const verbose = args.verbose ?? 1;
    let validation: [Tensor, Tensor] | null = args.validationData ? [toTensor(args.validationData[0]), toTensor(args.validationData[1])] : null;
    if (validation) this.checkData(validation[0], validation[1], 'fit (validationData)');
    let weights = sampleWeights(y, args.sampleWeight, args.classWeight, this.setup.timesteps);
    if (!validation && args.validationSplit) {
      // Keras takes the validation samples from the end, before any shuffling.
      const split = Math.floor(x.shape[0] * (1 - args.validationSplit));
      checkSplit(x.shape[0], args.validationSplit, split);
      validation = [sliceRows(x, split, x.shape[0]), sliceRows(y, split, y.shape[0])];
      [x, y, weights] = [sliceRows(x, 0, split), sliceRows(y, 0, split), weights.slice(0, split * Math.max(this.setup.timesteps, 1))];
    }
    const n = x.shape[0];
    const batch = Math.max(1, Math.min(batchSize, n));
    const steps = args.stepsPerEpoch ?? Math.ceil(n / batch);
    if (validation && args.validationSteps) {
      const rowsWanted = Math.min(validation[0].shape[0], args.validationSteps * batch);
      validation = [sliceRows(validation[0], 0, rowsWanted), sliceRows(validation[1], 0, rowsWanted)];
    }
    let order: Int32Array = new Int32Array(0);
    return this.trainLoop({ epochs, steps, samples: Math.min(n, steps * batch), batchSize: batch, verbose, callbacks: args.callbacks, initialEpoch: args.initialEpoch, validation }, {
      beginEpoch: () => void (order = epochOrder(n, batch, args.shuffle ?? true, this.random)),
      step: async (s) => {
        const start = (s * batch) % n;
        const end = Math.min(start + batch, n);
        return { size: end - start, run: () => this.launch('train', x, y, weights, order, start, end, batch) };
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
        const val = await this.evaluate(cfg.validation[0], cfg.validation[1], { batchSize: cfg.batchSize || 32, verbose: 0 });
        this.metricsNames.forEach((m, i) => (epochLogs[`val_${m}`] = val[i]));
      }
      await callbacks.call('onEpochEnd', epoch, epochLogs);
    }
    await callbacks.call('onTrainEnd');
    return history;
  }

  /** Loss and metrics over (x, y), in batches, weighted by batch size as Keras does. */
  async evaluate(xIn: Data, yIn: Data, args: EvaluateArgs = {}): Promise<number[]> {
    checkEvaluateArgs(args);
    const x = dataTensor('evaluate', 'x', xIn);
    const y = dataTensor('evaluate', 'y', yIn);
    this.checkData(x, y, 'evaluate');
    const n = x.shape[0];
    const batch = Math.max(1, Math.min(args.batchSize ?? 32, n));
    const weights = sampleWeights(y, args.sampleWeight, undefined, this.setup.timesteps);
    const order = Int32Array.from({ length: n }, (_, i) => i);
    const totals = this.metricsNames.map(() => 0);
    // One batch in flight while the next is written and started.
    let inFlight: { rows: number; outs: Promise<number[]> } | null = null;
    const collect = async (f: { rows: number; outs: Promise<number[]> }): Promise<void> => (await f.outs).forEach((v, i) => (totals[i] += v * f.rows));
    for (let start = 0; start < n; start += batch) {
      const end = Math.min(start + batch, n);
      const started = { rows: end - start, outs: (await this.launch('test', x, y, weights, order, start, end, batch)).outs };
      if (inFlight) await collect(inFlight);
      inFlight = started;
    }
    if (inFlight) await collect(inFlight);
    return totals.map((t) => t / n);
  }

  async trainOnBatch(xIn: Data, yIn: Data, sampleWeight?: Tensor): Promise<number[]> {
    const x = dataTensor('trainOnBatch', 'x', xIn);
    const y = dataTensor('trainOnBatch', 'y', yIn);
    this.checkData(x, y, 'trainOnBatch');
    const n = x.shape[0];
    const outs = await this.step('train', x, y, sampleWeights(y, sampleWeight, undefined, this.setup.timesteps), Int32Array.from({ length: n }, (_, i) => i), 0, n, n);
    await this.net.refreshShared();
    return outs;
  }

  async testOnBatch(xIn: Data, yIn: Data, sampleWeight?: Tensor): Promise<number[]> {
    const x = dataTensor('testOnBatch', 'x', xIn);
    const y = dataTensor('testOnBatch', 'y', yIn);
    this.checkData(x, y, 'testOnBatch');
    const n = x.shape[0];
    return this.step('test', x, y, sampleWeights(y, sampleWeight, undefined, this.setup.timesteps), Int32Array.from({ length: n }, (_, i) => i), 0, n, n);
  }

  /** Keras's fit_generator: `stepsPerEpoch` batches from `source` per epoch, prefetched. */
  async fitGenerator(source: BatchSource<Batch>, args: GeneratorFitArgs): Promise<History> {
    checkGeneratorArgs('fitGenerator', args, 'stepsPerEpoch');
    const { stepsPerEpoch, epochs = 1, verbose = 1, maxQueueSize = 10 } = args;
    if (!(stepsPerEpoch > 0)) throw new Error(`fitGenerator needs stepsPerEpoch > 0, got ${stepsPerEpoch}`);
    const queue = new Prefetcher(source, maxQueueSize);
    const validation = args.validationData ? (args.validationData.map((t) => toTensor(t)) as [Tensor, Tensor]) : null;
    if (validation) this.checkData(validation[0], validation[1], 'fitGenerator (validationData)');
    return this.trainLoop({ epochs, steps: stepsPerEpoch, samples: stepsPerEpoch, batchSize: 0, verbose, callbacks: args.callbacks, initialEpoch: args.initialEpoch, validation }, {
      step: async (s, epoch) => {
        const batch = await queue.next();
        if (!batch) throw new Error(`fitGenerator: the source ran out after ${s} batches of epoch ${epoch + 1}; it must yield stepsPerEpoch (${stepsPerEpoch}) batches per epoch`);
        const [x, y, w] = batch;
        return { size: 1, run: () => this.launchOn('train', x, y, w) };
      },
    });
  }

  /** Keras's evaluate_generator: loss and metrics over `steps` batches, weighted by batch size. */
  async evaluateGenerator(source: BatchSource<Batch>, args: { steps: number; maxQueueSize?: number }): Promise<number[]> {
    checkGeneratorArgs('evaluateGenerator', args, 'steps');
    const queue = new Prefetcher(source, args.maxQueueSize ?? 10);
    const totals = this.metricsNames.map(() => 0);
    let seen = 0;
    for (let s = 0; s < args.steps; s++) {
      const batch = await queue.next();
      if (!batch) throw new Error(`evaluateGenerator: the source ran out after ${s} of ${args.steps} batches`);
      const [x, y, w] = batch;
      const outs = await this.stepOn('test', x, y, w);
      outs.forEach((v, i) => (totals[i] += v * x.shape[0]));
      seen += x.shape[0];
    }
    return totals.map((t) => t / seen);
  }

  private async stepOn(kind: 'train' | 'test', xIn: Tensor, yIn: Tensor, w?: Tensor): Promise<number[]> {
    return (await this.launchOn(kind, xIn, yIn, w)).outs;
  }

  private launchOn(kind: 'train' | 'test', xIn: Tensor, yIn: Tensor, w?: Tensor): Promise<Launched> {
    const [x, y] = [dataTensor(kind === 'train' ? 'fitGenerator' : 'evaluateGenerator', 'batch x', xIn), dataTensor(kind === 'train' ? 'fitGenerator' : 'evaluateGenerator', 'batch y', yIn)];
    this.checkData(x, y, kind === 'train' ? 'fitGenerator' : 'evaluateGenerator');
    const n = x.shape[0];
    return this.launch(kind, x, y, sampleWeights(y, w, undefined, this.setup.timesteps), Int32Array.from({ length: n }, (_, i) => i), 0, n, n);
  }

  dispose(): void {
    for (const p of this.programs.values()) p.dispose();
    this.programs.clear();
    this.active = null;
  }
}
