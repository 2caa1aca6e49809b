/**
 * RNN over a cell written by a user, as in Keras 2.2: a layer with
 * `stateSize` (one size or a list) whose `call(inputs, states)` returns
 * `[output, newStates]`, written with the K namespace and weights from
 * addWeight in build(). Its call is traced once into the scan's body (as a
 * custom layer's call is traced into a program): K operations on its weights
 * read the scan's invariants, so the loop, its gradient (a reverse scan) and
 * training work as for the built-in cells. Masked steps carry the states and
 * repeat the previous output (Keras's K.rnn).
 */
import type { GraphBuilder, Value } from '../../ir/graph.js';
import { scan } from '../../ir/scan.js';
import { KTensor, type WeightLike, withTrace } from '../backend.js';
import { type CallContext, type KShape, Layer, type LayerArgs, type Weight, expectRank, shapeText } from './base.js';
import { runtimeSteps, sequenceOutput, stepsInOrder } from './recurrent_time.js';

type CellCall = (inputs: KTensor, states: KTensor[], kwargs: { training: boolean }) => unknown;
type CallKwargs = { readonly training: boolean; readonly mask: KTensor | null | (KTensor | null)[] };

/**
 * A base for cells written in TypeScript (TF Keras's AbstractRNNCell): it
 * declares `stateSize` and lets `call` take the states and return
 * `[output, newStates]`. In JavaScript, any Layer with `stateSize` and such
 * a `call` is a cell.
 */
export abstract class AbstractRNNCell extends Layer {
  abstract readonly stateSize: number | readonly number[];
  /** The size of a step's output; default: the first state's size. */
  readonly outputSize?: number;

  // The states take the place of Layer.call's kwargs; a cell returns [output, newStates].
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  override call(_inputs: KTensor | KTensor[], _states: KTensor[] | CallKwargs): any {
    throw new Error(`Cell ${this.name} (${this.className}) must define call(inputs, states)`);
  }
}

/** A cell written by a user: an AbstractRNNCell, or (from JavaScript) any Layer with stateSize. */
export type UserCell = AbstractRNNCell | (Layer & { readonly stateSize: number | readonly number[]; readonly outputSize?: number });

export function isUserCell(c: unknown): c is UserCell {
  return c instanceof Layer && 'stateSize' in c;
}

function stateSizes(cell: UserCell): number[] {
  const sizes = typeof cell.stateSize === 'number' ? [cell.stateSize] : [...cell.stateSize];
  if (!sizes.length || sizes.some((s) => !Number.isInteger(s) || s < 1)) throw new Error(`Cell ${cell.name} (${cell.className}): stateSize must be a positive integer or a list of them, got ${JSON.stringify(cell.stateSize)}`);
  return sizes;
}

export interface UserCellArgs extends LayerArgs {
  readonly returnSequences?: boolean;
  readonly returnState?: boolean;
  readonly goBackwards?: boolean;
  readonly stateful?: boolean;
}

/** The RNN layer's work for one user cell (RNN delegates to it as to a built-in cell's layer). */
export class UserCellRNN extends Layer {
  readonly className = 'RNN';
  override supportsMasking = true;
  readonly sizes: number[];
  readonly units: number;
  readonly returnSequences: boolean;
  readonly returnState: boolean;
  readonly goBackwards: boolean;
  readonly stateful: boolean;
  private builtShape: KShape | null = null;

  constructor(readonly cell: UserCell, args: UserCellArgs) {
    super(args);
    this.sizes = stateSizes(cell);
    this.units = cell.outputSize ?? this.sizes[0];
    this.returnSequences = args.returnSequences ?? false;
    this.returnState = args.returnState ?? false;
    this.goBackwards = args.goBackwards ?? false;
    this.stateful = args.stateful ?? false;
  }

  override get weights(): readonly Weight[] {
    return this.cell.weights;
  }

  override get trainableWeights(): readonly Weight[] {
    return this.trainable ? this.cell.trainableWeights : [];
  }

  override get keptStates(): readonly { readonly name: string; readonly size: number }[] {
    const batch = this.builtShape?.[0];
    if (!this.stateful || batch === null || batch === undefined) return [];
    return this.sizes.map((s, i) => ({ name: `${this.name}/state_${i}`, size: batch * s }));
  }

  get stateCount(): number {
    return this.sizes.length;
  }

  override build(inputShape: KShape | readonly KShape[]): void {
    const shape = (Array.isArray(inputShape[0]) ? (inputShape as readonly KShape[])[0] : inputShape) as KShape;
    expectRank(this, shape, 3, 3);
    if (this.stateful && shape[0] === null) throw new Error(`RNN ${this.name}: a stateful RNN needs a fixed batch size: give the first layer batchInputShape (or batchSize), got input shape ${shapeText(shape)}`);
    this.builtShape = shape;
    // Keras builds a cell for one step's input: (batch, features).
    if (!this.cell.built) {
      this.cell.build([shape[0], shape[2]]);
      this.cell.built = true;
    }
    this.built = true;
  }

