/** A stable text form of the kernel IR, used in dumps and in pass tests. */
import { shapeStr } from './dtype.js';
import type { Expr, Kernel, KernelProgram, Mask, View } from './kernel.js';

function viewText(v: View): string {
  return `${v.offset}+[${v.strides.join(',')}]`;
}

/** ` if 0<=o+[s]<n && ... else fill`: the valid ranges of a masked load. */
function maskText(m: Mask): string {
  return ` if ${m.bounds.map((b) => `0<=${b.offset}+[${b.strides.join(',')}]<${b.size}`).join(' && ')} else ${m.fill}`;
}

export function printExpr(e: Expr, bufName: (id: number) => string): string {
  const p = (x: Expr): string => printExpr(x, bufName);
  switch (e.k) {
    case 'load': return `${bufName(e.buf)}@${viewText(e.view)}${e.dyn ? `{${p(e.dyn.expr)}*${e.dyn.stride}<${e.dyn.limit}}` : ''}${e.mask ? maskText(e.mask) : ''}`;
    case 'index': return `index(${viewText(e.view)})`;
    case 'random': return `random(${e.seed}, ${p(e.counter)}, ${viewText(e.view)})`;
    case 'const': return `${e.value}`;
    case 'acc': return `acc${e.id}`;
    case 'unary': return `${e.op}(${p(e.a)})`;
    case 'binary': return `${e.op}(${p(e.a)}, ${p(e.b)})`;
    case 'select': return `select(${p(e.cond)}, ${p(e.a)}, ${p(e.b)})`;
    case 'cast': return `${e.dtype}(${p(e.a)})`;
  }
}

export function printKernel(k: Kernel, bufName: (id: number) => string): string {
  const p = (e: Expr): string => printExpr(e, bufName);
  if (k.kind === 'repeat') {
    const body = k.body.map((x) => printKernel(x, bufName).replace(/^/gm, '  '));
    return [`repeat ${k.name} count=${k.count}${k.steps === undefined ? '' : ` steps=${bufName(k.steps)}`}${k.reverse ? ' reverse' : ''}`, ...body].join('\n');
  }
  if (k.kind === 'matmul') {
    const dims = `${k.mDims ? ` mDims=${shapeStr(k.mDims)}` : ''}${k.kDims ? ` kDims=${shapeStr(k.kDims)}` : ''}`;
    const operand = (op: typeof k.a): string => `${bufName(op.buf)}@${viewText(op.view)}${op.mask ? maskText(op.mask) : ''}${op.packed === undefined ? '' : ` packed ${bufName(op.packed)}`}`;
    return [
      `matmul ${k.name} batch=${shapeStr(k.batch)} m=${k.m} n=${k.n} k=${k.k}${dims}${k.rowReduce ? ` rowReduce=${k.rowReduce.op}/${k.rowReduce.dims}` : ''} ${k.dtype}`,
      `  a = ${operand(k.a)}  b = ${operand(k.b)}`,
      `  ${bufName(k.out.buf)}@${viewText(k.out.view)} = ${p(k.epilogue)}`,
    ].join('\n');
  }
  const lines = [`loop ${k.name} outer=${shapeStr(k.outer)} inner=${shapeStr(k.inner)}`];
  for (const r of k.reductions) lines.push(`  acc${r.id} = ${r.op} ${p(r.expr)}`);
  for (const s of k.stores) {
    const at = s.scatter ? `{${p(s.scatter.expr)}*${s.scatter.stride}<${s.scatter.limit}}` : '';
    lines.push(`  ${s.space} ${bufName(s.buf)}@${viewText(s.view)}${at} ${s.scatter ? '+=' : '='} ${p(s.expr)}`);
  }
  return lines.join('\n');
}

export function printProgram(program: KernelProgram): string {
  const name = (id: number): string => program.buffers[id].name;
  const alias = (b: KernelProgram['buffers'][number]): string => (b.alias ? ` = ${name(b.alias.of)}[${b.alias.offset}${b.alias.step ? ` + ${b.alias.step}*t` : ''}]` : '');
  const buffers = program.buffers.map((b) => `buffer ${b.name}: ${b.role} ${b.dtype}${shapeStr(b.shape)} @${b.offset}${alias(b)}`);
  const w = program.weights;
  const weights = w ? ` weights=${name(w.generation)}${w.packedAt === undefined ? '' : ` packed_at=${name(w.packedAt)}`}${w.advances ? ' advances' : ''}` : '';
  return [`program ${program.name} arena=${program.arenaBytes}${weights}`, ...buffers, ...program.kernels.map((k) => printKernel(k, name))].join('\n');
}
