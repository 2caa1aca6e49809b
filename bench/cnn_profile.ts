/**
 * `node dist/bench/cnn_profile.js [predict|train] [threads] [kernel]`: every
 * kernel of mnist_cnn's predict or training-step program at batch 128, each
 * built as a program of its own, timed in CPU time (user seconds of the
 * process divided by the threads), which a loaded machine's time slicing
 * inflates far less than wall time. Slowest kernels first, then the sum.
 * With a kernel index, that kernel alone: its IR and its wall time (median
 * of 7 runs of 10 calls), to compare two trees on one kernel. Weights and inputs are
 * zeros: the kernels' cost does not depend on the values.
 */
import { kernelSummary, kernelWork } from '../codegen/bundle/programs.js';
import { allocArray } from '../ir/dtype.js';
import { printKernel } from '../ir/print_kernel.js';
import { kernelAccess } from '../passes/memory_plan.js';
import { compileToProgram } from '../passes/pipeline.js';
import type { Executable } from '../runtime/backend.js';
import { loadCpu } from '../runtime/cpu/index.js';
import { optimizers } from '../src/index.js';
import { getOptimizer } from '../src/optimizers.js';
import { outputSetups } from '../src/training/compile_setup.js';
import { trainGraph, trainableWeights } from '../src/training/programs.js';
import { mnistCnn } from './mnist_mlp.js';
import { median, timeIt } from './stats.js';

const BATCH = 128;

type Program = ReturnType<typeof compileToProgram>['program'];

function program(kind: 'predict' | 'train'): Program {
  const net = mnistCnn();
  if (kind === 'predict') return compileToProgram(net.buildGraph(BATCH), { name: 'cnn_profile_predict' }).program;
  const optimizer = new optimizers.Adadelta({ lr: 1.0 });
  const { outputs } = outputSetups({ loss: 'categorical_crossentropy', metrics: ['accuracy'] }, net.outputNames, net.outputShapes);
  const setup = { outputs, optimizer: getOptimizer(optimizer), trainable: trainableWeights(net) };
  return compileToProgram(trainGraph(net, BATCH, [[10]], setup), { name: 'cnn_profile_train' }).program;
}

/** Median CPU seconds per call (all threads' user time / threads) over 5 runs of `reps` calls, after one call. */
async function cpuSeconds(run: () => Promise<unknown>, reps: number, threads: number): Promise<number> {
  await run();
  const times: number[] = [];
  for (let r = 0; r < 5; r++) {
    const c0 = process.cpuUsage();
    for (let i = 0; i < reps; i++) await run();
    times.push(process.cpuUsage(c0).user / 1e6 / reps / threads);
  }
  return median(times);
}

/** Kernel `i` of `p` loaded as a program of its own, every buffer it touches written with zeros. */
async function loadKernel(p: Program, i: number, threads: number): Promise<Executable> {
  const k = p.kernels[i];
  const exe = await loadCpu({ ...p, name: `${p.name}_k${i}`, kernels: [k] }, { threads });
  // Zeros written, so every page is present as in a real step: a masked vector load whose lanes are all off does
  // not fault a page in, and on a never-touched page each one takes a microcode assist (a 2x2 max pool's gradient
  // kernel ran 20x slower alone than in the step).
  const { reads, writes } = kernelAccess(k);
  for (const buf of new Set([...reads, ...writes])) exe.write(buf, allocArray(p.buffers[buf].dtype, p.buffers[buf].size));
  return exe;
}

async function oneKernel(p: Program, i: number, threads: number): Promise<void> {
  const k = p.kernels[i];
  if (!k) throw new Error(`cnn_profile: kernel ${i} does not exist; the program has kernels 0-${p.kernels.length - 1}`);
  console.log(printKernel(k, (b) => p.buffers[b].name));
  const exe = await loadKernel(p, i, threads);
  const seconds = await timeIt(() => exe.run(), 10);
  exe.dispose();
  console.log(`kernel ${i}, ${threads} thread${threads === 1 ? '' : 's'}: ${(seconds * 1e3).toFixed(3)} ms wall (median of 7 runs of 10 calls), ${(kernelWork(p, k).flops / seconds / 1e9).toFixed(1)} GFLOP/s  ${kernelSummary(p, k)}`);
}

async function main(): Promise<void> {
  const kind = process.argv[2] === 'train' ? 'train' : 'predict';
  const threads = Number(process.argv[3] ?? 1);
  const p = program(kind);
  if (process.argv[4] !== undefined) return oneKernel(p, Number(process.argv[4]), threads);
  const rows: { seconds: number; line: string }[] = [];
  for (const [i, k] of p.kernels.entries()) {
    const exe = await loadKernel(p, i, threads);
    const seconds = await cpuSeconds(() => exe.run(), 3, threads);
    exe.dispose();
    const gflops = kernelWork(p, k).flops / seconds / 1e9;
    rows.push({ seconds, line: `${String(i).padStart(3)} ${(seconds * 1e3).toFixed(3).padStart(8)} ms ${gflops.toFixed(1).padStart(7)} GFLOP/s  ${kernelSummary(p, k)}` });
  }
  const sum = rows.reduce((s, r) => s + r.seconds, 0);
  console.log(`mnist_cnn ${kind} program, batch ${BATCH}, ${threads} thread${threads === 1 ? '' : 's'}: CPU time per kernel, slowest first`);
  for (const r of [...rows].sort((a, b) => b.seconds - a.seconds).filter((r) => r.seconds >= 0.01 * sum)) console.log(r.line);
  console.log(`sum of the kernels: ${(sum * 1e3).toFixed(2)} ms CPU per batch (kernels under 1% of it not listed)`);
}

await main();
