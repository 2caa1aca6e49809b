/**
 * NumPy's .npy format (versions 1-3), enough for model inputs and outputs:
 * little-endian float32/float64/int32/int64/uint8/bool arrays in C order,
 * read as float32; written as float32 ('<f4').
 */

export interface NpyArray {
  readonly data: Float32Array;
  readonly shape: number[];
}

const MAGIC = '\x93NUMPY';

const READERS: Record<string, (b: ArrayBuffer, offset: number, n: number) => ArrayLike<number>> = {
  '<f4': (b, o, n) => new Float32Array(b.slice(o, o + 4 * n)),
  '<f8': (b, o, n) => new Float64Array(b.slice(o, o + 8 * n)),
  '<i4': (b, o, n) => new Int32Array(b.slice(o, o + 4 * n)),
  '<i8': (b, o, n) => Array.from(new BigInt64Array(b.slice(o, o + 8 * n)), Number),
  '|u1': (b, o, n) => new Uint8Array(b.slice(o, o + n)),
  '|b1': (b, o, n) => new Uint8Array(b.slice(o, o + n)),
};
const ITEM: Record<string, number> = { '<f4': 4, '<f8': 8, '<i4': 4, '<i8': 8, '|u1': 1, '|b1': 1 };

export function parseNpy(bytes: Uint8Array, name = 'array'): NpyArray {
  const text = (from: number, to: number): string => String.fromCharCode(...bytes.subarray(from, to));
  if (bytes.length < 10 || text(0, 6) !== MAGIC) throw new Error(`${name} is not a .npy file (no \\x93NUMPY magic)`);
  const major = bytes[6];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLen = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const start = major === 1 ? 10 : 12;
  const header = text(start, start + headerLen);
  const descr = /'descr':\s*'([^']+)'/.exec(header)?.[1];
  const fortran = /'fortran_order':\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape':\s*\(([^)]*)\)/.exec(header)?.[1];
  if (!descr || !fortran || shapeText === undefined) throw new Error(`${name}: unreadable .npy header ${header.trim()}`);
  if (fortran === 'True') throw new Error(`${name}: Fortran-order arrays are not supported; save it with np.ascontiguousarray`);
  const read = READERS[descr];
  if (!read) throw new Error(`${name}: dtype '${descr}' is not supported; supported: ${Object.keys(READERS).join(', ')}`);
  const shape = shapeText.split(',').map((s) => s.trim()).filter((s) => s).map(Number);
  const n = shape.reduce((p, q) => p * q, 1);
  const offset = bytes.byteOffset + start + headerLen;
  if (bytes.byteLength - start - headerLen < n * ITEM[descr]) throw new Error(`${name}: the file is truncated: shape (${shape.join(', ')}) needs ${n * ITEM[descr]} bytes of data, it has ${bytes.byteLength - start - headerLen}`);
  return { data: Float32Array.from(read(bytes.buffer as ArrayBuffer, offset, n)), shape };
}

export function toNpy(data: Float32Array, shape: readonly number[]): Uint8Array {
  const dims = shape.length === 1 ? `${shape[0]},` : shape.join(', ');
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': (${dims}), }`;
  // The data starts at a multiple of 64 bytes; the header ends with a newline.
  const total = Math.ceil((10 + header.length + 1) / 64) * 64;
  header = header.padEnd(total - 10 - 1, ' ') + '\n';
  const out = new Uint8Array(total + data.byteLength);
  out.set(Array.from(MAGIC, (c) => c.charCodeAt(0)), 0);
  out[6] = 1;
  out[7] = 0;
  new DataView(out.buffer).setUint16(8, header.length, true);
  out.set(Array.from(header, (c) => c.charCodeAt(0)), 10);
  out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), total);
  return out;
}
