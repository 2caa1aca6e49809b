/**
 * Matmul kernels: C = epilogue(A @ B), blocked for the cache and computed by
 * the register-tiled micro-kernel (./microkernel.ts). The work is split into
 * units of (batch, a strip of rows, NC columns), the same whatever the
 * thread count; each thread takes ranges of units and uses its own packing
 * buffers. A unit packs its B columns once, for
 * all of k, into NR-column panels; then for each MC-row block and KC slice of
 * k it packs the A block into MR-row panels (zero-padded at the edges, so the
 * micro-kernel only ever sees full tiles), accumulates into a per-thread C
 * tile, and applies the epilogue (bias, activation, ...) once when the tile is
 * complete. Any strides work: transposed operands cost nothing beyond the
 * packing. How the work is cut (units, blocks, tiles, which operands are read
 * in place) is decided in ./matmul_plan.ts.
 */
import llvm from './llvm.js';
import { type Expr, type KernelProgram, type MatmulKernel, exprDType, rowGroup } from '../../ir/kernel.js';
import { kernelAccess } from '../../passes/memory_plan.js';
import type { Emitter } from './context.js';
import { emitExpr, loadElement, maskedLoad, storeElement, viewIndex } from './expr.js';
import { bufferPointers, reduceInit, reduceStep, unflatten } from './loop_kernel.js';
import { flatKernels } from '../../ir/repeat.js';
import { type TileRows, directMicroKernel, microKernel, packKernel, vectorWidth } from './microkernel.js';
import { type PackOrder, panelPackKernel } from './pack_kernels.js';
import { type DirectA, KC_DIRECT, KC_MAX, MC, NC_MAX, STREAM_NB, STREAM_ROWS, bIsPanel, blockRows, blocks, directA, directVectors, gathers, roundUp, split, streaming, tileRows } from './matmul_plan.js';

type V = llvm.Value;

/** Extra elements per C tile row: a row stride of a multiple of 1 KiB would put every row in the same few L1 sets. */
const C_SKEW = 16;

/** Indices over M (row `i`) or K (depth `p`): the flat index, or split over the dims when there are several. */
function split1(e: Emitter, flat: V, dims: readonly number[] | undefined): V[] {
  return dims && dims.length !== 1 ? unflatten(e, flat, dims) : [flat];
}

/** Element of operand `op` at `point` of its space (batch ++ M ++ K for A, batch ++ K ++ [n] for B). */
function loadOperand(e: Emitter, k: MatmulKernel, op: MatmulKernel['a'], ptrs: Map<number, V>, point: V[]): V {
  return maskedLoad(e, ptrs.get(op.buf)!, viewIndex(e, op.view, point), op.mask, point, k.dtype);
}

/**
 * `extent` from `origin`, clipped to `total`: a constant where every block
 * is whole, so that LLVM sizes a unit's loops whatever range of units the
 * pool passes (a one-thread program's entry calls a kernel with constant
 * bounds, and LLVM folds the extents there).
 */
function blockExtent(e: Emitter, origin: V, extent: number, total: number): V {
  return total % extent === 0 ? e.int64(extent) : min(e, e.int64(extent), e.b.CreateSub(e.int64(total), origin));
}

/** A zero-initialized global array of `threads` slices of `size` elements. */
function scratch(e: Emitter, name: string, elem: llvm.Type, size: number, threads: number): { base: V; size: number } {
  const ty = llvm.ArrayType.get(elem, size * threads);
  const existing = e.module.getGlobalVariable(name);
  const g = existing ?? new llvm.GlobalVariable(e.module, ty, false, llvm.Function.LinkageTypes.InternalLinkage, llvm.Constant.getNullValue(ty), name);
  return { base: e.b.CreateBitCast(g, llvm.PointerType.get(elem, 0)), size };
}

interface MatmulFunction {
  readonly fn: llvm.Function;
  readonly lo: V;
  readonly hi: V;
  readonly ptrs: Map<number, V>;
  /** This thread's slice of a per-thread scratch array. */
  scratch(name: string, size: number): V;
}

