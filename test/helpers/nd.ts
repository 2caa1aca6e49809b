/**
 * An independent, deliberately naive n-d array model for tests: every op is
 * written from its definition over multi-indices, sharing no code with the
 * interpreter (ir/eval_kernels.ts).
 */
export type Shape = readonly number[];

export interface Nd {
  readonly shape: Shape;
  readonly data: ArrayLike<number>;
}

export function size(shape: Shape): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** All multi-indices of `shape`, row-major. */
export function indices(shape: Shape): number[][] {
  let out: number[][] = [[]];
  for (const d of shape) out = out.flatMap((p) => Array.from({ length: d }, (_, i) => [...p, i]));
  return out;
}

export function at(x: Nd, idx: readonly number[]): number {
  let flat = 0;
  for (let i = 0; i < x.shape.length; i++) flat = flat * x.shape[i] + idx[i];
  return x.data[flat];
}

/** Numpy broadcasting: the element of `x` that output index `idx` reads. */
export function atBroadcast(x: Nd, idx: readonly number[]): number {
  const lead = idx.length - x.shape.length;
  return at(x, x.shape.map((d, i) => (d === 1 ? 0 : idx[lead + i])));
}

export function broadcastShape(a: Shape, b: Shape): number[] {
  const r = Math.max(a.length, b.length);
  return Array.from({ length: r }, (_, i) => {
    const x = a[a.length - r + i] ?? 1;
    const y = b[b.length - r + i] ?? 1;
    return x === 1 ? y : x;
  });
}

export function make(shape: Shape, f: (idx: number[]) => number): Nd {
  return { shape, data: indices(shape).map(f) };
}

/** A seeded uniform generator (the library's mulberry32; data generation only, not an oracle). */
export { makeRandom as rng } from '../../src/training/data.js';

export function closeTo(got: ArrayLike<number>, want: ArrayLike<number>, rtol: number, atol: number): string | null {
  if (got.length !== want.length) return `length ${got.length} vs ${want.length}`;
  for (let i = 0; i < got.length; i++) {
    const g = got[i];
    const w = want[i];
    if (Number.isNaN(w) && Number.isNaN(g)) continue;
    if (w === g) continue;
    if (!(Math.abs(g - w) <= atol + rtol * Math.abs(w))) return `element ${i}: got ${g}, want ${w}`;
  }
  return null;
}
