/**
 * `npm run bench:matmul`: GFLOP/s of Kiln's generated float32 matmul at 128,
 * 512 and 1024 square, on one thread and on every core, beside the machine's
 * FMA peak (runtime/cpu/peak.ts: a generated loop of independent vector FMAs) and
 * onnxruntime-node's MatMul, all measured in the same run.
 */
import { cpus } from 'node:os';
import * as ort from 'onnxruntime-node';
import { vectorWidth } from '../codegen/llvm/microkernel.js';
import { GraphBuilder } from '../ir/graph.js';
import { compileToProgram } from '../passes/pipeline.js';
import { cpuVectorBits, loadCpu } from '../runtime/cpu/index.js';
import { fmaPeakGflops } from '../runtime/cpu/peak.js';
import { model, node, valueInfo } from './onnx.js';
import { fmt, timeIt } from './stats.js';

/** float32 lanes per vector, as in the micro-kernel. */
const LANES = vectorWidth('float32', cpuVectorBits());

const SIZES = [128, 512, 1024];
/** Floating-point operations per timed run (several calls at small sizes). */
const FLOPS_PER_RUN = 1e9;

/** [m, k, n] */
type Shape = readonly [number, number, number];

const SQUARE: Shape[] = SIZES.map((n) => [n, n, n]);
/** mnist_mlp's first layer (784 -> 512) at batch 32 and 128: the shapes predict and fit spend their time in. */
const LAYERS: Shape[] = [[32, 784, 512], [128, 784, 512]];

function randomMatrix(n: number): Float32Array {
  return Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.37));
}

const flops = ([m, k, n]: Shape): number => 2 * m * k * n;
const repsFor = (s: Shape): number => Math.max(1, Math.round(FLOPS_PER_RUN / flops(s)));

async function kiln(s: Shape, threads: number): Promise<number> {
  const [m, k, n] = s;
  const b = new GraphBuilder();
  const g = b.build([b.matmul(b.param('a', [m, k]), b.param('b', [k, n]))]);
  const { program } = compileToProgram(g, { name: `bench_matmul_${m}x${k}x${n}` });
  const exe = await loadCpu(program, { threads });
  exe.write(program.params.get('a')!, randomMatrix(m * k));
  exe.write(program.params.get('b')!, randomMatrix(k * n));
  const seconds = await timeIt(() => exe.run(), repsFor(s));
  exe.dispose();
  return flops(s) / seconds / 1e9;
}

async function onnx(s: Shape, threads: number): Promise<number> {
  const [m, k, n] = s;
  const bytes = model([node('MatMul', ['a', 'b'], ['c'])], [valueInfo('a', [m, k]), valueInfo('b', [k, n])], [valueInfo('c', [m, n])]);
  const session = await ort.InferenceSession.create(bytes, { intraOpNumThreads: threads, interOpNumThreads: 1 });
  const feeds = { a: new ort.Tensor('float32', randomMatrix(m * k), [m, k]), b: new ort.Tensor('float32', randomMatrix(k * n), [k, n]) };
  const seconds = await timeIt(() => session.run(feeds), repsFor(s));
  await session.release();
  return flops(s) / seconds / 1e9;
}

async function table(title: string, shapes: readonly Shape[], threadCounts: readonly number[], peak: ReadonlyMap<number, number>): Promise<void> {
  console.log(`\n${title}`);
  console.log('           m x k x n threads     kiln onnxruntime  kiln/ort  kiln/peak');
  for (const threads of threadCounts) {
    for (const s of shapes) {
      const k = await kiln(s, threads);
      const o = await onnx(s, threads);
      console.log(`${s.join(' x ').padStart(20)} ${String(threads).padStart(7)} ${fmt(k)} ${fmt(o, 1).padStart(11)} ${fmt(k / o, 2).padStart(9)} ${fmt((100 * k) / peak.get(threads)!, 0).padStart(9)}%`);
    }
  }
}

async function main(): Promise<void> {
  const all = cpus().length;
  const threadCounts = all > 1 ? [1, all] : [1];
  const peak = new Map<number, number>();
  for (const threads of threadCounts) peak.set(threads, await fmaPeakGflops(threads, LANES));
  console.log(`float32 matmul, GFLOP/s (median of 7 runs; peak: best of 7); ${cpus()[0]?.model ?? 'cpu'}, ${all} cores`);
  console.log(`FMA peak (measured): ${fmt(peak.get(1)!).trim()} on one core, ${fmt(peak.get(all)!).trim()} on ${all}`);
  if (peak.get(all)! < 0.9 * all * peak.get(1)!) console.log(`warning: the ${all}-core peak is not ${all}x the one-core peak: something else is using the cores, so the multi-core figures are low`);
  await table('square', SQUARE, threadCounts, peak);
  await table('dense layer shapes (B is an input on both sides: no pre-packed weights)', LAYERS, threadCounts, peak);
}

await main();
