/**
 * Repeat kernels on WebGPU: the runtime dispatches a repeat's body kernels
 * once per step, all in the run's one compute pass. The step lives on the
 * device, one u32 per repeat in a small buffer bound as `kiln_step`: a
 * one-invocation kernel sets it before the loop and another advances it
 * after each step, and the body's kernels add step * stride to the word
 * index of every buffer that moves with the step. Each shader is emitted
 * once, whatever the number of steps.
 */
import type { BufferDecl, Kernel, KernelProgram, RepeatKernel } from '../../ir/kernel.js';
import { type PlainKernel, kernelBuffers } from '../../ir/repeat.js';
import type { Binding } from './bindings.js';
import type { WgslTarget } from './target.js';

export const STEP_BINDING = 'kiln_step';

export function touchesStepBuffer(program: KernelProgram, k: PlainKernel): boolean {
  return [...kernelBuffers(k)].some((b) => !!program.buffers[b].alias?.step);
}

/** Adds the step binding and each moving buffer's step offset (in words) to a kernel's binding plan. */
export function bindStepBuffers(program: KernelProgram, k: Kernel, used: readonly BufferDecl[], bindings: Binding[], buffers: Map<number, { name: string; word: number; step?: string }>, target: WgslTarget, repeat: number | undefined): void {
  const moving = used.filter((b) => b.alias?.step);
  if (!moving.length) return;
  if (repeat === undefined) throw new Error(`WGSL emitter: kernel ${k.name} of '${program.name}' reads ${moving[0].name}, which moves with a repeat's step, outside a repeat`);
  for (const b of moving) {
    const at = buffers.get(b.id)!;
    const whole = bindings.find((x) => x.name === at.name)?.size === null;
    if (!whole) throw new Error(`webgpu backend: kernel ${k.name} of '${program.name}' reads ${b.name}, which moves with a loop step, through a binding window (its arena is over maxStorageBufferBindingSize ${target.maxStorageBufferBindingSize}); not supported`);
    buffers.set(b.id, { ...at, step: `i32(${STEP_BINDING}[${repeat}]) * ${b.alias!.stepBytes! / 4}` });
  }
  bindings.push({ binding: bindings.length, space: 'step', name: STEP_BINDING, offset: 0, size: null });
}

/** WGSL of the two one-invocation kernels around repeat number `r`: set its step to the first, advance it by one step. */
export function stepCounterShaders(r: number, k: RepeatKernel): { set: string; advance: string } {
  const decl = `@group(0) @binding(0) var<storage, read_write> ${STEP_BINDING}: array<u32>;\n@compute @workgroup_size(1)\nfn main() {`;
  const first = k.reverse ? Math.max(k.count - 1, 0) : 0;
  return {
    set: `${decl} ${STEP_BINDING}[${r}] = ${first}u; }\n`,
    advance: `${decl} ${STEP_BINDING}[${r}] = ${STEP_BINDING}[${r}] ${k.reverse ? '-' : '+'} 1u; }\n`,
  };
}

/** The repeats of a program, numbered as their step counters are. */
export function repeatsOf(program: KernelProgram): RepeatKernel[] {
  return program.kernels.filter((k): k is RepeatKernel => k.kind === 'repeat');
}
