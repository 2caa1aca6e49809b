/**
 * Per-kernel GPU times for KILN_PROFILE=1. Where the adapter has the
 * `timestamp-query` feature, every kernel runs in its own compute pass with
 * timestamp writes and the times are GPU times; elsewhere (Dawn's OpenGL ES
 * backend has no timestamps) each kernel is submitted alone and timed from
 * submit to `onSubmittedWorkDone`, which includes the submit overhead.
 */

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
