/**
 * Loop kernels whose reductions run down columns (a bias gradient: the sum
 * over the rows of [N, C], contiguous along the last outer dim and strided
 * along the inner one). The plain loop order would walk each column alone,
 * one cache line per element; here the last outer dim is cut into blocks
 * of BLOCK points with their accumulators on the stack, and the inner
 * points are the outer loop: each inner point reads one contiguous run of
 * the block (a loop that vectorizes; plain sums, a bias gradient's, add the
 * run in explicit vectors, rowAddKernel below). Every
 * accumulator still folds its inner points in the same order, so results do
 * not change.
 */
import llvm from './llvm.js';
import { type Expr, type KernelProgram, type LoadExpr, type LoopKernel, exprChildren, visitLoads } from '../../ir/kernel.js';
import { kernelAccess } from '../../passes/memory_plan.js';
import type { Emitter } from './context.js';
import { type Point, emitExpr, storeElement, viewIndex } from './expr.js';
import { bufferPointers, lastDimSlices, reduceInit, reduceStep, unflatten } from './loop_kernel.js';
import { vectorWidth } from './microkernel.js';

type V = llvm.Value;

const BLOCK = 256;

function readsAcc(x: Expr): boolean {
  return x.k === 'acc' || exprChildren(x).some(readsAcc);
}

/** Reductions that read contiguously along the last outer dim and never contiguously along the innermost inner dim, stored once per outer point. */
export function isColumnReduction(k: LoopKernel): boolean {
  if (k.reductions.length === 0 || k.outer.length === 0 || k.inner.length === 0 || (k.outer[k.outer.length - 1] ?? 0) < 8) return false;
  if (k.stores.some((s) => s.space !== 'outer' || s.scatter) || k.reductions.some((r) => readsAcc(r.expr))) return false;
  const last = k.outer.length - 1;
  const innermost = k.outer.length + k.inner.length - 1;
  let alongRows = false;
  let alongColumns = false;
  for (const r of k.reductions) {
    visitLoads(r.expr, (l) => {
      if (l.view.strides[last] === 1) alongRows = true;
      if (Math.abs(l.view.strides[innermost]) === 1) alongColumns = true;
    });
  }
  return alongRows && !alongColumns;
}

/** Every reduction sums a plain float load of one dtype that runs contiguously along the columns. */
function plainSums(k: LoopKernel): boolean {
  const last = k.outer.length - 1;
  const dtype = k.reductions[0].dtype;
  return (dtype === 'float32' || dtype === 'float64') && k.reductions.every((r) => r.op === 'sum' && r.dtype === dtype && r.expr.k === 'load' && !r.expr.mask && !r.expr.dyn && r.expr.dtype === dtype && r.expr.view.strides[last] === 1);
}

function rowAddFunction(e: Emitter, dtype: 'float32' | 'float64'): llvm.Function {
  const kernel = rowAddKernel(dtype, vectorWidth(dtype, e.vectorBits));
  e.requireMicroKernel(kernel);
  const ptr = llvm.PointerType.get(e.typeOf(dtype), 0);
  return e.external(kernel.name, e.void, [ptr, ptr, e.i64]);
}

