/**
 * What Sequential and functional models share: an ordered list of layer
 * applications from one input to one output, compiled per batch size into a
 * program (runtime/executor.ts) whose weights are written from the layers'
 * host copies whenever they change.
 */
import { sizeOf } from '../../ir/dtype.js';
import { GraphBuilder, type Value } from '../../ir/graph.js';
import { type BackendName, type CompiledGraph, type CompileStats, checkBackendName, compileGraph, getBackend } from '../../runtime/executor.js';
import { SharedState } from '../../runtime/shared_state.js';
import { type CallContext, type KShape, type Layer, type Weight } from '../layers/base.js';
import { Tensor, type NestedArray, type TypedArray } from '../tensor.js';
import { summaryLines } from './summary.js';
import { checkGeneratorArgs, checkInputShape, checkPredictArgs, dataTensor } from '../validation.js';
import type { History } from '../callbacks.js';
import type { Batch, BatchSource } from '../training/generators.js';
import { Prefetcher } from '../training/generators.js';
import { type CompileArgs, type EvaluateArgs, type FitArgs, type GeneratorFitArgs, Trainer } from '../training/trainer.js';

/** One layer application: `layer` applied to the outputs of `inputs` (indices into the step list, -1 = the model input). */
export interface Step {
  readonly layer: Layer;
  readonly inputs: readonly number[];
  readonly outputShape: KShape;
}

export interface PredictOptions {
  readonly batchSize?: number;
  readonly verbose?: number;
}

/**
 * The batch size of the program that runs `n` samples in batches of at most
 * `batchSize`: batchSize itself once n reaches it, else n rounded up to a
 * power of two, so small inputs of every size share a few programs
 * (1, 2, 4, ..., batchSize) and run padded in at most twice the work.
 */
export function programBatch(n: number, batchSize: number): number {
  if (n >= batchSize) return batchSize;
  return Math.min(batchSize, 2 ** Math.ceil(Math.log2(Math.max(1, n))));
}

interface Program {
  readonly compiled: CompiledGraph;
}

export abstract class Network {
  name: string;
  private readonly programs = new Map<number, Program>();
  private lastStats: CompileStats | null = null;
  /** The backend given to compile(); null follows the process-wide default (setBackend, KILN_BACKEND). */
  private chosenBackend: BackendName | null = null;

  constructor(name: string) {
    this.name = name;
  }

  /** Model input shape with the batch dim (null). */
  abstract get inputShape(): KShape;

  abstract get outputShape(): KShape;

  /** Layer applications in execution order. */
  protected abstract steps(): readonly Step[];

  /** Layers as Keras lists them (`model.layers`). */
  abstract get layers(): readonly Layer[];

  get compileStats(): CompileStats | null {
    return this.lastStats;
  }

  /** The backend this model's programs run on. */
  get backend(): BackendName {
    return this.chosenBackend ?? getBackend();
  }

  /**
   * Moves the model to `backend` (compile({ backend })): programs built for
   * another backend go, and the weights leave the old shared arena for host
   * copies until the first program on the new backend takes them in.
   */
  protected useBackend(backend: BackendName | undefined): void {
    const next = backend === undefined ? null : checkBackendName(backend);
    if (next === this.chosenBackend) return;
    this.chosenBackend = next;
    this.invalidate();
    this.detachWeights();
    this.shared?.dispose();
    this.shared = null;
    this.sharedWeights = [];
  }

  /** Compiled programs must be rebuilt (layers changed). */
  protected invalidate(): void {
    for (const p of this.programs.values()) p.compiled.dispose();
    this.programs.clear();
  }

  /** Every weight of the model, in Keras get_weights() order, deduplicated. */
  allWeights(): Weight[] {
    const seen = new Set<Weight>();
    for (const l of this.layers) for (const w of l.weights) seen.add(w);
    return [...seen];
  }

  getWeights(): Tensor[] {
    return this.allWeights().map((w) => new Tensor(w.value.slice(), w.shape));
  }

  setWeights(weights: readonly Tensor[]): void {
    const all = this.allWeights();
    if (weights.length !== all.length) {
      throw new Error(`Model ${this.name} expects ${all.length} weight arrays (${all.map((w) => `${w.name} [${w.shape.join(', ')}]`).join(', ')}), got ${weights.length}`);
    }
    weights.forEach((t, i) => {
      const w = all[i];
      if (t.shape.length !== w.shape.length || t.shape.some((d, j) => d !== w.shape[j])) {
        throw new Error(`Model ${this.name}: weight ${i} (${w.name}) has shape [${w.shape.join(', ')}], got [${t.shape.join(', ')}]`);
      }
    });
    weights.forEach((t, i) => (all[i].value = Float32Array.from(t.data)));
  }

