/**
 * The pass pipeline, as data (DESIGN.md contract 2). A pipeline is a named
 * list of passes over typed stages: a training step enters as a `train`
 * source (forward graph plus what to differentiate), autodiff makes it a
 * `graph`, graph passes rewrite the graph, fusion partitions it (`fused`),
 * lowering turns the groups into `kernels`, kernel passes rewrite those, and
 * memory planning places every buffer (`planned`). Every pass is a pure
 * function of its input and the context. The runner checks that each pass
 * takes the stage the previous one made, verifies the IR after every pass
 * (naming the pass that broke it) and hands the IR text between passes to an
 * optional `dump` callback (the runtime wires it to KILN_DUMP_IR).
 */
import type { Graph } from '../ir/graph.js';
import { printGraph } from '../ir/print.js';
import { printProgram } from '../ir/print_kernel.js';
import { verifyGraph, verifyProgram } from '../ir/verify.js';
import { type TrainSource, differentiate, isTrainSource, printTrainSource } from './autodiff.js';
import { contractions } from './contraction.js';
import { dce } from './dce.js';
import { foldScale } from './fold_scale.js';
import { type FusedGraph, fuse, printFusion } from './fusion.js';
import { inPlaceUpdates } from './in_place_updates.js';
import { selectLayout } from './layout.js';
import { type LoweredProgram, lowerFused } from './lower.js';
import { type MemoryPlanStats, type SharedLayout, planMemory } from './memory_plan.js';
import { mergeScans } from './merge_scans.js';
import { poolEpilogue } from './pool_epilogue.js';
import { prepackWeights } from './prepack_weights.js';
import { pruneScans } from './prune_scans.js';
import { simplify } from './simplify.js';
import { splitReductions } from './split_reductions.js';

/** A program after memory planning. */
export interface PlannedProgram {
  readonly program: LoweredProgram;
  readonly memory: MemoryPlanStats;
}

/** The IR a pass takes or makes, by stage. */
export interface StageTypes {
  readonly train: TrainSource;
  readonly graph: Graph;
  readonly fused: FusedGraph;
  readonly kernels: LoweredProgram;
  readonly planned: PlannedProgram;
}
export type Stage = keyof StageTypes;

/** Where tensors keep their channels axis: first after the batch, or last. */
export type DataLayout = 'channels_first' | 'channels_last';

/** The backends a program is compiled for. */
export type TargetBackend = 'cpu' | 'webgpu' | 'interpreter';

/** The layout each backend's kernels read best (both read channels contiguous: implicit GEMM and pooling vectorize over them). */
export const PREFERRED_LAYOUT: { readonly [B in TargetBackend]: DataLayout } = { cpu: 'channels_last', webgpu: 'channels_last', interpreter: 'channels_last' };

export type DumpFn = (stage: string, text: string, index: number) => void;

/** What every pass may read; the runner alone uses `verify` and `dump`. */
export interface PassContext {
  /** The program's name (kernel names derive from it). */
  readonly name: string;
  readonly backend: TargetBackend;
  /** The layout the layout pass gives every tensor with a channels axis. */
  readonly layout: DataLayout;
  /** Params placed in a model's shared state arena instead of the program's own. */
  readonly shared?: SharedLayout;
  /** Store bool as 32 bits (backends without byte-sized storage: WebGPU). */
  readonly wideBool: boolean;
  /** Verify the IR after every pass. */
  readonly verify: boolean;
  /** Receives the IR text after each pass. */
  readonly dump?: DumpFn;
}

export interface Pass<I extends Stage = Stage, O extends Stage = Stage> {
  readonly name: string;
  readonly from: I;
  readonly to: O;
  run(input: StageTypes[I], ctx: PassContext): StageTypes[O];
}

/** Per stage: its verifier and its printer (a mapped type: a new stage fails tsc until both exist). */
const STAGES: { readonly [S in Stage]: { verify(v: StageTypes[S]): void; print(v: StageTypes[S]): string } } = {
  train: { verify: (t) => verifyGraph(t.forward), print: printTrainSource },
  graph: { verify: verifyGraph, print: printGraph },
  fused: { verify: verifyGraph, print: (f) => `${printGraph(f)}\n${printFusion(f)}` },
  kernels: { verify: (p) => verifyProgram(p), print: printProgram },
  planned: { verify: (p) => verifyProgram(p.program, true), print: (p) => printProgram(p.program) },
};

