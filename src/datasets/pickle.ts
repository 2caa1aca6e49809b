/**
 * A Python pickle reader for the data files Keras's datasets ship: dicts,
 * lists, tuples, strings, bytes, numbers and numpy arrays (protocols 0-5 as
 * Python 2's cPickle and Python 3 write them). Only numpy's array
 * reconstruction, dtype and `_codecs.encode` are understood as globals; any
 * other global is refused, so loading a file never runs code from it.
 */

/** A numpy array as pickled: dtype string as numpy spells it ('u1', '<i8', 'O'), and raw bytes or objects. */
export interface NdArray {
  readonly kind: 'ndarray';
  shape: number[];
  dtype: string;
  fortranOrder: boolean;
  data: Uint8Array | unknown[];
}

interface DType {
  readonly kind: 'dtype';
  name: string;
  order: string;
}

type Global = 'reconstruct' | 'ndarray' | 'dtype' | 'encode' | 'scalar';

const GLOBALS: Record<string, Global> = {
  'numpy.core.multiarray _reconstruct': 'reconstruct',
  'numpy._core.multiarray _reconstruct': 'reconstruct',
  'numpy.core.multiarray scalar': 'scalar',
  'numpy._core.multiarray scalar': 'scalar',
  'numpy ndarray': 'ndarray',
  'numpy dtype': 'dtype',
  '_codecs encode': 'encode',
};

const MARK = Symbol('mark');

/** The dtype with its byte order, as npy headers spell it ('<i8', '|u1', '|O'). */
export function dtypeDescr(d: { name: string; order?: string }): string {
  if (/^[<>|=]/.test(d.name)) return d.name;
  if (d.name.startsWith('O')) return '|O';
  return `${!d.order || d.order === '=' ? '<' : d.order}${d.name}`;
}

function latin1(b: Uint8Array): string {
  return Buffer.from(b).toString('latin1');
}

