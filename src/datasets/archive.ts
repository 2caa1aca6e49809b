/**
 * Archive readers for getFile and the dataset loaders: tar (plain or gzip),
 * and zip (stored or deflated, CRC-checked). Extraction refuses member paths
 * that would land outside the target folder.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, resolve, sep } from 'node:path';
import { crc32, gunzipSync, inflateRawSync } from 'node:zlib';

export interface ArchiveEntry {
  readonly name: string;
  readonly directory: boolean;
  readonly data: Uint8Array;
}

function cString(b: Uint8Array): string {
  const end = b.indexOf(0);
  return Buffer.from(end < 0 ? b : b.subarray(0, end)).toString('utf8');
}

/** Members of a tar archive (ustar, GNU long names, pax paths); gzip-compressed input is inflated first. */
export function readTar(input: Uint8Array, what: string): ArchiveEntry[] {
  let bytes = input;
  if (bytes[0] === 0x1f && bytes[1] === 0x8b) {
    try {
      bytes = new Uint8Array(gunzipSync(bytes));
    } catch (e) {
      throw new Error(`${what}: corrupt gzip data (${(e as Error).message})`);
    }
  }
  const entries: ArchiveEntry[] = [];
  let longName: string | null = null;
  for (let p = 0; p + 512 <= bytes.length; ) {
    const header = bytes.subarray(p, p + 512);
    if (header.every((b) => b === 0)) break;
    const sum = header.reduce((s, b, i) => s + (i >= 148 && i < 156 ? 32 : b), 0);
    if (sum !== parseInt(cString(header.subarray(148, 156)).trim(), 8)) throw new Error(`${what}: not a tar archive (bad header checksum at byte ${p})`);
    const size = parseInt(cString(header.subarray(124, 136)).trim() || '0', 8);
    const type = String.fromCharCode(header[156] || 0x30);
    if (p + 512 + size > bytes.length) throw new Error(`${what}: truncated tar archive (member at byte ${p} needs ${size} bytes)`);
    const data = bytes.subarray(p + 512, p + 512 + size);
    p += 512 + Math.ceil(size / 512) * 512;
    const prefix = cString(header.subarray(345, 500));
    let name = longName ?? (prefix ? `${prefix}/` : '') + cString(header.subarray(0, 100));
    longName = null;
    if (type === 'L') longName = cString(data);
    else if (type === 'x') {
      const path = /\d+ path=([^\n]*)\n/.exec(Buffer.from(data).toString('utf8'));
      if (path) longName = path[1];
    } else if (type === '0' || type === '5' || type === '7') {
      if (type === '5' && !name.endsWith('/')) name += '/';
      entries.push({ name, directory: type === '5', data });
    }
  }
  return entries;
}

/** Members of a zip archive, from its central directory. */
export function readZip(bytes: Uint8Array, what: string): ArchiveEntry[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let eocd = -1;
  for (let p = bytes.length - 22; p >= Math.max(0, bytes.length - 22 - 65535); p--) {
    if (view.getUint32(p, true) === 0x06054b50) {
      eocd = p;
      break;
    }
  }
  if (eocd < 0) throw new Error(`${what}: not a zip archive, or truncated (no end-of-central-directory record)`);
  const count = view.getUint16(eocd + 10, true);
  let p = view.getUint32(eocd + 16, true);
  const entries: ArchiveEntry[] = [];
  for (let i = 0; i < count; i++) {
    if (p + 46 > bytes.length || view.getUint32(p, true) !== 0x02014b50) throw new Error(`${what}: corrupt zip central directory (entry ${i})`);
    const method = view.getUint16(p + 10, true);
    const crc = view.getUint32(p + 16, true);
    const packed = view.getUint32(p + 20, true);
    const size = view.getUint32(p + 24, true);
    const nameLen = view.getUint16(p + 28, true);
    const extraLen = view.getUint16(p + 30, true);
    const commentLen = view.getUint16(p + 32, true);
    const local = view.getUint32(p + 42, true);
    const name = Buffer.from(bytes.subarray(p + 46, p + 46 + nameLen)).toString('utf8');
    p += 46 + nameLen + extraLen + commentLen;
    if (local + 30 > bytes.length || view.getUint32(local, true) !== 0x04034b50) throw new Error(`${what}: corrupt zip member '${name}'`);
    const start = local + 30 + view.getUint16(local + 26, true) + view.getUint16(local + 28, true);
    if (start + packed > bytes.length) throw new Error(`${what}: truncated zip member '${name}' (needs ${packed} bytes)`);
    const raw = bytes.subarray(start, start + packed);
    if (method !== 0 && method !== 8) throw new Error(`${what}: zip member '${name}' uses compression method ${method}; only stored (0) and deflate (8) are supported`);
    let data: Uint8Array;
    try {
      data = method === 0 ? raw : new Uint8Array(inflateRawSync(raw));
    } catch (e) {
      throw new Error(`${what}: corrupt zip member '${name}' (${(e as Error).message})`);
    }
    if (data.length !== size || crc32(data) !== crc) throw new Error(`${what}: zip member '${name}' fails its CRC/size check (corrupt or truncated)`);
    entries.push({ name, directory: name.endsWith('/'), data });
  }
  return entries;
}

export type ArchiveFormat = 'auto' | 'tar' | 'zip';

/** Extracts the archive at `path` into `dir`; 'auto' tries tar then zip, as Keras. Returns whether it was an archive. */
export function extractArchive(path: string, dir: string, format: ArchiveFormat | readonly ('tar' | 'zip')[] = 'auto'): boolean {
  const formats = format === 'auto' ? ['tar', 'zip'] : typeof format === 'string' ? [format] : format;
  const bytes = new Uint8Array(readFileSync(path));
  for (const f of formats) {
    const isZip = bytes.length >= 4 && new DataView(bytes.buffer, bytes.byteOffset).getUint32(0, true) === 0x04034b50;
    const isTar = !isZip && (bytes[0] === 0x1f && bytes[1] === 0x8b || (bytes.length >= 512 && cString(bytes.subarray(257, 262)) === 'ustar'));
    if ((f === 'zip' && !isZip) || (f === 'tar' && !isTar)) continue;
    const entries = f === 'zip' ? readZip(bytes, path) : readTar(bytes, path);
    const root = resolve(dir);
    for (const e of entries) {
      const target = resolve(root, e.name);
      if (target !== root && !target.startsWith(root + sep)) throw new Error(`${path}: archive member '${e.name}' would be written outside ${root}`);
      if (e.directory) mkdirSync(target, { recursive: true });
      else {
        mkdirSync(dirname(target), { recursive: true });
        writeFileSync(target, e.data);
      }
    }
    return true;
  }
  return false;
}

