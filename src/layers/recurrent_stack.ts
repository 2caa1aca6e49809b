/**
 * One loop over a stack of cells (Keras 2.2's StackedRNNCells, or RNN over
 * one cell written by a user): built-in cells (SimpleRNNCell, GRUCell,
 * LSTMCell) and cells written by users (recurrent_user_cell.ts) in any
 * order, each step running them bottom to top, each cell's output the input
 * of the cell above. A built-in first cell's input projection is hoisted out
 * of the loop; a built-in cell higher up projects inside it.
 *
 * The carries are every cell's states, cell by cell (Keras 2.2.3's order:
 * [h1, c1, h2, c2]; `reverseStateOrder` gives Keras 2.2.0-2.2.2's, last
 * cell first, at the layer's edges: initial_state and return_state), then
 * the top cell's last output where it is not its first state (a user cell),
 * so masked steps repeat it.
 */
import type { GraphBuilder, Value } from '../../ir/graph.js';
import { scan } from '../../ir/scan.js';
import type { CallContext, KShape, Weight } from './base.js';
import type { RecurrentLayer } from './recurrent.js';
import { runtimeSteps, sequenceOutput, stepsInOrder } from './recurrent_time.js';

/** What one cell's step needs from outside the loop, and the step. */
export interface CellParts {
  /** Per-step operands drawn outside the loop, [steps, ...] each (a user cell's random draws). */
  readonly sequences: readonly Value[];
  /** Loop invariants: weights, dropout masks. */
  readonly invariants: readonly Value[];
  step(sb: GraphBuilder, input: Value, states: readonly Value[], slices: readonly Value[], inv: readonly Value[]): { output: Value; states: Value[] };
}

/** A cell of the stack, as the loop sees it. */
export interface StackMember {
  readonly stateSizes: readonly number[];
  readonly outputSize: number;
  /** Its output is its first new state (built-in cells), so no carry repeats it. */
  readonly outputIsState: boolean;
  readonly weights: readonly Weight[];
  readonly trainableWeights: readonly Weight[];
  readonly keptStates: readonly { readonly name: string; readonly size: number }[];
  /** Builds the cell for the input [batch, steps, features]. */
  build(inputShape: KShape): void;
  /** The loop's sequence when this cell is the first, from the input [steps, batch, features]. */
  firstSequence(b: GraphBuilder, xt: Value, ctx: CallContext): Value;
  parts(b: GraphBuilder, ctx: CallContext, batch: number, steps: number, first: boolean): CellParts;
  /** A stateful layer's states of this cell, kept between runs. */
  stateValues(batch: number, ctx: CallContext): { value: Value; set(next: Value): void }[];
}

/** A built-in cell: the layer it runs as (SimpleRNN, GRU, LSTM) holds its weights and its step. */
export class BuiltInMember implements StackMember {
  readonly outputIsState = true;

  constructor(readonly layer: RecurrentLayer) {}

  get stateSizes(): number[] {
    return Array.from({ length: this.layer.stateCount }, () => this.layer.units);
  }

  get outputSize(): number {
    return this.layer.units;
  }

  get weights(): readonly Weight[] {
    return this.layer.weights;
  }

  get trainableWeights(): readonly Weight[] {
    return this.layer.weights.filter((w) => w.trainable);
  }

  get keptStates(): readonly { readonly name: string; readonly size: number }[] {
    return this.layer.keptStates;
  }

  build(inputShape: KShape): void {
    this.layer.shapesFor([inputShape]);
  }

  firstSequence(b: GraphBuilder, xt: Value, ctx: CallContext): Value {
    return this.layer.project(b, xt, ctx);
  }

  parts(b: GraphBuilder, ctx: CallContext, batch: number, _steps: number, first: boolean): CellParts {
    const input = first ? null : this.layer.inputParts(b, ctx, batch);
    const step = this.layer.stepParts(b, ctx, batch);
    const own = input?.invariants.length ?? 0;
    return {
      sequences: [],
      invariants: [...(input?.invariants ?? []), ...step.invariants],
      step: (sb, x, states, _slices, inv) => {
        const projected = input ? input.project(sb, x, inv.slice(0, own)) : x;
        const next = step.step(sb, projected, states, inv.slice(own));
        return { output: next[0], states: next };
      },
    };
  }

  stateValues(batch: number, ctx: CallContext): { value: Value; set(next: Value): void }[] {
    return this.layer.stateValues(batch, ctx);
  }
}

export interface StackFlags {
  readonly returnSequences: boolean;
  readonly returnState: boolean;
  readonly goBackwards: boolean;
  readonly stateful: boolean;
  readonly reverseStateOrder: boolean;
}

/** `list` cut into groups of `sizes`, the groups in reverse order. */
function reverseGroups<T>(list: readonly T[], sizes: readonly number[]): T[] {
  const groups: T[][] = [];
  let at = 0;
  for (const n of sizes) groups.push(list.slice(at, (at += n)));
  return groups.reverse().flat();
}

