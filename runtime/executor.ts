/**
 * Compiles a tensor-IR graph for a backend and runs it: the one door the Keras
 * front end goes through. Params are addressed by name; weights written once
 * stay resident between runs.
 */
import type { TypedArray } from '../ir/dtype.js';
import type { Graph } from '../ir/graph.js';
import { interpretRun } from '../ir/interpret.js';
import { type TrainSource, differentiate, isTrainSource } from '../passes/autodiff.js';
import { config } from './config.js';
import { allocSharedHost } from './kernel_interpreter.js';
import type { SharedState } from './shared_state.js';

export const BACKEND_NAMES = ['cpu', 'webgpu', 'interpreter'] as const;
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
  /**
   * Runs the program; resolves to one array per graph output (copies). The
   * run starts before run() returns (the CPU finishes it; WebGPU queues it
   * with the output copies), so a caller may write the next inputs and start
   * the next run before awaiting this one's results.
   */
  run(): Promise<TypedArray[]>;
  dispose(): void;
}

export function checkBackendName(name: string, source = 'backend'): BackendName {
  if (!(BACKEND_NAMES as readonly string[]).includes(name)) {
    throw new Error(`Unknown ${source} '${name}'. Valid backends: ${BACKEND_NAMES.join(', ')}`);
  }
  return name as BackendName;
}

/** The process-wide default: KILN_BACKEND, else cpu; setBackend changes it. */
let defaultBackend: BackendName = config.backend ? checkBackendName(config.backend, 'KILN_BACKEND') : 'cpu';

export function setBackend(name: string): void {
  defaultBackend = checkBackendName(name);
}

export function getBackend(): BackendName {
  return defaultBackend;
}

function countOps(graph: Graph): number {
  return graph.nodes.filter((n) => n.op !== 'param' && n.op !== 'constant').length;
}

async function compileInterpreted(graph: Graph, shared?: SharedState): Promise<CompiledGraph> {
  const feeds = new Map<string, TypedArray>();
  const ops = countOps(graph);
  if (shared) await shared.memoryFor('interpreter', allocSharedHost);
  const isShared = (name: string): boolean => !!shared?.has(name);
  // Shared params are live views of the model's state arena; the others are this program's own.
  for (const n of graph.nodes) {
    const name = (n.attrs as { name?: string }).name;
    if (n.op === 'param' && name && isShared(name)) feeds.set(name, shared!.view(name));
  }
  return {
    backend: 'interpreter',
    stats: { opsBefore: ops, opsAfter: ops, kernels: ops, arenaBytes: 0, intermediateBytes: 0, cached: false },
    write: (name, data) => (isShared(name) ? feeds.get(name)!.set(data) : void feeds.set(name, data.slice())),
    read: async (name) => {
      const v = feeds.get(name);
      if (!v) throw new Error(`No value for param '${name}'`);
      return v.slice();
    },
    async run() {
      const { outputs, updates } = interpretRun(graph, feeds);
      for (const [name, value] of updates) {
        if (isShared(name)) feeds.get(name)!.set(value);
        else feeds.set(name, value.slice());
      }
      return outputs.map((a) => a.slice());
    },
    dispose: () => feeds.clear(),
  };
}

export interface CompileOptions {
  readonly backend?: BackendName;
  readonly name?: string;
  /** A model's shared state: params named in it live there, shared with the model's other programs. */
  readonly shared?: SharedState;
}

/** Compiles a predict graph, or a training step (differentiated by the TRAIN pipeline's autodiff pass). */
export async function compileGraph(graph: Graph | TrainSource, options: CompileOptions = {}): Promise<CompiledGraph> {
  const backend = options.backend ?? defaultBackend;
  // The tensor interpreter runs the graph as built: of the pipeline it needs autodiff alone.
  if (backend === 'interpreter') return compileInterpreted(isTrainSource(graph) ? differentiate(graph) : graph, options.shared);
  if (backend === 'webgpu') {
    const [{ compileWithBackend }, { webgpuBackend }] = await Promise.all([import('./compile_native.js'), import('./webgpu/index.js')]);
    return compileWithBackend(graph, options.name ?? 'model', webgpuBackend, 'webgpu', options.shared);
  }
  // The native pipeline is wired in runtime/compile_native.ts.
  const { compileNativeGraph } = await import('./compile_native.js');
  return compileNativeGraph(graph, options.name ?? 'model', options.shared);
}
