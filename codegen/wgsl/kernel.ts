/**
 * Kernel IR to WGSL compute shaders: one shader per kernel. The arena (and
 * the shared state arena) is bound as `array<u32>` (or `array<vec4<u32>>`
 * where a matmul stages vec4 loads; bindings.ts); every element is 32 bits
 * on WebGPU (float32 and int32 bitcast, bool as 0u/1u), so buffers address
 * words at `offset / 4`. A loop kernel runs one invocation per outer point
 * (reductions and full stores loop over the inner dims), long reductions
 * over few points one workgroup per point (reduce.ts); matmuls are in
 * matmul.ts. Workgroup sizes, tiles and dispatch shapes follow the target's
 * limits (target.ts).
 */
import { type Kernel, type KernelProgram, type LoopKernel, matmulAsLoop } from '../../ir/kernel.js';
import { type Binding, planBindings } from './bindings.js';
import { KernelEmitter, Scope, type ShaderParts, WGSL_TYPE, reduceInit, reduceStep } from './emitter.js';
import { matmulShader } from './matmul.js';
import { groupReduceShader, usesGroupReduce } from './reduce.js';
import { PRELUDE } from './scalar.js';
import { touchesStepBuffer } from './repeat.js';
import { MIN_TARGET, type WgslTarget, dispatchShape } from './target.js';

/** Invocations per workgroup of loop kernels and the simple matmul. */
export const WORKGROUP_SIZE = 64;

export interface WgslKernel {
  readonly name: string;
  readonly code: string;
  /** Workgroups to dispatch (x, y). */
  readonly groups: readonly [number, number];
  readonly workgroupSize: readonly [number, number];
  /** Storage bindings of group 0, in binding order. */
  readonly bindings: readonly Binding[];
}

function loopBody(e: KernelEmitter, k: LoopKernel): string[] {
  const out: string[] = [];
  const { lines, vars: outer } = e.unflatten(k.outer, '  ', 'o');
  out.push(...lines);
  const accs: string[] = [];
  for (const r of k.reductions) {
    const acc = `acc${r.id}`;
    out.push(`  var ${acc}: ${WGSL_TYPE[r.dtype]} = ${reduceInit(r.op, r.dtype)};`);
    const l = e.loops(k.inner, `r${r.id}_`, '  ');
    const scope = new Scope(e, [...outer, ...l.vars], accs, l.inner);
    const v = scope.expr(r.expr);
    scope.line(`${acc} = ${reduceStep(r.op, acc, v)};`);
    out.push(...l.open, ...scope.lines, ...l.close);
    accs[r.id] = acc;
  }
  const outerStores = k.stores.filter((s) => s.space === 'outer');
  if (outerStores.length) {
    const scope = new Scope(e, [...outer, ...k.inner.map(() => '0')], accs, '  ');
    for (const s of outerStores) scope.line(e.store(s.buf, scope.index(s.view), scope.expr(s.expr)));
    out.push(...scope.lines);
  }
  const full = k.stores.filter((s) => s.space === 'full');
  if (full.length) {
    const l = e.loops(k.inner, 'f', '  ');
    const scope = new Scope(e, [...outer, ...l.vars], accs, l.inner);
    for (const s of full) scope.line(e.storeAt(scope, s));
    out.push(...l.open, ...scope.lines, ...l.close);
  }
  return out;
}

/** `repeat`: the ordinal of the repeat kernel whose body `k` is in (its step counter); the runtime dispatches a repeat's body once per step. */
export function emitKernel(program: KernelProgram, k: Kernel, target: WgslTarget = MIN_TARGET, repeat?: number): WgslKernel {
  if (k.kind === 'repeat') throw new Error(`WGSL emitter: kernel ${k.name} of '${program.name}' is a repeat; its body kernels are emitted one by one (runtime/webgpu dispatches them once per step)`);
  if (k.kind === 'matmul' ? k.dtype === 'float64' : program.buffers.some((b) => b.dtype === 'float64')) {
    throw new Error(`WebGPU has no float64: kernel ${k.name} of '${program.name}' cannot run on the webgpu backend (use float32 or the cpu backend)`);
  }
  if (k.kind === 'matmul' && k.rowReduce) throw new Error(`WGSL emitter: kernel ${k.name} of '${program.name}' reduces groups of rows after its epilogue (passes/pool_epilogue.ts makes those for the cpu backend only)`);
  // Multi-dim and masked matmuls (implicit-GEMM convolutions) run as the equivalent loop kernel here.
  if (k.kind === 'matmul' && (k.mDims || k.kDims || k.a.mask || k.b.mask)) return emitKernel(program, matmulAsLoop(k), target, repeat);
  // A matmul over a buffer that moves with a step runs as a loop: its vec4 staging needs static alignment.
  if (k.kind === 'matmul' && touchesStepBuffer(program, k)) return emitKernel(program, matmulAsLoop(k), target, repeat);
  const plan = planBindings(program, k, target, repeat);
  const e = new KernelEmitter(program, plan);
  const groupSize = Math.min(WORKGROUP_SIZE, target.maxInvocationsPerWorkgroup, target.maxWorkgroupSizeX);
  let shader: ShaderParts;
  if (k.kind === 'matmul') {
    shader = matmulShader(e, k, target, groupSize);
  } else if (usesGroupReduce(k)) {
    shader = groupReduceShader(e, k, target, groupSize);
  } else {
    const total = k.outer.reduce((a, b) => a * b, 1);
    const groups = dispatchShape(Math.ceil(total / groupSize), target);
    const body = [`  let flat = gid.x + gid.y * ${groups[0] * groupSize}u;`, `  if (flat >= ${total}u) { return; }`, ...loopBody(e, k)];
    shader = { decls: [], workgroupSize: [groupSize, 1], params: '@builtin(global_invocation_id) gid: vec3<u32>', groups, body };
  }
  const [wx, wy] = shader.workgroupSize;
  const code = [
    PRELUDE,
    ...plan.bindings.map((b) => `@group(0) @binding(${b.binding}) var<storage, read_write> ${b.name}: array<${plan.vec4.has(b.name) ? 'vec4<u32>' : 'u32'}>;`),
    ...shader.decls,
    `@compute @workgroup_size(${wy === 1 ? wx : `${wx}, ${wy}`})`,
    `fn main(${shader.params}) {`,
    ...shader.body,
    '}',
  ].join('\n');
  return { name: k.name, code, groups: shader.groups, workgroupSize: shader.workgroupSize, bindings: plan.bindings };
}
