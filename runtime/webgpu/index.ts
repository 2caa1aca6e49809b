/**
 * The WebGPU backend: each kernel becomes a WGSL compute pipeline
 * (codegen/wgsl, cached by a hash of the shader), the arena one storage buffer, and a
 * run one command encoder and one submit. Bool elements take 32 bits here.
 */
import { createHash } from 'node:crypto';
import { type TypedArray, viewArray } from '../../ir/dtype.js';
import type { BufferDecl, KernelProgram } from '../../ir/kernel.js';
import { type WgslKernel, emitKernel } from '../../codegen/wgsl/kernel.js';
import { type WgslTarget, targetFromLimits } from '../../codegen/wgsl/target.js';
import { elementBytes } from '../../passes/memory_plan.js';
import type { Backend, Executable, SharedMemory } from '../backend.js';
import { config } from '../config.js';
import { ownBuffer } from './arenas.js';
import { getGpu } from './device.js';
import { profiledRun } from './profile.js';
import { type LoadedKernel, encodeRun, readBack, stagingPool, submitChecked } from './queue.js';
import { type LoadedRepeat, firstStep, loadRepeat, repeatDispatches } from './repeat.js';
import { repeatsOf } from '../../codegen/wgsl/repeat.js';

/** Compute pipelines by the SHA-256 of their WGSL: programs with the same kernels share them. */
const pipelines = new Map<string, GPUComputePipeline>();

function storageBuffer(device: GPUDevice, bytes: number, label: string): GPUBuffer {
  return device.createBuffer({ label, size: Math.max(Math.ceil(bytes / 16) * 16, 16), usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST });
}

async function checked<T>(device: GPUDevice, what: string, f: () => T): Promise<T> {
  device.pushErrorScope('validation');
  const value = f();
  const error = await device.popErrorScope();
  if (error) throw new Error(`webgpu backend: ${what}: ${error.message}`);
  return value;
}

/** A buffer's elements from the 32-bit words it occupies on the device (bool as 0/1 words). */
function fromWords(b: BufferDecl, words: ArrayBuffer): TypedArray {
  return b.dtype === 'bool' ? Uint8Array.from(new Uint32Array(words, 0, b.size)) : viewArray(words, b.dtype, 0, b.size);
}

interface GpuShared extends SharedMemory {
  readonly gpuBuffer: GPUBuffer;
}

/** A GPU buffer with a host mirror: the host writes through `upload`, and `download` refreshes the mirror. */
async function allocShared(bytes: number): Promise<GpuShared> {
  const { device, limits } = await getGpu();
  if (bytes > limits.maxBufferSize) throw new Error(`webgpu backend: the model's weights need ${bytes} bytes, over the adapter's maxBufferSize ${limits.maxBufferSize}`);
  const gpuBuffer = storageBuffer(device, bytes, 'kiln shared state');
  const buffer = new ArrayBuffer(Math.max(Math.ceil(bytes / 4) * 4, 8));
  const shared: GpuShared = {
    bytes,
    buffer,
    handle: gpuBuffer,
    gpuBuffer,
    upload: (offset, size) => device.queue.writeBuffer(gpuBuffer, offset, buffer, offset, Math.ceil(size / 4) * 4),
    async download() {
      new Uint8Array(buffer).set(new Uint8Array(await readBack(device, gpuBuffer, 0, bytes)));
    },
    dispose: () => release(),
  };
  const release = ownBuffer(shared, gpuBuffer);
  return shared;
}

