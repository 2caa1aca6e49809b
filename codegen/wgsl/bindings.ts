/**
 * Maps a kernel's buffers onto storage-buffer bindings within the adapter's
 * limits. An arena (the program's, or the model's shared state arena) that
 * fits in `maxStorageBufferBindingSize` is bound whole, so buffers keep their
 * arena offsets and kernels of different programs share shader text. A larger
 * one is bound as windows over the buffers a kernel touches: each window
 * starts at an offset aligned to `minStorageBufferOffsetAlignment`, windows
 * never overlap (WebGPU forbids aliasing writable bindings), and a kernel may
 * use at most `maxStorageBuffersPerShaderStage` of them.
 */
import type { BufferDecl, Kernel, KernelProgram } from '../../ir/kernel.js';
import { elementBytes, kernelAccess } from '../../passes/memory_plan.js';
import type { WgslTarget } from './target.js';
import { bindStepBuffers } from './repeat.js';

/** 'step': the run's step counters (one u32 per repeat kernel; codegen/wgsl/repeat.ts). */
export type Space = 'arena' | 'shared' | 'step';

export interface Binding {
  readonly binding: number;
  readonly space: Space;
  /** WGSL variable name. */
  readonly name: string;
  /** Byte range of the space it covers; size null binds the whole buffer. */
  readonly offset: number;
  readonly size: number | null;
}

export interface BindingPlan {
  readonly bindings: readonly Binding[];
  /** Per buffer id: its binding's variable and the buffer's first word within it (plus `step`, a WGSL i32 word offset, for a buffer that moves with a repeat's step). */
  readonly buffers: ReadonlyMap<number, { readonly name: string; readonly word: number; readonly step?: string }>;
  /** Bindings declared as array<vec4<u32>> (for vec4 loads); scalars then address word w as [w >> 2][w & 3]. */
  readonly vec4: Set<string>;
}

const bytesOf = (b: BufferDecl): number => b.size * elementBytes(b, true);

export function planBindings(program: KernelProgram, k: Kernel, target: WgslTarget, repeat?: number): BindingPlan {
  const { reads, writes } = kernelAccess(k);
  const used = [...new Set([...reads, ...writes])].map((id) => program.buffers[id]);
  const bindings: Binding[] = [];
  const buffers = new Map<number, { name: string; word: number }>();
  for (const space of ['arena', 'shared'] as const) {
    const bufs = used.filter((b) => !!b.shared === (space === 'shared')).sort((a, b) => a.offset - b.offset);
    if (!bufs.length) continue;
    const base = space === 'arena' ? 'arena' : 'shared_arena';
    const spaceBytes = space === 'arena' ? program.arenaBytes : (program.sharedBytes ?? 0);
    if (spaceBytes <= target.maxStorageBufferBindingSize) {
      bindings.push({ binding: bindings.length, space, name: base, offset: 0, size: null });
      for (const b of bufs) buffers.set(b.id, { name: base, word: b.offset / 4 });
      continue;
    }
    for (const w of windows(bufs, target, `${program.name}/${k.name}`)) {
      const name = `${base}${bindings.filter((x) => x.space === space).length || ''}`;
      // Sizes in whole vec4s, so a binding read as array<vec4<u32>> reaches its last word.
      bindings.push({ binding: bindings.length, space, name, offset: w.start, size: Math.ceil((w.end - w.start) / 16) * 16 });
      for (const b of w.bufs) buffers.set(b.id, { name, word: (b.offset - w.start) / 4 });
    }
  }
  if (bindings.length > target.maxStorageBuffersPerShaderStage) {
    throw new Error(`webgpu backend: kernel ${program.name}/${k.name} needs ${bindings.length} storage bindings to reach its ${used.length} buffers within maxStorageBufferBindingSize ${target.maxStorageBufferBindingSize}, over the adapter's maxStorageBuffersPerShaderStage ${target.maxStorageBuffersPerShaderStage}`);
  }
  bindStepBuffers(program, k, used, bindings, buffers, target, repeat);
  return { bindings, buffers, vec4: new Set() };
}

/** Greedy non-overlapping windows over buffers sorted by offset. */
function windows(bufs: readonly BufferDecl[], target: WgslTarget, kernel: string): { start: number; end: number; bufs: BufferDecl[] }[] {
  const max = target.maxStorageBufferBindingSize;
  const align = target.minStorageBufferOffsetAlignment;
  const out: { start: number; end: number; bufs: BufferDecl[] }[] = [];
  for (const b of bufs) {
    const end = b.offset + bytesOf(b);
    const last = out[out.length - 1];
    if (last && Math.max(last.end, end) - last.start <= max) {
      last.end = Math.max(last.end, end);
      last.bufs.push(b);
      continue;
    }
    const start = Math.floor(b.offset / align) * align;
    if (end - start > max) throw new Error(`webgpu backend: buffer '${b.name}' of kernel ${kernel} spans ${end - start} bytes, over the adapter's maxStorageBufferBindingSize ${max}`);
    if (last && start < last.end) {
      throw new Error(`webgpu backend: kernel ${kernel}: buffer '${b.name}' at byte ${b.offset} cannot get a window of its own (windows start at multiples of minStorageBufferOffsetAlignment ${align} and may not overlap) within maxStorageBufferBindingSize ${max}`);
    }
    out.push({ start, end, bufs: [b] });
  }
  return out;
}
