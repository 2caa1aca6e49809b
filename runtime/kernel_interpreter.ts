/**
 * A plain-JS executor of the kernel IR (ir/kernel.ts): slow, obviously
 * correct, and the oracle that lowering and the code generators are tested
 * against. It follows the same arena plan as the native backends, so memory
 * planning bugs (two live buffers sharing bytes) show up here too.
 */
import { type DType, type TypedArray, allocArray, stridesOf, viewArray } from '../ir/dtype.js';
import { type Expr, type Kernel, type KernelProgram, type LoopKernel, type RepeatKernel, type MatmulKernel, type View, exprDType, maskHolds, matmulAsLoop, matmulSpaces } from '../ir/kernel.js';
import { philoxUniform } from '../ir/philox.js';
import { iterationsOf, stepBuffers, stepOf } from '../ir/repeat.js';
import { scalarOp } from '../ir/scalar_eval.js';
import type { Backend, Executable, SharedMemory } from './backend.js';

const REDUCE_INIT = { sum: 0, max: -Infinity, min: Infinity } as const;
const INT_REDUCE_INIT = { sum: 0, max: -2147483648, min: 2147483647 } as const;

function at(view: View, point: readonly number[]): number {
  let i = view.offset;
  for (let d = 0; d < point.length; d++) i += point[d] * view.strides[d];
  return i;
}

function round(dtype: DType, v: number): number {
  switch (dtype) {
    case 'float32': return Math.fround(v);
    case 'int32': return v | 0;
    case 'bool': return v ? 1 : 0;
    case 'float64': return v;
  }
}

function castValue(v: number, from: DType, to: DType): number {
  if (to === 'bool') return v !== 0 ? 1 : 0;
  if (to === 'int32' && from !== 'int32') return Math.trunc(v) | 0;
  return round(to, v);
}

class Machine {
  readonly arrays: TypedArray[];
  private point: number[] = [];
  private accs: number[] = [];

  constructor(readonly program: KernelProgram, private readonly arena: ArrayBuffer, private readonly shared?: ArrayBuffer) {
    this.arrays = program.buffers.map((b) => viewArray(b.shared ? shared! : arena, b.dtype, b.offset, b.size));
  }

  private eval(e: Expr): number {
    switch (e.k) {
      case 'load': {
        if (!maskHolds(e.mask, this.point)) return round(e.dtype, e.mask!.fill);
        let i = at(e.view, this.point);
        if (e.dyn) i += Math.min(Math.max(this.eval(e.dyn.expr), 0), e.dyn.limit - 1) * e.dyn.stride;
        return this.arrays[e.buf][i];
      }
      case 'index': return at(e.view, this.point) | 0;
      case 'random': return philoxUniform(e.seed, this.eval(e.counter), at(e.view, this.point));
      case 'const': return round(e.dtype, e.value);
      case 'acc': return this.accs[e.id];
      case 'unary': return scalarOp(e.op, e.dtype, this.eval(e.a));
      case 'binary': {
        const r = scalarOp(e.op, exprDType(e.a), this.eval(e.a), this.eval(e.b));
        return e.dtype === 'bool' ? r : round(e.dtype, r);
      }
      case 'select': return this.eval(e.cond) ? this.eval(e.a) : this.eval(e.b);
      case 'cast': return castValue(this.eval(e.a), exprDType(e.a), e.dtype);
    }
  }

  run(kernel: Kernel): void {
    if (kernel.kind === 'repeat') this.repeat(kernel);
    else if (kernel.kind === 'loop') this.loop(kernel);
    else if (kernel.rowReduce) this.reducedMatmul(kernel);
    else if (kernel.mDims || kernel.kDims || kernel.a.mask || kernel.b.mask) this.loop(matmulAsLoop(kernel));
    else this.matmul(kernel);
  }

  /** The body once per step, with the buffers that move with the step re-viewed at the step's bytes. */
  private repeat(k: RepeatKernel): void {
    const moving = stepBuffers(this.program, k).map((id) => this.program.buffers[id]);
    const n = iterationsOf(k, k.steps === undefined ? undefined : Number(this.arrays[k.steps][0]));
    for (let i = 0; i < n; i++) {
      const t = stepOf(k, i, n);
      for (const b of moving) this.arrays[b.id] = viewArray(b.shared ? this.shared! : this.arena, b.dtype, b.offset + t * b.alias!.stepBytes!, b.size);
      for (const body of k.body) this.run(body);
    }
  }