/** `limits` overrides what the device reports (tests use it to force binding windows). */
export async function loadWebgpu(program: KernelProgram, shared?: SharedMemory, limits: Partial<WgslTarget> = {}): Promise<Executable> {
  const gpu = await getGpu();
  const { device } = gpu;
  const wgslTarget = { ...targetFromLimits(gpu.limits), ...limits };
  if (program.arenaBytes > gpu.limits.maxBufferSize) throw new Error(`webgpu backend: program '${program.name}' needs an arena of ${program.arenaBytes} bytes, over the adapter's maxBufferSize ${gpu.limits.maxBufferSize}`);
  const arena = storageBuffer(device, program.arenaBytes, `${program.name} arena`);
  const sharedBuffer = (shared as GpuShared | undefined)?.gpuBuffer;
  // One kernel at a time: Dawn's error scopes are a stack, so pipeline creation must not interleave.
  const repeats = repeatsOf(program);
  const steps = repeats.length ? storageBuffer(device, 4 * repeats.length, `${program.name} steps`) : null;
  const load = async (k: { name: string }, wgsl: WgslKernel): Promise<LoadedKernel> => {
    if (config.printKernel === 'all' || (config.printKernel && program.name.includes(config.printKernel))) process.stderr.write(`--- KILN_PRINT_KERNEL: ${k.name} ---\n${wgsl.code}\n`);
    const hash = createHash('sha256').update(wgsl.code).digest('hex');
    let pipeline = pipelines.get(hash);
    if (!pipeline) {
      const module = await checked(device, `kernel ${k.name} (WGSL)`, () => device.createShaderModule({ label: k.name, code: wgsl.code }));
      pipeline = await checked(device, `kernel ${k.name} (pipeline)`, () => device.createComputePipeline({ label: k.name, layout: 'auto', compute: { module, entryPoint: 'main' } }));
      pipelines.set(hash, pipeline);
    }
    if (wgsl.bindings.some((b) => b.space === 'shared') && !sharedBuffer) throw new Error(`webgpu backend: kernel ${k.name} reads the shared state arena, but no shared memory was given`);
    const entries: GPUBindGroupEntry[] = wgsl.bindings.map((b) => ({
      binding: b.binding,
      resource: { buffer: b.space === 'shared' ? sharedBuffer! : b.space === 'step' ? steps! : arena, offset: b.offset, ...(b.size === null ? {} : { size: b.size }) },
    }));
    const bindGroup = device.createBindGroup({ label: k.name, layout: pipeline.getBindGroupLayout(0), entries });
    return { name: k.name, pipeline, bindGroup, groups: wgsl.groups };
  };
  const parts: (LoadedKernel | LoadedRepeat)[] = [];
  for (const k of program.kernels) {
    if (k.kind !== 'repeat') parts.push(await load(k, emitKernel(program, k, wgslTarget)));
    else parts.push(await loadRepeat(program, k, repeats.indexOf(k), wgslTarget, load));
  }
  // Dynamic repeats: the iterations the host last wrote into their steps buffers.
  for (const k of repeats) if (k.steps !== undefined && program.buffers[k.steps].role !== 'input') throw new Error(`webgpu backend: repeat ${k.name} of '${program.name}' reads its iterations from ${program.buffers[k.steps].name}, computed on the device; the host dispatches the steps, so they must come from an input param`);
  const stepsBuffers = new Set(repeats.flatMap((k) => (k.steps === undefined ? [] : [k.steps])));
  const hostSteps = new Map<number, number>();
  const isRepeat = (x: LoadedKernel | LoadedRepeat): x is LoadedRepeat => 'repeat' in x;
  const fixed = parts.every((x) => !isRepeat(x) || x.repeat.steps === undefined) ? parts.flatMap((x) => (isRepeat(x) ? repeatDispatches(x, undefined) : [x])) : null;
  const dispatches = (): LoadedKernel[] => {
    if (fixed) return fixed;
    const stepsOf = (x: LoadedRepeat): number | undefined => (x.repeat.steps === undefined ? undefined : hostSteps.get(x.repeat.steps) ?? 0);
    const first = new Uint32Array(repeats.length);
    parts.forEach((x) => isRepeat(x) && x.repeat.steps !== undefined && (first[x.r] = firstStep(x, stepsOf(x))));
    device.queue.writeBuffer(steps!, 0, first);
    return parts.flatMap((x) => (isRepeat(x) ? repeatDispatches(x, stepsOf(x)) : [x]));
  };
  const target = (buf: number): { gpu: GPUBuffer; offset: number } => {
    const b = program.buffers[buf];
    return { gpu: b.shared ? sharedBuffer! : arena, offset: b.offset };
  };
  const read = async (buf: number): Promise<TypedArray> => {
    const b = program.buffers[buf];
    const { gpu, offset } = target(buf);
    return fromWords(b, await readBack(device, gpu, offset, b.size * elementBytes(b, true)));
  };
  const executable: Executable = {
    program,
    write(buf: number, data: TypedArray, elementOffset = 0) {
      const b = program.buffers[buf];
      const { gpu, offset } = target(buf);
      const words = b.dtype === 'bool' ? Uint32Array.from(data) : data;
      if (stepsBuffers.has(buf) && elementOffset === 0 && data.length) hostSteps.set(buf, Number(data[0]));
      device.queue.writeBuffer(gpu, offset + elementOffset * elementBytes(b, true), words.buffer, words.byteOffset, Math.ceil(words.byteLength / 4) * 4);
    },
    read,
    async run() {
      if (config.profile) return profiledRun(device, program.name, dispatches());
      await submitChecked(device, program.name, encodeRun(device, program.name, dispatches()).finish());
    },
    runAndRead(bufs: readonly number[]) {
      if (config.profile) return profiledRun(device, program.name, dispatches()).then(() => Promise.all(bufs.map(read)));
      const enc = encodeRun(device, program.name, dispatches());
      const sizes = bufs.map((b) => Math.ceil((program.buffers[b].size * elementBytes(program.buffers[b], true)) / 4) * 4);
      const total = sizes.reduce((a, b) => a + b, 0);
      const staging = stagingPool.take(device, total);
      let at = 0;
      bufs.forEach((b, i) => {
        const { gpu, offset } = target(b);
        enc.copyBufferToBuffer(gpu, offset, staging, at, sizes[i]);
        at += sizes[i];
      });
      const submitted = submitChecked(device, program.name, enc.finish());
      return (async () => {
        await submitted;
        await staging.mapAsync(GPUMapMode.READ, 0, Math.max(total, 4));
        const bytes = staging.getMappedRange(0, Math.max(total, 4)).slice(0);
        staging.unmap();
        stagingPool.give(staging);
        let from = 0;
        return bufs.map((b, i) => {
          const words = bytes.slice(from, from + sizes[i]);
          from += sizes[i];
          return fromWords(program.buffers[b], words);
        });
      })();
    },
    dispose: () => releases.forEach((release) => release()),
  };
  const releases = [arena, ...(steps ? [steps] : [])].map((buffer) => ownBuffer(executable, buffer));
  return executable;
}

export const webgpuBackend: Backend = {
  name: 'webgpu',
  wideBool: true,
  allocShared: (bytes) => allocShared(bytes),
  load: (program, shared) => loadWebgpu(program, shared),
};

