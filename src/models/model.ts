/** Functional models: `Input()`, `layer.apply(x)`, `new Model({ inputs, outputs })`. */
import { type KShape, type Layer, SymbolicTensor, uniqueName } from '../layers/base.js';
import { InputLayer } from '../layers/core.js';
import { Network, type Step } from './network.js';
import { functionalFromConfig, modelToJSON, toCamelCase } from '../serialization.js';

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
  return new SymbolicTensor(layer.batchInputShape!, layer, []);
}

function one(x: SymbolicTensor | readonly SymbolicTensor[], what: string): SymbolicTensor {
  const list = Array.isArray(x) ? x : [x];
  if (list.length !== 1) throw new Error(`Model: ${what} must be a single tensor for now (multi-input/output models come with the merge layers), got ${list.length}`);
  const t = list[0] as SymbolicTensor;
  if (!(t instanceof SymbolicTensor)) throw new Error(`Model: ${what} must come from Input() or layer.apply()`);
  return t;
}

export class Model extends Network {
  readonly input: SymbolicTensor;
  readonly output: SymbolicTensor;
  private readonly order: SymbolicTensor[];

  constructor(args: { inputs: SymbolicTensor | readonly SymbolicTensor[]; outputs: SymbolicTensor | readonly SymbolicTensor[]; name?: string }) {
    super(args.name ?? uniqueName('model'));
    this.input = one(args.inputs, 'inputs');
    this.output = one(args.outputs, 'outputs');
    if (!(this.input.layer instanceof InputLayer)) throw new Error('Model: inputs must come from Input()');
    // Post-order walk from the output: every tensor after the tensors it reads.
    const order: SymbolicTensor[] = [];
    const seen = new Set<SymbolicTensor>();
    const visit = (t: SymbolicTensor): void => {
      if (seen.has(t)) return;
      seen.add(t);
      for (const i of t.inputs) visit(i);
      order.push(t);
    };
    visit(this.output);
    if (!seen.has(this.input)) throw new Error(`Model ${this.name}: the outputs do not depend on the given input (${this.input.layer.name})`);
    const stray = order.find((t) => t.inputs.length === 0 && t !== this.input);
    if (stray) throw new Error(`Model ${this.name}: the outputs depend on ${stray.layer.name}, which is not among the model's inputs`);
    const names = new Set<string>();
    for (const layer of new Set(order.map((t) => t.layer))) {
      if (names.has(layer.name)) throw new Error(`Model ${this.name}: two layers are named '${layer.name}'; layer names must be unique`);
      names.add(layer.name);
    }
    this.order = order;
  }

  get layers(): readonly Layer[] {
    return [...new Set(this.order.map((t) => t.layer))];
  }

  /** Keras's model.inputs / model.outputs (one each for now). */
  get inputs(): readonly SymbolicTensor[] {
    return [this.input];
  }

  get outputs(): readonly SymbolicTensor[] {
    return [this.output];
  }

  /** Keras 2 JSON (snake_case), as Keras's `model.to_json()`; load it with modelFromJSON. */
  toJSON(): string {
    return modelToJSON(this);
  }

  /** A model from a Keras 2 functional config (snake_case as in JSON files, or camelCase). */
  static fromConfig(config: object): Model {
    return functionalFromConfig(toCamelCase(config));
  }

  get inputShape(): KShape {
    return this.input.shape;
  }

  get outputShape(): KShape {
    return this.output.shape;
  }

  protected steps(): readonly Step[] {
    const body = this.order.filter((t) => t !== this.input);
    const index = new Map<SymbolicTensor, number>(body.map((t, i) => [t, i]));
    return body.map((t) => ({ layer: t.layer, inputs: t.inputs.map((i) => (i === this.input ? -1 : index.get(i)!)), outputShape: t.shape }));
  }

  protected override summaryRows(): { layer: Layer; output: KShape }[] {
    return this.order.map((t) => ({ layer: t.layer, output: t.shape }));
  }

  /** Keras 2 functional config (camelCase here; see serialization). */
  getConfig(): Record<string, unknown> {
    const layers = this.order.map((t) => ({
      name: t.layer.name,
      className: t.layer.className,
      config: t.layer.getConfig(),
      inboundNodes: t.inputs.length ? [t.inputs.map((i) => [i.layer.name, 0, 0, {}])] : [],
    }));
    return { name: this.name, layers, inputLayers: [[this.input.layer.name, 0, 0]], outputLayers: [[this.output.layer.name, 0, 0]] };
  }
}
