/**
 * Cells written by users, as in Keras 2.2: a layer with `stateSize` (one
 * size or a list) whose `call(inputs, states)` returns `[output,
 * newStates]`, written with the K namespace and weights from addWeight in
 * build(). RNN runs it alone or in StackedRNNCells beside built-in cells
 * (recurrent_stack.ts). Its call is traced once into the scan's body (as a
 * custom layer's call is traced into a program): K operations on its weights
 * read the scan's invariants, so the loop, its gradient (a reverse scan) and
 * training work as for the built-in cells.
 *
 * K's random ops (K.dropout, K.randomUniform, ...) inside the call draw new
 * values at every time step of every training step, as Keras's per-call
 * draws inside its loop do. A loop body cannot take new operands while it is
 * traced, so the call is first traced on a scratch builder to list its draws
 * (shape and seed); each draw is then one uniform tensor [steps, ...shape]
 * drawn outside the loop (ctx.random, keyed by the training step) and read
 * one slice per step as a sequence of the scan.
 */
import { GraphBuilder, type Value } from '../../ir/graph.js';
import { KTensor, type WeightLike, withTrace } from '../backend.js';
import { type CallContext, type KShape, Layer, type Weight, seedFromName, shapeText } from './base.js';
import type { CellParts, StackMember } from './recurrent_stack.js';

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


/** A random draw of a cell's call: its shape, and the seed given (if any). */
interface Draw {
  readonly shape: readonly number[];
  readonly seed: number | undefined;
}

type DrawFn = (shape: readonly number[], seed: number | undefined) => Value;

/** A user cell in the RNN's loop (recurrent_stack.ts). */
export class UserCellMember implements StackMember {
  readonly stateSizes: number[];
  readonly outputSize: number;
  readonly outputIsState = false;
  private inputShape: KShape | null = null;

  /**
   * `rnn` names the RNN layer in errors; `prefix` names the cell's kept
   * states (`<prefix>/state_<i>`) and keys its random draws: the RNN's name
   * for a cell alone, `<rnn>/cell_<i>` in a stack.
   */
  constructor(readonly cell: UserCell, private readonly rnn: string, private readonly prefix: string, private readonly stateful: boolean) {
    this.stateSizes = stateSizes(cell);
    this.outputSize = cell.outputSize ?? this.stateSizes[0];
  }

  private get where(): string {
    return `RNN ${this.rnn}: cell ${this.cell.name} (${this.cell.className})`;
  }

  get weights(): readonly Weight[] {
    return this.cell.weights;
  }

  get trainableWeights(): readonly Weight[] {
    return this.cell.trainableWeights;
  }

  get keptStates(): readonly { readonly name: string; readonly size: number }[] {
    const batch = this.inputShape?.[0];
    if (!this.stateful || batch === null || batch === undefined) return [];
    return this.stateSizes.map((s, i) => ({ name: `${this.prefix}/state_${i}`, size: batch * s }));
  }

  /** Keras builds a cell for one step's input: (batch, features). */
  build(inputShape: KShape): void {
    if (inputShape[2] === null) throw new Error(`${this.where}: the last dimension of the input must be known, got ${shapeText(inputShape)}`);
    this.inputShape = inputShape;
    if (!this.cell.built) {
      this.cell.build([inputShape[0], inputShape[2]]);
      this.cell.built = true;
    }
  }

  firstSequence(_b: GraphBuilder, xt: Value): Value {
    return xt;
  }

