/**
 * Train and test programs. A training step is one graph: the forward pass in
 * the training phase (dropout active, randomness keyed by the step counter),
 * the loss weighted by sample weights, metrics, the backward pass from
 * passes/autodiff, and the optimizer's update of every weight and slot as
 * state updates, so weights, slots and the counter stay resident in the
 * program between steps and only a batch goes in.
 *
 * Params: input, target, sample_weight (0 marks padding in a partial last
 * batch), with a suffix _i per model input or output when there are
 * several (input_0, target_1, ...), and state: the weights by name, optimizer slots
 * (`<weight>/<slot>`), optimizer globals (`optimizer/<name>`), `iterations`
 * (int32) and `lr`, stateful layers' states (`<layer>/state_<i>`, kept
 * from batch to batch); `timesteps` (int32) for inputs with timesteps=None.
 */
import { type Shape, sameShape } from '../../ir/dtype.js';
import { type Graph, GraphBuilder, type Value } from '../../ir/graph.js';
import type { StepGraph, TrainSource } from '../../passes/autodiff.js';
import type { CallContext, Weight } from '../layers/base.js';
import type { Loss } from '../losses.js';
import type { Metric } from '../metrics.js';
import { Network } from '../models/network.js';
import { hasRuntimeSteps } from '../models/dynamic_time.js';
import type { Tensor } from '../tensor.js';
import { paramNames } from './standardize.js';
import type { Optimizer } from '../optimizers.js';

/** The loss and metrics of one model output. */
export interface OutputSetup {
  /** The output's name (Keras's output_names: the producing layer's name). */
  readonly name: string;
  readonly loss: { readonly name: string; readonly fn: Loss };
  /** Scales this output's loss in the total (Keras's loss_weights). */
  readonly lossWeight: number;
  /** > 0 for sampleWeightMode 'temporal': sample weights have shape [batch, timesteps]. */
  readonly timesteps: number;
  /** sampleWeightMode 'temporal' on an output with timesteps=None: sample weights have shape [batch, steps of the data]. */
  readonly temporalAtRunTime?: boolean;
  readonly metrics: readonly { readonly name: string; readonly fn: Metric }[];
}

export interface TrainSetup {
  /** One entry per model output, in the model's order. */
  readonly outputs: readonly OutputSetup[];
  readonly optimizer: Optimizer;
  /** The weights the optimizer updates (and keeps slots for), fixed at compile() as in Keras. */
  readonly trainable: readonly Weight[];
}

/** Weights that are trainable and belong to a trainable layer (nested models included): what compile() snapshots for the optimizer. */
export function trainableWeights(net: Network<Tensor | Tensor[]>): Weight[] {
  return [...net.trainableWeights];
}

export const slotName = (w: Weight, slot: string): string => `${w.name}/${slot}`;
export const globalName = (name: string): string => `optimizer/${name}`;

interface Scored {
  readonly b: GraphBuilder;
  readonly outputs: Value[];
}

/**
 * Forward pass, weighted losses and masked metrics. Outputs: the total loss,
 * each output's loss when there are several, then each output's metrics.
 */
