/**
 * Keras's Lambda layer: a TypeScript function written with `K`, traced into
 * the compiled program (never run per step). Saved models store the
 * function's registered name; loading resolves it through customObjects or
 * registerCustomObject and refuses Python bytecode, so a file never brings
 * code.
 */
import type { KTensor } from '../backend.js';
import { type CustomObjects, customObject, customObjectNames } from '../custom_objects.js';
import { type KShape, Layer, type LayerArgs } from './base.js';

export type LambdaFunction = (inputs: KTensor | KTensor[], args: Readonly<Record<string, unknown>>) => KTensor | KTensor[];

export interface LambdaArgs extends LayerArgs {
  /** The output shape without the batch axis, or a function of the input shape(s) (with it); inferred by tracing when absent. */
  readonly outputShape?: readonly (number | null)[] | ((inputShape: KShape | KShape[]) => KShape);
  /** Keyword arguments passed to the function (Keras's `arguments`). */
  readonly arguments?: Readonly<Record<string, unknown>>;
  /** The name the function is saved under (default: the function's own name). */
  readonly functionName?: string;
}

export class Lambda extends Layer {
  /** Its options, also while an unnamed function keeps it from writing a config. */
  static readonly optionsBeyondConfig: readonly string[] = ['outputShape', 'arguments', 'functionName'];
  readonly className = 'Lambda';
  readonly outputShapeArg: LambdaArgs['outputShape'];
  readonly arguments: Readonly<Record<string, unknown>>;
  readonly functionName: string;

  constructor(readonly fn: LambdaFunction, args: LambdaArgs = {}) {
    super(args);
    if (typeof fn !== 'function') throw new Error(`Lambda ${this.name}: the first argument must be a function written with K, got ${typeof fn}`);
    this.outputShapeArg = args.outputShape;
    this.arguments = args.arguments ?? {};
    this.functionName = args.functionName ?? fn.name;
  }

  override call(inputs: KTensor | KTensor[]): KTensor | KTensor[] {
    return this.fn(inputs, this.arguments);
  }

  override computeOutputShapes(shapes: readonly KShape[]): KShape[] {
    const given = this.outputShapeArg;
    if (given === undefined) return super.computeOutputShapes(shapes);
    if (typeof given === 'function') return [given(shapes.length === 1 ? shapes[0] : [...shapes])];
    return [[shapes[0][0], ...given]];
  }

  protected override layerConfig(): Record<string, unknown> {
    if (!this.functionName) throw new Error(`Lambda ${this.name}: its function has no name to save it under; pass functionName and register the function with registerCustomObject(name, fn) to load the model again`);
    const shape = this.outputShapeArg;
    return { function: this.functionName, functionType: 'function', module: 'kiln', outputShape: typeof shape === 'function' ? null : shape ?? null, outputShapeType: 'raw', arguments: this.arguments };
  }

  /** A Lambda from a Keras config: the function by its registered name; Python bytecode is refused. */
  static fromConfig(config: Record<string, unknown>, customObjects: CustomObjects = {}): Lambda {
    const name = typeof config.name === 'string' ? config.name : 'lambda';
    if (config.functionType === 'lambda' || Array.isArray(config.function)) {
      throw new Error(`Lambda layer ${name} holds Python bytecode; Kiln never runs code from a file. Write the function in TypeScript with K, register it with registerCustomObject(name, fn) (or pass customObjects) and name it in the config`);
    }
    const fnName = config.function;
    if (typeof fnName !== 'string') throw new Error(`Lambda layer ${name}: 'function' must name a registered function, got ${JSON.stringify(fnName)}`);
    const fn = customObject(fnName, customObjects);
    if (typeof fn !== 'function') throw new Error(`Lambda layer ${name} needs the function '${fnName}': pass it in customObjects or registerCustomObject('${fnName}', fn). Registered names: ${customObjectNames(customObjects).join(', ') || '(none)'}`);
    const shape = config.outputShape;
    return new Lambda(fn as LambdaFunction, {
      name,
      trainable: config.trainable as boolean | undefined,
      batchInputShape: config.batchInputShape as (number | null)[] | undefined,
      functionName: fnName,
      arguments: (config.arguments as Record<string, unknown> | undefined) ?? {},
      outputShape: Array.isArray(shape) ? (shape as (number | null)[]) : undefined,
    });
  }
}
