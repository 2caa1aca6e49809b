/**
 * Reverse-mode autodiff over the tensor IR: copies the forward graph, then
 * walks it backwards, calling each op's vjp (ir/vjp.ts) and summing the
 * cotangents of values used more than once. The result is plain IR: the
 * gradient graph goes through simplify, fusion and memory planning like any
 * other. A training program enters the TRAIN pipeline as a TrainSource
 * (the forward graph, what to differentiate, and how the step uses the
 * gradients); `differentiate` is its first pass.
 */
import { type Graph, GraphBuilder, type Value } from '../ir/graph.js';
import { printGraph } from '../ir/print.js';
import type { AttrsMap, OpAttrs, OpName } from '../ir/ops.js';
import { VJP } from '../ir/vjp.js';

export interface GradResult {
  readonly builder: GraphBuilder;
  /** The forward graph's outputs in the new builder. */
  readonly outputs: readonly Value[];
  /** Gradient of `loss` with respect to each requested param (zeros when unrelated). */
  readonly grads: readonly Value[];
}

/** Differentiates scalar output `lossIndex` of `graph` with respect to the params named `wrt`. */
export function grad(graph: Graph, lossIndex: number, wrt: readonly string[]): GradResult {
  const b = new GraphBuilder();
  const values: Value[] = [];
  for (const n of graph.nodes) values.push(b.op(n.op as OpName, n.inputs.map((i) => values[i]), n.attrs as OpAttrs[OpName]));
  const lossId = graph.outputs[lossIndex];
  const loss = values[lossId];
  if (loss.shape.length !== 0) throw new Error(`grad: the loss must be a scalar, got shape [${loss.shape.join(', ')}]`);
  const ct: (Value | undefined)[] = [];
  ct[lossId] = b.constant(1, [], loss.dtype);
  for (let id = lossId; id >= 0; id--) {
    const g = ct[id];
    const n = graph.nodes[id];
    if (!g || n.inputs.length === 0) continue;
    const vjp = VJP[n.op] as (bb: GraphBuilder, args: { inputs: Value[]; out: Value; attrs: unknown; g: Value }) => readonly (Value | null)[];
    const parts = b.scoped(`grad of %${id} (${n.op})`, () => vjp(b, { inputs: n.inputs.map((i) => values[i]), out: values[id], attrs: n.attrs, g }));
    n.inputs.forEach((input, k) => {
      const part = parts[k];
      if (!part) return;
      const prev = ct[input];
      ct[input] = prev ? b.add(prev, part) : part;
    });
  }
  const byName = new Map(graph.nodes.filter((n) => n.op === 'param').map((n) => [(n.attrs as AttrsMap['param']).name, n.id]));
  const grads = wrt.map((name) => {
    const id = byName.get(name);
    if (id === undefined) throw new Error(`grad: no param named '${name}'. Params: ${[...byName.keys()].join(', ')}`);
    return ct[id] ?? b.broadcastTo(b.constant(0, [], values[id].dtype), values[id].shape);
  });
  return { builder: b, outputs: graph.outputs.map((o) => values[o]), grads };
}

/** What a training step computes from the gradients: its outputs and its state updates, built on the gradient graph's builder. */
export interface StepGraph {
  readonly outputs: readonly Value[];
  readonly updates: readonly { readonly target: Value; readonly value: Value }[];
}

/** A program still to be differentiated: the input of the TRAIN pipeline. */
export interface TrainSource {
  readonly kind: 'train';
  /** The forward graph: the loss, metrics, and any values the step reads. */
  readonly forward: Graph;
  /** The forward output to differentiate (a scalar). */
  readonly loss: number;
  /** The params to differentiate with respect to, by name. */
  readonly wrt: readonly string[];
  /**
   * Builds the step on the gradient graph's builder, which copies the forward
   * graph node for node (a value of the forward builder names the same node
   * there). `grads` follow `wrt`.
   */
  readonly step: (b: GraphBuilder, grads: readonly Value[]) => StepGraph;
}

export function isTrainSource(x: Graph | TrainSource): x is TrainSource {
  return (x as TrainSource).kind === 'train';
}

/** The autodiff pass: the forward graph, its backward pass and the step as one graph. */
export function differentiate(source: TrainSource): Graph {
  const { builder, grads } = grad(source.forward, source.loss, source.wrt);
  const step = source.step(builder, grads);
  return builder.build([...step.outputs], step.updates.map((u) => ({ target: u.target, value: u.value })));
}

export function printTrainSource(source: TrainSource): string {
  return `${printGraph(source.forward)}\ndifferentiate %${source.forward.outputs[source.loss]} with respect to ${source.wrt.join(', ')}`;
}
