/**
 * kiln/runtime: loads a bundle written by `kiln compile` and runs it, with no
 * LLVM, no llvm-bindings, no TypeScript and no Keras front end:
 *
 *   const m = await load('./bundle');
 *   const { dense_2 } = await m.predict({ dense_1_input: pixels });
 *
 * In Node the default target is node-cpu (the native objects, through koffi)
 * where the bundle has it, else wasm; in a browser, webgpu where the page
 * offers it, else wasm. This module imports only its own folder.
 */
import type { Engine } from './engine.js';
import { type BundleTarget, type Manifest, parseManifest } from './manifest.js';
import { BundleModel } from './model.js';
import type { NodeCpuOptions } from './node_cpu.js';
import { openSource } from './source.js';
import type { WasmOptions } from './wasm.js';
import type { WebgpuOptions } from './webgpu.js';
import { readWeights } from './weights.js';

export { BundleModel } from './model.js';
export type { BundleInput, BundleOutput } from './model.js';
export { FORMAT_VERSION } from './manifest.js';
export type { BundleTarget, Manifest, TensorSpec } from './manifest.js';

export interface LoadOptions extends NodeCpuOptions, WasmOptions, WebgpuOptions {
  /** The target to run on (default: the best the bundle and this environment offer). */
  readonly target?: BundleTarget;
}

const inNode = (): boolean => typeof process !== 'undefined' && !!process.versions?.node;

function chooseTarget(manifest: Manifest, asked: BundleTarget | undefined, where: string, gpu: unknown): BundleTarget {
  if (asked) {
    if (!manifest.targets.includes(asked)) throw new Error(`kiln runtime: ${where} was not compiled for '${asked}'; its targets are ${manifest.targets.join(', ')}`);
    return asked;
  }
  const order: BundleTarget[] = inNode() ? ['node-cpu', 'wasm', 'webgpu'] : gpu ? ['webgpu', 'wasm'] : ['wasm'];
  const pick = order.find((t) => manifest.targets.includes(t) && (t !== 'node-cpu' || manifest.cpu?.arch === process.arch));
  if (!pick) throw new Error(`kiln runtime: ${where} has no target this environment runs (targets: ${manifest.targets.join(', ')})`);
  return pick;
}

/** Loads the bundle at `location` (a folder in Node, or a URL). */
export async function load(location: string | URL, options: LoadOptions = {}): Promise<BundleModel> {
  const source = openSource(location);
  const manifest = parseManifest(await source.text('manifest.json'), source.where);
  const target = chooseTarget(manifest, options.target, source.where, options.gpu ?? (globalThis.navigator as Navigator | undefined)?.gpu);
  const weights = await readWeights(source, manifest);
  let engine: Engine;
  switch (target) {
    case 'node-cpu': engine = await (await import('./node_cpu.js')).nodeCpuEngine(source, manifest, weights, options); break;
    case 'wasm': engine = await (await import('./wasm.js')).wasmEngine(source, manifest, weights, options); break;
    case 'webgpu': engine = await (await import('./webgpu.js')).webgpuEngine(source, manifest, weights, options); break;
  }
  return new BundleModel(manifest, engine, source.where, target);
}
