/**
 * How a matmul kernel's work is cut (codegen/llvm/matmul.ts emits it): the
 * cache blocking constants, the units the thread pool shares (independent of
 * the thread count), the micro-kernel's tile rows, and when A is read in
 * place by the direct micro-kernel or B is read where it lies. Pure
 * functions of the kernel: tests check the cuts without emitting code.
 */
import { type MatmulKernel, rowGroup } from '../../ir/kernel.js';
import type { TileRows } from './microkernel.js';

/** Largest k slice; slices are balanced (k = 784 runs as 4 x 196, not 3 x 256 + 16). */
export const KC_MAX = 256;
/** Rows of a row block: the A block packed per k slice, and the rows of the C tile. */
export const MC = 144;
/** Widest column block, and the row stride of the C tile. */
export const NC_MAX = 256;
/**
 * Units a packed matmul is cut into where its shape allows, whatever the
 * thread count: enough that a team of any size shares them dynamically and
 * a thread another process slows holds only a small share, so a program
 * built for two threads runs as fast on one as a program built for one.
 */
const UNITS_WANTED = 8;
/** Fewest rows of a strip that packs B: its panels are reused by each MC block of the strip (strips of 64 rows cost about 8%, of 396 nothing measurable). */
const STRIP_MIN = 2 * MC;
/**
 * Fewest units of a matmul, so that two threads share every one (mnist_cnn's
 * 128 x 9216 @ 9216 x 128 layer, a softmax layer's 10 columns): below the
 * sizes above, at the cost of packing A or B twice.
 */
const UNITS_MIN = 2;
/** Narrowest column block, and fewest rows of a strip, cut for UNITS_MIN. */
const NC_MIN = 64;

/** Deepest slice of an A read in place: its B panel (KC_DIRECT x NR) stays in L1. */
export const KC_DIRECT = 320;
/** Most runs in a direct A's offset table (a constant array in the object file: 64 KiB). */
const MAX_SEGMENTS = 8192;

/** Rows up to which the unpacked, B-streaming form is used (small-batch inference). */
export const STREAM_ROWS = 8;
/** Columns per unit of the streaming form. */
export const STREAM_NB = 64;

/** Few rows and contiguous B rows: stream B once instead of packing it (see emitStreamingMatmul). */
export function streaming(k: MatmulKernel): boolean {
  return !gathers(k) && k.m <= STREAM_ROWS && k.b.view.strides[k.b.view.strides.length - 1] === 1;
}

/** A matmul whose operands are read through several dims or masks (an implicit-GEMM convolution). */
export function gathers(k: MatmulKernel): boolean {
  return !!(k.mDims || k.kDims || k.a.mask || k.b.mask);
}

/**
 * An A read in place by the direct micro-kernel: depth runs of `seglen`
 * elements `step` apart, starting at `segs` (offsets from a row's depth-0
 * element, in depth order). A forward convolution over channels-last input
 * has one contiguous run per window row (kernel width x channels, when those
 * are adjacent in memory); a kernel gradient, whose rows are (window offset,
 * channel) and whose depth is (batch, positions), has one run per output row
 * with a step of the channel count. Either way A needs no packing.
 */
export interface DirectA {
  readonly seglen: number;
  readonly step: number;
  readonly segs: readonly number[];
}

/** The in-place reading of a gathered, unmasked A (runs of at most KC_DIRECT); else null (A is packed). */
export function directA(k: MatmulKernel): DirectA | null {
  if (!gathers(k) || k.a.mask) return null;
  const allDims = k.kDims ?? [k.k];
  const allStrides = k.a.view.strides.slice(k.a.view.strides.length - allDims.length);
  // Depth dims of extent 1 (one input channel) change neither the offsets nor the depth order.
  const kept = allDims.flatMap((n, i) => (n > 1 ? [i] : []));
  const [dims, strides] = [kept.map((i) => allDims[i]), kept.map((i) => allStrides[i])];
  if (!dims.length) return null;
  let d = dims.length - 1;
  const step = strides[d];
  if (step <= 0 || dims[d] > KC_DIRECT) return null;
  let seglen = dims[d];
  while (d > 0 && strides[d - 1] === seglen * step && seglen * dims[d - 1] <= KC_DIRECT) seglen *= dims[--d];
  const outer = dims.slice(0, d);
  const count = outer.reduce((p, q) => p * q, 1);
  if (count > MAX_SEGMENTS) return null;
  const segs = Array.from({ length: count }, (_, s) => {
    let [rest, at] = [s, 0];
    for (let a = outer.length - 1; a >= 0; a--) {
      at += (rest % outer[a]) * strides[a];
      rest = Math.floor(rest / outer[a]);
    }
    return at;
  });
  return { seglen, step, segs };
}

/** Column blocks are whole micro-tiles (two vectors: 16 or 32 float32 columns, 8 or 16 float64); 32 serves all. */
export const NR_ALIGN = 32;

