/**
 * `npm run bench:matmul`: GFLOP/s of Kiln's generated float32 matmul at 128,
 * 512 and 1024 square, on one thread and on every core, beside the machine's
 * FMA peak (a generated loop of independent vector FMAs) and
 * onnxruntime-node's MatMul, all measured in the same run.
 */
import { cpus } from 'node:os';
import koffi from 'koffi';
import * as ort from 'onnxruntime-node';
import { HOST_TARGETS } from '../codegen/llvm/context.js';
import { compileIrText } from '../codegen/llvm/toolchain.js';
import { vectorWidth } from '../codegen/llvm/microkernel.js';
import { cpuVectorBits } from '../runtime/cpu/index.js';

/** float32 lanes per vector, as in the micro-kernel. */
const LANES = vectorWidth('float32', cpuVectorBits());
import { GraphBuilder } from '../ir/graph.js';
import { compileToProgram } from '../passes/pipeline.js';
import { loadCpu } from '../runtime/cpu/index.js';
import { config } from '../runtime/config.js';
import { model, node, valueInfo } from './onnx.js';
import { fmt, timeIt } from './stats.js';

const SIZES = [128, 512, 1024];
/** Floating-point operations per timed run (several calls at small sizes). */
const FLOPS_PER_RUN = 1e9;

/** Independent accumulator chains: enough to cover FMA latency x throughput (4 x 2 on Zen 3) with room to spare. */
const CHAINS = 12;
const PEAK_ITERS = 4_000_000;

/**
 * `void kiln_fma_peak(i64* iters, i32 threads)`: every thread runs `iters`
 * steps of CHAINS FMAs on vectors as wide as the micro-kernel's (8 float32
 * with AVX2, 16 with AVX-512; 2 flops per lane) and stores the sum, so
 * nothing is optimized away.
 */
function fmaPeakIr(): string {
  const v = `<${LANES} x float>`;
  const chains = Array.from({ length: CHAINS }, (_, c) => c);
  const splat = (x: string): string => `<${Array(LANES).fill(`float ${x}`).join(', ')}>`;
  const host = HOST_TARGETS[process.arch];
  return [
    host ? `target datalayout = "${host.layout}"\ntarget triple = "${host.triple}"` : '',
    `declare ${v} @llvm.fma.v${LANES}f32(${v}, ${v}, ${v})`,
    'declare void @GOMP_parallel(void (i8*)*, i8*, i32, i32)',
    '@kiln_fma_sink = global [64 x float] zeroinitializer',
    'define internal void @worker(i8* %arg) {',
    'entry:',
    '  %itp = bitcast i8* %arg to i64*',
    '  %iters = load i64, i64* %itp',
    '  br label %loop',
    'loop:',
    '  %i = phi i64 [ 0, %entry ], [ %i.next, %loop ]',
    ...chains.map((c) => `  %a${c} = phi ${v} [ ${splat(`${c}.0`)}, %entry ], [ %n${c}, %loop ]`),
    ...chains.map((c) => `  %n${c} = call ${v} @llvm.fma.v${LANES}f32(${v} %a${c}, ${v} ${splat('0.5')}, ${v} ${splat('1.0')})`),
    '  %i.next = add i64 %i, 1',
    '  %more = icmp ult i64 %i.next, %iters',
    '  br i1 %more, label %loop, label %exit',
    'exit:',
    ...chains.slice(1).map((c) => `  %s${c} = fadd ${v} ${c === 1 ? '%n0' : `%s${c - 1}`}, %n${c}`),
    `  %sum = extractelement ${v} %s${CHAINS - 1}, i32 0`,
    '  %tid = call i32 @omp_get_thread_num()',
    '  %slot = getelementptr [64 x float], [64 x float]* @kiln_fma_sink, i64 0, i32 %tid',
    '  store volatile float %sum, float* %slot',
    '  ret void',
    '}',
    'declare i32 @omp_get_thread_num()',
    'define void @kiln_fma_peak(i64* %iters, i32 %threads) {',
    '  %arg = bitcast i64* %iters to i8*',
    '  call void @GOMP_parallel(void (i8*)* @worker, i8* %arg, i32 %threads, i32 0)',
    '  ret void',
    '}',
  ].join('\n');
}

/** GFLOP/s of the FMA loop on `threads` threads (all of them together): the best of 9 runs, a peak being an upper bound. */
async function fmaPeak(threads: number): Promise<number> {
  const lib = koffi.load((await compileIrText('fma_peak', fmaPeakIr(), config.cacheDir)).path);
  const run = lib.func('void kiln_fma_peak(int64_t *iters, int threads)');
  const iters = BigInt64Array.of(BigInt(PEAK_ITERS));
  let best = Infinity;
  for (let r = 0; r < 10; r++) {
    const t0 = process.hrtime.bigint();
    run(iters, threads);
    if (r > 0) best = Math.min(best, Number(process.hrtime.bigint() - t0) / 1e9);
  }
  return (threads * PEAK_ITERS * CHAINS * 2 * LANES) / best / 1e9;
}

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
  for (const threads of threadCounts) peak.set(threads, await fmaPeak(threads));
  console.log(`float32 matmul, GFLOP/s (median of 7 runs; peak: best of 9); ${cpus()[0]?.model ?? 'cpu'}, ${all} cores`);
  console.log(`FMA peak (measured): ${fmt(peak.get(1)!).trim()} on one core, ${fmt(peak.get(all)!).trim()} on ${all}`);
  if (peak.get(all)! < 0.9 * all * peak.get(1)!) console.log(`warning: the ${all}-core peak is not ${all}x the one-core peak: something else is using the cores, so the multi-core figures are low`);
  await table('square', SQUARE, threadCounts, peak);
  await table('dense layer shapes (B is an input on both sides: no pre-packed weights)', LAYERS, threadCounts, peak);
}

await main();
