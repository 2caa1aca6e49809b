/**
 * Per-kernel GPU times for KILN_PROFILE=1. Where the adapter has the
 * `timestamp-query` feature, every kernel runs in its own compute pass with
 * timestamp writes and the times are GPU times; elsewhere (Dawn's OpenGL ES
 * backend has no timestamps) each kernel is submitted alone and timed from
 * submit to `onSubmittedWorkDone`, which includes the submit overhead.
 */
import { type LoadedKernel, readBack } from './queue.js';

export interface KernelTime {
  readonly program: string;
  readonly kernel: string;
  runs: number;
  totalMs: number;
}

export type TimeSource = 'timestamp-query' | 'wall-clock per submit';

const table = new Map<string, KernelTime>();
let source: TimeSource | null = null;

export function recordKernelTime(program: string, kernel: string, ms: number, from: TimeSource): void {
  source = from;
  const key = `${program}\0${kernel}`;
  const t = table.get(key) ?? { program, kernel, runs: 0, totalMs: 0 };
  t.runs++;
  t.totalMs += ms;
  table.set(key, t);
}

/** Every kernel timed since the last reset, slowest (in total) first, and how the times were taken. */
export function kernelTimes(): { source: TimeSource | null; kernels: KernelTime[] } {
  return { source, kernels: [...table.values()].sort((a, b) => b.totalMs - a.totalMs) };
}

export function resetKernelTimes(): void {
  table.clear();
}

/** One run with every kernel timed (KILN_PROFILE=1): GPU timestamps where the adapter has them, else one submit per kernel. */
export async function profiledRun(device: GPUDevice, programName: string, kernels: readonly LoadedKernel[]): Promise<void> {
  device.pushErrorScope('validation');
  if (device.features.has('timestamp-query')) {
    const querySet = device.createQuerySet({ type: 'timestamp', count: 2 * kernels.length });
    const resolved = device.createBuffer({ size: 16 * kernels.length, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC });
    const enc = device.createCommandEncoder({ label: programName });
    kernels.forEach((k, i) => {
      const pass = enc.beginComputePass({ timestampWrites: { querySet, beginningOfPassWriteIndex: 2 * i, endOfPassWriteIndex: 2 * i + 1 } });
      pass.setPipeline(k.pipeline);
      pass.setBindGroup(0, k.bindGroup);
      pass.dispatchWorkgroups(k.groups[0], k.groups[1]);
      pass.end();
    });
    enc.resolveQuerySet(querySet, 0, 2 * kernels.length, resolved, 0);
    device.queue.submit([enc.finish()]);
    const ticks = new BigUint64Array(await readBack(device, resolved, 0, 16 * kernels.length));
    kernels.forEach((k, i) => recordKernelTime(programName, k.name, Number(ticks[2 * i + 1] - ticks[2 * i]) / 1e6, 'timestamp-query'));
    querySet.destroy();
    resolved.destroy();
  } else {
    for (const k of kernels) {
      const enc = device.createCommandEncoder({ label: k.name });
      const pass = enc.beginComputePass();
      pass.setPipeline(k.pipeline);
      pass.setBindGroup(0, k.bindGroup);
      pass.dispatchWorkgroups(k.groups[0], k.groups[1]);
      pass.end();
      const t0 = performance.now();
      device.queue.submit([enc.finish()]);
      await device.queue.onSubmittedWorkDone();
      recordKernelTime(programName, k.name, performance.now() - t0, 'wall-clock per submit');
    }
  }
  const error = await device.popErrorScope();
  if (error) throw new Error(`webgpu backend: running '${programName}' (profiled): ${error.message}`);
}
