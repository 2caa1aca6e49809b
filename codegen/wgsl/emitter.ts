/**
 * The pieces every WGSL kernel is written with: buffer words in the arena
 * (and the shared state arena) as `array<u32>` with bitcasts, literals,
 * casts, and a Scope that names each shared subexpression once.
 */
import type { DType } from '../../ir/dtype.js';
import { type BufferDecl, type DynIndex, type Expr, type KernelProgram, type Store, type View, exprDType } from '../../ir/kernel.js';
import type { ReduceOp } from '../../ir/scalar.js';
import type { BindingPlan } from './bindings.js';
import { BINARY, UNARY } from './scalar.js';

export const WGSL_TYPE: Record<DType, string> = { float32: 'f32', int32: 'i32', bool: 'bool', float64: 'f64' };

export function floatLiteral(v: number): string {
  if (Number.isNaN(v)) return 'kiln_nan()';
  if (v === Infinity) return 'kiln_inf()';
  if (v === -Infinity) return '(-kiln_inf())';
  const s = String(Math.fround(v));
  return /[.e]/.test(s) ? `f32(${s})` : `f32(${s}.0)`;
}

export function literal(v: number, d: DType): string {
  if (d === 'bool') return v ? 'true' : 'false';
  if (d === 'int32') return `i32(${v | 0})`;
  return floatLiteral(v);
}

/** Emits statements for one loop body, naming each shared subexpression once. */
export class Scope {
  readonly lines: string[] = [];
  private readonly memo = new Map<Expr, string>();

  constructor(private readonly k: KernelEmitter, readonly point: readonly string[], readonly accs: readonly string[], private readonly indent: string) {}

  line(s: string): void {
    this.lines.push(`${this.indent}${s}`);
  }

  index(view: View): string {
    return viewIndex(view, this.point);
  }

  /** Index text of a gather's or scatter's element: the view plus clamp(index, 0, limit - 1) * stride. */
  dynIndex(view: View, dyn: DynIndex): string {
    return `(${this.index(view)} + clamp(${this.asInt(dyn.expr)}, 0, ${dyn.limit - 1}) * ${dyn.stride})`;
  }

  expr(e: Expr): string {
    const hit = this.memo.get(e);
    if (hit) return hit;
    const text = this.build(e);
    const name = `t${this.k.nextId()}`;
    this.line(`let ${name} = ${text};`);
    this.memo.set(e, name);
    return name;
  }

  private build(e: Expr): string {
    switch (e.k) {
      case 'load': {
        const idx = e.dyn ? this.dynIndex(e.view, e.dyn) : this.index(e.view);
        if (!e.mask) return this.k.load(e.buf, idx, e.dtype);
        // An invalid point reads word 0 of the buffer (always bound) and selects the fill.
        // bitcast, not u32(): a bound whose coordinate is a negative constant (an empty range) must not be a constant conversion error.
        const valid = e.mask.bounds.map((b) => `(bitcast<u32>(i32${this.index({ offset: b.offset, strides: b.strides })}) < ${b.size}u)`).join(' && ') || 'true';
        const ok = `t${this.k.nextId()}`;
        this.line(`let ${ok} = ${valid};`);
        return `select(${literal(e.mask.fill, e.dtype)}, ${this.k.load(e.buf, `select(0, ${idx}, ${ok})`, e.dtype)}, ${ok})`;
      }
      case 'index': return this.index(e.view);
      case 'random': return `philox_uniform(${e.seed >>> 0}u, bitcast<u32>(${this.asInt(e.counter)}), u32(${this.index(e.view)}))`;
      case 'const': return literal(e.value, e.dtype);
      case 'acc': return this.accs[e.id];
      case 'unary': return UNARY[e.op](this.expr(e.a), e.dtype);
      case 'binary': return BINARY[e.op](this.expr(e.a), this.expr(e.b), exprDType(e.a));
      case 'select': return `select(${this.expr(e.b)}, ${this.expr(e.a)}, ${this.expr(e.cond)})`;
      case 'cast': return cast(this.expr(e.a), exprDType(e.a), e.dtype);
    }
  }

  private asInt(e: Expr): string {
    return cast(this.expr(e), exprDType(e), 'int32');
  }
}

export function cast(x: string, from: DType, to: DType): string {
  if (from === to) return x;
  if (to === 'bool') return from === 'float32' ? `(${x} != 0.0)` : `(${x} != 0)`;
  if (from === 'bool') return to === 'int32' ? `select(0, 1, ${x})` : `select(0.0, 1.0, ${x})`;
  return `${WGSL_TYPE[to]}(${x})`;
}

export function reduceInit(op: ReduceOp, d: DType): string {
  if (op === 'sum') return literal(0, d);
  if (d === 'int32') return op === 'max' ? 'i32(-2147483648)' : 'i32(2147483647)';
  return floatLiteral(op === 'max' ? -Infinity : Infinity);
}

