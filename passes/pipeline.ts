/**
 * The pass pipeline, as data: graph passes run in order, the IR is verified
 * after each, and an optional `dump` callback sees the IR text between passes
 * (the runtime wires it to KILN_DUMP_IR). Then fusion and lowering produce a
 * kernel program and memory planning places its buffers.
 */
import type { Graph } from '../ir/graph.js';
import { printGraph } from '../ir/print.js';
import { printProgram } from '../ir/print_kernel.js';
import { verifyGraph, verifyProgram } from '../ir/verify.js';
import { contractions } from './contraction.js';
import { inPlaceUpdates } from './in_place_updates.js';
import { type LoweredProgram, lower } from './lower.js';
import { type MemoryPlanStats, type SharedLayout, planMemory } from './memory_plan.js';
import { dce } from './dce.js';
import { foldScale } from './fold_scale.js';
import { simplify } from './simplify.js';
import { mergeScans } from './merge_scans.js';

export interface GraphPass {
  readonly name: string;
  readonly run: (graph: Graph) => Graph;
}

export const PREDICT_PASSES: readonly GraphPass[] = [
  { name: 'dce', run: dce },
  { name: 'simplify', run: simplify },
  { name: 'merge_scans', run: mergeScans },
  { name: 'dce', run: dce },
  { name: 'fold_scale', run: foldScale },
  { name: 'dce', run: dce },
];

export interface PipelineOptions {
  readonly name?: string;
  readonly passes?: readonly GraphPass[];
  /** Receives the IR text after each stage. */
  readonly dump?: (stage: string, text: string) => void;
  /** Verify the IR after every pass (default true). */
  readonly verify?: boolean;
  /** Params placed in a model's shared state arena instead of the program's own. */
  readonly shared?: SharedLayout;
  /** Store bool as 32 bits (backends without byte-sized storage: WebGPU). */
  readonly wideBool?: boolean;
}

export interface PipelineResult {
  readonly graph: Graph;
  readonly program: LoweredProgram;
  readonly memory: MemoryPlanStats;
}

export function runGraphPasses(graph: Graph, passes: readonly GraphPass[], dump?: PipelineOptions['dump'], verify = true): Graph {
  if (verify) verifyGraph(graph);
  dump?.('input', printGraph(graph));
  let g = graph;
  for (const pass of passes) {
    g = pass.run(g);
    try {
      if (verify) verifyGraph(g);
    } catch (e) {
      throw new Error(`after pass '${pass.name}': ${(e as Error).message}`);
    }
    dump?.(pass.name, printGraph(g));
  }
  return g;
}

export function compileToProgram(graph: Graph, options: PipelineOptions = {}): PipelineResult {
  const verify = options.verify ?? true;
  const g = runGraphPasses(graph, options.passes ?? PREDICT_PASSES, options.dump, verify);
  const lowered = inPlaceUpdates(contractions(lower(g, options.name ?? 'program')));
  if (verify) verifyProgram(lowered);
  options.dump?.('lower', printProgram(lowered));
  const { program, stats } = planMemory(lowered, options.shared, options.wideBool);
  if (verify) verifyProgram(program, true);
  options.dump?.('memory_plan', printProgram(program));
  return { graph: g, program, memory: stats };
}