  getLayer(nameOrIndex: string | number): Layer {
    const layers = this.layers;
    if (typeof nameOrIndex === 'number') {
      const l = layers[nameOrIndex];
      if (!l) throw new Error(`Model ${this.name} has ${layers.length} layers; index ${nameOrIndex} is out of range`);
      return l;
    }
    const l = layers.find((x) => x.name === nameOrIndex);
    if (!l) throw new Error(`No layer named '${nameOrIndex}' in model ${this.name}. Layers: ${layers.map((x) => x.name).join(', ')}`);
    return l;
  }

  countParams(): number {
    return this.allWeights().reduce((s, w) => s + w.value.length, 0);
  }

  /** Prints Keras's summary table, calling `print` (default console.log) once per line as Keras's print_fn, and returns it. */
  summary(print: (line: string) => void = console.log): string {
    const lines = summaryLines(this.name, this.summaryRows());
    lines.forEach((l) => print(l));
    return lines.join('\n');
  }

  protected summaryRows(): { layer: Layer; output: KShape }[] {
    return this.steps().map((s) => ({ layer: s.layer, output: s.outputShape }));
  }

  /** The model's computation on `input`, emitted into `b` (used by inference and training programs). */
  forward(b: GraphBuilder, input: Value, ctx: CallContext): Value {
    const values: Value[] = [];
    const steps = this.steps();
    for (const s of steps) {
      const x = s.inputs.map((i) => (i < 0 ? input : values[i]))[0];
      const out = b.scoped(s.layer.name, () => s.layer.call(b, x, ctx));
      const activity = s.layer.activityRegularizer;
      if (activity && ctx.addLoss) ctx.addLoss(b.scoped(`${s.layer.name} activity regularizer`, () => activity(b, out)));
      values.push(out);
    }
    return steps.length ? values[values.length - 1] : input;
  }

  /** Every weight as a param of `role`, created on first use. */
  static weightParams(b: GraphBuilder, role: 'weight' | 'state'): (w: Weight) => Value {
    const params = new Map<Weight, Value>();
    return (w) => {
      let v = params.get(w);
      if (!v) {
        v = b.param(w.name, w.shape, 'float32', role);
        params.set(w, v);
      }
      return v;
    };
  }

  /** The inference graph for a fixed batch size. */
  buildGraph(batch: number): ReturnType<GraphBuilder['build']> {
    const b = new GraphBuilder();
    const input = b.param('input', [batch, ...(this.inputShape.slice(1) as number[])]);
    const ctx: CallContext = {
      training: false,
      random: () => {
        throw new Error('random values are only drawn in training programs');
      },
      weight: Network.weightParams(b, 'weight'),
    };
    return b.build([this.forward(b, input, ctx)]);
  }

  /** Compiles in flight, by batch size: concurrent first calls share one compile. */
  private readonly compiling = new Map<number, Promise<Program>>();

  private async program(batch: number): Promise<Program> {
    let p = this.programs.get(batch);
    if (!p) {
      let pending = this.compiling.get(batch);
      if (!pending) {
        pending = compileGraph(this.buildGraph(batch), { backend: this.backend, name: `${this.name}_b${batch}`, shared: this.sharedState() }).then((compiled) => {
          const made = { compiled };
          this.programs.set(batch, made);
          this.lastStats = compiled.stats;
          return made;
        }).finally(() => this.compiling.delete(batch));
        this.compiling.set(batch, pending);
      }
      p = await pending;
    }
    this.syncShared();
    return p;
  }

  private shared: SharedState | null = null;
  private sharedWeights: readonly Weight[] = [];

  /**
   * The model's shared state arena: every weight, addressed in place by all of
   * the model's programs (predict, evaluate, train). A new layout is made when
   * the layers change.
   */
  sharedState(): SharedState {
    const weights = this.allWeights();
    const same = weights.length === this.sharedWeights.length && weights.every((w, i) => w === this.sharedWeights[i]);
    if (!this.shared || !same) {
      this.detachWeights();
      this.shared?.dispose();
      this.shared = new SharedState(weights.map((w) => ({ name: w.name, dtype: 'float32', size: w.value.length })));
      this.sharedWeights = weights;
    }
    return this.shared;
  }