/** A named list of passes from stage I to stage O; `then` only accepts a pass that takes stage O. */
export class Pipeline<I extends Stage, O extends Stage> {
  private constructor(readonly name: string, readonly from: I, readonly to: O, readonly passes: readonly Pass[]) {}

  static start<S extends Stage>(name: string, from: S): Pipeline<S, S> {
    return new Pipeline(name, from, from, []);
  }

  then<N extends Stage>(pass: Pass<O, N>): Pipeline<I, N> {
    return new Pipeline(this.name, this.from, pass.to, [...this.passes, pass]);
  }

  /** Appends passes that keep the stage. */
  thenAll(passes: readonly Pass<O, O>[]): Pipeline<I, O> {
    return new Pipeline(this.name, this.from, this.to, [...this.passes, ...passes]);
  }

  /** The same pipeline without the stage-keeping passes named `name` (tests compare IR with and without one). */
  without(name: string): Pipeline<I, O> {
    if (!this.passes.some((p) => p.name === name)) throw new Error(`Pipeline '${this.name}' has no pass '${name}'. Passes: ${this.passes.map((p) => p.name).join(', ')}`);
    return new Pipeline(this.name, this.from, this.to, this.passes.filter((p) => p.name !== name || p.from !== p.to));
  }
}

const graphPass = (name: string, run: (g: Graph, ctx: PassContext) => Graph): Pass<'graph', 'graph'> => ({ name, from: 'graph', to: 'graph', run });
const kernelPass = (name: string, run: (p: LoweredProgram, ctx: PassContext) => LoweredProgram): Pass<'kernels', 'kernels'> => ({ name, from: 'kernels', to: 'kernels', run });

export const AUTODIFF: Pass<'train', 'graph'> = { name: 'autodiff', from: 'train', to: 'graph', run: differentiate };
export const DCE = graphPass('dce', dce);
export const SIMPLIFY = graphPass('simplify', simplify);
export const LAYOUT = graphPass('layout', selectLayout);
export const MERGE_SCANS = graphPass('merge_scans', mergeScans);
export const PRUNE_SCANS = graphPass('prune_scans', pruneScans);
export const FOLD_SCALE = graphPass('fold_scale', foldScale);
export const FUSION: Pass<'graph', 'fused'> = { name: 'fusion', from: 'graph', to: 'fused', run: (g) => fuse(g) };
export const LOWER: Pass<'fused', 'kernels'> = { name: 'lower', from: 'fused', to: 'kernels', run: (f, ctx) => lowerFused(f, ctx.name) };
export const CONTRACTIONS = kernelPass('contractions', contractions);
export const POOL_EPILOGUE = kernelPass('pool_epilogue', poolEpilogue);
export const SPLIT_REDUCTIONS = kernelPass('split_reductions', splitReductions);
export const IN_PLACE_UPDATES = kernelPass('in_place_updates', inPlaceUpdates);
export const PREPACK_WEIGHTS = kernelPass('prepack_weights', prepackWeights);
export const MEMORY_PLAN: Pass<'kernels', 'planned'> = {
  name: 'memory_plan', from: 'kernels', to: 'planned',
  run: (p, ctx) => {
    const { program, stats } = planMemory(p, ctx.shared, ctx.wideBool);
    return { program, memory: stats };
  },
};

/** Graph-level simplification and layout selection, shared by PREDICT and TRAIN. */
const SIMPLIFICATION: readonly Pass<'graph', 'graph'>[] = [DCE, SIMPLIFY, LAYOUT, SIMPLIFY, MERGE_SCANS, PRUNE_SCANS, DCE, FOLD_SCALE, DCE];

/** The graph passes of a predict program: what PREDICT runs before fusion. */
export const PREDICT_GRAPH = Pipeline.start('predict', 'graph').thenAll(SIMPLIFICATION);

/** From graphs to kernels placed in the arena. */
function toKernels<I extends Stage>(graphs: Pipeline<I, 'graph'>): Pipeline<I, 'planned'> {
  return graphs.then(FUSION).then(LOWER).thenAll([CONTRACTIONS, POOL_EPILOGUE, SPLIT_REDUCTIONS, IN_PLACE_UPDATES, PREPACK_WEIGHTS]).then(MEMORY_PLAN);
}

