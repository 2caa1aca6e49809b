/**
 * The bundle manifest (manifest.json): what a bundle holds and how its
 * compiled programs address memory. Written by codegen/bundle, read here by
 * the runtime, which imports nothing from the compiler. A program addresses
 * two arenas: its own (inputs, outputs, intermediates) and the shared state
 * arena that weights.bin fills byte for byte.
 */

/** Bumped whenever a runtime of the previous version could misread a bundle. */
export const FORMAT_VERSION = 1;

export const BUNDLE_TARGETS = ['node-cpu', 'wasm', 'webgpu'] as const;
export type BundleTarget = (typeof BUNDLE_TARGETS)[number];

export type BundleDType = 'float32' | 'float64' | 'int32' | 'bool';

/** A model input or output; shape[0] is the batch (null). */
export interface TensorSpec {
  readonly name: string;
  readonly shape: readonly (number | null)[];
  readonly dtype: BundleDType;
}

/** Where a program's buffer lives: byte offset and elements in the program's arena or the shared one. */
export interface BufferSlot {
  readonly offset: number;
  readonly size: number;
  readonly dtype: BundleDType;
  readonly shape: readonly number[];
  readonly shared: boolean;
}

/** A native shared object for one CPU feature level. */
export interface NativeLevel {
  /** 'avx512' or 'avx2' (best first in the manifest). */
  readonly level: string;
  /** /proc/cpuinfo flags the object's code needs. */
  readonly features: readonly string[];
  readonly file: string;
}

/** One WGSL compute kernel: its shader, bindings and dispatch. */
export interface WgslKernelSpec {
  readonly name: string;
  readonly code: string;
  /** 'step': the program's step counters (one u32 per recurrent loop). */
  readonly bindings: readonly { readonly binding: number; readonly space: 'arena' | 'shared' | 'step'; readonly offset: number; readonly size: number | null }[];
  readonly groups: readonly [number, number];
  /**
   * A kernel of recurrent loop number `repeat` (a scan): 'set' starts its
   * step counter, 'body' kernels run `count` times in order, each time
   * followed by 'advance'. Absent: the kernel runs once, in order.
   */
  readonly loop?: { readonly repeat: number; readonly count: number; readonly role: 'set' | 'body' | 'advance' };
}

interface ProgramBase {
  readonly kind: 'predict' | 'train';
  readonly batch: number;
  readonly arenaBytes: number;
  /** Program params fed per run, by the model's input names (train programs add target and sample_weight). */
  readonly inputs: Readonly<Record<string, BufferSlot>>;
  /** In the order of the manifest's outputs (train programs: loss, then metrics). */
  readonly outputs: readonly BufferSlot[];
  readonly kernels: readonly { readonly name: string; readonly summary: string }[];
  /** Train programs: targets and sample weights by output name. */
  readonly targets?: Readonly<Record<string, BufferSlot>>;
  readonly sampleWeights?: Readonly<Record<string, BufferSlot>>;
  /** Train programs: optimizer state resident in the program's arena (slots, counter, lr) and the value it starts from. */
  readonly state?: readonly { readonly name: string; readonly slot: BufferSlot; readonly init: number }[];
}

export interface NativeProgram extends ProgramBase {
  readonly target: 'node-cpu';
  readonly levels: readonly NativeLevel[];
}
export interface WasmProgram extends ProgramBase {
  readonly target: 'wasm';
  readonly file: string;
  /** The same program built for a team of up to `threads` threads on a shared memory (Node runs it on workers). */
  readonly threaded?: { readonly file: string; readonly threads: number };
}
export interface WebgpuProgram extends ProgramBase {
  readonly target: 'webgpu';
  readonly file: string;
}
export type ProgramSpec = NativeProgram | WasmProgram | WebgpuProgram;

export interface WeightEntry {
  readonly name: string;
  readonly offset: number;
  readonly shape: readonly number[];
  readonly dtype: BundleDType;
}

export interface Manifest {
  readonly format: 'kiln-bundle';
  readonly formatVersion: number;
  readonly name: string;
  readonly inputs: readonly TensorSpec[];
  readonly outputs: readonly TensorSpec[];
  readonly batchSizes: readonly number[];
  readonly targets: readonly BundleTarget[];
  /** The CPU the native objects are for (node-cpu only). */
  readonly cpu: {
    readonly arch: string;
    readonly libraries: readonly string[];
    /** The most OpenMP threads the objects may run (their per-thread scratch is sized for this many). */
    readonly threads: number;
  } | null;
  readonly weights: { readonly file: string; readonly bytes: number; readonly sha256: string; readonly entries: readonly WeightEntry[] };
  readonly programs: readonly ProgramSpec[];
  /** With --train: the train step's batch size and what trainOnBatch returns (Keras's metrics_names: loss first). */
  readonly train: { readonly batch: number; readonly optimizer: string; readonly metricsNames: readonly string[] } | null;
}

/** Checks the parts of a manifest the runtime relies on, with an error naming the bundle. */
export function parseManifest(text: string, where: string): Manifest {
  let m: Partial<Manifest>;
  try {
    m = JSON.parse(text) as Partial<Manifest>;
  } catch (e) {
    throw new Error(`kiln runtime: ${where}/manifest.json is not valid JSON (${(e as Error).message})`);
  }
  if (m.format !== 'kiln-bundle') throw new Error(`kiln runtime: ${where}/manifest.json is not a Kiln bundle manifest (format is ${JSON.stringify(m.format)})`);
  if (typeof m.formatVersion !== 'number' || m.formatVersion > FORMAT_VERSION) {
    throw new Error(`kiln runtime: ${where} was written in bundle format version ${m.formatVersion}, newer than this runtime reads (${FORMAT_VERSION}); update the kiln runtime or compile the bundle with a matching kiln`);
  }
  for (const key of ['inputs', 'outputs', 'programs', 'targets', 'batchSizes'] as const) {
    if (!Array.isArray(m[key])) throw new Error(`kiln runtime: ${where}/manifest.json has no '${key}' list`);
  }
  if (!m.weights || typeof m.weights.file !== 'string' || typeof m.weights.bytes !== 'number') throw new Error(`kiln runtime: ${where}/manifest.json has no weights entry`);
  return m as Manifest;
}

export function sampleSize(shape: readonly (number | null)[]): number {
  return shape.slice(1).reduce<number>((p, d) => p * (d ?? 1), 1);
}
