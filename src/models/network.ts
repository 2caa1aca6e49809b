/**
 * What Sequential and functional models share: a graph of layer nodes from
 * the model's inputs to its outputs, compiled per batch size into a program
 * (runtime/executor.ts) whose weights live in one shared arena. A Network is
 * a Layer: called on new inputs inside another model it adds a node and
 * shares its weights (Keras's models as layers).
 */
import { type Graph, GraphBuilder, type Value } from '../../ir/graph.js';
import { type BackendName, type CompiledGraph, type CompileStats, checkBackendName, compileGraph, getBackend } from '../../runtime/executor.js';
import { SharedState } from '../../runtime/shared_state.js';
import { type CallContext, type KShape, Layer, type Node, type SymbolicTensor, type Weight, shapeText } from '../layers/base.js';
import { Tensor, expandVector } from '../tensor.js';
import type { SaveModelOptions } from '../io/options.js';
import type { LoadWeightsOptions } from '../io/weight_match.js';
import { yamlPackage } from '../optional_packages.js';
import { summaryLines } from './summary.js';
import { checkGeneratorArgs, checkInputShape, checkPredictArgs } from '../validation.js';
import { GENERATOR_OPTIONS, type KerasOptions, PREDICT_OPTIONS, readOptions } from '../options.js';
import type { History } from '../callbacks.js';
import type { Batch, BatchSource } from '../training/generators.js';
import { Prefetcher } from '../training/generators.js';
import { type DataList, paramNames, standardize } from '../training/standardize.js';
import { type CompileArgs, type EvaluateArgs, type FitArgs, type GeneratorFitArgs, type GeneratorOptions, Trainer } from '../training/trainer.js';
import { concatRows, programBatch, runBatches } from './predict.js';
import { materializeWeights } from '../initializers.js';
import { checkPerStep, chooseCapacity, cutSteps, hasRuntimeSteps, padSteps, readsTimesteps, stepsOf } from './dynamic_time.js';

export { programBatch } from './predict.js';

export interface PredictOptions {
  readonly batchSize?: number;
  readonly verbose?: number;
}

interface Program {
  readonly compiled: CompiledGraph;
  /** It reads the run-time sequence length (param `timesteps`). */
  readonly timesteps: boolean;
}



const unwrap = <T>(xs: readonly T[]): T | T[] => (xs.length === 1 ? xs[0] : [...xs]);

/** `Out` is what predict returns: one Tensor for a model of one output, else a list. */
export abstract class Network<Out extends Tensor | Tensor[] = Tensor> extends Layer {
  private readonly programs = new Map<string, Program>();
  /** Calls of training-phase inference programs so far: the step their random values are keyed by. */
  private phaseSteps = 0;

  /** Keras 2 JSON (snake_case), as Keras's `model.to_json()`; load it with modelFromJSON. */
  abstract toJSON(): string;
  private lastStats: CompileStats | null = null;
  /** The backend given to compile(); null follows the process-wide default (setBackend, KILN_BACKEND). */
  private chosenBackend: BackendName | null = null;

  constructor(name: string | undefined, className: string) {
    super({ name }, className);
    this.built = true;
  }

  /** The model's input tensors (Keras's model.inputs). */
  abstract get inputs(): readonly SymbolicTensor[];

  abstract get outputs(): readonly SymbolicTensor[];

  /** The layer nodes between inputs and outputs, in execution order. */
  protected abstract nodes(): readonly Node[];

  /** Layers as Keras lists them (`model.layers`). */
  abstract get layers(): readonly Layer[];

  get inputShapes(): KShape[] {
    return this.inputs.map((t) => t.shape);
  }

  get outputShapes(): KShape[] {
    return this.outputs.map((t) => t.shape);
  }

  /** Keras's input_names: the names of the input layers. */
  get inputNames(): string[] {
    return this.inputs.map((t) => t.layer.name);
  }

  /** Keras's output_names: the names of the layers producing the outputs. */
  get outputNames(): string[] {
    return this.outputs.map((t) => t.layer.name);
  }

  override get inputShape(): KShape | KShape[] {
    return unwrap(this.inputShapes);
  }

