/**
 * The time axis of recurrent layers, whether its length is fixed or read at
 * run time (an input of shape [null, features], timesteps=None). A dynamic
 * program is compiled for a capacity of steps: the host pads sequences to
 * it, writes the real length into the int32 param `timesteps`, and the scan
 * runs that many steps (ir/scan.ts, `dynamic`). Steps past the length are
 * never read, and sequence outputs hold zeros there.
 */
import type { GraphBuilder, Value } from '../../ir/graph.js';
import type { CallContext } from './base.js';

/**
 * The run-time sequence length of this call, null for a fixed length: the
 * network gives `ctx.timesteps` only to calls whose input has timesteps=None
 * (a layer shared with fixed-length inputs runs those with their full
 * length), and TimeDistributed takes it from the layer it wraps (the outer
 * time axis is folded into the batch there).
 */
export function runtimeSteps(ctx: CallContext): Value | null {
  return ctx.timesteps ? ctx.timesteps() : null;
}

/**
 * `v` with its first `steps` entries along `axis` in reverse order (all of
 * them for a fixed length: a strided slice); entries past `steps` are zeros.
 */
export function reverseSteps(b: GraphBuilder, v: Value, axis: number, steps: Value | null): Value {
  if (!steps) return b.slice(v, v.shape.map((d, i) => (i === axis ? d - 1 : 0)), v.shape, v.shape.map((_, i) => (i === axis ? -1 : 1)));
  const cap = v.shape[axis];
  const from = b.sub(b.sub(steps, 1), b.iota([cap], 0));
  const gathered = b.gather(v, b.maximum(from, 0), axis);
  const keep = b.reshape(b.binary('ge', from, 0), v.shape.map((d, i) => (i === axis ? d : 1)));
  return b.select(keep, gathered, 0);
}

/**
 * Time-major steps [steps, batch, ...] of x [batch, steps, ...] in the order
 * a layer walks them, and whether its scan runs in reverse: go_backwards
 * flips a fixed-length sequence, and runs a dynamic one as a reverse scan
 * (the flip would need the length).
 */
export function stepsInOrder(b: GraphBuilder, x: Value, goBackwards: boolean, steps: Value | null): { xt: Value; reverse: boolean; order(v: Value): Value } {
  const perm = [1, 0, ...x.shape.slice(2).map((_, i) => i + 2)];
  const xt = b.transpose(x, perm);
  if (!goBackwards) return { xt, reverse: false, order: (v) => v };
  if (steps) return { xt, reverse: true, order: (v) => v };
  return { xt: reverseSteps(b, xt, 0, null), reverse: false, order: (v) => reverseSteps(b, v, 0, null) };
}

/** The stacked per-step outputs [steps, batch, ...] as a sequence output [batch, steps, ...] in Keras's order (go_backwards: last step first). */
export function sequenceOutput(b: GraphBuilder, stacked: Value, goBackwards: boolean, steps: Value | null): Value {
  const ordered = goBackwards && steps ? reverseSteps(b, stacked, 0, steps) : stacked;
  return b.transpose(ordered, [1, 0, ...stacked.shape.slice(2).map((_, i) => i + 2)]);
}
