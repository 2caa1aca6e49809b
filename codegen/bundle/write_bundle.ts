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
import { compileWasm } from '../llvm/wasm.js';
import { BUNDLE_TARGETS, type BundleTarget, FORMAT_VERSION, type Manifest, type ProgramSpec, type WgslKernelSpec } from '../../runtime/bundle/manifest.js';
import type { Network } from '../../src/models/network.js';
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

function common(p: BundleProgram, kind: 'predict') {
  return {
    kind,
    batch: p.batch,
    arenaBytes: p.program.arenaBytes,
    inputs: p.inputs,
    outputs: p.outputs,
    kernels: p.program.kernels.map((k) => ({ name: k.name, summary: kernelSummary(p.program, k) })),
  };
}

export async function writeBundle(net: Network, options: BundleOptions): Promise<BundleResult> {
  const targets = checkTargets(options.targets ?? ['node-cpu', 'wasm', 'webgpu']);
  const batchSizes = checkBatchSizes(options.batchSizes ?? [1, 32]);
  const levels: CpuLevel[] = cpuLevels(options.cpuLevels ?? ['avx512', 'avx2']);
  const threads = options.threads ?? 8;
  const log = options.log ?? (() => undefined);
  const models = modelPrograms(net);
  const files = new Map<string, Uint8Array | string>();
  const programs: ProgramSpec[] = [];
  for (const batch of batchSizes) {
    const stem = `predict_b${batch}`;
    if (targets.includes('node-cpu') || targets.includes('wasm')) {
      const p = models.build(batch, false);
      if (targets.includes('node-cpu')) {
        const objects = await Promise.all(levels.map((l) => compileNativeLevel(p.program, l, threads)));
        levels.forEach((l, i) => files.set(`${stem}.${l.level}.so`, objects[i]));
        programs.push({ target: 'node-cpu', ...common(p, 'predict'), levels: levels.map((l) => ({ level: l.level, features: l.features, file: `${stem}.${l.level}.so` })) });
        log(`node-cpu batch ${batch}: ${levels.map((l) => l.level).join(', ')}`);
      }
      if (targets.includes('wasm')) {
        files.set(`${stem}.wasm`, await compileWasm(p.program));
        programs.push({ target: 'wasm', ...common(p, 'predict'), file: `${stem}.wasm` });
        log(`wasm batch ${batch}`);
      }
    }
    if (targets.includes('webgpu')) {
      const p = models.build(batch, true);
      const kernels: WgslKernelSpec[] = p.program.kernels.map((k) => {
        const w = emitKernel(p.program, k, MIN_TARGET);
        return { name: w.name, code: w.code, groups: w.groups, bindings: w.bindings.map((b) => ({ binding: b.binding, space: b.space, offset: b.offset, size: b.size })) };
      });
      files.set(`${stem}.wgsl.json`, `${JSON.stringify(kernels)}\n`);
      programs.push({ target: 'webgpu', ...common(p, 'predict'), file: `${stem}.wgsl.json` });
      log(`webgpu batch ${batch}`);
    }
  }
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
    train: null,
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