  override get outputShape(): KShape | KShape[] {
    return unwrap(this.outputShapes);
  }

  /** The model's own inputs (one tensor, or a list for several), as Keras's model.input. */
  override get input(): SymbolicTensor | SymbolicTensor[] {
    return unwrap(this.inputs);
  }

  override get output(): SymbolicTensor | SymbolicTensor[] {
    return unwrap(this.outputs);
  }

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

  /** Every weight of the model, in Keras get_weights() order, deduplicated (shared layers and nested models own one set). */
  override get weights(): readonly Weight[] {
    const seen = new Set<Weight>();
    for (const l of this.layers) for (const w of l.weights) seen.add(w);
    return [...seen];
  }

  /** Every stateful layer's states, once each (shared layers and nested models included). */
  override get keptStates(): readonly { readonly name: string; readonly size: number }[] {
    const seen = new Map<string, { name: string; size: number }>();
    for (const l of this.layers) for (const s of l.keptStates) seen.set(s.name, s);
    return [...seen.values()];
  }

  /** Keras 2: a stateful model takes whole batches only (its states are per batch row). */
  checkStatefulSamples(where: string, n: number, batchSize: number, predict = false): void {
    if (!this.keptStates.length || n % batchSize === 0 || (predict && n <= batchSize)) return;
    throw new Error(`${where}: in a stateful network, you should only pass inputs with a number of samples that can be divided by the batch size. Found: ${n} samples. Batch size: ${batchSize}.`);
  }

  /** Weights an optimizer updates: none when the model (as a layer) is frozen; else those of its trainable layers. */
  override get trainableWeights(): readonly Weight[] {
    if (!this.trainable) return [];
    return [...new Set(this.layers.flatMap((l) => l.trainableWeights))];
  }

  allWeights(): Weight[] {
    return [...this.weights];
  }

