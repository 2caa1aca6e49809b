/** TensorBoard event files parsed back by an independent reader (bitwise CRC32C, generic protobuf decoding); RemoteMonitor against a local server. */
import { mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Sequential, callbacks, layers, setBackend, tensor } from '../../src/index.js';
import { TEST_BACKEND } from '../helpers/backend.js';

setBackend(TEST_BACKEND);

function crc32cBitwise(bytes: Uint8Array): number {
  let c = ~0 >>> 0;
  for (const b of bytes) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = (c >>> 1) ^ (0x82f63b78 & -(c & 1));
  }
  return ~c >>> 0;
}
const mask = (c: number): number => ((((c >>> 15) | (c << 17)) >>> 0) + 0xa282ead8) >>> 0;

type Fields = Map<number, (bigint | Uint8Array | number)[]>;
/** Wire-level protobuf decoding: varints as bigint, 64-bit as double, 32-bit as float, length-delimited as bytes. */
function decode(b: Uint8Array): Fields {
  const out: Fields = new Map();
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  let p = 0;
  const varint = (): bigint => {
    let v = 0n;
    for (let s = 0n; ; s += 7n) {
      const x = b[p++];
      v |= BigInt(x & 0x7f) << s;
      if (x < 0x80) return v;
    }
  };
  while (p < b.length) {
    const key = Number(varint());
    const [field, wire] = [key >> 3, key & 7];
    let v: bigint | Uint8Array | number;
    if (wire === 0) v = varint();
    else if (wire === 1) (v = view.getFloat64(p, true)), (p += 8);
    else if (wire === 5) (v = view.getFloat32(p, true)), (p += 4);
    else if (wire === 2) {
      const n = Number(varint());
      v = b.subarray(p, p + n);
      p += n;
    } else throw new Error(`wire type ${wire}`);
    out.set(field, [...(out.get(field) ?? []), v]);
  }
  return out;
}
const text = (v: unknown): string => new TextDecoder().decode(v as Uint8Array);
const doubles = (v: unknown): number[] => {
  const b = v as Uint8Array;
  return Array.from({ length: b.length / 8 }, (_, i) => new DataView(b.buffer, b.byteOffset).getFloat64(8 * i, true));
};

/** Every record of an event file, its two CRCs checked. */
function readEvents(path: string): Fields[] {
  const bytes = new Uint8Array(readFileSync(path));
  const view = new DataView(bytes.buffer);
  const events: Fields[] = [];
  for (let p = 0; p < bytes.length; ) {
    const n = Number(view.getBigUint64(p, true));
    expect(view.getUint32(p + 8, true)).toBe(mask(crc32cBitwise(bytes.subarray(p, p + 8))));
    const data = bytes.subarray(p + 12, p + 12 + n);
    expect(view.getUint32(p + 12 + n, true)).toBe(mask(crc32cBitwise(data)));
    events.push(decode(data));
    p += 16 + n;
  }
  return events;
}

interface Scalar { tag: string; step: number; value: number }
function scalars(events: Fields[]): Scalar[] {
  return events.filter((e) => e.has(5)).flatMap((e) => decode(e.get(5)![0] as Uint8Array).get(1)!.map((v) => decode(v as Uint8Array)).filter((v) => v.has(2)).map((v) => ({ tag: text(v.get(1)![0]), step: Number(e.get(2)![0]), value: v.get(2)![0] as number })));
}

const X = tensor(Array.from({ length: 8 }, (_, i) => [i / 8, 1 - i / 8]));
const Y = tensor(Array.from({ length: 8 }, (_, i) => [i / 4]));

