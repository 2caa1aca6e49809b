/**
 * Keras 2 merge layers: Add, Subtract, Multiply, Average, Maximum, Minimum
 * (elementwise over a list, with Keras's broadcasting: a lower-rank input
 * gains axes after the batch axis), Concatenate (any axis) and Dot (batch_dot
 * over given axes, optionally l2-normalized), and their functional forms.
 * Masks combine as in Keras 2: an elementwise merge keeps a step where every
 * input mask does; Concatenate joins the masks along its axis.
 */
import type { GraphBuilder, Value } from '../../ir/graph.js';
import { batchDot, l2Normalize } from '../tensor_ops.js';
import { type CallContext, type Inputs, type KShape, Layer, type LayerArgs, type SymbolicTensor, shapeText } from './base.js';

const shapesText = (shapes: readonly KShape[]): string => `[${shapes.map(shapeText).join(', ')}]`;

/** Keras's _compute_elemwise_op_output_shape: right-aligned broadcasting of two shapes (batch excluded). */
function broadcastPair(layer: Layer, a: KShape, b: KShape, all: readonly KShape[]): KShape {
  const [long, short] = a.length >= b.length ? [a, b] : [b, a];
  const out = [...long.slice(0, long.length - short.length)];
  long.slice(long.length - short.length).forEach((i, k) => {
    const j = short[k];
    if (i === null || j === null) out.push(null);
    else if (i === 1) out.push(j);
    else if (j === 1 || i === j) out.push(i);
    else throw new Error(`Layer ${layer.name} (${layer.className}): operands could not be broadcast together with shapes ${shapeText(a)} ${shapeText(b)} (inputs ${shapesText(all)})`);
  });
  return out;
}

/** The elementwise merges: a list of at least two tensors combined pairwise. */
abstract class Merge extends Layer {
  override supportsMasking = true;

  protected abstract combine(b: GraphBuilder, x: Value, y: Value): Value;

  /** Arity checks beyond "at least 2" (Subtract takes exactly 2). */
  protected checkCount(n: number): void {
    if (n < 2) throw new Error(`A merge layer should be called on a list of at least 2 inputs. Got ${n} input(s) (layer ${this.name})`);
  }

  override computeOutputShapes(shapes: readonly KShape[]): KShape[] {
    this.checkCount(shapes.length);
    const batches = new Set(shapes.map((s) => s[0]).filter((d) => d !== null));
    if (batches.size > 1) throw new Error(`Layer ${this.name} (${this.className}) can not merge tensors with different batch sizes. Got tensors with shapes: ${shapesText(shapes)}`);
    let out: KShape = shapes[0].slice(1);
    for (const s of shapes.slice(1)) out = broadcastPair(this, out, s.slice(1), shapes);
    return [[batches.size ? [...batches][0] : null, ...out]];
  }

  override lowerList(b: GraphBuilder, xs: readonly Value[]): Value[] {
    this.checkCount(xs.length);
    // Keras 2 gives a lower-rank input new axes right after the batch axis, then broadcasts.
    const rank = Math.max(...xs.map((x) => x.shape.length));
    const lifted = xs.map((x) => (x.shape.length === rank ? x : b.reshape(x, [x.shape[0], ...Array(rank - x.shape.length).fill(1), ...x.shape.slice(1)])));
    const full = this.computeOutputShapes(lifted.map((x) => x.shape))[0] as number[];
    const expanded = lifted.map((x) => (x.shape.every((d, i) => d === full[i]) ? x : b.broadcastTo(x, full)));
    return [expanded.slice(1).reduce((acc, x) => this.combine(b, acc, x), expanded[0])];
  }

  /** Keras 2: the output keeps a step where all given masks keep it. */
  override maskList(b: GraphBuilder, _xs: readonly Value[], masks: readonly (Value | null)[]): (Value | null)[] {
    const given = masks.filter((m): m is Value => m !== null);
    if (!given.length) return [null];
    return [given.slice(1).reduce((acc, m) => b.binary('and', acc, m), given[0])];
  }
}

export class Add extends Merge {
  readonly className = 'Add';
  protected combine(b: GraphBuilder, x: Value, y: Value): Value {
    return b.add(x, y);
  }
}

