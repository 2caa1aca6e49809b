/**
 * A loaded bundle: predict feeds named inputs through the batch-size
 * programs (the largest that fits the rows left, the smallest padded for a
 * short tail) and returns named outputs. Inputs are checked against the
 * manifest by name and shape before anything runs.
 */
import type { BundleArray, Engine, LoadedProgram } from './engine.js';
import { type Manifest, type ProgramSpec, type TensorSpec, sampleSize } from './manifest.js';

/** An input: flat data (rows inferred), a nested array, or { data, shape }. */
export type BundleInput = Float32Array | readonly number[] | readonly (readonly number[])[] | { readonly data: ArrayLike<number>; readonly shape: readonly number[] };

export interface BundleOutput {
  readonly data: Float32Array;
  readonly shape: readonly number[];
}

const shapeText = (s: readonly (number | null)[]): string => `[${s.map((d) => d ?? 'batch').join(', ')}]`;

/** Flat float32 data and the number of rows, or an error naming the input and the shape it expected. */
function flatten(spec: TensorSpec, value: BundleInput, where: string): { data: Float32Array; rows: number } {
  const per = sampleSize(spec.shape);
  let data: Float32Array;
  let shape: readonly number[] | null = null;
  if (value instanceof Float32Array) data = value;
  else if (Array.isArray(value)) data = Float32Array.from((value as unknown[]).flat(Infinity) as number[]);
  else if (value && typeof value === 'object' && 'data' in value && 'shape' in value) {
    data = value.data instanceof Float32Array ? value.data : Float32Array.from(value.data);
    shape = value.shape;
  } else throw new Error(`${where}: input '${spec.name}' must be a Float32Array, an array of numbers or { data, shape }, got ${typeof value}`);
  if (shape) {
    const want = spec.shape.slice(1);
    if (shape.length !== spec.shape.length || shape.slice(1).some((d, i) => want[i] !== null && d !== want[i])) {
      throw new Error(`${where}: input '${spec.name}' expects shape ${shapeText(spec.shape)}, got [${shape.join(', ')}]`);
    }
  }
  if (data.length === 0 || data.length % per !== 0) {
    throw new Error(`${where}: input '${spec.name}' expects shape ${shapeText(spec.shape)} (${per} values per sample), got ${data.length} values, which is not a whole number of samples`);
  }
  return { data, rows: data.length / per };
}

export class BundleModel {
  private readonly loaded = new Map<ProgramSpec, Promise<LoadedProgram>>();
  private disposed = false;

  constructor(readonly manifest: Manifest, private readonly engine: Engine, private readonly where: string, private readonly target: string) {}

  get inputs(): readonly TensorSpec[] {
    return this.manifest.inputs;
  }

  get outputs(): readonly TensorSpec[] {
    return this.manifest.outputs;
  }

  /** The target running this model ('node-cpu avx512', 'wasm', 'webgpu'). */
  get backend(): string {
    return this.engine.description;
  }

  private programFor(rows: number): ProgramSpec {
    const progs = this.manifest.programs.filter((p) => p.target === this.target && p.kind === 'predict').sort((a, b) => a.batch - b.batch);
    return [...progs].reverse().find((p) => p.batch <= rows) ?? progs[0];
  }

  private program(spec: ProgramSpec): Promise<LoadedProgram> {
    let p = this.loaded.get(spec);
    if (!p) {
      p = this.engine.load(spec);
      this.loaded.set(spec, p);
    }
    return p;
  }

  /** Runs the model on every row of the inputs; resolves to one { data, shape } per output name. */
  async predict(inputs: Readonly<Record<string, BundleInput>>): Promise<Record<string, BundleOutput>> {
    if (this.disposed) throw new Error(`${this.where}: predict after dispose()`);
    if (!inputs || typeof inputs !== 'object') throw new Error(`${this.where}: predict takes an object of inputs by name: { ${this.inputs.map((i) => `${i.name}: data`).join(', ')} }`);
    const names = this.inputs.map((i) => i.name);
    const unknown = Object.keys(inputs).filter((k) => !names.includes(k));
    if (unknown.length) throw new Error(`${this.where}: unknown input ${unknown.map((u) => `'${u}'`).join(', ')}; the model's inputs are ${names.map((n) => `'${n}'`).join(', ')}`);
    const flat = this.inputs.map((spec) => {
      if (!(spec.name in inputs)) throw new Error(`${this.where}: missing input '${spec.name}' (shape ${shapeText(spec.shape)})`);
      return flatten(spec, inputs[spec.name], this.where);
    });
    const rows = flat[0].rows;
    const mismatch = flat.findIndex((f) => f.rows !== rows);
    if (mismatch >= 0) throw new Error(`${this.where}: input '${this.inputs[mismatch].name}' has ${flat[mismatch].rows} samples, '${this.inputs[0].name}' has ${rows}`);
    const outs = this.outputs.map((o) => new Float32Array(rows * sampleSize(o.shape)));
    for (let start = 0; start < rows; ) {
      const spec = this.programFor(rows - start);
      const take = Math.min(spec.batch, rows - start);
      const prog = await this.program(spec);
      this.inputs.forEach((inp, i) => {
        const per = sampleSize(inp.shape);
        const slot = spec.inputs[inp.name];
        const chunk = flat[i].data.subarray(start * per, (start + take) * per);
        prog.write(slot, take === spec.batch ? chunk : padded(chunk, slot.size));
      });
      await prog.run();
      const results = await Promise.all(spec.outputs.map((s) => prog.read(s)));
      results.forEach((r: BundleArray, j) => {
        const per = sampleSize(this.outputs[j].shape);
        outs[j].set(Float32Array.from(r.subarray(0, take * per)), start * per);
      });
      start += take;
    }
    return Object.fromEntries(this.outputs.map((o, j) => [o.name, { data: outs[j], shape: [rows, ...(o.shape.slice(1) as number[])] }]));
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.engine.dispose();
  }
}

function padded(chunk: Float32Array, size: number): Float32Array {
  const out = new Float32Array(size);
  out.set(chunk);
  return out;
}
