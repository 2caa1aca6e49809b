/**
 * The WebGPU queue side of a run: recording a program's kernels into one
 * compute pass, submitting with Dawn's validation errors caught, and reading
 * buffers back through mappable staging buffers.
 */

/** A kernel ready to dispatch: its pipeline, bind group and workgroup counts. */
export interface LoadedKernel {
  readonly name: string;
  readonly pipeline: GPUComputePipeline;
  readonly bindGroup: GPUBindGroup;
  readonly groups: readonly [number, number];
}

/** Records every kernel of a run into one compute pass. */
export function encodeRun(device: GPUDevice, label: string, kernels: readonly LoadedKernel[]): GPUCommandEncoder {
  const enc = device.createCommandEncoder({ label });
  const pass = enc.beginComputePass();
  for (const k of kernels) {
    pass.setPipeline(k.pipeline);
    pass.setBindGroup(0, k.bindGroup);
    pass.dispatchWorkgroups(k.groups[0], k.groups[1]);
  }
  pass.end();
  return enc;
}

/** Submits now; the promise reports Dawn's validation errors for the submission, with the program's name. */
export function submitChecked(device: GPUDevice, programName: string, commands: GPUCommandBuffer): Promise<void> {
  device.pushErrorScope('validation');
  device.queue.submit([commands]);
  return device.popErrorScope().then((error) => {
    // Dawn names the offending kernel through the labels of its pipeline and bind group.
    if (error) throw new Error(`webgpu backend: running '${programName}': ${error.message}`);
  });
}

/**
 * Mappable buffers for reading results back, reused between runs: a run in
 * flight holds one while the next run takes another, so reads never wait on
 * a buffer still mapped.
 */
export const stagingPool = {
  free: [] as GPUBuffer[],
  take(device: GPUDevice, bytes: number): GPUBuffer {
    const i = this.free.findIndex((b) => b.size >= bytes);
    if (i >= 0) return this.free.splice(i, 1)[0];
    return device.createBuffer({ label: 'kiln readback', size: Math.max(Math.ceil(bytes / 256) * 256, 256), usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  },
  give(buffer: GPUBuffer): void {
    if (this.free.length < 8) this.free.push(buffer);
    else buffer.destroy();
  },
};

/** A copy of bytes [offset, offset + bytes) of `src`, through a staging buffer of its own. */
export async function readBack(device: GPUDevice, src: GPUBuffer, offset: number, bytes: number): Promise<ArrayBuffer> {
  const size = Math.ceil(bytes / 4) * 4;
  const staging = device.createBuffer({ size: Math.max(size, 4), usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  const enc = device.createCommandEncoder();
  enc.copyBufferToBuffer(src, offset, staging, 0, size);
  device.queue.submit([enc.finish()]);
  await staging.mapAsync(GPUMapMode.READ);
  const copy = staging.getMappedRange().slice(0, bytes);
  staging.unmap();
  staging.destroy();
  return copy;
}