/** Unpickles `bytes`; `what` names the file in errors. Dicts come back as Maps (bytes keys as latin-1 strings). */
export function unpickle(bytes: Uint8Array, what: string): unknown {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const stack: unknown[] = [];
  const memo = new Map<number, unknown>();
  let p = 0;
  const fail = (msg: string): never => {
    throw new Error(`${what}: not a pickle Kiln can read (${msg} at byte ${p})`);
  };
  const take = (n: number): Uint8Array => {
    if (p + n > bytes.length) fail('truncated');
    return bytes.subarray((p += n) - n, p);
  };
  const line = (): string => {
    const end = bytes.indexOf(10, p);
    if (end < 0) fail('truncated');
    const s = latin1(bytes.subarray(p, end));
    p = end + 1;
    return s;
  };
  const popMark = (): unknown[] => {
    const i = stack.lastIndexOf(MARK);
    if (i < 0) fail('no mark');
    return stack.splice(i).slice(1);
  };
  const u32 = (): number => (p += 4, view.getUint32(p - 4, true));
  const global = (name: string): Global => GLOBALS[name] ?? fail(`global '${name}' is not allowed`);
  const call = (fn: unknown, args: unknown[]): unknown => {
    if (fn === 'reconstruct') return { kind: 'ndarray', shape: [0], dtype: 'u1', fortranOrder: false, data: new Uint8Array(0) } satisfies NdArray;
    if (fn === 'dtype') return { kind: 'dtype', name: text(args[0]), order: '' } satisfies DType;
    if (fn === 'encode') return new Uint8Array(Buffer.from(String(args[0]), 'latin1'));
    if (fn === 'scalar') return scalarValue(args[0] as DType, args[1] as Uint8Array | string);
    return fail(`cannot call ${String(fn)}`);
  };
  for (;;) {
    if (p >= bytes.length) fail('ends without STOP');
    const op = String.fromCharCode(bytes[p++]);
    switch (op) {
      case '\x80': p++; break; // PROTO
      case '\x95': p += 8; break; // FRAME
      case '.': return stack.pop();
      case '(': stack.push(MARK); break;
      case '}': stack.push(new Map()); break;
      case ']': stack.push([]); break;
      case ')': stack.push([]); break;
      case 'N': stack.push(null); break;
      case '\x88': stack.push(true); break;
      case '\x89': stack.push(false); break;
      case 'K': stack.push(take(1)[0]); break;
      case 'M': stack.push((p += 2, view.getUint16(p - 2, true))); break;
      case 'J': stack.push((p += 4, view.getInt32(p - 4, true))); break;
      case 'I': { const s = line(); stack.push(s === '00' ? false : s === '01' ? true : Number(s)); break; }
      case 'L': stack.push(Number(line().replace(/L$/, ''))); break;
      case 'F': stack.push(Number(line())); break;
      case 'G': stack.push((p += 8, view.getFloat64(p - 8, false))); break;
      case '\x8a': { const b = take(take(1)[0]); let v = 0n; for (let i = b.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]); if (b.length && b[b.length - 1] & 0x80) v -= 1n << BigInt(8 * b.length); stack.push(Number(v)); break; }
      case 'U': stack.push(take(take(1)[0])); break; // SHORT_BINSTRING: bytes (encoding='bytes')
      case 'T': stack.push(take(u32())); break; // BINSTRING
      case 'C': stack.push(take(take(1)[0])); break; // SHORT_BINBYTES
      case 'B': stack.push(take(u32())); break; // BINBYTES
      case '\x8e': { const n = Number(view.getBigUint64(p, true)); p += 8; stack.push(take(n)); break; }
      case '\x8c': stack.push(Buffer.from(take(take(1)[0])).toString('utf8')); break;
      case 'X': stack.push(Buffer.from(take(u32())).toString('utf8')); break;
      case 'S': { const s = line(); stack.push(new Uint8Array(Buffer.from(JSON.parse(s.replace(/^'(.*)'$/, '"$1"')) as string, 'latin1'))); break; }
      case 'V': stack.push(line()); break;
      case 'q': memo.set(take(1)[0], stack[stack.length - 1]); break;
      case 'r': memo.set(u32(), stack[stack.length - 1]); break;
      case 'p': memo.set(Number(line()), stack[stack.length - 1]); break;
      case '\x94': memo.set(memo.size, stack[stack.length - 1]); break;
      case 'h': stack.push(memo.get(take(1)[0])); break;
      case 'j': stack.push(memo.get(u32())); break;
      case 'g': stack.push(memo.get(Number(line()))); break;
      case 'c': stack.push(global(`${line()} ${line()}`)); break;
      case '\x93': { const name = stack.pop(); const mod = stack.pop(); stack.push(global(`${mod} ${name}`)); break; }
      case 't': stack.push(popMark()); break;
      case '\x85': stack.push([stack.pop()]); break;
      case '\x86': { const b = stack.pop(); stack.push([stack.pop(), b]); break; }
      case '\x87': { const c = stack.pop(); const b = stack.pop(); stack.push([stack.pop(), b, c]); break; }
      case 'a': { const v = stack.pop(); (stack[stack.length - 1] as unknown[]).push(v); break; }
      case 'e': { const vs = popMark(); (stack[stack.length - 1] as unknown[]).push(...vs); break; }
      case 'l': stack.push(popMark()); break;
      case 'd': { const vs = popMark(); const m = new Map(); for (let i = 0; i < vs.length; i += 2) m.set(text(vs[i]), vs[i + 1]); stack.push(m); break; }
      case 's': { const v = stack.pop(); const k = stack.pop(); (stack[stack.length - 1] as Map<string, unknown>).set(text(k), v); break; }
      case 'u': { const vs = popMark(); const m = stack[stack.length - 1] as Map<string, unknown>; for (let i = 0; i < vs.length; i += 2) m.set(text(vs[i]), vs[i + 1]); break; }
      case 'R': { const args = stack.pop() as unknown[]; const fn = stack.pop(); stack.push(call(fn, args)); break; }
      case 'b': { const state = stack.pop(); build(stack[stack.length - 1], state, fail); break; }
      case '0': stack.pop(); break;
      case '2': stack.push(stack[stack.length - 1]); break;
      default: fail(`opcode 0x${op.charCodeAt(0).toString(16)}`);
    }
  }
}

