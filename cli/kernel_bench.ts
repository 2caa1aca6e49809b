/**
 * `kiln bench`: times each fused kernel of a model's compiled predict
 * program on this CPU. Every kernel is built as a program of its own over
 * the same arena layout (so it runs exactly the code the whole program
 * runs), timed over enough calls to dwarf the call overhead, and rated
 * against the measured peak that bounds it: GFLOP/s against the FMA peak
 * where its arithmetic intensity is above the machine's ridge point, else
 * GB/s against the copy bandwidth.
 */
import type { KernelProgram } from '../ir/kernel.js';
import { vectorWidth } from '../codegen/llvm/microkernel.js';
import { kernelSummary, kernelWork, modelPrograms } from '../codegen/bundle/programs.js';
import { allocSharedCpu, cpuVectorBits, loadCpu } from '../runtime/cpu/index.js';
import { config } from '../runtime/config.js';
import type { Network } from '../src/models/network.js';
import { copyBandwidthGbps, fmaPeakGflops } from '../runtime/cpu/peak.js';

export interface KernelTiming {
  readonly name: string;
  readonly summary: string;
  readonly seconds: number;
  readonly gflops: number;
  readonly gbps: number;
  /** What bounds it at this arithmetic intensity, and its share of that peak (0-1). */
  readonly bound: 'compute' | 'memory';
  readonly ofPeak: number;
}

export interface BenchReport {
  readonly program: string;
  readonly batch: number;
  readonly threads: number;
  readonly peakGflops: number;
  readonly peakGbps: number;
  readonly kernels: readonly KernelTiming[];
  /** One call of the whole program (every kernel). */
  readonly totalSeconds: number;
}

function median(xs: number[]): number {
  return [...xs].sort((a, b) => a - b)[xs.length >> 1];
}

/** Median seconds per call, over 5 runs of enough calls to take about `budget` seconds each. */
async function timeCalls(run: () => Promise<void>, budget = 0.02): Promise<number> {
  const t0 = process.hrtime.bigint();
  await run();
  const once = Math.max(Number(process.hrtime.bigint() - t0) / 1e9, 1e-7);
  const reps = Math.max(1, Math.min(100_000, Math.round(budget / once)));
  const times: number[] = [];
  for (let r = 0; r < 5; r++) {
    const s = process.hrtime.bigint();
    for (let i = 0; i < reps; i++) await run();
    times.push(Number(process.hrtime.bigint() - s) / 1e9 / reps);
  }
  return median(times);
}

export async function benchKernels(net: Network, options: { batch: number; threads?: number }): Promise<BenchReport> {
  const threads = options.threads ?? config.numThreads;
  const models = modelPrograms(net);
  const { program } = models.build(options.batch, false);
  const shared = allocSharedCpu(Math.max(program.sharedBytes ?? 0, models.weights.bytes.byteLength));
  new Uint8Array(shared.buffer).set(models.weights.bytes);
  const lanes = vectorWidth('float32', cpuVectorBits());
  const peakGflops = await fmaPeakGflops(threads, lanes);
  const peakGbps = copyBandwidthGbps();
  const ridge = (peakGflops * 1e9) / (peakGbps * 1e9);
  try {
    const kernels: KernelTiming[] = [];
    for (const [i, k] of program.kernels.entries()) {
      const single: KernelProgram = { ...program, name: `${program.name}_k${i}`, kernels: [k] };
      const exe = await loadCpu(single, { threads }, shared);
      try {
        const seconds = await timeCalls(() => exe.run());
        const work = kernelWork(program, k);
        const gflops = work.flops / seconds / 1e9;
        const gbps = work.bytes / seconds / 1e9;
        const bound = work.flops / Math.max(work.bytes, 1) >= ridge ? 'compute' : 'memory';
        kernels.push({ name: k.name, summary: kernelSummary(program, k), seconds, gflops, gbps, bound, ofPeak: bound === 'compute' ? gflops / peakGflops : gbps / peakGbps });
      } finally {
        exe.dispose();
      }
    }
    const whole = await loadCpu(program, { threads }, shared);
    const totalSeconds = await timeCalls(() => whole.run());
    whole.dispose();
    return { program: program.name, batch: options.batch, threads, peakGflops, peakGbps, kernels, totalSeconds };
  } finally {
    shared.dispose();
  }
}

export function formatBench(r: BenchReport): string[] {
  const us = (s: number): string => (s * 1e6).toFixed(1).padStart(9);
  const lines = [
    `${r.program}: batch ${r.batch}, ${r.threads} thread${r.threads === 1 ? '' : 's'}; measured peaks: ${r.peakGflops.toFixed(1)} GFLOP/s (float32 FMA), ${r.peakGbps.toFixed(1)} GB/s (copy)`,
    `  #  time (us)  GFLOP/s    GB/s  bound    % of peak  kernel`,
  ];
  r.kernels.forEach((k, i) => {
    lines.push(`${String(i).padStart(3)} ${us(k.seconds)} ${k.gflops.toFixed(2).padStart(8)} ${k.gbps.toFixed(2).padStart(7)}  ${k.bound.padEnd(7)} ${(100 * k.ofPeak).toFixed(1).padStart(9)}%  ${k.summary}`);
  });
  const sum = r.kernels.reduce((s, k) => s + k.seconds, 0);
  lines.push(`whole program: ${(r.totalSeconds * 1e6).toFixed(1)} us per call (kernels timed alone sum to ${(sum * 1e6).toFixed(1)} us)`);
  return lines;
}