/** Predict and test programs: a graph in, a planned kernel program out. */
export const PREDICT = toKernels(PREDICT_GRAPH);

/** Training steps: the forward graph and its step in, autodiff first, then as PREDICT. */
export const TRAIN = toKernels(Pipeline.start('train', 'train').then(AUTODIFF).thenAll(SIMPLIFICATION));

export interface PipelineOptions {
  readonly name?: string;
  /** Default cpu. */
  readonly backend?: TargetBackend;
  /** Default: the backend's preferred layout. */
  readonly layout?: DataLayout;
  readonly dump?: DumpFn;
  /** Verify the IR after every pass (default true). */
  readonly verify?: boolean;
  readonly shared?: SharedLayout;
  readonly wideBool?: boolean;
}

export function passContext(options: PipelineOptions = {}): PassContext {
  const backend = options.backend ?? 'cpu';
  return {
    name: options.name ?? 'program',
    backend,
    layout: options.layout ?? PREFERRED_LAYOUT[backend],
    shared: options.shared,
    wideBool: options.wideBool ?? false,
    verify: options.verify ?? true,
    dump: options.dump,
  };
}

/** The last value of each stage a run went through (e.g. the graph as fusion received it). */
export type StageValues = { -readonly [S in Stage]?: StageTypes[S] };

/** Runs `pipeline` over `input`: checks the stages chain, verifies after every pass, dumps between passes. */
export function runPipelineStages<I extends Stage, O extends Stage>(pipeline: Pipeline<I, O>, input: StageTypes[I], ctx: PassContext = passContext()): { output: StageTypes[O]; first: StageValues; last: StageValues } {
  const first: StageValues = {};
  const last: StageValues = {};
  const record = (stage: Stage, value: unknown): void => {
    (first as Record<Stage, unknown>)[stage] ??= value;
    (last as Record<Stage, unknown>)[stage] = value;
  };
  const check = (stage: Stage, value: unknown, after: string): void => {
    if (!ctx.verify) return;
    try {
      (STAGES[stage].verify as (v: unknown) => void)(value);
    } catch (e) {
      throw new Error(`${after}: ${(e as Error).message}`);
    }
  };
  const dump = (stage: Stage, value: unknown, name: string, index: number): void => ctx.dump?.(name, (STAGES[stage].print as (v: unknown) => string)(value), index);
  let stage: Stage = pipeline.from;
  let value: unknown = input;
  check(stage, value, `pipeline '${pipeline.name}' input`);
  record(stage, value);
  dump(stage, value, 'input', 0);
  pipeline.passes.forEach((pass, i) => {
    if (pass.from !== stage) throw new Error(`pipeline '${pipeline.name}': pass '${pass.name}' takes a ${pass.from} stage but follows a ${stage} stage`);
    value = (pass.run as (v: unknown, c: PassContext) => unknown)(value, ctx);
    stage = pass.to;
    check(stage, value, `after pass '${pass.name}'`);
    record(stage, value);
    dump(stage, value, pass.name, i + 1);
  });
  return { output: value as StageTypes[O], first, last };
}

export function runPipeline<I extends Stage, O extends Stage>(pipeline: Pipeline<I, O>, input: StageTypes[I], ctx: PassContext = passContext()): StageTypes[O] {
  return runPipelineStages(pipeline, input, ctx).output;
}

export interface PipelineResult {
  /** The graph as the graph passes received it (after autodiff for a training step). */
  readonly input: Graph;
  /** The graph as fusion received it. */
  readonly graph: Graph;
  readonly program: LoweredProgram;
  readonly memory: MemoryPlanStats;
}

/** Compiles a predict graph (PREDICT) or a training step (TRAIN) to a planned kernel program. */
export function compileToProgram(source: Graph | TrainSource, options: PipelineOptions = {}): PipelineResult {
  const ctx = passContext(options);
  const run = isTrainSource(source) ? runPipelineStages(TRAIN, source, ctx) : runPipelineStages(PREDICT, source, ctx);
  return { input: run.first.graph!, graph: run.last.graph!, program: run.output.program, memory: run.output.memory };
}