function score(net: Network<Tensor | Tensor[]>, b: GraphBuilder, batch: number, targetShapes: readonly Shape[], setup: TrainSetup, ctx: CallContext, capacity: number): Scored {
  const n = setup.outputs.length;
  const targetNames = paramNames('target', n);
  const weightNames = paramNames('sample_weight', n);
  const penalties: Value[] = [];
  const { outputs: preds, masks: given } = net.forwardWithMasks(b, net.inputParams(b, batch, capacity), { ...ctx, addLoss: (v) => void penalties.push(v) });
  // Sequence outputs of a run-time length leave the padded steps out: by a mask of the real steps, or, with temporal
  // sample weights, by the zero weights the host writes there (a layer's own mask then counts over the real steps).
  const realSteps = (i: number): boolean => !!capacity && hasRuntimeSteps(net.outputShapes[i]);
  const temporalAtRunTime = (i: number): boolean => realSteps(i) && !!setup.outputs[i].temporalAtRunTime;
  const masks = given.map((m, i) => (realSteps(i) && (m || !temporalAtRunTime(i)) ? stepsMask(b, ctx, m, [batch, capacity], setup.outputs[i].name) : m));
  for (const w of net.allWeights()) {
    if (w.regularizer) penalties.push(b.scoped(`${w.name} regularizer`, () => w.regularizer!(b, ctx.weight(w))));
  }
  const losses: Value[] = [];
  const metrics: Value[] = [];
  setup.outputs.forEach((out, i) => {
    const prefix = n > 1 ? `${out.name} ` : '';
    const target = b.param(targetNames[i], [batch, ...targetShapes[i]]);
    const weights = b.param(weightNames[i], out.timesteps ? [batch, out.timesteps] : out.temporalAtRunTime ? [batch, capacity] : [batch]);
    // Keras averages a loss over any axes past the sample axis (e.g. timesteps) before weighting.
    const mask = b.cast(b.binary('ne', weights, 0), 'float32');
    const masked = (v: Value): Value => {
      if (!masks[i]) return v;
      if (capacity && hasRuntimeSteps(net.outputShapes[i]) && !sameShape(v.shape, masks[i]!.shape)) throw new Error(`Output '${out.name}' has timesteps=None: its loss and metrics must give one value per sample and step (shape [${masks[i]!.shape.join(', ')}]) so that padded steps can be left out, got shape [${v.shape.join(', ')}]`);
      return applyOutputMask(b, v, masks[i]!, mask, temporalAtRunTime(i) ? ctx.timesteps!() : null);
    };
    const perSample = perBatchRow(b, masked(b.scoped(`${prefix}loss`, () => out.loss.fn(b, target, preds[i]))), weights.shape, setup, `loss ${out.loss.name}`);
    losses.push(b.div(b.sum(b.mul(perSample, weights)), b.maximum(b.sum(mask), 1)));
    // Metrics are unweighted, over the samples that carry any weight (padding rows carry none).
    const rows = mask.shape.length === 1 ? mask : b.max(mask, 1);
    const count = b.maximum(b.sum(rows), 1);
    for (const m of out.metrics) metrics.push(b.scoped(`${prefix}metric ${m.name}`, () => b.div(b.sum(b.mul(perBatchRow(b, masked(m.fn(b, target, preds[i])), rows.shape, setup, `metric ${m.name}`), rows)), count)));
  });
  // Keras 2's total loss: the outputs' weighted data losses plus every regularization penalty.
  const data = losses.map((l, i) => (setup.outputs[i].lossWeight === 1 ? l : b.mul(l, setup.outputs[i].lossWeight))).reduce((t, l) => b.add(t, l));
  const loss = penalties.reduce((total, p) => b.add(total, p), data);
  return { b, outputs: [loss, ...(n > 1 ? losses : []), ...metrics] };
}

/**
 * The steps of a sequence output with timesteps=None that hold data: those
 * before the run-time length (the program's capacity pads past it), and
 * within the layers' own mask where there is one.
 */
function stepsMask(b: GraphBuilder, ctx: CallContext, mask: Value | null, shape: Shape, output: string): Value {
  if (!ctx.timesteps) throw new Error(`Output '${output}' has timesteps=None, but the program was built without a run-time length`);
  const valid = b.binary('lt', b.iota(shape, 1), ctx.timesteps());
  if (!mask) return valid;
  if (!sameShape(mask.shape, shape)) throw new Error(`Output '${output}': its mask has shape [${mask.shape.join(', ')}], expected [${shape.join(', ')}] for a sequence output`);
  return b.binary('and', b.cast(mask, 'bool'), valid);
}

/**
 * Keras 2's weighted_masked_objective: a per-step loss or metric times the
 * output's mask, over the mean of the mask, so masked steps (padding of a
 * sequence) count for nothing. The mean runs over the rows that carry data.
 */
function applyOutputMask(b: GraphBuilder, score: Value, mask: Value, weighted: Value, stepsAtRunTime: Value | null = null): Value {
  if (score.shape.length !== mask.shape.length || score.shape.some((d, i) => d !== mask.shape[i])) return score;
  const rows = weighted.shape.length === 1 ? weighted : b.max(weighted, 1);
  const keep = b.mul(b.cast(mask, 'float32'), b.reshape(rows, [rows.shape[0], ...mask.shape.slice(1).map(() => 1)]));
  const steps = stepsAtRunTime ? b.cast(stepsAtRunTime, 'float32') : mask.shape.slice(1).reduce((p, d) => p * d, 1);
  const mean = b.div(b.sum(keep), b.maximum(b.mul(b.sum(rows), steps), 1));
  return b.div(b.mul(score, keep), b.maximum(mean, 1e-12));
}

/** Setups with a loss or metric that reduces over the batch (K.mean(y_pred)): partial batches of these run unpadded. */
const BATCH_REDUCED = new WeakSet<TrainSetup>();
export const reducesOverBatch = (setup: TrainSetup): boolean => BATCH_REDUCED.has(setup);

/**
 * Averages a loss or metric over its axes past the batch (and timesteps in
 * temporal mode: `rows` is the sample weights' shape). One reduced to a
 * scalar counts for every row, as Keras's weighting broadcasts it.
 */
