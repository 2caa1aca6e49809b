/**
 * h5wasm for writing files (reading goes through a worker: h5_read.ts).
 * HDF5 prints its error stack to stderr from inside the wasm module; every
 * call here runs with the module's stderr pointed at a capture file, and a
 * failure becomes ONE error that names the file and what is wrong (the
 * innermost HDF5 message).
 */
import { ftruncateSync, fstatSync, openSync, readSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

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
  if (captureFd < 0) {
    const path = join(tmpdir(), `kiln-h5-diag-${process.pid}.txt`);
    captureFd = openSync(path, 'w+');
    // The open descriptor keeps the file; its name goes at once (where the OS allows), so nothing is left behind.
    try {
      unlinkSync(path);
    } catch {
      // Windows keeps open files' names; the file stays empty between calls.
    }
  }
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