  parts(b: GraphBuilder, ctx: CallContext, batch: number, steps: number): CellParts {
    const weights = this.cell.weights;
    const draws = ctx.training ? this.listDraws(batch, this.inputShape?.[2] ?? fail(`${this.where}: the cell is not built`)) : [];
    const sequences = draws.map((d, k) => ctx.random(d.seed ?? (seedFromName(`${this.prefix}/random`) + k) >>> 0, [steps, ...d.shape]));
    return {
      sequences,
      invariants: weights.map((w) => ctx.weight(w)),
      step: (sb, x, states, slices, inv) => {
        let used = 0;
        const replay: DrawFn = (shape, seed) => {
          const d = draws[used];
          if (!d || d.seed !== seed || d.shape.length !== shape.length || d.shape.some((s, i) => s !== shape[i])) throw new Error(`${this.where}: its call made other random draws when traced again (draw ${used} of shape [${shape.join(', ')}]); a cell's call must draw the same shapes every time`);
          return slices[used++];
        };
        const r = this.step(sb, x, states, new Map(weights.map((w, i) => [w as WeightLike, inv[i]])), ctx.training, replay);
        if (used !== draws.length) throw new Error(`${this.where}: its call made ${used} random draw(s) when traced again, ${draws.length} the first time; a cell's call must draw the same shapes every time`);
        return r;
      },
    };
  }

  /** The random draws the call makes in training: it is traced once on a scratch builder. */
  private listDraws(batch: number, features: number): Draw[] {
    const pb = new GraphBuilder();
    const draws: Draw[] = [];
    const weights = new Map(this.cell.weights.map((w) => [w as WeightLike, pb.param(w.name, w.shape)]));
    const record: DrawFn = (shape, seed) => {
      draws.push({ shape: [...shape], seed });
      return pb.param(`draw_${draws.length}`, shape);
    };
    this.step(pb, pb.param('x', [batch, features]), this.stateSizes.map((s, i) => pb.param(`state_${i}`, [batch, s])), weights, true, record);
    return draws;
  }

  stateValues(batch: number, ctx: CallContext): { value: Value; set(next: Value): void }[] {
    if (!ctx.state) throw new Error(`RNN ${this.rnn}: this program keeps no states between runs, so a stateful layer cannot run in it`);
    const built = this.inputShape?.[0];
    if (built !== null && built !== undefined && built !== batch) throw new Error(`RNN ${this.rnn}: this stateful layer was built for batches of ${built} samples, got a batch of ${batch} (use batchSize: ${built} and a sample count that is a multiple of it)`);
    return this.stateSizes.map((s, i) => ctx.state!(`${this.prefix}/state_${i}`, [batch, s]));
  }

  /** One traced step: the cell's call on K tensors of the body, its weights read from the invariants. */
  private step(sb: GraphBuilder, x: Value, states: readonly Value[], weights: ReadonlyMap<WeightLike, Value>, training: boolean, random: DrawFn): { output: Value; states: Value[] } {
    const weight = (w: WeightLike): Value => weights.get(w) ?? fail(`${this.where} used a weight that is not its own (${(w as Weight).name ?? 'unnamed'})`);
    const result = withTrace({ builder: sb, weight, training, random }, () =>
      (this.cell.call as unknown as CellCall).call(this.cell, new KTensor(sb, x), states.map((s) => new KTensor(sb, s)), { training }));
    const where = this.where;
    if (!Array.isArray(result) || result.length !== 2 || !(result[0] instanceof KTensor)) throw new Error(`${where}: call(inputs, states) must return [output, newStates] (K tensors)`);
    const next = (Array.isArray(result[1]) ? result[1] : [result[1]]) as unknown[];
    if (next.length !== states.length || next.some((s) => !(s instanceof KTensor))) throw new Error(`${where}: call must return ${states.length} new state(s) as K tensors, got ${next.length}`);
    const output = (result[0] as KTensor).value;
    if (output.shape.length !== 2 || output.shape[1] !== this.outputSize) throw new Error(`${where}: its output must have shape (batch, ${this.outputSize}) (outputSize, else the first state's size), got (${output.shape.join(', ')})`);
    const values = (next as KTensor[]).map((s, i) => {
      if (s.value.shape.length !== 2 || s.value.shape[1] !== this.stateSizes[i]) throw new Error(`${where}: new state ${i} must have shape (batch, ${this.stateSizes[i]}), got (${s.value.shape.join(', ')})`);
      return s.value;
    });
    return { output, states: values };
  }
}

function fail(message: string): never {
  throw new Error(message);
}
