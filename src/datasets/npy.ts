/**
 * numpy's .npy and .npz files: the header (magic, version, a Python dict
 * literal with descr, fortran_order, shape), then raw data in C order, or a
 * pickle for object arrays (imdb and reuters hold lists of word indices).
 */
import { readFileSync } from 'node:fs';
import { type NdArray, unpickle } from './pickle.js';
import { readZip } from './archive.js';

/** Parses one .npy file. */
export function parseNpy(bytes: Uint8Array, what: string): NdArray {
  const magic = Buffer.from(bytes.subarray(0, 6)).toString('latin1');
  if (magic !== '\x93NUMPY') throw new Error(`${what}: not a numpy .npy file (magic ${JSON.stringify(magic)})`);
  const major = bytes[6];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLen = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const start = (major === 1 ? 10 : 12) + headerLen;
  if (start > bytes.length) throw new Error(`${what}: truncated .npy header`);
  const header = Buffer.from(bytes.subarray(major === 1 ? 10 : 12, start)).toString('latin1');
  const descr = /'descr':\s*'([^']*)'/.exec(header)?.[1];
  const fortran = /'fortran_order':\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape':\s*\(([^)]*)\)/.exec(header)?.[1];
  if (descr === undefined || fortran === undefined || shapeText === undefined) throw new Error(`${what}: unreadable .npy header ${JSON.stringify(header.trim())}`);
  const shape = shapeText.split(',').map((s) => s.trim()).filter((s) => s).map(Number);
  const body = bytes.subarray(start);
  if (descr === '|O') {
    const arr = unpickle(body, what) as NdArray;
    if (arr?.kind !== 'ndarray') throw new Error(`${what}: the pickled payload is not a numpy array`);
    return arr;
  }
  return { kind: 'ndarray', shape, dtype: descr, fortranOrder: fortran === 'True', data: body };
}

/** The arrays of a .npz file (a zip of .npy files), by name without the .npy suffix. */
export function loadNpz(path: string): Map<string, NdArray> {
  const entries = readZip(new Uint8Array(readFileSync(path)), path);
  return new Map(entries.filter((e) => e.name.endsWith('.npy')).map((e) => [e.name.slice(0, -4), parseNpy(e.data, `${path}:${e.name}`)]));
}

/** The named array of an npz, or an error listing what the file holds. */
export function npzArray(arrays: Map<string, NdArray>, name: string, path: string): NdArray {
  const a = arrays.get(name);
  if (!a) throw new Error(`${path} holds no array '${name}' (it holds: ${[...arrays.keys()].join(', ') || 'nothing'}); is it the right file?`);
  return a;
}