/** `void name(i8* bases, i64 lo, i64 hi)` with the kernel's buffer pointers and per-thread scratch. */
function beginMatmul(e: Emitter, program: KernelProgram, k: MatmulKernel, name: string, threads: number): MatmulFunction {
  const ty = e.typeOf(k.dtype);
  const fn = e.beginFunction(name, e.void, [e.i8p, e.i64, e.i64]);
  const b = e.b;
  const { reads, writes } = kernelAccess(k);
  const ptrs = bufferPointers(e, program, new Set([...reads, ...writes]), fn.getArg(0));
  const tid = b.CreateSExt(b.CreateCall(e.external('omp_get_thread_num', e.i32, []), []), e.i64);
  return {
    fn, lo: fn.getArg(1), hi: fn.getArg(2), ptrs,
    scratch: (label, size) => b.CreateInBoundsGEP(ty, scratch(e, `kiln_${label}_${k.dtype}`, ty, size, threads).base, [b.CreateMul(tid, e.int64(size))]),
  };
}

/**
 * out[batch, row0 + i, col0 + j] = epilogue(acc(i, j)) for i < rows, j < cols.
 * With a rowReduce, each group of g consecutive rows (whole groups: blocks
 * start and end on them) is reduced into one output row, row0 / g + i / g.
 */
function emitEpilogue(e: Emitter, program: KernelProgram, k: MatmulKernel, ptrs: Map<number, V>, batch: V[], origin: [V, V], extent: [V | number, V | number], acc: (i: V, j: V) => V): void {
  const b = e.b;
  const g = rowGroup(k);
  const mDims = k.mDims ?? [k.m];
  const kept = k.rowReduce ? mDims.slice(0, mDims.length - k.rowReduce.dims) : mDims;
  const groupDims = mDims.slice(kept.length);
  const dtype = exprDType(k.epilogue);
  const rows = g === 1 ? extent[0] : typeof extent[0] === 'number' ? extent[0] / g : b.CreateSDiv(extent[0], e.int64(g));
  const first = g === 1 ? origin[0] : b.CreateSDiv(origin[0], e.int64(g));
  e.loop(0, rows, (i) => {
    const at = split1(e, b.CreateAdd(first, i), kept.length === mDims.length ? k.mDims : kept);
    e.loop(0, extent[1], (j) => {
      const col = b.CreateAdd(origin[1], j);
      const value = (r: number): V => {
        const inner = groupDims.map((_, t) => e.int64(Math.floor(r / groupDims.slice(t + 1).reduce((p, q) => p * q, 1)) % groupDims[t]));
        const row = g === 1 ? i : b.CreateAdd(b.CreateMul(i, e.int64(g)), e.int64(r));
        return emitExpr(e, k.epilogue, { idx: [...batch, ...at, ...inner, col], accs: [acc(row, j)], ptrs, memo: new Map<Expr, V>() });
      };
      let v = k.rowReduce ? reduceInit(e, k.rowReduce.op, dtype) : value(0);
      for (let r = 0; k.rowReduce && r < g; r++) v = reduceStep(e, k.rowReduce.op, dtype, v, value(r));
      storeElement(e, ptrs.get(k.out.buf)!, viewIndex(e, k.out.view, [...batch, ...at, col]), program.buffers[k.out.buf].dtype, v);
    }, 'ej');
  }, 'ei');
}

function min(e: Emitter, a: V, b: V): V {
  return e.b.CreateSelect(e.b.CreateICmpSLT(a, b), a, b);
}

/**
 * Small-m form (inference at batch 1-8): per unit of STREAM_NB columns,
 * C_tile[m x NB] += A[i, p] * B[p, cols] for each p, so every row of B is read
 * once, contiguously, and the inner loop vectorizes; then the epilogue.
 */