  override setWeights(weights: readonly Tensor[]): void {
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

  /** Prints Keras's summary table, calling `print` (default console.log) once per line as Keras's print_fn, and returns it. */
  summary(print: (line: string) => void = console.log): string {
    const lines = this.summaryTable();
    lines.forEach((l) => print(l));
    return lines.join('\n');
  }

  /** Keras's summary table, line by line. */
  protected summaryTable(): string[] {
    return summaryLines(this.name, this.nodes().map((n) => ({ layer: n.layer, output: n.outputs[0].shape })));
  }

  /** As a layer inside another model: the model's output shapes for inputs of `shapes` (checked against its own). */
  override computeOutputShapes(shapes: readonly KShape[]): KShape[] {
    const want = this.inputShapes;
    if (shapes.length !== want.length) throw new Error(`Model ${this.name} expects ${want.length} input(s), but it was called on ${shapes.length}`);
    shapes.forEach((s, i) => {
      const ok = s.length === want[i].length && want[i].every((d, j) => j === 0 || d === null || d === s[j]);
      if (!ok) throw new Error(`Model ${this.name}: input ${i} (${this.inputNames[i]}) expects shape ${shapeText(want[i])}, but it was called on a tensor of shape ${shapeText(s)}`);
    });
    return this.outputShapes.map((o) => [shapes[0][0], ...o.slice(1)]);
  }

  /** As a layer of another model. Keras 2's frozen network has no updates: its layers' moving statistics stay put. */
  override lowerList(b: GraphBuilder, xs: readonly Value[], ctx: CallContext): Value[] {
    return this.forward(b, xs, this.trainable ? ctx : { ...ctx, addUpdate: undefined });
  }

  /** The model's computation on `inputs` (one value per model input), emitted into `b`; one value per output. */
  forward(b: GraphBuilder, inputs: readonly Value[], ctx: CallContext): Value[] {
    return this.forwardWithMasks(b, inputs, ctx).outputs;
  }

  /** The forward pass with Keras's output masks (null where an output has none), for masked losses. */
  forwardWithMasks(b: GraphBuilder, inputs: readonly Value[], ctx: CallContext): { outputs: Value[]; masks: (Value | null)[] } {
    const values = new Map<SymbolicTensor, Value>();
    const masks = new Map<SymbolicTensor, Value | null>();
    this.inputs.forEach((t, i) => values.set(t, inputs[i]));
    for (const node of this.nodes()) {
      const layer = node.layer;
      if (ctx.timesteps) checkPerStep(layer, node.inputs.map((t) => t.shape));
      const xs = node.inputs.map((t) => values.get(t)!);
      const ms = node.inputs.map((t) => masks.get(t) ?? null);
      // Only calls on inputs with timesteps=None run to the run-time length (a layer may be shared with fixed-length inputs).
      const nodeCtx = ctx.timesteps && !node.inputs.some((t) => hasRuntimeSteps(t.shape)) ? { ...ctx, timesteps: undefined } : ctx;
      const outs = b.scoped(layer.name, () => layer.lowerList(b, xs, nodeCtx, ms));
      const outMasks = b.scoped(`${layer.name} mask`, () => layer.maskList(b, xs, ms));
      const activity = layer.activityRegularizer;
      if (activity && ctx.addLoss) for (const out of outs) ctx.addLoss(b.scoped(`${layer.name} activity regularizer`, () => activity(b, out)));
      node.outputs.forEach((t, i) => {
        values.set(t, outs[i]);
        masks.set(t, outMasks[i] ?? null);
      });
    }
    const outputs = this.outputs.map((t) => {
      const v = values.get(t);
      if (!v) throw new Error(`Model ${this.name}: output ${t} was not computed`);
      return v;
    });
    return { outputs, masks: this.outputs.map((t) => masks.get(t) ?? null) };
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

  /**
   * One param per model input for a batch of `batch` samples (`input`, or
   * `input_0`, `input_1`, ...); an unknown time axis gets `capacity` steps.
   */
  inputParams(b: GraphBuilder, batch: number, capacity = 0): Value[] {
    const names = paramNames('input', this.inputs.length);
    return this.inputShapes.map((s, i) => b.param(names[i], [batch, ...(s.slice(1).map((d, j) => (j === 0 && d === null && capacity ? capacity : d)) as number[])]));
  }

  /** Whether an input has timesteps=None (its programs run any length up to a capacity). */
  get runtimeSteps(): boolean {
    return this.inputShapes.some(hasRuntimeSteps);
  }

  /** Capacities of steps compiled so far, shared by predict and training programs. */
  readonly stepCapacities = new Set<number>();

  /** The capacity for inputs of `steps` steps (0 for a model without timesteps=None). */
  capacityFor(steps: number): number {
    if (!this.runtimeSteps) return 0;
    const c = chooseCapacity(steps, this.stepCapacities);
    this.stepCapacities.add(c);
    return c;
  }

  /** A CallContext's `timesteps` for a program of capacity `capacity`: the int32 param, made on first use. */
  static timestepsParam(b: GraphBuilder, capacity: number): { timesteps?: () => Value } {
    if (!capacity) return {};
    let v: Value | null = null;
    return { timesteps: () => (v ??= b.param('timesteps', [], 'int32')) };
  }

  /** Inputs padded to `capacity` steps, the length they had, and a function that cuts sequence outputs back to it. */
  padInputs(xs: readonly Tensor[]): { xs: Tensor[]; steps: number; capacity: number } {
    if (!this.runtimeSteps) return { xs: [...xs], steps: 0, capacity: 0 };
    const steps = stepsOf(this.name, xs, this.inputShapes);
    const capacity = this.capacityFor(steps);
    return { xs: xs.map((t, i) => (hasRuntimeSteps(this.inputShapes[i]) ? padSteps(t, capacity) : t)), steps, capacity };
  }

  /**
   * The inference graph for a fixed batch size (and `capacity` steps for
   * inputs with timesteps=None); in the training phase
   * (K.function with learning phase 1) dropout and noise are active, keyed
   * by an int32 input param `phase_step`.
   */
  buildGraph(batch: number, training = false, capacity = 0): ReturnType<GraphBuilder['build']> {
    if (this.runtimeSteps && !capacity) throw new Error(`Model ${this.name} has inputs with timesteps=None ${this.inputShapes.filter(hasRuntimeSteps).map(shapeText).join(', ')}: its programs are built for a capacity of steps (predict and fit choose one); give a capacity, or the sequence length in the input shape (bundles and ONNX export need a fixed length)`);
    const b = new GraphBuilder();
    const step = training ? b.param('phase_step', [], 'int32') : null;
    const ctx: CallContext = {
      ...Network.timestepsParam(b, capacity),
      training,
      random: (seed, shape) => {
        if (!step) throw new Error('random values are only drawn in training programs');
        return b.random(seed, shape, step);
      },
      weight: Network.weightParams(b, 'weight'),
      state: (name, shape) => {
        const value = b.param(name, shape, 'float32', 'state');
        return { value, set: (next) => void updates.push({ target: value, value: next }) };
      },
    };
    const updates: { target: Value; value: Value }[] = [];
    const outputs = this.forward(b, this.inputParams(b, batch, capacity), ctx);
    return b.build(outputs, updates);
  }

  /** Keras's reset_states(): every stateful layer's state back to zeros (they live in the shared state arena, for every program). */
  resetStates(): void {
    const shared = this.shared;
    if (!shared?.allocated) return;
    for (const s of this.keptStates) {
      if (!shared.has(s.name)) continue;
      shared.view(s.name).fill(0);
      shared.commit(s.name);
    }
  }

  /** Compiles in flight, by batch size and phase: concurrent first calls share one compile. */
  private readonly compiling = new Map<string, Promise<Program>>();

  private async program(batch: number, training = false, capacity = 0): Promise<Program> {
    const key = `${batch}${training ? '/train' : ''}${capacity ? `/t${capacity}` : ''}`;
    let p = this.programs.get(key);
    if (!p) {
      // Large weights deferred at build are drawn now, yielding to the event loop.
      await materializeWeights(this.allWeights());
      let pending = this.compiling.get(key);
      if (!pending) {
        const graph = this.buildGraph(batch, training, capacity);
        pending = compileGraph(graph, { backend: this.backend, name: `${this.name}_b${batch}${training ? '_phase1' : ''}${capacity ? `_t${capacity}` : ''}`, shared: this.sharedState() }).then((compiled) => {
          const made = { compiled, timesteps: readsTimesteps(graph) };
          this.programs.set(key, made);
          this.lastStats = compiled.stats;
          return made;
        }).finally(() => this.compiling.delete(key));
        this.compiling.set(key, pending);
      }
      p = await pending;
    }
    this.syncShared();
    return p;
  }

  /** The model's outputs on standardized inputs, in batches; `training` runs the learning phase 1 (K.function). */
  async run(given: readonly Tensor[], batchSize: number, training = false): Promise<Tensor[]> {
    const { xs: inputs, steps, capacity } = this.padInputs(given);
    const batch = programBatch(inputs[0].shape[0], batchSize);
    const p = await this.program(batch, training, capacity);
    if (training) p.compiled.write('phase_step', Int32Array.of(this.phaseSteps++));
    if (p.timesteps) p.compiled.write('timesteps', Int32Array.of(steps));
    const outs = await runBatches(p.compiled, batch, inputs, this.outputShapes.map((s) => s.slice(1).map((d, j) => (j === 0 && d === null && capacity ? capacity : d)) as number[]));
    return outs.map((t, i) => (capacity && hasRuntimeSteps(this.outputShapes[i]) ? cutSteps(t, steps) : t));
  }

  private shared: SharedState | null = null;
  private sharedWeights: readonly Weight[] = [];
  private sharedStates = '';

  /**
   * The model's shared state arena: every weight, addressed in place by all of
   * the model's programs (predict, evaluate, train). A new layout is made when
   * the layers change.
   */
  sharedState(): SharedState {
    const weights = this.allWeights();
    const states = this.keptStates;
    const stateKey = states.map((s) => `${s.name}:${s.size}`).join(';');
    const same = weights.length === this.sharedWeights.length && weights.every((w, i) => w === this.sharedWeights[i]) && stateKey === this.sharedStates;
    if (!this.shared || !same) {
      this.detachWeights();
      this.shared?.dispose();
      // Kept states (stateful RNNs) live beside the weights, so predict, evaluate and train programs carry one set.
      this.shared = new SharedState([...weights.map((w) => ({ name: w.name, dtype: 'float32' as const, size: w.value.length })), ...states.map((s) => ({ name: s.name, dtype: 'float32' as const, size: s.size, state: true }))]);
      this.sharedWeights = weights;
      this.sharedStates = stateKey;
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

  /** The model's inputs from `x` (one array, a list, or keyed by input name), each checked against its input spec. */
  standardizeInputs(where: string, x: DataList): Tensor[] {
    // Keras 2 reads a 1-D array as a column: x of shape (N,) for an input of shape (None, 1).
    const xs = standardize(where, 'input', x, this.inputNames).map((t, i) => (this.inputShapes[i].length === 2 ? expandVector(t) : t));
    xs.forEach((t, i) => checkInputShape(this.name, this.inputShapes[i], t.shape, xs.length === 1 ? 'input' : `input ${this.inputNames[i]}`));
    for (const node of this.nodes()) node.inputs.forEach((t) => {
      const i = this.inputs.indexOf(t);
      if (i >= 0) node.layer.checkInputData(where, xs[i]);
    });
    const n = xs[0].shape[0];
    const other = xs.findIndex((t) => t.shape[0] !== n);
    if (other >= 0) throw new Error(`${where}: all input arrays should have the same number of samples. Got array sizes: ${xs.map((t) => t.shape[0]).join(', ')}`);
    return xs;
  }

  /** Runs the model on `x` in batches of `batchSize` (default 32), like Keras's predict: one tensor per output. */
  async predict(x: DataList, options: KerasOptions<PredictOptions> = {}): Promise<Out> {
    options = readOptions('predict', options, PREDICT_OPTIONS);
    checkPredictArgs(options);
    const inputs = this.standardizeInputs('predict', x);
    this.checkStatefulSamples('predict', inputs[0].shape[0], options.batchSize ?? 32, true);
    return unwrap(await this.run(inputs, options.batchSize ?? 32)) as Out;
  }

  /** One batch, no batching (Keras's predict_on_batch); runs padded in the next power-of-two program. */
  async predictOnBatch(x: DataList): Promise<Out> {
    const inputs = this.standardizeInputs('predictOnBatch', x);
    return this.predict(inputs, { batchSize: programBatch(inputs[0].shape[0], Infinity) });
  }

  /** Class indices: argmax over the last axis, or probability > 0.5 for a single unit (a model of one output). */
  async predictClasses(x: DataList, options: PredictOptions = {}): Promise<Tensor> {
    const p = await this.predict(x, options);
    if (!(p instanceof Tensor)) throw new Error(`predictClasses: model ${this.name} has ${p.length} outputs; it needs a model of one output`);
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
  predictProba(x: DataList, options: PredictOptions = {}): Promise<Out> {
    return this.predict(x, options);
  }

  private trainer: Trainer | null = null;
  /** Set by callbacks (EarlyStopping, TerminateOnNaN) to end fit() after the current batch. */
  stopTraining = false;

  /** Configures training: optimizer, loss and metrics (names or objects, per output as a list or keyed by output name), as Keras's compile. */
  compile(args: CompileArgs): void {
    this.trainer?.dispose();
    this.useBackend(args.backend);
    this.trainer = new Trainer(this, args);
  }

  /** The training state of a compiled model (null before compile): model files read and restore its optimizer state. */
  get trainingState(): Trainer | null {
    return this.trainer;
  }

  private compiled(): Trainer {
    if (!this.trainer) throw new Error(`Model ${this.name} must be compiled before training or evaluating: call model.compile({ optimizer, loss })`);
    return this.trainer;
  }

  /** Compile statistics of the train-step program (after the first training step). */
  get trainCompileStats(): CompileStats | null {
    return this.trainer?.trainStats ?? null;
  }

  /** Keras's metrics_names: 'loss', each output's loss (several outputs), then the compiled metrics. */
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

  async fit(x: DataList, y: DataList, args: FitArgs = {}): Promise<History> {
    return this.compiled().fit(x, y, args);
  }

  /**
   * Loss and metrics on (x, y): a number with no metrics, else [loss,
   * ...metrics] (Keras's convention); with `returnDict: true`, an object
   * keyed by metricsNames, typed so that no cast is needed.
   */
  async evaluate(x: DataList, y: DataList, args: EvaluateArgs & { readonly returnDict: true }): Promise<Record<string, number>>;
  async evaluate(x: DataList, y: DataList, args?: EvaluateArgs): Promise<number | number[]>;
  async evaluate(x: DataList, y: DataList, args: EvaluateArgs = {}): Promise<number | number[] | Record<string, number>> {
    const outs = await this.compiled().evaluate(x, y, args);
    const dict = (args as { returnDict?: boolean; return_dict?: boolean }).returnDict ?? (args as { return_dict?: boolean }).return_dict;
    return dict ? Object.fromEntries(this.metricsNames.map((m, i) => [m, outs[i]])) : unwrap(outs);
  }

  async trainOnBatch(x: DataList, y: DataList, sampleWeight?: DataList): Promise<number | number[]> {
    return unwrap(await this.compiled().trainOnBatch(x, y, sampleWeight));
  }

  async testOnBatch(x: DataList, y: DataList, sampleWeight?: DataList): Promise<number | number[]> {
    return unwrap(await this.compiled().testOnBatch(x, y, sampleWeight));
  }

  /** Trains on batches [x, y] or [x, y, sampleWeight] from an (async) iterable (Keras's fit_generator). */
  async fitGenerator(source: BatchSource<Batch>, args: GeneratorFitArgs): Promise<History> {
    return this.compiled().fitGenerator(source, args);
  }

  async evaluateGenerator(source: BatchSource<Batch>, args: { steps: number; maxQueueSize?: number }): Promise<number | number[]> {
    return unwrap(await this.compiled().evaluateGenerator(source, args));
  }

  /** Predictions for `steps` input batches from an (async) iterable, concatenated (Keras's predict_generator). */
  async predictGenerator(source: BatchSource<DataList | readonly [DataList, ...unknown[]]>, args: KerasOptions<GeneratorOptions>): Promise<Out> {
    args = readOptions('predictGenerator', args, GENERATOR_OPTIONS);
    checkGeneratorArgs('predictGenerator', args, 'steps');
    const queue = new Prefetcher(source, args.maxQueueSize ?? 10);
    const parts: Tensor[][] = [];
    for (let s = 0; s < args.steps; s++) {
      const item = await queue.next();
      if (!item) throw new Error(`predictGenerator: the source ran out after ${s} of ${args.steps} batches`);
      // A batch is x alone, or [x, y, ...] as fitGenerator takes it.
      const x = Array.isArray(item) && item.length > 1 && this.inputs.length === 1 && item[0] instanceof Tensor ? item[0] as DataList : item as DataList;
      const xs = this.standardizeInputs('predictGenerator', x);
      const out = await this.predict(xs, { batchSize: Math.max(1, xs[0].shape[0]) });
      parts.push(out instanceof Tensor ? [out] : out);
    }
    return unwrap(this.outputs.map((_, i) => concatRows(parts.map((p) => p[i])))) as Out;
  }

  /** Writes the weights (Keras's save_weights): Keras 2's HDF5 layout, or Keras 3's for a `.weights.h5` path; atomic. */
  async saveWeights(path: string): Promise<void> {
    const { saveWeightsFile } = await import('../weights_file.js');
    await saveWeightsFile(path, this.layers, this.name);
  }

  /** Reads weights saved by Kiln or Keras 2/3: layer by layer in order, or `byName`; `skipMismatch` skips layers that do not fit. */
  async loadWeights(path: string, options: LoadWeightsOptions = {}): Promise<void> {
    const { loadWeightsFile } = await import('../weights_file.js');
    await loadWeightsFile(path, this.layers, options);
  }

  /** Saves the whole model (Keras's model.save): config, weights, training config, optimizer state; the extension picks the format (.h5, .keras, .json). */
  async save(path: string, options: SaveModelOptions = {}): Promise<void> {
    const { saveModel } = await import('../io/load_model.js');
    await saveModel(this as never, path, options);
  }

  /** The model's Keras 2 config as YAML (Keras's to_yaml); load it with modelFromYAML. */
  toYAML(): string {
    return yamlPackage().stringify(JSON.parse(this.toJSON()));
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
