/**
 * Functional models: `Input()`, `layer.apply(x)`, `new Model({ inputs, outputs })`
 * with any number of inputs and outputs, shared layers (a layer with several
 * nodes) and models used as layers. The graph is ordered as Keras 2 orders it
 * (nodes and layers by depth from the outputs), so `model.layers` and
 * `getWeights()` come in Keras's order.
 */
import { type KShape, type Layer, Node, SymbolicTensor, shapeText } from '../layers/base.js';
import { connectedSummaryLines, summaryLines } from './summary.js';
import { InputLayer } from '../layers/core.js';
import type { Tensor } from '../tensor.js';
import { Network } from './network.js';
import { functionalConfig, functionalFromConfig, modelToJSON, toCamelCase } from '../serialization.js';

export interface InputArgs {
  readonly shape?: readonly number[];
  readonly batchShape?: KShape;
  readonly batchSize?: number;
  readonly name?: string;
  readonly dtype?: string;
}

/** A symbolic model input (Keras's `Input(shape=...)`). */
export function Input(args: InputArgs): SymbolicTensor {
  if (!args.shape && !args.batchShape) throw new Error('Input() needs shape or batchShape');
  const layer = new InputLayer({ name: args.name, inputShape: args.shape, batchInputShape: args.batchShape, batchSize: args.batchSize, dtype: args.dtype });
  return layer.inboundNodes[0].outputs[0];
}

function tensorList(x: SymbolicTensor | readonly SymbolicTensor[], what: string): readonly SymbolicTensor[] {
  const list: readonly SymbolicTensor[] = Array.isArray(x) ? x : [x as SymbolicTensor];
  if (list.length === 0) throw new Error(`Model: ${what} must hold at least one tensor`);
  const bad = list.findIndex((t) => !(t instanceof SymbolicTensor));
  if (bad >= 0) throw new Error(`Model: ${what} must come from Input() or layer.apply(); item ${bad} is not a symbolic tensor`);
  return list;
}

interface GraphOrder {
  readonly nodes: readonly Node[];
  readonly layers: readonly Layer[];
}

/**
 * Keras 2's graph ordering (Network._init_graph_network): a depth-first walk
 * from the outputs finds the nodes; a node's depth is the longest path to an
 * output; nodes run deepest first; layers are listed by their deepest node,
 * ties in the order the walk first met them.
 */
function orderGraph(name: string, inputs: readonly SymbolicTensor[], outputs: readonly SymbolicTensor[]): GraphOrder {
  const finished = new Set<Node>();
  const inProgress = new Set<Node>();
  const layerIndex = new Map<Layer, number>();
  const decreasingDepth: Node[] = [];
  const visit = (t: SymbolicTensor): void => {
    const node = t.node;
    if (inProgress.has(node)) throw new Error(`Model ${name}: the tensor ${t} at layer "${node.layer.name}" is part of a cycle`);
    if (finished.has(node)) return;
    if (!layerIndex.has(node.layer)) layerIndex.set(node.layer, layerIndex.size);
    inProgress.add(node);
    for (const x of node.inputs) visit(x);
    finished.add(node);
    inProgress.delete(node);
    decreasingDepth.push(node);
  };
  outputs.forEach(visit);
  const nodeDepth = new Map<Node, number>();
  const layerDepth = new Map<Layer, number>();
  for (const node of [...decreasingDepth].reverse()) {
    const depth = Math.max(nodeDepth.get(node) ?? 0, layerDepth.get(node.layer) ?? 0);
    layerDepth.set(node.layer, depth);
    nodeDepth.set(node, depth);
    for (const x of node.inputs) nodeDepth.set(x.node, Math.max(depth + 1, nodeDepth.get(x.node) ?? 0));
  }
  const byDepth = <T>(items: Iterable<T>, depthOf: (x: T) => number, tie: (x: T) => number): T[] =>
    [...items].sort((a, b) => depthOf(b) - depthOf(a) || tie(a) - tie(b));
  const nodes = byDepth(nodeDepth.keys(), (n) => nodeDepth.get(n)!, (n) => decreasingDepth.indexOf(n));
  // Every value must be computable from the inputs: an input layer's node that is not a model input is a disconnect.
  const available = new Set<SymbolicTensor>(inputs);
  const seen: string[] = [];
  for (const node of nodes) {
    if (node.layer instanceof InputLayer) {
      if (!node.outputs.some((t) => available.has(t))) {
        const user = nodes.find((n) => n.inputs.some((x) => x.node === node));
        throw new Error(`Graph disconnected: cannot obtain value for tensor ${node.outputs[0]} at layer "${node.layer.name}"${user ? ` (needed by layer "${user.layer.name}")` : ''}. The following previous layers were accessed without issue: [${seen.map((s) => `'${s}'`).join(', ')}]`);
      }
    } else node.outputs.forEach((t) => available.add(t));
    seen.push(node.layer.name);
  }
  const layers = byDepth(layerDepth.keys(), (l) => layerDepth.get(l)!, (l) => layerIndex.get(l)!);
  return { nodes, layers };
}