function emitStreamingMatmul(e: Emitter, program: KernelProgram, k: MatmulKernel, name: string, threads: number): llvm.Function {
  const ty = e.typeOf(k.dtype);
  const { fn, lo, hi, ptrs, scratch: threadScratch } = beginMatmul(e, program, k, name, threads);
  const b = e.b;
  const tile = threadScratch('stream_c', STREAM_ROWS * STREAM_NB);
  const fma = e.intrinsic(llvm.Intrinsic.fmuladd, [ty]);
  const zero = e.constant(0, k.dtype);
  e.loop(lo, hi, (u) => {
    const idx = unflatten(e, u, blocks(k));
    const batch = idx.slice(0, -1);
    const jc = b.CreateMul(idx[idx.length - 1], e.int64(STREAM_NB));
    const nc = blockExtent(e, jc, STREAM_NB, k.n);
    const cell = (i: V, j: V): V => b.CreateInBoundsGEP(ty, tile, [b.CreateAdd(b.CreateMul(i, e.int64(STREAM_NB)), j)]);
    e.loop(0, k.m, (i) => e.loop(0, nc, (j) => void b.CreateStore(zero, cell(i, j)), 'zj'), 'zi');
    e.loop(0, k.k, (p) => {
      const bRow = b.CreateInBoundsGEP(ty, ptrs.get(k.b.buf)!, [viewIndex(e, k.b.view, [...batch, p, jc])]);
      e.loop(0, k.m, (i) => {
        const a = loadElement(e, ptrs.get(k.a.buf)!, viewIndex(e, k.a.view, [...batch, i, p]), k.dtype);
        e.loop(0, nc, (j) => {
          const c = cell(i, j);
          const bv = b.CreateLoad(ty, b.CreateInBoundsGEP(ty, bRow, [j]));
          b.CreateStore(b.CreateCall(fma, [a, bv, b.CreateLoad(ty, c)]), c);
        }, 'sj');
      }, 'si');
    }, 'sp');
    emitEpilogue(e, program, k, ptrs, batch, [e.int64(0), jc], [k.m, nc], (i, j) => b.CreateLoad(ty, cell(i, j)));
  }, 'unit');
  e.endFunction();
  return fn;
}

/**
 * Packs `panels` panels of kc x width into `dst` (panel-major, then p, then
 * lane) from `load(index, p)`. Full panels copy without bounds logic, so the
 * loops vectorize; only the last, partial panel clamps its reads and pads
 * with zeros.
 */
function packPanels(e: Emitter, panels: V, extent: V, width: number, kc: V, dst: V, load: (index: V, p: V) => V, zero: V, ty: llvm.Type, tag: string): void {
  const b = e.b;
  const full = b.CreateSDiv(extent, e.int64(width));
  const store = (panel: V, p: V, t: V, v: V): void => {
    const at = b.CreateAdd(b.CreateMul(b.CreateAdd(b.CreateMul(panel, kc), p), e.int64(width)), t);
    b.CreateStore(v, b.CreateInBoundsGEP(ty, dst, [at]));
  };
  e.loop(0, full, (panel) => e.loop(0, kc, (p) => e.loop(0, width, (t) => {
    store(panel, p, t, load(b.CreateAdd(b.CreateMul(panel, e.int64(width)), t), p));
  }, `${tag}t`), `${tag}p`), `${tag}panel`);
  e.loop(full, panels, (panel) => e.loop(0, kc, (p) => e.loop(0, width, (t) => {
    const index = b.CreateAdd(b.CreateMul(panel, e.int64(width)), t);
    const clamped = min(e, index, b.CreateSub(extent, e.int64(1)));
    store(panel, p, t, b.CreateSelect(b.CreateICmpSLT(index, extent), load(clamped, p), zero));
  }, `${tag}tt`), `${tag}tp`), `${tag}tail`);
}

/** Deepest k of the program's matmuls of `dtype` that pack B per call: the B packing buffer holds a whole column block. */
function maxK(e: Emitter, program: KernelProgram, dtype: string): number {
  return Math.max(1, ...flatKernels(program.kernels).filter((x): x is MatmulKernel => x.kind === 'matmul' && x.dtype === dtype && !streaming(x) && !readsPackedB(e, x)).map((x) => x.k));
}

/** What the packed form's helpers share within one unit of one kernel. */
interface Unit {
  readonly e: Emitter;
  readonly program: KernelProgram;
  readonly k: MatmulKernel;
  readonly ty: llvm.Type;
  /** Rows and columns of the micro-kernel's tile. */
  readonly mr: TileRows;
  readonly nr: number;
  readonly ptrs: Map<number, V>;
  readonly batch: V[];
  /** First column and column count of the unit, and its NR-wide panels. */
  readonly jc: V;
  readonly nc: V;
  readonly nPanels: V;
  /** Row stride of the C tile: the column block plus a skew, so its rows do not share L1 sets. */
  readonly ldc: number;
}

