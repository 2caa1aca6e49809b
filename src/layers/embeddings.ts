/**
 * Embedding (token ids to rows of a trainable table, Keras's mask_zero and
 * input_length) and Masking (steps whose features all equal mask_value are
 * zeroed and masked for the layers after it).
 */
import type { GraphBuilder, Value } from '../../ir/graph.js';
import type { Tensor } from '../tensor.js';
import type { Initializer, InitializerIdentifier } from '../initializers.js';
import { type Constraint, type Regularizer, getConstraint, getRegularizer } from '../regularizers.js';
import { type CallContext, type KShape, Layer, type LayerArgs, type Weight, initializerArg, initializerConfig, shapeText } from './base.js';
import { spellOptionsEarly } from './layer_options.js';

export interface EmbeddingArgs extends LayerArgs {
  readonly embeddingsInitializer?: InitializerIdentifier;
  readonly embeddingsRegularizer?: unknown;
  readonly activityRegularizer?: unknown;
  readonly embeddingsConstraint?: unknown;
  readonly maskZero?: boolean;
  readonly inputLength?: number | readonly (number | null)[] | null;
}

export class Embedding extends Layer {
  readonly className = 'Embedding';
  readonly maskZero: boolean;
  readonly inputLength: number | readonly (number | null)[] | null;
  private readonly initializer: Initializer;
  private readonly regularizer: Regularizer | null;
  private readonly constraint: Constraint | null;
  private embeddings: Weight | null = null;

  constructor(readonly inputDim: number, readonly outputDim: number, args: EmbeddingArgs = {}) {
    spellOptionsEarly('Embedding', args);
    const length = args.inputLength ?? null;
    const lengths = length === null ? null : Array.isArray(length) ? length : [length as number];
    // Keras's input_dim here is the vocabulary size, not Dense's shorthand for the input shape.
    const { inputDim: _vocabulary, ...rest } = args as EmbeddingArgs & { inputDim?: unknown };
    super({ ...rest, batchInputShape: args.batchInputShape ?? (args.inputShape || !lengths ? undefined : [args.batchSize ?? null, ...lengths]) });
    for (const [what, v] of [['inputDim', inputDim], ['outputDim', outputDim]] as const) {
      if (!Number.isInteger(v) || v < 1) throw new Error(`Embedding ${this.name}: ${what} must be a positive integer, got ${String(v)}`);
    }
    this.maskZero = args.maskZero ?? false;
    this.inputLength = length;
    this.initializer = initializerArg(args.embeddingsInitializer, 'uniform');
    this.regularizer = getRegularizer(args.embeddingsRegularizer as never);
    this.activityRegularizer = getRegularizer(args.activityRegularizer as never);
    this.constraint = getConstraint(args.embeddingsConstraint as never);
  }

  override build(): void {
    this.embeddings = this.addWeight('embeddings', [this.inputDim, this.outputDim], this.initializer, true, this.regularizer, this.constraint);
  }

  override computeOutputShape(s: KShape): KShape {
    const lengths = this.inputLength === null ? null : Array.isArray(this.inputLength) ? this.inputLength : [this.inputLength as number];
    if (lengths) {
      const ok = lengths.length === s.length - 1 && lengths.every((d, i) => d === null || s[i + 1] === null || d === s[i + 1]);
      if (!ok) throw new Error(`Embedding ${this.name}: "input_length" is ${JSON.stringify(this.inputLength)}, but received input has shape ${shapeText(s)}`);
    }
    return [...s, this.outputDim];
  }

  override lower(b: GraphBuilder, x: Value, ctx: CallContext): Value {
    const ids = b.reshape(b.cast(x, 'int32'), [x.shape.reduce((p, d) => p * d, 1)]);
    return b.reshape(b.gather(ctx.weight(this.embeddings!), ids, 0), [...x.shape, this.outputDim]);
  }

  /** Keras: with mask_zero, id 0 is padding and masks its step. */
  override maskList(b: GraphBuilder, xs: readonly Value[]): (Value | null)[] {
    return [this.maskZero ? b.binary('ne', xs[0], 0) : null];
  }

  /** Token ids must be integers in [0, inputDim): checked on the data before a kernel reads the table. */
  override checkInputData(where: string, x: Tensor): void {
    const d = x.data;
    for (let i = 0; i < d.length; i++) {
      const v = d[i];
      if (!Number.isInteger(v) || v < 0 || v >= this.inputDim) {
        throw new Error(`${where}: layer ${this.name} (Embedding) got token id ${v} at flat index ${i} of its input (shape ${shapeText(x.shape)}); ids must be integers in [0, ${this.inputDim})`);
      }
    }
  }

  protected override layerConfig(): Record<string, unknown> {
    return {
      inputDim: this.inputDim, outputDim: this.outputDim,
      embeddingsInitializer: initializerConfig(this.initializer), embeddingsRegularizer: this.regularizer?.config ?? null,
      activityRegularizer: this.activityRegularizer?.config ?? null, embeddingsConstraint: this.constraint?.config ?? null,
      maskZero: this.maskZero, inputLength: this.inputLength,
    };
  }
}

export interface MaskingArgs extends LayerArgs {
  readonly maskValue?: number;
}

export class Masking extends Layer {
  readonly className = 'Masking';
  readonly maskValue: number;
  override supportsMasking = true;

  constructor(args: MaskingArgs = {}) {
    super(args);
    this.maskValue = args.maskValue ?? 0;
    if (typeof this.maskValue !== 'number' || Number.isNaN(this.maskValue)) throw new Error(`Masking ${this.name}: maskValue must be a number, got ${String(args.maskValue)}`);
  }

  override computeOutputShape(s: KShape): KShape {
    return s;
  }

  /** 1 where any feature of the step differs from maskValue. */
  private keep(b: GraphBuilder, x: Value, keepDims: boolean): Value {
    return b.max(b.cast(b.binary('ne', x, this.maskValue), 'float32'), x.shape.length - 1, keepDims);
  }

  override lower(b: GraphBuilder, x: Value): Value {
    return b.mul(x, this.keep(b, x, true));
  }

  override maskList(b: GraphBuilder, xs: readonly Value[]): (Value | null)[] {
    return [b.binary('gt', this.keep(b, xs[0], false), 0)];
  }

  protected override layerConfig(): Record<string, unknown> {
    return { maskValue: this.maskValue };
  }
}
