/**
 * Hand-built kernel programs for the LLVM backend tests (test/codegen/llvm_*.test.ts):
 * buffers laid out one after another at 64-byte-aligned offsets, expression
 * constructors, and loading onto the CPU backend with the tests' options.
 */
import { DTYPE_BYTES, type DType, type TypedArray, allocArray, stridesOf } from '../../ir/dtype.js';
import { ARENA_ALIGN, type BufferDecl, type DynIndex, type Expr, type Kernel, type KernelProgram, type Store, type View } from '../../ir/kernel.js';
import type { BinaryOp, UnaryOp } from '../../ir/scalar.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Executable } from '../../runtime/backend.js';
import { type CpuOptions, loadCpu } from '../../runtime/cpu/index.js';

export class ProgramBuilder {
  private readonly buffers: BufferDecl[] = [];
  private readonly kernels: Kernel[] = [];
  private bytes = 0;

  constructor(private readonly name: string) {}

  /** A buffer of `shape` placed after every earlier one. */
  buffer(dtype: DType, shape: readonly number[], role: BufferDecl['role'] = 'temp'): number {
    const id = this.buffers.length;
    const size = shape.reduce((p, q) => p * q, 1);
    const offset = Math.ceil(this.bytes / ARENA_ALIGN) * ARENA_ALIGN;
    this.buffers.push({ id, name: `b${id}`, role, dtype, size, shape: [...shape], offset });
    this.bytes = offset + size * DTYPE_BYTES[dtype];
    return id;
  }

  dtypeOf(buf: number): DType {
    return this.buffers[buf].dtype;
  }

  kernel(k: Kernel): this {
    this.kernels.push(k);
    return this;
  }

  /** An elementwise kernel over `shape` storing `expr` row-major into `out`. */
  elementwise(shape: readonly number[], out: number, expr: Expr): this {
    return this.kernel({ kind: 'loop', name: `k${this.kernels.length}`, outer: [...shape], inner: [], reductions: [], stores: [full(out, rowMajor(shape), expr)] });
  }

  build(): KernelProgram {
    return { name: this.name, buffers: this.buffers, kernels: this.kernels, arenaBytes: Math.max(this.bytes, ARENA_ALIGN) };
  }
}

export const view = (offset: number, strides: readonly number[]): View => ({ offset, strides });
export const rowMajor = (shape: readonly number[]): View => view(0, stridesOf(shape));

export const load = (buf: number, v: View, dtype: DType, dyn?: DynIndex): Expr => ({ k: 'load', buf, view: v, dtype, ...(dyn ? { dyn } : {}) });
export const constant = (value: number, dtype: DType): Expr => ({ k: 'const', value, dtype });
export const acc = (id: number, dtype: DType): Expr => ({ k: 'acc', id, dtype });
export const unary = (op: UnaryOp, a: Expr, dtype: DType): Expr => ({ k: 'unary', op, a, dtype });
export const binary = (op: BinaryOp, a: Expr, b: Expr, dtype: DType): Expr => ({ k: 'binary', op, a, b, dtype });
export const select = (cond: Expr, a: Expr, b: Expr, dtype: DType): Expr => ({ k: 'select', cond, a, b, dtype });
export const cast = (a: Expr, dtype: DType): Expr => ({ k: 'cast', a, dtype });
export const full = (buf: number, v: View, expr: Expr): Store => ({ buf, view: v, expr, space: 'full' });
export const outer = (buf: number, v: View, expr: Expr): Store => ({ buf, view: v, expr, space: 'outer' });

export function typed(dtype: DType, values: readonly number[]): TypedArray {
  const a = allocArray(dtype, values.length);
  a.set(values);
  return a;
}

/** Deterministic values in [lo, hi). */
export function uniform(n: number, seed: number, lo = -1, hi = 1): number[] {
  let s = seed >>> 0;
  return Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return lo + ((s >>> 8) / 2 ** 24) * (hi - lo);
  });
}

/** Loads `program` on the CPU backend with two threads (so the OpenMP path runs), writes `inputs` and runs it once. */
export async function runOnCpu(program: KernelProgram, inputs: ReadonlyMap<number, TypedArray>, options: CpuOptions = {}): Promise<Executable> {
  const exe = await loadCpu(program, { threads: 2, ...options });
  for (const [buf, data] of inputs) exe.write(buf, data);
  await exe.run();
  return exe;
}

/** An output to compare after the run. */
export interface Check {
  readonly name: string;
  readonly buf: number;
  readonly want: readonly number[];
  readonly rtol: number;
  readonly atol: number;
}

/** A program under test: its builder, the inputs to write before the run, and the outputs to check after it. */
export class CheckedProgram {
  readonly pb: ProgramBuilder;
  readonly inputs = new Map<number, TypedArray>();
  readonly checks: Check[] = [];

  constructor(name: string) {
    this.pb = new ProgramBuilder(name);
  }

  /** An input buffer holding `values`. */
  input(dtype: DType, values: readonly number[], shape: readonly number[] = [values.length]): { buf: number; data: TypedArray } {
    const buf = this.pb.buffer(dtype, shape, 'input');
    const data = typed(dtype, values);
    this.inputs.set(buf, data);
    return { buf, data };
  }
}

/** Builds the program, runs it once on the CPU backend, and checks each output in a test of its own. */
export function describeChecks(title: string, suite: CheckedProgram): void {
  const program = suite.pb.build();
  let exe: Executable;
  beforeAll(async () => {
    exe = await runOnCpu(program, suite.inputs);
  });
  afterAll(() => exe?.dispose());
  describe(title, () => {
    it.each(suite.checks.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
      expect(await exe.read(c.buf)).toBeAllClose(c.want, { rtol: c.rtol, atol: c.atol });
    });
  });
}
