import type { Graph } from '../ir/graph.js';
import type { CompiledGraph } from './executor.js';

export async function compileNativeGraph(_graph: Graph, _name: string): Promise<CompiledGraph> {
  throw new Error('native pipeline not wired yet');
}
