/** The backend the runtime tests exercise: KILN_TEST_BACKEND (default 'cpu'). */
import type { Graph } from '../../ir/graph.js';
import { compileWithBackend } from '../../runtime/compile_native.js';
import { type BackendName, type CompiledGraph, compileGraph } from '../../runtime/executor.js';
import { kernelInterpreterBackend } from '../../runtime/kernel_interpreter.js';

export const TEST_BACKEND = (process.env.KILN_TEST_BACKEND ?? 'cpu') as BackendName;

/** Compiles through the whole pass pipeline and runs the kernels in JS. */
export function compileKernelInterpreted(graph: Graph, name = 'test'): Promise<CompiledGraph> {
  return compileWithBackend(graph, name, kernelInterpreterBackend, 'interpreter');
}

export function compileForTest(graph: Graph, name = 'test'): Promise<CompiledGraph> {
  return compileGraph(graph, { backend: TEST_BACKEND, name });
}
