/**
 * Affine index maps: how a point of a kernel's iteration space addresses the
 * elements of a tensor. Lowering walks a fused group from its root towards its
 * leaves, carrying one map per node and transforming it through movement ops,
 * so transposes, broadcasts, slices and reshapes become load strides instead
 * of copies. A transform that is not affine returns null: fusion then keeps
 * that tensor materialized.
 */
import { type Shape, sizeOf, stridesOf } from '../ir/dtype.js';
import type { Mask, View } from '../ir/kernel.js';

/** coordinate[j] = offset[j] + sum_d rows[j][d] * point[d], for a tensor of `shape`. */
export interface IndexMap {
  readonly shape: Shape;
  readonly offset: readonly number[];
  readonly rows: readonly (readonly number[])[];
  /** Extents of the iteration space the map is over. */
  readonly space: readonly number[];
  /** Set below a pad: where the map's coordinates are valid (bounds over the space), and the pad value elsewhere. */
  readonly mask?: Mask;
}

/** A transformed map keeps the mask of the map it came from. */
function keepMask(m: IndexMap, next: Omit<IndexMap, 'mask'>): IndexMap {
  return m.mask ? { ...next, mask: m.mask } : next;
}

/** The map of a tensor whose axes are the iteration space's dims `dims` (others broadcast). */
export function identityMap(shape: Shape, space: readonly number[], dims: readonly number[] = shape.map((_, i) => i)): IndexMap {
  const rows = shape.map((_, j) => space.map((__, d) => (d === dims[j] ? 1 : 0)));
  return { shape, offset: shape.map(() => 0), rows, space };
}

export function transposeMap(m: IndexMap, perm: readonly number[], inShape: Shape): IndexMap {
  const offset = new Array<number>(inShape.length).fill(0);
  const rows = inShape.map(() => m.space.map(() => 0));
  perm.forEach((p, j) => {
    offset[p] = m.offset[j];
    rows[p] = [...m.rows[j]];
  });
  return keepMask(m, { shape: inShape, offset, rows, space: m.space });
}

export function broadcastMap(m: IndexMap, inShape: Shape): IndexMap {
  const lead = m.shape.length - inShape.length;
  const zero = m.space.map(() => 0);
  return keepMask(m, {
    shape: inShape,
    offset: inShape.map((d, j) => (d === 1 ? 0 : m.offset[lead + j])),
    rows: inShape.map((d, j) => (d === 1 ? zero : m.rows[lead + j])),
    space: m.space,
  });
}

export function sliceMap(m: IndexMap, begin: readonly number[], step: readonly number[], inShape: Shape): IndexMap {
  return keepMask(m, {
    shape: inShape,
    offset: m.offset.map((o, j) => begin[j] + step[j] * o),
    rows: m.rows.map((r, j) => r.map((c) => c * step[j])),
    space: m.space,
  });
}

/**
 * Through a pad: coordinates shift by `low`, and every padded axis adds a
 * bound (its input coordinate in [0, extent)). Null when the map is already
 * masked with another fill value (the tensor in between is materialized).
 */
export function padMap(m: IndexMap, low: readonly number[], high: readonly number[], value: number, inShape: Shape): IndexMap | null {
  if (m.mask && !Object.is(m.mask.fill, value)) return null;
  const offset = m.offset.map((o, j) => o - low[j]);
  const bounds = [...(m.mask?.bounds ?? [])];
  inShape.forEach((n, j) => {
    if (low[j] > 0 || high[j] > 0) bounds.push({ offset: offset[j], strides: [...m.rows[j]], size: n });
  });
  return { shape: inShape, offset, rows: m.rows, space: m.space, mask: { bounds, fill: value } };
}

/** Through sliding windows: input coordinate = position * stride + offset-in-window * dilation, per axis. */
export function windowMap(m: IndexMap, strides: readonly number[], dilations: readonly number[], inShape: Shape): IndexMap {
  const r = inShape.length;
  return keepMask(m, {
    shape: inShape,
    offset: inShape.map((_, a) => m.offset[a] * strides[a] + m.offset[r + a] * dilations[a]),
    rows: inShape.map((_, a) => m.space.map((__, d) => m.rows[a][d] * strides[a] + m.rows[r + a][d] * dilations[a])),
    space: m.space,
  });
}

/** Linear (row-major) element index of the map's tensor as an affine view. */
export function linearView(m: IndexMap): View {
  const st = stridesOf(m.shape);
  const offset = m.offset.reduce((s, o, j) => s + o * st[j], 0);
  const strides = m.space.map((_, d) => m.rows.reduce((s, r, j) => s + r[d] * st[j], 0));
  return { offset, strides };
}

/**
 * A reshape that only inserts or drops axes of extent 1 carries each other
 * axis's coordinate over unchanged (exact even below a pad, where coordinates
 * may start negative).
 */
function unitReshapeMap(m: IndexMap, inShape: Shape): IndexMap | null {
  const outAxes = m.shape.flatMap((d, j) => (d === 1 ? [] : [j]));
  const inAxes = inShape.flatMap((d, j) => (d === 1 ? [] : [j]));
  if (outAxes.length !== inAxes.length || outAxes.some((j, i) => m.shape[j] !== inShape[inAxes[i]])) return null;
  const zero = m.space.map(() => 0);
  const offset = inShape.map(() => 0);
  const rows: (readonly number[])[] = inShape.map(() => zero);
  inAxes.forEach((j, i) => {
    offset[j] = m.offset[outAxes[i]];
    rows[j] = m.rows[outAxes[i]];
  });
  return keepMask(m, { shape: inShape, offset, rows, space: m.space });
}

/**
 * Re-expresses the map through a reshape to `inShape` (same element order).
 * Affine only when each iteration dim lands inside one axis of `inShape`
 * without carrying into the next; otherwise null.
 */
export function reshapeMap(m: IndexMap, inShape: Shape): IndexMap | null {
  const squeezed = unitReshapeMap(m, inShape);
  if (squeezed) return squeezed;
  const lin = linearView(m);
  const st = stridesOf(inShape);
  const rows = inShape.map(() => m.space.map(() => 0));
  const reach = inShape.map(() => 0);
  let rest = lin.offset;
  const offset = inShape.map((_, j) => {
    const c = Math.floor(rest / st[j]);
    rest -= c * st[j];
    return c;
  });
  for (let d = 0; d < m.space.length; d++) {
    const c = lin.strides[d];
    if (c === 0 || m.space[d] === 1) continue;
    const j = st.findIndex((s, a) => inShape[a] > 1 && c % s === 0 && Math.abs(c / s) * (m.space[d] - 1) < inShape[a]);
    if (j < 0 || c < 0) return null;
    rows[j][d] = c / st[j];
    reach[j] += (c / st[j]) * (m.space[d] - 1);
  }
  // Below a pad, coordinates may start negative (the mask covers them): keep those maps off the reshape.
  if (inShape.some((d, j) => offset[j] < 0 || offset[j] + reach[j] >= Math.max(d, 1))) return null;
  return keepMask(m, { shape: inShape, offset, rows, space: m.space });
}

export function isScalarShape(shape: Shape): boolean {
  return sizeOf(shape) === 1;
}