/** The unit's B columns, all of k, as nPanels panels of k x nr at `dst`. */
function packB(u: Unit, dst: V, rowCopy: llvm.Function): void {
  const { e, k, ty, nr, ptrs, batch, jc } = u;
  const b = e.b;
  const K = e.int64(k.k);
  const zero = e.constant(0, k.dtype);
  const strides = k.b.view.strides;
  const load = (j: V, p: V): V => loadOperand(e, k, k.b, ptrs, [...batch, ...split1(e, p, k.kDims), b.CreateAdd(jc, j)]);
  const [sk, sn] = strides.slice(-2);
  // Contiguous columns: full panels are vector row copies; contiguous depth (B = W^T): transposing copies.
  const copy = gathers(k) ? null : sn === 1 ? { fn: rowCopy, ld: sk } : sk === 1 ? { fn: panelPacker(e, k, nr, 'depth'), ld: sn } : null;
  if (!copy) return packPanels(e, u.nPanels, u.nc, nr, K, dst, load, zero, ty, 'b');
  // Only the last, partial panel goes element by element.
  const full = b.CreateSDiv(u.nc, e.int64(nr));
  e.loop(0, full, (panel) => {
    const src = b.CreateInBoundsGEP(ty, ptrs.get(k.b.buf)!, [viewIndex(e, k.b.view, [...batch, e.int64(0), b.CreateAdd(jc, b.CreateMul(panel, e.int64(nr)))])]);
    b.CreateCall(copy.fn, [src, e.int64(copy.ld), b.CreateInBoundsGEP(ty, dst, [b.CreateMul(b.CreateMul(panel, K), e.int64(nr))]), K]);
  }, 'bpanel');
  const tail = b.CreateMul(full, e.int64(nr));
  packPanels(e, b.CreateSub(u.nPanels, full), b.CreateSub(u.nc, tail), nr, K, b.CreateInBoundsGEP(ty, dst, [b.CreateMul(tail, K)]), (j, p) => load(b.CreateAdd(tail, j), p), zero, ty, 'b');
}

/** `void kiln_pack_<order>_<t>_w<width>(T* src, i64 ld, T* dst, i64 kc)` (./pack_kernels.ts), linked into the module. */
function panelPacker(e: Emitter, k: MatmulKernel, width: number, order: PackOrder): llvm.Function {
  const kernel = panelPackKernel(k.dtype as 'float32' | 'float64', width, order);
  e.requireMicroKernel(kernel);
  const ptrTy = llvm.PointerType.get(e.typeOf(k.dtype), 0);
  return e.external(kernel.name, e.void, [ptrTy, e.i64, ptrTy, e.i64]);
}

/** Width of B's panels: the direct micro-kernel's where A is read in place, else the packing micro-kernel's. */
function panelWidth(e: Emitter, k: MatmulKernel): number {
  const vw = vectorWidth(k.dtype as 'float32' | 'float64', e.vectorBits);
  return directA(k) ? directVectors(k, e.vectorBits) * vw : 2 * vw;
}

/**
 * Whether the kernel reads B from its packed copy (MatmulOperand.packed,
 * kept current at program entry by codegen/llvm/prepack.ts): not when B is
 * streamed, nor when it is already one panel read where it lies. A unit's
 * panels are a slice of the copy only when its first column is a whole
 * number of panels: column blocks must be too.
 */
export function readsPackedB(e: Emitter, k: MatmulKernel): boolean {
  if (k.b.packed === undefined || streaming(k)) return false;
  const nr = panelWidth(e, k);
  return !(directA(k) && bIsPanel(k, nr)) && split(k).nc % nr === 0 && NC_MAX % nr === 0;
}

/**
 * `void name(i8* bases, i64 lo, i64 hi)` packing column blocks [lo, hi) of B,
 * for all of k, into its packed copy: the panels a unit at column jc would
 * pack, at jc * k of the copy. B reads the same for every batch index (K10).
 */