export function reduceStep(op: ReduceOp, acc: string, v: string): string {
  return op === 'sum' ? `${acc} + ${v}` : `${op}(${acc}, ${v})`;
}

export class KernelEmitter {
  private id = 0;
  constructor(private readonly program: KernelProgram, private readonly plan: BindingPlan) {}

  nextId(): number {
    return this.id++;
  }

  buffer(buf: number): BufferDecl {
    return this.program.buffers[buf];
  }

  private word(buf: number, idx: string): string {
    const at = this.binding(buf);
    const word = at.step ? `${at.word} + ${at.step}` : `${at.word}`;
    if (!this.plan.vec4.has(at.name)) return `${at.name}[u32(${word} + ${idx})]`;
    return `${at.name}[u32(${word} + ${idx}) >> 2u][u32(${word} + ${idx}) & 3u]`;
  }

  binding(buf: number): { readonly name: string; readonly word: number; readonly step?: string } {
    const at = this.plan.buffers.get(buf);
    if (!at) throw new Error(`WGSL emitter: buffer ${buf} has no binding`);
    return at;
  }

  /** Declares `buf`'s binding as array<vec4<u32>> (before any code for it is emitted). */
  useVec4(buf: number): void {
    this.plan.vec4.add(this.binding(buf).name);
  }

  /** Four float32 elements from word `idx` of `buf` (a multiple of 4 words into a vec4 binding). */
  loadVec4(buf: number, idx: string): string {
    const at = this.binding(buf);
    if (at.step) throw new Error(`WGSL emitter: buffer ${buf} moves with a repeat's step and is not read as vec4`);
    return `bitcast<vec4<f32>>(${at.name}[u32(${at.word} + ${idx}) >> 2u])`;
  }

  load(buf: number, idx: string, d: DType): string {
    const w = this.word(buf, idx);
    return d === 'bool' ? `(${w} != 0u)` : `bitcast<${WGSL_TYPE[d]}>(${w})`;
  }

  /** A store's statement at `scope`'s point: a plain write, or a scatter store's read-add-write (one invocation owns each element: K9). */
  storeAt(scope: Scope, s: Store): string {
    const value = scope.expr(s.expr);
    if (!s.scatter) return this.store(s.buf, scope.index(s.view), value);
    const at = `t${this.nextId()}`;
    scope.line(`let ${at} = ${scope.dynIndex(s.view, s.scatter)};`);
    return this.store(s.buf, at, `(${this.load(s.buf, at, this.buffer(s.buf).dtype)} + ${value})`);
  }

  store(buf: number, idx: string, value: string): string {
    const d = this.buffer(buf).dtype;
    return `${this.word(buf, idx)} = ${d === 'bool' ? `select(0u, 1u, ${value})` : `bitcast<u32>(${value})`};`;
  }

  /** Nested loops over `extents`, binding loop variables `prefix0..`; returns [open lines, close lines, vars]. */
  loops(extents: readonly number[], prefix: string, indent: string): { open: string[]; close: string[]; vars: string[]; inner: string } {
    const open: string[] = [];
    const close: string[] = [];
    const vars = extents.map((_, d) => `${prefix}${d}`);
    extents.forEach((n, d) => {
      open.push(`${indent}${'  '.repeat(d)}for (var ${vars[d]} = 0; ${vars[d]} < ${n}; ${vars[d]}++) {`);
      close.unshift(`${indent}${'  '.repeat(d)}}`);
    });
    return { open, close, vars, inner: `${indent}${'  '.repeat(extents.length)}` };
  }

  /** Splits a flat index (`source`, u32) into indices over `dims`. */
  unflatten(dims: readonly number[], indent: string, prefix: string, source = 'flat'): { lines: string[]; vars: string[] } {
    const lines = [`${indent}var rest = i32(${source});`];
    const vars = dims.map((_, d) => `${prefix}${d}`);
    for (let d = dims.length - 1; d >= 0; d--) {
      // An empty space runs no invocation, but WGSL rejects a constant division by zero at compile time.
      const n = Math.max(dims[d], 1);
      lines.push(`${indent}let ${vars[d]} = rest % ${n};`);
      lines.push(`${indent}rest = rest / ${n};`);
    }
    return { lines, vars };
  }
}

/** Index text of `view` at `point` (one index expression per dim). */
export function viewIndex(view: View, point: readonly string[]): string {
  const terms = view.strides.flatMap((s, d) => (s === 0 ? [] : [s === 1 ? point[d] : `${point[d]} * ${s}`]));
  return `(${[String(view.offset), ...terms].join(' + ')})`;
}

/** A kernel's shader before assembly: module-scope declarations, entry point parameters, body, and launch shape. */
export interface ShaderParts {
  /** Module-scope declarations (workgroup arrays). */
  readonly decls: readonly string[];
  readonly workgroupSize: readonly [number, number];
  /** Parameters of `main`. */
  readonly params: string;
  /** Workgroups to dispatch (x, y). */
  readonly groups: readonly [number, number];
  readonly body: readonly string[];
}
