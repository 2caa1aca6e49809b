/**
 * A repeat kernel's dispatches: set its step counter, then per step the body's
 * kernels and the counter's advance (codegen/wgsl/repeat.ts). Pipelines and
 * bind groups are made once; only the list of dispatches grows with the
 * steps, as the command buffer must. A dynamic repeat (its iterations in a
 * steps buffer, known at run time) gets its list when a run is encoded, from
 * the value the host last wrote there, and its counter's first step is
 * written by the host before the run.
 */
import type { KernelProgram, RepeatKernel } from '../../ir/kernel.js';
import { iterationsOf } from '../../ir/repeat.js';
import { type WgslKernel, emitKernel } from '../../codegen/wgsl/kernel.js';
import { STEP_BINDING, stepCounterShaders } from '../../codegen/wgsl/repeat.js';
import type { WgslTarget } from '../../codegen/wgsl/target.js';
import type { LoadedKernel } from './queue.js';

type Load = (k: { name: string }, wgsl: WgslKernel) => Promise<LoadedKernel>;

export interface LoadedRepeat {
  readonly repeat: RepeatKernel;
  /** Its step counter's slot. */
  readonly r: number;
  /** Absent for a dynamic repeat: the host writes its first step. */
  readonly set: LoadedKernel | null;
  readonly body: readonly LoadedKernel[];
  readonly advance: LoadedKernel;
}

function counterKernel(name: string, code: string): WgslKernel {
  return { name, code, groups: [1, 1], workgroupSize: [1, 1], bindings: [{ binding: 0, space: 'step', name: STEP_BINDING, offset: 0, size: null }] };
}

export async function loadRepeat(program: KernelProgram, k: RepeatKernel, r: number, target: WgslTarget, load: Load): Promise<LoadedRepeat> {
  const shaders = stepCounterShaders(r, k);
  const set = k.steps === undefined ? await load({ name: `${k.name}_step_set` }, counterKernel(`${k.name}_step_set`, shaders.set)) : null;
  const advance = await load({ name: `${k.name}_step_next` }, counterKernel(`${k.name}_step_next`, shaders.advance));
  const body: LoadedKernel[] = [];
  for (const x of k.body) body.push(await load(x, emitKernel(program, x, target, r)));
  return { repeat: k, r, set, body, advance };
}

/** The dispatches of a repeat that runs `steps` iterations (undefined: its count). */
export function repeatDispatches(l: LoadedRepeat, steps: number | undefined): LoadedKernel[] {
  const n = iterationsOf(l.repeat, steps);
  const out = l.set ? [l.set] : [];
  for (let i = 0; i < n; i++) out.push(...l.body, l.advance);
  return out;
}

/** The first step of a dynamic repeat of `steps` iterations, for the host to write into its counter. */
export function firstStep(l: LoadedRepeat, steps: number | undefined): number {
  const n = iterationsOf(l.repeat, steps);
  return l.repeat.reverse ? Math.max(n - 1, 0) : 0;
}