export function emitColumnReduction(e: Emitter, program: KernelProgram, k: LoopKernel, name: string): llvm.Function {
  const fn = e.beginFunction(name, e.void, [e.i8p, e.i64, e.i64]);
  const [bases, lo, hi] = [fn.getArg(0), fn.getArg(1), fn.getArg(2)];
  const { reads, writes } = kernelAccess(k);
  const ptrs = bufferPointers(e, program, new Set([...reads, ...writes]), bases);
  const slices = lastDimSlices(k);
  const last = k.outer[k.outer.length - 1];
  const chunk = Math.ceil(last / slices);
  const slots = k.reductions.map((r) => ({ r, type: llvm.ArrayType.get(e.typeOf(r.dtype), BLOCK), elem: e.typeOf(r.dtype) }));
  const arrays = slots.map((s) => e.alloca(s.type, `cols${s.r.id}`));
  const at = (slot: number, i: V): V => e.b.CreateInBoundsGEP(slots[slot].type, arrays[slot], [e.int64(0), i]);
  const point = (idx: V[], accs: V[] = []): Point => ({ idx, accs, ptrs, memo: new Map<Expr, V>() });
  const rowAdd = plainSums(k) ? rowAddFunction(e, k.reductions[0].dtype as 'float32' | 'float64') : null;
  e.loop(lo, hi, (u) => {
    const rowIdx = unflatten(e, e.b.CreateUDiv(u, e.int64(slices)), k.outer.slice(0, -1));
    const from = e.b.CreateMul(e.b.CreateURem(u, e.int64(slices)), e.int64(chunk));
    const to = e.b.CreateAdd(from, e.int64(chunk));
    const end = e.b.CreateSelect(e.b.CreateICmpSLT(to, e.int64(last)), to, e.int64(last));
    e.loop(0, Math.ceil(chunk / BLOCK), (block) => {
      const j0 = e.b.CreateAdd(from, e.b.CreateMul(block, e.int64(BLOCK)));
      const j1 = e.b.CreateSelect(e.b.CreateICmpSLT(e.b.CreateAdd(j0, e.int64(BLOCK)), end), e.b.CreateAdd(j0, e.int64(BLOCK)), end);
      const local = (j: V): V => e.b.CreateSub(j, j0);
      e.loop(j0, j1, (j) => slots.forEach((s, i) => void e.b.CreateStore(reduceInit(e, s.r.op, s.r.dtype), at(i, local(j)))), 'init');
      e.loopNest(k.inner, (inner) => {
        if (rowAdd) {
          // Plain sums: each accumulator block adds one contiguous run of the row, in explicit vectors.
          slots.forEach((s, i) => {
            const l = s.r.expr as LoadExpr;
            const src = e.b.CreateInBoundsGEP(s.elem, ptrs.get(l.buf)!, [viewIndex(e, l.view, [...rowIdx, j0, ...inner])]);
            e.b.CreateCall(rowAdd, [src, at(i, e.int64(0)), e.b.CreateSub(j1, j0)]);
          });
          return;
        }
        e.loop(j0, j1, (j) => {
          const p = point([...rowIdx, j, ...inner]);
          slots.forEach((s, i) => {
            const slot = at(i, local(j));
            e.b.CreateStore(reduceStep(e, s.r.op, s.r.dtype, e.b.CreateLoad(s.elem, slot), emitExpr(e, s.r.expr, p)), slot);
          });
        }, 'col');
      }, 'r');
      e.loop(j0, j1, (j) => {
        const accs: V[] = [];
        slots.forEach((s, i) => (accs[s.r.id] = e.b.CreateLoad(s.elem, at(i, local(j)))));
        const p = point([...rowIdx, j, ...k.inner.map(() => e.int64(0))], accs);
        for (const s of k.stores) storeElement(e, ptrs.get(s.buf)!, viewIndex(e, s.view, p.idx), program.buffers[s.buf].dtype, emitExpr(e, s.expr, p));
      }, 'store');
    }, 'block');
  }, 'unit');
  e.endFunction();
  return fn;
}

/**
 * `void kiln_row_add_<t>(T* src, T* acc, i64 n)`: acc[j] += src[j] for j < n,
 * in explicit vectors of `vw` with a scalar tail: a plain sum's step. The
 * generic step indexes each element through the view, which LLVM 14 folds
 * into `or`s it can no longer see as consecutive, and it ran scalar.
 */
function rowAddKernel(dtype: 'float32' | 'float64', vw: number): { name: string; ir: string } {
  const s = dtype === 'float32' ? 'float' : 'double';
  const v = `<${vw} x ${s}>`;
  const name = `kiln_row_add_${dtype === 'float32' ? 'f32' : 'f64'}_v${vw}`;
  const lines = [
    `define void @${name}(${s}* noalias nocapture readonly %src, ${s}* noalias nocapture %acc, i64 %n) {`,
    'entry:',
    `  %full = and i64 %n, ${-vw}`,
    '  %anyv = icmp sgt i64 %full, 0',
    '  br i1 %anyv, label %vloop, label %tail.check',
    'vloop:',
    '  %j = phi i64 [ 0, %entry ], [ %j.next, %vloop ]',
    `  %sp = getelementptr inbounds ${s}, ${s}* %src, i64 %j`,
    `  %sv = bitcast ${s}* %sp to ${v}*`,
    `  %x = load ${v}, ${v}* %sv, align ${dtype === 'float32' ? 4 : 8}`,
    `  %ap = getelementptr inbounds ${s}, ${s}* %acc, i64 %j`,
    `  %av = bitcast ${s}* %ap to ${v}*`,
    `  %a = load ${v}, ${v}* %av, align ${dtype === 'float32' ? 4 : 8}`,
    `  %sum = fadd ${v} %a, %x`,
    `  store ${v} %sum, ${v}* %av, align ${dtype === 'float32' ? 4 : 8}`,
    `  %j.next = add i64 %j, ${vw}`,
    '  %vmore = icmp slt i64 %j.next, %full',
    '  br i1 %vmore, label %vloop, label %tail.check',
    'tail.check:',
    '  %anyt = icmp slt i64 %full, %n',
    '  br i1 %anyt, label %tloop, label %exit',
    'tloop:',
    '  %t = phi i64 [ %full, %tail.check ], [ %t.next, %tloop ]',
    `  %tsp = getelementptr inbounds ${s}, ${s}* %src, i64 %t`,
    `  %tx = load ${s}, ${s}* %tsp`,
    `  %tap = getelementptr inbounds ${s}, ${s}* %acc, i64 %t`,
    `  %ta = load ${s}, ${s}* %tap`,
    `  %tsum = fadd ${s} %ta, %tx`,
    `  store ${s} %tsum, ${s}* %tap`,
    '  %t.next = add i64 %t, 1',
    '  %tmore = icmp slt i64 %t.next, %n',
    '  br i1 %tmore, label %tloop, label %exit',
    'exit:',
    '  ret void',
    '}',
  ];
  return { name, ir: `${lines.join('\n')}\n` };
}
