/**
 * Writers of the standard Keras data formats, for tests: .npy (v1 header),
 * .npz (stored zip), Python-2 cPickle protocol 2 streams as the CIFAR
 * batches and numpy object arrays use them, tar.gz and zip archives.
 */
import { crc32, deflateRawSync, gzipSync } from 'node:zlib';

export function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let o = 0;
  for (const p of parts) (out.set(p, o), (o += p.length));
  return out;
}
const ascii = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'latin1'));
const u32 = (v: number): Uint8Array => { const b = new Uint8Array(4); new DataView(b.buffer).setUint32(0, v, true); return b; };
const u16 = (v: number): Uint8Array => { const b = new Uint8Array(2); new DataView(b.buffer).setUint16(0, v, true); return b; };

/** An .npy file as numpy 1.x/2.x writes it: header dict padded with spaces to a multiple of 64, ending in a newline. */
export function npy(descr: string, shape: readonly number[], body: Uint8Array): Uint8Array {
  const dict = `{'descr': '${descr}', 'fortran_order': False, 'shape': (${shape.join(', ')}${shape.length === 1 ? ',' : ''}), }`;
  const total = Math.ceil((10 + dict.length + 1) / 64) * 64;
  return concat([ascii('\x93NUMPY\x01\x00'), u16(total - 10), ascii(dict.padEnd(total - 11, ' ') + '\n'), body]);
}

export function int64s(values: readonly number[]): Uint8Array {
  const b = new Uint8Array(8 * values.length);
  values.forEach((v, i) => new DataView(b.buffer).setBigInt64(8 * i, BigInt(v), true));
  return b;
}

export function float64s(values: readonly number[]): Uint8Array {
  return new Uint8Array(Float64Array.from(values).buffer);
}

export type Py = number | string | Uint8Array | Py[] | { tuple: Py[] } | Map<string, Py> | { ndarray: { descr: string; shape: number[]; raw: Uint8Array | Py[] } } | null | boolean;

/** Python 2 cPickle protocol 2: strs as SHORT_BINSTRING/BINSTRING, numpy arrays by _reconstruct + BUILD. */
export function pickle2(value: Py): Uint8Array {
  const out: Uint8Array[] = [ascii('\x80\x02')];
  let memo = 0;
  const put = (): void => void out.push(ascii('q'), new Uint8Array([++memo & 0xff]));
  const str = (b: Uint8Array): void => void out.push(b.length < 256 ? concat([ascii('U'), new Uint8Array([b.length]), b]) : concat([ascii('T'), u32(b.length), b]));
  const go = (v: Py): void => {
    if (v === null) out.push(ascii('N'));
    else if (v === true || v === false) out.push(ascii(v ? '\x88' : '\x89'));
    else if (typeof v === 'number') out.push(v >= 0 && v < 256 ? concat([ascii('K'), new Uint8Array([v])]) : v >= 0 && v < 65536 ? concat([ascii('M'), u16(v)]) : concat([ascii('J'), (() => { const b = new Uint8Array(4); new DataView(b.buffer).setInt32(0, v, true); return b; })()]));
    else if (typeof v === 'string') str(ascii(v));
    else if (v instanceof Uint8Array) str(v);
    else if (Array.isArray(v)) {
      out.push(ascii(']'));
      put();
      if (v.length) {
        out.push(ascii('('));
        v.forEach(go);
        out.push(ascii('e'));
      }
    } else if (v instanceof Map) {
      out.push(ascii('}'));
      put();
      out.push(ascii('('));
      for (const [k, x] of v) (go(k), go(x));
      out.push(ascii('u'));
    } else if ('tuple' in v) {
      out.push(ascii('('));
      v.tuple.forEach(go);
      out.push(ascii('t'));
    } else {
      const { descr, shape, raw } = v.ndarray;
      out.push(ascii('cnumpy.core.multiarray\n_reconstruct\n'));
      put();
      out.push(ascii('cnumpy\nndarray\n'), ascii('K\x00\x85'), ascii('U\x01b\x87R'));
      put();
      out.push(ascii('('));
      go(1);
      go({ tuple: shape });
      out.push(ascii('cnumpy\ndtype\n'));
      go(descr.slice(1));
      out.push(ascii('K\x00K\x01\x87R('));
      go(3);
      go(descr[0]);
      out.push(ascii('NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK'), new Uint8Array([descr === '|O' ? 63 : 0]), ascii('tb'));
      go(false);
      if (raw instanceof Uint8Array) str(raw);
      else go(raw);
      out.push(ascii('tb'));
    }
  };
  go(value);
  out.push(ascii('.'));
  return concat(out);
}

/** An object array of lists (as imdb.npz's x_train) in .npy form: header '|O' then the pickled array. */
export function objectNpy(lists: readonly (readonly number[])[]): Uint8Array {
  return npy('|O', [lists.length], pickle2({ ndarray: { descr: '|O', shape: [lists.length], raw: lists.map((l) => [...l]) } }));
}

/** A zip archive (deflated members, or stored as numpy's savez writes them). */
export function zip(entries: readonly [string, Uint8Array][], deflate = false): Uint8Array {
  const locals: Uint8Array[] = [];
  const central: Uint8Array[] = [];
  let offset = 0;
  for (const [name, data] of entries) {
    const body = deflate ? new Uint8Array(deflateRawSync(data)) : data;
    const n = ascii(name);
    const common = concat([u16(20), u16(0), u16(deflate ? 8 : 0), u16(0), u16(0x21), u32(crc32(data)), u32(body.length), u32(data.length), u16(n.length), u16(0)]);
    const local = concat([u32(0x04034b50), common, n, body]);
    central.push(concat([u32(0x02014b50), u16(20), common, u16(0), u16(0), u16(0), u32(0), u32(offset), n]));
    locals.push(local);
    offset += local.length;
  }
  const dir = concat(central);
  return concat([...locals, dir, u32(0x06054b50), u16(0), u16(0), u16(entries.length), u16(entries.length), u32(dir.length), u32(offset), u16(0)]);
}

/** A gzip-compressed ustar archive; names ending in '/' are folders. */
export function tarGz(entries: readonly [string, Uint8Array][]): Uint8Array {
  const blocks: Uint8Array[] = [];
  for (const [name, data] of entries) {
    const h = new Uint8Array(512);
    const dir = name.endsWith('/');
    h.set(ascii(name), 0);
    h.set(ascii(dir ? '0000755\0' : '0000644\0'), 100);
    h.set(ascii('0000000\0'), 108);
    h.set(ascii('0000000\0'), 116);
    h.set(ascii(`${(dir ? 0 : data.length).toString(8).padStart(11, '0')}\0`), 124);
    h.set(ascii('00000000000\0'), 136);
    h[156] = dir ? 0x35 : 0x30;
    h.set(ascii('ustar\x0000'), 257);
    h.set(ascii('        '), 148);
    const sum = h.reduce((s, b) => s + b, 0);
    h.set(ascii(`${sum.toString(8).padStart(6, '0')}\0 `), 148);
    blocks.push(h);
    if (!dir) blocks.push(data, new Uint8Array((512 - (data.length % 512)) % 512));
  }
  blocks.push(new Uint8Array(1024));
  return new Uint8Array(gzipSync(concat(blocks)));
}