  /**
   * Makes the layers' host weight arrays views of the shared arena, copying in
   * any the user replaced (setWeights), so host and programs see one copy.
   */
  syncShared(): void {
    const shared = this.shared;
    if (!shared?.allocated) return;
    for (const w of this.sharedWeights) {
      const view = shared.view(w.name) as Float32Array;
      // view() makes a new array object each call: compare the memory it covers.
      if (w.value.buffer === view.buffer && w.value.byteOffset === view.byteOffset) continue;
      view.set(w.value);
      shared.commit(w.name);
      w.value = view;
    }
  }

  /** Refreshes the layers' weight views after training steps, where the arena lives on a device (WebGPU). */
  async refreshShared(): Promise<void> {
    await this.shared?.refresh();
  }

  /** Gives the layers their own copies of the weights again (before the arena goes away). */
  private detachWeights(): void {
    if (!this.shared?.allocated) return;
    for (const w of this.sharedWeights) {
      if (w.value.buffer === (this.shared.view(w.name) as Float32Array).buffer) w.value = w.value.slice();
    }
  }

  private checkInput(x: Tensor): void {
    checkInputShape(this.name, this.inputShape, x.shape);
  }

  /** Runs the model on `x` in batches of `batchSize` (default 32), like Keras's predict. */
  async predict(x: Tensor | TypedArray | NestedArray, options: PredictOptions = {}): Promise<Tensor> {
    checkPredictArgs(options);
    const input = dataTensor('predict', 'x', x);
    this.checkInput(input);
    const n = input.shape[0];
    const batchSize = options.batchSize ?? 32;
    const batch = programBatch(n, batchSize);
    const p = await this.program(batch);
    const rowIn = sizeOf(input.shape.slice(1));
    const outShape = this.outputShape.slice(1) as number[];
    const rowOut = sizeOf(outShape);
    const out = new Float32Array(n * rowOut);
    const data = input.data instanceof Float32Array ? input.data : Float32Array.from(input.data);
    // One batch in flight while the next is written and started (on WebGPU the device never waits for the host).
    let inFlight: { start: number; count: number; result: Promise<TypedArray[]> } | null = null;
    const collect = async (f: NonNullable<typeof inFlight>): Promise<void> => {
      const [y] = await f.result;
      out.set(y.subarray(0, f.count * rowOut), f.start * rowOut);
    };
    for (let start = 0; start < n; start += batch) {
      const count = Math.min(batch, n - start);
      const chunk = data.subarray(start * rowIn, (start + count) * rowIn);
      // A partial last batch runs zero-padded through the same program.
      if (count === batch) p.compiled.write('input', chunk);
      else {
        const padded = new Float32Array(batch * rowIn);
        padded.set(chunk);
        p.compiled.write('input', padded);
      }
      const started = { start, count, result: p.compiled.run() };
      if (inFlight) await collect(inFlight);
      inFlight = started;
    }
    if (inFlight) await collect(inFlight);
    return new Tensor(out, [n, ...outShape]);
  }

  /** One batch, no batching (Keras's predict_on_batch); runs padded in the next power-of-two program. */
  async predictOnBatch(x: Tensor | TypedArray | NestedArray): Promise<Tensor> {
    const input = dataTensor('predictOnBatch', 'x', x);
    this.checkInput(input);
    return this.predict(input, { batchSize: programBatch(input.shape[0] ?? 1, Infinity) });
  }

  /** Class indices: argmax over the last axis, or probability > 0.5 for a single unit. */
  async predictClasses(x: Tensor | TypedArray | NestedArray, options: PredictOptions = {}): Promise<Tensor> {
    const p = await this.predict(x, options);
    const k = p.shape[p.shape.length - 1];
    if (k === 1) return new Tensor(Int32Array.from(p.data, (v) => (v > 0.5 ? 1 : 0)), p.shape, 'int32');
    const rows = p.data.length / k;
    const out = new Int32Array(rows);
    for (let r = 0; r < rows; r++) {
      let best = 0;
      for (let j = 1; j < k; j++) if (p.data[r * k + j] > p.data[r * k + best]) best = j;
      out[r] = best;
    }
    return new Tensor(out, p.shape.slice(0, -1), 'int32');
  }

  /** Keras's predict_proba: the model's outputs, which should be probabilities. */
  predictProba(x: Tensor | TypedArray | NestedArray, options: PredictOptions = {}): Promise<Tensor> {
    return this.predict(x, options);
  }

  private trainer: Trainer | null = null;
  /** Set by callbacks (EarlyStopping, TerminateOnNaN) to end fit() after the current batch. */
  stopTraining = false;

  /** Configures training: optimizer, loss and metrics (names or objects), as Keras's compile. */
  compile(args: CompileArgs): void {
    this.trainer?.dispose();
    this.useBackend(args.backend);
    this.trainer = new Trainer(this, args);
  }

