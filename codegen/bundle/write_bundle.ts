/**
 * `kiln compile MODEL --out DIR`: writes a deployable bundle of a model,
 * the compiled programs per target and batch size, weights.bin (the shared
 * state arena's bytes), manifest.json, and the ES module entry with its
 * declarations. Nothing in the bundle needs LLVM or TypeScript to run.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { MIN_TARGET } from '../wgsl/target.js';
import { emitKernel } from '../wgsl/kernel.js';
import { repeatsOf, stepCounterShaders } from '../wgsl/repeat.js';
import { compileWasm } from '../llvm/wasm.js';
import { BUNDLE_TARGETS, type BundleTarget, FORMAT_VERSION, type Manifest, type ProgramSpec, type WasmProgram, type WgslKernelSpec } from '../../runtime/bundle/manifest.js';
import type { KernelProgram } from '../../ir/kernel.js';
import type { CompileArgs } from '../../src/training/trainer.js';
import { buildTrainProgram } from './train.js';
import type { Network } from '../../src/models/network.js';
import type { Tensor } from '../../src/tensor.js';
import { type CpuLevel, NATIVE_LIBRARIES, compileNativeLevel, cpuLevels } from './native.js';
import { type BundleProgram, kernelSummary, modelPrograms } from './programs.js';
import { entryDeclarations, entryModule } from './entry.js';

export interface BundleOptions {
  readonly out: string;
  readonly targets?: readonly BundleTarget[];
  readonly batchSizes?: readonly number[];
  /** node-cpu feature levels, best first (default avx512, avx2). */
  readonly cpuLevels?: readonly string[];
  /** The most OpenMP threads the node-cpu objects may use (default 8); the runtime uses at most the machine's cores. */
  readonly threads?: number;
  /** Include the train step at this batch size, for the loss, optimizer and metrics of model.compile(). */
  readonly train?: { readonly batch: number; readonly compile: CompileArgs };
  /** Progress lines (the CLI prints them). */
  readonly log?: (line: string) => void;
}

export interface BundleResult {
  readonly manifest: Manifest;
  /** Bytes written per file name. */
  readonly files: ReadonlyMap<string, number>;
}

export function checkTargets(targets: readonly string[]): BundleTarget[] {
  for (const t of targets) if (!(BUNDLE_TARGETS as readonly string[]).includes(t)) throw new Error(`Unknown bundle target '${t}'. Targets: ${BUNDLE_TARGETS.join(', ')}`);
  if (targets.length === 0) throw new Error(`No bundle targets given. Targets: ${BUNDLE_TARGETS.join(', ')}`);
  return [...new Set(targets)] as BundleTarget[];
}

export function checkBatchSizes(sizes: readonly number[]): number[] {
  for (const b of sizes) if (!Number.isInteger(b) || b < 1) throw new Error(`Batch sizes must be positive integers, got ${b}`);
  if (sizes.length === 0) throw new Error('No batch sizes given');
  return [...new Set(sizes)].sort((a, b) => a - b);
}

/** A manifest program entry without its target and files. */
type Common = Omit<WasmProgram, 'target' | 'file'>;

function predictCommon(p: BundleProgram): Common {
  return { kind: 'predict', batch: p.batch, arenaBytes: p.program.arenaBytes, inputs: p.inputs, outputs: p.outputs, kernels: kernelsOf(p.program) };
}

function kernelsOf(program: KernelProgram): Common['kernels'] {
  return program.kernels.map((k) => ({ name: k.name, summary: kernelSummary(program, k) }));
}

/** One program (predict at a batch size, or the train step) to write for every target. */
interface Job {
  readonly stem: string;
  /** The program planned for byte-sized (false) or 32-bit (true) bools, and its manifest entry. */
  build(wideBool: boolean): { program: KernelProgram; common: Common };
}

interface Emit {
  readonly targets: readonly BundleTarget[];
  readonly levels: readonly CpuLevel[];
  readonly threads: number;
  readonly files: Map<string, Uint8Array | string>;
  readonly programs: ProgramSpec[];
  readonly log: (line: string) => void;
}

async function emitJob(job: Job, o: Emit): Promise<void> {
  const { stem, build } = job;
  if (o.targets.includes('node-cpu') || o.targets.includes('wasm')) {
    const { program, common } = build(false);
    if (o.targets.includes('node-cpu')) {
      const objects = await Promise.all(o.levels.map((l) => compileNativeLevel(program, l, o.threads)));
      o.levels.forEach((l, i) => o.files.set(`${stem}.${l.level}.so`, objects[i]));
      o.programs.push({ target: 'node-cpu', ...common, levels: o.levels.map((l) => ({ level: l.level, features: l.features, file: `${stem}.${l.level}.so` })) });
      o.log(`node-cpu ${stem}: ${o.levels.map((l) => l.level).join(', ')}`);
    }
    if (o.targets.includes('wasm')) {
      o.files.set(`${stem}.wasm`, await compileWasm(program));
      const threaded = o.threads > 1 ? { file: `${stem}.mt.wasm`, threads: o.threads } : undefined;
      if (threaded) o.files.set(threaded.file, await compileWasm(program, o.threads));
      o.programs.push({ target: 'wasm', ...common, file: `${stem}.wasm`, ...(threaded ? { threaded } : {}) });
      o.log(`wasm ${stem}${threaded ? ` (and for ${o.threads} threads)` : ''}`);
    }
  }
  if (o.targets.includes('webgpu')) {
    const { program, common } = build(true);
    const kernels = wgslKernels(program);
    o.files.set(`${stem}.wgsl.json`, `${JSON.stringify(kernels)}\n`);
    o.programs.push({ target: 'webgpu', ...common, file: `${stem}.wgsl.json` });
    o.log(`webgpu ${stem}`);
  }
}