  override computeOutputShapes(inputShapes: readonly KShape[]): KShape[] {
    const [x, ...initial] = inputShapes;
    expectRank(this, x, 3, 3);
    if (initial.length && initial.length !== this.sizes.length) throw new Error(`RNN ${this.name}: initial_state needs ${this.sizes.length} tensor(s) (the cell's stateSize ${JSON.stringify(this.cell.stateSize)}), got ${initial.length}`);
    initial.forEach((s, i) => {
      if (s.length !== 2 || s[1] !== this.sizes[i]) throw new Error(`RNN ${this.name}: initial state ${i} must have shape (batch, ${this.sizes[i]}), got ${shapeText(s)}`);
    });
    const out: KShape = this.returnSequences ? [x[0], x[1], this.units] : [x[0], this.units];
    return this.returnState ? [out, ...this.sizes.map((s): KShape => [x[0], s])] : [out];
  }

  override maskList(_b: GraphBuilder, _xs: readonly Value[], masks: readonly (Value | null)[]): (Value | null)[] {
    const out = this.returnSequences ? masks[0] ?? null : null;
    return this.returnState ? [out, ...this.sizes.map(() => null)] : [out];
  }

  runtimeSteps(ctx: CallContext): Value | null {
    return runtimeSteps(ctx);
  }

  /** One traced step: the cell's call on K tensors of the body, its weights read from the invariants. */
  private step(sb: GraphBuilder, x: Value, states: readonly Value[], weights: ReadonlyMap<WeightLike, Value>, training: boolean): { output: Value; states: Value[] } {
    const result = withTrace({ builder: sb, weight: (w) => weights.get(w) ?? fail(`RNN ${this.name}: cell ${this.cell.name} used a weight that is not its own (${(w as Weight).name ?? 'unnamed'})`), training }, () =>
      (this.cell.call as unknown as CellCall).call(this.cell, new KTensor(sb, x), states.map((s) => new KTensor(sb, s)), { training }));
    const where = `RNN ${this.name}: cell ${this.cell.name} (${this.cell.className})`;
    if (!Array.isArray(result) || result.length !== 2 || !(result[0] instanceof KTensor)) throw new Error(`${where}: call(inputs, states) must return [output, newStates] (K tensors)`);
    const next = (Array.isArray(result[1]) ? result[1] : [result[1]]) as unknown[];
    if (next.length !== states.length || next.some((s) => !(s instanceof KTensor))) throw new Error(`${where}: call must return ${states.length} new state(s) as K tensors, got ${next.length}`);
    const output = (result[0] as KTensor).value;
    if (output.shape.length !== 2 || output.shape[1] !== this.units) throw new Error(`${where}: its output must have shape (batch, ${this.units}) (outputSize, else the first state's size), got (${output.shape.join(', ')})`);
    const values = (next as KTensor[]).map((s, i) => {
      if (s.value.shape.length !== 2 || s.value.shape[1] !== this.sizes[i]) throw new Error(`${where}: new state ${i} must have shape (batch, ${this.sizes[i]}), got (${s.value.shape.join(', ')})`);
      return s.value;
    });
    return { output, states: values };
  }

  override lowerList(b: GraphBuilder, xs: readonly Value[], ctx: CallContext, masks?: readonly (Value | null)[]): Value[] {
    const [x, ...initial] = xs;
    const [batch, steps] = x.shape;
    const n = this.runtimeSteps(ctx);
    const { xt, reverse, order } = stepsInOrder(b, x, this.goBackwards, n);
    const mask = masks?.[0] ?? null;
    const maskT = mask ? order(b.reshape(b.transpose(b.cast(mask, 'bool'), [1, 0]), [steps, batch, 1])) : null;
    const zeros = (size: number): Value => b.broadcastTo(b.constant(0, [], x.dtype), [batch, size]);
    const kept = this.stateful ? this.sizes.map((s, i) => {
      if (!ctx.state) throw new Error(`RNN ${this.name}: this program keeps no states between runs, so a stateful layer cannot run in it`);
      return ctx.state(`${this.name}/state_${i}`, [batch, s]);
    }) : null;
    const init = initial.length ? [...initial] : kept ? kept.map((s) => s.value) : this.sizes.map(zeros);
    const weights = this.cell.weights;
    const results = scan(b, { init: [...init, zeros(this.units)], sequences: [xt, ...(maskT ? [maskT] : [])], invariants: weights.map((w) => ctx.weight(w)), reverse, steps: n }, (sb, carries, [xs1, m], inv) => {
      const states = carries.slice(0, -1);
      const r = this.step(sb, xs1, states, new Map(weights.map((w, i) => [w as WeightLike, inv[i]])), ctx.training);
      let next = [...r.states, r.output];
      if (m) next = next.map((v, i) => sb.select(sb.broadcastTo(m, v.shape), v, carries[i]));
      return { carries: next, outputs: this.returnSequences ? [next[next.length - 1]] : [] };
    });
    const finals = results.slice(0, this.sizes.length);
    kept?.forEach((s, i) => s.set(finals[i]));
    const output = this.returnSequences ? sequenceOutput(b, results[this.sizes.length + 1], this.goBackwards, n) : results[this.sizes.length];
    return this.returnState ? [output, ...finals] : [output];
  }
}

function fail(message: string): never {
  throw new Error(message);
}