function perBatchRow(b: GraphBuilder, v: Value, rows: Shape, setup: TrainSetup, what: string): Value {
  const keep = rows.length;
  if (v.shape.length === 0) {
    BATCH_REDUCED.add(setup);
    return b.broadcastTo(v, rows);
  }
  if (v.shape.length < keep || v.shape.some((d, i) => i < keep && d !== rows[i])) {
    throw new Error(`The ${what} must give one value per sample${keep > 1 ? ' and timestep' : ''} (shape [${rows.join(', ')}, ...]) or one scalar for the batch, got shape [${v.shape.join(', ')}]`);
  }
  return v.shape.length === keep ? v : b.mean(v, v.shape.map((_, i) => i).slice(keep));
}

/** Stateful layers' states as state params of `b`, and the updates that keep each batch's final states for the next (Keras's state_updates). */
function keptStates(b: GraphBuilder): { state: NonNullable<CallContext['state']>; updates: { target: Value; value: Value }[] } {
  const updates: { target: Value; value: Value }[] = [];
  return {
    updates,
    state: (name, shape) => {
      const value = b.param(name, shape, 'float32', 'state');
      return { value, set: (next) => void updates.push({ target: value, value: next }) };
    },
  };
}

export function testGraph(net: Network<Tensor | Tensor[]>, batch: number, targetShapes: readonly Shape[], setup: TrainSetup, capacity = 0): Graph {
  const b = new GraphBuilder();
  const kept = keptStates(b);
  const ctx: CallContext = {
    ...Network.timestepsParam(b, capacity),
    state: kept.state,
    training: false,
    weight: Network.weightParams(b, 'weight'),
    random: () => {
      throw new Error('random values are only drawn in training programs');
    },
  };
  const { outputs } = score(net, b, batch, targetShapes, setup, ctx, capacity);
  return b.build(outputs, kept.updates);
}

/**
 * The training step, still to be differentiated: the TRAIN pipeline's
 * autodiff pass adds the backward pass and this step's optimizer updates.
 */
export function trainGraph(net: Network<Tensor | Tensor[]>, batch: number, targetShapes: readonly Shape[], setup: TrainSetup, capacity = 0): TrainSource {
  const b = new GraphBuilder();
  const iterations = b.param('iterations', [], 'int32', 'state');
  const lr = b.param('lr', [], 'float32', 'state');
  const stateUpdates: { w: Weight; value: Value }[] = [];
  const kept = keptStates(b);
  const ctx: CallContext = {
    ...Network.timestepsParam(b, capacity),
    state: kept.state,
    training: true,
    weight: Network.weightParams(b, 'state'),
    random: (seed, shape) => b.random(seed, shape, iterations),
    addUpdate: (w, value) => {
      if (w.trainable) throw new Error(`addUpdate: ${w.name} is trainable; only non-trainable weights take updates from layers`);
      stateUpdates.push({ w, value });
      BATCH_REDUCED.add(setup);
    },
    reducesOverBatch: () => void BATCH_REDUCED.add(setup),
  };
  const { outputs } = score(net, b, batch, targetShapes, setup, ctx, capacity);
  const trainable = setup.trainable;
  const params = trainable.map((w) => ctx.weight(w));
  const slots = trainable.map((w) => setup.optimizer.slotNames.map((s) => b.param(slotName(w, s), w.shape, 'float32', 'state')));
  const globals = setup.optimizer.globals.map((g) => b.param(globalName(g.name), [], 'float32', 'state'));
  // The step runs on the gradient graph's builder, which copies `b` node for node: values of `b` name the same nodes there.
  const step = (builder: GraphBuilder, grads: readonly Value[]): StepGraph => {
    const opt = setup.optimizer.step(builder, params.map((p, i) => ({ param: p, grad: grads[i], slots: slots[i] })), { iterations: builder.cast(iterations, 'float32'), lr }, globals);
    const constrained = opt.params.map((v, i) => (trainable[i].constraint ? trainable[i].constraint!(builder, v) : v));
    const updates = [
      ...params.map((p, i) => ({ target: p, value: constrained[i] })),
      ...slots.flatMap((ss, i) => ss.map((s, j) => ({ target: s, value: opt.slots[i][j] }))),
      ...globals.map((g, i) => ({ target: g, value: opt.globals[i] })),
      { target: iterations, value: builder.add(iterations, builder.constant(1, [], 'int32')) },
      // Layers' own updates (moving statistics) were built in the forward graph, which builder copies node for node.
      ...stateUpdates.map((u) => ({ target: ctx.weight(u.w), value: u.value })),
      // Stateful layers' final states, for the next batch.
      ...kept.updates,
    ];
    return { outputs, updates };
  };
  return { kind: 'train', forward: b.build(outputs), loss: 0, wrt: trainable.map((w) => w.name), step };
}
