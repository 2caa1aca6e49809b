/**
 * Repeat kernels in the LLVM entry point: a loop around the body's kernel
 * calls. Each body kernel is emitted once; a buffer that moves with the step
 * gets a slot of its own after the two arena pointers in `bases`, and the
 * loop writes the step's address into that slot before calling the body, so
 * the kernels read it like any base pointer. Code size and LLVM time do not
 * depend on the number of steps; a dynamic repeat reads its iterations from
 * its steps buffer when it starts.
 */
import llvm from './llvm.js';
import type { KernelProgram, RepeatKernel } from '../../ir/kernel.js';
import { stepBuffers } from '../../ir/repeat.js';
import type { Emitter } from './context.js';

type V = llvm.Value;

/** Gives every buffer that moves with a step a slot in `bases` (slots 0 and 1 are the arenas); returns the slot count. */
export function assignStepSlots(e: Emitter, program: KernelProgram): number {
  for (const k of program.kernels) {
    if (k.kind !== 'repeat') continue;
    for (const id of stepBuffers(program, k)) if (!e.stepSlots.has(id)) e.stepSlots.set(id, 2 + e.stepSlots.size);
  }
  return 2 + e.stepSlots.size;
}

/** In the entry: `bases` itself when no buffer moves, else a copy of its two arena pointers with room for the step slots. */
export function entryBases(e: Emitter, bases: V, slots: number): V {
  if (slots === 2) return bases;
  const b = e.b;
  const local = b.CreateBitCast(e.alloca(llvm.ArrayType.get(e.i8p, slots), 'bases'), llvm.PointerType.get(e.i8p, 0));
  const given = b.CreateBitCast(bases, llvm.PointerType.get(e.i8p, 0));
  for (const i of [0, 1]) b.CreateStore(b.CreateLoad(e.i8p, b.CreateInBoundsGEP(e.i8p, given, [e.int64(i)])), b.CreateInBoundsGEP(e.i8p, local, [e.int64(i)]));
  return b.CreateBitCast(local, e.i8p);
}

/** The iterations as an i64: `count`, or a dynamic repeat's steps buffer (int32) clamped to [0, count]. */
function iterations(e: Emitter, program: KernelProgram, k: RepeatKernel, arena: (shared: boolean) => V): V {
  if (k.steps === undefined) return e.int64(k.count);
  const b = e.b;
  const buf = program.buffers[k.steps];
  const ptr = b.CreateBitCast(b.CreateInBoundsGEP(e.i8, arena(!!buf.shared), [e.int64(buf.offset)]), llvm.PointerType.get(e.i32, 0));
  const raw = b.CreateSExt(b.CreateLoad(e.i32, ptr), e.i64);
  const low = b.CreateSelect(b.CreateICmpSLT(raw, e.int64(0)), e.int64(0), raw);
  return b.CreateSelect(b.CreateICmpSGT(low, e.int64(k.count)), e.int64(k.count), low);
}

/** for i in [0, n): point each moving buffer's slot at step t's bytes, then run `body` (the body's kernel calls). */
export function emitRepeatLoop(e: Emitter, program: KernelProgram, k: RepeatKernel, bases: V, body: () => void): void {
  const b = e.b;
  const slots = b.CreateBitCast(bases, llvm.PointerType.get(e.i8p, 0));
  const arena = (shared: boolean): V => b.CreateLoad(e.i8p, b.CreateInBoundsGEP(e.i8p, slots, [e.int64(shared ? 1 : 0)]));
  const moving = stepBuffers(program, k).map((id) => program.buffers[id]);
  const n = iterations(e, program, k, arena);
  e.loop(0, n, (i) => {
    const t = k.reverse ? b.CreateSub(b.CreateSub(n, e.int64(1)), i) : i;
    for (const buf of moving) {
      const bytes = b.CreateAdd(e.int64(buf.offset), b.CreateMul(t, e.int64(buf.alias!.stepBytes!)));
      const ptr = b.CreateInBoundsGEP(e.i8, arena(!!buf.shared), [bytes]);
      b.CreateStore(ptr, b.CreateInBoundsGEP(e.i8p, slots, [e.int64(e.stepSlots.get(buf.id)!)]));
    }
    body();
  }, `step_${k.name.replace(/[^A-Za-z0-9_]/g, '_')}`);
}
