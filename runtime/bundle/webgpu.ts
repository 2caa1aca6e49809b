/**
 * webgpu: the bundle's WGSL kernels (one JSON file per program), compiled to
 * compute pipelines on the page's (or the given) GPU. Weights live in one
 * storage buffer, each program's arena in another; a run is one compute
 * pass and one submit. Every element is a 32-bit word here (bool as 0/1).
 * The kernels were generated for WebGPU's compatibility-mode minimum
 * limits, so any adapter runs them.
 */
import type { BundleArray, Engine, LoadedProgram } from './engine.js';
import type { BufferSlot, Manifest, ProgramSpec, WgslKernelSpec } from './manifest.js';
import type { BundleSource } from './source.js';

export interface WebgpuOptions {
  /** The GPU to use (default: navigator.gpu); in Node, the `webgpu` package's create([...]). */
  readonly gpu?: GPU;
  /** requestAdapter options (e.g. { featureLevel: 'compatibility' } on software renderers). */
  readonly adapter?: GPURequestAdapterOptions;
}

const STORAGE = 0x80 | 0x8 | 0x4; // STORAGE | COPY_DST | COPY_SRC
const READBACK = 0x1 | 0x8; // MAP_READ | COPY_DST

function words(bytes: number): number {
  return Math.max(Math.ceil(bytes / 4) * 4, 16);
}

async function checked<T>(device: GPUDevice, what: string, f: () => T): Promise<T> {
  device.pushErrorScope('validation');
  const value = f();
  const error = await device.popErrorScope();
  if (error) throw new Error(`kiln runtime (webgpu): ${what}: ${error.message}`);
  return value;
}

function fromWords(slot: BufferSlot, bytes: ArrayBuffer): BundleArray {
  switch (slot.dtype) {
    case 'float32': return new Float32Array(bytes, 0, slot.size);
    case 'int32': return new Int32Array(bytes, 0, slot.size);
    case 'bool': return Uint8Array.from(new Uint32Array(bytes, 0, slot.size));
    case 'float64': throw new Error('kiln runtime (webgpu): float64 buffers do not exist on WebGPU');
  }
}

/** Kernel indices in dispatch order: a loop's body (and its counter's advance) once per step, after its set kernel. */
function dispatchOrder(kernels: readonly WgslKernelSpec[]): number[] {
  const order: number[] = [];
  for (let i = 0; i < kernels.length; i++) {
    const loop = kernels[i].loop;
    if (!loop || loop.role !== 'body') {
      if (!loop || loop.role === 'set') order.push(i);
      continue;
    }
    let end = i;
    while (kernels[end].loop?.role === 'body' && kernels[end].loop?.repeat === loop.repeat) end++;
    const advance = kernels[end];
    if (advance?.loop?.role !== 'advance' || advance.loop.repeat !== loop.repeat) throw new Error(`kiln runtime (webgpu): recurrent loop ${loop.repeat} has no advance kernel after its body`);
    for (let t = 0; t < loop.count; t++) for (let j = i; j <= end; j++) order.push(j);
    i = end;
  }
  return order;
}

/**
 * Dawn's GPU object (and adapter) of each engine, held as long as the engine
 * lives: in Node, `webgpu`'s create() object owns the instance under the
 * device, and collecting it while the device is in use crashes the process.
 */
const heldGpus = new WeakMap<Engine, readonly [GPU, GPUAdapter]>();

