/**
 * The compiled path: tensor IR -> pass pipeline -> kernel program -> a
 * backend's executable, wrapped as a CompiledGraph that addresses params by
 * name. Used for the CPU backend and, in tests, for the kernel-IR interpreter.
 */
import { type TypedArray, sizeOf } from '../ir/dtype.js';
import type { Graph } from '../ir/graph.js';
import type { TrainSource } from '../passes/autodiff.js';
import { compileToProgram } from '../passes/pipeline.js';
import type { Backend } from './backend.js';
import { config } from './config.js';
import type { BackendName, CompiledGraph, CompileStats } from './executor.js';
import type { SharedState } from './shared_state.js';

function countOps(graph: Graph): number {
  return graph.nodes.filter((n) => n.op !== 'param' && n.op !== 'constant').length;
}

/** Bytes of every intermediate tensor of the graph as built (one allocation per op). */
function intermediateBytes(graph: Graph): number {
  const outputs = new Set(graph.outputs);
  const bytes = { float32: 4, float64: 8, int32: 4, bool: 1 } as const;
  return graph.nodes
    .filter((n) => n.op !== 'param' && n.op !== 'constant' && !outputs.has(n.id))
    .reduce((s, n) => s + sizeOf(n.type.shape) * bytes[n.type.dtype], 0);
}

/** Numbered like TVM's dumps (`03 fusion`), with the program's name. */
function dumperFor(program: string): ((stage: string, text: string, index: number) => void) | undefined {
  const want = config.dumpIr;
  if (!want) return undefined;
  return (stage, text, index) => {
    if (want === 'all' || want.has(stage)) process.stderr.write(`--- KILN_DUMP_IR: ${program} ${String(index).padStart(2, '0')} after ${stage} ---\n${text}\n`);
  };
}

export async function compileWithBackend(source: Graph | TrainSource, name: string, backend: Backend, backendName: BackendName, shared?: SharedState): Promise<CompiledGraph> {
  const target = backendName === 'webgpu' ? 'webgpu' : 'cpu';
  const { input: graph, graph: simplified, program, memory } = compileToProgram(source, { name, backend: target, dump: dumperFor(name), verify: config.verify, shared: shared?.layout, wideBool: backend.wideBool });
  const exe = await backend.load(program, shared ? await shared.memoryFor(backend.name, (bytes) => backend.allocShared(bytes)) : undefined);
  const stats: CompileStats = {
    opsBefore: countOps(graph),
    opsAfter: countOps(simplified),
    kernels: program.kernels.length,
    arenaBytes: memory.tempBytes,
    intermediateBytes: intermediateBytes(graph),
    cached: exe.fromCache ?? false,
  };
  return {
    backend: backendName,
    stats,
    write(paramName: string, data: TypedArray) {
      const buf = program.params.get(paramName);
      if (buf === undefined) throw new Error(`No param named '${paramName}'. Params: ${[...program.params.keys()].join(', ')}`);
      const expected = program.buffers[buf].size;
      if (data.length !== expected) throw new Error(`Param '${paramName}' holds ${expected} elements, got ${data.length}`);
      exe.write(buf, data);
    },
    read(paramName: string) {
      const buf = program.params.get(paramName);
      if (buf === undefined) throw new Error(`No param named '${paramName}'. Params: ${[...program.params.keys()].join(', ')}`);
      return exe.read(buf);
    },
    async run() {
      if (exe.runAndRead) return exe.runAndRead(program.outputs);
      await exe.run();
      return Promise.all(program.outputs.map((b) => exe.read(b)));
    },
    dispose: () => exe.dispose(),
  };
}

export async function compileNativeGraph(graph: Graph | TrainSource, name: string, shared?: SharedState): Promise<CompiledGraph> {
  const { cpuBackend } = await import('./cpu/index.js');
  return compileWithBackend(graph, name, cpuBackend, 'cpu', shared);
}