describe('TensorBoard', () => {
  it('CRC32C matches the standard check value', () => {
    expect(crc32cBitwise(new TextEncoder().encode('123456789'))).toBe(0xe3069283);
  });

  it('writes epoch scalars, per-batch scalars at samples seen, weight histograms and the graph', async () => {
    const logDir = mkdtempSync(join(tmpdir(), 'kiln-tb-'));
    const model = new Sequential([new layers.Dense(3, { inputShape: [2], name: 'hidden' }), new layers.Dense(1, { name: 'out' })]);
    model.compile({ optimizer: 'sgd', loss: 'mse', metrics: ['mae'] });
    const tb = new callbacks.TensorBoard({ logDir, histogramFreq: 1, updateFreq: 'batch' });
    const h = await model.fit(X, Y, { batchSize: 4, epochs: 2, shuffle: false, verbose: 0, callbacks: [tb], validationData: [X, Y] });
    const files = readdirSync(logDir);
    expect(files.length).toBe(1);
    expect(files[0]).toMatch(/^events\.out\.tfevents\.\d+\./);
    const events = readEvents(join(logDir, files[0]));
    expect(text(events[0].get(3)![0])).toBe('brain.Event:2');
    events.forEach((e) => expect(Math.abs((e.get(1)![0] as number) - Date.now() / 1000)).toBeLessThan(600));

    const graph = decode(events.find((e) => e.has(4))!.get(4)![0] as Uint8Array);
    const nodes = graph.get(1)!.map((n) => decode(n as Uint8Array));
    expect(nodes.map((n) => text(n.get(1)![0]))).toEqual(['hidden_input', 'hidden', 'out']);
    expect(nodes.map((n) => text(n.get(2)![0]))).toEqual(['InputLayer', 'Dense', 'Dense']);
    expect(nodes[0].has(3)).toBe(false);
    expect(text(nodes[1].get(3)![0])).toBe('hidden_input');
    expect(text(nodes[2].get(3)![0])).toBe('hidden');

    const s = scalars(events);
    const batchLoss = s.filter((v) => v.tag === 'batch_loss');
    expect(batchLoss.map((v) => v.step)).toEqual([4, 8, 12, 16]);
    const loss = s.filter((v) => v.tag === 'loss');
    expect(loss.map((v) => v.step)).toEqual([8, 16]);
    expect(loss.map((v) => v.value)).toBeAllClose(h.history.loss, { rtol: 1e-6 });
    expect(s.filter((v) => v.tag === 'val_mae').map((v) => v.value)).toBeAllClose(h.history.val_mae, { rtol: 1e-6 });
    expect((batchLoss[0].value + batchLoss[1].value) / 2).toBeCloseTo(h.history.loss[0], 5);

    const histos = events.filter((e) => e.has(5)).flatMap((e) => decode(e.get(5)![0] as Uint8Array).get(1)!.map((v) => decode(v as Uint8Array)).filter((v) => v.has(5)).map((v) => ({ tag: text(v.get(1)![0]), step: Number(e.get(2)![0]), h: decode(v.get(5)![0] as Uint8Array) })));
    expect(histos.filter((x) => x.step === 1).map((x) => x.tag)).toEqual(['hidden/kernel_0', 'hidden/bias_0', 'out/kernel_0', 'out/bias_0']);
    const kernel = histos.find((x) => x.step === 1 && x.tag === 'out/kernel_0')!.h;
    const w = Array.from(model.getLayer('out').weights[0].value);
    expect(kernel.get(1)![0]).toBeCloseTo(Math.min(...w), 6);
    expect(kernel.get(2)![0]).toBeCloseTo(Math.max(...w), 6);
    expect(kernel.get(3)![0]).toBe(3);
    expect(kernel.get(4)![0]).toBeCloseTo(w.reduce((a, b) => a + b, 0), 6);
    expect(kernel.get(5)![0]).toBeCloseTo(w.reduce((a, b) => a + b * b, 0), 6);
    const limits = doubles(kernel.get(6)![0]);
    const counts = doubles(kernel.get(7)![0]);
    expect(counts.reduce((a, b) => a + b, 0)).toBe(3);
    // Each weight lies in the bucket whose limit is the first above it, and that bucket counts it.
    for (const v of w) {
      const b = limits.findIndex((l) => l > v);
      expect(counts[b]).toBeGreaterThan(0);
      if (b > 0) expect(limits[b - 1]).toBeLessThanOrEqual(v);
    }
  });

  it('updateFreq as a sample count and epoch steps; bad options are refused', async () => {
    const logDir = mkdtempSync(join(tmpdir(), 'kiln-tb-'));
    const model = new Sequential([new layers.Dense(1, { inputShape: [2] })]);
    model.compile({ optimizer: 'sgd', loss: 'mse' });
    await model.fit(X, Y, { batchSize: 2, epochs: 1, shuffle: false, verbose: 0, callbacks: [new callbacks.TensorBoard({ logDir, updateFreq: 5, writeGraph: false })] });
    const events = readEvents(join(logDir, readdirSync(logDir)[0]));
    expect(events.some((e) => e.has(4))).toBe(false);
    expect(scalars(events).filter((v) => v.tag === 'batch_loss').map((v) => v.step)).toEqual([6]);
    expect(() => new callbacks.TensorBoard({ writeImages: true } as never)).toThrow(/TensorBoard: unknown option 'writeImages'\. Valid options: logDir, histogramFreq, writeGraph, updateFreq/);
    expect(new callbacks.TensorBoard({ log_dir: '/tmp/x', histogram_freq: 2 } as never).logDir).toBe('/tmp/x');
    expect(() => new callbacks.TensorBoard({ updateFreq: 'sometimes' as 'batch' })).toThrow(/updateFreq must be 'epoch', 'batch' or a positive number of samples, got "sometimes"/);
  });
});

describe('RemoteMonitor', () => {
  it('posts each epoch\'s logs, as JSON or form-encoded `data=<json>`, and warns when the server is unreachable', async () => {
    const bodies: { type: string; url: string; body: string }[] = [];
    const server = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        bodies.push({ type: String(req.headers['content-type']), url: req.url ?? '', body });
        res.end('{}');
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const root = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const model = new Sequential([new layers.Dense(1, { inputShape: [2] })]);
    model.compile({ optimizer: 'sgd', loss: 'mse' });
    const h = await model.fit(X, Y, { batchSize: 4, epochs: 2, verbose: 0, callbacks: [new callbacks.RemoteMonitor({ root, sendAsJson: true }), new callbacks.RemoteMonitor({ root, path: '/form' })] });
    server.close();
    const json = bodies.filter((b) => b.type === 'application/json').map((b) => JSON.parse(b.body));
    expect(json.map((b) => b.epoch)).toEqual([0, 1]);
    expect(json.map((b) => b.loss)).toEqual(h.history.loss);
    const form = bodies.filter((b) => b.url === '/form');
    expect(form[0].type).toBe('application/x-www-form-urlencoded');
    expect(JSON.parse(new URLSearchParams(form[1].body).get('data')!)).toEqual({ epoch: 1, loss: h.history.loss[1] });
    expect(bodies.find((b) => b.type === 'application/json')!.url).toBe('/publish/epoch/end/');
    const warnings: string[] = [];
    await new callbacks.RemoteMonitor({ root: 'http://127.0.0.1:1', warn: (m) => warnings.push(m) }).onEpochEnd(0, { loss: 1 });
    expect(warnings[0]).toMatch(/could not reach RemoteMonitor root server at http:\/\/127\.0\.0\.1:1\/publish\/epoch\/end\//);
  });
});