export class Subtract extends Merge {
  readonly className = 'Subtract';
  protected override checkCount(n: number): void {
    if (n !== 2) throw new Error(`A \`Subtract\` layer should be called on exactly 2 inputs. Got ${n} input(s) (layer ${this.name})`);
  }

  protected combine(b: GraphBuilder, x: Value, y: Value): Value {
    return b.sub(x, y);
  }
}

export class Multiply extends Merge {
  readonly className = 'Multiply';
  protected combine(b: GraphBuilder, x: Value, y: Value): Value {
    return b.mul(x, y);
  }
}

export class Maximum extends Merge {
  readonly className = 'Maximum';
  protected combine(b: GraphBuilder, x: Value, y: Value): Value {
    return b.maximum(x, y);
  }
}

export class Minimum extends Merge {
  readonly className = 'Minimum';
  protected combine(b: GraphBuilder, x: Value, y: Value): Value {
    return b.minimum(x, y);
  }
}

export class Average extends Merge {
  readonly className = 'Average';
  protected combine(b: GraphBuilder, x: Value, y: Value): Value {
    return b.add(x, y);
  }

  override lowerList(b: GraphBuilder, xs: readonly Value[]): Value[] {
    return [b.div(super.lowerList(b, xs)[0], xs.length)];
  }
}

/** An axis of a rank-`rank` shape (negative counts from the end), checked. */
function normAxis(layer: Layer, axis: number, rank: number): number {
  const a = axis < 0 ? axis + rank : axis;
  if (!Number.isInteger(axis) || a < 0 || a >= rank) throw new Error(`Layer ${layer.name} (${layer.className}): axis ${axis} is out of range for inputs of rank ${rank}`);
  return a;
}

export interface ConcatenateArgs extends LayerArgs {
  readonly axis?: number;
}

export class Concatenate extends Layer {
  readonly className = 'Concatenate';
  readonly axis: number;
  override supportsMasking = true;

  constructor(args: ConcatenateArgs = {}) {
    super(args);
    this.axis = args.axis ?? -1;
    if (!Number.isInteger(this.axis)) throw new Error(`Concatenate ${this.name}: axis must be an integer, got ${String(args.axis)}`);
  }

  override computeOutputShapes(shapes: readonly KShape[]): KShape[] {
    if (shapes.length < 2) throw new Error(`A \`Concatenate\` layer should be called on a list of at least 2 inputs. Got ${shapes.length} input(s) (layer ${this.name})`);
    const rank = shapes[0].length;
    const axis = normAxis(this, this.axis, rank);
    if (axis === 0) throw new Error(`Layer ${this.name} (Concatenate) cannot concatenate along the batch axis`);
    const bad = shapes.some((s) => s.length !== rank || s.some((d, i) => i !== axis && i !== 0 && d !== null && shapes[0][i] !== null && d !== shapes[0][i]));
    if (bad) throw new Error(`A \`Concatenate\` layer requires inputs with matching shapes except for the concat axis. Got inputs shapes: ${shapesText(shapes)} (layer ${this.name})`);
    const out = [...shapes[0]];
    out[axis] = shapes.some((s) => s[axis] === null) ? null : shapes.reduce((n, s) => n + (s[axis] as number), 0);
    return [out];
  }

  override lowerList(b: GraphBuilder, xs: readonly Value[]): Value[] {
    return [b.concat(xs, normAxis(this, this.axis, xs[0].shape.length))];
  }

  /** Keras 2: missing masks count as all-true, masks join along the axis, and a step is kept where every joined entry is. */
  override maskList(b: GraphBuilder, xs: readonly Value[], masks: readonly (Value | null)[]): (Value | null)[] {
    if (masks.every((m) => m === null)) return [null];
    const full = xs.map((x, i) => {
      const m = masks[i];
      if (m === null) return b.broadcastTo(b.constant(1, [], 'bool'), x.shape);
      return m.shape.length < x.shape.length ? b.broadcastTo(b.reshape(m, [...m.shape, 1]), [...m.shape, x.shape[x.shape.length - 1]]) : m;
    });
    const joined = b.concat(full, normAxis(this, this.axis, xs[0].shape.length));
    return [b.cast(b.min(b.cast(joined, 'float32'), joined.shape.length - 1), 'bool')];
  }

