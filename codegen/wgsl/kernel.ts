/**
 * Kernel IR to WGSL compute shaders: one shader per kernel. The arena (and
 * the shared state arena) is bound as `array<u32>`; every element is 32 bits
 * on WebGPU (float32 and int32 bitcast, bool as 0u/1u), so buffers address
 * words at `offset / 4`. A loop kernel runs one invocation per outer point
 * (reductions and full stores loop over the inner dims); a matmul runs one
 * invocation per output element with its epilogue fused.
 */
import type { DType } from '../../ir/dtype.js';
import type { BufferDecl, Expr, Kernel, KernelProgram, LoopKernel, MatmulKernel, View } from '../../ir/kernel.js';
import type { ReduceOp } from '../../ir/scalar.js';
import { BINARY, PRELUDE, UNARY } from './scalar.js';

export const WORKGROUP_SIZE = 64;
const MAX_GROUPS_PER_DIM = 65535;

export interface WgslKernel {
  readonly name: string;
  readonly code: string;
  /** Workgroups to dispatch (x, y). */
  readonly groups: readonly [number, number];
  readonly usesShared: boolean;
}

const exprDType = (e: Expr): DType => (e.k === 'index' ? 'int32' : e.k === 'random' ? 'float32' : e.dtype);
const WGSL_TYPE: Record<DType, string> = { float32: 'f32', int32: 'i32', bool: 'bool', float64: 'f64' };

function floatLiteral(v: number): string {
  if (Number.isNaN(v)) return 'kiln_nan()';
  if (v === Infinity) return 'kiln_inf()';
  if (v === -Infinity) return '(-kiln_inf())';
  const s = String(Math.fround(v));
  return /[.e]/.test(s) ? `f32(${s})` : `f32(${s}.0)`;
}

function literal(v: number, d: DType): string {
  if (d === 'bool') return v ? 'true' : 'false';
  if (d === 'int32') return `i32(${v | 0})`;
  return floatLiteral(v);
}

/** Emits statements for one loop body, naming each shared subexpression once. */
class Scope {
  readonly lines: string[] = [];
  private readonly memo = new Map<Expr, string>();

  constructor(private readonly k: KernelEmitter, readonly point: readonly string[], readonly accs: readonly string[], private readonly indent: string) {}

  line(s: string): void {
    this.lines.push(`${this.indent}${s}`);
  }

