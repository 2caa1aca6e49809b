/**
 * One WebGPU device per process, through Dawn's Node binding (npm `webgpu`).
 * Where there is no GPU, Dawn runs on Mesa's llvmpipe through its OpenGL ES
 * backend (EGL surfaceless, compatibility feature level). The choice is
 * automatic (a render node under /dev/dri means a GPU) and can be forced with
 * KILN_WEBGPU_BACKEND (default, opengles, vulkan, ...).
 */
import { existsSync, readdirSync } from 'node:fs';
import { config } from '../config.js';

export interface Gpu {
  readonly device: GPUDevice;
  readonly adapterName: string;
  readonly limits: GPUSupportedLimits;
  /** The object `create` returned: Dawn's instance lives only as long as it is referenced. */
  readonly instance: GPU;
}

let gpu: Promise<Gpu> | null = null;

function hasGpu(): boolean {
  return existsSync('/dev/dri') && readdirSync('/dev/dri').some((f) => f.startsWith('renderD'));
}

async function open(): Promise<Gpu> {
  const choice = config.webgpuBackend ?? (hasGpu() ? 'default' : 'opengles');
  if (choice === 'opengles') process.env.EGL_PLATFORM ??= 'surfaceless';
  const { create, globals } = await import('webgpu');
  Object.assign(globalThis, globals);
  const navigatorGpu = create(choice === 'default' ? [] : [`backend=${choice}`]);
  let adapter: GPUAdapter | null;
  try {
    adapter = await navigatorGpu.requestAdapter(choice === 'opengles' ? ({ featureLevel: 'compatibility' } as GPURequestAdapterOptions) : {});
  } catch (e) {
    throw new Error(`webgpu backend: Dawn refused backend '${choice}'${config.webgpuBackend ? ' (from KILN_WEBGPU_BACKEND)' : ''}: ${(e as Error).message}`);
  }
  if (!adapter) {
    throw new Error(`webgpu backend: no adapter from Dawn's '${choice}' backend. Without a GPU, Kiln uses Mesa's llvmpipe: install libegl1 libegl-mesa0 libgl1-mesa-dri libgles2 (the setup script does, as root), or set KILN_WEBGPU_BACKEND.`);
  }
  // Ask for what the adapter offers where it decides workgroup sizes, tiles and bindings (the defaults are the spec minimums).
  const wanted = ['maxStorageBufferBindingSize', 'maxBufferSize', 'maxStorageBuffersPerShaderStage', 'maxComputeInvocationsPerWorkgroup', 'maxComputeWorkgroupSizeX', 'maxComputeWorkgroupSizeY', 'maxComputeWorkgroupStorageSize'] as const;
  const device = await adapter.requestDevice({
    requiredFeatures: adapter.features.has('timestamp-query') ? ['timestamp-query'] : [],
    requiredLimits: Object.fromEntries(wanted.map((name) => [name, adapter.limits[name]])),
  });
  void device.lost.then((lost) => {
    if (lost.reason !== 'destroyed') process.stderr.write(`kiln: the WebGPU device was lost (${lost.reason}): ${lost.message}\n`);
  });
  const info = (adapter as unknown as { info?: { description?: string; device?: string } }).info;
  const name = [info?.device, info?.description].filter(Boolean).join(', ');
  return { device, adapterName: name || choice, limits: device.limits, instance: navigatorGpu };
}

export function getGpu(): Promise<Gpu> {
  gpu ??= open();
  return gpu;
}