/** States (one entry per state) from the loop's order, cell by cell, to the layer's (`reverse`: last cell first). */
export function layerStates<T>(list: readonly T[], members: readonly StackMember[], reverse: boolean): T[] {
  return reverse ? reverseGroups(list, members.map((m) => m.stateSizes.length)) : [...list];
}

/** States from the layer's order to the loop's. */
function loopStates<T>(list: readonly T[], members: readonly StackMember[], reverse: boolean): T[] {
  return reverse ? reverseGroups(list, members.map((m) => m.stateSizes.length).reverse()) : [...list];
}

/** Output and state shapes of the stack for an input [batch, steps, features] (states in the layer's order). */
export function stackOutputShapes(where: string, members: readonly StackMember[], flags: StackFlags, inputShapes: readonly KShape[]): KShape[] {
  const [x, ...initial] = inputShapes;
  const states = layerStates(members.flatMap((m) => m.stateSizes.map((s): KShape => [x[0], s])), members, flags.reverseStateOrder);
  if (initial.length && initial.length !== states.length) throw new Error(`${where}: initial_state needs ${states.length} tensor(s) (every state of every cell: ${states.map((s) => `(batch, ${s[1]})`).join(', ')}), got ${initial.length}`);
  initial.forEach((s, i) => {
    if (s.length !== 2 || s[1] !== states[i][1]) throw new Error(`${where}: initial state ${i} must have shape (batch, ${states[i][1]}), got (${s.map((d) => (d === null ? 'None' : String(d))).join(', ')})`);
  });
  const units = members[members.length - 1].outputSize;
  const out: KShape = flags.returnSequences ? [x[0], x[1], units] : [x[0], units];
  return flags.returnState ? [out, ...states] : [out];
}

/** The stack's loop: [output, ...final states when returnState]. */
export function lowerStack(b: GraphBuilder, xs: readonly Value[], ctx: CallContext, masks: readonly (Value | null)[] | undefined, members: readonly StackMember[], flags: StackFlags): Value[] {
  const [x, ...initial] = xs;
  const [batch, steps] = x.shape;
  const n = runtimeSteps(ctx);
  const { xt, reverse, order } = stepsInOrder(b, x, flags.goBackwards, n);
  const main = members[0].firstSequence(b, xt, ctx);
  const mask = masks?.[0] ?? null;
  const maskT = mask ? order(b.reshape(b.transpose(b.cast(mask, 'bool'), [1, 0]), [steps, batch, 1])) : null;
  const parts = members.map((m, i) => m.parts(b, ctx, batch, steps, i === 0));
  const top = members[members.length - 1];
  const stateCount = members.reduce((k, m) => k + m.stateSizes.length, 0);
  const zeros = (size: number): Value => b.broadcastTo(b.constant(0, [], x.dtype), [batch, size]);
  const kept = flags.stateful ? members.flatMap((m) => m.stateValues(batch, ctx)) : null;
  const init = initial.length ? loopStates(initial, members, flags.reverseStateOrder) : kept ? kept.map((s) => s.value) : members.flatMap((m) => m.stateSizes.map(zeros));
  const lastOutput = top.outputIsState ? [] : [zeros(top.outputSize)];
  const drawn = parts.flatMap((p) => p.sequences);
  const sequences = [main, ...(maskT ? [maskT] : []), ...drawn];
  const results = scan(b, { init: [...init, ...lastOutput], sequences, invariants: parts.flatMap((p) => p.invariants), reverse, steps: n }, (sb, carries, [input0, ...slices], inv) => {
    const m = maskT ? slices[0] : null;
    const own = { states: 0, slices: maskT ? 1 : 0, inv: 0 };
    let input = input0;
    let next: Value[] = [];
    parts.forEach((p, i) => {
      const states = carries.slice(own.states, (own.states += members[i].stateSizes.length));
      const r = p.step(sb, input, states, slices.slice(own.slices, (own.slices += p.sequences.length)), inv.slice(own.inv, (own.inv += p.invariants.length)));
      next = [...next, ...r.states];
      input = r.output;
    });
    if (!top.outputIsState) next.push(input);
    if (m) next = next.map((v, i) => sb.select(sb.broadcastTo(m, v.shape), v, carries[i]));
    const output = top.outputIsState ? next[stateCount - top.stateSizes.length] : next[stateCount];
    return { carries: next, outputs: flags.returnSequences ? [output] : [] };
  });
  const finals = results.slice(0, stateCount);
  kept?.forEach((s, i) => s.set(finals[i]));
  const last = top.outputIsState ? finals[stateCount - top.stateSizes.length] : results[stateCount];
  const output = flags.returnSequences ? sequenceOutput(b, results[init.length + lastOutput.length], flags.goBackwards, n) : last;
  return flags.returnState ? [output, ...layerStates(finals, members, flags.reverseStateOrder)] : [output];
}