export const roundUp = (x: number, to: number): number => Math.ceil(x / to) * to;
const gcd = (a: number, b: number): number => (b ? gcd(b, a % b) : a);

/** Rows of a row block: MC, or the most whole groups of a rowReduce that fit in it (a group is never split). */
export function blockRows(k: MatmulKernel): number {
  const g = rowGroup(k);
  if (g > MC) throw new Error(`codegen/llvm: kernel ${k.name} reduces groups of ${g} rows; a row block holds ${MC}`);
  return Math.floor(MC / g) * g;
}

/**
 * Rows of the micro-kernel's tile: 6, or 4 where 6-row tiles would pad more
 * than 2% of the rows and 4-row tiles pad fewer (m = 32 runs as 32 rows, not
 * 36; m = 512 keeps the 6-row tile, a little faster when nothing is padded).
 */
export function tileRows(k: MatmulKernel): TileRows {
  const pad6 = roundUp(k.m, 6) - k.m;
  return pad6 > 0.02 * k.m && roundUp(k.m, 4) - k.m < pad6 ? 4 : 6;
}

/** How the packed form splits C into units: `nc` columns by `rows` rows each. */
export interface Split {
  readonly nc: number;
  readonly rows: number;
}

/** B read where it lies by the direct micro-kernel (see bIsPanel): strips then cost no packing. */
function bInPlace(k: MatmulKernel): boolean {
  return directA(k) !== null && bIsPanel(k, k.n);
}

/**
 * Units of the packed form, independent of the thread count: balanced
 * column blocks of at most NC_MAX (narrower ones pack A once more each, and
 * mnist_mlp's predict at batch 128 ran 11% slower on one thread with blocks
 * of 128); then, where batch x blocks are fewer than UNITS_WANTED, strips of
 * rows, each at least STRIP_MIN rows (MC where B is not packed). A matmul
 * still in one unit is cut in two: columns if there are 2 x NC_MIN, else
 * rows; rows first where B has a packed copy (reading it twice costs no
 * packing, while each column block packs all of A).
 */
export function split(k: MatmulKernel): Split {
  const batch = k.batch.reduce((p, q) => p * q, 1);
  let nc = roundUp(Math.ceil(k.n / Math.ceil(k.n / NC_MAX)), NR_ALIGN);
  const rowsFirst = k.b.packed !== undefined && k.m >= UNITS_MIN * NC_MIN;
  if (batch * Math.ceil(k.n / nc) < UNITS_MIN && k.n >= UNITS_MIN * NC_MIN && !rowsFirst) nc = roundUp(Math.ceil(k.n / UNITS_MIN), NR_ALIGN);
  const outer = batch * Math.ceil(k.n / nc);
  const mr = tileRows(k);
  let strips = Math.max(1, Math.min(Math.ceil(UNITS_WANTED / outer), Math.floor(k.m / (bInPlace(k) ? MC : STRIP_MIN))));
  if (outer * strips < UNITS_MIN) strips = Math.min(UNITS_MIN, Math.floor(k.m / NC_MIN) || 1);
  const g = rowGroup(k);
  return { nc, rows: roundUp(Math.ceil(k.m / strips), (mr * g) / gcd(mr, g)) };
}

export function blocks(k: MatmulKernel): number[] {
  if (streaming(k)) return [...k.batch, Math.ceil(k.n / STREAM_NB)];
  const { nc, rows } = split(k);
  return [...k.batch, Math.ceil(k.m / rows), Math.ceil(k.n / nc)];
}

/** Units of work the kernel is split into; the same for every thread count. */
export function matmulRows(k: MatmulKernel): number {
  return blocks(k).reduce((p, q) => p * q, 1);
}

/** Units of a whole-B packing: column blocks of NC_MAX (a multiple of every panel width, so each block starts a panel). */
export function packedBRows(k: MatmulKernel): number {
  return Math.ceil(k.n / NC_MAX);
}

/** Vectors per tile row of the direct micro-kernel: 4 with AVX-512's 32 registers when the column blocks fill them, else 2. */
export function directVectors(k: MatmulKernel, bits: number): 2 | 4 {
  const wide = (4 * bits) / (k.dtype === 'float32' ? 32 : 64);
  const nc = split(k).nc;
  return bits === 512 && k.n % wide === 0 && nc % wide === 0 ? 4 : 2;
}

/**
 * B as the direct micro-kernel's panel already: unmasked, n = nr columns at
 * unit stride, and its depth dims row-major with rows nr apart (a
 * convolution's channels-last kernel with nr filters; a kernel gradient's
 * cotangent with nr channels).
 */
export function bIsPanel(k: MatmulKernel, nr: number): boolean {
  if (k.b.mask || k.n !== nr) return false;
  const dims = [...(k.kDims ?? [k.k]), nr];
  const strides = k.b.view.strides.slice(k.b.view.strides.length - dims.length);
  return strides.every((st, d) => dims[d] === 1 || st === dims.slice(d + 1).reduce((p, q) => p * q, 1));
}
