/**
 * The train step of a bundle (`kiln compile --train`): Keras's training
 * program (forward in the training phase, weighted loss, metrics, backward,
 * optimizer update; src/training/programs.ts) at one batch size, planned
 * against the same shared state arena as the predict programs, so a step
 * updates the weights every program of the bundle reads. Optimizer slots,
 * the step counter and the learning rate stay in the program's own arena;
 * the manifest says what each starts from.
 */
import { Trainer, type CompileArgs } from '../../src/training/trainer.js';
import { globalName, trainGraph } from '../../src/training/programs.js';
import { paramNames } from '../../src/training/standardize.js';
import type { Network } from '../../src/models/network.js';
import type { LoweredProgram } from '../../passes/lower.js';
import type { BufferSlot } from '../../runtime/bundle/manifest.js';
import { type ModelPrograms, slotOf } from './programs.js';

export interface TrainParts {
  readonly program: LoweredProgram;
  readonly inputs: Record<string, BufferSlot>;
  readonly targets: Record<string, BufferSlot>;
  readonly sampleWeights: Record<string, BufferSlot>;
  readonly outputs: BufferSlot[];
  readonly state: { name: string; slot: BufferSlot; init: number }[];
  readonly metricsNames: readonly string[];
  readonly optimizer: string;
}

export function buildTrainProgram(net: Network, models: ModelPrograms, batch: number, wideBool: boolean, compile: CompileArgs): TrainParts {
  const trainer = new Trainer(net, compile);
  const setup = trainer.setup;
  const outputNames = models.outputs.map((o) => o.name);
  const targetShapes = models.outputs.map((o) => o.shape.slice(1) as number[]);
  const program = models.plan(trainGraph(net, batch, targetShapes, setup), `${net.name}_train_b${batch}`, wideBool);
  const slot = (param: string): BufferSlot => {
    const buf = program.params.get(param);
    if (buf === undefined) throw new Error(`codegen/bundle: the train program of '${net.name}' has no param '${param}'`);
    return slotOf(program.buffers[buf]);
  };
  const byName = (base: string, names: readonly string[]): Record<string, BufferSlot> => Object.fromEntries(paramNames(base, names.length).map((p, i) => [names[i], slot(p)]));
  const opt = setup.optimizer;
  const init = new Map<string, number>([['iterations', 0], ['lr', opt.lr], ...opt.globals.map((g) => [globalName(g.name), g.init] as [string, number])]);
  // Every non-shared state param: optimizer slots start at zero, the rest from `init`.
  const state = [...program.params.entries()]
    .filter(([, b]) => program.buffers[b].role === 'state' && !program.buffers[b].shared)
    .map(([name, b]) => ({ name, slot: slotOf(program.buffers[b]), init: init.get(name) ?? 0 }));
  return {
    program,
    inputs: byName('input', models.inputs.map((i) => i.name)),
    targets: byName('target', outputNames),
    sampleWeights: byName('sample_weight', outputNames),
    outputs: program.outputs.map((b) => slotOf(program.buffers[b])),
    state,
    metricsNames: trainer.metricsNames,
    optimizer: opt.constructor.name,
  };
}
