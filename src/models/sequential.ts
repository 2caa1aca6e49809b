/** Sequential: a linear stack of layers (Keras's list constructor, add, pop), a chain of nodes from one input. */
import { type Layer, type Node, type SymbolicTensor, shapeText } from '../layers/base.js';
import { InputLayer } from '../layers/core.js';
import { Network } from './network.js';
import { modelToJSON, sequentialFromConfig, toCamelCase } from '../serialization.js';
import type { Tensor } from '../tensor.js';
import { type KerasOptions, optionSpec, readOptions } from '../options.js';

export interface SequentialArgs {
  readonly name?: string;
}

const SEQUENTIAL_OPTIONS = optionSpec<SequentialArgs>({ name: true });

export class Sequential extends Network<Tensor> {
  readonly className: string = 'Sequential';
  private readonly stack: Layer[] = [];
  private readonly chain: Node[] = [];
  private inputTensor: SymbolicTensor | null = null;

  /** Keras's `Sequential(layers=None, name=None)`: the name positionally or as an option. */
  constructor(layers: readonly Layer[] = [], options: string | KerasOptions<SequentialArgs> = {}) {
    super(typeof options === 'string' ? options : readOptions('Sequential', options, SEQUENTIAL_OPTIONS).name, 'Sequential');
    for (const l of layers) this.add(l);
  }

  get layers(): readonly Layer[] {
    return [...this.stack];
  }

  /** A model from a Keras 2 Sequential config (snake_case as in JSON files, or camelCase). */
  static fromConfig(config: object): Sequential {
    return sequentialFromConfig(toCamelCase(config));
  }

  add(layer: Layer): void {
    if (this.stack.includes(layer)) throw new Error(`Layer ${layer.name} is already in model ${this.name}`);
    if (this.stack.some((l) => l.name === layer.name)) throw new Error(`Model ${this.name} already has a layer named '${layer.name}'; layer names must be unique`);
    if (layer instanceof InputLayer) {
      if (this.stack.length || this.inputTensor) throw new Error(`An InputLayer can only be the first layer of Sequential model ${this.name}`);
      this.inputTensor = layer.inboundNodes[0].outputs[0];
      return;
    }
    if (!this.inputTensor) {
      const shape = layer instanceof Network ? layer.inputShapes[0] : layer.batchInputShape;
      if (!shape) throw new Error(`The first layer of Sequential model ${this.name} (${layer.name}) needs an inputShape`);
      this.inputTensor = new InputLayer({ batchInputShape: shape, name: `${layer.name}_input` }).inboundNodes[0].outputs[0];
    }
    const outs = layer.applyMulti(this.current);
    if (outs.length !== 1) throw new Error(`All layers in a Sequential model should have a single output tensor; layer ${layer.name} has ${outs.length}. For multi-output layers, use the functional API.`);
    this.chain.push(outs[0].node);
    this.stack.push(layer);
    this.invalidate();
  }

  private get current(): SymbolicTensor {
    return this.chain.length ? this.chain[this.chain.length - 1].outputs[0] : this.inputTensor!;
  }

  /** Removes the last layer. */
  pop(): Layer {
    const layer = this.stack.pop();
    if (!layer) throw new Error(`Sequential model ${this.name} has no layers to pop`);
    const node = this.chain.pop()!;
    const at = layer.inboundNodes.indexOf(node);
    if (at >= 0) layer.inboundNodes.splice(at, 1);
    this.invalidate();
    return layer;
  }

  get inputs(): readonly SymbolicTensor[] {
    if (!this.inputTensor) throw new Error(`Sequential model ${this.name} has no layers yet`);
    return [this.inputTensor];
  }

  get outputs(): readonly SymbolicTensor[] {
    return [this.current];
  }

  protected nodes(): readonly Node[] {
    return this.chain;
  }

  /** Keras 2 Sequential config: {name, layers: [{class_name, config}]} (camelCase here; see serialization). */
  override getConfig(): Record<string, unknown> {
    const layers = this.stack.map((l, i) => {
      const config = l.getConfig();
      if (i === 0 && !config.batchInputShape) Object.assign(config, { batchInputShape: this.inputShapes[0], dtype: 'float32' });
      return { className: l.className, config };
    });
    return { name: this.name, layers };
  }

  /** Keras 2 JSON (snake_case), as Keras's `model.to_json()`; load it with modelFromJSON. */
  toJSON(): string {
    return modelToJSON(this);
  }

  override toString(): string {
    return `Sequential(${this.name}: ${shapeText(this.inputShapes[0])} -> ${shapeText(this.outputShapes[0])})`;
  }
}
