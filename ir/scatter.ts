/**
 * The scatter_add op: rows of `updates` added into a zero tensor at the rows
 * named by `indices`, the transpose of `gather` on axis 0 (an Embedding's
 * gradient). indices: int32 of any shape I; updates: [...I, ...rest];
 * result: [rows, ...rest], out[r] = sum of updates[i] over every i with
 * clamp(indices[i], 0, rows - 1) = r. Indices are clamped as gather clamps
 * them, so scatter_add is exactly gather's vjp. The sums run over i in
 * row-major order, on every backend (the kernel form, a scatter store, is in
 * ir/kernel.ts), so results are deterministic.
 */
import { type TensorType, type TypedArray, allocArray, shapeStr, sizeOf } from './dtype.js';
import type { OpDef } from './ops.js';

export interface ScatterAddAttrs {
  /** Extent of the result's leading axis (the table's rows). */
  readonly rows: number;
}

function fail(message: string): never {
  throw new Error(message);
}

function inferScatterAdd(inputs: readonly TensorType[], { rows }: ScatterAddAttrs): TensorType {
  if (inputs.length !== 2) fail(`scatter_add takes indices and updates, got ${inputs.length} operand(s)`);
  const [indices, updates] = inputs;
  if (indices.dtype !== 'int32') fail(`scatter_add indices must be int32, got ${indices.dtype}`);
  if (updates.dtype !== 'float32' && updates.dtype !== 'float64') fail(`scatter_add updates must be float, got ${updates.dtype}`);
  if (!Number.isInteger(rows) || rows < 1) fail(`scatter_add rows must be an integer >= 1, got ${rows}`);
  const q = indices.shape.length;
  const lead = updates.shape.slice(0, q);
  if (lead.length !== q || lead.some((d, i) => d !== indices.shape[i])) {
    fail(`scatter_add updates ${shapeStr(updates.shape)} must start with the indices' shape ${shapeStr(indices.shape)}`);
  }
  return { shape: [rows, ...updates.shape.slice(q)], dtype: updates.dtype };
}

/** Reference: rows added in index order, rounding to the dtype after each addition as the kernels do. */
function evaluateScatterAdd([indices, updates]: readonly TypedArray[], [ti]: readonly TensorType[], { rows }: ScatterAddAttrs, out: TensorType): TypedArray {
  const r = allocArray(out.dtype, sizeOf(out.shape));
  const count = sizeOf(ti.shape);
  const inner = sizeOf(out.shape.slice(1));
  for (let i = 0; i < count; i++) {
    const row = Math.min(Math.max(indices[i], 0), rows - 1);
    for (let k = 0; k < inner; k++) r[row * inner + k] += updates[i * inner + k];
  }
  return r;
}

export const SCATTER_ADD_DEF: OpDef<ScatterAddAttrs> = { fusion: 'opaque', infer: inferScatterAdd, evaluate: evaluateScatterAdd };
