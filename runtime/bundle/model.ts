/**
 * A loaded bundle: predict feeds named inputs through the batch-size
 * programs (the largest that fits the rows left, the smallest padded for a
 * short tail) and returns named outputs. Inputs are checked against the
 * manifest by name and shape before anything runs.
 */
import { type BundleArray, type Engine, type LoadedProgram, filled } from './engine.js';
import { type BufferSlot, type Manifest, type ProgramSpec, type TensorSpec, sampleSize } from './manifest.js';

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
  /** Calls run one at a time: a program's arena holds one call's inputs and outputs (a service may call predict concurrently). */
  private queue: Promise<unknown> = Promise.resolve();

  private exclusive<T>(f: () => Promise<T>): Promise<T> {
    const next = this.queue.then(f, f);
    this.queue = next.catch(() => undefined);
    return next;
  }

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
      // A train program's optimizer state starts from the manifest's values (slots at zero, the counter, lr).
      p = this.engine.load(spec).then((prog) => {
        for (const s of spec.state ?? []) prog.write(s.slot, filled(s.slot.dtype, s.slot.size, s.init));
        return prog;
      });
      this.loaded.set(spec, p);
    }
    return p;
  }

  /**
   * One training step on `inputs` and `targets` (by output name), as Keras's
   * train_on_batch: updates the weights every program of the model reads and
   * resolves to the loss and metrics by name (manifest.train.metricsNames).
   * Needs a bundle compiled with --train; at most its train batch of rows.
   */
  trainOnBatch(inputs: Readonly<Record<string, BundleInput>>, targets: Readonly<Record<string, BundleInput>>): Promise<Record<string, number>> {
    return this.exclusive(() => this.trainNow(inputs, targets));
  }

  private async trainNow(inputs: Readonly<Record<string, BundleInput>>, targets: Readonly<Record<string, BundleInput>>): Promise<Record<string, number>> {
    if (this.disposed) throw new Error(`${this.where}: trainOnBatch after dispose()`);
    const train = this.manifest.train;
    const spec = this.manifest.programs.find((p) => p.target === this.target && p.kind === 'train');
    if (!train || !spec) throw new Error(`${this.where} has no train step${train ? ` for ${this.target}` : ''}: compile it with kiln compile --train`);
    const xs = this.named('input', this.inputs, inputs);
    const ys = this.named('target', this.outputs, targets);
    const rows = xs[0].rows;
    const off = [...xs, ...ys].find((f) => f.rows !== rows);
    if (off) throw new Error(`${this.where}: trainOnBatch got ${rows} input samples and ${off.rows} in '${off.name}'`);
    if (rows > spec.batch) throw new Error(`${this.where}: trainOnBatch takes at most ${spec.batch} samples (the bundle's train batch), got ${rows}`);
    const prog = await this.program(spec);
    const put = (slot: BufferSlot | undefined, data: Float32Array): void => prog.write(slot!, rows === spec.batch ? data : padded(data, slot!.size));
    xs.forEach((x) => put(spec.inputs[x.name], x.data));
    ys.forEach((y) => put(spec.targets?.[y.name], y.data));
    // Padding rows weigh nothing: the loss and metrics average over the real ones.
    for (const o of this.outputs) put(spec.sampleWeights?.[o.name], new Float32Array(rows).fill(1));
    await prog.run();
    const outs = await Promise.all(spec.outputs.map((s) => prog.read(s)));
    return Object.fromEntries(train.metricsNames.map((n, i) => [n, outs[i][0]]));
  }

  /** The current weights by name (after train steps, the trained ones). */
  getWeights(): Promise<Record<string, BundleOutput>> {
    return this.exclusive(() => this.weightsNow());
  }

  private async weightsNow(): Promise<Record<string, BundleOutput>> {
    const bytes = await this.engine.weights();
    return Object.fromEntries(this.manifest.weights.entries.map((w) => {
      const size = w.shape.reduce((p, d) => p * d, 1);
      return [w.name, { data: new Float32Array(bytes.buffer.slice(bytes.byteOffset + w.offset, bytes.byteOffset + w.offset + 4 * size)), shape: w.shape }];
    }));
  }

  /** Every tensor of `specs` from `values` by name, checked. */
  private named(what: string, specs: readonly TensorSpec[], values: Readonly<Record<string, BundleInput>>): { name: string; data: Float32Array; rows: number }[] {
    if (!values || typeof values !== 'object') throw new Error(`${this.where}: ${what}s must be an object by name: { ${specs.map((s) => `${s.name}: data`).join(', ')} }`);
    const names = specs.map((s) => s.name);
    const unknown = Object.keys(values).filter((k) => !names.includes(k));
    if (unknown.length) throw new Error(`${this.where}: unknown ${what} ${unknown.map((u) => `'${u}'`).join(', ')}; the model's ${what}s are ${names.map((n) => `'${n}'`).join(', ')}`);
    return specs.map((s) => {
      if (!(s.name in values)) throw new Error(`${this.where}: missing ${what} '${s.name}' (shape ${shapeText(s.shape)})`);
      return { name: s.name, ...flatten(s, values[s.name], this.where) };
    });
  }

  /** Runs the model on every row of the inputs; resolves to one { data, shape } per output name. */
  predict(inputs: Readonly<Record<string, BundleInput>>): Promise<Record<string, BundleOutput>> {
    return this.exclusive(() => this.predictNow(inputs));
  }

  private async predictNow(inputs: Readonly<Record<string, BundleInput>>): Promise<Record<string, BundleOutput>> {
    if (this.disposed) throw new Error(`${this.where}: predict after dispose()`);
    const flat = this.named('input', this.inputs, inputs);
    const rows = flat[0].rows;
    const off = flat.find((f) => f.rows !== rows);
    if (off) throw new Error(`${this.where}: input '${off.name}' has ${off.rows} samples, '${flat[0].name}' has ${rows}`);
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