export async function webgpuEngine(source: BundleSource, manifest: Manifest, weights: Uint8Array, options: WebgpuOptions = {}): Promise<Engine> {
  const gpu = options.gpu ?? (globalThis.navigator as Navigator | undefined)?.gpu;
  if (!gpu) throw new Error("kiln runtime: this environment offers no WebGPU (navigator.gpu is missing); load the bundle with { target: 'wasm' }");
  const adapter = await gpu.requestAdapter(options.adapter);
  if (!adapter) throw new Error("kiln runtime: WebGPU offers no adapter here; load the bundle with { target: 'wasm' }");
  const device = await adapter.requestDevice();
  const shared = device.createBuffer({ label: 'kiln weights', size: words(weights.byteLength), usage: STORAGE });
  const padded = new Uint8Array(words(weights.byteLength));
  padded.set(weights);
  device.queue.writeBuffer(shared, 0, padded);
  const arenas: GPUBuffer[] = [];
  const engine: Engine = {
    description: 'webgpu',
    async load(spec: ProgramSpec): Promise<LoadedProgram> {
      if (spec.target !== 'webgpu') throw new Error(`kiln runtime: program for ${spec.target} given to the webgpu engine`);
      const kernels = JSON.parse(await source.text(spec.file)) as WgslKernelSpec[];
      const arena = device.createBuffer({ label: `kiln arena b${spec.batch}`, size: words(spec.arenaBytes), usage: STORAGE });
      arenas.push(arena);
      // Recurrent loops keep their step counters in a small buffer of their own.
      const loops = new Set(kernels.flatMap((k) => (k.loop ? [k.loop.repeat] : [])));
      const steps = loops.size ? device.createBuffer({ label: `kiln steps b${spec.batch}`, size: words(4 * (Math.max(...loops) + 1)), usage: STORAGE }) : null;
      if (steps) arenas.push(steps);
      const space = (s: 'arena' | 'shared' | 'step'): GPUBuffer => (s === 'shared' ? shared : s === 'step' ? steps! : arena);
      const loaded: { pipeline: GPUComputePipeline; groups: readonly [number, number]; bindGroup: GPUBindGroup }[] = [];
      for (const k of kernels) {
        const module = await checked(device, `kernel ${k.name} (WGSL)`, () => device.createShaderModule({ label: k.name, code: k.code }));
        const pipeline = await checked(device, `kernel ${k.name} (pipeline)`, () => device.createComputePipeline({ label: k.name, layout: 'auto', compute: { module, entryPoint: 'main' } }));
        const entries = k.bindings.map((b) => ({ binding: b.binding, resource: { buffer: space(b.space), offset: b.offset, ...(b.size === null ? {} : { size: b.size }) } }));
        loaded.push({ pipeline, groups: k.groups, bindGroup: device.createBindGroup({ label: k.name, layout: pipeline.getBindGroupLayout(0), entries }) });
      }
      const ready = dispatchOrder(kernels).map((i) => loaded[i]);
      const bufferOf = (slot: BufferSlot): GPUBuffer => (slot.shared ? shared : arena);
      return {
        spec,
        write(slot, data) {
          const w = slot.dtype === 'bool' ? Uint32Array.from(data) : data;
          device.queue.writeBuffer(bufferOf(slot), slot.offset, w.buffer, w.byteOffset, Math.ceil(w.byteLength / 4) * 4);
        },
        async run() {
          const enc = device.createCommandEncoder();
          const pass = enc.beginComputePass();
          for (const k of ready) {
            pass.setPipeline(k.pipeline);
            pass.setBindGroup(0, k.bindGroup);
            pass.dispatchWorkgroups(k.groups[0], k.groups[1]);
          }
          pass.end();
          device.pushErrorScope('validation');
          device.queue.submit([enc.finish()]);
          const error = await device.popErrorScope();
          if (error) throw new Error(`kiln runtime (webgpu): running the batch-${spec.batch} program: ${error.message}`);
        },
        async read(slot) {
          const bytes = Math.ceil((slot.size * 4) / 4) * 4;
          const staging = device.createBuffer({ size: Math.max(bytes, 4), usage: READBACK });
          const enc = device.createCommandEncoder();
          enc.copyBufferToBuffer(bufferOf(slot), slot.offset, staging, 0, bytes);
          device.queue.submit([enc.finish()]);
          await staging.mapAsync(1);
          const copy = staging.getMappedRange().slice(0, bytes);
          staging.unmap();
          staging.destroy();
          return fromWords(slot, copy);
        },
        dispose: () => arena.destroy(),
      };
    },
    async weights() {
      const bytes = words(weights.byteLength);
      const staging = device.createBuffer({ size: bytes, usage: READBACK });
      const enc = device.createCommandEncoder();
      enc.copyBufferToBuffer(shared, 0, staging, 0, bytes);
      device.queue.submit([enc.finish()]);
      await staging.mapAsync(1);
      const copy = new Uint8Array(staging.getMappedRange().slice(0, weights.byteLength));
      staging.unmap();
      staging.destroy();
      return copy;
    },
    dispose() {
      for (const a of arenas) a.destroy();
      shared.destroy();
      device.destroy();
    },
  };
  heldGpus.set(engine, [gpu, adapter]);
  return engine;
}