export function emitPackB(e: Emitter, program: KernelProgram, k: MatmulKernel, name: string): llvm.Function {
  const ty = e.typeOf(k.dtype);
  const ptrTy = llvm.PointerType.get(ty, 0);
  const copy = packKernel(k.dtype as 'float32' | 'float64', e.vectorBits);
  e.requireMicroKernel(copy);
  const rowCopy = e.external(copy.name, e.void, [ptrTy, e.i64, ptrTy, e.i64]);
  const fn = e.beginFunction(name, e.void, [e.i8p, e.i64, e.i64]);
  const b = e.b;
  const ptrs = bufferPointers(e, program, new Set([k.b.buf, k.b.packed!]), fn.getArg(0));
  const nr = panelWidth(e, k);
  e.loop(fn.getArg(1), fn.getArg(2), (block) => {
    const jc = b.CreateMul(block, e.int64(NC_MAX));
    const nc = min(e, e.int64(NC_MAX), b.CreateSub(e.int64(k.n), jc));
    const nPanels = b.CreateSDiv(b.CreateAdd(nc, e.int64(nr - 1)), e.int64(nr));
    const u: Unit = { e, program, k, ty, mr: tileRows(k), nr, ptrs, batch: k.batch.map(() => e.int64(0)), jc, nc, nPanels, ldc: 0 };
    packB(u, b.CreateInBoundsGEP(ty, ptrs.get(k.b.packed!)!, [b.CreateMul(jc, e.int64(k.k))]), rowCopy);
  }, 'block');
  e.endFunction();
  return fn;
}

/** Per row of a block: A's element index at depth 0, and each mask bound's coordinate there. */
interface RowParts {
  readonly offset: V;
  readonly coords: V;
}

/**
 * A's view and bounds are linear, so each splits into a row part and a depth
 * part. The row parts of the block's rows are computed once per block (the
 * rows' split over M costs divisions), so packing a gathered A costs an add
 * and, per bound, an add and a compare per element.
 */
function rowParts(u: Unit, ic: V, mc: V): RowParts {
  const { e, k, batch } = u;
  const b = e.b;
  const bounds = k.a.mask?.bounds ?? [];
  const offset = e.alloca(llvm.ArrayType.get(e.i64, MC), 'row_offset');
  const coords = e.alloca(llvm.ArrayType.get(e.i64, MC * Math.max(bounds.length, 1)), 'row_coords');
  const depthZeros = (k.kDims ?? [k.k]).map(() => e.int64(0));
  e.loop(0, mc, (i) => {
    const point = [...batch, ...split1(e, b.CreateAdd(ic, i), k.mDims), ...depthZeros];
    b.CreateStore(viewIndex(e, k.a.view, point), b.CreateInBoundsGEP(e.i64, b.CreateBitCast(offset, llvm.PointerType.get(e.i64, 0)), [i]));
    bounds.forEach((bd, t) => {
      const at = b.CreateAdd(b.CreateMul(e.int64(t), e.int64(MC)), i);
      b.CreateStore(viewIndex(e, { offset: bd.offset, strides: bd.strides }, point), b.CreateInBoundsGEP(e.i64, b.CreateBitCast(coords, llvm.PointerType.get(e.i64, 0)), [at]));
    });
  }, 'row');
  return { offset: b.CreateBitCast(offset, llvm.PointerType.get(e.i64, 0)), coords: b.CreateBitCast(coords, llvm.PointerType.get(e.i64, 0)) };
}

/** A's element at (block row i, slice depth p) from the row parts and the depth's own part; 0 where a bound fails. */
function gatheredA(u: Unit, rows: RowParts, p0: V): (i: V, p: V) => V {
  const { e, k, batch } = u;
  const b = e.b;
  const lead = [...batch, ...(k.mDims ?? [k.m])].map(() => e.int64(0));
  return (i, p) => {
    const point = [...lead, ...split1(e, b.CreateAdd(p0, p), k.kDims)];
    const depth = (strides: readonly number[]): V => viewIndex(e, { offset: 0, strides }, point);
    const index = b.CreateAdd(b.CreateLoad(e.i64, b.CreateInBoundsGEP(e.i64, rows.offset, [i])), depth(k.a.view.strides));
    const bounds = k.a.mask?.bounds ?? [];
    if (!bounds.length) return loadElement(e, u.ptrs.get(k.a.buf)!, index, k.dtype);
    let valid: V = b.getTrue();
    bounds.forEach((bd, t) => {
      const row = b.CreateLoad(e.i64, b.CreateInBoundsGEP(e.i64, rows.coords, [b.CreateAdd(e.int64(t * MC), i)]));
      valid = b.CreateAnd(valid, b.CreateICmpULT(b.CreateAdd(row, depth(bd.strides)), e.int64(bd.size)));
    });
    const loaded = loadElement(e, u.ptrs.get(k.a.buf)!, b.CreateSelect(valid, index, e.int64(0)), k.dtype);
    return b.CreateSelect(valid, loaded, e.constant(0, k.dtype));
  };
}