export async function writeBundle(model: Network | Network<Tensor | Tensor[]>, options: BundleOptions): Promise<BundleResult> {
  // A bundle reads the model's layers, weights and shapes, never what its predict returns: any model will do.
  const net = model as Network;
  const targets = checkTargets(options.targets ?? ['node-cpu', 'wasm', 'webgpu']);
  const batchSizes = checkBatchSizes(options.batchSizes ?? [1, 32]);
  const levels: CpuLevel[] = cpuLevels(options.cpuLevels ?? ['avx512', 'avx2']);
  const threads = options.threads ?? 8;
  const models = modelPrograms(net);
  const emit: Emit = { targets, levels, threads, files: new Map(), programs: [], log: options.log ?? (() => undefined) };
  for (const batch of batchSizes) {
    await emitJob({ stem: `predict_b${batch}`, build: (wide) => {
      const p = models.build(batch, wide);
      return { program: p.program, common: predictCommon(p) };
    } }, emit);
  }
  let train: Manifest['train'] = null;
  if (options.train) {
    const { batch, compile } = options.train;
    checkBatchSizes([batch]);
    await emitJob({ stem: `train_b${batch}`, build: (wide) => {
      const t = buildTrainProgram(net, models, batch, wide, compile);
      train = { batch, optimizer: t.optimizer, metricsNames: t.metricsNames };
      const common: Common = { kind: 'train', batch, arenaBytes: t.program.arenaBytes, inputs: t.inputs, outputs: t.outputs, kernels: kernelsOf(t.program), targets: t.targets, sampleWeights: t.sampleWeights, state: t.state };
      return { program: t.program, common };
    } }, emit);
  }
  const { files, programs } = emit;
  const weights = models.weights.bytes;
  files.set('weights.bin', weights);
  const manifest: Manifest = {
    format: 'kiln-bundle',
    formatVersion: FORMAT_VERSION,
    name: net.name,
    inputs: models.inputs,
    outputs: models.outputs,
    batchSizes,
    targets,
    cpu: targets.includes('node-cpu') ? { arch: process.arch, libraries: NATIVE_LIBRARIES, threads } : null,
    weights: { file: 'weights.bin', bytes: weights.byteLength, sha256: createHash('sha256').update(weights).digest('hex'), entries: models.weights.entries },
    programs,
    train,
  };
  files.set('manifest.json', `${JSON.stringify(manifest, null, 1)}\n`);
  files.set('index.js', entryModule());
  files.set('index.d.ts', entryDeclarations(manifest));
  mkdirSync(options.out, { recursive: true });
  const sizes = new Map<string, number>();
  for (const [name, data] of files) {
    writeFileSync(join(options.out, name), data);
    sizes.set(name, typeof data === 'string' ? Buffer.byteLength(data) : data.byteLength);
  }
  return { manifest, files: sizes };
}

/**
 * The WGSL kernels of a program, each once: a recurrent loop (a repeat,
 * codegen/wgsl/repeat.ts) as its step counter's set kernel, its body's
 * kernels and the advance kernel, marked so the runtime dispatches the body
 * `count` times (runtime/bundle/webgpu.ts).
 */
function wgslKernels(program: KernelProgram): WgslKernelSpec[] {
  const spec = (w: { name: string; code: string; groups: readonly [number, number]; bindings: readonly { binding: number; space: 'arena' | 'shared' | 'step'; offset: number; size: number | null }[] }, loop?: WgslKernelSpec['loop']): WgslKernelSpec =>
    ({ name: w.name, code: w.code, groups: w.groups, bindings: w.bindings.map((b) => ({ binding: b.binding, space: b.space, offset: b.offset, size: b.size })), ...(loop ? { loop } : {}) });
  const repeats = repeatsOf(program);
  return program.kernels.flatMap((k) => {
    if (k.kind !== 'repeat') return [spec(emitKernel(program, k, MIN_TARGET))];
    if (k.steps !== undefined) throw new Error(`codegen/bundle: recurrent loop ${k.name} reads its step count at run time (timesteps=None); bundles need a fixed sequence length`);
    const r = repeats.indexOf(k);
    const shaders = stepCounterShaders(r, k);
    const counter = (name: string, code: string): Parameters<typeof spec>[0] => ({ name, code, groups: [1, 1], bindings: [{ binding: 0, space: 'step', offset: 0, size: null }] });
    const loop = (role: 'set' | 'body' | 'advance'): WgslKernelSpec['loop'] => ({ repeat: r, count: k.count, role });
    return [
      spec(counter(`${k.name}_step_set`, shaders.set), loop('set')),
      ...k.body.map((x) => spec(emitKernel(program, x, MIN_TARGET, r), loop('body'))),
      spec(counter(`${k.name}_step_next`, shaders.advance), loop('advance')),
    ];
  });
}