/** What predict returns for outputs `O`: one tensor for a single output, else a list. */
export type Predicted<O> = O extends SymbolicTensor ? Tensor : O extends readonly [unknown] ? Tensor : O extends readonly unknown[] ? Tensor[] : Tensor | Tensor[];

export class Model<const O extends SymbolicTensor | readonly SymbolicTensor[] = SymbolicTensor | readonly SymbolicTensor[]> extends Network<Predicted<O>> {
  readonly className: string = 'Model';
  private readonly modelInputs: readonly SymbolicTensor[];
  private readonly modelOutputs: readonly SymbolicTensor[];
  private readonly order: GraphOrder;

  constructor(args: { inputs: SymbolicTensor | readonly SymbolicTensor[]; outputs: O; name?: string }) {
    super(args.name, 'Model');
    this.modelInputs = tensorList(args.inputs, 'inputs');
    this.modelOutputs = tensorList(args.outputs, 'outputs');
    const notInput = this.modelInputs.find((t) => !(t.layer instanceof InputLayer));
    if (notInput) throw new Error(`Model ${this.name}: inputs must come from Input(); ${notInput} was produced by layer ${notInput.layer.name} (${notInput.layer.className})`);
    if (new Set(this.modelInputs).size !== this.modelInputs.length) throw new Error(`Model ${this.name}: an input is given twice`);
    this.order = orderGraph(this.name, this.modelInputs, this.modelOutputs);
    const unused = this.modelInputs.find((t) => !this.order.nodes.includes(t.node));
    if (unused) throw new Error(`Model ${this.name}: the outputs do not depend on the input ${unused.layer.name}`);
    const names = new Set<string>();
    for (const layer of this.order.layers) {
      if (names.has(layer.name)) throw new Error(`Model ${this.name}: the name "${layer.name}" is used 2 times in the model. All layer names should be unique.`);
      names.add(layer.name);
    }
  }

  get inputs(): readonly SymbolicTensor[] {
    return this.modelInputs;
  }

  get outputs(): readonly SymbolicTensor[] {
    return this.modelOutputs;
  }

  get layers(): readonly Layer[] {
    return this.order.layers;
  }

  protected nodes(): readonly Node[] {
    return this.order.nodes.filter((n) => !(n.layer instanceof InputLayer));
  }

  /** Every node of the model, input layers' included, deepest first (for serialization and summary). */
  get graphNodes(): readonly Node[] {
    return this.order.nodes;
  }

  /** A chain of single-input layers, each applied once, prints as Keras's three-column table; any other graph gets "Connected to". */
  private sequentialLike(): boolean {
    const nodes = this.order.nodes;
    const consumers = new Map<SymbolicTensor, number>();
    for (const n of nodes) for (const t of n.inputs) consumers.set(t, (consumers.get(t) ?? 0) + 1);
    const once = this.order.layers.every((l) => l.inboundNodes.filter((n) => nodes.includes(n)).length === 1);
    return once && this.inputs.length === 1 && this.outputs.length === 1 && nodes.every((n) => n.inputs.length <= 1) && [...consumers.values()].every((c) => c === 1);
  }

  protected override summaryTable(): string[] {
    const nodes = this.order.nodes;
    const outputText = (l: Layer): string => {
      const shapes = new Set(l.inboundNodes.filter((n) => nodes.includes(n)).map((n) => n.outputs.map((t) => shapeText(t.shape)).join(', ')));
      if (shapes.size > 1) return 'multiple';
      const [text] = shapes;
      return text.includes('), (') ? `[${text}]` : text;
    };
    if (this.sequentialLike()) return summaryLines(this.name, nodes.map((n) => ({ layer: n.layer, output: n.outputs[0].shape })));
    // Keras prints a node's inputs by their layer's original node index (a nested model's own node is 0).
    const nodeIndex = (t: SymbolicTensor): number => t.nodeIndex + (t.layer instanceof Network ? 1 : 0);
    return connectedSummaryLines(this.name, this.order.layers.map((layer) => ({
      layer,
      output: outputText(layer),
      connections: layer.inboundNodes.filter((n) => nodes.includes(n)).flatMap((n) => n.inputs.map((t) => `${t.layer.name}[${nodeIndex(t)}][${t.index}]`)),
    })));
  }

  /** Keras 2 JSON (snake_case), as Keras's `model.to_json()`; load it with modelFromJSON. */
  toJSON(): string {
    return modelToJSON(this);
  }

  /** A model from a Keras 2 functional config (snake_case as in JSON files, or camelCase). */
  static fromConfig(config: object): Model {
    return functionalFromConfig(toCamelCase(config));
  }

  /** Keras 2 functional config (camelCase here; see serialization). */
  override getConfig(): Record<string, unknown> {
    return functionalConfig(this);
  }
}
