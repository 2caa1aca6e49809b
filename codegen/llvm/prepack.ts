/**
 * Pre-packed weights in the entry point (KernelProgram.weights, see
 * passes/prepack_weights.ts): before the kernels, when the shared weights
 * generation differs from the one this program last packed at, every B read
 * from a packed copy is packed again (codegen/llvm/matmul.ts emitPackB) and
 * the generation recorded; after the kernels, a program that writes weights
 * advances the generation. Entry points run one at a time per shared arena
 * (the runtimes call them from one thread), so plain loads and stores do.
 */
import llvm from './llvm.js';
import type { KernelProgram } from '../../ir/kernel.js';
import { flatKernels } from '../../ir/repeat.js';
import type { Emitter } from './context.js';
import { bufferPointers } from './loop_kernel.js';
import { emitPackB, readsPackedB } from './matmul.js';
import { packedBRows } from './matmul_plan.js';

type V = llvm.Value;

/** A packing function over `rows` column blocks, and its work (elements copied) for the entry's choice of parallel or not. */
export interface Packer {
  readonly fn: llvm.Function;
  readonly rows: number;
  readonly work: number;
}

/** One packing function per matmul that reads its B from a packed copy (emitted before the entry point). */
export function emitPackers(e: Emitter, program: KernelProgram): Packer[] {
  if (program.weights?.packedAt === undefined) return [];
  return flatKernels(program.kernels).flatMap((k, i) => {
    if (k.kind !== 'matmul' || !readsPackedB(e, k)) return [];
    const name = `pack${i}_${k.name.replace(/[^A-Za-z0-9_]/g, '_')}`;
    return [{ fn: emitPackB(e, program, k, name), rows: packedBRows(k), work: k.k * k.n }];
  });
}

/** The generation count at a shared or packed int32 x 2 buffer, as an i64 pointer. */
function countAt(e: Emitter, ptrs: Map<number, V>, buf: number): V {
  return e.b.CreateBitCast(ptrs.get(buf)!, llvm.PointerType.get(e.i64, 0));
}

/** In the entry, before the kernels: repack (`pack` emits the packers' calls) when the generation moved. */
export function emitRepack(e: Emitter, program: KernelProgram, bases: V, pack: () => void): void {
  const w = program.weights;
  if (!w || w.packedAt === undefined) return;
  const b = e.b;
  const ptrs = bufferPointers(e, program, [w.generation, w.packedAt], bases);
  const [generation, packedAt] = [countAt(e, ptrs, w.generation), countAt(e, ptrs, w.packedAt)];
  // packedAt holds generation + 1, so its initial 0 never matches.
  const current = b.CreateAdd(b.CreateLoad(e.i64, generation), e.int64(1));
  const stale = b.CreateICmpNE(b.CreateLoad(e.i64, packedAt), current);
  const repack = e.block('repack');
  const done = e.block('packed');
  b.CreateCondBr(stale, repack, done);
  b.SetInsertPoint(repack);
  pack();
  b.CreateStore(current, packedAt);
  b.CreateBr(done);
  b.SetInsertPoint(done);
}

/** In the entry, after the kernels: a program that wrote weights advances the generation. */
export function emitAdvance(e: Emitter, program: KernelProgram, bases: V): void {
  const w = program.weights;
  if (!w?.advances) return;
  const b = e.b;
  const generation = countAt(e, bufferPointers(e, program, [w.generation], bases), w.generation);
  b.CreateStore(b.CreateAdd(b.CreateLoad(e.i64, generation), e.int64(1)), generation);
}
