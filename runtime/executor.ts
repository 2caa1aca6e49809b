/**
 * Compiles a tensor-IR graph for a backend and runs it: the one door the Keras
 * front end goes through. Params are addressed by name; weights written once
 * stay resident between runs.
 */
import type { TypedArray } from '../ir/dtype.js';
import type { Graph } from '../ir/graph.js';
import { interpretRun } from '../ir/interpret.js';

export const BACKEND_NAMES = ['cpu', 'interpreter'] as const;
export type BackendName = (typeof BACKEND_NAMES)[number];

export interface CompileStats {
  /** Tensor-IR ops (excluding params and constants) before and after the passes. */
  readonly opsBefore: number;
  readonly opsAfter: number;
  readonly kernels: number;
  /** Arena bytes for intermediates as planned, vs. the sum of every intermediate tensor's size. */
  readonly arenaBytes: number;
  readonly intermediateBytes: number;
  /** True when the native code came from the on-disk cache. */
  readonly cached: boolean;
}

export interface CompiledGraph {
  readonly backend: BackendName;
  readonly stats: CompileStats;
  /** Writes a param (input, weight or state) by name. */
  write(name: string, data: TypedArray): void;
  /** The current value of a param: state params change with every run that updates them. */
  read(name: string): Promise<TypedArray>;
  /** Runs the program; resolves to one array per graph output (copies). */
  run(): Promise<TypedArray[]>;
  dispose(): void;
}

let defaultBackend: BackendName = 'cpu';

export function setBackend(name: string): void {
  if (!(BACKEND_NAMES as readonly string[]).includes(name)) {
    throw new Error(`Unknown backend '${name}'. Valid backends: ${BACKEND_NAMES.join(', ')}`);
  }
  defaultBackend = name as BackendName;
}

export function getBackend(): BackendName {
  return defaultBackend;
}

function countOps(graph: Graph): number {
  return graph.nodes.filter((n) => n.op !== 'param' && n.op !== 'constant').length;
}

function compileInterpreted(graph: Graph): CompiledGraph {
  const feeds = new Map<string, TypedArray>();
  const ops = countOps(graph);
  return {
    backend: 'interpreter',
    stats: { opsBefore: ops, opsAfter: ops, kernels: ops, arenaBytes: 0, intermediateBytes: 0, cached: false },
    write: (name, data) => void feeds.set(name, data.slice()),
    read: async (name) => {
      const v = feeds.get(name);
      if (!v) throw new Error(`No value for param '${name}'`);
      return v.slice();
    },
    async run() {
      const { outputs, updates } = interpretRun(graph, feeds);
      for (const [name, value] of updates) feeds.set(name, value.slice());
      return outputs.map((a) => a.slice());
    },
    dispose: () => feeds.clear(),
  };
}

export async function compileGraph(graph: Graph, options: { backend?: BackendName; name?: string } = {}): Promise<CompiledGraph> {
  const backend = options.backend ?? defaultBackend;
  if (backend === 'interpreter') return compileInterpreted(graph);
  // The native pipeline is wired in runtime/compile_native.ts.
  const { compileNativeGraph } = await import('./compile_native.js');
  return compileNativeGraph(graph, options.name ?? 'model');
}
