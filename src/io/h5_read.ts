/**
 * Reading HDF5 files, safely: a worker thread (h5_worker_source.ts) parses
 * the file into a plain snapshot; a file that makes the HDF5 library abort
 * or run longer than readTimeoutMs costs that worker, and the caller gets
 * one clear error naming the file. Readers then work on the snapshot:
 * groups, attributes, and datasets whose sizes were checked before reading.
 */
import { Worker } from 'node:worker_threads';
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { Tensor } from '../tensor.js';
import { H5_WORKER_SOURCE } from './h5_worker_source.js';
import { isHdf5 } from './h5.js';
import { MAX_DIMENSION, MAX_WEIGHT_ELEMENTS } from './limits.js';

export type AttrValue = string | number | boolean | (string | number)[] | null | { error: string };

export interface H5Dataset {
  readonly kind: 'dataset';
  readonly attrs: Readonly<Record<string, AttrValue>>;
  readonly shape: readonly number[];
  readonly data: Float32Array | null;
  /** Why `data` is null: too large, not numeric, damaged. */
  readonly problem: string | null;
}

export interface H5Group {
  readonly kind: 'group';
  readonly attrs: Readonly<Record<string, AttrValue>>;
  readonly children: Readonly<Record<string, H5Group | H5Dataset>>;
}

/** Longest a file may take to parse: 5 s, plus 1 s per 4 MiB (HDF5 reads a healthy file far faster). */
export function readTimeoutMs(bytes: number): number {
  return 5000 + Math.ceil(bytes / 2 ** 22) * 1000;
}
const LIMITS = { nodes: 200_000, depth: 32, dimension: MAX_DIMENSION, elements: MAX_WEIGHT_ELEMENTS, totalElements: 2 * MAX_WEIGHT_ELEMENTS };

interface Pending {
  resolve(g: H5Group): void;
  reject(e: Error): void;
  timer: NodeJS.Timeout;
}

let worker: Worker | null = null;
let workerCount = 0;
let nextId = 0;
const pending = new Map<number, Pending>();

function failAll(reason: string): void {
  for (const [id, p] of pending) {
    clearTimeout(p.timer);
    p.reject(new Error(reason));
    pending.delete(id);
  }
}

function getWorker(): Worker {
  if (worker) return worker;
  const h5wasmUrl = import.meta.resolve('h5wasm/node');
  // The worker captures its own console and HDF5's stderr; nothing it prints reaches the process's stdio.
  const w = new Worker(H5_WORKER_SOURCE, { eval: true, workerData: { h5wasmUrl, limits: LIMITS, id: ++workerCount } });
  w.on('message', (msg: { id: number; ok: boolean; snapshot?: H5Group; error?: string }) => {
    const p = pending.get(msg.id);
    if (!p) return;
    pending.delete(msg.id);
    clearTimeout(p.timer);
    if (msg.ok) p.resolve(msg.snapshot!);
    else p.reject(new Error(msg.error ?? 'unknown HDF5 error'));
    if (pending.size === 0) w.unref();
  });
  w.on('error', (e) => {
    if (worker === w) worker = null;
    failAll(`the HDF5 reader failed (${e.message})`);
  });
  w.on('exit', () => {
    if (worker === w) worker = null;
    failAll('the HDF5 library aborted reading it (the file is damaged)');
  });
  w.unref();
  worker = w;
  return w;
}

/** The whole file as a snapshot; `label` names it in errors. */
export async function readH5(path: string, label = path): Promise<H5Group> {
  const head = Buffer.alloc(8);
  const fd = openSync(path, 'r');
  try {
    readSync(fd, head, 0, 8, 0);
  } finally {
    closeSync(fd);
  }
  if (!isHdf5(head)) throw new Error(`${label} is not an HDF5 file (it does not start with the HDF5 signature)`);
  const timeout = readTimeoutMs(statSync(path).size);
  const w = getWorker();
  const id = nextId++;
  w.ref();
  try {
    return await new Promise<H5Group>((resolve, reject) => {
      const timer = setTimeout(() => {
        pending.delete(id);
        if (worker === w) worker = null;
        void w.terminate();
        reject(new Error(`took longer than ${timeout / 1000} s to read (the file is damaged or the HDF5 library loops on it)`));
      }, timeout);
      pending.set(id, { resolve, reject, timer });
      w.postMessage({ id, file: path });
    });
  } catch (e) {
    throw new Error(`${label} is not a readable HDF5 file: ${(e as Error).message}`);
  }
}

export const isGroup = (n: unknown): n is H5Group => !!n && typeof n === 'object' && (n as H5Group).kind === 'group';
export const isDataset = (n: unknown): n is H5Dataset => !!n && typeof n === 'object' && (n as H5Dataset).kind === 'dataset';

/** The node at a slash-separated path under `group`, or null. */
export function child(group: H5Group, path: string): H5Group | H5Dataset | null {
  let node: H5Group | H5Dataset = group;
  for (const part of path.split('/').filter((p) => p.length > 0 && p !== '.')) {
    if (!isGroup(node) || !Object.hasOwn(node.children, part)) return null;
    node = node.children[part];
  }
  return node;
}

export function attr(node: H5Group | H5Dataset, name: string, label: string): AttrValue | undefined {
  if (!Object.hasOwn(node.attrs, name)) return undefined;
  const v = node.attrs[name];
  if (v && typeof v === 'object' && !Array.isArray(v)) throw new Error(`${label}: attribute '${name}' cannot be read (${v.error})`);
  return v;
}

/** A list-of-names attribute (layer_names, weight_names); null when absent; an empty numeric array is []. */
export function names(node: H5Group, name: string, label: string): string[] | null {
  const v = attr(node, name, label);
  if (v === undefined || v === null) return null;
  if (typeof v === 'string') return [v];
  if (Array.isArray(v)) {
    if (v.some((x) => typeof x !== 'string')) {
      if (v.length === 0 || v.every((x) => typeof x === 'number')) return v.length === 0 ? [] : fail(`${label}: attribute '${name}' should list names, it holds numbers`);
    }
    return v.map(String);
  }
  return fail(`${label}: attribute '${name}' should list names, got ${typeof v}`);
}

function fail(message: string): never {
  throw new Error(message);
}

export function tensorOf(ds: H5Dataset, label: string): Tensor {
  if (!ds.data) throw new Error(`${label}: ${ds.problem ?? 'no data'}`);
  return new Tensor(ds.data, [...ds.shape]);
}