  index(view: View): string {
    const terms = view.strides.flatMap((s, d) => (s === 0 ? [] : [s === 1 ? this.point[d] : `${this.point[d]} * ${s}`]));
    return `(${[String(view.offset), ...terms].join(' + ')})`;
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
        let idx = this.index(e.view);
        if (e.dyn) idx = `(${idx} + clamp(${this.asInt(e.dyn.expr)}, 0, ${e.dyn.limit - 1}) * ${e.dyn.stride})`;
        return this.k.load(e.buf, idx, e.dtype);
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

function cast(x: string, from: DType, to: DType): string {
  if (from === to) return x;
  if (to === 'bool') return from === 'float32' ? `(${x} != 0.0)` : `(${x} != 0)`;
  if (from === 'bool') return to === 'int32' ? `select(0, 1, ${x})` : `select(0.0, 1.0, ${x})`;
  return `${WGSL_TYPE[to]}(${x})`;
}

function reduceInit(op: ReduceOp, d: DType): string {
  if (op === 'sum') return literal(0, d);
  if (d === 'int32') return op === 'max' ? 'i32(-2147483648)' : 'i32(2147483647)';
  return floatLiteral(op === 'max' ? -Infinity : Infinity);
}

function reduceStep(op: ReduceOp, acc: string, v: string): string {
  return op === 'sum' ? `${acc} + ${v}` : `${op}(${acc}, ${v})`;
}

class KernelEmitter {
  private id = 0;
  usesShared = false;

  constructor(private readonly program: KernelProgram) {}

  nextId(): number {
    return this.id++;
  }

  private buffer(buf: number): BufferDecl {
    return this.program.buffers[buf];
  }

  private word(buf: number, idx: string): string {
    const b = this.buffer(buf);
    if (b.shared) this.usesShared = true;
    return `${b.shared ? 'shared_arena' : 'arena'}[u32(${b.offset / 4} + ${idx})]`;
  }

  load(buf: number, idx: string, d: DType): string {
    const w = this.word(buf, idx);
    return d === 'bool' ? `(${w} != 0u)` : `bitcast<${WGSL_TYPE[d]}>(${w})`;
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

  /** Splits the flat invocation index into indices over `dims`. */
  unflatten(dims: readonly number[], indent: string, prefix: string): { lines: string[]; vars: string[] } {
    const lines = [`${indent}var rest = i32(flat);`];
    const vars = dims.map((_, d) => `${prefix}${d}`);
    for (let d = dims.length - 1; d >= 0; d--) {
      lines.push(`${indent}let ${vars[d]} = rest % ${dims[d]};`);
      lines.push(`${indent}rest = rest / ${dims[d]};`);
    }
    return { lines, vars };
  }

  loopBody(k: LoopKernel): string[] {
    const out: string[] = [];
    const { lines, vars: outer } = this.unflatten(k.outer, '  ', 'o');
    out.push(...lines);
    const accs: string[] = [];
    for (const r of k.reductions) {
      const acc = `acc${r.id}`;
      out.push(`  var ${acc}: ${WGSL_TYPE[r.dtype]} = ${reduceInit(r.op, r.dtype)};`);
      const l = this.loops(k.inner, `r${r.id}_`, '  ');
      const scope = new Scope(this, [...outer, ...l.vars], accs, l.inner);
      const v = scope.expr(r.expr);
      scope.line(`${acc} = ${reduceStep(r.op, acc, v)};`);
      out.push(...l.open, ...scope.lines, ...l.close);
      accs[r.id] = acc;
    }
    const outerStores = k.stores.filter((s) => s.space === 'outer');
    if (outerStores.length) {
      const scope = new Scope(this, [...outer, ...k.inner.map(() => '0')], accs, '  ');
      for (const s of outerStores) scope.line(this.store(s.buf, scope.index(s.view), scope.expr(s.expr)));
      out.push(...scope.lines);
    }
    const full = k.stores.filter((s) => s.space === 'full');
    if (full.length) {
      const l = this.loops(k.inner, 'f', '  ');
      const scope = new Scope(this, [...outer, ...l.vars], accs, l.inner);
      for (const s of full) scope.line(this.store(s.buf, scope.index(s.view), scope.expr(s.expr)));
      out.push(...l.open, ...scope.lines, ...l.close);
    }
    return out;
  }

  matmulBody(k: MatmulKernel): string[] {
    const dims = [...k.batch, k.m, k.n];
    const { lines, vars } = this.unflatten(dims, '  ', 'o');
    const batch = vars.slice(0, -2);
    const [i, j] = vars.slice(-2);
    const t = WGSL_TYPE[k.dtype];
    const idx = (view: View, point: string[]): string => {
      const terms = view.strides.flatMap((s, d) => (s === 0 ? [] : [s === 1 ? point[d] : `${point[d]} * ${s}`]));
      return `(${[String(view.offset), ...terms].join(' + ')})`;
    };
    const out = [...lines, `  var acc: ${t} = 0.0;`, `  for (var p = 0; p < ${k.k}; p++) {`];
    out.push(`    acc = acc + ${this.load(k.a.buf, idx(k.a.view, [...batch, i, 'p']), k.dtype)} * ${this.load(k.b.buf, idx(k.b.view, [...batch, 'p', j]), k.dtype)};`);
    out.push('  }');
    const scope = new Scope(this, vars, ['acc'], '  ');
    scope.line(this.store(k.out.buf, scope.index(k.out.view), scope.expr(k.epilogue)));
    return [...out, ...scope.lines];
  }
}

function invocations(k: Kernel): number {
  return k.kind === 'matmul' ? [...k.batch, k.m, k.n].reduce((a, b) => a * b, 1) : k.outer.reduce((a, b) => a * b, 1);
}

export function emitKernel(program: KernelProgram, k: Kernel): WgslKernel {
  if (k.kind === 'matmul' ? k.dtype === 'float64' : program.buffers.some((b) => b.dtype === 'float64')) {
    throw new Error(`WebGPU has no float64: kernel ${k.name} of '${program.name}' cannot run on the webgpu backend (use float32 or the cpu backend)`);
  }
  const e = new KernelEmitter(program);
  const body = k.kind === 'matmul' ? e.matmulBody(k) : e.loopBody(k);
  const total = invocations(k);
  const groups = Math.ceil(total / WORKGROUP_SIZE);
  const gx = Math.min(groups, MAX_GROUPS_PER_DIM);
  const gy = Math.ceil(groups / gx);
  const code = [
    PRELUDE,
    '@group(0) @binding(0) var<storage, read_write> arena: array<u32>;',
    ...(e.usesShared ? ['@group(0) @binding(1) var<storage, read_write> shared_arena: array<u32>;'] : []),
    `@compute @workgroup_size(${WORKGROUP_SIZE})`,
    `fn main(@builtin(global_invocation_id) gid: vec3<u32>) {`,
    `  let flat = gid.x + gid.y * ${gx * WORKGROUP_SIZE}u;`,
    `  if (flat >= ${total}u) { return; }`,
    ...body,
    '}',
  ].join('\n');
  return { name: k.name, code, groups: [Math.max(gx, 1), Math.max(gy, 1)], usesShared: e.usesShared };
}
