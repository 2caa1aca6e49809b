/**
 * Memory planning: gives every buffer a static byte offset in one arena.
 * Params (inputs, weights, state) and outputs keep bytes of their own, since
 * they live across runs; temporaries share bytes whenever their live ranges
 * (from the kernel that writes them to the last kernel that reads them) do not
 * overlap. Placement is greedy best-fit, largest buffers first.
 */
import { DTYPE_BYTES } from '../ir/dtype.js';
import { ARENA_ALIGN, type BufferDecl, type Kernel, type KernelProgram, kernelExprs, visitLoads } from '../ir/kernel.js';
import { aliasRoot } from '../ir/repeat.js';

export interface MemoryPlanStats {
  /** Bytes of the shared region holding temporaries, as planned. */
  readonly tempBytes: number;
  /** Bytes the temporaries would take with one allocation each. */
  readonly tempBytesUnplanned: number;
  /** Bytes held by params and outputs. */
  readonly residentBytes: number;
}

function align(n: number): number {
  return Math.ceil(n / ARENA_ALIGN) * ARENA_ALIGN;
}

/** Bytes per element; `wideBool` stores bool as 32 bits (WebGPU has no byte-sized storage). */
export function elementBytes(b: { dtype: BufferDecl['dtype'] }, wideBool = false): number {
  return wideBool && b.dtype === 'bool' ? 4 : DTYPE_BYTES[b.dtype];
}

function bytesOf(b: BufferDecl, wideBool = false): number {
  return align(Math.max(b.size * elementBytes(b, wideBool), 1));
}

/** Buffers a kernel reads and writes. */
export function kernelAccess(k: Kernel): { reads: Set<number>; writes: Set<number> } {
  const reads = new Set<number>();
  for (const e of kernelExprs(k)) visitLoads(e, (l) => void reads.add(l.buf));
  switch (k.kind) {
    case 'matmul':
      reads.add(k.a.buf);
      reads.add(k.b.buf);
      if (k.b.packed !== undefined) reads.add(k.b.packed);
      return { reads, writes: new Set([k.out.buf]) };
    case 'loop': return { reads, writes: new Set(k.stores.map((s) => s.buf)) };
    case 'repeat': {
      const writes = new Set<number>();
      if (k.steps !== undefined) reads.add(k.steps);
      for (const body of k.body) {
        const access = kernelAccess(body);
        access.reads.forEach((r) => reads.add(r));
        access.writes.forEach((w) => writes.add(w));
      }
      return { reads, writes };
    }
  }
}

/** Where params live in a model's shared state arena: byte offset by param name, and its size. */
export interface SharedLayout {
  readonly offsets: ReadonlyMap<string, number>;
  readonly bytes: number;
  /**
   * The entries that are weights (not kept states): the ones a program may
   * keep packed copies of, and whose writers advance the weights generation
   * (passes/prepack_weights.ts). Without it no copies are kept.
   */
  readonly weights?: ReadonlySet<string>;
}

export function planMemory<P extends KernelProgram>(program: P, shared?: SharedLayout, wideBool = false): { program: P; stats: MemoryPlanStats } {
  const bytesOf = (b: BufferDecl): number => align(Math.max(b.size * elementBytes(b, wideBool), 1));
  const inShared = (b: BufferDecl): boolean => b.role !== 'temp' && b.role !== 'output' && !!shared?.offsets.has(b.name);
  const { buffers, kernels } = program;
  const first = new Array<number>(buffers.length).fill(Infinity);
  const last = new Array<number>(buffers.length).fill(-1);
  kernels.forEach((k, t) => {
    const { reads, writes } = kernelAccess(k);
    // An alias lives in its root's bytes: a repeat's body keeps the root live across the whole loop.
    for (const b of [...reads, ...writes].map((id) => aliasRoot(buffers, id))) {
      first[b] = Math.min(first[b], t);
      last[b] = Math.max(last[b], t);
    }
  });
  const offsets = new Array<number>(buffers.length).fill(-1);
  let residentBytes = 0;
  for (const b of buffers) {
    if (b.role === 'temp' || b.alias) continue;
    if (inShared(b)) {
      offsets[b.id] = shared!.offsets.get(b.name)!;
      continue;
    }
    offsets[b.id] = residentBytes;
    residentBytes += bytesOf(b);
  }
  // Temporaries no kernel touches (rewritten away by earlier passes) take no bytes.
  const temps = buffers.filter((b) => b.role === 'temp' && !b.alias && first[b.id] !== Infinity).sort((p, q) => bytesOf(q) - bytesOf(p) || p.id - q.id);
  const placed: BufferDecl[] = [];
  let tempBytes = 0;
  for (const b of temps) {
    const size = bytesOf(b);
    const busy = placed
      .filter((o) => first[o.id] <= last[b.id] && first[b.id] <= last[o.id])
      .map((o) => [offsets[o.id], offsets[o.id] + bytesOf(o)] as const)
      .sort((p, q) => p[0] - q[0]);
    // Best fit: the smallest gap between busy ranges that holds the buffer.
    let best = -1;
    let bestGap = Infinity;
    let cursor = 0;
    for (const [lo, hi] of busy) {
      const gap = lo - cursor;
      if (gap >= size && gap < bestGap) {
        best = cursor;
        bestGap = gap;
      }
      cursor = Math.max(cursor, hi);
    }
    if (best < 0) best = cursor;
    offsets[b.id] = best;
    tempBytes = Math.max(tempBytes, best + size);
    placed.push(b);
  }
  // An untouched temp keeps its declaration, emptied, so that every buffer's view lies inside the arena.
  const untouched = (b: BufferDecl): boolean => b.role === 'temp' && first[aliasRoot(buffers, b.id)] === Infinity;
  const placed0 = buffers.map((b): BufferDecl => {
    if (inShared(b)) return { ...b, offset: offsets[b.id], shared: true };
    if (untouched(b)) return { ...b, size: 0, shape: [0], offset: residentBytes, ...(b.alias ? { alias: { ...b.alias, offset: 0, step: 0 } } : {}) };
    return { ...b, offset: b.role === 'temp' ? residentBytes + Math.max(offsets[b.id], 0) : offsets[b.id] };
  });
  const planned = placeAliases(placed0, wideBool);
  const tempBytesUnplanned = temps.reduce((s, b) => s + bytesOf(b), 0);
  return {
    program: { ...program, buffers: planned, arenaBytes: residentBytes + tempBytes, sharedBytes: shared?.bytes ?? 0 },
    stats: { tempBytes, tempBytesUnplanned, residentBytes },
  };
}

/** Aliases take their root's arena and bytes at their element offset (roots are placed first). */
function placeAliases(buffers: BufferDecl[], wideBool: boolean): BufferDecl[] {
  const out = [...buffers];
  const place = (id: number): BufferDecl => {
    const b = out[id];
    if (!b.alias || b.alias.stepBytes !== undefined) return b;
    const of = place(b.alias.of);
    const bytes = elementBytes(of, wideBool);
    out[id] = { ...b, offset: of.offset + b.alias.offset * bytes, shared: of.shared, alias: { ...b.alias, stepBytes: b.alias.step * bytes } };
    return out[id];
  };
  buffers.forEach((b) => place(b.id));
  return out;
}

/** Whether two buffers' bytes overlap in the arena. */
export function overlaps(a: BufferDecl, b: BufferDecl): boolean {
  return a.offset < b.offset + bytesOf(b) && b.offset < a.offset + bytesOf(a);
}

export { bytesOf };