/** Python 2 strs arrive as bytes (encoding='bytes', as Keras unpickles); names and keys read them as latin-1. */
function text(k: unknown): string {
  return k instanceof Uint8Array ? latin1(k) : String(k);
}

function build(target: unknown, state: unknown, fail: (m: string) => never): void {
  const t = target as NdArray | DType;
  if (t?.kind === 'dtype') {
    t.order = text((state as unknown[])[1]);
    return;
  }
  if (t?.kind !== 'ndarray') return void fail('BUILD on an object that is not a numpy array or dtype');
  const [, shape, dtype, fortran, raw] = state as [number, number[], DType, boolean, Uint8Array | string | unknown[]];
  t.shape = [...shape];
  t.dtype = dtypeDescr(dtype);
  t.fortranOrder = Boolean(fortran);
  t.data = typeof raw === 'string' ? new Uint8Array(Buffer.from(raw, 'latin1')) : raw;
}

function scalarValue(dtype: DType, raw: Uint8Array | string): number {
  const b = typeof raw === 'string' ? new Uint8Array(Buffer.from(raw, 'latin1')) : raw;
  const arr: NdArray = { kind: 'ndarray', shape: [], dtype: dtypeDescr(dtype), fortranOrder: false, data: b };
  return Number(numericValues(arr, 'scalar')[0]);
}

/** The numbers of a numeric array, in C order, as a typed array suited to the dtype. */
export function numericValues(a: NdArray, what: string): Uint8Array | Int32Array | Float32Array | Float64Array {
  if (!(a.data instanceof Uint8Array)) throw new Error(`${what}: expected a numeric array, got one of dtype ${a.dtype}`);
  if (a.fortranOrder) throw new Error(`${what}: Fortran-ordered arrays are not supported`);
  const b = a.data;
  const count = a.shape.reduce((x, y) => x * y, 1);
  const m = /^([<>|=]?)([a-zA-Z])(\d+)$/.exec(a.dtype);
  if (!m) throw new Error(`${what}: unsupported dtype '${a.dtype}'`);
  const [, order, kind, sizeText] = m;
  const size = Number(sizeText);
  if (b.length !== count * size) throw new Error(`${what}: truncated or corrupt: shape [${a.shape.join(', ')}] of ${a.dtype} needs ${count * size} bytes, found ${b.length}`);
  const little = order !== '>';
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  if ((kind === 'u' || kind === 'b') && size === 1) return b.slice();
  if (kind === 'f' && (size === 4 || size === 8)) {
    const out = size === 4 ? new Float32Array(count) : new Float64Array(count);
    for (let i = 0; i < count; i++) out[i] = size === 4 ? view.getFloat32(4 * i, little) : view.getFloat64(8 * i, little);
    return out;
  }
  if (kind === 'i' || kind === 'u') {
    const out = new Int32Array(count);
    for (let i = 0; i < count; i++) {
      const v = size === 8 ? Number(kind === 'i' ? view.getBigInt64(8 * i, little) : view.getBigUint64(8 * i, little)) : size === 4 ? (kind === 'i' ? view.getInt32(4 * i, little) : view.getUint32(4 * i, little)) : size === 2 ? (kind === 'i' ? view.getInt16(2 * i, little) : view.getUint16(2 * i, little)) : view.getInt8(i);
      if (v > 0x7fffffff || v < -0x80000000) throw new Error(`${what}: value ${v} at ${i} does not fit in int32`);
      out[i] = v;
    }
    return out;
  }
  throw new Error(`${what}: unsupported dtype '${a.dtype}'`);
}