  protected override layerConfig(): Record<string, unknown> {
    return { axis: this.axis };
  }
}

export interface DotArgs extends LayerArgs {
  readonly normalize?: boolean;
}

export class Dot extends Layer {
  readonly className = 'Dot';
  readonly axes: number | readonly [number, number];
  readonly normalize: boolean;

  constructor(axes: number | readonly number[], args: DotArgs = {}) {
    super(args);
    const list = typeof axes === 'number' ? [axes] : Array.isArray(axes) ? [...axes] : [];
    if (!(list.length === 1 || list.length === 2) || list.some((a) => !Number.isInteger(a))) throw new Error(`Dot ${this.name}: axes must be an integer or a list of 2 integers, got ${JSON.stringify(axes)}`);
    this.axes = typeof axes === 'number' ? axes : [list[0], list[1]];
    this.normalize = args.normalize ?? false;
  }

  private axesFor(shapes: readonly (readonly unknown[])[]): [number, number] {
    const pair = typeof this.axes === 'number' ? [this.axes, this.axes] : this.axes;
    return [normAxis(this, pair[0], shapes[0].length), normAxis(this, pair[1], shapes[1].length)];
  }

  override computeOutputShapes(shapes: readonly KShape[]): KShape[] {
    if (shapes.length !== 2) throw new Error(`A \`Dot\` layer should be called on a list of 2 inputs. Got ${shapes.length} input(s) (layer ${this.name})`);
    const [ax, ay] = this.axesFor(shapes);
    const [s1, s2] = shapes;
    if (ax === 0 || ay === 0) throw new Error(`Layer ${this.name} (Dot) cannot contract the batch axis`);
    if (s1[ax] !== null && s2[ay] !== null && s1[ax] !== s2[ay]) {
      throw new Error(`Dimension incompatibility using dot product in layer ${this.name}: ${s1[ax]} != ${s2[ay]}. Layer shapes: ${shapeText(s1)}, ${shapeText(s2)}`);
    }
    const out = [...s1.filter((_, i) => i !== ax), ...s2.filter((_, i) => i !== ay).slice(1)];
    return [out.length === 1 ? [...out, 1] : out];
  }

  override lowerList(b: GraphBuilder, xs: readonly Value[]): Value[] {
    const [ax, ay] = this.axesFor(xs.map((x) => x.shape));
    const [x, y] = this.normalize ? [l2Normalize(b, xs[0], ax), l2Normalize(b, xs[1], ay)] : xs;
    return [batchDot(b, x, y, ax, ay)];
  }

  override maskList(): (Value | null)[] {
    return [null];
  }

  protected override layerConfig(): Record<string, unknown> {
    return { axes: this.axes, normalize: this.normalize };
  }
}

/** Keras's functional merge forms: `add([a, b])` is `new Add().apply([a, b])`. */
export const add = (inputs: Inputs, args: LayerArgs = {}): SymbolicTensor => new Add(args).apply(inputs);
export const subtract = (inputs: Inputs, args: LayerArgs = {}): SymbolicTensor => new Subtract(args).apply(inputs);
export const multiply = (inputs: Inputs, args: LayerArgs = {}): SymbolicTensor => new Multiply(args).apply(inputs);
export const average = (inputs: Inputs, args: LayerArgs = {}): SymbolicTensor => new Average(args).apply(inputs);
export const maximum = (inputs: Inputs, args: LayerArgs = {}): SymbolicTensor => new Maximum(args).apply(inputs);
export const minimum = (inputs: Inputs, args: LayerArgs = {}): SymbolicTensor => new Minimum(args).apply(inputs);
export const concatenate = (inputs: Inputs, args: ConcatenateArgs = {}): SymbolicTensor => new Concatenate(args).apply(inputs);
export const dot = (inputs: Inputs, axes: number | readonly number[], args: DotArgs = {}): SymbolicTensor => new Dot(axes, args).apply(inputs);

export type { CallContext };