/**
 * Rows [ic, ic + mc) of the unit: per KC slice, pack the A block and run the
 * micro-kernel over every (B panel, A panel) pair into the C tile `cb`; then
 * the epilogue.
 */
function emitRowBlock(u: Unit, ic: V, mc: V, scratch: { ap: V; bp: V; cb: V }, micro: llvm.Function): void {
  const { e, k, ty, mr, nr, ptrs, batch } = u;
  const b = e.b;
  const K = e.int64(k.k);
  const zero = e.constant(0, k.dtype);
  const { ap, bp, cb } = scratch;
  const cell = (i: V, j: V): V => b.CreateInBoundsGEP(ty, cb, [b.CreateAdd(b.CreateMul(i, e.int64(u.ldc)), j)]);
  const mPanels = b.CreateSDiv(b.CreateAdd(mc, e.int64(mr - 1)), e.int64(mr));
  e.loop(0, b.CreateMul(mPanels, e.int64(mr)), (i) => e.loop(0, b.CreateMul(u.nPanels, e.int64(nr)), (j) => void b.CreateStore(zero, cell(i, j)), 'zj'), 'zi');
  const slices = Math.ceil(k.k / KC_MAX);
  const sliceK = Math.ceil(k.k / Math.max(slices, 1));
  const rows = gathers(k) ? rowParts(u, ic, mc) : null;
  e.loop(0, slices, (pcIndex) => {
    const p0 = b.CreateMul(pcIndex, e.int64(sliceK));
    const kc = min(e, e.int64(sliceK), b.CreateSub(K, p0));
    // The im2col gather of a convolution happens here, panel by panel: A's masked view over batch ++ M ++ K.
    const loadA = rows ? gatheredA(u, rows, p0) : (i: V, p: V): V => loadOperand(e, k, k.a, ptrs, [...batch, b.CreateAdd(ic, i), b.CreateAdd(p0, p)]);
    const [sm, sk] = k.a.view.strides.slice(-2);
    if (rows || sm !== 1) packPanels(e, mPanels, mc, mr, kc, ap, loadA, zero, ty, 'a');
    else {
      // Rows adjacent in memory (A = X^T): each depth step of a full panel copies mr adjacent elements; the partial panel as above.
      const copy = panelPacker(e, k, mr, 'lanes');
      const full = b.CreateSDiv(mc, e.int64(mr));
      e.loop(0, full, (panel) => {
        const src = b.CreateInBoundsGEP(ty, ptrs.get(k.a.buf)!, [viewIndex(e, k.a.view, [...batch, b.CreateAdd(ic, b.CreateMul(panel, e.int64(mr))), p0])]);
        b.CreateCall(copy, [src, e.int64(sk), b.CreateInBoundsGEP(ty, ap, [b.CreateMul(b.CreateMul(panel, kc), e.int64(mr))]), kc]);
      }, 'apanel');
      const tail = b.CreateMul(full, e.int64(mr));
      packPanels(e, b.CreateSub(mPanels, full), b.CreateSub(mc, tail), mr, kc, b.CreateInBoundsGEP(ty, ap, [b.CreateMul(tail, kc)]), (i, p) => loadA(b.CreateAdd(tail, i), p), zero, ty, 'a');
    }
    // jp outer, ip inner: one B micro-panel stays in L1 while the A block streams from L2.
    e.loop(0, u.nPanels, (jp) => {
      const bPanel = b.CreateInBoundsGEP(ty, bp, [b.CreateMul(b.CreateAdd(b.CreateMul(jp, K), p0), e.int64(nr))]);
      e.loop(0, mPanels, (ip) => {
        const aPanel = b.CreateInBoundsGEP(ty, ap, [b.CreateMul(b.CreateMul(ip, kc), e.int64(mr))]);
        b.CreateCall(micro, [aPanel, bPanel, cell(b.CreateMul(ip, e.int64(mr)), b.CreateMul(jp, e.int64(nr))), kc, e.int64(u.ldc)]);
      }, 'uip');
    }, 'ujp');
  }, 'pc');
  emitEpilogue(e, u.program, k, ptrs, batch, [ic, u.jc], [mc, u.nc], (i, j) => b.CreateLoad(ty, cell(i, j)));
}

