/**
 * A model's programs for a bundle: the inference graph at each batch size
 * through the pass pipeline, with every weight placed in one shared state
 * arena whose bytes become weights.bin. The same layout serves every target
 * (only float32 weights live there, so WebGPU's 32-bit bools change nothing).
 */
import type { Graph } from '../../ir/graph.js';
import type { TrainSource } from '../../passes/autodiff.js';
import type { BufferDecl, Kernel, KernelProgram } from '../../ir/kernel.js';
import { kernelAccess } from '../../passes/memory_plan.js';
import { compileToProgram } from '../../passes/pipeline.js';
import { DTYPE_BYTES } from '../../ir/dtype.js';
import type { LoweredProgram } from '../../passes/lower.js';
import { SharedState } from '../../runtime/shared_state.js';
import type { BufferSlot, TensorSpec, WeightEntry } from '../../runtime/bundle/manifest.js';
import type { Network } from '../../src/models/network.js';
import type { SymbolicTensor } from '../../src/layers/base.js';
import { paramNames } from '../../src/training/standardize.js';

export interface BundleProgram {
  readonly batch: number;
  readonly program: LoweredProgram;
  /** By the model's input names. */
  readonly inputs: Readonly<Record<string, BufferSlot>>;
  /** In the order of the model's outputs. */
  readonly outputs: readonly BufferSlot[];
}

export interface ModelPrograms {
  readonly inputs: readonly TensorSpec[];
  readonly outputs: readonly TensorSpec[];
  readonly weights: { readonly bytes: Uint8Array; readonly entries: readonly WeightEntry[] };
  /** The predict program at a batch size, for byte-sized bools (node-cpu, wasm) or 32-bit bools (webgpu). */
  build(batch: number, wideBool: boolean): BundleProgram;
  /** Any graph over the model's weights (or a training step), planned against the same shared state arena. */
  plan(source: Graph | TrainSource, name: string, wideBool: boolean): LoweredProgram;
}

export function slotOf(b: BufferDecl): BufferSlot {
  return { offset: b.offset, size: b.size, dtype: b.dtype, shape: b.shape, shared: !!b.shared };
}

/** Keras's names: inputs by their InputLayer (a Sequential's is `<first layer>_input`), outputs by their layer. */
function tensorSpecs(tensors: readonly SymbolicTensor[]): TensorSpec[] {
  return tensors.map((t) => ({ name: t.layer.name, shape: [null, ...(t.shape.slice(1) as (number | null)[])], dtype: 'float32' }));
}

export function modelPrograms(net: Network): ModelPrograms {
  const weights = net.allWeights();
  const state = new SharedState(weights.map((w) => ({ name: w.name, dtype: 'float32', size: w.value.length })));
  const bytes = new Uint8Array(state.layout.bytes);
  const entries = weights.map((w) => {
    const offset = state.layout.offsets.get(w.name)!;
    new Float32Array(bytes.buffer, offset, w.value.length).set(w.value);
    return { name: w.name, offset, shape: [...w.shape], dtype: 'float32' as const };
  });
  const inputs = tensorSpecs(net.inputs);
  const outputs = tensorSpecs(net.outputs);
  const dup = inputs.concat(outputs).find((t, i, all) => all.findIndex((u) => u.name === t.name) !== i);
  if (dup) throw new Error(`codegen/bundle: model '${net.name}' names two of its inputs or outputs '${dup.name}'; bundles address them by name`);
  const params = paramNames('input', inputs.length);
  return {
    inputs,
    outputs,
    weights: { bytes, entries },
    plan: (source, name, wideBool) => compileToProgram(source, { name, backend: wideBool ? 'webgpu' : 'cpu', shared: state.layout, wideBool }).program,
    build(batch, wideBool) {
      const { program } = compileToProgram(net.buildGraph(batch), { name: `${net.name}_b${batch}`, backend: wideBool ? 'webgpu' : 'cpu', shared: state.layout, wideBool });
      const slots = params.map((p, i) => {
        const buf = program.params.get(p);
        if (buf === undefined) throw new Error(`codegen/bundle: the batch-${batch} program of '${net.name}' has no param '${p}' for input '${inputs[i].name}'`);
        return [inputs[i].name, slotOf(program.buffers[buf])] as const;
      });
      if (program.outputs.length !== outputs.length) throw new Error(`codegen/bundle: the batch-${batch} program of '${net.name}' has ${program.outputs.length} outputs, the model ${outputs.length}`);
      return { batch, program, inputs: Object.fromEntries(slots), outputs: program.outputs.map((b) => slotOf(program.buffers[b])) };
    },
  };
}

const prod = (xs: readonly number[]): number => xs.reduce((p, q) => p * q, 1);

/** One line per kernel for manifests and `kiln bench`: its form, extents and what it writes. */
export function kernelSummary(program: KernelProgram, k: Kernel): string {
  switch (k.kind) {
    case 'matmul': {
      const batch = k.batch.length ? `${k.batch.join('x')} x ` : '';
      return `matmul ${batch}${k.m}x${k.k} @ ${k.k}x${k.n} -> ${program.buffers[k.out.buf].name} (${k.dtype})`;
    }
    case 'loop': {
      const reductions = k.reductions.length ? `, ${k.reductions.map((r) => r.op).join('+')} over [${k.inner.join(', ')}]` : '';
      return `loop [${k.outer.join(', ')}]${k.inner.length && !k.reductions.length ? ` x [${k.inner.join(', ')}]` : ''}${reductions} -> ${k.stores.map((s) => program.buffers[s.buf].name).join(', ')}`;
    }
    case 'repeat':
      return `repeat ${k.count}x${k.reverse ? ' (reversed)' : ''} { ${k.body.map((b) => kernelSummary(program, b)).join('; ')} }`;
  }
}

/** Floating-point operations and bytes touched by one run of a kernel (for GFLOP/s and GB/s). */
export function kernelWork(program: KernelProgram, k: Kernel): { flops: number; bytes: number } {
  const bytesOf = (buf: number): number => program.buffers[buf].size * DTYPE_BYTES[program.buffers[buf].dtype];
  switch (k.kind) {
    case 'matmul': return { flops: 2 * prod(k.batch) * k.m * k.n * k.k, bytes: bytesOf(k.a.buf) + bytesOf(k.b.buf) + bytesOf(k.out.buf) };
    case 'loop': {
      const { reads, writes } = kernelAccess(k);
      const points = prod(k.outer) * Math.max(prod(k.inner), 1);
      return { flops: points * (k.reductions.length + 1), bytes: [...new Set([...reads, ...writes])].reduce((s, b) => s + bytesOf(b), 0) };
    }
    case 'repeat': {
      const body = k.body.map((b) => kernelWork(program, b));
      return { flops: k.count * body.reduce((s, w) => s + w.flops, 0), bytes: k.count * body.reduce((s, w) => s + w.bytes, 0) };
    }
  }
}