  /** The epilogue's values over batch ++ M ++ [n] into a scratch array, then each group of rows reduced into the output. */
  private reducedMatmul(k: MatmulKernel): void {
    const { out, stored } = matmulSpaces(k);
    const dtype = exprDType(k.epilogue);
    const scratch = this.arrays.length;
    this.arrays.push(allocArray(dtype, out.reduce((p, q) => p * q, 1)));
    this.loop(matmulAsLoop({ ...k, rowReduce: undefined, out: { buf: scratch, view: { offset: 0, strides: stridesOf(out) } } }));
    const values = this.arrays.pop()!;
    const { dims, op } = k.rowReduce!;
    const kept = stored.length - 1;
    const group = out.slice(kept, kept + dims);
    const strides = stridesOf(out);
    forEach(stored, (pt) => {
      let acc: number = (dtype === 'int32' ? INT_REDUCE_INIT : REDUCE_INIT)[op];
      forEach(group, (g) => {
        const v = values[at({ offset: 0, strides }, [...pt.slice(0, kept), ...g, pt[kept]])];
        acc = op === 'sum' ? round(dtype, acc + v) : op === 'max' ? maxNaN(acc, v) : minNaN(acc, v);
      });
      this.arrays[k.out.buf][at(k.out.view, pt)] = acc;
    });
  }

  private loop(k: LoopKernel): void {
    const rank = k.outer.length + k.inner.length;
    forEach(k.outer, (outer) => {
      this.accs = [];
      const inner = (visit: () => void): void => forEach(k.inner, (pt) => {
        this.point = [...outer, ...pt];
        visit();
      });
      for (const r of k.reductions) {
        let acc: number = (r.dtype === 'int32' ? INT_REDUCE_INIT : REDUCE_INIT)[r.op];
        inner(() => {
          const v = this.eval(r.expr);
          acc = r.op === 'sum' ? round(r.dtype, acc + v) : r.op === 'max' ? maxNaN(acc, v) : minNaN(acc, v);
        });
        this.accs[r.id] = acc;
      }
      this.point = [...outer, ...new Array<number>(rank - outer.length).fill(0)];
      for (const s of k.stores) if (s.space === 'outer') this.arrays[s.buf][at(s.view, this.point)] = this.eval(s.expr);
      const full = k.stores.filter((s) => s.space === 'full');
      if (full.length) inner(() => {
        for (const s of full) {
          if (!s.scatter) {
            this.arrays[s.buf][at(s.view, this.point)] = this.eval(s.expr);
            continue;
          }
          // A scatter store adds into its row (ir/kernel.ts); the typed array rounds the sum to the dtype.
          const i = at(s.view, this.point) + Math.min(Math.max(this.eval(s.scatter.expr), 0), s.scatter.limit - 1) * s.scatter.stride;
          this.arrays[s.buf][i] += this.eval(s.expr);
        }
      });
    });
  }

  private matmul(k: MatmulKernel): void {
    const a = this.arrays[k.a.buf];
    const b = this.arrays[k.b.buf];
    forEach([...k.batch, k.m, k.n], (pt) => {
      const batch = pt.slice(0, -2);
      const [i, j] = pt.slice(-2);
      let sum = 0;
      for (let p = 0; p < k.k; p++) {
        sum += a[at(k.a.view, [...batch, i, p])] * b[at(k.b.view, [...batch, p, j])];
      }
      this.point = pt;
      this.accs = [round(k.dtype, sum)];
      this.arrays[k.out.buf][at(k.out.view, pt)] = this.eval(k.epilogue);
    });
  }
}

function maxNaN(a: number, b: number): number {
  return Number.isNaN(a) || Number.isNaN(b) ? NaN : Math.max(a, b);
}

function minNaN(a: number, b: number): number {
  return Number.isNaN(a) || Number.isNaN(b) ? NaN : Math.min(a, b);
}

function forEach(shape: readonly number[], visit: (point: number[]) => void): void {
  if (shape.some((d) => d === 0)) return;
  const idx = new Array<number>(shape.length).fill(0);
  for (;;) {
    visit([...idx]);
    let d = shape.length - 1;
    while (d >= 0 && ++idx[d] === shape[d]) idx[d--] = 0;
    if (d < 0) return;
  }
}

/** Host memory for a shared state arena. */
export function allocSharedHost(bytes: number): SharedMemory {
  const buffer = new ArrayBuffer(Math.max(bytes, 8));
  return { bytes: buffer.byteLength, buffer, handle: null, dispose() {} };
}

/** Loads a program into a fresh arena and runs it in JS. */
export function loadInterpreted(program: KernelProgram, shared?: SharedMemory): Executable {
  if ((program.sharedBytes ?? 0) > (shared?.bytes ?? 0)) throw new Error(`program '${program.name}' needs a shared state arena of ${program.sharedBytes} bytes`);
  const arena = new ArrayBuffer(Math.max(program.arenaBytes, 8));
  const m = new Machine(program, arena, shared?.buffer);
  return {
    program,
    write(buf, data, elementOffset = 0) {
      m.arrays[buf].set(data, elementOffset);
    },
    read: async (buf) => m.arrays[buf].slice(),
    async run() {
      for (const k of program.kernels) m.run(k);
    },
    dispose() {},
  };
}

export const kernelInterpreterBackend: Backend = {
  name: 'kernel-interpreter',
  allocShared: allocSharedHost,
  load: async (program, shared) => loadInterpreted(program, shared),
};