/** The direct micro-kernel's operands that stay fixed over a kernel: A's buffer and the run offsets (a constant global). */
interface DirectPlan {
  readonly a: DirectA;
  /** Columns of the direct micro-kernel's tile (its B panels' width). */
  readonly nr: number;
  readonly segs: V;
  readonly micro: llvm.Function;
}

/**
 * Rows [ic, ic + mc) of the unit with A read in place: each row's depth-0
 * element offset once per block (rows past the block repeat its last row, so
 * tiles stay full; their C rows are never stored), then per slice of runs the
 * direct micro-kernel over every (B panel, row panel) pair; then the epilogue.
 */
function emitDirectRowBlock(u: Unit, ic: V, mc: V, scratch: { bp: V; cb: V }, plan: DirectPlan): void {
  const { e, k, ty, mr, nr, ptrs, batch } = u;
  const b = e.b;
  const cell = (i: V, j: V): V => b.CreateInBoundsGEP(ty, scratch.cb, [b.CreateAdd(b.CreateMul(i, e.int64(u.ldc)), j)]);
  const mPanels = b.CreateSDiv(b.CreateAdd(mc, e.int64(mr - 1)), e.int64(mr));
  const tileRows = b.CreateMul(mPanels, e.int64(mr));
  e.loop(0, tileRows, (i) => e.loop(0, b.CreateMul(u.nPanels, e.int64(nr)), (j) => void b.CreateStore(e.constant(0, k.dtype), cell(i, j)), 'zj'), 'zi');
  const rows = b.CreateBitCast(e.alloca(llvm.ArrayType.get(e.i64, MC), 'direct_rows'), llvm.PointerType.get(e.i64, 0));
  const depthZeros = (k.kDims ?? [k.k]).map(() => e.int64(0));
  const last = b.CreateSub(b.CreateAdd(ic, mc), e.int64(1));
  e.loop(0, tileRows, (i) => {
    const point = [...batch, ...split1(e, min(e, b.CreateAdd(ic, i), last), k.mDims), ...depthZeros];
    b.CreateStore(viewIndex(e, k.a.view, point), b.CreateInBoundsGEP(e.i64, rows, [i]));
  }, 'drow');
  const { seglen, step, segs } = plan.a;
  const perSlice = Math.max(1, Math.floor(KC_DIRECT / seglen));
  e.loop(0, Math.ceil(segs.length / perSlice), (slice) => {
    const s0 = b.CreateMul(slice, e.int64(perSlice));
    const ns = min(e, e.int64(perSlice), b.CreateSub(e.int64(segs.length), s0));
    const p0 = b.CreateMul(s0, e.int64(seglen));
    e.loop(0, u.nPanels, (jp) => {
      const bPanel = b.CreateInBoundsGEP(ty, scratch.bp, [b.CreateMul(b.CreateAdd(b.CreateMul(jp, e.int64(k.k)), p0), e.int64(nr))]);
      e.loop(0, mPanels, (ip) => {
        const rowPanel = b.CreateInBoundsGEP(e.i64, rows, [b.CreateMul(ip, e.int64(mr))]);
        const c = cell(b.CreateMul(ip, e.int64(mr)), b.CreateMul(jp, e.int64(nr)));
        b.CreateCall(plan.micro, [ptrs.get(k.a.buf)!, rowPanel, b.CreateInBoundsGEP(e.i64, plan.segs, [s0]), ns, e.int64(seglen), e.int64(step), bPanel, c, e.int64(u.ldc)]);
      }, 'dip');
    }, 'djp');
  }, 'dslice');
  emitEpilogue(e, u.program, k, ptrs, batch, [ic, u.jc], [mc, u.nc], (i, j) => b.CreateLoad(ty, cell(i, j)));
}

/** The run offsets of a direct A as a constant global array. */
function segmentTable(e: Emitter, name: string, segs: readonly number[]): V {
  const ty = llvm.ArrayType.get(e.i64, segs.length);
  const init = llvm.ConstantArray.get(ty, segs.map((s) => e.int64(s) as llvm.Constant));
  const g = new llvm.GlobalVariable(e.module, ty, true, llvm.Function.LinkageTypes.InternalLinkage, init, `kiln_segs_${name}`);
  return e.b.CreateBitCast(g, llvm.PointerType.get(e.i64, 0));
}