  private compiled(): Trainer {
    if (!this.trainer) throw new Error(`Model ${this.name} must be compiled before training or evaluating: call model.compile({ optimizer, loss })`);
    return this.trainer;
  }

  /** Compile statistics of the train-step program (after the first training step). */
  get trainCompileStats(): CompileStats | null {
    return this.trainer?.trainStats ?? null;
  }

  /** Keras's metrics_names: 'loss' and the compiled metrics. */
  get metricsNames(): readonly string[] {
    return this.compiled().metricsNames;
  }

  /** The optimizer's learning rate, read and set between steps (schedulers). */
  get lr(): number {
    return this.compiled().lr;
  }

  set lr(value: number) {
    this.compiled().lr = value;
  }

  async fit(x: Tensor | TypedArray | NestedArray, y: Tensor | TypedArray | NestedArray, args: FitArgs = {}): Promise<History> {
    return this.compiled().fit(x, y, args);
  }

  /** Loss and metrics on (x, y): a number with no metrics, else [loss, ...metrics] (Keras's convention). */
  async evaluate(x: Tensor | TypedArray | NestedArray, y: Tensor | TypedArray | NestedArray, args: EvaluateArgs = {}): Promise<number | number[]> {
    const outs = await this.compiled().evaluate(x, y, args);
    return outs.length === 1 ? outs[0] : outs;
  }

  async trainOnBatch(x: Tensor | TypedArray | NestedArray, y: Tensor | TypedArray | NestedArray, sampleWeight?: Tensor): Promise<number | number[]> {
    const outs = await this.compiled().trainOnBatch(x, y, sampleWeight);
    return outs.length === 1 ? outs[0] : outs;
  }

  async testOnBatch(x: Tensor | TypedArray | NestedArray, y: Tensor | TypedArray | NestedArray, sampleWeight?: Tensor): Promise<number | number[]> {
    const outs = await this.compiled().testOnBatch(x, y, sampleWeight);
    return outs.length === 1 ? outs[0] : outs;
  }

  /** Trains on batches [x, y] or [x, y, sampleWeight] from an (async) iterable (Keras's fit_generator). */
  async fitGenerator(source: BatchSource<Batch>, args: GeneratorFitArgs): Promise<History> {
    return this.compiled().fitGenerator(source, args);
  }

  async evaluateGenerator(source: BatchSource<Batch>, args: { steps: number; maxQueueSize?: number }): Promise<number | number[]> {
    const outs = await this.compiled().evaluateGenerator(source, args);
    return outs.length === 1 ? outs[0] : outs;
  }

  /** Predictions for `steps` input batches from an (async) iterable, concatenated (Keras's predict_generator). */
  async predictGenerator(source: BatchSource<Tensor | readonly [Tensor, ...Tensor[]]>, args: { steps: number; maxQueueSize?: number }): Promise<Tensor> {
    checkGeneratorArgs('predictGenerator', args, 'steps');
    const queue = new Prefetcher(source, args.maxQueueSize ?? 10);
    const parts: Tensor[] = [];
    for (let s = 0; s < args.steps; s++) {
      const item = await queue.next();
      if (!item) throw new Error(`predictGenerator: the source ran out after ${s} of ${args.steps} batches`);
      const x = item instanceof Tensor ? item : item[0];
      parts.push(await this.predict(x, { batchSize: Math.max(1, x.shape[0]) }));
    }
    const rows = parts.reduce((n, p) => n + p.shape[0], 0);
    const out = new Float32Array(parts.reduce((n, p) => n + p.data.length, 0));
    let at = 0;
    for (const p of parts) {
      out.set(p.data, at);
      at += p.data.length;
    }
    return new Tensor(out, [rows, ...this.outputShape.slice(1) as number[]]);
  }

  /** Writes the weights in Keras 2's HDF5 layout, atomically (Keras's save_weights). */
  async saveWeights(path: string): Promise<void> {
    const { saveWeightsFile } = await import('../weights_file.js');
    await saveWeightsFile(path, this.layers);
  }

  /** Reads weights written by saveWeights or by Keras's save_weights, matching layers by name. */
  async loadWeights(path: string): Promise<void> {
    const { loadWeightsFile } = await import('../weights_file.js');
    await loadWeightsFile(path, this.layers);
  }

  /** Releases compiled programs (native code and arenas); the layers keep their weights. */
  dispose(): void {
    this.invalidate();
    this.trainer?.dispose();
    this.detachWeights();
    this.shared?.dispose();
    this.shared = null;
    this.sharedWeights = [];
  }
}
