/**
 * A repeat kernel's dispatches: set its step counter, then per step the body's
 * kernels and the counter's advance (codegen/wgsl/repeat.ts). Pipelines and
 * bind groups are made once; only the list of dispatches grows with the
 * steps, as the command buffer must.
 */
import type { KernelProgram, RepeatKernel } from '../../ir/kernel.js';
import { type WgslKernel, emitKernel } from '../../codegen/wgsl/kernel.js';
import { STEP_BINDING, stepCounterShaders } from '../../codegen/wgsl/repeat.js';
import type { WgslTarget } from '../../codegen/wgsl/target.js';
import type { LoadedKernel } from './queue.js';

type Load = (k: { name: string }, wgsl: WgslKernel) => Promise<LoadedKernel>;

function counterKernel(name: string, code: string): WgslKernel {
  return { name, code, groups: [1, 1], workgroupSize: [1, 1], bindings: [{ binding: 0, space: 'step', name: STEP_BINDING, offset: 0, size: null }] };
}

export async function loadRepeat(program: KernelProgram, k: RepeatKernel, r: number, target: WgslTarget, load: Load): Promise<LoadedKernel[]> {
  const shaders = stepCounterShaders(r, k);
  const set = await load({ name: `${k.name}_step_set` }, counterKernel(`${k.name}_step_set`, shaders.set));
  const advance = await load({ name: `${k.name}_step_next` }, counterKernel(`${k.name}_step_next`, shaders.advance));
  const body: LoadedKernel[] = [];
  for (const x of k.body) body.push(await load(x, emitKernel(program, x, target, r)));
  const out = [set];
  for (let i = 0; i < k.count; i++) out.push(...body, advance);
  return out;
}
