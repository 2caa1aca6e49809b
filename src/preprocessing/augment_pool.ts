/**
 * Worker threads for image augmentation (and, for flowFromDirectory, file
 * decoding and resizing), so that a generator's batches are produced off the
 * training thread. The workers run the very functions of affine.ts and
 * image_codec.ts, from their source text. A worker keeps the process alive
 * only while it has work.
 */
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import type { FillMode, ImageShape, TransformParams } from './affine.js';
import { AFFINE_FUNCTIONS } from './affine.js';
import type { Interpolation } from './image_codec.js';
import { CODEC_FUNCTIONS } from './image_codec.js';

/** One image to produce: pixels already in memory, or a file to load first. */
export type SampleJob = { readonly pixels: Float32Array; readonly params: TransformParams } | { readonly path: string; readonly params: TransformParams };

export interface BatchJob {
  readonly shape: ImageShape;
  readonly fillMode: FillMode;
  readonly cval: number;
  readonly mode?: 'L' | 'RGB' | 'RGBA';
  readonly target?: readonly [number, number] | null;
  readonly interpolation?: Interpolation;
  readonly samples: readonly SampleJob[];
}

const require = createRequire(import.meta.url);
const LIBS = { png: require.resolve('pngjs'), jpeg: require.resolve('jpeg-js') };

const SOURCE = `
const { parentPort } = require('node:worker_threads');
const { readFileSync } = require('node:fs');
${[...AFFINE_FUNCTIONS, ...CODEC_FUNCTIONS].map((f) => f.toString()).join('\n')}
let libs = null;
parentPort.on('message', ({ id, job, paths }) => {
  try {
    const outs = job.samples.map((s) => {
      let x = s.pixels;
      if (!x) {
        libs = libs || { PNG: require(paths.png).PNG, jpeg: require(paths.jpeg) };
        x = imageToFloats(loadImageFile(new Uint8Array(readFileSync(s.path)), s.path, libs, job.mode, job.target, job.interpolation), job.shape.channelsFirst);
      }
      return applyTransformTo(x, job.shape, s.params, job.fillMode, job.cval);
    });
    parentPort.postMessage({ id, outs }, outs.map((o) => o.buffer));
  } catch (e) {
    parentPort.postMessage({ id, error: e.message });
  }
});
`;

interface Pending {
  resolve(outs: Float32Array[]): void;
  reject(e: Error): void;
}

class PoolWorker {
  readonly worker = new Worker(SOURCE, { eval: true });
  readonly pending = new Map<number, Pending>();

  constructor() {
    this.worker.unref();
    this.worker.on('message', (m: { id: number; outs?: Float32Array[]; error?: string }) => {
      const p = this.pending.get(m.id)!;
      this.pending.delete(m.id);
      if (!this.pending.size) this.worker.unref();
      if (m.error !== undefined) p.reject(new Error(m.error));
      else p.resolve(m.outs!);
    });
    this.worker.on('error', (e) => {
      for (const p of this.pending.values()) p.reject(e);
      this.pending.clear();
    });
  }
}

let nextId = 0;

/** A pool of augmentation workers; `run` splits a batch across them and returns the images in order. */
export class AugmentPool {
  private readonly workers: PoolWorker[] = [];
  private turn = 0;

  get size(): number {
    return this.workers.length;
  }

  grow(n: number): void {
    while (this.workers.length < n) this.workers.push(new PoolWorker());
  }

  private send(w: PoolWorker, job: BatchJob): Promise<Float32Array[]> {
    const id = nextId++;
    w.worker.ref();
    const transfer = job.samples.flatMap((s) => ('pixels' in s ? [s.pixels.buffer as ArrayBuffer] : []));
    return new Promise((resolve, reject) => {
      w.pending.set(id, { resolve, reject });
      w.worker.postMessage({ id, job, paths: LIBS }, transfer);
    });
  }

  async run(job: BatchJob): Promise<Float32Array[]> {
    const parts = Math.min(this.workers.length, job.samples.length);
    if (!parts) return [];
    const per = Math.ceil(job.samples.length / parts);
    const chunks: Promise<Float32Array[]>[] = [];
    for (let i = 0; i < job.samples.length; i += per) {
      const w = this.workers[this.turn++ % this.workers.length];
      chunks.push(this.send(w, { ...job, samples: job.samples.slice(i, i + per) }));
    }
    return (await Promise.all(chunks)).flat();
  }

  /** Stops every worker (pending batches fail). */
  async close(): Promise<void> {
    await Promise.all(this.workers.splice(0).map((w) => w.worker.terminate()));
  }
}

/** The process-wide pool, grown to `workers` threads. */
export const sharedPool = new AugmentPool();
