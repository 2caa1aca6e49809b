/**
 * Pre-packed weights (CPU): a matmul packs its B operand into the
 * micro-kernel's panels before using it; when B is a weight, the packing is
 * the same on every call until the weight is written. This pass gives each
 * such B a 'packed' buffer of the program's own, where the generated code
 * keeps the packed copy, and records the shared arena's weights generation
 * (KernelProgram.weights): at entry the program repacks only when the
 * generation moved since it last packed. Every writer of a weight advances
 * the generation: JS writes (runtime/shared_state.ts, runtime/cpu) and a
 * program that writes weights (a training step: `advances`, when it ends).
 *
 * A B qualifies when it reads a shared weight of the layout (role 'weight':
 * no kernel of this program writes it), unmasked, the same for every batch
 * index, in a matmul of more rows than the streaming form takes (which
 * reads B unpacked). Kept states and everything else keep packing per call.
 */
import { type BufferDecl, GENERATION_WORDS, type Kernel, type MatmulKernel, packedElements } from '../ir/kernel.js';
import type { LoweredProgram } from './lower.js';
import { kernelAccess } from './memory_plan.js';
import type { PassContext } from './pipeline.js';

/** The shared arena entry holding the weights generation (runtime/shared_state.ts appends it to every layout). */
export const WEIGHTS_GENERATION = 'kiln:weights_generation';

/** Rows up to which codegen/llvm/matmul.ts streams B instead of packing it (STREAM_ROWS there): a copy would go unused. */
const STREAMED_ROWS = 8;

export function prepackWeights(p: LoweredProgram, ctx: PassContext): LoweredProgram {
  const weights = ctx.shared?.weights;
  if (ctx.backend !== 'cpu' || !weights || !ctx.shared!.offsets.has(WEIGHTS_GENERATION) || p.weights) return p;
  const buffers: BufferDecl[] = [...p.buffers];
  const add = (name: string, role: BufferDecl['role'], dtype: BufferDecl['dtype'], size: number): number => {
    buffers.push({ id: buffers.length, name, role, dtype, size, shape: [size], offset: -1 });
    return buffers.length - 1;
  };
  const isWeight = (id: number): boolean => weights.has(p.buffers[id].name) && p.buffers[id].role !== 'temp' && p.buffers[id].role !== 'output';
  const qualifies = (k: MatmulKernel): boolean =>
    !k.b.mask && k.b.packed === undefined && k.m > STREAMED_ROWS && p.buffers[k.b.buf].role === 'weight' && isWeight(k.b.buf) && k.b.view.strides.slice(0, k.batch.length).every((s) => s === 0);
  const pack = (k: MatmulKernel): MatmulKernel => (qualifies(k) ? { ...k, b: { ...k.b, packed: add(`${p.buffers[k.b.buf].name}:packed:${k.name}`, 'packed', k.dtype, packedElements(k)) } } : k);
  const rewrite = (k: Kernel): Kernel => {
    switch (k.kind) {
      case 'matmul': return pack(k);
      case 'loop': return k;
      case 'repeat': return { ...k, body: k.body.map((x) => (x.kind === 'matmul' ? pack(x) : x)) };
    }
  };
  const kernels = p.kernels.map(rewrite);
  const packs = buffers.length > p.buffers.length;
  const advances = p.kernels.some((k) => [...kernelAccess(k).writes].some(isWeight));
  if (!packs && !advances) return p;
  const generation = add(WEIGHTS_GENERATION, 'state', 'int32', GENERATION_WORDS);
  const packedAt = packs ? add('kiln:packed_at', 'packed', 'int32', GENERATION_WORDS) : undefined;
  return { ...p, buffers, kernels, weights: { generation, packedAt, advances } };
}
