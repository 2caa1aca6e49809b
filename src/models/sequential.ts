/** Sequential: a linear stack of layers (Keras's list constructor, add, pop). */
import { type KShape, type Layer, shapeText } from '../layers/base.js';
import { InputLayer } from '../layers/core.js';
import { Network, type Step } from './network.js';
import { uniqueName } from '../layers/base.js';
import { modelToJSON, sequentialFromConfig, toCamelCase } from '../serialization.js';

export class Sequential extends Network {
  private readonly stack: Layer[] = [];
  private input: KShape | null = null;
  private shapes: KShape[] = [];

  constructor(layers: readonly Layer[] = [], options: { name?: string } = {}) {
    super(options.name ?? uniqueName('sequential'));
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
      if (this.stack.length || this.input) throw new Error(`An InputLayer can only be the first layer of Sequential model ${this.name}`);
      this.input = layer.batchInputShape;
      return;
    }
    if (!this.input) {
      if (!layer.batchInputShape) throw new Error(`The first layer of Sequential model ${this.name} (${layer.name}) needs an inputShape`);
      this.input = layer.batchInputShape;
    }
    const inShape = this.shapes.length ? this.shapes[this.shapes.length - 1] : this.input;
    this.shapes.push(layer.shapeFor(inShape));
    this.stack.push(layer);
    this.invalidate();
  }

  /** Removes the last layer. */
  pop(): Layer {
    const layer = this.stack.pop();
    if (!layer) throw new Error(`Sequential model ${this.name} has no layers to pop`);
    this.shapes.pop();
    this.invalidate();
    return layer;
  }

  get inputShape(): KShape {
    if (!this.input) throw new Error(`Sequential model ${this.name} has no layers yet`);
    return this.input;
  }

  get outputShape(): KShape {
    return this.shapes.length ? this.shapes[this.shapes.length - 1] : this.inputShape;
  }

  protected steps(): readonly Step[] {
    return this.stack.map((layer, i) => ({ layer, inputs: [i - 1], outputShape: this.shapes[i] }));
  }

  /** Keras 2 Sequential config: {name, layers: [{class_name, config}]} (camelCase here; see serialization). */
  getConfig(): Record<string, unknown> {
    const layers = this.stack.map((l, i) => {
      const config = l.getConfig();
      if (i === 0 && !config.batchInputShape) Object.assign(config, { batchInputShape: this.inputShape, dtype: 'float32' });
      return { className: l.className, config };
    });
    return { name: this.name, layers };
  }

  /** Keras 2 JSON (snake_case), as Keras's `model.to_json()`; load it with modelFromJSON. */
  toJSON(): string {
    return modelToJSON(this);
  }

  override toString(): string {
    return `Sequential(${this.name}: ${shapeText(this.inputShape)} -> ${shapeText(this.outputShape)})`;
  }
}
