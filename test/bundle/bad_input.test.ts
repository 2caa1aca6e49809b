/** A bundle's runtime refuses what it cannot run with errors that say why: newer formats, damaged weights, missing CPU features, wrong inputs. */
import { beforeAll, describe, expect, it } from 'vitest';
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { load } from '../../runtime/bundle/index.js';
import { FORMAT_VERSION } from '../../runtime/bundle/manifest.js';
import { buildBundle, images } from './helpers.js';

let dir = '';

beforeAll(async () => {
  ({ dir } = await buildBundle({ targets: ['node-cpu', 'wasm'], batchSizes: [1, 4] }));
});

/** A copy of the bundle with one file changed. */
function damaged(file: string, change: (bytes: Buffer) => Buffer | string): string {
  const copy = mkdtempSync(join(tmpdir(), 'kiln-bad-bundle-'));
  cpSync(dir, copy, { recursive: true });
  writeFileSync(join(copy, file), change(readFileSync(join(copy, file))));
  return copy;
}

describe('bundle runtime on bad input', () => {
  it('refuses a bundle from a newer format version, naming both versions', async () => {
    const copy = damaged('manifest.json', (b) => JSON.stringify({ ...JSON.parse(b.toString()), formatVersion: FORMAT_VERSION + 1 }));
    await expect(load(copy)).rejects.toThrow(`written in bundle format version ${FORMAT_VERSION + 1}, newer than this runtime reads (${FORMAT_VERSION})`);
  });

  it('refuses a folder that is not a bundle', async () => {
    await expect(load(mkdtempSync(join(tmpdir(), 'kiln-empty-')))).rejects.toThrow(/manifest.json: no such file \(is this folder a bundle written by kiln compile\?\)/);
  });

  it('refuses truncated weights, saying so', async () => {
    const copy = damaged('weights.bin', (b) => b.subarray(0, b.length - 100));
    await expect(load(copy)).rejects.toThrow(/weights.bin holds \d+ bytes, the manifest says \d+: the weights file is truncated/);
  });

  it('refuses corrupt weights by their SHA-256', async () => {
    const copy = damaged('weights.bin', (b) => {
      const c = Buffer.from(b);
      c[1234] ^= 0xff;
      return c;
    });
    await expect(load(copy)).rejects.toThrow(/weights.bin is corrupt: its SHA-256 is [0-9a-f]{64}, the manifest says [0-9a-f]{64}/);
  });

  it('names the CPU features a native object needs when the CPU has none of its levels', async () => {
    await expect(load(dir, { target: 'node-cpu', cpuFlags: ['sse2', 'avx'] })).rejects.toThrow(/this CPU lacks avx2, bmi1, bmi2, f16c, fma, .*which the bundle's lowest native level \(avx2\) needs; load the bundle with \{ target: 'wasm' \}/);
  });

  it('refuses a corrupt native object or wasm module naming the file', async () => {
    const so = damaged('predict_b1.avx2.so', () => 'not an ELF file');
    const m = await load(so, { target: 'node-cpu', cpuFlags: ['avx', 'avx2', 'bmi1', 'bmi2', 'f16c', 'fma', 'abm', 'movbe', 'xsave', 'sse4_1', 'sse4_2', 'ssse3', 'popcnt', 'cx16'] });
    await expect(m.predict({ dense_1_input: images(1) })).rejects.toThrow(/cannot load .*predict_b1.avx2.so/);
    const wasm = damaged('predict_b1.wasm', (b) => b.subarray(0, 100));
    const w = await load(wasm, { target: 'wasm', threads: 1 });
    await expect(w.predict({ dense_1_input: images(1) })).rejects.toThrow(/predict_b1.wasm is not a valid WebAssembly module/);
    const threaded = damaged('predict_b1.mt.wasm', (b) => b.subarray(0, 100));
    const t = await load(threaded, { target: 'wasm', threads: 2 });
    await expect(t.predict({ dense_1_input: images(1) })).rejects.toThrow(/predict_b1.mt.wasm is not a valid WebAssembly module/);
  });

  it('refuses more threads than the bundle was compiled for', async () => {
    await expect(load(dir, { target: 'node-cpu', threads: 9 })).rejects.toThrow("threads must be an integer from 1 to 8 (the bundle's maximum), got 9");
  });

  it('refuses a target the bundle was not compiled for', async () => {
    await expect(load(dir, { target: 'webgpu' })).rejects.toThrow("was not compiled for 'webgpu'; its targets are node-cpu, wasm");
  });

  for (const target of ['node-cpu', 'wasm'] as const) {
    it(`checks input names and shapes before running (${target})`, async () => {
      const m = await load(dir, { target });
      await expect(m.predict({ input_1: images(1) })).rejects.toThrow("unknown input 'input_1'; the model's inputs are 'dense_1_input'");
      await expect(m.predict({})).rejects.toThrow("missing input 'dense_1_input' (shape [batch, 784])");
      await expect(m.predict({ dense_1_input: new Float32Array(700) })).rejects.toThrow("input 'dense_1_input' expects shape [batch, 784] (784 values per sample), got 700 values");
      await expect(m.predict({ dense_1_input: { data: images(2), shape: [2, 28, 28] } })).rejects.toThrow("input 'dense_1_input' expects shape [batch, 784], got [2, 28, 28]");
      const ok = await m.predict({ dense_1_input: { data: images(2), shape: [2, 784] } });
      expect(ok.dense_3.shape).toEqual([2, 10]);
      m.dispose();
      await expect(m.predict({ dense_1_input: images(1) })).rejects.toThrow('predict after dispose()');
    });
  }
});