export function emitMatmulKernel(e: Emitter, program: KernelProgram, k: MatmulKernel, name: string, threads: number): llvm.Function {
  if (k.dtype !== 'float32' && k.dtype !== 'float64') throw new Error(`codegen/llvm: matmul of ${k.dtype} is not supported`);
  if (streaming(k)) return emitStreamingMatmul(e, program, k, name, threads);
  const ty = e.typeOf(k.dtype);
  const ptrTy = llvm.PointerType.get(ty, 0);
  const uk = microKernel(k.dtype, tileRows(k), e.vectorBits);
  const copy = packKernel(k.dtype, e.vectorBits);
  e.requireMicroKernel(uk);
  e.requireMicroKernel(copy);
  const micro = e.external(uk.name, e.void, [ptrTy, ptrTy, ptrTy, e.i64, e.i64]);
  const rowCopy = e.external(copy.name, e.void, [ptrTy, e.i64, ptrTy, e.i64]);
  const { fn, lo, hi, ptrs, scratch: threadScratch } = beginMatmul(e, program, k, name, threads);
  const b = e.b;
  const inPlace = directA(k);
  let direct: DirectPlan | null = null;
  if (inPlace) {
    const dk = directMicroKernel(k.dtype, tileRows(k), e.vectorBits, directVectors(k, e.vectorBits));
    e.requireMicroKernel(dk);
    const i64p = llvm.PointerType.get(e.i64, 0);
    direct = { a: inPlace, nr: dk.nr, segs: segmentTable(e, name, inPlace.segs), micro: e.external(dk.name, e.void, [ptrTy, i64p, i64p, e.i64, e.i64, e.i64, ptrTy, ptrTy, e.i64]) };
  }
  const scratch = { ap: threadScratch('pack_a', MC * KC_MAX), bp: threadScratch('pack_b', maxK(e, program, k.dtype) * NC_MAX), cb: threadScratch('tile_c', MC * (NC_MAX + C_SKEW)) };
  const { nc: NC, rows: strip } = split(k);
  const packedB = readsPackedB(e, k);
  e.loop(lo, hi, (unit) => {
    const idx = unflatten(e, unit, blocks(k));
    const m0 = b.CreateMul(idx[idx.length - 2], e.int64(strip));
    const mEnd = b.CreateAdd(m0, blockExtent(e, m0, strip, k.m));
    const jc = b.CreateMul(idx[idx.length - 1], e.int64(NC));
    const nc = blockExtent(e, jc, NC, k.n);
    const nr = direct?.nr ?? uk.nr;
    const nPanels = b.CreateSDiv(b.CreateAdd(nc, e.int64(nr - 1)), e.int64(nr));
    const u: Unit = { e, program, k, ty, mr: tileRows(k), nr, ptrs, batch: idx.slice(0, -2), jc, nc, nPanels, ldc: roundUp(NC, nr) + C_SKEW };
    // A B that is already one panel (its rows are nr contiguous columns, one after another) is read where it lies;
    // a weight packed at program entry, from its packed copy, where this unit's panels start at jc * k.
    const bp = direct && bIsPanel(k, direct.nr) ? b.CreateInBoundsGEP(ty, ptrs.get(k.b.buf)!, [viewIndex(e, k.b.view, [...u.batch, ...k.b.view.strides.slice(u.batch.length).map(() => e.int64(0))])])
      : packedB ? b.CreateInBoundsGEP(ty, ptrs.get(k.b.packed!)!, [b.CreateMul(jc, e.int64(k.k))]) : scratch.bp;
    if (bp === scratch.bp) packB(u, scratch.bp, rowCopy);
    const mcb = blockRows(k);
    const mBlocks = b.CreateSDiv(b.CreateAdd(b.CreateSub(mEnd, m0), e.int64(mcb - 1)), e.int64(mcb));
    e.loop(0, mBlocks, (icb) => {
      const ic = b.CreateAdd(m0, b.CreateMul(icb, e.int64(mcb)));
      const mc = min(e, e.int64(mcb), b.CreateSub(mEnd, ic));
      if (direct) emitDirectRowBlock(u, ic, mc, { bp, cb: scratch.cb }, direct);
      else emitRowBlock(u, ic, mc, { ...scratch, bp }, micro);
    }, 'ic');
  }, 'unit');
  e.endFunction();
  return fn;
}
