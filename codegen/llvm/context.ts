/**
 * Shared state of one LLVM module being emitted: the context, builder, common
 * types, and helpers for constants, loops and buffer addressing. Loops keep
 * their counters in entry-block allocas; `opt -O3` promotes them to SSA.
 */
import type { VectorBits } from './host.js';
import llvm from './llvm.js';
import type { DType } from '../../ir/dtype.js';

/** Target triple and data layout of the host, so `opt` sees real vector widths and costs. */
export const HOST_TARGETS: Record<string, { triple: string; layout: string }> = {
  x64: { triple: 'x86_64-pc-linux-gnu', layout: 'e-m:e-p270:32:32-p271:32:32-p272:64:64-i64:64-f80:128-n8:16:32:64-S128' },
  arm64: { triple: 'aarch64-unknown-linux-gnu', layout: 'e-m:e-i8:8:32-i16:16:32-i64:64-i128:128-n32:64-S128' },
};

export class Emitter {
  readonly context = new llvm.LLVMContext();
  readonly module: llvm.Module;
  readonly b: llvm.IRBuilder;
  readonly i1: llvm.Type;
  readonly i8: llvm.Type;
  readonly i32: llvm.Type;
  readonly i64: llvm.Type;
  readonly f32: llvm.Type;
  readonly f64: llvm.Type;
  readonly void: llvm.Type;
  readonly i8p: llvm.Type;
  private allocaBlock: llvm.BasicBlock | null = null;
  private firstBlock: llvm.BasicBlock | null = null;
  fn: llvm.Function | null = null;
  /** Slot in `bases` of each buffer that moves with a repeat's step (codegen/llvm/repeat.ts). */
  readonly stepSlots = new Map<number, number>();
  /** Micro-kernels (LLVM IR text) to link into the module, by function name. */
  readonly microKernels = new Map<string, string>();

  /** Vector width of the matmul micro-kernels (host.ts). */
  readonly vectorBits: VectorBits;

  constructor(name: string, vectorBits: VectorBits) {
    this.vectorBits = vectorBits;
    this.module = new llvm.Module(name, this.context);
    const host = HOST_TARGETS[process.arch];
    if (!host) throw new Error(`codegen/llvm: no target for architecture '${process.arch}'. Supported: ${Object.keys(HOST_TARGETS).join(', ')}`);
    this.module.setTargetTriple(host.triple);
    this.module.setDataLayout(host.layout);
    this.b = new llvm.IRBuilder(this.context);
    this.i1 = this.b.getInt1Ty();
    this.i8 = this.b.getInt8Ty();
    this.i32 = this.b.getInt32Ty();
    this.i64 = this.b.getInt64Ty();
    this.f32 = this.b.getFloatTy();
    this.f64 = this.b.getDoubleTy();
    this.void = this.b.getVoidTy();
    this.i8p = this.b.getInt8PtrTy();
  }

  /** The in-register type of a dtype (bool is i1). */
  typeOf(dtype: DType): llvm.Type {
    return { float32: this.f32, float64: this.f64, int32: this.i32, bool: this.i1 }[dtype];
  }

  /** The in-memory type of a dtype (bool is one byte). */
  memTypeOf(dtype: DType): llvm.Type {
    return dtype === 'bool' ? this.i8 : this.typeOf(dtype);
  }

  int64(n: number): llvm.Value {
    return llvm.ConstantInt.get(this.i64, n, true);
  }

  int32(n: number): llvm.Value {
    return llvm.ConstantInt.get(this.i32, n | 0, true);
  }

  constant(value: number, dtype: DType): llvm.Value {
    switch (dtype) {
      case 'float32': case 'float64': return llvm.ConstantFP.get(this.typeOf(dtype), value);
      case 'int32': return llvm.ConstantInt.get(this.i32, value | 0, true);
      case 'bool': return value ? this.b.getTrue() : this.b.getFalse();
    }
  }

