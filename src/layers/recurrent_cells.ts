/**
 * One time step of each Keras 2.2 recurrent cell, written against the
 * projected input: the input projection of every gate for every step is one
 * matmul hoisted out of the loop (src/layers/recurrent.ts), so a step is the
 * recurrent matmul(s) plus the gate nonlinearities, which fuse into the
 * matmul's epilogue and one elementwise kernel.
 *
 * Gate order and formulas follow keras/layers/recurrent.py (2.2): LSTM i, f,
 * c, o; GRU z, r, h, with `reset_after` false (reset before the recurrent
 * matmul) or true (after it, with a separate recurrent bias).
 */
import type { GraphBuilder, Value } from '../../ir/graph.js';
import type { Activation } from '../activations.js';

export interface StepOperands {
  /** The recurrent kernel [units, gates * units]. */
  readonly recurrentKernel: Value;
  /** GRU with reset_after: the recurrent bias [gates * units]. */
  readonly recurrentBias: Value | null;
  /** Recurrent dropout: one scaled keep mask [batch, units] per gate (one for all gates when shared), or null. */
  readonly recurrentMasks: readonly Value[] | null;
}

export interface CellDef {
  readonly gates: number;
  /** States carried from step to step: [h] or [h, c]. The output of a step is the new h. */
  readonly states: number;
  /** New states from the step's projected input x [batch, gates * units] (bias included) and the previous states. */
  step(b: GraphBuilder, x: Value, states: readonly Value[], ops: StepOperands, act: Activation, recAct: Activation): Value[];
}

const gate = (b: GraphBuilder, v: Value, g: number, units: number): Value => b.slice(v, [0, g * units], [v.shape[0], units]);

/** h (dropped out for gate g when recurrent dropout is on) @ recurrent kernel columns of gates [from, to). */
function recurrent(b: GraphBuilder, h: Value, ops: StepOperands, from: number, to: number, input = h): Value {
  const units = h.shape[1];
  const k = ops.recurrentKernel;
  if (!ops.recurrentMasks) return b.matmul(input, b.slice(k, [0, from * units], [units, (to - from) * units]));
  const parts: Value[] = [];
  for (let g = from; g < to; g++) {
    const m = ops.recurrentMasks[Math.min(g, ops.recurrentMasks.length - 1)];
    parts.push(b.matmul(b.mul(input, m), b.slice(k, [0, g * units], [units, units])));
  }
  return b.concat(parts, 1);
}

export const SIMPLE_RNN_CELL: CellDef = {
  gates: 1,
  states: 1,
  step: (b, x, [h], ops, act) => [act(b, b.add(x, recurrent(b, h, ops, 0, 1)))],
};

export const LSTM_CELL: CellDef = {
  gates: 4,
  states: 2,
  step(b, x, [h, c], ops, act, recAct) {
    const units = h.shape[1];
    const z = b.add(x, recurrent(b, h, ops, 0, 4));
    const i = recAct(b, gate(b, z, 0, units));
    const f = recAct(b, gate(b, z, 1, units));
    const cNew = b.add(b.mul(f, c), b.mul(i, act(b, gate(b, z, 2, units))));
    const o = recAct(b, gate(b, z, 3, units));
    return [b.mul(o, act(b, cNew)), cNew];
  },
};

export function gruCell(resetAfter: boolean): CellDef {
  return {
    gates: 3,
    states: 1,
    step(b, x, [h], ops, act, recAct) {
      const units = h.shape[1];
      let inner = recurrent(b, h, ops, 0, resetAfter ? 3 : 2);
      if (ops.recurrentBias) inner = b.add(inner, b.broadcastTo(ops.recurrentBias, inner.shape));
      const z = recAct(b, b.add(gate(b, x, 0, units), gate(b, inner, 0, units)));
      const r = recAct(b, b.add(gate(b, x, 1, units), gate(b, inner, 1, units)));
      // reset_after=False multiplies h by r before the matmul; the dropout mask of gate h applies to h itself.
      const recH = resetAfter ? b.mul(r, gate(b, inner, 2, units)) : recurrentReset(b, h, r, ops);
      const hh = act(b, b.add(gate(b, x, 2, units), recH));
      return [b.add(b.mul(z, h), b.mul(b.sub(1, z), hh))];
    },
  };
}

/** GRU (reset before): (r * h_h) @ U_h, h_h being h under gate h's recurrent dropout mask. */
function recurrentReset(b: GraphBuilder, h: Value, r: Value, ops: StepOperands): Value {
  const units = h.shape[1];
  const masked = ops.recurrentMasks ? b.mul(h, ops.recurrentMasks[Math.min(2, ops.recurrentMasks.length - 1)]) : h;
  return b.matmul(b.mul(r, masked), b.slice(ops.recurrentKernel, [0, 2 * units], [units, units]));
}
