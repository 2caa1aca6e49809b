/**
 * Loop kernels with long reductions over few outer points (a loss summed
 * over the batch, a regularizer over a weight matrix): one workgroup per
 * outer point. Its invocations fold strided slices of the inner space, fold
 * the partials as a tree in workgroup memory, and all read the result; the
 * outer stores are made by invocation 0 and the full stores are shared out
 * like the reduction. Anything else runs one invocation per outer point
 * (kernel.ts), which keeps the interpreter's summation order.
 */
import type { LoopKernel } from '../../ir/kernel.js';
import { type KernelEmitter, Scope, type ShaderParts, WGSL_TYPE, reduceInit, reduceStep } from './emitter.js';
import { type WgslTarget, dispatchShape } from './target.js';

/** Inner extents below this fold serially; outer counts above it keep enough invocations busy without help. */
const MIN_INNER = 512;
const MAX_OUTER = 4096;

export function usesGroupReduce(k: LoopKernel): boolean {
  const inner = k.inner.reduce((a, b) => a * b, 1);
  const outer = k.outer.reduce((a, b) => a * b, 1);
  return k.reductions.length > 0 && inner >= MIN_INNER && outer <= MAX_OUTER && k.reductions.every((r) => r.dtype === 'float32' || r.dtype === 'int32');
}

export function groupReduceShader(e: KernelEmitter, k: LoopKernel, target: WgslTarget, groupSize: number): ShaderParts {
  const size = 2 ** Math.floor(Math.log2(groupSize));
  const total = k.outer.reduce((a, b) => a * b, 1);
  const inner = k.inner.reduce((a, b) => a * b, 1);
  const groups = dispatchShape(total, target);
  const dtypes = [...new Set(k.reductions.map((r) => r.dtype))];
  const decls = dtypes.map((d) => `var<workgroup> partial_${WGSL_TYPE[d]}: array<${WGSL_TYPE[d]}, ${size}>;`);
  // The outer point is uniform across the workgroup, so returning early keeps the barriers in uniform control flow.
  const body = [`  let flat = wg.x + wg.y * ${groups[0]}u;`, `  if (flat >= ${total}u) { return; }`, '  let lin = i32(lidx);'];
  const { lines, vars: outer } = e.unflatten(k.outer, '  ', 'o');
  body.push(...lines);
  const accs: string[] = [];
  const strided = (prefix: string, emit: (point: string[], indent: string) => string[]): string[] => {
    const { lines: split, vars } = e.unflatten(k.inner, '    ', prefix, 'q');
    return [`  for (var q = lin; q < ${inner}; q += ${size}) {`, ...split, ...emit([...outer, ...vars], '    '), '  }'];
  };
  for (const r of k.reductions) {
    const t = WGSL_TYPE[r.dtype];
    const part = `part${r.id}`;
    const shared = `partial_${t}`;
    body.push(`  var ${part}: ${t} = ${reduceInit(r.op, r.dtype)};`);
    body.push(...strided(`r${r.id}_`, (point, indent) => {
      const scope = new Scope(e, point, accs, indent);
      scope.line(`${part} = ${reduceStep(r.op, part, scope.expr(r.expr))};`);
      return scope.lines;
    }));
    body.push(`  ${shared}[lin] = ${part};`, '  workgroupBarrier();');
    body.push(`  for (var w = ${size / 2}; w > 0; w = w / 2) {`);
    body.push(`    if (lin < w) { ${shared}[lin] = ${reduceStep(r.op, `${shared}[lin]`, `${shared}[lin + w]`)}; }`, '    workgroupBarrier();', '  }');
    // Everyone reads the result before the array is reused by the next reduction.
    body.push(`  let acc${r.id} = ${shared}[0];`, '  workgroupBarrier();');
    accs[r.id] = `acc${r.id}`;
  }
  const outerStores = k.stores.filter((s) => s.space === 'outer');
  if (outerStores.length) {
    const scope = new Scope(e, [...outer, ...k.inner.map(() => '0')], accs, '    ');
    for (const s of outerStores) scope.line(e.store(s.buf, scope.index(s.view), scope.expr(s.expr)));
    body.push('  if (lin == 0) {', ...scope.lines, '  }');
  }
  const full = k.stores.filter((s) => s.space === 'full');
  if (full.length) {
    body.push(...strided('f', (point, indent) => {
      const scope = new Scope(e, point, accs, indent);
      for (const s of full) scope.line(e.store(s.buf, scope.index(s.view), scope.expr(s.expr)));
      return scope.lines;
    }));
  }
  return {
    decls,
    workgroupSize: [size, 1],
    params: '@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lidx: u32',
    groups,
    body,
  };
}