  /** Starts a function body: an alloca block (closed by `endFunction`) and a first code block. */
  beginFunction(name: string, ret: llvm.Type, params: llvm.Type[], linkage = llvm.Function.LinkageTypes.InternalLinkage): llvm.Function {
    const fn = llvm.Function.Create(llvm.FunctionType.get(ret, params, false), linkage, name, this.module);
    this.fn = fn;
    this.allocaBlock = llvm.BasicBlock.Create(this.context, 'allocas', fn);
    this.firstBlock = llvm.BasicBlock.Create(this.context, 'start', fn);
    this.b.SetInsertPoint(this.firstBlock);
    return fn;
  }

  /** Returns void from the current block and closes the alloca block. */
  endFunction(): void {
    this.b.CreateRetVoid();
    this.b.SetInsertPoint(this.allocaBlock!);
    this.b.CreateBr(this.firstBlock!);
    this.allocaBlock = null;
    this.firstBlock = null;
  }

  requireMicroKernel(k: { name: string; ir: string }): void {
    this.microKernels.set(k.name, k.ir);
  }

  alloca(type: llvm.Type, name = ''): llvm.Value {
    const ip = this.b.GetInsertBlock()!;
    this.b.SetInsertPoint(this.allocaBlock!);
    const slot = this.b.CreateAlloca(type, null, name);
    this.b.SetInsertPoint(ip);
    return slot;
  }

  block(name: string): llvm.BasicBlock {
    return llvm.BasicBlock.Create(this.context, name, this.fn!);
  }

  /** for (i = from; i < to; i++) body(i), with i64 bounds. */
  loop(from: llvm.Value | number, to: llvm.Value | number, body: (i: llvm.Value) => void, name = 'i'): void {
    const b = this.b;
    const lo = typeof from === 'number' ? this.int64(from) : from;
    const hi = typeof to === 'number' ? this.int64(to) : to;
    const slot = this.alloca(this.i64, name);
    b.CreateStore(lo, slot);
    const cond = this.block(`${name}.cond`);
    const bodyBlock = this.block(`${name}.body`);
    const exit = this.block(`${name}.exit`);
    b.CreateBr(cond);
    b.SetInsertPoint(cond);
    const i = b.CreateLoad(this.i64, slot, name);
    b.CreateCondBr(b.CreateICmpSLT(i, hi), bodyBlock, exit);
    b.SetInsertPoint(bodyBlock);
    body(i);
    b.CreateStore(b.CreateAdd(b.CreateLoad(this.i64, slot), this.int64(1)), slot);
    b.CreateBr(cond);
    b.SetInsertPoint(exit);
  }

  /** Nested loops over `extents` (row-major); body gets one i64 index per dim. */
  loopNest(extents: readonly number[], body: (idx: llvm.Value[]) => void, prefix = 'd'): void {
    const go = (d: number, idx: llvm.Value[]): void => {
      if (d === extents.length) return body(idx);
      this.loop(0, extents[d], (i) => go(d + 1, [...idx, i]), `${prefix}${d}`);
    };
    go(0, []);
  }

  /** A typed pointer to element 0 of a buffer at byte `offset` of the arena. */
  bufferPtr(arena: llvm.Value, offset: number, dtype: DType): llvm.Value {
    const raw = this.b.CreateInBoundsGEP(this.i8, arena, [this.int64(offset)]);
    return this.b.CreateBitCast(raw, llvm.PointerType.get(this.memTypeOf(dtype), 0));
  }

  /** Declares (once) an external or intrinsic function. */
  external(name: string, ret: llvm.Type, params: llvm.Type[]): llvm.Function {
    return this.module.getFunction(name) ?? llvm.Function.Create(llvm.FunctionType.get(ret, params, false), llvm.Function.LinkageTypes.ExternalLinkage, name, this.module);
  }

  intrinsic(id: number, types: llvm.Type[]): llvm.Function {
    return llvm.Intrinsic.getDeclaration(this.module, id, types);
  }
}
