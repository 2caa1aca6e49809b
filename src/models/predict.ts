/**
 * The batching loop of predict: a compiled inference program of a fixed
 * batch size run over n samples, one batch in flight while the next is
 * written (on WebGPU the device never waits for the host), a partial last
 * batch zero-padded through the same program.
 */
import { sizeOf } from '../../ir/dtype.js';
import type { CompiledGraph } from '../../runtime/executor.js';
import { Tensor, type TypedArray } from '../tensor.js';
import { paramNames } from '../training/standardize.js';

/**
 * The batch size of the program that runs `n` samples in batches of at most
 * `batchSize`: batchSize itself once n reaches it, else n rounded up to a
 * power of two, so small inputs of every size share a few programs
 * (1, 2, 4, ..., batchSize) and run padded in at most twice the work.
 */
export function programBatch(n: number, batchSize: number): number {
  if (n >= batchSize) return batchSize;
  return Math.min(batchSize, 2 ** Math.ceil(Math.log2(Math.max(1, n))));
}

/** Runs `program` (batch `batch`) over `inputs` (same sample count); one tensor per output of shape [n, ...outShapes[i]]. */
export async function runBatches(program: CompiledGraph, batch: number, inputs: readonly Tensor[], outShapes: readonly (readonly number[])[]): Promise<Tensor[]> {
  const n = inputs[0].shape[0];
  const names = paramNames('input', inputs.length);
  const rowsIn = inputs.map((x) => sizeOf(x.shape.slice(1)));
  const data = inputs.map((x) => (x.data instanceof Float32Array ? x.data : Float32Array.from(x.data)));
  const rowsOut = outShapes.map((s) => sizeOf(s));
  // One full batch: the run's own copies are the results (a large output is not allocated and copied twice).
  if (n === batch) {
    data.forEach((d, i) => program.write(names[i], d));
    const ys = await program.run();
    return ys.map((y, i) => new Tensor(y instanceof Float32Array ? y : Float32Array.from(y), [n, ...outShapes[i]]));
  }
  const outs = rowsOut.map((r) => new Float32Array(n * r));
  let inFlight: { start: number; count: number; result: Promise<TypedArray[]> } | null = null;
  const collect = async (f: NonNullable<typeof inFlight>): Promise<void> => {
    const ys = await f.result;
    ys.forEach((y, i) => outs[i].set(y.subarray(0, f.count * rowsOut[i]), f.start * rowsOut[i]));
  };
  for (let start = 0; start < n; start += batch) {
    const count = Math.min(batch, n - start);
    data.forEach((d, i) => {
      const chunk = d.subarray(start * rowsIn[i], (start + count) * rowsIn[i]);
      if (count === batch) program.write(names[i], chunk);
      else {
        const padded = new Float32Array(batch * rowsIn[i]);
        padded.set(chunk);
        program.write(names[i], padded);
      }
    });
    const started = { start, count, result: program.run() };
    if (inFlight) await collect(inFlight);
    inFlight = started;
  }
  if (inFlight) await collect(inFlight);
  return outs.map((o, i) => new Tensor(o, [n, ...outShapes[i]]));
}

/** Concatenates tensors of equal trailing shape along the batch axis. */
export function concatRows(parts: readonly Tensor[]): Tensor {
  const rows = parts.reduce((n, p) => n + p.shape[0], 0);
  const out = new Float32Array(parts.reduce((n, p) => n + p.data.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p.data, at);
    at += p.data.length;
  }
  return new Tensor(out, [rows, ...parts[0].shape.slice(1)]);
}
