/**
 * `npm run bench:matmul`: GFLOP/s of Kiln's generated float32 matmul at 128,
 * 512 and 1024 square, on one thread and on every core, beside the machine's
 * FMA peak and onnxruntime-node's MatMul measured in the same run.
 */
import { cpus } from 'node:os';
import * as ort from 'onnxruntime-node';
import { GraphBuilder } from '../ir/graph.js';
import { compileToProgram } from '../passes/pipeline.js';
import { loadCpu } from '../runtime/cpu/index.js';
import { model, node, valueInfo } from './onnx.js';
import { fmt, timeIt } from './stats.js';

const SIZES = [128, 512, 1024];
/** Per-core float32 FMA peak of this project's machines (2 Zen 3 cores, AVX2+FMA), measured with an FMA loop. */
const PEAK_PER_CORE = 102;

function randomMatrix(n: number): Float32Array {
  return Float32Array.from({ length: n * n }, (_, i) => Math.sin(i * 0.37));
}

async function kiln(n: number, threads: number): Promise<number> {
  const b = new GraphBuilder();
  const g = b.build([b.matmul(b.param('a', [n, n]), b.param('b', [n, n]))]);
  const { program } = compileToProgram(g, { name: `bench_matmul_${n}` });
  const exe = await loadCpu(program, { threads });
  exe.write(program.params.get('a')!, randomMatrix(n));
  exe.write(program.params.get('b')!, randomMatrix(n));
  const seconds = await timeIt(() => exe.run(), Math.max(1, Math.round(2e8 / (2 * n ** 3))));
  exe.dispose();
  return (2 * n ** 3) / seconds / 1e9;
}

async function onnx(n: number, threads: number): Promise<number> {
  const bytes = model([node('MatMul', ['a', 'b'], ['c'])], [valueInfo('a', [n, n]), valueInfo('b', [n, n])], [valueInfo('c', [n, n])]);
  const session = await ort.InferenceSession.create(bytes, { intraOpNumThreads: threads, interOpNumThreads: 1 });
  const feeds = { a: new ort.Tensor('float32', randomMatrix(n), [n, n]), b: new ort.Tensor('float32', randomMatrix(n), [n, n]) };
  const seconds = await timeIt(() => session.run(feeds), Math.max(1, Math.round(2e8 / (2 * n ** 3))));
  await session.release();
  return (2 * n ** 3) / seconds / 1e9;
}

async function main(): Promise<void> {
  const all = cpus().length;
  console.log(`float32 matmul, GFLOP/s (median of 7 runs); ${cpus()[0]?.model ?? 'cpu'}, ${all} cores`);
  console.log(`peak: ${PEAK_PER_CORE} per core, ${PEAK_PER_CORE * all} on all cores\n`);
  console.log('    size threads     kiln onnxruntime  kiln/ort  kiln/peak');
  for (const threads of [1, all]) {
    for (const n of SIZES) {
      const k = await kiln(n, threads);
      const o = await onnx(n, threads);
      console.log(`${String(n).padStart(8)} ${String(threads).padStart(7)} ${fmt(k)} ${fmt(o, 1).padStart(11)} ${fmt(k / o, 2).padStart(9)} ${fmt((100 * k) / (PEAK_PER_CORE * threads), 0).padStart(9)}%`);
    }
  }
}

await main();
