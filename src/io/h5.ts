/**
 * h5wasm behind one door. HDF5 prints its error stack to stderr from inside
 * the wasm module; every call here runs with the module's stderr pointed at a
 * capture file, and a failure becomes ONE error that names the file and what
 * is wrong (the innermost HDF5 message, e.g. "truncated file: eof = 8000,
 * stored_eof = 15280"). Dataset sizes are checked from metadata before any
 * data is read.
 */
import { closeSync, ftruncateSync, openSync, readSync, fstatSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Tensor } from '../tensor.js';
import { checkElementCount } from './limits.js';

type H5Lib = typeof import('h5wasm/node');
export type H5File = InstanceType<H5Lib['File']>;
export type H5Group = InstanceType<H5Lib['Group']>;
export type H5Dataset = InstanceType<H5Lib['Dataset']>;

let lib: H5Lib | null = null;
let captureFd = -1;

/** Loaded on first use: most programs never touch HDF5. */
export async function h5(): Promise<H5Lib> {
  if (!lib) {
    const mod = await import('h5wasm/node');
    await mod.ready;
    lib = mod;
  }
  return lib;
}

interface Stream {
  nfd: number;
}

/** Runs `fn` with HDF5's stderr captured; returns its result or throws one clear error. */
export function quietly<T>(lib: H5Lib, what: string, fn: () => T): T {
  const fs = lib.FS as unknown as { getStream(fd: number): Stream | null };
  const stream = fs.getStream(2);
  if (captureFd < 0) captureFd = openSync(join(tmpdir(), `kiln-h5-diag-${process.pid}.txt`), 'w+');
  const saved = stream?.nfd;
  if (stream) stream.nfd = captureFd;
  try {
    return fn();
  } catch (e) {
    throw new Error(`${what}: ${diagnosis() ?? (e as Error).message}`);
  } finally {
    if (stream && saved !== undefined) stream.nfd = saved;
    ftruncateSync(captureFd, 0);
  }
}

/** The most specific line of HDF5's captured error stack, if any. */
function diagnosis(): string | null {
  const size = fstatSync(captureFd).size;
  if (size === 0) return null;
  const buf = Buffer.alloc(Math.min(size, 1 << 16));
  readSync(captureFd, buf, 0, buf.length, 0);
  const lines = buf.toString('utf8').split('\n').filter((l) => /^\s*#\d+:/.test(l));
  const last = lines[lines.length - 1];
  return last ? last.replace(/^\s*#\d+:.*?\(\):\s*/, '').trim() : null;
}

const HDF5_SIGNATURE = Buffer.from([0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a]);

export function isHdf5(head: Uint8Array): boolean {
  return head.length >= 8 && Buffer.from(head.subarray(0, 8)).equals(HDF5_SIGNATURE);
}

/** Opens an HDF5 file for reading; `label` names it in errors. */
export async function openForRead(path: string, label = path): Promise<{ lib: H5Lib; file: H5File }> {
  const l = await h5();
  const head = Buffer.alloc(8);
  const fd = openSync(path, 'r');
  try {
    readSync(fd, head, 0, 8, 0);
  } finally {
    closeSync(fd);
  }
  if (!isHdf5(head)) throw new Error(`${label} is not an HDF5 file (it does not start with the HDF5 signature)`);
  const file = quietly(l, `${label} is not a readable HDF5 file`, () => {
    const f = new l.File(path, 'r');
    if (f.file_id < 0n) throw new Error('HDF5 could not open it');
    // A damaged file can open and still fail on its first read: read the root now.
    f.keys();
    return f;
  });
  return { lib: l, file };
}

export async function openForWrite(path: string, label = path): Promise<{ lib: H5Lib; file: H5File }> {
  const l = await h5();
  const file = quietly(l, `cannot create ${label}`, () => {
    const f = new l.File(path, 'w');
    if (f.file_id < 0n) throw new Error('HDF5 could not create it');
    return f;
  });
  return { lib: l, file };
}

export function closeQuietly(lib: H5Lib, file: H5File): void {
  quietly(lib, 'closing an HDF5 file', () => file.close());
}

/** An attribute as a string or list of strings (JSON configs, layer_names); null when absent. */
export function readAttr(lib: H5Lib, node: H5Group | H5Dataset, name: string, label: string): unknown {
  return quietly(lib, `${label}: attribute '${name}' cannot be read`, () => {
    const attrs = node.attrs as Record<string, { value: unknown }>;
    if (!Object.hasOwn(attrs, name)) return null;
    const v = attrs[name].value;
    if (v instanceof Uint8Array) return Buffer.from(v).toString('utf8');
    return v;
  });
}

/** A list-of-strings attribute (layer_names, weight_names): empty lists come back as []. */
export function readNames(lib: H5Lib, node: H5Group, name: string, label: string): string[] | null {
  const v = readAttr(lib, node, name, label);
  if (v === null || v === undefined) return null;
  if (typeof v === 'string') return [v];
  if (Array.isArray(v)) return v.map(String);
  if (ArrayBuffer.isView(v) && (v as unknown as ArrayLike<unknown>).length === 0) return [];
  throw new Error(`${label}: attribute '${name}' should be a list of names, got ${typeof v}`);
}

export function getNode(lib: H5Lib, group: H5Group, path: string, label: string): H5Group | H5Dataset | null {
  return quietly(lib, `${label}: '${path}' cannot be read`, () => {
    const parts = path.split('/').filter((p) => p.length > 0);
    let node: unknown = group;
    for (const p of parts) {
      if (!(node instanceof lib.Group) || !node.keys().includes(p)) return null;
      node = node.get(p);
    }
    return node instanceof lib.Group || node instanceof lib.Dataset ? node : null;
  });
}

/** A float dataset as a tensor, its element count checked before the data is read. */
export function readTensor(lib: H5Lib, ds: H5Dataset, label: string): Tensor {
  return quietly(lib, `${label} cannot be read`, () => {
    const shape = ds.shape ?? [];
    checkElementCount(shape, label);
    const raw = ds.value as unknown;
    const v = typeof raw === 'number' ? [raw] : raw;
    if (!ArrayBuffer.isView(v) && !(Array.isArray(v) && v.every((x) => typeof x === 'number'))) throw new Error(`${label} does not hold numbers (data type '${String(ds.dtype)}')`);
    const values = v as unknown as ArrayLike<number | bigint>;
    const out = new Float32Array(values.length);
    for (let i = 0; i < values.length; i++) out[i] = Number(values[i]);
    if (out.length !== shape.reduce((a, b) => a * b, 1)) throw new Error(`${label} has ${out.length} values for shape [${shape.join(', ')}]`);
    return new Tensor(out, shape);
  });
}

export function writeTensor(lib: H5Lib, group: H5Group, name: string, t: { value: Float32Array; shape: readonly number[] }, label: string): void {
  quietly(lib, `${label}: cannot write '${name}'`, () => {
    group.create_dataset({ name, data: t.value, shape: [...t.shape], dtype: '<f' });
  });
}

/** A group at `path` under `group`, created with its parents as needed. */
export function ensureGroup(lib: H5Lib, group: H5Group, path: string, label: string): H5Group {
  return quietly(lib, `${label}: cannot create group '${path}'`, () => {
    let g = group;
    for (const p of path.split('/').filter((x) => x.length > 0)) {
      g = g.keys().includes(p) ? (g.get(p) as H5Group) : g.create_group(p);
    }
    return g;
  });
}
