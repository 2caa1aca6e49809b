/**
 * TensorBoard event files, written by hand: TFRecord framing (little-endian
 * length, masked CRC32C of the length, payload, masked CRC32C of the payload)
 * around `tensorflow.Event` protobufs holding Summaries (scalars,
 * histograms) or a GraphDef. Field numbers follow tensorflow/core/util/
 * event.proto, framework/summary.proto and framework/graph.proto.
 */
import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';

const CRC32C_TABLE = Uint32Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

/** CRC-32C (Castagnoli), as TFRecord uses. */
export function crc32c(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of bytes) c = CRC32C_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** TFRecord's masked CRC: rotate right by 15 and add a constant, so CRCs of CRCs do not collide. */
export function maskedCrc32c(bytes: Uint8Array): number {
  const c = crc32c(bytes);
  return ((((c >>> 15) | (c << 17)) >>> 0) + 0xa282ead8) >>> 0;
}

/** One TFRecord: length (u64 LE), its masked CRC (u32 LE), the data, the data's masked CRC. */
export function tfRecord(data: Uint8Array): Uint8Array {
  const out = new Uint8Array(16 + data.length);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(data.length), true);
  view.setUint32(8, maskedCrc32c(out.subarray(0, 8)), true);
  out.set(data, 12);
  view.setUint32(12 + data.length, maskedCrc32c(data), true);
  return out;
}

/** A minimal protobuf encoder: the wire types the event protos need. */
export class ProtoWriter {
  private readonly parts: number[] = [];

  private varint(v: number | bigint): void {
    let n = BigInt.asUintN(64, BigInt(v));
    while (n >= 0x80n) {
      this.parts.push(Number(n & 0x7fn) | 0x80);
      n >>= 7n;
    }
    this.parts.push(Number(n));
  }

  private key(field: number, wire: number): void {
    this.varint((field << 3) | wire);
  }

  int(field: number, v: number | bigint): this {
    this.key(field, 0);
    this.varint(v);
    return this;
  }

  double(field: number, v: number): this {
    this.key(field, 1);
    const b = new Uint8Array(8);
    new DataView(b.buffer).setFloat64(0, v, true);
    this.parts.push(...b);
    return this;
  }

  float(field: number, v: number): this {
    this.key(field, 5);
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, v, true);
    this.parts.push(...b);
    return this;
  }

  bytes(field: number, v: Uint8Array | string): this {
    const b = typeof v === 'string' ? new TextEncoder().encode(v) : v;
    this.key(field, 2);
    this.varint(b.length);
    for (const x of b) this.parts.push(x);
    return this;
  }

  packedDoubles(field: number, vs: readonly number[]): this {
    const b = new Uint8Array(8 * vs.length);
    const view = new DataView(b.buffer);
    vs.forEach((v, i) => view.setFloat64(8 * i, v, true));
    return this.bytes(field, b);
  }

  finish(): Uint8Array {
    return Uint8Array.from(this.parts);
  }
}

/** TensorFlow's default histogram bucket limits: ±1e-12 growing by 1.1 up to 1e20, 0, and ±DBL_MAX. */
const BUCKET_LIMITS: readonly number[] = (() => {
  const pos: number[] = [];
  for (let v = 1e-12; v < 1e20; v *= 1.1) pos.push(v);
  pos.push(Number.MAX_VALUE);
  return [...pos.map((v) => -v).reverse(), 0, ...pos];
})();

/** A HistogramProto as tensorflow's Histogram::EncodeToProto writes it (runs of empty buckets folded). */
export function histogramProto(values: ArrayLike<number>): Uint8Array {
  const counts = new Float64Array(BUCKET_LIMITS.length);
  let min = Infinity;
  let max = -Infinity;
  let sum = 0;
  let squares = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    min = Math.min(min, v);
    max = Math.max(max, v);
    sum += v;
    squares += v * v;
    let lo = 0;
    let hi = BUCKET_LIMITS.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (BUCKET_LIMITS[mid] > v) hi = mid;
      else lo = mid + 1;
    }
    counts[Math.min(lo, counts.length - 1)]++;
  }
  const limits: number[] = [];
  const buckets: number[] = [];
  for (let i = 0; i < counts.length; ) {
    let end = BUCKET_LIMITS[i];
    let count = counts[i++];
    if (count <= 0) while (i < counts.length && counts[i] <= 0) [end, count] = [BUCKET_LIMITS[i], counts[i++]];
    limits.push(end);
    buckets.push(count);
  }
  return new ProtoWriter().double(1, min).double(2, max).double(3, values.length).double(4, sum).double(5, squares).packedDoubles(6, limits).packedDoubles(7, buckets).finish();
}

export type SummaryValue = { readonly tag: string; readonly scalar: number } | { readonly tag: string; readonly histogram: ArrayLike<number> };

export function summaryProto(values: readonly SummaryValue[]): Uint8Array {
  const s = new ProtoWriter();
  for (const v of values) {
    const value = new ProtoWriter().bytes(1, v.tag);
    if ('scalar' in v) value.float(2, v.scalar);
    else value.bytes(5, histogramProto(v.histogram));
    s.bytes(1, value.finish());
  }
  return s.finish();
}

export interface GraphNode {
  readonly name: string;
  readonly op: string;
  readonly inputs: readonly string[];
}

/** A GraphDef of NodeDefs (name 1, op 2, input 3); TensorBoard draws it on its Graphs tab. */
export function graphDefProto(nodes: readonly GraphNode[]): Uint8Array {
  const g = new ProtoWriter();
  for (const n of nodes) {
    const node = new ProtoWriter().bytes(1, n.name).bytes(2, n.op);
    for (const i of n.inputs) node.bytes(3, i);
    g.bytes(1, node.finish());
  }
  return g.bytes(4, new ProtoWriter().int(1, 27).finish()).finish();
}

let writers = 0;

/** Appends Events to `events.out.tfevents.<seconds>.<host>.<pid>.<n>` in `logDir`, starting with the file_version event. */
export class EventFileWriter {
  readonly path: string;

  constructor(logDir: string) {
    mkdirSync(logDir, { recursive: true });
    this.path = join(logDir, `events.out.tfevents.${Math.floor(Date.now() / 1000)}.${hostname()}.${process.pid}.${writers++}`);
    writeFileSync(this.path, tfRecord(this.event(0).bytes(3, 'brain.Event:2').finish()));
  }

  private event(step: number): ProtoWriter {
    return new ProtoWriter().double(1, Date.now() / 1000).int(2, step);
  }

  addSummary(values: readonly SummaryValue[], step: number): void {
    appendFileSync(this.path, tfRecord(this.event(step).bytes(5, summaryProto(values)).finish()));
  }

  addGraph(nodes: readonly GraphNode[]): void {
    appendFileSync(this.path, tfRecord(this.event(0).bytes(4, graphDefProto(nodes)).finish()));
  }
}
