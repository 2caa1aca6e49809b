/**
 * Keras 2 regularizers and constraints, as IR. A regularizer maps a weight (or
 * a layer's output, for activity regularization) to a scalar penalty added to
 * the training loss; a constraint maps a weight's updated value to the value
 * kept, right after each optimizer step.
 */
import type { GraphBuilder, Value } from '../ir/graph.js';

export type Regularizer = ((b: GraphBuilder, x: Value) => Value) & { config?: { className: string; config: Record<string, number> } };
export type Constraint = ((b: GraphBuilder, w: Value) => Value) & { config?: { className: string; config: Record<string, unknown> } };

const EPSILON = 1e-7;

/** L1L2 (l1 * sum|x| + l2 * sum x^2), the class behind l1, l2 and l1_l2. */
export function l1l2(args: { l1?: number; l2?: number } = {}): Regularizer {
  const l1 = args.l1 ?? 0;
  const l2 = args.l2 ?? 0;
  const fn: Regularizer = (b, x) => {
    let penalty: Value = b.constant(0);
    if (l1) penalty = b.add(penalty, b.mul(b.sum(b.unary('abs', x)), l1));
    if (l2) penalty = b.add(penalty, b.mul(b.sum(b.mul(x, x)), l2));
    return penalty;
  };
  fn.config = { className: 'L1L2', config: { l1, l2 } };
  return fn;
}

export const l1 = (l = 0.01): Regularizer => l1l2({ l1: l });
export const l2 = (l = 0.01): Regularizer => l1l2({ l2: l });
export const l1_l2 = (a = 0.01, c = 0.01): Regularizer => l1l2({ l1: a, l2: c });

type RegularizerId = string | Regularizer | null | undefined | { className?: string; class_name?: string; config?: Record<string, number> };

export function getRegularizer(id: RegularizerId): Regularizer | null {
  if (id === null || id === undefined) return null;
  if (typeof id === 'function') return id;
  const name = typeof id === 'string' ? id : (id.className ?? id.class_name ?? '');
  const config = typeof id === 'string' ? {} : (id.config ?? {});
  switch (name) {
    case 'l1': return l1();
    case 'l2': return l2();
    case 'l1_l2': return l1_l2();
    case 'L1L2': return l1l2(config);
    default: throw new Error(`Unknown regularizer '${name}'. Valid regularizers: l1, l2, l1_l2, L1L2, or a function (b, x) => penalty`);
  }
}

function norms(b: GraphBuilder, w: Value, axis: number | readonly number[]): Value {
  return b.unary('sqrt', b.sum(b.mul(w, w), axis, true));
}

function withConfig(fn: (b: GraphBuilder, w: Value) => Value, className: string, config: Record<string, unknown>): Constraint {
  const c = fn as Constraint;
  c.config = { className, config };
  return c;
}

export const maxNorm = (maxValue = 2, axis: number | number[] = 0): Constraint => withConfig((b, w) => {
  const n = norms(b, w, axis);
  return b.mul(w, b.div(b.minimum(b.maximum(n, 0), maxValue), b.add(n, EPSILON)));
}, 'MaxNorm', { max_value: maxValue, axis });

export const nonNeg = (): Constraint => withConfig((b, w) => b.mul(w, b.cast(b.binary('ge', w, 0), w.dtype)), 'NonNeg', {});

export const unitNorm = (axis: number | number[] = 0): Constraint => withConfig((b, w) => b.div(w, b.add(norms(b, w, axis), EPSILON)), 'UnitNorm', { axis });

export const minMaxNorm = (minValue = 0, maxValue = 1, rate = 1, axis: number | number[] = 0): Constraint => withConfig((b, w) => {
  const n = norms(b, w, axis);
  const desired = b.add(b.mul(b.minimum(b.maximum(n, minValue), maxValue), rate), b.mul(n, 1 - rate));
  return b.mul(w, b.div(desired, b.add(n, EPSILON)));
}, 'MinMaxNorm', { min_value: minValue, max_value: maxValue, rate, axis });

type ConstraintId = string | Constraint | null | undefined | { className?: string; class_name?: string; config?: Record<string, unknown> };

export function getConstraint(id: ConstraintId): Constraint | null {
  if (id === null || id === undefined) return null;
  if (typeof id === 'function') return id;
  const name = typeof id === 'string' ? id : (id.className ?? id.class_name ?? '');
  const c = (typeof id === 'string' ? {} : (id.config ?? {})) as Record<string, number & number[]>;
  switch (name) {
    case 'max_norm': case 'MaxNorm': return maxNorm(c.max_value ?? c.maxValue, c.axis);
    case 'non_neg': case 'NonNeg': return nonNeg();
    case 'unit_norm': case 'UnitNorm': return unitNorm(c.axis);
    case 'min_max_norm': case 'MinMaxNorm': return minMaxNorm(c.min_value ?? c.minValue, c.max_value ?? c.maxValue, c.rate, c.axis);
    default: throw new Error(`Unknown constraint '${name}'. Valid constraints: max_norm, non_neg, unit_norm, min_max_norm, or a function (b, w) => w`);
  }
}
