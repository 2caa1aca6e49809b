/**
 * The machine's measured peaks that `kiln bench` and the benchmarks
 * (bench/matmul.ts, bench/cnn.ts) rate kernels against:
 * float32 FMA throughput (a generated loop of independent vector FMAs as
 * wide as the micro-kernels', on the kernels' thread count) and memory
 * bandwidth (a 256 MiB copy, bytes read plus written). Both are best-of-N:
 * a peak is an upper bound.
 */
import koffi from 'koffi';
import { HOST_TARGETS } from '../../codegen/llvm/context.js';
import { compileIrText } from '../../codegen/llvm/toolchain.js';
import { config } from '../config.js';

const CHAINS = 12;
const ITERS = 2_000_000;

function fmaLoopIr(lanes: number): string {
  const v = `<${lanes} x float>`;
  const splat = (x: string): string => `<${Array(lanes).fill(`float ${x}`).join(', ')}>`;
  const chains = Array.from({ length: CHAINS }, (_, c) => c);
  const host = HOST_TARGETS[process.arch];
  return [
    host ? `target datalayout = "${host.layout}"\ntarget triple = "${host.triple}"` : '',
    `declare ${v} @llvm.fma.v${lanes}f32(${v}, ${v}, ${v})`,
    'declare void @GOMP_parallel(void (i8*)*, i8*, i32, i32)',
    'declare i32 @omp_get_thread_num()',
    '@sink = global [256 x float] zeroinitializer',
    'define internal void @worker(i8* %arg) {',
    'entry:',
    '  br label %loop',
    'loop:',
    '  %i = phi i64 [ 0, %entry ], [ %i.next, %loop ]',
    ...chains.map((c) => `  %a${c} = phi ${v} [ ${splat(`${c}.0`)}, %entry ], [ %n${c}, %loop ]`),
    ...chains.map((c) => `  %n${c} = call ${v} @llvm.fma.v${lanes}f32(${v} %a${c}, ${v} ${splat('0.5')}, ${v} ${splat('1.0')})`),
    '  %i.next = add i64 %i, 1',
    `  %more = icmp ult i64 %i.next, ${ITERS}`,
    '  br i1 %more, label %loop, label %exit',
    'exit:',
    ...chains.slice(1).map((c) => `  %s${c} = fadd ${v} ${c === 1 ? '%n0' : `%s${c - 1}`}, %n${c}`),
    `  %sum = extractelement ${v} %s${CHAINS - 1}, i32 0`,
    '  %tid = call i32 @omp_get_thread_num()',
    '  %slot = getelementptr [256 x float], [256 x float]* @sink, i64 0, i32 %tid',
    '  store volatile float %sum, float* %slot',
    '  ret void',
    '}',
    'define void @kiln_peak(i32 %threads) {',
    '  call void @GOMP_parallel(void (i8*)* @worker, i8* null, i32 %threads, i32 0)',
    '  ret void',
    '}',
  ].join('\n');
}

/** Float32 GFLOP/s of `threads` threads running FMAs on `lanes`-wide vectors: best of 7. */
export async function fmaPeakGflops(threads: number, lanes: number): Promise<number> {
  const lib = koffi.load((await compileIrText(`fma_peak_${lanes}`, fmaLoopIr(lanes), config.cacheDir)).path);
  const run = lib.func('void kiln_peak(int threads)');
  let best = Infinity;
  for (let r = 0; r < 8; r++) {
    const t0 = process.hrtime.bigint();
    run(threads);
    if (r > 0) best = Math.min(best, Number(process.hrtime.bigint() - t0) / 1e9);
  }
  return (threads * ITERS * CHAINS * 2 * lanes) / best / 1e9;
}

/** GB/s of a 256 MiB memcpy (read plus write), best of 5. */
export function copyBandwidthGbps(): number {
  const bytes = 256 << 20;
  const src = Buffer.alloc(bytes, 1);
  const dst = Buffer.alloc(bytes);
  let best = Infinity;
  for (let r = 0; r < 6; r++) {
    const t0 = process.hrtime.bigint();
    src.copy(dst);
    if (r > 0) best = Math.min(best, Number(process.hrtime.bigint() - t0) / 1e9);
  }
  return (2 * bytes) / best / 1e9;
}
